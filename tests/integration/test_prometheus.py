"""A real Prometheus scrapes a relay carrying a call (issue 11, item 3).

Debian's `prometheus` runs on loopback with its own config and storage in a
temporary directory, on free ports, scraping the relay's metrics.listen
every second; it is killed at the end. Two aiortc softphones (softphone.py)
call each other in tenant `acme-prom`; another tenant has an empty bubble.
Through Prometheus' HTTP API (/api/v1/query, /api/v1/series):
- the target is up and the relay's series are there with plausible values:
  the tenant's packets in and out rising while media flows (and their
  rate() above zero), its four transports connected, the idle tenant's
  bubble with no packets, one CPU series per worker, no drops for bad
  SRTP;
- every label value Prometheus holds for the relay (bar its own `instance`
  and `job`) is free of bubble ids, peer ids and addresses, and the tenant
  label carries exactly the two tenant ids; the raw scrape has none either.
Every wait is bounded.

Runs under /usr/bin/python3 (Debian's python3-aiortc) as root in a private
network namespace. Environment: PRISM, PRISMCTL.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import webdriver

webdriver.private_netns()

from harness import Relay, free_port  # noqa: E402
try:
    import softphone as sp  # noqa: E402
except ImportError as e:  # Debian's python3-aiortc missing: skipped (meson: 77)
    print(f"skip: aiortc unavailable ({e})", file=sys.stderr)
    sys.exit(77)

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
START_TIMEOUT_S = 60   # Prometheus' start on a busy 2-core machine
MEDIA_TIMEOUT_S = 60
TENANT, IDLE = "acme-prom", "idle-prom"
BUBBLE, IDLE_BUBBLE = "bubble-p9q4", "bubble-idle-k2"
PEERS = ("peer-a-7xv", "peer-b-7xv")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Prometheus:
    """A Prometheus scraping `target` every second, in its own directory."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="prism-prometheus-")
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: prism\n    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready",
                                            timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("prometheus did not start: " + self.output())
            time.sleep(0.2)

    def output(self):
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            return f.read()[-2000:]

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        """{frozenset(labels without __name__): float} of an instant query."""
        return {frozenset((k, v) for k, v in s["metric"].items() if k != "__name__"):
                float(s["value"][1]) for s in self.api("query", query=expr)["result"]}

    def scalar(self, expr):
        """The value of a query expected to give one series, or None."""
        r = self.query(expr)
        return next(iter(r.values())) if len(r) == 1 else None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Scraped(unittest.TestCase):
    def test_prometheus_scrapes_a_call(self):
        port = free_port()
        relay = Relay(args=["--media-ip", "127.0.0.1"],
                      extra_config=f"[metrics]\nlisten = 127.0.0.1:{port}\n")
        self.addCleanup(relay.close)
        prom = Prometheus(f"127.0.0.1:{port}")
        self.addCleanup(prom.close)
        ctl = relay.unix()
        self.addCleanup(ctl.close)
        for t, b in ((TENANT, BUBBLE), (IDLE, IDLE_BUBBLE)):
            sp.ok(ctl.call("tenant.create", {"tenant": t}), "tenant.create")
            sp.ok(ctl.call("bubble.create", {"tenant": t, "bubble": b}), "bubble.create")
        sp.run(self.call(ctl, relay, prom, port))

    async def call(self, ctl, relay, prom, port):
        phones = [sp.Softphone(ctl, TENANT, BUBBLE, p) for p in PEERS]
        try:
            for p in phones:
                p.join()
            sp.ok(await phones[0].publish(freq=440), "publish")
            sp.ok(await phones[1].publish(freq=660), "publish")
            for p in phones:
                await p.subscribe()
            for me, other in ((phones[0], phones[1]), (phones[1], phones[0])):
                await sp.wait_rising(lambda: me.received_from(other.peer), MEDIA_TIMEOUT_S,
                                     f"{me.peer}'s packets from {other.peer}")
            await self.check(prom, relay, port)
        finally:
            for p in phones:
                await p.close()

    async def check(self, prom, relay, port):
        sel = f'{{job="prism",tenant="{TENANT}"}}'
        up = await sp.wait_until(lambda: prom.scalar('up{job="prism"}') == 1, 30, "target up")
        self.assertTrue(up)

        # Packets in and out rise while media flows (workers snapshot once a second).
        def packets():
            i = prom.scalar(f"prism_tenant_packets_in_total{sel}")
            o = prom.scalar(f"prism_tenant_packets_out_total{sel}")
            return (i, o) if i and o else None
        first = await sp.wait_until(packets, MEDIA_TIMEOUT_S, "tenant packets in Prometheus")

        def risen():
            now = packets()
            return now if now and now[0] > first[0] and now[1] > first[1] else None
        later = await sp.wait_until(risen, MEDIA_TIMEOUT_S, "tenant packets rising")
        log(f"packets in/out: {first} -> {later}")
        rate = await sp.wait_until(
            lambda: prom.scalar(f"rate(prism_tenant_packets_in_total{sel}[5s])"),
            MEDIA_TIMEOUT_S, "rate() of packets in")
        self.assertGreater(rate, 10)   # two Opus streams: ~50 packets/s each
        self.assertLess(rate, 1000)
        relay_in = prom.scalar('prism_packets_in_total{job="prism"}')
        self.assertGreaterEqual(relay_in, first[0])
        self.assertGreater(prom.scalar(f"prism_tenant_bytes_out_total{sel}"), later[1] * 20)

        # Sizes: both bubbles, both peers, four connected transports.
        self.assertEqual(prom.scalar('prism_bubbles{job="prism"}'), 2)
        self.assertEqual(prom.scalar('prism_peers{job="prism"}'), 2)
        connected = await sp.wait_until(
            lambda: prom.scalar(f'prism_tenant_transports{{job="prism",tenant="{TENANT}",'
                                f'state="connected"}}') == 4, 10, "4 connected transports")
        self.assertTrue(connected)
        self.assertEqual(prom.scalar(f'prism_tenant_bubbles{{tenant="{IDLE}"}}'), 1)
        self.assertEqual(prom.scalar(f'prism_tenant_packets_in_total{{tenant="{IDLE}"}}'), 0)
        for why in ("not_srtp", "srtp_auth", "srtp_replay", "malformed"):
            self.assertEqual(
                prom.scalar(f'prism_tenant_packets_dropped_total{{tenant="{TENANT}",'
                            f'reason="{why}"}}'), 0, why)
        workers = prom.query('prism_worker_cpu_seconds_total{job="prism"}')
        self.assertEqual(sorted(dict(k)["worker"] for k in workers), ["0", "1"])
        self.assertGreater(sum(workers.values()), 0)
        lag = prom.query('prism_worker_loop_lag_seconds{job="prism"}')
        self.assertEqual(len(lag), 2)
        self.assertTrue(all(0 <= v < 5 for v in lag.values()), lag)
        # Residence time: the media datagrams were counted, and a histogram
        # quantile comes out of the buckets (a loopback call: well under 1 s;
        # no tighter bound, the machine may be busy).
        held = prom.query('prism_worker_relay_delay_seconds_count{job="prism"}')
        self.assertEqual(len(held), 2)
        self.assertGreater(sum(held.values()), first[0] / 2)
        p99 = prom.scalar('histogram_quantile(0.99, sum by (le) '
                          '(prism_worker_relay_delay_seconds_bucket{job="prism"}))')
        self.assertGreater(p99, 0)
        self.assertLess(p99, 1)
        ok = prom.scalar('prism_control_requests_total{method="peer.publish",result="ok"}')
        self.assertEqual(ok, 2)

        # Label hygiene: everything Prometheus holds for the relay.
        series = prom.api("series", **{"match[]": '{job="prism"}'})
        self.assertGreater(len(series), 50)
        secrets = (BUBBLE, IDLE_BUBBLE, *PEERS, "127.0.0.1")
        tenants = set()
        for labels in series:
            self.assertTrue(labels["__name__"].startswith("prism_") or
                            labels["__name__"] in ("up", "scrape_duration_seconds",
                                                   "scrape_samples_scraped",
                                                   "scrape_samples_post_metric_relabeling",
                                                   "scrape_series_added"), labels)
            for k, v in labels.items():
                if k in ("instance", "job"):
                    continue  # Prometheus' own target labels
                for s in secrets:
                    self.assertNotIn(s, v, labels)
            if "tenant" in labels:
                tenants.add(labels["tenant"])
        self.assertEqual(tenants, {TENANT, IDLE})
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            raw = r.read().decode()
        for s in secrets:
            self.assertNotIn(s, raw)


if __name__ == "__main__":
    unittest.main(verbosity=2)
