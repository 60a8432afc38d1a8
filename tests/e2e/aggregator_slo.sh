#!/usr/bin/env bash
# SLOs end to end: --check-config loads and reports SLO files (a broken one by file and line);
# the aggregator evaluates a ratio SLO to exactly good/total of what `slic query` holds over the
# same window, per site and across sites, and a threshold SLO within the bounds `slic query
# --threshold` gives and around the true value counted from the raw events; /metrics passes
# `promtool check metrics`; SIGHUP with a new threshold re-evaluates the stored history at once,
# and a broken file keeps the running SLOs; acks ask agents to count the SLOs' thresholds, and a
# real agent then counts them exactly.
source "$(dirname "$0")/lib.bash"

command -v promtool >/dev/null || fail "promtool not found (Debian package prometheus; make deps)"

# The SLIs slic-testsend sends (sli0, sli1), plus a document slic skips.
slo_file() { # threshold
    cat <<EOF
apiVersion: openslo/v1
kind: SLO
metadata: {name: sli0-availability}
spec:
  service: testsend
  indicator:
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: slic, spec: {sli: sli0, outcome: good}}}
        total: {metricSource: {type: slic, spec: {sli: sli0}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: sli1-latency}
spec:
  service: testsend
  indicator:
    spec:
      thresholdMetric:
        metricSource: {type: slic, spec: {sli: sli1}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{op: lte, value: $1, target: 0.9}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: from-prometheus}
spec:
  indicator:
    spec:
      thresholdMetric:
        metricSource: {type: prometheus, spec: {query: up}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{op: lte, value: 1, target: 0.9}]
EOF
}
slo=$E2E_DIR/slo.yaml
slo_file 300ms >"$slo"
conf=$E2E_DIR/agg.yaml
printf 'slo:\n  evaluate_interval: 1s\n' >"$conf"

# ---- --check-config ----
out=$("$BIN/slic-aggregator" --config "$conf" --slo examples/slo/checkout.yaml --slo "$slo" \
    --check-config) || fail "--check-config: $out"
grep -q "^5 SLOs loaded, 1 skipped$" <<<"$out" || fail "--check-config SLO summary: $out"
grep -q "slo.yaml:[0-9]*: SLO 'from-prometheus' skipped: .*prometheus" <<<"$out" ||
    fail "--check-config skip line: $out"
grep -q "evaluated every 1s" <<<"$out" || fail "--check-config interval: $out"
sed 's/target: 0.99}/target: 1.5}/' "$slo" >"$E2E_DIR/broken.yaml"
out=$("$BIN/slic-aggregator" --slo "$E2E_DIR/broken.yaml" --check-config 2>&1) &&
    fail "a broken SLO file passed --check-config"
grep -q "broken.yaml:14:" <<<"$out" || fail "--check-config does not name file:line: $out"
pass "--check-config reports SLOs loaded and skipped, and a broken file by file:line"

# A broken file refuses the start.
"$BIN/slic-aggregator" --listen "tcp://127.0.0.1:$(free_port)" --data-dir "$E2E_DIR/refused" \
    --http "" --slo "$E2E_DIR/broken.yaml" >"$E2E_DIR/refused.out" 2>&1 &&
    fail "started with a broken SLO file"
grep -q "cannot start: SLOs: .*broken.yaml:14:" "$E2E_DIR/refused.out" ||
    fail "refused start not explained: $(cat "$E2E_DIR/refused.out")"
pass "a broken SLO file refuses the start, naming file and line"

# ---- evaluation against the store ----
HTTP=127.0.0.1:$(free_port)
start_aggregator agg --config "$conf" --slo examples/slo/checkout.yaml --slo "$slo" --http "$HTTP"
"$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 4 --sites 2 --series 2 --windows 30 \
    --values 50 --expect "$E2E_DIR/expect.json" >"$E2E_DIR/testsend.log" 2>&1 ||
    fail "slic-testsend: $(cat "$E2E_DIR/testsend.log")"
api() { curl -sf "http://$HTTP$1"; }

want=$(jq .slis.sli0.count "$E2E_DIR/expect.json")
for _ in $(seq 1 100); do
    got=$(api /api/v1/slos/sli0-availability | jq -r '.events.total')
    [ "$got" = "$want" ] && break
    sleep 0.1
done
[ "$got" = "$want" ] || fail "sli0-availability counts $got events, expected $want"

doc=$(api /api/v1/slos/sli0-availability) || fail "GET /api/v1/slos/sli0-availability"
from=$(jq -r .window.from <<<"$doc")
to=$(jq -r .window.to <<<"$doc")
q=$(slic query sli0 --from "$from" --to "$to" --json) || fail "slic query sli0"
jq -e --argjson q "$q" '.value == ($q.good / $q.count) and .exact and .site == "*" and
    .events.good_lower == $q.good' <<<"$doc" >/dev/null ||
    fail "sli0-availability: $(jq -c '{value, events}' <<<"$doc") vs query good/count $(jq -c '{good, count}' <<<"$q")"
[ "$(jq .good <<<"$q")" = "$(jq .slis.sli0.good "$E2E_DIR/expect.json")" ] || fail "query good"
for site in site-0 site-1; do
    qs=$(slic query sli0 --site "$site" --from "$from" --to "$to" --json) || fail "query $site"
    jq -e --argjson q "$qs" --arg s "$site" \
        '(.sites[] | select(.site == $s) | .value) == ($q.good / $q.count)' <<<"$doc" >/dev/null ||
        fail "site $site: $(jq -c ".sites[] | select(.site == \"$site\")" <<<"$doc")"
done
jq -e '([.sites[].events.total] | add) == .events.total and (.sites | length) == 2 and
    .target == 0.99 and .window.kind == "rolling" and .window.length == "4w" and
    (.burn_rates | keys | length) == 7 and (.alerts | length) > 0 and
    (.error_budget - 0.01 | fabs) < 1e-12 and (.remaining == 1 - .consumed)' <<<"$doc" \
    >/dev/null || fail "sli0-availability document: $doc"
pass "ratio SLO = good/total of slic query over its window, exactly, per site and across sites"

# The threshold SLO: within the sketch bounds slic query gives at the same threshold.
check_threshold() { # seconds duration
    local d q
    d=$(api /api/v1/slos/sli1-latency) || fail "GET sli1-latency"
    q=$(slic query sli1 --from "$(jq -r .window.from <<<"$d")" --to "$(jq -r .window.to <<<"$d")" \
        --threshold "$2" --json) || fail "slic query sli1 --threshold $2"
    jq -e --argjson q "$q" --argjson t "$1" '.threshold_seconds == $t and
        .events.total == $q.count and
        ($q.under_threshold | to_entries[0].value) as $u |
        $u.count_lower <= .events.good_lower and .events.good_lower <= .events.good_upper and
        .events.good_upper <= $u.count_upper and .value == .events.good_lower / .events.total' \
        <<<"$d" >/dev/null ||
        fail "sli1-latency at $2: $(jq -c '{threshold_seconds, value, events}' <<<"$d") vs $(jq -c .under_threshold <<<"$q")"
    # Against the raw events slic-testsend generated: the true count lies within the bounds,
    # and the value reported is within the sketch's 1% accuracy of the true ratio.
    jq -e --slurpfile x "$E2E_DIR/expect.json" --arg t "$1" \
        '($x[0].slis.sli1.le[$t]) as $raw | .events.total == $x[0].slis.sli1.count and
        .events.good_lower <= $raw and $raw <= .events.good_upper and
        ((.value - $raw / .events.total) | fabs) <= 0.01' <<<"$d" >/dev/null ||
        fail "sli1-latency at $2: $(jq -c .events <<<"$d") vs raw $(jq -c ".slis.sli1.le[\"$1\"]" "$E2E_DIR/expect.json")"
    jq -r .value <<<"$d"
}
v300=$(check_threshold 0.3 300ms)
pass "threshold SLO within slic query's bounds and 1% of the raw events' ratio at 300ms (value $v300)"

# ---- /metrics ----
api /metrics >"$E2E_DIR/metrics.txt" || fail "GET /metrics"
promtool check metrics <"$E2E_DIR/metrics.txt" >"$E2E_DIR/promtool.log" 2>&1 ||
    fail "promtool check metrics: $(cat "$E2E_DIR/promtool.log")"
for m in 'slic_slo_sli{slo="sli0-availability",site="*"}' \
    'slic_slo_sli{slo="sli0-availability",site="site-1"}' \
    'slic_slo_target{slo="sli1-latency"} 0.9' \
    'slic_slo_error_budget_remaining{slo="sli0-availability",site="*"}' \
    'slic_slo_burn_rate{slo="sli0-availability",site="*",window="5m"}' \
    'slic_slo_alert{slo="sli0-availability",site="*",severity="page",long_window="1h",short_window="5m"}' \
    "slic_slo_window_events{slo=\"sli0-availability\",site=\"*\"} $want" \
    'slic_slo_wanted_thresholds{sli="sli1"} 1' 'slic_slo_wanted_thresholds{sli="checkout"} 1' \
    'slic_slo_evaluation_seconds '; do
    grep -qF "$m" "$E2E_DIR/metrics.txt" || fail "/metrics lacks $m"
done
pass "/metrics: SLO families present, promtool check metrics passes"

# ---- SIGHUP ----
slo_file 200ms >"$slo"
kill -HUP "$AGG_PID"
for _ in $(seq 1 100); do
    [ "$(api /api/v1/slos/sli1-latency | jq .threshold_seconds)" = 0.2 ] && break
    sleep 0.1
done
v200=$(check_threshold 0.2 200ms)
jq -en --argjson a "$v200" --argjson b "$v300" '$a < $b' >/dev/null ||
    fail "a tighter threshold did not lower the value: $v200 at 200ms, $v300 at 300ms"
api /metrics | grep -qF 'slic_slo_wanted_thresholds{sli="sli1"} 1' || fail "wanted after reload"
pass "SIGHUP 300ms -> 200ms re-evaluates the stored history at once ($v300 -> $v200)"

cp "$E2E_DIR/broken.yaml" "$slo"
kill -HUP "$AGG_PID"
for _ in $(seq 1 50); do grep -q "SLO reload rejected" "$E2E_DIR/agg.log" && break; sleep 0.1; done
grep -q "SLO reload rejected, keeping the running SLOs: .*slo.yaml:14:" "$E2E_DIR/agg.log" ||
    fail "bad SLO reload not reported"
[ "$(api /api/v1/slos/sli1-latency | jq .threshold_seconds)" = 0.2 ] ||
    fail "running SLOs not kept after a broken reload"
pass "SIGHUP with a broken SLO file keeps the running SLOs"

# ---- acks carry the wanted thresholds ----
# checkout.yaml's latency SLO wants 300 ms on `checkout`: a real agent learns it from its first
# ack and counts it exactly from its next window on.
start_agent agent --site eu --node n1
"$BIN/slic-loadgen" --udp "$AGENT_UDP" --sli checkout --rate 200 --seconds 40 --seed 9 \
    >"$E2E_DIR/loadgen.log" 2>&1 &
LOADGEN=$!
E2E_PIDS+=("$LOADGEN")
exact=false
for _ in $(seq 1 90); do
    exact=$(slic query checkout --node n1 --window 20s --threshold 300ms --json 2>/dev/null |
        jq -r '.under_threshold["0.3"].exact // false')
    [ "$exact" = true ] && break
    sleep 0.5
done
[ "$exact" = true ] || fail "the agent never counted checkout's 300ms threshold exactly"
kill "$LOADGEN" 2>/dev/null
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "slic-agent exited with $? after SIGTERM"
pass "acks carry the SLOs' thresholds: the agent counts checkout <= 300ms exactly"

stop_aggregator
grep -q "runtime error" "$E2E_DIR/agg.log" && fail "UBSan reports in the aggregator log"
pass "clean stop"
