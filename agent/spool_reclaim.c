/* Appending windows, and keeping the spool under its cap while doing so. Before each append a
 * reclaim pass, in its own transaction, frees room when the new batch would take live data past
 * AGENT_SPOOL_COARSEN_PERCENT of the cap: first by merging the oldest pairs of never-sent
 * batches into coarser windows, then, only if that is exhausted and the cap itself would be
 * passed, by turning the oldest batches into tombstones. Pages freed by one transaction can be
 * reused only by later ones, which is why the pass commits on its own.
 *
 * LMDB's map (a quarter above the cap by default) can still fill below the cap: while a reader
 * holds an old snapshot the pages freed since cannot be reused, and a value of several pages
 * needs a contiguous free run. An append that hits that retries after passes that coarsen
 * harder, which loses nothing; it never drops more than the cap requires, since dropping would
 * destroy deliverable data and, against a pinned snapshot, still not make room.
 *
 * Why only never-sent batches are merged: the aggregator counts a batch once per (agent, epoch,
 * seq). A batch that was sent but not acked may have been committed, its ack lost; merging it
 * into another batch would then count its events twice. A batch never handed out (no sent mark,
 * committed by agent_spool_take before any send) cannot have been seen, so moving its series
 * into an older unsent batch and leaving a tombstone under its seq keeps every count exact. */
#include "spool_int.h"

#include "alloc.h"
#include "codec_batch.h"
#include "log.h"

#include <string.h>

#define COMPONENT "spool"
/* Merges one pass may make: each decodes and re-encodes two batches, so this bounds the work
 * and the dirty pages one append can cause; the next append carries on. */
#define COARSEN_STEPS_MAX 16u
/* An append that finds the map full retries after passes that coarsen until a quarter of the
 * live data is freed, then half, then three quarters (or nothing is left to merge). */
#define APPEND_ATTEMPTS 4
/* Pages outside the named databases: the two meta pages and the main database's root. */
#define FIXED_PAGES 3u

uint64_t agent__spool_cost(const agent_spool *sp, size_t len)
{
    uint64_t ps = sp->page_size, node = 16 + (uint64_t)len; /* node header and 8-byte key */
    /* Values over about half a page go to overflow pages of their own. */
    if (node > ps / 2 - 16)
        return (len + 16 + ps - 1) / ps * ps;
    return 2 * node; /* leaf pages run half to fully full */
}

int agent__spool_used(agent_spool *sp, MDB_txn *txn, uint64_t *used, struct slic_errmsg *err)
{
    const MDB_dbi dbis[] = {sp->dbi_meta, sp->dbi_pending, sp->dbi_sent, sp->dbi_rejected,
                            sp->dbi_state};
    uint64_t pages = FIXED_PAGES;
    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        MDB_stat st;
        int rc = mdb_stat(txn, dbis[i], &st);
        if (rc)
            return agent__spool_mdb_err(sp, rc, "measuring the spool", err);
        pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    }
    *used = pages * sp->page_size;
    return 0;
}

/* What one reclaim pass did, for its meta record and its log lines. */
struct pass {
    struct agent__spool_meta m;
    int64_t now; /* Unix s */
    uint64_t used_before;
    uint64_t used;
    unsigned merges;
    unsigned drops;
    uint64_t dropped_events;
    int64_t dropped_from; /* window span of the data dropped */
    int64_t dropped_to;
};

/* A pending batch as a scan found it. v points into the map: valid until the next write. */
struct cand {
    uint64_t seq;
    struct agent__spool_hdr h;
    MDB_val v;
};

/* Decodes a pending value's batch. SLIC_ENOMEM, or another code for a batch that does not
 * decode (only a corrupt spool holds one: it is left for the aggregator to reject). */
static int cand_decode(const struct cand *c, struct slic_batch *out)
{
    return codec_batch_unpack((const uint8_t *)c->v.mv_data + AGENT__SPOOL_HDR_LEN,
                              c->v.mv_size - AGENT__SPOOL_HDR_LEN, out, NULL);
}

/* Reads the entry at the cursor into *c, with whether it may be merged (unsent, has series). */
static int cand_read(agent_spool *sp, MDB_txn *txn, const MDB_val *k, const MDB_val *v,
                     struct cand *c, bool *mergeable, struct slic_errmsg *err)
{
    c->seq = k->mv_size == 8 ? agent__be64_get(k->mv_data) : 0;
    c->v = *v;
    bool sent = false;
    int rc = agent__spool_hdr_decode(sp, c->seq, v, &c->h, err);
    if (rc == 0)
        rc = agent__spool_is_sent(sp, txn, c->seq, &sent, err);
    *mergeable = !sent && c->h.n_series > 0;
    return rc;
}

/* A scan for the first pair of consecutive merge candidates from `start` that share a coarse
 * window. first_live: every seq below it is no candidate any more (sent, a tombstone, or
 * unable ever to merge with the candidate after it). */
struct scan {
    uint64_t start;
    uint64_t first_live;
    struct cand a;
    struct cand b;
    uint32_t window;
};

/* Returns 1 with s->a, s->b and s->window set, 0 when there is no such pair, or an error. */
static int pair_find(agent_spool *sp, MDB_txn *txn, int64_t now, struct scan *s,
                     struct slic_errmsg *err)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, sp->dbi_pending, &cur);
    if (rc)
        return agent__spool_mdb_err(sp, rc, "opening a cursor", err);
    uint8_t kb[8];
    agent__be64_put(kb, s->start);
    MDB_val k = {8, kb}, v;
    bool have_prev = false, live_fixed = false;
    struct cand prev = {0}, c;
    int found = 0;
    s->first_live = s->start;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        bool ok, later = false;
        if ((rc = cand_read(sp, txn, &k, &v, &c, &ok, err)))
            break;
        if (!ok) {
            if (!live_fixed && !have_prev)
                s->first_live = c.seq + 1;
            continue;
        }
        uint32_t w = have_prev ? agent__spool_coarse_window(&prev.h, &c.h, now, &later) : 0;
        if (w && prev.v.mv_size + c.v.mv_size <= CODEC_MAX_MESSAGE_BYTES) {
            *s = (struct scan){s->start, s->first_live, prev, c, w};
            found = 1;
            break;
        }
        /* A pair waiting for its coarse window to end keeps prev alive; any other misfit
         * means prev never merges (only consecutive candidates pair up). */
        if (later)
            live_fixed = true;
        else if (have_prev && !live_fixed)
            s->first_live = c.seq;
        prev = c;
        have_prev = true;
    }
    mdb_cursor_close(cur);
    if (found || rc == MDB_NOTFOUND)
        return found;
    return rc < 0 ? rc : agent__spool_mdb_err(sp, rc, "scanning pending batches", err);
}

/* Stores `b` (encoded) under its seq with header h, and accounts for the bytes it replaces. */
static int batch_store(agent_spool *sp, MDB_txn *txn, struct pass *p, const struct slic_batch *b,
                       const struct agent__spool_hdr *h, size_t old_len, struct slic_errmsg *err)
{
    uint8_t *buf;
    size_t len;
    int rc = codec_batch_pack(b, &buf, &len);
    if (rc)
        return slic_errmsg_set(err, rc, "spool %s: encoding batch %llu: %s", sp->dir,
                               (unsigned long long)b->seq, slic_strerror(rc));
    rc = agent__spool_value_put(sp, txn, b->seq, h, buf, len, err);
    slic_free(buf);
    if (rc == 0) {
        uint64_t old = old_len - AGENT__SPOOL_HDR_LEN, *pb = &p->m.pending_bytes;
        *pb = (*pb > old ? *pb - old : 0) + len;
    }
    return rc;
}

/* Merges s->b into s->a; b becomes a tombstone. *merged false when the two turn out not to
 * merge (too large once merged, counts overflowing, sketch settings differing, corrupt). */
static int pair_merge(agent_spool *sp, MDB_txn *txn, struct pass *p, const struct scan *s,
                      bool *merged, struct slic_errmsg *err)
{
    struct slic_batch a = {0}, b = {0};
    uint8_t *probe = NULL;
    size_t len = 0;
    *merged = false;
    int rc = cand_decode(&s->a, &a);
    if (rc == 0)
        rc = cand_decode(&s->b, &b);
    /* A batch whose bytes carry another seq than its key is corrupt: never rewrite it. Series
     * of another site or node (the configuration changed) must keep their own. */
    if (rc == 0 && (a.seq != s->a.seq || b.seq != s->b.seq || strcmp(a.site, b.site) != 0 ||
                    strcmp(a.node, b.node) != 0))
        rc = SLIC_EINCONSISTENT;
    if (rc == 0)
        rc = agent__spool_merge(&a, &b, s->window);
    /* Encoding once to check the size costs a second encode on success; merges are rare. */
    if (rc == 0 && (rc = codec_batch_pack(&a, &probe, &len)) == 0 && len > CODEC_MAX_MESSAGE_BYTES)
        rc = SLIC_ETOOBIG;
    slic_free(probe);
    if (rc == SLIC_ENOMEM) {
        rc = slic_errmsg_set(err, rc, "spool %s: out of memory coarsening", sp->dir);
    } else if (rc) {
        rc = 0; /* not mergeable: the caller moves on */
    } else {
        struct agent__spool_hdr ha, hb = s->b.h;
        agent__spool_hdr_of(&a, &ha);
        hb.n_series = 0;
        hb.window_lcm = 0;
        hb.events = 0;
        /* b's series now live in a; what is left of b is its identity: the tombstone. */
        if ((rc = batch_store(sp, txn, p, &a, &ha, s->a.v.mv_size, err)) == 0 &&
            (rc = batch_store(sp, txn, p, &b, &hb, s->b.v.mv_size, err)) == 0) {
            p->m.coarsened++;
            p->merges++;
            *merged = true;
        }
    }
    slic_batch_fini(&a);
    slic_batch_fini(&b);
    return rc;
}

/* One merge of the oldest mergeable pair. *merged false when no pair is left. */
static int coarsen_step(agent_spool *sp, MDB_txn *txn, struct pass *p, bool *merged,
                        struct slic_errmsg *err)
{
    struct scan s = {.start = sp->coarsen_from};
    uint64_t live = 0;
    int rc;
    *merged = false;
    for (bool first = true;; first = false) {
        int found = pair_find(sp, txn, p->now, &s, err);
        if (first)
            live = s.first_live;
        if (found <= 0) {
            rc = found;
            break;
        }
        if ((rc = pair_merge(sp, txn, p, &s, merged, err)) || *merged)
            break;
        if (live == s.a.seq)
            live = s.b.seq; /* a cannot merge with b, its only possible partner */
        s.start = s.b.seq;
    }
    if (rc == 0 && live > sp->coarsen_from)
        sp->coarsen_from = live;
    return rc;
}

/* Replaces the oldest pending batch holding data with a tombstone. *dropped false when there
 * is none (every pending batch is a tombstone, or does not decode). */
static int drop_step(agent_spool *sp, MDB_txn *txn, struct pass *p, bool *dropped,
                     struct slic_errmsg *err)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, sp->dbi_pending, &cur);
    if (rc)
        return agent__spool_mdb_err(sp, rc, "opening a cursor", err);
    uint8_t kb[8];
    agent__be64_put(kb, sp->drop_from);
    MDB_val k = {8, kb}, v;
    struct cand c;
    struct slic_batch b = {0};
    *dropped = false;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        bool unused;
        if ((rc = cand_read(sp, txn, &k, &v, &c, &unused, err)))
            break;
        if (c.h.n_series > 0) {
            if ((rc = cand_decode(&c, &b)) == 0 && b.seq == c.seq)
                break;
            if (rc == SLIC_ENOMEM)
                break;
            SLIC_ERROR(COMPONENT,
                       "spool %s: batch seq %llu does not decode (%s); left for the aggregator "
                       "to reject",
                       sp->dir, (unsigned long long)c.seq, rc ? slic_strerror(rc) : "wrong seq");
            slic_batch_fini(&b);
            rc = 0;
        }
        /* Everything before the next batch holding data is a tombstone or undecodable. */
        sp->drop_from = c.seq + 1;
    }
    mdb_cursor_close(cur);
    if (rc == 0) {
        for (size_t i = 0; i < b.n_series; i++)
            slic_series_fini(&b.series[i]);
        b.n_series = 0;
        struct agent__spool_hdr h = c.h;
        h.n_series = h.window_lcm = 0;
        h.events = 0;
        if ((rc = batch_store(sp, txn, p, &b, &h, c.v.mv_size, err)) == 0) {
            p->m.dropped++;
            p->m.dropped_events += c.h.events;
            p->dropped_events += c.h.events;
            p->dropped_from = p->drops++ ? p->dropped_from : c.h.window_start;
            p->dropped_to = c.h.window_end;
            *dropped = true;
        }
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    } else if (rc == SLIC_ENOMEM) {
        rc = slic_errmsg_set(err, rc, "spool %s: out of memory dropping a batch", sp->dir);
    } else if (rc > 0) {
        rc = agent__spool_mdb_err(sp, rc, "scanning pending batches", err);
    }
    slic_batch_fini(&b);
    return rc;
}

static void pass_log(const agent_spool *sp, const struct pass *p)
{
    unsigned pct = (unsigned)(p->used_before * 100 / sp->cap);
    if (p->merges)
        SLIC_WARN(COMPONENT,
                  "spool %s at %u%% of its %llu-byte cap: merged %u pairs of the oldest unsent "
                  "batches into coarser windows (counts exact, time resolution lost), %llu -> "
                  "%llu bytes; %llu merges so far",
                  sp->dir, pct, (unsigned long long)sp->cap, p->merges,
                  (unsigned long long)p->used_before, (unsigned long long)p->used,
                  (unsigned long long)p->m.coarsened);
    if (p->drops) {
        char t1[AGENT__TIME_STR_LEN], t2[AGENT__TIME_STR_LEN];
        SLIC_ERROR(COMPONENT,
                   "spool %s full (%llu of %llu bytes) and coarsening frees no more: DROPPED the "
                   "data of the %u oldest batches, %llu events of windows %s to %s, to make room "
                   "for new windows; %llu batches (%llu events) dropped so far",
                   sp->dir, (unsigned long long)p->used_before, (unsigned long long)sp->cap,
                   p->drops, (unsigned long long)p->dropped_events,
                   agent__time_str(p->dropped_from, t1), agent__time_str(p->dropped_to, t2),
                   (unsigned long long)p->m.dropped, (unsigned long long)p->m.dropped_events);
    }
}

/* Frees room for `need` more bytes (see the top of the file); with squeeze (1..3), coarsening
 * goes on until squeeze quarters of the live data are freed. *full: even dropping every batch
 * that can be dropped leaves no room under the cap. */
static int reclaim_pass(agent_spool *sp, uint64_t need, unsigned squeeze, bool *full,
                        struct slic_errmsg *err)
{
    MDB_txn *txn;
    struct pass p = {.m = sp->meta, .now = agent__spool_now_ms(sp) / 1000};
    uint64_t high = sp->cap / 100 * AGENT_SPOOL_COARSEN_PERCENT, hints[2];
    unsigned budget = COARSEN_STEPS_MAX;
    *full = false;
    int rc = agent__spool_txn_begin(sp, false, &txn, err);
    if (rc)
        return rc;
    if ((rc = agent__spool_used(sp, txn, &p.used_before, err))) {
        mdb_txn_abort(txn);
        return rc;
    }
    if (squeeze) {
        uint64_t target = p.used_before - p.used_before / 4 * squeeze;
        high = high < target ? high : target;
    }
    hints[0] = sp->coarsen_from;
    hints[1] = sp->drop_from;
    for (p.used = p.used_before; rc == 0 && p.used + need > high;) {
        bool did = false;
        if (budget && (rc = coarsen_step(sp, txn, &p, &did, err)) == 0 && did) {
            budget--;
        } else if (rc == 0 && p.used + need <= sp->cap) {
            break;
        } else if (rc == 0) {
            budget = 0;
            if ((rc = drop_step(sp, txn, &p, &did, err)) == 0 && !did) {
                *full = true;
                break;
            }
        }
        if (rc == 0)
            rc = agent__spool_used(sp, txn, &p.used, err);
    }
    if (rc == 0 && (p.merges || p.drops) && (rc = agent__spool_meta_put(sp, txn, &p.m, err)) == 0)
        rc = agent__spool_mdb_err(sp, mdb_txn_commit(txn), "committing a reclaim pass", err);
    else
        mdb_txn_abort(txn);
    if (rc) {
        /* The hints may have moved past batches this aborted pass had changed. */
        sp->coarsen_from = hints[0];
        sp->drop_from = hints[1];
        return rc;
    }
    if (p.merges || p.drops) {
        sp->meta = p.m;
        pass_log(sp, &p);
    }
    return 0;
}

/* ---- appending ---- */

static int batch_check(const agent_spool *sp, const struct slic_batch *b, struct slic_errmsg *err)
{
    if (!b || !b->agent_id || strcmp(b->agent_id, sp->meta.agent_id) != 0)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "spool %s: batch of agent '%s', but the spool is agent '%s''s",
                               sp->dir, b && b->agent_id ? b->agent_id : "", sp->meta.agent_id);
    if (b->n_series > SLIC_BATCH_SERIES_MAX)
        return slic_errmsg_set(err, SLIC_EINVAL, "spool %s: batch of %zu series, at most %d",
                               sp->dir, b->n_series, SLIC_BATCH_SERIES_MAX);
    for (size_t i = 0; i < b->n_series; i++) {
        const struct slic_series *s = &b->series[i];
        uint32_t w = s->window_seconds;
        if (w == 0 || w % 10 || s->window_start < 0 || s->window_start % w)
            return slic_errmsg_set(err, SLIC_EINVAL,
                                   "spool %s: series[%zu] '%s': window of %u s at %lld: expected "
                                   "a multiple of 10 s aligned to its length",
                                   sp->dir, i, s->sli ? s->sli : "", w, (long long)s->window_start);
    }
    return 0;
}

static int state_check(const agent_spool *sp, const struct agent_spool_state_kv *state, size_t n,
                       struct slic_errmsg *err)
{
    for (size_t i = 0; i < n; i++) {
        size_t klen = state[i].key ? strlen(state[i].key) : 0;
        if (klen == 0 || klen > AGENT_SPOOL_STATE_KEY_MAX ||
            (state[i].value && state[i].len > AGENT_SPOOL_STATE_VALUE_MAX))
            return slic_errmsg_set(err, SLIC_EINVAL,
                                   "spool %s: state record %zu: key of %zu bytes (1..%u), value "
                                   "of %zu bytes (at most %u)",
                                   sp->dir, i, klen, AGENT_SPOOL_STATE_KEY_MAX, state[i].len,
                                   AGENT_SPOOL_STATE_VALUE_MAX);
    }
    return 0;
}

static int state_put(agent_spool *sp, MDB_txn *txn, const struct agent_spool_state_kv *kv,
                     struct slic_errmsg *err)
{
    MDB_val k = {strlen(kv->key), (void *)kv->key}, v = {kv->len, (void *)kv->value};
    int rc =
        kv->value ? mdb_put(txn, sp->dbi_state, &k, &v, 0) : mdb_del(txn, sp->dbi_state, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : agent__spool_mdb_err(sp, rc, "storing a state record", err);
}

/* The one transaction of an append: batch, state records and meta. */
static int append_txn(agent_spool *sp, uint64_t seq, const struct agent__spool_hdr *h,
                      const uint8_t *buf, size_t len, int64_t window_end,
                      const struct agent_spool_state_kv *state, size_t n_state,
                      struct slic_errmsg *err)
{
    MDB_txn *txn;
    struct agent__spool_meta m = sp->meta;
    int rc = agent__spool_txn_begin(sp, false, &txn, err);
    if (rc)
        return rc;
    rc = agent__spool_value_put(sp, txn, seq, h, buf, len, err);
    for (size_t i = 0; rc == 0 && i < n_state; i++)
        rc = state_put(sp, txn, &state[i], err);
    m.next_seq = seq + 1;
    m.last_closed_end = window_end > m.last_closed_end ? window_end : m.last_closed_end;
    m.pending_bytes += len;
    if (rc == 0 && (rc = agent__spool_meta_put(sp, txn, &m, err)) == 0)
        rc = agent__spool_mdb_err(sp, mdb_txn_commit(txn), "committing a window", err);
    else
        mdb_txn_abort(txn);
    if (rc == 0)
        sp->meta = m;
    return rc;
}

/* Reclaim passes and the append proper, retried while LMDB's map is full (top of the file). */
static int append_attempts(agent_spool *sp, uint64_t seq, const struct agent__spool_hdr *h,
                           const uint8_t *buf, size_t len, int64_t window_end,
                           const struct agent_spool_state_kv *state, size_t n_state,
                           struct slic_errmsg *err)
{
    /* Two pages on top for the leaf and branch pages the new keys may split. */
    uint64_t need = agent__spool_cost(sp, AGENT__SPOOL_HDR_LEN + len) + 2u * sp->page_size;
    for (size_t i = 0; i < n_state; i++)
        need += agent__spool_cost(sp, strlen(state[i].key) + state[i].len);
    int rc = 0;
    for (int attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
        bool full;
        if ((rc = reclaim_pass(sp, need, (unsigned)attempt, &full, err)))
            return rc;
        if (full && attempt == 0) {
            SLIC_ERROR(COMPONENT,
                       "spool %s full: nothing left to drop (only tombstones, state records "
                       "and rejected batches), and window %llu (%llu events) does not fit under "
                       "the %llu-byte cap: it is not stored",
                       sp->dir, (unsigned long long)seq, (unsigned long long)h->events,
                       (unsigned long long)sp->cap);
            return slic_errmsg_set(err, SLIC_ERETRY, "spool %s full", sp->dir);
        }
        rc = append_txn(sp, seq, h, buf, len, window_end, state, n_state, err);
        if (rc != SLIC_ERETRY)
            return rc;
        /* Pages a dead process's snapshot pinned become reusable once its slot is cleared. */
        int dead = 0;
        mdb_reader_check(sp->env, &dead);
    }
    SLIC_ERROR(COMPONENT,
               "spool %s: LMDB map of %llu bytes full below the %llu-byte cap even after "
               "coarsening (is a reader such as slic-agent --status holding an old snapshot?): "
               "window %llu (%llu events) is not stored",
               sp->dir, (unsigned long long)sp->map_size, (unsigned long long)sp->cap,
               (unsigned long long)seq, (unsigned long long)h->events);
    return rc;
}

int agent_spool_append(agent_spool *sp, const struct slic_batch *b, int64_t window_end,
                       const struct agent_spool_state_kv *state, size_t n_state, uint64_t *seq,
                       struct slic_errmsg *err)
{
    int rc = agent__spool_writer_only(sp, "append", err);
    if (rc || (rc = batch_check(sp, b, err)) || (rc = state_check(sp, state, n_state, err)))
        return rc;
    struct slic_batch t = *b;
    t.epoch = sp->meta.epoch;
    t.seq = sp->meta.next_seq;
    uint8_t *buf;
    size_t len;
    if ((rc = codec_batch_pack(&t, &buf, &len)))
        return slic_errmsg_set(err, rc, "spool %s: encoding window %llu: %s", sp->dir,
                               (unsigned long long)t.seq, slic_strerror(rc));
    /* Limits that no amount of coarsening or dropping could make room for. */
    if (len > CODEC_MAX_MESSAGE_BYTES || AGENT__SPOOL_HDR_LEN + len > sp->cap / 4 ||
        agent__spool_cost(sp, AGENT__SPOOL_HDR_LEN + len) > sp->map_size / 2) {
        slic_free(buf);
        return slic_errmsg_set(err, SLIC_ETOOBIG,
                               "spool %s: window %llu encodes to %zu bytes: more than the "
                               "aggregator accepts (%u), a quarter of the %llu-byte cap or half "
                               "the %llu-byte LMDB map",
                               sp->dir, (unsigned long long)t.seq, len, CODEC_MAX_MESSAGE_BYTES,
                               (unsigned long long)sp->cap, (unsigned long long)sp->map_size);
    }
    struct agent__spool_hdr h;
    agent__spool_hdr_of(&t, &h);
    rc = append_attempts(sp, t.seq, &h, buf, len, window_end, state, n_state, err);
    slic_free(buf);
    if (rc == 0)
        *seq = t.seq;
    return rc;
}
