"""ICE-TCP (issue 10, item 3): Chromium pages whose UDP to the relay is
blocked call through the relay over TCP (RFC 6544 passive candidates,
RFC 4571 framing).

The test runs in a private network namespace (webdriver.private_netns(),
or the one CI runs the suite in) and adds an nftables table of its own
there that drops every UDP datagram to the relay's media ports
(`media.ports` set to a range of the test's). Two headless Chromium pages
join one bubble through the demo: each must decode the other's video and
receive its audio, and on both connections of both pages (publish,
subscribe) the selected candidate pair must be TCP on both ends, its remote
candidate the relay's TCP candidate on 127.0.0.1 and the worker's media
port. The nftables rule's counter shows the pages did try UDP.

Then, during the call, connections of our own to that port that never
authenticate are refused and counted, and the call goes on: one sending a
DTLS-looking frame (`tcp_auth`), one an unauthenticated Binding request
(`tcp_auth` and `stun_auth`), one an HTTP request (its first two bytes read
as a 18,245-byte length: `tcp_frame`), one silent (closed after the 5 s
deadline: `tcp_auth`). Each sees the relay close it; the relay-wide drops
rise by exactly that; both pages' decoded frame counts keep rising.

Environment: PRISM, PRISMCTL.
"""
import shutil
import socket
import struct
import subprocess
import time
import unittest

import webdriver

webdriver.private_netns()

import chromium_call as cc  # noqa: E402
import stun  # noqa: E402
from chromium_call import log  # noqa: E402

NFT = shutil.which("nft") or "/usr/sbin/nft"
TABLE = "prism_it_ice_tcp"
PORT_LO, PORT_HI = 45100, 45109
BUBBLE = "it-ice-tcp"
MEDIA_TIMEOUT_S = 60
COUNTER_TIMEOUT_S = 15
AUTH_DEADLINE_S = 5  # PRISM_TCP_AUTH_TIMEOUT_MS


def nft(script):
    subprocess.run([NFT, "-f", "-"], input=script, text=True, check=True)


def block_udp():
    """Drops UDP to the relay's media ports in this namespace (counted)."""
    nft(f"table inet {TABLE} {{\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy accept;\n"
        f"    udp dport {PORT_LO}-{PORT_HI} counter drop\n"
        "  }\n"
        "}\n")


def udp_dropped():
    out = subprocess.run([NFT, "list", "table", "inet", TABLE], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        if "udp dport" in line and "counter packets" in line:
            return int(line.split("counter packets")[1].split()[0])
    raise AssertionError(f"no counter in {out}")


def unblock():
    subprocess.run([NFT, "delete", "table", "inet", TABLE], stderr=subprocess.DEVNULL)


def frame(data):
    return struct.pack("!H", len(data)) + data


class IceTcp(unittest.TestCase):
    @unittest.skipIf(webdriver.available(), webdriver.available())
    def test_call_over_tcp_with_udp_blocked(self):
        unblock()
        block_udp()
        self.addCleanup(unblock)
        relay, demo, ctl = cc.start_demo(
            self, ["--media-ip", "127.0.0.1", "--media-ports", f"{PORT_LO}-{PORT_HI}"])

        pages, peers = [], []
        for name in ("Tcp A", "Tcp B"):
            page = cc.open_page(self, demo)
            r = cc.join(self, page, BUBBLE, name, "publish", "subscribe")
            log(f"{name} joined: {r}")
            pages.append(page)
            peers.append(r["peer"])

        frames = self.wait_media(pages, peers, {p: 0 for p in peers})

        ports = set()
        for page in pages:
            sel = page.call(cc.SELECTED_PAIRS)
            log(f"selected pairs {sel}")
            for conn in ("publish", "subscribe"):
                self.assertIn(conn, sel, f"no selected pair on {conn}: {sel}")
                local, remote = sel[conn]["local"], sel[conn]["remote"]
                self.assertEqual(local["protocol"], "tcp", sel)
                self.assertEqual(remote["protocol"], "tcp", sel)
                self.assertEqual(remote["type"], "host", sel)
                self.assertEqual(remote["address"], "127.0.0.1", sel)
                self.assertTrue(PORT_LO <= remote["port"] <= PORT_HI, sel)
                ports.add(remote["port"])
        # One bubble, one worker, one port.
        self.assertEqual(len(ports), 1, ports)
        port = ports.pop()
        self.assertGreater(udp_dropped(), 0, "the pages never tried UDP")

        # Strangers on the same port: refused, counted; the call goes on.
        # First, every connection the pages opened is past the relay's 5 s
        # authentication deadline and its close (if any) counted, so what
        # follows counts only the strangers.
        time.sleep(AUTH_DEADLINE_S + 2)
        before = self.drops(ctl)
        refused = []
        for payload in (frame(b"\x16\xfe\xfd" + bytes(40)),
                        frame(stun.request("nosuchuf:peer", b"not the password")[0]),
                        b"GET / HTTP/1.1\r\nHost: relay\r\n\r\n",
                        b""):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            self.addCleanup(s.close)
            s.sendall(payload)
            refused.append(s)
        for s in refused:
            self.assertEqual(s.recv(1), b"", "the relay did not close a stranger's connection")
        want = dict(before, tcp_auth=before["tcp_auth"] + 3, tcp_frame=before["tcp_frame"] + 1,
                    stun_auth=before["stun_auth"] + 1)
        keys = ("tcp_auth", "tcp_frame", "stun_auth", "tcp_limit")
        deadline = time.monotonic() + COUNTER_TIMEOUT_S
        while True:
            after = self.drops(ctl)
            if all(after[k] == want[k] for k in keys) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual({k: after[k] for k in keys}, {k: want[k] for k in keys})
        self.wait_media(pages, peers, frames)

    def drops(self, ctl):
        reply = ctl.call("stats.get", {})
        self.assertIn("result", reply, reply)
        return reply["result"]["drops"]

    def wait_media(self, pages, peers, since):
        """Waits until every page decodes more video frames from the other
        than `since` says and receives its audio; returns the new counts
        (by the publishing peer, on the other page)."""
        return cc.media_from(self, pages, peers, {p: n + 10 for p, n in since.items()},
                             MEDIA_TIMEOUT_S, "over TCP")


if __name__ == "__main__":
    webdriver.unittest_main()
