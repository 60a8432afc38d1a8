/* The aggregator's store: every measurement an aggregator has accepted, in one LMDB environment
 * (the only LMDB user on the aggregator side). Each series of a batch is merged into rollups at
 * 10 s, 1 min and 1 h, per node (10 s and 1 min only), per site and across all sites, in the
 * same write transaction that records the batch's (agent_id, epoch, seq), so a retried batch is
 * recognised and never counted twice. Queries merge the stored sketches of a time range.
 *
 * Thread model: ONE writer thread calls agg_store_write_batches() and agg_store_expire(); any
 * thread may call the query functions (agg_store_query_sli, agg_store_list_series,
 * agg_store_list_agents) and agg_store_stats_get() at the same time. Queries run in LMDB read
 * transactions (MDB_NOTLS) and see the last commit. Growing the memory map needs every
 * transaction of the process closed, so each transaction, the writer's included, holds a
 * process-wide rwlock in shared mode and the writer takes it exclusively, briefly, to grow; the
 * lock prefers that writer, so a stream of queries cannot starve growth. open and close must not
 * run concurrently with anything else on the same store. The forwarder thread's queue functions
 * (below) take short write transactions of their own, which LMDB serialises with the writer's.
 *
 * Errors: 0 or a negative code (err.h); where a struct slic_errmsg is taken (NULL allowed) it
 * names the data dir, the record or the field at fault. */
#ifndef SLIC_AGG_STORE_H
#define SLIC_AGG_STORE_H

#include "batch.h"
#include "err.h"
#include "sketch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct agg_store agg_store;

/* The layout version of the data dir. The database "meta" holds it under the key
 * "schema_version" as a 4-byte little-endian integer; a data dir of another version is
 * refused at open. */
#define AGG_STORE_SCHEMA_VERSION 1u
#define AGG_STORE_META_DB "meta"
#define AGG_STORE_META_VERSION_KEY "schema_version"

#define AGG_STORE_DEFAULT_MAP_INITIAL ((size_t)1 << 30) /* 1 GiB */
#define AGG_STORE_DEFAULT_MAP_MAX ((size_t)64 << 30)    /* 64 GiB */
#define AGG_STORE_DEFAULT_RETENTION_10S (2 * 86400)
#define AGG_STORE_DEFAULT_RETENTION_1M (30 * 86400)
#define AGG_STORE_DEFAULT_RETENTION_1H (400 * 86400)
/* Estimated dirty pages after which a group is committed and the rest continues in a new
 * transaction. LMDB 0.9.24 leaks in transactions that spill (about 100k dirty pages); this
 * keeps every transaction far below. */
#define AGG_STORE_DEFAULT_TXN_PAGES 16384u
/* A single batch estimated to dirty more pages than this is rejected (too large to commit
 * safely in one transaction); agents keep batches far smaller. */
#define AGG_STORE_BATCH_PAGES_MAX 32768u
/* Batches may arrive this far ahead of an agent's contiguous seq; further is RETRY. */
#define AGG_STORE_SEQ_AHEAD_MAX 65536u
/* agg_store_expire deletes at most this many records per transaction, whatever it is asked. */
#define AGG_STORE_EXPIRE_TXN_MAX 65536u

/* Zero means "the default" for every numeric field, so a zeroed struct is a valid,
 * durable configuration. */
struct agg_store_options {
    size_t map_size_initial; /* bytes, rounded up to the page size */
    size_t map_size_max;     /* bytes, >= map_size_initial; growth doubles up to it */
    bool nosync;             /* true trades durability for speed: MDB_NOSYNC, the OS flushes
                              * later and a crash may lose (never corrupt) the last commits */
    int64_t retention_10s;   /* seconds each resolution is kept; 10s <= 1m <= 1h */
    int64_t retention_1m;
    int64_t retention_1h;
    double alpha; /* sketch settings of every record: incoming sketches must match; */
    enum slic_sketch_mapping mapping; /* fixed when the data dir is created */
    uint32_t max_buckets;
    uint32_t txn_pages; /* dirty-page budget of one write transaction */
    /* Wall clock, Unix seconds (tests fake it); NULL: time(). */
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
};

/* Opens (creating if need be, parent directories included) the store in the directory `path`.
 * Refuses a data dir of another schema version (SLIC_EVERSION) or created with other sketch
 * settings (SLIC_ECONFIG), with a message saying what the operator can do. Clears reader slots
 * left by dead processes. opt may be NULL (all defaults). Returns 0, SLIC_EINVAL (bad options),
 * SLIC_EVERSION, SLIC_ECONFIG, SLIC_ESTORE, SLIC_ENOMEM or -errno; *out only on success. */
int agg_store_open(const char *path, const struct agg_store_options *opt, agg_store **out,
                   struct slic_errmsg *err);

/* Flushes (when nosync) and closes. NULL is allowed. */
void agg_store_close(agg_store *st);

/* What became of one batch. The server acks ACCEPTED and DUPLICATE as success, STALE_EPOCH and
 * REJECTED as rejected, RETRY as retry. */
enum agg_ingest_result {
    AGG_INGEST_ACCEPTED = 1,    /* committed now */
    AGG_INGEST_DUPLICATE = 2,   /* committed before, or earlier in the same group: no change */
    AGG_INGEST_STALE_EPOCH = 3, /* epoch older than the agent's newest: never accepted */
    AGG_INGEST_REJECTED = 4,    /* its data can never be merged (reason given); its seq is
                                 * recorded so the agent's contiguous seq moves past it,
                                 * unless agent id, site or node are themselves invalid or the
                                 * agent's stored state is corrupt (logged as an error) */
    AGG_INGEST_RETRY = 5,       /* not committed: map full at its maximum, a store failure, or
                                 * seq more than AGG_STORE_SEQ_AHEAD_MAX ahead */
};

/* "accepted", "duplicate", ... for logs and metrics labels. */
const char *agg_ingest_result_name(enum agg_ingest_result r);

/* Writes a group of batches (decoded and validated per batch.h), in order, in as few write
 * transactions as the dirty-page budget allows (one for any ordinary group); each batch lies
 * wholly in one transaction, with its seq. Every entry of results[] (n entries) is written,
 * whatever the return code; reasons (NULL, or n entries) explains REJECTED and RETRY. Ack a
 * batch only by its result: all but RETRY are committed once this returns.
 * On MDB_MAP_FULL the transaction is aborted, the map doubled (up to map_size_max) and the
 * transaction redone; at the maximum the batches not yet committed become RETRY, a warning names
 * the data dir and map size, and SLIC_ERETRY is returned. To consume a seq the server will never
 * store (a batch that failed validation), write a batch with that seq and no series.
 * Returns 0, SLIC_ERETRY, SLIC_ESTORE or SLIC_ENOMEM (the last two: batches not committed are
 * RETRY). Writer thread only. */
int agg_store_write_batches(agg_store *st, const struct slic_batch *const *batches, size_t n,
                            enum agg_ingest_result *results, struct slic_errmsg *reasons,
                            struct slic_errmsg *err);

/* One bounded step of the retention pass: deletes, in one write transaction, records whose
 * window ended more than its resolution's retention before `now` (at most max_deletes_per_txn,
 * capped at AGG_STORE_EXPIRE_TXN_MAX, looking at no more than four series per allowed delete),
 * continuing where the previous call stopped. *deleted counts them; *more is true until
 * the pass has visited every series, after which the next call starts a new pass. Also clears
 * stale reader slots. Returns 0, SLIC_EINVAL (max_deletes_per_txn == 0), SLIC_ERETRY (map full
 * at its maximum), SLIC_ESTORE or SLIC_ENOMEM. Writer thread only. */
int agg_store_expire(agg_store *st, int64_t now, size_t max_deletes_per_txn, size_t *deleted,
                     bool *more, struct slic_errmsg *err);

/* One SLI over [from, to). site and node are both optional: neither = all sites; site = one
 * site; node = one node (in any site, or in `site` when both are given). Label matchers keep
 * series carrying each key with exactly that value. */
struct agg_query {
    const char *sli;
    const char *site;
    const char *node;
    const struct slic_label *matchers;
    size_t n_matchers;
    int64_t from;
    int64_t to;
    /* 0: the finest resolution whose retention still covers `from` and that needs at most
     * AGG_QUERY_MAX_WINDOWS windows per series (per-node data: 10 s or 1 min); else 10, 60 or
     * 3600 to force one. */
    uint32_t resolution_seconds;
    /* The time retention is measured from; 0: the store's clock. */
    int64_t now;
};

#define AGG_QUERY_MAX_WINDOWS 1440

struct agg_query_result {
    uint32_t resolution_seconds;
    /* The range actually covered: aligned outward to the resolution, and clipped to what
     * retention still keeps (from == to when nothing of the range is kept). */
    int64_t from;
    int64_t to;
    uint64_t total;
    uint64_t good;
    /* Merged latency sketch of every matching record (owned; never NULL on success). */
    slic_sketch *latency;
    /* Exact counts under the thresholds every record with events in range carried. */
    size_t n_thresholds;
    struct slic_threshold_count thresholds[SLIC_SERIES_THRESHOLDS_MAX];
    uint64_t records; /* stored records merged */
    uint64_t series;  /* series (label sets, and sites for a node) that matched */
};

/* Answers a query. Returns 0; SLIC_EINVAL (bad name, from >= to, a resolution that does not
 * exist or is not kept per node); SLIC_ENOTFOUND when no series of the SLI matches the site,
 * node and labels at any resolution; SLIC_ESTORE (a corrupt record: the message names it);
 * SLIC_ENOMEM. *out is written only on success; free it with agg_query_result_fini. */
int agg_store_query_sli(agg_store *st, const struct agg_query *q, struct agg_query_result *out,
                        struct slic_errmsg *err);

/* Frees the result's sketch and zeroes it; NULL allowed. */
void agg_query_result_fini(struct agg_query_result *r);

/* One slice of agg_store_query_slices. le_* count the events at or below the threshold asked
 * for: at least le_lower, at most le_upper, exactly (le_exact) when every record with events in
 * the slice had an exact counter at it; 0, 0, true when no threshold was asked. */
struct agg_slice_counts {
    uint64_t total;
    uint64_t good;
    uint64_t le_lower;
    uint64_t le_upper;
    bool le_exact;
};

/* The SLI of q (sli, site, node, matchers as for agg_store_query_sli) in n consecutive slices:
 * out[i] counts the records with window start in [q->from + i * slice_s, q->from + (i + 1) *
 * slice_s), read at q->resolution_seconds, which must be given (10, 60, or 3600 except per
 * node); q->from and slice_s lie on its grid. q->to and q->now are not used, and nothing is
 * clipped to retention: records expired and deleted simply count no more. le >= 0 asks for
 * bounds on events with latency <= le, each record contributing an exact counter at le where
 * it has one and otherwise its sketch's rank narrowed by its counters on either side; NaN asks
 * for none. One read transaction and one cursor pass per matching series; no series matching
 * is all zeros, not an error. Returns 0; SLIC_EINVAL (names, resolution, a range off the grid
 * or past 2^62); SLIC_ESTORE or SLIC_EINCONSISTENT (a corrupt record, named); SLIC_EOVERFLOW;
 * SLIC_ENOMEM. out (n entries) is written only on success. */
int agg_store_query_slices(agg_store *st, const struct agg_query *q, double le, int64_t slice_s,
                           size_t n, struct agg_slice_counts *out, struct slic_errmsg *err);

/* An SLI stream present at a site. */
struct agg_series_info {
    char sli[SLIC_NAME_MAX + 1];
    char site[SLIC_NAME_MAX + 1];
    /* End of the newest stored window, Unix seconds, at the finest resolution holding it. */
    int64_t last_data;
};

/* Every (SLI, site) with stored data, sorted by SLI then site, in a slic_malloc'd array the
 * caller frees with slic_free (NULL when *n is 0). Returns 0, SLIC_ESTORE or SLIC_ENOMEM. */
int agg_store_list_series(agg_store *st, struct agg_series_info **out, size_t *n,
                          struct slic_errmsg *err);

struct agg_agent_info {
    char agent_id[SLIC_NAME_MAX + 1];
    char site[SLIC_NAME_MAX + 1];
    char node[SLIC_NAME_MAX + 1];
    uint64_t epoch;
    uint64_t last_seq;   /* every seq up to it is committed */
    uint64_t seqs_ahead; /* seqs above last_seq committed out of order */
    int64_t last_seen;   /* Unix seconds of its last committed batch */
};

/* Every agent ever heard from, sorted by agent_id; array and return codes as above. */
int agg_store_list_agents(agg_store *st, struct agg_agent_info **out, size_t *n,
                          struct slic_errmsg *err);

/* Counters for /metrics; a consistent snapshot. */
struct agg_store_stats {
    uint64_t map_size; /* bytes mapped now */
    uint64_t map_size_max;
    uint64_t used_bytes; /* pages in use (high-water mark of the data file) x page size */
    uint64_t map_growths;
    uint64_t commits;
    uint64_t last_commit_ns; /* latency of the last commit (the fsync when durable) */
    uint64_t batches[AGG_INGEST_RETRY + 1]; /* by enum agg_ingest_result */
    uint64_t series_merged;                 /* series stored in at least one resolution */
    uint64_t records_written;
    uint64_t series_too_old; /* series older than every retention: stored nowhere */
    uint64_t records_expired;
    uint64_t stale_readers_cleared;
};

void agg_store_stats_get(agg_store *st, struct agg_store_stats *out);

/* ---- the forward queue (store_forward.c): what a regional aggregator owes its upstream ----
 * Once forwarding is enabled, every write transaction that accepts batches also appends, in
 * that same transaction, the merge of their series (one Batch per site, agent_id and node =
 * the upstream id, this store's forward epoch, the next forward seq) to the database
 * "fwd_queue" (key: seq, 8 bytes big-endian). So a crash can neither lose what was accepted
 * from agents nor forward it twice: the upstream dedupes by (id, epoch, seq) as this store
 * does for agents. Epoch, next seq and id live in "meta". Values carry a small header before
 * the Batch (see store_forward.c). Batches the upstream refuses for good are moved to
 * "fwd_aside" with the reason. The forwarder thread reads and deletes with the functions
 * below; each takes its own short transaction, which LMDB serialises with the writer's. */

/* Default bound of the queue, in bytes of queued Batches (upstream.max_queue). */
#define AGG_STORE_FORWARD_DEFAULT_MAX_QUEUE ((uint64_t)1 << 30) /* 1 GiB */

/* Turns forwarding on under `id` (a valid name), bounding the queue to max_queue_bytes (0:
 * the default). Creates the forward epoch on first use (the wall clock in ms, so a store made
 * afresh always starts a newer epoch); a changed id starts a new epoch at seq 1. Call once,
 * after open and before the first agg_store_write_batches. 0, SLIC_EINVAL, SLIC_ESTORE,
 * SLIC_ENOMEM. */
int agg_store_forward_enable(agg_store *st, const char *id, uint64_t max_queue_bytes,
                             struct slic_errmsg *err);

/* The oldest queued Batch: its seq, serialized bytes (slic_malloc'd, the caller frees with
 * slic_free) and when it was queued (Unix ms). 0, SLIC_ENOTFOUND (queue empty), SLIC_ESTORE
 * (a damaged entry: the message names it; agg_store_forward_remove can set it aside),
 * SLIC_ENOMEM. Any thread. */
struct agg_forward_item {
    uint64_t seq;
    uint8_t *batch;
    size_t len;
    int64_t queued_ms;
};
int agg_store_forward_peek(agg_store *st, struct agg_forward_item *out, struct slic_errmsg *err);

/* Deletes queued seq (delivered: accepted or duplicate upstream), or with aside_reason
 * non-NULL moves it to "fwd_aside" with that reason (refused for good). A seq no longer queued
 * is not an error. 0, SLIC_ESTORE, SLIC_ENOMEM. Forwarder thread. */
int agg_store_forward_remove(agg_store *st, uint64_t seq, const char *aside_reason,
                             struct slic_errmsg *err);

struct agg_store_forward_stats {
    bool enabled;
    uint64_t epoch;
    uint64_t next_seq;
    uint64_t queued;          /* entries in fwd_queue */
    uint64_t queued_bytes;    /* their size */
    int64_t oldest_queued_ms; /* 0 when empty */
    uint64_t dropped;         /* batches emptied to keep the queue under its bound (since open) */
    uint64_t merged;          /* batches merged into others to that end, first (since open) */
    uint64_t set_aside;       /* entries in fwd_aside */
};

/* A snapshot (one read transaction). 0, SLIC_ESTORE. */
int agg_store_forward_stats_get(agg_store *st, struct agg_store_forward_stats *out,
                                struct slic_errmsg *err);

#endif
