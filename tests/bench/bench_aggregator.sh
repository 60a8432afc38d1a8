#!/usr/bin/env bash
# End-to-end aggregator benchmark (release build): batches/s and series merges/s committed by
# one slic-aggregator from 2 local senders over loopback nng, durable and not, each batch 50
# series of 10 s windows; then `slic query` wall time for a 28-day window over 1 h rollups of
# 50 sites, CLI process start included. Loops are bounded; everything started is stopped.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${SLIC_BUILD:-build/release}/bin
dir=$(mktemp -d /tmp/slic-bench-agg.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT
port=$((30000 + RANDOM % 20000))
addr=tcp://127.0.0.1:$port

start() { # data dir, durable
    printf 'durable: %s\nlog_level: warn\n' "$2" >"$dir/agg.yaml"
    "$BIN/slic-aggregator" --config "$dir/agg.yaml" --listen "$addr" --data-dir "$1" \
        --http "127.0.0.1:$((port + 1))" \
        2>>"$dir/agg.log" &
    agg=$!
    pids+=("$agg")
    for _ in $(seq 1 100); do "$BIN/slic" --addr "$addr" --timeout 1s series >/dev/null 2>&1 && return; sleep 0.1; done
    echo "bench_aggregator: aggregator did not start" >&2
    cat "$dir/agg.log" >&2
    exit 1
}
stop() { kill -TERM "$agg"; wait "$agg"; }
now_ns() { date +%s%N; }

printf '\naggregator benchmark: 2 senders x 20 agents x 50 windows, 50 series per batch, over nng\n'
printf '%-52s %12s\n' measure value
for durable in true false; do
    start "$dir/data-$durable" "$durable"
    t0=$(now_ns)
    for s in a b; do
        "$BIN/slic-testsend" --addr "$addr" --prefix "$s-" --agents 20 --sites 5 --series 50 \
            --windows 50 --values 10 --threads 8 >"$dir/send-$s.log" 2>&1 &
        pids+=($!)
        senders+=($!)
    done
    wait "${senders[@]}"
    t1=$(now_ns)
    unset senders
    stop
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    mode=$([ "$durable" = true ] && echo durable || echo non-durable)
    awk -v s="$secs" -v m="$mode" 'BEGIN {
        printf "%-52s %12.0f\n", "end to end, " m ": batches/s", 2000 / s
        printf "%-52s %12.0f\n", "end to end, " m ": series merged/s", 2000 * 50 / s }'
done

# 50 sites x 28 days of hourly windows, then the 28-day query through the CLI.
start "$dir/data-query" false
end=$(( $(date +%s) / 3600 * 3600 ))
"$BIN/slic-testsend" --addr "$addr" --agents 50 --sites 50 --series 1 --windows 672 \
    --window-seconds 3600 --start $((end - 672 * 3600)) --values 20 --threads 8 \
    >"$dir/send-q.log" 2>&1 || { echo "loading 28 days failed" >&2; exit 1; }
best=999999
for _ in $(seq 1 20); do
    t0=$(now_ns)
    "$BIN/slic" --addr "$addr" query sli0 --from $((end - 28 * 86400)) --to "$end" --json \
        >"$dir/q.json" || { echo "query failed" >&2; exit 1; }
    t1=$(now_ns)
    ms=$(( (t1 - t0) / 1000000 ))
    [ "$ms" -lt "$best" ] && best=$ms
done
count=$(sed -E 's/.*"count":([0-9]+).*/\1/' "$dir/q.json")
printf '%-52s %9s ms (%s events, whole CLI process)\n' \
    "slic query, 28 days x 50 sites (1 h rollups)" "$best" "$count"
stop
