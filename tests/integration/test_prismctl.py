"""prismctl (PROTOCOL.md, "Command line"): one request, the result as JSON on
stdout and exit 0, or the error object on stderr and exit 1; `events` prints
events, one JSON line each, until interrupted."""
import json
import os
import signal
import subprocess
import time
import unittest

from harness import PRISMCTL, Relay

WAIT_S = 60


class Prismctl(unittest.TestCase):
    def setUp(self):
        self.relay = Relay()
        self.addCleanup(self.relay.close)

    def test_result_on_stdout(self):
        rc, out, err = self.relay.ctl("relay.info")
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        info = json.loads(out)
        self.assertEqual(set(info) >= {"version", "epoch", "workers", "draining", "uptime_s"},
                         True, info)
        rc, out, err = self.relay.ctl("tenant.create", '{"tenant":"acme","limits":{"max_peers":2}}')
        self.assertEqual((rc, json.loads(out), err), (0, {"tenant": "acme"}, ""))
        rc, out, _ = self.relay.ctl("bubble.create", '{"tenant":"acme","bubble":"b"}')
        self.assertEqual((rc, json.loads(out)), (0, {"tenant": "acme", "bubble": "b"}))
        rc, out, _ = self.relay.ctl("bubble.info", '{"tenant":"acme","bubble":"b"}')
        self.assertEqual((rc, json.loads(out)), (0, {"peers": []}))
        # The socket path may also come from the environment.
        p = subprocess.run([PRISMCTL, "stats.get", '{"tenant":"acme"}'], capture_output=True,
                           text=True, timeout=30,
                           env={**os.environ, "PRISM_CONTROL": self.relay.sock})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["bubbles"], 1)

    def test_error_on_stderr(self):
        self.relay.ctl("tenant.create", '{"tenant":"acme"}')
        for args, code, why in ((["tenant.create", '{"tenant":"acme"}'], None, "exists"),
                                (["bubble.info", '{"tenant":"acme","bubble":"x"}'], None,
                                 "not_found"),
                                (["bubble.info", '{"tenant":"acme"}'], -32602, None),
                                (["tenant.create", '{"tenant":"bad id"}'], -32602, None),
                                (["no.such.method"], -32601, None)):
            with self.subTest(args=args):
                rc, out, err = self.relay.ctl(*args)
                self.assertEqual(rc, 1, (out, err))
                self.assertEqual(out, "")
                error = json.loads(err)
                self.assertIsInstance(error["message"], str)
                if code is not None:
                    self.assertEqual(error["code"], code)
                if why is not None:
                    self.assertEqual(error["data"]["reason"], why)
                    self.assertIn(error["code"], range(-32099, -31999))
        rc, out, _ = self.relay.ctl("stats.get")
        self.assertEqual((rc, json.loads(out)["tenants"]), (0, 1))

    def test_usage_and_connection_errors(self):
        for args in ([], ["relay.info", "[1]"], ["relay.info", "{bad"], ["a", "{}", "b"]):
            with self.subTest(args=args):
                rc, out, err = self.relay.ctl(*args)
                self.assertNotIn(rc, (0, 1), (out, err))
                self.assertTrue(err)
        p = subprocess.run([PRISMCTL, "--control", os.path.join(self.relay.dir, "nope.sock"),
                            "relay.info"], capture_output=True, text=True, timeout=30)
        self.assertNotIn(p.returncode, (0, 1))
        self.assertIn("nope.sock", p.stderr)
        p = subprocess.run([PRISMCTL, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertIn("events", p.stdout)

    def audited(self, method):
        with open(self.relay.audit) as f:
            return sum(1 for line in f
                       if line.endswith("\n") and json.loads(line)["method"] == method)

    def test_events(self):
        out_path = os.path.join(self.relay.dir, "events.out")
        with open(out_path, "w") as out:
            ev = subprocess.Popen([PRISMCTL, "--control", self.relay.sock, "events"],
                                  stdout=out, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: ev.poll() is None and (ev.kill(), ev.wait()))
        # Live events only: wait until the relay has its subscription.
        deadline = time.monotonic() + WAIT_S
        while self.audited("events.subscribe") < 1:
            self.assertLess(time.monotonic(), deadline, "prismctl events never subscribed")
            self.assertIsNone(ev.poll(), ev.stderr.read() if ev.poll() is not None else "")
            time.sleep(0.05)
        epoch = json.loads(self.relay.ctl("relay.info")[1])["epoch"]
        self.relay.ctl("tenant.create", '{"tenant":"t"}')
        self.relay.ctl("bubble.create", '{"tenant":"t","bubble":"b"}')
        self.assertEqual(self.relay.ctl("relay.drain")[0], 0)
        self.assertEqual(self.relay.ctl("bubble.delete", '{"tenant":"t","bubble":"b"}')[0], 0)

        def lines():
            with open(out_path) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        while not any(e.get("method") == "relay.drained" for e in lines()):
            self.assertLess(time.monotonic(), deadline, "no relay.drained line")
            time.sleep(0.05)
        events = lines()
        for e in events:
            self.assertEqual(e["jsonrpc"], "2.0")
            self.assertNotIn("id", e)
            self.assertEqual(e["params"]["epoch"], epoch)
        seqs = [e["params"]["seq"] for e in events]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        # It runs until interrupted.
        self.assertIsNone(ev.poll())
        ev.send_signal(signal.SIGINT)
        ev.wait(timeout=WAIT_S)
        # And `events {"since":0}` replays what a late listener missed.
        with open(out_path, "w") as out:
            late = subprocess.Popen([PRISMCTL, "--control", self.relay.sock, "events",
                                     '{"since":0}'], stdout=out, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: late.poll() is None and (late.kill(), late.wait()))
        while len(lines()) < len(events):
            self.assertLess(time.monotonic(), deadline + WAIT_S, "no replay")
            time.sleep(0.05)
        self.assertEqual(lines(), events)
        late.terminate()
        late.wait(timeout=WAIT_S)
        # A bad `since` is an error on stderr, exit 1.
        rc, out, err = self.relay.ctl("events", '{"since":999999}')
        self.assertEqual(rc, 1)
        self.assertEqual(json.loads(err)["data"]["reason"], "not_found")


if __name__ == "__main__":
    unittest.main()
