"""A Chromium publisher sending SSRC simulcast (a=ssrc-group:SIM, the legacy
form) and two subscribers, one held low by peer.prefer max_height: the
relay takes the SSRCs for the layers of one track, as it does rid
simulcast; and on a lossy uplink it NACKs each layer on its own SSRC
(issue 8).

The publisher joins through the demo with its camera at 640x360 and its
offer munged before setLocalDescription, the classic way: a second SSRC
with its rtx SSRC (a=ssrc cname/msid lines, an a=ssrc-group:FID) and an
a=ssrc-group:SIM of the two. Chromium 156 accepts that without
x-google-flag:conference (needed only for screen share) and sends two
layers; the test sets their scaleResolutionDownBy to 2 and 1 (320x180 and
640x360: munged layers start at full size each). The subscribers join with
a microphone only. Then:
  1. the publish description Chromium applied keeps the SIM group, and the
     publisher sends on both SSRCs;
  2. each subscriber sees one video track (one video inbound-rtp) and
     decodes it; the one preferring max_height 200 gets a layer no taller,
     the other a taller one (twice its height: the layers are 2x apart and
     Chromium scales both alike under CPU load);
  3. with 5 % of the publisher's SRTP/SRTCP datagrams to the relay dropped
     (nftables, as in test_rtx_uplink.py), over a window: the relay NACKed
     each layer on its own SSRC (the publisher's outbound-rtp nackCount
     grows for both SSRCs), its RTX filled gaps (stats rtx.recovered), and
     both subscribers go on decoding (MIN_FRAMES each).
Deadlines are generous; what is asserted is where each ends up.

Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import time
import unittest

import webdriver

webdriver.private_netns()

import chromium_call as cc  # noqa: E402
from chromium_call import log, relay_rtx  # noqa: E402

BUBBLE = "it-simulcast-ssrc"
LOW_HEIGHT = 200
DECODE_DEADLINE_S = 45
LAYER_DEADLINE_S = 60
LOSS_ONE_IN = 20  # 5 %
WINDOW_S = 20
MIN_FRAMES = 60   # per subscriber in WINDOW_S (~20 fps camera: 400 expected)
TABLE = "prismsimssrc"

# The munging: one more SSRC (and its rtx) for the video m-section, grouped
# as SIM with Chromium's own. Kept in window.__simOffer for the test.
PUBLISHER_SETUP = r"""
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = () =>
  gum({audio: true, video: {width: 640, height: 360}});
const sld = RTCPeerConnection.prototype.setLocalDescription;
const fresh = () => 1 + Math.floor(Math.random() * 0xfffffff0);
RTCPeerConnection.prototype.setLocalDescription = function (d) {
  if (d && d.type === 'offer' && !d.sdp.includes('a=ssrc-group:SIM')) {
    const parts = d.sdp.split('\r\nm=');
    for (let i = 1; i < parts.length; i++) {
      const fid = /a=ssrc-group:FID (\d+) (\d+)/.exec(parts[i]);
      if (!parts[i].startsWith('video') || !fid) continue;
      const cname = new RegExp(`a=ssrc:${fid[1]} cname:(\\S+)`).exec(parts[i])[1];
      const msid = (new RegExp(`a=ssrc:${fid[1]} msid:([^\\r]+)`).exec(parts[i]) || [])[1];
      const s = fresh(), r = fresh(), add = [];
      for (const x of [s, r]) {
        add.push(`a=ssrc:${x} cname:${cname}`);
        if (msid) add.push(`a=ssrc:${x} msid:${msid}`);
      }
      add.push(`a=ssrc-group:FID ${s} ${r}`, `a=ssrc-group:SIM ${fid[1]} ${s}`);
      parts[i] = parts[i].replace(/\r\n$/, '') + '\r\n' + add.join('\r\n') + '\r\n';
    }
    d = {type: 'offer', sdp: parts.join('\r\nm=')};
    window.__simOffer = d.sdp;
  }
  return sld.call(this, d);
};
"""

# Munged layers start at full size each (getParameters says 2 and 1, but
# Chromium 156 sent 360p on both until told): set it, as clients of this
# form do. Returns the number of encodings.
SCALE = """
(async () => {
  const s = call.pub.getSenders().find((x) => x.track && x.track.kind === 'video');
  const p = s.getParameters();
  p.encodings.forEach((e, i) => { e.scaleResolutionDownBy = 2 ** (p.encodings.length - 1 - i); });
  await s.setParameters(p);
  return p.encodings.length;
})()
"""

# The publisher's video outbound-rtp per SSRC, and its selected remote port.
PUB_STATS = """
(async () => {
  const pc = call && call.pub;
  if (!pc) return null;
  const out = {port: 0, ssrcs: {}};
  const remotes = {};
  let pair = null;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'remote-candidate') remotes[r.id] = r;
    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r;
    if (r.type === 'outbound-rtp' && r.kind === 'video')
      out.ssrcs[r.ssrc] = {height: r.frameHeight || 0, packets: r.packetsSent || 0,
                           nacks: r.nackCount || 0, rtx: r.retransmittedPacketsSent || 0};
  });
  if (pair && remotes[pair.remoteCandidateId]) out.port = remotes[pair.remoteCandidateId].port;
  return out;
})()
"""

# A subscriber's video inbound-rtp: how many, and the height and frames of all.
SUB_STATS = cc.video_stats("sub", "inbound-rtp", count="tracks", last={"height": "frameHeight"},
                           sums=["framesDecoded"])


@unittest.skipIf(webdriver.available(), webdriver.available())
class SsrcSimulcast(unittest.TestCase):
    def test_sim_layers_and_uplink_nack(self):
        relay, demo, ctl = cc.start_demo(self)
        pub, low, high = cc.open_pages(self, demo, PUBLISHER_SETUP, cc.AUDIO_ONLY, cc.AUDIO_ONLY)
        pub_id = cc.join(self, pub, BUBBLE, "Pub", "publish")["peer"]
        low_id = cc.join(self, low, BUBBLE, "Low", "subscribe")["peer"]
        cc.prefer(self, ctl, BUBBLE, low_id, pub_id, max_height=LOW_HEIGHT)
        cc.join(self, high, BUBBLE, "High", "subscribe")

        # 1. Chromium applied the munged offer and sends both layers.
        applied = pub.call("call.pub.localDescription.sdp")
        self.assertIn("a=ssrc-group:SIM", applied)
        self.assertEqual(pub.call(SCALE), 2, "the video sender has not two encodings")
        start = time.monotonic()
        poll = lambda: cc.poll(start, pub, PUB_STATS, SUB_STATS, low=low, high=high)
        sending = lambda p: [s for s, v in (p or {}).get("ssrcs", {}).items() if v["packets"] > 0]
        p, a, b = cc.wait_for(self, poll,
                              lambda v: len(sending(v[0])) == 2 and cc.both_decode(v[1], v[2]),
                              DECODE_DEADLINE_S,
                              lambda v: "not two layers sent and both decoding: "
                              f"{v[0]} {v[1]} {v[2]}")

        # 2. One track each; the low one on the low layer, the other above.
        while True:
            self.assertEqual(a["tracks"], 1, a)
            self.assertEqual(b["tracks"], 1, b)
            if cc.at_most_half(a, b) and a["height"] <= LOW_HEIGHT:
                break
            self.assertLess(time.monotonic() - start, LAYER_DEADLINE_S,
                            f"no layer split: low {a}, high {b}")
            time.sleep(2)
            p, a, b = poll()
        log(f"layers: low subscriber {a['height']}p, high subscriber {b['height']}p")

        # 3. Uplink loss: each layer NACKed on its own SSRC, gaps filled.
        cc.drop_udp_to(self, TABLE, p["port"], cc.random_loss(LOSS_ONE_IN, rtp_only=True))
        before = relay_rtx(ctl)
        p0, a0, b0 = poll()
        time.sleep(WINDOW_S)
        p1, a1, b1 = poll()
        after = relay_rtx(ctl)
        log(f"relay rtx before {before}, after {after}")
        for ssrc, v in p1["ssrcs"].items():
            was = p0["ssrcs"].get(ssrc, {"nacks": 0})
            self.assertGreater(v["nacks"], was["nacks"],
                               f"layer SSRC {ssrc} got no NACK at 5 % loss: {p0} -> {p1}")
        self.assertGreater(after["nacks_sent"], before["nacks_sent"], (before, after))
        self.assertGreater(after["recovered"], before["recovered"], (before, after))
        for name, x0, x1 in (("low", a0, a1), ("high", b0, b1)):
            frames = x1["framesDecoded"] - x0["framesDecoded"]
            self.assertGreaterEqual(frames, MIN_FRAMES,
                                    f"the {name} subscriber decoded {frames} frames in "
                                    f"{WINDOW_S} s at 5 % uplink loss")


if __name__ == "__main__":
    webdriver.unittest_main()
