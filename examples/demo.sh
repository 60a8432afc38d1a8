#!/usr/bin/env bash
# `make demo`: the whole pipeline on this machine, on loopback, with embedded defaults. One
# slic-aggregator, two slic-agents (sites eu and us) fed about a minute of StatsD traffic and
# probing a small local web endpoint, then what `slic` says about it. Everything started here is
# stopped here, also on Ctrl-C.
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

echo "== starting slic-aggregator on $SLIC_ADDR (data in $dir/agg)"
http_api=127.0.0.1:$(port)
"$BIN/slic-aggregator" --listen "$SLIC_ADDR" --data-dir "$dir/agg" --http "$http_api" \
    2>"$dir/agg.log" &
pids+=($!)
"$BIN/slic-testhttp" "$http_port" 20 &
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

echo "== sending ${SECONDS_OF_TRAFFIC}s of checkout timers to both agents (eu: 1% errors, us: 3%)"
"$BIN/slic-loadgen" --udp "$udp_eu" --sli checkout --rate 400 --seconds "$SECONDS_OF_TRAFFIC" \
    --error-rate 0.01 --median-ms 80 --seed 1 --progress >"$dir/load-eu.log" &
eu=$!
"$BIN/slic-loadgen" --udp "$udp_us" --sli checkout --rate 300 --seconds "$SECONDS_OF_TRAFFIC" \
    --error-rate 0.03 --median-ms 120 --seed 2 >"$dir/load-us.log" &
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
for scope in "" "--site eu" "--site us"; do
    echo
    echo "== slic query checkout --window 5m --threshold 300ms $scope"
    # shellcheck disable=SC2086
    "$BIN/slic" query checkout --window 5m --threshold 300ms $scope
done
echo
echo "== slic query web.ok --window 5m   (the probe of the local web endpoint)"
"$BIN/slic" query web.ok --window 5m
echo
echo "demo done; stopping everything it started"
