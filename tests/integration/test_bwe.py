"""A Chromium publisher's bandwidth estimate grows through the relay
(transport-cc feedback, relay/wire/tcc.h).

Chromium negotiates transport-cc with the relay and then runs its send-side
estimator (GoogCC) on the relay's transport-cc feedback alone: without it the
estimate stays at its start value (~300 kbps) and the fake camera's 640x480
is sent at 320x240 and ~10 fps with qualityLimitationReason "bandwidth".

One publishing page and one subscribing page through the demo (the demo asks
for `video: true`: the fake camera's default 640x480). The publisher's
outbound-rtp video getStats is polled: frameWidth, bitrate from bytesSent,
qualityLimitationReason and the candidate pair's availableOutgoingBitrate are
logged each poll. Passes once the stream is 640 px wide, above 350 kbps (the
fake camera's simple picture needs ~480 kbps at 640x480, whatever the
estimate), not limited by bandwidth, with an estimate
(availableOutgoingBitrate) of 500 kbps or more; fails if after 60 s it is
still limited by bandwidth at <= 320 px wide, or has not got there. The
subscriber must decode the publisher's frames meanwhile.

The estimate's bar is what tells feedback from none (~84 kbps without it),
not a speed: on a quiet machine the estimate passes 3 Mbps within seconds,
but a loaded CI machine once held it at ~900 kbps for 30 s (a 1 Mbps bar
failed there for nothing), so it is 500 kbps within a generous 60 s.

Measured (loopback, Chromium headless): without feedback 320x240 at ~10 fps,
~30 kbps, "bandwidth", estimate ~84 kbps after 14 s; with it 640x480 at
20 fps, ~480 kbps, "none", estimate ~3.7 Mbps (target 1.7 Mbps) within 4 s.

Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import time
import unittest

import webdriver

webdriver.private_netns()

import chromium_call as cc  # noqa: E402
from chromium_call import log  # noqa: E402

BUBBLE = "it-bwe"
DEADLINE_S = 60
POLL_S = 2
WANT_WIDTH = 640
WANT_KBPS = 350            # the fake camera's simple picture needs ~480 kbps at 640x480
WANT_ESTIMATE_KBPS = 500  # availableOutgoingBitrate: ~6x what it is without feedback

# The publish connection is the demo's `call.pub` (a global binding of its
# classic script). Its video outbound-rtp and selected candidate pair.
PUB_STATS = """
(async () => {
  const pc = call && call.pub;
  if (!pc) return null;
  const out = {};
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') {
      Object.assign(out, {
        bytesSent: r.bytesSent, timestamp: r.timestamp, frameWidth: r.frameWidth || 0,
        frameHeight: r.frameHeight || 0, fps: r.framesPerSecond || 0,
        reason: r.qualityLimitationReason, targetBitrate: r.targetBitrate || 0,
      });
    }
    if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded')
      out.available = r.availableOutgoingBitrate || 0;
  });
  return out;
})()
"""


@unittest.skipIf(webdriver.available(), webdriver.available())
class PublisherBandwidth(unittest.TestCase):
    def test_estimate_grows(self):
        relay, demo, ctl = cc.start_demo(self)
        pub, sub = cc.open_pages(self, demo, None, None)
        r = cc.join(self, pub, BUBBLE, "Pub")
        log(f"publisher joined: {r}")
        if not r["publish"]["ok"] and r["publish"]["reason"] == "unsupported":
            self.skipTest("the relay answers peer.publish with `unsupported`")
        self.assertTrue(r["publish"]["ok"], r)
        pub_peer = r["peer"]
        r = cc.join(self, sub, BUBBLE, "Sub")
        log(f"subscriber joined: {r}")
        self.assertTrue(r["subscribe"]["ok"], r)

        start = time.monotonic()
        prev = None
        best = {"width": 0, "kbps": 0.0}
        last = None
        while True:
            time.sleep(POLL_S)
            s = pub.call(PUB_STATS)
            elapsed = time.monotonic() - start
            if not s or "bytesSent" not in s:
                log(f"{elapsed:5.1f}s no video outbound-rtp yet: {s}")
                self.assertLess(elapsed, DEADLINE_S, "the publisher never sent video")
                continue
            kbps = 0.0
            if prev is not None and s["timestamp"] > prev["timestamp"]:
                kbps = ((s["bytesSent"] - prev["bytesSent"]) * 8 /
                        (s["timestamp"] - prev["timestamp"]))  # bytes per ms -> kbps
            prev = s
            last = dict(s, kbps=round(kbps))
            log(f"{elapsed:5.1f}s {s['frameWidth']}x{s['frameHeight']} {s['fps']} fps "
                f"{kbps:6.0f} kbps reason={s['reason']} "
                f"available={s.get('available', 0) / 1000:.0f} kbps "
                f"target={s['targetBitrate'] / 1000:.0f} kbps")
            best["width"] = max(best["width"], s["frameWidth"])
            best["kbps"] = max(best["kbps"], kbps)
            if (s["frameWidth"] >= WANT_WIDTH and kbps > WANT_KBPS and s["reason"] != "bandwidth"
                    and s.get("available", 0) >= WANT_ESTIMATE_KBPS * 1000):
                break
            if elapsed > DEADLINE_S:
                self.assertFalse(s["reason"] == "bandwidth" and s["frameWidth"] <= 320,
                                 f"after {DEADLINE_S} s the publisher is still limited by "
                                 f"bandwidth at {s['frameWidth']} px: {last}")
                self.fail(f"after {DEADLINE_S} s the publisher never reached "
                          f"{WANT_WIDTH} px, {WANT_KBPS} kbps and an estimate of "
                          f"{WANT_ESTIMATE_KBPS} kbps (best {best}): {last}")
        log(f"reached {last} in {time.monotonic() - start:.1f} s")

        # ... and the subscriber decodes it.
        deadline = time.monotonic() + 20
        while True:
            got = sub.call("window.prismDemo.stats()")["publishers"].get(pub_peer, {})
            if got.get("framesDecoded", 0) > 0:
                log(f"subscriber: {got}")
                break
            self.assertLess(time.monotonic(), deadline, f"subscriber decodes nothing: {got}")
            time.sleep(1)


if __name__ == "__main__":
    webdriver.unittest_main()
