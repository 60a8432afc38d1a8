/* Ingest for the aggregator store: a group of batches merged into the rollups in as few write
 * transactions as the dirty-page budget allows, each batch recorded against its agent's
 * (epoch, seq) in the same transaction as its merges, so a retried batch is recognised and never
 * counted twice. A failure that belongs to one batch (its data cannot merge) aborts the
 * transaction and redoes the group with that batch rejected, so no other batch pays for it.
 * Writer thread only: it uses the store's writer buffers without locks. */
#include "store_int.h"

#include "alloc.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

#define COMPONENT "store"
#define WINDOW_BITS 64
#define LABELSET_PROBES_MAX 64
#define BASE_WINDOW_SECONDS 10

/* One write transaction in progress. */
struct wtxn {
    agg_store *st;
    MDB_txn *txn;
    MDB_cursor *data;
    int64_t now;
    size_t dirty_bytes; /* estimate of what this transaction dirtied */
    /* Set when the failure at hand is the batch's own data, not the store. */
    bool unmergeable;
    struct agg_store_stats delta;
};

/* A group being written: the caller's arrays, plus which batches are to be rejected unmerged
 * because an earlier attempt found their data could not merge. */
struct group {
    const struct slic_batch *const *batches;
    size_t n;
    enum agg_ingest_result *results;
    struct slic_errmsg *reasons;
    bool *reject;
};

enum verdict { VERDICT_NEW, VERDICT_DUPLICATE, VERDICT_STALE, VERDICT_TOO_FAR };

const char *agg_ingest_result_name(enum agg_ingest_result r)
{
    switch (r) {
    case AGG_INGEST_ACCEPTED:
        return "accepted";
    case AGG_INGEST_DUPLICATE:
        return "duplicate";
    case AGG_INGEST_STALE_EPOCH:
        return "stale_epoch";
    case AGG_INGEST_REJECTED:
        return "rejected";
    case AGG_INGEST_RETRY:
        return "retry";
    }
    return "unknown";
}

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;
    if (t % step != 0 && t < 0)
        q--;
    return q * step;
}

/* Bytes of pages a put dirties, roughly: a value above about half a page moves to overflow
 * pages of its own; smaller ones share leaf pages, which run half to fully full. */
static size_t put_cost(const agg_store *st, size_t klen, size_t vlen)
{
    size_t ps = st->page_size, node = 8 + klen + vlen;
    if (node > ps / 2 - 16)
        return (vlen + 16 + ps - 1) / ps * ps + 2 * (16 + klen);
    return 2 * node;
}

static bool window_fits(const struct slic_series *s, enum agg__res r)
{
    int64_t step = agg__res_seconds(r);
    return floor_to(s->window_start, step) ==
           floor_to(s->window_start + (int64_t)s->window_seconds - 1, step);
}

/* Per-node data is kept at the two finer resolutions only. */
static int scopes_of(enum agg__res r, enum agg__scope out[3])
{
    out[0] = AGG__SCOPE_ALL;
    out[1] = AGG__SCOPE_SITE;
    out[2] = AGG__SCOPE_NODE;
    return r == AGG__RES_1H ? 2 : 3;
}

static int labels_check(const struct slic_series *s, size_t j, struct slic_errmsg *why)
{
    if (s->n_labels > SLIC_SERIES_LABELS_MAX)
        return slic_errmsg_set(why, SLIC_EINVAL, "series[%zu] '%s': %zu labels, at most %d", j,
                               s->sli, s->n_labels, SLIC_SERIES_LABELS_MAX);
    for (size_t i = 0; i < s->n_labels; i++) {
        const struct slic_label *l = &s->labels[i];
        if (!l->key || !l->value || !slic_label_key_valid(l->key) ||
            !slic_label_value_valid(l->value) ||
            (i > 0 && strcmp(s->labels[i - 1].key, l->key) >= 0))
            return slic_errmsg_set(why, SLIC_EINVAL,
                                   "series[%zu] '%s': label %zu is invalid or "
                                   "out of order (keys must be valid, unique, ascending)",
                                   j, s->sli, i);
    }
    return 0;
}

static int thresholds_check(const struct slic_series *s, size_t j, struct slic_errmsg *why)
{
    if (s->n_thresholds > SLIC_SERIES_THRESHOLDS_MAX)
        return slic_errmsg_set(why, SLIC_EINVAL, "series[%zu] '%s': %zu thresholds, at most %d", j,
                               s->sli, s->n_thresholds, SLIC_SERIES_THRESHOLDS_MAX);
    for (size_t i = 0; i < s->n_thresholds; i++) {
        const struct slic_threshold_count *t = &s->thresholds[i];
        if (!(t->threshold >= 0 && t->threshold <= SLIC_SKETCH_MAX_INDEXABLE) ||
            (i > 0 && t->threshold <= s->thresholds[i - 1].threshold) || t->count_le > s->total ||
            t->good_le > t->count_le || t->good_le > s->good)
            return slic_errmsg_set(why, SLIC_EINCONSISTENT,
                                   "series[%zu] '%s': threshold %zu "
                                   "(%g s) is out of order or counts more than the series",
                                   j, s->sli, i, t->threshold);
    }
    return 0;
}

/* What the store itself relies on; the codec checked the rest. */
static int series_check(const agg_store *st, const struct slic_series *s, size_t j,
                        struct slic_errmsg *why)
{
    if (!s->sli || !slic_name_valid(s->sli))
        return slic_errmsg_set(why, SLIC_EINVAL, "series[%zu]: the SLI name is missing or invalid",
                               j);
    int rc = labels_check(s, j, why);
    if (rc || (rc = thresholds_check(s, j, why)))
        return rc;
    uint32_t len = s->window_seconds;
    if (len == 0 || len % BASE_WINDOW_SECONDS || s->window_start % len)
        return slic_errmsg_set(why, SLIC_EINVAL,
                               "series[%zu] '%s': window of %u s at %lld is not "
                               "a multiple of 10 s aligned to its length",
                               j, s->sli, len, (long long)s->window_start);
    if (!window_fits(s, AGG__RES_1H))
        return slic_errmsg_set(why, SLIC_EINVAL,
                               "series[%zu] '%s': window of %u s at %lld "
                               "crosses an hour boundary and fits no resolution",
                               j, s->sli, len, (long long)s->window_start);
    uint64_t count = s->latency ? slic_sketch_count(s->latency) : 0;
    if (s->good > s->total || count != s->total)
        return slic_errmsg_set(why, SLIC_EINCONSISTENT,
                               "series[%zu] '%s': total %llu, good %llu, "
                               "sketch count %llu do not agree",
                               j, s->sli, (unsigned long long)s->total, (unsigned long long)s->good,
                               (unsigned long long)count);
    if (s->latency && (slic_sketch_alpha(s->latency) != st->sketch.alpha ||
                       slic_sketch_mapping_of(s->latency) != st->sketch.mapping))
        return slic_errmsg_set(why, SLIC_EALPHA,
                               "series[%zu] '%s': sketch alpha %g, mapping %d; "
                               "this aggregator stores alpha %g, mapping %d",
                               j, s->sli, slic_sketch_alpha(s->latency),
                               (int)slic_sketch_mapping_of(s->latency), st->sketch.alpha,
                               (int)st->sketch.mapping);
    return 0;
}

/* Validates every series and bounds what the batch alone may dirty. */
static int batch_check(const agg_store *st, const struct slic_batch *b, struct slic_errmsg *why)
{
    size_t bytes = 0;
    size_t names = strlen(b->site) + strlen(b->node) + 3 + 2 + 16;
    for (size_t j = 0; j < b->n_series; j++) {
        const struct slic_series *s = &b->series[j];
        int rc = series_check(st, s, j, why);
        if (rc)
            return rc;
        size_t cost = put_cost(st, names + strlen(s->sli), agg__record_size_of_series(s));
        for (int r = 0; r < AGG__RES_COUNT; r++) {
            enum agg__scope scopes[3];
            if (window_fits(s, (enum agg__res)r))
                bytes += cost * (size_t)scopes_of((enum agg__res)r, scopes);
        }
    }
    if (bytes / st->page_size > AGG_STORE_BATCH_PAGES_MAX)
        return slic_errmsg_set(why, SLIC_ETOOBIG,
                               "batch of %zu series would dirty about %zu pages "
                               "in one transaction, more than the limit of %u: send fewer series "
                               "per batch",
                               b->n_series, bytes / st->page_size, AGG_STORE_BATCH_PAGES_MAX);
    return 0;
}

/* The id of a series' labelset, registering it on first sight (see keys.h for the probing). */
static int labelset_id(struct wtxn *w, const struct slic_series *s, uint64_t *id,
                       struct slic_errmsg *why)
{
    agg_store *st = w->st;
    if (s->n_labels == 0) {
        *id = 0;
        return 0;
    }
    size_t len = agg__labels_canonical(s->labels, s->n_labels, st->labels);
    uint64_t h = agg__labels_hash(st->labels, len);
    for (int probe = 0; probe < LABELSET_PROBES_MAX; probe++, h = agg__labels_next_id(h)) {
        uint8_t kb[8];
        agg__be64_put(kb, h);
        MDB_val k = {sizeof kb, kb}, v;
        int rc = mdb_get(w->txn, st->dbi_labels, &k, &v);
        if (rc == MDB_NOTFOUND) {
            v = (MDB_val){len, st->labels};
            rc = mdb_put(w->txn, st->dbi_labels, &k, &v, 0);
            w->dirty_bytes += put_cost(st, sizeof kb, len);
        } else if (rc == 0 && (v.mv_size != len || memcmp(v.mv_data, st->labels, len) != 0)) {
            continue; /* another labelset holds this id */
        }
        *id = h;
        return agg__store_mdb_err(st, rc, "registering a labelset", why);
    }
    return slic_errmsg_set(why, SLIC_ESTORE,
                           "data dir %s: %d labelset ids in a row are taken "
                           "(database labels is damaged)",
                           st->path, LABELSET_PROBES_MAX);
}

/* Merges one series into one stored record. */
static int record_update(struct wtxn *w, const struct agg__key *k, const struct slic_series *s,
                         struct slic_errmsg *why)
{
    agg_store *st = w->st;
    MDB_val key = {k->len, (void *)k->b}, val;
    struct agg__record old;
    int rc = mdb_cursor_get(w->data, &key, &val, MDB_SET_KEY);
    bool found = rc == 0;
    if (rc && rc != MDB_NOTFOUND)
        return agg__store_mdb_err(st, rc, "reading a record", why);
    if (found && (rc = agg__store_record_get(st, &key, &val, &old, &st->scratch, why))) {
        w->unmergeable = rc == SLIC_ESTORE;
        return rc;
    }
    struct slic_errmsg e;
    if ((rc = agg__record_merge_series(found ? &old : NULL, s, &st->sketch, &st->value, &e))) {
        char desc[256];
        agg__key_describe(k->b, k->len, desc, sizeof desc);
        w->unmergeable = rc != SLIC_ENOMEM;
        return slic_errmsg_set(why, rc, "record %s: %s", desc, e.text);
    }
    key = (MDB_val){k->len, (void *)k->b};
    val = (MDB_val){st->value.len, st->value.p};
    rc = mdb_cursor_put(w->data, &key, &val, found ? MDB_CURRENT : 0);
    w->dirty_bytes += put_cost(st, k->len, st->value.len);
    w->delta.records_written++;
    return agg__store_mdb_err(st, rc, "writing a record", why);
}

/* Every series into every resolution it fits and retention still keeps, at every scope. */
static int merge_batch(struct wtxn *w, const struct slic_batch *b, struct slic_errmsg *why)
{
    for (size_t j = 0; j < b->n_series; j++) {
        const struct slic_series *s = &b->series[j];
        uint64_t labelset = 0;
        int rc = labelset_id(w, s, &labelset, why);
        if (rc)
            return rc;
        bool stored = false;
        for (int r = 0; r < AGG__RES_COUNT; r++) {
            int64_t step = agg__res_seconds((enum agg__res)r);
            int64_t start = floor_to(s->window_start, step);
            if (!window_fits(s, (enum agg__res)r) || start + step <= w->now - w->st->retention[r])
                continue;
            stored = true;
            enum agg__scope scopes[3];
            int n = scopes_of((enum agg__res)r, scopes);
            for (int i = 0; i < n; i++) {
                struct agg__key k;
                agg__key_series(&k, (enum agg__res)r, scopes[i], s->sli, b->site, b->node,
                                labelset);
                agg__key_set_time(&k, k.len, start);
                if ((rc = record_update(w, &k, s, why)))
                    return rc;
            }
        }
        w->delta.series_merged += stored;
        w->delta.series_too_old += !stored;
    }
    return 0;
}

static int agent_load(struct wtxn *w, const struct slic_batch *b, struct agg__agent_state *a,
                      bool *known, struct slic_errmsg *why)
{
    MDB_val k = {strlen(b->agent_id), b->agent_id}, v;
    int rc = mdb_get(w->txn, w->st->dbi_agents, &k, &v);
    *known = rc == 0;
    if (rc == MDB_NOTFOUND) {
        memset(a, 0, sizeof *a);
        return 0;
    }
    if (rc)
        return agg__store_mdb_err(w->st, rc, "reading agent state", why);
    struct slic_errmsg e;
    if (agg__record_agent_decode(v.mv_data, v.mv_size, a, &e))
        return slic_errmsg_set(why, SLIC_EDECODE, "data dir %s: state of agent %s is corrupt: %s",
                               w->st->path, b->agent_id, e.text);
    return 0;
}

static int seq_key_exists(struct wtxn *w, const char *agent, uint64_t epoch, uint64_t seq,
                          bool *found, struct slic_errmsg *why)
{
    uint8_t kb[AGG__SEQ_KEY_MAX];
    MDB_val k = {agg__key_seq(kb, agent, epoch, seq), kb}, v;
    int rc = mdb_get(w->txn, w->st->dbi_seqs, &k, &v);
    *found = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : agg__store_mdb_err(w->st, rc, "reading a seq", why);
}

static int classify(struct wtxn *w, const struct agg__agent_state *a, bool known,
                    const struct slic_batch *b, enum verdict *v, struct slic_errmsg *why)
{
    uint64_t base = 0;
    if (known && b->epoch < a->epoch) {
        *v = VERDICT_STALE;
        return 0;
    }
    if (known && b->epoch == a->epoch) {
        base = a->last_seq;
        uint64_t d = b->seq - base - 1;
        if (b->seq <= base || (d < WINDOW_BITS && ((a->window >> d) & 1))) {
            *v = VERDICT_DUPLICATE;
            return 0;
        }
        bool found = false;
        int rc = d >= WINDOW_BITS && a->seqs_ahead > 0
                     ? seq_key_exists(w, b->agent_id, b->epoch, b->seq, &found, why)
                     : 0;
        if (rc || found) {
            *v = VERDICT_DUPLICATE;
            return rc;
        }
    }
    *v = b->seq - base > AGG_STORE_SEQ_AHEAD_MAX ? VERDICT_TOO_FAR : VERDICT_NEW;
    return 0;
}

/* Deletes every seq recorded beyond the window for (agent, epoch); with from_seq > 0, moves
 * those now inside the window into it instead, stopping at the first that is not. */
static int seqs_sweep(struct wtxn *w, const char *agent, struct agg__agent_state *a,
                      uint64_t from_seq, struct slic_errmsg *why)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(w->txn, w->st->dbi_seqs, &cur);
    if (rc)
        return agg__store_mdb_err(w->st, rc, "mdb_cursor_open", why);
    uint8_t kb[AGG__SEQ_KEY_MAX];
    size_t kn = agg__key_seq(kb, agent, a->epoch, from_seq), prefix = kn - 8;
    MDB_val k = {kn, kb}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == kn && memcmp(k.mv_data, kb, prefix) == 0) {
        if (from_seq > 0) {
            uint64_t d = agg__be64_get((const uint8_t *)k.mv_data + prefix) - a->last_seq - 1;
            if (d >= WINDOW_BITS)
                break;
            a->window |= UINT64_C(1) << d;
        }
        a->seqs_ahead -= a->seqs_ahead > 0;
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        w->dirty_bytes += put_cost(w->st, kn, 0);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : agg__store_mdb_err(w->st, rc, "sweeping seqs", why);
}

/* Marks the batch's seq committed and stores the agent's state. */
static int seq_record(struct wtxn *w, struct agg__agent_state *a, bool known,
                      const struct slic_batch *b, struct slic_errmsg *why)
{
    int rc;
    if (!known || b->epoch != a->epoch) {
        /* A new epoch: the agent started afresh, and its old out-of-order seqs mean nothing. */
        if (known && a->seqs_ahead && (rc = seqs_sweep(w, b->agent_id, a, 0, why)))
            return rc;
        *a = (struct agg__agent_state){.epoch = b->epoch};
    }
    uint64_t d = b->seq - a->last_seq - 1;
    if (d < WINDOW_BITS) {
        a->window |= UINT64_C(1) << d;
    } else {
        uint8_t kb[AGG__SEQ_KEY_MAX];
        MDB_val k = {agg__key_seq(kb, b->agent_id, b->epoch, b->seq), kb}, v = {0, kb};
        if ((rc = mdb_put(w->txn, w->st->dbi_seqs, &k, &v, 0)))
            return agg__store_mdb_err(w->st, rc, "recording a seq", why);
        w->dirty_bytes += put_cost(w->st, k.mv_size, 0);
        a->seqs_ahead++;
    }
    for (;;) {
        while (a->window & 1) {
            a->last_seq++;
            a->window >>= 1;
        }
        if (a->seqs_ahead == 0)
            break;
        if ((rc = seqs_sweep(w, b->agent_id, a, a->last_seq + 1, why)))
            return rc;
        if (!(a->window & 1))
            break;
    }
    snprintf(a->site, sizeof a->site, "%s", b->site);
    snprintf(a->node, sizeof a->node, "%s", b->node);
    a->last_seen = w->now;
    uint8_t vb[AGG__AGENT_VALUE_MAX];
    MDB_val k = {strlen(b->agent_id), b->agent_id}, v = {agg__record_agent_encode(a, vb), vb};
    rc = mdb_put(w->txn, w->st->dbi_agents, &k, &v, 0);
    w->dirty_bytes += put_cost(w->st, k.mv_size, v.mv_size);
    return agg__store_mdb_err(w->st, rc, "writing agent state", why);
}

static bool names_valid(const struct slic_batch *b)
{
    return b->agent_id && b->site && b->node && slic_name_valid(b->agent_id) &&
           slic_name_valid(b->site) && slic_name_valid(b->node) && b->seq > 0;
}

/* Decides and applies one batch. Returns non-zero only when the transaction must be aborted:
 * a store failure, or (w->unmergeable) a batch whose data cannot merge. */
static int apply_batch(struct wtxn *w, const struct slic_batch *b, bool reject,
                       enum agg_ingest_result *res, struct slic_errmsg *why)
{
    struct agg__agent_state a;
    bool known;
    enum verdict v;
    if (!reject)
        why->text[0] = '\0';
    *res = AGG_INGEST_REJECTED;
    if (!names_valid(b)) {
        slic_errmsg_set(why, SLIC_EINVAL, "agent id, site or node missing or invalid, or seq 0");
        return 0;
    }
    int rc = agent_load(w, b, &a, &known, why);
    if (rc == SLIC_EDECODE) {
        SLIC_ERROR(COMPONENT, "%s", why->text);
        return 0;
    }
    if (rc || (rc = classify(w, &a, known, b, &v, why)))
        return rc;
    if (v == VERDICT_DUPLICATE || v == VERDICT_STALE) {
        *res = v == VERDICT_DUPLICATE ? AGG_INGEST_DUPLICATE : AGG_INGEST_STALE_EPOCH;
        if (v == VERDICT_STALE)
            slic_errmsg_set(why, SLIC_EINVAL, "epoch %llu is older than agent %s's newest, %llu",
                            (unsigned long long)b->epoch, b->agent_id, (unsigned long long)a.epoch);
        return 0;
    }
    if (v == VERDICT_TOO_FAR) {
        *res = AGG_INGEST_RETRY;
        slic_errmsg_set(why, SLIC_ERETRY,
                        "seq %llu is more than %u ahead of agent %s's last "
                        "contiguous seq %llu; retry once the gap is filled",
                        (unsigned long long)b->seq, AGG_STORE_SEQ_AHEAD_MAX, b->agent_id,
                        (unsigned long long)a.last_seq);
        return 0;
    }
    if (!reject && batch_check(w->st, b, why) != 0) {
        SLIC_WARN(COMPONENT, "agent %s epoch %llu seq %llu rejected: %s", b->agent_id,
                  (unsigned long long)b->epoch, (unsigned long long)b->seq, why->text);
        reject = true;
    }
    if (!reject && (rc = merge_batch(w, b, why)))
        return rc;
    if ((rc = seq_record(w, &a, known, b, why)))
        return rc;
    *res = reject ? AGG_INGEST_REJECTED : AGG_INGEST_ACCEPTED;
    return 0;
}

/* Applies batches from `start` in one transaction until the budget is spent or the group
 * ends; *end is the first batch not committed. On an unmergeable batch, *bad names it. */
static int group_txn(agg_store *st, const struct group *g, size_t start, size_t *end, size_t *bad,
                     struct slic_errmsg *err)
{
    struct wtxn w = {.st = st, .now = agg__store_now(st)};
    int rc = agg__store_txn_begin(st, false, &w.txn, err);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(w.txn, st->dbi_data, &w.data))) {
        agg__store_txn_abort(st, w.txn);
        return agg__store_mdb_err(st, rc, "mdb_cursor_open", err);
    }
    size_t i = start;
    while (i < g->n) {
        struct slic_errmsg local;
        struct slic_errmsg *why = g->reasons ? &g->reasons[i] : &local;
        w.unmergeable = false;
        if ((rc = apply_batch(&w, g->batches[i], g->reject[i], &g->results[i], why))) {
            *bad = w.unmergeable ? i : SIZE_MAX;
            mdb_cursor_close(w.data);
            agg__store_txn_abort(st, w.txn);
            return slic_errmsg_set(err, rc, "%s", why->text);
        }
        i++;
        if (w.dirty_bytes / st->page_size >= st->txn_pages)
            break;
    }
    mdb_cursor_close(w.data);
    /* What these batches owe the upstream commits with them, or not at all. */
    struct agg__fwd_txn ft = {0};
    if (st->fwd.enabled && (rc = agg__fwd_append(st, w.txn, g->batches + start, g->results + start,
                                                 i - start, &w.dirty_bytes, &ft, err))) {
        agg__store_txn_abort(st, w.txn);
        return rc;
    }
    if ((rc = agg__store_txn_commit(st, w.txn, err)))
        return rc;
    if (st->fwd.enabled)
        agg__fwd_committed(st, &ft);
    for (size_t j = start; j < i; j++)
        w.delta.batches[g->results[j]]++;
    agg__store_stats_commit(st, &w.delta);
    *end = i;
    return 0;
}

int agg_store_write_batches(agg_store *st, const struct slic_batch *const *batches, size_t n,
                            enum agg_ingest_result *results, struct slic_errmsg *reasons,
                            struct slic_errmsg *err)
{
    struct slic_errmsg e = {{0}};
    struct group g = {batches, n, results, reasons, n ? slic_calloc(n, sizeof(bool)) : NULL};
    int rc = n && !g.reject ? slic_errmsg_set(&e, SLIC_ENOMEM,
                                              "out of memory for a group of %zu "
                                              "batches",
                                              n)
                            : 0;
    size_t done = 0;
    while (rc == 0 && done < n) {
        size_t end = done, bad = SIZE_MAX;
        rc = group_txn(st, &g, done, &end, &bad, &e);
        if (rc && bad != SIZE_MAX) {
            const struct slic_batch *b = batches[bad];
            SLIC_WARN(COMPONENT, "agent %s epoch %llu seq %llu rejected: %s", b->agent_id,
                      (unsigned long long)b->epoch, (unsigned long long)b->seq, e.text);
            g.reject[bad] = true; /* redo the group, this batch recorded but not merged */
            rc = 0;
        } else if (rc == SLIC_ERETRY) {
            rc = agg__store_grow(st, &e); /* 0: redo the transaction in the larger map */
        } else if (rc == 0) {
            done = end;
        }
    }
    for (size_t i = done; i < n; i++) {
        results[i] = AGG_INGEST_RETRY;
        if (reasons)
            slic_errmsg_set(&reasons[i], rc, "not committed: %s", e.text);
    }
    if (done < n) {
        struct agg_store_stats d = {.batches[AGG_INGEST_RETRY] = n - done};
        agg__store_stats_commit(st, &d);
    }
    slic_free(g.reject);
    if (rc && err)
        *err = e;
    return rc;
}
