#!/usr/bin/env bash
# From stored data to a pushed alert: an SLO whose budget the stream burns far faster than
# 14.4x makes the aggregator's engine fire a page, and the pusher posts it to the configured
# webhook (a real HTTP receiver started here), with the SLO, severity and burn rate.
source "$(dirname "$0")/lib.bash"

hook_port=$(free_port)
"$BIN/slic-testhttp" "$hook_port" 0 "$E2E_DIR/hook.jsonl" &
E2E_PIDS+=($!)
# slic-testsend marks 1% of events bad: against a 99.99% target that is a burn rate of 100.
cat >"$E2E_DIR/slo.yaml" <<'YAML'
apiVersion: openslo/v1
kind: SLO
metadata:
  name: sli0-availability
spec:
  service: test
  indicator:
    metadata:
      name: sli0-ok
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: slic, spec: {sli: sli0, outcome: good}}}
        total: {metricSource: {type: slic, spec: {sli: sli0}}}
  timeWindow:
    - duration: 30d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.9999
YAML
cat >"$E2E_DIR/agg.yaml" <<YAML
slo:
  evaluate_interval: 1s
alerts:
  webhooks: [http://127.0.0.1:$hook_port/hook]
  resend_interval: 2s
YAML
out=$("$BIN/slic-aggregator" --config "$E2E_DIR/agg.yaml" --slo "$E2E_DIR/slo.yaml" \
    --check-config) || fail "--check-config: $out"
start_aggregator agg --config "$E2E_DIR/agg.yaml" --slo "$E2E_DIR/slo.yaml"
"$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 2 --series 1 --windows 6 --values 500 \
    >"$E2E_DIR/send.log" 2>&1 || fail "slic-testsend: $(cat "$E2E_DIR/send.log")"
for _ in $(seq 1 100); do
    grep -q '"severity":"page"' "$E2E_DIR/hook.jsonl" 2>/dev/null && break
    sleep 0.2
done
[ -s "$E2E_DIR/hook.jsonl" ] || fail "no alert reached the webhook within 20 s"
line=$(grep '"severity":"page"' "$E2E_DIR/hook.jsonl" | head -n 1)
jq -e '.[] | select(.labels.severity == "page") |
       .labels.alertname == "SLOBurnRate" and .labels.slo == "sli0-availability" and
       (.annotations.burn_rate | tonumber) > 14.4' <<<"$line" >/dev/null ||
    fail "unexpected alert: $line"
pass "a 100x burn fired a page that reached the webhook: $(jq -c '.[0].labels' <<<"$line")"
stop_aggregator
