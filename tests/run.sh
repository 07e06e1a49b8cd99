#!/bin/bash
# Runs every test suite: unit, fuzz (corpus replay) and integration, first in
# the normal build (./build) and then in an ASan+UBSan build (./build-asan);
# then the unit suite and the integration tests that exercise the threads
# (workers, mailboxes, counters) in a ThreadSanitizer build (./build-tsan).
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
# TSan: a report fails the test (exit 66; the harness checks the relay's exit
# status). tests/tsan.supp says why it holds no suppression.
export TSAN_OPTIONS=suppressions=$PWD/tests/tsan.supp:second_deadlock_stack=1
tsan_integration="test_methods test_events test_docs test_control_limits test_softphone
    test_faults test_bench_smoke"

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

# ThreadSanitizer: the unit suite and the integration tests above (about 3
# minutes beside the build). ASLR off (setarch -R): TSan cannot map its
# shadow memory on kernels with 32 bits of mmap randomisation.
[ -f build-tsan/build.ninja ] ||
    meson setup build-tsan -Db_sanitize=thread --buildtype=debug >/dev/null
echo "=== build-tsan"
if ninja -C build-tsan; then
    # Names, not --suite: meson intersects a suite with names.
    unit=$(meson test -C build-tsan --list --suite unit 2>/dev/null | sed -n 's|^prism:unit / ||p')
    # shellcheck disable=SC2086
    netns setarch "$(uname -m)" -R meson test -C build-tsan --logbase testlog-tsan \
        --print-errorlogs --num-processes 2 $unit $tsan_integration || status=1
else
    status=1
fi

python3 - <<'PY'
import json, os
passed = failed = 0
for d, log in (("build", "testlog-full"), ("build-asan", "testlog-full"),
               ("build-tsan", "testlog-tsan")):
    path = os.path.join(d, "meson-logs", log + ".json")
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
