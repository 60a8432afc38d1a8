#!/usr/bin/env bash
# A known stream of StatsD timers over UDP and over the unix socket, through a real slic-agent
# and slic-aggregator: the aggregator ends up with exactly the events sent (good = those
# without a 5xx status), quantiles within the sketch's 1%, sample rates counted as 1/rate
# events, multi-line datagrams, and every malformed line counted and skipped, never fatal.
source "$(dirname "$0")/lib.bash"

start_aggregator agg
start_agent agent --site eu --node n1
"$BIN/slic-loadgen" --udp "$AGENT_UDP" --sli checkout --rate 2000 --seconds 2 --lines 4 \
    --error-rate 0.05 --seed 3 --expect "$E2E_DIR/udp.json" >"$E2E_DIR/udp.log" ||
    fail "loadgen udp: $(cat "$E2E_DIR/udp.log")"
"$BIN/slic-loadgen" --unix "$AGENT_UNIX" --sli search --rate 1000 --seconds 2 \
    --error-rate 0.1 --seed 4 --expect "$E2E_DIR/unix.json" >"$E2E_DIR/unix.log" ||
    fail "loadgen unix: $(cat "$E2E_DIR/unix.log")"
# Sample rates and malformed lines, by hand: 0.25 counts 4 times, 0.5 twice.
port=${AGENT_UDP##*:}
printf 'sampled:10|ms|@0.25\nsampled:20|ms|@0.5|#outcome:bad\nsampled:30|h' >/dev/udp/127.0.0.1/$port
printf 'garbage line\nsampled:-5|ms\nsampled:5|c\nbad name!:5|ms\n' >/dev/udp/127.0.0.1/$port

check() { # sli expect-file
    local want out
    want=$(jq .count "$2")
    wait_count "$1" "$want" 40
    out=$(slic query "$1" --window 1h --q 0.5,0.9,0.99 --json)
    [ "$(jq .good <<<"$out")" = "$(jq .good "$2")" ] ||
        fail "$1 good $(jq .good <<<"$out"), expected $(jq .good "$2")"
    for q in 0.5 0.9 0.99; do
        near "$(jq ".quantiles[\"$q\"]" <<<"$out")" "$(jq ".quantiles[\"$q\"]" "$2")" 0.0100001 ||
            fail "$1 q$q $(jq ".quantiles[\"$q\"]" <<<"$out") vs exact $(jq ".quantiles[\"$q\"]" "$2")"
    done
}
check checkout "$E2E_DIR/udp.json"
pass "UDP (4 timers per datagram): exact counts, quantiles within 1%"
check search "$E2E_DIR/unix.json"
pass "unix socket: exact counts, quantiles within 1%"
wait_count sampled 7 20
[ "$(slic query sampled --window 1h --json | jq .good)" = 5 ] || fail "sampled good count"
pass "sample rates: @0.25 counts 4, @0.5 counts 2, |h counts 1"

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "slic-agent exited with $? after SIGTERM"
grep -q "malformed line (no_colon)" "$E2E_DIR/agent.log" || fail "malformed lines not reported"
status=$("$BIN/slic-agent" --spool-dir "$E2E_DIR/agent.spool" --status --json) ||
    fail "--status failed"
jq -e '.pending == 0 and .daemon.lines_malformed >= 3' <<<"$status" >/dev/null ||
    fail "--status: $status"
pass "malformed lines counted and logged; SIGTERM delivered everything; --status reads the spool"
stop_aggregator
