"""peer.prefer and the bubble option last_n (issue 8, item 4) with aiortc
softphones through a real relay (softphone.py). Counts, not timings: every
"stopped" is judged against packets the publisher really sent meanwhile,
every wait is bounded.

- test_prefer_pause_resume: a subscriber that pauses a publisher stops
  receiving its RTP (while the publisher sends on), keeps it paused across a
  re-offer (another publisher joins: new ROUTES), and receives it again,
  decoded, on resume; a pause set before a publisher publishes holds for
  its tracks when they arrive; pausing one track (by bubble.info's track id) stops
  that track only.
- test_last_n_join_order: last_n=1 from bubble.create, two video
  publishers, nobody speaking: the subscriber gets video from the first to
  join only and audio from both; bubble.configure last_n=0 lets the other's
  video through.
- test_last_n_follows_speaker: last_n=1; the one who speaks (loud tone,
  voiced RFC 6464 levels) becomes the one whose video flows; silence
  changes nothing.
- test_prefer_forbidden: a control client limited to other tenants gets
  `forbidden` from peer.prefer and bubble.configure (needs root for the
  other uid).

aiortc 1.4 marks every audio level unvoiced; a hook below marks them voiced
so its tones can be speakers (the level still decides: a silent tone is at
-127 dBov and never qualifies).

Runs under /usr/bin/python3 (Debian's python3-aiortc) as root in a private
network namespace. Environment: PRISM, PRISMCTL.
"""
import asyncio
import os
import sys
import time
import unittest

import webdriver

webdriver.private_netns()

import harness  # noqa: E402
from harness import Relay, log, reason  # noqa: E402
try:
    import softphone as sp  # noqa: E402
    import aiortc.rtp  # noqa: E402
except ImportError as e:  # Debian's python3-aiortc missing: skipped (meson: 77)
    print(f"skip: aiortc unavailable ({e})", file=sys.stderr)
    sys.exit(77)

MEDIA_TIMEOUT_S = 60  # generous: a noisy 2-core machine
STILL_PACKETS = 150   # a stream is "stopped" when this many more were sent and none came

_orig_ext_set = aiortc.rtp.HeaderExtensionsMap.set


def _voiced_set(self, values):
    if values.audio_level is not None:
        values.audio_level = (True, values.audio_level[1])
    return _orig_ext_set(self, values)


aiortc.rtp.HeaderExtensionsMap.set = _voiced_set


class VoiceTrack(sp.ToneTrack):
    """A ToneTrack that starts silent (`amp` 0) unless told otherwise."""

    def __init__(self, freq, amp=0):
        super().__init__(freq, amp)


def sent_count(phone):
    return len(phone.sent())


async def wait_still(get, sender, what):
    """Waits until `get()` stays the same while `sender` sends STILL_PACKETS
    more packets (bounded); returns that value."""
    deadline = time.monotonic() + MEDIA_TIMEOUT_S
    value, mark = get(), sent_count(sender)
    while True:
        await asyncio.sleep(0.25)
        now, sent = get(), sent_count(sender)
        if now != value:
            value, mark = now, sent
        elif sent - mark >= STILL_PACKETS:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} still rising after {MEDIA_TIMEOUT_S} s (at {now})")


class Prefer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(args=["--media-ip", "127.0.0.1"])

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def setUp(self):
        self.ctl = self.relay.unix()
        self.addCleanup(self.ctl.close)

    def bubble(self, tenant, **options):
        sp.ok(self.ctl.call("tenant.create", {"tenant": tenant}), "tenant.create")
        sp.ok(self.ctl.call("bubble.create", {"tenant": tenant, "bubble": "room", **options}),
              "bubble.create")

    def prefer(self, tenant, peer, publisher, **pref):
        sp.ok(harness.prefer(self.ctl, tenant, "room", peer, publisher, **pref), "peer.prefer")

    def track_id(self, tenant, peer, kind):
        info = sp.ok(self.ctl.call("bubble.info", {"tenant": tenant, "bubble": "room"}),
                     "bubble.info")
        for p in info["peers"]:
            if p["peer"] == peer:
                return [t["track"] for t in p["tracks"] if t["kind"] == kind][0]
        raise AssertionError(f"no {kind} track of {peer}: {info}")

    async def publish(self, phone, track=None, video=True):
        """Publishes `track` (a tone by default) and, with `video`, fake video."""
        if track is None:
            return sp.ok(await phone.publish(audio=True, video=video), f"{phone.peer} publish")

        def add(pc):
            phone.tracks.append(track)
            pc.addTransceiver(track, direction="sendonly")
        return sp.ok(await phone.publish(audio=False, video=video, before_offer=add),
                     f"{phone.peer} publish")

    async def rising(self, sub, pub, kind, frames=False):
        get = (lambda: sub.frames_from(pub.peer, kind)) if frames else \
            (lambda: sub.received_from(pub.peer, kind))
        return await sp.wait_rising(get, MEDIA_TIMEOUT_S,
                                    f"{sub.peer}'s {kind} {'frames' if frames else 'packets'} "
                                    f"from {pub.peer}", rounds=3)

    # --- peer.prefer ------------------------------------------------------------------

    def test_prefer_pause_resume(self):
        sp.run(self.prefer_pause_resume())

    async def prefer_pause_resume(self):
        t = "pf-pause"
        self.bubble(t)
        ev = sp.Events(self.relay, {"tenants": [t]})
        self.addCleanup(ev.close)
        alice = sp.Softphone(self.ctl, t, "room", "alice")
        bob = sp.Softphone(self.ctl, t, "room", "bob")
        carol = sp.Softphone(self.ctl, t, "room", "carol")
        try:
            alice.join()
            bob.join(publish=False)
            await self.publish(alice)
            self.assertEqual(await bob.subscribe(), 1)
            for kind in ("audio", "video"):
                await self.rising(bob, alice, kind)

            # Paused: nothing more of alice reaches bob while she sends on.
            self.prefer(t, "bob", "alice", paused=True)
            held = await wait_still(lambda: bob.received_from("alice"), alice, "bob <- alice")
            log(f"paused at {held} packets")

            # A re-offer (carol publishes: new ROUTES for bob) keeps the pause;
            # a preference set before its publisher publishes holds for the
            # consumers made later.
            carol.join()
            self.prefer(t, "bob", "carol", paused=True)
            await self.publish(carol, video=False)
            offer = await ev.wait(sp.match("peer.offer", peer="bob", revision=2),
                                  MEDIA_TIMEOUT_S, "bob's second offer")
            await bob.answer_offer(offer["offer"], offer["revision"])
            self.assertEqual(await wait_still(lambda: bob.received_from("carol"), carol,
                                              "bob <- carol, paused before publishing"), 0)
            self.prefer(t, "bob", "carol", paused=False)
            await self.rising(bob, carol, "audio")
            self.assertEqual(await wait_still(lambda: bob.received_from("alice"), alice,
                                              "bob <- alice after the re-offer"), held)

            # Resumed: packets again, and decoded video (a keyframe was asked for).
            frames = bob.frames_from("alice", "video")
            self.prefer(t, "bob", "alice", paused=False)
            for kind in ("audio", "video"):
                await self.rising(bob, alice, kind)
            await sp.wait_until(lambda: bob.frames_from("alice", "video") > frames + 10,
                                MEDIA_TIMEOUT_S, "bob decoding alice's video again")

            # One track: alice's video paused, her audio flows on.
            self.prefer(t, "bob", "alice", track=self.track_id(t, "alice", "video"), paused=True)
            await wait_still(lambda: bob.received_from("alice", "video"), alice,
                             "bob <- alice's video")
            await self.rising(bob, alice, "audio")
            # A publisher-wide preference replaces the per-track one.
            self.prefer(t, "bob", "alice")
            await self.rising(bob, alice, "video")
        finally:
            for p in (alice, bob, carol):
                await p.close()

    # --- last_n -----------------------------------------------------------------------

    def test_last_n_join_order(self):
        sp.run(self.last_n_join_order())

    async def last_n_join_order(self):
        t = "pf-lastn"
        self.bubble(t, last_n=1)
        alice = sp.Softphone(self.ctl, t, "room", "alice")
        carol = sp.Softphone(self.ctl, t, "room", "carol")
        bob = sp.Softphone(self.ctl, t, "room", "bob")
        try:
            for p in (alice, carol):
                p.join()
                await self.publish(p, VoiceTrack(440 if p is alice else 660))
            bob.join(publish=False)
            await bob.subscribe()
            await self.rising(bob, alice, "video")
            for p in (alice, carol):
                await self.rising(bob, p, "audio")
            # Carol's video never came: she joined second and nobody spoke.
            await wait_still(lambda: bob.received_from("carol", "video"), carol, "bob <- carol")
            self.assertEqual(bob.received_from("carol", "video"), 0)
            # last_n off: everyone's video.
            sp.ok(self.ctl.call("bubble.configure", {"tenant": t, "bubble": "room",
                                                     "last_n": 0}), "bubble.configure")
            await self.rising(bob, carol, "video")
            await self.rising(bob, alice, "video")
        finally:
            for p in (alice, carol, bob):
                await p.close()

    def test_last_n_follows_speaker(self):
        sp.run(self.last_n_follows_speaker())

    async def last_n_follows_speaker(self):
        t = "pf-speaker"
        self.bubble(t, last_n=1)
        ev = sp.Events(self.relay, {"tenants": [t]})
        self.addCleanup(ev.close)
        voices = {"alice": VoiceTrack(440), "carol": VoiceTrack(660)}
        alice = sp.Softphone(self.ctl, t, "room", "alice")
        carol = sp.Softphone(self.ctl, t, "room", "carol")
        bob = sp.Softphone(self.ctl, t, "room", "bob")
        try:
            for p in (alice, carol):
                p.join()
                await self.publish(p, voices[p.peer])
            bob.join(publish=False)
            await bob.subscribe()
            await self.rising(bob, alice, "video")
            await wait_still(lambda: bob.received_from("carol", "video"), carol, "bob <- carol")

            # Carol speaks: her video in, alice's out.
            voices["carol"].amp = 8000
            await ev.wait(sp.match("bubble.speaker", peer="carol"), MEDIA_TIMEOUT_S,
                          "carol as speaker")
            await self.rising(bob, carol, "video")
            await wait_still(lambda: bob.received_from("alice", "video"), alice, "bob <- alice")

            # Silence: nothing moves.
            voices["carol"].amp = 0
            await wait_still(lambda: bob.received_from("alice", "video"), alice,
                             "bob <- alice in silence")
            await self.rising(bob, carol, "video")

            # Alice speaks: back to her.
            voices["alice"].amp = 8000
            await ev.wait(sp.match("bubble.speaker", peer="alice"), MEDIA_TIMEOUT_S,
                          "alice as speaker")
            await self.rising(bob, alice, "video")
            await wait_still(lambda: bob.received_from("carol", "video"), carol, "bob <- carol")
            for p in (alice, carol):  # audio throughout
                await self.rising(bob, p, "audio")
        finally:
            for p in (alice, carol, bob):
                await p.close()

    # --- authorisation --------------------------------------------------------------

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run a client as nobody")
    def test_prefer_forbidden(self):
        from test_access import NOBODY_UID, NOGROUP, as_nobody, open_to
        config = f"[client ops]\nuid = {NOBODY_UID}\ntenants = t1\n"
        with Relay(extra_config=config) as relay:
            with relay.unix() as c:
                for method, params in (("tenant.create", {"tenant": "t2"}),
                                       ("bubble.create", {"tenant": "t2", "bubble": "b"}),
                                       ("peer.join", {"tenant": "t2", "bubble": "b", "peer": "p"})):
                    self.assertIn("result", c.call(method, params))
            open_to(relay, NOGROUP)
            scope = {"tenant": "t2", "bubble": "b"}
            seen = as_nobody(relay.sock, [
                ("peer.prefer", {**scope, "peer": "p", "publisher": "p", "paused": True}),
                ("bubble.configure", {**scope, "last_n": 1}),
                ("peer.prefer", {"tenant": "t3", "bubble": "b", "peer": "p", "publisher": "p"}),
                ("bubble.create", {"tenant": "t2", "bubble": "c", "last_n": 1}),
            ])
            self.assertEqual([reason(m) for m in seen[:4]], ["forbidden"] * 4, seen)


if __name__ == "__main__":
    unittest.main(verbosity=2)
