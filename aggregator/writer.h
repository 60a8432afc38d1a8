/* The aggregator's single writer: one thread that takes decoded batches from any number of
 * server contexts and commits them to the store in groups, one LMDB write transaction per
 * group, so the cost of a synced commit is shared by every batch that arrived while the previous
 * one ran. Each item's `done` callback runs on the writer thread only after its group's commit
 * returned: an ack sent from it is an ack for durable data. The same thread runs the retention
 * pass between groups, so LMDB never sees two writers. */
#ifndef SLIC_AGG_WRITER_H
#define SLIC_AGG_WRITER_H

#include "batch.h"
#include "store.h"

#include <stdint.h>

typedef struct agg_writer agg_writer;

struct agg_write_item {
    /* In: the decoded, validated batch; owned by the submitter, untouched by the writer. */
    const struct slic_batch *batch;
    /* Out, valid in done(): the store's verdict (RETRY when the writer is closing), and for
     * REJECTED and RETRY a reason, valid only during done(). */
    enum agg_ingest_result result;
    const char *reason;
    void (*done)(struct agg_write_item *item);
    /* Private to the writer. */
    struct agg_write_item *next;
};

struct agg_writer_options {
    /* Most batches and series in one transaction: keeps LMDB's dirty pages bounded. */
    unsigned max_group_batches;
    unsigned max_group_series;
    /* Seconds between retention passes, and rows deleted per retention transaction. */
    unsigned expire_interval_seconds;
    unsigned expire_batch_rows;
};

void agg_writer_options_default(struct agg_writer_options *o);

/* Starts the writer thread. 0, SLIC_ENOMEM, or -errno from pthread_create. */
int agg_writer_create(agg_store *store, const struct agg_writer_options *opts, agg_writer **out);

/* Queues an item; done() will be called exactly once, on the writer thread. Thread-safe. After
 * agg_writer_destroy has begun, items complete at once, on the caller's thread, as RETRY. */
void agg_writer_submit(agg_writer *w, struct agg_write_item *item);

/* Items queued and not yet committed (for metrics and drain progress). */
unsigned agg_writer_pending(agg_writer *w);

/* Commits everything already queued, calls every done(), stops the thread and frees. NULL is
 * allowed. */
void agg_writer_destroy(agg_writer *w);

#endif
