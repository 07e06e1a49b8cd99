"""A Chromium publisher on a lossy uplink: the relay NACKs its own gaps,
unwraps the publisher's RTX (RFC 4588) into the original stream, and the
subscriber keeps decoding.

One publishing and one subscribing page through the demo. Once the
subscriber decodes, nftables drops 5 % of the SRTP/SRTCP datagrams arriving
at the relay's port of the publish transport (the publisher's selected
candidate pair's remote port; input hook, `numgen random`; `lo` is set to
gso_max_segs 1 first, or one drop would remove a whole GSO run). Only
RTP/RTCP (first byte 128..191, RFC 7983) is dropped: with STUN dropped too,
the relay's libnice keepalive checks lose consent now and then (publish
transport FAILED, "consent lost", in about 1 run of 5, with or without
retransmission), which is another matter than this test's. Then, over
a window, the test wants: the relay NACKed (stats.get rtx.nacks_sent > 0),
the publisher's retransmissions filled gaps (rtx.recovered > 0), and the
subscriber's decoder went on (framesDecoded grows by at least MIN_FRAMES).
Without the uplink leg the relay's history lacks what it never received,
the subscriber's own NACKs miss, and it waits for keyframes. The bar is a
count over a generous window, not a speed.

Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import time
import unittest

import webdriver

webdriver.private_netns()

import chromium_call as cc  # noqa: E402
from chromium_call import log, relay_rtx  # noqa: E402

BUBBLE = "it-rtx-uplink"
LOSS_ONE_IN = 20      # 5 %
WINDOW_S = 20
MIN_FRAMES = 100      # ~20 fps camera: 400 expected
DEADLINE_S = 60

# The publish connection's selected remote (relay) port, and its video
# outbound-rtp: NACKs it got and what it sent again.
PUB_STATS = cc.video_stats("pub", "outbound-rtp", port="remote",
                           sums={"nackCount": "nackCount",
                                 "retransmitted": "retransmittedPacketsSent",
                                 "packetsSent": "packetsSent"})

# The subscriber's video inbound-rtp.
SUB_STATS = cc.video_stats("sub", "inbound-rtp",
                           sums=["nackCount", "framesDecoded", "packetsLost", "freezeCount",
                                 "totalFreezesDuration"])

INBOUND = """
(async () => {
  const out = [];
  (await call.sub.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp') out.push([r.kind, r.ssrc, r.mid, r.framesDecoded, r.packetsReceived]);
  });
  return out;
})()
"""


@unittest.skipIf(webdriver.available(), webdriver.available())
class PublisherLoss(unittest.TestCase):
    def test_relay_nacks_publisher(self):
        relay, demo, ctl = cc.start_demo(self)
        pub, sub = cc.open_pages(self, demo, None, None)
        cc.join(self, pub, BUBBLE, "Pub", "publish")
        cc.join(self, sub, BUBBLE, "Sub", "subscribe")

        p, s = cc.wait_for(self, lambda: (pub.call(PUB_STATS), sub.call(SUB_STATS)),
                           lambda v: v[0] and v[0]["port"] and v[1] and v[1]["framesDecoded"] > 0,
                           DEADLINE_S, lambda v: f"nothing decoded: {v[0]} {v[1]}", every_s=1)
        log(f"before loss: publisher {p}; subscriber {s}")

        cc.drop_udp_to(self, "prismrtxup", p["port"], cc.random_loss(LOSS_ONE_IN, rtp_only=True))

        start = relay_rtx(ctl)
        p0, s0 = p, s
        time.sleep(WINDOW_S)
        p1 = pub.call(PUB_STATS)
        s1 = sub.call(SUB_STATS)
        stats = relay_rtx(ctl)
        frames = s1["framesDecoded"] - s0["framesDecoded"]
        log(f"after {WINDOW_S} s at 1/{LOSS_ONE_IN} uplink loss: relay rtx {stats} "
            f"(at the start {start}); publisher NACKs "
            f"{p1['nackCount'] - p0['nackCount']}, retransmitted "
            f"{p1['retransmitted'] - p0['retransmitted']} of "
            f"{p1['packetsSent'] - p0['packetsSent']} sent; subscriber frames {frames}, "
            f"freezes {s1['freezeCount'] - s0['freezeCount']} "
            f"({s1['totalFreezesDuration'] - s0['totalFreezesDuration']:.1f} s), "
            f"NACKs {s1['nackCount'] - s0['nackCount']}")
        log(f"subscriber page: {sub.call('window.prismDemo.stats()')}")
        log(f"subscriber inbound: {sub.call(INBOUND)}")
        info = ctl.call("bubble.info", {"tenant": cc.TENANT, "bubble": BUBBLE})
        log("transports:", [(x["peer"], x["publish_state"], x["subscribe_state"])
                            for x in info["result"]["peers"]])
        self.assertGreater(stats["nacks_sent"], 0, f"the relay NACKed nothing: {stats}")
        self.assertGreater(stats["recovered"], 0, f"no publisher RTX filled a gap: {stats}")
        self.assertGreaterEqual(frames, MIN_FRAMES,
                                f"only {frames} frames decoded in {WINDOW_S} s at 5 % uplink loss")


if __name__ == "__main__":
    webdriver.unittest_main()
