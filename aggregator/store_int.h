/* Internals shared by the store's files: store.c (lifecycle, transactions, map growth, stats,
 * retention), store_write.c (ingest) and store_query.c (queries). Not for use outside them. */
#ifndef SLIC_AGG_STORE_INT_H
#define SLIC_AGG_STORE_INT_H

#include "keys.h"
#include "record.h"
#include "store.h"

#include <lmdb.h>
#include <pthread.h>

struct agg_store {
    char *path;
    MDB_env *env;
    MDB_dbi dbi_meta;
    MDB_dbi dbi_data;   /* data keys (keys.h) -> records (record.h) */
    MDB_dbi dbi_labels; /* labelset id (8 bytes, big-endian) -> canonical labels */
    MDB_dbi dbi_agents; /* agent_id -> agent state (record.h) */
    MDB_dbi dbi_seqs;   /* sequence keys (keys.h) -> empty */
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

#endif
