"""Per-tenant quotas (max_bubbles, max_peers -> quota_exceeded) and tenant
scoping: the same bubble and peer names in two tenants are unrelated objects
(PROTOCOL.md, "Identifiers" and the tenant.create row)."""
import unittest

from harness import Relay, reason


class Quotas(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Defaults for tenants created without limits.
        cls.relay = Relay(extra_config="[limits]\nmax_bubbles = 2\nmax_peers = 3\n")

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def setUp(self):
        self.c = self.relay.unix()
        self.addCleanup(self.c.close)

    def ok(self, method, params=None):
        reply = self.c.call(method, params)
        self.assertIn("result", reply, f"{method} {params}: {reply}")
        return reply["result"]

    def quota(self, method, params):
        reply = self.c.call(method, params)
        self.assertEqual(reason(reply), "quota_exceeded", reply)
        self.assertIn(reply["error"]["code"], range(-32099, -31999))
        self.assertTrue(reply["error"]["message"])

    def test_max_bubbles(self):
        self.ok("tenant.create", {"tenant": "mb", "limits": {"max_bubbles": 2}})
        self.ok("tenant.create", {"tenant": "mb-neighbour", "limits": {"max_bubbles": 1}})
        self.ok("bubble.create", {"tenant": "mb", "bubble": "b1"})
        self.ok("bubble.create", {"tenant": "mb", "bubble": "b2"})
        self.quota("bubble.create", {"tenant": "mb", "bubble": "b3"})
        # The refusal changed nothing, here or next door.
        self.fails_not_found("bubble.info", {"tenant": "mb", "bubble": "b3"})
        self.assertEqual(self.ok("stats.get", {"tenant": "mb"})["bubbles"], 2)
        self.ok("bubble.create", {"tenant": "mb-neighbour", "bubble": "b1"})
        self.quota("bubble.create", {"tenant": "mb-neighbour", "bubble": "b2"})
        # Deleting one makes room again.
        self.ok("bubble.delete", {"tenant": "mb", "bubble": "b1"})
        self.ok("bubble.create", {"tenant": "mb", "bubble": "b3"})
        self.quota("bubble.create", {"tenant": "mb", "bubble": "b4"})

    def test_max_peers_over_all_bubbles(self):
        self.ok("tenant.create", {"tenant": "mp", "limits": {"max_peers": 3}})
        self.ok("bubble.create", {"tenant": "mp", "bubble": "b1"})
        self.ok("bubble.create", {"tenant": "mp", "bubble": "b2"})
        self.ok("peer.join", {"tenant": "mp", "bubble": "b1", "peer": "p1"})
        self.ok("peer.join", {"tenant": "mp", "bubble": "b1", "peer": "p2"})
        self.ok("peer.join", {"tenant": "mp", "bubble": "b2", "peer": "p1", "publish": False})
        self.quota("peer.join", {"tenant": "mp", "bubble": "b2", "peer": "p2"})
        self.quota("peer.join", {"tenant": "mp", "bubble": "b1", "peer": "p3", "publish": False})
        info = self.ok("bubble.info", {"tenant": "mp", "bubble": "b2"})
        self.assertEqual([p["peer"] for p in info["peers"]], ["p1"])
        self.assertEqual(self.ok("stats.get", {"tenant": "mp"})["peers"], 3)
        # Leaving, or deleting a bubble, frees places.
        self.ok("peer.leave", {"tenant": "mp", "bubble": "b1", "peer": "p1"})
        self.ok("peer.join", {"tenant": "mp", "bubble": "b2", "peer": "p2"})
        self.quota("peer.join", {"tenant": "mp", "bubble": "b2", "peer": "p3"})
        self.ok("bubble.delete", {"tenant": "mp", "bubble": "b2"})
        self.ok("peer.join", {"tenant": "mp", "bubble": "b1", "peer": "p3"})
        self.ok("peer.join", {"tenant": "mp", "bubble": "b1", "peer": "p4"})
        self.quota("peer.join", {"tenant": "mp", "bubble": "b1", "peer": "p5"})

    def test_config_defaults_apply(self):
        self.ok("tenant.create", {"tenant": "dflt"})
        limits = self.ok("stats.get", {"tenant": "dflt"})["limits"]
        self.assertEqual((limits["max_bubbles"], limits["max_peers"]), (2, 3))
        self.ok("bubble.create", {"tenant": "dflt", "bubble": "a"})
        self.ok("bubble.create", {"tenant": "dflt", "bubble": "b"})
        self.quota("bubble.create", {"tenant": "dflt", "bubble": "c"})
        for p in ("x", "y", "z"):
            self.ok("peer.join", {"tenant": "dflt", "bubble": "a", "peer": p})
        self.quota("peer.join", {"tenant": "dflt", "bubble": "b", "peer": "x"})

    def test_zero_means_unlimited(self):
        self.ok("tenant.create", {"tenant": "unl", "limits": {"max_bubbles": 0, "max_peers": 0}})
        for i in range(10):
            self.ok("bubble.create", {"tenant": "unl", "bubble": f"b{i}"})
            self.ok("peer.join", {"tenant": "unl", "bubble": f"b{i}", "peer": "p"})
        self.assertEqual(self.ok("stats.get", {"tenant": "unl"})["peers"], 10)

    def test_bad_limits(self):
        for limits, field in (([], "limits"), ("10", "limits"),
                              ({"max_bubbles": -1}, "max_bubbles"),
                              ({"max_peers": "5"}, "max_peers"),
                              ({"max_kbps": 1.5}, "max_kbps"),
                              ({"max_bubbles": 2 ** 32}, "max_bubbles")):
            with self.subTest(limits=limits):
                reply = self.c.call("tenant.create", {"tenant": "badlim", "limits": limits})
                self.assertEqual(reply["error"]["code"], -32602, reply)
                self.assertIn(field, reply["error"]["message"])
        self.fails_not_found("stats.get", {"tenant": "badlim"})

    def test_same_names_in_two_tenants_are_unrelated(self):
        for t in ("red", "blue"):
            self.ok("tenant.create", {"tenant": t, "limits": {"max_bubbles": 1, "max_peers": 1}})
            self.ok("bubble.create", {"tenant": t, "bubble": "lobby"})
            self.ok("peer.join", {"tenant": t, "bubble": "lobby", "peer": "ann",
                                  "publish": t == "red"})
        red = self.ok("bubble.info", {"tenant": "red", "bubble": "lobby"})["peers"]
        blue = self.ok("bubble.info", {"tenant": "blue", "bubble": "lobby"})["peers"]
        self.assertEqual([(p["peer"], p["publish"]) for p in red], [("ann", True)])
        self.assertEqual([(p["peer"], p["publish"]) for p in blue], [("ann", False)])
        # Leaving one peer leaves its namesake.
        self.ok("peer.leave", {"tenant": "red", "bubble": "lobby", "peer": "ann"})
        self.assertEqual(self.ok("bubble.info", {"tenant": "red", "bubble": "lobby"}),
                         {"peers": []})
        blue = self.ok("bubble.info", {"tenant": "blue", "bubble": "lobby"})["peers"]
        self.assertEqual([p["peer"] for p in blue], ["ann"])
        # Each tenant's quota counts its own objects only.
        self.ok("peer.join", {"tenant": "red", "bubble": "lobby", "peer": "bob"})
        self.quota("peer.join", {"tenant": "blue", "bubble": "lobby", "peer": "bob"})
        # Deleting one bubble leaves its namesake.
        self.ok("bubble.delete", {"tenant": "red", "bubble": "lobby"})
        self.fails_not_found("bubble.info", {"tenant": "red", "bubble": "lobby"})
        blue = self.ok("bubble.info", {"tenant": "blue", "bubble": "lobby"})["peers"]
        self.assertEqual([p["peer"] for p in blue], ["ann"])
        self.ok("bubble.create", {"tenant": "red", "bubble": "lobby"})
        self.assertEqual(self.ok("bubble.info", {"tenant": "red", "bubble": "lobby"}),
                         {"peers": []})
        # Deleting a whole tenant leaves the other.
        self.ok("tenant.delete", {"tenant": "blue"})
        self.assertEqual(self.ok("bubble.info", {"tenant": "red", "bubble": "lobby"}),
                         {"peers": []})
        self.fails_not_found("bubble.info", {"tenant": "blue", "bubble": "lobby"})

    def fails_not_found(self, method, params):
        reply = self.c.call(method, params)
        self.assertEqual(reason(reply), "not_found", reply)


if __name__ == "__main__":
    unittest.main()
