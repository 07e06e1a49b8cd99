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
     twice its low layer's height or more);
  3. from the policer on to the up-switch, the limited subscriber's longest
     stretch without a decoded frame (polls 2 s apart) is at most
     MAX_EXTRA_STALL_S longer than the unlimited one's (load stalls both
     alike; an up-switch that fails under the policer costs a few seconds).
     Chromium's freezeCount is logged, not asserted: the policed stretch
     lasts as long as the machine's load makes it, and the limited
     subscriber's freezes grow with it (16 against the unlimited one's 0
     in a clean-clone run with fuzzers beside it, decoding all along).
(Under heavy load the publisher's 720p layer can fall to a few frames per
second and fit under the policer: the limited subscriber may then rightly
take it; so staying low is not asserted.)
Deadlines are generous (a loaded CI machine encodes 720p slowly): what is
asserted is where each subscriber ends up, not how fast.

Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import time
import unittest

import webdriver

webdriver.private_netns()

import chromium_call as cc  # noqa: E402
from chromium_call import log, sh  # noqa: E402

BUBBLE = "it-simulcast"
LIMIT = "37 kbytes/second burst 16 kbytes"  # ~300 kbit/s
DECODE_DEADLINE_S = 45
SPLIT_DEADLINE_S = 60
RESUME_DEADLINE_S = 45
MIN_FRAMES = 10        # decoded by the limited subscriber after the split (~20 fps camera)
MAX_EXTRA_STALL_S = 8  # the limited subscriber's longest stall over the unlimited one's
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

# The subscribe connection's selected local port and its video inbound-rtp.
SUB_STATS = cc.video_stats("sub", "inbound-rtp", port="local", last={"height": "frameHeight"},
                           sums={"framesDecoded": "framesDecoded",
                                 "freezeCount": "freezeCount", "bytes": "bytesReceived"})

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


def longest_stall(samples, i):
    """The longest time over which subscriber i's framesDecoded did not move
    in `samples` [(time, frames of each subscriber)]."""
    longest, since, last = 0.0, None, None
    for t, frames in samples:
        if last is None or frames[i] > last:
            since, last = t, frames[i]
        longest = max(longest, t - since)
    return longest


@unittest.skipIf(webdriver.available(), webdriver.available())
class Simulcast(unittest.TestCase):
    def test_layers_follow_each_downlink(self):
        relay, demo, ctl = cc.start_demo(self)
        pub, lim, unl = cc.open_pages(self, demo, PUBLISHER_SETUP, cc.AUDIO_ONLY, cc.AUDIO_ONLY)
        cc.join(self, pub, BUBBLE, "Pub", "publish")
        for page, name in ((lim, "Limited"), (unl, "Unlimited")):
            cc.join(self, page, BUBBLE, name, "subscribe")
        start = time.monotonic()

        # Both decode the publisher's video.
        samples = []

        def poll():
            v = cc.poll(start, pub, PUB_STATS, SUB_STATS, limited=lim, unlimited=unl)[1:]
            if all(v):
                samples.append((time.monotonic(), [s["framesDecoded"] for s in v]))
            return v

        a, b = cc.wait_for(self, poll, lambda v: cc.both_decode(*v) and v[0]["port"],
                           DECODE_DEADLINE_S,
                           lambda v: f"the subscribers do not both decode: {v[0]} {v[1]}")

        cc.drop_udp_to(self, TABLE, a["port"], f"limit rate over {LIMIT}")
        policed = len(samples)
        log(f"policer on port {a['port']}: {LIMIT}")

        # 1. The limited one on a lower layer than the unlimited one (720p).
        a, b = cc.wait_for(self, poll, lambda v: cc.at_most_half(*v), SPLIT_DEADLINE_S,
                           lambda v: f"no split of layers: limited {v[0]}, unlimited {v[1]}",
                           sleep_first=True)
        before, low = a, a["height"]
        resume = time.monotonic()
        decoded = lambda v: v[0]["framesDecoded"] - before["framesDecoded"]
        a, b = cc.wait_for(self, poll, lambda v: decoded(v) >= MIN_FRAMES, RESUME_DEADLINE_S,
                           lambda v: f"the limited subscriber decoded {decoded(v)} frames in "
                           f"{RESUME_DEADLINE_S} s", sleep_first=True)
        frames = decoded((a, b))
        log(f"the limited subscriber decoded {frames} frames "
            f"{time.monotonic() - resume:.1f} s after the split")

        # 2. The limit lifts: it is switched up.
        sh(f"nft delete table inet {TABLE}")
        lift = time.monotonic()
        log("policer removed")
        a, b = cc.wait_for(self, poll, lambda v: v[0]["height"] >= 2 * low, LIFT_DEADLINE_S,
                           lambda v: f"not switched up after the limit lifted: limited {v[0]}, "
                           f"unlimited {v[1]}", sleep_first=True)
        log(f"switched up {time.monotonic() - lift:.1f} s after the limit lifted")

        # 3. No long stall; the unlimited subscriber's measure the machine's load.
        stalls = [longest_stall(samples[policed:], i) for i in (0, 1)]
        log(f"longest stalls since the policer: limited {stalls[0]:.1f} s, unlimited "
            f"{stalls[1]:.1f} s; freezes: limited {a['freezeCount']}, unlimited {b['freezeCount']}")
        self.assertLessEqual(stalls[0], stalls[1] + MAX_EXTRA_STALL_S, (stalls, a, b))


if __name__ == "__main__":
    webdriver.unittest_main()
