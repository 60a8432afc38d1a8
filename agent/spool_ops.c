/* Operations on an open spool other than appending: handing batches to the sender and marking
 * them sent, acks, rejects (kept aside, bounded), and the reads --status makes from another
 * process: state records, rejected batches and stats. Each write is one durable transaction. */
#include "spool_int.h"

#include "alloc.h"
#include "log.h"

#include <string.h>

#define COMPONENT "spool"
/* Rejected value: rejected at (8, Unix ms), reason length (2), reason, the pending value. */
#define REJ_FIXED_LEN 10u

void agent_spool_item_fini(struct agent_spool_item *it)
{
    if (!it)
        return;
    slic_free(it->bytes);
    memset(it, 0, sizeof *it);
}

/* Copies the pending batch at the cursor into *it, marking it sent when asked. */
static int item_fill(agent_spool *sp, MDB_txn *txn, const MDB_val *k, const MDB_val *v,
                     uint64_t epoch, bool mark, struct agent_spool_item *it,
                     struct slic_errmsg *err)
{
    uint64_t seq = k->mv_size == 8 ? agent__be64_get(k->mv_data) : 0;
    struct agent__spool_hdr h;
    int rc = agent__spool_hdr_decode(sp, seq, v, &h, err);
    if (rc)
        return rc;
    bool sent;
    if ((rc = agent__spool_is_sent(sp, txn, seq, &sent, err)))
        return rc;
    size_t len = v->mv_size - AGENT__SPOOL_HDR_LEN;
    uint8_t *bytes = slic_malloc(len + 1);
    if (!bytes)
        return slic_errmsg_set(err, SLIC_ENOMEM, "spool %s: out of memory copying batch %llu",
                               sp->dir, (unsigned long long)seq);
    memcpy(bytes, (const uint8_t *)v->mv_data + AGENT__SPOOL_HDR_LEN, len);
    if (mark && !sent) {
        MDB_val sk = {8, k->mv_data}, sv = {0, ""};
        if ((rc = mdb_put(txn, sp->dbi_sent, &sk, &sv, 0))) {
            slic_free(bytes);
            return agent__spool_mdb_err(sp, rc, "marking a batch sent", err);
        }
    }
    *it = (struct agent_spool_item){
        epoch, seq, sent || mark, h.n_series, h.window_start, h.window_end, h.events, bytes, len};
    return 0;
}

static int fetch(agent_spool *sp, uint64_t after_seq, size_t max, struct agent_spool_item *items,
                 size_t *n, bool mark, struct slic_errmsg *err)
{
    *n = 0;
    if (max == 0 || after_seq == UINT64_MAX)
        return 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    struct agent__spool_meta m;
    bool found;
    size_t got = 0;
    int rc = agent__spool_txn_begin(sp, !mark, &txn, err);
    if (rc)
        return rc;
    if ((rc = agent__spool_meta_get(sp, txn, &m, &found, err)) ||
        (rc = agent__spool_mdb_err(sp, mdb_cursor_open(txn, sp->dbi_pending, &cur), "cursor",
                                   err))) {
        mdb_txn_abort(txn);
        return rc;
    }
    uint8_t kb[8];
    agent__be64_put(kb, after_seq + 1);
    MDB_val k = {8, kb}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; mrc == 0 && got < max; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if ((rc = item_fill(sp, txn, &k, &v, m.epoch, mark, &items[got], err)))
            break;
        got++;
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = agent__spool_mdb_err(sp, mrc, "reading pending batches", err);
    if (rc == 0 && mark)
        rc = agent__spool_mdb_err(sp, mdb_txn_commit(txn), "committing sent marks", err);
    else
        mdb_txn_abort(txn);
    if (rc) {
        for (size_t i = 0; i < got; i++)
            agent_spool_item_fini(&items[i]);
        return rc;
    }
    *n = got;
    return 0;
}

int agent_spool_take(agent_spool *sp, uint64_t after_seq, size_t max,
                     struct agent_spool_item *items, size_t *n, struct slic_errmsg *err)
{
    *n = 0;
    int rc = agent__spool_writer_only(sp, "hand out batches", err);
    return rc ? rc : fetch(sp, after_seq, max, items, n, true, err);
}

int agent_spool_peek(agent_spool *sp, uint64_t after_seq, size_t max,
                     struct agent_spool_item *items, size_t *n, struct slic_errmsg *err)
{
    return fetch(sp, after_seq, max, items, n, false, err);
}

/* ---- acks and rejects ---- */

/* Looks up pending seq of this epoch: SLIC_ENOTFOUND (with a message) when it is not there. */
static int pending_get(agent_spool *sp, MDB_txn *txn, uint64_t epoch, uint64_t seq, MDB_val *v,
                       struct slic_errmsg *err)
{
    if (epoch != sp->meta.epoch)
        return slic_errmsg_set(err, SLIC_ENOTFOUND,
                               "spool %s: epoch %llu seq %llu is not of this epoch (%llu)", sp->dir,
                               (unsigned long long)epoch, (unsigned long long)seq,
                               (unsigned long long)sp->meta.epoch);
    uint8_t kb[8];
    agent__be64_put(kb, seq);
    MDB_val k = {8, kb};
    int rc = mdb_get(txn, sp->dbi_pending, &k, v);
    if (rc == MDB_NOTFOUND)
        return slic_errmsg_set(err, SLIC_ENOTFOUND, "spool %s: seq %llu is not pending", sp->dir,
                               (unsigned long long)seq);
    if (rc == 0 && v->mv_size < AGENT__SPOOL_HDR_LEN)
        return slic_errmsg_set(err, SLIC_ESTORE, "spool %s: batch seq %llu is corrupt", sp->dir,
                               (unsigned long long)seq);
    return agent__spool_mdb_err(sp, rc, "reading a batch", err);
}

/* Deletes pending seq and its sent mark, and takes its bytes off the meta's count. */
static int pending_del(agent_spool *sp, MDB_txn *txn, uint64_t seq, size_t value_len,
                       struct agent__spool_meta *m, struct slic_errmsg *err)
{
    uint8_t kb[8];
    agent__be64_put(kb, seq);
    MDB_val k = {8, kb};
    int rc = mdb_del(txn, sp->dbi_pending, &k, NULL);
    if (rc == 0 && (rc = mdb_del(txn, sp->dbi_sent, &k, NULL)) == MDB_NOTFOUND)
        rc = 0;
    if (rc)
        return agent__spool_mdb_err(sp, rc, "deleting a batch", err);
    size_t len = value_len - AGENT__SPOOL_HDR_LEN;
    m->pending_bytes -= len < m->pending_bytes ? len : m->pending_bytes;
    return 0;
}

static int commit_meta(agent_spool *sp, MDB_txn *txn, const struct agent__spool_meta *m,
                       struct slic_errmsg *err)
{
    int rc = agent__spool_meta_put(sp, txn, m, err);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)))
        return agent__spool_mdb_err(sp, rc, "committing", err);
    sp->meta = *m;
    return 0;
}

int agent_spool_ack(agent_spool *sp, uint64_t epoch, uint64_t seq, struct slic_errmsg *err)
{
    MDB_txn *txn;
    MDB_val v;
    int rc = agent__spool_writer_only(sp, "ack", err);
    if (rc || (rc = agent__spool_txn_begin(sp, false, &txn, err)))
        return rc;
    struct agent__spool_meta m = sp->meta;
    if ((rc = pending_get(sp, txn, epoch, seq, &v, err)) ||
        (rc = pending_del(sp, txn, seq, v.mv_size, &m, err))) {
        mdb_txn_abort(txn);
        return rc;
    }
    return commit_meta(sp, txn, &m, err);
}

/* Deletes the oldest rejected batches beyond the bounds (spool.h), keeping the newest. */
static int rejected_bound(agent_spool *sp, MDB_txn *txn, struct agent__spool_meta *m,
                          uint64_t *deleted, struct slic_errmsg *err)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, sp->dbi_rejected, &cur);
    if (rc)
        return agent__spool_mdb_err(sp, rc, "opening a cursor", err);
    for (;;) {
        MDB_stat st;
        MDB_val k, v;
        if ((rc = mdb_stat(txn, sp->dbi_rejected, &st)))
            break;
        uint64_t bytes =
            (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
        if (st.ms_entries <= 1 || (st.ms_entries <= sp->rejected_max && bytes <= sp->cap / 8))
            break;
        if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) || (rc = mdb_cursor_del(cur, 0)))
            break;
        m->rejected_deleted++;
        (*deleted)++;
    }
    mdb_cursor_close(cur);
    return agent__spool_mdb_err(sp, rc, "bounding the rejected batches", err);
}

/* Stores the pending value v under (epoch, seq) in the rejected database, with the reason. */
static int rejected_put(agent_spool *sp, MDB_txn *txn, uint64_t seq, const MDB_val *v,
                        const char *reason, struct slic_errmsg *err)
{
    size_t rlen = strnlen(reason, SLIC_ACK_REASON_MAX - 1);
    uint8_t kb[16];
    agent__be64_put(kb, sp->meta.epoch);
    agent__be64_put(kb + 8, seq);
    MDB_val k = {16, kb}, r = {REJ_FIXED_LEN + rlen + v->mv_size, NULL};
    /* The pending value lives in the map; MDB_RESERVE below may move pages, so copy it first. */
    uint8_t *copy = slic_malloc(v->mv_size + 1);
    if (!copy)
        return slic_errmsg_set(err, SLIC_ENOMEM, "spool %s: out of memory rejecting seq %llu",
                               sp->dir, (unsigned long long)seq);
    memcpy(copy, v->mv_data, v->mv_size);
    int rc = mdb_put(txn, sp->dbi_rejected, &k, &r, MDB_RESERVE);
    if (rc == 0) {
        uint8_t *p = r.mv_data;
        agent__le_put(p, (uint64_t)agent__spool_now_ms(sp), 8);
        agent__le_put(p + 8, rlen, 2);
        memcpy(p + REJ_FIXED_LEN, reason, rlen);
        memcpy(p + REJ_FIXED_LEN + rlen, copy, v->mv_size);
    }
    slic_free(copy);
    return agent__spool_mdb_err(sp, rc, "storing a rejected batch", err);
}

static void reject_log(agent_spool *sp, uint64_t seq, const struct agent__spool_hdr *h,
                       const char *reason, uint64_t deleted)
{
    char t[AGENT__TIME_STR_LEN];
    SLIC_WARN(COMPONENT,
              "spool %s: the aggregator rejected epoch %llu seq %llu (%u series, %llu events, "
              "windows from %s): %s. Kept aside in the spool, never resent (%llu rejected so far)",
              sp->dir, (unsigned long long)sp->meta.epoch, (unsigned long long)seq, h->n_series,
              (unsigned long long)h->events, agent__time_str(h->window_start, t), reason,
              (unsigned long long)sp->meta.rejected_total);
    if (deleted)
        SLIC_ERROR(COMPONENT,
                   "spool %s: deleted the %llu oldest rejected batches to keep at most %u (and "
                   "an eighth of the cap); %llu deleted so far",
                   sp->dir, (unsigned long long)deleted, sp->rejected_max,
                   (unsigned long long)sp->meta.rejected_deleted);
}

int agent_spool_reject(agent_spool *sp, uint64_t epoch, uint64_t seq, const char *reason,
                       struct slic_errmsg *err)
{
    MDB_txn *txn;
    MDB_val v;
    struct agent__spool_hdr h;
    uint64_t deleted = 0;
    reason = reason && *reason ? reason : "(no reason given)";
    int rc = agent__spool_writer_only(sp, "reject", err);
    if (rc || (rc = agent__spool_txn_begin(sp, false, &txn, err)))
        return rc;
    struct agent__spool_meta m = sp->meta;
    m.rejected_total++;
    if ((rc = pending_get(sp, txn, epoch, seq, &v, err)) ||
        (rc = agent__spool_hdr_decode(sp, seq, &v, &h, err)) ||
        (rc = rejected_put(sp, txn, seq, &v, reason, err)) ||
        (rc = pending_del(sp, txn, seq, v.mv_size, &m, err)) ||
        (rc = rejected_bound(sp, txn, &m, &deleted, err))) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = commit_meta(sp, txn, &m, err)) == 0)
        reject_log(sp, seq, &h, reason, deleted);
    return rc;
}

/* ---- reads ---- */

int agent_spool_state_get(agent_spool *sp, const char *key, void **value, size_t *len,
                          struct slic_errmsg *err)
{
    size_t klen = key ? strlen(key) : 0;
    if (klen == 0 || klen > AGENT_SPOOL_STATE_KEY_MAX)
        return slic_errmsg_set(err, SLIC_EINVAL, "spool %s: state key of %zu bytes: expected 1..%u",
                               sp->dir, klen, AGENT_SPOOL_STATE_KEY_MAX);
    MDB_txn *txn;
    int rc = agent__spool_txn_begin(sp, true, &txn, err);
    if (rc)
        return rc;
    MDB_val k = {klen, (void *)key}, v;
    if ((rc = mdb_get(txn, sp->dbi_state, &k, &v))) {
        mdb_txn_abort(txn);
        if (rc == MDB_NOTFOUND)
            return slic_errmsg_set(err, SLIC_ENOTFOUND, "spool %s: no state record '%s'", sp->dir,
                                   key);
        return agent__spool_mdb_err(sp, rc, "reading a state record", err);
    }
    void *copy = v.mv_size ? slic_malloc(v.mv_size) : NULL;
    if (v.mv_size && !copy) {
        mdb_txn_abort(txn);
        return slic_errmsg_set(err, SLIC_ENOMEM, "spool %s: out of memory reading state '%s'",
                               sp->dir, key);
    }
    if (copy)
        memcpy(copy, v.mv_data, v.mv_size);
    *value = copy;
    *len = v.mv_size;
    mdb_txn_abort(txn);
    return 0;
}

/* Parses one rejected value; false when it is too short to be one. */
static bool rejected_parse(const MDB_val *k, const MDB_val *v, struct agent_spool_rejected *r)
{
    const uint8_t *p = v->mv_data;
    if (k->mv_size != 16 || v->mv_size < REJ_FIXED_LEN)
        return false;
    size_t rlen = (size_t)agent__le_get(p + 8, 2);
    if (rlen >= SLIC_ACK_REASON_MAX || v->mv_size < REJ_FIXED_LEN + rlen + AGENT__SPOOL_HDR_LEN)
        return false;
    const uint8_t *hdr = p + REJ_FIXED_LEN + rlen;
    memset(r, 0, sizeof *r);
    r->epoch = agent__be64_get(k->mv_data);
    r->seq = agent__be64_get((const uint8_t *)k->mv_data + 8);
    r->rejected_unix_ms = (int64_t)agent__le_get(p, 8);
    r->window_start = (int64_t)agent__le_get(hdr + 16, 8);
    r->events = agent__le_get(hdr + 32, 8);
    memcpy(r->reason, p + REJ_FIXED_LEN, rlen);
    return true;
}

int agent_spool_rejected_list(agent_spool *sp, struct agent_spool_rejected *out, size_t max,
                              size_t *n, struct slic_errmsg *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    size_t got = 0;
    int rc = agent__spool_txn_begin(sp, true, &txn, err);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(txn, sp->dbi_rejected, &cur))) {
        mdb_txn_abort(txn);
        return agent__spool_mdb_err(sp, rc, "opening a cursor", err);
    }
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && got < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (!rejected_parse(&k, &v, &out[got])) {
            rc = -1;
            break;
        }
        got++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc == -1)
        return slic_errmsg_set(err, SLIC_ESTORE, "spool %s: rejected batch %zu is corrupt", sp->dir,
                               got);
    if (rc && rc != MDB_NOTFOUND)
        return agent__spool_mdb_err(sp, rc, "reading rejected batches", err);
    *n = got;
    return 0;
}

/* The parts of the stats that come from the databases' own counts. */
static int stats_counts(agent_spool *sp, MDB_txn *txn, struct agent_spool_stats *s,
                        struct slic_errmsg *err)
{
    MDB_stat st;
    MDB_envinfo info;
    int rc = mdb_stat(txn, sp->dbi_pending, &st);
    s->pending = rc ? 0 : st.ms_entries;
    if (rc == 0 && (rc = mdb_stat(txn, sp->dbi_sent, &st)) == 0)
        s->pending_sent = st.ms_entries;
    if (rc == 0 && (rc = mdb_stat(txn, sp->dbi_rejected, &st)) == 0)
        s->rejected_kept = st.ms_entries;
    if (rc == 0 && (rc = mdb_env_info(sp->env, &info)) == 0)
        s->map_size = info.me_mapsize;
    if (rc)
        return agent__spool_mdb_err(sp, rc, "reading stats", err);
    return agent__spool_used(sp, txn, &s->used_bytes, err);
}

int agent_spool_stats_get(agent_spool *sp, struct agent_spool_stats *out, struct slic_errmsg *err)
{
    MDB_txn *txn;
    struct agent__spool_meta m;
    struct agent__spool_hdr h;
    bool found, have_oldest;
    struct agent_spool_stats s = {0};
    int rc = agent__spool_txn_begin(sp, true, &txn, err);
    if (rc)
        return rc;
    if ((rc = agent__spool_meta_get(sp, txn, &m, &found, err)) ||
        (rc = stats_counts(sp, txn, &s, err)) ||
        (rc = agent__spool_oldest(sp, txn, &h, &have_oldest, err))) {
        mdb_txn_abort(txn);
        return rc;
    }
    mdb_txn_abort(txn);
    s.epoch = m.epoch;
    s.next_seq = m.next_seq;
    s.last_closed_window_end = m.last_closed_end;
    s.writer_open = (m.flags & AGENT__SPOOL_OPEN) != 0;
    s.unclean_start = sp->unclean_start;
    s.cap_bytes = m.cap;
    s.pending_bytes = m.pending_bytes;
    if (have_oldest && h.window_start > 0) {
        s.oldest_window_start = h.window_start;
        int64_t age = agent__spool_now_ms(sp) / 1000 - h.window_start;
        s.oldest_age_seconds = age > 0 ? age : 0;
    }
    s.rejected_total = m.rejected_total;
    s.rejected_deleted = m.rejected_deleted;
    s.coarsened = m.coarsened;
    s.dropped = m.dropped;
    s.dropped_events = m.dropped_events;
    *out = s;
    return 0;
}
