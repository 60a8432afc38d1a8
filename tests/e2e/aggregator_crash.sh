#!/usr/bin/env bash
# kill -9 the aggregator again and again while agents send thousands of batches; each agent
# retries what was not acknowledged, as a real one does. Afterwards the totals are exact:
# nothing acknowledged was lost, nothing retried was counted twice.
source "$(dirname "$0")/lib.bash"

start_aggregator agg
"$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 10 --sites 2 --series 5 --windows 500 \
    --values 20 --seed 11 --threads 6 --deadline 300 --expect "$E2E_DIR/expect.json" \
    >"$E2E_DIR/send.log" 2>&1 &
sender=$!
E2E_PIDS+=("$sender")

kills=0
for i in 1 2 3 4 5 6 7 8; do
    sleep "0.$((2 + RANDOM % 5))"
    kill -0 "$sender" 2>/dev/null || break
    kill -9 "$AGG_PID"
    wait "$AGG_PID" 2>/dev/null
    kills=$((kills + 1))
    start_aggregator agg
done
wait "$sender" || fail "slic-testsend failed: $(cat "$E2E_DIR/send.log")"
[ "$kills" -ge 2 ] || fail "the sender finished before the aggregator was killed twice ($kills)"
echo "aggregator killed $kills times; $(cat "$E2E_DIR/send.log")"

from=$(jq .from "$E2E_DIR/expect.json")
to=$(jq .to "$E2E_DIR/expect.json")
for s in sli0 sli1 sli2 sli3 sli4; do
    got=$(slic query "$s" --from "$from" --to "$to" --json | jq .count)
    want=$(jq ".slis.$s.count" "$E2E_DIR/expect.json")
    [ "$got" = "$want" ] || fail "$s: $got events after $kills crashes, expected exactly $want"
done
pass "exact totals after $kills kill -9 restarts"
stop_aggregator
