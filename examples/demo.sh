#!/usr/bin/env bash
# `make demo`: the whole pipeline on this machine, on loopback, with embedded defaults. One
# slic-aggregator evaluating the SLOs of examples/slo/demo.yaml, two slic-agents (sites eu and us)
# fed about a minute of StatsD traffic and probing a small local web endpoint, then what `slic`
# says about it. Halfway through, site eu sees a burst of errors that drives the
# checkout-availability SLO into a firing page alert, pushed to a local webhook receiver.
# Everything started here is stopped here, also on Ctrl-C; DEMO_HOLD=1 keeps it all running
# (dashboard, API, /metrics) until Ctrl-C.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${SLIC_BUILD:-build/release}/bin
SECONDS_OF_TRAFFIC=${DEMO_SECONDS:-60}
dir=$(mktemp -d /tmp/slic-demo.XXXXXX)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    [ "${DEMO_KEEP:-0}" = 1 ] && echo "kept $dir" || rm -rf "$dir"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

port() { echo $((20000 + RANDOM % 20000)); }
agg_port=$(port)
http_port=$(port)
export SLIC_ADDR=tcp://127.0.0.1:$agg_port

http_api=127.0.0.1:$(port)
# The web endpoint the agents probe doubles as the webhook receiver alerts are pushed to.
cat >"$dir/aggregator.yaml" <<YAML
listen: $SLIC_ADDR
data_dir: $dir/agg
http: {listen: "$http_api"}
slo: {paths: [examples/slo/demo.yaml], evaluate_interval: 2s}
alerts: {webhooks: ["http://127.0.0.1:$http_port/hook"], resend_interval: 1m}
YAML
echo "== starting slic-aggregator on $SLIC_ADDR, HTTP on http://$http_api (data in $dir/agg)"
echo "   SLOs from examples/slo/demo.yaml; alerts pushed to http://127.0.0.1:$http_port/hook"
"$BIN/slic-aggregator" --config "$dir/aggregator.yaml" 2>"$dir/agg.log" &
pids+=($!)
"$BIN/slic-testhttp" "$http_port" 20 "$dir/alerts.jsonl" &
pids+=($!)
for _ in $(seq 1 50); do "$BIN/slic" --timeout 1s series >/dev/null 2>&1 && break; sleep 0.1; done

for site in eu us; do
    udp=127.0.0.1:$(port)
    cat >"$dir/agent-$site.yaml" <<YAML
site: $site
node: demo-$site
aggregator: $SLIC_ADDR
spool: {dir: $dir/spool-$site}
listen: {udp: "$udp", unix: "$dir/agent-$site.sock"}
labels: [route]
slis:
  checkout: {thresholds: [300ms]}
probes:
  - sli: web.ok
    http: http://127.0.0.1:$http_port/ok
    interval: 2s
    timeout: 1s
YAML
    echo "== starting slic-agent for site $site (StatsD on udp $udp)"
    "$BIN/slic-agent" --config "$dir/agent-$site.yaml" 2>"$dir/agent-$site.log" &
    pids+=($!)
    eval "udp_$site=$udp"
done
sleep 0.5

burst_at=$((SECONDS_OF_TRAFFIC * 2 / 5))
burst_seconds=$((SECONDS_OF_TRAFFIC * 3 / 10))
echo "== sending ${SECONDS_OF_TRAFFIC}s of checkout timers to both agents (eu: 1% errors, us: 2%,"
echo "   us slower); every eu checkout fails from ${burst_at}s for ${burst_seconds}s"
"$BIN/slic-loadgen" --udp "$udp_eu" --sli checkout --rate 400 --seconds "$SECONDS_OF_TRAFFIC" \
    --error-rate 0.01 --median-ms 80 --seed 1 --progress \
    --burst-at "$burst_at" --burst-seconds "$burst_seconds" >"$dir/load-eu.log" &
eu=$!
"$BIN/slic-loadgen" --udp "$udp_us" --sli checkout --rate 300 --seconds "$SECONDS_OF_TRAFFIC" \
    --error-rate 0.02 --median-ms 120 --seed 2 >"$dir/load-us.log" &
us=$!
pids+=("$eu" "$us")
wait "$eu" "$us"
echo "   eu: $(cat "$dir/load-eu.log")"
echo "   us: $(cat "$dir/load-us.log")"
echo "== waiting for the last window to close and be delivered"
sleep 12

echo
echo "== slic series"
"$BIN/slic" series
echo
echo "== slic agents"
"$BIN/slic" agents
echo
echo "== slic query checkout --window 5m --threshold 300ms --site us"
"$BIN/slic" query checkout --window 5m --threshold 300ms --site us
echo
echo "== slic query web.ok --window 5m   (the probe of the local web endpoint)"
"$BIN/slic" query web.ok --window 5m
echo
echo "== slic slo list   (SLO status per SLO, across sites: site *)"
"$BIN/slic" slo list
echo
echo "== slic slo list --site us"
"$BIN/slic" slo list --site us
echo
echo "== slic slo show checkout-availability --site eu   (the burst at eu pages)"
"$BIN/slic" slo show checkout-availability --site eu
echo
echo "== alerts the aggregator pushed to the webhook (Alertmanager v2 JSON; labels of each)"
if [ -s "$dir/alerts.jsonl" ]; then
    grep -o '"labels":{[^}]*}' "$dir/alerts.jsonl" | sort -u
else
    echo "   none (the aggregator's log: $dir/agg.log)"
fi
echo
if [ "${DEMO_HOLD:-0}" = 1 ]; then
    echo "== holding: dashboard http://$http_api/  API http://$http_api/api/v1/slos  /metrics"
    echo "   press Ctrl-C to stop everything"
    # sleep in the background and wait: a trapped signal then ends the wait at once.
    while :; do sleep 3600 & pids+=($!); wait $!; done
fi
echo "demo done; stopping everything it started (DEMO_HOLD=1 keeps it running, dashboard at /)"
