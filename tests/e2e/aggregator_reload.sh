#!/usr/bin/env bash
# Configuration checks and live reload: --check-config names the file, line and key of a
# mistake; SIGHUP with a broken file keeps the running configuration and says so; SIGHUP with a
# good file applies it. The aggregator keeps serving throughout.
source "$(dirname "$0")/lib.bash"

conf=$E2E_DIR/agg.yaml
printf 'log_level: info\nlimits:\n  max_future: 10m\n' >"$conf"
out=$("$BIN/slic-aggregator" --config "$conf" --check-config) || fail "--check-config: $out"
grep -q "configuration from $conf: OK" <<<"$out" || fail "--check-config output: $out"

printf 'log_level: info\nlimits:\n  max_futur: 10m\n' >"$E2E_DIR/bad.yaml"
out=$("$BIN/slic-aggregator" --config "$E2E_DIR/bad.yaml" --check-config 2>&1) &&
    fail "a bad config passed --check-config"
grep -q "bad.yaml:3: unknown key 'limits.max_futur'; did you mean 'max_future'" <<<"$out" ||
    fail "unhelpful message: $out"
pass "--check-config accepts a good file and names file, line and key of a bad one"

start_aggregator agg --config "$conf"
cp "$E2E_DIR/bad.yaml" "$conf"
kill -HUP "$AGG_PID"
for _ in $(seq 1 50); do grep -q "reload rejected" "$E2E_DIR/agg.log" && break; sleep 0.1; done
grep -q "configuration reload rejected, keeping the running one: .*max_futur" "$E2E_DIR/agg.log" ||
    fail "bad reload not reported"
slic series >/dev/null || fail "not serving after a rejected reload"
pass "SIGHUP with a broken file keeps the running configuration"

printf 'log_level: debug\nlimits:\n  max_future: 1m\n' >"$conf"
kill -HUP "$AGG_PID"
for _ in $(seq 1 50); do grep -q "configuration reloaded" "$E2E_DIR/agg.log" && break; sleep 0.1; done
grep -q "configuration reloaded from $conf" "$E2E_DIR/agg.log" || fail "good reload not logged"
slic series >/dev/null || fail "not serving after a reload"
pass "SIGHUP with a good file applies it"
stop_aggregator
