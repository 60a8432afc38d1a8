/* Tests of the aggregator's query handler (aggregator/query.c) against a real store in a temp
 * dir: a fixture of two agents' batches with known latencies, then Query messages built in C.
 *
 *   sli_totals_and_quantiles   count, good, sum, min, max; quantiles within alpha of exact
 *   sli_threshold_exact        a threshold every record counted exactly: exact, lower == upper
 *   sli_threshold_bounds       any other threshold: sketch bounds around the true count
 *   sli_site_and_node_filters  site and node narrow the answer
 *   sli_label_matchers         a label matcher narrows it; an unmatched one is NOT_FOUND
 *   sli_default_range          absent to = now, absent from = to - 1 h
 *   sli_empty_range            a known SLI with no data in range: zero counts, no quantile values
 *   not_found_names_what       unknown SLI, site or node: NOT_FOUND naming it
 *   bad_query_names_field      each malformed field: BAD_QUERY whose error starts with its name
 *   series_grouped_by_sli      SERIES: one entry per SLI with its sites and newest data
 *   series_empty_store         SERIES and AGENTS of an empty store, SLOS without SLO engine: OK
 *                              with empty lists (an SLO by name: NOT_FOUND naming it)
 *   agents_listed              AGENTS: every agent with site, node, epoch, seq, last seen
 *   reply_serializes           pack + unpack of SLI, SERIES and AGENTS replies keeps every field
 *   alloc_failures             every allocation failure is SLIC_ENOMEM, nothing leaks */
#include "harness.h"

#include "alloc.h"
#include "codec.h"
#include "codec_batch.h"
#include "query.h"
#include "store.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T0 INT64_C(1764151200) /* 2025-11-26T10:00:00Z: the store's clock and queries' now */
#define ALPHA SLIC_SKETCH_DEFAULT_ALPHA
#define EXACT_THRESHOLD 0.05

/* The fixture: latencies (seconds) of each series, kept to compute exact answers. */
#define N_EU 100 /* checkout at eu-zrh, node n1: 1 ms .. 100 ms, the 10 slowest bad */
#define N_US 50  /* checkout at us-east, node n2: 100 ms .. 198 ms, all good */
#define N_SEARCH 10

static double eu_values[N_EU];
static double us_values[N_US];

static int64_t fixed_clock(void *ctx)
{
    (void)ctx;
    return T0;
}

static agg_store *store_open_tmp(void)
{
    struct agg_store_options o = {
        .map_size_initial = (size_t)16 << 20, .nosync = true, .clock = fixed_clock};
    agg_store *st = NULL;
    struct slic_errmsg err = {{0}};
    int rc = agg_store_open(harness_tmpdir(), &o, &st, &err);
    if (rc)
        harness_fail(__FILE__, __LINE__, "agg_store_open: %s", err.text);
    return st;
}

static slic_sketch *sketch_of(const double *v, size_t n)
{
    slic_sketch *sk = NULL;
    CHECK_OK(slic_sketch_create_mapped(ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                                       SLIC_SKETCH_MAPPING_CUBIC, &sk));
    for (size_t i = 0; i < n; i++)
        CHECK_OK(slic_sketch_add(sk, v[i]));
    return sk;
}

static uint64_t count_le(const double *v, size_t n, double t)
{
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += v[i] <= t;
    return c;
}

static void write_batch(agg_store *st, struct slic_batch *b)
{
    const struct slic_batch *bp = b;
    enum agg_ingest_result res = 0;
    struct slic_errmsg reason = {{0}}, err = {{0}};
    int rc = agg_store_write_batches(st, &bp, 1, &res, &reason, &err);
    if (rc || res != AGG_INGEST_ACCEPTED)
        harness_fail(__FILE__, __LINE__, "write %s: rc %d (%s), result %d (%s)", b->agent_id, rc,
                     err.text, (int)res, reason.text);
}

/* a1 (eu-zrh/n1): checkout{route=/pay} at T0-600. a2 (us-east/n2): checkout and search at
 * T0-300. Both checkout series count EXACT_THRESHOLD exactly. */
static agg_store *fixture(void)
{
    agg_store *st = store_open_tmp();
    for (int i = 0; i < N_EU; i++)
        eu_values[i] = 0.001 * (i + 1);
    for (int i = 0; i < N_US; i++)
        us_values[i] = 0.1 + 0.002 * i;
    double search_values[N_SEARCH];
    for (int i = 0; i < N_SEARCH; i++)
        search_values[i] = 0.01;

    struct slic_label pay[1] = {{"route", "/pay"}};
    struct slic_threshold_count eu_thr = {EXACT_THRESHOLD, count_le(eu_values, N_EU, 0.05),
                                          count_le(eu_values, N_EU, 0.05)};
    struct slic_series eu = {.sli = "checkout",
                             .labels = pay,
                             .n_labels = 1,
                             .window_start = T0 - 600,
                             .window_seconds = 10,
                             .total = N_EU,
                             .good = N_EU - 10,
                             .latency = sketch_of(eu_values, N_EU),
                             .thresholds = &eu_thr,
                             .n_thresholds = 1};
    struct slic_batch b1 = {.agent_id = "a1",
                            .site = "eu-zrh",
                            .node = "n1",
                            .epoch = 7,
                            .seq = 1,
                            .series = &eu,
                            .n_series = 1};
    write_batch(st, &b1);
    slic_sketch_destroy(eu.latency);

    struct slic_threshold_count us_thr = {EXACT_THRESHOLD, 0, 0};
    struct slic_series us[2] = {
        {.sli = "checkout",
         .window_start = T0 - 300,
         .window_seconds = 10,
         .total = N_US,
         .good = N_US,
         .latency = sketch_of(us_values, N_US),
         .thresholds = &us_thr,
         .n_thresholds = 1},
        {.sli = "search",
         .window_start = T0 - 300,
         .window_seconds = 10,
         .total = N_SEARCH,
         .good = N_SEARCH,
         .latency = sketch_of(search_values, N_SEARCH)},
    };
    struct slic_batch b2 = {.agent_id = "a2",
                            .site = "us-east",
                            .node = "n2",
                            .epoch = 9,
                            .seq = 1,
                            .series = us,
                            .n_series = 2};
    write_batch(st, &b2);
    slic_sketch_destroy(us[0].latency);
    slic_sketch_destroy(us[1].latency);
    return st;
}

/* A well-formed SLI query over the hour before T0; tests change what they need. */
struct query_buf {
    Slic__Query q;
    double quantiles[40];
    double thresholds[20];
    Slic__Label labels[10];
    Slic__Label *label_ptrs[10];
};

static void query_init(struct query_buf *b, Slic__Query__Kind kind, const char *sli)
{
    memset(b, 0, sizeof *b);
    slic__query__init(&b->q);
    b->q.has_schema_version = b->q.has_kind = 1;
    b->q.schema_version = CODEC_SCHEMA_VERSION;
    b->q.kind = kind;
    b->q.sli = (char *)sli;
    b->q.has_from = b->q.has_to = 1;
    b->q.from = T0 - 3600;
    b->q.to = T0;
    b->q.quantiles = b->quantiles;
    b->q.thresholds = b->thresholds;
    b->q.labels = b->label_ptrs;
    for (int i = 0; i < 10; i++) {
        slic__label__init(&b->labels[i]);
        b->label_ptrs[i] = &b->labels[i];
    }
}

static void query_add_label(struct query_buf *b, const char *key, const char *value)
{
    b->labels[b->q.n_labels].key = (char *)key;
    b->labels[b->q.n_labels].value = (char *)value;
    b->q.n_labels++;
}

static Slic__Reply *answer(agg_store *st, const struct query_buf *b)
{
    Slic__Reply *r = NULL;
    CHECK_OK(agg_query_answer(st, &b->q, T0, &r));
    CHECK(r != NULL);
    CHECK(r->has_schema_version && r->schema_version == CODEC_SCHEMA_VERSION);
    CHECK(r->has_status);
    return r;
}

static Slic__Reply *answer_ok(agg_store *st, const struct query_buf *b)
{
    Slic__Reply *r = answer(st, b);
    if (r->status != SLIC__REPLY__STATUS__OK)
        harness_fail(__FILE__, __LINE__, "status %d: %s", (int)r->status, r->error ? r->error : "");
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value slic_sketch_quantile aims at: rank floor(q * (n - 1)) of the sorted values. */
static double exact_quantile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[(size_t)floor(q * (double)(n - 1))];
}

/* ---- SLI ----------------------------------------------------------------------------------- */

static void test_sli_totals_and_quantiles(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SLI, "checkout");
    const double qs[] = {0, 0.5, 0.9, 0.99, 0.999, 1};
    memcpy(b.quantiles, qs, sizeof qs);
    b.q.n_quantiles = sizeof qs / sizeof qs[0];

    Slic__Reply *r = answer_ok(st, &b);
    const Slic__SliResult *s = r->sli;
    CHECK(s != NULL);
    CHECK_STR_EQ(s->sli, "checkout");
    CHECK_U64_EQ(s->count, N_EU + N_US);
    CHECK_U64_EQ(s->good, N_EU + N_US - 10);
    CHECK_INT_EQ(s->resolution_seconds, 10);
    CHECK_INT_EQ(s->from, T0 - 3600);
    CHECK_INT_EQ(s->to, T0);
    CHECK_DBL_EQ(s->min, 0.001);
    CHECK_DBL_EQ(s->max, 0.1 + 0.002 * (N_US - 1));

    double all[N_EU + N_US], sum = 0;
    memcpy(all, eu_values, sizeof eu_values);
    memcpy(all + N_EU, us_values, sizeof us_values);
    for (int i = 0; i < N_EU + N_US; i++)
        sum += all[i];
    CHECK_REL(s->sum, sum, 1e-9);

    CHECK_INT_EQ(s->n_quantiles, b.q.n_quantiles);
    for (size_t i = 0; i < s->n_quantiles; i++) {
        CHECK_DBL_EQ(s->quantiles[i]->q, qs[i]);
        CHECK(s->quantiles[i]->has_value);
        CHECK_REL(s->quantiles[i]->value, exact_quantile(all, N_EU + N_US, qs[i]), ALPHA * 1.001);
    }
    CHECK(s->latency != NULL);
    CHECK_U64_EQ(s->latency->count, N_EU + N_US);
    CHECK_INT_EQ(s->n_thresholds, 0);
    agg_query_reply_free(r);
    agg_store_close(st);
}

static void test_sli_threshold_exact(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SLI, "checkout");
    b.thresholds[0] = EXACT_THRESHOLD;
    b.q.n_thresholds = 1;
    Slic__Reply *r = answer_ok(st, &b);
    CHECK_INT_EQ(r->sli->n_thresholds, 1);
    const Slic__ThresholdFraction *f = r->sli->thresholds[0];
    CHECK_DBL_EQ(f->threshold, EXACT_THRESHOLD);
    CHECK(f->has_exact && f->exact);
    CHECK_U64_EQ(f->count_lower, count_le(eu_values, N_EU, EXACT_THRESHOLD));
    CHECK_U64_EQ(f->count_upper, f->count_lower);
    agg_query_reply_free(r);
    agg_store_close(st);
}

static void test_sli_threshold_bounds(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SLI, "checkout");
    /* 0.0755 lies inside a bucket, away from every fixture value; 10 s and 1 s bracket all. */
    const double ts[] = {0.0755, 0.15, 10, 1e-6};
    memcpy(b.thresholds, ts, sizeof ts);
    b.q.n_thresholds = 4;
    Slic__Reply *r = answer_ok(st, &b);
    CHECK_INT_EQ(r->sli->n_thresholds, 4);
    for (size_t i = 0; i < 4; i++) {
        const Slic__ThresholdFraction *f = r->sli->thresholds[i];
        uint64_t truth = count_le(eu_values, N_EU, ts[i]) + count_le(us_values, N_US, ts[i]);
        CHECK_DBL_EQ(f->threshold, ts[i]);
        CHECK(f->has_exact && !f->exact);
        CHECK(f->count_lower <= truth && truth <= f->count_upper);
        /* The uncertainty is one bucket of 2 % width: a few values at most. */
        CHECK(f->count_upper - f->count_lower <= 3);
    }
    CHECK_U64_EQ(r->sli->thresholds[2]->count_lower, N_EU + N_US);
    CHECK_U64_EQ(r->sli->thresholds[3]->count_upper, 0);
    agg_query_reply_free(r);
    agg_store_close(st);
}

static void test_sli_site_and_node_filters(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SLI, "checkout");
    b.q.site = "eu-zrh";
    Slic__Reply *r = answer_ok(st, &b);
    CHECK_U64_EQ(r->sli->count, N_EU);
    CHECK_U64_EQ(r->sli->good, N_EU - 10);
    agg_query_reply_free(r);

    b.q.site = NULL;
    b.q.node = "n2";
    r = answer_ok(st, &b);
    CHECK_U64_EQ(r->sli->count, N_US);
    CHECK_U64_EQ(r->sli->good, N_US);
    CHECK_DBL_EQ(r->sli->min, 0.1);
    agg_query_reply_free(r);
    agg_store_close(st);
}

static void test_sli_label_matchers(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SLI, "checkout");
    query_add_label(&b, "route", "/pay");
    Slic__Reply *r = answer_ok(st, &b);
    CHECK_U64_EQ(r->sli->count, N_EU);
    agg_query_reply_free(r);

    b.labels[0].value = "/cart";
    r = answer(st, &b);
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__NOT_FOUND);
    CHECK(r->sli == NULL);
    CHECK(strstr(r->error, "route=/cart") != NULL);
    agg_query_reply_free(r);
    agg_store_close(st);
}

static void test_sli_default_range(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SLI, "checkout");
    b.q.has_from = b.q.has_to = 0;
    Slic__Reply *r = answer_ok(st, &b);
    CHECK_INT_EQ(r->sli->to, T0);
    CHECK_INT_EQ(r->sli->from, T0 - 3600);
    CHECK_U64_EQ(r->sli->count, N_EU + N_US);
    agg_query_reply_free(r);

    /* Only `to`: the hour before it, which holds the eu window but not the us one. */
    b.q.has_to = 1;
    b.q.to = T0 - 400;
    r = answer_ok(st, &b);
    CHECK_INT_EQ(r->sli->from, T0 - 4000);
    CHECK_U64_EQ(r->sli->count, N_EU);
    agg_query_reply_free(r);

    /* Only `from`: up to now. */
    b.q.has_to = 0;
    b.q.has_from = 1;
    b.q.from = T0 - 400;
    r = answer_ok(st, &b);
    CHECK_INT_EQ(r->sli->to, T0);
    CHECK_U64_EQ(r->sli->count, N_US);
    agg_query_reply_free(r);
    agg_store_close(st);
}

static void test_sli_empty_range(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SLI, "checkout");
    b.q.from = T0 - 7200;
    b.q.to = T0 - 3600;
    b.quantiles[0] = 0.5;
    b.q.n_quantiles = 1;
    b.thresholds[0] = 0.3;
    b.q.n_thresholds = 1;
    Slic__Reply *r = answer_ok(st, &b);
    CHECK_U64_EQ(r->sli->count, 0);
    CHECK_U64_EQ(r->sli->good, 0);
    CHECK_INT_EQ(r->sli->n_quantiles, 1);
    CHECK(r->sli->quantiles[0]->has_q && !r->sli->quantiles[0]->has_value);
    CHECK_U64_EQ(r->sli->thresholds[0]->count_upper, 0);
    agg_query_reply_free(r);
    agg_store_close(st);
}

static void test_not_found_names_what(void)
{
    agg_store *st = fixture();
    struct {
        const char *sli, *site, *node, *want;
    } cases[] = {
        {"nope", NULL, NULL, "SLI 'nope'"},
        {"checkout", "ap-south", NULL, "site 'ap-south'"},
        {"checkout", NULL, "n9", "node 'n9'"},
        {"search", "eu-zrh", NULL, "SLI 'search' at site 'eu-zrh'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct query_buf b;
        query_init(&b, SLIC__QUERY__KIND__SLI, cases[i].sli);
        b.q.site = (char *)cases[i].site;
        b.q.node = (char *)cases[i].node;
        Slic__Reply *r = answer(st, &b);
        CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__NOT_FOUND);
        CHECK(r->error != NULL);
        if (!strstr(r->error, cases[i].want))
            harness_fail(__FILE__, __LINE__, "case %zu: '%s' does not name %s", i, r->error,
                         cases[i].want);
        agg_query_reply_free(r);
    }
    agg_store_close(st);
}

/* ---- BAD_QUERY ----------------------------------------------------------------------------- */

static void bad_schema_absent(struct query_buf *b)
{
    b->q.has_schema_version = 0;
}
static void bad_schema_2(struct query_buf *b)
{
    b->q.schema_version = 2;
}
static void bad_kind_absent(struct query_buf *b)
{
    b->q.has_kind = 0;
}
static void bad_kind_unknown(struct query_buf *b)
{
    b->q.kind = (Slic__Query__Kind)9;
}
static void bad_sli_absent(struct query_buf *b)
{
    b->q.sli = NULL;
}
static void bad_sli_syntax(struct query_buf *b)
{
    b->q.sli = "check out";
}
static void bad_site_syntax(struct query_buf *b)
{
    b->q.site = "eu/zrh";
}
static void bad_node_syntax(struct query_buf *b)
{
    b->q.node = "n\x1b[31m";
}
static void bad_site_and_node(struct query_buf *b)
{
    b->q.site = "eu-zrh", b->q.node = "n1";
}
static void bad_quantile_high(struct query_buf *b)
{
    b->quantiles[0] = 1.5, b->q.n_quantiles = 1;
}
static void bad_quantile_neg(struct query_buf *b)
{
    b->quantiles[0] = -0.1, b->q.n_quantiles = 1;
}
static void bad_quantile_nan(struct query_buf *b)
{
    b->quantiles[0] = NAN, b->q.n_quantiles = 1;
}
static void bad_quantile_many(struct query_buf *b)
{
    b->q.n_quantiles = 33;
}
static void bad_threshold_zero(struct query_buf *b)
{
    b->q.n_thresholds = 1;
}
static void bad_threshold_neg(struct query_buf *b)
{
    b->thresholds[0] = 0.1, b->thresholds[1] = -1, b->q.n_thresholds = 2;
}
static void bad_threshold_inf(struct query_buf *b)
{
    b->thresholds[0] = INFINITY, b->q.n_thresholds = 1;
}
static void bad_threshold_nan(struct query_buf *b)
{
    b->thresholds[0] = NAN, b->q.n_thresholds = 1;
}
static void bad_threshold_many(struct query_buf *b)
{
    for (int i = 0; i < 17; i++)
        b->thresholds[i] = 0.1 * (i + 1);
    b->q.n_thresholds = 17;
}
static void bad_range_empty(struct query_buf *b)
{
    b->q.from = b->q.to;
}
static void bad_range_reversed(struct query_buf *b)
{
    b->q.from = T0, b->q.to = T0 - 60;
}
static void bad_to_huge(struct query_buf *b)
{
    b->q.to = INT64_MAX;
}
static void bad_from_tiny(struct query_buf *b)
{
    b->q.from = INT64_MIN;
}
static void bad_label_key(struct query_buf *b)
{
    query_add_label(b, "1route", "/pay");
}
static void bad_label_key_absent(struct query_buf *b)
{
    query_add_label(b, NULL, "/pay");
}
static void bad_label_value_absent(struct query_buf *b)
{
    query_add_label(b, "route", NULL);
}
static void bad_label_value(struct query_buf *b)
{
    query_add_label(b, "route", "/p\tay");
}
static void bad_label_twice(struct query_buf *b)
{
    query_add_label(b, "route", "/pay");
    query_add_label(b, "route", "/cart");
}
static void bad_label_many(struct query_buf *b)
{
    static const char *keys[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    for (int i = 0; i < 9; i++)
        query_add_label(b, keys[i], "x");
}

static void test_bad_query_names_field(void)
{
    agg_store *st = fixture();
    const struct {
        void (*mutate)(struct query_buf *);
        const char *field;
    } cases[] = {
        {bad_schema_absent, "schema_version: "},
        {bad_schema_2, "schema_version: "},
        {bad_kind_absent, "kind: "},
        {bad_kind_unknown, "kind: "},
        {bad_sli_absent, "sli: "},
        {bad_sli_syntax, "sli: 'check out'"},
        {bad_site_syntax, "site: 'eu/zrh'"},
        {bad_node_syntax, "node: 'n?[31m'"},
        {bad_site_and_node, "node: "},
        {bad_quantile_high, "quantiles[0]: 1.5"},
        {bad_quantile_neg, "quantiles[0]: "},
        {bad_quantile_nan, "quantiles[0]: "},
        {bad_quantile_many, "quantiles: 33"},
        {bad_threshold_zero, "thresholds[0]: 0 "},
        {bad_threshold_neg, "thresholds[1]: -1"},
        {bad_threshold_inf, "thresholds[0]: "},
        {bad_threshold_nan, "thresholds[0]: "},
        {bad_threshold_many, "thresholds: 17"},
        {bad_range_empty, "from: "},
        {bad_range_reversed, "from: "},
        {bad_to_huge, "to: "},
        {bad_from_tiny, "from: "},
        {bad_label_key, "labels[0].key: '1route'"},
        {bad_label_key_absent, "labels[0].key: "},
        {bad_label_value_absent, "labels[0].value: "},
        {bad_label_value, "labels[0].value: "},
        {bad_label_twice, "labels[1].key: 'route'"},
        {bad_label_many, "labels: 9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct query_buf b;
        query_init(&b, SLIC__QUERY__KIND__SLI, "checkout");
        cases[i].mutate(&b);
        Slic__Reply *r = answer(st, &b);
        if (r->status != SLIC__REPLY__STATUS__BAD_QUERY || !r->error ||
            strncmp(r->error, cases[i].field, strlen(cases[i].field)) != 0)
            harness_fail(__FILE__, __LINE__, "case %zu: status %d, error '%s', expected '%s...'", i,
                         (int)r->status, r->error ? r->error : "(none)", cases[i].field);
        CHECK(r->sli == NULL && r->n_series == 0 && r->n_agents == 0);
        agg_query_reply_free(r);
    }
    agg_store_close(st);
}

/* ---- SERIES and AGENTS --------------------------------------------------------------------- */

static void test_series_grouped_by_sli(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SERIES, NULL);
    Slic__Reply *r = answer_ok(st, &b);
    CHECK_INT_EQ(r->n_series, 2);
    const Slic__SeriesInfo *c = r->series[0], *s = r->series[1];
    CHECK_STR_EQ(c->sli, "checkout");
    CHECK_INT_EQ(c->n_sites, 2);
    CHECK_STR_EQ(c->sites[0], "eu-zrh");
    CHECK_STR_EQ(c->sites[1], "us-east");
    CHECK(c->has_last_data);
    CHECK_INT_EQ(c->last_data, T0 - 290);
    CHECK_STR_EQ(s->sli, "search");
    CHECK_INT_EQ(s->n_sites, 1);
    CHECK_STR_EQ(s->sites[0], "us-east");
    CHECK_INT_EQ(s->last_data, T0 - 290);
    agg_query_reply_free(r);
    agg_store_close(st);
}

static void test_series_empty_store(void)
{
    agg_store *st = store_open_tmp();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SERIES, NULL);
    Slic__Reply *r = answer_ok(st, &b);
    CHECK_INT_EQ(r->n_series, 0);
    agg_query_reply_free(r);
    query_init(&b, SLIC__QUERY__KIND__AGENTS, NULL);
    r = answer_ok(st, &b);
    CHECK_INT_EQ(r->n_agents, 0);
    agg_query_reply_free(r);
    query_init(&b, SLIC__QUERY__KIND__SLOS, NULL);
    r = answer_ok(st, &b);
    CHECK_INT_EQ(r->n_slos, 0);
    agg_query_reply_free(r);
    b.q.slo = "checkout-latency";
    r = answer(st, &b);
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__NOT_FOUND);
    CHECK_STR_EQ(r->error, "no SLO named 'checkout-latency'");
    agg_query_reply_free(r);
    agg_store_close(st);
}

static void test_agents_listed(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__AGENTS, NULL);
    Slic__Reply *r = answer_ok(st, &b);
    CHECK_INT_EQ(r->n_agents, 2);
    const Slic__AgentInfo *a1 = r->agents[0], *a2 = r->agents[1];
    CHECK_STR_EQ(a1->agent_id, "a1");
    CHECK_STR_EQ(a1->site, "eu-zrh");
    CHECK_STR_EQ(a1->node, "n1");
    CHECK_U64_EQ(a1->epoch, 7);
    CHECK_U64_EQ(a1->last_seq, 1);
    CHECK_INT_EQ(a1->last_seen, T0);
    CHECK_STR_EQ(a2->agent_id, "a2");
    CHECK_STR_EQ(a2->site, "us-east");
    CHECK_STR_EQ(a2->node, "n2");
    CHECK_U64_EQ(a2->epoch, 9);
    agg_query_reply_free(r);
    agg_store_close(st);
}

/* ---- serialization ------------------------------------------------------------------------- */

static Slic__Reply *round_trip(const Slic__Reply *r)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(codec_response_pack(NULL, r, &buf, &len));
    Slic__Reply *back = NULL;
    struct codec_error cerr = {0};
    CHECK_OK(codec_response_unpack(buf, len, NULL, &back, &cerr));
    slic_free(buf);
    return back;
}

static void test_reply_serializes(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SLI, "checkout");
    b.quantiles[0] = 0.99;
    b.q.n_quantiles = 1;
    b.thresholds[0] = EXACT_THRESHOLD;
    b.thresholds[1] = 0.0755;
    b.q.n_thresholds = 2;
    Slic__Reply *r = answer_ok(st, &b);
    Slic__Reply *back = round_trip(r);
    CHECK_INT_EQ(back->status, SLIC__REPLY__STATUS__OK);
    CHECK(back->sli != NULL);
    CHECK_STR_EQ(back->sli->sli, "checkout");
    CHECK_U64_EQ(back->sli->count, r->sli->count);
    CHECK_U64_EQ(back->sli->good, r->sli->good);
    CHECK_DBL_EQ(back->sli->sum, r->sli->sum);
    CHECK_INT_EQ(back->sli->from, r->sli->from);
    CHECK_DBL_EQ(back->sli->quantiles[0]->value, r->sli->quantiles[0]->value);
    CHECK_INT_EQ(back->sli->n_thresholds, 2);
    CHECK(back->sli->thresholds[0]->exact && !back->sli->thresholds[1]->exact);
    CHECK_U64_EQ(back->sli->thresholds[1]->count_upper, r->sli->thresholds[1]->count_upper);
    /* The sketch decodes, and to the very sketch the store merged. */
    slic_sketch *sk = NULL, *want = NULL;
    struct codec_error cerr = {0};
    CHECK_OK(
        codec_sketch_from_msg(back->sli->latency, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, &sk, &cerr));
    CHECK_OK(codec_sketch_from_msg(r->sli->latency, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, &want, &cerr));
    CHECK(slic_sketch_equal(sk, want));
    CHECK_U64_EQ(slic_sketch_count(sk), N_EU + N_US);
    slic_sketch_destroy(sk);
    slic_sketch_destroy(want);
    codec_reply_free(back);
    agg_query_reply_free(r);

    query_init(&b, SLIC__QUERY__KIND__SERIES, NULL);
    r = answer_ok(st, &b);
    back = round_trip(r);
    CHECK_INT_EQ(back->n_series, 2);
    CHECK_INT_EQ(back->series[0]->n_sites, 2);
    CHECK_STR_EQ(back->series[0]->sites[1], "us-east");
    CHECK_INT_EQ(back->series[1]->last_data, T0 - 290);
    codec_reply_free(back);
    agg_query_reply_free(r);

    query_init(&b, SLIC__QUERY__KIND__AGENTS, NULL);
    r = answer_ok(st, &b);
    back = round_trip(r);
    CHECK_INT_EQ(back->n_agents, 2);
    CHECK_STR_EQ(back->agents[1]->node, "n2");
    CHECK_U64_EQ(back->agents[1]->epoch, 9);
    codec_reply_free(back);
    agg_query_reply_free(r);

    /* An error reply too. */
    query_init(&b, SLIC__QUERY__KIND__SLI, "nope");
    r = answer(st, &b);
    back = round_trip(r);
    CHECK_INT_EQ(back->status, SLIC__REPLY__STATUS__NOT_FOUND);
    CHECK_STR_EQ(back->error, r->error);
    codec_reply_free(back);
    agg_query_reply_free(r);
    agg_store_close(st);
}

/* ---- allocation failures ------------------------------------------------------------------- */

/* Fails the first, second, ... allocation until the answer succeeds; every failure must be
 * SLIC_ENOMEM and leave nothing allocated (LeakSanitizer checks at exit). */
static void alloc_failure_loop(agg_store *st, const struct query_buf *b)
{
    for (long n = 0;; n++) {
        Slic__Reply *r = NULL;
        slic_alloc_fail_after(n);
        int rc = agg_query_answer(st, &b->q, T0, &r);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__OK);
            agg_query_reply_free(r);
            CHECK(n > 0);
            return;
        }
        CHECK_ERR(rc, SLIC_ENOMEM);
        CHECK(r == NULL);
        CHECK(n < 10000);
    }
}

static void test_alloc_failures(void)
{
    agg_store *st = fixture();
    struct query_buf b;
    query_init(&b, SLIC__QUERY__KIND__SLI, "checkout");
    b.quantiles[0] = 0.5;
    b.q.n_quantiles = 1;
    b.thresholds[0] = EXACT_THRESHOLD;
    b.thresholds[1] = 0.2;
    b.q.n_thresholds = 2;
    alloc_failure_loop(st, &b);
    query_init(&b, SLIC__QUERY__KIND__SERIES, NULL);
    alloc_failure_loop(st, &b);
    query_init(&b, SLIC__QUERY__KIND__AGENTS, NULL);
    alloc_failure_loop(st, &b);
    agg_store_close(st);
}

HARNESS_CASES(HARNESS_CASE(test_sli_totals_and_quantiles), HARNESS_CASE(test_sli_threshold_exact),
              HARNESS_CASE(test_sli_threshold_bounds), HARNESS_CASE(test_sli_site_and_node_filters),
              HARNESS_CASE(test_sli_label_matchers), HARNESS_CASE(test_sli_default_range),
              HARNESS_CASE(test_sli_empty_range), HARNESS_CASE(test_not_found_names_what),
              HARNESS_CASE(test_bad_query_names_field), HARNESS_CASE(test_series_grouped_by_sli),
              HARNESS_CASE(test_series_empty_store), HARNESS_CASE(test_agents_listed),
              HARNESS_CASE(test_reply_serializes), HARNESS_CASE(test_alloc_failures));
HARNESS_MAIN()
