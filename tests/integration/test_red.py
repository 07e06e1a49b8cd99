"""RED audio (issue 8, item 5): Chromium's red/48000/2 (RFC 2198 over Opus)
forwarded as RED to a subscriber that negotiated it and as plain Opus to
one that did not.

Two headless Chromium pages join through the demo (each publishes its fake
microphone and camera and subscribes); an aiortc softphone (softphone.py),
which knows no red, subscribes only. The test wants:
- the relay's publish answer lists red before Opus (libwebrtc sends RED
  only then) and each page's subscribe answer keeps red;
- each page receives the other's audio as RED and plays it (samples
  received rising, little concealed). Chromium's stats name the codec
  NetEq decodes (opus) either way, so RED shows in the size: over one
  window, a page's audio payloads are about twice what the softphone gets
  of the same publisher (RFC 2198 with one redundant block: the previous
  frame, a 4-byte and a 1-byte block header, then the frame);
- the softphone, whose answer has no red, receives both pages' audio under
  Opus's payload type only and decodes it (frames rising);
- stats.get: no no_route drop, and no malformed one while audio flows
  (a RED payload the relay cannot read would be one; the transports count
  a DTLS record or two that beat the remote description there too).

Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import asyncio
import re
import sys
import time
import unittest

import webdriver

webdriver.private_netns()

import chromium_call as cc  # noqa: E402
from chromium_call import log  # noqa: E402

try:
    import softphone as sp  # noqa: E402
    from aiortc.rtcrtpreceiver import RTCRtpReceiver  # noqa: E402
except ImportError as e:  # Debian's python3-aiortc missing: skipped (meson: 77)
    print(f"skip: aiortc unavailable ({e})", file=sys.stderr)
    sys.exit(77)

BUBBLE = "it-red"
MEDIA_TIMEOUT_S = 90

# The payload types each softphone receiver saw (softphone.py's hook keeps
# the rest, not the payload type).
_orig_handle_rtp = RTCRtpReceiver._handle_rtp_packet


async def _pt_hook(self, packet, arrival_time_ms):
    self.__dict__.setdefault("_red_pts", set()).add(packet.payload_type)
    n, total = self.__dict__.get("_red_bytes", (0, 0))
    self.__dict__["_red_bytes"] = (n + 1, total + len(packet.payload))
    return await _orig_handle_rtp(self, packet, arrival_time_ms)


RTCRtpReceiver._handle_rtp_packet = _pt_hook

# A page's received audio, per inbound-rtp stream, with its codec.
AUDIO_IN = """
(async () => {
  const pc = call && call.sub;
  if (!pc) return [];
  const stats = await pc.getStats();
  const codecs = {};
  stats.forEach((r) => { if (r.type === 'codec') codecs[r.id] = r; });
  const out = [];
  stats.forEach((r) => {
    if (r.type !== 'inbound-rtp' || r.kind !== 'audio') return;
    const c = codecs[r.codecId] || {};
    out.push({mid: r.mid, mimeType: c.mimeType || null, payloadType: c.payloadType,
              packetsReceived: r.packetsReceived || 0, packetsLost: r.packetsLost || 0,
              bytesReceived: r.bytesReceived || 0,
              totalSamplesReceived: r.totalSamplesReceived || 0,
              concealedSamples: r.concealedSamples || 0});
  });
  return out;
})()
"""


def audio_pts(sdp):
    """The payload types of the first audio m-line, in order."""
    m = re.search(r"^m=audio \d+ \S+ ([\d ]+)", sdp, re.M)
    return [int(x) for x in m.group(1).split()]


def rtpmap(sdp, name):
    """Payload types whose a=rtpmap names `name` (case-insensitive)."""
    return {int(m.group(1)) for m in
            re.finditer(r"^a=rtpmap:(\d+) " + name + r"/", sdp, re.M | re.I)}


@unittest.skipIf(webdriver.available(), webdriver.available())
class Red(unittest.TestCase):
    def test_red_negotiated_and_not(self):
        relay, demo, ctl = cc.start_demo(self)
        pages = cc.open_pages(self, demo, None, None)
        peers = [cc.join(self, page, BUBBLE, name, "publish", "subscribe")["peer"]
                 for page, name in zip(pages, ("Ann", "Bob"))]
        for page in pages:
            answer = page.call("call.pub.remoteDescription.sdp")
            red, opus = rtpmap(answer, "red"), rtpmap(answer, "opus")
            self.assertEqual(len(red), 1, answer)
            self.assertEqual(audio_pts(answer), sorted(red) + sorted(opus), answer)
            self.assertIn(f"a=fmtp:{min(red)} {min(opus)}/{min(opus)}", answer)
        sp.run(self.media(ctl, pages, peers))

    async def media(self, ctl, pages, peers):
        loop = asyncio.get_running_loop()

        async def page_call(page, expr):
            # A blocking WebDriver call, off the event loop: aiortc goes on.
            return await loop.run_in_executor(None, page.call, expr)

        async def stats():
            await asyncio.sleep(1.5)  # the worker's snapshot is at most ~1 s old
            return sp.ok(ctl.call("stats.get", {"tenant": cc.TENANT, "bubble": BUBBLE}),
                         "stats.get")

        phone = sp.Softphone(ctl, cc.TENANT, BUBBLE, "softphone-red")
        try:
            phone.join(publish=False)
            await phone.subscribe()
            self.assertIn("red/48000/2", phone.offer)  # offered red ...
            self.assertNotIn("red/48000", phone.sub.localDescription.sdp)  # ... answered without
            opus = rtpmap(phone.offer, "opus")
            for peer in peers:
                f = await sp.wait_rising(lambda: phone.frames_from(peer, "audio"),
                                         MEDIA_TIMEOUT_S, f"softphone's audio frames from {peer}",
                                         rounds=4)
                log(f"softphone <- {peer}: {f} audio frames")
            for page in pages:
                sub_answer = await page_call(page, "call.sub.localDescription.sdp")
                self.assertIn("red/48000/2", sub_answer)
            deadline = time.monotonic() + MEDIA_TIMEOUT_S
            while True:
                live = [[a for a in await page_call(p, AUDIO_IN) if a["packetsReceived"] > 50]
                        for p in pages]
                if all(len(g) == 1 for g in live):
                    break
                self.assertLess(time.monotonic(), deadline, f"the pages receive no audio: {live}")
                await asyncio.sleep(1)

            # One window, both sides at once: what each page gets of the
            # other's audio, what the softphone gets of the same publisher.
            s0 = await stats()
            before = [(await page_call(p, AUDIO_IN), self.softphone_bytes(phone)) for p in pages]
            await asyncio.sleep(4)
            after = [(await page_call(p, AUDIO_IN), self.softphone_bytes(phone)) for p in pages]
            s1 = await stats()
            for (pa, sa), (pb, sb), publisher in zip(before, after, reversed(peers)):
                a = next(x for x in pa if x["packetsReceived"] > 50)
                b = next(x for x in pb if x["mid"] == a["mid"])
                played = b["totalSamplesReceived"] - a["totalSamplesReceived"]
                concealed = b["concealedSamples"] - a["concealedSamples"]
                size = (b["bytesReceived"] - a["bytesReceived"]) / max(
                    1, b["packetsReceived"] - a["packetsReceived"])
                n = sb[publisher][0] - sa[publisher][0]
                plain = (sb[publisher][1] - sa[publisher][1]) / max(1, n)
                log(f"from {publisher}: a page played {played} samples ({concealed} concealed), "
                    f"{size:.1f} payload bytes per packet; the softphone got {n} packets of "
                    f"{plain:.1f} bytes")
                self.assertGreater(played, 48000, (a, b))  # over a second in 4 s
                self.assertLess(concealed, played / 5, (a, b))
                self.assertGreater(n, 50, (sa, sb))
                self.assertGreater(size, 1.5 * plain, (a, b, plain))
            for sec, rcv in phone.receivers().values():
                if sec["kind"] == "audio" and sec["msid"]:
                    pts = rcv.__dict__.get("_red_pts", set())
                    log(f"softphone line {sec['mid']}: payload types {pts}")
                    self.assertTrue(pts and pts <= opus, (pts, opus))
            log(f"stats: drops {s0['drops']} -> {s1['drops']}")
            self.assertEqual(s1["drops"]["malformed"], s0["drops"]["malformed"], (s0, s1))
            self.assertEqual(s1["drops"]["no_route"], 0, s1)
        finally:
            await phone.close()

    @staticmethod
    def softphone_bytes(phone):
        """{publisher: (audio packets, payload bytes)} the softphone received."""
        out = {}
        for sec, rcv in phone.receivers().values():
            if sec["kind"] == "audio" and sec["msid"]:
                out[sec["msid"][0]] = rcv.__dict__.get("_red_bytes", (0, 0))
        return out

if __name__ == "__main__":
    webdriver.unittest_main()
