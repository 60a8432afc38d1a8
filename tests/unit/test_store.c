/* Tests of the aggregator store (aggregator/store*.c) against real LMDB in a temporary
 * directory: exact counts and quantiles through every scope and resolution, exactly-once ingest
 * (duplicates, out-of-order seqs, epochs), rollups, retention, map growth and the map-full path,
 * reopening, refusing foreign data dirs, corrupt records, concurrent readers and allocation
 * failure. Time comes from a fake clock. The key and record codecs are tested on their own in
 * test_store_record.c. */
#include "harness.h"

#include "../../aggregator/keys.h"
#include "../../aggregator/store.h"
#include "alloc.h"
#include "batch.h"
#include "err.h"
#include "sketch.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALPHA SLIC_SKETCH_DEFAULT_ALPHA
/* An hour boundary, so 10 s, 1 min and 1 h windows all start here. */
#define T0 INT64_C(1699999200)
#define DAY 86400

struct fake_clock {
    int64_t now;
};

static int64_t fake_now(void *ctx)
{
    return ((struct fake_clock *)ctx)->now;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = slic_malloc(n + 1);
    CHECK(p != NULL);
    return memcpy(p, s, n + 1);
}

/* The latencies of one test series: deterministic, 1 ms to 1 s. */
static double value_of(uint64_t seed, size_t i)
{
    return 0.001 * (double)(1 + (seed * 7919 + i * 104729) % 997);
}

/* One series to build; longer tables list the fields in this order. */
struct spec {
    const char *sli;
    const char *label_key; /* NULL: no labels */
    const char *label_value;
    int64_t start;
    uint32_t seconds;
    size_t n;      /* events */
    uint64_t seed; /* picks the values */
    const double *thresholds;
    size_t n_thresholds;
};

/* Fills a series from a spec; good events are those at or under 0.5 s. */
static void series_fill(struct slic_series *s, const struct spec *sp)
{
    memset(s, 0, sizeof *s);
    s->sli = dup_str(sp->sli);
    if (sp->label_key) {
        s->labels = slic_calloc(1, sizeof *s->labels);
        CHECK(s->labels != NULL);
        s->labels[0].key = dup_str(sp->label_key);
        s->labels[0].value = dup_str(sp->label_value);
        s->n_labels = 1;
    }
    s->window_start = sp->start;
    s->window_seconds = sp->seconds;
    if (sp->n)
        CHECK_OK(slic_sketch_create(ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, &s->latency));
    if (sp->n_thresholds) {
        s->thresholds = slic_calloc(sp->n_thresholds, sizeof *s->thresholds);
        CHECK(s->thresholds != NULL);
        s->n_thresholds = sp->n_thresholds;
    }
    for (size_t i = 0; i < sp->n; i++) {
        double v = value_of(sp->seed, i);
        CHECK_OK(slic_sketch_add(s->latency, v));
        s->total++;
        s->good += v <= 0.5;
        for (size_t t = 0; t < sp->n_thresholds; t++) {
            s->thresholds[t].threshold = sp->thresholds[t];
            s->thresholds[t].count_le += v <= sp->thresholds[t];
            s->thresholds[t].good_le += v <= sp->thresholds[t] && v <= 0.5;
        }
    }
}

static struct slic_batch *batch_new(const char *agent, const char *site, const char *node,
                                    uint64_t epoch, uint64_t seq, const struct spec *specs,
                                    size_t n)
{
    struct slic_batch *b = slic_calloc(1, sizeof *b);
    CHECK(b != NULL);
    b->agent_id = dup_str(agent);
    b->site = dup_str(site);
    b->node = dup_str(node);
    b->epoch = epoch;
    b->seq = seq;
    b->series = slic_calloc(n ? n : 1, sizeof *b->series);
    CHECK(b->series != NULL);
    b->n_series = n;
    for (size_t i = 0; i < n; i++)
        series_fill(&b->series[i], &specs[i]);
    return b;
}

static void batch_free(struct slic_batch *b)
{
    slic_batch_fini(b);
    slic_free(b);
}

/* A one-series batch: the workhorse of most cases. */
static struct slic_batch *batch1(const char *agent, const char *site, uint64_t epoch, uint64_t seq,
                                 const char *sli, int64_t start, size_t n)
{
    struct spec sp = {.sli = sli, .start = start, .seconds = 10, .n = n, .seed = seq};
    return batch_new(agent, site, agent, epoch, seq, &sp, 1);
}

/* Batch `seq` of agent a: ten 10 s windows of one series, from T0 + 100 (seq - 1), n events
 * each. */
static struct slic_batch *batch_windows(uint64_t seq, const char *sli, size_t n)
{
    struct spec sp[10];
    for (size_t i = 0; i < 10; i++)
        sp[i] = (struct spec){
            sli,          NULL, NULL, T0 + 100 * (int64_t)(seq - 1) + 10 * (int64_t)i, 10, n,
            seq * 10 + i, NULL, 0};
    return batch_new("a", "s", "n", 1, seq, sp, 10);
}

static enum agg_ingest_result write1(agg_store *st, const struct slic_batch *b)
{
    enum agg_ingest_result r = 0;
    struct slic_errmsg why;
    CHECK_OK(agg_store_write_batches(st, &b, 1, &r, &why, NULL));
    return r;
}

static void write_free(agg_store *st, struct slic_batch *b, enum agg_ingest_result want)
{
    CHECK_INT_EQ(write1(st, b), want);
    batch_free(b);
}

/* Writes and frees one batch, expecting `want` with a reason that mentions `about`. */
static void write_expect(agg_store *st, struct slic_batch *b, enum agg_ingest_result want,
                         const char *about)
{
    enum agg_ingest_result r = 0;
    struct slic_errmsg why = {{0}};
    CHECK_OK(agg_store_write_batches(st, (const struct slic_batch *const *)&b, 1, &r, &why, NULL));
    CHECK_INT_EQ(r, want);
    if (!strstr(why.text, about))
        harness_fail(__FILE__, __LINE__, "reason '%s' does not mention '%s'", why.text, about);
    batch_free(b);
}

static char *store_dir(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/data/store", harness_tmpdir());
    return path;
}

static agg_store *open_with(struct agg_store_options *o, struct fake_clock *clk)
{
    o->clock = fake_now;
    o->clock_ctx = clk;
    agg_store *st = NULL;
    struct slic_errmsg err = {{0}};
    int rc = agg_store_open(store_dir(), o, &st, &err);
    if (rc)
        harness_fail(__FILE__, __LINE__, "open: %s: %s", slic_errname(rc), err.text);
    return st;
}

static agg_store *open_default(struct fake_clock *clk)
{
    struct agg_store_options o = {.map_size_initial = 16 << 20};
    return open_with(&o, clk);
}

/* Runs q at resolution res (0: auto); any error fails the case. */
static struct agg_query_result q_run(agg_store *st, struct agg_query q, uint32_t res)
{
    struct agg_query_result r;
    struct slic_errmsg err = {{0}};
    q.resolution_seconds = res;
    int rc = agg_store_query_sli(st, &q, &r, &err);
    if (rc)
        harness_fail(__FILE__, __LINE__, "query %s: %s: %s", q.sli, slic_errname(rc), err.text);
    return r;
}

static struct agg_query_result query(agg_store *st, const char *sli, const char *site,
                                     const char *node, int64_t from, int64_t to, uint32_t res)
{
    return q_run(st, (struct agg_query){sli, site, node, NULL, 0, from, to, 0, 0}, res);
}

/* The events query q counts at resolution res. */
static uint64_t q_total(agg_store *st, struct agg_query q, uint32_t res)
{
    struct agg_query_result r = q_run(st, q, res);
    uint64_t t = r.total;
    agg_query_result_fini(&r);
    return t;
}

static uint64_t total_of(agg_store *st, const char *sli, int64_t from, int64_t to, uint32_t res)
{
    return q_total(st, (struct agg_query){.sli = sli, .from = from, .to = to}, res);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Every quantile of the merged sketch is within alpha of the exact one. */
static void check_quantiles(const slic_sketch *sk, double *values, size_t n)
{
    static const double qs[] = {0.0, 0.25, 0.5, 0.9, 0.99, 1.0};
    qsort(values, n, sizeof *values, cmp_double);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double got, want = values[(size_t)(qs[i] * (double)(n - 1))];
        CHECK_OK(slic_sketch_quantile(sk, qs[i], &got));
        CHECK_REL(got, want, ALPHA + 1e-12);
    }
}

/* Raw LMDB access, to tamper with a data dir the way a bug or a disk might. */
struct raw {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
};

static void raw_open(struct raw *r, const char *db)
{
    CHECK_INT_EQ(mdb_env_create(&r->env), 0);
    CHECK_INT_EQ(mdb_env_set_maxdbs(r->env, 8), 0);
    CHECK_INT_EQ(mdb_env_set_mapsize(r->env, 64 << 20), 0);
    CHECK_INT_EQ(mdb_env_open(r->env, store_dir(), 0, 0640), 0);
    CHECK_INT_EQ(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
    CHECK_INT_EQ(mdb_dbi_open(r->txn, db, 0, &r->dbi), 0);
}

static void raw_close(struct raw *r)
{
    CHECK_INT_EQ(mdb_txn_commit(r->txn), 0);
    mdb_env_close(r->env);
}

static size_t raw_entries(const char *db)
{
    struct raw r;
    raw_open(&r, db);
    MDB_stat ms;
    CHECK_INT_EQ(mdb_stat(r.txn, r.dbi, &ms), 0);
    raw_close(&r);
    return ms.ms_entries;
}

/* ---- ingest and queries ---- */

#define N_AGENTS 4
#define N_WINDOWS 6
static const char *const sites[N_AGENTS] = {"eu", "eu", "us", "us"};
static const char *const agents[N_AGENTS] = {"a0", "a1", "a2", "a3"};

static struct spec exact_spec(size_t m, size_t a, size_t k)
{
    static const char *const slis[] = {"checkout", "checkout", "login"};
    static const char *const routes[] = {"/a", "/b", NULL};
    return (struct spec){slis[m],
                         routes[m] ? "route" : NULL,
                         routes[m],
                         T0 + 10 * (int64_t)k,
                         10,
                         20 + (a + m + k) % 5,
                         100 * a + 10 * m + k,
                         NULL,
                         0};
}

/* Writes N agents x 3 series x K windows, one batch per (agent, window). */
static void write_exact(agg_store *st)
{
    for (size_t k = 0; k < N_WINDOWS; k++) {
        struct slic_batch *b[N_AGENTS];
        enum agg_ingest_result res[N_AGENTS];
        for (size_t a = 0; a < N_AGENTS; a++) {
            struct spec sp[3];
            for (size_t m = 0; m < 3; m++)
                sp[m] = exact_spec(m, a, k);
            b[a] = batch_new(agents[a], sites[a], agents[a], 1, k + 1, sp, 3);
        }
        CHECK_OK(agg_store_write_batches(st, (const struct slic_batch *const *)b, N_AGENTS, res,
                                         NULL, NULL));
        for (size_t a = 0; a < N_AGENTS; a++) {
            CHECK_INT_EQ(res[a], AGG_INGEST_ACCEPTED);
            batch_free(b[a]);
        }
    }
}

/* The exact values behind a query: series mask, agents by site (NULL all) or by name. */
static size_t exact_values(unsigned series_mask, const char *site, const char *agent, double *out,
                           uint64_t *good)
{
    size_t n = 0;
    *good = 0;
    for (size_t a = 0; a < N_AGENTS; a++) {
        if ((site && strcmp(site, sites[a])) || (agent && strcmp(agent, agents[a])))
            continue;
        for (size_t m = 0; m < 3; m++) {
            for (size_t k = 0; (series_mask >> m & 1) && k < N_WINDOWS; k++) {
                struct spec sp = exact_spec(m, a, k);
                for (size_t i = 0; i < sp.n; i++) {
                    out[n] = value_of(sp.seed, i);
                    *good += out[n++] <= 0.5;
                }
            }
        }
    }
    return n;
}

static void check_exact(agg_store *st, unsigned mask, const char *sli, const char *site,
                        const char *node, const struct slic_label *m, uint32_t res)
{
    static double values[N_AGENTS * 3 * N_WINDOWS * 30];
    uint64_t good;
    size_t n = exact_values(mask, site, node, values, &good);
    struct agg_query q = {sli, site, node, m, m ? 1 : 0, T0, T0 + 10 * N_WINDOWS, 0, 0};
    struct agg_query_result r = q_run(st, q, res);
    CHECK_U64_EQ(r.total, n);
    CHECK_U64_EQ(r.good, good);
    CHECK_U64_EQ(slic_sketch_count(r.latency), n);
    check_quantiles(r.latency, values, n);
    agg_query_result_fini(&r);
}

static void test_exact_counts(void)
{
    struct fake_clock clk = {T0 + 120};
    agg_store *st = open_default(&clk);
    write_exact(st);
    struct slic_label route_a = {"route", "/a"}, route_b = {"route", "/b"};
    static const uint32_t resolutions[] = {10, 60, 3600};
    for (size_t i = 0; i < 3; i++) {
        uint32_t res = resolutions[i];
        check_exact(st, 3, "checkout", NULL, NULL, NULL, res);
        check_exact(st, 4, "login", NULL, NULL, NULL, res);
        check_exact(st, 3, "checkout", "eu", NULL, NULL, res);
        check_exact(st, 1, "checkout", "us", NULL, &route_a, res);
        check_exact(st, 2, "checkout", NULL, NULL, &route_b, res);
        if (res < 3600) {
            check_exact(st, 3, "checkout", NULL, "a2", NULL, res);
            check_exact(st, 1, "checkout", "us", "a3", &route_a, res);
        }
    }
    /* Auto resolution: one minute of data, now two minutes on: the 10 s windows. */
    struct agg_query_result r = query(st, "checkout", NULL, NULL, T0, T0 + 60, 0);
    CHECK_INT_EQ(r.resolution_seconds, 10);
    CHECK_INT_EQ(r.records, 2 * N_WINDOWS);
    CHECK_INT_EQ(r.series, 2);
    agg_query_result_fini(&r);
    agg_store_close(st);
}

static void test_scopes_and_not_found(void)
{
    struct fake_clock clk = {T0 + 120};
    agg_store *st = open_default(&clk);
    write_exact(st);
    struct agg_query_result all = query(st, "login", NULL, NULL, T0, T0 + 60, 10);
    struct agg_query_result eu = query(st, "login", "eu", NULL, T0, T0 + 60, 10);
    struct agg_query_result us = query(st, "login", "us", NULL, T0, T0 + 60, 10);
    struct agg_query_result a0 = query(st, "login", NULL, "a0", T0, T0 + 60, 10);
    struct agg_query_result a1 = query(st, "login", "eu", "a1", T0, T0 + 60, 10);
    CHECK_U64_EQ(all.total, eu.total + us.total);
    CHECK_U64_EQ(eu.total, a0.total + a1.total);
    CHECK_INT_EQ(all.records, N_WINDOWS); /* the all-sites aggregate: one record per window */
    slic_sketch *sum = NULL;
    CHECK_OK(slic_sketch_clone(eu.latency, &sum));
    CHECK_OK(slic_sketch_merge(sum, us.latency));
    CHECK(slic_sketch_equal(sum, all.latency));
    slic_sketch_destroy(sum);
    struct agg_query_result *rs[] = {&all, &eu, &us, &a0, &a1};
    for (size_t i = 0; i < 5; i++)
        agg_query_result_fini(rs[i]);

    struct slic_errmsg err;
    struct slic_label m = {"route", "/zzz"};
    const struct agg_query bad[] = {
        {"nope", NULL, NULL, NULL, 0, T0, T0 + 60, 0, 0},
        {"login", "mars", NULL, NULL, 0, T0, T0 + 60, 0, 0},
        {"checkout", NULL, NULL, &m, 1, T0, T0 + 60, 0, 0},
        {"login", NULL, "a0", NULL, 0, T0, T0 + 60, 3600, 0}, /* no per-node data at 1 h */
        {"login", NULL, NULL, NULL, 0, T0, T0, 0, 0},         /* empty range */
    };
    static const int want[] = {SLIC_ENOTFOUND, SLIC_ENOTFOUND, SLIC_ENOTFOUND, SLIC_EINVAL,
                               SLIC_EINVAL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERR(agg_store_query_sli(st, &bad[i], &all, &err), want[i]);
        CHECK(i > 0 || strstr(err.text, "'nope'") != NULL); /* the message names the SLI */
    }
    /* Known SLI, empty range: zero, not "not found". */
    all = query(st, "login", NULL, NULL, T0 + 3600, T0 + 7200, 10);
    CHECK_U64_EQ(all.total, 0);
    agg_query_result_fini(&all);
    agg_store_close(st);
}

static void test_rollups_exact(void)
{
    struct fake_clock clk = {T0};
    agg_store *st = open_default(&clk);
    uint64_t want = 0;
    for (uint64_t seq = 1; seq <= 36; seq++) {
        write_free(st, batch_windows(seq, "api", 7 + seq % 5), AGG_INGEST_ACCEPTED);
        want += 10 * (7 + seq % 5);
    }
    struct agg_query_result r10 = query(st, "api", NULL, NULL, T0, T0 + 3600, 10);
    struct agg_query_result r60 = query(st, "api", NULL, NULL, T0, T0 + 3600, 60);
    struct agg_query_result r3600 = query(st, "api", "s", NULL, T0, T0 + 3600, 3600);
    CHECK_U64_EQ(r10.total, want);
    CHECK_U64_EQ(r60.total, want);
    CHECK_U64_EQ(r3600.total, want);
    CHECK_U64_EQ(r10.good, r3600.good);
    CHECK_INT_EQ(r10.records, 360);
    CHECK_INT_EQ(r60.records, 60);
    CHECK_INT_EQ(r3600.records, 1);
    CHECK(slic_sketch_equal(r10.latency, r60.latency));
    CHECK(slic_sketch_equal(r10.latency, r3600.latency));
    agg_query_result_fini(&r10);
    agg_query_result_fini(&r60);
    agg_query_result_fini(&r3600);
    agg_store_close(st);
}

static void test_duplicates_out_of_order(void)
{
    struct fake_clock clk = {T0};
    agg_store *st = open_default(&clk);
    uint64_t want = 0;
    /* 100 down to 1: seqs 65..100 arrive more than 64 ahead of the contiguous seq. */
    for (uint64_t seq = 100; seq >= 1; seq--) {
        write_free(st, batch1("a", "s", 1, seq, "x", T0 + 10 * (int64_t)seq, seq % 7 + 1),
                   AGG_INGEST_ACCEPTED);
        want += seq % 7 + 1;
    }
    for (uint64_t seq = 1; seq <= 100; seq++)
        write_free(st, batch1("a", "s", 1, seq, "x", T0 + 10 * (int64_t)seq, 99),
                   AGG_INGEST_DUPLICATE);
    CHECK_U64_EQ(total_of(st, "x", T0, T0 + 2000, 10), want);
    struct agg_agent_info *ag = NULL;
    size_t n = 0;
    CHECK_OK(agg_store_list_agents(st, &ag, &n, NULL));
    CHECK_INT_EQ(n, 1);
    CHECK_U64_EQ(ag[0].last_seq, 100);
    CHECK_U64_EQ(ag[0].seqs_ahead, 0);
    slic_free(ag);
    /* A gap: 102, 200 and 103 wait for 101; each counts once; then 101 closes the gap. */
    write_free(st, batch1("a", "s", 1, 102, "y", T0, 1), AGG_INGEST_ACCEPTED);
    write_free(st, batch1("a", "s", 1, 200, "y", T0 + 10, 1), AGG_INGEST_ACCEPTED);
    write_free(st, batch1("a", "s", 1, 103, "y", T0 + 20, 1), AGG_INGEST_ACCEPTED);
    write_free(st, batch1("a", "s", 1, 200, "y", T0 + 10, 1), AGG_INGEST_DUPLICATE);
    write_free(st, batch1("a", "s", 1, 102, "y", T0, 1), AGG_INGEST_DUPLICATE);
    CHECK_OK(agg_store_list_agents(st, &ag, &n, NULL));
    CHECK_U64_EQ(ag[0].last_seq, 100);
    CHECK_U64_EQ(ag[0].seqs_ahead, 3);
    slic_free(ag);
    write_free(st, batch1("a", "s", 1, 101, "y", T0 + 30, 1), AGG_INGEST_ACCEPTED);
    CHECK_OK(agg_store_list_agents(st, &ag, &n, NULL));
    CHECK_U64_EQ(ag[0].last_seq, 103);
    CHECK_U64_EQ(ag[0].seqs_ahead, 1);
    slic_free(ag);
    CHECK_U64_EQ(total_of(st, "y", T0, T0 + 60, 10), 4);
    /* Too far ahead: retry, nothing recorded. */
    write_expect(st, batch1("a", "s", 1, 103 + AGG_STORE_SEQ_AHEAD_MAX + 1, "y", T0, 1),
                 AGG_INGEST_RETRY, "ahead");
    CHECK_U64_EQ(total_of(st, "y", T0, T0 + 60, 10), 4);
    agg_store_close(st);
    CHECK_INT_EQ(raw_entries("seqs"), 1); /* only 200 still waits */
}

static void test_group_duplicates(void)
{
    struct fake_clock clk = {T0};
    agg_store *st = open_default(&clk);
    struct slic_batch *b[5] = {
        batch1("a", "s", 1, 2, "x", T0, 3),      batch1("a", "s", 1, 1, "x", T0 + 10, 5),
        batch1("a", "s", 1, 2, "x", T0, 3),      batch1("b", "s", 1, 1, "x", T0, 7),
        batch1("a", "s", 1, 1, "x", T0 + 10, 5),
    };
    enum agg_ingest_result res[5];
    CHECK_OK(agg_store_write_batches(st, (const struct slic_batch *const *)b, 5, res, NULL, NULL));
    static const enum agg_ingest_result want[5] = {AGG_INGEST_ACCEPTED, AGG_INGEST_ACCEPTED,
                                                   AGG_INGEST_DUPLICATE, AGG_INGEST_ACCEPTED,
                                                   AGG_INGEST_DUPLICATE};
    for (size_t i = 0; i < 5; i++) {
        CHECK_INT_EQ(res[i], want[i]);
        batch_free(b[i]);
    }
    CHECK_U64_EQ(total_of(st, "x", T0, T0 + 20, 10), 15);
    struct agg_store_stats s;
    agg_store_stats_get(st, &s);
    CHECK_U64_EQ(s.batches[AGG_INGEST_ACCEPTED], 3);
    CHECK_U64_EQ(s.batches[AGG_INGEST_DUPLICATE], 2);
    CHECK(s.commits >= 1 && s.map_size > 0 && s.used_bytes > 0);
    agg_store_close(st);
}

static void test_epochs(void)
{
    struct fake_clock clk = {T0};
    agg_store *st = open_default(&clk);
    write_free(st, batch1("a", "s", 5, 1, "x", T0, 2), AGG_INGEST_ACCEPTED);
    write_free(st, batch1("a", "s", 5, 90, "x", T0 + 10, 2), AGG_INGEST_ACCEPTED);
    write_expect(st, batch1("a", "s", 4, 2, "x", T0, 50), AGG_INGEST_STALE_EPOCH, "older");
    CHECK_U64_EQ(total_of(st, "x", T0, T0 + 60, 10), 4);
    /* A new epoch starts over at seq 1 and forgets the old epoch's out-of-order seqs. */
    write_free(st, batch1("a", "s", 6, 1, "x", T0, 3), AGG_INGEST_ACCEPTED);
    write_free(st, batch1("a", "s", 6, 1, "x", T0, 3), AGG_INGEST_DUPLICATE);
    write_free(st, batch1("a", "s", 5, 2, "x", T0, 3), AGG_INGEST_STALE_EPOCH);
    CHECK_U64_EQ(total_of(st, "x", T0, T0 + 60, 10), 7);
    struct agg_agent_info *ag = NULL;
    size_t n = 0;
    CHECK_OK(agg_store_list_agents(st, &ag, &n, NULL));
    CHECK_U64_EQ(ag[0].epoch, 6);
    CHECK_U64_EQ(ag[0].last_seq, 1);
    CHECK_U64_EQ(ag[0].seqs_ahead, 0);
    slic_free(ag);
    agg_store_close(st);
    CHECK_INT_EQ(raw_entries("seqs"), 0);
}

static void test_windows_coarse_and_late(void)
{
    struct fake_clock clk = {T0 + 10 * DAY};
    agg_store *st = open_default(&clk);
    struct spec sp[3] = {
        {.sli = "c", .start = T0 + 60, .seconds = 60, .n = 5, .seed = 1},      /* 1 m and 1 h */
        {.sli = "c", .start = T0 + 40, .seconds = 40, .n = 6, .seed = 2},      /* 1 h only */
        {.sli = "c", .start = T0 - 2 * DAY, .seconds = 10, .n = 7, .seed = 3}, /* too old: 10 s */
    };
    write_free(st, batch_new("a", "s", "n", 1, 1, sp, 3), AGG_INGEST_ACCEPTED);
    struct agg_query q = {.sli = "c", .from = T0 - 3 * DAY, .to = T0 + 3600, .now = T0};
    CHECK_U64_EQ(q_total(st, q, 10), 0); /* nothing at 10 s: known SLI, so zero, not not-found */
    CHECK_U64_EQ(q_total(st, q, 60), 12);
    CHECK_U64_EQ(q_total(st, q, 3600), 18);
    /* Longer than an hour, or crossing one: rejected, the seq still consumed. */
    struct spec bad = {.sli = "c", .start = T0, .seconds = 7200, .n = 1, .seed = 4};
    write_expect(st, batch_new("a", "s", "n", 1, 2, &bad, 1), AGG_INGEST_REJECTED, "hour");
    write_free(st, batch_new("a", "s", "n", 1, 2, &bad, 1), AGG_INGEST_DUPLICATE);
    /* Older than every retention: accepted, stored nowhere, counted. */
    write_free(st, batch1("a", "s", 1, 3, "c", T0 - 500 * DAY, 1), AGG_INGEST_ACCEPTED);
    struct agg_store_stats s;
    agg_store_stats_get(st, &s);
    CHECK_U64_EQ(s.series_too_old, 1);
    agg_store_close(st);
}

static void test_thresholds_exact(void)
{
    struct fake_clock clk = {T0};
    agg_store *st = open_default(&clk);
    static const double both[] = {0.1, 0.25}, one[] = {0.1};
    struct spec sp[3] = {
        {"t", NULL, NULL, T0, 10, 40, 1, both, 2},
        {"t", NULL, NULL, T0 + 10, 10, 30, 2, one, 1},
        {"t", NULL, NULL, T0 + 20, 10, 0, 0, NULL, 0}, /* no events: no constraint */
    };
    struct slic_batch *b = batch_new("a", "s", "n", 1, 1, sp, 3);
    CHECK_INT_EQ(write1(st, b), AGG_INGEST_ACCEPTED);
    struct agg_query_result r = query(st, "t", NULL, NULL, T0, T0 + 30, 10);
    CHECK_INT_EQ(r.n_thresholds, 1);
    CHECK_DBL_EQ(r.thresholds[0].threshold, 0.1);
    CHECK_U64_EQ(r.thresholds[0].count_le,
                 b->series[0].thresholds[0].count_le + b->series[1].thresholds[0].count_le);
    CHECK_U64_EQ(r.thresholds[0].good_le,
                 b->series[0].thresholds[0].good_le + b->series[1].thresholds[0].good_le);
    agg_query_result_fini(&r);
    r = query(st, "t", NULL, NULL, T0, T0 + 10, 10);
    CHECK_INT_EQ(r.n_thresholds, 2);
    CHECK_U64_EQ(r.thresholds[1].count_le, b->series[0].thresholds[1].count_le);
    agg_query_result_fini(&r);
    r = query(st, "t", NULL, NULL, T0, T0 + 60, 60); /* the 1 m rollup kept only 0.1 s */
    CHECK_INT_EQ(r.n_thresholds, 1);
    agg_query_result_fini(&r);
    batch_free(b);
    agg_store_close(st);
}

static void test_label_collision(void)
{
    struct fake_clock clk = {T0};
    agg_store *st = open_default(&clk);
    write_free(st, batch1("a", "s", 1, 1, "warmup", T0, 1), AGG_INGEST_ACCEPTED);
    agg_store_close(st);
    /* Plant a different labelset at the id route=/a hashes to, as a collision would. */
    struct slic_label l = {"route", "/a"};
    uint8_t c[AGG__LABELS_MAX], kb[8];
    agg__be64_put(kb, agg__labels_hash(c, agg__labels_canonical(&l, 1, c)));
    struct raw raw;
    raw_open(&raw, "labels");
    MDB_val k = {8, kb}, v = {9, "zone\0xyz"};
    CHECK_INT_EQ(mdb_put(raw.txn, raw.dbi, &k, &v, 0), 0);
    raw_close(&raw);
    st = open_default(&clk);
    struct spec sp = {"checkout", "route", "/a", T0, 10, 9, 1, NULL, 0};
    write_free(st, batch_new("a", "s", "n", 1, 2, &sp, 1), AGG_INGEST_ACCEPTED);
    struct agg_query q = {
        .sli = "checkout", .matchers = &l, .n_matchers = 1, .from = T0, .to = T0 + 10};
    CHECK_U64_EQ(q_total(st, q, 0), 9);
    agg_store_close(st);
}

static void test_retention(void)
{
    struct fake_clock clk = {T0};
    struct agg_store_options o = {.retention_10s = 600, .retention_1m = 3600, .retention_1h = DAY};
    agg_store *st = open_with(&o, &clk);
    for (uint64_t seq = 1; seq <= 12; seq++)
        write_free(st, batch_windows(seq, "r", 1), AGG_INGEST_ACCEPTED);
    size_t total = 0, deleted;
    bool more = true;
    /* At T0 + 1200 the 10 s windows before T0 + 600 are past their 600 s. */
    while (more) {
        CHECK_OK(agg_store_expire(st, T0 + 1200, 7, &deleted, &more, NULL));
        CHECK(deleted <= 7);
        total += deleted;
    }
    CHECK_INT_EQ(total, 60 * 3); /* all, site and node scope */
    struct agg_query q = {.sli = "r", .from = T0, .to = T0 + 1200, .now = T0};
    struct agg_query_result r = q_run(st, q, 10);
    CHECK_U64_EQ(r.total, 60);
    CHECK_INT_EQ(r.records, 60);
    agg_query_result_fini(&r);
    q.from = T0 + 590;
    q.to = T0 + 610;
    CHECK_U64_EQ(q_total(st, q, 10), 1); /* T0 + 590 is gone, its neighbour T0 + 600 is not */
    CHECK_U64_EQ(total_of(st, "r", T0, T0 + 1200, 60), 120); /* 1 m untouched */
    /* At T0 + 4200 the minutes before T0 + 600 go too, and every 10 s window. */
    for (more = true, total = 0; more; total += deleted)
        CHECK_OK(agg_store_expire(st, T0 + 4200, 1000, &deleted, &more, NULL));
    CHECK_INT_EQ(total, 60 * 3 + 10 * 3);
    q = (struct agg_query){.sli = "r", .node = "n", .from = T0, .to = T0 + 1200, .now = T0};
    r = q_run(st, q, 60);
    CHECK_U64_EQ(r.total, 60);
    CHECK_INT_EQ(r.records, 10);
    agg_query_result_fini(&r);
    CHECK_U64_EQ(total_of(st, "r", T0, T0 + 3600, 3600), 120);
    /* A query's auto resolution steps past what retention no longer covers. */
    clk.now = T0 + 4200;
    r = query(st, "r", NULL, NULL, T0, T0 + 1200, 0);
    CHECK_INT_EQ(r.resolution_seconds, 3600);
    agg_query_result_fini(&r);
    struct agg_store_stats s;
    agg_store_stats_get(st, &s);
    CHECK_U64_EQ(s.records_expired, 390);
    agg_store_close(st);
}

/* Writes one-series batches of a new window each until stop() says so; returns the seqs. */
static uint64_t write_until(agg_store *st, uint64_t seq, bool (*stop)(agg_store *, int),
                            uint64_t *events)
{
    for (;; seq++) {
        struct slic_batch *b = batch1("a", "s", 1, seq, "m", T0 + 10 * (int64_t)seq, 50);
        enum agg_ingest_result r;
        int rc =
            agg_store_write_batches(st, (const struct slic_batch *const *)&b, 1, &r, NULL, NULL);
        batch_free(b);
        if (rc == 0) {
            CHECK_INT_EQ(r, AGG_INGEST_ACCEPTED);
            *events += 50;
        } else {
            CHECK_INT_EQ(r, AGG_INGEST_RETRY);
        }
        if (stop(st, rc))
            return seq;
    }
}

static bool grown(agg_store *st, int rc)
{
    CHECK_OK(rc);
    struct agg_store_stats s;
    agg_store_stats_get(st, &s);
    return s.map_growths >= 3;
}

static bool refused(agg_store *st, int rc)
{
    (void)st;
    CHECK(rc == 0 || rc == SLIC_ERETRY);
    return rc == SLIC_ERETRY;
}

static void test_map_growth(void)
{
    struct fake_clock clk = {T0};
    struct agg_store_options o = {.map_size_initial = 64 << 10, .map_size_max = 64 << 20};
    agg_store *st = open_with(&o, &clk);
    uint64_t events = 0;
    uint64_t last = write_until(st, 1, grown, &events);
    CHECK_U64_EQ(total_of(st, "m", T0, T0 + 10 * (int64_t)last + 10, 60), events);
    struct agg_store_stats s;
    agg_store_stats_get(st, &s);
    CHECK(s.map_size >= 512 << 10);
    agg_store_close(st);
}

static void test_map_full_at_max(void)
{
    struct fake_clock clk = {T0};
    struct agg_store_options o = {.map_size_initial = 128 << 10, .map_size_max = 128 << 10};
    agg_store *st = open_with(&o, &clk);
    uint64_t events = 0;
    uint64_t seq = write_until(st, 1, refused, &events);
    /* The refused batch left nothing: not its data, not its seq. */
    uint64_t range_to = T0 + 10 * (int64_t)seq + 10;
    CHECK_U64_EQ(total_of(st, "m", T0, range_to, 60), events);
    struct agg_agent_info *ag = NULL;
    size_t n = 0;
    CHECK_OK(agg_store_list_agents(st, &ag, &n, NULL));
    CHECK_U64_EQ(ag[0].last_seq, seq - 1);
    slic_free(ag);
    agg_store_close(st);
    /* With room again, the same batch goes in. */
    o.map_size_max = 8 << 20;
    st = open_with(&o, &clk);
    write_free(st, batch1("a", "s", 1, seq, "m", T0 + 10 * (int64_t)seq, 50), AGG_INGEST_ACCEPTED);
    CHECK_U64_EQ(total_of(st, "m", T0, range_to, 60), events + 50);
    agg_store_close(st);
}

static void test_reopen_and_lists(void)
{
    struct fake_clock clk = {T0 + 120};
    struct agg_store_options o = {.nosync = true};
    agg_store *st = open_with(&o, &clk);
    write_exact(st);
    agg_store_close(st);
    st = open_default(&clk);
    check_exact(st, 3, "checkout", NULL, NULL, NULL, 10);
    struct agg_series_info *si = NULL;
    size_t n = 0;
    CHECK_OK(agg_store_list_series(st, &si, &n, NULL));
    CHECK_INT_EQ(n, 4);
    static const char *const want[4][2] = {
        {"checkout", "eu"}, {"checkout", "us"}, {"login", "eu"}, {"login", "us"}};
    for (size_t i = 0; i < n; i++) {
        CHECK_STR_EQ(si[i].sli, want[i][0]);
        CHECK_STR_EQ(si[i].site, want[i][1]);
        CHECK_INT_EQ(si[i].last_data, T0 + 10 * N_WINDOWS);
    }
    slic_free(si);
    struct agg_agent_info *ag = NULL;
    CHECK_OK(agg_store_list_agents(st, &ag, &n, NULL));
    CHECK_INT_EQ(n, N_AGENTS);
    for (size_t a = 0; a < n; a++) {
        CHECK_STR_EQ(ag[a].agent_id, agents[a]);
        CHECK_STR_EQ(ag[a].site, sites[a]);
        CHECK_STR_EQ(ag[a].node, agents[a]);
        CHECK_U64_EQ(ag[a].last_seq, N_WINDOWS);
        CHECK_INT_EQ(ag[a].last_seen, T0 + 120);
    }
    slic_free(ag);
    /* Retries after the reopen are still recognised. */
    write_free(st, batch1("a0", "eu", 1, 3, "login", T0, 5), AGG_INGEST_DUPLICATE);
    agg_store_close(st);
}

static void test_schema_and_settings_refused(void)
{
    struct fake_clock clk = {T0};
    agg_store *st = open_default(&clk);
    agg_store_close(st);
    struct agg_store_options o = {.alpha = 0.02};
    struct slic_errmsg err;
    CHECK_ERR(agg_store_open(store_dir(), &o, &st, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, store_dir()) != NULL && strstr(err.text, "alpha=0.02") != NULL);
    struct raw raw;
    raw_open(&raw, AGG_STORE_META_DB);
    uint8_t v99[4] = {99, 0, 0, 0};
    MDB_val k = {strlen(AGG_STORE_META_VERSION_KEY), AGG_STORE_META_VERSION_KEY};
    MDB_val v = {4, v99};
    CHECK_INT_EQ(mdb_put(raw.txn, raw.dbi, &k, &v, 0), 0);
    raw_close(&raw);
    CHECK_ERR(agg_store_open(store_dir(), NULL, &st, &err), SLIC_EVERSION);
    CHECK(strstr(err.text, store_dir()) != NULL && strstr(err.text, "version 99") != NULL);
    struct agg_store_options bad = {.retention_10s = 40 * DAY};
    CHECK_ERR(agg_store_open(store_dir(), &bad, &st, &err), SLIC_EINVAL);
}

static void test_corrupt_record(void)
{
    struct fake_clock clk = {T0};
    agg_store *st = open_default(&clk);
    write_free(st, batch1("a", "s", 1, 1, "x", T0, 5), AGG_INGEST_ACCEPTED);
    agg_store_close(st);
    struct raw raw; /* the first data key: the 10 s all-sites record of x at T0 */
    raw_open(&raw, "data");
    MDB_cursor *cur;
    MDB_val k, v;
    CHECK_INT_EQ(mdb_cursor_open(raw.txn, raw.dbi, &cur), 0);
    CHECK_INT_EQ(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    MDB_val junk = {13, "not a record"};
    CHECK_INT_EQ(mdb_cursor_put(cur, &k, &junk, MDB_CURRENT), 0);
    mdb_cursor_close(cur);
    raw_close(&raw);
    st = open_default(&clk);
    struct agg_query q = {.sli = "x", .from = T0, .to = T0 + 10, .resolution_seconds = 10};
    struct agg_query_result r;
    struct slic_errmsg err;
    CHECK_ERR(agg_store_query_sli(st, &q, &r, &err), SLIC_ESTORE);
    CHECK(strstr(err.text, "corrupt") && strstr(err.text, store_dir()) && strstr(err.text, "x"));
    /* A batch touching it is rejected; the rest of its group is not. */
    struct slic_batch *b[2] = {batch1("b", "s", 1, 1, "x", T0, 4),
                               batch1("c", "s", 1, 1, "x", T0 + 10, 6)};
    enum agg_ingest_result res[2];
    struct slic_errmsg why[2];
    CHECK_OK(agg_store_write_batches(st, (const struct slic_batch *const *)b, 2, res, why, NULL));
    CHECK_INT_EQ(res[0], AGG_INGEST_REJECTED);
    CHECK(strstr(why[0].text, "corrupt") != NULL);
    CHECK_INT_EQ(res[1], AGG_INGEST_ACCEPTED);
    batch_free(b[0]);
    batch_free(b[1]);
    CHECK_U64_EQ(total_of(st, "x", T0 + 10, T0 + 20, 10), 6);
    CHECK_U64_EQ(total_of(st, "x", T0, T0 + 60, 60), 11); /* the 1 m record was fine */
    agg_store_close(st);
}

static void test_rejected_batch_isolated(void)
{
    struct fake_clock clk = {T0};
    agg_store *st = open_default(&clk);
    struct slic_batch *huge = batch1("h", "s", 1, 1, "x", T0, 0);
    CHECK_OK(slic_sketch_create(ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, &huge->series[0].latency));
    CHECK_OK(slic_sketch_add_n(huge->series[0].latency, 0.1, UINT64_MAX - 10));
    huge->series[0].total = huge->series[0].good = UINT64_MAX - 10;
    write_free(st, huge, AGG_INGEST_ACCEPTED);
    struct slic_batch *b[3] = {batch1("a", "s", 1, 1, "y", T0, 3),
                               batch1("b", "s", 1, 1, "x", T0, 20), /* overflows the record */
                               batch1("c", "s", 1, 1, "y", T0, 4)};
    struct slic_batch *alpha = batch1("d", "s", 1, 1, "y", T0, 0);
    CHECK_OK(slic_sketch_create(0.02, 64, &alpha->series[0].latency));
    CHECK_OK(slic_sketch_add(alpha->series[0].latency, 0.5));
    alpha->series[0].total = 1;
    const struct slic_batch *group[4] = {b[0], b[1], alpha, b[2]};
    enum agg_ingest_result res[4];
    struct slic_errmsg why[4];
    CHECK_OK(agg_store_write_batches(st, group, 4, res, why, NULL));
    CHECK_INT_EQ(res[0], AGG_INGEST_ACCEPTED);
    CHECK_INT_EQ(res[1], AGG_INGEST_REJECTED);
    CHECK(strstr(why[1].text, "2^64") != NULL);
    CHECK_INT_EQ(res[2], AGG_INGEST_REJECTED);
    CHECK(strstr(why[2].text, "alpha") != NULL);
    CHECK_INT_EQ(res[3], AGG_INGEST_ACCEPTED);
    CHECK_U64_EQ(total_of(st, "y", T0, T0 + 10, 10), 7);
    CHECK_INT_EQ(write1(st, b[1]), AGG_INGEST_DUPLICATE); /* its seq was consumed */
    for (size_t i = 0; i < 3; i++)
        batch_free(b[i]);
    batch_free(alpha);
    agg_store_close(st);
}

struct reader {
    agg_store *st;
    atomic_bool stop;
    uint64_t queries;
    uint64_t last;
    bool failed;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    while (!atomic_load(&r->stop)) {
        struct agg_query q = {
            .sli = "m", .from = T0, .to = T0 + 100000, .resolution_seconds = 60, .now = T0};
        struct agg_query_result res;
        int rc = agg_store_query_sli(r->st, &q, &res, NULL);
        if (rc == SLIC_ENOTFOUND)
            continue; /* before the first commit */
        if (rc || res.total < r->last) {
            r->failed = true;
            return NULL;
        }
        r->last = res.total;
        r->queries++;
        agg_query_result_fini(&res);
    }
    return NULL;
}

static bool many(agg_store *st, int rc)
{
    (void)st;
    CHECK_OK(rc);
    static int n;
    return ++n >= 400;
}

static void test_concurrent_reader(void)
{
    struct fake_clock clk = {T0};
    /* A small map, so the writer grows it while the readers read. */
    struct agg_store_options o = {.map_size_initial = 64 << 10, .map_size_max = 256 << 20};
    agg_store *st = open_with(&o, &clk);
    struct reader r[2] = {{.st = st}, {.st = st}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK_INT_EQ(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
    uint64_t events = 0;
    write_until(st, 1, many, &events);
    for (int i = 0; i < 2; i++) {
        atomic_store(&r[i].stop, true);
        CHECK_INT_EQ(pthread_join(t[i], NULL), 0);
        CHECK(!r[i].failed);
        CHECK(r[i].queries > 0);
    }
    CHECK_U64_EQ(total_of(st, "m", T0, T0 + 100000, 60), events);
    struct agg_store_stats s;
    agg_store_stats_get(st, &s);
    CHECK(s.map_growths > 0);
    agg_store_close(st);
}

static void test_alloc_failure(void)
{
    struct fake_clock clk = {T0};
    agg_store *st = open_default(&clk);
    uint64_t want = 0;
    for (long k = 0; k < 24; k++) {
        struct slic_batch *b = batch1("a", "s", 1, (uint64_t)k + 1, "x", T0 + 10 * k, 30 + k);
        enum agg_ingest_result r;
        slic_alloc_fail_after(k / 3);
        int rc =
            agg_store_write_batches(st, (const struct slic_batch *const *)&b, 1, &r, NULL, NULL);
        slic_alloc_fail_after(-1);
        CHECK(rc == 0 || (rc == SLIC_ENOMEM && r == AGG_INGEST_RETRY));
        if (rc)
            CHECK_INT_EQ(write1(st, b), AGG_INGEST_ACCEPTED);
        want += 30 + (uint64_t)k;
        batch_free(b);
        struct agg_query q = {.sli = "x", .from = T0, .to = T0 + 1000, .resolution_seconds = 10};
        struct agg_query_result res;
        slic_alloc_fail_after(k % 4);
        rc = agg_store_query_sli(st, &q, &res, NULL);
        slic_alloc_fail_after(-1);
        CHECK(rc == 0 || rc == SLIC_ENOMEM);
        if (rc == 0) {
            CHECK_U64_EQ(res.total, want);
            agg_query_result_fini(&res);
        }
    }
    CHECK_U64_EQ(total_of(st, "x", T0, T0 + 1000, 10), want);
    agg_store_close(st);
}

HARNESS_CASES(HARNESS_CASE(test_exact_counts), HARNESS_CASE(test_scopes_and_not_found),
              HARNESS_CASE(test_rollups_exact), HARNESS_CASE(test_duplicates_out_of_order),
              HARNESS_CASE(test_group_duplicates), HARNESS_CASE(test_epochs),
              HARNESS_CASE(test_windows_coarse_and_late), HARNESS_CASE(test_thresholds_exact),
              HARNESS_CASE(test_label_collision), HARNESS_CASE(test_retention),
              HARNESS_CASE(test_map_growth), HARNESS_CASE(test_map_full_at_max),
              HARNESS_CASE(test_reopen_and_lists), HARNESS_CASE(test_schema_and_settings_refused),
              HARNESS_CASE(test_corrupt_record), HARNESS_CASE(test_rejected_batch_isolated),
              HARNESS_CASE(test_concurrent_reader), HARNESS_CASE(test_alloc_failure));

HARNESS_MAIN()
