"""What a hostile or merely slow control client can do to the others
(issue 9, findings 1, 4 and 12).

- A subscriber that stops reading is cut off while events flow; every other
  subscriber still gets every event (contiguous `seq`), and GLib reports no
  misuse on stderr (finding 4).
"""
import os
import socket
import subprocess
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


def read_until_reply(client, id):
    """The events `client` receives before the reply to request `id`."""
    events = []
    while True:
        msg = client.read_line()
        if msg.get("id") == id and "method" not in msg:
            return events
        events.append(msg)


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
