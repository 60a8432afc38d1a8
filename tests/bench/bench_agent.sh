#!/usr/bin/env bash
# Agent ingest benchmark (release build), loopback only, bounded (about 2 minutes):
#  1. Line-protocol events/s one slic-agent takes over UDP without losing any: StatsD timers from
#     slic-loadgen (1, or 2 in parallel at the higher rates) for a few seconds per step, at
#     rising rates, 8 timers per datagram and 1; "lost" = events sent - events the agent
#     accepted (its own counters, read with --status --json after a SIGTERM has closed and
#     spooled the open window). The same steps against udp_floor.c, a bare recvmmsg loop that
#     only counts datagrams, give the floor. A step that loses is tried once more; the figure is
#     the highest rate actually achieved (events sent / wall time) with nothing lost.
#     On a small shared machine the senders take CPU the receiver needs, so each step also
#     shows the receiver's CPU and how long its reading thread waited for a CPU (schedstat), and
#     the events per CPU-second of agent and floor at their best step are compared too: the
#     ratio they would reach with a core each.
#  2. The agent's RSS idle and at 100k events/s (VmRSS sampled, VmHWM), and
#  3. its CPU seconds (utime + stime, all threads) per million events at 100k events/s.
# BENCH_AGENT_STEP_SECONDS (default 3) sets the length of a step. Every process started here is
# stopped here, by PID. A missed target is reported, not an error: the exit status is non-zero
# only when the benchmark could not run.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${SLIC_BUILD:-build/release}/bin
STEP_SECONDS=${BENCH_AGENT_STEP_SECONDS:-3}
dir=$(mktemp -d /tmp/slic-bench-agent.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

for b in slic-agent slic-aggregator slic slic-loadgen; do
    [ -x "$BIN/$b" ] || { echo "bench_agent: $BIN/$b missing (make O=${BIN%/bin} bench-artifacts)" >&2; exit 1; }
done
cc -O2 -o "$dir/udp_floor" tests/bench/udp_floor.c || { echo "bench_agent: cannot build udp_floor" >&2; exit 1; }
hz=$(getconf CLK_TCK)
now_ns() { date +%s%N; }

# ---- /proc helpers ----
udp_field() { # port, field (rx_queue | drops | present): of the socket bound to 127.0.0.1:port
    local v
    v=$(awk -v p="$(printf '%04X' "$1")" -v f="$2" '
        NR > 1 && $2 == "0100007F:" p { split($5, q, ":"); found = 1
            if (f == "rx_queue") print q[2]; else if (f == "drops") print $NF; else print 1
            exit }
        END { if (!found) print 0 }' /proc/net/udp)
    [ "$2" = rx_queue ] && v=$((16#$v))
    echo "$v"
}
free_udp_port() { # below the ephemeral range, so no sender's socket can hold it
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        [ "$(udp_field "$p" present)" = 0 ] && ! grep -q ":$(printf '%04X' "$p") " /proc/net/udp &&
            echo "$p" && return
    done
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
wait_bound() { # port: until something is bound to it (at most 5 s)
    for _ in $(seq 1 100); do [ "$(udp_field "$1" present)" = 1 ] && return 0; sleep 0.05; done
    return 1
}
wait_drained() { # port: until its receive queue is empty (at most 5 s)
    for _ in $(seq 1 100); do [ "$(udp_field "$1" rx_queue)" = 0 ] && return 0; sleep 0.05; done
    return 1
}

# ---- the aggregator the agents deliver to (another port if the one picked is taken) ----
printf 'durable: false\nlog_level: warn\n' >"$dir/agg.yaml"
for _ in 1 2 3 4 5; do
    agg_addr=tcp://127.0.0.1:$((30000 + RANDOM % 20000))
    "$BIN/slic-aggregator" --config "$dir/agg.yaml" --listen "$agg_addr" --data-dir "$dir/agg" \
        --http "127.0.0.1:$((30000 + RANDOM % 20000))" 2>>"$dir/agg.log" &
    agg=$!
    pids+=("$agg")
    for _ in $(seq 1 100); do
        kill -0 "$agg" 2>/dev/null || break
        "$BIN/slic" --addr "$agg_addr" --timeout 1s series >/dev/null 2>&1 && break 2
        sleep 0.1
    done
done
kill -0 "$agg" 2>/dev/null || { echo "bench_agent: aggregator did not start" >&2; cat "$dir/agg.log" >&2; exit 1; }

# ---- one agent, fresh spool and agent_id each time ----
n_agents=0
start_agent() { # sets agent, agent_port, agent_spool
    n_agents=$((n_agents + 1))
    agent_port=$(free_udp_port)
    agent_spool=$dir/spool-$n_agents
    cat >"$dir/agent-$n_agents.yaml" <<YAML
agent_id: bench-$n_agents
node: bench-$n_agents
aggregator: $agg_addr
log_level: warn
spool: {dir: $agent_spool}
listen: {udp: "127.0.0.1:$agent_port", unix: ""}
YAML
    "$BIN/slic-agent" --config "$dir/agent-$n_agents.yaml" 2>>"$dir/agent.log" &
    agent=$!
    pids+=("$agent")
    wait_bound "$agent_port" || { echo "bench_agent: agent did not start" >&2; cat "$dir/agent.log" >&2; exit 1; }
}
stop_agent() { # SIGTERM: closes and spools the open window, delivers, exits; sets accepted, bad
    kill -TERM "$agent"
    wait "$agent"
    local js
    js=$("$BIN/slic-agent" --spool-dir "$agent_spool" --status --json 2>/dev/null)
    field() { grep -o "\"$1\":[0-9]*" <<<"$js" | cut -d: -f2; }
    accepted=$(field events_accepted)
    accepted=${accepted:-0}
    local m d
    m=$(field lines_malformed)
    d=$(field events_dropped)
    bad=$((${m:-0} + ${d:-0}))
    total_accepted=$((total_accepted + accepted))
}
total_accepted=0
bad=0

# ---- senders: N loadgens share the rate; sets sent, achieved (events/s), dgrams ----
send() { # port rate lines senders seconds
    local port=$1 rate=$2 lines=$3 n=$4 secs=$5 i t0 t1 s
    local ps=()
    t0=$(now_ns)
    for i in $(seq 1 "$n"); do
        "$BIN/slic-loadgen" --udp "127.0.0.1:$port" --rate $((rate / n)) --seconds "$secs" \
            --lines "$lines" --seed "$i" >"$dir/load-$i.out" 2>&1 &
        ps+=($!)
        pids+=($!)
    done
    wait "${ps[@]}"
    t1=$(now_ns)
    sent=0
    dgrams=0
    for i in $(seq 1 "$n"); do
        s=$(sed -nE 's/^sent ([0-9]+) events.*/\1/p' "$dir/load-$i.out")
        sent=$((sent + ${s:-0}))
        dgrams=$((dgrams + (${s:-0} + lines - 1) / lines))
    done
    achieved=$(((sent * 1000000000) / (t1 - t0)))
    send_ns=$((t1 - t0))
}

# ---- what the receiver did during a step: CPU (utime + stime, all threads) and how long its
# main thread (the one that reads the socket) sat runnable in the run queue, waiting for a CPU ----
probe_start() { # pid
    p_c0=$(cpu_ticks "$1")
    p_w0=$(awk '{ print $2 }' "/proc/$1/schedstat" 2>/dev/null || echo 0)
}
probe_end() { # pid; sets cpu_ticks_used, cpu_pct, wait_pct
    local c1 w1
    c1=$(cpu_ticks "$1")
    w1=$(awk '{ print $2 }' "/proc/$1/schedstat" 2>/dev/null || echo 0)
    cpu_ticks_used=$((c1 - p_c0))
    cpu_pct=$((cpu_ticks_used * 100 * 1000000000 / hz / send_ns))
    wait_pct=$(((w1 - p_w0) * 100 / send_ns))
}

# ---- one step against the agent or the floor; sets lost (events), kdrops and the probe's ----
step_agent() { # rate lines senders
    start_agent
    probe_start "$agent"
    send "$agent_port" "$1" "$2" "$3" "$STEP_SECONDS"
    wait_drained "$agent_port"
    probe_end "$agent"
    kdrops=$(udp_field "$agent_port" drops)
    stop_agent
    lost=$((sent - accepted))
}
step_floor() { # rate lines senders
    local port got fp
    port=$(free_udp_port)
    # Counts until 500 ms without a datagram (not up to a number: the socket must still be
    # there when its kernel drop counter is read).
    "$dir/udp_floor" "$port" 1000000000000 500 $((8 << 20)) >"$dir/floor.out" &
    fp=$!
    pids+=("$fp")
    for _ in $(seq 1 100); do grep -q listening "$dir/floor.out" && break; sleep 0.05; done
    floor_rcvbuf=$(awk '/listening/ { print $4 }' "$dir/floor.out")
    probe_start "$fp"
    send "$port" "$1" "$2" "$3" "$STEP_SECONDS"
    wait_drained "$port"
    probe_end "$fp"
    kdrops=$(udp_field "$port" drops)
    wait "$fp"
    got=$(awk '/received/ { print $2 }' "$dir/floor.out")
    lost=$(((dgrams - ${got:-0}) * $2))
    [ "$lost" -lt 0 ] && lost=0
}

# Rising rates (events/s) and how many loadgens share each; stops at the first step that loses
# twice (one retry per ladder: the machine is shared), or when the senders fall short of the
# rate and went no faster than at the step before (each loadgen is single-threaded, and shares
# the CPUs with the receiver). Sets best (events/s achieved) and best_rate (offered
# at that step); records eff[who lines:rate], the receiver's events per CPU-second at each step
# (what it would take with a core to itself, at that step's batching).
declare -A eff
ladder() { # who lines "rate:senders ..."
    local who=$1 lines=$2 spec rate n retried=0 prev=0
    best=0
    best_rate=0
    limit="lost nothing up to the highest rate offered"
    for spec in $3; do
        rate=${spec%:*}
        n=${spec#*:}
        while :; do
            "step_$who" "$rate" "$lines" "$n"
            printf '  %-5s %d/dgram %d sender(s)  offered %8d/s  achieved %8d/s  lost %8d  kernel drops %6s dgrams  CPU %3d%%  run-queue wait %3d%%%s\n' \
                "$who" "$lines" "$n" "$rate" "$achieved" "$lost" "$kdrops" "$cpu_pct" "$wait_pct" \
                "$([ "$who" = agent ] && [ "$bad" -gt 0 ] && echo "  malformed+dropped $bad")"
            [ "$lost" -gt 0 ] && [ "$retried" = 0 ] && retried=1 && continue
            break
        done
        if [ "$lost" -gt 0 ]; then
            limit="lost events at $achieved/s"
            return
        fi
        if [ "$achieved" -gt "$best" ]; then
            best=$achieved
            best_rate=$rate
        fi
        [ "$cpu_ticks_used" -gt 0 ] && eff[$who$lines:$rate]=$((sent * hz / cpu_ticks_used))
        limit="lost nothing up to the highest rate offered"
        if [ $((achieved * 10)) -lt $((rate * 9)) ]; then
            limit="sender-limited: the loadgens reached only $achieved of $rate/s"
            [ $((achieved * 100)) -lt $((prev * 105)) ] && return
        fi
        prev=$achieved
    done
}

ladder_for() { # lines
    case $1 in
    8) echo "250000:1 500000:1 750000:2 1000000:2 1250000:2 1500000:2 2000000:2" ;;
    *) echo "100000:1 200000:2 300000:2 400000:2 500000:2 600000:2" ;;
    esac
}
printf '\nagent benchmark: StatsD timers over loopback UDP to one slic-agent and to a bare recvmmsg\n'
printf 'loop (the floor), %s s per step; net.core.rmem_max %s, both ask SO_RCVBUF 8 MiB\n' \
    "$STEP_SECONDS" "$(cat /proc/sys/net/core/rmem_max)"
declare -A result limits rung
for lines in 8 1; do
    for who in agent floor; do
        ladder "$who" "$lines" "$(ladder_for "$lines")"
        result[$who$lines]=$best
        limits[$who$lines]=$limit
        rung[$who$lines]=$best_rate
    done
done
printf '  floor socket buffer (getsockopt SO_RCVBUF) %s bytes\n' "${floor_rcvbuf:-?}"

# ---- RSS and CPU: idle, then 100k events/s for 5 s with 8 timers/datagram and 5 s with 1
# (together longer than a window, so a window close and its spool commits are in the peak) ----
start_agent
sleep 1.5
rss_idle=$(status_kb "$agent" VmRSS)
anon_idle=$(status_kb "$agent" RssAnon)
rss_peak=$rss_idle
anon_peak=$anon_idle
declare -A cpu_per_m
phase_sent=0
for lines in 8 1; do
    c0=$(cpu_ticks "$agent")
    "$BIN/slic-loadgen" --udp "127.0.0.1:$agent_port" --rate 100000 --seconds 5 --lines "$lines" \
        >"$dir/load-rss.out" 2>&1 &
    sp=$!
    pids+=("$sp")
    while kill -0 "$sp" 2>/dev/null; do
        r=$(status_kb "$agent" VmRSS)
        a=$(status_kb "$agent" RssAnon)
        [ "${r:-0}" -gt "$rss_peak" ] && rss_peak=$r
        [ "${a:-0}" -gt "$anon_peak" ] && anon_peak=$a
        sleep 0.1
    done
    wait "$sp"
    wait_drained "$agent_port"
    c1=$(cpu_ticks "$agent")
    s=$(sed -nE 's/^sent ([0-9]+) events.*/\1/p' "$dir/load-rss.out")
    s=${s:-0}
    phase_sent=$((phase_sent + s))
    cpu_per_m[$lines]=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="$s" 'BEGIN { if (n > 0) printf "%.3f", t / hz / (n / 1e6); else print "n/a" }')
done
hwm=$(status_kb "$agent" VmHWM)
[ "${hwm:-0}" -gt "$rss_peak" ] && rss_peak=$hwm
stop_agent
phase_lost=$((phase_sent - accepted))

# ---- nothing lost after the socket: the aggregator's count equals what the agents accepted ----
agg_count=$("$BIN/slic" --addr "$agg_addr" query checkout --window 1h --json 2>/dev/null |
    sed -nE 's/.*"count":([0-9]+).*/\1/p')

# ---- the table ----
mib() { awk -v k="$1" 'BEGIN { printf "%.2f MiB", k / 1024 }'; }
verdict() { [ "$1" = 1 ] && echo met || echo MISSED; }
printf '%-58s %22s  %s\n' measure value target
for lines in 8 1; do
    a=${result[agent$lines]}
    f=${result[floor$lines]}
    printf '%-58s %22s  %s\n' "agent ingest without loss, $lines timer(s)/datagram, events/s" "$a" "(${limits[agent$lines]})"
    printf '%-58s %22s  %s\n' "floor (bare recvmmsg count), $lines timer(s)/datagram, events/s" "$f" "(${limits[floor$lines]})"
    if [ "$f" -gt 0 ]; then
        pct=$((a * 100 / f))
        note=""
        case ${limits[floor$lines]} in lost*) ;; *) note=" (the floor lost nothing: its true limit is higher)" ;; esac
        printf '%-58s %22s  >= 50%%: %s%s\n' "agent / floor, $lines timer(s)/datagram" "$pct%" \
            "$(verdict $((pct >= 50)))" "$note"
    fi
    r=${rung[agent$lines]}
    a=${eff[agent$lines:$r]:-0}
    f=${eff[floor$lines:$r]:-0}
    if [ "$a" -gt 0 ] && [ "$f" -gt 0 ]; then
        printf '%-58s %22s\n' "agent events per CPU-second at $r/s offered" "$a"
        printf '%-58s %22s\n' "floor events per CPU-second at $r/s offered" "$f"
        pct=$((a * 100 / f))
        printf '%-58s %22s  >= 50%%: %s (as if each had a core)\n' "agent / floor per CPU-second, $lines timer(s)/datagram" \
            "$pct%" "$(verdict $((pct >= 50)))"
    fi
done
printf '%-58s %22s  < 10 MiB: %s\n' "agent RSS idle (VmRSS)" "$(mib "$rss_idle")" "$(verdict $((rss_idle < 10240)))"
printf '%-58s %22s  < 10 MiB: %s\n' "agent RSS peak at 100k events/s (VmRSS/VmHWM)" "$(mib "$rss_peak")" "$(verdict $((rss_peak < 10240)))"
printf '%-58s %22s\n' "  of which private anonymous (RssAnon), idle / peak" "$(mib "$anon_idle") / $(mib "$anon_peak")"
for lines in 8 1; do
    printf '%-58s %22s\n' "agent CPU seconds per million events, $lines timer(s)/datagram" "${cpu_per_m[$lines]}"
done
printf '%-58s %22s\n' "events lost in the 100k events/s runs" "$phase_lost"
if [ "${agg_count:-x}" = "$total_accepted" ]; then
    printf '%-58s %22s\n' "aggregator count = events the agents accepted" "$agg_count"
else
    printf '%-58s %22s  (agents accepted %s)\n' "aggregator count != events the agents accepted" "${agg_count:-none}" "$total_accepted"
fi
kill -TERM "$agg"
wait "$agg" || echo "bench_agent: the aggregator exited with status $?" >&2
