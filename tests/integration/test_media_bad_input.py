"""Bad input on the media plane (issue 3, "Bad input"), each while a good
two-party aiortc call (alice <-> bob, both publishing a tone and
subscribing) runs in the same relay: the call must keep flowing (each side's
received packets keep rising, no transport fails) and the right stats.get
drop counter must rise (workers snapshot counters once a second: polled).

- test_garbage_udp: datagrams of every RFC 7983 class (STUN-range,
  DTLS-range, RTP-range, others; 1 to 1200 bytes) to every media port of the
  call (from the SDP candidates: with one worker, one port for every
  transport). From an unknown address the worker's media socket drops
  whatever is not STUN before any transport sees it: no counter of the
  call's moves (the relay-wide `unknown_source` does; test_ice_lite). From the
  selected pair's own address (sent through alice's aiortc ICE socket):
  non-media first bytes count as `not_srtp`, a 1-byte RTP-range datagram as
  `malformed` (exact counts); DTLS-range garbage on a connected transport is discarded by
  the DTLS session (no counter) and must not fail the transport.
- test_stun_wrong_credentials: hand-built RFC 5389 binding requests
  (USERNAME + MESSAGE-INTEGRITY under a wrong key + FINGERPRINT, the right
  and a wrong ufrag; and one without MESSAGE-INTEGRITY) to the call's ports:
  never a success response (libnice may answer an error). A control request
  with the right key, to a spare transport, does get a success response, so
  the probe is not vacuous.
- test_wrong_fingerprint: a third aiortc publisher whose offer's
  a=fingerprint is changed -> its publish transport goes `failed` with a
  reason naming the fingerprint (peer.state); its track, offered to alice,
  never delivers a packet.
- test_replayed_srtp: alice's publisher re-sends byte-identical copies of
  SRTP datagrams it just sent -> `srtp_replay` rises by exactly the copies;
  bob never gets a duplicate packet (counted at his socket, before aiortc's
  SRTP replay window, and after it by payload).
- test_plain_rtp: alice's publisher sends unprotected RTP (ahead in
  sequence, so it is not a replay) and plain RTCP on its selected pair ->
  `srtp_auth` rises (after the handshake plain RTP is an SRTP packet whose
  tag does not verify); bob never gets the plain payload.
- test_tenant_ssrc_forgery: tenant B has a bubble and peers with the same
  names as tenant A's, and its publisher really sends with A's publisher's
  SSRCs (set on aiortc's sender before the offer, so the SDP's a=ssrc lines
  carry them too): each tenant's subscriber receives only its own
  publisher's packets (payloads matched against what each publisher sent)
  under the msid of its own bubble's publisher.

The relay runs one worker, so both tenants' bubbles share the worker's
tables (the harder case for isolation).
Runs under /usr/bin/python3 (Debian's python3-aiortc) as root in a private
network namespace (CI: `unshare -n`; alone: re-executed under it).
Environment: PRISM, PRISMCTL.
"""
import asyncio
import binascii
import collections
import hashlib
import hmac
import os
import socket
import struct
import sys
import time
import unittest

import webdriver

webdriver.private_netns()

from harness import Relay  # noqa: E402
try:
    import softphone as sp  # noqa: E402
except ImportError as e:  # Debian's python3-aiortc missing: skipped (meson: 77)
    print(f"skip: aiortc unavailable ({e})", file=sys.stderr)
    sys.exit(77)

MEDIA_TIMEOUT_S = 60
STATE_TIMEOUT_S = 45
COUNTER_TIMEOUT_S = 30
SETTLE_S = 3  # > the workers' 1 s snapshot period, with margin


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --- STUN (RFC 5389) by hand ------------------------------------------------------

MAGIC = 0x2112A442


def stun_attr(t, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", t, len(value)) + value + b"\0" * pad


def stun_request(username, key, integrity=True, controlling=True):
    """A binding request: USERNAME, PRIORITY, ICE-CONTROLL(ED|ING),
    MESSAGE-INTEGRITY (HMAC-SHA1 under `key`), FINGERPRINT. Returns
    (bytes, transaction id)."""
    txid = os.urandom(12)
    attrs = stun_attr(0x0006, username.encode())
    attrs += stun_attr(0x0024, struct.pack("!I", 1853824767))
    attrs += stun_attr(0x802A if controlling else 0x8029, os.urandom(8))

    def header(length):
        return struct.pack("!HHI", 0x0001, length, MAGIC) + txid
    msg = attrs
    if integrity:
        # The length covers MESSAGE-INTEGRITY itself (RFC 5389 15.4).
        mac = hmac.new(key, header(len(msg) + 24) + msg, hashlib.sha1).digest()
        msg += stun_attr(0x0008, mac)
    crc = binascii.crc32(header(len(msg) + 8) + msg) ^ 0x5354554E
    msg += stun_attr(0x8028, struct.pack("!I", crc & 0xFFFFFFFF))
    return header(len(msg)) + msg, txid


def stun_responses(sock, txids, seconds):
    """{txid: message type} of responses received within `seconds`."""
    got = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, _ = sock.recvfrom(2048)
        except (socket.timeout, BlockingIOError):
            break
        if len(data) >= 20 and data[8:20] in txids:
            got[data[8:20]] = struct.unpack("!H", data[:2])[0]
    return got


def flip_fingerprint(sdp):
    """The offer with a=fingerprint's first byte changed (still well formed)."""
    out = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=fingerprint:"):
            algo, value = line[len("a=fingerprint:"):].split(" ", 1)
            first = int(value[:2], 16) ^ 0xFF
            line = f"a=fingerprint:{algo} {first:02X}{value[2:]}"
        out.append(line)
    return "\r\n".join(out)


def fingerprint(sdp):
    return [line for line in sdp.split("\r\n") if line.startswith("a=fingerprint:")]


class Call:
    """A two-party aiortc call in its own tenant and bubble."""

    def __init__(self, test, tenant, bubble="room", names=("alice", "bob"),
                 freqs=(440.0, 660.0)):
        self.test = test
        self.ctl = test.ctl
        self.tenant, self.bubble = tenant, bubble
        sp.ok(self.ctl.call("tenant.create", {"tenant": tenant}), "tenant.create")
        sp.ok(self.ctl.call("bubble.create", {"tenant": tenant, "bubble": bubble}),
              "bubble.create")
        self.a = sp.Softphone(self.ctl, tenant, bubble, names[0])
        self.b = sp.Softphone(self.ctl, tenant, bubble, names[1])
        self.freqs = freqs

    async def start(self, before_offer_a=None):
        for p in (self.a, self.b):
            p.join()
        sp.ok(await self.a.publish(freq=self.freqs[0], before_offer=before_offer_a),
              "publish a")
        sp.ok(await self.b.publish(freq=self.freqs[1]), "publish b")
        await self.a.subscribe()
        await self.b.subscribe()
        await self.flowing()

    async def flowing(self, rounds=3):
        """Both directions' received packets keep rising."""
        for me, other in ((self.a, self.b), (self.b, self.a)):
            await sp.wait_rising(lambda: me.received_from(other.peer), MEDIA_TIMEOUT_S,
                                 f"{self.tenant}: {me.peer}'s packets from {other.peer}",
                                 rounds=rounds)

    def stats(self):
        return sp.stats(self.ctl, self.tenant, self.bubble)

    async def settled_stats(self):
        await asyncio.sleep(SETTLE_S)
        return self.stats()

    def ports(self):
        """The relay's media ports of this call: (ip, port) from the publish
        answers and the downstream offers."""
        out = []
        for p in (self.a, self.b):
            for sdp in (p.pub_answer, p.offer):
                for c in sp.candidates(sdp):
                    if c not in out:
                        out.append(c)
        return out

    async def close(self):
        for p in (self.a, self.b):
            await p.close()


def ice_connection(phone):
    """aioice's Connection under the phone's publish transport."""
    return phone.pub_dtls()[0].transport._connection


class BadInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(args=["--media-ip", "127.0.0.1"], workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def setUp(self):
        self.ctl = self.relay.unix()
        self.addCleanup(self.ctl.close)
        self.calls = []

    async def new_call(self, tenant, **kw):
        call = Call(self, tenant, **kw)
        self.calls.append(call)
        await call.start()
        return call

    async def finish(self, ev):
        """The calls are still up: media keeps flowing, nothing failed, the
        relay runs."""
        for call in self.calls:
            await call.flowing()
            failed = ev.all(lambda e: e["method"] == "peer.state" and e["tenant"] == call.tenant
                            and e["state"] in ("failed", "closed"))
            self.assertEqual(failed, [], f"{call.tenant}: a transport of the call ended")
        self.assertIsNone(self.relay.proc.poll(), "the relay exited")
        sp.ok(self.ctl.call("relay.info"), "relay.info")

    async def cleanup(self):
        for call in self.calls:
            await call.close()

    def events(self):
        ev = sp.Events(self.relay)
        self.addCleanup(ev.close)
        return ev

    # --- garbage ------------------------------------------------------------------

    def test_garbage_udp(self):
        sp.run(self.garbage_udp())

    async def garbage_udp(self):
        ev = self.events()
        try:
            call = await self.new_call("bad-garbage")
            ports = call.ports()
            # 2 peers x publish + subscribe, all on the one worker's port.
            self.assertEqual(len(ports), 1, ports)

            # 1. From an unknown address, to every port.
            before = await call.settled_stats()
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.addCleanup(sock.close)
            sent = 0
            for first in (0x00, 0x01, 0x17, 0x16, 0x40, 0x80, 0x90, 0xC8, 0xFF):
                for size in (1, 2, 12, 20, 100, 1200):
                    for addr in ports:
                        sock.sendto(bytes([first]) + os.urandom(size - 1), addr)
                        sent += 1
            for _ in range(50):
                for addr in ports:
                    sock.sendto(os.urandom(300), addr)
                    sent += 1
            after = await call.settled_stats()
            log(f"garbage from an unknown address ({sent} datagrams): "
                f"drops {before['drops']} -> {after['drops']}")
            # The media socket drops non-STUN from unknown sources: nothing
            # reaches a transport's ingress, so no drop counter of the call
            # moves.
            for why in ("not_srtp", "srtp_auth", "srtp_replay", "malformed"):
                self.assertEqual(after["drops"][why], before["drops"][why], (before, after))
            await call.flowing()

            # 2. From alice's selected pair (her aiortc socket) to her
            # publish transport: the relay's ingress sees it.
            conn = ice_connection(call.a)
            before = await call.settled_stats()
            n_other = 0
            for first in (0x40, 0x7F, 0xC0, 0xFF):
                for size in (1, 20, 200):
                    await conn.sendto(bytes([first]) + os.urandom(size - 1), 1)
                    n_other += 1
            for _ in range(5):
                await conn.sendto(b"\x80", 1)               # RTP range, 1 byte
            for size in (13, 40, 300):                     # DTLS-range records
                await conn.sendto(bytes([0x17, 0xFE, 0xFD]) + os.urandom(size - 3), 1)
                await conn.sendto(bytes([0x16, 0xFE, 0xFD]) + os.urandom(size - 3), 1)
            s = await sp.wait_counter(self.ctl, call.tenant, call.bubble, ("drops", "not_srtp"),
                                      before["drops"]["not_srtp"] + n_other - 1,
                                      COUNTER_TIMEOUT_S, "garbage on the selected pair")
            s = await sp.wait_counter(self.ctl, call.tenant, call.bubble, ("drops", "malformed"),
                                      before["drops"]["malformed"] + 5 - 1, COUNTER_TIMEOUT_S,
                                      "1-byte RTP-range datagrams")
            # Exact, once settled: each datagram counted once, under its reason.
            s = await call.settled_stats()
            self.assertEqual(s["drops"]["not_srtp"] - before["drops"]["not_srtp"], n_other, s)
            self.assertEqual(s["drops"]["malformed"] - before["drops"]["malformed"], 5, s)
            log(f"garbage on the selected pair ({n_other} non-media, 5 one-byte, 6 DTLS-range): "
                f"drops {before['drops']} -> {s['drops']}")
            await self.finish(ev)
        finally:
            await self.cleanup()

    # --- STUN -----------------------------------------------------------------------

    def test_stun_wrong_credentials(self):
        sp.run(self.stun_wrong_credentials())

    async def stun_wrong_credentials(self):
        ev = self.events()
        try:
            call = await self.new_call("bad-stun")
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            self.addCleanup(sock.close)
            targets = []  # (addr, relay ufrag, client ufrag, relay pwd, relay controlling)
            for p in (call.a, call.b):
                targets.append((sp.candidates(p.pub_answer)[0], sp.sdp_value(p.pub_answer, "ice-ufrag"),
                                sp.sdp_value(p.pub_offer, "ice-ufrag"),
                                sp.sdp_value(p.pub_answer, "ice-pwd"), False))
                targets.append((sp.candidates(p.offer)[0], sp.sdp_value(p.offer, "ice-ufrag"),
                                p.sub.localDescription and
                                sp.sdp_value(p.sub.localDescription.sdp, "ice-ufrag"),
                                sp.sdp_value(p.offer, "ice-pwd"), True))
            txids = set()
            for addr, rufrag, cufrag, rpwd, relay_controlling in targets:
                for username, key, integrity in (
                        (f"{rufrag}:{cufrag}", b"not-the-password-at-all", True),
                        (f"{rufrag}:{cufrag}", rpwd.encode()[::-1], True),
                        (f"{rufrag}:{cufrag}", b"", False),
                        (f"wrong:{cufrag}", rpwd.encode(), True),
                        (f"{cufrag}:{rufrag}", rpwd.encode(), True)):
                    for _ in range(3):
                        msg, txid = stun_request(username, key, integrity,
                                                 controlling=not relay_controlling)
                        txids.add(txid)
                        sock.sendto(msg, addr)
            got = stun_responses(sock, txids, 3)
            log(f"{len(txids)} bad binding requests: responses "
                f"{sorted({hex(t) for t in got.values()})} ({len(got)})")
            self.assertNotIn(0x0101, got.values(), "a success response to wrong credentials")

            # Control: the right key gets a success, from a spare transport.
            spare = sp.Softphone(self.ctl, call.tenant, call.bubble, "spare")
            spare.join(publish=True)
            try:
                sp.ok(await spare.publish(freq=880), "spare publish")
                ans = spare.pub_answer
                msg, txid = stun_request(
                    f"{sp.sdp_value(ans, 'ice-ufrag')}:{sp.sdp_value(spare.pub_offer, 'ice-ufrag')}",
                    sp.sdp_value(ans, "ice-pwd").encode(), True, controlling=True)
                sock.sendto(msg, sp.candidates(ans)[0])
                ctrl = stun_responses(sock, {txid}, 3)
                log(f"control request with the right key: {ctrl}")
                self.assertEqual(ctrl.get(txid), 0x0101, "no success for the right key: "
                                 "the probe would prove nothing")
            finally:
                await spare.close()
            await self.finish_except(ev, "spare")
        finally:
            await self.cleanup()

    async def finish_except(self, ev, skip_peer):
        for call in self.calls:
            await call.flowing()
            failed = ev.all(lambda e: e["method"] == "peer.state" and e["tenant"] == call.tenant
                            and e["peer"] != skip_peer and e["state"] in ("failed", "closed"))
            self.assertEqual(failed, [], f"{call.tenant}: a transport of the call ended")
        self.assertIsNone(self.relay.proc.poll(), "the relay exited")

    # --- DTLS -------------------------------------------------------------------------

    def test_wrong_fingerprint(self):
        sp.run(self.wrong_fingerprint())

    async def wrong_fingerprint(self):
        ev = self.events()
        try:
            call = await self.new_call("bad-dtls")
            mallory = sp.Softphone(self.ctl, call.tenant, call.bubble, "mallory")
            mallory.join()
            try:
                reply = await mallory.publish(freq=990, edit=flip_fingerprint)
                self.assertNotEqual(fingerprint(mallory.pub_offer),
                                    fingerprint(mallory.pub.localDescription.sdp))
                sp.ok(reply, "mallory publish")  # the relay cannot know before DTLS
                e = await ev.wait(sp.match("peer.state", tenant=call.tenant, peer="mallory",
                                           transport="publish", state="failed"),
                                  STATE_TIMEOUT_S, "mallory's publish transport failed")
                log(f"mallory: {e}")
                self.assertIn("fingerprint", e.get("reason", ""), e)
                self.assertNotIn("connected", [x["state"] for x in ev.all(
                    sp.match("peer.state", tenant=call.tenant, peer="mallory"))])
                # alice is offered mallory's track; it never carries a packet.
                o = await ev.wait(lambda x: x["method"] == "peer.offer" and x["peer"] == "alice"
                                  and x["tenant"] == call.tenant and "msid:mallory" in x["offer"],
                                  STATE_TIMEOUT_S, "alice's offer with mallory's track")
                await call.a.answer_offer(o["offer"], o["revision"])
                await call.flowing(rounds=6)
                self.assertEqual(call.a.received_from("mallory"), 0)
                log(f"mallory's aiortc: {mallory.pub.connectionState}, "
                    f"{len(mallory.sent())} RTP packets sent")
            finally:
                await mallory.close()
            await self.finish_except(ev, "mallory")
        finally:
            await self.cleanup()

    # --- SRTP replays, plain RTP ---------------------------------------------------------

    def test_replayed_srtp(self):
        sp.run(self.replayed_srtp())

    async def replayed_srtp(self):
        ev = self.events()
        try:
            call = await self.new_call("bad-replay")
            dtls = call.a.pub_dtls()[0]
            wire = call.b.record_wire()
            before = await call.settled_stats()
            replays = {"n": 0}

            async def replay(d, data):
                # Same key, same index: byte-identical SRTP (aiortc allows
                # repeated protection).
                if replays["n"] < 100 and int.from_bytes(data[2:4], "big") % 3 == 0:
                    again = d._tx_srtp.protect(data)
                    await d.transport._send(again)
                    await d.transport._send(again)
                    replays["n"] += 2
            dtls._prism_inject = replay
            await sp.wait_until(lambda: replays["n"] >= 100, MEDIA_TIMEOUT_S, "100 replays sent")
            dtls._prism_inject = None
            s = await sp.wait_counter(self.ctl, call.tenant, call.bubble, ("drops", "srtp_replay"),
                                      before["drops"]["srtp_replay"], COUNTER_TIMEOUT_S,
                                      "replayed SRTP")
            s = await call.settled_stats()
            log(f"{replays['n']} replayed SRTP datagrams: drops {before['drops']} -> {s['drops']}")
            # Each copy is a replay of a packet the relay already took.
            self.assertEqual(s["drops"]["srtp_replay"] - before["drops"]["srtp_replay"],
                             replays["n"], s)
            # bob got every packet once: counted at his socket, where a
            # duplicate the relay sent would show (aiortc's own SRTP replay
            # window would drop it before rx_packets), ...
            alice = {ssrc for sec, rcv in call.b.receivers().values()
                     if sec["msid"] and sec["msid"][0] == call.a.peer for ssrc in sec["ssrcs"]}
            from_alice = [k for k in wire if k[0] in alice]
            log(f"bob's socket: {len(wire)} SRTP datagrams, {len(from_alice)} of alice's")
            self.assertGreater(len(from_alice), replays["n"] // 2, "the probe saw nothing")
            dups = [k for k, n in collections.Counter(wire).items() if n > 1]
            self.assertEqual(dups, [], "the relay sent bob a duplicate (ssrc, seq)")
            # ... and after SRTP, as payloads: a duplicate under a new
            # sequence number would pass both checks above.
            keys = [(pkt[0], pkt[2], pkt[3]) for sec, pkt in call.b.rx_packets()
                    if sec["msid"] and sec["msid"][0] == call.a.peer]
            self.assertEqual(len(keys), len(set(keys)), "bob received a duplicate")
            await self.finish(ev)
        finally:
            await self.cleanup()

    def test_plain_rtp(self):
        sp.run(self.plain_rtp())

    async def plain_rtp(self):
        ev = self.events()
        try:
            call = await self.new_call("bad-plain")
            dtls = call.a.pub_dtls()[0]
            before = await call.settled_stats()
            marker = b"PLAIN-RTP-NOT-PROTECTED!" * 4
            plain = {"rtp": 0, "rtcp": 0}

            async def inject(d, data):
                if plain["rtp"] >= 50:
                    return
                hl = sp.rtp_header_len(data)
                seq = (int.from_bytes(data[2:4], "big") + 500) % 65536
                pkt = bytearray(data[:hl]) + marker
                pkt[2:4] = seq.to_bytes(2, "big")
                await d.transport._send(bytes(pkt))
                plain["rtp"] += 1
                if plain["rtp"] % 10 == 0:
                    # A plain receiver report (RTCP RR, no blocks).
                    await d.transport._send(b"\x80\xc9\x00\x01" + data[8:12])
                    plain["rtcp"] += 1
            dtls._prism_inject = inject
            await sp.wait_until(lambda: plain["rtp"] >= 50, MEDIA_TIMEOUT_S, "50 plain RTP sent")
            dtls._prism_inject = None
            await sp.wait_counter(self.ctl, call.tenant, call.bubble, ("drops", "srtp_auth"),
                                  before["drops"]["srtp_auth"], COUNTER_TIMEOUT_S, "plain RTP")
            s = await call.settled_stats()
            log(f"{plain['rtp']} plain RTP + {plain['rtcp']} plain RTCP: "
                f"drops {before['drops']} -> {s['drops']}")
            d = {k: s["drops"][k] - before["drops"][k] for k in s["drops"]}
            self.assertGreaterEqual(d["srtp_auth"] + d["malformed"] + d["not_srtp"],
                                    plain["rtp"] + plain["rtcp"], d)
            self.assertGreaterEqual(d["srtp_auth"], plain["rtp"], d)
            digests = {pkt[3] for _, pkt in call.b.rx_packets()}
            self.assertNotIn(sp.digest(marker), digests, "bob received the plain RTP payload")
            await self.finish(ev)
        finally:
            await self.cleanup()

    # --- tenants ----------------------------------------------------------------------------

    def test_tenant_ssrc_forgery(self):
        sp.run(self.tenant_ssrc_forgery())

    async def tenant_ssrc_forgery(self):
        ev = self.events()
        try:
            a = await self.new_call("tenant-a", freqs=(440.0, 660.0))
            a_senders = [tr.sender for tr in a.a.pub.getTransceivers()]
            ssrcs = [(s._ssrc, s._rtx_ssrc) for s in a_senders]

            def forge(pc):
                for tr, (ssrc, rtx) in zip(pc.getTransceivers(), ssrcs):
                    tr.sender._ssrc = ssrc
                    tr.sender._rtx_ssrc = rtx
            # Same bubble and peer names in tenant B; B's alice sends with A's SSRCs.
            b = Call(self, "tenant-b", freqs=(550.0, 770.0))
            self.calls.append(b)
            await b.start(before_offer_a=forge)
            a_ssrc = sp.sdp_sections(a.a.pub_offer)[0]["ssrcs"]
            self.assertEqual(sp.sdp_sections(b.a.pub_offer)[0]["ssrcs"], a_ssrc)
            self.assertEqual({k[0] for k in b.a.sent()}, {ssrcs[0][0]},
                             "tenant B's publisher does not really send A's SSRC")
            await asyncio.sleep(4)
            await self.finish(ev)

            for mine, theirs in ((a, b), (b, a)):
                sub, pub, other = mine.b, mine.a, theirs.a
                sent_mine = {k[3] for k in pub.sent()}
                sent_other = {k[3] for k in other.sent()} - sent_mine
                got = [(sec, pkt) for sec, pkt in sub.rx_packets()]
                self.assertTrue(got)
                for sec, (ssrc, seq, ts, dig) in got:
                    self.assertEqual(sec["msid"], (pub.peer, sp.sdp_sections(pub.pub_offer)[0]
                                                   ["msid"][1]), sec)
                    self.assertIn(ssrc, sec["ssrcs"], sec)
                    self.assertNotIn(dig, sent_other,
                                     f"{mine.tenant}'s {sub.peer} got {theirs.tenant}'s media")
                    self.assertIn(dig, sent_mine)
                self.assertLessEqual(len(got), len(pub.sent()))
                log(f"{mine.tenant}: {sub.peer} received {len(got)} packets, all from its own "
                    f"{pub.peer} ({len(pub.sent())} sent); {theirs.tenant} sent {len(other.sent())}")
                # Its offer names only its own bubble's publisher.
                self.assertEqual([s["msid"] for s in sp.sending_sections(sub.offer)],
                                 [(pub.peer, sp.sdp_sections(pub.pub_offer)[0]["msid"][1])])
            for call in (a, b):
                log(f"{call.tenant}: {call.stats()}")
        finally:
            await self.cleanup()


if __name__ == "__main__":
    webdriver.unittest_main()
