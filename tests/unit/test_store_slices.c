/* Tests of agg_store_query_slices (aggregator/store_slices.c) against real LMDB in a temporary
 * directory: every slice agrees with agg_store_query_sli over the same range, through sites,
 * nodes, labels and resolutions; threshold bounds are exact where every record counted the
 * threshold, contain the true count (and sit inside the merged sketch's bounds) where they did
 * not, and are narrowed by counters on either side; bad arguments are refused. */
#include "harness.h"

#include "../../aggregator/store.h"
#include "alloc.h"
#include "batch.h"
#include "err.h"
#include "sketch.h"

#include <lmdb.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define ALPHA SLIC_SKETCH_DEFAULT_ALPHA
/* An hour boundary, so 10 s, 1 min and 1 h windows all start here. */
#define T0 INT64_C(1699999200)

struct fake_clock {
    int64_t now;
};

static int64_t fake_now(void *ctx)
{
    return ((struct fake_clock *)ctx)->now;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = slic_malloc(n);
    CHECK(p != NULL);
    return memcpy(p, s, n);
}

/* Deterministic latencies, 1 ms to 997 ms; an event is good when its latency is <= 0.5 s. */
static double value_of(uint64_t seed, size_t i)
{
    return 0.001 * (double)(1 + (seed * 7919 + i * 104729) % 997);
}

struct spec {
    const char *sli;
    const char *route; /* label route=..., NULL: no labels */
    int64_t start;
    size_t n;
    uint64_t seed;
    const double *thresholds; /* counted exactly by the "agent" */
    size_t n_thresholds;
};

static void series_fill(struct slic_series *s, const struct spec *sp)
{
    memset(s, 0, sizeof *s);
    s->sli = dup_str(sp->sli);
    if (sp->route) {
        s->labels = slic_calloc(1, sizeof *s->labels);
        CHECK(s->labels != NULL);
        s->labels[0].key = dup_str("route");
        s->labels[0].value = dup_str(sp->route);
        s->n_labels = 1;
    }
    s->window_start = sp->start;
    s->window_seconds = 10;
    CHECK_OK(slic_sketch_create(ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, &s->latency));
    if (sp->n_thresholds) {
        s->thresholds = slic_calloc(sp->n_thresholds, sizeof *s->thresholds);
        CHECK(s->thresholds != NULL);
        s->n_thresholds = sp->n_thresholds;
        for (size_t t = 0; t < sp->n_thresholds; t++)
            s->thresholds[t].threshold = sp->thresholds[t];
    }
    for (size_t i = 0; i < sp->n; i++) {
        double v = value_of(sp->seed, i);
        CHECK_OK(slic_sketch_add(s->latency, v));
        s->total++;
        s->good += v <= 0.5;
        for (size_t t = 0; t < sp->n_thresholds; t++) {
            s->thresholds[t].count_le += v <= sp->thresholds[t];
            s->thresholds[t].good_le += v <= sp->thresholds[t] && v <= 0.5;
        }
    }
}

/* Events of a spec with latency <= x: the truth the bounds must contain. */
static uint64_t true_le(const struct spec *sp, double x)
{
    uint64_t c = 0;
    for (size_t i = 0; i < sp->n; i++)
        c += value_of(sp->seed, i) <= x;
    return c;
}

static void write_one(agg_store *st, const char *site, const char *node, uint64_t seq,
                      const struct spec *sp)
{
    struct slic_batch b = {0};
    b.agent_id = dup_str(node);
    b.site = dup_str(site);
    b.node = dup_str(node);
    b.epoch = 1;
    b.seq = seq;
    b.series = slic_calloc(1, sizeof *b.series);
    CHECK(b.series != NULL);
    b.n_series = 1;
    series_fill(&b.series[0], sp);
    const struct slic_batch *p = &b;
    enum agg_ingest_result r = 0;
    CHECK_OK(agg_store_write_batches(st, &p, 1, &r, NULL, NULL));
    CHECK_INT_EQ(r, AGG_INGEST_ACCEPTED);
    slic_batch_fini(&b);
}

static agg_store *open_store(struct fake_clock *clk)
{
    char path[512];
    snprintf(path, sizeof path, "%s/store", harness_tmpdir());
    struct agg_store_options o = {
        .map_size_initial = 16 << 20, .clock = fake_now, .clock_ctx = clk};
    agg_store *st = NULL;
    struct slic_errmsg err = {{0}};
    int rc = agg_store_open(path, &o, &st, &err);
    if (rc)
        harness_fail(__FILE__, __LINE__, "open: %s: %s", slic_errname(rc), err.text);
    return st;
}

static void slices(agg_store *st, struct agg_query q, uint32_t res, double le, int64_t slice_s,
                   size_t n, struct agg_slice_counts *out)
{
    struct slic_errmsg err = {{0}};
    q.resolution_seconds = res;
    int rc = agg_store_query_slices(st, &q, le, slice_s, n, out, &err);
    if (rc)
        harness_fail(__FILE__, __LINE__, "slices: %s: %s", slic_errname(rc), err.text);
}

/* An hour of 10 s windows for two agents at two sites (node-a at eu, node-b at us), each
 * window its own seed; node-a's windows alternate between two routes. */
static void write_hour(agg_store *st, const double *thr, size_t n_thr)
{
    for (uint64_t w = 0; w < 360; w++) {
        struct spec a = {
            "checkout", w % 2 ? "/pay" : "/cart", T0 + 10 * (int64_t)w, 20 + w % 7, w, thr, n_thr};
        struct spec b = {"checkout", NULL, T0 + 10 * (int64_t)w, 30, 1000 + w, thr, n_thr};
        write_one(st, "eu", "node-a", w + 1, &a);
        write_one(st, "us", "node-b", w + 1, &b);
    }
}

static void check_against_query(agg_store *st, struct agg_query q, uint32_t res, int64_t slice_s,
                                size_t n)
{
    struct agg_slice_counts out[64];
    CHECK(n <= 64);
    slices(st, q, res, NAN, slice_s, n, out);
    for (size_t i = 0; i < n; i++) {
        struct agg_query qi = q;
        qi.from = q.from + (int64_t)i * slice_s;
        qi.to = qi.from + slice_s;
        qi.resolution_seconds = res;
        struct agg_query_result r;
        int rc = agg_store_query_sli(st, &qi, &r, NULL);
        CHECK(rc == 0 || rc == SLIC_ENOTFOUND);
        CHECK_U64_EQ(out[i].total, rc ? 0 : r.total);
        CHECK_U64_EQ(out[i].good, rc ? 0 : r.good);
        CHECK_U64_EQ(out[i].le_lower, 0);
        CHECK(out[i].le_exact);
        if (rc == 0)
            agg_query_result_fini(&r);
    }
}

static void test_slices_match_queries(void)
{
    struct fake_clock clk = {T0 + 3600};
    agg_store *st = open_store(&clk);
    write_hour(st, NULL, 0);
    struct agg_query all = {.sli = "checkout", .from = T0};
    struct agg_query eu = {.sli = "checkout", .site = "eu", .from = T0};
    struct agg_query node = {.sli = "checkout", .node = "node-b", .from = T0};
    struct slic_label pay = {"route", "/pay"};
    struct agg_query labelled = {.sli = "checkout", .matchers = &pay, .n_matchers = 1, .from = T0};
    const struct agg_query *qs[] = {&all, &eu, &node, &labelled};
    for (size_t i = 0; i < 4; i++) {
        check_against_query(st, *qs[i], 10, 300, 12);
        check_against_query(st, *qs[i], 60, 300, 12);
        check_against_query(st, *qs[i], 60, 60, 60);
        if (!qs[i]->node)
            check_against_query(st, *qs[i], 3600, 3600, 1);
    }
    /* Slices past the data are empty; the whole hour as one slice is every event. */
    struct agg_slice_counts one;
    slices(st, all, 60, NAN, 3600, 1, &one);
    uint64_t want = 0;
    for (uint64_t w = 0; w < 360; w++)
        want += 20 + w % 7 + 30;
    CHECK_U64_EQ(one.total, want);
    struct agg_slice_counts later[3];
    struct agg_query after = all;
    after.from = T0 + 3600;
    slices(st, after, 10, NAN, 600, 3, later);
    for (int i = 0; i < 3; i++)
        CHECK_U64_EQ(later[i].total, 0);
    agg_store_close(st);
}

static void test_unknown_sli_is_zero(void)
{
    struct fake_clock clk = {T0 + 3600};
    agg_store *st = open_store(&clk);
    write_hour(st, NULL, 0);
    struct agg_slice_counts out[2] = {{.total = 99}, {.total = 99}};
    slices(st, (struct agg_query){.sli = "nothing", .from = T0}, 60, 0.3, 600, 2, out);
    CHECK_U64_EQ(out[0].total, 0);
    CHECK_U64_EQ(out[1].le_upper, 0);
    CHECK(out[0].le_exact && out[1].le_exact);
    slices(st, (struct agg_query){.sli = "checkout", .site = "asia", .from = T0}, 60, NAN, 600, 2,
           out);
    CHECK_U64_EQ(out[0].total + out[1].total, 0);
    agg_store_close(st);
}

/* With an exact counter at the threshold in every record, the count is exact and true. */
static void test_threshold_exact(void)
{
    struct fake_clock clk = {T0 + 3600};
    agg_store *st = open_store(&clk);
    static const double thr[] = {0.1, 0.3};
    write_hour(st, thr, 2);
    struct agg_slice_counts out[6];
    slices(st, (struct agg_query){.sli = "checkout", .site = "us", .from = T0}, 60, 0.3, 600, 6,
           out);
    for (int i = 0; i < 6; i++) {
        uint64_t want = 0;
        for (uint64_t w = 60 * (uint64_t)i; w < 60 * (uint64_t)(i + 1); w++) {
            struct spec b = {"checkout", NULL, 0, 30, 1000 + w, NULL, 0};
            want += true_le(&b, 0.3);
        }
        CHECK(out[i].le_exact);
        CHECK_U64_EQ(out[i].le_lower, want);
        CHECK_U64_EQ(out[i].le_upper, want);
    }
    agg_store_close(st);
}

/* Without a counter at the threshold: the true count lies inside the bounds, which lie inside
 * the merged sketch's rank bounds, and counters on either side narrow them. */
static void test_threshold_bounds(void)
{
    struct fake_clock clk = {T0 + 3600};
    agg_store *st = open_store(&clk);
    static const double thr[] = {0.1999, 0.2001};
    write_hour(st, thr, 2);
    struct agg_query q = {.sli = "checkout", .site = "us", .from = T0};
    struct agg_slice_counts out[6], unnarrowed;
    slices(st, q, 60, 0.2, 600, 6, out);
    for (int i = 0; i < 6; i++) {
        uint64_t want = 0;
        for (uint64_t w = 60 * (uint64_t)i; w < 60 * (uint64_t)(i + 1); w++) {
            struct spec b = {"checkout", NULL, 0, 30, 1000 + w, NULL, 0};
            want += true_le(&b, 0.2);
        }
        CHECK(!out[i].le_exact);
        CHECK(out[i].le_lower <= want && want <= out[i].le_upper);
        /* The counters 0.1 ms apart leave almost nothing to the sketch: values are whole
         * milliseconds, so none lies between them but 0.2 s itself. */
        CHECK(out[i].le_upper - out[i].le_lower <= out[i].total / 100 + 1);

        struct agg_query qi = q;
        qi.from = T0 + 600 * i;
        qi.to = qi.from + 600;
        qi.resolution_seconds = 60;
        struct agg_query_result r;
        CHECK_OK(agg_store_query_sli(st, &qi, &r, NULL));
        struct slic_sketch_rank rank;
        CHECK_OK(slic_sketch_rank(r.latency, 0.2, &rank));
        CHECK(rank.lower <= out[i].le_lower && out[i].le_upper <= rank.upper);
        agg_query_result_fini(&r);
    }
    /* At a threshold far from every counter the sketch alone bounds it. */
    slices(st, (struct agg_query){.sli = "checkout", .site = "us", .from = T0}, 3600, 0.7, 3600, 1,
           &unnarrowed);
    uint64_t want = 0;
    for (uint64_t w = 0; w < 360; w++) {
        struct spec b = {"checkout", NULL, 0, 30, 1000 + w, NULL, 0};
        want += true_le(&b, 0.7);
    }
    CHECK(unnarrowed.le_lower <= want && want <= unnarrowed.le_upper);
    CHECK(unnarrowed.le_upper - unnarrowed.le_lower < unnarrowed.total / 10);
    agg_store_close(st);
}

/* Records that counted the threshold stay exact inside a slice whose other records did not:
 * the slice is inexact, but its uncertainty comes only from the records without a counter. */
static void test_threshold_mixed(void)
{
    struct fake_clock clk = {T0 + 600};
    agg_store *st = open_store(&clk);
    static const double thr[] = {0.25};
    struct spec counted = {"api", NULL, T0, 500, 7, thr, 1};
    struct spec sketched = {"api", NULL, T0 + 10, 3, 8, NULL, 0};
    write_one(st, "eu", "n1", 1, &counted);
    write_one(st, "eu", "n1", 2, &sketched);
    struct agg_slice_counts out;
    slices(st, (struct agg_query){.sli = "api", .from = T0}, 10, 0.25, 60, 1, &out);
    CHECK(!out.le_exact);
    CHECK_U64_EQ(out.total, 503);
    uint64_t want = true_le(&counted, 0.25) + true_le(&sketched, 0.25);
    CHECK(out.le_lower <= want && want <= out.le_upper);
    CHECK(out.le_upper - out.le_lower <= 3);
    /* At 0 every latency is above the threshold; at 10 s every one below. */
    slices(st, (struct agg_query){.sli = "api", .from = T0}, 10, 0.0, 60, 1, &out);
    CHECK_U64_EQ(out.le_upper, 0);
    slices(st, (struct agg_query){.sli = "api", .from = T0}, 10, 10.0, 60, 1, &out);
    CHECK_U64_EQ(out.le_lower, 503);
    agg_store_close(st);
}

/* A long window of fine slices is one pass: a day of 1-minute records as 288 five-minute
 * slices adds up to the day's total. */
static void test_many_slices(void)
{
    struct fake_clock clk = {T0 + 86400};
    agg_store *st = open_store(&clk);
    uint64_t want = 0;
    for (uint64_t m = 0; m < 1440; m += 7) {
        struct spec sp = {"day", NULL, T0 + 60 * (int64_t)m, 5, m, NULL, 0};
        write_one(st, "eu", "n1", m / 7 + 1, &sp);
        want += 5;
    }
    struct agg_slice_counts *out = slic_calloc(288, sizeof *out);
    CHECK(out != NULL);
    slices(st, (struct agg_query){.sli = "day", .from = T0}, 60, 0.5, 300, 288, out);
    uint64_t got = 0;
    for (size_t i = 0; i < 288; i++) {
        got += out[i].total;
        CHECK(out[i].total == 0 || out[i].total == 5);
    }
    CHECK_U64_EQ(got, want);
    slic_free(out);
    agg_store_close(st);
}

static void test_bad_arguments(void)
{
    struct fake_clock clk = {T0 + 600};
    agg_store *st = open_store(&clk);
    struct agg_slice_counts out[2];
    struct slic_errmsg err = {{0}};
    struct agg_query q = {.sli = "api", .from = T0, .resolution_seconds = 60};
    CHECK_ERR(agg_store_query_slices(st, &q, NAN, 300, 0, out, &err), SLIC_EINVAL);
    CHECK_ERR(agg_store_query_slices(st, &q, NAN, 90, 2, out, &err), SLIC_EINVAL);
    CHECK_ERR(agg_store_query_slices(st, &q, NAN, 0, 2, out, &err), SLIC_EINVAL);
    CHECK_ERR(agg_store_query_slices(st, &q, -1.0, 300, 2, out, &err), SLIC_EINVAL);
    q.resolution_seconds = 0;
    CHECK_ERR(agg_store_query_slices(st, &q, NAN, 300, 2, out, &err), SLIC_EINVAL);
    CHECK(strstr(err.text, "resolution") != NULL);
    q.resolution_seconds = 60;
    q.from = T0 + 30;
    CHECK_ERR(agg_store_query_slices(st, &q, NAN, 300, 2, out, &err), SLIC_EINVAL);
    q.from = T0;
    q.node = "n1";
    q.resolution_seconds = 3600;
    CHECK_ERR(agg_store_query_slices(st, &q, NAN, 3600, 2, out, &err), SLIC_EINVAL);
    q.node = NULL;
    q.sli = "bad name";
    CHECK_ERR(agg_store_query_slices(st, &q, NAN, 3600, 2, out, &err), SLIC_EINVAL);
    q.sli = "api";
    q.from = INT64_C(1) << 61;
    CHECK_ERR(agg_store_query_slices(st, &q, NAN, 3600, SIZE_MAX / 64, out, &err), SLIC_EINVAL);
    agg_store_close(st);
}

/* Replaces the value of the first data key (the 10 s all-sites record at T0) with f(value). */
static void tamper_first(void (*f)(MDB_val *v, uint8_t *buf))
{
    char path[512];
    snprintf(path, sizeof path, "%s/store", harness_tmpdir());
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    static uint8_t buf[65536];
    CHECK_INT_EQ(mdb_env_create(&env), 0);
    CHECK_INT_EQ(mdb_env_set_maxdbs(env, 8), 0);
    CHECK_INT_EQ(mdb_env_open(env, path, 0, 0640), 0);
    CHECK_INT_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
    CHECK_INT_EQ(mdb_dbi_open(txn, "data", 0, &dbi), 0);
    CHECK_INT_EQ(mdb_cursor_open(txn, dbi, &cur), 0);
    CHECK_INT_EQ(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    CHECK(v.mv_size <= sizeof buf);
    memcpy(buf, v.mv_data, v.mv_size);
    f(&v, buf);
    CHECK_INT_EQ(mdb_cursor_put(cur, &k, &v, MDB_CURRENT), 0);
    mdb_cursor_close(cur);
    CHECK_INT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void junk(MDB_val *v, uint8_t *buf)
{
    (void)buf;
    *v = (MDB_val){13, "not a record"};
}

/* The first bucket claims 2^40 events (record.h: n buckets at offset 4, the counts last). */
static void huge_bucket(MDB_val *v, uint8_t *buf)
{
    uint32_t n;
    memcpy(&n, buf + 4, 4);
    CHECK(n > 0);
    uint64_t huge = UINT64_C(1) << 40;
    memcpy(buf + v->mv_size - 8 * (size_t)n, &huge, 8);
    v->mv_data = buf;
}

/* A corrupt record is an error naming it, never a wrong count: one whose header does not parse,
 * and one whose buckets (not checked on decode) contradict its total. */
static void test_corrupt_records(void)
{
    struct fake_clock clk = {T0 + 600};
    static const struct spec sp = {"api", NULL, T0, 50, 3, NULL, 0};
    agg_store *st = open_store(&clk);
    write_one(st, "eu", "n1", 1, &sp);
    agg_store_close(st);
    tamper_first(huge_bucket);
    st = open_store(&clk);
    struct agg_slice_counts out;
    struct slic_errmsg err = {{0}};
    struct agg_query q = {.sli = "api", .from = T0, .resolution_seconds = 10};
    /* Counts alone do not read the buckets. */
    CHECK_OK(agg_store_query_slices(st, &q, NAN, 10, 1, &out, &err));
    CHECK_U64_EQ(out.total, 50);
    CHECK_ERR(agg_store_query_slices(st, &q, 0.5, 10, 1, &out, &err), SLIC_EINCONSISTENT);
    CHECK(strstr(err.text, "api") && strstr(err.text, "contradict"));
    agg_store_close(st);
    tamper_first(junk);
    st = open_store(&clk);
    CHECK_ERR(agg_store_query_slices(st, &q, NAN, 10, 1, &out, &err), SLIC_ESTORE);
    CHECK(strstr(err.text, "corrupt") && strstr(err.text, "api"));
    agg_store_close(st);
}

HARNESS_CASES(HARNESS_CASE(test_slices_match_queries), HARNESS_CASE(test_unknown_sli_is_zero),
              HARNESS_CASE(test_threshold_exact), HARNESS_CASE(test_threshold_bounds),
              HARNESS_CASE(test_threshold_mixed), HARNESS_CASE(test_many_slices),
              HARNESS_CASE(test_bad_arguments), HARNESS_CASE(test_corrupt_records));
HARNESS_MAIN()
