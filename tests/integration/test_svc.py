"""Chromium publishers of layered video and two subscribers, one of which
the backend caps with peer.prefer: the relay leaves out, for that
subscriber only, the layers above the cap (issue 8, item 3).

- test_vp9_l3t3_key: VP9 SVC, three spatial and three temporal layers in
  one stream (scalabilityMode 'L3T3_KEY'), the cap max_height 180 and
  max_fps 10;
- test_vp8_l1t3: VP8 with three temporal layers ('L1T3'), the cap max_fps
  10;
- test_av1_l3t3: AV1 (libaom) with three spatial and three temporal layers
  ('L3T3': every upper layer frame predicts from the lower layer too), the
  layers read from the dependency descriptor, the cap max_height 180 and
  max_fps 10;
- test_av1_l3t3_key: AV1 'L3T3_KEY' (K-SVC: after a key picture each
  spatial layer predicts from its own), the cap max_height 360: the relay
  forwards spatial layers 0 and 1 of key pictures and layer 1 alone after
  them (layer 0's delta frames are "not present" in that decode target),
  and the subscriber keeps decoding;
- test_av1_simulcast: AV1 as two rid layers ("q" at a quarter of the
  resolution, "f"), each L1T3 with its own dependency descriptor structure,
  the cap max_height 180 and max_fps 10: the capped subscriber stays on
  "q" with temporal layers left out, the other is taken up to "f" by its
  downlink estimate (a switch of simulcast layer, so of structure, at a key
  frame) and both keep decoding.

The publisher joins through the demo with its camera at 1280x720, the codec
put first by setCodecPreferences and sendEncodings [{scalabilityMode}];
the two subscribers join with a microphone only. From each subscriber's
getStats (inbound-rtp of the publisher's video):
  1. both decode the codec;
  2. (VP9, AV1) the capped subscriber decodes a lower resolution than the other
     (at most half its height: the spatial layers are 2x apart; no absolute
     height, a loaded machine makes Chromium scale its layers down);
  3. the capped one keeps decoding over a window, without NACKing much
     more than the other (the sequence numbers the relay closes over the
     layers it leaves out are no loss);
  4. stats.get counts the copies the cap left out (`layers.dropped`);
  5. when the uncapped subscriber gets 15 fps or more (the publisher
     encodes enough frames for the temporal cap to matter), the capped one
     gets fewer frames per second than it.
Deadlines are generous and nothing is timed: what is asserted is where each
subscriber ends up. Each test is bounded to about 100 s.

Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import time
import unittest

import webdriver

webdriver.private_netns()

import chromium_call as cc  # noqa: E402
from chromium_call import log  # noqa: E402

DECODE_DEADLINE_S = 45
SPLIT_DEADLINE_S = 45
WINDOW_S = 8
MIN_FRAMES = 8  # decoded by the capped subscriber over WINDOW_S (a quarter of the rate at least)
MAX_EXTRA_NACKS = 100  # the capped subscriber's over the other's, over the whole test

# MIME, ENCODINGS and FMTP are filled in per test.
PUBLISHER_SETUP = """
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = () =>
  gum({audio: true, video: {width: 1280, height: 720, frameRate: 30}});
const add = RTCPeerConnection.prototype.addTransceiver;
RTCPeerConnection.prototype.addTransceiver = function (track, init) {
  if (!track || track.kind !== 'video') return add.call(this, track, init);
  init = Object.assign({}, init, {sendEncodings: ENCODINGS});
  const t = add.call(this, track, init);
  const codecs = RTCRtpSender.getCapabilities('video').codecs;
  const first = codecs.filter((c) => c.mimeType === 'MIME' &&
                                     (c.sdpFmtpLine || '').includes('FMTP'));
  t.setCodecPreferences(first.concat(codecs.filter((c) => !first.includes(c))));
  return t;
};
"""
SUB_STATS = cc.video_stats("sub", "inbound-rtp",
                           maxes={"height": "frameHeight", "fps": "framesPerSecond"},
                           sums={"framesDecoded": "framesDecoded", "nacks": "nackCount"},
                           codec="codec")

PUB_STATS = """
(async () => {
  const pc = call && call.pub;
  if (!pc) return null;
  const out = [];
  const stats = await pc.getStats();
  stats.forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') {
      const c = r.codecId && stats.get(r.codecId);
      out.push(`${c ? c.mimeType : '?'} ${r.scalabilityMode || '-'} ` +
               `${r.frameWidth || 0}x${r.frameHeight || 0}@${r.framesPerSecond || 0} ` +
               `${r.qualityLimitationReason}`);
    }
  });
  return out.join(' ');
})()
"""


@unittest.skipIf(webdriver.available(), webdriver.available())
class Svc(unittest.TestCase):
    def check(self, bubble, mime, mode, fmtp, prefer, spatial, encodings=None):
        """`mode`: the scalabilityMode of one encoding, or with `encodings`
        (JavaScript) what each of those has."""
        relay, demo, ctl = cc.start_demo(self)
        encodings = encodings or f"[{{scalabilityMode: '{mode}'}}]"
        setup = (PUBLISHER_SETUP.replace("MIME", mime).replace("ENCODINGS", encodings)
                 .replace("FMTP", fmtp))
        pub, cap, full = cc.open_pages(self, demo, setup, cc.AUDIO_ONLY, cc.AUDIO_ONLY)
        publisher = cc.join(self, pub, bubble, "Pub", "publish")["peer"]
        peers = {name: cc.join(self, page, bubble, name, "subscribe")["peer"]
                 for page, name in ((cap, "Capped"), (full, "Full"))}
        cc.prefer(self, ctl, bubble, peers["Capped"], publisher, **prefer)
        start = time.monotonic()

        # 1. Both decode the codec.
        poll = lambda: cc.poll(start, pub, PUB_STATS, SUB_STATS, capped=cap, full=full)[1:]
        a, b = cc.wait_for(self, poll, lambda v: cc.both_decode(*v), DECODE_DEADLINE_S,
                           lambda v: f"the subscribers do not both decode: {v[0]} {v[1]}")
        self.assertEqual((a["codec"], b["codec"]), (mime, mime))

        # 2. The capped one decodes a lower resolution.
        if spatial:
            a, b = cc.wait_for(self, poll, lambda v: cc.at_most_half(*v), SPLIT_DEADLINE_S,
                               lambda v: f"no split of spatial layers: capped {v[0]}, full {v[1]}",
                               sleep_first=True)

        # 3. It keeps decoding, and the layers left out are no loss: a
        # subscriber that took them for loss would NACK hundreds of packets
        # a second.
        before = a
        time.sleep(WINDOW_S)
        a, b = poll()
        frames = a["framesDecoded"] - before["framesDecoded"]
        self.assertGreaterEqual(frames, MIN_FRAMES,
                                f"the capped subscriber decoded {frames} frames in {WINDOW_S} s")
        if spatial:
            self.assertLess(a["height"], b["height"], (a, b))
        self.assertLessEqual(a["nacks"], b["nacks"] + MAX_EXTRA_NACKS, (a, b))

        # 4. The relay counts what the cap left out in stats.get's "layers"
        # (the bubble's snapshot is at most about 1 s old: the window above
        # is longer).
        stats = ctl.call("stats.get", {"tenant": cc.TENANT, "bubble": bubble})["result"]
        self.assertGreater(stats["layers"]["dropped"], 0, stats)

        # 5. Fewer frames per second, when the publisher sends enough of them.
        if b["fps"] >= 15:
            self.assertLess(a["fps"], b["fps"], (a, b))
        else:
            log(f"publisher too slow for the temporal cap to show: full {b['fps']} fps")

    def test_vp9_l3t3_key(self):
        self.check("it-svc-vp9", "video/VP9", "L3T3_KEY", "profile-id=0",
                   {"max_height": 180, "max_fps": 10}, spatial=True)

    def test_av1_l3t3(self):
        self.check("it-svc-av1", "video/AV1", "L3T3", "profile=0",
                   {"max_height": 180, "max_fps": 10}, spatial=True)

    def test_av1_l3t3_key(self):
        self.check("it-svc-av1k", "video/AV1", "L3T3_KEY", "profile=0",
                   {"max_height": 360, "max_fps": 10}, spatial=True)

    def test_av1_simulcast(self):
        self.check("it-svc-av1s", "video/AV1", "L1T3", "profile=0",
                   {"max_height": 180, "max_fps": 10}, spatial=True,
                   encodings="[{rid: 'q', scaleResolutionDownBy: 4, scalabilityMode: 'L1T3'},"
                             " {rid: 'f', scaleResolutionDownBy: 1, scalabilityMode: 'L1T3'}]")

    def test_vp8_l1t3(self):
        self.check("it-svc-vp8", "video/VP8", "L1T3", "", {"max_fps": 10}, spatial=False)


if __name__ == "__main__":
    webdriver.unittest_main()
