"""aiortc as the softphone (the non-browser WebRTC stack of issue 3): real
ICE + DTLS-SRTP calls through the relay on loopback (softphone.py).

- test_two_way_call: two softphones each publish a tone and subscribe; each
  receives and decodes the other's audio (RTP packets and decoded frames keep
  rising), under the msid `<publisher peer> <publisher's track id>` and the
  relay's own SSRC from the downstream offer, with payloads the publisher
  really sent; bubble.info shows the tracks and `connected` transports;
  stats.get counters rise (bubble, tenant, relay); peer.state events
  `connecting` then `connected` arrive for each transport with seq (+1 per
  event) and the relay's epoch.
- test_leave_and_revisions: a subscriber with two publishers; the second
  leaves -> a peer.offer with a new revision that no longer sends its track
  (port 0 / inactive, no msid) while the first's line is unchanged; answers
  with a stale revision get `not_found`; two publishers joining while that
  offer is outstanding produce no event until it is answered, then exactly
  ONE new offer carrying both; answering it brings their media, and the
  first publisher's media flows throughout.
- test_last_publisher_leaves: the only publisher a subscriber receives
  leaves -> a peer.offer still comes (no sending line, a bundled inactive
  placeholder), its answer is accepted, and a later publisher is offered.

aiortc 1.4 answers an offer's removed (port 0) m-lines with a real port and
keeps them in its BUNDLE group; softphone.reject_removed() fixes its answers
as a conforming client would write them.

Runs under /usr/bin/python3 (Debian's python3-aiortc) as root in a private
network namespace (CI: `unshare -n`; alone: re-executed under it).
Environment: PRISM, PRISMCTL.
"""
import asyncio
import sys
import unittest

import webdriver

webdriver.private_netns()

from harness import Relay, reason  # noqa: E402
try:
    import softphone as sp  # noqa: E402
except ImportError as e:  # Debian's python3-aiortc missing: skipped (meson: 77)
    print(f"skip: aiortc unavailable ({e})", file=sys.stderr)
    sys.exit(77)

MEDIA_TIMEOUT_S = 60   # generous: a noisy 2-core machine
EVENT_TIMEOUT_S = 30
QUIET_S = 3            # how long "no further offer" is watched for


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Softphone(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(args=["--media-ip", "127.0.0.1"])

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def setUp(self):
        self.ctl = self.relay.unix()
        self.addCleanup(self.ctl.close)
        self.epoch = sp.ok(self.ctl.call("relay.info"), "relay.info")["epoch"]

    def bubble(self, tenant, bubble="room"):
        sp.ok(self.ctl.call("tenant.create", {"tenant": tenant}), "tenant.create")
        sp.ok(self.ctl.call("bubble.create", {"tenant": tenant, "bubble": bubble}),
              "bubble.create")

    # --- (a) + (b) -------------------------------------------------------------

    def test_two_way_call(self):
        sp.run(self.two_way_call())

    async def two_way_call(self):
        t, b = "sp-call", "room"
        self.bubble(t)
        ev = sp.Events(self.relay, {"tenants": [t]})
        self.addCleanup(ev.close)
        every = sp.Events(self.relay)   # the whole relay's, for seq
        self.addCleanup(every.close)
        alice = sp.Softphone(self.ctl, t, b, "alice")
        bob = sp.Softphone(self.ctl, t, b, "bob")
        phones = [alice, bob]
        try:
            for p in phones:
                p.join()
            sp.ok(await alice.publish(freq=440), "alice publish")
            sp.ok(await bob.publish(freq=660), "bob publish")
            for p in phones:
                self.assertEqual(await p.subscribe(), 1)

            # Both directions: RTP packets and decoded frames keep rising.
            for me, other in ((alice, bob), (bob, alice)):
                n = await sp.wait_rising(lambda: me.received_from(other.peer), MEDIA_TIMEOUT_S,
                                         f"{me.peer}'s packets from {other.peer}", rounds=4)
                f = await sp.wait_rising(lambda: me.frames_from(other.peer), MEDIA_TIMEOUT_S,
                                         f"{me.peer}'s frames from {other.peer}", rounds=4)
                log(f"{me.peer} <- {other.peer}: {n} packets, {f} frames")
                self.check_forwarded(me, other)

            # bubble.info: tracks and transport states.
            info = sp.ok(self.ctl.call("bubble.info", {"tenant": t, "bubble": b}), "bubble.info")
            log("bubble.info:", info)
            peers = {p["peer"]: p for p in info["peers"]}
            self.assertEqual(sorted(peers), ["alice", "bob"])
            for p in phones:
                entry = peers[p.peer]
                self.assertIs(entry["publish"], True, entry)
                self.assertEqual(entry["state"], "connected", entry)
                for k in ("publish_state", "subscribe_state"):
                    if k in entry:
                        self.assertEqual(entry[k], "connected", entry)
                self.assertEqual([(x["kind"], x["track"]) for x in entry["tracks"]],
                                 [("audio", self.published_track_id(p))], entry)

            # stats.get: counters rise (workers snapshot them once a second).
            for params in ({"tenant": t, "bubble": b}, {"tenant": t}, {}):
                first = sp.ok(self.ctl.call("stats.get", params), "stats.get")
                for key in ("packets_in", "bytes_in", "packets_out", "bytes_out"):
                    self.assertGreater(first[key], 0, (params, first))

                def risen(first=first, params=params):
                    s = sp.ok(self.ctl.call("stats.get", params), "stats.get")
                    return s if all(s[k] > first[k] for k in
                                    ("packets_in", "bytes_in", "packets_out", "bytes_out")) else None
                s = await sp.wait_until(risen, MEDIA_TIMEOUT_S, f"stats.get {params} rising")
                log(f"stats.get {params}: {s}")
                if params:
                    self.assertEqual(s["peers"], 2, s)
                for why in ("not_srtp", "srtp_auth", "srtp_replay", "malformed"):
                    self.assertEqual(s["drops"][why], 0, s)

            # peer.state: connecting, then connected, per transport; seq and epoch.
            for p in phones:
                for transport in ("publish", "subscribe"):
                    states = [e for e in ev.all(sp.match("peer.state", peer=p.peer,
                                                         transport=transport))]
                    names = [e["state"] for e in states]
                    self.assertEqual(names[:2], ["connecting", "connected"],
                                     f"{p.peer} {transport}: {states}")
                    self.assertNotIn("failed", names, states)
                    for e in states:
                        self.assertEqual((e["tenant"], e["bubble"]), (t, b), e)
                        self.assertEqual(e["epoch"], self.epoch, e)
                        self.assertIsInstance(e["seq"], int, e)
            seqs = [e["seq"] for e in ev.all()]
            self.assertEqual(seqs, sorted(set(seqs)), ev.all())
            seqs = [e["seq"] for e in every.all()]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), every.all())
            self.assertTrue(all(e["epoch"] == self.epoch for e in every.all()))
        finally:
            for p in phones:
                await p.close()

    def published_track_id(self, phone):
        """The msid track id of the phone's (single) published track."""
        sec = sp.sdp_sections(phone.pub_offer)[0]
        return sec["msid"][1] if sec["msid"] else sec["mid"]

    def check_forwarded(self, me, other):
        """What `me` received from `other` is what `other` sent, under the
        msid naming `other` and the relay's SSRC from `me`'s offer."""
        sent = {k[3] for k in other.sent()}
        got = [(sec, pkt) for sec, pkt in me.rx_packets()
               if sec["msid"] and sec["msid"][0] == other.peer]
        self.assertTrue(got)
        for sec, (ssrc, seq, ts, dig) in got:
            self.assertEqual(sec["msid"], (other.peer, self.published_track_id(other)), sec)
            self.assertIn(ssrc, sec["ssrcs"], sec)
            self.assertIn(dig, sent, f"{me.peer} got a payload {other.peer} never sent")
        # The publisher's own SSRC never reaches the subscriber.
        pub_ssrcs = set(sp.sdp_sections(other.pub_offer)[0]["ssrcs"])
        self.assertFalse(pub_ssrcs & {pkt[0] for _, pkt in got})

    # --- (c) + (d) ---------------------------------------------------------------

    def test_leave_and_revisions(self):
        sp.run(self.leave_and_revisions())

    async def leave_and_revisions(self):
        t, b = "sp-revisions", "room"
        self.bubble(t)
        ev = sp.Events(self.relay, {"tenants": [t]})
        self.addCleanup(ev.close)
        names = ["alice", "bob", "carol", "dave", "erin"]
        P = {n: sp.Softphone(self.ctl, t, b, n) for n in names}
        alice = P["alice"]

        def offers():
            return ev.all(sp.match("peer.offer", peer="alice"))
        try:
            for n in ("alice", "bob", "carol"):
                P[n].join()
            sp.ok(await P["bob"].publish(freq=330), "bob publish")
            sp.ok(await P["carol"].publish(freq=550), "carol publish")
            r1 = await alice.subscribe()
            first = {s["msid"][0]: s for s in sp.sending_sections(alice.offer)}
            self.assertEqual(sorted(first), ["bob", "carol"], alice.offer)
            for pub in ("bob", "carol"):
                await sp.wait_rising(lambda: alice.received_from(pub), MEDIA_TIMEOUT_S,
                                     f"alice's packets from {pub}")

            # (c) The second publisher leaves: a new revision stops sending its track.
            P["carol"].leave()
            e2 = await ev.wait(sp.match("peer.offer", peer="alice"), EVENT_TIMEOUT_S,
                               "peer.offer for alice after carol left")
            r2 = e2["revision"]
            self.assertGreater(r2, r1)
            self.assertEqual((e2["tenant"], e2["bubble"], e2["epoch"]), (t, b, self.epoch), e2)
            secs = {s["mid"]: s for s in sp.sdp_sections(e2["offer"])}
            carol_line = secs[first["carol"]["mid"]]
            self.assertTrue(carol_line["port"] == 0 or carol_line["direction"] == "inactive",
                            carol_line)
            self.assertIsNone(carol_line["msid"], carol_line)
            self.assertNotIn("msid:carol", e2["offer"])
            self.assertNotIn("cname:carol", e2["offer"])
            self.assertEqual([s["msid"][0] for s in sp.sending_sections(e2["offer"])], ["bob"])
            bob_line = secs[first["bob"]["mid"]]
            self.assertEqual((bob_line["msid"], bob_line["ssrcs"]),
                             (first["bob"]["msid"], first["bob"]["ssrcs"]), bob_line)

            # (d) Two publishers join while r2 is outstanding: no offer yet.
            for n in ("dave", "erin"):
                P[n].join()
                sp.ok(await P[n].publish(freq=770 if n == "dave" else 880), f"{n} publish")
            await asyncio.sleep(QUIET_S)
            self.assertEqual([o["revision"] for o in offers()], [r2])

            # Stale revisions are refused, and leave r2 outstanding.
            answer2 = await alice.make_answer(e2["offer"])
            for stale in (r1, r2 + 1):
                reply = self.ctl.call("peer.answer", {**alice.ids, "answer": answer2,
                                                      "revision": stale})
                self.assertEqual(reason(reply), "not_found", reply)
            bob_before = alice.received_from("bob")
            sp.ok(self.ctl.call("peer.answer", {**alice.ids, "answer": answer2, "revision": r2}),
                  "peer.answer r2")
            reply = self.ctl.call("peer.answer", {**alice.ids, "answer": answer2, "revision": r2})
            self.assertEqual(reason(reply), "not_found", reply)

            # ... then ONE new offer carries both.
            e3 = await ev.wait(lambda e: e["method"] == "peer.offer" and e["peer"] == "alice"
                               and e["revision"] != r2, EVENT_TIMEOUT_S,
                               "the folded peer.offer for alice")
            r3 = e3["revision"]
            self.assertGreater(r3, r2)
            self.assertEqual(sorted(s["msid"][0] for s in sp.sending_sections(e3["offer"])),
                             ["bob", "dave", "erin"], e3["offer"])
            await asyncio.sleep(QUIET_S)
            self.assertEqual([o["revision"] for o in offers()], [r2, r3])
            self.assertGreater(alice.received_from("bob"), bob_before,
                               "bob's media stopped when alice answered r2")

            await alice.answer_offer(e3["offer"], r3)
            for pub in ("dave", "erin", "bob"):
                n = await sp.wait_rising(lambda: alice.received_from(pub), MEDIA_TIMEOUT_S,
                                         f"alice's packets from {pub} after r{r3}", rounds=3)
                log(f"alice <- {pub}: {n} packets")
            await sp.wait_rising(lambda: alice.frames_from("dave"), MEDIA_TIMEOUT_S,
                                 "alice's frames from dave")
            self.assertEqual([o["revision"] for o in offers()], [r2, r3])
            info = sp.ok(self.ctl.call("bubble.info", {"tenant": t, "bubble": b}), "bubble.info")
            self.assertEqual(sorted(p["peer"] for p in info["peers"]),
                             ["alice", "bob", "dave", "erin"])
        finally:
            for p in P.values():
                await p.close()


    # --- the last publisher leaves ---------------------------------------------------

    def test_last_publisher_leaves(self):
        sp.run(self.last_publisher_leaves())

    async def last_publisher_leaves(self):
        """Every line of the downstream offer removed: the offer still comes
        (a bundled inactive placeholder keeps it valid) and its answer is
        accepted; a publisher joining later gets a new offer again."""
        t, b = "sp-last", "room"
        self.bubble(t)
        ev = sp.Events(self.relay, {"tenants": [t]})
        self.addCleanup(ev.close)
        alice = sp.Softphone(self.ctl, t, b, "alice")
        bob = sp.Softphone(self.ctl, t, b, "bob")
        carol = sp.Softphone(self.ctl, t, b, "carol")
        try:
            alice.join()
            bob.join()
            sp.ok(await bob.publish(freq=330), "bob publish")
            r1 = await alice.subscribe()
            await sp.wait_rising(lambda: alice.received_from("bob"), MEDIA_TIMEOUT_S,
                                 "alice's packets from bob")
            bob.leave()
            e2 = await ev.wait(sp.match("peer.offer", peer="alice"), EVENT_TIMEOUT_S,
                               "peer.offer for alice after the only publisher left")
            self.assertGreater(e2["revision"], r1)
            self.assertEqual(sp.sending_sections(e2["offer"]), [], e2["offer"])
            self.assertNotIn("msid:bob", e2["offer"])
            secs = sp.sdp_sections(e2["offer"])
            live = [s for s in secs if s["port"] != 0]
            self.assertTrue(live, "no bundled m-line left in the offer")
            self.assertTrue(all(s["direction"] == "inactive" for s in live), secs)
            await alice.answer_offer(e2["offer"], e2["revision"])

            carol.join()
            sp.ok(await carol.publish(freq=550), "carol publish")
            e3 = await ev.wait(lambda e: e["method"] == "peer.offer" and e["peer"] == "alice"
                               and e["revision"] > e2["revision"], EVENT_TIMEOUT_S,
                               "peer.offer for alice after carol published")
            self.assertEqual([s["msid"][0] for s in sp.sending_sections(e3["offer"])], ["carol"])
        finally:
            for p in (alice, bob, carol):
                await p.close()


if __name__ == "__main__":
    webdriver.unittest_main()
