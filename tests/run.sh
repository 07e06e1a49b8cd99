#!/bin/bash
# Runs every test suite: unit, fuzz (corpus replay) and integration, first in
# the normal build (./build) and then in an ASan+UBSan build (./build-asan).
# Integration tests run inside a private network namespace holding only `lo`
# (unshare -n), so no WebRTC stack can wander onto another interface.
# Prints "N passed, N failed" last; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."

suites="--suite lint --suite unit --suite fuzz --suite integration"
netns() {
    if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
        unshare -n sh -c 'ip link set lo up && "$@"' netns "$@"
    else
        echo "warning: not root: integration tests run without a private network namespace" >&2
        "$@"
    fi
}

[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
[ -f build-asan/build.ninja ] ||
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
        --buildtype=debug >/dev/null

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export G_SLICE=always-malloc

status=0
for dir in build build-asan; do
    echo "=== $dir"
    ninja -C "$dir" || { status=1; continue; }
    # shellcheck disable=SC2086
    extra=""
    [ "$dir" = build ] && extra="--suite slow" # timeouts: once is enough
    # shellcheck disable=SC2086
    netns meson test -C "$dir" --setup full --print-errorlogs --num-processes 2 $suites $extra \
        || status=1
done

python3 - <<'PY'
import json, os
passed = failed = 0
for d in ("build", "build-asan"):
    path = os.path.join(d, "meson-logs", "testlog-full.json")
    if not os.path.exists(path):
        failed += 1
        continue
    for line in open(path):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r != "SKIP":
            failed += 1
print(f"{passed} passed, {failed} failed")
PY
exit $status
