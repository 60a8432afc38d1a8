/* Answers operators' queries (slic query / series / agents / slo): turns a wire Query into store
 * calls (or, for SLOs, a look at the SLO engine's latest evaluation) and the results into a wire
 * Reply. Runs on any thread, concurrently with the writer. */
#ifndef SLIC_AGG_QUERY_H
#define SLIC_AGG_QUERY_H

#include "slic.pb-c.h"
#include "slo_engine.h"
#include "store.h"

#include <stdint.h>

/* Builds the reply to q at time `now` (Unix seconds). A bad query or an unknown SLI is a reply
 * with status BAD_QUERY or NOT_FOUND and an error naming the field, not a failure: the return
 * is 0 with *out set, or SLIC_ENOMEM. Free *out with agg_query_reply_free. */
int agg_query_answer(agg_store *store, const Slic__Query *q, int64_t now, Slic__Reply **out);

/* agg_query_answer for every kind, SLOS answered from slo (NULL: no SLOs are loaded, so the
 * list is empty): the query's slo (an SLO name) and site (a site name, or "*" for across
 * sites) are checked here. A reply that would not fit in a Response a client accepts
 * (CODEC_MAX_REPLY_BYTES) becomes status INTERNAL with an error saying so and how to ask for
 * less. agg_query_answer is this without an SLO engine. */
int agg_query_answer_all(agg_store *store, agg_slo_engine *slo, const Slic__Query *q, int64_t now,
                         Slic__Reply **out);

void agg_query_reply_free(Slic__Reply *reply);

#endif
