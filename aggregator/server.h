/* The aggregator's nng front door: one rep socket, many contexts (one in-flight request each),
 * serving agents' batches and operators' queries on the same address. A batch is decoded,
 * checked against the clock and limits, and handed to the writer; its ack goes out only from
 * the writer's done callback, after the commit. Queries are answered on nng's own threads from
 * read transactions, never blocking the writer. */
#ifndef SLIC_AGG_SERVER_H
#define SLIC_AGG_SERVER_H

#include "err.h"
#include "slo_engine.h"
#include "stats.h"
#include "store.h"
#include "validate.h"
#include "writer.h"

#include <stddef.h>
#include <stdint.h>

typedef struct agg_server agg_server;

struct agg_server_options {
    /* nng URL to listen on, e.g. tcp://127.0.0.1:7710. */
    const char *listen;
    /* Largest request accepted (NNG_OPT_RECVMAXSZ); larger ones are dropped by nng. */
    size_t recv_max_bytes;
    /* Requests served at once. */
    unsigned contexts;
    /* A window may end at most this far past the aggregator's clock. */
    int64_t max_future_seconds;
    /* Windows older than this are rejected (the coarsest retention). */
    int64_t max_age_seconds;
    /* Distinct label sets one SLI may carry in one batch. */
    unsigned max_label_sets_per_sli;
    /* Where every Ack's wanted thresholds come from (agg_slo_engine_wanted); NULL: none are
     * asked for. Must outlive the server. */
    agg_slo_engine *slo;
    /* Who may connect and send (validate.h): the TLS files a tls+tcp:// listen URL needs, and
     * the secret batch signatures are checked against. NULL: plain listeners only, and no
     * signature checked. Borrowed: must outlive the server. */
    const agg_auth *auth;
};

void agg_server_options_default(struct agg_server_options *o);

/* Opens the socket, listens and starts serving. Returns 0, SLIC_ECONFIG when the address cannot
 * be listened on, or is tls+tcp:// without TLS files in opts->auth, or a TLS file is unreadable
 * (err names the URL or file and the reason), or SLIC_ENOMEM. */
int agg_server_create(const struct agg_server_options *opts, agg_store *store, agg_writer *writer,
                      struct agg_stats *stats, agg_server **out, struct slic_errmsg *err);

/* Applies a reloaded configuration's limits (max_future_seconds, max_age_seconds,
 * max_label_sets_per_sli) to batches received from now on; the other options need a restart.
 * Thread-safe. */
void agg_server_set_limits(agg_server *s, const struct agg_server_options *opts);

/* From now on batches are answered RETRY ("shutting down"), queries still served. */
void agg_server_drain(agg_server *s);

/* Requests being served right now. */
unsigned agg_server_busy(agg_server *s);

/* Stops every context (waiting for callbacks in progress), closes the socket, frees. Call after
 * the writer has been destroyed, so every pending ack has been sent or abandoned. NULL ok. */
void agg_server_destroy(agg_server *s);

#endif
