#!/bin/sh
# Side by side: the same prism-bench scenario against Prism (--spawn) and
# against Janus's VideoRoom (bench/janus-start.sh), on loopback in a private
# network namespace; prints both summaries and the ratios Prism / Janus of
# relay CPU per forwarded packet, one-way delay (p50, p99) and loss.
#
#   bench/compare.sh [--build DIR] [--out DIR] [prism-bench run options...]
#   bench/compare.sh --bubbles 1 --peers 10 --duration 20 --video
#
# Root is needed (unshare -n). On two or more cores each SFU runs pinned to
# core 0 with one worker / event loop, and the bench to core 1. --build is
# the meson build directory holding prism and bench/prism-bench (default:
# build). --out keeps prism.json and janus.json (default: a temp dir).
# Exit status: 0 when both runs passed, 1 otherwise, 77 when janus is not
# installed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=$top/build out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) break ;;
    esac
done
command -v janus >/dev/null || { echo "compare.sh: janus is not installed (apt-get install janus)" >&2; exit 77; }
if [ -z "${PRISM_COMPARE_IN_NS:-}" ]; then
    [ -n "$out" ] || out=$(mktemp -d /tmp/prism-compare-XXXXXX)
    mkdir -p "$out"
    PRISM_COMPARE_IN_NS=1 exec unshare -n "$0" --build "$build" --out "$out" "$@"
fi
ip link set lo up
bench=$build/bench/prism-bench
cpus=$(nproc)
bench_pin="" janus_pin=""
if [ "$cpus" -ge 2 ]; then
    bench_pin="taskset -c 1"
    janus_pin="--cpus 0"
fi

echo "== Prism ==" >&2
prc=0
"$bench" run --spawn --prism "$build/prism" --relay-workers 1 --json "$out/prism.json" "$@" || prc=$?

echo "== Janus ==" >&2
# shellcheck disable=SC2086
eval "$("$here/janus-start.sh" --cores 1 $janus_pin --dir "$out/janus")"
jrc=0
# shellcheck disable=SC2086
$bench_pin "$bench" run --target janus --janus-url "$JANUS_URL" --janus-pid "$JANUS_PID" \
    --json "$out/janus.json" "$@" || jrc=$?
cp "$out/janus/janus.log" "$out/janus.log" 2>/dev/null || true
"$here/janus-start.sh" --stop "$out/janus"

/usr/bin/python3 - "$out/prism.json" "$out/janus.json" <<'PY'
import json, sys
def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except OSError:
        return None
p, j = load(sys.argv[1]), load(sys.argv[2])
if p is None or j is None:
    print("compare: a run wrote no report"); sys.exit(0)
def ratio(a, b):
    return f"{a / b:.2f}" if b else "n/a"
sc = p["scenario"]
print(f"\nPrism vs Janus: {sc['bubbles']} bubbles x {sc['peers']} peers ({sc['mode']}), {sc['duration_s']:.0f} s")
print(f"  {'':34} {'Prism':>10} {'Janus':>10} {'Prism/Janus':>12}")
rows = [
    ("relay CPU us/forwarded packet", p["relay_cpu_us_per_packet"], j["relay_cpu_us_per_packet"]),
    ("relay CPU % of a core", p["relay_cpu_pct"], j["relay_cpu_pct"]),
    ("one-way delay p50 ms", p["delay_ms"]["p50"], j["delay_ms"]["p50"]),
    ("one-way delay p99 ms", p["delay_ms"]["p99"], j["delay_ms"]["p99"]),
    ("loss %", p["loss_pct"], j["loss_pct"]),
    ("join p50 ms", p["join_ms"]["p50"], j["join_ms"]["p50"]),
    ("packets delivered to the bench", p["packets_forwarded"], j["packets_forwarded"]),
    ("relay RSS KiB per peer", p["relay_rss_kib_per_peer"], j["relay_rss_kib_per_peer"]),
]
for name, a, b in rows:
    print(f"  {name:34} {a:10.3f} {b:10.3f} {ratio(a, b):>12}")
print(f"  verdicts: Prism {p['verdict']} {p['failures']}, Janus {j['verdict']} {j['failures']}")
PY
[ $prc -eq 0 ] && [ $jrc -eq 0 ]
