"""Events (PROTOCOL.md, "Events"): events.subscribe, live events with `seq`
growing by one and `epoch`, the `since` replay and its not_found cases, the
`tenants` filter, and tenant-limited clients.

Until the media plane lands, relay.drained is the one event the relay emits
(once per run); every check below is written over whatever events a session
produces, so it tightens by itself as more events appear.
"""
import unittest

from harness import Relay, fingerprint, make_cert, reason


def limited_client(relay):
    """Config for a TLS client limited to tenants `mine` and `ours`."""
    relay.limited_cert = make_cert(relay.dir, "limited", relay.ca)
    return (f"[client limited]\nfingerprint = {fingerprint(relay.limited_cert[0])}\n"
            "tenants = mine;ours\n")


def session(c):
    """Some activity in tenants `mine` and `theirs`, then a drain that ends
    with relay.drained. Returns nothing; events go to subscribers."""
    for t in ("mine", "theirs"):
        assert "result" in c.call("tenant.create", {"tenant": t})
        assert "result" in c.call("bubble.create", {"tenant": t, "bubble": "b"})
        for p in ("p1", "p2"):
            assert "result" in c.call("peer.join", {"tenant": t, "bubble": "b", "peer": p})
        assert "result" in c.call("peer.leave", {"tenant": t, "bubble": "b", "peer": "p1"})
    assert "result" in c.call("relay.drain")
    for t in ("mine", "theirs"):
        assert "result" in c.call("bubble.delete", {"tenant": t, "bubble": "b"})


def read_until_drained(client):
    """Events read from `client` up to and including relay.drained."""
    events = []
    while True:
        msg = client.read_line()
        assert "id" not in msg, msg
        events.append(msg)
        if msg["method"] == "relay.drained":
            return events


def assert_no_pending_line(test, client):
    """Nothing is queued for `client` before the reply to a fresh request."""
    reply = client.call("relay.info")
    test.assertIn("result", reply)
    test.assertEqual(client.buf, b"")


class Events(unittest.TestCase):
    def setUp(self):
        self.relay = Relay(tls=True, extra_config=limited_client)
        self.addCleanup(self.relay.close)
        self.c = self.relay.unix()
        self.addCleanup(self.c.close)
        self.epoch = self.c.call("relay.info")["result"]["epoch"]

    def subscribe(self, client, params=None):
        reply = client.call("events.subscribe", params)
        self.assertEqual(reply.get("result"), {}, reply)

    def check_events(self, events):
        for e in events:
            self.assertEqual(e["jsonrpc"], "2.0")
            self.assertEqual(e["params"]["epoch"], self.epoch, e)
            self.assertIsInstance(e["params"]["seq"], int)
        seqs = [e["params"]["seq"] for e in events]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), seqs)

    def test_live_events(self):
        with self.relay.unix() as unix_sub, self.relay.tls() as tls_sub, \
                self.relay.unix() as bystander:
            self.subscribe(unix_sub)
            self.subscribe(tls_sub)
            session(self.c)
            live = read_until_drained(unix_sub)
            self.check_events(live)
            self.assertEqual(live[0]["params"]["seq"], 1)  # the first event of the run
            self.assertEqual(read_until_drained(tls_sub), live)
            drained = live[-1]
            self.assertEqual(set(drained["params"]) - {"seq", "epoch"}, set())
            # Subscribers still answer requests; a connection that never
            # subscribed got no event at all.
            assert_no_pending_line(self, unix_sub)
            assert_no_pending_line(self, bystander)

    def test_since_replay(self):
        with self.relay.unix() as live_sub:
            self.subscribe(live_sub)
            session(self.c)
            live = read_until_drained(live_sub)
        last = live[-1]["params"]["seq"]
        # A backend that reconnects gets what it missed, after the reply.
        with self.relay.unix() as again:
            self.subscribe(again, {"since": 0})
            self.assertEqual(read_until_drained(again), live)
            assert_no_pending_line(self, again)
        with self.relay.unix() as again:
            self.subscribe(again, {"since": last - 1, "epoch": self.epoch})
            self.assertEqual(read_until_drained(again), live[-1:])
            assert_no_pending_line(self, again)
        with self.relay.unix() as again:
            self.subscribe(again, {"since": last})
            assert_no_pending_line(self, again)

    def test_since_not_held(self):
        with self.relay.unix() as sub:
            self.subscribe(sub)
            session(self.c)
            last = read_until_drained(sub)[-1]["params"]["seq"]
        for params in ({"since": last + 1}, {"since": 10 ** 12},
                       {"since": 0, "epoch": self.epoch ^ 1}):
            with self.subTest(params=params), self.relay.unix() as again:
                reply = again.call("events.subscribe", params)
                self.assertEqual(reason(reply), "not_found", reply)
                self.assertIn(reply["error"]["code"], range(-32099, -31999))
                # The refused subscriber was not subscribed; it still answers.
                assert_no_pending_line(self, again)
        for params, field in (({"since": -1}, "since"), ({"since": "1"}, "since"),
                              ({"since": 1.5}, "since"), ({"epoch": "x", "since": 0}, "epoch")):
            with self.subTest(params=params):
                reply = self.c.call("events.subscribe", params)
                self.assertEqual(reply["error"]["code"], -32602, reply)
                self.assertIn(field, reply["error"]["message"])

    def test_since_older_than_the_backlog(self):
        # Needs more events than the backlog holds (at least 10,000). Peers
        # joining and leaving are the cheapest events there can be; a relay
        # that emits none for them cannot be driven that far back yet.
        with self.relay.unix() as sub:
            self.subscribe(sub)
            self.c.call("tenant.create", {"tenant": "t", "limits": {"max_peers": 0}})
            self.c.call("bubble.create", {"tenant": "t", "bubble": "b"})
            self.c.call("peer.join", {"tenant": "t", "bubble": "b", "peer": "probe"})
            self.c.call("peer.leave", {"tenant": "t", "bubble": "b", "peer": "probe"})
            self.assertIn("result", sub.call("relay.info"))
            if not sub.buf:
                self.skipTest("the relay emits no event for peer.join/peer.leave yet, so "
                              "more than 10,000 events cannot be produced")
        n = 12000
        for i in range(n):
            self.c.request("peer.join", {"tenant": "t", "bubble": "b", "peer": f"p{i}"})
            self.c.request("peer.leave", {"tenant": "t", "bubble": "b", "peer": f"p{i}"})
        self.assertIn("result", self.c.call("relay.info"))
        with self.relay.unix() as late:
            self.assertEqual(reason(late.call("events.subscribe", {"since": 0})), "not_found")

    def test_tenants_filter(self):
        with self.relay.unix() as everything, self.relay.unix() as only_mine:
            self.subscribe(everything)
            self.subscribe(only_mine, {"tenants": ["mine"]})
            session(self.c)
            all_events = read_until_drained(everything)
            filtered = read_until_drained(only_mine)
            want = [e for e in all_events if e["params"].get("tenant") in (None, "mine")]
            self.assertEqual(filtered, want)
            self.assertEqual(filtered[-1]["method"], "relay.drained")
        with self.relay.unix() as nobody:
            self.subscribe(nobody, {"tenants": [], "since": 0})
            self.assertEqual(read_until_drained(nobody),
                             [e for e in all_events if "tenant" not in e["params"]])

    def test_bad_tenants_param(self):
        for tenants in ("mine", {"mine": 1}, [3], ["bad id"], ["x" * 65], [""]):
            with self.subTest(tenants=tenants):
                reply = self.c.call("events.subscribe", {"tenants": tenants})
                self.assertEqual(reply["error"]["code"], -32602, reply)
                self.assertIn("tenants", reply["error"]["message"])
        assert_no_pending_line(self, self.c)

    def test_tenant_limited_client(self):
        with self.relay.tls(cert=self.relay.limited_cert) as lim:
            for tenants in (["theirs"], ["mine", "theirs"]):
                reply = lim.call("events.subscribe", {"tenants": tenants})
                self.assertEqual(reason(reply), "forbidden", reply)
                self.assertIn(reply["error"]["code"], range(-32099, -31999))
                self.assertIn("result", lim.call("relay.info"))
            with self.relay.tls(cert=self.relay.limited_cert) as lim_all, \
                    self.relay.unix() as everything:
                self.subscribe(lim, {"tenants": ["mine"]})
                self.subscribe(lim_all)
                self.subscribe(everything)
                session(self.c)
                all_events = read_until_drained(everything)
                visible = [e for e in all_events
                           if e["params"].get("tenant") in (None, "mine", "ours")]
                self.assertEqual(read_until_drained(lim_all), visible)
                self.assertEqual(read_until_drained(lim),
                                 [e for e in visible if e["params"].get("tenant") != "ours"])
            # Its replay is filtered the same way.
            with self.relay.tls(cert=self.relay.limited_cert) as late:
                self.subscribe(late, {"since": 0})
                self.assertEqual(read_until_drained(late), visible)


if __name__ == "__main__":
    unittest.main()
