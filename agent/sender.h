/* The agent's delivery of spooled batches to its aggregator: the only nng user in the agent.
 * One req socket dials the aggregator; each in-flight batch owns one nng context and is sent
 * until the aggregator gives a final answer (ACCEPTED, DUPLICATE or REJECTED), however long that
 * takes: there is no retry limit, only capped, jittered backoff. The sender never deletes
 * anything: it pulls batches from the spool through `next` and reports each final answer
 * through `acked`; what to delete or move aside is the agent's decision.
 *
 * Thread model: every function here and every callback runs on the thread of the libuv loop
 * given to agent_sender_create. nng's own threads only queue completed operations and wake the
 * loop through a uv_async_t; they never touch loop state. Callbacks run from the loop, never
 * from inside an agent_sender_* call. */
#ifndef SLIC_AGENT_SENDER_H
#define SLIC_AGENT_SENDER_H

#include "batch.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct agent_sender agent_sender;

/* TLS towards a tls+tcp:// aggregator, and the signature on every batch, which is what makes
 * the aggregator trust the agent_id in it (sender_auth.c). Read only during agent_sender_create:
 * the files are read then, the key and agent_id copied. */
struct agent_sender_security {
    /* tls+tcp:// only: the CA that signs the aggregator's certificate (required), this agent's
     * certificate and private key (both or neither), and the name the aggregator's certificate
     * must carry (NULL: the host of the aggregator URL). */
    const char *tls_ca_file;
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_server_name;
    /* This agent's batch key (auth.key_file), SLIC_HMAC_LEN bytes (hmac.h); NULL: batches go
     * unsigned. */
    const uint8_t *key;
    /* This agent's agent_id, for the log lines that say which key to fetch. */
    const char *agent_id;
};

/* Zero means "the default" for every numeric field. */
struct agent_sender_options {
    /* The aggregator, e.g. "tcp://10.0.0.5:7710". Copied. Required. */
    const char *url;
    /* Batches sent and awaiting their answer at once (default 4, at most 256). */
    unsigned inflight;
    /* How long a request may wait for a connection, and then for its ack, before it is resent
     * (default 10000). */
    uint32_t ack_timeout_ms;
    /* Backoff between attempts of one batch: doubles from min to max, each wait drawn at random
     * from its upper half (defaults 100 and 30000). nng's reconnection attempts back off over
     * the same range, also jittered. */
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    /* NULL: no TLS material (a tls+tcp:// url is then refused) and unsigned batches. */
    const struct agent_sender_security *security;
};

struct agent_sender_callbacks {
    /* The oldest batch in the spool with seq > after_seq. Returns 1 with *seq and *bytes, a
     * slic_malloc'd serialized Batch of *len bytes whose ownership passes to the sender; 0 when
     * there is none; < 0 on error (logged by the sender, which asks again at the next kick).
     * Each seq is taken once in a sender's life: retries resend the sender's own copy, and a
     * batch with a seq at or below the highest already taken is never asked for again. */
    int (*next)(void *ctx, uint64_t after_seq, uint64_t *seq, uint8_t **bytes, size_t *len);
    /* The final answer for seq: ACCEPTED or DUPLICATE (committed: delete it from the spool) or
     * REJECTED (never acceptable; ack->reason says why: keep it aside). REJECTED also comes
     * from the sender itself, unsent, for a request larger than CODEC_MAX_MESSAGE_BYTES, which
     * no aggregator accepts. RETRY never reaches the agent. ack is valid during the call only.
     * Called once per seq taken, unless the sender is closed first. May call
     * agent_sender_kick, agent_sender_drain or agent_sender_close. */
    void (*acked)(void *ctx, uint64_t seq, const struct slic_ack *ack);
    void *ctx;
};

enum agent_sender_link {
    AGENT_SENDER_CONNECTING = 0, /* started, never connected yet */
    AGENT_SENDER_UP = 1,         /* a connection to the aggregator is open */
    AGENT_SENDER_DOWN = 2,       /* unreachable, or the connection was lost: reconnecting */
};

/* Self-metrics. Counters only grow. "Answers" are the aggregator's final answers; the ack
 * latency is the time from a batch's last send to its answer (the round trip plus the
 * aggregator's durable commit): sum / (accepted + duplicate + aggregator rejections) is the
 * mean, which a scraper turns into a rate. */
struct agent_sender_stats {
    uint64_t sent;     /* requests handed to nng, first attempts and resends */
    uint64_t accepted; /* final answers given to the agent, by kind */
    uint64_t duplicate;
    uint64_t rejected; /* by the aggregator, or unsent as too large */
    uint64_t retries;  /* attempts that failed: RETRY answers, timeouts, lost links, refusals */
    /* Of retries: REJECTED for the batch's signature (a missing or wrong key, not bad data),
     * so kept and resent, never reported through `acked`. */
    uint64_t refused_signature;
    uint64_t ack_latency_sum_ns;
    uint64_t ack_latency_last_ns;
    int64_t last_ack_unix_ms; /* wall-clock time of the last answer; 0: none yet */
    unsigned inflight;        /* batches taken from the spool and not yet finally answered */
    enum agent_sender_link link;
    int64_t link_since_unix_ms; /* when `link` last changed */
};

/* Checks the options, opens the req socket and starts dialing (in the background: an
 * unreachable aggregator is not an error here), then pulls the first batches from the spool.
 * Returns 0 and *out; SLIC_EINVAL for bad options; SLIC_ECONFIG when nng refuses the URL (err
 * names it and nng's reason), or for a tls+tcp:// URL without a usable tls_ca_file or with a
 * certificate or key that cannot be read (err names the file and the setting); SLIC_ENOMEM; or
 * a negative libuv code; or what reading a TLS file returned (-errno). err (NULL allowed) says
 * what is wrong. On failure nothing is left to free, except in the rare case that dialing fails
 * after the uv handles were opened: they then close on the loop's next run. */
int agent_sender_create(uv_loop_t *loop, const struct agent_sender_options *o,
                        const struct agent_sender_callbacks *cb, agent_sender **out,
                        struct slic_errmsg *err);

/* New batches may be in the spool: pull them, up to the in-flight limit. */
void agent_sender_kick(agent_sender *s);

/* For SIGTERM: keep delivering until the spool is empty (`next` returns 0) and nothing is in
 * flight, then call done(arg, 0); or, if timeout_ms passes first, call done(arg, SLIC_ERETRY)
 * and go on as before. done runs once, on the loop, never from inside this call; the caller
 * then normally closes the sender. A second drain replaces the first, whose done is not
 * called. */
void agent_sender_drain(agent_sender *s, uint32_t timeout_ms, void (*done)(void *arg, int rc),
                        void *arg);

void agent_sender_stats(const agent_sender *s, struct agent_sender_stats *out);

/* Batches taken from the spool and not yet finally answered (never above the limit). */
unsigned agent_sender_inflight(const agent_sender *s);

/* Closes the sender; closed(arg) (NULL allowed) runs on the loop once it is freed. No other
 * callback runs after this call. Batches in flight are dropped from memory, never reported:
 * they stay in the spool and are sent again by the next sender. While the link is up, requests
 * already on the wire get a short grace (at most 2 s, and never more than the ack timeout) to
 * be answered before the socket closes, because nng 1.5.2 can hang closing a socket that is
 * receiving an answer; then all nng I/O is stopped, the socket and the uv handles are closed,
 * and the last close callback frees the sender. Must be called once. */
void agent_sender_close(agent_sender *s, void (*closed)(void *arg), void *arg);

#endif
