#!/usr/bin/env bash
# Malformed and hostile requests: each is rejected with a reason that names what is wrong, the
# aggregator logs it, and keeps serving good agents and queries throughout.
source "$(dirname "$0")/lib.bash"

start_aggregator agg
expect_reject() { # kind, text the reason must contain
    local out
    out=$(timeout 30 "$BIN/slic-testsend" --addr "$AGG_ADDR" --bad "$1" 2>&1) ||
        fail "--bad $1 was not answered as expected: $out"
    grep -qi -- "$2" <<<"$out" || fail "--bad $1: reason '$out' does not mention '$2'"
    pass "$1: $out"
}
expect_reject truncated "not a valid"
expect_reject garbage "not a valid"
expect_reject version "schema_version"
expect_reject future "future"
expect_reject unaligned "aligned"
expect_reject nan "sum"
expect_reject labels "label sets"
out=$(timeout 30 "$BIN/slic-testsend" --addr "$AGG_ADDR" --bad oversized 2>&1) ||
    fail "oversized request was answered: $out"
pass "oversized: dropped by the transport ($out)"

kill -0 "$AGG_PID" || fail "the aggregator died"
"$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 2 --series 1 --windows 3 --values 10 \
    >"$E2E_DIR/send.log" 2>&1 || fail "good batches after bad ones: $(cat "$E2E_DIR/send.log")"
slic series --json | jq -e 'any(.[]; .sli == "sli0")' >/dev/null || fail "good data not stored"
grep -q "rejected batch" "$E2E_DIR/agg.log" || fail "rejections were not logged"
pass "still serving good agents and queries after every bad request"
stop_aggregator
