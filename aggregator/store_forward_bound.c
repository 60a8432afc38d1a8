/* Keeping the forward queue under upstream.max_queue (see store_forward.c for the queue). Past
 * its bound the oldest queued Batches are first merged into fewer - exactly: counts add and
 * sketches merge, as a group is merged, and consecutive groups often carry the same windows
 * from different agents - and only if that is not enough are the oldest entries emptied: their
 * Batch replaced by one with the same (agent_id, epoch, seq) and no series, so the upstream
 * still sees every seq in order and its exactly-once record never waits on a gap. The queue's
 * first entry may be in flight to the upstream, so it is never merged. Writer thread, inside
 * the transaction that appends; a store file (it uses store_int.h) named for the forwarder. */
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
/* Most Batches (and bytes of them) merged in one step, and steps per transaction, when the
 * queue is over its bound: bounds the memory and time one commit spends on it. */
#define COMPACT_RUN_MAX 64
#define COMPACT_BYTES_MAX ((size_t)16 << 20)
#define COMPACT_PASSES_MAX 4
/* A queue over its bound is reported at most this often (every group may empty more). */
#define DROP_LOG_INTERVAL_MS 10000

/* Replaces entry seq, of Batch (agent, epoch), by one of no series. */
static int put_empty(struct agg__fwd_write *a, uint64_t seq, const char *agent, uint64_t epoch,
                     int64_t queued_ms)
{
    struct slic_batch b = {.agent_id = (char *)agent,
                           .site = (char *)agent,
                           .node = (char *)agent,
                           .epoch = epoch,
                           .seq = seq,
                           .created_unix_ms = a->now_ms};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = codec_batch_pack(&b, &buf, &len);
    if (rc == 0)
        rc = agg__fwd_put(a, seq, AGG__FWD_EMPTIED, queued_ms, epoch, buf, len, 0);
    else
        rc = slic_errmsg_set(a->err, rc, "encoding an emptied forward batch");
    slic_free(buf);
    return rc;
}

/* Empties entry seq (value v): its data is dropped, its seq kept. */
static int empty_entry(struct agg__fwd_write *a, uint64_t seq, const MDB_val *v)
{
    const uint8_t *h = v->mv_data;
    char agent[SLIC_NAME_MAX + 1];
    struct codec_error ce;
    if (codec_batch_agent_id(h + AGG__FWD_HEADER_LEN, v->mv_size - AGG__FWD_HEADER_LEN, agent, &ce))
        snprintf(agent, sizeof agent, "%s", a->st->fwd.id); /* damaged: keep the seq moving */
    size_t old = v->mv_size; /* v points into pages the put may move */
    int rc = put_empty(a, seq, agent, agg__be64_get(h + 9), (int64_t)agg__be64_get(h + 1));
    if (rc == 0) {
        a->ft->bytes -= (int64_t)old;
        a->ft->dropped++;
    }
    return rc;
}

static bool over_bound(const struct agg__fwd_write *a)
{
    int64_t bytes = (int64_t)a->base_bytes + a->ft->bytes;
    return bytes > 0 && (uint64_t)bytes > a->st->fwd.max_bytes;
}

/* Empties the oldest entries until the queue fits its bound (or only emptied ones are left).
 * Each step looks the next entry up afresh: a put may move the pages a cursor points into. */
static int enforce_bound(struct agg__fwd_write *a)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(a->txn, a->st->dbi_fwd, &cur);
    if (rc)
        return agg__store_mdb_err(a->st, rc, "mdb_cursor_open", a->err);
    int failed = 0;
    while (over_bound(a)) {
        uint8_t kb[8];
        agg__be64_put(kb, a->ft->drop_from);
        MDB_val k = {8, kb}, v;
        if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)))
            break;
        uint64_t seq = k.mv_size == 8 ? agg__be64_get(k.mv_data) : UINT64_MAX - 1;
        const uint8_t *h = v.mv_data;
        if (v.mv_size > AGG__FWD_HEADER_LEN && h[0] == AGG__FWD_BATCH &&
            (failed = empty_entry(a, seq, &v)))
            break;
        a->ft->drop_from = seq + 1;
    }
    mdb_cursor_close(cur);
    if (failed || rc == 0 || rc == MDB_NOTFOUND)
        return failed;
    return agg__store_mdb_err(a->st, rc, "reading the forward queue", a->err);
}

/* ---- merging the oldest queued Batches, before anything is dropped ---- */

/* A run of queued entries to merge: their seqs (contiguous), and the Batches decoded. */
struct run {
    uint64_t first_seq;
    size_t n_entries; /* entries in the run, emptied ones included */
    size_t n_batches;
    struct slic_batch batches[COMPACT_RUN_MAX];
    int64_t oldest_ms;
    uint64_t old_bytes;
};

static void run_fini(struct run *r)
{
    for (size_t i = 0; i < r->n_batches; i++)
        slic_batch_fini(&r->batches[i]);
}

/* Collects the run that follows the queue's first entry (which the forwarder may be sending,
 * so it is never rewritten): entries of the current epoch with contiguous seqs. */
static int run_collect(struct agg__fwd_write *a, MDB_cursor *cur, struct run *r)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    /* Only the oldest part of the queue: a merged entry that held new data too would take it
     * along if it is emptied later. */
    uint64_t budget = a->st->fwd.max_bytes / 4;
    budget = budget < COMPACT_BYTES_MAX ? budget : COMPACT_BYTES_MAX;
    uint64_t bytes = 0;
    for (; rc == 0 && r->n_batches < COMPACT_RUN_MAX && bytes < budget;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *h = v.mv_data;
        uint64_t seq = k.mv_size == 8 ? agg__be64_get(k.mv_data) : 0;
        if (seq == 0 || v.mv_size <= AGG__FWD_HEADER_LEN ||
            agg__be64_get(h + 9) != a->st->fwd.epoch ||
            (r->n_entries && seq != r->first_seq + r->n_entries))
            break;
        /* Entries emptied already lie below ft->drop_from; data put back there would be
         * passed over by the next emptying, so the run starts at the first Batch. */
        if (r->n_entries == 0 && h[0] != AGG__FWD_BATCH)
            continue;
        if (r->n_entries == 0)
            r->first_seq = seq;
        if (h[0] == AGG__FWD_BATCH) {
            struct codec_error ce;
            if (codec_batch_unpack(h + AGG__FWD_HEADER_LEN, v.mv_size - AGG__FWD_HEADER_LEN,
                                   &r->batches[r->n_batches], &ce))
                break; /* damaged: left for the forwarder to set aside */
            r->n_batches++;
            bytes += v.mv_size;
        }
        int64_t queued = (int64_t)agg__be64_get(h + 1);
        r->oldest_ms = r->n_entries == 0 || queued < r->oldest_ms ? queued : r->oldest_ms;
        r->old_bytes += v.mv_size;
        r->n_entries++;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

/* The merge's output goes over the run's first seqs (an emptied entry takes data again). */
static int emit_over(void *ctx, const struct slic_batch *b)
{
    struct agg__fwd_write *a = ctx;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = codec_batch_pack(b, &buf, &len);
    if (rc == 0)
        rc = agg__fwd_put(a, b->seq, AGG__FWD_BATCH, a->run_oldest_ms, b->epoch, buf, len, 0);
    else
        rc = slic_errmsg_set(a->err, rc, "encoding a merged forward batch");
    slic_free(buf);
    return rc;
}

static int emit_nothing(void *ctx, const struct slic_batch *b)
{
    (void)ctx;
    (void)b;
    return 0;
}

/* Merges the oldest queued Batches (per site and series key, exactly, as a group is merged)
 * into as few as their series need: many groups carry the same windows from different agents,
 * so this often frees most of their space without losing an event. *merged counts the
 * Batches that went into it; 0 when there was nothing worth merging. */
static int compact(struct agg__fwd_write *a, struct run *r, uint64_t *merged)
{
    *merged = 0;
    if (r->n_batches < 2)
        return 0;
    const struct slic_batch *in[COMPACT_RUN_MAX];
    enum agg_ingest_result res[COMPACT_RUN_MAX];
    for (size_t i = 0; i < r->n_batches; i++) {
        in[i] = &r->batches[i];
        res[i] = AGG_INGEST_ACCEPTED;
    }
    struct agg_forward_origin o = {a->st->fwd.id, a->st->fwd.epoch, r->first_seq, a->now_ms};
    /* A dry run first: the merge must fit in the run's seqs and should save entries. If it
     * cannot be done, emptying takes over: ingest must not fail for want of a merge. */
    uint64_t emitted = 0;
    int rc = agg_forward_merge(in, res, r->n_batches, &o, emit_nothing, NULL, &emitted);
    if (rc || emitted >= r->n_batches)
        return 0;
    a->run_oldest_ms = r->oldest_ms;
    int64_t before = a->ft->bytes;
    a->ft->bytes -= (int64_t)r->old_bytes;
    rc = agg_forward_merge(in, res, r->n_batches, &o, emit_over, a, &emitted);
    for (uint64_t i = emitted; rc == 0 && i < r->n_entries; i++)
        rc = put_empty(a, r->first_seq + i, a->st->fwd.id, a->st->fwd.epoch, r->oldest_ms);
    if (rc == 0)
        *merged = r->n_batches;
    else
        a->ft->bytes = before; /* the transaction is aborted anyway */
    return rc;
}

/* Merges runs of the oldest Batches while that frees space and the queue is over its bound. */
static int compact_while_over(struct agg__fwd_write *a)
{
    int rc = 0;
    for (int pass = 0; pass < COMPACT_PASSES_MAX && rc == 0 && over_bound(a); pass++) {
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(a->txn, a->st->dbi_fwd, &cur)))
            return agg__store_mdb_err(a->st, rc, "mdb_cursor_open", a->err);
        struct run *r = slic_calloc(1, sizeof *r);
        if (!r) {
            mdb_cursor_close(cur);
            return slic_errmsg_set(a->err, SLIC_ENOMEM, "out of memory merging forward batches");
        }
        rc = run_collect(a, cur, r);
        mdb_cursor_close(cur); /* puts follow: the cursor's pages may move */
        int64_t before = a->ft->bytes;
        uint64_t merged = 0;
        if (rc)
            rc = agg__store_mdb_err(a->st, rc, "reading the forward queue", a->err);
        else
            rc = compact(a, r, &merged);
        run_fini(r);
        slic_free(r);
        a->ft->merged += merged;
        if (rc || merged == 0 || a->ft->bytes >= before)
            break; /* nothing (more) to gain: emptying takes over */
    }
    return rc;
}

static void drop_log(agg_store *st, const struct agg__fwd_txn *ft)
{
    int64_t now = slic_now_unix_ms();
    if (ft->dropped == 0 || now - st->fwd.drop_logged_ms < DROP_LOG_INTERVAL_MS)
        return;
    st->fwd.drop_logged_ms = now;
    SLIC_ERROR(COMPONENT,
               "forward queue over upstream.max_queue (%" PRIu64 " bytes): the oldest queued "
               "batches are being emptied and their data will never reach upstream %s (%" PRIu64
               " so far); raise upstream.max_queue or bring the upstream back",
               st->fwd.max_bytes, st->fwd.id, st->fwd.dropped + ft->dropped);
}

int agg__fwd_bound(struct agg__fwd_write *a)
{
    if (!over_bound(a))
        return 0;
    int rc = compact_while_over(a);
    if (rc == 0 && (rc = enforce_bound(a)) == 0)
        drop_log(a->st, a->ft);
    return rc;
}
