#!/bin/sh
# Quality under loss (issue 8): prism-bench --loss PCT with and without NACK,
# against Prism (--spawn) and Janus's VideoRoom (bench/janus-start.sh), each
# configuration RUNS times, in a private network namespace; prints one line
# per run (target, loss, nack, recovered %, freezes, frozen s) and the
# medians, and keeps every JSON report in --out DIR.
#
#   bench/quality.sh [--build DIR] [--out DIR] [--runs N] [--loss "2 5"]
#                    [prism-bench run options...]
#   bench/quality.sh --bubbles 1 --peers 4 --duration 20 --video
#
# Root is needed (unshare -n). Exit status 77 when janus is not installed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=$top/build out="" runs=3 losses="2 5"
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --loss) losses=$2; shift 2 ;;
    *) break ;;
    esac
done
command -v janus >/dev/null || { echo "quality.sh: janus is not installed (apt-get install janus)" >&2; exit 77; }
if [ -z "${PRISM_QUALITY_IN_NS:-}" ]; then
    [ -n "$out" ] || out=$(mktemp -d /tmp/prism-quality-XXXXXX)
    mkdir -p "$out"
    PRISM_QUALITY_IN_NS=1 exec unshare -n "$0" --build "$build" --out "$out" --runs "$runs" \
        --loss "$losses" "$@"
fi
ip link set lo up
bench=$build/bench/prism-bench
eval "$("$here/janus-start.sh" --cores 1 --dir "$out/janus")"
i=1
while [ "$i" -le "$runs" ]; do
    for loss in $losses; do
        for nack in nack nonack; do
            flag=""
            [ "$nack" = nonack ] && flag=--no-nack
            # shellcheck disable=SC2086
            "$bench" run --spawn --prism "$build/prism" --relay-workers 1 --quiet --loss "$loss" $flag \
                --json "$out/prism-$loss-$nack-$i.json" "$@" >/dev/null || true
            # shellcheck disable=SC2086
            "$bench" run --target janus --janus-url "$JANUS_URL" --janus-pid "$JANUS_PID" --quiet \
                --loss "$loss" $flag --json "$out/janus-$loss-$nack-$i.json" "$@" >/dev/null || true
        done
    done
    i=$((i + 1))
done
"$here/janus-start.sh" --stop "$out/janus"
/usr/bin/python3 - "$out" <<'PY'
import glob, json, os, statistics, sys
rows = {}
for p in sorted(glob.glob(os.path.join(sys.argv[1], "*-*-*nack-*.json"))):
    target, loss, nack, run = os.path.basename(p)[:-5].split("-")
    with open(p) as f:
        q = json.load(f).get("quality")
    if q is None:
        continue
    print(f"{target:6} loss {loss} % {nack:8} run {run}: recovered {q['recovered_pct']:5.1f} % "
          f"({q['recovered']}/{q['video_lost']}), {q['freeze_count']} freezes, "
          f"{q['total_freezes_duration_s']:.2f} s frozen, {q['video_streams']} streams")
    rows.setdefault((target, loss, nack), []).append(q)
print("\nmedians: target | loss | NACK | recovered % | freezes | frozen s (all streams) | runs")
for (target, loss, nack), qs in sorted(rows.items()):
    med = lambda k: statistics.median(q[k] for q in qs)
    print(f"{target} | {loss} % | {'on' if nack == 'nack' else 'off'} | {med('recovered_pct'):.1f} |"
          f" {med('freeze_count'):.0f} | {med('total_freezes_duration_s'):.2f} | {len(qs)}")
PY
