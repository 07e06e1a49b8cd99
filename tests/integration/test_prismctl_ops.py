"""prismctl as an operator uses it (issue 11, items 7 and 8; docs/operations.md):
- `--table` prints list results (bubble.info's peers, stats.get) as columns;
- `--connect HOST:PORT --cert --key --ca` reaches the relay over its
  mutual-TLS control listener (certificates from deploy/make-certs.sh, via the
  harness), and is refused with a certificate from another CA or the wrong CA;
- `top` prints plain snapshots when stdout is not a terminal: workers,
  tenants and bubbles, with bubbles learnt from events or named by --bubble;
  a tenant-limited client gets dashes for what it may not see; on a
  terminal (a pty) it paints the alternate screen and `q` quits;
- `drain --wait` exits 0 once the relay holds no bubble (at once when already
  empty) and 3 when its --deadline passes first;
- the bash completion offers the commands, the relay's methods (from
  `prismctl --list-methods`, the relay's own table, which must match
  docs/signaling.md's methods) and exactly the options `--help` lists.
A call with media through top is in test_prismctl_top_call.py (aiortc).
"""
import json
import os
import pty
import re
import select
import subprocess
import time
import unittest

from harness import PRISMCTL, Relay, fingerprint, make_ca, make_cert

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPLETION = os.path.join(ROOT, "signaling", "prismctl.bash-completion")
SIGNALING_MD = os.path.join(ROOT, "docs", "signaling.md")
OFFER = os.path.join(ROOT, "tests", "data", "sdp", "chromium-audio-offer.sdp")
WAIT_S = 60


def run(*args, timeout=60):
    p = subprocess.run([PRISMCTL, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def tables(text):
    """Plain top output -> {first header word: [row dicts]} for each table of
    the LAST frame (frames start with a line "prism ...")."""
    frame = text[text.rindex("prism "):]
    out = {}
    for block in frame.split("\n\n")[1:]:
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        head = lines[0].split()
        out[head[0]] = [dict(zip(head, ln.split())) for ln in lines[1:]]
    return out


class Table(unittest.TestCase):
    def test_table(self):
        with Relay() as relay:
            relay.ctl("tenant.create", '{"tenant":"acme"}')
            relay.ctl("bubble.create", '{"tenant":"acme","bubble":"standup"}')
            relay.ctl("peer.join", '{"tenant":"acme","bubble":"standup","peer":"alice"}')
            relay.ctl("peer.join",
                      '{"tenant":"acme","bubble":"standup","peer":"bob","publish":false}')
            rc, out, err = relay.ctl("--table", "bubble.info",
                                     '{"tenant":"acme","bubble":"standup"}')
            self.assertEqual((rc, err), (0, ""))
            lines = out.splitlines()
            self.assertEqual(lines[0], "peers:")
            self.assertEqual(lines[1].split(),
                             ["PEER", "PUBLISH", "STATE", "PUBLISH_STATE", "SUBSCRIBE_STATE",
                              "TRACKS"])
            self.assertEqual([ln.split() for ln in lines[2:]],
                             [["alice", "true", "new", "new", "new"],
                              ["bob", "false", "new", "new", "new"]])
            # Columns are aligned: every header starts where its cells do.
            col = lines[1].index("STATE ")
            self.assertEqual({ln[col:col + 3] for ln in lines[2:]}, {"new"})
            rc, out, _ = relay.ctl("--table", "stats.get")
            pairs_text, workers_text = out.split("\n\n")
            pairs = dict(ln.split() for ln in pairs_text.splitlines())
            self.assertEqual((rc, pairs["KEY"], pairs["tenants"], pairs["bubbles"]),
                             (0, "VALUE", "1", "1"))
            self.assertEqual(pairs["drops.srtp_auth"], "0")
            # The per-worker list is a table of its own, under its name.
            lines = workers_text.splitlines()
            self.assertEqual(lines[0], "workers:")
            self.assertEqual(lines[1].split(),
                             ["WORKER", "BUBBLES", "TRANSPORTS", "LOOP_LAG_MS", "CPU_S",
                              "RELAY_DELAY.DATAGRAMS", "RELAY_DELAY.P50_MS",
                              "RELAY_DELAY.P99_MS"])
            self.assertEqual([ln.split()[0] for ln in lines[2:]], ["0", "1"])
            # Errors stay JSON on stderr; --table makes no sense for events.
            rc, out, err = relay.ctl("--table", "bubble.info", '{"tenant":"acme","bubble":"x"}')
            self.assertEqual((rc, out, json.loads(err)["data"]["reason"]), (1, "", "not_found"))
            self.assertEqual(relay.ctl("--table", "events")[0], 2)


def limited_client(relay):
    relay.limited_cert = make_cert(relay.dir, "limited", relay.ca)
    return f"[client limited]\nfingerprint = {fingerprint(relay.limited_cert[0])}\ntenants = acme\n"


class Connect(unittest.TestCase):
    def setUp(self):
        self.relay = Relay(tls=True, extra_config=limited_client)
        self.addCleanup(self.relay.close)

    def tls_args(self, cert=None, ca=None):
        cert = cert or self.relay.client_cert
        return ["--connect", f"127.0.0.1:{self.relay.tls_port}", "--cert", cert[0],
                "--key", cert[1], "--ca", ca or self.relay.ca[0]]

    def test_methods_over_tls(self):
        epoch = json.loads(self.relay.ctl("relay.info")[1])["epoch"]
        rc, out, err = run(*self.tls_args(), "relay.info")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(json.loads(out)["epoch"], epoch)
        rc, out, _ = run(*self.tls_args(), "tenant.create", '{"tenant":"acme"}')
        self.assertEqual((rc, json.loads(out)), (0, {"tenant": "acme"}))
        rc, out, _ = run(*self.tls_args(), "--table", "stats.get", '{"tenant":"acme"}')
        self.assertEqual(rc, 0)
        self.assertIn("limits.max_bubbles", out)
        # Options may also follow top and drain.
        rc, out, err = run("top", "--once", "--interval", "0.2", *self.tls_args())
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith(f"prism 0.1.0  epoch {epoch}"), out)
        # Errors keep their meaning: exit 1 with the error on stderr.
        rc, out, err = run(*self.tls_args(), "tenant.create", '{"tenant":"acme"}')
        self.assertEqual((rc, json.loads(err)["data"]["reason"]), (1, "exists"))

    def test_refused(self):
        d = self.relay.dir
        other_ca = make_ca(d, "other-ca")
        stranger = make_cert(d, "stranger", other_ca)
        for args, why in ((self.tls_args(cert=stranger), "certificate from another CA"),
                          (self.tls_args(ca=other_ca[0]), "relay not signed by --ca")):
            with self.subTest(why):
                rc, out, err = run(*args, "relay.info")
                self.assertEqual((rc, out), (2, ""), err)
                self.assertIn("TLS", err)
        for args in (["--connect", f"127.0.0.1:{self.relay.tls_port}", "relay.info"],
                     ["--connect", "127.0.0.1", "--cert", "a", "--key", "b", "--ca", "c",
                      "relay.info"],
                     ["--cert", self.relay.client_cert[0], "relay.info"],
                     ["--control", self.relay.sock, *self.tls_args(), "relay.info"]):
            with self.subTest(args=args):
                rc, _, err = run(*args)
                self.assertEqual(rc, 2)
                self.assertTrue(err)
        rc, _, err = run(*self.tls_args(cert=(self.relay.client_cert[0], "/nonexistent")),
                         "relay.info")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent", err)
        # HOST:PORT forms: [IPV6]:PORT is parsed (nothing listens there), a bare
        # IPv6 address is a usage error.
        key = ["--cert", self.relay.client_cert[0], "--key", self.relay.client_cert[1],
               "--ca", self.relay.ca[0]]
        rc, _, err = run("--connect", f"[::1]:{self.relay.tls_port}", *key, "relay.info")
        self.assertEqual(rc, 2)
        self.assertIn(f"cannot connect to [::1]:{self.relay.tls_port}", err)
        rc, _, err = run("--connect", f"::1:{self.relay.tls_port}", *key, "relay.info")
        self.assertEqual(rc, 2)
        self.assertIn("wants HOST:PORT", err)
        # Nothing listens on this port.
        port = self.relay.tls_port
        self.relay.stop()
        rc, _, err = run(*self.tls_args(), "relay.info")
        self.assertEqual(rc, 2)
        self.assertIn(f"127.0.0.1:{port}", err)
        self.relay.start()

    def test_limited_client(self):
        run(*self.tls_args(), "tenant.create", '{"tenant":"acme"}')
        run(*self.tls_args(), "bubble.create", '{"tenant":"acme","bubble":"b"}')
        limited = self.tls_args(cert=self.relay.limited_cert)
        rc, out, err = run(*limited, "top", "--once", "--interval", "0.2", "--bubble", "acme/b")
        self.assertEqual(rc, 0, err)
        self.assertIn("tenants -  bubbles -  peers -", out)
        t = tables(out)
        self.assertEqual([(r["TENANT"], r["BUBBLES"]) for r in t["TENANT"]], [("acme", "1")])
        self.assertEqual([r["BUBBLE"] for r in t["BUBBLE"]], ["acme/b"])
        # relay.drain is for unrestricted clients: exit 1, the error on stderr.
        rc, out, err = run(*limited, "drain", "--wait")
        self.assertEqual((rc, out, json.loads(err)["data"]["reason"]), (1, "", "forbidden"))


class Top(unittest.TestCase):
    def setUp(self):
        self.relay = Relay(args=["--media-ip", "127.0.0.1"])
        self.addCleanup(self.relay.close)
        for t in ("acme", "globex"):
            self.relay.ctl("tenant.create", json.dumps({"tenant": t}))
        for b in ("standup", "retro"):
            self.relay.ctl("bubble.create", json.dumps({"tenant": "acme", "bubble": b}))
            self.relay.ctl("peer.join", json.dumps({"tenant": "acme", "bubble": b, "peer": "al"}))
        self.relay.ctl("peer.join", '{"tenant":"acme","bubble":"standup","peer":"bo"}')

    def top(self, *args):
        p = subprocess.run([PRISMCTL, "--control", self.relay.sock, "top", "--interval", "0.3",
                            *args], capture_output=True, text=True, timeout=WAIT_S)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("\x1b", p.stdout)  # not a terminal: no escapes
        return p.stdout

    def test_named_bubbles(self):
        out = self.top("--once", "--bubble", "acme/standup", "--tenant", "globex")
        self.assertEqual(out.count("\nprism ") + out.startswith("prism "), 1, out)
        info = json.loads(self.relay.ctl("relay.info")[1])
        self.assertIn(f"epoch {info['epoch']}  ", out)
        self.assertIn("workers 2  draining no", out)
        self.assertIn("tenants 2  bubbles 2  peers 3  ", out)
        self.assertIn("(1 of 2 bubbles shown", out)
        t = tables(out)
        # Per-worker figures (stats.get's workers list): numbers, no dashes.
        self.assertEqual([r["WORKER"] for r in t["WORKER"]], ["0", "1"])
        for r in t["WORKER"]:
            for col in ("BUBBLES", "TRANSPORTS", "LAG_MS", "CPU%"):
                float(r[col])
        self.assertEqual([(r["TENANT"], r["BUBBLES"], r["PEERS"]) for r in t["TENANT"]],
                         [("acme", "2", "3"), ("globex", "0", "0")])
        (row,) = t["BUBBLE"]
        self.assertEqual((row["BUBBLE"], row["PEERS"], row["IN/S"], row["OUT/S"], row["LOSS%"],
                          row["DROPS/S"], row["SPEAKER"]),
                         ("acme/standup", "2", "0", "0", "-", "0", "-"))

    def test_bubbles_from_events_and_iterations(self):
        # A publish makes a peer.state event naming its bubble: top finds it.
        with open(OFFER, newline="") as f:
            offer = f.read()
        rc, _, err = self.relay.ctl("peer.publish", json.dumps(
            {"tenant": "acme", "bubble": "retro", "peer": "al", "offer": offer}))
        self.assertEqual(rc, 0, err)
        out = self.top("--iterations", "2")
        self.assertEqual(len(re.findall(r"^prism ", out, re.M)), 2, out)
        t = tables(out)
        self.assertEqual([(r["BUBBLE"], r["PEERS"]) for r in t["BUBBLE"]], [("acme/retro", "1")])
        self.assertEqual([r["TENANT"] for r in t["TENANT"]], ["acme"])
        # A deleted bubble disappears; a named one that does not exist is not shown.
        self.relay.ctl("bubble.delete", '{"tenant":"acme","bubble":"retro"}')
        t = tables(self.top("--once", "--bubble", "acme/nope"))
        self.assertNotIn("BUBBLE", t)
        self.assertEqual([r["TENANT"] for r in t["TENANT"]], ["acme"])

    def test_terminal(self):
        """On a terminal: the alternate screen, frames painted in place, q
        quits and the terminal is given back."""
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(PRISMCTL, [PRISMCTL, "--control", self.relay.sock, "top", "--interval",
                                "0.2", "--bubble", "acme/standup"])
        out = b""

        def read_until(pred, what):
            nonlocal out
            deadline = time.monotonic() + WAIT_S
            while not pred(out):
                self.assertLess(time.monotonic(), deadline, (what, out[-400:]))
                if select.select([fd], [], [], 0.1)[0]:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:  # the child closed the terminal
                        break
        try:
            read_until(lambda o: o.count(b"acme/standup") >= 2, "two frames")
            self.assertTrue(out.startswith(b"\x1b[?1049h\x1b[?25l"), out[:40])
            self.assertIn(b"\x1b[H", out)
            os.write(fd, b"q")
            read_until(lambda o: o.endswith(b"\x1b[?25h\x1b[?1049l"), "terminal restored")
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)

    def test_usage(self):
        for args in (["--interval", "0"], ["--interval", "x"], ["--iterations", "0"],
                     ["--bubble", "nobubble"], ["--bubble", "a/b/c"], ["--tenant", "a/b"],
                     ["--tenant", "bad id"], ["--bubble", "acme/"], ["extra"]):
            with self.subTest(args=args):
                rc, _, err = run("--control", self.relay.sock, "top", *args)
                self.assertEqual(rc, 2)
                self.assertTrue(err)


class Drain(unittest.TestCase):
    def setUp(self):
        self.relay = Relay()
        self.addCleanup(self.relay.close)
        self.relay.ctl("tenant.create", '{"tenant":"acme"}')
        self.relay.ctl("bubble.create", '{"tenant":"acme","bubble":"b"}')
        self.relay.ctl("peer.join", '{"tenant":"acme","bubble":"b","peer":"p"}')

    def draining(self):
        return json.loads(self.relay.ctl("relay.info")[1])["draining"]

    def test_wait_until_drained(self):
        p = subprocess.Popen([PRISMCTL, "--control", self.relay.sock, "drain", "--wait",
                              "--deadline", str(WAIT_S)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        deadline = time.monotonic() + WAIT_S
        while not self.draining():
            self.assertLess(time.monotonic(), deadline, "relay.drain never came")
            time.sleep(0.05)
        rc, _, err = self.relay.ctl("bubble.create", '{"tenant":"acme","bubble":"c"}')
        self.assertEqual((rc, json.loads(err)["data"]["reason"]), (1, "draining"))
        time.sleep(0.5)
        self.assertIsNone(p.poll(), "drain --wait returned with a bubble left")
        self.relay.ctl("bubble.delete", '{"tenant":"acme","bubble":"b"}')
        out, err = p.communicate(timeout=WAIT_S)
        self.assertEqual((p.returncode, out), (0, ""), err)
        self.assertIn("1 bubbles, 1 peers left", err)
        self.assertIn("drained", err)
        # Already drained: at once.
        t0 = time.monotonic()
        rc, out, err = self.relay.ctl("drain", "--wait")
        self.assertEqual((rc, out), (0, ""), err)
        self.assertLess(time.monotonic() - t0, 10)

    def test_deadline(self):
        t0 = time.monotonic()
        rc, out, err = self.relay.ctl("drain", "--wait", "--deadline", "1.5")
        self.assertEqual((rc, out), (3, ""), err)
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        self.assertIn("deadline passed with 1 bubbles left", err)
        self.assertTrue(self.draining())

    def test_no_wait_and_usage(self):
        self.assertEqual(self.relay.ctl("drain", "--deadline", "5")[0], 2)
        self.assertEqual(self.relay.ctl("drain", "--deadline", "-1", "--wait")[0], 2)
        self.assertFalse(self.draining())
        rc, out, err = self.relay.ctl("drain")
        self.assertEqual((rc, json.loads(out), err), (0, {}, ""))
        self.assertTrue(self.draining())


def complete(*words):
    """What the bash completion offers for the command line `words` (the last
    one being completed)."""
    script = (f"source {COMPLETION}\n"
              'COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _prismctl\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    p = subprocess.run(["bash", "-c", script, "bash", PRISMCTL, *words], capture_output=True,
                       text=True, timeout=30, check=True)
    return set(p.stdout.split())


class Completion(unittest.TestCase):
    def test_methods_one_list(self):
        rc, out, _ = run("--list-methods")
        methods = out.split()
        self.assertEqual(rc, 0)
        self.assertEqual(len(methods), len(set(methods)))
        # The list is the relay's dispatch table: each is known to the relay...
        with Relay() as relay, relay.unix() as c:
            for m in methods:
                reply = c.call(m, {})
                self.assertNotEqual(reply.get("error", {}).get("code"), -32601, m)
        # ...and is exactly what docs/signaling.md documents as methods.
        with open(SIGNALING_MD) as f:
            documented = {name for line in f if line.startswith("### ")
                          for name in re.findall(r"\b[a-z]+\.[a-z_]+\b", line)}
        self.assertEqual(set(methods), documented)
        self.assertEqual(complete(""), set(methods) | {"events", "top", "drain"})
        self.assertEqual(complete("--control", "/x.sock", "relay."),
                         {"relay.info", "relay.drain"})
        self.assertEqual(complete("relay.info", ""), set())

    def test_options_match_help(self):
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        documented = set(re.findall(r"--[a-z][a-z-]*", out))
        offered = complete("--") | complete("top", "--") | complete("drain", "--")
        self.assertEqual(offered, documented)
        self.assertIn("--interval", complete("--control", "x", "top", "--i"))
        self.assertNotIn("--interval", complete("drain", "--"))
        self.assertEqual(complete("drain", "--w"), {"--wait"})
        self.assertIn(COMPLETION, complete("--cert", COMPLETION[:-3]))


if __name__ == "__main__":
    unittest.main()
