# Shared helpers for end-to-end tests (sourced, not run). Each test gets its own temp dir and
# loopback port, starts the real daemons from $SLIC_BUILD/bin, and stops by PID whatever it
# started, also when it fails half-way.
set -uo pipefail

SLIC_BUILD=${SLIC_BUILD:-build/asan}
BIN=$SLIC_BUILD/bin
E2E_DIR=$(mktemp -d /tmp/slic-e2e.XXXXXX)
E2E_PIDS=()
# Leak reports of daemons killed with SIGKILL are meaningless; clean exits are still checked.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

e2e_cleanup() {
    local pid
    for pid in "${E2E_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "${E2E_KEEP:-0}" = 1 ]; then echo "kept $E2E_DIR"; else rm -rf "$E2E_DIR"; fi
}
trap e2e_cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$E2E_DIR"/*.log; do
        [ -f "$f" ] || continue
        echo "--- last lines of $f" >&2
        tail -n 30 "$f" >&2
    done
    exit 1
}

pass() { echo "ok: $*"; }

# A free TCP port on 127.0.0.1, chosen at random and checked with ss.
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000))
        ss -ltn "sport = :$p" | grep -q ":$p" || { echo "$p"; return; }
    done
    fail "no free port found"
}

# start_aggregator NAME [extra args...]: starts slic-aggregator on a free port with data in
# $E2E_DIR/NAME, sets AGG_PID and AGG_ADDR, and waits until it answers a query.
start_aggregator() {
    local name=$1
    shift
    AGG_PORT=${AGG_PORT:-$(free_port)}
    AGG_ADDR="tcp://127.0.0.1:$AGG_PORT"
    # A free HTTP port too: the default 7711 may be taken by another aggregator on this host.
    # A later --http given by the test wins.
    "$BIN/slic-aggregator" --listen "$AGG_ADDR" --data-dir "$E2E_DIR/$name" \
        --http "127.0.0.1:${AGG_HTTP_PORT:-$(free_port)}" "$@" \
        >>"$E2E_DIR/$name.log" 2>&1 &
    AGG_PID=$!
    E2E_PIDS+=("$AGG_PID")
    for _ in $(seq 1 100); do
        kill -0 "$AGG_PID" 2>/dev/null || fail "slic-aggregator exited at start"
        "$BIN/slic" --addr "$AGG_ADDR" --timeout 1s series >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "slic-aggregator did not answer within 10 s"
}

# stop_aggregator: SIGTERM and wait; fails the test if it does not exit cleanly.
stop_aggregator() {
    kill -TERM "$AGG_PID"
    wait "$AGG_PID"
    local rc=$?
    [ "$rc" -eq 0 ] || fail "slic-aggregator exited with $rc after SIGTERM"
}

slic() { "$BIN/slic" --addr "$AGG_ADDR" "$@"; }

# near ACTUAL EXPECTED REL: |actual - expected| <= rel * expected
near() { jq -en --argjson a "$1" --argjson e "$2" --argjson r "$3" \
    '(($a - $e) | fabs) <= $r * $e' >/dev/null; }

# HTTP GET of the aggregator's API at $HTTP (http://HOST:PORT, set by the test).
# get PATH [curl args...]: the body on stdout; the status code in $E2E_DIR/status.
get() {
    local path=$1
    shift
    curl -sS --max-time 10 -o "$E2E_DIR/body" -w '%{http_code}' "$@" "$HTTP$path" \
        >"$E2E_DIR/status" || fail "curl $path failed"
    cat "$E2E_DIR/body"
}
status() { cat "$E2E_DIR/status"; }

# start_agent NAME [extra args...]: starts slic-agent with its spool in $E2E_DIR/NAME.spool, a
# free UDP port (AGENT_UDP) and a unix socket (AGENT_UNIX), delivering to $AGG_ADDR; sets
# AGENT_PID. Waits until the UDP socket is bound.
start_agent() {
    local name=$1
    shift
    AGENT_UDP=127.0.0.1:$(free_port)
    AGENT_UNIX=$E2E_DIR/$name.sock
    rm -f "$AGENT_UNIX" # a killed agent leaves its socket file behind
    "$BIN/slic-agent" --aggregator "$AGG_ADDR" --spool-dir "$E2E_DIR/$name.spool" \
        --udp "$AGENT_UDP" --unix "$AGENT_UNIX" "$@" >>"$E2E_DIR/$name.log" 2>&1 &
    AGENT_PID=$!
    E2E_PIDS+=("$AGENT_PID")
    for _ in $(seq 1 100); do
        kill -0 "$AGENT_PID" 2>/dev/null || fail "slic-agent exited at start"
        [ -S "$AGENT_UNIX" ] && return 0
        sleep 0.1
    done
    fail "slic-agent did not bind its sockets within 10 s"
}

# wait_count SLI WANT [SECONDS] [extra slic query args]: polls until the aggregator holds
# exactly WANT events of SLI over the last hour; fails after SECONDS (default 40).
wait_count() {
    local sli=$1 want=$2 secs=${3:-40} got=0
    shift 3 2>/dev/null || shift $#
    for _ in $(seq 1 $((secs * 5))); do
        got=$(slic query "$sli" --window 1h --json "$@" 2>/dev/null | jq -r '.count // 0')
        [ "$got" = "$want" ] && return 0
        [ "${got:-0}" -gt "$want" ] 2>/dev/null && fail "$sli: $got events stored, more than the $want sent"
        sleep 0.2
    done
    fail "$sli: $got events stored after ${secs}s, expected $want"
}
