/* Counts of one SLI in consecutive time slices (store.h: agg_store_query_slices), for SLO
 * evaluation: the Timeslices methods judge each 5-minute slice of a 28-day window on its own,
 * and every other window is one slice. One read transaction, and one cursor pass over the
 * records of each matching series in the range, whatever the number of slices.
 *
 * Nothing is merged into a sketch. Each record adds its counts to its slice and, when a latency
 * threshold is asked, bounds on its events at or below it, from an exact counter at the
 * threshold or else from its own sketch's rank narrowed by its counters on either side (the
 * rule of aggregator/slo.c, applied per record). Per-record bounds add up to bounds at least as
 * tight as those of the merged sketch (each record's min and max narrow its own rank), and no
 * record costs an allocation, which keeps an evaluation of 50 sites x 28 days fast. */
#include "store_int.h"

#include "alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct slices_scan {
    agg_store *st;
    MDB_txn *txn;
    MDB_cursor *cur;
    const struct agg_query *q;
    int64_t from;
    int64_t to;
    int64_t slice_s;
    double le;        /* NaN: no threshold asked */
    int32_t le_index; /* bucket holding le, when le is indexable */
    bool le_indexable;
    struct agg_slice_counts *acc;
};

static bool has_prefix(const MDB_val *k, const uint8_t *p, size_t n)
{
    return k->mv_size >= n && memcmp(k->mv_data, p, n) == 0;
}

static int args_check(const struct agg_query *q, double le, int64_t slice_s, size_t n,
                      enum agg__res *res, struct slic_errmsg *err)
{
    if (!q->sli || !slic_name_valid(q->sli) || (q->site && !slic_name_valid(q->site)) ||
        (q->node && !slic_name_valid(q->node)))
        return slic_errmsg_set(err, SLIC_EINVAL, "slices: sli, site or node is not a valid name");
    if (q->n_matchers > SLIC_SERIES_LABELS_MAX)
        return slic_errmsg_set(err, SLIC_EINVAL, "slices: %zu label matchers, at most %d",
                               q->n_matchers, SLIC_SERIES_LABELS_MAX);
    if (!agg__res_from_seconds(q->resolution_seconds, res) || (q->node && *res == AGG__RES_1H))
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "slices: resolution %u s: expected 10, 60 or, except per node, "
                               "3600",
                               q->resolution_seconds);
    int64_t step = q->resolution_seconds;
    /* Bounded as agg_store_query_sli bounds its range, so no sum of times can overflow. */
    const int64_t lim = INT64_C(1) << 62;
    if (n == 0 || slice_s <= 0 || slice_s % step != 0 || q->from % step != 0 || q->from < -lim ||
        q->from > lim || (uint64_t)n > ((uint64_t)lim - (uint64_t)q->from) / (uint64_t)slice_s)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "slices: %zu slices of %lld s from %lld at %u s resolution: "
                               "expected slices and start on the resolution's grid",
                               n, (long long)slice_s, (long long)q->from, q->resolution_seconds);
    if (!isnan(le) && !(le >= 0))
        return slic_errmsg_set(err, SLIC_EINVAL, "slices: threshold %g is negative", le);
    return 0;
}

/* The bucket of the threshold under the store's (one) mapping, found once per query rather
 * than once per record. */
static int le_locate(struct slices_scan *sc, struct slic_errmsg *err)
{
    if (isnan(sc->le) || sc->le < SLIC_SKETCH_MIN_INDEXABLE || sc->le > SLIC_SKETCH_MAX_INDEXABLE)
        return 0;
    const struct agg__sketch_params *p = &sc->st->sketch;
    slic_sketch *sk = NULL;
    int rc = slic_sketch_create_mapped(p->alpha, p->max_buckets, p->mapping, &sk);
    if (rc)
        return slic_errmsg_set(err, rc, "slices: cannot create a sketch: %s", slic_strerror(rc));
    sc->le_index = slic_sketch_index_of(sk, sc->le);
    sc->le_indexable = true;
    slic_sketch_destroy(sk);
    return 0;
}

/* How many of a record's latencies are <= x, as slic_sketch_rank counts them on a sketch. The
 * buckets are read in place from the stored value, only as far as x. */
static struct slic_sketch_rank record_rank(const struct slices_scan *sc, const MDB_val *val,
                                           const struct agg__record *rec, double x)
{
    const struct slic_sketch_view *v = &rec->sketch;
    struct slic_sketch_rank r = {0, 0};
    if (v->count == 0 || x < v->min)
        return r;
    if (x >= v->max) {
        r.lower = r.upper = v->count;
        return r;
    }
    if (!sc->le_indexable) {
        /* x is below the smallest indexable value (above the largest, x >= max held): only
         * zero-bucket values can be <= x, and they are not told apart. */
        r.upper = v->zero_count;
        return r;
    }
    int64_t idx = sc->le_index, first = v->offset, last = (int64_t)v->offset + v->n - 1;
    uint64_t below = v->zero_count, within = 0;
    if (v->n > 0 && idx > first)
        below += agg__record_buckets_sum(val->mv_data, rec, 0,
                                         (uint32_t)((idx <= last ? idx : last + 1) - first));
    if (v->n > 0 && idx >= first && idx <= last)
        within = agg__record_buckets_sum(val->mv_data, rec, (uint32_t)(idx - first), 1);
    else if (v->n > 0 && idx < first && v->collapsed)
        /* The collapsed lowest bucket also holds values from below its range. */
        within = agg__record_buckets_sum(val->mv_data, rec, 0, 1);
    r.lower = below;
    r.upper = below + within;
    return r;
}

/* Bounds on the record's events at or below the threshold. False when its counters contradict
 * its sketch (the buckets are not checked on decode, so this also catches corrupt ones). */
static bool record_le(const struct slices_scan *sc, const MDB_val *val, const struct agg__record *r,
                      uint64_t *lower, uint64_t *upper, bool *exact)
{
    for (size_t i = 0; i < r->n_thresholds; i++) {
        if (r->thresholds[i].threshold == sc->le) {
            *lower = *upper = r->thresholds[i].count_le;
            *exact = true;
            return true;
        }
    }
    struct slic_sketch_rank rank = record_rank(sc, val, r, sc->le);
    for (size_t i = 0; i < r->n_thresholds; i++) {
        const struct slic_threshold_count *t = &r->thresholds[i];
        if (t->threshold < sc->le && t->count_le > rank.lower)
            rank.lower = t->count_le;
        if (t->threshold > sc->le && t->count_le < rank.upper)
            rank.upper = t->count_le;
    }
    *lower = rank.lower;
    *upper = rank.upper;
    *exact = false;
    return rank.lower <= rank.upper && rank.upper <= r->total;
}

static int record_error(const struct slices_scan *sc, const MDB_val *k, int code, const char *what,
                        struct slic_errmsg *err)
{
    char desc[256];
    agg__key_describe(k->mv_data, k->mv_size, desc, sizeof desc);
    return slic_errmsg_set(err, code, "data dir %s: record %s: %s", sc->st->path, desc, what);
}

static int slice_add(struct slices_scan *sc, const MDB_val *k, const MDB_val *v,
                     const struct agg__record *r, struct agg_slice_counts *c,
                     struct slic_errmsg *err)
{
    if (r->total == 0)
        return 0;
    if (c->total > UINT64_MAX - r->total)
        return record_error(sc, k, SLIC_EOVERFLOW, "a slice would count more than 2^64 events",
                            err);
    c->total += r->total;
    c->good += r->good;
    if (isnan(sc->le))
        return 0;
    uint64_t lower, upper;
    bool exact;
    if (!record_le(sc, v, r, &lower, &upper, &exact))
        return record_error(sc, k, SLIC_EINCONSISTENT,
                            "its threshold counters contradict its sketch", err);
    c->le_lower += lower;
    c->le_upper += upper;
    c->le_exact = c->le_exact && exact;
    return 0;
}

/* Whether the series (key without its time) carries every label the query asks for. */
static int labels_ok(struct slices_scan *sc, const uint8_t *series, size_t len, bool *ok,
                     struct slic_errmsg *err)
{
    *ok = true;
    if (sc->q->n_matchers == 0)
        return 0;
    *ok = false;
    const uint8_t *id = series + len - AGG__KEY_LABELSET_LEN;
    if (agg__be64_get(id) == 0)
        return 0;
    MDB_val k = {AGG__KEY_LABELSET_LEN, (void *)id}, v;
    int rc = mdb_get(sc->txn, sc->st->dbi_labels, &k, &v);
    if (rc == MDB_NOTFOUND)
        return slic_errmsg_set(err, SLIC_ESTORE,
                               "data dir %s: labelset %016llx is missing from database labels",
                               sc->st->path, (unsigned long long)agg__be64_get(id));
    if (rc)
        return agg__store_mdb_err(sc->st, rc, "reading a labelset", err);
    *ok = agg__labels_match(v.mv_data, v.mv_size, sc->q->matchers, sc->q->n_matchers);
    return 0;
}

/* A record's header and counters. Its buckets are read in place, and only up to a threshold's,
 * rather than copied and added up by a full decode, which was most of an evaluation's time. */
static int record_get(struct slices_scan *sc, const MDB_val *k, const MDB_val *v,
                      struct agg__record *r, struct slic_errmsg *err)
{
    struct slic_errmsg why;
    if (agg__record_decode_head(v->mv_data, v->mv_size, r, &why) == 0)
        return 0;
    char what[sizeof why.text + 16];
    snprintf(what, sizeof what, "corrupt: %s", why.text);
    return record_error(sc, k, SLIC_ESTORE, what, err);
}

/* Adds every record of one series with window start in [from, to) to its slice. */
static int scan_series(struct slices_scan *sc, struct agg__key *series, size_t len,
                       struct slic_errmsg *err)
{
    agg__key_set_time(series, len, sc->from);
    MDB_val k = {series->len, series->b}, v;
    int rc = mdb_cursor_get(sc->cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == len + AGG__KEY_TIME_LEN && has_prefix(&k, series->b, len)) {
        int64_t t = agg__key_time(k.mv_data, k.mv_size);
        if (t >= sc->to)
            break;
        struct agg__record r;
        if ((rc = record_get(sc, &k, &v, &r, err)) ||
            (rc = slice_add(sc, &k, &v, &r, &sc->acc[(t - sc->from) / sc->slice_s], err)))
            return rc;
        rc = mdb_cursor_get(sc->cur, &k, &v, MDB_NEXT);
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0
                                         : agg__store_mdb_err(sc->st, rc, "reading records", err);
}

/* Visits every series under the prefix, once each. */
static int scan_prefix(struct slices_scan *sc, const struct agg__key *prefix,
                       struct slic_errmsg *err)
{
    MDB_val k = {prefix->len, (void *)prefix->b}, v;
    int rc = mdb_cursor_get(sc->cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && has_prefix(&k, prefix->b, prefix->len)) {
        const size_t tail = AGG__KEY_LABELSET_LEN + AGG__KEY_TIME_LEN;
        if (k.mv_size < prefix->len + tail || k.mv_size > AGG__KEY_MAX)
            return slic_errmsg_set(err, SLIC_ESTORE,
                                   "data dir %s: a data key of %zu bytes is malformed",
                                   sc->st->path, k.mv_size);
        struct agg__key series;
        size_t len = k.mv_size - AGG__KEY_TIME_LEN;
        memcpy(series.b, k.mv_data, len);
        bool ok;
        if ((rc = labels_ok(sc, series.b, len, &ok, err)) ||
            (ok && (rc = scan_series(sc, &series, len, err))))
            return rc;
        rc = agg__store_seek_past(sc->cur, &series, len, &k, &v);
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : agg__store_mdb_err(sc->st, rc, "scanning", err);
}

static int scan_all(struct slices_scan *sc, struct slic_errmsg *err)
{
    const struct agg_query *q = sc->q;
    enum agg__scope scope = q->node ? AGG__SCOPE_NODE : q->site ? AGG__SCOPE_SITE : AGG__SCOPE_ALL;
    enum agg__res res;
    agg__res_from_seconds(q->resolution_seconds, &res);
    int rc = agg__store_txn_begin(sc->st, true, &sc->txn, err);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(sc->txn, sc->st->dbi_data, &sc->cur))) {
        agg__store_txn_abort(sc->st, sc->txn);
        return agg__store_mdb_err(sc->st, rc, "mdb_cursor_open", err);
    }
    struct agg__key prefix;
    agg__key_prefix(&prefix, res, scope, q->sli, q->site, q->node);
    rc = scan_prefix(sc, &prefix, err);
    mdb_cursor_close(sc->cur);
    agg__store_txn_abort(sc->st, sc->txn);
    return rc;
}

int agg_store_query_slices(agg_store *st, const struct agg_query *q, double le, int64_t slice_s,
                           size_t n, struct agg_slice_counts *out, struct slic_errmsg *err)
{
    enum agg__res res;
    int rc = args_check(q, le, slice_s, n, &res, err);
    if (rc)
        return rc;
    struct slices_scan sc = {
        .st = st,
        .q = q,
        .from = q->from,
        .to = q->from + (int64_t)n * slice_s,
        .slice_s = slice_s,
        .le = le,
    };
    if ((rc = le_locate(&sc, err)))
        return rc;
    /* calloc: n comes from the caller, and calloc refuses a size that overflows. */
    if (!(sc.acc = slic_calloc(n, sizeof *sc.acc)))
        return slic_errmsg_set(err, SLIC_ENOMEM, "slices: no memory for %zu slices", n);
    for (size_t i = 0; i < n; i++)
        sc.acc[i] = (struct agg_slice_counts){.le_exact = true};
    rc = scan_all(&sc, err);
    if (rc == 0)
        memcpy(out, sc.acc, n * sizeof *out);
    slic_free(sc.acc);
    return rc;
}
