"""The relay's ICE-lite media ports (issue 10, items 1-2; issue 9, finding 8),
probed from outside any ICE stack with hand-built STUN (stun.py), against a
relay with 2 workers on 127.0.0.1:

- test_one_port_per_worker: every SDP the relay writes says a=ice-lite; the
  transports of one bubble (both peers, publish and subscribe) share one
  candidate port, a bubble on the other worker has the other worker's port.
- test_unauthenticated_is_silent: to a worker's port, from an address no
  check has validated: non-STUN garbage of every RFC 7983 class, a Binding
  request without credentials (what a reflection or port scan sends), one
  under a wrong key, one naming an unknown ufrag, one naming the wrong
  peer ufrag, and STUN-range garbage. Nothing at all comes back, and the
  relay-wide drops `unknown_source` and `stun_auth` rise by exactly what
  was sent (a tenant's and a bubble's stay 0). Then a check under the right
  key gets a success response from that same port (the probe is not
  vacuous), and a datagram from the address it validated is no longer an
  unknown source.
"""
import os
import socket
import time
import unittest

import stun
from harness import Relay
from test_privacy import OFFER

COUNTER_TIMEOUT_S = 10


def sdp_value(sdp, name):
    for line in sdp.split("\r\n"):
        if line.startswith(f"a={name}:"):
            return line.split(":", 1)[1]
    return None


def ports(sdp):
    return {int(line.split()[5]) for line in sdp.split("\r\n")
            if line.startswith("a=candidate:")}


class IceLite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(args=["--media-ip", "127.0.0.1"], workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def setUp(self):
        self.c = self.relay.unix()
        self.addCleanup(self.c.close)

    def call(self, method, params):
        reply = self.c.call(method, params)
        self.assertIn("result", reply, reply)
        return reply["result"]

    def peer(self, tenant, bubble, peer):
        ids = {"tenant": tenant, "bubble": bubble, "peer": peer}
        self.call("peer.join", ids)
        answer = self.call("peer.publish", {**ids, "offer": OFFER})["answer"]
        offer = self.call("peer.subscribe", ids)["offer"]
        return answer, offer

    def test_one_port_per_worker(self):
        self.call("tenant.create", {"tenant": "ports"})
        by_bubble = {}
        for bubble in ("b1", "b2"):
            self.call("bubble.create", {"tenant": "ports", "bubble": bubble})
            sdps = [s for p in ("p1", "p2") for s in self.peer("ports", bubble, p)]
            for sdp in sdps:
                self.assertIn("\r\na=ice-lite\r\n", sdp)
            found = set().union(*(ports(s) for s in sdps))
            self.assertEqual(len(found), 1, f"{bubble}: {found}")
            by_bubble[bubble] = found.pop()
        # Bubbles go to the least loaded worker: one each, each its port.
        self.assertNotEqual(by_bubble["b1"], by_bubble["b2"], by_bubble)

    def drops(self, scope=None):
        return self.call("stats.get", scope or {})["drops"]

    def wait_drops(self, want):
        deadline = time.monotonic() + COUNTER_TIMEOUT_S
        while True:
            got = self.drops()
            if all(got[k] >= v for k, v in want.items()) or time.monotonic() > deadline:
                return got
            time.sleep(0.2)

    def test_unauthenticated_is_silent(self):
        self.call("tenant.create", {"tenant": "probe"})
        self.call("bubble.create", {"tenant": "probe", "bubble": "b"})
        answer, _ = self.peer("probe", "b", "p")
        port = ports(answer).pop()
        ufrag, pwd = sdp_value(answer, "ice-ufrag"), sdp_value(answer, "ice-pwd")
        theirs = sdp_value(OFFER, "ice-ufrag")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        to = ("127.0.0.1", port)
        before = self.wait_drops({})

        n_other = 0
        for first in (0x14, 0x17, 0x3F, 0x40, 0x7F, 0x80, 0x90, 0xC8, 0xFF):
            for size in (1, 2, 20, 200, 1200):
                sock.sendto(bytes([first]) + os.urandom(size - 1), to)
                n_other += 1
        n_stun = 0
        for username, key, integrity in ((f"{ufrag}:{theirs}", b"", False),
                                         (f"{ufrag}:{theirs}", b"not-the-password", True),
                                         (f"nobody12:{theirs}", pwd.encode(), True),
                                         (f"{ufrag}:someoneelse", pwd.encode(), True)):
            for _ in range(3):
                sock.sendto(stun.request(username, key, integrity)[0], to)
                n_stun += 1
        for first in (0x00, 0x01, 0x02, 0x03):
            sock.sendto(bytes([first]) + os.urandom(40), to)
            n_stun += 1
        got = stun.received(sock, 2)
        self.assertEqual(got, [], "the relay answered an unauthenticated datagram")
        after = self.wait_drops({"unknown_source": before["unknown_source"] + n_other,
                                 "stun_auth": before["stun_auth"] + n_stun})
        time.sleep(1.5)  # one more snapshot: nothing counted twice
        after = self.drops()
        print(f"{n_other} non-STUN, {n_stun} STUN from an unknown address: "
              f"drops {before} -> {after}")
        self.assertEqual(after["unknown_source"] - before["unknown_source"], n_other)
        self.assertEqual(after["stun_auth"] - before["stun_auth"], n_stun)
        for scope in ({"tenant": "probe"}, {"tenant": "probe", "bubble": "b"}):
            d = self.drops(scope)
            self.assertEqual((d["stun_auth"], d["unknown_source"]), (0, 0), (scope, d))

        # The right key: answered, from the worker's port.
        msg, txid = stun.request(f"{ufrag}:{theirs}", pwd.encode(), use_candidate=True)
        sock.sendto(msg, to)
        deadline = time.monotonic() + 3
        reply = None
        while reply is None and time.monotonic() < deadline:
            sock.settimeout(0.5)
            try:
                data, src = sock.recvfrom(4096)
            except socket.timeout:
                continue
            if data[8:20] == txid:
                reply = (data, src)
        self.assertIsNotNone(reply, "no answer to the right key: the probe proves nothing")
        self.assertEqual(int.from_bytes(reply[0][:2], "big"), stun.SUCCESS)
        self.assertEqual(reply[1], to)
        # Its address is validated now: its datagrams reach the transport.
        sock.sendto(b"\x40" + os.urandom(30), to)
        time.sleep(1.5)
        self.assertEqual(self.drops()["unknown_source"], after["unknown_source"])
        self.assertEqual(self.drops()["stun_auth"], after["stun_auth"])
        self.assertIsNone(self.relay.proc.poll())


if __name__ == "__main__":
    unittest.main()
