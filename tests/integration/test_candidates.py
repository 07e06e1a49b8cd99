"""Candidates the relay must not send to (issue 9, finding 9; rules in
relay/wire/candidate.h, docs/signaling.md "peer.candidate").

- peer.candidate at an unspecified, link-local, cloud metadata, multicast or
  broadcast address is -32602 "params.candidate is refused (<reason>)";
  loopback too unless the relay's own media is on loopback (--media-ip
  127.0.0.1); public and private unicast are accepted.
- An offer carrying such candidates is not refused: they are dropped and the
  rest of the SDP is used (the drop itself, where ICE adds remote
  candidates, is checked in tests/unit/test_ice.c test_refused_addresses).
- With media_ip unset the relay gathers on the default route's source
  address only: on a host with a second interface (a docker bridge, say)
  that address is not offered.
"""
import os
import shutil
import subprocess
import unittest

import harness
from harness import Relay

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OFFER = os.path.join(ROOT, "tests", "data", "sdp", "chromium-audio-offer.sdp")

REFUSED = {
    "0.0.0.0": "address is unspecified",
    "::": "address is unspecified",
    "169.254.169.254": "address is a cloud metadata service",
    "::ffff:169.254.169.254": "address is a cloud metadata service",
    "fd00:ec2::254": "address is a cloud metadata service",
    "169.254.1.1": "address is link-local",
    "fe80::1": "address is link-local",
    "224.0.0.251": "address is multicast",
    "ff02::1": "address is multicast",
    "255.255.255.255": "address is broadcast",
}
LOOPBACK = ["127.0.0.1", "127.1.2.3", "::1"]
USABLE = ["192.0.2.10", "10.1.2.3", "fd00::2", "2001:db8::7"]


def cand(addr, port=50000):
    return f"candidate:1 1 udp 2122260223 {addr} {port} typ host"


def offer_with(addrs):
    with open(OFFER, newline="") as f:
        sdp = f.read()
    extra = "".join(f"a=candidate:9{i} 1 udp 2122194687 {a} {40000 + i} typ host\r\n"
                    for i, a in enumerate(addrs))
    return sdp.replace("a=ice-ufrag:", extra + "a=ice-ufrag:", 1)


MEDIA_IP = "198.51.100.1"  # TEST-NET-2: a non-loopback media address


OTHER_IP = "203.0.113.5"  # TEST-NET-3: another interface, as a docker bridge


class OwnNetnsRelay(Relay):
    """A relay in a network namespace of its own whose `lo` also carries
    MEDIA_IP, its only media address: media not on loopback, on a machine
    with nothing but loopback. The control socket is a file: reachable."""

    setup = f"ip link set lo up && ip addr add {MEDIA_IP}/32 dev lo"

    def start(self):
        setup = self.setup + " && exec \"$@\""
        self.proc = subprocess.Popen(["unshare", "-n", "sh", "-c", setup, "sh", harness.PRISM,
                                      "--config", self.config, *self.args])
        self.wait_ready()


class TwoInterfacesRelay(OwnNetnsRelay):
    """Two non-loopback interfaces (a veth pair): v0 with MEDIA_IP and the
    default route, v1 with OTHER_IP (a docker bridge, a private network)."""

    setup = ("ip link set lo up && ip link add v0 type veth peer name v1 && "
             "ip link set v0 up && ip link set v1 up && "
             f"ip addr add {MEDIA_IP}/24 dev v0 && ip addr add {OTHER_IP}/24 dev v1 && "
             "ip route add default via 198.51.100.254 dev v0")


NETNS = os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip")


class Candidates(unittest.TestCase):
    def publish(self, relay, c):
        """Publishes an offer with every refused kind of candidate and
        returns the relay's candidate addresses from the answer."""
        for method, params in [("tenant.create", {"tenant": "t"}),
                               ("bubble.create", {"tenant": "t", "bubble": "b"}),
                               ("peer.join", {"tenant": "t", "bubble": "b", "peer": "p"})]:
            self.assertIn("result", c.call(method, params))
        # Every refused kind in one offer: the offer is answered, not bad_sdp.
        reply = c.call("peer.publish", {"tenant": "t", "bubble": "b", "peer": "p",
                                        "offer": offer_with(list(REFUSED) + LOOPBACK)})
        self.assertIn("answer", reply.get("result", {}), reply)
        return {line.split()[4] for line in reply["result"]["answer"].split("\r\n")
                if line.startswith("a=candidate:")}

    def trickle(self, c, addr):
        return c.call("peer.candidate", {"tenant": "t", "bubble": "b", "peer": "p",
                                         "transport": "publish", "candidate": cand(addr)})

    def check_refused(self, c, addr, why):
        reply = self.trickle(c, addr)
        self.assertEqual(reply.get("error", {}).get("code"), -32602, (addr, reply))
        self.assertEqual(reply["error"]["message"], f"params.candidate is refused ({why})",
                         addr)

    def test_media_on_loopback(self):
        with Relay(args=["--media-ip", "127.0.0.1"]) as relay, relay.unix() as c:
            self.publish(relay, c)
            for addr, why in REFUSED.items():
                self.check_refused(c, addr, why)
            for addr in LOOPBACK + USABLE:
                self.assertEqual(self.trickle(c, addr).get("result"), {}, addr)

    @unittest.skipUnless(NETNS, "needs root, unshare and ip for a namespace of its own")
    def test_media_not_on_loopback(self):
        with OwnNetnsRelay(args=["--media-ip", MEDIA_IP]) as relay, relay.unix() as c:
            self.publish(relay, c)
            for addr, why in REFUSED.items():
                self.check_refused(c, addr, why)
            for addr in LOOPBACK:
                self.check_refused(c, addr, "address is loopback and the relay's media is not")
            for addr in USABLE:
                self.assertEqual(self.trickle(c, addr).get("result"), {}, addr)

    @unittest.skipUnless(NETNS, "needs root, unshare and ip for a namespace of its own")
    def test_default_media_address(self):
        """With media_ip unset, the relay offers the default route's source
        address only, not every interface (finding 9, second half)."""
        with TwoInterfacesRelay() as relay, relay.unix() as c:
            self.assertEqual(self.publish(relay, c), {MEDIA_IP})
            # Media is not on loopback: loopback candidates are refused.
            self.check_refused(c, "127.0.0.1", "address is loopback and the relay's media is not")
            with open(relay.log) as f:
                self.assertIn('"media.default_addresses"', f.read())


if __name__ == "__main__":
    unittest.main()
