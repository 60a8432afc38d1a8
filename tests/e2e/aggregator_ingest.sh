#!/usr/bin/env bash
# Many agents, several sites, every batch sent twice (the second time newest first, agents
# interleaved across threads): `slic query` must report exactly the events sent, once, and
# quantiles within the sketch's 1% of the exact ones. Then a replay of everything is all
# duplicates and changes nothing, and per-site totals add up to the whole.
source "$(dirname "$0")/lib.bash"

start_aggregator agg
"$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 8 --sites 3 --series 4 --windows 12 \
    --values 200 --seed 7 --threads 4 --duplicate --expect "$E2E_DIR/expect.json" \
    >"$E2E_DIR/send.log" 2>&1 || fail "slic-testsend: $(cat "$E2E_DIR/send.log")"
grep -q "96 accepted, 96 duplicate, 0 rejected" "$E2E_DIR/send.log" ||
    fail "expected 96 accepted and 96 duplicates: $(cat "$E2E_DIR/send.log")"

from=$(jq .from "$E2E_DIR/expect.json")
to=$(jq .to "$E2E_DIR/expect.json")
check_totals() {
    local s out want
    for s in sli0 sli1 sli2 sli3; do
        out=$(slic query "$s" --from "$from" --to "$to" --q 0.5,0.9,0.99,0.999 --json) ||
            fail "slic query $s"
        want=$(jq -c ".slis.$s" "$E2E_DIR/expect.json")
        [ "$(jq .count <<<"$out")" = "$(jq .count <<<"$want")" ] ||
            fail "$s count $(jq .count <<<"$out"), expected $(jq .count <<<"$want")"
        [ "$(jq .good <<<"$out")" = "$(jq .good <<<"$want")" ] ||
            fail "$s good $(jq .good <<<"$out"), expected $(jq .good <<<"$want")"
        for q in 0.5 0.9 0.99 0.999; do
            got=$(jq ".quantiles[\"$q\"]" <<<"$out")
            exp=$(jq ".quantiles[\"$q\"]" <<<"$want")
            near "$got" "$exp" 0.0100001 || fail "$s q$q = $got, exact $exp: off by more than 1%"
        done
    done
}
check_totals
pass "exact counts and quantiles within 1% after every batch was sent twice"

"$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 8 --sites 3 --series 4 --windows 12 \
    --values 200 --seed 7 >"$E2E_DIR/replay.log" 2>&1 || fail "replay"
grep -q "0 accepted, 96 duplicate" "$E2E_DIR/replay.log" ||
    fail "replay not all duplicates: $(cat "$E2E_DIR/replay.log")"
check_totals
pass "a full replay is acknowledged as duplicate and changes nothing"

sum=0
for site in site-0 site-1 site-2; do
    n=$(slic query sli0 --site "$site" --from "$from" --to "$to" --json | jq .count)
    sum=$((sum + n))
done
[ "$sum" = "$(jq .slis.sli0.count "$E2E_DIR/expect.json")" ] || fail "per-site counts add to $sum"
n=$(slic query sli0 --node node-5 --from "$from" --to "$to" --json | jq .count)
[ "$n" = $((12 * 200)) ] || fail "node-5 count $n, expected 2400"
pass "per-site counts add up to the whole; per-node count exact"

slic agents --json | jq -e 'length == 8 and all(.[]; .last_seq == 12)' >/dev/null ||
    fail "slic agents: $(slic agents --json)"
slic series --json | jq -e 'length == 4' >/dev/null || fail "slic series: $(slic series --json)"
pass "agents and series listed"

stop_aggregator
grep -q "stopped cleanly" "$E2E_DIR/agg.log" || fail "no clean-stop line in the log"
pass "SIGTERM drains and stops cleanly"
