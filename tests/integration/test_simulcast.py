"""A Chromium rid simulcast publisher and two subscribers, one of them
rate-limited: each gets the layer its downlink carries (issue 8, items 2
and 6).

The publisher joins through the demo with its camera at 1280x720 sent as two
rid layers, "q" (scaleResolutionDownBy 4: 320x180) and "f" (1280x720); the
two subscribers join with a microphone only (their own video would only
load the machine). The relay forwards one layer to each subscriber, chosen
from that subscriber's bandwidth estimate (the relay stamps transport-wide
sequence numbers on what it sends it and reads its transport-cc feedback,
relay/worker/bwe.h), switching at key frames it asks for.

Once both decode, an nftables policer (`limit rate over`, input hook on the
limited subscriber's own port; `lo` at gso_max_segs 1 first, as in
test_rtx.py) holds that subscriber to ~300 kbit/s. Then, from each
subscriber's getStats (inbound-rtp frameHeight of the publisher's video):
  1. the limited subscriber ends up on a lower layer than the unlimited one
     (at most half its height: the layers are 4x apart, and a loaded machine
     makes Chromium scale both down, so no absolute height is asserted), and
     keeps decoding: MIN_FRAMES more frames within RESUME_DEADLINE_S (a
     subscriber that the estimator first took up to 720p through the
     policer has been seen frozen ~10 s before the low layer resumed: a
     known weakness, see docs/architecture.md; the test fails only if it
     never resumes);
  2. once the policer is removed, the limited subscriber is switched up (to
     twice its low layer's height or more), and it froze at most
     MAX_EXTRA_FREEZES more times than the unlimited one (loose: what
     matters is no long freeze, and load freezes both alike).
(Under heavy load the publisher's 720p layer can fall to a few frames per
second and fit under the policer: the limited subscriber may then rightly
take it; so staying low is not asserted.)
Deadlines are generous (a loaded CI machine encodes 720p slowly): what is
asserted is where each subscriber ends up, not how fast.

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

BUBBLE = "it-simulcast"
LIMIT = "37 kbytes/second burst 16 kbytes"  # ~300 kbit/s
DECODE_DEADLINE_S = 45
SPLIT_DEADLINE_S = 60
RESUME_DEADLINE_S = 45
MIN_FRAMES = 10        # decoded by the limited subscriber after the split (~20 fps camera)
MAX_EXTRA_FREEZES = 15  # the limited subscriber's over the unlimited one's: an up-switch
                        # that fails under the policer costs one
LIFT_DEADLINE_S = 75
TABLE = "prismsim"

# The publish side: 720p camera, two rid layers. The subscribers: audio only.
PUBLISHER_SETUP = """
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = () =>
  gum({audio: true, video: {width: 1280, height: 720}});
const add = RTCPeerConnection.prototype.addTransceiver;
RTCPeerConnection.prototype.addTransceiver = function (track, init) {
  if (track && track.kind === 'video')
    init = Object.assign({}, init, {sendEncodings: [
      {rid: 'q', scaleResolutionDownBy: 4}, {rid: 'f', scaleResolutionDownBy: 1}]});
  return add.call(this, track, init);
};
"""
SUBSCRIBER_SETUP = """
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = () => gum({audio: true, video: false});
"""

# The subscribe connection's selected local port and its video inbound-rtp.
SUB_STATS = """
(async () => {
  const pc = call && call.sub;
  if (!pc) return null;
  const out = {port: 0, height: 0, framesDecoded: 0, freezeCount: 0, bytes: 0};
  const locals = {};
  let pair = null;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'local-candidate') locals[r.id] = r;
    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r;
    if (r.type === 'inbound-rtp' && r.kind === 'video') {
      out.height = r.frameHeight || 0;
      out.framesDecoded += r.framesDecoded || 0;
      out.freezeCount += r.freezeCount || 0;
      out.bytes += r.bytesReceived || 0;
    }
  });
  if (pair && locals[pair.localCandidateId]) out.port = locals[pair.localCandidateId].port;
  return out;
})()
"""

PUB_STATS = """
(async () => {
  const pc = call && call.pub;
  if (!pc) return null;
  const out = [];
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video')
      out.push(`${r.rid}:${r.frameWidth || 0}x${r.frameHeight || 0}@${r.framesPerSecond || 0}` +
               ` ${r.qualityLimitationReason}`);
    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded')
      out.push(`~est ${Math.round((r.availableOutgoingBitrate || 0) / 1000)} kbps`);
    if (r.type === 'remote-inbound-rtp' && r.kind === 'video')
      out.push(`~lost ${r.fractionLost}`);
  });
  return out.sort().join(' ');
})()
"""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


@unittest.skipIf(webdriver.available(), webdriver.available())
class Simulcast(unittest.TestCase):
    def poll(self, pub, lim, unl, start):
        p = pub.call(PUB_STATS)
        a, b = lim.call(SUB_STATS), unl.call(SUB_STATS)
        log(f"{time.monotonic() - start:5.1f}s publisher [{p}] limited {a} unlimited {b}")
        return a, b

    def test_layers_follow_each_downlink(self):
        relay, demo, ctl = demo_it.start_demo(self)
        pub = demo_it.open_page(self, demo)
        lim = demo_it.open_page(self, demo)
        unl = demo_it.open_page(self, demo)
        pub.call(f"(() => {{ {PUBLISHER_SETUP} }})()")
        lim.call(f"(() => {{ {SUBSCRIBER_SETUP} }})()")
        unl.call(f"(() => {{ {SUBSCRIBER_SETUP} }})()")
        r = pub.call("window.prismDemo.join(arguments[0], arguments[1])", BUBBLE, "Pub")
        self.assertTrue(r["publish"]["ok"], r)
        for page, name in ((lim, "Limited"), (unl, "Unlimited")):
            r = page.call("window.prismDemo.join(arguments[0], arguments[1])", BUBBLE, name)
            self.assertTrue(r["subscribe"]["ok"], r)
        start = time.monotonic()

        # Both decode the publisher's video.
        while True:
            a, b = self.poll(pub, lim, unl, start)
            if a and b and a["port"] and a["framesDecoded"] > 0 and b["framesDecoded"] > 0:
                break
            self.assertLess(time.monotonic() - start, DECODE_DEADLINE_S,
                            f"the subscribers do not both decode: {a} {b}")
            time.sleep(2)

        sh("ip link set lo gso_max_segs 1")
        sh(f"nft add table inet {TABLE}")
        self.addCleanup(subprocess.run, f"nft delete table inet {TABLE} 2>/dev/null", shell=True)
        sh(f"nft add chain inet {TABLE} in '{{ type filter hook input priority 0; }}'")
        sh(f"nft add rule inet {TABLE} in udp dport {a['port']} limit rate over {LIMIT} drop")
        log(f"policer on port {a['port']}: {LIMIT}")

        # 1. The limited one on a lower layer than the unlimited one (720p).
        split = time.monotonic()
        while True:
            time.sleep(2)
            a, b = self.poll(pub, lim, unl, start)
            if 0 < a["height"] and b["height"] >= 2 * a["height"]:
                break
            self.assertLess(time.monotonic() - split, SPLIT_DEADLINE_S,
                            f"no split of layers: limited {a}, unlimited {b}")
        before, low = a, a["height"]
        resume = time.monotonic()
        while True:
            time.sleep(2)
            a, b = self.poll(pub, lim, unl, start)
            frames = a["framesDecoded"] - before["framesDecoded"]
            if frames >= MIN_FRAMES:
                break
            self.assertLess(time.monotonic() - resume, RESUME_DEADLINE_S,
                            f"the limited subscriber decoded {frames} frames in "
                            f"{RESUME_DEADLINE_S} s")
        log(f"the limited subscriber decoded {frames} frames "
            f"{time.monotonic() - resume:.1f} s after the split")

        # 2. The limit lifts: it is switched up.
        sh(f"nft delete table inet {TABLE}")
        lift = time.monotonic()
        log("policer removed")
        while True:
            time.sleep(2)
            a, b = self.poll(pub, lim, unl, start)
            if a["height"] >= 2 * low:
                break
            self.assertLess(time.monotonic() - lift, LIFT_DEADLINE_S,
                            f"not switched up after the limit lifted: limited {a}, "
                            f"unlimited {b}")
        log(f"switched up {time.monotonic() - lift:.1f} s after the limit lifted; "
            f"limited subscriber's freezes: {a['freezeCount']}")
        # The unlimited subscriber's freezes measure the machine's load.
        self.assertLessEqual(a["freezeCount"], b["freezeCount"] + MAX_EXTRA_FREEZES, (a, b))


if __name__ == "__main__":
    webdriver.unittest_main()
