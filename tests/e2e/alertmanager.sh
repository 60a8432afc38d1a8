#!/usr/bin/env bash
# Alert pushing (aggregator/alertpush.c) against a real Alertmanager (Debian's
# prometheus-alertmanager, 0.25) on a loopback port, with clustering off and every alert routed
# to a receiver that does nothing. slic-alertpush-drive plays the SLO engine: one page alert,
# firing, handed over again every 200 ms, with a resend interval of 1 s; then resolved. Three
# targets at once: the Alertmanager, a webhook (slic-testhttp appending each POST body to a
# file) and an Alertmanager URL where nothing listens. Checked:
#   - the alert appears in Alertmanager's v2 API with slo/site/severity/window labels, the extra
#     label, annotations, startsAt, a future endsAt and an escaped generatorURL, under an SLO
#     name that needs JSON escaping;
#   - it is re-sent while firing, and an unchanged set is not re-posted at every hand-over;
#   - once resolved it is no longer listed (0.25 drops alerts whose endsAt has passed from
#     /api/v2/alerts, active or not), and the resolution was sent a few times, then no more;
#   - the webhook got the same arrays, firing then resolved with the resolution time as endsAt;
#   - the dead target costs one warning, not one per attempt, and delays no other target;
#   - destroy returns at once.
source "$(dirname "$0")/lib.bash"

AM_BIN=$(command -v prometheus-alertmanager) ||
    fail "prometheus-alertmanager not installed (make deps installs it)"
command -v curl >/dev/null || fail "curl not installed (make deps installs it)"
DRIVE=$BIN/slic-alertpush-drive
[ -x "$DRIVE" ] || fail "$DRIVE not built"

SLO='checkout "v2" ü\api'
SITE=eu-zrh

# ---- Alertmanager ----
AM_PORT=$(free_port)
AM=http://127.0.0.1:$AM_PORT
cat >"$E2E_DIR/am.yml" <<EOF
route:
  receiver: "null"
receivers:
  - name: "null"
EOF
"$AM_BIN" --config.file="$E2E_DIR/am.yml" --storage.path="$E2E_DIR/am" \
    --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
    >>"$E2E_DIR/alertmanager.log" 2>&1 &
AM_PID=$!
E2E_PIDS+=("$AM_PID")
for _ in $(seq 1 100); do
    kill -0 "$AM_PID" 2>/dev/null || fail "alertmanager exited at start"
    curl -sf "$AM/-/ready" >/dev/null && break
    sleep 0.1
done
curl -sf "$AM/-/ready" >/dev/null || fail "alertmanager not ready within 10 s"
pass "alertmanager $("$AM_BIN" --version 2>&1 | head -n 1 | awk '{print $3}') ready on $AM"

# ---- webhook receiver ----
HOOK_PORT=$(free_port)
HOOK_FILE=$E2E_DIR/hook.jsonl
"$BIN/slic-testhttp" "$HOOK_PORT" 0 "$HOOK_FILE" >>"$E2E_DIR/testhttp.log" 2>&1 &
E2E_PIDS+=("$!")
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$HOOK_PORT/ok" >/dev/null && break
    sleep 0.1
done

DEAD_PORT=$(free_port) # nothing listens there

# am_alerts [QUERY]: our alerts as Alertmanager lists them.
am_alerts() {
    curl -sf "$AM/api/v2/alerts${1:-}" | jq -c --arg slo "$SLO" '[.[] | select(.labels.slo == $slo)]'
}
am_received() { # STATUS: alerts Alertmanager took in through the v2 API
    curl -sf "$AM/metrics" |
        awk -v s="$1" '$1 == "alertmanager_alerts_received_total{status=\"" s "\",version=\"v2\"}" {print $2}'
}

# ---- firing ----
t_start=$(date +%s)
"$DRIVE" --alertmanager "$AM" --webhook "http://127.0.0.1:$HOOK_PORT/hook" \
    --alertmanager "http://127.0.0.1:$DEAD_PORT/" --resend 1s --timeout 2s \
    --slo "$SLO" --site "$SITE" --label region=eu-central \
    --runbook "https://runbooks.example/slo?id=1&x=2" \
    --generator-url "http://127.0.0.1:8080/api/v1/slos/" \
    --hold 2500ms --resolve-after "$E2E_DIR/resolve" --linger 3s --max-wait 40s \
    >"$E2E_DIR/drive.out" 2>"$E2E_DIR/drive.log" &
DRIVE_PID=$!
E2E_PIDS+=("$DRIVE_PID")

got='[]'
for _ in $(seq 1 100); do
    got=$(am_alerts)
    [ "$(jq length <<<"$got")" = 1 ] && break
    sleep 0.1
done
[ "$(jq length <<<"$got")" = 1 ] || fail "alert not listed by alertmanager within 10 s: $got"
a=$(jq -c '.[0]' <<<"$got")
now=$(date +%s)
jq -e --arg slo "$SLO" --arg site "$SITE" '.labels == {alertname: "SLOBurnRate", slo: $slo,
        site: $site, severity: "page", long_window: "1h", short_window: "5m",
        region: "eu-central"}' <<<"$a" >/dev/null || fail "labels: $a"
pass "labels alertname/slo/site/severity/long_window/short_window/region as sent"
jq -e '.annotations.burn_rate == "15.2" and .annotations.burn_rate_short == "16.1"
        and .annotations.threshold == "14.4" and .annotations.budget_remaining == "42%"
        and .annotations.runbook_url == "https://runbooks.example/slo?id=1&x=2"
        and (.annotations.summary | contains("is burning its error budget 15.2x"))
        and (.annotations.description | contains("over 1h"))' <<<"$a" >/dev/null ||
    fail "annotations: $a"
pass "annotations burn_rate/threshold/budget_remaining/runbook_url/summary/description"
gen_url='http://127.0.0.1:8080/api/v1/slos/checkout%20%22v2%22%20%C3%BC%5Capi'
jq -e --arg g "$gen_url" '.generatorURL == $g and .status.state == "active"' <<<"$a" >/dev/null ||
    fail "generatorURL or state: $a"
starts=$(jq -r '.startsAt | sub("\\.[0-9]+Z$"; "Z") | fromdate' <<<"$a")
ends=$(jq -r '.endsAt | sub("\\.[0-9]+Z$"; "Z") | fromdate' <<<"$a")
[ $((now - starts)) -ge 110 ] && [ $((now - starts)) -le 150 ] ||
    fail "startsAt $starts is not about 120 s before $now"
# Firing: endsAt = push time + 3 x the 1 s resend interval.
[ "$ends" -gt "$((now - 1))" ] && [ "$ends" -le "$((now + 4))" ] ||
    fail "endsAt $ends is not about 3 s after $now"
pass "startsAt 2 min ago, endsAt 3 resend intervals ahead, escaped generatorURL, active"

# Re-sent while firing: the driver hands the same set over every 200 ms, the pusher posts it
# again every second.
for _ in $(seq 1 100); do
    [ "$(am_received firing)" -ge 3 ] 2>/dev/null && break
    sleep 0.1
done
[ "$(am_received firing)" -ge 3 ] || fail "firing alert not re-sent: $(am_received firing) received"
pass "firing alert re-sent ($(am_received firing) posts so far)"

# ---- resolved ----
touch "$E2E_DIR/resolve"
wait "$DRIVE_PID"
rc=$?
[ "$rc" -eq 0 ] || fail "slic-alertpush-drive exited with $rc"
t_end=$(date +%s)
[ "$(am_alerts '?active=true')" = '[]' ] || fail "still active after resolve: $(am_alerts '?active=true')"
[ "$(am_alerts)" = '[]' ] || fail "still listed after resolve: $(am_alerts)"
resolved=$(am_received resolved)
[ "$resolved" -ge 2 ] && [ "$resolved" -le 3 ] ||
    fail "alertmanager received the resolution $resolved times; expected 2 or 3, then no more"
pass "resolved: no longer listed; resolution sent $resolved times, then forgotten"

# ---- the driver's own view ----
drive_stat() { # URL FIELD
    awk -v u="$1" -v f="$2" '$1 == "target" && $2 == u {
        for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' \
        "$E2E_DIR/drive.out"
}
am_sent=$(drive_stat "$AM/api/v2/alerts" sent)
[ "$(drive_stat "$AM/api/v2/alerts" failed)" = 0 ] || fail "posts to alertmanager failed: $(cat "$E2E_DIR/drive.out")"
# Pushed on changes and every second, not at each of the ~5 hand-overs a second.
max_sent=$((t_end - t_start + 4))
[ "$am_sent" -ge 5 ] && [ "$am_sent" -le "$max_sent" ] ||
    fail "alertmanager got $am_sent posts in $((t_end - t_start)) s; expected 5..$max_sent"
pass "$am_sent posts to alertmanager in $((t_end - t_start)) s: changes and resends only"

dead=http://127.0.0.1:$DEAD_PORT/api/v2/alerts
[ "$(drive_stat "$dead" sent)" = 0 ] && [ "$(drive_stat "$dead" failed)" -ge 3 ] ||
    fail "dead target: $(grep "$dead" "$E2E_DIR/drive.out")"
warns=$(grep -c "warn  alertpush: POST $dead failed" "$E2E_DIR/drive.log")
[ "$warns" = 1 ] || fail "dead target logged $warns warnings for $(drive_stat "$dead" failed) failures"
pass "dead target: $(drive_stat "$dead" failed) failed posts, one warning"

destroy_ms=$(sed -n 's/^destroy_ms=//p' "$E2E_DIR/drive.out")
[ "${destroy_ms:-9999}" -lt 1000 ] || fail "destroy took ${destroy_ms} ms"

# ---- webhook ----
[ -s "$HOOK_FILE" ] || fail "webhook received nothing"
jq -se --arg slo "$SLO" 'all(.[]; length == 1 and .[0].labels.slo == $slo
        and .[0].labels.site == "eu-zrh" and .[0].labels.severity == "page")' "$HOOK_FILE" \
    >/dev/null ||
    fail "webhook bodies: $(head -c 600 "$HOOK_FILE")"
ends_at=$(sed -n 's/^resolved delivered ends_at=//p' "$E2E_DIR/drive.out")
ends_iso=$(date -u -d "@$ends_at" +%Y-%m-%dT%H:%M:%SZ)
firing=$(jq -c 'select(.[0].annotations.burn_rate == "15.2")' "$HOOK_FILE" | wc -l)
res=$(jq -c --arg e "$ends_iso" 'select(.[0].annotations.burn_rate == "0.8" and .[0].endsAt == $e)' \
    "$HOOK_FILE" | wc -l)
total=$(wc -l <"$HOOK_FILE")
[ "$firing" -ge 2 ] && [ "$res" -ge 2 ] && [ "$res" -le 3 ] && [ $((firing + res)) = "$total" ] ||
    fail "webhook: $firing firing + $res resolved bodies of $total"
jq -e --arg e "$ends_iso" '.[0].annotations.burn_rate == "0.8" and .[0].endsAt == $e' \
    <<<"$(tail -n 1 "$HOOK_FILE")" >/dev/null || fail "last webhook body is not the resolution"
pass "webhook: $firing firing bodies, then $res resolved with endsAt $ends_iso"

pass "alertmanager end-to-end"
