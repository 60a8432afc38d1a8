/* Answers operators' queries (slic query / series / agents) from the store: turns a wire Query
 * into store calls and the results into a wire Reply. Runs on any thread, concurrently with the
 * writer. */
#ifndef SLIC_AGG_QUERY_H
#define SLIC_AGG_QUERY_H

#include "slic.pb-c.h"
#include "store.h"

#include <stdint.h>

/* Builds the reply to q at time `now` (Unix seconds). A bad query or an unknown SLI is a reply
 * with status BAD_QUERY or NOT_FOUND and an error naming the field, not a failure: the return
 * is 0 with *out set, or SLIC_ENOMEM. Free *out with agg_query_reply_free. */
int agg_query_answer(agg_store *store, const Slic__Query *q, int64_t now, Slic__Reply **out);
void agg_query_reply_free(Slic__Reply *reply);

#endif
