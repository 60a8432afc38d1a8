/* The forwarder: one thread that sends the store's forward queue (store.h) to an upstream
 * aggregator over nng req/rep, oldest first, one Batch at a time, exactly as an agent sends its
 * spool: deleted on ACCEPTED or DUPLICATE, retried with bounded exponential backoff on RETRY,
 * timeouts and an unreachable upstream, set aside (with the reason, logged) on REJECTED, so one
 * bad Batch never blocks the queue. A Batch refused for its signature is a key problem, not a
 * data problem: it stays queued and the error says which key to fetch. */
#ifndef SLIC_AGG_FORWARD_H
#define SLIC_AGG_FORWARD_H

#include "config.h"
#include "err.h"
#include "hmac.h"
#include "store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct agg_forward agg_forward;

struct agg_forward_options {
    const char *url; /* tcp:// or ipc:// of the upstream aggregator (copied) */
    const char *id;  /* our agent_id upstream (copied), for messages */
    /* Sign every Batch with this key (upstream.auth.key_file), as an agent does. */
    bool sign;
    uint8_t key[SLIC_HMAC_LEN];
    uint32_t ack_timeout_ms; /* a send plus its answer; 0: 5000 */
    uint32_t backoff_min_ms; /* 0: 100 */
    uint32_t backoff_max_ms; /* 0: 30000 */
    uint32_t idle_poll_ms;   /* how often an empty queue is looked at again; 0: 200 */
};

/* Starts the thread, dialling url in the background. The store must have forwarding enabled
 * (agg_store_forward_enable) and outlive the forwarder. 0; SLIC_ECONFIG (a URL nng refuses,
 * named in err); SLIC_ENOMEM; -errno from pthread_create. */
int agg_forward_create(agg_store *st, const struct agg_forward_options *o, agg_forward **out,
                       struct slic_errmsg *err);

/* Stops at once, whatever is in flight (an unanswered Batch stays queued and is resent by the
 * next run, which the upstream answers DUPLICATE if it got it), closes the socket and frees.
 * Never waits on the upstream. NULL allowed. */
void agg_forward_destroy(agg_forward *f);

struct agg_forward_stats {
    uint64_t forwarded;  /* Batches the upstream acknowledged (accepted or duplicate) */
    uint64_t duplicates; /* of them, answered DUPLICATE */
    uint64_t retries;    /* failed attempts: RETRY answers, timeouts, no connection */
    uint64_t set_aside;  /* Batches set aside on REJECTED since start */
    uint64_t signature_refusals;
    bool reachable; /* the last attempt got an answer */
};

void agg_forward_stats_get(agg_forward *f, struct agg_forward_stats *out);

/* The store it forwards from (for forward_prom.c). */
agg_store *agg__forward_store(const agg_forward *f);

/* For slic-aggregator's main: with an upstream: section in c, enables forwarding in the store
 * (which must not be written yet) and starts the forwarder into *out; without one, *out is
 * NULL and nothing changes. 0 or an error naming the upstream.* key at fault. */
int agg_forward_start_from_config(const struct agg_config *c, agg_store *st, agg_forward **out,
                                  struct slic_errmsg *err);

/* The forwarder's /metrics families in Prometheus text format, appended to out: queue depth
 * and bytes, oldest queued age, Batches forwarded, retries, set aside, merged and dropped to
 * keep the queue bounded, upstream up. f
 * may be NULL (forwarding off): nothing is written. 0 or SLIC_ENOMEM. Any thread. */
struct agg__buf;
int agg_forward_metrics(agg_forward *f, struct agg__buf *out);

#endif
