"""`prismctl top` during a real call (issue 11, item 7): two aiortc softphones
publish a tone each (one loud, one silent) and subscribe (softphone.py); top,
with no --bubble, learns the bubble from the call's events and shows, in its
plain snapshots, the bubble and its tenant with 2 peers and packets and
kbit/s flowing both ways, loss as a number (audio only: 0.0), no drops, the
loud one as the speaker (bubble.speaker events), and the relay's totals.
Rates are differences of stats.get counters between refreshes.

Runs under /usr/bin/python3 (Debian's python3-aiortc) as root in a private
network namespace (CI: `unshare -n`; alone: re-executed under it).
Environment: PRISM, PRISMCTL.
"""
import asyncio
import sys
import unittest

import webdriver

webdriver.private_netns()

from harness import PRISMCTL, Relay  # noqa: E402
try:
    import softphone as sp  # noqa: E402
    import aiortc.rtp  # noqa: E402
except ImportError as e:  # Debian's python3-aiortc missing: skipped (meson: 77)
    print(f"skip: aiortc unavailable ({e})", file=sys.stderr)
    sys.exit(77)

MEDIA_TIMEOUT_S = 60  # generous: a noisy 2-core machine

# aiortc 1.4 never sets the voice-activity flag of its audio level, so the
# relay would hear no speaker: flag every packet as voice (as test_prefer.py
# does); loudness then decides.
_orig_ext_set = aiortc.rtp.HeaderExtensionsMap.set


def _voiced_set(self, values):
    if values.audio_level is not None:
        values.audio_level = (True, values.audio_level[1])
    return _orig_ext_set(self, values)


aiortc.rtp.HeaderExtensionsMap.set = _voiced_set


def rate(text):
    """A rate as top prints it ("740", "2.5", "12.3k", "4.1M") -> float."""
    scale = {"k": 1e3, "M": 1e6, "G": 1e9}.get(text[-1:], 1)
    return float(text.rstrip("kMG")) * scale


def last_tables(text):
    frame = text[text.rindex("prism "):]
    out = {}
    for block in frame.split("\n\n")[1:]:
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if lines:
            head = lines[0].split()
            out[head[0]] = [dict(zip(head, ln.split())) for ln in lines[1:]]
    return frame, out


class TopDuringCall(unittest.TestCase):
    def test_top_shows_the_call(self):
        sp.run(self.call())

    async def call(self):
        relay = Relay(args=["--media-ip", "127.0.0.1"])
        self.addCleanup(relay.close)
        ctl = relay.unix()
        self.addCleanup(ctl.close)
        t, b = "acme", "room"
        sp.ok(ctl.call("tenant.create", {"tenant": t}), "tenant.create")
        sp.ok(ctl.call("bubble.create", {"tenant": t, "bubble": b}), "bubble.create")
        sp.ok(ctl.call("bubble.create", {"tenant": t, "bubble": "empty"}), "bubble.create")
        phones = [sp.Softphone(ctl, t, b, "alice"), sp.Softphone(ctl, t, b, "bob")]
        try:
            # Alice speaks, Bob's tone is silent: alice is the bubble's speaker.
            tones = {"alice": sp.ToneTrack(440), "bob": sp.ToneTrack(660, amp=0)}
            for p in phones:
                p.join()

                def add(pc, tone=tones[p.peer], p=p):
                    p.tracks.append(tone)
                    pc.addTransceiver(tone, direction="sendonly")
                sp.ok(await p.publish(audio=False, before_offer=add), f"{p.peer} publish")
            for p in phones:
                await p.subscribe()
            for me, other in (phones, phones[::-1]):
                await sp.wait_rising(lambda me=me, other=other: me.received_from(other.peer),
                                     MEDIA_TIMEOUT_S, f"{me.peer}'s packets", rounds=2)
            # top runs beside the call (asynchronously: media keeps flowing).
            # The relay's counters move once a second: 2 s intervals always
            # see at least one update, so no rate reads 0.
            proc = await asyncio.create_subprocess_exec(
                PRISMCTL, "--control", relay.sock, "top", "--iterations", "2", "--interval", "2",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), MEDIA_TIMEOUT_S)
            out, err = out.decode(), err.decode()
            print(out, file=sys.stderr)
            self.assertEqual(proc.returncode, 0, err)
            self.assertNotIn("\x1b", out)
            # Bubbles learnt from the backlog are in the first frame already.
            first = out[:out.index("\n\nprism ")]
            self.assertIn(f"{t}/{b}", first)
            frame, tables = last_tables(out)
            self.assertIn("tenants 1  bubbles 2  peers 2  ", frame)
            self.assertIn("(1 of 2 bubbles shown", frame)
            (row,) = tables["BUBBLE"]
            self.assertEqual((row["BUBBLE"], row["PEERS"], row["SPEAKER"]),
                             (f"{t}/{b}", "2", "alice"))
            for col in ("IN/S", "OUT/S", "IN_KBPS", "OUT_KBPS"):
                self.assertGreater(rate(row[col]), 0, (col, row))
            self.assertEqual((rate(row["LOSS%"]), row["DROPS/S"]), (0.0, "0"), row)
            (tenant,) = tables["TENANT"]
            self.assertEqual((tenant["TENANT"], tenant["BUBBLES"], tenant["PEERS"]), (t, "2", "2"))
            self.assertGreater(rate(tenant["OUT/S"]), 0, tenant)
            # Two tones of 50 packets/s each go in and out (one subscriber each):
            # the relay-wide rate is of that order, not a counter total.
            relay_in = rate(frame.split("  in ")[1].split("/s")[0])
            self.assertGreater(relay_in, 20, frame)
            self.assertLess(relay_in, 1000, frame)
        finally:
            for p in phones:
                await p.close()


if __name__ == "__main__":
    unittest.main()
