#!/usr/bin/env bash
# `slic slo` end to end: an aggregator with a ratio and a threshold SLO and data from
# slic-testsend. `slic slo list` shows each SLO with the events, SLI value, budget and burn rates
# of the aggregator's evaluation (good/total of what was sent, exactly), `--sites` a row per
# site; `slic slo show` reports one SLO with its alert tiers and sites; `--json` prints exactly
# the bytes of GET /api/v1/slos[/NAME][?site=S]; an unknown SLO or site exits 3 naming it, a bad
# option 2; an aggregator without SLOs lists none. The SLOs are evaluated once an hour and at
# each SIGHUP, so the CLI and curl read the same snapshot.
source "$(dirname "$0")/lib.bash"

slo=$E2E_DIR/slo.yaml
cat >"$slo" <<'EOF'
apiVersion: openslo/v1
kind: SLO
metadata: {name: sli0-availability, displayName: sli0 availability}
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
  objectives: [{op: lte, value: 100ms, target: 0.9}]
EOF
conf=$E2E_DIR/agg.yaml
printf 'slo:\n  evaluate_interval: 1h\n' >"$conf"

HTTP=127.0.0.1:$(free_port)
start_aggregator agg --config "$conf" --slo "$slo" --http "$HTTP"
api() { curl -s "http://$HTTP$1"; }

# Whole windows that end before now, so one evaluation sees them all.
start=$(($(date +%s) / 10 * 10 - 310))
"$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 4 --sites 2 --series 2 --windows 30 \
    --values 50 --start "$start" --expect "$E2E_DIR/expect.json" >"$E2E_DIR/testsend.log" 2>&1 ||
    fail "slic-testsend: $(cat "$E2E_DIR/testsend.log")"
want=$(jq .slis.sli0.count "$E2E_DIR/expect.json")
got=
for _ in $(seq 1 50); do
    kill -HUP "$AGG_PID" # evaluates at once
    sleep 0.2
    got=$(api /api/v1/slos/sli1-latency | jq -r .events.total)
    [ "$got" = "$want" ] && [ "$(api /api/v1/slos/sli0-availability | jq -r .events.total)" = "$want" ] &&
        break
done
[ "$got" = "$want" ] || fail "the SLOs count $got events, expected $want"

# ---- --json: the bytes of the HTTP API ----
same_as_api() { # path, slic args...
    local path=$1
    shift
    slic slo "$@" --json >"$E2E_DIR/cli.json" || fail "slic slo $* --json exited $?"
    api "$path" >"$E2E_DIR/api.json"
    cmp -s "$E2E_DIR/cli.json" "$E2E_DIR/api.json" ||
        fail "slic slo $* --json differs from GET $path: $(diff "$E2E_DIR/cli.json" "$E2E_DIR/api.json" | head -c 600)"
}
same_as_api /api/v1/slos list
same_as_api /api/v1/slos?site=site-1 list --site site-1
same_as_api /api/v1/slos/sli0-availability show sli0-availability
same_as_api /api/v1/slos/sli1-latency?site=site-0 show sli1-latency --site site-0
pass "slic slo list/show --json print exactly GET /api/v1/slos[/NAME][?site=S]"

# ---- the numbers are the evaluation's, and good/total of what was sent ----
doc=$(slic slo show sli0-availability --json)
jq -e --slurpfile x "$E2E_DIR/expect.json" '
    .events.total == $x[0].slis.sli0.count and .events.good_lower == $x[0].slis.sli0.good and
    .value == ($x[0].slis.sli0.good / $x[0].slis.sli0.count) and .exact and
    (.sites | length) == 2 and ([.sites[].events.total] | add) == .events.total' <<<"$doc" \
    >/dev/null || fail "sli0-availability: $(jq -c '{value, events}' <<<"$doc") vs $(jq -c .slis.sli0 "$E2E_DIR/expect.json")"
lat=$(slic slo show sli1-latency --json)
jq -e --slurpfile x "$E2E_DIR/expect.json" '$x[0].slis.sli1.le["0.1"] as $le |
    .events.good_lower <= $le and $le <= .events.good_upper and .threshold_seconds == 0.1' \
    <<<"$lat" >/dev/null || fail "sli1-latency does not bound the events <= 100ms: $(jq -c .events <<<"$lat")"

# What a table cell shows: percentages as slic formats them (3 decimals, more near 100 %),
# budget shares with 1 decimal, burn rates with 2.
percent() { # fraction
    local d
    d=$(jq -n --argjson v "$1" '($v * 100) as $p | (100 - $p) as $r |
        if $r > 0 then [3, 1 - ($r | log10 | floor)] | max | [., 12] | min else 3 end')
    printf "%.${d}f%%" "$(jq -n --argjson v "$1" '$v * 100')"
}
cells() { # JSON of one scope -> "EVENTS SLI-VALUE BUDGET-LEFT BURN-1H BURN-6H" as a regex
    printf '%s +%s +%.1f%% +%.2f +%.2f' "$(jq .events.total <<<"$1")" \
        "$(percent "$(jq .value <<<"$1")")" "$(jq '.remaining * 100' <<<"$1")" \
        "$(jq '.burn_rates["1h"]' <<<"$1")" "$(jq '.burn_rates["6h"]' <<<"$1")"
}
list=$(slic slo list) || fail "slic slo list exited $?"
grep -qE '^SLO +SLI +OBJECTIVE +WINDOW +EVENTS +SLI VALUE +BUDGET LEFT +BURN 1H +BURN 6H +ALERTS$' \
    <<<"$list" || fail "slic slo list header: $list"
grep -qE "^sli0-availability +sli0 +99% good +4w +$(cells "$doc") " <<<"$list" ||
    fail "slic slo list, sli0-availability: want $(cells "$doc"), got: $list"
grep -qE "^sli1-latency +sli1 +90% <=100ms +4w +$(cells "$lat") " <<<"$list" ||
    fail "slic slo list, sli1-latency: want $(cells "$lat"), got: $list"
[ "$(wc -l <<<"$list")" = 3 ] || fail "slic slo list: $list"
sites=$(slic slo list --sites) || fail "slic slo list --sites exited $?"
for site in site-0 site-1; do
    q=$(slic query sli0 --site "$site" --from "$(jq -r .window.from <<<"$doc")" \
        --to "$(jq -r .window.to <<<"$doc")" --json) || fail "slic query sli0 --site $site"
    s=$(jq --arg s "$site" '.sites[] | select(.site == $s)' <<<"$doc")
    jq -e --argjson q "$q" '.value == ($q.good / $q.count)' <<<"$s" >/dev/null ||
        fail "$site: $(jq -c '{value, events}' <<<"$s") vs slic query $(jq -c '{good, count}' <<<"$q")"
    grep -qE "^sli0-availability +$site +sli0 +99% good +4w +$(cells "$s") " <<<"$sites" ||
        fail "slic slo list --sites, $site: want $(cells "$s"), got: $sites"
done
[ "$(wc -l <<<"$sites")" = 7 ] || fail "slic slo list --sites: $sites"
one=$(slic slo list --site site-1) || fail "slic slo list --site site-1 exited $?"
grep -qE "^sli0-availability +site-1 +sli0 " <<<"$one" || fail "slic slo list --site: $one"
pass "slic slo list: events, SLI value, budget left and burn rates of the evaluation, per site too"

# ---- show ----
show=$(slic slo show sli0-availability) || fail "slic slo show exited $?"
for line in "^slo +sli0-availability$" "^display name +sli0 availability$" \
    "^indicator +ratio: good / total events$" "^objective +99% good \(occurrences\)$" \
    "^window +rolling, 4w$" "^scope +all sites$" \
    "^events +$want total, $(jq .slis.sli0.good "$E2E_DIR/expect.json") good \(exact\)$" \
    "^sli value +$(percent "$(jq .value <<<"$doc")")$" "^error budget +1.000%$" \
    "^remaining +$(jq '.remaining * 100' <<<"$doc" | xargs printf '%.1f')%$" \
    "^WINDOW +5m +30m +1h +2h +6h +1d +3d$" \
    "^ALERT +BURN ABOVE +BURN LONG +BURN SHORT +STATE +SINCE +FIRINGS$" \
    "^page 1h/5m +13.44 " "^ticket 3d/6h +0.93 " \
    "^SITE +SLI VALUE +EVENTS +BUDGET LEFT +BURN 1H +BURN 6H +ALERTS$" "^site-0 " "^site-1 "; do
    grep -qE "$line" <<<"$show" || fail "slic slo show lacks /$line/: $show"
done
state=$(jq -r '.alerts[] | select(.short_window == "6h") | .state' <<<"$doc")
grep -qE "^ticket 3d/6h .* $state " <<<"$show" || fail "slic slo show: 3d/6h not $state: $show"
show=$(slic slo show sli1-latency --site site-0) || fail "slic slo show --site exited $?"
grep -qE "^scope +site site-0$" <<<"$show" && ! grep -q "^SITE " <<<"$show" ||
    fail "slic slo show --site site-0: $show"
grep -qE "^events +[0-9]+ total, [0-9]+\.\.[0-9]+ good$" <<<"$show" ||
    fail "slic slo show of a sketch-bounded SLO: $show"
pass "slic slo show: definition, events, value, budget, burn rates, alert tiers and sites"

# ---- not found and usage errors ----
expect_exit() { # code, what stderr must contain, slic args...
    local code=$1 says=$2 rc
    shift 2
    slic "$@" >"$E2E_DIR/out" 2>"$E2E_DIR/err"
    rc=$?
    [ "$rc" = "$code" ] || fail "slic $* exited $rc, expected $code: $(cat "$E2E_DIR/err")"
    grep -qF -- "$says" "$E2E_DIR/err" || fail "slic $*: stderr lacks '$says': $(cat "$E2E_DIR/err")"
}
expect_exit 3 "no SLO named 'nope'" slo show nope
expect_exit 3 "no SLO named 'nope'" slo show nope --json
expect_exit 3 "SLO 'sli0-availability' covers no site 'mars'" slo show sli0-availability --site mars
expect_exit 3 "no SLO covers site 'mars'" slo list --site mars
expect_exit 2 "unknown option '--bogus'" slo list --bogus
expect_exit 2 "--sites applies to 'slic slo list' only" slo show sli0-availability --sites
expect_exit 2 "--node applies to 'slic query' only" slo list --node n1
expect_exit 2 "unknown subcommand 'lst'" slo lst
expect_exit 2 "which SLO?" slo show
expect_exit 2 "'bad name' is not an SLO name" slo show "bad name"
slic slo --help | grep -q "^usage: slic slo list" || fail "slic slo --help"
slic help slo | grep -q "show NAME" || fail "slic help slo"
pass "unknown SLO or site exits 3 naming it; bad options exit 2 naming them"

stop_aggregator
grep -q "runtime error" "$E2E_DIR/agg.log" && fail "UBSan reports in the aggregator log"

# ---- no SLOs loaded ----
unset AGG_PORT
HTTP=127.0.0.1:$(free_port)
start_aggregator empty --http "$HTTP"
[ "$(slic slo list)" = "no SLOs loaded (slic-aggregator --slo FILE-OR-DIR loads OpenSLO files)" ] ||
    fail "slic slo list without SLOs: $(slic slo list)"
same_as_api /api/v1/slos list
expect_exit 3 "no SLO named 'x'" slo show x
stop_aggregator
pass "an aggregator without SLOs lists none"
