"""Transports that never finish (issue 9, finding 7), against a relay whose
`media.connect_timeout_ms` is 2 s:

- test_dtls_never_sent: an aiortc publisher whose ICE completes but whose
  DTLS transport never starts (no ClientHello, ever) -> its publish
  transport goes `peer.state failed` with reason `timeout: dtls`, not before
  the deadline and well within it plus slack; the transport is gone
  afterwards: a check with its credentials gets no answer from the
  worker's port (which the worker's other transports keep sharing). (Before the fix it stayed `connecting` forever.)
- test_ice_never_done: a publisher whose offer has no candidates and who
  never answers ICE -> `failed` with reason `timeout: ice`.
- test_transport_quota: `limits.max_transports` left at its default is
  derived from the port range (3 ports on one media address: 3
  transports); a 4th peer.publish/peer.subscribe of the tenant is refused
  with `quota_exceeded`, another tenant is not, and a transport that ends
  gives its slot back.

Runs under /usr/bin/python3 (Debian's python3-aiortc) as root in a private
network namespace (CI: `unshare -n`; alone: re-executed under it).
Environment: PRISM, PRISMCTL.
"""
import asyncio
import socket
import sys
import time
import unittest

import webdriver

webdriver.private_netns()

import harness  # noqa: E402
import stun  # noqa: E402

try:
    import softphone as sp  # noqa: E402
except ImportError as e:  # Debian's python3-aiortc missing: skipped (meson: 77)
    print(f"skip: aiortc unavailable ({e})", file=sys.stderr)
    sys.exit(77)

DEADLINE_S = 2.0
SLACK_S = 10.0        # scheduling noise on a loaded 2-core machine
CONNECT_TIMEOUT_S = 30


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def ports_of(sdp):
    return sorted({port for _, port in sp.candidates(sdp)})


def no_dtls(pc):
    """Lets ICE run but never starts DTLS: the relay (DTLS server) waits for
    a ClientHello that never comes."""
    async def never(*args, **kwargs):
        await asyncio.Future()
    for t in pc.getTransceivers():
        t._transport.start = never


def strip_candidates(sdp):
    return "".join(line for line in sdp.splitlines(keepends=True)
                   if not line.startswith(("a=candidate:", "a=end-of-candidates")))


class Deadlines(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = harness.Relay(
            args=["--media-ip", "127.0.0.1"],
            extra_config=f"[media]\nconnect_timeout_ms = {int(DEADLINE_S * 1000)}\n")

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def setUp(self):
        self.ctl = self.relay.unix()
        self.addCleanup(self.ctl.close)
        self.ev = sp.Events(self.relay)
        self.addCleanup(self.ev.close)

    def room(self, t):
        sp.ok(self.ctl.call("tenant.create", {"tenant": t}), "tenant.create")
        sp.ok(self.ctl.call("bubble.create", {"tenant": t, "bubble": "b"}), "bubble.create")

    def test_dtls_never_sent(self):
        sp.run(self.dtls_never_sent())

    async def dtls_never_sent(self):
        t = "nodtls"
        self.room(t)
        phone = sp.Softphone(self.ctl, t, "b", "mute")
        phone.join()
        try:
            start = time.monotonic()
            sp.ok(await phone.publish(before_offer=no_dtls), "publish")
            ports = ports_of(phone.pub_answer)
            self.assertTrue(ports, phone.pub_answer)
            ufrag = sp.sdp_value(phone.pub_answer, "ice-ufrag")
            pwd = sp.sdp_value(phone.pub_answer, "ice-pwd")
            username = f"{ufrag}:{sp.sdp_value(phone.pub_offer, 'ice-ufrag')}"
            await sp.wait_until(lambda: phone.pub.iceConnectionState == "completed",
                                CONNECT_TIMEOUT_S, "aiortc ICE completed")
            e = await self.ev.wait(sp.match("peer.state", peer="mute", transport="publish",
                                            state="failed"), DEADLINE_S + SLACK_S,
                                   "mute's publish failed")
            took = time.monotonic() - start
            log(f"mute publish: {e} after {took:.1f} s")
            self.assertEqual(e.get("reason"), "timeout: dtls", e)
            self.assertGreaterEqual(took, DEADLINE_S * 0.9)
            states = [x["state"] for x in self.ev.all(sp.match("peer.state", peer="mute"))]
            self.assertEqual(states, ["connecting", "failed"])
            # The failed transport is closed: its credentials open nothing
            # any more (the port is the worker's, shared: it stays open).
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.addCleanup(sock.close)
            sock.bind(("127.0.0.1", 0))
            msg, txid = stun.request(username, pwd.encode(), use_candidate=True)
            sock.sendto(msg, ("127.0.0.1", ports[0]))
            self.assertEqual(stun.responses(sock, {txid}, 2), {},
                             "a check for the failed transport was answered")
            self.assertIsNone(self.relay.proc.poll())
        finally:
            await phone.close()

    def test_ice_never_done(self):
        sp.run(self.ice_never_done())

    async def ice_never_done(self):
        t = "noice"
        self.room(t)
        pc = sp.new_pc()
        pc.addTransceiver(sp.ToneTrack(), direction="sendonly")
        try:
            await pc.setLocalDescription(await pc.createOffer())
            await sp.gathered(pc)
            sp.ok(self.ctl.call("peer.join", {"tenant": t, "bubble": "b", "peer": "deaf"}),
                  "peer.join")
            start = time.monotonic()
            # The answer is never applied: nobody ever answers the relay's checks.
            sp.ok(self.ctl.call("peer.publish", {"tenant": t, "bubble": "b", "peer": "deaf",
                                                 "offer": strip_candidates(
                                                     pc.localDescription.sdp)}),
                  "peer.publish")
            e = await self.ev.wait(sp.match("peer.state", peer="deaf", transport="publish",
                                            state="failed"), DEADLINE_S + SLACK_S,
                                   "deaf's publish failed")
            took = time.monotonic() - start
            log(f"deaf publish: {e} after {took:.1f} s")
            self.assertEqual(e.get("reason"), "timeout: ice", e)
            self.assertGreaterEqual(took, DEADLINE_S * 0.9)
        finally:
            await pc.close()


class TransportQuota(unittest.TestCase):
    def test_transport_quota(self):
        sp.run(self.transport_quota())

    async def transport_quota(self):
        # 3 ports on one address: the default max_transports is 3. Outside
        # the default media range and the ephemeral ports, like test_access's.
        relay = harness.Relay(args=["--media-ip", "127.0.0.1", "--media-ports", "31010-31012"])
        self.addCleanup(relay.close)
        ctl = relay.unix()
        self.addCleanup(ctl.close)
        pc = sp.new_pc()
        pc.addTransceiver(sp.ToneTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await sp.gathered(pc)
        offer = pc.localDescription.sdp
        await pc.close()

        def ids(t, p):
            return {"tenant": t, "bubble": "b", "peer": p}

        for t in ("t", "other"):
            sp.ok(ctl.call("tenant.create", {"tenant": t}), "tenant.create")
            sp.ok(ctl.call("bubble.create", {"tenant": t, "bubble": "b"}), "bubble.create")
        for p in ("p1", "p2", "p3"):
            sp.ok(ctl.call("peer.join", ids("t", p)), "peer.join")
        sp.ok(ctl.call("peer.publish", {**ids("t", "p1"), "offer": offer}), "p1 publish")
        sp.ok(ctl.call("peer.subscribe", ids("t", "p1")), "p1 subscribe")
        sp.ok(ctl.call("peer.publish", {**ids("t", "p2"), "offer": offer}), "p2 publish")
        for method, params in (("peer.subscribe", ids("t", "p2")),
                               ("peer.publish", {**ids("t", "p3"), "offer": offer})):
            reply = ctl.call(method, params)
            self.assertEqual(harness.reason(reply), "quota_exceeded", reply)
        # A transport that ends gives its slot back; the port it held too.
        sp.ok(ctl.call("peer.leave", ids("t", "p2")), "p2 leave")
        deadline = time.monotonic() + 10
        while True:
            reply = ctl.call("peer.publish", {**ids("t", "p3"), "offer": offer})
            if "result" in reply or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)  # the worker closes p2's socket asynchronously
        sp.ok(reply, "p3 publish after p2 left")
        # The tenant is full again; another tenant's quota is its own (the
        # port range is not: with every port held, it is refused by the
        # relay, `overloaded`, not by a quota).
        reply = ctl.call("peer.subscribe", ids("t", "p3"))
        self.assertEqual(harness.reason(reply), "quota_exceeded", reply)
        sp.ok(ctl.call("peer.join", ids("other", "q")), "peer.join")
        reply = ctl.call("peer.publish", {**ids("other", "q"), "offer": offer})
        self.assertNotEqual(harness.reason(reply), "quota_exceeded", reply)


if __name__ == "__main__":
    webdriver.unittest_main()
