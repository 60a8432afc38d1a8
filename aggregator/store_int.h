/* Internals shared by the store's files: store.c (lifecycle, transactions, map growth, stats,
 * retention), store_write.c (ingest) and store_query.c (queries). Not for use outside them. */
#ifndef SLIC_AGG_STORE_INT_H
#define SLIC_AGG_STORE_INT_H

#include "keys.h"
#include "record.h"
#include "store.h"

#include <lmdb.h>
#include <pthread.h>

/* Forwarding state (store_forward.c). Written by agg_store_forward_enable before any write;
 * then the writer thread alone writes next_seq, drop_from and the counters, under stats_lock,
 * as the forwarder's deletes change queued_bytes too and the stats are read by any thread. */
struct agg__fwd {
    bool enabled;
    char id[SLIC_NAME_MAX + 1];
    uint64_t epoch;
    uint64_t next_seq; /* the seq the next forward Batch takes (as committed) */
    uint64_t max_bytes;
    uint64_t drop_from;     /* every seq below it is already emptied (writer thread) */
    int64_t drop_logged_ms; /* the last "queue over its bound" line (writer thread) */
    uint64_t queued_bytes;
    uint64_t dropped;
    uint64_t merged;
};

/* What one write transaction did to the forward queue, applied once it commits. */
struct agg__fwd_txn {
    uint64_t next_seq;
    uint64_t drop_from;
    int64_t bytes;
    uint64_t dropped;
    uint64_t merged;
};

struct agg_store {
    char *path;
    MDB_env *env;
    MDB_dbi dbi_meta;
    MDB_dbi dbi_data;   /* data keys (keys.h) -> records (record.h) */
    MDB_dbi dbi_labels; /* labelset id (8 bytes, big-endian) -> canonical labels */
    MDB_dbi dbi_agents; /* agent_id -> agent state (record.h) */
    MDB_dbi dbi_seqs;   /* sequence keys (keys.h) -> empty */
    MDB_dbi dbi_fwd;    /* forward seq (8 bytes, big-endian) -> queued Batch (store_forward.c) */
    MDB_dbi dbi_aside;  /* forward seq -> reason, NUL, the entry upstream refused */
    unsigned page_size;
    struct agg__sketch_params sketch;
    int64_t retention[AGG__RES_COUNT];
    uint32_t txn_pages;
    int64_t (*clock)(void *ctx);
    void *clock_ctx;

    /* Shared by every transaction, exclusive to resize the map (see store.h). */
    pthread_rwlock_t map_lock;
    /* Written only under map_lock held exclusively. */
    size_t map_size;
    size_t map_size_max;

    pthread_mutex_t stats_lock;
    struct agg_store_stats stats;
    struct agg__fwd fwd; /* counters under stats_lock; see struct agg__fwd */

    /* Writer thread only. */
    struct agg__buf value;   /* the record being written */
    struct agg__buf scratch; /* counts of a stored record that could not be read in place */
    uint8_t labels[AGG__LABELS_MAX];
    struct agg__key expire_from; /* where the retention pass resumes; len 0 = start */
};

/* Begins a transaction, holding map_lock shared until it ends. Adopts a map grown by another
 * process (MDB_MAP_RESIZED). 0 or an error from agg__store_mdb_err. */
int agg__store_txn_begin(agg_store *st, bool read_only, MDB_txn **txn, struct slic_errmsg *err);
/* Aborts and releases map_lock. */
void agg__store_txn_abort(agg_store *st, MDB_txn *txn);
/* Commits (timing it for the stats) and releases map_lock, whatever the outcome. */
int agg__store_txn_commit(agg_store *st, MDB_txn *txn, struct slic_errmsg *err);

/* Doubles the map, up to map_size_max. Call with no transaction open in this thread. Returns 0,
 * or SLIC_ERETRY at the maximum (after logging a warning naming the data dir and size). */
int agg__store_grow(agg_store *st, struct slic_errmsg *err);

/* Converts an LMDB result (MDB_* code or errno) from operation `what`: MDB_MAP_FULL becomes
 * SLIC_ERETRY (callers grow the map and redo), ENOMEM SLIC_ENOMEM, anything else SLIC_ESTORE
 * with a message naming the data dir. 0 stays 0. */
int agg__store_mdb_err(const agg_store *st, int rc, const char *what, struct slic_errmsg *err);

int64_t agg__store_now(const agg_store *st);

/* Moves a data cursor to the first key after every window of the series whose first len bytes
 * are in `series` (which this overwrites from len on). Returns an LMDB code (MDB_NOTFOUND at
 * the end); *k and *v hold the key found. */
int agg__store_seek_past(MDB_cursor *cur, struct agg__key *series, size_t len, MDB_val *k,
                         MDB_val *v);

/* Adds to the stats under their lock. */
void agg__store_stats_commit(agg_store *st, const struct agg_store_stats *delta);

/* The record at a data cursor's position, decoded; a corrupt one is SLIC_ESTORE naming the key
 * and the data dir. scratch holds counts that could not be read in place. */
int agg__store_record_get(const agg_store *st, const MDB_val *key, const MDB_val *val,
                          struct agg__record *out, struct agg__buf *scratch,
                          struct slic_errmsg *err);

/* Opens fwd_queue and fwd_aside in the open transaction and sums the queue's size (logging
 * what waits from an earlier run). */
int agg__fwd_open(agg_store *st, MDB_txn *txn, struct slic_errmsg *err);

/* Appends to the forward queue, in txn, the merge of the ACCEPTED batches among batches[0..n)
 * (see store.h), keeps the queue under its bound (agg__fwd_bound) and records the next seq in
 * meta. *dirty_bytes grows by an estimate of what that dirtied; *ft
 * says what to apply once txn commits. A no-op when forwarding is off. 0, SLIC_ERETRY (map
 * full), SLIC_ESTORE, SLIC_ENOMEM. Writer thread. */
int agg__fwd_append(agg_store *st, MDB_txn *txn, const struct slic_batch *const *batches,
                    const enum agg_ingest_result *results, size_t n, size_t *dirty_bytes,
                    struct agg__fwd_txn *ft, struct slic_errmsg *err);

/* A forward queue entry: a header - kind (1 byte), the Unix ms it was queued (8), the epoch of
 * its Batch (8), integers big-endian - then the serialized Batch. */
#define AGG__FWD_HEADER_LEN 17
#define AGG__FWD_BATCH 1   /* a Batch to forward */
#define AGG__FWD_EMPTIED 2 /* a Batch of no series: its data dropped to bound the queue */

/* One writer transaction's changes to the forward queue (store_forward.c, store_forward_bound.c).
 */
struct agg__fwd_write {
    agg_store *st;
    MDB_txn *txn;
    struct agg__fwd_txn *ft;
    size_t *dirty_bytes;
    int64_t now_ms;
    struct slic_errmsg *err;
    bool err_set;          /* err says why emitting failed */
    uint64_t base_bytes;   /* the queue's size before this transaction */
    int64_t run_oldest_ms; /* queued time of the run being merged */
};

/* Writes header + batch as the value of seq (in place, MDB_RESERVE; flags may add
 * MDB_APPEND), counting its bytes into the transaction's. 0 or an error set in a->err. */
int agg__fwd_put(struct agg__fwd_write *a, uint64_t seq, int kind, int64_t queued_ms,
                 uint64_t epoch, const uint8_t *batch, size_t len, unsigned flags);

/* While the queue is over its bound: merges, then empties, the oldest entries
 * (store_forward_bound.c). 0 or an error set in a->err. */
int agg__fwd_bound(struct agg__fwd_write *a);

/* Makes a committed transaction's forward changes visible. */
void agg__fwd_committed(agg_store *st, const struct agg__fwd_txn *ft);

#endif
