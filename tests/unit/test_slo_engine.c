/* Tests of the SLO engine (aggregator/slo_engine*.c) on a real store in a temporary directory
 * with a fake clock: ratio SLOs equal good / total of the store exactly, per site and across
 * sites; site patterns select scopes; threshold SLOs bound the true count; Timeslices count
 * slices; a reload re-evaluates at once, keeps alert states only for unchanged definitions and
 * never invalidates a wanted list still held; the thread evaluates on a kick; the JSON and
 * metrics carry the numbers; alerts are handed over after each cycle. The Reply of `slic slo`
 * (agg_slo_engine_reply) carries the snapshot's numbers, answers unknown names and sites with
 * NOT_FOUND, survives the wire and renders to exactly the bytes of /api/v1/slos; queries of
 * kind SLOS reach it through agg_query_answer_all, which checks their names. */
#include "harness.h"

#include "../../aggregator/slo_engine_int.h"
#include "../../aggregator/store.h"
#include "../../aggregator/query.h"
#include "alloc.h"
#include "codec_batch.h"
#include "reply_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An hour boundary. */
#define T0 INT64_C(1699999200)
#define NOW (T0 + 3600)

static int64_t fake_now(void *ctx)
{
    return *(const int64_t *)ctx;
}

static int64_t clock_now = NOW;

#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            harness_fail(__FILE__, __LINE__, "\"%.2000s\" does not contain \"%s\"", (hay),         \
                         (needle));                                                                \
    } while (0)

/* ---- data: an hour of 10 s windows at two sites ---- */

/* Latencies 1..997 ms, evenly spread; good when <= 0.5 s. */
static double value_of(uint64_t seed, size_t i)
{
    return 0.001 * (double)(1 + (seed * 7919 + i * 104729) % 997);
}

#define EVENTS 40

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = slic_malloc(n);
    CHECK(p != NULL);
    return memcpy(p, s, n);
}

static void write_window(agg_store *st, const char *site, uint64_t seq, int64_t start,
                         uint64_t seed)
{
    struct slic_batch b = {0};
    b.agent_id = dup_str(site);
    b.site = dup_str(site);
    b.node = dup_str(site);
    b.epoch = 1;
    b.seq = seq;
    b.series = slic_calloc(1, sizeof *b.series);
    CHECK(b.series != NULL);
    b.n_series = 1;
    struct slic_series *s = &b.series[0];
    s->sli = dup_str("checkout");
    s->window_start = start;
    s->window_seconds = 10;
    CHECK_OK(slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                                &s->latency));
    for (size_t i = 0; i < EVENTS; i++) {
        double v = value_of(seed, i);
        CHECK_OK(slic_sketch_add(s->latency, v));
        s->total++;
        s->good += v <= 0.5;
    }
    const struct slic_batch *p = &b;
    enum agg_ingest_result r = 0;
    CHECK_OK(agg_store_write_batches(st, &p, 1, &r, NULL, NULL));
    CHECK_INT_EQ(r, AGG_INGEST_ACCEPTED);
    slic_batch_fini(&b);
}

static uint64_t seed_of(int site, uint64_t w)
{
    return (uint64_t)site * 1000 + w;
}

static agg_store *store_with_data(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/store", harness_tmpdir());
    struct agg_store_options o = {
        .map_size_initial = 16 << 20, .clock = fake_now, .clock_ctx = &clock_now};
    agg_store *st = NULL;
    CHECK_OK(agg_store_open(path, &o, &st, NULL));
    for (uint64_t w = 0; w < 360; w++) {
        write_window(st, "eu", w + 1, T0 + 10 * (int64_t)w, seed_of(0, w));
        write_window(st, "us", w + 1, T0 + 10 * (int64_t)w, seed_of(1, w));
    }
    return st;
}

/* Events of a site (0 eu, 1 us, -1 both) with latency <= x, and in all. */
static uint64_t true_le(int site, double x, uint64_t *total)
{
    uint64_t n = 0, all = 0;
    for (int s = 0; s < 2; s++) {
        if (site >= 0 && s != site)
            continue;
        for (uint64_t w = 0; w < 360; w++)
            for (size_t i = 0; i < EVENTS; i++, all++)
                n += value_of(seed_of(s, w), i) <= x;
    }
    *total = all;
    return n;
}

/* ---- SLO sets ---- */

static struct agg_slo_set *load(const char *text)
{
    static unsigned files;
    char path[512];
    snprintf(path, sizeof path, "%s/slo-%u.yaml", harness_tmpdir(), files++);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
    struct agg_slo_set *set = NULL;
    struct slic_errmsg err = {{0}};
    const char *p = path;
    int rc = agg_openslo_load(&p, 1, &set, NULL, &err);
    if (rc)
        harness_fail(__FILE__, __LINE__, "load: %s", err.text);
    return set;
}

#define SLO(name, body)                                                                            \
    "---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {name: " name "}\nspec:\n" body
#define RATIO(sites)                                                                               \
    "  indicator:\n    spec:\n      ratioMetric:\n        counter: true\n"                         \
    "        good: {metricSource: {type: slic, spec: {sli: checkout, outcome: good" sites "}}}\n"  \
    "        total: {metricSource: {type: slic, spec: {sli: checkout" sites "}}}\n"
#define THRESHOLD                                                                                  \
    "  indicator:\n    spec:\n      thresholdMetric:\n"                                            \
    "        metricSource: {type: slic, spec: {sli: checkout}}\n"
#define ROLLING_28D "  timeWindow: [{duration: 28d, isRolling: true}]\n"

static const char *const avail_yaml =
    SLO("avail", RATIO("") ROLLING_28D "  budgetingMethod: Occurrences\n"
                                       "  objectives: [{target: 0.99}]\n");
static const char *const eu_only_yaml =
    SLO("eu-only", RATIO(", sites: [\"e*\"]") ROLLING_28D "  budgetingMethod: Occurrences\n"
                                                          "  objectives: [{target: 0.99}]\n");

static const char *latency_yaml(const char *value, const char *display)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {name: lat, displayName: %s}\n"
             "spec:\n" THRESHOLD ROLLING_28D "  budgetingMethod: Occurrences\n"
             "  objectives: [{op: lte, value: %s, target: 0.9}]\n",
             display, value);
    return buf;
}

static agg_slo_engine *engine_new(agg_store *st, struct agg_slo_set *set,
                                  struct agg_slo_engine_options *opts)
{
    struct agg_slo_engine_options o;
    agg_slo_engine_options_default(&o);
    if (opts)
        o = *opts;
    o.clock = fake_now;
    o.clock_ctx = &clock_now;
    agg_slo_engine *e = NULL;
    struct slic_errmsg err = {{0}};
    int rc = agg_slo_engine_create(st, &o, set, &e, &err);
    if (rc)
        harness_fail(__FILE__, __LINE__, "create: %s", err.text);
    return e;
}

static char *json_of(agg_slo_engine *e, const char *name, const char *site, int *status)
{
    static struct agg__buf b;
    agg__buf_fini(&b);
    memset(&b, 0, sizeof b);
    CHECK_OK(agg_slo_engine_json(e, name, site, &b, status));
    return b.len ? (char *)b.p : "";
}

static char *metrics_of(agg_slo_engine *e)
{
    static struct agg__buf b;
    agg__buf_fini(&b);
    memset(&b, 0, sizeof b);
    CHECK_OK(agg_slo_engine_metrics(e, &b));
    return (char *)b.p;
}

/* ---- cases ---- */

static void test_ratio_equals_store(void)
{
    agg_store *st = store_with_data();
    agg_slo_engine *e = engine_new(st, load(avail_yaml), NULL);
    int status = 0;
    CHECK_CONTAINS(json_of(e, "avail", NULL, &status), "\"evaluated\":false");
    CHECK_OK(agg_slo_engine_evaluate(e));
    CHECK_U64_EQ(agg_slo_engine_cycles(e), 1);

    struct agg_query q = {.sli = "checkout", .from = NOW - 28 * 86400, .to = NOW};
    struct agg_query_result r;
    CHECK_OK(agg_store_query_sli(st, &q, &r, NULL));
    char want[256];
    snprintf(want, sizeof want, "\"value\":%.17g", (double)r.good / (double)r.total);
    char *js = json_of(e, "avail", NULL, &status);
    CHECK_INT_EQ(status, 200);
    /* The shortest form of the same double is what the engine prints; compare numerically. */
    const char *v = strstr(js, "\"value\":");
    CHECK(v != NULL);
    CHECK_DBL_EQ(strtod(v + 8, NULL), (double)r.good / (double)r.total);
    snprintf(want, sizeof want, "\"events\":{\"total\":%llu,\"good_lower\":%llu",
             (unsigned long long)r.total, (unsigned long long)r.good);
    CHECK_CONTAINS(js, want);
    CHECK_CONTAINS(js, "\"exact\":true");
    CHECK_CONTAINS(js, "\"site\":\"*\"");
    CHECK_CONTAINS(js, "\"sites\":[{\"site\":\"eu\"");
    CHECK_CONTAINS(js, "{\"site\":\"us\"");
    CHECK_CONTAINS(js, "\"window\":{\"kind\":\"rolling\",\"length\":\"4w\"");
    CHECK_CONTAINS(js, "\"burn_rates\":{\"5m\":");
    agg_query_result_fini(&r);

    /* One site alone. */
    q.site = "us";
    CHECK_OK(agg_store_query_sli(st, &q, &r, NULL));
    js = json_of(e, "avail", "us", &status);
    CHECK_INT_EQ(status, 200);
    v = strstr(js, "\"value\":");
    CHECK_DBL_EQ(strtod(v + 8, NULL), (double)r.good / (double)r.total);
    CHECK(strstr(js, "\"sites\"") == NULL);
    agg_query_result_fini(&r);

    json_of(e, "nope", NULL, &status);
    CHECK_INT_EQ(status, 404);
    CHECK_CONTAINS(json_of(e, "avail", "asia", &status), "covers no site");
    CHECK_INT_EQ(status, 404);
    CHECK_CONTAINS(json_of(e, NULL, NULL, &status), "[{\"name\":\"avail\"");
    CHECK_STR_EQ(json_of(e, NULL, "asia", &status), "[]\n");
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

static void test_site_patterns(void)
{
    agg_store *st = store_with_data();
    agg_slo_engine *e = engine_new(st, load(eu_only_yaml), NULL);
    CHECK_OK(agg_slo_engine_evaluate(e));
    int status;
    char *js = json_of(e, "eu-only", NULL, &status);
    CHECK(strstr(js, "\"site\":\"us\"") == NULL);
    uint64_t total;
    true_le(0, 1.0, &total);
    char want[128];
    snprintf(want, sizeof want, "\"events\":{\"total\":%llu", (unsigned long long)total);
    /* Across sites is eu's sum alone, and eu itself has the same. */
    const char *first = strstr(js, want);
    CHECK(first != NULL);
    CHECK(strstr(first + 1, want) != NULL);
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

static void test_glob(void)
{
    CHECK(agg__sloe_site_match("*", "eu-zrh"));
    CHECK(agg__sloe_site_match("eu-*", "eu-zrh"));
    CHECK(!agg__sloe_site_match("eu-*", "us-zrh"));
    CHECK(agg__sloe_site_match("*-zrh", "eu-zrh"));
    CHECK(agg__sloe_site_match("e*-*h", "eu-zrh"));
    CHECK(agg__sloe_site_match("eu*zrh", "eu-zrh"));
    CHECK(!agg__sloe_site_match("eu", "eu-zrh"));
    CHECK(agg__sloe_site_match("eu-zrh", "eu-zrh"));
    CHECK(agg__sloe_site_match("**", "x"));
    CHECK(!agg__sloe_site_match("a*b*c", "aXbYd"));
    CHECK(agg__sloe_site_match("a*b*c", "abXbc"));
}

/* The snapshot's across-sites scope of SLO `name`. */
static struct agg__sloe_scope scope_all(agg_slo_engine *e, const char *name)
{
    struct agg__sloe_snap *s = agg__sloe_snap_get(e);
    const struct agg_slo_def *d = agg_slo_set_find(s->gen->set, name);
    CHECK(d != NULL);
    struct agg__sloe_scope sc = s->results[d - s->gen->set->defs].all;
    agg__sloe_snap_put(s);
    return sc;
}

static void test_threshold_bounds_and_reload(void)
{
    agg_store *st = store_with_data();
    agg_slo_engine *e = engine_new(st, load(latency_yaml("300ms", "Latency")), NULL);
    CHECK_OK(agg_slo_engine_evaluate(e));
    struct agg__sloe_scope sc = scope_all(e, "lat");
    uint64_t total, le = true_le(-1, 0.3, &total);
    CHECK(sc.evaluated && sc.rc == 0);
    CHECK_U64_EQ(sc.status.total, total);
    CHECK(sc.status.good_lower <= le && le <= sc.status.good_upper);
    CHECK(!sc.status.exact);
    /* About 30 % fast against a 90 % target: 7x the budget, so the ticket tier (1d/2h above
     * 2.8x for 28 days) fires and the page tier (above 13.44x) does not. */
    CHECK_INT_EQ(sc.alerts.n_tiers, 4);
    int firing = 0;
    for (size_t i = 0; i < sc.alerts.n_tiers; i++)
        firing += sc.alerts.tier[i].state == AGG_SLO_ALERT_FIRING;
    CHECK(firing >= 1);
    size_t fired = 0;
    while (sc.alerts.tier[fired].state != AGG_SLO_ALERT_FIRING)
        fired++;
    int64_t since = sc.alerts.tier[fired].since;

    /* Only the display name changes: the definition evaluates the same, alerts carry over. */
    clock_now = NOW + 10;
    CHECK_OK(agg_slo_engine_reload(e, load(latency_yaml("300ms", "Renamed")), 0, NULL));
    CHECK_OK(agg_slo_engine_evaluate(e));
    sc = scope_all(e, "lat");
    CHECK_INT_EQ(sc.alerts.tier[fired].state, AGG_SLO_ALERT_FIRING);
    CHECK_INT_EQ(sc.alerts.tier[fired].since, since);
    CHECK_U64_EQ(sc.alerts.tier[fired].firings, 1);

    /* A new threshold: the stored history is re-evaluated, the alert starts afresh. */
    clock_now = NOW + 20;
    CHECK_OK(agg_slo_engine_reload(e, load(latency_yaml("400ms", "Renamed")), 0, NULL));
    CHECK_OK(agg_slo_engine_evaluate(e));
    sc = scope_all(e, "lat");
    le = true_le(-1, 0.4, &total);
    CHECK(sc.status.good_lower <= le && le <= sc.status.good_upper);
    CHECK(sc.status.sli > 0.35);
    /* Still burning 6x, so the same tier fires again: from now, not from before. */
    CHECK_INT_EQ(sc.alerts.tier[fired].state, AGG_SLO_ALERT_FIRING);
    CHECK_INT_EQ(sc.alerts.tier[fired].since, NOW + 20);
    clock_now = NOW;
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

static void test_timeslices(void)
{
    agg_store *st = store_with_data();
    agg_slo_engine *e = engine_new(
        st,
        load(SLO("slices", RATIO("") ROLLING_28D
                 "  budgetingMethod: Timeslices\n"
                 "  objectives: [{target: 0.9, timeSliceTarget: 0.9, timeSliceWindow: 5m}]\n")
                 SLO("mean",
                     RATIO("") ROLLING_28D "  budgetingMethod: RatioTimeslices\n"
                                           "  objectives: [{target: 0.9, timeSliceWindow: 5m}]\n")),
        NULL);
    CHECK_OK(agg_slo_engine_evaluate(e));
    struct agg__sloe_scope sc = scope_all(e, "slices");
    CHECK(sc.evaluated && sc.rc == 0);
    CHECK_U64_EQ(sc.status.slices, 28 * 288);
    CHECK_U64_EQ(sc.status.slices_empty, 28 * 288 - 12);
    /* About half the events are good: every slice with events misses 90 %. */
    CHECK_U64_EQ(sc.status.slices_bad_lower, 12);
    CHECK_U64_EQ(sc.status.slices_bad_upper, 12);
    uint64_t total;
    true_le(-1, 1.0, &total);
    CHECK_U64_EQ(sc.status.total, total);

    sc = scope_all(e, "mean");
    uint64_t good = true_le(-1, 0.5, &total);
    /* Equal events per slice, so the mean of the slices' ratios is the overall ratio. */
    CHECK_REL(sc.status.sli, (double)good / (double)total, 1e-12);
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

static void test_wanted_survives_reload(void)
{
    agg_store *st = store_with_data();
    agg_slo_engine *e = engine_new(st, load(latency_yaml("300ms", "L")), NULL);
    const struct slic_sli_thresholds *list;
    size_t n;
    agg_slo_wanted *w = agg_slo_engine_wanted(e, &list, &n);
    CHECK_U64_EQ(n, 1);
    CHECK_STR_EQ(list[0].sli, "checkout");
    CHECK_U64_EQ(list[0].n_thresholds, 1);
    CHECK_DBL_EQ(list[0].thresholds[0], 0.3);
    CHECK_OK(agg_slo_engine_reload(e, load(avail_yaml), 0, NULL));
    /* The old list stays readable while held, and the new one has no thresholds. */
    CHECK_DBL_EQ(list[0].thresholds[0], 0.3);
    agg_slo_wanted_release(w);
    w = agg_slo_engine_wanted(e, &list, &n);
    CHECK_U64_EQ(n, 0);
    agg_slo_wanted_release(w);
    w = agg_slo_engine_wanted(NULL, &list, &n);
    CHECK(w == NULL && list == NULL && n == 0);
    CHECK_CONTAINS(metrics_of(e), "slic_slo_definitions 1\n");
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

static void test_metrics(void)
{
    agg_store *st = store_with_data();
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%s%s", avail_yaml, latency_yaml("300ms", "L"));
    agg_slo_engine *e = engine_new(st, load(yaml), NULL);
    CHECK_OK(agg_slo_engine_evaluate(e));
    char *m = metrics_of(e);
    CHECK_CONTAINS(m, "# TYPE slic_slo_sli gauge\n");
    CHECK_CONTAINS(m, "slic_slo_sli{slo=\"avail\",site=\"*\"} ");
    CHECK_CONTAINS(m, "slic_slo_sli{slo=\"lat\",site=\"us\"} ");
    CHECK_CONTAINS(m, "slic_slo_target{slo=\"lat\"} 0.9\n");
    CHECK_CONTAINS(m, "slic_slo_error_budget_remaining{slo=\"avail\",site=\"eu\"} ");
    CHECK_CONTAINS(m, "slic_slo_burn_rate{slo=\"avail\",site=\"*\",window=\"3d\"} ");
    CHECK_CONTAINS(m, "slic_slo_alert{slo=\"lat\",site=\"*\",severity=\"ticket\","
                      "long_window=\"1d\",short_window=\"2h\"} 1\n");
    CHECK_CONTAINS(m, "slic_slo_alert{slo=\"lat\",site=\"*\",severity=\"page\","
                      "long_window=\"1h\",short_window=\"5m\"} 0\n");
    CHECK_CONTAINS(m, "slic_slo_window_events{slo=\"avail\",site=\"*\"} 28800\n");
    CHECK_CONTAINS(m, "slic_slo_wanted_thresholds{sli=\"checkout\"} 1\n");
    CHECK_CONTAINS(m, "slic_slo_evaluations_total 1\n");
    CHECK_CONTAINS(m, "# TYPE slic_slo_evaluation_seconds gauge\n");
    /* Every family once: HELP lines are unique. */
    for (const char *p = strstr(m, "# HELP "); p; p = strstr(p + 1, "# HELP ")) {
        char name[80];
        CHECK(sscanf(p, "# HELP %79s", name) == 1);
        char pat[96];
        snprintf(pat, sizeof pat, "# HELP %s ", name);
        CHECK(strstr(p + 1, pat) == NULL);
    }
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

static size_t alerts_seen;
static size_t alerts_firing;

static void on_alerts(void *ctx, const struct agg_slo_engine_alert *a, size_t n)
{
    (void)ctx;
    alerts_seen = n;
    alerts_firing = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_STR_EQ(a[i].slo, "lat");
        CHECK(a[i].site == NULL || strcmp(a[i].site, "eu") == 0 || strcmp(a[i].site, "us") == 0);
        alerts_firing += a[i].state == AGG_SLO_ALERT_FIRING;
    }
}

/* The thread evaluates at once, and again as soon as a reload kicks it. */
static void test_thread_and_alert_handover(void)
{
    agg_store *st = store_with_data();
    struct agg_slo_engine_options o;
    agg_slo_engine_options_default(&o);
    o.evaluate_interval_s = 3600;
    o.on_alerts = on_alerts;
    agg_slo_engine *e = engine_new(st, load(latency_yaml("300ms", "L")), &o);
    CHECK_OK(agg_slo_engine_start(e));
    for (int i = 0; i < 500 && agg_slo_engine_cycles(e) < 1; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    CHECK_U64_EQ(agg_slo_engine_cycles(e), 1);
    /* Ticket tiers at the two sites and across them. */
    CHECK(alerts_firing >= 3);
    CHECK_U64_EQ(alerts_seen, alerts_firing);
    CHECK_OK(agg_slo_engine_reload(e, load(latency_yaml("990ms", "L")), 0, NULL));
    for (int i = 0; i < 500 && agg_slo_engine_cycles(e) < 2; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    CHECK_U64_EQ(agg_slo_engine_cycles(e), 2);
    CHECK_U64_EQ(alerts_seen, 0);
    struct agg__sloe_scope sc = scope_all(e, "lat");
    CHECK(sc.status.sli > 0.98);
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

static void test_bad_options(void)
{
    agg_store *st = store_with_data();
    struct agg_slo_engine_options o;
    agg_slo_engine_options_default(&o);
    o.evaluate_interval_s = 0.1;
    agg_slo_engine *e = NULL;
    struct slic_errmsg err = {{0}};
    CHECK_ERR(agg_slo_engine_create(st, &o, load(avail_yaml), &e, &err), SLIC_EINVAL);
    CHECK_CONTAINS(err.text, "evaluate_interval");
    /* An empty engine answers an empty array. */
    CHECK_OK(agg_slo_engine_create(st, NULL, NULL, &e, &err));
    CHECK_OK(agg_slo_engine_evaluate(e));
    int status;
    CHECK_STR_EQ(json_of(e, NULL, NULL, &status), "[]\n");
    CHECK_ERR(agg_slo_engine_reload(e, load(avail_yaml), 1e9, &err), SLIC_EINVAL);
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

/* Every allocation failing in turn: creation fails cleanly, an evaluation keeps the previous
 * results or marks the scopes it could not evaluate, rendering fails with SLIC_ENOMEM, and
 * nothing leaks (ASan checks). */
static void test_allocation_failures(void)
{
    agg_store *st = store_with_data();
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%s%s", avail_yaml, latency_yaml("300ms", "L"));
    bool done = false;
    for (long n = 0; !done; n++) {
        CHECK(n < 100000);
        struct agg_slo_set *set = load(yaml);
        agg_slo_engine *e = NULL;
        slic_alloc_fail_after(n);
        int rc = agg_slo_engine_create(st, NULL, set, &e, NULL);
        if (rc) {
            slic_alloc_fail_after(-1);
            CHECK_ERR(rc, SLIC_ENOMEM);
            continue;
        }
        int ev = agg_slo_engine_evaluate(e);
        struct agg__buf b = {0};
        int status, js = agg_slo_engine_json(e, NULL, NULL, &b, &status);
        agg__buf_fini(&b);
        memset(&b, 0, sizeof b);
        int pm = agg_slo_engine_metrics(e, &b);
        agg__buf_fini(&b);
        slic_alloc_fail_after(-1);
        CHECK(ev == 0 || ev == SLIC_ENOMEM);
        CHECK(js == 0 || js == SLIC_ENOMEM);
        CHECK(pm == 0 || pm == SLIC_ENOMEM);
        struct agg__sloe_scope sc = scope_all(e, "avail");
        done = ev == 0 && js == 0 && pm == 0 && sc.evaluated && sc.rc == 0;
        agg_slo_engine_destroy(e);
    }
    agg_store_close(st);
}

/* ---- replies (slic slo) ---- */

static const char *const calendar_yaml =
    SLO("monthly", RATIO("") "  timeWindow: [{duration: 1M, isRolling: false, calendar: "
                             "{startTime: \"2022-01-01 00:00:00\", timeZone: Europe/Zurich}}]\n"
                             "  budgetingMethod: Timeslices\n"
                             "  objectives: [{target: 0.99, timeSliceTarget: 0.95, "
                             "timeSliceWindow: 1m}]\n");

/* An engine over the two-site store with avail, eu-only, lat and monthly. */
static agg_slo_engine *reply_engine(agg_store *st)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "%s%s%s%s", avail_yaml, eu_only_yaml, latency_yaml("300ms", "L"),
             calendar_yaml);
    return engine_new(st, load(yaml), NULL);
}

static Slic__Reply *reply_of(agg_slo_engine *e, const char *name, const char *site)
{
    Slic__Reply *r = NULL;
    CHECK_OK(agg_slo_engine_reply(e, name, site, &r));
    CHECK(r != NULL && r->has_schema_version && r->has_status);
    return r;
}

/* The numbers of a scope as the snapshot holds them. */
static void check_scope(const Slic__SloScope *m, const struct agg__sloe_scope *sc,
                        const struct agg_slo_def *d)
{
    CHECK_STR_EQ(m->site, sc->site);
    CHECK(m->has_evaluated && m->evaluated == sc->evaluated);
    CHECK_U64_EQ(m->events_total, sc->evaluated ? sc->status.total : 0);
    CHECK_U64_EQ(m->events_good_lower, sc->evaluated ? sc->status.good_lower : 0);
    CHECK_U64_EQ(m->events_good_upper, sc->evaluated ? sc->status.good_upper : 0);
    CHECK_INT_EQ(m->n_alerts, d->n_tiers);
    for (size_t i = 0; i < d->n_tiers; i++) {
        CHECK_STR_EQ(m->alerts[i]->severity, d->tiers[i].severity);
        CHECK_DBL_EQ(m->alerts[i]->burn_rate_threshold, d->tiers[i].burn_rate);
        CHECK_STR_EQ(m->alerts[i]->state, agg_slo_alert_state_name(sc->alerts.tier[i].state));
        CHECK(m->alerts[i]->has_since == (sc->alerts.tier[i].since != 0));
    }
    if (!sc->evaluated) {
        CHECK(!m->has_value && !m->has_remaining && !m->has_evaluated_at);
        CHECK_INT_EQ(m->n_burn_rates, 0);
        return;
    }
    CHECK(m->has_value && m->has_value_upper && m->has_consumed && m->has_remaining);
    CHECK_DBL_EQ(m->value, sc->status.sli);
    CHECK_DBL_EQ(m->value_upper, sc->status.sli_upper);
    CHECK_DBL_EQ(m->consumed, sc->status.consumed);
    CHECK_DBL_EQ(m->remaining, sc->status.remaining);
    CHECK(m->exact == sc->status.exact);
    CHECK_INT_EQ(m->evaluated_at, sc->status.now);
    CHECK(m->has_time_to_exhaustion_seconds == sc->status.exhausts);
    CHECK_INT_EQ(m->n_burn_rates, AGG_SLO_BURN_WINDOWS);
    for (size_t i = 0; i < AGG_SLO_BURN_WINDOWS; i++) {
        CHECK_INT_EQ(m->burn_rates[i]->window_seconds, agg_slo_burn_window_s[i]);
        CHECK_DBL_EQ(m->burn_rates[i]->rate, sc->status.burn[i].rate);
    }
    CHECK((m->slices != NULL) == (d->budgeting != AGG_SLO_OCCURRENCES));
    if (m->slices)
        CHECK_U64_EQ(m->slices->complete, sc->status.slices);
}

/* Every SLO of the snapshot, in order, with its definition and every scope. */
static void check_list(agg_slo_engine *e)
{
    Slic__Reply *r = reply_of(e, NULL, NULL);
    struct agg__sloe_snap *s = agg__sloe_snap_get(e);
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__OK);
    CHECK(r->error == NULL);
    CHECK_U64_EQ(r->n_slos, s->gen->set->n_defs);
    for (size_t i = 0; i < r->n_slos; i++) {
        const Slic__SloInfo *m = r->slos[i];
        const struct agg__sloe_result *res = &s->results[i];
        CHECK_STR_EQ(m->name, res->def->name);
        CHECK_STR_EQ(m->sli, "checkout");
        CHECK(m->has_target && m->target == res->def->target);
        check_scope(m->scope, &res->all, res->def);
        CHECK_U64_EQ(m->n_sites, res->n_sites);
        for (size_t k = 0; k < res->n_sites; k++)
            check_scope(m->sites[k], &res->sites[k], res->def);
    }
    agg__sloe_snap_put(s);
    agg_slo_engine_reply_free(r);
}

static void test_reply_list(void)
{
    agg_store *st = store_with_data();
    agg_slo_engine *e = reply_engine(st);
    check_list(e); /* before the first evaluation: every scope unevaluated */
    CHECK_OK(agg_slo_engine_evaluate(e));
    check_list(e);

    /* The definitions as the JSON names them. */
    Slic__Reply *r = reply_of(e, NULL, NULL);
    CHECK_U64_EQ(r->n_slos, 4);
    const Slic__SloInfo *avail = r->slos[0], *eu = r->slos[1], *lat = r->slos[2];
    const Slic__SloInfo *monthly = r->slos[3];
    CHECK_STR_EQ(avail->name, "avail");
    CHECK_STR_EQ(avail->indicator, "ratio");
    CHECK_STR_EQ(avail->budgeting, "occurrences");
    CHECK(avail->op == NULL && !avail->has_threshold_seconds && !avail->has_timeslice_target);
    CHECK_STR_EQ(avail->window->kind, "rolling");
    CHECK_DBL_EQ(avail->window->length_seconds, 28 * 86400.0);
    CHECK(avail->window->has_from && avail->window->to == NOW);
    CHECK_STR_EQ(avail->scope->site, "*");
    CHECK_STR_EQ(avail->sites[0]->site, "eu");
    CHECK_STR_EQ(avail->sites[1]->site, "us");
    CHECK_STR_EQ(eu->name, "eu-only");
    CHECK_U64_EQ(eu->n_site_patterns, 1);
    CHECK_STR_EQ(eu->site_patterns[0], "e*");
    CHECK_U64_EQ(eu->n_sites, 1);
    CHECK_STR_EQ(lat->indicator, "threshold");
    CHECK_STR_EQ(lat->op, "lte");
    CHECK_DBL_EQ(lat->threshold_seconds, 0.3);
    CHECK_STR_EQ(lat->display_name, "L");
    CHECK_STR_EQ(monthly->budgeting, "timeslices");
    CHECK_DBL_EQ(monthly->timeslice_target, 0.95);
    CHECK_DBL_EQ(monthly->timeslice_window_seconds, 60);
    CHECK_STR_EQ(monthly->window->kind, "calendar");
    CHECK_U64_EQ(monthly->window->calendar_count, 1);
    CHECK_STR_EQ(monthly->window->calendar_unit, "month");
    CHECK_STR_EQ(monthly->window->time_zone, "Europe/Zurich");
    CHECK(!monthly->window->has_length_seconds);
    CHECK(monthly->window->period_end > NOW);
    agg_slo_engine_reply_free(r);
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

static void test_reply_one_and_not_found(void)
{
    agg_store *st = store_with_data();
    agg_slo_engine *e = reply_engine(st);
    CHECK_OK(agg_slo_engine_evaluate(e));

    Slic__Reply *r = reply_of(e, "lat", "us");
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__OK);
    CHECK_U64_EQ(r->n_slos, 1);
    CHECK_STR_EQ(r->slos[0]->scope->site, "us");
    CHECK_U64_EQ(r->slos[0]->n_sites, 0);
    uint64_t total;
    uint64_t le = true_le(1, 0.3, &total);
    CHECK_U64_EQ(r->slos[0]->scope->events_total, total);
    CHECK(r->slos[0]->scope->events_good_lower <= le && le <= r->slos[0]->scope->events_good_upper);
    agg_slo_engine_reply_free(r);

    r = reply_of(e, "lat", "*");
    CHECK_STR_EQ(r->slos[0]->scope->site, "*");
    CHECK_U64_EQ(r->slos[0]->n_sites, 0);
    agg_slo_engine_reply_free(r);

    /* A list for one site holds the SLOs covering it. */
    r = reply_of(e, NULL, "us");
    CHECK_U64_EQ(r->n_slos, 3);
    for (size_t i = 0; i < r->n_slos; i++)
        CHECK(strcmp(r->slos[i]->name, "eu-only") != 0);
    agg_slo_engine_reply_free(r);
    r = reply_of(e, NULL, "asia");
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__OK);
    CHECK_U64_EQ(r->n_slos, 0);
    agg_slo_engine_reply_free(r);

    r = reply_of(e, "nope", NULL);
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__NOT_FOUND);
    CHECK_STR_EQ(r->error, "no SLO named 'nope'");
    CHECK_U64_EQ(r->n_slos, 0);
    agg_slo_engine_reply_free(r);
    r = reply_of(e, "eu-only", "us");
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__NOT_FOUND);
    CHECK_STR_EQ(r->error, "SLO 'eu-only' covers no site 'us'");
    agg_slo_engine_reply_free(r);

    /* No engine: no SLOs. */
    r = reply_of(NULL, NULL, NULL);
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__OK);
    CHECK_U64_EQ(r->n_slos, 0);
    agg_slo_engine_reply_free(r);
    r = reply_of(NULL, "avail", NULL);
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__NOT_FOUND);
    agg_slo_engine_reply_free(r);
    agg_slo_engine_reply_free(NULL);
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

/* What slic prints with --json: the reply packed, sent, unpacked and rendered. */
static char *json_via_wire(const Slic__Reply *r, const char *name, const char *site)
{
    static struct agg__buf b;
    agg__buf_fini(&b);
    memset(&b, 0, sizeof b);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(codec_response_pack(NULL, r, &buf, &len));
    Slic__Reply *got = NULL;
    CHECK_OK(codec_response_unpack(buf, len, NULL, &got, NULL));
    slic_free(buf);
    CHECK_INT_EQ(got->status, SLIC__REPLY__STATUS__OK);
    if (name)
        CHECK_OK(agg_reply_json_slo(&b, got->slos[0], site == NULL));
    else
        CHECK_OK(agg_reply_json_slos(&b, got->slos, got->n_slos, site == NULL));
    codec_reply_free(got);
    return (char *)b.p;
}

/* `slic slo --json` prints exactly the bytes of /api/v1/slos, for every SLO and scope, before
 * and after evaluations; and the numbers in them are the snapshot's. */
static void test_reply_json_same_as_api(void)
{
    agg_store *st = store_with_data();
    agg_slo_engine *e = reply_engine(st);
    static const char *const names[] = {NULL, "avail", "eu-only", "lat", "monthly"};
    static const char *const sites[] = {NULL, "*", "eu", "us", "asia"};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            for (size_t k = 0; k < sizeof sites / sizeof sites[0]; k++) {
                int status;
                char *api = json_of(e, names[i], sites[k], &status);
                Slic__Reply *r = reply_of(e, names[i], sites[k]);
                CHECK_INT_EQ(status, r->status == SLIC__REPLY__STATUS__OK ? 200 : 404);
                if (status == 200)
                    CHECK_STR_EQ(json_via_wire(r, names[i], sites[k]), api);
                else
                    CHECK_CONTAINS(api, r->error);
                agg_slo_engine_reply_free(r);
            }
        }
        CHECK_OK(agg_slo_engine_evaluate(e));
    }
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

static Slic__Reply *query_slos(agg_store *st, agg_slo_engine *e, const char *slo, const char *site)
{
    Slic__Query q = SLIC__QUERY__INIT;
    q.has_schema_version = q.has_kind = 1;
    q.schema_version = CODEC_SCHEMA_VERSION;
    q.kind = SLIC__QUERY__KIND__SLOS;
    q.slo = (char *)slo;
    q.site = (char *)site;
    Slic__Reply *r = NULL;
    CHECK_OK(agg_query_answer_all(st, e, &q, NOW, &r));
    return r;
}

/* Queries of kind SLOS reach the engine, with their names checked first. */
static void test_reply_query_routing(void)
{
    agg_store *st = store_with_data();
    agg_slo_engine *e = reply_engine(st);
    CHECK_OK(agg_slo_engine_evaluate(e));
    Slic__Reply *r = query_slos(st, e, NULL, NULL);
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__OK);
    CHECK_U64_EQ(r->n_slos, 4);
    CHECK_U64_EQ(r->slos[0]->n_sites, 2);
    agg_query_reply_free(r);
    r = query_slos(st, e, "avail", "*");
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__OK);
    CHECK_STR_EQ(r->slos[0]->scope->site, "*");
    agg_query_reply_free(r);
    r = query_slos(st, e, "nope", NULL);
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__NOT_FOUND);
    CHECK_CONTAINS(r->error, "'nope'");
    agg_query_reply_free(r);
    r = query_slos(st, e, "bad name", NULL);
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__BAD_QUERY);
    CHECK_CONTAINS(r->error, "slo: 'bad name' is not a valid name");
    agg_query_reply_free(r);
    r = query_slos(st, e, NULL, "e*");
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__BAD_QUERY);
    CHECK_CONTAINS(r->error, "site: 'e*'");
    agg_query_reply_free(r);
    /* Without an engine (no SLOs loaded), and through agg_query_answer. */
    r = query_slos(st, NULL, NULL, NULL);
    CHECK_INT_EQ(r->status, SLIC__REPLY__STATUS__OK);
    CHECK_U64_EQ(r->n_slos, 0);
    agg_query_reply_free(r);
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

/* Every allocation of a reply failing in turn: SLIC_ENOMEM, nothing leaked (ASan checks). */
static void test_reply_allocation_failures(void)
{
    agg_store *st = store_with_data();
    agg_slo_engine *e = reply_engine(st);
    CHECK_OK(agg_slo_engine_evaluate(e));
    for (long n = 0;; n++) {
        CHECK(n < 10000);
        Slic__Reply *r = NULL;
        slic_alloc_fail_after(n);
        int rc = agg_slo_engine_reply(e, NULL, NULL, &r);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            CHECK_U64_EQ(r->n_slos, 4);
            agg_slo_engine_reply_free(r);
            CHECK(n > 4);
            break;
        }
        CHECK_ERR(rc, SLIC_ENOMEM);
    }
    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

HARNESS_CASES(HARNESS_CASE(test_ratio_equals_store), HARNESS_CASE(test_site_patterns),
              HARNESS_CASE(test_glob), HARNESS_CASE(test_threshold_bounds_and_reload),
              HARNESS_CASE(test_timeslices), HARNESS_CASE(test_wanted_survives_reload),
              HARNESS_CASE(test_metrics), HARNESS_CASE(test_thread_and_alert_handover),
              HARNESS_CASE(test_bad_options), HARNESS_CASE(test_allocation_failures),
              HARNESS_CASE(test_reply_list), HARNESS_CASE(test_reply_one_and_not_found),
              HARNESS_CASE(test_reply_json_same_as_api), HARNESS_CASE(test_reply_query_routing),
              HARNESS_CASE(test_reply_allocation_failures));
HARNESS_MAIN()
