#!/usr/bin/env bash
# Delivery through failures. (1) The aggregator is down while the agent measures: windows wait
# in the spool and all arrive, exactly once, when it comes up. (2) The agent is killed with -9
# mid-run and restarted: nothing acknowledged is counted again, nothing spooled is lost; only
# the window still open in memory may be lost, and the agent says so on restart.
source "$(dirname "$0")/lib.bash"

AGG_PORT=$(free_port)
AGG_ADDR=tcp://127.0.0.1:$AGG_PORT
start_agent agent --site us --node n2
"$BIN/slic-loadgen" --udp "$AGENT_UDP" --sli outage --rate 500 --seconds 3 --seed 5 \
    >"$E2E_DIR/l1.log" || fail "loadgen"
sent=$(sed -E 's/sent ([0-9]+) events.*/\1/' "$E2E_DIR/l1.log")
sleep 12 # the window closes into the spool while nothing listens
pending=$("$BIN/slic-agent" --spool-dir "$E2E_DIR/agent.spool" --status --json | jq .pending)
[ "$pending" -ge 1 ] || fail "nothing pending in the spool while the aggregator is down"
start_aggregator agg
wait_count outage "$sent" 60
pass "aggregator down for a while: $pending spooled windows arrived, $sent events exactly once"

# kill -9 the agent after its first windows were acknowledged, with events in the open window.
"$BIN/slic-loadgen" --udp "$AGENT_UDP" --sli crash --rate 500 --seconds 2 --seed 6 \
    >"$E2E_DIR/l2.log" || fail "loadgen"
first=$(sed -E 's/sent ([0-9]+) events.*/\1/' "$E2E_DIR/l2.log")
wait_count crash "$first" 40
"$BIN/slic-loadgen" --udp "$AGENT_UDP" --sli crash --rate 500 --seconds 1 --seed 7 \
    >"$E2E_DIR/l3.log" || fail "loadgen"
lost=$(sed -E 's/sent ([0-9]+) events.*/\1/' "$E2E_DIR/l3.log")
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
start_agent agent --site us --node n2
grep -q "never closed\|lost" "$E2E_DIR/agent.log" || fail "the restart did not say what was lost"
"$BIN/slic-loadgen" --udp "$AGENT_UDP" --sli crash --rate 500 --seconds 1 --seed 8 \
    >"$E2E_DIR/l4.log" || fail "loadgen"
after=$(sed -E 's/sent ([0-9]+) events.*/\1/' "$E2E_DIR/l4.log")
# The open window's events ($lost) may or may not have been spooled before the kill.
for _ in $(seq 1 200); do
    got=$(slic query crash --window 1h --json | jq .count)
    [ "$got" -ge $((first + after)) ] && break
    sleep 0.2
done
[ "$got" -ge $((first + after)) ] && [ "$got" -le $((first + lost + after)) ] ||
    fail "after kill -9: $got events, expected between $((first + after)) and $((first + lost + after))"
sleep 2
again=$(slic query crash --window 1h --json | jq .count)
[ "$again" = "$got" ] || fail "count moved from $got to $again: something was counted twice"
pass "kill -9 and restart: $got events (at most the $lost of the open window lost), none twice"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exit after SIGTERM"
stop_aggregator
