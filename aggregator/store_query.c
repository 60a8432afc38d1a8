/* Queries of the aggregator store: one SLI over a time range (the CLI's `slic query`, SLO
 * evaluation), the series list and the agents list. Each runs in one LMDB read transaction, so
 * it sees one commit whole, and may run on any thread beside the writer. A query is a handful of
 * cursor ranges: for each series under a key prefix, the windows of [from, to), whose records
 * are merged straight from their stored bytes. */
#include "store_int.h"

#include "alloc.h"

#include <stdio.h>
#include <string.h>

/* Per-query state. */
struct scan {
    agg_store *st;
    MDB_txn *txn;
    MDB_cursor *cur;
    const struct agg_query *q;
    struct agg__record_acc *acc; /* NULL: only look for a matching series */
    struct agg__buf scratch;
    uint64_t series;
};

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;
    if (t % step != 0 && t < 0)
        q--;
    return q * step;
}

/* The first window start resolution r still keeps at `now`. */
static int64_t oldest_kept(const agg_store *st, enum agg__res r, int64_t now)
{
    int64_t step = agg__res_seconds(r);
    return floor_to(now - st->retention[r] - step, step) + step;
}

static int read_begin(struct scan *sc, MDB_dbi dbi, struct slic_errmsg *err)
{
    int rc = agg__store_txn_begin(sc->st, true, &sc->txn, err);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(sc->txn, dbi, &sc->cur))) {
        agg__store_txn_abort(sc->st, sc->txn);
        return agg__store_mdb_err(sc->st, rc, "mdb_cursor_open", err);
    }
    return 0;
}

static void read_end(struct scan *sc)
{
    mdb_cursor_close(sc->cur);
    agg__store_txn_abort(sc->st, sc->txn);
    agg__buf_fini(&sc->scratch);
}

static bool has_prefix(const MDB_val *k, const uint8_t *p, size_t n)
{
    return k->mv_size >= n && memcmp(k->mv_data, p, n) == 0;
}

static int query_check(const struct agg_query *q, struct slic_errmsg *err)
{
    if (!q->sli || !slic_name_valid(q->sli) || (q->site && !slic_name_valid(q->site)) ||
        (q->node && !slic_name_valid(q->node)))
        return slic_errmsg_set(err, SLIC_EINVAL, "query: sli, site or node is not a valid name");
    if (q->n_matchers > SLIC_SERIES_LABELS_MAX)
        return slic_errmsg_set(err, SLIC_EINVAL, "query: %zu label matchers, at most %d",
                               q->n_matchers, SLIC_SERIES_LABELS_MAX);
    for (size_t i = 0; i < q->n_matchers; i++) {
        const struct slic_label *m = &q->matchers[i];
        if (!m->key || !m->value || !slic_label_key_valid(m->key) ||
            !slic_label_value_valid(m->value))
            return slic_errmsg_set(err, SLIC_EINVAL, "query: label matcher %zu is invalid", i);
    }
    /* Bounded so that aligning the range can never overflow. */
    const int64_t lim = INT64_C(1) << 62;
    if (!(q->from < q->to) || q->from < -lim || q->to > lim)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "query: time range [%lld, %lld) is empty or out "
                               "of range",
                               (long long)q->from, (long long)q->to);
    return 0;
}

/* The resolution to read and the aligned, retention-clipped range it covers. */
static int plan(const agg_store *st, const struct agg_query *q, enum agg__scope scope,
                enum agg__res *res, int64_t *from, int64_t *to, struct slic_errmsg *err)
{
    int64_t now = q->now ? q->now : agg__store_now(st);
    enum agg__res coarsest = scope == AGG__SCOPE_NODE ? AGG__RES_1M : AGG__RES_1H;
    enum agg__res r = coarsest;
    if (q->resolution_seconds) {
        if (!agg__res_from_seconds(q->resolution_seconds, &r))
            return slic_errmsg_set(err, SLIC_EINVAL,
                                   "query: resolution %u s: expected 10, 60 or "
                                   "3600",
                                   q->resolution_seconds);
        if (r > coarsest)
            return slic_errmsg_set(err, SLIC_EINVAL,
                                   "query: per-node data is kept at 10 s and "
                                   "1 min only, not %u s",
                                   q->resolution_seconds);
    } else {
        for (int c = AGG__RES_10S; c < (int)coarsest; c++) {
            int64_t step = agg__res_seconds((enum agg__res)c);
            int64_t lo = floor_to(q->from, step), hi = floor_to(q->to + step - 1, step);
            if (lo >= oldest_kept(st, (enum agg__res)c, now) &&
                (hi - lo) / step <= AGG_QUERY_MAX_WINDOWS) {
                r = (enum agg__res)c;
                break;
            }
        }
    }
    int64_t step = agg__res_seconds(r), oldest = oldest_kept(st, r, now);
    *res = r;
    *from = floor_to(q->from, step);
    *to = floor_to(q->to + step - 1, step);
    if (*from < oldest)
        *from = oldest;
    if (*to < *from)
        *to = *from;
    return 0;
}

/* Whether the series (key without its time) carries every label the query asks for. */
static int labels_ok(struct scan *sc, const uint8_t *series, size_t len, bool *ok,
                     struct slic_errmsg *err)
{
    *ok = true;
    if (sc->q->n_matchers == 0)
        return 0;
    uint64_t id = agg__be64_get(series + len - AGG__KEY_LABELSET_LEN);
    *ok = false;
    if (id == 0)
        return 0;
    MDB_val k = {AGG__KEY_LABELSET_LEN, (void *)(series + len - AGG__KEY_LABELSET_LEN)}, v;
    int rc = mdb_get(sc->txn, sc->st->dbi_labels, &k, &v);
    if (rc == MDB_NOTFOUND)
        return slic_errmsg_set(err, SLIC_ESTORE,
                               "data dir %s: labelset %016llx is missing from "
                               "database labels",
                               sc->st->path, (unsigned long long)id);
    if (rc)
        return agg__store_mdb_err(sc->st, rc, "reading a labelset", err);
    *ok = agg__labels_match(v.mv_data, v.mv_size, sc->q->matchers, sc->q->n_matchers);
    return 0;
}

/* Merges the records of one series with window start in [from, to). */
static int merge_range(struct scan *sc, struct agg__key *series, size_t len, int64_t from,
                       int64_t to, struct slic_errmsg *err)
{
    agg__key_set_time(series, len, from);
    MDB_val k = {series->len, series->b}, v;
    int rc = mdb_cursor_get(sc->cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == len + AGG__KEY_TIME_LEN && has_prefix(&k, series->b, len) &&
           agg__key_time(k.mv_data, k.mv_size) < to) {
        struct agg__record r;
        if ((rc = agg__store_record_get(sc->st, &k, &v, &r, &sc->scratch, err)))
            return rc;
        if ((rc = agg__record_acc_add(sc->acc, &r))) {
            char desc[256];
            agg__key_describe(k.mv_data, k.mv_size, desc, sizeof desc);
            return slic_errmsg_set(err, rc, "data dir %s: merging record %s: %s", sc->st->path,
                                   desc, slic_strerror(rc));
        }
        rc = mdb_cursor_get(sc->cur, &k, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : agg__store_mdb_err(sc->st, rc, "reading records", err);
}

/* Visits every series under the prefix; merges [from, to) of those the labels match, or, for
 * a probe (sc->acc NULL), stops at the first that matches. */
static int scan_prefix(struct scan *sc, const struct agg__key *prefix, int64_t from, int64_t to,
                       struct slic_errmsg *err)
{
    MDB_val k = {prefix->len, (void *)prefix->b}, v;
    int rc = mdb_cursor_get(sc->cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && has_prefix(&k, prefix->b, prefix->len)) {
        const size_t tail = AGG__KEY_LABELSET_LEN + AGG__KEY_TIME_LEN;
        if (k.mv_size < prefix->len + tail || k.mv_size > AGG__KEY_MAX)
            return slic_errmsg_set(err, SLIC_ESTORE,
                                   "data dir %s: a data key of %zu bytes is "
                                   "malformed",
                                   sc->st->path, k.mv_size);
        struct agg__key series;
        size_t len = k.mv_size - AGG__KEY_TIME_LEN;
        memcpy(series.b, k.mv_data, len);
        bool ok;
        if ((rc = labels_ok(sc, series.b, len, &ok, err)))
            return rc;
        if (ok) {
            sc->series++;
            if (!sc->acc)
                return 0;
            if ((rc = merge_range(sc, &series, len, from, to, err)))
                return rc;
        }
        rc = agg__store_seek_past(sc->cur, &series, len, &k, &v);
    }
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : agg__store_mdb_err(sc->st, rc, "scanning", err);
}

/* Nothing matched at the chosen resolution: a zero answer if the SLI is known at another one,
 * else SLIC_ENOTFOUND. */
static int probe_other_resolutions(struct scan *sc, struct agg__key *prefix, enum agg__res chosen,
                                   enum agg__scope scope, struct slic_errmsg *err)
{
    struct agg__record_acc *acc = sc->acc;
    enum agg__res coarsest = scope == AGG__SCOPE_NODE ? AGG__RES_1M : AGG__RES_1H;
    int rc = 0;
    sc->acc = NULL;
    for (int r = AGG__RES_10S; r <= (int)coarsest && rc == 0 && sc->series == 0; r++) {
        agg__key_set_res(prefix, (enum agg__res)r);
        if (r != (int)chosen)
            rc = scan_prefix(sc, prefix, 0, 0, err);
    }
    sc->acc = acc;
    if (rc == 0 && sc->series == 0) {
        const struct agg_query *q = sc->q;
        rc = slic_errmsg_set(err, SLIC_ENOTFOUND, "no data for SLI '%s'%s%s%s%s%s", q->sli,
                             q->site ? " at site " : "", q->site ? q->site : "",
                             q->node ? " on node " : "", q->node ? q->node : "",
                             q->n_matchers ? " with the labels asked for" : "");
    }
    sc->series = 0;
    return rc;
}

int agg_store_query_sli(agg_store *st, const struct agg_query *q, struct agg_query_result *out,
                        struct slic_errmsg *err)
{
    enum agg__scope scope = q->node ? AGG__SCOPE_NODE : q->site ? AGG__SCOPE_SITE : AGG__SCOPE_ALL;
    enum agg__res res = AGG__RES_10S;
    int64_t from = 0, to = 0;
    int rc = query_check(q, err);
    if (rc || (rc = plan(st, q, scope, &res, &from, &to, err)))
        return rc;
    struct agg__record_acc acc;
    if ((rc = agg__record_acc_init(&acc, &st->sketch)))
        return slic_errmsg_set(err, rc, "out of memory for a query sketch");
    struct scan sc = {.st = st, .q = q, .acc = &acc};
    if ((rc = read_begin(&sc, st->dbi_data, err))) {
        agg__record_acc_fini(&acc);
        return rc;
    }
    struct agg__key prefix;
    agg__key_prefix(&prefix, res, scope, q->sli, q->site, q->node);
    rc = scan_prefix(&sc, &prefix, from, to, err);
    if (rc == 0 && sc.series == 0)
        rc = probe_other_resolutions(&sc, &prefix, res, scope, err);
    read_end(&sc);
    if (rc) {
        agg__record_acc_fini(&acc);
        return rc;
    }
    *out = (struct agg_query_result){
        .resolution_seconds = agg__res_seconds(res),
        .from = from,
        .to = to,
        .total = acc.total,
        .good = acc.good,
        .latency = acc.sketch,
        .n_thresholds = acc.n_thresholds,
        .records = acc.records,
        .series = sc.series,
    };
    memcpy(out->thresholds, acc.thresholds, acc.n_thresholds * sizeof acc.thresholds[0]);
    return 0;
}

void agg_query_result_fini(struct agg_query_result *r)
{
    if (!r)
        return;
    slic_sketch_destroy(r->latency);
    memset(r, 0, sizeof *r);
}

/* Makes room for one more element in a slic_malloc'd array. */
static int array_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t next = *cap ? *cap * 2 : 16;
    void *p = slic_realloc(*arr, next * elem);
    if (!p)
        return SLIC_ENOMEM;
    *arr = p;
    *cap = next;
    return 0;
}

/* End of a series' newest window at the finest resolution that holds it: a coarser window
 * counts only when it starts at or after the finer data's end (coarsened or finer-expired). */
static int series_last_data(struct scan *sc, struct agg__key *series, size_t len, int64_t *out)
{
    int64_t best = INT64_MIN;
    for (int r = AGG__RES_10S; r < AGG__RES_COUNT; r++) {
        agg__key_set_res(series, (enum agg__res)r);
        agg__key_set_time(series, len, INT64_MAX);
        MDB_val k = {series->len, series->b}, v;
        int rc = mdb_cursor_get(sc->cur, &k, &v, MDB_SET_RANGE);
        rc = mdb_cursor_get(sc->cur, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        if (rc == 0 && k.mv_size == len + AGG__KEY_TIME_LEN && has_prefix(&k, series->b, len)) {
            int64_t start = agg__key_time(k.mv_data, k.mv_size);
            if (best == INT64_MIN || start >= best)
                best = start + (int64_t)agg__res_seconds((enum agg__res)r);
        }
    }
    agg__key_set_res(series, AGG__RES_1H);
    *out = best;
    return 0;
}

/* Every series is kept per site at 1 h (retention there is the longest), so the 1 h site keys
 * list them all; consecutive keys of one (SLI, site) differ only in labels. */
static int list_series_scan(struct scan *sc, struct agg_series_info **arr, size_t *n, size_t *cap,
                            struct slic_errmsg *err)
{
    uint8_t prefix[2] = {AGG__RES_1H, AGG__SCOPE_SITE};
    MDB_val k = {sizeof prefix, prefix}, v;
    int rc = mdb_cursor_get(sc->cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && has_prefix(&k, prefix, sizeof prefix)) {
        struct agg__key_parts p;
        if (agg__key_parse(k.mv_data, k.mv_size, &p))
            return slic_errmsg_set(err, SLIC_ESTORE,
                                   "data dir %s: a data key of %zu bytes is "
                                   "malformed",
                                   sc->st->path, k.mv_size);
        struct agg_series_info row = {.last_data = INT64_MIN};
        snprintf(row.sli, sizeof row.sli, "%s", p.sli);
        snprintf(row.site, sizeof row.site, "%s", p.site);
        struct agg__key series;
        size_t len = k.mv_size - AGG__KEY_TIME_LEN;
        memcpy(series.b, k.mv_data, len);
        if ((rc = series_last_data(sc, &series, len, &row.last_data)))
            return agg__store_mdb_err(sc->st, rc, "listing series", err);
        struct agg_series_info *last = *n ? &(*arr)[*n - 1] : NULL;
        if (last && !strcmp(last->sli, row.sli) && !strcmp(last->site, row.site)) {
            last->last_data = row.last_data > last->last_data ? row.last_data : last->last_data;
        } else {
            if (array_grow((void **)arr, cap, *n, sizeof **arr))
                return slic_errmsg_set(err, SLIC_ENOMEM, "out of memory listing series");
            (*arr)[(*n)++] = row;
        }
        rc = agg__store_seek_past(sc->cur, &series, len, &k, &v);
    }
    return rc == MDB_NOTFOUND || rc == 0 ? 0
                                         : agg__store_mdb_err(sc->st, rc, "listing series", err);
}

int agg_store_list_series(agg_store *st, struct agg_series_info **out, size_t *n,
                          struct slic_errmsg *err)
{
    struct scan sc = {.st = st};
    int rc = read_begin(&sc, st->dbi_data, err);
    if (rc)
        return rc;
    struct agg_series_info *arr = NULL;
    size_t len = 0, cap = 0;
    rc = list_series_scan(&sc, &arr, &len, &cap, err);
    read_end(&sc);
    if (rc) {
        slic_free(arr);
        return rc;
    }
    *out = arr;
    *n = len;
    return 0;
}

static int agent_row(const agg_store *st, const MDB_val *k, const MDB_val *v,
                     struct agg_agent_info *row, struct slic_errmsg *err)
{
    struct agg__agent_state a;
    struct slic_errmsg why;
    size_t idn = k->mv_size < SLIC_NAME_MAX ? k->mv_size : SLIC_NAME_MAX;
    memcpy(row->agent_id, k->mv_data, idn);
    row->agent_id[idn] = '\0';
    if (agg__record_agent_decode(v->mv_data, v->mv_size, &a, &why))
        return slic_errmsg_set(err, SLIC_ESTORE, "data dir %s: state of agent %s is corrupt: %s",
                               st->path, row->agent_id, why.text);
    memcpy(row->site, a.site, sizeof row->site);
    memcpy(row->node, a.node, sizeof row->node);
    row->epoch = a.epoch;
    row->last_seq = a.last_seq;
    row->seqs_ahead = a.seqs_ahead + (uint64_t)__builtin_popcountll(a.window);
    row->last_seen = a.last_seen;
    return 0;
}

int agg_store_list_agents(agg_store *st, struct agg_agent_info **out, size_t *n,
                          struct slic_errmsg *err)
{
    struct scan sc = {.st = st};
    int rc = read_begin(&sc, st->dbi_agents, err);
    if (rc)
        return rc;
    struct agg_agent_info *arr = NULL;
    size_t len = 0, cap = 0;
    MDB_val k, v;
    int mrc;
    while ((mrc = mdb_cursor_get(sc.cur, &k, &v, MDB_NEXT)) == 0) {
        if (array_grow((void **)&arr, &cap, len, sizeof *arr)) {
            rc = slic_errmsg_set(err, SLIC_ENOMEM, "out of memory listing agents");
            break;
        }
        if ((rc = agent_row(st, &k, &v, &arr[len], err)))
            break;
        len++;
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = agg__store_mdb_err(st, mrc, "listing agents", err);
    read_end(&sc);
    if (rc) {
        slic_free(arr);
        return rc;
    }
    *out = arr;
    *n = len;
    return 0;
}
