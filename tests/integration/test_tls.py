"""The TLS control listener (PROTOCOL.md, "Transport and framing"): TLS 1.2/1.3
only, a client certificate from the configured CA required, plain TCP
refused; and a control client limited to some tenants by config (its
certificate fingerprint in a [client NAME] group), refused the others with
`forbidden`. Each refusal leaves the relay serving everyone else.
"""
import json
import socket
import ssl
import unittest

from harness import Client, Relay, fingerprint, make_ca, make_cert, reason

APP_CODES = range(-32099, -32000 + 1)
INFO = b'{"jsonrpc":"2.0","id":1,"method":"relay.info"}\n'


def limited_client(relay):
    relay.limited_cert = make_cert(relay.dir, "limited", relay.ca)
    return (f"[client limited]\nfingerprint = {fingerprint(relay.limited_cert[0])}\n"
            "tenants = mine\n")


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(tls=True, extra_config=limited_client)
        with cls.relay.unix() as c:
            for t in ("mine", "theirs"):
                assert "result" in c.call("tenant.create", {"tenant": t})
                assert "result" in c.call("bubble.create", {"tenant": t, "bubble": "b"})
                assert "result" in c.call("peer.join", {"tenant": t, "bubble": "b",
                                                        "peer": "p"})

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def setUp(self):
        self.addCleanup(self.check_unaffected)

    def check_unaffected(self):
        """Everyone else is still served, over both transports, and the
        state is what setUpClass made."""
        for connect in (self.relay.unix, self.relay.tls):
            with connect() as c:
                for t in ("mine", "theirs"):
                    reply = c.call("bubble.info", {"tenant": t, "bubble": "b"})
                    self.assertEqual([p["peer"] for p in reply["result"]["peers"]], ["p"])
                stats = c.call("stats.get")["result"]
                self.assertEqual((stats["tenants"], stats["bubbles"], stats["peers"]),
                                 (2, 2, 2))

    def assert_refused(self, connect):
        """No JSON-RPC exchange is possible on what `connect` opens: it fails,
        or the first request gets the connection closed instead of a reply."""
        try:
            c = connect()
        except (ssl.SSLError, ConnectionError, ValueError):
            return
        with c:
            try:
                c.send_raw(INFO)
                msg = c.read_line()
            except socket.timeout:
                self.fail("the relay neither answered nor closed the connection")
            except (ssl.SSLError, ConnectionError, EOFError):
                return
            self.fail(f"a refused client got an answer: {msg}")

    def test_valid_client_on_tls_1_2_and_1_3(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version), \
                    self.relay.tls(min_version=version, max_version=version) as c:
                self.assertEqual(c.s.version(), {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                                 ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version])
                self.assertIn("result", c.call("relay.info"))
                # The server's certificate is the configured one (verified by the CA).
                der = c.s.getpeercert(binary_form=True)
                with open(self.relay.server_cert[0]) as f:
                    self.assertEqual(der, ssl.PEM_cert_to_DER_cert(f.read()))

    def test_client_certificate_from_another_ca(self):
        other_ca = make_ca(self.relay.dir, "other-ca")
        stranger = make_cert(self.relay.dir, "stranger", other_ca)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version):
                self.assert_refused(lambda: self.relay.tls(cert=stranger, max_version=version))

    def test_self_signed_client_certificate(self):
        self_signed = make_ca(self.relay.dir, "selfsigned")
        self.assert_refused(lambda: self.relay.tls(cert=self_signed))

    def test_no_client_certificate(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version):
                self.assert_refused(lambda: Client.tls(self.relay.tls_port, None,
                                                       self.relay.ca[0], max_version=version))

    def test_tls_1_1_and_1_0_clients(self):
        for version in (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1):
            with self.subTest(version=version):
                self.assert_refused(lambda: self.relay.tls(
                    min_version=ssl.TLSVersion.MINIMUM_SUPPORTED, max_version=version,
                    seclevel0=True))

    def read_until_closed(self, s):
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data
                data += chunk
        except ConnectionResetError:
            return data
        except socket.timeout:
            self.fail(f"the relay kept a plain TCP connection open (got {data[:100]!r})")

    def test_plain_tcp_is_refused(self):
        for payload in (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", INFO,
                        bytes(range(256)) * 4, b"\x16\x03\x01\x00\x05hello"):
            with self.subTest(payload=payload[:20]):
                with socket.create_connection(("127.0.0.1", self.relay.tls_port),
                                              timeout=30) as s:
                    try:
                        s.sendall(payload)
                    except ConnectionError:
                        pass  # closed already: what we want
                    data = self.read_until_closed(s)
                    self.assertNotIn(b"jsonrpc", data)
                    self.assertNotIn(b"HTTP", data)

    def test_tenant_limited_client(self):
        with self.relay.tls(cert=self.relay.limited_cert) as lim:
            def forbidden(method, params=None):
                reply = lim.call(method, params)
                self.assertEqual(reason(reply), "forbidden", (method, params, reply))
                self.assertIn(reply["error"]["code"], APP_CODES)
                self.assertNotIn("theirs", reply["error"]["message"])

            def ok(method, params=None):
                reply = lim.call(method, params)
                self.assertIn("result", reply, (method, params, reply))
                return reply["result"]

            theirs = {"tenant": "theirs", "bubble": "b", "peer": "p"}
            forbidden("tenant.create", {"tenant": "theirs"})
            forbidden("tenant.create", {"tenant": "newcomer"})
            forbidden("tenant.delete", {"tenant": "theirs"})
            forbidden("bubble.create", {"tenant": "theirs", "bubble": "c"})
            forbidden("bubble.delete", {"tenant": "theirs", "bubble": "b"})
            forbidden("bubble.info", {"tenant": "theirs", "bubble": "b"})
            # Whether the object exists or not, the answer is the same.
            forbidden("bubble.info", {"tenant": "theirs", "bubble": "nope"})
            forbidden("bubble.info", {"tenant": "nope", "bubble": "nope"})
            forbidden("peer.join", {**theirs, "peer": "intruder"})
            forbidden("peer.leave", theirs)
            forbidden("peer.publish", {**theirs, "offer": "v=0\r\n"})
            forbidden("peer.subscribe", theirs)
            forbidden("peer.answer", {**theirs, "answer": "v=0\r\n", "revision": 1})
            forbidden("peer.candidate", {**theirs, "transport": "publish", "candidate": None})
            forbidden("stats.get", {"tenant": "theirs"})
            forbidden("stats.get", {"tenant": "theirs", "bubble": "b"})
            forbidden("stats.get")  # relay-wide figures cover the other tenants
            forbidden("events.subscribe", {"tenants": ["theirs"]})
            forbidden("relay.drain")
            self.assertIs(ok("relay.info")["draining"], False)
            # Its own tenant: everything.
            mine = {"tenant": "mine", "bubble": "b2"}
            ok("bubble.create", mine)
            ok("peer.join", {**mine, "peer": "q", "publish": False})
            self.assertEqual([p["peer"] for p in ok("bubble.info", mine)["peers"]], ["q"])
            self.assertEqual(ok("stats.get", {"tenant": "mine"})["bubbles"], 2)
            self.assertEqual(ok("stats.get", mine)["peers"], 1)
            reply = lim.call("peer.subscribe", {**mine, "peer": "q"})
            self.assertNotEqual(reason(reply), "forbidden")
            ok("peer.leave", {**mine, "peer": "q"})
            ok("bubble.delete", mine)
            ok("events.subscribe", {"tenants": ["mine"]})
            self.assertIn("result", lim.call("relay.info"))
        # An unrestricted TLS client sees both tenants.
        with self.relay.tls() as c:
            self.assertEqual(c.call("stats.get")["result"]["tenants"], 2)
            self.assertIn("result", c.call("bubble.info", {"tenant": "theirs", "bubble": "b"}))

    def test_refusals_are_logged_without_addresses(self):
        self.assert_refused(lambda: Client.tls(self.relay.tls_port, None, self.relay.ca[0]))
        with self.relay.unix() as c:  # a request after the refusal: the log is written
            c.call("relay.info")
        with open(self.relay.log) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        self.assertNotIn("127.0.0.1:", json.dumps([ln for ln in lines
                                                   if ln.get("event") != "relay.ready"]))


if __name__ == "__main__":
    unittest.main()
