"""Renegotiation of a publish transport with a real client: Chromium
publishes through the demo, a second page subscribes, then the publisher
adds a second video track (a second fake camera track) and re-offers
through the backend's /api/publish (the relay's peer.publish) with the
same ICE credentials and certificate, as a browser adding a screen share
does; later it removes that track and re-offers again.

- test_add_and_remove_track: each re-offer keeps the publish transport
  (RFC 8829: same credentials and fingerprint, no new DTLS): the relay's
  answer carries the same ICE credentials, fingerprint, candidates and
  a=setup:passive as before; the relay reports no new `connecting` or
  `connected` for the publish transport (a new transport would, and would
  end in `timeout: dtls`: Chromium never redoes DTLS on it) and keeps its
  transport count. The added track reaches the subscriber in a new
  revision and is decoded there; after the removal the next revision
  stops it (its m-line port 0); the first video track keeps decoding at
  the subscriber throughout, with the same mid (the same line: its
  subscription and sequence space stayed).

Runs itself in a private network namespace (webdriver.private_netns()).
Environment: PRISM, PRISMCTL.
"""
import time
import unittest

import webdriver

webdriver.private_netns()

import chromium_call as cc  # noqa: E402
from chromium_call import log  # noqa: E402
from harness import Relay  # noqa: E402

NEW_TRACK_BOUND_S = 20  # generous: a loaded 2-core machine; loopback takes ~1 s
MIN_FRAMES_AFTER = 30   # ~20 fps camera, over 3 s
MAX_STALL_S = 1.5       # the first track's framesDecoded rises at least this often

# A second fake camera track, sent on a new transceiver, then the re-offer.
ADD_TRACK = "(async () => {" + cc.REOFFER_PUBLISH + """
  const stream = await navigator.mediaDevices.getUserMedia({video: true});
  const track = stream.getVideoTracks()[0];
  window.renegSender = call.pub.addTransceiver(track, {direction: 'sendonly',
                                                       streams: [stream]}).sender;
  const r = await reofferPublish();
  r.trackId = track.id;
  return r;
})()"""

# The same track removed (its transceiver goes inactive), then the re-offer.
REMOVE_TRACK = "(async () => {" + cc.REOFFER_PUBLISH + """
  const track = window.renegSender.track;
  call.pub.removeTrack(window.renegSender);
  track.stop();
  return await reofferPublish();
})()"""

# The subscribe connection: its m-sections (mid, port, msid track id,
# direction) and framesDecoded per video mid.
SUB_VIEW = """
(async () => {
  const pc = call && call.sub;
  if (!pc || !pc.remoteDescription) return null;
  const secs = ('\\r\\n' + pc.remoteDescription.sdp).split(/\\r?\\nm=/).slice(1).map((part) => ({
    kind: /^(\\w+)/.exec(part)[1],
    port: /^\\w+ (\\d+)/.exec(part)[1],
    mid: (/\\na=mid:(\\S+)/.exec(part) || [])[1] || null,
    track: (/\\na=msid:\\S+ (\\S+)/.exec(part) || [])[1] || null,
    dir: (/\\na=(sendrecv|sendonly|recvonly|inactive)\\b/.exec(part) || [])[1] || null,
  }));
  const frames = {};
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video' && r.mid) frames[r.mid] = r.framesDecoded || 0;
  });
  return {secs, frames, revision: call.revision};
})()"""


def attrs(sdp, name):
    """Every value of a=<name>: in `sdp`, in order."""
    prefix = f"a={name}:"
    return [line[len(prefix):] for line in sdp.split("\r\n") if line.startswith(prefix)]


def candidate_key(value):
    """A candidate as a comparable value: Chromium writes a description it
    was given back in its own spelling (transport upper case, no
    generation)."""
    tok = value.lower().split()
    key = tok[:8]
    if "tcptype" in tok[8:]:
        key.append(tok[tok.index("tcptype") + 1])
    return " ".join(key)


def transport_of(sdp):
    """What says which ICE and DTLS session an SDP is about."""
    return {"ufrag": set(attrs(sdp, "ice-ufrag")), "pwd": set(attrs(sdp, "ice-pwd")),
            "fingerprint": {v.lower() for v in attrs(sdp, "fingerprint")},
            "setup": set(attrs(sdp, "setup")),
            "candidates": {candidate_key(v) for v in attrs(sdp, "candidate")}}


def published_tracks(ctl, ids, peer):
    """`peer`'s tracks as bubble.info (of the bubble `ids` names) lists them."""
    info = ctl.call("bubble.info", ids)["result"]
    return [p["tracks"] for p in info["peers"] if p["peer"] == peer][0]


class Watch:
    """Samples the subscriber's view; keeps the first track's decoding
    under watch (how long it went without a new frame)."""

    def __init__(self, test, sub, mid):
        self.test, self.sub, self.mid = test, sub, mid
        self.frames, self.at, self.max_stall = None, None, 0.0
        self.view = None

    def sample(self):
        v = self.sub.call(SUB_VIEW)
        self.test.assertIsNotNone(v)
        now = time.monotonic()
        f = v["frames"].get(self.mid, 0)
        if self.frames is not None:  # since the last sample that saw it rise
            self.max_stall = max(self.max_stall, now - self.at)
        if self.frames is None or f > self.frames:
            self.frames, self.at = f, now
        self.view = v
        return v

    def section(self, track=None, mid=None):
        for s in self.view["secs"]:
            if (track is not None and s["track"] == track) or (mid is not None and s["mid"] == mid):
                return s
        return None

    def wait(self, what, cond, bound_s=NEW_TRACK_BOUND_S):
        deadline = time.monotonic() + bound_s
        while True:
            v = self.sample()
            if cond(v):
                return v
            self.test.assertLess(time.monotonic(), deadline, f"{what}: {v}")
            time.sleep(0.1)

    def run(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sample()
            time.sleep(0.1)


@unittest.skipIf(webdriver.available(), webdriver.available())
class Renegotiate(unittest.TestCase):
    maxDiff = None

    def same_transport(self, r):
        """The re-offer kept Chromium's ICE credentials and certificate, and
        the relay's answer kept its own, with its candidates and role."""
        self.assertNotIn("error", r, r)
        before, after = transport_of(r["prevOffer"]), transport_of(r["offer"])
        for key in ("ufrag", "pwd", "fingerprint"):
            self.assertEqual(after[key], before[key], f"Chromium's offer changed its {key}")
        before, after = transport_of(r["prevAnswer"]), transport_of(r["answer"])
        self.assertEqual(after, before, "the relay's answer changed its transport")
        self.assertEqual(after["setup"], {"passive"})
        self.assertTrue(after["candidates"])

    def camera_goes_on(self, watch, cam):
        """Three more seconds of the subscriber: the camera's track `cam`
        stays on its line and decodes MIN_FRAMES_AFTER frames or more."""
        f0 = watch.frames
        watch.run(3)
        self.assertEqual(watch.section(track=cam)["mid"], watch.mid, "the camera's line moved")
        self.assertGreaterEqual(watch.frames - f0, MIN_FRAMES_AFTER, watch.view)

    def test_add_and_remove_track(self):
        relay = Relay(args=["--media-ip", "127.0.0.1"])
        self.addCleanup(relay.close)
        bubble = "it-renegotiate"
        ctl, pub, sub, pub_peer, sub_peer = cc.call_in_bubble(self, relay, bubble)
        ids = {"tenant": cc.TENANT, "bubble": bubble}
        cam = pub.execute("return call.local.getVideoTracks()[0].id")
        workers0 = cc.transports_open(self, ctl, 4)
        watch = Watch(self, sub, None)
        v = watch.wait("the camera's line", lambda v: any(s["track"] == cam for s in v["secs"]))
        watch.mid = watch.section(track=cam)["mid"]
        watch.wait("the camera decoding", lambda v: v["frames"].get(watch.mid, 0) > 0)
        rev0 = v["revision"]
        watch.run(2)
        log(f"before: subscriber {watch.view}; transports per worker {workers0}")

        # A second video track.
        r = pub.call(ADD_TRACK)
        self.same_transport(r)
        added = r["trackId"]
        log(f"add: answered {r['answered'] - r['sent']} ms after the re-offer")
        # (The page sets `revision` once its answer is accepted.)
        watch.wait("the new track offered",
                   lambda v: (watch.section(track=added) or {}).get("dir") == "sendonly"
                   and v["revision"] > rev0)
        new_mid = watch.section(track=added)["mid"]
        self.assertNotEqual(new_mid, watch.mid)
        f_new = watch.wait("the new track decoded", lambda v: v["frames"].get(new_mid, 0) > 0)
        log(f"new track decoded {int(time.time() * 1000) - r['sent']} ms after the re-offer: "
            f"{f_new}")
        tracks = published_tracks(ctl, ids, pub_peer)
        self.assertEqual(len(tracks), 3, tracks)
        self.assertIn(added, [t["track"] for t in tracks])
        self.camera_goes_on(watch, cam)
        new0 = f_new["frames"][new_mid]
        self.assertGreater(watch.view["frames"].get(new_mid, 0), new0, watch.view)
        rev1 = watch.view["revision"]

        # The same track removed.
        r = pub.call(REMOVE_TRACK)
        self.same_transport(r)
        log(f"remove: answered {r['answered'] - r['sent']} ms after the re-offer")
        watch.wait("the new track's line removed",
                   lambda v: (watch.section(mid=new_mid) or {}).get("port") == "0"
                   and v["revision"] > rev1)
        tracks = published_tracks(ctl, ids, pub_peer)
        self.assertEqual(len(tracks), 2, tracks)
        self.assertNotIn(added, [t["track"] for t in tracks])
        self.camera_goes_on(watch, cam)
        log(f"after: subscriber {watch.view}; longest the camera went without a new frame at "
            f"the subscriber: {watch.max_stall:.2f} s")
        self.assertLess(watch.max_stall, MAX_STALL_S)

        # The relay: the same publish transport all along (one DTLS
        # handshake: one `connected`), and as many transports.
        events = cc.replay_events(relay)
        self.assertEqual(cc.states(events, pub_peer, "publish"),
                         ["connecting", "connected"])
        self.assertEqual(cc.states(events, sub_peer, "subscribe"),
                         ["connecting", "connected"])
        time.sleep(1.5)  # a newer load snapshot (one a second)
        workers1 = [w["transports"] for w in ctl.call("stats.get")["result"]["workers"]]
        self.assertEqual(workers1, workers0)
        self.assertEqual(pub.execute("return call.pub.connectionState"), "connected")


if __name__ == "__main__":
    webdriver.unittest_main()
