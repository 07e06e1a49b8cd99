"""The metrics listener (issue 11, items 1, 2 and 4; docs/operations.md,
"Monitor"): metrics.listen serves /metrics, /healthz and /readyz over HTTP
(libmicrohttpd on the control loop).

- test_paths: /healthz and /readyz answer 200; /metrics the text format's
  media type; HEAD answers without a body; another method 405 with Allow;
  another path 404.
- test_exposition: the scrape parses; every sample belongs to a family with
  HELP and TYPE; counters end in _total; relay-wide, per-tenant and
  per-worker series are there with the right label sets; tenant ids are the
  only free-text label values and no bubble id, peer id or address appears.
- test_requests_counted: control requests counted by method and result; an
  unknown method counts as "other" and its name never appears.
- test_bad_clients: more idle connections than the listener allows, garbage
  and an oversized request do not disturb the control socket, and the
  listener serves again once they are gone.
- test_tls_refusals_counted: a TLS client without a certificate and a
  silent TCP connection count as handshake_failed and idle_timeout; a good
  client counts as nothing.
- test_readyz_draining: after relay.drain /readyz answers 503 "draining"
  while /healthz stays 200; prism_draining 1, prism_ready 0.
- test_readyz_overloaded: a relay whose descriptor limit leaves no room for
  a media transport (admission at its limit) answers 503 "overloaded".
- test_bad_listen: an address that is not IP:PORT, or a port already taken,
  stops the relay at start with metrics.listen_failed in the log.
- test_grafana_dashboard: deploy/grafana/prism.json is a dashboard whose
  every PromQL expression names only metrics the relay exports.

Python standard library only. Environment: PRISM, PRISMCTL as for harness.py.
"""
import json
import os
import re
import resource
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import PRISM, Relay, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "prism.json")
MAX_CONNECTIONS = 16  # PRISM_METRICS_HTTP_MAX_CONNECTIONS
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"

# Ids chosen to be found if they ever leak into the scrape.
TENANT, OTHER = "tenant-metrics-a", "Other.Tenant:2@x"
BUBBLE, PEER = "bubble-zq7xk", "peer-alice-w4v"

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse(text):
    """{family: {"type", "help", "samples": [(name, {label: value}, float)]}}."""
    families, current = {}, None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            families.setdefault(name, {"samples": []})["help"] = help_
            current = name
        elif line.startswith("# TYPE "):
            name, _, type_ = line[7:].partition(" ")
            assert name == current, f"TYPE of {name} outside its family"
            families[name]["type"] = type_
        else:
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.group(1), m.group(2) or "", m.group(3)
            family = families.get(current, {})
            suffixes = ("_bucket", "_sum", "_count") if family.get("type") == "histogram" else ()
            assert name == current or name in (current + x for x in suffixes), \
                f"sample {name} outside its family ({current})"
            parsed, pos = {}, 0
            while pos < len(labels):
                lm = LABEL.match(labels, pos)
                assert lm, f"bad labels in {line!r}"
                parsed[lm.group(1)] = unescape(lm.group(2))
                pos = lm.end()
            families[current]["samples"].append((name, parsed, float(value)))
    return families


def http(port, path, method="GET", body=None, timeout=10):
    """(status, headers, body bytes) of one request."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=body)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def value(families, name, **labels):
    for _, l, v in families[name]["samples"]:
        if all(l.get(k) == want for k, want in labels.items()):
            return v
    raise KeyError(f"{name}{labels}")


def metrics_relay(**kw):
    port = free_port()
    relay = Relay(extra_config=f"[metrics]\nlisten = 127.0.0.1:{port}\n", **kw)
    relay.metrics_port = port
    return relay


class Listener(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.relay = metrics_relay()
        cls.port = cls.relay.metrics_port
        try:
            with cls.relay.unix() as c:
                for t in (TENANT, OTHER):
                    assert "result" in c.call("tenant.create", {"tenant": t})
                assert "result" in c.call("bubble.create", {"tenant": TENANT, "bubble": BUBBLE})
                assert "result" in c.call("peer.join", {"tenant": TENANT, "bubble": BUBBLE,
                                                        "peer": PEER})
        except BaseException:
            cls.relay.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.relay.close()

    def scrape(self):
        status, headers, body = http(self.port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], EXPOSITION)
        return body.decode()

    def test_paths(self):
        self.assertEqual(http(self.port, "/healthz")[::2], (200, b"ok\n"))
        self.assertEqual(http(self.port, "/readyz")[::2], (200, b"ready\n"))
        status, headers, body = http(self.port, "/metrics", method="HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers["Content-Type"], EXPOSITION)
        for method in ("POST", "PUT", "DELETE"):
            status, headers, _ = http(self.port, "/metrics", method=method, body=b"x=1")
            self.assertEqual(status, 405, method)
            self.assertEqual(headers["Allow"], "GET, HEAD")
        for path in ("/", "/metric", "/metrics/x", "/healthz/", "/%00"):
            self.assertEqual(http(self.port, path)[0], 404, path)

    def test_exposition(self):
        text = self.scrape()
        fams = parse(text)
        for name, f in fams.items():
            self.assertIn("help", f, name)
            self.assertIn(f.get("type"), ("counter", "gauge", "histogram"), name)
            self.assertTrue(name.startswith("prism_"), name)
            if f["type"] == "counter":
                self.assertTrue(name.endswith("_total"), name)
        self.assertEqual(value(fams, "prism_tenants"), 2)
        self.assertEqual(value(fams, "prism_bubbles"), 1)
        self.assertEqual(value(fams, "prism_peers"), 1)
        self.assertEqual(value(fams, "prism_workers"), 2)
        self.assertEqual(value(fams, "prism_ready"), 1)
        self.assertEqual(value(fams, "prism_tenant_bubbles", tenant=TENANT), 1)
        self.assertEqual(value(fams, "prism_tenant_bubbles", tenant=OTHER), 0)
        self.assertEqual(value(fams, "prism_tenant_peers", tenant=TENANT), 1)
        self.assertEqual(value(fams, "prism_tenant_packets_in_total", tenant=TENANT), 0)
        for reason in ("not_srtp", "srtp_auth", "srtp_replay", "malformed", "no_route",
                       "egress", "ssrc_limit"):
            self.assertEqual(value(fams, "prism_packets_dropped_total", reason=reason), 0)
            self.assertEqual(value(fams, "prism_tenant_packets_dropped_total", tenant=OTHER,
                                   reason=reason), 0)
        for state in ("new", "connecting", "connected", "failed", "closed"):
            self.assertEqual(value(fams, "prism_transports", state=state), 0)
        for name in ("prism_rtx_sent_total", "prism_rtx_nacked_total", "prism_bytes_out_total",
                     "prism_events_total", "prism_event_backlog_bytes",
                     "prism_transports_limit", "prism_control_tls_handshakes_refused_total"):
            self.assertIn(name, fams)
        # Per worker, once the first snapshots are in (one a second).
        deadline = time.monotonic() + 10
        while True:
            fams = parse(self.scrape())
            cpu = {l["worker"]: v for _, l, v in fams["prism_worker_cpu_seconds_total"]["samples"]}
            if sorted(cpu) == ["0", "1"] and all(v > 0 for v in cpu.values()):
                break
            self.assertLess(time.monotonic(), deadline, cpu)
            time.sleep(0.3)
        lags = fams["prism_worker_loop_lag_seconds"]["samples"]
        self.assertEqual(sorted(l["worker"] for _, l, _ in lags), ["0", "1"])
        self.assertTrue(all(0 <= v < 5 for _, _, v in lags), lags)
        self.assertEqual(sum(v for _, _, v in fams["prism_worker_bubbles"]["samples"]), 1)
        # The residence-time histogram: per worker, cumulative buckets that
        # end in +Inf and equal the count.
        delay = fams["prism_worker_relay_delay_seconds"]
        self.assertEqual(delay["type"], "histogram")
        for w in ("0", "1"):
            buckets = [(l["le"], v) for n, l, v in delay["samples"]
                       if n.endswith("_bucket") and l["worker"] == w]
            self.assertEqual(len(buckets), 15, buckets)
            self.assertEqual(buckets[-1][0], "+Inf")
            counts = [v for _, v in buckets]
            self.assertEqual(counts, sorted(counts))
            total = [v for n, l, v in delay["samples"] if n.endswith("_count") and l["worker"] == w]
            self.assertEqual(total, [counts[-1]])
        # Label values: fixed lists, worker indexes, and tenant ids only.
        tenants = set()
        for f in fams.values():
            for _, labels, _ in f["samples"]:
                self.assertLessEqual(set(labels), {"tenant", "reason", "state", "worker",
                                                   "method", "result", "version", "le"})
                if "tenant" in labels:
                    tenants.add(labels["tenant"])
        self.assertEqual(tenants, {TENANT, OTHER})
        for secret in (BUBBLE, PEER, "127.0.0.1", "::1"):
            self.assertNotIn(secret, text)

    def test_requests_counted(self):
        def count(method, result):
            try:
                return value(parse(self.scrape()), "prism_control_requests_total",
                             method=method, result=result)
            except KeyError:
                return 0
        before_ok = count("stats.get", "ok")
        before_nf = count("bubble.info", "not_found")
        before_other = count("other", "method_not_found")
        with self.relay.unix() as c:
            c.call("stats.get")
            c.call("bubble.info", {"tenant": TENANT, "bubble": "nope"})
            c.call("secret.method-" + PEER)
        self.assertEqual(count("stats.get", "ok"), before_ok + 1)
        self.assertEqual(count("bubble.info", "not_found"), before_nf + 1)
        self.assertEqual(count("other", "method_not_found"), before_other + 1)
        self.assertNotIn("secret.method", self.scrape())

    def test_bad_clients(self):
        idle = []
        try:
            for _ in range(MAX_CONNECTIONS * 3):
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                idle.append(s)
            garbage = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            idle.append(garbage)
            garbage.sendall(b"\x16\x03\x01\x02\x00" + os.urandom(512) + b"\r\n\r\n")
            # The control socket does not notice.
            t0 = time.monotonic()
            with self.relay.unix() as c:
                self.assertIn("result", c.call("relay.info"))
                self.assertEqual(c.call("stats.get")["result"]["peers"], 1)
            self.assertLess(time.monotonic() - t0, 2)
        finally:
            for s in idle:
                s.close()
        # An oversized request (past MHD's 32 KiB per connection) is refused.
        status, _, _ = http(self.port, "/metrics?" + "a" * 40000)
        self.assertGreaterEqual(status, 400)
        # Serving again once the crowd is gone (MHD notices the closes).
        deadline = time.monotonic() + 10
        while True:
            try:
                if http(self.port, "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, "listener did not recover")
            time.sleep(0.2)
        self.assertIn("prism_peers 1\n", self.scrape())

    def test_grafana_dashboard(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        self.assertIsInstance(dash.get("title"), str)
        self.assertIsInstance(dash.get("schemaVersion"), int)
        self.assertIsInstance(dash.get("uid"), str)
        panels = dash["panels"]
        self.assertTrue(panels)
        families = parse(self.scrape())
        exported = set(families) | {n for f in families.values() for n, _, _ in f["samples"]}
        exprs = []

        def walk(ps):
            for p in ps:
                walk(p.get("panels", []))
                self.assertIn("type", p)
                self.assertIn("gridPos", p)
                for t in p.get("targets", []):
                    exprs.append(t["expr"])
        walk(panels)
        for v in dash.get("templating", {}).get("list", []):
            q = v.get("query")
            exprs.append(q["query"] if isinstance(q, dict) else q or "")
        self.assertGreaterEqual(len(exprs), 5)
        used = set()
        for e in exprs:
            names = set(re.findall(r"\bprism_[a-z0-9_]+", e))
            used |= names
            self.assertLessEqual(names, exported, f"{e!r} names metrics the relay lacks")
        for needed in ("prism_bubbles", "prism_tenant_packets_in_total",
                       "prism_packets_dropped_total", "prism_worker_loop_lag_seconds"):
            self.assertIn(needed, used)


class Draining(unittest.TestCase):
    def test_readyz_draining(self):
        with metrics_relay() as relay:
            port = relay.metrics_port
            self.assertEqual(http(port, "/readyz")[0], 200)
            with relay.unix() as c:
                self.assertIn("result", c.call("tenant.create", {"tenant": "t"}))
                self.assertIn("result", c.call("bubble.create", {"tenant": "t", "bubble": "b"}))
                self.assertIn("result", c.call("relay.drain"))
            self.assertEqual(http(port, "/readyz")[::2], (503, b"draining\n"))
            self.assertEqual(http(port, "/readyz", method="HEAD")[::2], (503, b""))
            self.assertEqual(http(port, "/healthz")[0], 200)
            _, _, body = http(port, "/metrics")
            fams = parse(body.decode())
            self.assertEqual(value(fams, "prism_draining"), 1)
            self.assertEqual(value(fams, "prism_ready"), 0)
            self.assertEqual(value(fams, "prism_bubbles"), 1)  # the call goes on


class FewDescriptors(Relay):
    """A relay under RLIMIT_NOFILE 1200: less than the descriptors it keeps
    for control connections (control.max_connections 1024 + 256 + 16 per
    worker), so media transport admission starts at its limit."""

    def start(self):
        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (1200, 1200))
        self.proc = subprocess.Popen([PRISM, "--config", self.config, *self.args],
                                     preexec_fn=limit)
        self.wait_ready()


class Overloaded(unittest.TestCase):
    def test_readyz_overloaded(self):
        port = free_port()
        with FewDescriptors(extra_config=f"[metrics]\nlisten = 127.0.0.1:{port}\n") as relay:
            self.assertEqual(http(port, "/readyz")[::2], (503, b"overloaded\n"))
            self.assertEqual(http(port, "/healthz")[0], 200)
            fams = parse(http(port, "/metrics")[2].decode())
            self.assertEqual(value(fams, "prism_ready"), 0)
            self.assertEqual(value(fams, "prism_draining"), 0)
            self.assertEqual(value(fams, "prism_transports_limit"), 0)
            with relay.unix() as c:  # the control plane itself is fine
                self.assertIn("result", c.call("tenant.create", {"tenant": "t"}))


class TlsRefusals(unittest.TestCase):
    def test_tls_refusals_counted(self):
        port = free_port()
        relay = Relay(tls=True, workers=1,
                      extra_config=f"[control]\ntls_idle_timeout_ms = 300\n"
                                   f"[metrics]\nlisten = 127.0.0.1:{port}\n")
        self.addCleanup(relay.close)

        def refused():
            fams = parse(http(port, "/metrics")[2].decode())
            return {l["reason"]: v for _, l, v in
                    fams["prism_control_tls_handshakes_refused_total"]["samples"]}
        self.assertEqual(refused(), {"handshake_failed": 0, "handshake_timeout": 0,
                                     "idle_timeout": 0, "max_handshakes": 0,
                                     "max_connections": 0})
        ctx = ssl.create_default_context(cafile=relay.ca[0])
        ctx.check_hostname = False
        with socket.create_connection(("127.0.0.1", relay.tls_port), timeout=10) as raw:
            try:
                with ctx.wrap_socket(raw) as s:  # no client certificate
                    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"relay.info"}\n')
                    s.recv(100)
            except (ssl.SSLError, OSError):
                pass
        with socket.create_connection(("127.0.0.1", relay.tls_port), timeout=10) as silent:
            self.assertEqual(silent.recv(1), b"")  # closed by the idle deadline
        with relay.tls() as c:
            self.assertIn("result", c.call("relay.info"))
        deadline = time.monotonic() + 10
        while True:
            r = refused()
            if r["handshake_failed"] == 1 and r["idle_timeout"] == 1:
                break
            self.assertLess(time.monotonic(), deadline, r)
            time.sleep(0.2)
        self.assertEqual(sum(r.values()), 2, r)


class BadListen(unittest.TestCase):
    def start(self, listen):
        d = tempfile.mkdtemp(prefix="prism-metrics-")
        conf = os.path.join(d, "prism.conf")
        log = os.path.join(d, "prism.log")
        with open(conf, "w") as f:
            f.write(f"[control]\nsocket = {d}/c.sock\n[metrics]\nlisten = {listen}\n"
                    f"[log]\nfile = {log}\naudit_file = {d}/audit.log\n[media]\nworkers = 1\n")
        p = subprocess.run([PRISM, "--config", conf], timeout=60, capture_output=True)
        with open(log) as f:
            return p.returncode, f.read()

    def test_bad_listen(self):
        for listen in ("localhost:9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999"):
            rc, log = self.start(listen)
            self.assertNotEqual(rc, 0, listen)
            self.assertIn("metrics.listen_failed", log, listen)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            rc, log = self.start(f"127.0.0.1:{taken.getsockname()[1]}")
            self.assertNotEqual(rc, 0)
            self.assertIn("Address already in use", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
