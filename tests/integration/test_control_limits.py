"""What a hostile or merely slow control client can do to the others
(issue 9, findings 1, 4 and 12).

- Silent TCP connections to the TLS listener never keep the Unix socket's
  backend out: Unix and TLS connections are counted apart, connections in
  their TLS handshake have their own pool (the oldest goes when it is full),
  and one that does not finish its handshake in time, or stays silent, is
  closed (finding 1). Handshakes start at a bounded rate; the others wait
  their turn.
- A subscriber that stops reading is cut off while events flow; every other
  subscriber still gets every event (contiguous `seq`), and GLib reports no
  misuse on stderr (finding 4).
"""
import os
import socket
import subprocess
import threading
import time
import unittest

import harness
from harness import PRISM, reason
from test_privacy import OFFER


class Relay(harness.Relay):
    """A relay whose stderr is kept in a file (GLib prints its criticals
    there, not in the relay's log)."""

    def start(self):
        self.stderr_path = os.path.join(self.dir, "stderr.txt")
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([PRISM, "--config", self.config, *self.args],
                                         stderr=err)
        self.wait_ready()

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def media_relay(extra=""):
    """A relay that can open media sockets on loopback (for peer.state events)."""
    return Relay(extra_config="[limits]\nmax_peers = 0\n" + extra,
                 args=("--media-ip", "127.0.0.1"), workers=1)


def closed_within(sock, timeout):
    """Seconds until the relay closed `sock` (EOF or reset), or None if it
    was still open after `timeout` seconds."""
    start = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except socket.timeout:
            return None
        except ConnectionError:
            return time.monotonic() - start


def silent_tcp(relay, n):
    """`n` TCP connections to the TLS listener that never send a byte,
    accepted by the relay before this returns."""
    socks = [socket.create_connection(("127.0.0.1", relay.tls_port)) for _ in range(n)]
    time.sleep(0.5)
    return socks


def read_until_reply(client, id):
    """The events `client` receives before the reply to request `id`."""
    events = []
    while True:
        msg = client.read_line()
        if msg.get("id") == id and "method" not in msg:
            return events
        events.append(msg)


class TlsAdmission(unittest.TestCase):
    def relay(self, extra=""):
        relay = Relay(tls=True, extra_config=extra, workers=1)
        self.addCleanup(relay.close)
        return relay

    def assert_serves(self, connect):
        try:
            with connect() as c:
                reply = c.call("relay.info")
        except (OSError, EOFError) as e:
            self.fail(f"refused: {e!r}")
        self.assertIn("result", reply)

    def test_silent_tcp_connections_do_not_lock_the_unix_socket_out(self):
        # Only keys the relay has always known, so that an old relay fails
        # this test on its behaviour, not on its configuration.
        relay = self.relay("[control]\nmax_connections = 8\n")
        socks = silent_tcp(relay, 12)
        try:
            for _ in range(3):
                self.assert_serves(relay.unix)
            # A real TLS client still gets in beside them.
            self.assert_serves(relay.tls)
            # And the silent ones go after the (default) idle deadline.
            for s in socks:
                self.assertIsNotNone(closed_within(s, 15), "a silent connection stayed open")
        finally:
            for s in socks:
                s.close()
        self.assertIn("tls_idle_timeout", relay.log_text())
        self.assert_serves(relay.unix)

    def test_deadlines(self):
        # Wide margins: the test's own pauses must stay far below the idle
        # deadline on a loaded machine.
        relay = self.relay("[control]\ntls_handshake_timeout_ms = 4000\n"
                           "tls_idle_timeout_ms = 2000\n")
        with relay.tls() as established:
            with socket.create_connection(("127.0.0.1", relay.tls_port)) as silent:
                # Silent: closed by the idle deadline.
                elapsed = closed_within(silent, 10)
                self.assertIsNotNone(elapsed, "a silent connection stayed open")
                self.assertGreaterEqual(elapsed, 1.8)
            with socket.create_connection(("127.0.0.1", relay.tls_port)) as trickle:
                # A byte every 100 ms of a TLS record that never completes:
                # never idle for 2 s, closed by the handshake deadline.
                start = time.monotonic()
                record = b"\x16\x03\x01\x02\x00" + b"\x01" * 512  # 50 s of bytes
                closed = None
                for byte in record:
                    try:
                        trickle.sendall(bytes([byte]))
                    except ConnectionError:
                        closed = time.monotonic() - start
                        break
                    if closed_within(trickle, 0.1) is not None:
                        closed = time.monotonic() - start
                        break
                self.assertIsNotNone(closed, "a trickling handshake was never cut off")
                self.assertGreaterEqual(closed, 3.8)
                self.assertLess(closed, 30)
            log = relay.log_text()
            self.assertIn("tls_idle_timeout", log)
            self.assertIn("tls_handshake_timeout", log)
            # The deadlines are for handshakes: an established client that
            # stayed silent meanwhile is still served.
            self.assertIn("result", established.call("relay.info"))

    def test_full_pool_closes_the_oldest(self):
        relay = self.relay("[control]\ntls_max_handshakes = 4\n"
                           "tls_idle_timeout_ms = 60000\ntls_handshake_timeout_ms = 60000\n")
        socks = silent_tcp(relay, 4)
        try:
            newer = silent_tcp(relay, 1)
            socks += newer
            self.assertIsNotNone(closed_within(socks[0], 10), "the oldest was not closed")
            for s in socks[1:]:
                self.assertIsNone(closed_within(s, 0.2), "a newer one was closed")
            # A real client completes its handshake while the pool is full
            # of silent sockets (the oldest makes room for it).
            self.assert_serves(relay.tls)
            self.assertIsNotNone(closed_within(socks[1], 10))
            self.assert_serves(relay.unix)
        finally:
            for s in socks:
                s.close()
        self.assertIn("tls_max_handshakes", relay.log_text())

    def test_handshakes_per_second(self):
        relay = self.relay("[control]\ntls_handshakes_per_s = 2\n"
                           "tls_handshake_timeout_ms = 60000\n")
        time.sleep(1.1)  # a full bucket: 2 handshakes at once, then one per 0.5 s
        results = []

        def client():
            try:
                with relay.tls() as c:
                    results.append("result" in c.call("relay.info"))
            except (OSError, EOFError) as e:
                results.append(repr(e))

        start = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(6)]
        for th in threads:
            th.start()
        # Meanwhile the Unix socket answers at once.
        self.assert_serves(relay.unix)
        for th in threads:
            th.join(60)
        elapsed = time.monotonic() - start
        self.assertEqual(results, [True] * 6)
        # 2 at once, the 4 others 0.5 s apart: at least 2 s. A busy machine
        # can only make it longer.
        self.assertGreaterEqual(elapsed, 1.9)


class SlowSubscriber(unittest.TestCase):
    def test_cut_off_subscriber_does_not_cost_the_others_an_event(self):
        relay = media_relay("[control]\nmax_pending = 65536\n")
        self.addCleanup(relay.close)
        c = relay.unix()
        self.addCleanup(c.close)
        self.assertIn("result", c.call("tenant.create", {"tenant": "t"}))
        self.assertIn("result", c.call("bubble.create", {"tenant": "t", "bubble": "b"}))
        good = [relay.unix() for _ in range(4)]
        for g in good:
            self.addCleanup(g.close)
        # The slow one subscribes and never reads again; the others are
        # spread before and after it in the subscription table.
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(slow.close)
        for g in good[:2]:
            self.assertEqual(g.call("events.subscribe").get("result"), {})
        slow.connect(relay.sock)
        slow.sendall(b'{"jsonrpc":"2.0","id":1,"method":"events.subscribe"}\n')
        for g in good[2:]:
            self.assertEqual(g.call("events.subscribe").get("result"), {})
        seen = [[] for _ in good]
        peer, batches_after_cut = 0, None
        for batch in range(400):
            for _ in range(50):  # 100 events, ~18 KB: the readers keep up
                p = {"tenant": "t", "bubble": "b", "peer": f"p{peer}"}
                peer += 1
                self.assertIn("result", c.call("peer.join", p))
                self.assertIn("result", c.call("peer.publish", {**p, "offer": OFFER}))
                self.assertIn("result", c.call("peer.leave", p))
            for g, events in zip(good, seen):
                events += read_until_reply(g, g.request("relay.info"))
            if batches_after_cut is None and "control.slow_consumer" in relay.log_text():
                batches_after_cut = 0
            elif batches_after_cut is not None:
                batches_after_cut += 1
                if batches_after_cut == 2:
                    break
        self.assertIsNotNone(batches_after_cut, "the slow subscriber was never cut off")
        first = seen[0][0]["params"]["seq"]
        for events in seen:
            seqs = [e["params"]["seq"] for e in events]
            missing = sorted(set(range(first, seqs[-1] + 1)) - set(seqs))
            self.assertEqual(missing, [], "a subscriber missed events")
            self.assertEqual(events, seen[0])
        self.assertEqual(len(seen[0]), 2 * peer)
        self.assertNotIn("CRITICAL", relay.stderr())
        self.assertNotIn("WARNING", relay.stderr())


if __name__ == "__main__":
    unittest.main()
