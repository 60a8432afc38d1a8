#!/usr/bin/env bash
# The aggregator's HTTP side on loopback: /healthz, /metrics (valid for `promtool check metrics`,
# counting exactly the batches slic-testsend had acknowledged), /api/v1/query answering the very
# object `slic query --json` prints for the same range, 400s naming the bad parameter, 404s for
# unknown SLIs and paths, 405 for other methods; `--http ""` turns it off.
source "$(dirname "$0")/lib.bash"

command -v promtool >/dev/null || fail "promtool not found (Debian package prometheus; make deps)"
HTTP_PORT=$(free_port)
HTTP="http://127.0.0.1:$HTTP_PORT"

start_aggregator agg --http "127.0.0.1:$HTTP_PORT"
for _ in $(seq 1 50); do
    curl -s --max-time 1 "$HTTP/healthz" >/dev/null && break
    sleep 0.1
done
[ "$(get /healthz)" = ok ] && [ "$(status)" = 200 ] || fail "/healthz: $(status) $(cat "$E2E_DIR/body")"
grep -q "HTTP API and /metrics on $HTTP" "$E2E_DIR/agg.log" || fail "no start line for HTTP"
pass "/healthz answers ok and the start is logged"

"$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 4 --sites 2 --series 3 --windows 6 \
    --values 100 --seed 11 --expect "$E2E_DIR/expect.json" >"$E2E_DIR/send.log" 2>&1 ||
    fail "slic-testsend: $(cat "$E2E_DIR/send.log")"
accepted=$(sed -nE 's/.* ([0-9]+) accepted, .*/\1/p' "$E2E_DIR/send.log")
[ "${accepted:-0}" -eq 24 ] || fail "slic-testsend: $(cat "$E2E_DIR/send.log")"

# ---- /metrics ----
get /metrics >"$E2E_DIR/metrics.txt"
[ "$(status)" = 200 ] || fail "/metrics: status $(status)"
promtool check metrics <"$E2E_DIR/metrics.txt" >"$E2E_DIR/promtool.log" 2>&1 ||
    fail "promtool check metrics: $(cat "$E2E_DIR/promtool.log")"
metric() { # NAME_WITH_LABELS: its value on the scraped page
    awk -v m="$1" '$1 == m { print $2 }' "$E2E_DIR/metrics.txt"
}
[ "$(metric 'slic_aggregator_batches_total{result="accepted"}')" = "$accepted" ] ||
    fail "batches accepted $(metric 'slic_aggregator_batches_total{result="accepted"}'), slic-testsend saw $accepted"
[ "$(metric 'slic_aggregator_batches_total{result="duplicate"}')" = 0 ] || fail "duplicates counted"
[ "$(metric slic_aggregator_series_accepted_total)" = $((accepted * 3)) ] ||
    fail "series accepted $(metric slic_aggregator_series_accepted_total), expected $((accepted * 3))"
[ "$(metric 'slic_build_info{version="0.1.0"}')" = 1 ] || fail "no slic_build_info"
[ "$(metric slic_aggregator_store_commits_total)" -ge 1 ] || fail "no commits counted"
[ "$(metric slic_aggregator_store_used_bytes)" -gt 0 ] || fail "no bytes used"
[ -n "$(metric slic_aggregator_writer_queue_depth)" ] || fail "no writer queue depth"
curl -sS -D "$E2E_DIR/headers" -o /dev/null "$HTTP/metrics"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$E2E_DIR/headers" ||
    fail "/metrics content type: $(cat "$E2E_DIR/headers")"
pass "/metrics passes promtool and counts the $accepted batches slic-testsend had acknowledged"

# ---- /api/v1/query against slic query --json ----
from=$(jq .from "$E2E_DIR/expect.json")
to=$(jq .to "$E2E_DIR/expect.json")
compare() { # QUERY_STRING -- SLIC_ARGS...
    local qs=$1 api cli
    shift
    api=$(get "/api/v1/query?$qs")
    [ "$(status)" = 200 ] || fail "/api/v1/query?$qs: $(status) $api"
    cli=$(slic query "$@" --json) || fail "slic query $*"
    for f in .count .good .quantiles .under_threshold .from_unix .to_unix; do
        [ "$(jq -c "$f" <<<"$api")" = "$(jq -c "$f" <<<"$cli")" ] ||
            fail "$qs: $f is $(jq -c "$f" <<<"$api") over HTTP, $(jq -c "$f" <<<"$cli") from slic"
    done
    [ "$api" = "$cli" ] || fail "$qs: HTTP and slic differ: $api vs $cli"
}
for s in sli0 sli1 sli2; do
    compare "sli=$s&from=$from&to=$to" "$s" --from "$from" --to "$to"
done
compare "sli=sli1&site=site-1&from=$from&to=$to&q=0.1,0.5,0.99&threshold=300ms,1s" \
    sli1 --site site-1 --from "$from" --to "$to" --q 0.1,0.5,0.99 --threshold 300ms,1s
compare "sli=sli2&node=node-3&from=$from&to=$to&threshold=50ms" \
    sli2 --node node-3 --from "$from" --to "$to" --threshold 50ms
[ "$(get "/api/v1/query?sli=sli0&from=$from&to=$to" | jq .count)" = \
    "$(jq .slis.sli0.count "$E2E_DIR/expect.json")" ] || fail "HTTP count differs from what was sent"
pass "/api/v1/query prints what slic query --json prints (all sites, a site, a node)"

# ---- errors ----
bad() { # QUERY_STRING PARAMETER
    local body
    body=$(get "/api/v1/query?$1")
    [ "$(status)" = 400 ] || fail "?$1: status $(status), expected 400: $body"
    [ "$(jq -r .parameter <<<"$body")" = "$2" ] || fail "?$1: names $(jq -c . <<<"$body"), not $2"
    jq -e '.error | length > 0' <<<"$body" >/dev/null || fail "?$1: no error text: $body"
}
bad "from=$from" sli
bad "sli=no%20spaces" sli
bad "sli=sli0&q=99" q
bad "sli=sli0&threshold=-3ms" threshold
bad "sli=sli0&from=yesterday" from
bad "sli=sli0&to=later" to
bad "sli=sli0&window=0s" window
bad "sli=sli0&site=site-0&node=node-0" node
bad "sli=sli0&label=novalue" label
bad "sli=sli0&frm=now" frm
get "/api/v1/query?sli=nosuch&from=$from&to=$to" | jq -e '.error | test("nosuch")' >/dev/null ||
    fail "unknown SLI: $(cat "$E2E_DIR/body")"
[ "$(status)" = 404 ] || fail "unknown SLI: status $(status)"
get /no/such/path | jq -e .error >/dev/null || fail "unknown path: not JSON"
[ "$(status)" = 404 ] || fail "unknown path: status $(status)"
[ "$(get /api/v1/slos)" = "[]" ] && [ "$(status)" = 200 ] || fail "/api/v1/slos without SLOs"
get /api/v1/slos/checkout >/dev/null
[ "$(status)" = 404 ] || fail "/api/v1/slos/checkout: status $(status)"
get /metrics -X POST -d x=1 >/dev/null
[ "$(status)" = 405 ] || fail "POST: status $(status)"
curl -sS -D - -o /dev/null -X PUT "$HTTP/api/v1/query" | grep -qi '^allow: GET, HEAD' ||
    fail "405 without an Allow header"
pass "400 naming the parameter, 404 for unknown SLIs and paths, 405 for POST and PUT"

get /metrics >"$E2E_DIR/metrics.txt"
promtool check metrics <"$E2E_DIR/metrics.txt" >"$E2E_DIR/promtool.log" 2>&1 ||
    fail "promtool after errors: $(cat "$E2E_DIR/promtool.log")"
[ "$(metric 'slic_aggregator_http_requests_total{handler="query",code="400"}')" = 10 ] ||
    fail "query 400s counted $(metric 'slic_aggregator_http_requests_total{handler="query",code="400"}')"
[ "$(metric slic_aggregator_queries_total)" -ge 7 ] || fail "queries not counted"
pass "HTTP requests are counted by handler and code"

stop_aggregator
curl -s --max-time 2 "$HTTP/healthz" >/dev/null && fail "HTTP still answers after the aggregator stopped"
grep -q "stopped cleanly" "$E2E_DIR/agg.log" || fail "no clean-stop line in the log"
pass "SIGTERM stops the HTTP side with the rest"

AGG_PORT=$(free_port)
start_aggregator agg2 --http ""
grep -q "HTTP API" "$E2E_DIR/agg2.log" && fail "--http \"\" still started HTTP"
curl -s --max-time 2 "$HTTP/healthz" >/dev/null && fail "--http \"\": something answers HTTP"
stop_aggregator
pass "--http \"\" turns the HTTP side off"
