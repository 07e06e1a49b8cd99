"""The `prism` daemon as a program (PROTOCOL.md, "Command line"; issue 2, "The
daemon"): --help and --version, built-in defaults with no arguments, clean
stops on SIGTERM/SIGINT, bad config files, command-line options over the
config file, and SIGHUP reopening the logs and reloading TLS material without
dropping state.
"""
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import PRISM, PRISMCTL, Client, Relay, make_cert, reason

WAIT_S = 60  # generous: a shared, noisy machine


def wait_for(predicate, what, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def log_events(path):
    try:
        with open(path) as f:
            return [json.loads(line)["event"] for line in f if line.strip()]
    except FileNotFoundError:
        return []


def ctl_env():
    env = dict(os.environ)
    env.pop("PRISM_CONTROL", None)
    return env


class Options(unittest.TestCase):
    def test_help_and_version(self):
        for arg in ("--help", "-h"):
            p = subprocess.run([PRISM, arg], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            for option in ("--config", "--control", "--workers", "--media-ports",
                           "--advertise-ip", "--media-ip"):
                self.assertIn(option, p.stdout)
        for arg in ("--version", "-V"):
            p = subprocess.run([PRISM, arg], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"prism \d+\.\d+")

    def test_bad_options(self):
        for args in (["--no-such-option"], ["--workers", "0"], ["--workers", "many"],
                     ["--media-ports", "5-1"], ["--media-ports", "x"], ["stray-argument"],
                     ["--config"]):
            with self.subTest(args=args):
                p = subprocess.run([PRISM, *args], capture_output=True, text=True, timeout=30,
                                   cwd=tempfile.gettempdir())
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("prism", p.stderr)


class Defaults(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="prism-it-defaults-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "w+")
        self.addCleanup(self.stderr.close)

    def start(self):
        proc = subprocess.Popen([PRISM], cwd=self.dir, stderr=self.stderr)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        sock = os.path.join(self.dir, "prism-control.sock")

        def answers():
            self.assertIsNone(proc.poll(), "prism exited")
            p = subprocess.run([PRISMCTL, "relay.info"], cwd=self.dir, capture_output=True,
                               text=True, timeout=30, env=ctl_env())
            return p if p.returncode == 0 else None
        p = wait_for(answers, "relay.info through prismctl on the default socket")
        return proc, sock, json.loads(p.stdout)

    def test_no_arguments_runs_on_defaults(self):
        proc, sock, info = self.start()
        self.assertTrue(os.path.exists(sock))
        self.assertEqual(info["workers"], os.cpu_count())
        self.assertIs(info["draining"], False)
        p = subprocess.run([PRISMCTL, "tenant.create", '{"tenant":"t"}'], cwd=self.dir,
                           capture_output=True, text=True, timeout=30, env=ctl_env())
        self.assertEqual((p.returncode, json.loads(p.stdout)), (0, {"tenant": "t"}))
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=WAIT_S), 0)
        self.assertFalse(os.path.exists(sock), "the socket file was left behind")
        # Its structured log went to stderr.
        self.stderr.seek(0)
        events = [json.loads(line)["event"] for line in self.stderr if line.startswith("{")]
        self.assertIn("relay.ready", events)
        self.assertIn("relay.stopped", events)

    def test_sigint_stops_cleanly(self):
        proc, sock, _ = self.start()
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=WAIT_S), 0)
        self.assertFalse(os.path.exists(sock))

    def test_stop_with_clients_connected(self):
        proc, sock, _ = self.start()
        with Client(sock) as sub, Client(sock) as idle, Client(sock) as half:
            self.assertIn("result", sub.call("events.subscribe"))
            self.assertIn("result", idle.call("relay.info"))
            half.send_raw(b'{"jsonrpc":"2.0","id":1,')
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=WAIT_S), 0)
        self.assertFalse(os.path.exists(sock))

    def test_second_relay_on_a_live_socket_fails(self):
        proc, sock, info = self.start()
        p = subprocess.run([PRISM], cwd=self.dir, capture_output=True, text=True,
                           timeout=WAIT_S)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("control.listen_failed", p.stderr)
        # The first one is untouched.
        with Client(sock) as c:
            self.assertEqual(c.call("relay.info")["result"]["epoch"], info["epoch"])
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=WAIT_S), 0)


class BadConfig(unittest.TestCase):
    def test_bad_config_files(self):
        d = tempfile.mkdtemp(prefix="prism-it-badconf-")
        self.addCleanup(shutil.rmtree, d, True)
        sock = os.path.join(d, "control.sock")
        cases = {
            "unknown key": ("[control]\nsocket = %s\nsockett = x\n" % sock, "sockett"),
            "unknown group": ("[controll]\nsocket = x\n", "controll"),
            "bad number": ("[media]\nworkers = lots\n", "workers"),
            "bad ports": ("[media]\nports = 9-1\n", "ports"),
            "bad level": ("[log]\nlevel = loud\n", "level"),
            "bad uid list": ("[control]\nallow_uids = root\n", "allow_uids"),
            "client without id": ("[client ops]\ntenants = a\n", "ops"),
            "bad fingerprint": ("[client ops]\nfingerprint = abc\n", "fingerprint"),
            # Issue 9, finding 11: an empty `tenants` fails closed, not open.
            "empty tenants": ("[control]\nsocket = %s\n[client ops]\nuid = 1001\ntenants =\n"
                              % sock, "[client ops] tenants: empty list"),
            "not a key file": ("this is not = an ini\x00file\n[", ""),
            "tls without cert": ("[control]\nsocket = %s\ntls_listen = 127.0.0.1:1\n" % sock,
                                 "tls"),
        }
        for name, (text, needle) in cases.items():
            with self.subTest(name):
                path = os.path.join(d, "bad.conf")
                with open(path, "w") as f:
                    f.write(text)
                p = subprocess.run([PRISM, "--config", path], capture_output=True, text=True,
                                   timeout=WAIT_S, cwd=d)
                self.assertNotEqual(p.returncode, 0, name)
                self.assertTrue(p.stderr.strip(), f"{name}: no message")
                self.assertIn(needle, p.stderr)
                self.assertFalse(os.path.exists(sock), f"{name}: left a socket behind")
        p = subprocess.run([PRISM, "--config", os.path.join(d, "missing.conf")],
                           capture_output=True, text=True, timeout=WAIT_S, cwd=d)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("missing.conf", p.stderr)


class OverrideRelay(Relay):
    """A relay whose command line moves its control socket elsewhere."""

    def __init__(self, alt_sock, **kw):
        self.alt_sock = alt_sock
        super().__init__(**kw)

    def unix(self):
        return Client(self.alt_sock)


class CommandLine(unittest.TestCase):
    def test_options_override_the_config(self):
        alt_dir = tempfile.mkdtemp(prefix="prism-it-alt-")
        self.addCleanup(shutil.rmtree, alt_dir, True)
        alt = os.path.join(alt_dir, "alt.sock")
        with OverrideRelay(alt, workers=2, args=("--control", alt, "--workers", "3")) as relay:
            with relay.unix() as c:
                self.assertEqual(c.call("relay.info")["result"]["workers"], 3)
            self.assertFalse(os.path.exists(relay.sock), "the config file's socket was used")
            p = subprocess.run([PRISMCTL, "--control", alt, "relay.info"], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(json.loads(p.stdout)["workers"], 3)
            # The rest of the config file still applies: its log file.
            self.assertIn("relay.ready", log_events(relay.log))
            self.assertEqual(relay.stop(), 0)
            self.assertFalse(os.path.exists(alt))

    def test_config_workers_without_override(self):
        with Relay(workers=3) as relay, relay.unix() as c:
            self.assertEqual(c.call("relay.info")["result"]["workers"], 3)


class Sighup(unittest.TestCase):
    def reloads(self, relay):
        return log_events(relay.log).count("relay.reloaded")

    def test_sighup_reopens_logs_without_dropping_state(self):
        with Relay() as relay, relay.unix() as old:
            self.assertIn("result", old.call("tenant.create", {"tenant": "before"}))
            self.assertIn("result", old.call("bubble.create", {"tenant": "before",
                                                               "bubble": "b"}))
            os.rename(relay.log, relay.log + ".1")
            os.rename(relay.audit, relay.audit + ".1")
            relay.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: self.reloads(relay) == 1, "relay.reloaded in the new log file")
            self.assertNotIn("relay.reloaded", log_events(relay.log + ".1"))
            # The connection opened before the reload goes on; so does the state.
            self.assertIn("result", old.call("bubble.info", {"tenant": "before", "bubble": "b"}))
            with relay.unix() as new:
                self.assertEqual(reason(new.call("tenant.create", {"tenant": "before"})),
                                 "exists")
                self.assertIn("result", new.call("stats.get", {"tenant": "before"}))

            def audit_methods(path):
                with open(path) as f:
                    return [json.loads(line)["method"] for line in f if line.strip()]
            wait_for(lambda: os.path.exists(relay.audit)
                     and "stats.get" in audit_methods(relay.audit), "the new audit file")
            self.assertNotIn("stats.get", audit_methods(relay.audit + ".1"))
            self.assertIn("bubble.create", audit_methods(relay.audit + ".1"))
            self.assertEqual(relay.stop(), 0)

    def test_sighup_refuses_empty_client_tenants(self):
        """Issue 9, finding 11: a reload whose [client] group has an empty
        `tenants` fails (config.reload_failed naming it); the relay goes on
        with the config it had."""
        with Relay(extra_config="[client ops]\nuid = 1001\ntenants = t1\n") as relay:
            with open(relay.config) as f:
                text = f.read()
            with open(relay.config, "w") as f:
                f.write(text.replace("tenants = t1", "tenants ="))
            relay.proc.send_signal(signal.SIGHUP)

            def failures():
                with open(relay.log) as f:
                    return [json.loads(line) for line in f
                            if '"config.reload_failed"' in line]
            failed = wait_for(failures, "config.reload_failed")
            self.assertIn("[client ops] tenants: empty list", failed[0]["reason"])
            self.assertEqual(self.reloads(relay), 0)
            with relay.unix() as c:
                self.assertIn("result", c.call("tenant.create", {"tenant": "after"}))
            self.assertEqual(relay.stop(), 0)

    def test_sighup_reloads_tls_material(self):
        with Relay(tls=True) as relay, relay.tls() as old:
            self.assertIn("result", old.call("tenant.create", {"tenant": "before"}))

            def server_der():
                with relay.tls() as c:
                    self.assertIn("result", c.call("relay.info"))
                    return c.s.getpeercert(binary_form=True)
            first = server_der()
            # New material, same paths (as certbot-style renewal does).
            fresh = make_cert(relay.dir, "server2", relay.ca)
            os.replace(fresh[1], relay.server_cert[1])
            os.replace(fresh[0], relay.server_cert[0])
            with open(relay.server_cert[0]) as f:
                want = ssl.PEM_cert_to_DER_cert(f.read())
            self.assertNotEqual(want, first)
            relay.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: self.reloads(relay) == 1, "the reload")
            self.assertEqual(server_der(), want)
            # Nothing dropped: the old connection and the state are there.
            self.assertIn("result", old.call("relay.info"))
            with relay.tls() as c:
                self.assertEqual(reason(c.call("tenant.create", {"tenant": "before"})),
                                 "exists")
            # Broken material on a later reload is refused; the last good one stays.
            with open(relay.server_cert[0], "w") as f:
                f.write("not a certificate\n")
            relay.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: self.reloads(relay) == 2, "the second reload")
            self.assertIn("control.tls_material", log_events(relay.log))
            self.assertEqual(server_der(), want)
            self.assertIn("result", old.call("relay.info"))
            self.assertEqual(relay.stop(), 0)


if __name__ == "__main__":
    unittest.main()
