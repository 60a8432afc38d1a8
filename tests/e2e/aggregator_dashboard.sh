#!/usr/bin/env bash
# The dashboard end to end: GET / and /dashboard serve the self-contained page with a strict
# Content-Security-Policy; /api/v1/slos/NAME/burndown ends, for every SLO and scope (Occurrences
# over 28 rolling days, a calendar day, Timeslices of a site pattern), exactly on the remaining
# /api/v1/slos reports, starts at 100 % and only falls; bad points, sites and names are 400s and
# 404s that say why; and a real headless Chromium runs the page's script against the
# aggregator, drawing a status row and a burn-down chart for every SLO, all sites and one.
source "$(dirname "$0")/lib.bash"

command -v jq >/dev/null || fail "jq not found (make deps)"
command -v chromium >/dev/null || fail "chromium not found (Debian package chromium; make deps)"

# ratio_slo NAME EXTRA-SPEC WINDOW BUDGETING OBJECTIVE: an SLO of sli0's outcomes.
ratio_slo() {
    cat <<EOF
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: $1}
spec:
  service: testsend
  indicator:
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: slic, spec: {sli: sli0, outcome: good$2}}}
        total: {metricSource: {type: slic, spec: {sli: sli0$2}}}
  timeWindow: [$3]
  budgetingMethod: $4
  objectives: [$5]
EOF
}
slo=$E2E_DIR/slo.yaml
{
    ratio_slo sli0-availability "" "{duration: 28d, isRolling: true}" Occurrences "{target: 0.995}"
    ratio_slo sli0-minutes-site-0 ", sites: [site-0]" "{duration: 1d, isRolling: true}" \
        Timeslices "{target: 0.9, timeSliceTarget: 0.99, timeSliceWindow: 1m}"
    cat <<'EOF'
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: sli1-latency-daily}
spec:
  service: testsend
  indicator:
    spec:
      thresholdMetric:
        metricSource: {type: slic, spec: {sli: sli1}}
  timeWindow: [{duration: 1d, isRolling: false, calendar: {startTime: "2024-01-01 00:00:00", timeZone: UTC}}]
  budgetingMethod: Occurrences
  objectives: [{op: lte, value: 100ms, target: 0.9}]
EOF
} >"$slo"
conf=$E2E_DIR/agg.yaml
printf 'slo:\n  evaluate_interval: 1s\n' >"$conf"
HTTP_PORT=$(free_port)
HTTP="http://127.0.0.1:$HTTP_PORT"
start_aggregator agg --config "$conf" --slo "$slo" --http "127.0.0.1:$HTTP_PORT"

# Four hours of minute windows, then a few minutes of 10 s windows up to now, so the 28-day
# window is read at every resolution: hours in its middle, minutes and 10 s at its end.
now=$(date +%s)
"$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 2 --sites 2 --series 2 --windows 240 \
    --window-seconds 60 --values 20 --start $(((now / 60 - 242) * 60)) --prefix old --seed 3 \
    --expect "$E2E_DIR/old.json" >"$E2E_DIR/send-old.log" 2>&1 ||
    fail "slic-testsend (minutes): $(cat "$E2E_DIR/send-old.log")"
"$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 2 --sites 2 --series 2 --windows 30 \
    --values 50 --prefix new --seed 4 --expect "$E2E_DIR/new.json" >"$E2E_DIR/send-new.log" 2>&1 ||
    fail "slic-testsend (10 s): $(cat "$E2E_DIR/send-new.log")"

want=$(jq -s 'map(.slis.sli0.count) | add' "$E2E_DIR/old.json" "$E2E_DIR/new.json")
for _ in $(seq 1 100); do
    got=$(get /api/v1/slos/sli0-availability | jq -r '.events.total')
    [ "$got" = "$want" ] && break
    sleep 0.1
done
[ "$got" = "$want" ] || fail "sli0-availability counts $got events, expected $want"

# ---- the burn-down series against the engine's numbers ----
check_series() { # NAME SITE [POINTS]
    local name=$1 site=$2 points=${3:-} doc bd qs="site=$2"
    [ -n "$points" ] && qs="$qs&points=$points"
    doc=$(get "/api/v1/slos/$name?site=$site")
    [ "$(status)" = 200 ] || fail "$name?site=$site: $(status) $doc"
    bd=$(get "/api/v1/slos/$name/burndown?$qs")
    [ "$(status)" = 200 ] || fail "$name/burndown?$qs: $(status) $bd"
    jq -e --argjson doc "$doc" --argjson max "${points:-120}" '
        .slo == $doc.name and .site == $doc.site and .evaluated and .target == $doc.target and
        .budgeting == $doc.budgeting and .window.kind == $doc.window.kind and
        .remaining == $doc.remaining and .consumed == $doc.consumed and
        .read_consumed == .consumed and
        (.points | length) >= 2 and (.points | length) <= $max and
        .points[0].t == .window.from and .points[0].remaining == 1 and .points[0].bad == 0 and
        (.points | last | .t) == .window.to and
        (.points | last | .remaining) == $doc.remaining and
        (.points | last | .total) == $doc.events.total and
        ([.points[].remaining] as $r | all(range(1; $r | length); $r[.] <= $r[. - 1])) and
        ([.points[].t] as $t | all(range(1; $t | length); $t[.] > $t[. - 1]))' \
        <<<"$bd" >/dev/null ||
        fail "$name@$site burn-down $(jq -c '{site, remaining, consumed, read_consumed, window, n: (.points | length), first: .points[0], last: (.points | last)}' <<<"$bd") vs /api/v1/slos $(jq -c '{site, remaining, consumed, events, window}' <<<"$doc")"
}
for s in '*' site-0 site-1; do
    check_series sli0-availability "$s"
    check_series sli1-latency-daily "$s"
done
check_series sli0-minutes-site-0 '*'
check_series sli0-minutes-site-0 site-0
check_series sli0-availability '*' 2
check_series sli0-availability site-1 1000
bd=$(get "/api/v1/slos/sli0-availability/burndown")
jq -e '.site == "*" and (.points | length) > 3 and .resolution_seconds == 3600 and
    .points[-2].bad < .points[-1].bad and .remaining < 1' <<<"$bd" >/dev/null ||
    fail "default burn-down: $(jq -c '{site, resolution_seconds, remaining, n: (.points | length)}' <<<"$bd")"
jq -e '.budgeting == "timeslices" and (.points | last | .slices) > 200 and
    (.points | last | has("bad_slices"))' <<<"$(get /api/v1/slos/sli0-minutes-site-0/burndown)" \
    >/dev/null || fail "Timeslices burn-down: $(cat "$E2E_DIR/body")"
pass "burn-down series end on /api/v1/slos's remaining, per site and across sites, and only fall"

# ---- bad requests ----
bad() { # PATH STATUS PARAMETER-OR-TEXT
    local body
    body=$(get "$1")
    [ "$(status)" = "$2" ] || fail "$1: status $(status), expected $2: $body"
    if [ "$2" = 400 ]; then
        [ "$(jq -r .parameter <<<"$body")" = "$3" ] || fail "$1: names $(jq -c . <<<"$body"), not $3"
    else
        jq -e --arg t "$3" '.error | contains($t)' <<<"$body" >/dev/null || fail "$1: $body lacks $3"
    fi
}
b=/api/v1/slos/sli0-availability/burndown
bad "$b?points=1" 400 points
bad "$b?points=1001" 400 points
bad "$b?points=many" 400 points
bad "$b?points=5&points=6" 400 points
bad "$b?site=no%20site" 400 site
bad "$b?window=1h" 400 window
bad "/api/v1/slos/no%20such/burndown" 400 name
bad "/api/v1/slos/nosuch/burndown" 404 "no SLO named 'nosuch'"
bad "$b?site=site-9" 404 "covers no site 'site-9'"
bad "/api/v1/slos/sli0-minutes-site-0/burndown?site=site-1" 404 "covers no site 'site-1'"
bad "$b/more" 404 "no such path"
pass "bad points, sites and names: 400 naming the parameter, 404 saying what is missing"

# ---- the page ----
page=$(get / -D "$E2E_DIR/headers")
[ "$(status)" = 200 ] || fail "GET /: status $(status)"
h() { grep -i "^$1:" "$E2E_DIR/headers" | tr -d '\r'; }
[ "$(h content-type)" = "Content-Type: text/html; charset=utf-8" ] || fail "GET /: $(h content-type)"
[ "$(h cache-control)" = "Cache-Control: no-cache" ] || fail "GET /: $(h cache-control)"
csp=$(h content-security-policy)
for want in "default-src 'none'" "script-src 'unsafe-inline'" "connect-src 'self'" \
    "frame-ancestors 'none'"; do
    grep -qF "$want" <<<"$csp" || fail "GET /: CSP lacks $want: $csp"
done
grep -q '^<!doctype html>' <<<"$page" && grep -q '</html>' <<<"$page" || fail "GET /: not the page"
grep -Eq '(src|href)="(https?:)?//' <<<"$page" && fail "the page loads something from elsewhere"
[ "$(get /dashboard)" = "$page" ] || fail "/dashboard differs from /"
curl -sS -I "$HTTP/dashboard" >"$E2E_DIR/head" || fail "HEAD /dashboard"
grep -q "^HTTP/1.1 200" "$E2E_DIR/head" && grep -qi "^content-security-policy: " "$E2E_DIR/head" ||
    fail "HEAD /dashboard: $(cat "$E2E_DIR/head")"
pass "/ and /dashboard serve the self-contained page as HTML with a strict CSP and no-cache"

# ---- the page in a real browser ----
# --dump-dom prints the DOM once the page's virtual time budget has run out; virtual time waits
# for its fetches, so the tables and charts drawn from the API are in it. The profile lives in
# the test's temp dir; the browser is stopped by PID like everything else here.
browse() { # URL OUT
    local t0=$SECONDS
    timeout -k 5 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$E2E_DIR/chromium" --virtual-time-budget=8000 --dump-dom "$1" \
        >"$2" 2>"$E2E_DIR/chromium.log" &
    local pid=$!
    E2E_PIDS+=("$pid")
    wait "$pid" || fail "chromium exited with $? on $1: $(tail -5 "$E2E_DIR/chromium.log")"
    echo "chromium rendered $1 in $((SECONDS - t0)) s"
}
browse "$HTTP/" "$E2E_DIR/dom.html"
dom=$E2E_DIR/dom.html
grep -q 'id="updated"[^>]*>updated ' "$dom" || fail "the page did not finish a refresh: $(grep -o '<span id="updated"[^<]*' "$dom")"
all=$(get /api/v1/slos)
for name in sli0-availability sli1-latency-daily sli0-minutes-site-0; do
    grep -q "<tr class=\"scope-all\" data-slo=\"$name\" data-site=\"\\*\">" "$dom" ||
        fail "no status row for $name"
    fig=$(grep -o "<figure class=\"chart\" data-slo=\"$name\" data-site=\"\\*\">.*" "$dom" |
        sed 's#</figure>.*##')
    [ -n "$fig" ] || fail "no chart for $name"
    grep -q '<path class="burn" d="M[0-9.]* [0-9.]*\( L[0-9.]* [0-9.-]*\)\+" data-points="[0-9]*"' <<<"$fig" ||
        fail "$name: no burn-down path: ${fig:0:600}"
    grep -q '<line class="ideal"' <<<"$fig" && grep -q '<line class="zero"' <<<"$fig" ||
        fail "$name: no ideal or zero line"
    grep -Eq '>(ON TRACK|BURNING FASTER THAN IDEAL|BUDGET EXHAUSTED)<' <<<"$fig" ||
        fail "$name: no budget verdict in words"
    shown=$(grep -o 'data-field="summary" data-remaining="[^"]*"' <<<"$fig" | sed 's/.*="//; s/"$//')
    jq -e --arg n "$name" --argjson v "$shown" \
        '.[] | select(.name == $n) | .remaining == $v' <<<"$all" >/dev/null ||
        fail "$name: the chart ends at $shown, /api/v1/slos says $(jq --arg n "$name" '.[] | select(.name == $n) | .remaining' <<<"$all")"
done
grep -q 'data-slo="sli0-availability" data-site="site-1">' "$dom" || fail "no per-site row"
rem=$(grep -o '<tr class="scope-all" data-slo="sli0-availability".*' "$dom" | sed 's#</tr>.*##' |
    grep -o 'data-field="remaining" data-value="[^"]*"' | sed 's/.*="//; s/"$//')
jq -e --argjson v "$rem" '.[] | select(.name == "sli0-availability") | .remaining == $v' \
    <<<"$all" >/dev/null || fail "the table shows remaining $rem"
grep -Eq '>(OK|LOW|EXHAUSTED)</span>' "$dom" || fail "no budget state in words in the table"
grep -q '<option value="site-0">site-0</option>' "$dom" || fail "no site in the selector"
pass "Chromium runs the page: a status row per SLO and scope, a burn-down chart per SLO"

browse "$HTTP/#site=site-1" "$E2E_DIR/dom-site.html"
grep -q '<figure class="chart" data-slo="sli0-availability" data-site="site-1">' \
    "$E2E_DIR/dom-site.html" || fail "#site=site-1 did not chart site-1"
grep -q 'data-slo="sli0-minutes-site-0"' "$E2E_DIR/dom-site.html" &&
    fail "#site=site-1 shows an SLO that does not cover site-1"
pass "the site selector (#site=site-1) charts that site's scope only"

stop_aggregator
grep -q "runtime error" "$E2E_DIR/agg.log" && fail "UBSan reports in the aggregator log"
pass "clean stop"
