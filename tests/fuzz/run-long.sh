#!/bin/sh
# Runs every fuzz target under libFuzzer (clang, ASan+UBSan) for SECONDS
# each, or until it has executed N inputs (--runs N), starting from the
# repository's seed corpus, and prints a table of targets, seconds,
# executions and findings.
#   tests/fuzz/run-long.sh [SECONDS] [TARGET...]     (default 60 s, every target)
#   tests/fuzz/run-long.sh --runs N [TARGET...]
# Builds into ./build-fuzz (-Dfuzzing=true). A target's corpus grows in
# build-fuzz/corpus/NAME across runs; an input that crashes or breaks an
# invariant is kept in build-fuzz/artifacts/NAME/ (copy it to the target's
# seed folder under tests/data/ as a regression). Exits 1 if anything was
# found. Needs clang (Debian's clang package).
set -eu
cd "$(dirname "$0")/../.."
secs=60 runs=""
if [ "${1:-}" = "--runs" ]; then
    runs=$2
    shift 2
elif [ $# -gt 0 ]; then
    secs=$1
    shift
fi
targets=${*:-"candidate control dtls ice_lite ingress methods router rtcp rtp sdp sdp_answer sdp_offer srtp tcc descriptors tcp_frame red"}

seeds() {
    case "$1" in
    candidate) echo tests/data/candidate ;;
    control) echo tests/data/control ;;
    sdp) echo tests/data/sdp ;;
    rtp) echo tests/data/rtp ;;
    rtcp) echo tests/data/rtcp ;;
    sdp_answer) echo tests/data/sdp_answer ;;
    sdp_offer) echo tests/data/sdp_offer ;;
    dtls) echo tests/data/dtls ;;
    methods) echo tests/data/methods ;;
    srtp) echo tests/data/srtp ;;
    descriptors) echo tests/data/descriptors ;;
    ice_lite) echo tests/data/ice_lite ;;
    ingress) echo tests/data/ingress ;;
    tcp_frame) echo tests/data/tcp_frame ;;
    red) echo tests/data/red ;;
    tcc | router) echo tests/data/rtp tests/data/rtcp ;; # any bytes make a script
    *) echo "run-long.sh: unknown target $1" >&2; exit 2 ;;
    esac
}

dir=build-fuzz
[ -f $dir/build.ninja ] ||
    CC=clang meson setup $dir -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
        --buildtype=debugoptimized >/dev/null
for t in $targets; do ninja -C $dir "tests/fuzz/fuzz_$t" >/dev/null; done

found=0
printf '%-12s %8s %12s %9s\n' target seconds executions findings
for t in $targets; do
    corpus=$dir/corpus/$t
    artifacts=$dir/artifacts/$t
    mkdir -p "$corpus" "$artifacts"
    for s in $(seeds "$t"); do cp -n "$s"/* "$corpus"/ 2>/dev/null || true; done
    log=$dir/fuzz-$t.log
    rc=0
    if [ -n "$runs" ]; then limit="-runs=$runs"; else limit="-max_total_time=$secs"; fi
    start=$(date +%s)
    # A feature seen fewer than 16 times counts as rare (libFuzzer's entropic
    # default: 255). libFuzzer looks each feature of each execution up in
    # its list of rare ones, linearly; on the targets that touch ~20,000
    # features (methods, ingress) the default made that 40-60 % of the time
    # (perf), and 16 ran them 1.5-1.8 x faster with no less coverage.
    UBSAN_OPTIONS=halt_on_error=1 "$dir/tests/fuzz/fuzz_$t" "$limit" \
        -entropic_feature_frequency_threshold=16 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || rc=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    n=$(find "$artifacts" -type f | wc -l)
    [ "$rc" -eq 0 ] || [ "$n" -gt 0 ] || n="rc $rc"
    [ "$n" = 0 ] || found=1
    printf '%-12s %8s %12s %9s\n' "$t" "$took" "${execs:-?}" "$n"
done
exit $found
