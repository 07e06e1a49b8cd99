"""A Chromium subscriber on a lossy downlink gets its lost video again from
the relay (NACK -> RTX, RFC 4588) and keeps decoding.

One publishing and one subscribing page through the demo. Once the
subscriber decodes, nftables drops 5 % of the UDP datagrams arriving at the
subscriber's own port (input hook, `numgen random`; `lo` is set to
gso_max_segs 1 first, or one drop would remove a whole GSO run). Then, over
a window, the test wants: the subscriber NACKed (nackCount > 0), the relay
answered (stats.get rtx.sent > 0), and the subscriber's decoder went on
(framesDecoded grows by at least MIN_FRAMES). Without retransmission a 5 %
loss leaves Chromium waiting for keyframes: under one frame a second was
measured; with it, it decodes at the camera's rate. The bar is a count over a
generous window, not a speed.

FreezesUnderLoss (issue 8) compares freezes at 5 % with and without NACK
(quality_chromium.py).

Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import time
import unittest

import webdriver

webdriver.private_netns()

import chromium_call as cc  # noqa: E402
from chromium_call import log, relay_rtx  # noqa: E402

BUBBLE = "it-rtx"
LOSS_ONE_IN = 20      # 5 %
WINDOW_S = 20
MIN_FRAMES = 100      # ~20 fps camera: 400 expected; under 20 without rtx
DEADLINE_S = 60
QUALITY_WINDOW_S = 15  # per condition of FreezesUnderLoss

# The subscribe connection's selected local port, and its video inbound-rtp.
SUB_STATS = cc.video_stats("sub", "inbound-rtp", port="local",
                           sums={"nackCount": "nackCount", "framesDecoded": "framesDecoded",
                                 "packetsLost": "packetsLost",
                                 "retransmitted": "retransmittedPacketsReceived"})


@unittest.skipIf(webdriver.available(), webdriver.available())
class SubscriberLoss(unittest.TestCase):
    def test_nack_answered_with_rtx(self):
        relay, demo, ctl = cc.start_demo(self)
        pub, sub = cc.open_pages(self, demo, None, None)
        pub_peer = cc.join(self, pub, BUBBLE, "Pub", "publish")["peer"]
        cc.join(self, sub, BUBBLE, "Sub", "subscribe")

        s = cc.wait_for(self, lambda: sub.call(SUB_STATS),
                        lambda s: s and s["port"] and s["framesDecoded"] > 0, DEADLINE_S,
                        lambda s: f"the subscriber decodes nothing: {s}", every_s=1)
        log(f"decoding before loss: {s}")

        cc.drop_udp_to(self, "prismrtx", s["port"], cc.random_loss(LOSS_ONE_IN))

        before = s
        time.sleep(WINDOW_S)
        after = sub.call(SUB_STATS)
        stats = relay_rtx(ctl)
        log(f"after {WINDOW_S} s at 1/{LOSS_ONE_IN} loss: {after}; relay rtx {stats}")
        self.assertGreater(after["nackCount"], before["nackCount"], "the subscriber never NACKed")
        self.assertGreater(stats["sent"], 0, f"the relay retransmitted nothing: {stats}")
        frames = after["framesDecoded"] - before["framesDecoded"]
        self.assertGreaterEqual(frames, MIN_FRAMES,
                                f"only {frames} frames decoded in {WINDOW_S} s at 5 % loss")
        got = sub.call("window.prismDemo.stats()")["publishers"].get(pub_peer, {})
        log(f"subscriber: {got}")


@unittest.skipIf(webdriver.available(), webdriver.available())
class FreezesUnderLoss(unittest.TestCase):
    """issue 8: at 5 % downlink loss, with NACK most lost video comes back
    and the picture freezes for less time than without NACK (the answer
    munged: no nack, hence no rtx). The figures for docs/performance.md come
    from quality_chromium.py run directly (2 % and 5 %, medians of 3)."""

    def test_nack_recovers_and_shortens_freezes(self):
        import quality_chromium as q
        demo, ctl = q.start(self)
        with_nack = q.measure(self, demo, ctl, LOSS_ONE_IN, True, QUALITY_WINDOW_S, "SubNack")
        without = q.measure(self, demo, ctl, LOSS_ONE_IN, False, QUALITY_WINDOW_S, "SubNoNack")
        self.assertGreater(with_nack["dropped_video"], 0, with_nack)
        self.assertGreater(with_nack["recovered_pct"], 50, with_nack)
        self.assertGreater(with_nack["relay_rtx_sent"], 0, with_nack)
        self.assertEqual(without["nackCount"], 0, without)
        self.assertLess(with_nack["totalFreezesDuration"], without["totalFreezesDuration"],
                        f"with NACK {with_nack}, without {without}")


if __name__ == "__main__":
    webdriver.unittest_main()
