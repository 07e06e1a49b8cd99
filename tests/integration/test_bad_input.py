"""Bad input on the control socket (PROTOCOL.md, "Transport and framing" and
"Messages"): each gets a clear error, and neither the connection that sent it
(where the protocol keeps it open) nor anyone else is affected.

Runs over the Unix socket and over TLS; what is specific to TLS (handshakes,
certificates) is in test_tls.py.
"""
import json
import resource
import select
import socket
import ssl
import time
import unittest

from harness import Relay, reason


def line(obj):
    return json.dumps(obj).encode() + b"\n"


def req(method, params=None, id=1):
    msg = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    return line(msg)


class Base:
    tls = False

    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(tls=cls.tls)
        with cls.relay.unix() as c:
            assert "result" in c.call("tenant.create", {"tenant": "keep"})
            assert "result" in c.call("bubble.create", {"tenant": "keep", "bubble": "b"})
            assert "result" in c.call("peer.join", {"tenant": "keep", "bubble": "b",
                                                    "peer": "p"})

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def connect(self):
        c = self.relay.tls() if self.tls else self.relay.unix()
        self.addCleanup(c.close)
        return c

    def setUp(self):
        self.c = self.connect()
        # A bystander connected all along must be unaffected by every case.
        self.other = self.connect()
        self.assertIn("result", self.other.call("relay.info"))
        self.addCleanup(self.check_unaffected)  # runs after the case's own cleanups

    def check_unaffected(self):
        # The offending connection still answers (unless a case closed it),
        # the bystander got nothing unasked, and the state is intact.
        reply = self.other.call("bubble.info", {"tenant": "keep", "bubble": "b"})
        self.assertEqual(reply.get("result"), {"peers": [{**reply["result"]["peers"][0],
                                                          "peer": "p"}]}, reply)
        self.assertEqual(self.other.buf, b"")
        stats = self.other.call("stats.get")["result"]
        self.assertEqual((stats["tenants"], stats["bubbles"], stats["peers"]),
                         self.expected_counts())

    def expected_counts(self):
        return (1, 1, 1)

    def error(self, raw, code, id=None):
        """Sends raw bytes; expects one error reply with `code` and `id`."""
        self.c.send_raw(raw)
        reply = self.c.read_line()
        self.assertEqual(reply.get("jsonrpc"), "2.0", reply)
        self.assertNotIn("result", reply, reply)
        self.assertEqual(reply["error"]["code"], code, (raw[:200], reply))
        self.assertIsInstance(reply["error"]["message"], str)
        self.assertTrue(reply["error"]["message"])
        self.assertEqual(reply["id"], id, reply)
        return reply["error"]

    def still_answers(self, client=None):
        reply = (client or self.c).call("relay.info")
        self.assertIn("result", reply)

    # cases

    def test_malformed_json(self):
        for raw in (b'{"jsonrpc":"2.0",', b"{bad}", b"not json", b'{"a":1}}', b"{'a':1}",
                    b'{"jsonrpc":"2.0","id":1,"method":"relay.info"', b"\x00\x01\x02",
                    b'{"jsonrpc":"2.0","id":1,"method":"relay.\xff\xfe"}',
                    # jansson's error quotes these raw bytes (fuzz_control found it)
                    b'{"\\\xc5\x91\x8a\x93\x82\xf5\x84}'):
            with self.subTest(raw=raw):
                self.error(raw + b"\n", -32700)
                self.still_answers()

    def test_non_object_requests_and_batches(self):
        batch = [{"jsonrpc": "2.0", "id": 1, "method": "relay.info"}]
        for obj in ([], [1, 2], batch, batch * 2, "relay.info", 42, 1.5, None, True):
            with self.subTest(obj=obj):
                self.error(line(obj), -32600)
                self.still_answers()

    def test_invalid_request_objects(self):
        for obj in ({}, {"id": 1, "method": "relay.info"},
                    {"jsonrpc": "1.0", "id": 1, "method": "relay.info"},
                    {"jsonrpc": 2.0, "id": 1, "method": "relay.info"},
                    {"jsonrpc": "2.0", "id": 1},
                    {"jsonrpc": "2.0", "id": 1, "method": 5},
                    {"jsonrpc": "2.0", "id": 1, "method": None},
                    {"jsonrpc": "2.0", "id": {"a": 1}, "method": "relay.info"},
                    {"jsonrpc": "2.0", "id": [1], "method": "relay.info"},
                    {"jsonrpc": "2.0", "id": True, "method": "relay.info"}):
            with self.subTest(obj=obj):
                self.c.send_raw(line(obj))
                reply = self.c.read_line()
                self.assertEqual(reply["error"]["code"], -32600, (obj, reply))
                # The id is echoed when it could be read, null otherwise.
                self.assertIn(reply["id"], (None, obj.get("id")), reply)
                if not isinstance(obj.get("id"), (int, str)) or isinstance(obj.get("id"), bool):
                    self.assertIsNone(reply["id"])
                self.still_answers()

    def test_params_not_an_object(self):
        for params in ([], ["keep"], "keep", 5, None):
            with self.subTest(params=params):
                self.error(req("stats.get", params, id=9) if params is not None else
                           line({"jsonrpc": "2.0", "id": 9, "method": "stats.get",
                                 "params": None}), -32602, id=9)
                self.still_answers()

    def test_missing_or_mistyped_params(self):
        cases = [
            ("tenant.create", {}, "tenant"),
            ("tenant.create", {"tenant": 1}, "tenant"),
            ("tenant.create", {"tenant": None}, "tenant"),
            ("tenant.create", {"tenant": ["keep"]}, "tenant"),
            ("tenant.create", {"tenant": "x", "limits": 5}, "limits"),
            ("tenant.delete", {}, "tenant"),
            ("bubble.create", {"tenant": "keep"}, "bubble"),
            ("bubble.create", {"bubble": "b"}, "tenant"),
            ("bubble.create", {"tenant": "keep", "bubble": {"id": "b"}}, "bubble"),
            ("bubble.delete", {"tenant": "keep"}, "bubble"),
            ("bubble.info", {"tenant": "keep", "bubble": 12}, "bubble"),
            ("peer.join", {"tenant": "keep", "bubble": "b"}, "peer"),
            ("peer.join", {"tenant": "keep", "bubble": "b", "peer": "q", "publish": 1}, "publish"),
            ("peer.join", {"tenant": "keep", "bubble": "b", "peer": "q", "publish": "true"},
             "publish"),
            ("peer.leave", {"tenant": "keep", "bubble": "b", "peer": False}, "peer"),
            ("peer.publish", {"tenant": "keep", "bubble": "b", "peer": "p"}, "offer"),
            ("peer.publish", {"tenant": "keep", "bubble": "b", "peer": "p", "offer": {}},
             "offer"),
            ("peer.subscribe", {"tenant": "keep", "bubble": "b"}, "peer"),
            ("peer.answer", {"tenant": "keep", "bubble": "b", "peer": "p", "revision": 1},
             "answer"),
            ("peer.answer", {"tenant": "keep", "bubble": "b", "peer": "p", "answer": "v=0"},
             "revision"),
            ("peer.candidate", {"tenant": "keep", "bubble": "b", "peer": "p",
                                "candidate": None}, "transport"),
            ("peer.candidate", {"tenant": "keep", "bubble": "b", "peer": "p",
                                "transport": "publish"}, "candidate"),
            ("peer.candidate", {"tenant": "keep", "bubble": "b", "peer": "p",
                                "transport": 1, "candidate": None}, "transport"),
            ("events.subscribe", {"tenants": "keep"}, "tenants"),
            ("events.subscribe", {"since": "0"}, "since"),
            ("stats.get", {"tenant": 5}, "tenant"),
            ("stats.get", {"tenant": "keep", "bubble": 5}, "bubble"),
        ]
        for i, (method, params, field) in enumerate(cases):
            with self.subTest(method=method, params=params):
                err = self.error(req(method, params, id=100 + i), -32602, id=100 + i)
                self.assertIn(field, err["message"])

    def test_invalid_ids(self):
        bad = ["has space", "x" * 65, "\u00e9t\u00e9", "\U0001f600", "", "a/b", "tab\t",
               "new\nline", "semi;colon", "quote\"", "per%cent", "y" * 1000]
        for i, bad_id in enumerate(bad):
            for method, params, field in (
                    ("tenant.create", {"tenant": bad_id}, "tenant"),
                    ("bubble.create", {"tenant": "keep", "bubble": bad_id}, "bubble"),
                    ("peer.join", {"tenant": "keep", "bubble": "b", "peer": bad_id}, "peer"),
                    ("bubble.info", {"tenant": bad_id, "bubble": "b"}, "tenant")):
                with self.subTest(method=method, id=bad_id):
                    err = self.error(req(method, params, id=i), -32602, id=i)
                    self.assertIn(field, err["message"])
        # Raw UTF-8 on the wire, not only \u escapes.
        raw = '{"jsonrpc":"2.0","id":7,"method":"tenant.create","params":{"tenant":"caf\u00e9"}}\n'
        self.assertIn("tenant", self.error(raw.encode(), -32602, id=7)["message"])
        # The edge of the rule is accepted: 64 bytes, every allowed character.
        for good in ("g" * 64, "Az09._:@-", "1"):
            reply = self.c.call("bubble.create", {"tenant": "keep", "bubble": good})
            self.assertIn("result", reply, reply)
            self.assertIn("result", self.c.call("bubble.delete", {"tenant": "keep",
                                                                  "bubble": good}))

    def test_request_ids_of_every_kind_are_echoed(self):
        for id in (0, -1, 2 ** 53, "a string id", "", "\u00e9", 1.5):
            with self.subTest(id=id):
                self.c.send_raw(req("relay.info", id=id))
                reply = self.c.read_line()
                self.assertIn("result", reply)
                self.assertEqual(reply["id"], id)
        self.c.send_raw(line({"jsonrpc": "2.0", "id": None, "method": "relay.info"}))
        self.assertIsNone(self.c.read_line()["id"])

    def test_unknown_method(self):
        # "m" * 63 + "é": the error message cuts the name at 64 bytes
        for method in ("nope", "", "relay.info.x", "RELAY.INFO", "m" * 10000, "m" * 63 + "é"):
            with self.subTest(method=method[:20]):
                self.error(req(method, id=3), -32601, id=3)

    def test_notifications_get_no_reply(self):
        for obj in ({"jsonrpc": "2.0", "method": "relay.info"},
                    {"jsonrpc": "2.0", "method": "no.such.method"},
                    {"jsonrpc": "2.0", "method": "tenant.create", "params": {"tenant": 5}},
                    {"jsonrpc": "2.0", "method": "bubble.info",
                     "params": {"tenant": "nope", "bubble": "b"}},
                    {"jsonrpc": "2.0", "method": "stats.get"}):
            self.c.send_raw(line(obj))
        reply = self.c.call("relay.info")
        self.assertIn("result", reply)
        self.assertEqual(self.c.buf, b"")

    def test_blank_lines_and_crlf(self):
        self.c.send_raw(b"\n\r\n   \n\t\n")
        self.c.send_raw(req("relay.info", id=5)[:-1] + b"\r\n")
        reply = self.c.read_line()
        self.assertEqual((reply["id"], "result" in reply), (5, True))
        self.still_answers()
        self.assertEqual(self.c.buf, b"")

    def test_2mib_line(self):
        pad = "x" * (2 * 1024 * 1024)
        big = req("tenant.create", {"tenant": "huge", "pad": pad}, id=1)
        self.assertGreater(len(big), 2 * 1024 * 1024)
        # Sent in pieces while the bystander is served.
        for i in range(0, len(big) - 1, 256 * 1024):
            self.c.send_raw(big[i:min(i + 256 * 1024, len(big) - 1)])
            self.still_answers(self.other)
        self.c.send_raw(b"\n" + req("relay.info", id=2))
        err = self.c.read_line()
        self.assertEqual(err["error"]["code"], -32600, err)
        self.assertIn("max_line", err["error"]["message"])
        reply = self.c.read_line()
        self.assertEqual((reply["id"], "result" in reply), (2, True))
        # Twice in one write, with requests between and after.
        self.c.send_raw(big + req("relay.info", id=3) + big + req("relay.info", id=4))
        got = [self.c.read_line() for _ in range(4)]
        self.assertEqual([m.get("error", {}).get("code") for m in got],
                         [-32600, None, -32600, None])
        self.assertEqual([m["id"] for m in got[1::2]], [3, 4])
        # Nothing of it was executed.
        self.assertEqual(reason(self.c.call("stats.get", {"tenant": "huge"})), "not_found")

    def test_10000_pipelined_requests_answered_in_order(self):
        self.assertIn("result", self.c.call("tenant.create", {"tenant": "pipe",
                                                              "limits": {"max_peers": 0}}))
        self.addCleanup(self.other.call, "tenant.delete", {"tenant": "pipe"})
        self.assertIn("result", self.c.call("bubble.create", {"tenant": "pipe", "bubble": "b"}))
        n = 10000
        expected = []
        parts = []
        for i in range(n):
            id = 1000 + i
            kind = i % 4
            if kind == 0:
                parts.append(req("peer.join", {"tenant": "pipe", "bubble": "b",
                                               "peer": f"p{i}"}, id=id))
                expected.append(None)
            elif kind == 1:
                parts.append(req("peer.leave", {"tenant": "pipe", "bubble": "b",
                                                "peer": f"p{i - 1}"}, id=id))
                expected.append(None)
            elif kind == 2:
                parts.append(req("peer.leave", {"tenant": "pipe", "bubble": "b",
                                                "peer": f"p{i}"}, id=id))
                expected.append("not_found")
            else:
                parts.append(req("bubble.info", {"tenant": "pipe", "bubble": "bad id"}, id=id))
                expected.append(-32602)
        # All sent before the first reply is read (one thread: an ssl socket
        # must not be read and written from two threads at once). The
        # replies (~1 MB) fit in the relay's send queue (control.max_pending).
        self.c.send_raw(b"".join(parts))
        for i in range(n):
            reply = self.c.read_line()
            self.assertEqual(reply["id"], 1000 + i)
            if expected[i] is None:
                self.assertIn("result", reply, reply)
            elif expected[i] == "not_found":
                self.assertEqual(reason(reply), "not_found", reply)
            else:
                self.assertEqual(reply["error"]["code"], -32602, reply)
        self.assertEqual(self.c.call("bubble.info", {"tenant": "pipe", "bubble": "b"})["result"],
                         {"peers": []})

    def test_half_a_line_then_stall(self):
        staller = self.connect()
        staller.send_raw(b'{"jsonrpc":"2.0","id":77,"method":"stats.g')
        # Everyone else is served while it stalls, on fresh connections too.
        for _ in range(3):
            self.still_answers(self.other)
            with (self.relay.tls() if self.tls else self.relay.unix()) as fresh:
                self.still_answers(fresh)
        self.still_answers()
        # Its line completes later and is answered then.
        staller.send_raw(b'et","params":{"tenant":"keep"}}\n')
        reply = staller.read_line()
        self.assertEqual(reply["id"], 77)
        self.assertEqual(reply["result"]["bubbles"], 1)

    def open_raw(self, relay=None):
        relay = relay or self.relay
        if self.tls:
            return socket.create_connection(("127.0.0.1", relay.tls_port), timeout=60)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Blocking: a Unix connect with a full backlog waits (with a timeout
        # it would fail at once with EAGAIN, which is the client's problem).
        s.connect(relay.sock)
        s.settimeout(60)
        return s

    def admitted(self, client, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            c = client()
            try:
                reply = c.call("relay.info")
            except (OSError, EOFError):
                reply = None
            if reply is not None and "result" in reply:
                return c
            c.close()
            self.assertLess(time.monotonic(), deadline, f"not admitted: {reply}")
            time.sleep(0.05)

    def test_1000_connections_opened_and_dropped(self):
        # Its own relay, with limits the 1,000 connections go far past (under
        # the default max_connections of 1,024 nothing would be refused, and
        # a relay that ignored its limit would pass).
        relay = Relay(tls=self.tls, extra_config=(
            f"[control]\nmax_connections = {LIMIT}\ntls_max_handshakes = {POOL}\n"
            "tls_idle_timeout_ms = 600000\ntls_handshake_timeout_ms = 600000\n"))
        self.addCleanup(relay.close)
        client = relay.tls if self.tls else relay.unix
        bystander = client()
        self.addCleanup(bystander.close)
        self.still_answers(bystander)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 1200 and hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        socks = []
        try:
            for i in range(1000):
                s = self.open_raw(relay)
                socks.append(s)
                if i % 3 == 1:
                    s.sendall(b'{"jsonrpc":"2.0","id":1,"meth')  # half a line
                elif i % 3 == 2:
                    s.sendall(req("relay.info"))  # a request never read
            self.still_answers(bystander)
            if self.tls:
                # None got past its handshake; the relay keeps at most its
                # handshake pool of them open (the oldest go first).
                closed = settle_closed(socks, len(socks) - POOL)
                self.assertGreaterEqual(len(closed), len(socks) - POOL)
            else:
                # Exactly the connections beyond the limit (the bystander
                # holds one slot) are refused, each with `overloaded`.
                closed = settle_closed(socks, len(socks) - (LIMIT - 1))
                self.assertEqual(len(closed), len(socks) - (LIMIT - 1))
                for first_line in closed.values():
                    self.assertEqual(reason(json.loads(first_line)), "overloaded", first_line)
        finally:
            for s in socks:
                s.close()
        # Then in quick succession, connect and drop at once.
        for _ in range(1000):
            self.open_raw(relay).close()
        self.still_answers(bystander)
        # Every slot came back: LIMIT - 1 clients get in beside the
        # bystander, and one more is refused. The relay frees a slot when it
        # reads a dropped connection's end, which may come after it accepts
        # a new one: a client refused meanwhile tries again (a slot that
        # never came back fails at the deadline).
        clients = []
        try:
            for _ in range(LIMIT - 1):
                clients.append(self.admitted(client))
            with client() as extra:
                if self.tls:
                    try:
                        reply = extra.call("relay.info")
                    except (OSError, EOFError):
                        reply = None  # closed past its handshake: refused
                    self.assertIsNone(reply, "admitted past max_connections")
                else:
                    # The refusal comes unasked, with id null, then the close.
                    self.assertEqual(reason(extra.read_line()), "overloaded")
        finally:
            for c in clients:
                c.close()
        self.still_answers(bystander)


LIMIT = 100  # control.max_connections of the 1,000-connection test
POOL = 16    # its control.tls_max_handshakes


def settle_closed(socks, expect, timeout=60):
    """Waits until at least `expect` of `socks` are closed by the relay (then
    one more second, so that too many would show); returns {index: first
    line received} of the closed ones."""
    got = {}  # index -> bytes received
    closed = {}
    by_fd = {s.fileno(): i for i, s in enumerate(socks)}
    poller = select.poll()  # not select(): the descriptors go past FD_SETSIZE
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    quiet_until = None
    while time.monotonic() < deadline:
        for fd, _ in poller.poll(200):
            i = by_fd[fd]
            try:
                chunk = socks[i].recv(65536)
            except (ConnectionError, ssl.SSLError):
                chunk = b""
            if chunk:
                got[i] = got.get(i, b"") + chunk
            else:
                closed[i] = got.get(i, b"").split(b"\n", 1)[0]
                poller.unregister(fd)
        if len(closed) >= expect:
            if quiet_until is None:
                quiet_until = time.monotonic() + 1
            elif time.monotonic() >= quiet_until:
                break
    return closed


class UnixBadInput(Base, unittest.TestCase):
    tls = False


class TlsBadInput(Base, unittest.TestCase):
    tls = True


if __name__ == "__main__":
    unittest.main()
