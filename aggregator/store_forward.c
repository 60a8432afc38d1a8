/* The forward queue in the aggregator store (see store.h): appended by the writer inside the
 * transaction that commits a group, read and deleted by the forwarder thread in short
 * transactions of its own. Entries are laid out as store_int.h says (AGG__FWD_HEADER_LEN); the
 * bound on the queue's size is kept by store_forward_bound.c. */
#include "store_int.h"

#include "alloc.h"
#include "codec_batch.h"
#include "forward_merge.h"
#include "log.h"
#include "timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define COMPONENT "forward"
#define META_ID "fwd_id"
#define META_EPOCH "fwd_epoch"
#define META_NEXT_SEQ "fwd_next_seq"

static void header_put(uint8_t *h, int kind, int64_t queued_ms, uint64_t epoch)
{
    h[0] = (uint8_t)kind;
    agg__be64_put(h + 1, (uint64_t)queued_ms);
    agg__be64_put(h + 9, epoch);
}

static int meta_get_u64(agg_store *st, MDB_txn *txn, const char *key, uint64_t *out)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, st->dbi_meta, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        *out = agg__be64_get(v.mv_data);
    return rc;
}

static int meta_put_u64(agg_store *st, MDB_txn *txn, const char *key, uint64_t value)
{
    uint8_t b[8];
    agg__be64_put(b, value);
    MDB_val k = {strlen(key), (void *)key}, v = {8, b};
    return mdb_put(txn, st->dbi_meta, &k, &v, 0);
}

int agg__fwd_open(agg_store *st, MDB_txn *txn, struct slic_errmsg *err)
{
    int rc;
    if ((rc = mdb_dbi_open(txn, "fwd_queue", MDB_CREATE, &st->dbi_fwd)) ||
        (rc = mdb_dbi_open(txn, "fwd_aside", MDB_CREATE, &st->dbi_aside)))
        return agg__store_mdb_err(st, rc, "opening the forward queue", err);
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, st->dbi_fwd, &cur)))
        return agg__store_mdb_err(st, rc, "mdb_cursor_open", err);
    /* Summing sizes reads no Batch: at most the first page of a large one. */
    uint64_t n = 0, bytes = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (n++ == 0 && k.mv_size == 8)
            st->fwd.drop_from = agg__be64_get(k.mv_data);
        bytes += v.mv_size;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return agg__store_mdb_err(st, rc, "reading the forward queue", err);
    st->fwd.queued_bytes = bytes;
    if (n > 0)
        SLIC_INFO(COMPONENT,
                  "data dir %s: %" PRIu64 " batches (%" PRIu64 " bytes) wait to be forwarded "
                  "upstream (by the forwarder, when upstream: is configured)",
                  st->path, n, bytes);
    return 0;
}

/* Reads epoch and next seq, starting a new epoch when there is none or the id changed. */
static int enable_txn(agg_store *st, MDB_txn *txn, const char *id, struct slic_errmsg *err)
{
    uint64_t epoch = 0, next = 1;
    MDB_val k = {strlen(META_ID), META_ID}, v;
    int rc = mdb_get(txn, st->dbi_meta, &k, &v);
    bool same_id = rc == 0 && v.mv_size == strlen(id) && memcmp(v.mv_data, id, v.mv_size) == 0;
    if (rc && rc != MDB_NOTFOUND)
        return agg__store_mdb_err(st, rc, "reading the upstream id", err);
    if ((rc = meta_get_u64(st, txn, META_EPOCH, &epoch)) && rc != MDB_NOTFOUND)
        return agg__store_mdb_err(st, rc, "reading the forward epoch", err);
    if (same_id && epoch > 0) {
        if ((rc = meta_get_u64(st, txn, META_NEXT_SEQ, &next)) && rc != MDB_NOTFOUND)
            return agg__store_mdb_err(st, rc, "reading the forward seq", err);
    } else {
        /* A new epoch tells the upstream to forget what it knew of our seqs. */
        uint64_t now = (uint64_t)slic_now_unix_ms();
        epoch = now > epoch ? now : epoch + 1;
        next = 1;
        MDB_val idv = {strlen(id), (void *)id};
        if ((rc = mdb_put(txn, st->dbi_meta, &k, &idv, 0)) ||
            (rc = meta_put_u64(st, txn, META_EPOCH, epoch)) ||
            (rc = meta_put_u64(st, txn, META_NEXT_SEQ, next)))
            return agg__store_mdb_err(st, rc, "writing the forward epoch", err);
        SLIC_INFO(COMPONENT, "data dir %s: forwarding as %s, new epoch %" PRIu64, st->path, id,
                  epoch);
    }
    st->fwd.epoch = epoch;
    st->fwd.next_seq = next ? next : 1;
    return 0;
}

int agg_store_forward_enable(agg_store *st, const char *id, uint64_t max_queue_bytes,
                             struct slic_errmsg *err)
{
    if (!id || !slic_name_valid(id))
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "upstream id \"%s\" is not a valid name: 1..%d bytes of "
                               "[A-Za-z0-9_.:-]",
                               id ? id : "", SLIC_NAME_MAX);
    MDB_txn *txn;
    int rc = agg__store_txn_begin(st, false, &txn, err);
    if (rc)
        return rc;
    if ((rc = enable_txn(st, txn, id, err))) {
        agg__store_txn_abort(st, txn);
        return rc;
    }
    if ((rc = agg__store_txn_commit(st, txn, err)))
        return rc;
    snprintf(st->fwd.id, sizeof st->fwd.id, "%s", id);
    st->fwd.max_bytes = max_queue_bytes ? max_queue_bytes : AGG_STORE_FORWARD_DEFAULT_MAX_QUEUE;
    st->fwd.enabled = true;
    return 0;
}

int agg__fwd_put(struct agg__fwd_write *a, uint64_t seq, int kind, int64_t queued_ms,
                 uint64_t epoch, const uint8_t *batch, size_t len, unsigned flags)
{
    uint8_t kb[8];
    agg__be64_put(kb, seq);
    MDB_val k = {8, kb}, v = {AGG__FWD_HEADER_LEN + len, NULL};
    int rc = mdb_put(a->txn, a->st->dbi_fwd, &k, &v, flags | MDB_RESERVE);
    if (rc)
        return agg__store_mdb_err(a->st, rc, "appending to the forward queue", a->err);
    header_put(v.mv_data, kind, queued_ms, epoch);
    memcpy((uint8_t *)v.mv_data + AGG__FWD_HEADER_LEN, batch, len);
    *a->dirty_bytes += AGG__FWD_HEADER_LEN + len + 2 * a->st->page_size;
    a->ft->bytes += (int64_t)(AGG__FWD_HEADER_LEN + len);
    return 0;
}

static int emit_one(void *ctx, const struct slic_batch *b)
{
    struct agg__fwd_write *a = ctx;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = codec_batch_pack(b, &buf, &len);
    a->err_set = rc != 0;
    if (rc)
        return slic_errmsg_set(a->err, rc, "encoding forward batch seq %" PRIu64 ": %s", b->seq,
                               slic_strerror(rc));
    rc = agg__fwd_put(a, b->seq, AGG__FWD_BATCH, a->now_ms, b->epoch, buf, len, MDB_APPEND);
    slic_free(buf);
    a->err_set = rc != 0;
    if (rc == 0)
        a->ft->next_seq = b->seq + 1;
    return rc;
}

int agg__fwd_append(agg_store *st, MDB_txn *txn, const struct slic_batch *const *batches,
                    const enum agg_ingest_result *results, size_t n, size_t *dirty_bytes,
                    struct agg__fwd_txn *ft, struct slic_errmsg *err)
{
    *ft = (struct agg__fwd_txn){.next_seq = st->fwd.next_seq, .drop_from = st->fwd.drop_from};
    struct agg__fwd_write a = {st, txn, ft, dirty_bytes, slic_now_unix_ms(), err, false, 0, 0};
    /* The forwarder's deletes change it under the lock. */
    pthread_mutex_lock(&st->stats_lock);
    a.base_bytes = st->fwd.queued_bytes;
    pthread_mutex_unlock(&st->stats_lock);
    struct agg_forward_origin o = {st->fwd.id, st->fwd.epoch, st->fwd.next_seq, a.now_ms};
    uint64_t emitted = 0;
    int rc = agg_forward_merge(batches, results, n, &o, emit_one, &a, &emitted);
    if (rc)
        return a.err_set
                   ? rc
                   : slic_errmsg_set(err, rc, "merging batches to forward: %s", slic_strerror(rc));
    if (emitted == 0)
        return 0;
    if ((rc = agg__fwd_bound(&a)))
        return rc;
    if ((rc = meta_put_u64(st, txn, META_NEXT_SEQ, ft->next_seq)))
        return agg__store_mdb_err(st, rc, "writing the forward seq", err);
    return 0;
}

void agg__fwd_committed(agg_store *st, const struct agg__fwd_txn *ft)
{
    pthread_mutex_lock(&st->stats_lock);
    st->fwd.next_seq = ft->next_seq;
    st->fwd.drop_from = ft->drop_from;
    st->fwd.queued_bytes = (uint64_t)((int64_t)st->fwd.queued_bytes + ft->bytes);
    st->fwd.dropped += ft->dropped;
    st->fwd.merged += ft->merged;
    pthread_mutex_unlock(&st->stats_lock);
}

/* ---- the forwarder's side ---- */

/* One short write transaction, redone once in a grown map if even a delete finds it full. */
static int write_txn(agg_store *st, int (*fn)(agg_store *, MDB_txn *, void *, int64_t *), void *arg,
                     struct slic_errmsg *err)
{
    for (int attempt = 0;; attempt++) {
        MDB_txn *txn;
        int64_t freed = 0;
        int rc = agg__store_txn_begin(st, false, &txn, err);
        if (rc)
            return rc;
        if ((rc = fn(st, txn, arg, &freed))) {
            agg__store_txn_abort(st, txn);
            rc = agg__store_mdb_err(st, rc, "removing from the forward queue", err);
        } else if ((rc = agg__store_txn_commit(st, txn, err)) == 0 && freed) {
            pthread_mutex_lock(&st->stats_lock);
            st->fwd.queued_bytes -= (uint64_t)freed;
            pthread_mutex_unlock(&st->stats_lock);
        }
        if (rc != SLIC_ERETRY || attempt > 0)
            return rc;
        if ((rc = agg__store_grow(st, err)))
            return rc;
    }
}

struct remove_arg {
    uint64_t seq;
    const char *reason;
};

static int remove_fn(agg_store *st, MDB_txn *txn, void *arg, int64_t *freed)
{
    struct remove_arg *r = arg;
    uint8_t kb[8];
    agg__be64_put(kb, r->seq);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(txn, st->dbi_fwd, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    if (r->reason) {
        size_t rl = strlen(r->reason) + 1;
        MDB_val a = {rl + v.mv_size, NULL};
        if ((rc = mdb_put(txn, st->dbi_aside, &k, &a, MDB_RESERVE)))
            return rc;
        memcpy(a.mv_data, r->reason, rl);
        memcpy((uint8_t *)a.mv_data + rl, v.mv_data, v.mv_size);
    }
    *freed = (int64_t)v.mv_size;
    return mdb_del(txn, st->dbi_fwd, &k, NULL);
}

int agg_store_forward_remove(agg_store *st, uint64_t seq, const char *aside_reason,
                             struct slic_errmsg *err)
{
    struct remove_arg r = {seq, aside_reason};
    return write_txn(st, remove_fn, &r, err);
}

int agg_store_forward_peek(agg_store *st, struct agg_forward_item *out, struct slic_errmsg *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = agg__store_txn_begin(st, true, &txn, err);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(txn, st->dbi_fwd, &cur))) {
        agg__store_txn_abort(st, txn);
        return agg__store_mdb_err(st, rc, "mdb_cursor_open", err);
    }
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == MDB_NOTFOUND) {
        rc = SLIC_ENOTFOUND;
    } else if (rc) {
        rc = agg__store_mdb_err(st, rc, "reading the forward queue", err);
    } else if (k.mv_size != 8 || v.mv_size <= AGG__FWD_HEADER_LEN) {
        /* Its seq (when readable) lets the forwarder set it aside and move on. */
        out->seq = k.mv_size == 8 ? agg__be64_get(k.mv_data) : 0;
        rc = slic_errmsg_set(err, SLIC_ESTORE,
                             "data dir %s: forward queue entry of %zu bytes "
                             "under a key of %zu bytes is damaged",
                             st->path, v.mv_size, k.mv_size);
    } else {
        const uint8_t *h = v.mv_data;
        size_t len = v.mv_size - AGG__FWD_HEADER_LEN;
        uint8_t *copy = slic_malloc(len);
        if (!copy) {
            rc = slic_errmsg_set(err, SLIC_ENOMEM, "out of memory reading a forward batch");
        } else {
            memcpy(copy, h + AGG__FWD_HEADER_LEN, len);
            *out = (struct agg_forward_item){agg__be64_get(k.mv_data), copy, len,
                                             (int64_t)agg__be64_get(h + 1)};
        }
    }
    mdb_cursor_close(cur);
    agg__store_txn_abort(st, txn);
    return rc;
}

int agg_store_forward_stats_get(agg_store *st, struct agg_store_forward_stats *out,
                                struct slic_errmsg *err)
{
    MDB_txn *txn;
    int rc = agg__store_txn_begin(st, true, &txn, err);
    if (rc)
        return rc;
    MDB_stat q, a;
    MDB_val k, v;
    MDB_cursor *cur = NULL;
    struct agg_store_forward_stats s = {0};
    if ((rc = mdb_stat(txn, st->dbi_fwd, &q)) || (rc = mdb_stat(txn, st->dbi_aside, &a)) ||
        (rc = mdb_cursor_open(txn, st->dbi_fwd, &cur)))
        goto done;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == 0 && v.mv_size >= AGG__FWD_HEADER_LEN)
        s.oldest_queued_ms = (int64_t)agg__be64_get((const uint8_t *)v.mv_data + 1);
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    s.queued = q.ms_entries;
    s.set_aside = a.ms_entries;
done:
    if (cur)
        mdb_cursor_close(cur);
    agg__store_txn_abort(st, txn);
    if (rc)
        return agg__store_mdb_err(st, rc, "reading the forward queue", err);
    pthread_mutex_lock(&st->stats_lock);
    s.enabled = st->fwd.enabled;
    s.epoch = st->fwd.epoch;
    s.next_seq = st->fwd.next_seq;
    s.queued_bytes = st->fwd.queued_bytes;
    s.dropped = st->fwd.dropped;
    s.merged = st->fwd.merged;
    pthread_mutex_unlock(&st->stats_lock);
    *out = s;
    return 0;
}
