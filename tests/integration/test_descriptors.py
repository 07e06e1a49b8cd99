"""Descriptor accounting (issue 9, finding 10, as issue 10 changed it): a
relay transport holds no descriptor (ICE-lite on its worker's one UDP socket
per media address), so descriptors bound only the relay's fixed set:
control connections, logs, listeners, the workers' loops and media sockets.

- test_transports_beyond_the_limit: under a small RLIMIT_NOFILE (soft and
  hard, so the relay cannot raise it), twice as many publishes as the limit
  are all admitted, and the process holds as many descriptors after them as
  after the first (fewer than the limit minus room for control connections).
- test_churn: rounds of pipelined peer.leave and as many new peer.join +
  peer.publish in one batch: every new publish succeeds, the descriptors
  stay flat, and the relay survives with nothing on stderr from GLib.
- test_refused_below_the_reserve: a limit below what the fixed set needs
  admits no transport: `overloaded`, "descriptor limit", and the relay runs.
"""
import os
import resource
import subprocess
import unittest

import harness
from harness import PRISM, reason
from test_privacy import OFFER

N_FILES = 640  # the relay's RLIMIT_NOFILE, soft and hard
ROOM = 16      # control connections it must still be able to accept


class Relay(harness.Relay):
    def __init__(self, n_files=N_FILES, **kw):
        self.n_files = n_files
        super().__init__(**kw)

    def start(self):
        self.stderr_path = os.path.join(self.dir, "stderr.txt")

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.n_files, self.n_files))
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([PRISM, "--config", self.config, *self.args],
                                         stderr=err, preexec_fn=limit)
        self.wait_ready()

    def stderr(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()


def replies(c, ids):
    """Reads until every id in `ids` has its reply (events skipped)."""
    got = {}
    while len(got) < len(ids):
        msg = c.read_line()
        if "method" not in msg and msg.get("id") in ids:
            got[msg["id"]] = msg
    return got


class Descriptors(unittest.TestCase):
    def setUp(self):
        self.relay = Relay(extra_config=f"[control]\nmax_connections = {ROOM}\n"
                           "[limits]\nmax_peers = 0\n",
                           args=("--media-ip", "127.0.0.1"), workers=2)
        self.addCleanup(self.relay.close)
        self.c = self.relay.unix()
        self.addCleanup(self.c.close)
        self.scope = {"tenant": "t", "bubble": "b"}
        self.assertIn("result", self.c.call("tenant.create", {"tenant": "t"}))
        self.assertIn("result", self.c.call("bubble.create", self.scope))
        self.next_peer = 0

    def fds(self):
        return len(os.listdir(f"/proc/{self.relay.proc.pid}/fd"))

    def publish_batch(self, n, first_ids=()):
        """Joins and publishes `n` new peers in one pipelined batch, after
        requests already sent (`first_ids`, whose replies must succeed);
        returns [(peer, publish reply)]."""
        peers, ids = [], []
        for _ in range(n):
            peer = f"p{self.next_peer}"
            self.next_peer += 1
            p = {**self.scope, "peer": peer}
            ids.append(self.c.request("peer.join", p))
            ids.append(self.c.request("peer.publish", {**p, "offer": OFFER}))
            peers.append(peer)
        got = replies(self.c, set(ids) | set(first_ids))
        for i in list(first_ids) + ids[0::2]:
            self.assertIn("result", got[i], got[i])
        return [(peer, got[i]) for peer, i in zip(peers, ids[1::2])]

    def publish_all(self, n, batch=64):
        """Publishes `n` new peers, `batch` per pipelined round; each must
        succeed. Returns the peers."""
        admitted = []
        while len(admitted) < n:
            for peer, reply in self.publish_batch(min(batch, n - len(admitted))):
                self.assertIn("result", reply, reply)
                admitted.append(peer)
        return admitted

    def test_transports_beyond_the_limit(self):
        self.publish_all(1)
        first = self.fds()
        admitted = self.publish_all(2 * N_FILES)
        fds = self.fds()
        print(f"{len(admitted) + 1} transports admitted, {fds} descriptors of {N_FILES} "
              f"({first} after the first)")
        self.assertEqual(fds, first)
        self.assertLess(fds, N_FILES - ROOM)
        self.assertIsNone(self.relay.proc.poll())

    def test_churn(self):
        admitted = self.publish_all(N_FILES)
        before = self.fds()
        for rnd in range(6):
            k = len(admitted) // 2
            leaving, admitted = admitted[:k], admitted[k:]
            ids = {self.c.request("peer.leave", {**self.scope, "peer": p}) for p in leaving}
            # The new batch goes out before the leaves' replies are read: the
            # worker gets the closes and the opens in one go.
            batch = self.publish_batch(k, ids)
            for peer, reply in batch:
                self.assertIn("result", reply, f"round {rnd}: {reply}")
                admitted.append(peer)
        print(f"{len(admitted)} transports after 6 rounds, {self.fds()} descriptors of {N_FILES}")
        self.assertEqual(self.fds(), before)
        self.assertIsNone(self.relay.proc.poll(), "the relay exited")
        self.assertIn("result", self.c.call("relay.info"))
        self.assertNotIn("GLib", self.relay.stderr())


class BelowTheReserve(unittest.TestCase):
    def test_refused_below_the_reserve(self):
        # Fixed reserve: max_connections + 256 + 40 per worker > 200.
        relay = Relay(n_files=200, extra_config=f"[control]\nmax_connections = {ROOM}\n",
                      args=("--media-ip", "127.0.0.1"), workers=2)
        self.addCleanup(relay.close)
        c = relay.unix()
        self.addCleanup(c.close)
        scope = {"tenant": "t", "bubble": "b", "peer": "p"}
        self.assertIn("result", c.call("tenant.create", {"tenant": "t"}))
        self.assertIn("result", c.call("bubble.create", {"tenant": "t", "bubble": "b"}))
        self.assertIn("result", c.call("peer.join", scope))
        reply = c.call("peer.publish", {**scope, "offer": OFFER})
        self.assertEqual(reason(reply), "overloaded", reply)
        self.assertIn("descriptor limit", reply["error"]["message"], reply)
        self.assertIsNone(relay.proc.poll())


if __name__ == "__main__":
    unittest.main()
