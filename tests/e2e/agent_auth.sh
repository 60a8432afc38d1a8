#!/usr/bin/env bash
# Authenticated agents. An aggregator on tls+tcp:// requires client certificates from its CA and
# a signed batch from every agent: (1) an agent with a certificate and its key delivers, and an
# operator queries over TLS; (2) an agent without a client certificate cannot connect, says
# why, and nothing of it is stored; (3) an agent with a certificate but the wrong key has its
# batches refused, keeps them in its spool and says what to fix; with the right key they arrive
# exactly once. (4) A plain tcp:// aggregator with a secret refuses unsigned batches without
# consuming a seq, and accepts signed ones. Refusals are counted apart on both sides: the
# aggregator's /metrics (slic_aggregator_batches_refused_signature_total, by reason) and the
# agent's --status (batches_refused_signature). The certificates are made here with openssl.
source "$(dirname "$0")/lib.bash"

command -v openssl >/dev/null || fail "openssl not found (.ci/deps.sh installs it)"
command -v promtool >/dev/null || fail "promtool not found (Debian package prometheus; make deps)"
PKI=$E2E_DIR/pki
mkdir -p "$PKI"

# A CA, and certificates it signs: NAME SUBJECT_ALT_NAMES EXTENDED_KEY_USAGE.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=slic-test-ca \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>"$PKI/openssl.log" || fail "openssl: CA"
issue() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>>"$PKI/openssl.log" &&
        printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$2" "$3" >"$PKI/$1.ext" &&
        openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
            -CAcreateserial -days 2 -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" \
            2>>"$PKI/openssl.log" || fail "openssl: certificate for $1"
    chmod 600 "$PKI/$1.key"
}
# mbedTLS 2.28 (nng's TLS on Debian 12) matches the name dialed against DNS names only, so the
# server certificate carries 127.0.0.1 as a DNS name beside the IP address.
issue server "IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost" serverAuth
issue agent-a "DNS:agent-a" clientAuth
issue agent-b "DNS:agent-b" clientAuth
issue operator "DNS:operator" clientAuth

openssl rand -hex 32 >"$PKI/secret" && chmod 600 "$PKI/secret" || fail "openssl rand"
key_for() { # AGENT_ID FILE: the key provisioning gives that agent
    "$BIN/slic-aggregator" --secret-file "$PKI/secret" --agent-key "$1" >"$2" &&
        chmod 600 "$2" || fail "slic-aggregator --agent-key $1"
}
key_for agent-a "$PKI/agent-a.batchkey"
key_for agent-a "$PKI/agent-b.batchkey" # agent-b is given agent-a's key by mistake
grep -Eq '^[0-9a-f]{64}$' "$PKI/agent-a.batchkey" || fail "--agent-key did not print a hex key"

# ---- the TLS aggregator, and `slic` over TLS ----
AGG_PORT=$(free_port)
AGG_ADDR=tls+tcp://127.0.0.1:$AGG_PORT
AGG_HTTP_PORT=$(free_port)
HTTP=http://127.0.0.1:$AGG_HTTP_PORT
cat >"$E2E_DIR/agg.yaml" <<EOF
listen: $AGG_ADDR
data_dir: $E2E_DIR/agg
http:
  listen: 127.0.0.1:$AGG_HTTP_PORT
tls:
  cert_file: $PKI/server.crt
  key_file: $PKI/server.key
  client_ca_file: $PKI/ca.crt
auth:
  secret_file: $PKI/secret
EOF
TLS_CLI=(--tls-ca "$PKI/ca.crt" --tls-cert "$PKI/operator.crt" --tls-key "$PKI/operator.key")
slic() { # lib.bash's, with the operator's certificate when the aggregator speaks TLS
    if [[ $AGG_ADDR == tls+* ]]; then
        "$BIN/slic" --addr "$AGG_ADDR" "${TLS_CLI[@]}" "$@"
    else
        "$BIN/slic" --addr "$AGG_ADDR" "$@"
    fi
}
"$BIN/slic-aggregator" --config "$E2E_DIR/agg.yaml" >>"$E2E_DIR/agg.log" 2>&1 &
AGG_PID=$!
E2E_PIDS+=("$AGG_PID")
for _ in $(seq 1 100); do
    kill -0 "$AGG_PID" 2>/dev/null || fail "the TLS aggregator exited at start"
    slic --timeout 1s series >/dev/null 2>&1 && break
    sleep 0.1
done
slic --timeout 1s series >/dev/null || fail "slic cannot query the TLS aggregator"
out=$("$BIN/slic" --addr "$AGG_ADDR" --tls-ca "$PKI/ca.crt" --timeout 2s series 2>&1) &&
    fail "slic without a client certificate was answered: $out"
grep -q "TLS handshake failed" <<<"$out" || fail "slic without a certificate said: $out"
pass "TLS aggregator up; slic queries with a client certificate and is refused without one"

# ---- three agents at once: good, without a certificate, with the wrong key ----
agent_config() { # NAME AGENT_ID TLS_LINES KEYFILE
    cat >"$E2E_DIR/$1.yaml" <<EOF
agent_id: $2
aggregator: $AGG_ADDR
tls:
  ca_file: $PKI/ca.crt
$3
auth:
  key_file: $4
EOF
}
agent_config good agent-a "  cert_file: $PKI/agent-a.crt
  key_file: $PKI/agent-a.key" "$PKI/agent-a.batchkey"
agent_config nocert agent-n "" "$PKI/agent-a.batchkey"
agent_config wrongkey agent-b "  cert_file: $PKI/agent-b.crt
  key_file: $PKI/agent-b.key" "$PKI/agent-b.batchkey"

declare -A PID UDP SENT
for name in good nocert wrongkey; do
    start_agent "$name" --config "$E2E_DIR/$name.yaml" --site eu --node "$name"
    PID[$name]=$AGENT_PID
    UDP[$name]=$AGENT_UDP
done
for name in good nocert wrongkey; do
    "$BIN/slic-loadgen" --udp "${UDP[$name]}" --sli "auth_$name" --rate 200 --seconds 1 \
        --seed 3 >"$E2E_DIR/load-$name.log" || fail "loadgen $name"
    SENT[$name]=$(sed -E 's/sent ([0-9]+) events.*/\1/' "$E2E_DIR/load-$name.log")
done
# SIGTERM closes the open window at once and delivers what the agent holds before it exits.
kill -TERM "${PID[good]}"
wait "${PID[good]}" || fail "agent good: exit status $? after SIGTERM"
wait_count auth_good "${SENT[good]}" 20
pass "(1) certificate and key: ${SENT[good]} events delivered, queried over TLS"

daemon() { # NAME FIELD: a counter from the agent's --status, as of its last window
    "$BIN/slic-agent" --spool-dir "$E2E_DIR/$1.spool" --status --json | jq -e ".daemon.$2" ||
        fail "agent $1: no daemon.$2 in --status"
}
[ "$(daemon good batches_refused_signature)" = 0 ] || fail "agent good: signature refusals counted"

wait_log() { # FILE TEXT SECONDS
    for _ in $(seq 1 $(($3 * 5))); do
        grep -q -- "$2" "$1" && return 0
        sleep 0.2
    done
    fail "$1 does not say '$2' after $3 s"
}
wait_log "$E2E_DIR/nocert.log" "cannot reach aggregator" 20
wait_log "$E2E_DIR/wrongkey.log" "refused batch" 20
for name in nocert wrongkey; do
    kill -TERM "${PID[$name]}"
    wait "${PID[$name]}" || fail "agent $name: exit status $? after SIGTERM"
done

grep "cannot reach aggregator" "$E2E_DIR/nocert.log" | grep -q "tls.cert_file" ||
    fail "the agent without a certificate does not say it needs one"
pending=$("$BIN/slic-agent" --spool-dir "$E2E_DIR/nocert.spool" --status --json | jq .pending)
[ "$pending" -ge 1 ] || fail "agent without a certificate: nothing pending in its spool"
slic query auth_nocert --window 1h >/dev/null 2>&1 && fail "data from the agent without a certificate was stored"
pass "(2) no client certificate: no connection, the log says why, $pending windows kept, nothing stored"

grep "refused batch" "$E2E_DIR/wrongkey.log" | grep -q -- "--agent-key agent-b" ||
    fail "the agent with the wrong key does not say how to get the right one"
grep -q "refused a batch claiming to be from agent agent-b, sent by 127.0.0.1:" "$E2E_DIR/agg.log" ||
    fail "the aggregator did not log the refusal with the claimed agent and the peer"
status=$("$BIN/slic-agent" --spool-dir "$E2E_DIR/wrongkey.spool" --status --json)
pending=$(jq .pending <<<"$status")
[ "$pending" -ge 1 ] || fail "wrong key: nothing pending in the spool: $status"
[ "$(jq .rejected_kept <<<"$status")" = 0 ] || fail "wrong key: batches were set aside: $status"
refused=$(jq .daemon.batches_refused_signature <<<"$status")
[ "${refused:-0}" -ge 1 ] 2>/dev/null || fail "wrong key: no signature refusals in --status: $status"
[ "$(jq .daemon.send_retries <<<"$status")" -ge "$refused" ] &&
    [ "$(jq .daemon.batches_rejected <<<"$status")" = 0 ] ||
    fail "wrong key: refusals are retries and never rejections: $status"
[ "$(daemon nocert batches_refused_signature)" = 0 ] || fail "agent nocert: signature refusals counted"
slic query auth_wrongkey --window 1h >/dev/null 2>&1 && fail "data signed with the wrong key was stored"
slic agents --json | jq -e 'all(.[]; .agent_id != "agent-b")' >/dev/null ||
    fail "the refused agent has state at the aggregator"

key_for agent-b "$PKI/agent-b.batchkey"
start_agent wrongkey --config "$E2E_DIR/wrongkey.yaml" --site eu --node wrongkey
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent wrongkey: exit status $? after SIGTERM"
wait_count auth_wrongkey "${SENT[wrongkey]}" 20
sleep 1
again=$(slic query auth_wrongkey --window 1h --json | jq .count)
[ "$again" = "${SENT[wrongkey]}" ] || fail "count moved to $again: counted twice"
pass "(3) wrong key: refused $refused times, $pending windows kept; with the right key ${SENT[wrongkey]} events arrived exactly once"

# Every agent has stopped: the page holds the final counts.
scrape() { # the aggregator's /metrics into $E2E_DIR/metrics.txt, checked by promtool
    get /metrics >"$E2E_DIR/metrics.txt"
    [ "$(status)" = 200 ] || fail "/metrics: status $(status)"
    promtool check metrics <"$E2E_DIR/metrics.txt" >"$E2E_DIR/promtool.log" 2>&1 ||
        fail "promtool check metrics: $(cat "$E2E_DIR/promtool.log")"
}
metric() { # NAME_WITH_LABELS: its value on the scraped page
    awk -v m="$1" '$1 == m { print $2 }' "$E2E_DIR/metrics.txt"
}
scrape
wrong=$(metric 'slic_aggregator_batches_refused_signature_total{reason="wrong"}')
[ "${wrong:-0}" -ge "$refused" ] 2>/dev/null ||
    fail "aggregator counted ${wrong:-no} wrong signatures, the agent $refused refusals"
[ "$(metric 'slic_aggregator_batches_refused_signature_total{reason="missing"}')" = 0 ] ||
    fail "unsigned batches counted where every agent signs"
[ "$(metric 'slic_aggregator_batches_total{result="rejected"}')" -ge "$wrong" ] ||
    fail "signature refusals are not counted as rejected"
kill -TERM "$AGG_PID"
wait "$AGG_PID" || fail "TLS aggregator: exit status $? after SIGTERM"
grep -q "0 of them unsigned, $wrong wrongly signed" "$E2E_DIR/agg.log" ||
    fail "no refusal count at exit, or not the one on /metrics ($wrong)"
pass "/metrics and --status count the refusals apart: $wrong wrong signatures, none missing"

# ---- (4) a plain tcp:// aggregator with a secret ----
unset AGG_PORT
AGG_HTTP_PORT=$(free_port)
HTTP=http://127.0.0.1:$AGG_HTTP_PORT
start_aggregator plain --secret-file "$PKI/secret"
out=$(timeout 60 "$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 2 --series 1 --windows 2 \
    --values 10 --deadline 10 2>&1) && fail "unsigned batches accepted: $out"
grep -q "rejected: signature: missing" <<<"$out" || fail "unsigned batches: $out"
[ "$(slic agents --json | jq length)" = 0 ] || fail "refused batches left agent state"
scrape
missing=$(metric 'slic_aggregator_batches_refused_signature_total{reason="missing"}')
[ "${missing:-0}" -ge 1 ] 2>/dev/null || fail "unsigned batches refused but counted ${missing:-nowhere}"
[ "$(metric 'slic_aggregator_batches_refused_signature_total{reason="wrong"}')" = 0 ] ||
    fail "unsigned batches counted as wrongly signed"
out=$(timeout 60 "$BIN/slic-testsend" --addr "$AGG_ADDR" --agents 2 --series 1 --windows 2 \
    --values 10 --deadline 10 --secret-file "$PKI/secret" 2>&1) || fail "signed batches: $out"
grep -q "4 accepted, 0 duplicate, 0 rejected" <<<"$out" || fail "signed batches: $out"
[ "$(slic agents --json | jq length)" = 2 ] || fail "signed agents not recorded"
pass "(4) tcp:// with a secret: unsigned batches refused without a trace, signed ones accepted"
stop_aggregator
