"""Descriptor accounting (issue 9, finding 10): the relay admits media
transports only while its descriptor limit holds them, counting one UDP
socket per address it really binds, and keeps a margin for transports its
workers are still closing.

- test_admission_stops_before_the_limit: under a small RLIMIT_NOFILE (soft
  and hard, so the relay cannot raise it), publishes are admitted until one
  is refused with `overloaded` by admission ("descriptor limit"), never by a
  worker that failed to open a socket; the process then holds fewer
  descriptors than the limit minus room for control connections.
- test_churn_at_the_limit: at the limit, rounds of pipelined peer.leave and
  as many new peer.join + peer.publish in one batch: the control thread
  counts the left transports as gone at once, while their worker closes
  their sockets in a later loop phase, after it may have opened the new
  ones. Every new publish succeeds (none fails for want of a descriptor:
  "no media socket could be opened"), and the relay survives (GLib aborts
  when it cannot make an eventfd) with nothing on stderr from GLib.
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
    def start(self):
        self.stderr_path = os.path.join(self.dir, "stderr.txt")

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (N_FILES, N_FILES))
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

    def fill(self):
        """Publishes until admission refuses; returns the admitted peers."""
        admitted = []
        while True:
            peer, reply = self.publish_batch(1)[0]
            if "result" not in reply:
                self.assertEqual(reason(reply), "overloaded", reply)
                self.assertIn("descriptor limit", reply["error"]["message"], reply)
                return admitted
            admitted.append(peer)
            self.assertLess(len(admitted), N_FILES, "never refused")

    def test_admission_stops_before_the_limit(self):
        admitted = self.fill()
        self.assertGreater(len(admitted), 10)
        fds = self.fds()
        print(f"{len(admitted)} transports admitted, {fds} descriptors of {N_FILES}")
        self.assertLess(fds, N_FILES - ROOM)
        self.assertIsNone(self.relay.proc.poll())

    def test_churn_at_the_limit(self):
        admitted = self.fill()
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
        self.assertIsNone(self.relay.proc.poll(), "the relay exited")
        self.assertIn("result", self.c.call("relay.info"))
        self.assertNotIn("GLib", self.relay.stderr())


if __name__ == "__main__":
    unittest.main()
