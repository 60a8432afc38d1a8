/* The merge a regional aggregator forwards upstream: the series of a group of committed
 * batches, merged per (site, SLI, labels, window start, window length), one Batch per site
 * (split when large). Used by the store's writer inside the transaction that commits the group
 * (store_forward.c); pure computation on slic structs, no LMDB and no nng. */
#ifndef SLIC_AGG_FORWARD_MERGE_H
#define SLIC_AGG_FORWARD_MERGE_H

#include "batch.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

/* Most series in one forward Batch, and roughly most bytes of merged records: far below the
 * decoder's caps (SLIC_BATCH_SERIES_MAX, CODEC_MAX_MESSAGE_BYTES) and the upstream store's
 * per-batch page limit, so an upstream never refuses a forward Batch for its size. */
#define AGG_FORWARD_BATCH_SERIES_MAX 2000u
#define AGG_FORWARD_BATCH_BYTES_MAX ((size_t)1 << 20)
/* Most label sets of one SLI in one forward Batch: the upstream refuses a Batch with more than
 * its limits.label_sets_per_sli (default 1000), and merging many agents' series can pass what
 * each agent stayed under. An upstream must allow at least this many. */
#define AGG_FORWARD_LABEL_SETS_MAX 256u

/* Who the forward Batches come from: agent_id and node are `id`; seqs are given out from
 * first_seq on, one per Batch, in order. */
struct agg_forward_origin {
    const char *id;
    uint64_t epoch;
    uint64_t first_seq;
    int64_t now_ms; /* created_unix_ms of every Batch */
};

/* Called once per forward Batch, in seq order; b and everything it points to are valid only
 * during the call. A non-zero return stops the merge and is returned by agg_forward_merge. */
typedef int (*agg_forward_emit_fn)(void *ctx, const struct slic_batch *b);

/* Merges the series of the batches whose result is AGG_INGEST_ACCEPTED (duplicates, rejected
 * and retried batches contribute nothing): within one key, totals and goods add, sketches
 * merge exactly (slic_sketch_merge), and only thresholds present in every series with events
 * are kept, their counts added (as the store merges records). Inputs must be valid per batch.h
 * with sketches of one alpha and mapping, as the store checked them. *emitted counts the
 * Batches handed to emit. Returns 0, SLIC_ENOMEM, SLIC_EOVERFLOW (a count past 2^64 - 1), or
 * what emit returned. */
int agg_forward_merge(const struct slic_batch *const *batches,
                      const enum agg_ingest_result *results, size_t n,
                      const struct agg_forward_origin *origin, agg_forward_emit_fn emit, void *ctx,
                      uint64_t *emitted);

#endif
