"""Every method of the control protocol's table, happy paths and their clear
errors, over the Unix socket and over mutual TLS (PROTOCOL.md, "Methods").

Each case also checks that what it did not touch is unaffected afterwards.
The media methods (peer.publish/subscribe/answer/candidate) are checked only
for the validation of their scope and params: what they answer for a valid
peer belongs to the media plane.
"""
import unittest

from harness import Relay, reason

APP_CODES = range(-32099, -32000 + 1)


class Base:
    """Cases shared by both transports; subclasses set `tls` and `connect`."""

    tls = False

    @classmethod
    def setUpClass(cls):
        cls.relay = Relay(tls=cls.tls)

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def connect(self):
        raise NotImplementedError

    def setUp(self):
        self.c = self.connect()
        self.addCleanup(self.c.close)
        self.prefix = ("tls-" if self.tls else "unix-") + self._testMethodName[5:]

    # helpers

    def ok(self, method, params=None, client=None):
        reply = (client or self.c).call(method, params)
        self.assertIn("result", reply, f"{method} {params}: {reply}")
        self.assertEqual(reply["jsonrpc"], "2.0")
        return reply["result"]

    def fails(self, method, params, want_reason, client=None):
        reply = (client or self.c).call(method, params)
        self.assertIn("error", reply, f"{method} {params}: {reply}")
        err = reply["error"]
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"])
        self.assertIn(err["code"], APP_CODES, reply)
        self.assertEqual(err["data"]["reason"], want_reason, reply)
        return err

    def invalid(self, method, params, field):
        reply = self.c.call(method, params)
        self.assertIn("error", reply, f"{method} {params}: {reply}")
        self.assertEqual(reply["error"]["code"], -32602, reply)
        self.assertIn(field, reply["error"]["message"], reply)
        return reply["error"]

    def peers(self, tenant, bubble):
        info = self.ok("bubble.info", {"tenant": tenant, "bubble": bubble})
        return {p["peer"]: p for p in info["peers"]}

    # cases

    def test_relay_info(self):
        info = self.ok("relay.info")
        self.assertIsInstance(info["version"], str)
        self.assertTrue(info["version"])
        self.assertIsInstance(info["epoch"], int)
        self.assertEqual(info["workers"], 2)
        self.assertIs(info["draining"], False)
        self.assertIsInstance(info["uptime_s"], int)
        self.assertGreaterEqual(info["uptime_s"], 0)
        again = self.ok("relay.info")
        self.assertEqual(again["epoch"], info["epoch"])
        self.assertGreaterEqual(again["uptime_s"], info["uptime_s"])

    def test_tenant_create_delete(self):
        t = self.prefix
        self.assertEqual(self.ok("tenant.create", {"tenant": t}), {"tenant": t})
        self.fails("tenant.create", {"tenant": t}, "exists")
        t2 = t + "-limited"
        limits = {"max_bubbles": 3, "max_peers": 7, "max_kbps": 2500}
        self.assertEqual(self.ok("tenant.create", {"tenant": t2, "limits": limits}),
                         {"tenant": t2})
        stats = self.ok("stats.get", {"tenant": t2})
        self.assertEqual(stats["limits"], limits)
        self.assertEqual(self.ok("tenant.delete", {"tenant": t}), {})
        self.fails("tenant.delete", {"tenant": t}, "not_found")
        self.fails("stats.get", {"tenant": t}, "not_found")
        # The other tenant is untouched and the name can be reused.
        self.assertEqual(self.ok("stats.get", {"tenant": t2})["limits"], limits)
        self.ok("tenant.create", {"tenant": t})
        self.assertEqual(self.ok("stats.get", {"tenant": t})["bubbles"], 0)

    def test_bubble_create_info_delete(self):
        t, b = self.prefix, "room-1"
        self.fails("bubble.create", {"tenant": t, "bubble": b}, "not_found")
        self.ok("tenant.create", {"tenant": t})
        self.assertEqual(self.ok("bubble.create", {"tenant": t, "bubble": b}),
                         {"tenant": t, "bubble": b})
        self.fails("bubble.create", {"tenant": t, "bubble": b}, "exists")
        self.ok("bubble.create", {"tenant": t, "bubble": "room-2"})
        self.assertEqual(self.ok("bubble.info", {"tenant": t, "bubble": b}), {"peers": []})
        self.fails("bubble.info", {"tenant": t, "bubble": "nope"}, "not_found")
        self.fails("bubble.info", {"tenant": t + "-nope", "bubble": b}, "not_found")
        self.ok("peer.join", {"tenant": t, "bubble": b, "peer": "alice"})
        self.assertEqual(self.ok("bubble.delete", {"tenant": t, "bubble": b}), {})
        self.fails("bubble.info", {"tenant": t, "bubble": b}, "not_found")
        self.fails("bubble.delete", {"tenant": t, "bubble": b}, "not_found")
        self.fails("peer.leave", {"tenant": t, "bubble": b, "peer": "alice"}, "not_found")
        # The sibling bubble and the tenant's counters are as they should be.
        self.assertEqual(self.ok("bubble.info", {"tenant": t, "bubble": "room-2"}),
                         {"peers": []})
        stats = self.ok("stats.get", {"tenant": t})
        self.assertEqual((stats["bubbles"], stats["peers"]), (1, 0))

    def test_peer_join_leave(self):
        t, b = self.prefix, "room"
        self.ok("tenant.create", {"tenant": t})
        self.ok("bubble.create", {"tenant": t, "bubble": b})
        scope = {"tenant": t, "bubble": b}
        self.assertEqual(self.ok("peer.join", {**scope, "peer": "listener", "publish": False}), {})
        self.assertEqual(self.ok("peer.join", {**scope, "peer": "speaker", "publish": True}), {})
        self.assertEqual(self.ok("peer.join", {**scope, "peer": "default"}), {})
        self.fails("peer.join", {**scope, "peer": "speaker"}, "exists")
        self.invalid("peer.join", {**scope, "peer": "x", "publish": "yes"}, "publish")
        self.fails("peer.join", {"tenant": t, "bubble": "nope", "peer": "x"}, "not_found")
        self.fails("peer.join", {"tenant": t + "-nope", "bubble": b, "peer": "x"}, "not_found")
        peers = self.peers(t, b)
        self.assertEqual(set(peers), {"listener", "speaker", "default"})
        self.assertIs(peers["listener"]["publish"], False)
        self.assertIs(peers["speaker"]["publish"], True)
        self.assertIs(peers["default"]["publish"], True)
        for p in peers.values():
            self.assertIsInstance(p["state"], str)
            self.assertIsInstance(p["tracks"], list)
        self.assertEqual(self.ok("peer.leave", {**scope, "peer": "speaker"}), {})
        self.fails("peer.leave", {**scope, "peer": "speaker"}, "not_found")
        self.assertEqual(set(self.peers(t, b)), {"listener", "default"})
        # Leaving frees the name.
        self.ok("peer.join", {**scope, "peer": "speaker", "publish": False})
        self.assertIs(self.peers(t, b)["speaker"]["publish"], False)
        self.assertEqual(self.ok("stats.get", {**scope})["peers"], 3)

    def test_tenant_delete_ends_its_bubbles(self):
        t, other = self.prefix, self.prefix + "-other"
        for tenant in (t, other):
            self.ok("tenant.create", {"tenant": tenant})
            for b in ("b1", "b2"):
                self.ok("bubble.create", {"tenant": tenant, "bubble": b})
                self.ok("peer.join", {"tenant": tenant, "bubble": b, "peer": "p"})
        self.assertEqual(self.ok("tenant.delete", {"tenant": t}), {})
        for b in ("b1", "b2"):
            self.fails("bubble.info", {"tenant": t, "bubble": b}, "not_found")
            self.fails("peer.leave", {"tenant": t, "bubble": b, "peer": "p"}, "not_found")
            self.assertEqual(set(self.peers(other, b)), {"p"})
        # Recreated, the tenant starts empty.
        self.ok("tenant.create", {"tenant": t})
        stats = self.ok("stats.get", {"tenant": t})
        self.assertEqual((stats["bubbles"], stats["peers"]), (0, 0))
        self.fails("bubble.info", {"tenant": t, "bubble": "b1"}, "not_found")

    def test_stats_scopes(self):
        t = self.prefix
        self.ok("tenant.create", {"tenant": t})
        self.ok("bubble.create", {"tenant": t, "bubble": "b"})
        self.ok("bubble.create", {"tenant": t, "bubble": "c"})
        for p in ("p1", "p2"):
            self.ok("peer.join", {"tenant": t, "bubble": "b", "peer": p})
        self.ok("peer.join", {"tenant": t, "bubble": "c", "peer": "p1"})
        counters = ("packets_in", "bytes_in", "packets_out", "bytes_out")

        relay = self.ok("stats.get")
        for k in counters + ("peers", "bubbles", "tenants"):
            self.assertIsInstance(relay[k], int, k)
        self.assertIsInstance(relay["drops"], dict)
        self.assertGreaterEqual(relay["peers"], 3)
        self.assertGreaterEqual(relay["bubbles"], 2)
        self.assertGreaterEqual(relay["tenants"], 1)
        # Empty params mean no params. The workers' live figures (loop lag,
        # CPU) may move between the two calls; everything else may not.
        without_workers = lambda r: {k: v for k, v in r.items() if k != "workers"}
        self.assertEqual(without_workers(self.ok("stats.get", {})),
                         without_workers(self.ok("stats.get")))

        tenant = self.ok("stats.get", {"tenant": t})
        self.assertEqual((tenant["bubbles"], tenant["peers"]), (2, 3))
        for k in counters:
            self.assertIsInstance(tenant[k], int, k)
        self.assertIsInstance(tenant["drops"], dict)

        bubble = self.ok("stats.get", {"tenant": t, "bubble": "b"})
        self.assertEqual(bubble["peers"], 2)
        for k in counters:
            self.assertIsInstance(bubble[k], int, k)
        self.assertIsInstance(bubble["drops"], dict)

        self.fails("stats.get", {"tenant": t + "-nope"}, "not_found")
        self.fails("stats.get", {"tenant": t, "bubble": "nope"}, "not_found")
        self.invalid("stats.get", {"bubble": "b"}, "tenant")
        self.invalid("stats.get", {"tenant": 3}, "tenant")
        self.assertEqual(self.ok("stats.get", {"tenant": t, "bubble": "c"})["peers"], 1)

    def test_media_methods_validate_their_scope(self):
        t, b = self.prefix, "room"
        self.ok("tenant.create", {"tenant": t})
        self.ok("bubble.create", {"tenant": t, "bubble": b})
        self.ok("peer.join", {"tenant": t, "bubble": b, "peer": "alice"})
        extra = {
            "peer.publish": {"offer": "v=0\r\n"},
            "peer.subscribe": {},
            "peer.answer": {"answer": "v=0\r\n", "revision": 1},
            "peer.candidate": {"transport": "publish", "candidate": None},
        }
        good = {"tenant": t, "bubble": b, "peer": "alice"}
        for method, more in extra.items():
            with self.subTest(method=method):
                for scope in ({**good, "tenant": t + "-nope"}, {**good, "bubble": "nope"},
                              {**good, "peer": "bob"}):
                    self.fails(method, {**scope, **more}, "not_found")
                for field in ("tenant", "bubble", "peer"):
                    params = {**good, **more}
                    del params[field]
                    self.invalid(method, params, field)
                    self.invalid(method, {**params, field: "bad id"}, field)
                    self.invalid(method, {**params, field: 7}, field)
                for field in more:
                    params = {**good, **more}
                    del params[field]
                    self.invalid(method, params, field)
                # A valid scope gets an answer (whatever the media plane says).
                reply = self.c.call(method, {**good, **more})
                self.assertTrue("result" in reply or "error" in reply, reply)
        self.invalid("peer.publish", {**good, "offer": 5}, "offer")
        self.invalid("peer.answer", {**good, "answer": "v=0\r\n", "revision": "1"}, "revision")
        self.invalid("peer.answer", {**good, "answer": "v=0\r\n", "revision": -1}, "revision")
        self.invalid("peer.candidate", {**good, "transport": "both", "candidate": None},
                     "transport")
        self.invalid("peer.candidate", {**good, "transport": "publish", "candidate": 5},
                     "candidate")
        # The peer and its bubble are still there.
        self.assertEqual(set(self.peers(t, b)), {"alice"})

    def test_prefer_and_configure_validate(self):
        """peer.prefer, bubble.configure and bubble.create's last_n (issue 8,
        item 4): scope, params, and what they leave untouched."""
        t, b = self.prefix, "room"
        self.ok("tenant.create", {"tenant": t})
        self.ok("bubble.create", {"tenant": t, "bubble": b, "last_n": 3})
        for peer in ("alice", "bob"):
            self.ok("peer.join", {"tenant": t, "bubble": b, "peer": peer})
        good = {"tenant": t, "bubble": b, "peer": "bob", "publisher": "alice"}
        # Happy paths: every field, each alone, none.
        self.ok("peer.prefer", {**good, "paused": True})
        self.ok("peer.prefer", {**good, "paused": False, "max_height": 360, "max_fps": 15})
        self.ok("peer.prefer", {**good, "max_height": 65535, "max_fps": 1})
        self.ok("peer.prefer", good)
        self.ok("peer.prefer", {**good, "peer": "alice"})  # oneself: harmless
        self.ok("bubble.configure", {"tenant": t, "bubble": b, "last_n": 0})
        self.ok("bubble.configure", {"tenant": t, "bubble": b, "last_n": 64})
        # Scope and existence.
        for scope in ({**good, "tenant": t + "-nope"}, {**good, "bubble": "nope"},
                      {**good, "peer": "carol"}, {**good, "publisher": "carol"}):
            self.fails("peer.prefer", scope, "not_found")
        err = self.fails("peer.prefer", {**good, "track": "camera"}, "not_found")
        self.assertIn("track", err["message"])
        self.fails("bubble.configure", {"tenant": t, "bubble": "nope", "last_n": 1}, "not_found")
        for field in ("tenant", "bubble", "peer", "publisher"):
            params = dict(good)
            del params[field]
            self.invalid("peer.prefer", params, field)
            self.invalid("peer.prefer", {**params, field: "bad id"}, field)
            self.invalid("peer.prefer", {**params, field: 7}, field)
        for field, bad in (("paused", "yes"), ("paused", 1), ("max_height", 0),
                           ("max_height", -1), ("max_height", 65536), ("max_height", "360"),
                           ("max_height", 1.5), ("max_fps", 0), ("max_fps", None),
                           ("track", 7), ("track", ""), ("track", "x" * 65)):
            self.invalid("peer.prefer", {**good, field: bad}, field)
        self.invalid("bubble.configure", {"tenant": t, "bubble": b}, "last_n")
        for bad in (-1, 65, "2", 1.5, None, True):
            self.invalid("bubble.configure", {"tenant": t, "bubble": b, "last_n": bad}, "last_n")
            self.invalid("bubble.create", {"tenant": t, "bubble": "other", "last_n": bad},
                         "last_n")
        self.invalid("bubble.configure", {"tenant": t, "last_n": 1}, "bubble")
        # A refused bubble.create created nothing; the peers are still there.
        self.fails("bubble.info", {"tenant": t, "bubble": "other"}, "not_found")
        self.assertEqual(set(self.peers(t, b)), {"alice", "bob"})
        # Preferences go with their peers.
        self.ok("peer.leave", {"tenant": t, "bubble": b, "peer": "alice"})
        self.fails("peer.prefer", good, "not_found")
        self.ok("peer.leave", {"tenant": t, "bubble": b, "peer": "bob"})
        self.ok("bubble.delete", {"tenant": t, "bubble": b})

    def test_unknown_method(self):
        reply = self.c.call("bubble.explode", {"tenant": "x"})
        self.assertEqual(reply["error"]["code"], -32601, reply)
        self.assertIn("bubble.explode", reply["error"]["message"])
        self.ok("relay.info")

    def test_state_belongs_to_no_connection(self):
        t = self.prefix
        with self.connect() as first:
            self.ok("tenant.create", {"tenant": t}, client=first)
            self.ok("bubble.create", {"tenant": t, "bubble": "b"}, client=first)
            self.ok("peer.join", {"tenant": t, "bubble": "b", "peer": "p"}, client=first)
        # The creating connection is gone; another one (and the other
        # transport) manage the same objects.
        self.assertEqual(set(self.peers(t, "b")), {"p"})
        if self.relay.tls_port is not None:
            with (self.relay.unix() if self.tls else self.relay.tls()) as other:
                self.ok("peer.leave", {"tenant": t, "bubble": "b", "peer": "p"}, client=other)
        self.ok("bubble.delete", {"tenant": t, "bubble": "b"})


class UnixMethods(Base, unittest.TestCase):
    tls = False

    def connect(self):
        return self.relay.unix()


class TlsMethods(Base, unittest.TestCase):
    tls = True

    def connect(self):
        return self.relay.tls()


class Drain:
    """relay.drain: no new bubbles (reason draining), existing ones go on, one
    relay.drained event once the last bubble is gone. Irreversible, so each
    case has its own relay."""

    tls = False

    def setUp(self):
        self.relay = Relay(tls=self.tls)
        self.addCleanup(self.relay.close)

    def connect(self):
        return self.relay.tls() if self.tls else self.relay.unix()

    def test_drain(self):
        with self.connect() as c, self.connect() as listener:
            self.assertIn("result", c.call("tenant.create", {"tenant": "acme"}))
            for b in ("b1", "b2"):
                self.assertIn("result", c.call("bubble.create", {"tenant": "acme", "bubble": b}))
            self.assertEqual(listener.call("events.subscribe")["result"], {})
            self.assertEqual(c.call("relay.drain")["result"], {})
            self.assertIs(c.call("relay.info")["result"]["draining"], True)
            err = c.call("bubble.create", {"tenant": "acme", "bubble": "b3"})
            self.assertEqual(reason(err), "draining", err)
            self.assertIn(err["error"]["code"], APP_CODES)
            # Existing calls go on; tenants and peers can still be managed.
            self.assertIn("result", c.call("peer.join", {"tenant": "acme", "bubble": "b1",
                                                         "peer": "late"}))
            self.assertIn("result", c.call("tenant.create", {"tenant": "other"}))
            self.assertEqual(reason(c.call("bubble.create", {"tenant": "other",
                                                             "bubble": "b"})), "draining")
            self.assertIn("result", c.call("relay.drain"))  # again: harmless
            self.assertIn("result", c.call("bubble.delete", {"tenant": "acme", "bubble": "b1"}))
            self.assertIn("result", c.call("bubble.info", {"tenant": "acme", "bubble": "b2"}))
            # Nothing drained yet: the listener's next line is its own reply.
            self.assertEqual(listener.call("relay.info")["result"]["draining"], True)
            self.assertEqual(listener.buf, b"")
            self.assertIn("result", c.call("bubble.delete", {"tenant": "acme", "bubble": "b2"}))
            event = listener.read_line()
            self.assertEqual(event["method"], "relay.drained", event)
            self.assertNotIn("id", event)
            epoch = c.call("relay.info")["result"]["epoch"]
            self.assertEqual(event["params"]["epoch"], epoch)
            self.assertIsInstance(event["params"]["seq"], int)
            # Once: emptying the relay again emits nothing more.
            c.call("tenant.delete", {"tenant": "acme"})
            c.call("tenant.delete", {"tenant": "other"})
            reply = listener.call("relay.info")
            self.assertIn("result", reply)
            self.assertEqual(listener.buf, b"")

    def test_drain_when_already_empty(self):
        with self.connect() as c:
            c.call("events.subscribe")
            c.request("relay.drain")
            lines = [c.read_line(), c.read_line()]
            methods = sorted(m.get("method", "reply") for m in lines)
            self.assertEqual(methods, ["relay.drained", "reply"], lines)


class UnixDrain(Drain, unittest.TestCase):
    tls = False


class TlsDrain(Drain, unittest.TestCase):
    tls = True


class Epoch(unittest.TestCase):
    def test_epoch_changes_at_every_start(self):
        with Relay() as relay:
            epochs = []
            for _ in range(3):
                with relay.unix() as c:
                    epochs.append(c.call("relay.info")["result"]["epoch"])
                    self.assertIn("result", c.call("tenant.create", {"tenant": "x"}))
                self.assertEqual(relay.restart(), 0)
            with relay.unix() as c:
                epochs.append(c.call("relay.info")["result"]["epoch"])
                # A restart starts from an empty state.
                self.assertEqual(reason(c.call("stats.get", {"tenant": "x"})), "not_found")
            self.assertEqual(len(set(epochs)), 4, epochs)


if __name__ == "__main__":
    unittest.main()
