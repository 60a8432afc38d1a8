/* The agent's spool: every closed window, encoded once into a Batch, waits here in an LMDB
 * environment (the only LMDB user of the agent) from before its first send until the aggregator
 * acknowledges it, so that neither an outage nor a restart nor kill -9 loses or re-counts what
 * was measured. The spool also keeps the agent's small state records (access-log offsets),
 * committed in the same transaction as the window that consumed them, and a meta record: the
 * epoch, the next seq, the end of the last closed window and the spool's counters.
 *
 * Size is capped. Above AGENT_SPOOL_COARSEN_PERCENT of the cap the oldest never-sent batches
 * are merged pairwise into coarser windows (sketches and counts add exactly, only time
 * resolution is lost); only when that frees no more room are the oldest batches dropped. Both
 * are counted and logged. Neither leaves a hole in the seqs the aggregator sees: a batch whose
 * data went elsewhere (merged into an older one) or away (dropped) stays pending as a
 * "tombstone", a Batch of the same epoch and seq with no series, which the aggregator records
 * as consumed; without it the aggregator would wait for that seq forever and, past
 * 65536 seqs, refuse every later batch of the epoch.
 *
 * Thread model: a writer handle belongs to the agent's libuv loop thread; every call blocks on
 * LMDB (an fsync per write transaction) and none may run concurrently on one handle. One writer
 * per spool dir (a lock file enforces it); any number of read-only handles in other processes
 * (`slic-agent --status`) may read at the same time without disturbing it. LMDB forbids opening
 * one environment twice in one process, so a process holds at most one handle per dir.
 *
 * Errors: 0 or a negative code (err.h). Where a struct slic_errmsg is taken (NULL allowed) its
 * text names the spool dir and the record at fault. */
#ifndef SLIC_AGENT_SPOOL_H
#define SLIC_AGENT_SPOOL_H

#include "batch.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct agent_spool agent_spool;

/* Layout version of the spool dir; a dir of another version is refused at open. */
#define AGENT_SPOOL_SCHEMA_VERSION 1u
#define AGENT_SPOOL_DEFAULT_CAP ((uint64_t)1 << 30) /* 1 GiB */
#define AGENT_SPOOL_MIN_CAP ((uint64_t)256 << 10)   /* 256 KiB */
/* Coarsening starts when live data passes this share of the cap; dropping only at the cap. */
#define AGENT_SPOOL_COARSEN_PERCENT 90u
#define AGENT_SPOOL_DEFAULT_REJECTED_MAX 1000u
#define AGENT_SPOOL_STATE_KEY_MAX 256u    /* bytes */
#define AGENT_SPOOL_STATE_VALUE_MAX 4096u /* bytes */

/* Zero means "the default" for every numeric field. */
struct agent_spool_options {
    uint64_t cap_bytes;    /* live data limit; >= AGENT_SPOOL_MIN_CAP */
    uint64_t map_size;     /* LMDB map: a ceiling on the data file. Default cap + cap/4 + 1 MiB,
                            * room for LMDB's copy-on-write pages beyond the cap; tests set it
                            * smaller to reach the map-full path */
    uint32_t rejected_max; /* rejected batches kept aside, newest kept */
    const char *agent_id;  /* the writer's agent id (batch.h name syntax); unused read-only */
    bool read_only;        /* for --status: no lock, no writes, nothing created */
    /* Wall clock in Unix milliseconds (tests fake it); NULL: the real clock. */
    int64_t (*clock_ms)(void *ctx);
    void *clock_ctx;
};

/* Opens the spool in directory `dir`.
 * Writer (read_only false): creates the dir (and parents) and the environment if need be, takes
 * the dir's lock (-EBUSY when another process holds it), clears reader slots of dead processes.
 * The epoch is kept while batches are pending, so they are still delivered exactly once; when
 * none are, a new epoch starts (max(previous + 1, wall clock in ms), so epochs grow even across
 * a lost spool dir, as the aggregator requires) with seq 1, and the agent id is taken from opt.
 * Pending batches of another agent id are SLIC_ECONFIG (deliver them with that id, or move the
 * dir aside). If the previous writer never closed the spool (killed or crashed), a warning says
 * which window's events were lost with it: at most those of the window that began at the end of
 * the last closed one.
 * Reader: opens an existing spool without changing anything; SLIC_ENOTFOUND when `dir` holds no
 * initialized spool.
 * Returns 0, SLIC_EINVAL (bad options), SLIC_EVERSION, SLIC_ECONFIG, SLIC_ENOTFOUND, -EBUSY,
 * SLIC_ESTORE, SLIC_ENOMEM or -errno; *out only on success. */
int agent_spool_open(const char *dir, const struct agent_spool_options *opt, agent_spool **out,
                     struct slic_errmsg *err);

/* Marks a writer's spool cleanly closed and closes it. NULL is allowed. */
void agent_spool_close(agent_spool *sp);

/* The epoch of a writer's pending batches (fixed for the handle's life); 0 for a reader. */
uint64_t agent_spool_epoch(const agent_spool *sp);

/* A state record to commit with a window: `value` NULL deletes the key. Keys are 1 to
 * AGENT_SPOOL_STATE_KEY_MAX bytes, values at most AGENT_SPOOL_STATE_VALUE_MAX. */
struct agent_spool_state_kv {
    const char *key;
    const void *value;
    size_t len;
};

/* Spools one closed window: the batch is encoded with this spool's epoch and its next seq
 * (b->epoch and b->seq are ignored; b->agent_id must be the spool's), and in ONE transaction
 * stored with the state records, the next seq and `window_end` (Unix seconds; the end of the
 * window this batch closes, recorded even when the window saw no events). First, if the batch
 * would take the spool past AGENT_SPOOL_COARSEN_PERCENT of the cap, the oldest never-sent
 * batches are coarsened, and if it would pass the cap itself and coarsening frees no more, the
 * oldest batches become tombstones (both logged and counted). *seq gets the batch's seq.
 * Returns 0; SLIC_EINVAL (a reader, another agent id, a bad window or state record);
 * SLIC_ETOOBIG (the encoded batch exceeds CODEC_MAX_MESSAGE_BYTES, a quarter of the cap or
 * half the map);
 * SLIC_ERETRY when the spool is full of data it may not coarsen or drop, or LMDB's map is full:
 * nothing was stored and the window is lost unless the caller keeps it; SLIC_ESTORE;
 * SLIC_ENOMEM. On any error nothing of this call was stored (a coarsening or drop pass that
 * ran first may have been committed). */
int agent_spool_append(agent_spool *sp, const struct slic_batch *b, int64_t window_end,
                       const struct agent_spool_state_kv *state, size_t n_state, uint64_t *seq,
                       struct slic_errmsg *err);

/* A pending batch, copied out of the spool. */
struct agent_spool_item {
    uint64_t epoch;
    uint64_t seq;
    bool sent;            /* handed to the sender at least once (by agent_spool_take) */
    uint32_t n_series;    /* 0: a tombstone (or an empty window) */
    int64_t window_start; /* earliest window start and latest end of its series, Unix s */
    int64_t window_end;
    uint64_t events; /* sum of the series' totals */
    uint8_t *bytes;  /* the serialized Batch to send as it is; slic_malloc'd */
    size_t len;
};

/* Frees an item's bytes and zeroes it. NULL allowed. */
void agent_spool_item_fini(struct agent_spool_item *it);

/* The sender's fetch: up to `max` pending batches with seq > after_seq, oldest first, each
 * marked sent durably (committed) BEFORE this returns. The mark is what makes coarsening safe:
 * a batch that may have reached the aggregator is never merged into another, since if its first
 * send was committed the merged batch would count it twice; so bytes returned here never change
 * under the sender (a tombstone may replace them if the spool fills; the aggregator then takes
 * whichever arrives first and calls the other a duplicate). Skipping batches already in flight
 * is the sender's job, through after_seq. Fills items[0..*n) (the caller finis each).
 * Returns 0, SLIC_EINVAL (a reader), SLIC_ERETRY (map full), SLIC_ESTORE or SLIC_ENOMEM;
 * on error no item is returned and nothing is marked. */
int agent_spool_take(agent_spool *sp, uint64_t after_seq, size_t max,
                     struct agent_spool_item *items, size_t *n, struct slic_errmsg *err);

/* As agent_spool_take without marking anything: for --status and tests; readers may call it. */
int agent_spool_peek(agent_spool *sp, uint64_t after_seq, size_t max,
                     struct agent_spool_item *items, size_t *n, struct slic_errmsg *err);

/* The aggregator accepted the batch, or had it already: deletes it. A seq not pending in this
 * epoch (a second ack, an ack from before a restart) is SLIC_ENOTFOUND and changes nothing.
 * Returns 0, SLIC_ENOTFOUND, SLIC_EINVAL (a reader), SLIC_ERETRY (map full), SLIC_ESTORE or
 * SLIC_ENOMEM. */
int agent_spool_ack(agent_spool *sp, uint64_t epoch, uint64_t seq, struct slic_errmsg *err);

/* The aggregator will never accept the batch: moves it, with `reason` (truncated to
 * SLIC_ACK_REASON_MAX - 1 bytes), from the pending batches to the rejected ones, where it is
 * kept for the operator and never resent, and logs a warning. Beyond rejected_max entries, or
 * an eighth of the cap in bytes, the oldest rejected are deleted (logged as an error, counted);
 * the newest is always kept. Same returns as agent_spool_ack. */
int agent_spool_reject(agent_spool *sp, uint64_t epoch, uint64_t seq, const char *reason,
                       struct slic_errmsg *err);

/* A state record's value, in a slic_malloc'd buffer (*value; the caller frees it, NULL when
 * *len is 0). Returns 0, SLIC_ENOTFOUND, SLIC_EINVAL (bad key), SLIC_ESTORE or SLIC_ENOMEM. */
int agent_spool_state_get(agent_spool *sp, const char *key, void **value, size_t *len,
                          struct slic_errmsg *err);

struct agent_spool_rejected {
    uint64_t epoch;
    uint64_t seq;
    int64_t rejected_unix_ms;
    int64_t window_start;
    uint64_t events;
    char reason[SLIC_ACK_REASON_MAX];
};

/* Up to `max` rejected batches, oldest first, into out[0..*n). Returns 0, SLIC_ESTORE. */
int agent_spool_rejected_list(agent_spool *sp, struct agent_spool_rejected *out, size_t max,
                              size_t *n, struct slic_errmsg *err);

/* What the spool holds and has done, as last committed (read from the dir, so a reader sees the
 * writer's latest commit). Counters live in the spool and survive restarts. */
struct agent_spool_stats {
    uint64_t epoch;
    uint64_t next_seq;
    int64_t last_closed_window_end; /* Unix s; 0 before the first window */
    bool writer_open;               /* a writer has the spool open, or died with it open */
    bool unclean_start;             /* this writer found the previous one never closed it */
    uint64_t cap_bytes;             /* as the writer last configured it */
    uint64_t map_size;
    uint64_t used_bytes;         /* pages holding live data, x page size */
    uint64_t pending;            /* batches awaiting an ack, tombstones included */
    uint64_t pending_bytes;      /* their serialized size */
    uint64_t pending_sent;       /* of which handed to the sender */
    int64_t oldest_window_start; /* of the oldest pending batch; 0 when none */
    int64_t oldest_age_seconds;  /* now - oldest_window_start; 0 when none */
    uint64_t rejected_kept;
    uint64_t rejected_total;   /* ever rejected */
    uint64_t rejected_deleted; /* deleted to respect the rejected bound */
    uint64_t coarsened;        /* merges of two batches into one */
    uint64_t dropped;          /* batches whose data was dropped for room */
    uint64_t dropped_events;   /* events in them */
};

/* Returns 0, SLIC_ESTORE or SLIC_ENOMEM; *out only on success. */
int agent_spool_stats_get(agent_spool *sp, struct agent_spool_stats *out, struct slic_errmsg *err);

#endif
