"""prism-bench --target janus (issue 4, item 8): a short side-by-side run
(1 bubble x 3 peers, 5 s, audio) through Debian's Janus VideoRoom, started by
bench/janus-start.sh in a private network namespace of its own. Media must
flow both ways through Janus (every peer receives both others' audio), with
zero decode errors, a passing verdict and Janus's CPU measured.
Skips (exit 77) when janus is not installed or namespaces are unavailable."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from common import BENCH, REQUIRED_KEYS, check

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
START = os.path.join(TOP, "bench", "janus-start.sh")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


if shutil.which("janus") is None:
    skip("janus is not installed (apt-get install janus; deploy/setup.sh --tests)")
if os.geteuid() != 0 or shutil.which("unshare") is None:
    skip("needs root and unshare for a private network namespace")
probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
if probe.returncode != 0:
    skip(f"unshare -n failed: {probe.stderr.decode().strip()}")

with tempfile.TemporaryDirectory(prefix="prism-janus-test-") as d:
    report = os.path.join(d, "report.json")
    script = f"""
ip link set lo up
eval "$('{START}' --cores 1 --dir '{d}/janus')" || exit 3
'{BENCH}' run --target janus --janus-url "$JANUS_URL" --janus-pid "$JANUS_PID" \
    --bubbles 1 --peers 3 --duration 5 --audio-only --quiet --json '{report}'
rc=$?
'{START}' --stop '{d}/janus'
exit $rc
"""
    p = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True,
                       timeout=120)
    text = p.stdout + p.stderr
    check(p.returncode == 0, f"prism-bench --target janus exited {p.returncode}", text)
    check(os.path.exists(report), "no JSON report", text)
    with open(report) as f:
        r = json.load(f)

for key in REQUIRED_KEYS:
    check(key in r, f"report lacks {key}", text)
check(r.get("target") == "janus", f"target {r.get('target')}")
check(r["verdict"] == "pass" and r["failures"] == [], f"verdict {r['verdict']} {r['failures']}", text)
check(r["decode_errors"] == 0, "decode errors")
check(r["relay_cpu_us_per_packet"] > 0, "no Janus CPU figure", text)
check(r["delay_ms"]["p50"] > 0, "no delay measured through Janus", text)
streams = r["streams"]
check(r["streams_expected"] == 6 and len(streams) == 6, f"{len(streams)} streams", text)
pairs = set()
for s in streams:
    check(s["packets"] > 0 and s["frames_decoded"] > 0, f"no media on {s}")
    pairs.add((s["subscriber"], s["publisher"]))
for sub in ("p0", "p1", "p2"):
    for pub in ("p0", "p1", "p2"):
        if sub != pub:
            check((sub, pub) in pairs, f"missing {pub} -> {sub} through Janus")
print("ok: media both ways through Janus:",
      {k: r[k] for k in ("packets_forwarded", "loss_pct", "relay_cpu_us_per_packet", "delay_ms")})
