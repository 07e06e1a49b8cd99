#!/usr/bin/python3
"""Join latency: time from a publisher's `peer.publish` request to the first
media at a subscriber already in the bubble (issue 3, "Measure").

Spawns its own relay (--prism, default build-perf/prism) on loopback with
`--media-ip 127.0.0.1`, creates one bubble and one aiortc subscriber in it
(subscribed, its downstream transport connected), then, JOINS times, a fresh
aiortc publisher peer (audio + video, aiortc's synthetic tracks) joins,
publishes and leaves. For each join, times from the moment the peer.publish
request is written to the control socket:

  answer   the peer.publish reply (the relay's answer SDP)
  offer    the subscriber's peer.offer event carrying the new tracks
  answered the subscriber's peer.answer reply (aiortc renegotiated)
  pub_up   the publisher's connectionState `connected` (ICE + DTLS done)
  first    the first RTP packet from that publisher at the subscriber
           (after SRTP unprotect, any kind)
  audio    the first audio RTP packet, video: the first video RTP packet
  frame    the first video frame decoded by the subscriber (VP8)

and prints every sample, then p50 and p95 of each column. aiortc's own costs
(its Python ICE checks and DTLS handshake, its offer/answer handling, VP8
encode and decode) are part of these figures: they bound what a Python
softphone sees, not what the relay alone costs.

Uses the Python standard library and Debian's python3-aiortc only. Run it in
a private network namespace holding only `lo`:

  unshare -n sh -c 'ip link set lo up; /usr/bin/python3 bench/measure_join.py'

Options: --prism BIN, --joins N (20), --workers N (relay media workers; the
relay's default when omitted), --pause S (between a leave and the next join),
--json FILE (samples and percentiles), --keep-log.

Two aiortc 1.4 quirks are worked around here (see docs/performance.md):
abs-send-time gets its own header extension id, and m-sections the relay's
offer removed (port 0) are answered with port 0.
"""
import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import aioice.ice
import aiortc.codecs
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from aiortc.rtcrtpreceiver import RTCRtpReceiver

HERE = os.path.dirname(os.path.abspath(__file__))
TENANT, BUBBLE, SUB = "bench", "join", "sub"
TIMEOUT_S = 30
COLUMNS = ["answer", "offer", "answered", "pub_up", "first", "audio", "video", "frame"]

# Loopback only: aioice would otherwise gather on every interface it finds.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

# aiortc 1.4 numbers ssrc-audio-level (audio) and abs-send-time (video) both
# 2, one id for two extensions in one BUNDLE group (RFC 8843 forbids it); the
# relay's downstream offer then drops abs-send-time for video and the
# subscriber's aiortc never surfaces a video packet. Give abs-send-time its own
# id (as /tmp/aio/aio_test.py does).
for _ext in aiortc.codecs.HEADER_EXTENSIONS["video"]:
    if "abs-send-time" in _ext.uri:
        _ext.id = 3

# First arrival (time.monotonic()) of each SSRC at any receiver: the only
# receivers in this process are the subscriber's (publishers are sendonly).
FIRST_RTP = {}
_handle_rtp = RTCRtpReceiver._handle_rtp_packet


async def _timed_handle_rtp(self, packet, arrival_time_ms):
    FIRST_RTP.setdefault(packet.ssrc, time.monotonic())
    return await _handle_rtp(self, packet, arrival_time_ms)


RTCRtpReceiver._handle_rtp_packet = _timed_handle_rtp


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Control:
    """A JSON-RPC client on the relay's Unix control socket (asyncio).
    Notifications (events) go to `events`."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.next_id = 1
        self.pending = {}
        self.events = asyncio.Queue()
        self.task = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, path):
        r, w = await asyncio.open_unix_connection(path, limit=1 << 22)
        return cls(r, w)

    async def _read(self):
        while True:
            line = await self.reader.readline()
            if not line:
                for f in self.pending.values():
                    f.set_exception(EOFError("control connection closed"))
                return
            msg = json.loads(line)
            if "id" in msg and msg["id"] in self.pending:
                self.pending.pop(msg["id"]).set_result(msg)
            elif "method" in msg:
                self.events.put_nowait(msg)

    def send(self, method, params=None):
        """Writes a request now; returns a future of its reply."""
        i = self.next_id
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[i] = fut
        msg = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            msg["params"] = params
        self.writer.write(json.dumps(msg).encode() + b"\n")
        return fut

    async def call(self, method, params=None):
        reply = await asyncio.wait_for(self.send(method, params), TIMEOUT_S)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def close(self):
        self.task.cancel()
        self.writer.close()


def start_relay(prism, workers):
    d = tempfile.mkdtemp(prefix="prism-join-")
    sock = os.path.join(d, "control.sock")
    cfg = os.path.join(d, "prism.conf")
    with open(cfg, "w") as f:
        f.write(f"[control]\nsocket = {sock}\n[log]\nfile = {d}/prism.log\n"
                f"audit_file = {d}/audit.log\nlevel = info\n")
    args = [prism, "--config", cfg, "--media-ip", "127.0.0.1"]
    if workers:
        args += ["--workers", str(workers)]
    proc = subprocess.Popen(args)
    deadline = time.monotonic() + 20
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"relay did not start (exit {proc.poll()})")
        time.sleep(0.02)
    return proc, d, sock


async def gathered(pc):
    while pc.iceGatheringState != "complete":
        await asyncio.sleep(0.005)


def sections(sdp):
    """[(kind, mid, msid stream id or None, [ssrc])] for each m-section."""
    out = []
    for block in sdp.split("\r\nm=")[1:]:
        kind = block.split(" ", 1)[0]
        mid, stream, ssrcs = None, None, []
        for line in block.split("\r\n"):
            if line.startswith("a=mid:"):
                mid = line[6:]
            elif line.startswith("a=msid:"):
                stream = line[7:].split(" ")[0]
            elif line.startswith("a=ssrc:"):
                s = int(line[7:].split(" ")[0])
                if s not in ssrcs:
                    ssrcs.append(s)
                if " msid:" in line and stream is None:
                    stream = line.split(" msid:", 1)[1].split(" ")[0]
        out.append((kind, mid, stream, ssrcs))
    return out


def reject_removed(offer, answer):
    """aiortc 1.4 answers an m-section the offer removed (port 0) with a live
    port; the relay rightly refuses that (`bad_sdp`). Sets those ports to 0."""
    removed = [block.split(" ", 2)[1] == "0" for block in offer.split("\r\nm=")[1:]]
    head, *blocks = answer.split("\r\nm=")
    for i, block in enumerate(blocks):
        if i < len(removed) and removed[i]:
            kind, _, rest = block.split(" ", 2)
            blocks[i] = f"{kind} 0 {rest}"
    return "\r\nm=".join([head, *blocks])


class Subscriber:
    """The aiortc peer already in the bubble: answers every peer.offer and
    records, per publisher, when its offer arrived and was answered, and the
    first decoded frame per video transceiver."""

    def __init__(self, ctl, ev):
        self.ctl, self.ev = ctl, ev
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.on("track", self._on_track)
        self.frame_at = {}      # mid -> first decoded frame time since clear
        self.offers = []        # (time received, time answered, sdp)
        self.changed = asyncio.Event()
        self.task = None

    def _on_track(self, track):
        if track.kind != "video":
            return
        pc = self.pc

        async def reader():
            while True:
                try:
                    await track.recv()
                except Exception:
                    return
                for t in pc.getTransceivers():
                    if t.receiver.track is track and t.mid not in self.frame_at:
                        self.frame_at[t.mid] = time.monotonic()
        asyncio.ensure_future(reader())

    async def apply(self, offer, revision):
        await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await gathered(self.pc)
        await self.ctl.call("peer.answer", {"tenant": TENANT, "bubble": BUBBLE, "peer": SUB,
                                            "answer": reject_removed(offer,
                                                                     self.pc.localDescription.sdp),
                                            "revision": revision})

    async def start(self):
        r = await self.ctl.call("peer.subscribe", {"tenant": TENANT, "bubble": BUBBLE,
                                                   "peer": SUB})
        await self.apply(r["offer"], r["revision"])
        self.task = asyncio.ensure_future(self._events())

    async def _events(self):
        while True:
            msg = await self.ev.events.get()
            p = msg.get("params", {})
            if msg.get("method") != "peer.offer" or p.get("peer") != SUB:
                continue
            got = time.monotonic()
            try:
                await self.apply(p["offer"], p["revision"])
            except Exception as e:
                log(f"subscriber: revision {p['revision']} not applied: {e!r}\n{p['offer']}")
                raise
            self.offers.append((got, time.monotonic(), p["offer"]))
            self.changed.set()


async def wait_for(pred, what, timeout=TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.002)


async def one_join(ctl, sub, n):
    """One fresh publisher: returns its sample {column: ms}."""
    peer = f"pub{n}"
    await ctl.call("peer.join", {"tenant": TENANT, "bubble": BUBBLE, "peer": peer})
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    up = {}

    @pc.on("connectionstatechange")
    def _state():
        if pc.connectionState == "connected":
            up.setdefault("t", time.monotonic())
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    await gathered(pc)          # before t0: the offer is ready when publish is sent
    sub.frame_at.clear()
    n_offers = len(sub.offers)

    t0 = time.monotonic()
    reply = await asyncio.wait_for(
        ctl.send("peer.publish", {"tenant": TENANT, "bubble": BUBBLE, "peer": peer,
                                  "offer": pc.localDescription.sdp}), TIMEOUT_S)
    t_answer = time.monotonic()
    if "error" in reply:
        raise RuntimeError(f"peer.publish: {reply['error']}")
    await pc.setRemoteDescription(RTCSessionDescription(reply["result"]["answer"], "answer"))

    # The subscriber's offer with this publisher's tracks (the first one
    # after publish that names it: an offer may be folded, PROTOCOL.md).
    mine = []

    def have_offer():
        for got, answered, sdp in sub.offers[n_offers:]:
            secs = [s for s in sections(sdp) if s[2] == peer]
            if secs:
                mine[:] = [got, answered, secs]
                return True
        return False
    await wait_for(have_offer, f"{peer}: no peer.offer naming it at the subscriber")
    t_offer, t_answered, secs = mine
    by_kind = {}
    for kind, mid, _, ssrcs in secs:
        by_kind.setdefault(kind, (mid, ssrcs))
    # Each section's first SSRC is its media stream; a second is its RTX
    # (ssrc-group FID), which a clean loopback never needs.
    ssrcs = [ss[0] for _, _, _, ss in secs if ss]
    if not ssrcs:
        raise RuntimeError(f"{peer}: the downstream offer carries no a=ssrc lines")
    vmid = by_kind["video"][0]
    try:
        await wait_for(lambda: all(s in FIRST_RTP for s in ssrcs) and vmid in sub.frame_at
                       and "t" in up, "")
    except TimeoutError:
        raise TimeoutError(f"{peer}: no media at the subscriber: offered {secs}, "
                           f"SSRCs seen {sorted(FIRST_RTP)}, frames {sub.frame_at}, "
                           f"publisher {pc.connectionState}, "
                           f"subscriber {sub.pc.connectionState}; last offer:\n"
                           f"{sub.offers[-1][2]}\nanswer:\n{sub.pc.localDescription.sdp}\n"
                           f"{await ctl.call('stats.get', {'tenant': TENANT})}") from None

    def ms(t):
        return round((t - t0) * 1000, 1)
    sample = {"answer": ms(t_answer), "offer": ms(t_offer), "answered": ms(t_answered),
              "pub_up": ms(up["t"]), "first": ms(min(FIRST_RTP[s] for s in ssrcs)),
              "audio": ms(FIRST_RTP[by_kind["audio"][1][0]]),
              "video": ms(FIRST_RTP[by_kind["video"][1][0]]),
              "frame": ms(sub.frame_at[vmid])}

    # Leave, and let the subscriber apply the offer that drops the tracks
    # before the next join.
    await pc.close()
    n_offers = len(sub.offers)
    await ctl.call("peer.leave", {"tenant": TENANT, "bubble": BUBBLE, "peer": peer})
    try:
        await wait_for(lambda: len(sub.offers) > n_offers and
                       not any(s[2] == peer for s in sections(sub.offers[-1][2])), "", 10)
    except TimeoutError:
        log(f"warning: {peer} left but the subscriber's offer still names it")
    return sample


def percentile(xs, q):
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))]


async def run(args):
    proc, d, sock = start_relay(args.prism, args.workers)
    ctl = ev = sub = None
    try:
        ctl = await Control.open(sock)
        ev = await Control.open(sock)
        await ev.call("events.subscribe", {})
        await ctl.call("tenant.create", {"tenant": TENANT})
        await ctl.call("bubble.create", {"tenant": TENANT, "bubble": BUBBLE})
        await ctl.call("peer.join", {"tenant": TENANT, "bubble": BUBBLE, "peer": SUB})
        sub = Subscriber(ctl, ev)
        await sub.start()
        await asyncio.sleep(1)
        log(f"subscriber transport before the first join: {sub.pc.connectionState}")
        samples = []
        print("join  " + "  ".join(f"{c:>8}" for c in COLUMNS) + "   (ms after peer.publish)")
        for n in range(args.joins):
            s = await one_join(ctl, sub, n)
            samples.append(s)
            print(f"{n:4d}  " + "  ".join(f"{s[c]:8.1f}" for c in COLUMNS), flush=True)
            await asyncio.sleep(args.pause)
        summary = {q: {c: percentile([s[c] for s in samples], q) for c in COLUMNS}
                   for q in (50, 95)}
        for q in (50, 95):
            print(f"p{q:<3d}  " + "  ".join(f"{summary[q][c]:8.1f}" for c in COLUMNS))
        stats = await ctl.call("stats.get", {"tenant": TENANT, "bubble": BUBBLE})
        print(f"relay bubble counters: {json.dumps(stats)}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"samples": samples, "p50": summary[50], "p95": summary[95],
                           "relay": stats}, f)
    finally:
        if sub is not None:
            if sub.task:
                sub.task.cancel()
            await sub.pc.close()
        for c in (ctl, ev):
            if c is not None:
                c.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logf = os.path.join(d, "prism.log")
        if os.path.exists(logf):
            bad = [line for line in open(logf) if '"level":"error"' in line
                   or '"level":"warn' in line]
            if bad:
                log(f"relay log: {len(bad)} warning/error lines, last ones:")
                for line in bad[-5:]:
                    log("  " + line.rstrip())
        if args.keep_log:
            log(f"relay log kept in {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prism", default=os.path.join(HERE, "..", "build-perf", "prism"))
    ap.add_argument("--joins", type=int, default=20)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--pause", type=float, default=0.5,
                    help="seconds between a leave and the next join")
    ap.add_argument("--json")
    ap.add_argument("--keep-log", action="store_true")
    args = ap.parse_args()
    args.prism = os.path.abspath(args.prism)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
