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
import subprocess
import sys
import time
import unittest

import webdriver

webdriver.private_netns()

import test_demo_page as demo_it  # noqa: E402  (its DemoServer and helpers)

BUBBLE = "it-rtx-uplink"
LOSS_ONE_IN = 20      # 5 %
WINDOW_S = 20
MIN_FRAMES = 100      # ~20 fps camera: 400 expected
DEADLINE_S = 60

# The publish connection's selected remote (relay) port, and its video
# outbound-rtp: NACKs it got and what it sent again.
PUB_STATS = """
(async () => {
  const pc = call && call.pub;
  if (!pc) return null;
  const out = {port: 0, nackCount: 0, retransmitted: 0, packetsSent: 0};
  const remotes = {};
  let pair = null;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'remote-candidate') remotes[r.id] = r;
    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r;
    if (r.type === 'outbound-rtp' && r.kind === 'video') {
      out.nackCount += r.nackCount || 0;
      out.retransmitted += r.retransmittedPacketsSent || 0;
      out.packetsSent += r.packetsSent || 0;
    }
  });
  if (pair && remotes[pair.remoteCandidateId]) out.port = remotes[pair.remoteCandidateId].port;
  return out;
})()
"""

# The subscriber's video inbound-rtp.
SUB_STATS = """
(async () => {
  const pc = call && call.sub;
  if (!pc) return null;
  const out = {nackCount: 0, framesDecoded: 0, packetsLost: 0, freezeCount: 0,
               totalFreezesDuration: 0};
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') {
      out.nackCount += r.nackCount || 0;
      out.framesDecoded += r.framesDecoded || 0;
      out.packetsLost += r.packetsLost || 0;
      out.freezeCount += r.freezeCount || 0;
      out.totalFreezesDuration += r.totalFreezesDuration || 0;
    }
  });
  return out;
})()
"""

INBOUND = """
(async () => {
  const out = [];
  (await call.sub.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp') out.push([r.kind, r.ssrc, r.mid, r.framesDecoded, r.packetsReceived]);
  });
  return out;
})()
"""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


@unittest.skipIf(webdriver.available(), webdriver.available())
class PublisherLoss(unittest.TestCase):
    def test_relay_nacks_publisher(self):
        relay, demo, ctl = demo_it.start_demo(self)
        pub = demo_it.open_page(self, demo)
        sub = demo_it.open_page(self, demo)
        r = pub.call("window.prismDemo.join(arguments[0], arguments[1])", BUBBLE, "Pub")
        self.assertTrue(r["publish"]["ok"], r)
        r = sub.call("window.prismDemo.join(arguments[0], arguments[1])", BUBBLE, "Sub")
        self.assertTrue(r["subscribe"]["ok"], r)

        deadline = time.monotonic() + DEADLINE_S
        while True:
            p = pub.call(PUB_STATS)
            s = sub.call(SUB_STATS)
            if p and p["port"] and s and s["framesDecoded"] > 0:
                break
            self.assertLess(time.monotonic(), deadline, f"nothing decoded: {p} {s}")
            time.sleep(1)
        log(f"before loss: publisher {p}; subscriber {s}")

        sh("ip link set lo gso_max_segs 1")
        sh("nft add table inet prismrtxup")
        self.addCleanup(subprocess.run, "nft delete table inet prismrtxup", shell=True)
        sh("nft add chain inet prismrtxup in '{ type filter hook input priority 0; }'")
        sh(f"nft add rule inet prismrtxup in udp dport {p['port']} @th,64,2 2 "
           f"numgen random mod {LOSS_ONE_IN} == 0 drop")

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
        info = ctl.call("bubble.info", {"tenant": demo_it.TENANT, "bubble": BUBBLE})
        log("transports:", [(x["peer"], x["publish_state"], x["subscribe_state"])
                            for x in info["result"]["peers"]])
        self.assertGreater(stats["nacks_sent"], 0, f"the relay NACKed nothing: {stats}")
        self.assertGreater(stats["recovered"], 0, f"no publisher RTX filled a gap: {stats}")
        self.assertGreaterEqual(frames, MIN_FRAMES,
                                f"only {frames} frames decoded in {WINDOW_S} s at 5 % uplink loss")


def relay_rtx(ctl):
    """The relay-wide rtx counters (snapshots are at most ~1 s old)."""
    time.sleep(1.5)
    r = ctl.call("stats.get")
    return r["result"]["rtx"]


if __name__ == "__main__":
    webdriver.unittest_main()
