"""Routing without a=ssrc (issue 8, item 8): a softphone that makes its
offer before its encoders start writes no a=ssrc lines, and may negotiate
no mid header extension. The relay then routes by payload type where one
m-line alone has it (RFC 8843 §9.2) and learns the streams' SSRCs.

- test_no_ssrc_no_mid: an aiortc publisher whose offer has its a=ssrc and
  a=ssrc-group lines and the mid extmap removed (audio and video) publishes
  a tone and video; a second softphone subscribes and decodes both (frames
  rising), and stats.get shows no no_route or ssrc_limit drop. Every 40th
  video packet of the publisher is withheld before SRTP, so the relay NACKs
  it and the publisher retransmits on an rtx SSRC it never announced: that
  stream is bound by its rtx payload type and fills the gaps
  (rtx.recovered rises), still without a no_route drop.

Runs under /usr/bin/python3 (Debian's python3-aiortc) as root in a private
network namespace (CI: `unshare -n`; alone: re-executed under it).
Environment: PRISM, PRISMCTL.
"""
import re
import sys
import unittest

import webdriver

webdriver.private_netns()

from harness import Relay  # noqa: E402
try:
    import softphone as sp  # noqa: E402
except ImportError as e:  # Debian's python3-aiortc missing: skipped (meson: 77)
    print(f"skip: aiortc unavailable ({e})", file=sys.stderr)
    sys.exit(77)

MEDIA_TIMEOUT_S = 60  # generous: a noisy 2-core machine
WITHHOLD_ONE_IN = 40


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def strip_ssrc_and_mid(sdp):
    """The offer without a=ssrc, a=ssrc-group and the mid extmap."""
    keep = [line for line in sdp.split("\r\n")
            if not line.startswith(("a=ssrc:", "a=ssrc-group:"))
            and not re.match(r"a=extmap:\d+ urn:ietf:params:rtp-hdrext:sdes:mid$", line)]
    return "\r\n".join(keep)


def first_pt(sdp, kind):
    m = re.search(r"^m=" + kind + r" \d+ \S+ (\d+)", sdp, re.M)
    return int(m.group(1))


class SsrcLess(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(args=["--media-ip", "127.0.0.1"])

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def setUp(self):
        self.ctl = self.relay.unix()
        self.addCleanup(self.ctl.close)

    def test_no_ssrc_no_mid(self):
        sp.run(self.no_ssrc_no_mid())

    async def no_ssrc_no_mid(self):
        t, b = "ssrcless", "room"
        sp.ok(self.ctl.call("tenant.create", {"tenant": t}), "tenant.create")
        sp.ok(self.ctl.call("bubble.create", {"tenant": t, "bubble": b}), "bubble.create")
        pub = sp.Softphone(self.ctl, t, b, "pub")
        sub = sp.Softphone(self.ctl, t, b, "sub")
        try:
            pub.join()
            sub.join(publish=False)
            sp.ok(await pub.publish(audio=True, video=True, edit=strip_ssrc_and_mid),
                  "peer.publish")
            offer = pub.pub_offer
            self.assertNotIn("a=ssrc", offer)
            self.assertNotIn("sdes:mid", offer)
            self.assertNotIn("sdes:mid", pub.pub_answer)
            self.assertIn("rtx/90000", pub.pub_answer)
            self.withhold_video(pub, first_pt(pub.pub_answer, "video"))

            await sub.subscribe()
            kinds = sorted(s["kind"] for s in sp.sending_sections(sub.offer))
            self.assertEqual(kinds, ["audio", "video"], sub.offer)
            for kind in ("audio", "video"):
                f = await sp.wait_rising(lambda: sub.frames_from("pub", kind), MEDIA_TIMEOUT_S,
                                         f"{kind} frames from the publisher", rounds=4)
                log(f"subscriber decoded {f} {kind} frames")
            s = await sp.wait_counter(self.ctl, t, b, ("rtx", "recovered"), 0, MEDIA_TIMEOUT_S,
                                      "retransmissions on the unannounced rtx SSRC")
            log(f"withheld {self.withheld} video packets; stats: drops {s['drops']} rtx {s['rtx']}")
            self.assertGreater(s["rtx"]["nacks_sent"], 0, s)
            self.assertEqual(s["drops"]["no_route"], 0, s)
            self.assertEqual(s["drops"]["ssrc_limit"], 0, s)
            self.assertEqual(s["drops"]["malformed"], 0, s)
        finally:
            await pub.close()
            await sub.close()

    def withhold_video(self, phone, video_pt):
        """Every WITHHOLD_ONE_IN-th video packet the publisher sends (its
        first payload type, not rtx) never leaves: aiortc keeps it in its
        history, so a NACK brings it back on the rtx stream."""
        self.withheld = 0
        count = {"n": 0}
        for dtls in phone.pub_dtls():
            send = dtls._send_rtp

            async def withholding(data, send=send):
                if len(data) >= 12 and data[1] & 0x7F == video_pt:
                    count["n"] += 1
                    if count["n"] % WITHHOLD_ONE_IN == 0:
                        self.withheld += 1
                        return
                await send(data)
            dtls._send_rtp = withholding


if __name__ == "__main__":
    unittest.main()
