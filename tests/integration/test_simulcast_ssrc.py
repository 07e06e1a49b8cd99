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
import subprocess
import sys
import time
import unittest

import webdriver

webdriver.private_netns()

import test_demo_page as demo_it  # noqa: E402  (its DemoServer and helpers)
from test_simulcast import SUBSCRIBER_SETUP  # noqa: E402  (audio-only subscribers)

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
SUB_STATS = """
(async () => {
  const pc = call && call.sub;
  if (!pc) return null;
  const out = {tracks: 0, height: 0, framesDecoded: 0};
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') {
      out.tracks++;
      out.height = r.frameHeight || 0;
      out.framesDecoded += r.framesDecoded || 0;
    }
  });
  return out;
})()
"""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)


def relay_rtx(ctl):
    """The relay-wide rtx counters (snapshots are at most ~1 s old)."""
    time.sleep(1.5)
    return ctl.call("stats.get")["result"]["rtx"]


@unittest.skipIf(webdriver.available(), webdriver.available())
class SsrcSimulcast(unittest.TestCase):
    def poll(self, pub, low, high, start):
        p, a, b = pub.call(PUB_STATS), low.call(SUB_STATS), high.call(SUB_STATS)
        log(f"{time.monotonic() - start:5.1f}s publisher {p} low {a} high {b}")
        return p, a, b

    def test_sim_layers_and_uplink_nack(self):
        relay, demo, ctl = demo_it.start_demo(self)
        pub = demo_it.open_page(self, demo)
        low = demo_it.open_page(self, demo)
        high = demo_it.open_page(self, demo)
        pub.call(f"(() => {{ {PUBLISHER_SETUP} }})()")
        low.call(f"(() => {{ {SUBSCRIBER_SETUP} }})()")
        high.call(f"(() => {{ {SUBSCRIBER_SETUP} }})()")
        r = pub.call("window.prismDemo.join(arguments[0], arguments[1])", BUBBLE, "Pub")
        self.assertTrue(r["publish"]["ok"], r)
        pub_id = r["peer"]
        r = low.call("window.prismDemo.join(arguments[0], arguments[1])", BUBBLE, "Low")
        self.assertTrue(r["subscribe"]["ok"], r)
        reply = ctl.call("peer.prefer", {"tenant": demo_it.TENANT, "bubble": BUBBLE,
                                         "peer": r["peer"], "publisher": pub_id,
                                         "max_height": LOW_HEIGHT})
        self.assertIn("result", reply, reply)
        r = high.call("window.prismDemo.join(arguments[0], arguments[1])", BUBBLE, "High")
        self.assertTrue(r["subscribe"]["ok"], r)

        # 1. Chromium applied the munged offer and sends both layers.
        applied = pub.call("call.pub.localDescription.sdp")
        self.assertIn("a=ssrc-group:SIM", applied)
        self.assertEqual(pub.call(SCALE), 2, "the video sender has not two encodings")
        start = time.monotonic()
        while True:
            p, a, b = self.poll(pub, low, high, start)
            sending = [s for s, v in (p or {}).get("ssrcs", {}).items() if v["packets"] > 0]
            if len(sending) == 2 and a and b and a["framesDecoded"] > 0 and \
                    b["framesDecoded"] > 0:
                break
            self.assertLess(time.monotonic() - start, DECODE_DEADLINE_S,
                            f"not two layers sent and both decoding: {p} {a} {b}")
            time.sleep(2)

        # 2. One track each; the low one on the low layer, the other above.
        while True:
            self.assertEqual(a["tracks"], 1, a)
            self.assertEqual(b["tracks"], 1, b)
            if 0 < a["height"] <= LOW_HEIGHT and b["height"] >= 2 * a["height"]:
                break
            self.assertLess(time.monotonic() - start, LAYER_DEADLINE_S,
                            f"no layer split: low {a}, high {b}")
            time.sleep(2)
            p, a, b = self.poll(pub, low, high, start)
        log(f"layers: low subscriber {a['height']}p, high subscriber {b['height']}p")

        # 3. Uplink loss: each layer NACKed on its own SSRC, gaps filled.
        sh("ip link set lo gso_max_segs 1")
        sh(f"nft add table inet {TABLE}")
        self.addCleanup(subprocess.run, f"nft delete table inet {TABLE} 2>/dev/null", shell=True)
        sh(f"nft add chain inet {TABLE} in '{{ type filter hook input priority 0; }}'")
        sh(f"nft add rule inet {TABLE} in udp dport {p['port']} @th,64,2 2 "
           f"numgen random mod {LOSS_ONE_IN} == 0 drop")
        before = relay_rtx(ctl)
        p0, a0, b0 = self.poll(pub, low, high, start)
        time.sleep(WINDOW_S)
        p1, a1, b1 = self.poll(pub, low, high, start)
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
