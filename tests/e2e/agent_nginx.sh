#!/usr/bin/env bash
# Access logs from a real nginx (Debian's package), started here on a loopback port with a
# `combined` + $request_time log format. curl sends a known number of 200s and 503s; slic-agent
# tails the log and the aggregator must end up with exactly that many events, good = the 2xx
# count, through every rotation done mid-run as logrotate would:
#   - rename: mv access.log access.log.1, more requests (nginx still writes to the renamed file),
#     kill -USR1 (nginx reopens a new access.log), more requests;
#   - copytruncate: cp access.log access.log.1 && truncate -s 0 access.log, more requests;
# first with the agent running, then again with the agent paused (SIGSTOP) across the rotation,
# so lines certainly wait unread in the file that moves away. Then restarts: SIGTERM with lines
# in the open window, and kill -9 just after a window boundary followed by a rename while the
# agent is down (it resumes from the position committed with its last window).
# nginx's own log lines (every rotated piece kept) are counted too, so "exact" is checked against
# what nginx wrote, not only against what curl saw.
source "$(dirname "$0")/lib.bash"

command -v nginx >/dev/null || fail "nginx not installed (make deps installs it)"
command -v curl >/dev/null || fail "curl not installed (make deps installs it)"

NG=$E2E_DIR/nginx
LOG=$NG/access.log
mkdir -p "$NG/tmp" "$NG/keep"
# Workers reopen the log on USR1 by name; the test dir is 0700, so as root they run as root.
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root root;"

write_conf() { # PORT
    cat >"$NG/nginx.conf" <<EOF
$user_line
worker_processes 1;
error_log $E2E_DIR/nginx-error.log notice;
events { worker_connections 64; }
http {
    log_format slic '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status '
                    '\$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time';
    access_log $LOG slic;
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    default_type text/plain;
    server {
        listen 127.0.0.1:$1;
        location /ok { return 200 "ok\n"; }
        location /fail { return 503; }
    }
}
EOF
}

# A port below the kernel's ephemeral range that no socket uses in any state: a client
# connection holding a port (free_port looks at listeners only) makes nginx's bind fail.
nginx_port() {
    local p lo
    lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
    [ "$lo" -gt 12000 ] || lo=12000
    for _ in $(seq 1 50); do
        p=$((10000 + RANDOM % (lo - 10000)))
        ss -tanH "( sport = :$p or dport = :$p )" | grep -q . || {
            echo "$p"
            return
        }
    done
    fail "no free port for nginx"
}

# A worker outlives a master killed with -9: track it too, so a test stopped half-way kills it.
track_workers() {
    for _ in $(seq 1 50); do
        NGINX_WORKERS=$(pgrep -P "$NGINX_PID") && break
        sleep 0.1
    done
    [ -n "${NGINX_WORKERS:-}" ] || fail "nginx started no worker"
    # shellcheck disable=SC2206 # one PID per word
    E2E_PIDS+=($NGINX_WORKERS)
}

# stop_nginx: graceful stop (the master waits for its worker), then forget their PIDs so the
# final cleanup cannot hit a reused one.
stop_nginx() {
    kill -QUIT "$NGINX_PID"
    wait "$NGINX_PID" || fail "nginx exited with $? after SIGQUIT"
    local keep=() p
    for p in "${E2E_PIDS[@]}"; do
        [[ " $NGINX_PID $NGINX_WORKERS " == *" $p "* ]] || keep+=("$p")
    done
    E2E_PIDS=("${keep[@]}")
}

# start_nginx: nginx in the foreground (its master is our child, stopped by PID), on a fresh
# port if another process took the chosen one meanwhile. Sets NGINX_PID and NGINX_PORT.
start_nginx() {
    for _ in 1 2 3; do
        NGINX_PORT=$(nginx_port)
        write_conf "$NGINX_PORT"
        nginx -p "$NG" -e "$E2E_DIR/nginx-error.log" -c "$NG/nginx.conf" \
            -g "daemon off; pid $NG/nginx.pid;" >>"$E2E_DIR/nginx-out.log" 2>&1 &
        NGINX_PID=$!
        E2E_PIDS+=("$NGINX_PID")
        # Ready when it listens; a probe request would itself be logged.
        for _ in $(seq 1 100); do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            if ss -ltnH "sport = :$NGINX_PORT" | grep -q . && [ -f "$LOG" ]; then
                track_workers
                return 0
            fi
            sleep 0.1
        done
        kill -9 "$NGINX_PID" 2>/dev/null
        wait "$NGINX_PID" 2>/dev/null
        grep -q "Address already in use" "$E2E_DIR/nginx-error.log" ||
            fail "nginx did not start on 127.0.0.1:$NGINX_PORT"
        echo "port $NGINX_PORT was taken; nginx tries another" >&2
        : >"$E2E_DIR/nginx-error.log"
    done
    fail "nginx could not bind a loopback port in 3 tries"
}

SEQ=0 # every request gets its own ?n=, so no two log lines are alike
SENT_2XX=0
SENT_5XX=0
# hit PATH COUNT [curl args...]: COUNT requests over one keep-alive connection; tallies the
# status codes nginx answered (each must be 2xx or 5xx).
hit() {
    local path=$1 n=$2 codes c2 c5
    shift 2
    [ "$n" -gt 0 ] || return 0
    codes=$(curl -sS --max-time 20 -o /dev/null -w '%{http_code}\n' "$@" \
        "http://127.0.0.1:$NGINX_PORT$path?n=[$((SEQ + 1))-$((SEQ + n))]") ||
        fail "curl $path x$n failed"
    SEQ=$((SEQ + n))
    c2=$(grep -c '^2' <<<"$codes")
    c5=$(grep -c '^5' <<<"$codes")
    [ $((c2 + c5)) -eq "$n" ] || fail "curl $path x$n: got codes $(sort <<<"$codes" | uniq -c)"
    SENT_2XX=$((SENT_2XX + c2))
    SENT_5XX=$((SENT_5XX + c5))
}

# batch OK FAIL: 200s and 503s interleaved, half of them with a browser-like user agent holding
# quotes (nginx writes them as \x22) and a referer with a space.
batch() {
    hit /ok $(($1 / 2))
    hit /fail $(($2 / 2))
    hit /ok $(($1 - $1 / 2)) -A 'Mozilla/5.0 (X11; Linux x86_64) "quoted" slic-e2e' \
        -e 'http://example.test/a?b=c d'
    hit /fail $(($2 - $2 / 2))
}

# wait_log PATTERN N SECS WHAT: polls until the agent's log holds N lines matching PATTERN.
wait_log() {
    for _ in $(seq 1 $(($3 * 10))); do
        [ "$(grep -cE "$1" "$E2E_DIR/agent.log")" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "$4: fewer than $2 lines matching '$1' in the agent's log after $3 s"
}

# Rotations as logrotate does them. The previous rotated file is not deleted but kept aside,
# to count nginx's lines at the end.
ROTATED=0
drop_old_rotated() {
    [ -f "$LOG.1" ] || return 0
    ROTATED=$((ROTATED + 1))
    mv "$LOG.1" "$NG/keep/$ROTATED.log"
}
rename_rotate() {
    drop_old_rotated
    mv "$LOG" "$LOG.1"
}
reopen() { # kill -USR1: nginx's master creates a new access.log, then its worker reopens
    kill -USR1 "$NGINX_PID"
    for _ in $(seq 1 50); do
        [ -f "$LOG" ] && return 0
        sleep 0.1
    done
    fail "nginx did not reopen $LOG after USR1"
}
copytruncate() {
    drop_old_rotated
    cp "$LOG" "$LOG.1" && truncate -s 0 "$LOG"
}
# How often the agent said it follows the file now at the path, from its start.
follows() {
    grep -cF "following $LOG (inode $(stat -c %i "$LOG")) from offset 0" "$E2E_DIR/agent.log"
}
# wait_following WHAT [BEFORE]: until the tail (again) follows the file at the path from 0: more
# than BEFORE times (default 0; a copytruncate returns to a file it followed before).
wait_following() {
    for _ in $(seq 1 100); do
        [ "$(follows)" -gt "${2:-0}" ] && return 0
        sleep 0.1
    done
    fail "$1: the tail did not move on to $LOG (inode $(stat -c %i "$LOG")) within 10 s"
}

AGENT_ARGS=(--site eu --node web1 --config "$E2E_DIR/agent.yaml")
cat >"$E2E_DIR/agent.yaml" <<EOF
access_logs:
  - sli: web
    path: $LOG
    format: combined
    latency_field: -1
    latency_unit: s
    from_start: true
EOF

start_aggregator agg
start_nginx
t0=$SECONDS

# Lines written before the agent ever ran: from_start reads them.
batch 10 3
start_agent agent "${AGENT_ARGS[@]}"
batch 40 9

# 1. Rename rotation with the agent running, right after a batch (the tail may still have lines
# to read in the renamed file).
batch 30 7
rename_rotate
batch 20 5 # nginx still writes to the renamed file
reopen
batch 24 6 # into the new file
wait_following "rename rotation"
pass "rename + USR1, agent running: followed the renamed file, then the new one"

# 2. copytruncate with the agent running.
batch 26 8
before=$(follows)
copytruncate
batch 18 4 # nginx (O_APPEND) writes from offset 0 again
wait_log "reading the rest from its copy" 1 10 "copytruncate"
wait_following "copytruncate" "$before" # done with the copy, back on the truncated file
batch 12 2
pass "copytruncate, agent running: the copy was recognised, the file read again from 0"

# 3. Both again with the agent paused, so unread lines certainly sit in the file rotated away.
kill -STOP "$AGENT_PID"
batch 14 4 # unread, into the file about to be renamed
rename_rotate
batch 11 3 # unread, into the renamed file
reopen
batch 9 2 # unread, into the new file
kill -CONT "$AGENT_PID"
wait_following "rename rotation while paused"
before=$(follows)
kill -STOP "$AGENT_PID"
batch 17 5 # unread when the file is copied and truncated
copytruncate
batch 7 3 # into the truncated file
kill -CONT "$AGENT_PID"
wait_log "reading the rest from its copy" 2 10 "copytruncate while paused"
wait_following "copytruncate while paused" "$before"
at=$(grep "reading the rest from its copy" "$E2E_DIR/agent.log" | tail -n 1 |
    sed -E 's/.* at offset ([0-9]+);.*/\1/')
[ "$at" -lt "$(stat -c %s "$LOG.1")" ] ||
    fail "copytruncate while paused: the tail had read the whole copy ($at bytes) already"
pass "rename and copytruncate while the agent was paused: unread lines read from the rotated files"

# Everything so far arrives exactly: N events, good = the 2xx count.
check_totals() { # WHAT
    local n=$((SENT_2XX + SENT_5XX)) good
    wait_count web "$n" 40
    good=$(slic query web --window 1h --json | jq .good)
    [ "$good" = "$SENT_2XX" ] || fail "$1: good $good, expected the $SENT_2XX 2xx answers"
}
check_totals "rotations"
pass "4 rotations, $((SENT_2XX + SENT_5XX)) requests ($SENT_2XX 2xx): count and good exact"

# 4. A clean restart (SIGTERM) with lines read into the open window: SIGTERM spools that window,
# and the position committed with it says those lines were read, so the next start goes on
# after them instead of counting them again.
batch 13 4
sleep 0.5 # read into the open window
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "slic-agent exited with $? after SIGTERM"
batch 9 2 # while the agent is down
start_agent agent "${AGENT_ARGS[@]}"
wait_log "resuming $LOG at offset" 1 10 "restart after SIGTERM"
batch 5 1
check_totals "SIGTERM and restart"
pass "SIGTERM, restart: went on from the committed position, count and good exact"

# 5. kill -9 just after a window boundary, with lines that the agent read after the boundary
# (it was paused across it), once the window before it was committed; then a rename rotation
# while it is down, and a restart. It resumes from the position committed with its last
# window, finishes the renamed file, goes on with the new one: nothing lost, nothing twice.
at_ms() { # wait until the wall clock is MS into a 10 s window
    local ms=$(($(date +%s%3N) % 10000))
    sleep "$(printf '%d.%03d' $((($1 + 10000 - ms) % 10000 / 1000)) $((($1 + 10000 - ms) % 1000)))"
}
at_ms 9500
kill -STOP "$AGENT_PID"
batch 15 5 # read only after the boundary
at_ms 300
kill -CONT "$AGENT_PID"
at_ms 2000 # the window before the boundary is closed (1 s grace) and committed
{ kill -9 "$AGENT_PID" && wait "$AGENT_PID"; } 2>/dev/null # quiet: bash reports the kill
rename_rotate
batch 10 2 # the renamed file
reopen
batch 8 3 # the new file
start_agent agent "${AGENT_ARGS[@]}"
wait_log "was rotated while the agent was down; finishing" 1 10 "restart after kill -9"
wait_following "restart after kill -9"
batch 6 1
check_totals "kill -9 and rotation while down"
pass "kill -9 after a boundary, rename while down, restart: count and good exact"

# What nginx wrote, over every piece of its log: the same N lines and 2xx count.
cat "$NG"/keep/*.log "$LOG.1" "$LOG" >"$NG/all.log"
N=$((SENT_2XX + SENT_5XX))
ng_total=$(wc -l <"$NG/all.log")
ng_2xx=$(awk '{ for (i = 1; i < NF; i++) if ($i ~ /"$/ && $(i + 1) ~ /^[0-9][0-9][0-9]$/) {
    if ($(i + 1) ~ /^2/) n++; break } } END { print n + 0 }' "$NG/all.log")
[ "$ng_total" -eq "$N" ] || fail "nginx logged $ng_total lines for the $N requests curl made"
[ "$ng_2xx" -eq "$SENT_2XX" ] || fail "nginx logged $ng_2xx 2xx lines, curl saw $SENT_2XX"
[ "$(awk '{ print $NF }' "$NG/all.log" | grep -cvE '^[0-9]+\.[0-9]{3}$')" = 0 ] ||
    fail "nginx's lines do not all end in \$request_time"
pass "nginx's own log (all $((ROTATED + 2)) pieces) holds the same $N lines, $ng_2xx of them 2xx"

# Nothing reported lost, dropped or refused by the tail.
if grep -E " tail: .*(lost|no matching copy|dropping an unterminated|refused|still growing)" \
    "$E2E_DIR/agent.log"; then
    fail "the tail reported lost or refused lines"
fi
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "slic-agent exited with $? after SIGTERM"
status=$("$BIN/slic-agent" --spool-dir "$E2E_DIR/agent.spool" --status --json) ||
    fail "--status failed"
jq -e '.pending == 0 and .daemon.lines_malformed == 0' <<<"$status" >/dev/null ||
    fail "--status: $status"
sleep 1
[ "$(slic query web --window 1h --json | jq .count)" = "$N" ] ||
    fail "the count moved after the agent stopped"
pass "SIGTERM: clean exit, nothing pending, no malformed lines, nothing counted twice"

stop_nginx
stop_aggregator
echo "agent_nginx: $((SECONDS - t0)) s after nginx started"
