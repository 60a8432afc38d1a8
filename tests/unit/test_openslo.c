/* Tests of OpenSLO loading (aggregator/openslo*.c): every shape slic evaluates loads with the
 * numbers it means, the default alert tiers scale with the SLO's period (checked against
 * hand-computed values), documents slic cannot evaluate are skipped and reported by name,
 * every malformed input fails the whole load naming file, line and key, directories load in
 * name order with references across files, and allocation failure is clean everywhere. */
#include "harness.h"

#include "alloc.h"
#include "openslo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DAY 86400.0

/* Loads text as the file slo.yaml; returns the load's code. */
static int load_text(const char *text, struct agg_slo_set **set, struct agg_openslo_report *rep,
                     struct slic_errmsg *err)
{
    const char *path = harness_write_file("slo.yaml", text);
    return agg_openslo_load(&path, 1, set, rep, err);
}

static struct agg_slo_set *load_ok(const char *text, struct agg_openslo_report *rep)
{
    struct agg_slo_set *set = NULL;
    struct slic_errmsg err = {{0}};
    int rc = load_text(text, &set, rep, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "load failed: %d %s", rc, err.text);
    return set;
}

#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            harness_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"", (hay), (needle));   \
    } while (0)

/* The head every SLO in these tests shares, up to its indicator. */
#define SLO_HEAD(name)                                                                             \
    "apiVersion: openslo/v1\n"                                                                     \
    "kind: SLO\n"                                                                                  \
    "metadata:\n"                                                                                  \
    "  name: " name "\n"                                                                           \
    "spec:\n"

#define THRESHOLD_INDICATOR(sli)                                                                   \
    "  indicator:\n"                                                                               \
    "    spec:\n"                                                                                  \
    "      thresholdMetric:\n"                                                                     \
    "        metricSource:\n"                                                                      \
    "          type: slic\n"                                                                       \
    "          spec: {sli: " sli "}\n"

#define RATIO_INDICATOR(sli)                                                                       \
    "  indicator:\n"                                                                               \
    "    spec:\n"                                                                                  \
    "      ratioMetric:\n"                                                                         \
    "        counter: true\n"                                                                      \
    "        good: {metricSource: {type: slic, spec: {sli: " sli ", outcome: good}}}\n"            \
    "        total: {metricSource: {type: slic, spec: {sli: " sli "}}}\n"

#define ROLLING(d)                                                                                 \
    "  timeWindow:\n"                                                                              \
    "    - duration: " d "\n"                                                                      \
    "      isRolling: true\n"

#define OCCURRENCES "  budgetingMethod: Occurrences\n"

/* One objective at 99%, as a list of two lines. */
#define TARGET_99 "  objectives:\n    - target: 0.99\n"

/* A ratio SLO over a rolling window of d: the smallest valid document. */
#define RATIO_SLO(name, d)                                                                         \
    SLO_HEAD(name) RATIO_INDICATOR("checkout") ROLLING(d) OCCURRENCES TARGET_99

static void check_tier(const struct agg_slo_tier *t, const char *severity, double long_s,
                       double short_s, double burn)
{
    CHECK_STR_EQ(t->severity, severity);
    CHECK_DBL_EQ(t->long_window_s, long_s);
    CHECK_DBL_EQ(t->short_window_s, short_s);
    CHECK_DBL_EQ(t->burn_rate, burn);
    CHECK_DBL_EQ(t->alert_after_s, 0);
}

/* ---- the example file ---- */

static void check_example_latency(const struct agg_slo_def *d)
{
    CHECK(d != NULL);
    CHECK_STR_EQ(d->display_name, "Checkout latency");
    CHECK_STR_EQ(d->service, "checkout");
    CHECK_STR_EQ(d->runbook_url, "https://runbooks.example.com/checkout/latency");
    CHECK_INT_EQ(d->indicator, AGG_SLO_THRESHOLD);
    CHECK_STR_EQ(d->source.sli, "checkout");
    CHECK_INT_EQ(d->source.n_labels, 1);
    CHECK_STR_EQ(d->source.labels[0].key, "route");
    CHECK_STR_EQ(d->source.labels[0].value, "/pay");
    CHECK_INT_EQ(d->source.n_sites, 0);
    CHECK_INT_EQ(d->op, AGG_SLO_OP_LTE);
    CHECK_DBL_EQ(d->threshold_s, 0.3);
    CHECK_DBL_EQ(d->target, 0.99);
    CHECK_INT_EQ(d->budgeting, AGG_SLO_OCCURRENCES);
    CHECK_INT_EQ(d->window, AGG_SLO_ROLLING);
    CHECK_DBL_EQ(d->rolling_s, 28 * DAY);
    CHECK_U64_EQ(d->min_events, 10);
    /* 28 days: 2% x 28d / 1h = 13.44, 5% x 28d / 6h = 5.6, 10% x 28d / 1d = 2.8,
     * 10% x 28d / 3d = 14/15. */
    CHECK_INT_EQ(d->n_tiers, 4);
    check_tier(&d->tiers[0], "page", 3600, 300, 13.44);
    check_tier(&d->tiers[1], "page", 6 * 3600, 1800, 5.6);
    check_tier(&d->tiers[2], "ticket", DAY, 7200, 2.8);
    check_tier(&d->tiers[3], "ticket", 3 * DAY, 6 * 3600, 14.0 / 15);
}

static void check_example_availability(const struct agg_slo_def *d)
{
    CHECK(d != NULL);
    CHECK_INT_EQ(d->indicator, AGG_SLO_RATIO_GOOD);
    CHECK_STR_EQ(d->source.sli, "checkout");
    CHECK_REL(d->target, 0.999, 1e-15);
    CHECK_DBL_EQ(d->rolling_s, 30 * DAY);
    CHECK_U64_EQ(d->min_events, 50);
    /* From the AlertPolicy: a referenced condition and an inline one, short = long / 12. */
    CHECK_INT_EQ(d->n_tiers, 2);
    check_tier(&d->tiers[0], "page", 3600, 300, 14.4);
    check_tier(&d->tiers[1], "ticket", DAY, 7200, 3);
}

static void check_example_monthly(const struct agg_slo_def *d)
{
    CHECK(d != NULL);
    CHECK_INT_EQ(d->indicator, AGG_SLO_RATIO_BAD);
    CHECK_INT_EQ(d->source.n_sites, 2);
    CHECK_STR_EQ(d->source.sites[0], "eu-zrh");
    CHECK_STR_EQ(d->source.sites[1], "eu-fra*");
    CHECK_INT_EQ(d->budgeting, AGG_SLO_TIMESLICES);
    CHECK_DBL_EQ(d->timeslice_target, 0.95);
    CHECK_DBL_EQ(d->timeslice_window_s, 60);
    CHECK_DBL_EQ(d->target, 0.99);
    CHECK_INT_EQ(d->window, AGG_SLO_CALENDAR);
    CHECK_INT_EQ(d->cal_unit, AGG_SLO_CAL_MONTH);
    CHECK_INT_EQ(d->cal_count, 1);
    CHECK_STR_EQ(d->time_zone, "Europe/Zurich");
    /* 2022-01-01 00:00 in Zurich (CET, UTC+1) is 2021-12-31T23:00:00Z. */
    CHECK_INT_EQ(d->cal_start, 1640991600);
    /* A calendar month counts as 30 days: the workbook's own numbers. */
    CHECK_INT_EQ(d->n_tiers, 4);
    check_tier(&d->tiers[0], "page", 3600, 300, 14.4);
    check_tier(&d->tiers[1], "page", 6 * 3600, 1800, 6);
    check_tier(&d->tiers[2], "ticket", DAY, 7200, 3);
    check_tier(&d->tiers[3], "ticket", 3 * DAY, 6 * 3600, 1);
}

static void test_example_file(void)
{
    const char *path = "examples/slo/checkout.yaml";
    struct agg_slo_set *set = NULL;
    struct agg_openslo_report rep;
    struct slic_errmsg err = {{0}};
    int rc = agg_openslo_load(&path, 1, &set, &rep, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "%s", err.text);
    CHECK_INT_EQ(rep.n_files, 1);
    CHECK_INT_EQ(rep.n_documents, 6);
    CHECK_INT_EQ(rep.n_skipped, 0);
    CHECK_INT_EQ(set->n_defs, 3);
    CHECK_STR_EQ(set->defs[0].name, "checkout-availability");
    CHECK_STR_EQ(set->defs[1].name, "checkout-latency");
    CHECK_STR_EQ(set->defs[2].name, "checkout-monthly-eu");
    CHECK(strstr(set->defs[1].file, "checkout.yaml") != NULL);
    CHECK(set->defs[1].line > 1);
    check_example_latency(agg_slo_set_find(set, "checkout-latency"));
    check_example_availability(agg_slo_set_find(set, "checkout-availability"));
    check_example_monthly(agg_slo_set_find(set, "checkout-monthly-eu"));
    CHECK(agg_slo_set_find(set, "checkout") == NULL);
    size_t n = 0;
    const struct slic_sli_thresholds *th = agg_slo_set_thresholds(set, &n);
    CHECK_INT_EQ(n, 1);
    CHECK_STR_EQ(th[0].sli, "checkout");
    CHECK_INT_EQ(th[0].n_thresholds, 1);
    CHECK_DBL_EQ(th[0].thresholds[0], 0.3);
    agg_slo_set_destroy(set);
    agg_openslo_report_fini(&rep);
}

/* ---- default tiers by period ---- */

static const struct agg_slo_def *only_def(const struct agg_slo_set *set)
{
    CHECK_INT_EQ(set->n_defs, 1);
    return &set->defs[0];
}

static void test_default_tiers_30d(void)
{
    struct agg_slo_set *set = load_ok(RATIO_SLO("a", "30d"), NULL);
    const struct agg_slo_def *d = only_def(set);
    CHECK_INT_EQ(d->n_tiers, 4);
    check_tier(&d->tiers[0], "page", 3600, 300, 14.4);
    check_tier(&d->tiers[1], "page", 21600, 1800, 6);
    check_tier(&d->tiers[2], "ticket", 86400, 7200, 3);
    check_tier(&d->tiers[3], "ticket", 259200, 21600, 1);
    CHECK_U64_EQ(d->min_events, AGG_OPENSLO_MIN_EVENTS_DEFAULT);
    CHECK(d->runbook_url == NULL);
    agg_slo_set_destroy(set);
}

static void test_default_tiers_7d(void)
{
    /* 2% x 7d / 1h = 3.36; 5% x 168h / 6h = 1.4; 10% x 7d / 1d = 0.7; 10% x 7d / 3d = 7/30. */
    struct agg_slo_set *set = load_ok(RATIO_SLO("a", "7d"), NULL);
    const struct agg_slo_def *d = only_def(set);
    CHECK_INT_EQ(d->n_tiers, 4);
    check_tier(&d->tiers[0], "page", 3600, 300, 3.36);
    check_tier(&d->tiers[1], "page", 21600, 1800, 1.4);
    check_tier(&d->tiers[2], "ticket", 86400, 7200, 0.7);
    check_tier(&d->tiers[3], "ticket", 259200, 21600, 7.0 / 30);
    agg_slo_set_destroy(set);
}

static void test_default_tiers_short_and_calendar(void)
{
    /* A 1-day SLO has no 3-day tier: 2% x 24h / 1h = 0.48, 5% x 24h / 6h = 0.2, 10% = 0.1. */
    struct agg_slo_set *set = load_ok(RATIO_SLO("a", "1d"), NULL);
    const struct agg_slo_def *d = only_def(set);
    CHECK_INT_EQ(d->n_tiers, 3);
    check_tier(&d->tiers[0], "page", 3600, 300, 0.48);
    check_tier(&d->tiers[1], "page", 21600, 1800, 0.2);
    check_tier(&d->tiers[2], "ticket", 86400, 7200, 0.1);
    agg_slo_set_destroy(set);

    /* A calendar quarter counts 91 days: 2% x 91d / 1h = 43.68; 12w rolling is 84 days:
     * 2% x 84d / 1h = 40.32. */
    /* clang-format off */
    set = load_ok(SLO_HEAD("q") RATIO_INDICATOR("checkout")
                  "  timeWindow:\n"
                  "    - duration: 1Q\n"
                  "      isRolling: false\n"
                  OCCURRENCES
                  "  objectives: [{target: 0.9}]\n",
                  NULL);
    /* clang-format on */
    d = only_def(set);
    CHECK_INT_EQ(d->cal_unit, AGG_SLO_CAL_QUARTER);
    CHECK(d->time_zone == NULL);
    CHECK_INT_EQ(d->cal_start, 0); /* the quarter containing 1970-01-01 in UTC */
    CHECK_DBL_EQ(d->tiers[0].burn_rate, 43.68);
    agg_slo_set_destroy(set);
    set = load_ok(RATIO_SLO("w", "12w"), NULL);
    CHECK_DBL_EQ(only_def(set)->rolling_s, 84 * DAY);
    CHECK_DBL_EQ(only_def(set)->tiers[0].burn_rate, 40.32);
    agg_slo_set_destroy(set);
}

/* ---- shapes ---- */

static void test_threshold_number_and_lt(void)
{
    struct agg_slo_set *set =
        load_ok(SLO_HEAD("lat") THRESHOLD_INDICATOR("api") ROLLING("30d") OCCURRENCES
                "  objectives:\n"
                "    - {op: lt, value: 0.25, targetPercent: 95}\n",
                NULL);
    const struct agg_slo_def *d = only_def(set);
    CHECK_INT_EQ(d->indicator, AGG_SLO_THRESHOLD);
    CHECK_INT_EQ(d->op, AGG_SLO_OP_LT);
    CHECK_DBL_EQ(d->threshold_s, 0.25);
    CHECK_DBL_EQ(d->target, 0.95);
    agg_slo_set_destroy(set);
}

static void test_ratio_timeslices_and_sli_ref(void)
{
    /* clang-format off */
    struct agg_slo_set *set = load_ok(
        "apiVersion: openslo/v1\n"
        "kind: SLO\n"
        "metadata: {name: rts}\n"
        "spec:\n"
        "  indicatorRef: errors\n"
        ROLLING("14d")
        "  budgetingMethod: RatioTimeslices\n"
        "  objectives:\n"
        "    - {target: 0.995, timeSliceWindow: 5}\n"
        "---\n"
        "apiVersion: openslo/v1\n"
        "kind: SLI\n"
        "metadata: {name: errors}\n"
        "spec:\n"
        "  ratioMetric:\n"
        "    bad: {metricSource: {type: Slic, spec: {sli: login, outcome: bad,\n"
        "          labels: {zone: b, app: web}}}}\n"
        "    total: {metricSource: {type: slic, spec: {sli: login, labels: {app: web, zone: b}}}}\n",
        NULL);
    /* clang-format on */
    const struct agg_slo_def *d = only_def(set);
    CHECK_INT_EQ(d->indicator, AGG_SLO_RATIO_BAD);
    CHECK_STR_EQ(d->source.sli, "login");
    CHECK_INT_EQ(d->budgeting, AGG_SLO_RATIO_TIMESLICES);
    CHECK_DBL_EQ(d->timeslice_window_s, 300); /* a bare number is minutes */
    CHECK_DBL_EQ(d->timeslice_target, 0);
    /* Labels come sorted by key, as series carry them. */
    CHECK_INT_EQ(d->source.n_labels, 2);
    CHECK_STR_EQ(d->source.labels[0].key, "app");
    CHECK_STR_EQ(d->source.labels[1].key, "zone");
    agg_slo_set_destroy(set);
}

static void test_calendar_week_with_start(void)
{
    /* 2024-01-01 was a Monday. */
    /* clang-format off */
    struct agg_slo_set *set = load_ok(
        SLO_HEAD("wk") RATIO_INDICATOR("checkout")
        "  timeWindow:\n"
        "    - duration: 2w\n"
        "      calendar:\n"
        "        startTime: 2024-01-01 00:00:00\n"
        "        timeZone: UTC\n"
        OCCURRENCES
        "  objectives: [{target: 0.9}]\n",
        NULL);
    /* clang-format on */
    const struct agg_slo_def *d = only_def(set);
    CHECK_INT_EQ(d->window, AGG_SLO_CALENDAR);
    CHECK_INT_EQ(d->cal_unit, AGG_SLO_CAL_WEEK);
    CHECK_INT_EQ(d->cal_count, 2);
    CHECK_INT_EQ(d->cal_start, 1704067200);
    CHECK_STR_EQ(d->time_zone, "UTC");
    /* 14 nominal days: 2% x 14d / 1h = 6.72. */
    CHECK_DBL_EQ(d->tiers[0].burn_rate, 6.72);
    agg_slo_set_destroy(set);
}

static void test_several_objectives(void)
{
    struct agg_slo_set *set =
        load_ok(SLO_HEAD("lat") THRESHOLD_INDICATOR("api") ROLLING("30d") OCCURRENCES
                "  objectives:\n"
                "    - {name: fast, op: lte, value: 100ms, target: 0.9}\n"
                "    - {displayName: \"Good enough (p99)\", op: lte, value: 1s, target: 0.99}\n"
                "    - {op: lte, value: 2.5, target: 0.999}\n",
                NULL);
    CHECK_INT_EQ(set->n_defs, 3);
    const struct agg_slo_def *fast = agg_slo_set_find(set, "lat.fast");
    const struct agg_slo_def *good = agg_slo_set_find(set, "lat.good-enough-p99");
    const struct agg_slo_def *third = agg_slo_set_find(set, "lat.2");
    CHECK(fast && good && third);
    CHECK_DBL_EQ(fast->threshold_s, 0.1);
    CHECK_DBL_EQ(good->threshold_s, 1);
    CHECK_STR_EQ(good->display_name, "lat: Good enough (p99)");
    CHECK_DBL_EQ(third->threshold_s, 2.5);
    CHECK_DBL_EQ(third->target, 0.999);
    CHECK_INT_EQ(third->line, 19);
    size_t n = 0;
    const struct slic_sli_thresholds *th = agg_slo_set_thresholds(set, &n);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(th[0].n_thresholds, 3);
    CHECK_DBL_EQ(th[0].thresholds[0], 0.1);
    CHECK_DBL_EQ(th[0].thresholds[1], 1);
    CHECK_DBL_EQ(th[0].thresholds[2], 2.5);
    agg_slo_set_destroy(set);
}

static void test_policy_forms(void)
{
    /* By alertPolicyRef, inline with alertAfter, and one that does not alert when breaching;
     * alertPolicies: [] means no alerts at all. */
    struct agg_slo_set *set = load_ok(
        SLO_HEAD("a") RATIO_INDICATOR("checkout") ROLLING("30d") OCCURRENCES
        "  objectives: [{target: 0.99}]\n"
        "  alertPolicies:\n"
        "    - alertPolicyRef: quiet\n"
        "    - kind: AlertPolicy\n"
        "      metadata: {name: inline}\n"
        "      spec:\n"
        "        conditions:\n"
        "          - kind: AlertCondition\n"
        "            metadata: {name: c}\n"
        "            spec:\n"
        "              severity: sev1\n"
        "              condition: {threshold: 2, lookbackWindow: 6h, alertAfter: 10m}\n"
        "---\n"
        "apiVersion: openslo/v1\n"
        "kind: AlertPolicy\n"
        "metadata: {name: quiet}\n"
        "spec:\n"
        "  alertWhenBreaching: false\n"
        "  conditions: [{conditionRef: c2}]\n"
        "---\n"
        "apiVersion: openslo/v1\n"
        "kind: AlertCondition\n"
        "metadata: {name: c2}\n"
        "spec: {severity: page, condition: {kind: burnrate, threshold: 1, lookbackWindow: 1h}}\n"
        "---\n" SLO_HEAD("b") RATIO_INDICATOR("checkout") ROLLING("30d") OCCURRENCES
        "  objectives: [{target: 0.99}]\n"
        "  alertPolicies: []\n",
        NULL);
    const struct agg_slo_def *a = agg_slo_set_find(set, "a");
    CHECK_INT_EQ(a->n_tiers, 1);
    CHECK_STR_EQ(a->tiers[0].severity, "sev1");
    CHECK_DBL_EQ(a->tiers[0].burn_rate, 2);
    CHECK_DBL_EQ(a->tiers[0].long_window_s, 21600);
    CHECK_DBL_EQ(a->tiers[0].short_window_s, 1800);
    CHECK_DBL_EQ(a->tiers[0].alert_after_s, 600);
    CHECK_INT_EQ(agg_slo_set_find(set, "b")->n_tiers, 0);
    agg_slo_set_destroy(set);
}

static void test_data_source_ref(void)
{
    /* clang-format off */
    struct agg_slo_set *set = load_ok(
        "apiVersion: openslo/v1\n"
        "kind: DataSource\n"
        "metadata: {name: local}\n"
        "spec: {type: slic, connectionDetails: {}}\n"
        "---\n"
        SLO_HEAD("a")
        "  indicator:\n"
        "    spec:\n"
        "      thresholdMetric: {metricSource: {metricSourceRef: local, spec: {sli: api}}}\n"
        ROLLING("30d") OCCURRENCES
        "  objectives: [{op: lte, value: 1s, target: 0.9}]\n",
        NULL);
    /* clang-format on */
    CHECK_INT_EQ(only_def(set)->indicator, AGG_SLO_THRESHOLD);
    agg_slo_set_destroy(set);
}

/* ---- skipped documents ---- */

/* clang-format off */
static const char skipped_text[] =
    /* line 1: another metric source */
    SLO_HEAD("prom")
    "  indicator:\n"
    "    spec:\n"
    "      thresholdMetric: {metricSource: {type: Prometheus, spec: {query: up}}}\n"
    ROLLING("30d")
    OCCURRENCES
    "  objectives: [{op: lte, value: 1, target: 0.9}]\n"
    "---\n"
    /* line 15: an unknown kind */
    "apiVersion: openslo/v1\n"
    "kind: PrometheusRule\n"
    "metadata: {name: rules}\n"
    "---\n"
    /* line 19: another apiVersion */
    "apiVersion: openslo/v2alpha\n"
    "kind: SLO\n"
    "metadata: {name: future}\n"
    "---\n"
    /* line 23: op gte on a latency */
    SLO_HEAD("gte")
    THRESHOLD_INDICATOR("api")
    ROLLING("30d")
    OCCURRENCES
    "  objectives: [{op: gte, value: 1, target: 0.9}]\n"
    "---\n"
    /* line 40: a rolling month */
    RATIO_SLO("month", "1M")
    "---\n"
    /* line 58: a raw ratio */
    SLO_HEAD("raw")
    "  indicator:\n"
    "    spec:\n"
    "      ratioMetric:\n"
    "        rawType: success\n"
    "        raw: {metricSource: {type: slic, spec: {sli: api}}}\n"
    ROLLING("30d")
    OCCURRENCES
    "  objectives: [{target: 0.9}]\n"
    "---\n"
    /* line 74: a calendar start off a month boundary */
    SLO_HEAD("mid")
    RATIO_INDICATOR("checkout")
    "  timeWindow:\n"
    "    - duration: 1M\n"
    "      calendar: {startTime: 2022-01-01 12:00:00, timeZone: America/New_York}\n"
    OCCURRENCES
    "  objectives: [{target: 0.9}]\n"
    "---\n"
    /* line 91: a known kind slic does not use, not reported */
    "apiVersion: openslo/v1\n"
    "kind: Service\n"
    "metadata: {name: web}\n"
    "spec: {description: The web shop}\n"
    "---\n"
    /* line 96: an SLO slic does evaluate */
    RATIO_SLO("ok", "30d");
/* clang-format on */

static void check_skip(const struct agg_openslo_skipped *s, unsigned line, const char *kind,
                       const char *name, const char *reason_part)
{
    CHECK(strstr(s->file, "slo.yaml") != NULL);
    CHECK_INT_EQ(s->line, line);
    CHECK_STR_EQ(s->kind, kind);
    CHECK_STR_EQ(s->name, name);
    CHECK_CONTAINS(s->reason, reason_part);
}

static void test_skipped_documents(void)
{
    struct agg_openslo_report rep;
    struct agg_slo_set *set = load_ok(skipped_text, &rep);
    CHECK_INT_EQ(set->n_defs, 1);
    CHECK_STR_EQ(set->defs[0].name, "ok");
    CHECK_INT_EQ(rep.n_documents, 9);
    CHECK_INT_EQ(rep.n_skipped, 7);
    /* Foreign kinds and versions are reported while reading, SLOs while checking. */
    check_skip(&rep.skipped[0], 15, "PrometheusRule", "rules", "kind 'PrometheusRule'");
    check_skip(&rep.skipped[1], 19, "SLO", "future", "apiVersion 'openslo/v2alpha'");
    check_skip(&rep.skipped[2], 1, "SLO", "prom", "metric source type 'Prometheus' is not slic");
    check_skip(&rep.skipped[3], 23, "SLO", "gte", "op 'gte'");
    check_skip(&rep.skipped[4], 40, "SLO", "month", "rolling window of 1M");
    check_skip(&rep.skipped[5], 58, "SLO", "raw", "raw");
    check_skip(&rep.skipped[6], 74, "SLO", "mid", "startTime \"2022-01-01 12:00:00\"");
    char line[512];
    agg_openslo_skipped_format(&rep.skipped[2], line, sizeof line);
    CHECK_CONTAINS(line, "slo.yaml:1: SLO 'prom' skipped: metric source type 'Prometheus'");
    agg_slo_set_destroy(set);
    agg_openslo_report_fini(&rep);
}

static void test_skipped_through_sli_ref(void)
{
    struct agg_openslo_report rep;
    struct agg_slo_set *set =
        load_ok(SLO_HEAD("a") "  indicatorRef: dd\n" ROLLING("30d") OCCURRENCES
                "  objectives: [{target: 0.9}]\n"
                "---\n"
                "apiVersion: openslo/v1\n"
                "kind: SLI\n"
                "metadata: {name: dd}\n"
                "spec:\n"
                "  ratioMetric:\n"
                "    good: {metricSource: {type: Datadog, spec: {query: a}}}\n"
                "    total: {metricSource: {type: Datadog, spec: {query: b}}}\n",
                &rep);
    CHECK_INT_EQ(set->n_defs, 0);
    CHECK_INT_EQ(rep.n_skipped, 1);
    check_skip(&rep.skipped[0], 1, "SLO", "a", "SLI 'dd': metric source type 'Datadog'");
    agg_slo_set_destroy(set);
    agg_openslo_report_fini(&rep);
}

static void test_unsupported_features_skip(void)
{
    struct agg_openslo_report rep;
    /* clang-format off */
    struct agg_slo_set *set = load_ok(
        SLO_HEAD("slices") RATIO_INDICATOR("c") ROLLING("30d")
        "  budgetingMethod: Timeslices\n"
        "  objectives: [{target: 0.9, timeSliceTarget: 0.9, timeSliceWindow: 15s}]\n"
        "---\n"
        SLO_HEAD("hours") RATIO_INDICATOR("c")
        "  timeWindow:\n"
        "    - {duration: 12h, isRolling: false}\n"
        OCCURRENCES
        "  objectives: [{target: 0.9}]\n"
        "---\n"
        SLO_HEAD("composite") RATIO_INDICATOR("c") ROLLING("30d") OCCURRENCES
        "  objectives: [{target: 0.9, compositeWeight: 1}]\n",
        &rep);
    /* clang-format on */
    CHECK_INT_EQ(set->n_defs, 0);
    CHECK_INT_EQ(rep.n_skipped, 3);
    check_skip(&rep.skipped[0], 1, "SLO", "slices", "time slices of 15s");
    check_skip(&rep.skipped[1], 18, "SLO", "hours", "calendar windows of 12h");
    check_skip(&rep.skipped[2], 34, "SLO", "composite", "composite");
    agg_slo_set_destroy(set);
    agg_openslo_report_fini(&rep);
}

/* ---- malformed input ---- */

struct bad_case {
    const char *text;
    int code;
    const char *want; /* part of the message: file:line and key */
};

/* clang-format off */
static const struct bad_case bad_cases[] = {
    {SLO_HEAD("a") RATIO_INDICATOR("c") ROLLING("30d")
     "  objectives: [{target: 0.9}]\n",
     SLIC_EMISSING, "slo.yaml:6: missing required key 'spec.budgetingMethod'"},
    {RATIO_SLO("a", "28days"),
     SLIC_ECONFIG, "slo.yaml:13: key 'spec.timeWindow[0].duration': expected a duration"},
    {SLO_HEAD("a") RATIO_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{target: 1.5}]\n",
     SLIC_ECONFIG, "slo.yaml:16: key 'spec.objectives[0].target': expected a number from 0 to 1"},
    {SLO_HEAD("a") RATIO_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{target: 1}]\n",
     SLIC_ECONFIG, "slo.yaml:16: key 'spec.objectives[0].target': expected a target above 0"},
    {SLO_HEAD("a") RATIO_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{targetPercent: 0}]\n",
     SLIC_ECONFIG, "key 'spec.objectives[0].targetPercent': expected a targetPercent above 0"},
    {SLO_HEAD("a") RATIO_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{target: 0.9, targetPercent: 90}]\n",
     SLIC_ECONFIG, "key 'spec.objectives[0].targetPercent': give either target"},
    {SLO_HEAD("a") RATIO_INDICATOR("c") ROLLING("30d")
     "  budgetingMethod: Occurrence\n"
     "  objectives: [{target: 0.9}]\n",
     SLIC_ECONFIG, "slo.yaml:15: key 'spec.budgetingMethod': expected Occurrences, Timeslices"},
    {SLO_HEAD("a") RATIO_INDICATOR("c") ROLLING("30d")
     "  budgetingMetod: Occurrences\n"
     "  objectives: [{target: 0.9}]\n",
     SLIC_ECONFIG,
     "slo.yaml:15: unknown key 'spec.budgetingMetod'; did you mean 'budgetingMethod'"},
    {SLO_HEAD("a") THRESHOLD_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives:\n"
     "    - {op: le, value: 1, target: 0.9}\n",
     SLIC_ECONFIG, "slo.yaml:17: key 'spec.objectives[0].op': expected lte, lt, gte or gt"},
    {SLO_HEAD("a") THRESHOLD_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{op: lte, target: 0.9}]\n",
     SLIC_EMISSING,
     "slo.yaml:16: key 'spec.objectives[0]': a thresholdMetric objective needs a value"},
    {SLO_HEAD("a") THRESHOLD_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{op: lte, value: fast, target: 0.9}]\n",
     SLIC_ECONFIG, "slo.yaml:16: key 'spec.objectives[0].value': expected a latency bound"},
    {SLO_HEAD("a") THRESHOLD_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{value: 1s, target: 0.9}]\n",
     SLIC_EMISSING, "missing required key 'spec.objectives[0].op'"},
    {SLO_HEAD("a") RATIO_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{op: lte, value: 1, target: 0.9}]\n",
     SLIC_ECONFIG, "key 'spec.objectives[0].value': value applies to a thresholdMetric"},
    {RATIO_SLO("a", "30d") "---\n" RATIO_SLO("a", "7d"),
     SLIC_ECONFIG, "slo.yaml:22: key 'metadata.name': SLO 'a' is already defined at "},
    {RATIO_SLO("Checkout_Latency", "30d"),
     SLIC_ECONFIG,
     "slo.yaml:4: key 'metadata.name': expected a name of at most 63 characters [a-z0-9-]"},
    {SLO_HEAD("a")
     "  indicatorRef: nope\n"
     ROLLING("30d") OCCURRENCES
     "  objectives: [{target: 0.9}]\n",
     SLIC_ECONFIG, "slo.yaml:6: key 'spec.indicatorRef': no SLI named 'nope'"},
    {RATIO_SLO("a", "30d")
     "  alertPolicies: [nope]\n",
     SLIC_ECONFIG, "slo.yaml:18: key 'spec.alertPolicies[0]': no AlertPolicy named 'nope'"},
    {"apiVersion: openslo/v1\n"
     "kind: AlertPolicy\n"
     "metadata: {name: p}\n"
     "spec:\n"
     "  conditions: [{conditionRef: nope}]\n",
     SLIC_ECONFIG, "slo.yaml:5: key 'spec.conditions[0].conditionRef': no AlertCondition named"},
    {"apiVersion: openslo/v1\n"
     "kind: AlertCondition\n"
     "metadata: {name: c}\n"
     "spec:\n"
     "  severity: page\n"
     "  condition: {kind: static, threshold: 1, lookbackWindow: 1h}\n",
     SLIC_ECONFIG, "slo.yaml:6: key 'spec.condition.kind': expected burnrate"},
    {"apiVersion: openslo/v1\n"
     "kind: AlertCondition\n"
     "metadata: {name: c}\n"
     "spec:\n"
     "  severity: page\n"
     "  condition: {threshold: 1, lookbackWindow: 1M}\n",
     SLIC_ECONFIG, "slo.yaml:6: key 'spec.condition.lookbackWindow': expected a duration"},
    {"apiVersion: openslo/v1\n"
     "kind: AlertCondition\n"
     "metadata: {name: c}\n"
     "spec:\n"
     "  condition: {threshold: 1, lookbackWindow: 1h}\n",
     SLIC_EMISSING, "missing required key 'spec.severity'"},
    {SLO_HEAD("a")
     "  indicator:\n"
     "    spec:\n"
     "      ratioMetric:\n"
     "        good: {metricSource: {type: slic, spec: {sli: c}}}\n"
     "        total: {metricSource: {type: slic, spec: {sli: c}}}\n"
     ROLLING("30d") OCCURRENCES
     "  objectives: [{target: 0.9}]\n",
     SLIC_EMISSING,
     "slo.yaml:9: key 'spec.indicator.spec.ratioMetric.good.metricSource.spec': "
     "the good source needs outcome: good"},
    {SLO_HEAD("a")
     "  indicator:\n"
     "    spec:\n"
     "      ratioMetric:\n"
     "        good: {metricSource: {type: slic, spec: {sli: c, outcome: good}}}\n"
     "        total: {metricSource: {type: slic, spec: {sli: d}}}\n"
     ROLLING("30d") OCCURRENCES
     "  objectives: [{target: 0.9}]\n",
     SLIC_ECONFIG,
     "slo.yaml:9: key 'spec.indicator.spec.ratioMetric.good.metricSource.spec.sli': "
     "good reads SLI 'c' but total reads 'd'"},
    {SLO_HEAD("a")
     "  indicator:\n"
     "    spec:\n"
     "      thresholdMetric: {metricSource: {type: slic, spec: {sli: c, site: [x]}}}\n"
     ROLLING("30d") OCCURRENCES
     "  objectives: [{op: lte, value: 1, target: 0.9}]\n",
     SLIC_ECONFIG,
     "slo.yaml:8: unknown key 'spec.indicator.spec.thresholdMetric.metricSource.spec.site'; "
     "did you mean 'sites'"},
    {SLO_HEAD("a")
     "  indicator:\n"
     "    spec:\n"
     "      thresholdMetric: {metricSource: {type: slic, spec: {sli: \"check out\"}}}\n"
     ROLLING("30d") OCCURRENCES
     "  objectives: [{op: lte, value: 1, target: 0.9}]\n",
     SLIC_ECONFIG,
     "slo.yaml:8: key 'spec.indicator.spec.thresholdMetric.metricSource.spec.sli': "
     "expected an SLI name"},
    {SLO_HEAD("a") RATIO_INDICATOR("c") ROLLING("30d")
     "  budgetingMethod: Timeslices\n"
     "  objectives: [{target: 0.9, timeSliceWindow: 1m}]\n",
     SLIC_EMISSING,
     "slo.yaml:16: key 'spec.objectives[0]': missing required key 'timeSliceTarget'"},
    {SLO_HEAD("a") RATIO_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{target: 0.9, timeSliceWindow: 1m}]\n",
     SLIC_ECONFIG, "key 'spec.objectives[0].timeSliceWindow': time slices apply to Timeslices"},
    {SLO_HEAD("a") RATIO_INDICATOR("c")
     "  timeWindow:\n"
     "    - duration: 1M\n"
     "      calendar: {timeZone: Europe/Zurch}\n"
     OCCURRENCES
     "  objectives: [{target: 0.9}]\n",
     SLIC_ECONFIG,
     "slo.yaml:14: key 'spec.timeWindow[0].calendar.timeZone': time zone 'Europe/Zurch'"},
    {SLO_HEAD("a") RATIO_INDICATOR("c")
     "  timeWindow:\n"
     "    - duration: 2M\n"
     "      isRolling: false\n"
     OCCURRENCES
     "  objectives: [{target: 0.9}]\n",
     SLIC_EMISSING,
     "slo.yaml:13: key 'spec.timeWindow[0]': a calendar window of 2 units needs "
     "calendar.startTime"},
    {SLO_HEAD("a") RATIO_INDICATOR("c")
     "  timeWindow:\n"
     "    - duration: month\n"
     "      isRolling: false\n"
     OCCURRENCES
     "  objectives: [{target: 0.9}]\n",
     SLIC_ECONFIG,
     "slo.yaml:13: key 'spec.timeWindow[0].duration': expected a calendar duration like 1M"},
    {SLO_HEAD("a") RATIO_INDICATOR("c")
     "  timeWindow:\n"
     "    - duration: 1M\n"
     "      calendar: {startTime: 2022-02-30 00:00:00}\n"
     OCCURRENCES
     "  objectives: [{target: 0.9}]\n",
     SLIC_ECONFIG,
     "slo.yaml:14: key 'spec.timeWindow[0].calendar.startTime': expected a local date and time"},
    {SLO_HEAD("a") RATIO_INDICATOR("c")
     "  timeWindow:\n"
     "    - {duration: 1000w, isRolling: false}\n"
     OCCURRENCES
     "  objectives: [{target: 0.9}]\n",
     SLIC_ECONFIG,
     "slo.yaml:13: key 'spec.timeWindow[0].duration': a window of at most 1000 units and 5 years"},
    /* Within the nominal 30-day month, but a February is shorter: the evaluator's check. */
    {SLO_HEAD("a") RATIO_INDICATOR("c")
     "  timeWindow:\n"
     "    - {duration: 1M, isRolling: false}\n"
     "  budgetingMethod: Timeslices\n"
     "  objectives: [{target: 0.9, timeSliceTarget: 0.9, timeSliceWindow: 29d}]\n",
     SLIC_ECONFIG, "slo.yaml:1: SLO 'a': timeSliceWindow"},
    {"kind: SLO\n"
     "metadata: {name: a}\n",
     SLIC_EMISSING, "slo.yaml:1: missing required key 'apiVersion'"},
    {"- just\n"
     "- a list\n",
     SLIC_ECONFIG, "slo.yaml:1: document: expected a mapping"},
    {"apiVersion: openslo/v1\n"
     "kind: SLO\n"
     "metadata: {name: a\n",
     SLIC_ECONFIG, "slo.yaml:4:"},
    {"apiVersion: openslo/v1\n"
     "kind: SLO\n"
     "metadata:\n"
     "  name: a\n"
     "  annotations:\n"
     "    slic/min-event: \"5\"\n"
     "spec:\n"
     RATIO_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{target: 0.9}]\n",
     SLIC_ECONFIG,
     "slo.yaml:6: key 'metadata.annotations.slic/min-event': unknown slic annotation"},
    {"apiVersion: openslo/v1\n"
     "kind: SLO\n"
     "metadata:\n"
     "  name: a\n"
     "  annotations: {runbook_url: \"ftp://x\"}\n"
     "spec:\n"
     RATIO_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives: [{target: 0.9}]\n",
     SLIC_ECONFIG, "slo.yaml:5: key 'metadata.annotations.runbook_url': expected an http://"},
    {"apiVersion: openslo/v1\n"
     "kind: SLI\n"
     "metadata: {name: unused}\n"
     "spec: {thresholdMetric: {metricSource: {type: slic, spec: {sli: ok, outcome: good}}}}\n",
     SLIC_ECONFIG,
     "slo.yaml:4: key 'spec.thresholdMetric.metricSource.spec.outcome': outcome belongs to a "
     "ratioMetric"},
    {SLO_HEAD("a") THRESHOLD_INDICATOR("c") ROLLING("30d") OCCURRENCES
     "  objectives:\n"
     "    - {name: x, op: lte, value: 1, target: 0.9}\n"
     "    - {name: x, op: lte, value: 2, target: 0.9}\n",
     SLIC_ECONFIG,
     "slo.yaml:18: key 'spec.objectives[1]': two objectives of this SLO are both named 'a.x'"},
};
/* clang-format on */

static void test_malformed_cases(void)
{
    int failures = 0;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct agg_slo_set *set = NULL;
        struct agg_openslo_report rep;
        struct slic_errmsg err = {{0}};
        int rc = load_text(bad_cases[i].text, &set, &rep, &err);
        /* Every case is tried, so one run shows all that fail. */
        if (rc != bad_cases[i].code || !strstr(err.text, bad_cases[i].want)) {
            fprintf(stderr, "  case %zu: got %d (%s) \"%s\", want %d \"%s\"\n", i, rc,
                    harness_errname(rc), err.text, bad_cases[i].code, bad_cases[i].want);
            failures++;
        }
        CHECK(set == NULL);
        CHECK_INT_EQ(rep.n_skipped, 0);
        CHECK_INT_EQ(rep.n_files, 0);
    }
    CHECK_INT_EQ(failures, 0);
}

static void test_too_many_tiers(void)
{
    char text[4096];
    /* clang-format off */
    size_t len = (size_t)snprintf(text, sizeof text, "%s",
                                  RATIO_SLO("a", "30d")
                                  "  alertPolicies:\n"
                                  "    - kind: AlertPolicy\n"
                                  "      spec:\n"
                                  "        conditions:\n");
    /* clang-format on */
    for (int i = 0; i < AGG_SLO_TIERS_MAX + 1; i++)
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "          - {kind: AlertCondition, spec: {severity: page, "
                                "condition: {threshold: %d, lookbackWindow: 1h}}}\n",
                                i + 1);
    struct agg_slo_set *set = NULL;
    struct slic_errmsg err = {{0}};
    CHECK_ERR(load_text(text, &set, NULL, &err), SLIC_ETOOBIG);
    CHECK_CONTAINS(err.text, "slo.yaml:30: key 'spec.alertPolicies[0].spec.conditions[8]'");
}

static void test_missing_path(void)
{
    const char *path = "/nonexistent/slo.yaml";
    struct agg_slo_set *set = NULL;
    struct slic_errmsg err = {{0}};
    CHECK_ERR(agg_openslo_load(&path, 1, &set, NULL, &err), -ENOENT);
    CHECK_CONTAINS(err.text, "/nonexistent/slo.yaml: cannot read");
    CHECK(set == NULL);
}

/* A good file and a bad one: nothing loads, and nothing is reported as if it had. */
static void test_whole_or_nothing(void)
{
    const char *paths[2];
    char good[512];
    snprintf(good, sizeof good, "%s", harness_write_file("good.yaml", RATIO_SLO("good", "30d")));
    paths[0] = good;
    paths[1] = harness_write_file("bad.yaml", RATIO_SLO("bad", "30days"));
    struct agg_slo_set *set = NULL;
    struct agg_openslo_report rep;
    struct slic_errmsg err = {{0}};
    CHECK_ERR(agg_openslo_load(paths, 2, &set, &rep, &err), SLIC_ECONFIG);
    CHECK_CONTAINS(err.text, "bad.yaml:13: key 'spec.timeWindow[0].duration'");
    CHECK(set == NULL);
    CHECK_INT_EQ(rep.n_files, 0);
}

/* ---- directories ---- */

static void test_directory(void)
{
    char dir[512], sub[600];
    snprintf(dir, sizeof dir, "%s/slos", harness_tmpdir());
    CHECK_INT_EQ(mkdir(dir, 0755), 0);
    snprintf(sub, sizeof sub, "%s/nested.yaml", dir);
    CHECK_INT_EQ(mkdir(sub, 0755), 0);
    /* The SLO comes first by name and names an SLI defined in the next file. */
    /* clang-format off */
    harness_write_file("slos/a-slo.yaml",
               SLO_HEAD("a")
               "  indicatorRef: lat\n"
               ROLLING("30d") OCCURRENCES
               "  objectives:\n"
               "    - {op: lte, value: 200ms, target: 0.9}\n");
    harness_write_file("slos/b-sli.yml",
               "apiVersion: openslo/v1\n"
               "kind: SLI\n"
               "metadata: {name: lat}\n"
               "spec:\n"
               "  thresholdMetric: {metricSource: {type: slic, spec: {sli: web}}}\n");
    harness_write_file("slos/c.yaml",
               RATIO_SLO("c", "7d")
               "---\n"
               SLO_HEAD("d")
               "  indicatorRef: lat\n"
               ROLLING("30d") OCCURRENCES
               "  objectives:\n"
               "    - {op: lte, value: 0.05, target: 0.9}\n");
    /* clang-format on */
    harness_write_file("slos/notes.txt", "not yaml: [");
    harness_write_file("slos/.hidden.yaml", "not yaml: [");
    const char *paths[] = {dir};
    struct agg_slo_set *set = NULL;
    struct agg_openslo_report rep;
    struct slic_errmsg err = {{0}};
    int rc = agg_openslo_load(paths, 1, &set, &rep, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "%s", err.text);
    CHECK_INT_EQ(rep.n_files, 3);
    CHECK_INT_EQ(rep.n_documents, 4);
    CHECK_INT_EQ(set->n_defs, 3);
    const struct agg_slo_def *a = agg_slo_set_find(set, "a");
    CHECK(a != NULL);
    CHECK_STR_EQ(a->source.sli, "web");
    CHECK_DBL_EQ(a->threshold_s, 0.2);
    CHECK(strstr(a->file, "a-slo.yaml") != NULL);
    /* Thresholds per SLI, ascending: web has 0.05 and 0.2; checkout's ratio SLO has none. */
    size_t n = 0;
    const struct slic_sli_thresholds *th = agg_slo_set_thresholds(set, &n);
    CHECK_INT_EQ(n, 1);
    CHECK_STR_EQ(th[0].sli, "web");
    CHECK_INT_EQ(th[0].n_thresholds, 2);
    CHECK_DBL_EQ(th[0].thresholds[0], 0.05);
    CHECK_DBL_EQ(th[0].thresholds[1], 0.2);
    agg_slo_set_destroy(set);
    agg_openslo_report_fini(&rep);

    /* No paths at all: an empty set. */
    CHECK_OK(agg_openslo_load(NULL, 0, &set, NULL, &err));
    CHECK_INT_EQ(set->n_defs, 0);
    CHECK(agg_slo_set_find(set, "a") == NULL);
    agg_slo_set_destroy(set);
}

static void test_thresholds_capped(void)
{
    char text[16384];
    size_t len = 0;
    /* 20 SLOs with distinct thresholds (and one repeat) on one SLI: the 16 smallest count. */
    for (int i = 0; i < 21; i++)
        /* clang-format off */
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "%s"
                                "apiVersion: openslo/v1\n"
                                "kind: SLO\n"
                                "metadata: {name: s%d}\n"
                                "spec:\n"
                                THRESHOLD_INDICATOR("api") ROLLING("30d") OCCURRENCES
                                "  objectives: [{op: lte, value: %dms, target: 0.9}]\n",
                                i ? "---\n" : "", i, i == 20 ? 100 : 100 * (20 - i));
    /* clang-format on */
    struct agg_slo_set *set = load_ok(text, NULL);
    size_t n = 0;
    const struct slic_sli_thresholds *th = agg_slo_set_thresholds(set, &n);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(th[0].n_thresholds, SLIC_SERIES_THRESHOLDS_MAX);
    for (int i = 0; i < SLIC_SERIES_THRESHOLDS_MAX; i++)
        CHECK_REL(th[0].thresholds[i], (i + 1) / 10.0, 1e-15);
    agg_slo_set_destroy(set);
}

/* ---- allocation failure ---- */

static void test_allocation_failures(void)
{
    /* The example and the skip file, through a directory: every allocation path at once. */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/all", harness_tmpdir());
    CHECK_INT_EQ(mkdir(dir, 0755), 0);
    harness_write_file("all/skips.yaml", skipped_text);
    const char *paths[] = {"examples/slo/checkout.yaml", dir};
    for (long n = 0;; n++) {
        struct agg_slo_set *set = NULL;
        struct agg_openslo_report rep;
        struct slic_errmsg err = {{0}};
        slic_alloc_fail_after(n);
        int rc = agg_openslo_load(paths, 2, &set, &rep, &err);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            CHECK_INT_EQ(set->n_defs, 4);
            CHECK_INT_EQ(rep.n_skipped, 7);
            agg_slo_set_destroy(set);
            agg_openslo_report_fini(&rep);
            break;
        }
        if (rc != SLIC_ENOMEM)
            harness_fail(__FILE__, __LINE__, "allocation %ld: %d %s", n, rc, err.text);
        CHECK(set == NULL);
        CHECK(n < 100000);
    }
}

HARNESS_CASES(HARNESS_CASE(test_example_file), HARNESS_CASE(test_default_tiers_30d),
              HARNESS_CASE(test_default_tiers_7d),
              HARNESS_CASE(test_default_tiers_short_and_calendar),
              HARNESS_CASE(test_threshold_number_and_lt),
              HARNESS_CASE(test_ratio_timeslices_and_sli_ref),
              HARNESS_CASE(test_calendar_week_with_start), HARNESS_CASE(test_several_objectives),
              HARNESS_CASE(test_policy_forms), HARNESS_CASE(test_data_source_ref),
              HARNESS_CASE(test_skipped_documents), HARNESS_CASE(test_skipped_through_sli_ref),
              HARNESS_CASE(test_unsupported_features_skip), HARNESS_CASE(test_malformed_cases),
              HARNESS_CASE(test_too_many_tiers), HARNESS_CASE(test_missing_path),
              HARNESS_CASE(test_whole_or_nothing), HARNESS_CASE(test_directory),
              HARNESS_CASE(test_thresholds_capped), HARNESS_CASE(test_allocation_failures));
HARNESS_MAIN()
