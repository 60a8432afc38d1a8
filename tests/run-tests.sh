#!/usr/bin/env bash
# Runs every test slic has and ends with one line `N passed, N failed`; exits non-zero on any
# failure. Unit binaries report their cases with a `harness: N passed, N failed` line; end-to-end
# scripts (tests/e2e/*.sh) and fuzz runs count as one case each.
#   usage: tests/run-tests.sh ASAN_BUILD_DIR FUZZ_BUILD_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
asan=${1:-build/asan}
fuzz=${2:-build/fuzz}
fuzz_seconds=${SLIC_FUZZ_SECONDS:-20}

passed=0
failed=0
failures=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

count_one() { # name, exit status
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$1"); fi
}

for t in "$asan"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    echo "== $name"
    out=$(mktemp)
    timeout 900 "$t" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    summary=$(grep -E '^harness: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    rm -f "$out"
    if [ -n "$summary" ]; then
        p=$(echo "$summary" | sed -E 's/^harness: ([0-9]+) passed.*/\1/')
        f=$(echo "$summary" | sed -E 's/.* ([0-9]+) failed$/\1/')
        passed=$((passed + p))
        failed=$((failed + f))
        [ "$f" -gt 0 ] && failures+=("$name")
        # A binary that printed a clean summary but still failed (a leak report at exit) fails.
        if [ "$f" -eq 0 ] && [ "$rc" -ne 0 ]; then count_one "$name (exit $rc)" 1; fi
    else
        count_one "$name (crashed or timed out, exit $rc)" 1
    fi
done

for s in tests/e2e/*.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$s" .sh)
    echo "== e2e $name"
    SLIC_BUILD="$asan" timeout 900 bash "$s"
    count_one "e2e $name" $?
done

for f in "$fuzz"/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    echo "== $name (${fuzz_seconds}s)"
    corpus=$(mktemp -d)
    seeds="tests/fuzz/corpus/${name#fuzz_}"
    [ -d "$seeds" ] && cp "$seeds"/* "$corpus"/ 2>/dev/null
    ( cd "$corpus" && "$OLDPWD/$f" -max_total_time="$fuzz_seconds" -print_final_stats=1 \
        -rss_limit_mb=2048 "$corpus" ) > "$corpus.log" 2>&1
    rc=$?
    tail -n 12 "$corpus.log"
    count_one "$name" $rc
    rm -rf "$corpus" "$corpus.log"
done

if [ ${#failures[@]} -gt 0 ]; then
    echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
