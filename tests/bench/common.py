"""Shared helpers of the prism-bench tests: run `prism-bench run --spawn`
against the `prism` under test and read its JSON report.

Environment: PRISM (relay binary), PRISM_BENCH (prism-bench binary)."""
import json
import os
import subprocess
import sys
import tempfile

PRISM = os.path.abspath(os.environ.get("PRISM", "build/prism"))
BENCH = os.path.abspath(os.environ.get("PRISM_BENCH", "build/bench/prism-bench"))

# Every key the report must carry, whatever the target (issue 4).
REQUIRED_KEYS = ["packets_forwarded", "loss_pct", "decode_errors", "relay_cpu_us_per_packet",
                 "delay_ms", "join_ms", "relay_rss_kib_per_peer"]


def run_bench(args, wrap=(), timeout=180):
    """Runs prism-bench run --spawn with `args`, optionally under the command
    prefix `wrap`; returns (exit status, stdout+stderr, report or None)."""
    with tempfile.TemporaryDirectory(prefix="prism-bench-test-") as d:
        out = os.path.join(d, "report.json")
        cmd = [*wrap, BENCH, "run", "--spawn", "--prism", PRISM, "--quiet", "--json", out, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        text = p.stdout + p.stderr
        report = None
        if os.path.exists(out):
            with open(out) as f:
                report = json.load(f)
        return p.returncode, text, report


def check(cond, what, text=""):
    if not cond:
        print(f"FAIL: {what}\n{text}", file=sys.stderr)
        sys.exit(1)
