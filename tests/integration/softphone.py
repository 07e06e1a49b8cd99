"""aiortc (Debian's python3-aiortc 1.4) as a softphone against a real relay:
helpers shared by test_softphone*.py, test_media_bad_input.py and
test_consent.py.

Importing this module applies the aiortc workarounds of ../shared/CLIENTS.md
(loopback candidates, distinct header extension ids) and installs two
observation hooks on aiortc's classes, which change nothing they observe:
- every RTP packet a receiver gets (after SRTP) is recorded on the receiver
  (`receiver._prism_rx`: (ssrc, seq, timestamp, payload digest) tuples);
- every RTP packet a sender hands to its DTLS transport is recorded on that
  transport (`dtls._prism_tx`), before protection;
- on request (Softphone.record_wire), every SRTP datagram the subscribe
  connection receives, before aiortc's SRTP and its replay window.

Control calls go through harness.Client (blocking, but short); everything
that waits does so with `await`, so media keeps flowing meanwhile.
Must run under /usr/bin/python3 (Debian's aiortc).
"""
import asyncio
import fractions
import hashlib
import json
import math
import re
import threading
import time

import aioice.ice

aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

import aiortc  # noqa: E402
import aiortc.codecs  # noqa: E402
from aiortc import (RTCConfiguration, RTCPeerConnection,  # noqa: E402
                    RTCSessionDescription)
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack  # noqa: E402
from aiortc.rtcdtlstransport import RTCDtlsTransport  # noqa: E402
from aiortc.rtcrtpreceiver import RTCRtpReceiver  # noqa: E402
from aiortc.rtp import is_rtcp  # noqa: E402
from av import AudioFrame  # noqa: E402

# CLIENTS.md: aiortc gives ssrc-audio-level and abs-send-time both id 2.
for _e in aiortc.codecs.HEADER_EXTENSIONS["video"]:
    if "abs-send-time" in _e.uri:
        _e.id = 3

RX_KEEP = 20000  # packets kept per receiver (minutes of audio)


def digest(payload):
    return hashlib.blake2b(bytes(payload), digest_size=8).digest()


# --- observation hooks --------------------------------------------------------

_orig_handle_rtp = RTCRtpReceiver._handle_rtp_packet


async def _handle_rtp_hook(self, packet, arrival_time_ms):
    rx = self.__dict__.setdefault("_prism_rx", [])
    if len(rx) < RX_KEEP:
        rx.append((packet.ssrc, packet.sequence_number, packet.timestamp,
                   digest(packet.payload)))
    self.__dict__["_prism_rx_count"] = self.__dict__.get("_prism_rx_count", 0) + 1
    return await _orig_handle_rtp(self, packet, arrival_time_ms)


RTCRtpReceiver._handle_rtp_packet = _handle_rtp_hook

_orig_send_rtp = RTCDtlsTransport._send_rtp


async def _send_rtp_hook(self, data):
    await _orig_send_rtp(self, data)
    if not is_rtcp(data) and len(data) >= 12:
        tx = self.__dict__.setdefault("_prism_tx", [])
        if len(tx) < RX_KEEP:
            tx.append(rtp_key(data))
        inject = self.__dict__.get("_prism_inject")
        if inject is not None:
            await inject(self, data)


RTCDtlsTransport._send_rtp = _send_rtp_hook


def rtp_header_len(data):
    cc = data[0] & 0x0F
    n = 12 + 4 * cc
    if data[0] & 0x10 and len(data) >= n + 4:
        n += 4 + 4 * int.from_bytes(data[n + 2:n + 4], "big")
    return n


def rtp_key(data):
    """(ssrc, seq, timestamp, payload digest) of a plain RTP packet."""
    ssrc = int.from_bytes(data[8:12], "big")
    seq = int.from_bytes(data[2:4], "big")
    ts = int.from_bytes(data[4:8], "big")
    return (ssrc, seq, ts, digest(data[rtp_header_len(data):]))


# --- media sources --------------------------------------------------------------

class ToneTrack(AudioStreamTrack):
    """A sine tone at `freq` Hz (48 kHz mono, 20 ms frames): distinct
    frequencies give distinct Opus payloads. `amp` may change while it plays
    (0: silence)."""

    def __init__(self, freq=440.0, amp=8000):
        super().__init__()
        self.freq = freq
        self.amp = amp
        self.rate = 48000
        self.samples = 960
        self.n = 0
        self.start = None

    async def recv(self):
        if self.start is None:
            self.start = time.time()
        else:
            wait = self.start + self.n / self.rate - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = AudioFrame(format="s16", layout="mono", samples=self.samples)
        buf = bytearray()
        for i in range(self.samples):
            v = int(self.amp * math.sin(2 * math.pi * self.freq * (self.n + i) / self.rate))
            buf += v.to_bytes(2, "little", signed=True)
        frame.planes[0].update(bytes(buf))
        frame.pts = self.n
        frame.sample_rate = self.rate
        frame.time_base = fractions.Fraction(1, self.rate)
        self.n += self.samples
        return frame


# --- SDP ----------------------------------------------------------------------------

def sdp_sections(sdp):
    """Media sections of an SDP: dicts with kind, port, mid, direction,
    msid (stream, track) or None, ssrcs, candidates ("ip port" strings)."""
    out = []
    cur = None
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            parts = line[2:].split()
            cur = {"kind": parts[0], "port": int(parts[1]), "mid": None, "direction": None,
                   "msid": None, "ssrcs": [], "candidates": [], "lines": []}
            out.append(cur)
            continue
        if cur is None:
            continue
        cur["lines"].append(line)
        if line.startswith("a=mid:"):
            cur["mid"] = line[6:].strip()
        elif line.strip() in ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"):
            cur["direction"] = line.strip()[2:]
        elif line.startswith("a=msid:"):
            parts = line[7:].split()
            cur["msid"] = (parts[0], parts[1] if len(parts) > 1 else None)
        elif line.startswith("a=ssrc:"):
            s = int(line[7:].split()[0])
            if s not in cur["ssrcs"]:
                cur["ssrcs"].append(s)
        elif line.startswith("a=candidate:"):
            f = line[12:].split()
            if f[2].lower() == "udp":
                cur["candidates"].append((f[4], int(f[5])))
    return out


def sdp_value(sdp, attr):
    m = re.search(r"^a=" + re.escape(attr) + r":(\S+)", sdp, re.M)
    return m.group(1) if m else None


def candidates(sdp):
    """The UDP host candidates (ip, port) of an SDP, all sections."""
    seen = []
    for sec in sdp_sections(sdp):
        for c in sec["candidates"]:
            if c not in seen:
                seen.append(c)
    return seen


def sending_sections(sdp):
    """Sections of a relay offer that send a track (port != 0, not inactive)."""
    return [s for s in sdp_sections(sdp)
            if s["port"] != 0 and s["direction"] in ("sendonly", "sendrecv") and s["msid"]]


# --- events ----------------------------------------------------------------------------

class Events:
    """An events.subscribe connection read by a thread; `seen` holds every
    event (params dicts with "method" added) in arrival order."""

    def __init__(self, relay, params=None):
        self.c = relay.unix()
        reply = self.c.call("events.subscribe", params or {})
        if "result" not in reply:
            raise RuntimeError(f"events.subscribe: {reply}")
        self.c.s.settimeout(None)
        self.seen = []
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                msg = self.c.read_line()
                if "method" in msg:
                    ev = dict(msg.get("params", {}))
                    ev["method"] = msg["method"]
                    with self.lock:
                        self.seen.append(ev)
        except (OSError, EOFError, ValueError):
            self.closed = True

    def all(self, pred=lambda e: True):
        with self.lock:
            return [e for e in self.seen if pred(e)]

    async def wait(self, pred, timeout, what):
        """The first event matching `pred` (already seen or to come)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.all(pred)
            if got:
                return got[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no event {what} within {timeout} s; saw: "
                                     + json.dumps(self.all(), default=str)[-3000:])
            await asyncio.sleep(0.1)

    def close(self):
        self.c.close()


def match(method, **kw):
    def pred(e):
        return e["method"] == method and all(e.get(k) == v for k, v in kw.items())
    return pred


# --- the softphone ---------------------------------------------------------------------

def new_pc():
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def gathered(pc, timeout=30):
    deadline = time.monotonic() + timeout
    while pc.iceGatheringState != "complete":
        if time.monotonic() > deadline:
            raise AssertionError("aiortc did not finish gathering")
        await asyncio.sleep(0.05)


def ok(reply, what):
    if "result" not in reply:
        raise AssertionError(f"{what}: {reply}")
    return reply["result"]


class Softphone:
    """One peer of a bubble: an aiortc publish connection and an aiortc
    subscribe connection, driven over the control socket `ctl`."""

    def __init__(self, ctl, tenant, bubble, peer):
        self.ctl = ctl
        self.ids = {"tenant": tenant, "bubble": bubble, "peer": peer}
        self.peer = peer
        self.pub = None
        self.sub = None
        self.pub_answer = None
        self.offer = None       # the last downstream offer applied
        self.revision = None
        self.tracks = []        # local tracks published
        self.readers = []       # tasks decoding the received tracks

    def _on_track(self, track):
        track._prism_frames = 0

        async def read():
            while True:
                try:
                    await track.recv()
                except Exception:
                    return
                track._prism_frames += 1
        self.readers.append(asyncio.ensure_future(read()))

    def join(self, publish=True):
        return ok(self.ctl.call("peer.join", {**self.ids, "publish": publish}), "peer.join")

    async def publish(self, audio=True, video=False, freq=440.0, edit=None, before_offer=None):
        """Publishes a tone (and fake video); `edit(sdp)` may rewrite the offer,
        `before_offer(pc)` may touch the senders. Returns the peer.publish reply."""
        self.pub = new_pc()
        if audio:
            t = ToneTrack(freq)
            self.tracks.append(t)
            self.pub.addTransceiver(t, direction="sendonly")
        if video:
            t = VideoStreamTrack()
            self.tracks.append(t)
            self.pub.addTransceiver(t, direction="sendonly")
        if before_offer is not None:
            before_offer(self.pub)
        await self.pub.setLocalDescription(await self.pub.createOffer())
        await gathered(self.pub)
        sdp = self.pub.localDescription.sdp
        if edit is not None:
            sdp = edit(sdp)
        self.pub_offer = sdp
        reply = self.ctl.call("peer.publish", {**self.ids, "offer": sdp})
        if "result" in reply:
            self.pub_answer = reply["result"]["answer"]
            await self.pub.setRemoteDescription(
                RTCSessionDescription(self.pub_answer, "answer"))
        return reply

    async def subscribe(self):
        """peer.subscribe, then answers the offer. Returns the revision."""
        self.sub = new_pc()
        self.sub.on("track", self._on_track)
        r = ok(self.ctl.call("peer.subscribe", self.ids), "peer.subscribe")
        await self.answer_offer(r["offer"], r["revision"])
        return r["revision"]

    async def make_answer(self, offer):
        """Applies a relay offer to the subscribe connection; returns the answer SDP."""
        await self.sub.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await self.sub.setLocalDescription(await self.sub.createAnswer())
        await gathered(self.sub)
        self.offer = offer
        return reject_removed(offer, self.sub.localDescription.sdp)

    async def answer_offer(self, offer, revision):
        answer = await self.make_answer(offer)
        ok(self.ctl.call("peer.answer", {**self.ids, "answer": answer, "revision": revision}),
           f"peer.answer revision {revision}")
        self.revision = revision
        return answer

    def leave(self):
        return ok(self.ctl.call("peer.leave", self.ids), "peer.leave")

    async def close(self):
        for r in self.readers:
            r.cancel()
        for pc in (self.pub, self.sub):
            if pc is not None:
                try:
                    await asyncio.wait_for(pc.close(), 10)
                except Exception:
                    pass
        for t in self.tracks:
            t.stop()

    # --- what the subscribe connection received

    def receivers(self):
        """{mid: (section of the last offer, receiver)} of the subscribe connection."""
        secs = {s["mid"]: s for s in sdp_sections(self.offer or "")}
        out = {}
        for tr in (self.sub.getTransceivers() if self.sub else []):
            if tr.mid in secs:
                out[tr.mid] = (secs[tr.mid], tr.receiver)
        return out

    def received_from(self, publisher, kind=None):
        """RTP packets received so far on the lines carrying `publisher`'s
        tracks (by msid) in the last applied offer."""
        n = 0
        for sec, rcv in self.receivers().values():
            if sec["msid"] and sec["msid"][0] == publisher and (kind is None or sec["kind"] == kind):
                n += rcv.__dict__.get("_prism_rx_count", 0)
        return n

    def frames_from(self, publisher, kind=None):
        """Frames decoded so far from `publisher`'s tracks (by msid)."""
        n = 0
        for sec, rcv in self.receivers().values():
            if sec["msid"] and sec["msid"][0] == publisher and (kind is None or sec["kind"] == kind):
                n += getattr(rcv.track, "_prism_frames", 0) if rcv.track else 0
        return n

    def rx_packets(self):
        """Every recorded received packet of the subscribe connection, with
        its line: list of (section, (ssrc, seq, ts, digest))."""
        out = []
        for sec, rcv in self.receivers().values():
            out += [(sec, p) for p in rcv.__dict__.get("_prism_rx", [])]
        return out

    def record_wire(self):
        """Starts recording (ssrc, seq) of every SRTP datagram (not SRTCP)
        the subscribe connection's ICE transport receives, before aiortc's
        SRTP: its replay window drops a duplicate silently, so only here can
        a test see one the relay sent. Returns the list it fills."""
        wire = []
        for tr in self.sub.getTransceivers():
            ice = tr.receiver.transport.transport
            if "_prism_wire" in ice.__dict__:
                continue  # BUNDLE: one transport under every line
            ice._prism_wire = wire
            recv = ice._recv

            async def recv_hook(recv=recv):
                data = await recv()
                if len(data) >= 12 and 127 < data[0] < 192 and not is_rtcp(data):
                    wire.append((int.from_bytes(data[8:12], "big"),
                                 int.from_bytes(data[2:4], "big")))
                return data
            ice._recv = recv_hook
        return wire

    def rx_total(self):
        return sum(r.__dict__.get("_prism_rx_count", 0)
                   for _, r in self.receivers().values())

    def sent(self):
        """Keys (ssrc, seq, ts, digest) of every RTP packet the publish connection sent."""
        out = set()
        for dtls in self.pub_dtls():
            out.update(dtls.__dict__.get("_prism_tx", []))
        return out

    def pub_dtls(self):
        seen = []
        for tr in (self.pub.getTransceivers() if self.pub else []):
            d = tr.sender.transport
            if d is not None and d not in seen:
                seen.append(d)
        return seen


def stats(ctl, tenant, bubble):
    return ok(ctl.call("stats.get", {"tenant": tenant, "bubble": bubble}), "stats.get")


async def wait_until(cond, timeout, what, interval=0.25):
    """Polls `cond()` (sync) until truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_rising(get, timeout, what, rounds=2):
    """Waits until `get()` has risen `rounds` times in a row (polling every
    0.5 s); returns the last value."""
    deadline = time.monotonic() + timeout
    last = get()
    rises = 0
    while rises < rounds:
        await asyncio.sleep(0.5)
        now = get()
        if now > last:
            rises += 1
        last = now
        if rises < rounds and time.monotonic() > deadline:
            raise AssertionError(f"{what} not rising within {timeout} s (at {now})")
    return last


async def wait_counter(ctl, tenant, bubble, path, above, timeout, what):
    """Polls stats.get until the counter at `path` (e.g. ("drops", "srtp_auth"))
    is above `above`; returns the stats."""
    def get():
        s = stats(ctl, tenant, bubble)
        v = s
        for k in path:
            v = v[k]
        return s if v > above else None
    return await wait_until(get, timeout, f"{what}: {'.'.join(path)} > {above}", 0.5)


def counter(s, *path):
    v = s
    for k in path:
        v = v[k]
    return v


def run(coro):
    """Runs one test coroutine on a fresh loop."""
    return asyncio.run(coro)


def reject_removed(offer, answer):
    """aiortc 1.4 answers an m-line the offer removed (port 0) with a real
    port, against JSEP 5.3.1; the relay rightly refuses that (`bad_sdp`).
    Sets those answer m-lines' ports to 0 and takes them out of the BUNDLE
    group, as a conforming client would."""
    secs = sdp_sections(offer)
    ports = [s["port"] for s in secs]
    rejected = {s["mid"] for s in secs if s["port"] == 0}
    lines = answer.split("\r\n")
    i = 0
    for k, line in enumerate(lines):
        if line.startswith("m="):
            if i < len(ports) and ports[i] == 0:
                f = line.split(" ")
                f[1] = "0"
                lines[k] = " ".join(f)
            i += 1
        elif line.startswith("a=group:BUNDLE "):
            # ... and keeps rejected mids in its BUNDLE group (RFC 8843 7.3.3).
            mids = [m for m in line.split(" ")[1:] if m not in rejected]
            lines[k] = " ".join(["a=group:BUNDLE"] + mids)
    return "\r\n".join(lines)
