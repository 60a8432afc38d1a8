/* Tests of the burn-down series (aggregator/slo_burndown.c) and of the engine's burn-down JSON
 * (aggregator/slo_engine_burndown.c). Hand-computed series for each budgeting method, a calendar
 * window whose period runs past `to`, empty windows, pinning, misuse; then the property the
 * dashboard relies on: fed what the evaluator reads, the last point IS the evaluator's consumed
 * and remaining, bit for bit, for every budgeting and window kind and any point count; and the
 * same through the engine over a real store.
 *
 *   occurrences_hand        bad events / (budget x events of the window), points on atoms
 *   timeslices_hand         bad slices / (budget x slices of the period), overspent budget
 *   ratio_timeslices_hand   sum of (1 - ratio) / (budget x non-empty slices)
 *   calendar_window         a month's Timeslices budget is the whole month's slices; Occurrences
 *                           counts the events so far
 *   empty_window            a period that just began, and a window without events
 *   last_point_is_evaluator synthetic data through agg_slo_evaluate and the builder alike
 *   pin                     the last point made the evaluator's, the rest scaled alike
 *   misuse                  bad point counts, atoms out of place, bad counts, overflow
 *   engine_from_store       agg_slo_engine_burndown over a store: last point = /api/v1/slos */
#include "harness.h"

#include "../../aggregator/slo_engine_int.h"
#include "alloc.h"
#include "jsonscan.h"
#include "reply_json.h"
#include "slo.h"
#include "slo_burndown.h"
#include "store.h"
#include "timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-12
/* A minute boundary: 2023-11-14T22:13:00Z. */
#define T INT64_C(1699999980)

static char slo_name[] = "checkout";

static int64_t at(const char *rfc3339)
{
    int64_t t;
    CHECK_OK(slic_rfc3339_parse(rfc3339, &t));
    return t;
}

static struct agg_slo_def def_of(enum agg_slo_budgeting budgeting, double target, double slice_s)
{
    return (struct agg_slo_def){
        .name = slo_name,
        .indicator = AGG_SLO_RATIO_GOOD,
        .target = target,
        .budgeting = budgeting,
        .timeslice_window_s = slice_s,
        .timeslice_target = budgeting == AGG_SLO_TIMESLICES ? 0.95 : 0,
        .window = AGG_SLO_ROLLING,
        .rolling_s = 86400,
    };
}

/* d as a calendar window of one unit, in UTC. */
static struct agg_slo_def calendar(struct agg_slo_def d, enum agg_slo_calendar_unit unit)
{
    d.window = AGG_SLO_CALENDAR;
    d.cal_unit = unit;
    d.cal_count = 1;
    return d;
}

static struct agg_slo_window rolling(int64_t from, int64_t to)
{
    return (struct agg_slo_window){from, to, from, to};
}

/* One atom or slice: total, good_lower, good_upper. */
struct atom {
    uint64_t total, lower, upper;
};

/* Feeds atoms of `len` seconds from w->from and finishes. */
static const struct agg_slo_burndown_point *
series_of(struct agg_slo_burndown *b, const struct agg_slo_def *d, const struct agg_slo_window *w,
          size_t points, const struct atom *atoms, size_t n, int64_t len, size_t *n_points)
{
    CHECK_OK(agg_slo_burndown_init(b, d, w, points));
    for (size_t i = 0; i < n; i++) {
        struct agg_slo_counts c = {atoms[i].total, atoms[i].lower, atoms[i].upper, false};
        int64_t s = w->from + (int64_t)i * len;
        CHECK_OK(agg_slo_burndown_add(b, s, s + len, &c));
    }
    const struct agg_slo_burndown_point *p = NULL;
    CHECK_OK(agg_slo_burndown_finish(b, &p, n_points));
    return p;
}

/* Expected points: time offset from the window start, cumulative events, bad events, consumed. */
struct want {
    int64_t dt;
    uint64_t total, bad;
    double consumed;
};

static void check_series(const struct agg_slo_burndown_point *p, size_t n, int64_t from,
                         const struct want *want, size_t n_want)
{
    CHECK_U64_EQ(n, n_want);
    for (size_t i = 0; i < n; i++) {
        printf("  t=+%lld total %llu bad %llu consumed %.15g remaining %.15g\n",
               (long long)(p[i].t - from), (unsigned long long)p[i].total,
               (unsigned long long)(p[i].total - p[i].good_lower), p[i].consumed, p[i].remaining);
        CHECK_INT_EQ(p[i].t - from, want[i].dt);
        CHECK_U64_EQ(p[i].total, want[i].total);
        CHECK_U64_EQ(p[i].total - p[i].good_lower, want[i].bad);
        if (want[i].consumed == 0)
            CHECK_DBL_EQ(p[i].consumed, 0.0);
        else
            CHECK_REL(p[i].consumed, want[i].consumed, TOL);
        CHECK_DBL_EQ(p[i].remaining, 1.0 - p[i].consumed);
    }
}

/* ---- hand-computed series ---- */

static void test_occurrences_hand(void)
{
    /* Budget 0.2 of 60 events = 12 bad events. Conservative: the atom with good in [18, 19]
     * counts 2 bad. Bad so far 0, 1, 1, 3, 3, 6. */
    static const struct atom atoms[] = {{10, 10, 10}, {10, 9, 9},   {0, 0, 0},
                                        {20, 18, 19}, {10, 10, 10}, {10, 7, 7}};
    struct agg_slo_def d = def_of(AGG_SLO_OCCURRENCES, 0.8, 0);
    struct agg_slo_window w = rolling(T, T + 60);
    struct agg_slo_burndown b;
    size_t n;

    /* 4 points: every 20 s. */
    const struct agg_slo_burndown_point *p = series_of(&b, &d, &w, 4, atoms, 6, 10, &n);
    static const struct want four[] = {
        {0, 0, 0, 0}, {20, 20, 1, 1.0 / 12}, {40, 40, 3, 3.0 / 12}, {60, 60, 6, 6.0 / 12}};
    check_series(p, n, T, four, 4);
    CHECK_DBL_EQ(p[3].remaining, 1.0 - 6.0 / (0.19999999999999996 * 60.0));
    agg_slo_burndown_fini(&b);

    /* 7 points: one per atom. */
    p = series_of(&b, &d, &w, 7, atoms, 6, 10, &n);
    static const struct want seven[] = {
        {0, 0, 0, 0},          {10, 10, 0, 0},        {20, 20, 1, 1.0 / 12}, {30, 20, 1, 1.0 / 12},
        {40, 40, 3, 3.0 / 12}, {50, 50, 3, 3.0 / 12}, {60, 60, 6, 6.0 / 12}};
    check_series(p, n, T, seven, 7);
    agg_slo_burndown_fini(&b);

    /* Atoms longer than the spacing: a point lands on the first atom end at or after each
     * evenly spaced time (20 s -> 30 s; 40 s and 60 s -> 60 s), so 3 points, not 4. */
    static const struct atom halves[] = {{30, 28, 28}, {30, 26, 26}};
    p = series_of(&b, &d, &w, 4, halves, 2, 30, &n);
    static const struct want three[] = {{0, 0, 0, 0}, {30, 30, 2, 2.0 / 12}, {60, 60, 6, 0.5}};
    check_series(p, n, T, three, 3);
    agg_slo_burndown_fini(&b);
}

static void test_timeslices_hand(void)
{
    /* Budget 0.1 of 10 one-minute slices = 1 slice. A slice is good at ratio >= 0.95: bad are
     * slice 1 (0.90), 4 (0.94) and 6 (0.94..0.96: not surely good). The empty slice 2 is
     * good. 3 bad slices spend 300 %: remaining -200 %. */
    static const struct atom slices[] = {
        {100, 100, 100}, {100, 90, 90}, {0, 0, 0},       {100, 95, 95},   {100, 94, 94},
        {100, 100, 100}, {100, 94, 96}, {100, 100, 100}, {100, 100, 100}, {100, 100, 100}};
    struct agg_slo_def d = def_of(AGG_SLO_TIMESLICES, 0.9, 60);
    struct agg_slo_window w = rolling(T, T + 600);
    struct agg_slo_burndown b;
    size_t n;
    const struct agg_slo_burndown_point *p = series_of(&b, &d, &w, 3, slices, 10, 60, &n);
    static const struct want want[] = {{0, 0, 0, 0}, {300, 400, 21, 2.0}, {600, 900, 27, 3.0}};
    check_series(p, n, T, want, 3);
    CHECK_U64_EQ(b.slices_period, 10);
    CHECK_U64_EQ(p[1].slices, 5);
    CHECK_U64_EQ(p[1].bad_slices, 2);
    CHECK_U64_EQ(p[2].slices, 10);
    CHECK_U64_EQ(p[2].bad_slices, 3);
    CHECK_REL(p[2].remaining, -2.0, TOL);
    agg_slo_burndown_fini(&b);

    /* A range that is not whole slices is refused. */
    w.to = T + 630;
    CHECK_ERR(agg_slo_burndown_init(&b, &d, &w, 3), SLIC_EINVAL);
    agg_slo_burndown_fini(&b);
}

static void test_ratio_timeslices_hand(void)
{
    /* Ratios 1.0, 0.5, (empty), 0.8: mean 2.3 / 3, budget 0.1. After two slices the shortfall
     * is 0.5 of the 0.3 the window's 3 non-empty slices may lose: 5/3; at the end 0.7: 7/3. */
    static const struct atom slices[] = {{100, 100, 100}, {20, 10, 10}, {0, 0, 0}, {50, 40, 40}};
    struct agg_slo_def d = def_of(AGG_SLO_RATIO_TIMESLICES, 0.9, 60);
    struct agg_slo_window w = rolling(T, T + 240);
    struct agg_slo_burndown b;
    size_t n;
    const struct agg_slo_burndown_point *p = series_of(&b, &d, &w, 3, slices, 4, 60, &n);
    static const struct want want[] = {
        {0, 0, 0, 0}, {120, 120, 10, 5.0 / 3}, {240, 170, 20, 7.0 / 3}};
    check_series(p, n, T, want, 3);
    CHECK_U64_EQ(p[2].nonempty, 3);
    CHECK_U64_EQ(p[2].slices, 4);
    agg_slo_burndown_fini(&b);
}

static void test_calendar_window(void)
{
    /* April 2024 in UTC, hourly slices, evaluated 2024-04-10T12:30:00Z: the window holds the
     * 228 complete hours so far, the budget is 1 % of the month's 720 hours (7.2 slices). Bad
     * hours 0, 100 and 200: 2 / 7.2 by the middle point (hour 114), 3 / 7.2 at the end. */
    struct agg_slo_def d = calendar(def_of(AGG_SLO_TIMESLICES, 0.99, 3600), AGG_SLO_CAL_MONTH);
    struct agg_slo_window w;
    CHECK_OK(agg_slo_window_range(&d, NULL, at("2024-04-10T12:30:00Z"), &w));
    CHECK_INT_EQ(w.period_start, at("2024-04-01T00:00:00Z"));
    CHECK_INT_EQ(w.period_end, at("2024-05-01T00:00:00Z"));
    CHECK_INT_EQ(w.to, at("2024-04-10T12:00:00Z"));
    struct atom hours[229];
    for (size_t i = 0; i < 229; i++)
        hours[i] = i % 100 == 0 ? (struct atom){100, 90, 90} : (struct atom){100, 100, 100};
    struct agg_slo_burndown b;
    size_t n;
    const struct agg_slo_burndown_point *p = series_of(&b, &d, &w, 3, hours, 228, 3600, &n);
    static const struct want sliced[] = {
        {0, 0, 0, 0}, {114 * 3600, 11400, 20, 2.0 / 7.2}, {228 * 3600, 22800, 30, 3.0 / 7.2}};
    check_series(p, n, w.from, sliced, 3);
    CHECK_U64_EQ(b.slices_period, 720);
    agg_slo_burndown_fini(&b);

    /* Occurrences over the same period: the window runs to 12:30, and the budget is 1 % of
     * the events so far (22,850), not of a month's: 30 bad events spend 30 / 228.5. The last
     * atom is the half hour since 12:00. */
    d.budgeting = AGG_SLO_OCCURRENCES;
    CHECK_OK(agg_slo_window_range(&d, NULL, at("2024-04-10T12:30:00Z"), &w));
    CHECK_INT_EQ(w.to, at("2024-04-10T12:30:00Z"));
    hours[228] = (struct atom){50, 50, 50};
    CHECK_OK(agg_slo_burndown_init(&b, &d, &w, 2));
    for (size_t i = 0; i < 229; i++) {
        struct agg_slo_counts c = {hours[i].total, hours[i].lower, hours[i].upper, true};
        int64_t s = w.from + (int64_t)i * 3600;
        CHECK_OK(agg_slo_burndown_add(&b, s, i < 228 ? s + 3600 : w.to, &c));
    }
    CHECK_OK(agg_slo_burndown_finish(&b, &p, &n));
    static const struct want occ[] = {{0, 0, 0, 0}, {228 * 3600 + 1800, 22850, 30, 30 / 228.5}};
    check_series(p, n, w.from, occ, 2);
    CHECK(w.period_end > w.to); /* the period continues; the series stops at `to` */
    agg_slo_burndown_fini(&b);
}

static void test_empty_window(void)
{
    /* A calendar day that has just begun: nothing to read, one point, nothing spent. */
    struct agg_slo_def d = calendar(def_of(AGG_SLO_OCCURRENCES, 0.99, 0), AGG_SLO_CAL_DAY);
    struct agg_slo_window w;
    CHECK_OK(agg_slo_window_range(&d, NULL, at("2024-04-10T00:00:05Z"), &w));
    CHECK_INT_EQ(w.from, w.to);
    struct agg_slo_burndown b;
    const struct agg_slo_burndown_point *p = NULL;
    size_t n = 0;
    CHECK_OK(agg_slo_burndown_init(&b, &d, &w, AGG_SLO_BURNDOWN_POINTS_DEFAULT));
    CHECK_OK(agg_slo_burndown_finish(&b, &p, &n));
    CHECK_U64_EQ(n, 1);
    CHECK_INT_EQ(p[0].t, w.from);
    CHECK_DBL_EQ(p[0].consumed, 0.0);
    CHECK_DBL_EQ(p[0].remaining, 1.0);
    agg_slo_burndown_fini(&b);

    /* Slices without events, for each budgeting: nothing is spent (0/0 is no ratio). */
    static const struct atom none[4];
    const enum agg_slo_budgeting kinds[] = {AGG_SLO_OCCURRENCES, AGG_SLO_TIMESLICES,
                                            AGG_SLO_RATIO_TIMESLICES};
    for (size_t k = 0; k < 3; k++) {
        struct agg_slo_def e = def_of(kinds[k], 0.99, 60);
        struct agg_slo_window r = rolling(T, T + 240);
        p = series_of(&b, &e, &r, 5, none, 4, 60, &n);
        CHECK_U64_EQ(n, 5);
        for (size_t i = 0; i < n; i++)
            CHECK_DBL_EQ(p[i].remaining, 1.0);
        agg_slo_burndown_fini(&b);
    }
}

/* ---- against the evaluator ---- */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The 10 s window starting at t: 0..39 events, up to a quarter bad, and now and then a good
 * count known only within 2 (as a sketch would bound it). */
static struct agg_slo_counts window_counts(int64_t t)
{
    uint64_t h = mix((uint64_t)t);
    uint64_t total = h % 40, bad = total ? (h >> 8) % (total / 4 + 1) : 0;
    uint64_t unsure = (h >> 16) % 3 == 0 ? (bad < 2 ? bad : 2) : 0;
    return (struct agg_slo_counts){total, total - bad, total - bad + unsure, unsure == 0};
}

static struct agg_slo_counts range_counts(int64_t from, int64_t to)
{
    struct agg_slo_counts acc = {.exact = true};
    for (int64_t t = from; t < to; t += 10) {
        struct agg_slo_counts c = window_counts(t);
        acc.total += c.total;
        acc.good_lower += c.good_lower;
        acc.good_upper += c.good_upper;
        acc.exact = acc.exact && c.exact;
    }
    return acc;
}

static int src_counts(void *ctx, const struct agg_slo_def *d, int64_t from, int64_t to,
                      uint32_t res, struct agg_slo_counts *out)
{
    (void)ctx, (void)d, (void)res;
    *out = range_counts(from, to);
    return 0;
}

static int src_slices(void *ctx, const struct agg_slo_def *d, int64_t from, uint32_t slice_s,
                      uint32_t res, size_t n, struct agg_slo_counts *out)
{
    (void)ctx, (void)d, (void)res;
    for (size_t i = 0; i < n; i++)
        out[i] = range_counts(from + (int64_t)(i * slice_s), from + (int64_t)((i + 1) * slice_s));
    return 0;
}

struct compare_case {
    const char *name;
    enum agg_slo_budgeting budgeting;
    double slice_s;
    enum agg_slo_window_kind kind;
    double rolling_s;
    enum agg_slo_calendar_unit unit;
    const char *zone;
};

static void compare_one(const struct compare_case *c, size_t points)
{
    struct agg_slo_def d = def_of(c->budgeting, 0.95, c->slice_s);
    d.timeslice_target = c->budgeting == AGG_SLO_TIMESLICES ? 0.9 : 0;
    d.window = c->kind;
    d.rolling_s = c->rolling_s;
    d.cal_unit = c->unit;
    d.cal_count = 1;
    d.time_zone = (char *)c->zone;
    slic_tz *tz = NULL;
    CHECK_OK(agg_slo_tz_load(&d, &tz, NULL));
    int64_t now = at("2024-03-06T13:47:23Z");
    struct agg_slo_data src = {src_counts, src_slices, NULL};
    struct agg_slo_status st;
    CHECK_OK(agg_slo_evaluate(&d, tz, now, &src, &st, NULL));
    slic_tz_destroy(tz);

    /* The builder is fed 10 s atoms (Occurrences) or the slices, as the engine reads them. */
    int64_t len = c->slice_s > 0 ? (int64_t)c->slice_s : 10;
    struct agg_slo_burndown b;
    CHECK_OK(agg_slo_burndown_init(&b, &d, &st.window, points));
    for (int64_t t = st.window.from; t < st.window.to; t += len) {
        struct agg_slo_counts cnt = range_counts(t, t + len);
        CHECK_OK(agg_slo_burndown_add(&b, t, t + len, &cnt));
    }
    const struct agg_slo_burndown_point *p = NULL;
    size_t n = 0;
    CHECK_OK(agg_slo_burndown_finish(&b, &p, &n));
    printf("  %s, %zu points: %zu drawn, consumed %.17g (evaluator %.17g)\n", c->name, points, n,
           p[n - 1].consumed, st.consumed);
    CHECK(st.has_data && st.consumed > 0);
    CHECK(n >= 2 && n <= points);
    CHECK_INT_EQ(p[0].t, st.window.from);
    CHECK_DBL_EQ(p[0].remaining, 1.0);
    CHECK_INT_EQ(p[n - 1].t, st.window.to);
    CHECK_U64_EQ(p[n - 1].total, st.total);
    CHECK_U64_EQ(p[n - 1].good_lower, st.good_lower);
    CHECK_DBL_EQ(p[n - 1].consumed, st.consumed);
    CHECK_DBL_EQ(p[n - 1].remaining, st.remaining);
    for (size_t i = 1; i < n; i++) {
        CHECK(p[i].t > p[i - 1].t);
        CHECK(p[i].remaining <= p[i - 1].remaining); /* a burn-down only falls */
    }
    agg_slo_burndown_fini(&b);
}

static void test_last_point_is_evaluator(void)
{
    static const struct compare_case cases[] = {
        {"occurrences rolling 1h", AGG_SLO_OCCURRENCES, 0, AGG_SLO_ROLLING, 3600, 0, NULL},
        {"occurrences rolling 1d", AGG_SLO_OCCURRENCES, 0, AGG_SLO_ROLLING, 86400, 0, NULL},
        {"occurrences calendar day, Zurich", AGG_SLO_OCCURRENCES, 0, AGG_SLO_CALENDAR, 0,
         AGG_SLO_CAL_DAY, "Europe/Zurich"},
        {"timeslices 5m rolling 1d", AGG_SLO_TIMESLICES, 300, AGG_SLO_ROLLING, 86400, 0, NULL},
        {"timeslices 1h calendar week", AGG_SLO_TIMESLICES, 3600, AGG_SLO_CALENDAR, 0,
         AGG_SLO_CAL_WEEK, NULL},
        {"ratio timeslices 1m rolling 6h", AGG_SLO_RATIO_TIMESLICES, 60, AGG_SLO_ROLLING, 21600, 0,
         NULL},
        {"ratio timeslices 10m calendar day, Kolkata", AGG_SLO_RATIO_TIMESLICES, 600,
         AGG_SLO_CALENDAR, 0, AGG_SLO_CAL_DAY, "Asia/Kolkata"},
    };
    static const size_t points[] = {2, 7, AGG_SLO_BURNDOWN_POINTS_DEFAULT,
                                    AGG_SLO_BURNDOWN_POINTS_MAX};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t j = 0; j < sizeof points / sizeof points[0]; j++)
            compare_one(&cases[i], points[j]);
}

static void test_pin(void)
{
    static const struct atom atoms[] = {{10, 9, 9}, {10, 9, 9}, {10, 8, 8}, {10, 10, 10}};
    struct agg_slo_def d = def_of(AGG_SLO_OCCURRENCES, 0.9, 0);
    struct agg_slo_window w = rolling(T, T + 40);
    struct agg_slo_burndown b;
    size_t n;
    /* Bad 1, 2, 4, 4 of a budget of 4: 0.25, 0.5, 1, 1. Pinned to 1.25, the evaluator's
     * number when one more bad event arrived after the series was read: all scale by 1.25. */
    const struct agg_slo_burndown_point *p = series_of(&b, &d, &w, 5, atoms, 4, 10, &n);
    CHECK_U64_EQ(n, 5);
    CHECK_REL(p[4].consumed, 1.0, TOL);
    agg_slo_burndown_pin(&b, 1.25);
    CHECK_DBL_EQ(p[0].consumed, 0.0);
    CHECK_REL(p[1].consumed, 0.3125, TOL);
    CHECK_REL(p[2].consumed, 0.625, TOL);
    CHECK_REL(p[3].consumed, 1.25, TOL);
    CHECK_DBL_EQ(p[4].consumed, 1.25);
    CHECK_DBL_EQ(p[4].remaining, -0.25);
    CHECK_REL(p[2].remaining, 0.375, TOL);
    agg_slo_burndown_fini(&b);

    /* Nothing spent in the series but some by the evaluator: only the end moves. */
    static const struct atom clean[] = {{10, 10, 10}, {10, 10, 10}};
    p = series_of(&b, &d, &w, 3, clean, 2, 20, &n);
    agg_slo_burndown_pin(&b, 0.5);
    CHECK_DBL_EQ(p[1].consumed, 0.0);
    CHECK_DBL_EQ(p[2].consumed, 0.5);
    CHECK_DBL_EQ(p[2].remaining, 0.5);
    agg_slo_burndown_fini(&b);
}

static void test_misuse(void)
{
    struct agg_slo_def d = def_of(AGG_SLO_OCCURRENCES, 0.9, 0);
    struct agg_slo_window w = rolling(T, T + 40);
    struct agg_slo_burndown b;
    struct agg_slo_counts ok = {10, 9, 9, true}, bad = {10, 9, 8, false};
    struct agg_slo_counts huge = {UINT64_MAX, 0, 0, true};
    const struct agg_slo_burndown_point *p = NULL;
    size_t n = 0;
    CHECK_ERR(agg_slo_burndown_init(&b, &d, &w, 1), SLIC_EINVAL);
    agg_slo_burndown_fini(&b);
    CHECK_ERR(agg_slo_burndown_init(&b, &d, &w, AGG_SLO_BURNDOWN_POINTS_MAX + 1), SLIC_EINVAL);
    agg_slo_burndown_fini(&b);
    struct agg_slo_window backwards = rolling(T, T - 10);
    CHECK_ERR(agg_slo_burndown_init(&b, &d, &backwards, 10), SLIC_EINVAL);
    agg_slo_burndown_fini(&b);

    CHECK_OK(agg_slo_burndown_init(&b, &d, &w, 10));
    CHECK_ERR(agg_slo_burndown_add(&b, T + 10, T + 20, &ok), SLIC_EINVAL); /* a gap */
    CHECK_ERR(agg_slo_burndown_add(&b, T, T, &ok), SLIC_EINVAL);           /* empty */
    CHECK_ERR(agg_slo_burndown_add(&b, T, T + 50, &ok), SLIC_EINVAL);      /* past `to` */
    CHECK_ERR(agg_slo_burndown_add(&b, T, T + 10, &bad), SLIC_EINCONSISTENT);
    CHECK_OK(agg_slo_burndown_add(&b, T, T + 10, &huge));
    CHECK_ERR(agg_slo_burndown_add(&b, T + 10, T + 20, &ok), SLIC_EOVERFLOW);
    CHECK_ERR(agg_slo_burndown_finish(&b, &p, &n), SLIC_EINVAL); /* stops short of `to` */
    agg_slo_burndown_fini(&b);

    CHECK_OK(agg_slo_burndown_init(&b, &d, &w, 10));
    CHECK_OK(agg_slo_burndown_add(&b, T, T + 40, &ok));
    CHECK_OK(agg_slo_burndown_finish(&b, &p, &n));
    CHECK_ERR(agg_slo_burndown_add(&b, T + 40, T + 50, &ok), SLIC_EINVAL);
    agg_slo_burndown_fini(&b);
    agg_slo_burndown_fini(NULL);

    /* Slices must be fed one by one. */
    struct agg_slo_def ts = def_of(AGG_SLO_TIMESLICES, 0.9, 20);
    CHECK_OK(agg_slo_burndown_init(&b, &ts, &w, 10));
    CHECK_ERR(agg_slo_burndown_add(&b, T, T + 40, &ok), SLIC_EINVAL);
    agg_slo_burndown_fini(&b);
}

/* ---- through the engine, over a store ---- */

/* An hour boundary, and "now" 2 h 25 min 37 s after it. */
#define H0 INT64_C(1699999200)
static int64_t clock_now = H0 + 2 * 3600 + 25 * 60 + 37;

static int64_t fake_now(void *ctx)
{
    return *(const int64_t *)ctx;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = slic_malloc(n);
    CHECK(p != NULL);
    return memcpy(p, s, n);
}

/* One minute of `checkout` at site: `total` events, of which `good` took 0.1 s and the rest
 * 0.9 s, so a 500 ms threshold counts exactly the good ones. */
static void write_minute(agg_store *st, const char *site, uint64_t seq, int64_t start,
                         uint64_t total, uint64_t good)
{
    struct slic_batch b = {0};
    b.agent_id = dup_str(site);
    b.site = dup_str(site);
    b.node = dup_str(site);
    b.epoch = 1;
    b.seq = seq;
    CHECK((b.series = slic_calloc(1, sizeof *b.series)) != NULL);
    b.n_series = 1;
    struct slic_series *s = &b.series[0];
    s->sli = dup_str("checkout");
    s->window_start = start;
    s->window_seconds = 60;
    s->total = total;
    s->good = good;
    CHECK_OK(slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                                &s->latency));
    for (uint64_t i = 0; i < total; i++)
        CHECK_OK(slic_sketch_add(s->latency, i < good ? 0.1 : 0.9));
    const struct slic_batch *p = &b;
    enum agg_ingest_result r = 0;
    CHECK_OK(agg_store_write_batches(st, &p, 1, &r, NULL, NULL));
    CHECK_INT_EQ(r, AGG_INGEST_ACCEPTED);
    slic_batch_fini(&b);
}

static const char slos_yaml[] =
    "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: avail}\nspec:\n  service: s\n"
    "  indicator:\n    spec:\n      ratioMetric:\n        counter: true\n"
    "        good: {metricSource: {type: slic, spec: {sli: checkout, outcome: good}}}\n"
    "        total: {metricSource: {type: slic, spec: {sli: checkout}}}\n"
    "  timeWindow: [{duration: 1d, isRolling: true}]\n"
    "  budgetingMethod: Occurrences\n  objectives: [{target: 0.99}]\n"
    "---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {name: latency}\nspec:\n  service: s\n"
    "  indicator:\n    spec:\n      thresholdMetric:\n"
    "        metricSource: {type: slic, spec: {sli: checkout, sites: [\"eu-*\"]}}\n"
    "  timeWindow: [{duration: 1d, isRolling: false, calendar: {startTime: \"2023-01-01 "
    "00:00:00\", timeZone: UTC}}]\n"
    "  budgetingMethod: Occurrences\n  objectives: [{op: lte, value: 500ms, target: 0.95}]\n"
    "---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {name: minutes}\nspec:\n  service: s\n"
    "  indicator:\n    spec:\n      ratioMetric:\n        counter: true\n"
    "        good: {metricSource: {type: slic, spec: {sli: checkout, outcome: good}}}\n"
    "        total: {metricSource: {type: slic, spec: {sli: checkout}}}\n"
    "  timeWindow: [{duration: 6h, isRolling: true}]\n  budgetingMethod: Timeslices\n"
    "  objectives: [{target: 0.9, timeSliceTarget: 0.95, timeSliceWindow: 5m}]\n";

/* Reads a number member of the JSON object at text into *out; false when absent or null. */
static bool json_number(const char *text, const char *key, double *out)
{
    struct slic__json_slot slot = {.key = key};
    struct slic__cursor c = {text, text + strlen(text)};
    if (!slic__json_object(&c, 1, &slot, 1))
        harness_fail(__FILE__, __LINE__, "not a JSON object: %.300s", text);
    if (!slot.present || slot.val.kind != SLIC__JSON_NUMBER)
        return false;
    *out = strtod(slot.val.raw.p, NULL);
    return true;
}

static char *burndown_of(agg_slo_engine *e, const char *name, const char *site, size_t points,
                         int *status)
{
    struct agg__buf out = {0};
    CHECK_OK(agg_slo_engine_burndown(e, name, site, points, &out, status));
    return out.p ? (char *)out.p : dup_str("");
}

/* The series of one SLO and scope ends on the engine's own numbers (/api/v1/slos), having read
 * the store exactly as the evaluator did. */
static void check_engine_series(agg_slo_engine *e, const char *name, const char *site,
                                size_t points)
{
    int status = 0;
    char *doc = burndown_of(e, name, site, points, &status);
    CHECK_INT_EQ(status, 200);
    struct agg__buf slo = {0};
    CHECK_OK(agg_slo_engine_json(e, name, site, &slo, &status));
    double remaining = NAN, consumed = NAN, read = NAN, json_remaining = NAN, last = NAN;
    CHECK(json_number(doc, "remaining", &remaining));
    CHECK(json_number(doc, "consumed", &consumed));
    CHECK(json_number(doc, "read_consumed", &read));
    CHECK(json_number((const char *)slo.p, "remaining", &json_remaining));
    const char *lastp = strrchr(doc, '{');
    CHECK(lastp != NULL && strncmp(lastp, "{\"t\":", 5) == 0);
    char one[512];
    snprintf(one, sizeof one, "%.*s", (int)(strchr(lastp, '}') - lastp + 1), lastp);
    CHECK(json_number(one, "remaining", &last));
    size_t n = 0;
    for (const char *q = doc; (q = strstr(q, "{\"t\":")); q++)
        n++;
    printf("  %s@%s, %zu points: %zu drawn, remaining %.17g, last point %.17g, read %.17g\n", name,
           site, points, n, json_remaining, last, 1.0 - read);
    CHECK(n >= 2 && n <= points);
    CHECK_DBL_EQ(remaining, json_remaining);
    CHECK_DBL_EQ(last, json_remaining);
    CHECK_DBL_EQ(read, consumed); /* nothing arrived since the evaluation: no pinning needed */
    CHECK(consumed > 0);
    agg__buf_fini(&slo);
    slic_free(doc);
}

static void test_engine_from_store(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/store", harness_tmpdir());
    struct agg_store_options so = {
        .map_size_initial = 16 << 20, .nosync = true, .clock = fake_now, .clock_ctx = &clock_now};
    agg_store *st = NULL;
    CHECK_OK(agg_store_open(path, &so, &st, NULL));
    /* Two and a half hours of minutes at eu-zrh and us-east: 60 events, 1..7 bad. */
    uint64_t seq = 0;
    for (int64_t m = 0; m < 146; m++) {
        seq++;
        write_minute(st, "eu-zrh", seq, H0 + 60 * m, 60, 60 - (uint64_t)(1 + m % 7));
        write_minute(st, "us-east", seq, H0 + 60 * m, 60, 60 - (uint64_t)(1 + m % 5));
    }
    struct slic_errmsg err = {{0}};
    struct agg_slo_set *set = NULL;
    const char *file = harness_write_file("slos.yaml", slos_yaml);
    if (agg_openslo_load(&file, 1, &set, NULL, &err) != 0)
        harness_fail(__FILE__, __LINE__, "load: %s", err.text);
    struct agg_slo_engine_options eo;
    agg_slo_engine_options_default(&eo);
    eo.clock = fake_now;
    eo.clock_ctx = &clock_now;
    agg_slo_engine *e = NULL;
    CHECK_OK(agg_slo_engine_create(st, &eo, set, &e, &err));

    /* Before the first evaluation: no window yet, no points. */
    int status = 0;
    char *doc = burndown_of(e, "avail", "*", 10, &status);
    CHECK_INT_EQ(status, 200);
    CHECK(strstr(doc, "\"evaluated\":false") && strstr(doc, "\"points\":[]"));
    CHECK(strstr(doc, "\"from\":null"));
    slic_free(doc);

    CHECK_OK(agg_slo_engine_evaluate(e));
    const size_t counts[] = {2, 13, AGG_SLO_BURNDOWN_POINTS_DEFAULT, AGG_SLO_BURNDOWN_POINTS_MAX};
    for (size_t i = 0; i < 4; i++) {
        check_engine_series(e, "avail", "*", counts[i]);
        check_engine_series(e, "avail", "us-east", counts[i]);
        check_engine_series(e, "latency", "*", counts[i]); /* eu-* only: a sum of sites */
        check_engine_series(e, "latency", "eu-zrh", counts[i]);
        check_engine_series(e, "minutes", "*", counts[i]);
    }

    doc = burndown_of(e, "avail", "*", 5, &status);
    CHECK(strstr(doc, "\"slo\":\"avail\",\"site\":\"*\",\"budgeting\":\"occurrences\""));
    CHECK(strstr(doc, "\"window\":{\"kind\":\"rolling\",\"from\":\"2023-11-14T00:25:30Z\""));
    CHECK(strstr(doc, "\"points\":[{\"t\":\"2023-11-14T00:25:30Z\""));
    CHECK(strstr(doc, ",\"total\":0,\"bad\":0}"));
    slic_free(doc);
    doc = burndown_of(e, "minutes", "*", 5, &status);
    CHECK(strstr(doc, "\"budgeting\":\"timeslices\""));
    CHECK(strstr(doc, "\"bad_slices\":"));
    CHECK(strstr(doc, "\"resolution_seconds\":60"));
    slic_free(doc);

    doc = burndown_of(e, "latency", "us-east", 5, &status); /* eu-* only */
    CHECK_INT_EQ(status, 404);
    CHECK_STR_EQ(doc, "{\"error\":\"SLO 'latency' covers no site 'us-east'\"}\n");
    slic_free(doc);
    doc = burndown_of(e, "nosuch", "*", 5, &status);
    CHECK_INT_EQ(status, 404);
    CHECK_STR_EQ(doc, "");
    slic_free(doc);
    struct agg__buf out = {0};
    CHECK_ERR(agg_slo_engine_burndown(e, "avail", "*", 1, &out, &status), SLIC_EINVAL);
    agg__buf_fini(&out);

    agg_slo_engine_destroy(e);
    agg_store_close(st);
}

HARNESS_CASES(HARNESS_CASE(test_occurrences_hand), HARNESS_CASE(test_timeslices_hand),
              HARNESS_CASE(test_ratio_timeslices_hand), HARNESS_CASE(test_calendar_window),
              HARNESS_CASE(test_empty_window), HARNESS_CASE(test_last_point_is_evaluator),
              HARNESS_CASE(test_pin), HARNESS_CASE(test_misuse),
              HARNESS_CASE(test_engine_from_store));

HARNESS_MAIN()
