/* Tests of SLO evaluation (aggregator/slo*.c) on synthetic data: budgets, burn rates, Timeslices
 * and RatioTimeslices, rolling and calendar windows across month ends, DST and half-hour zones,
 * bounded (sketch-derived) good counts, the alert state machine, and alert timing for a 99.9 %
 * 30-day SLO driven by a fake clock. Every expected number is computed by hand in the comments
 * beside it. The synthetic source also checks the evaluator keeps the data contract: every range
 * it asks for is aligned to the resolution it names. */
#include "harness.h"

#include "alloc.h"
#include "err.h"
#include "sketch.h"
#include "slo.h"
#include "timeutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MIN INT64_C(60)
#define HOUR INT64_C(3600)
#define DAY INT64_C(86400)
#define TOL 1e-12
/* Base time of rolling cases: 2023-11-14T00:00:00Z, a day boundary. */
#define T_ROLL "2023-11-14T00:00:00Z"

static char slo_name[] = "checkout-availability";

static int64_t at(const char *rfc3339)
{
    int64_t t;
    CHECK_OK(slic_rfc3339_parse(rfc3339, &t));
    return t;
}

/* ---- a synthetic data source ------------------------------------------------------------ */

/* Traffic from base + from to base + to (multiples of 10 s), as counts per 10 s window.
 * Unused entries of a table are all zero and count nothing. */
struct phase {
    int64_t from;
    int64_t to;
    uint64_t total;
    uint64_t good_lower;
    uint64_t good_upper;
};
#define PHASES_MAX 6

struct synth {
    int64_t base;
    const struct phase *phases;
    unsigned counts_calls;
    unsigned slices_calls;
    uint32_t slice_res; /* resolution of the latest slices call */
    int fail_rc;        /* returned by every call when non-zero */
    bool lie;           /* answers good > total */
};

static void synth_range(const struct synth *s, int64_t from, int64_t to, struct agg_slo_counts *out)
{
    *out = (struct agg_slo_counts){.exact = true};
    for (size_t i = 0; i < PHASES_MAX; i++) {
        const struct phase *p = &s->phases[i];
        int64_t a = from > s->base + p->from ? from : s->base + p->from;
        int64_t b = to < s->base + p->to ? to : s->base + p->to;
        if (a >= b)
            continue;
        uint64_t windows = (uint64_t)(b - a) / 10;
        out->total += windows * p->total;
        out->good_lower += windows * p->good_lower;
        out->good_upper += windows * p->good_upper;
        if (p->good_lower != p->good_upper)
            out->exact = false;
    }
}

/* The contract of struct agg_slo_data: stored resolutions, boundaries on their grid. */
static void check_aligned(int64_t from, int64_t to, uint32_t res)
{
    CHECK(res == 10 || res == 60 || res == 3600);
    CHECK(from < to);
    CHECK_INT_EQ(from % res, 0);
    CHECK_INT_EQ(to % res, 0);
}

static int synth_counts(void *ctx, const struct agg_slo_def *d, int64_t from, int64_t to,
                        uint32_t res, struct agg_slo_counts *out)
{
    struct synth *s = ctx;
    (void)d;
    s->counts_calls++;
    if (s->fail_rc != 0)
        return s->fail_rc;
    check_aligned(from, to, res);
    synth_range(s, from, to, out);
    if (s->lie)
        out->good_lower = out->good_upper = out->total + 1;
    return 0;
}

static int synth_slices(void *ctx, const struct agg_slo_def *d, int64_t from, uint32_t slice_s,
                        uint32_t res, size_t n, struct agg_slo_counts *out)
{
    struct synth *s = ctx;
    (void)d;
    s->slices_calls++;
    s->slice_res = res;
    if (s->fail_rc != 0)
        return s->fail_rc;
    CHECK(n >= 1 && n <= AGG_SLO_SLICES_CHUNK);
    CHECK_INT_EQ(slice_s % res, 0);
    check_aligned(from, from + (int64_t)n * slice_s, res);
    for (size_t i = 0; i < n; i++)
        synth_range(s, from + (int64_t)i * slice_s, from + (int64_t)(i + 1) * slice_s, &out[i]);
    return 0;
}

static struct agg_slo_data synth_source(struct synth *s)
{
    return (struct agg_slo_data){.counts = synth_counts, .slices = synth_slices, .ctx = s};
}

/* ---- definitions ---- */

struct win_spec {
    enum agg_slo_window_kind kind;
    double rolling_s;
    enum agg_slo_calendar_unit unit;
    unsigned count;
    const char *tz;    /* NULL: UTC */
    const char *start; /* a period's start (RFC 3339); NULL: 1970 (any will do for 1 unit) */
};

#define ROLLING(s)                                                                                 \
    {                                                                                              \
        AGG_SLO_ROLLING, (double)(s), 0, 0, NULL, NULL                                             \
    }
#define CALENDAR(u, n, zone)                                                                       \
    {                                                                                              \
        AGG_SLO_CALENDAR, 0, (u), (n), (zone), NULL                                                \
    }
#define CALENDAR_FROM(u, n, zone, start)                                                           \
    {                                                                                              \
        AGG_SLO_CALENDAR, 0, (u), (n), (zone), (start)                                             \
    }

static struct agg_slo_def make_def(double target, struct win_spec w)
{
    return (struct agg_slo_def){
        .name = slo_name,
        .indicator = AGG_SLO_RATIO_GOOD,
        .target = target,
        .budgeting = AGG_SLO_OCCURRENCES,
        .window = w.kind,
        .rolling_s = w.rolling_s,
        .cal_unit = w.unit,
        .cal_count = w.count,
        .time_zone = (char *)w.tz,
        .cal_start = w.start ? at(w.start) : 0,
    };
}

static slic_tz *load_tz(const struct agg_slo_def *d)
{
    slic_tz *tz = NULL;
    struct slic_errmsg err = {""};
    int rc = agg_slo_tz_load(d, &tz, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "agg_slo_tz_load: %s: %s", slic_errname(rc), err.text);
    return tz;
}

static void evaluate(const struct agg_slo_def *d, struct synth *s, int64_t now,
                     struct agg_slo_status *st)
{
    slic_tz *tz = load_tz(d);
    struct agg_slo_data src = synth_source(s);
    struct slic_errmsg err = {""};
    int rc = agg_slo_evaluate(d, tz, now, &src, st, &err);
    slic_tz_destroy(tz);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "agg_slo_evaluate: %s: %s", slic_errname(rc), err.text);
}

/* What every budget table expects of the SLO window. */
struct expect {
    uint64_t total;
    uint64_t good_lower;
    uint64_t good_upper;
    double sli;
    double sli_upper;
    double consumed;
    double consumed_lower;
    double remaining;
};

static void check_expect(const char *name, const struct agg_slo_status *st, const struct expect *e)
{
    printf("  %s: sli %.12g consumed %.12g remaining %.12g\n", name, st->sli, st->consumed,
           st->remaining);
    CHECK_U64_EQ(st->total, e->total);
    CHECK_U64_EQ(st->good_lower, e->good_lower);
    CHECK_U64_EQ(st->good_upper, e->good_upper);
    CHECK(st->exact == (e->good_lower == e->good_upper));
    CHECK(st->has_data == (e->total > 0));
    CHECK_REL(st->sli, e->sli, TOL);
    CHECK_REL(st->sli_upper, e->sli_upper, TOL);
    CHECK_REL(st->consumed, e->consumed, TOL);
    CHECK_REL(st->consumed_lower, e->consumed_lower, TOL);
    CHECK_REL(st->remaining, e->remaining, TOL);
}

static void check_burns(const struct agg_slo_status *st, const double *rate, const double *lower)
{
    for (size_t i = 0; i < AGG_SLO_BURN_WINDOWS; i++) {
        CHECK_INT_EQ(st->burn[i].window_s, agg_slo_burn_window_s[i]);
        CHECK_REL(st->burn[i].rate, rate[i], TOL);
        CHECK_REL(st->burn[i].rate_lower, lower ? lower[i] : rate[i], TOL);
    }
}

/* ---- Occurrences: budgets and burn rates ------------------------------------------------ */

struct occ_case {
    const char *name;
    double target;
    struct win_spec w;
    const char *base;
    int64_t now; /* from base */
    struct phase phases[PHASES_MAX];
    struct expect e;
    double burn[AGG_SLO_BURN_WINDOWS]; /* 5m 30m 1h 2h 6h 1d 3d */
    double burn_lower[AGG_SLO_BURN_WINDOWS];
    bool bounded; /* burn_lower given; else it equals burn */
    bool exhausts;
    double exhaustion_s;
};

/* Columns: name, target, window, base time, now (from base), phases; then the expected window
 * counts and budget (struct expect); burn rates 5m 30m 1h 2h 6h 1d 3d, their lower bounds
 * (when bounded); exhaustion. */
/* clang-format off */
static const struct occ_case occ_cases[] = {
    /* 99 %, 7 days, 100 events per 10 s for 8 days; the last 30 minutes 10 % bad.
     * Window [T-7d, T): 60480 windows x 100 = 6,048,000 events; bad 180 windows x 10 = 1800.
     * sli = 1 - 1800/6048000 = 1 - 1/3360; consumed = 1800 / (0.01 x 6048000) = 1800/60480
     * = 0.0297619...; remaining = 1 - that.
     * Burn = (bad/total)/0.01: 5m, 30m all in the incident: 0.1/0.01 = 10; 1h 1800/36000 = 0.05
     * -> 5; 2h 1800/72000 -> 2.5; 6h 1800/216000 -> 0.8333; 1d 1800/864000 -> 0.2083;
     * 3d 1800/2592000 -> 0.06944.
     * Exhaustion at the 1 h rate 5: remaining x 7 d / 5 = (1 - 1800/60480) x 120960 s
     * = 120960 - 3600 = 117360 s. now is 7 s past T: the window still ends at T. */
    {"recent incident, rolling 7d", 0.99, ROLLING(7 * DAY), T_ROLL, 7,
     {{-8 * DAY, -1800, 100, 100, 100}, {-1800, 0, 100, 90, 90}},
     {6048000, 6046200, 6046200, 1 - 1.0 / 3360, 1 - 1.0 / 3360, 1800.0 / 60480, 1800.0 / 60480,
      1 - 1800.0 / 60480},
     {10, 10, 5, 2.5, 1800.0 / 2160, 1800.0 / 8640, 1800.0 / 25920}, {0}, false,
     true, 117360},
    /* No events at all: the SLI reads 1, nothing spent, nothing burning, no exhaustion. */
    {"no data, rolling 28d", 0.999, ROLLING(28 * DAY), T_ROLL, 0, {{0}},
     {0, 0, 0, 1, 1, 0, 0, 1}, {0}, {0}, false, false, 0},
    /* 95 %, 1 day; a threshold SLI known only through the sketch: of 100 events per 10 s, 90
     * surely under the threshold, 98 possibly. Window: 8640 windows: total 864,000, good
     * [777,600, 846,720]. sli = 0.9 (conservative), sli_upper = 0.98; consumed = 0.1/0.05 = 2,
     * consumed_lower = 0.02/0.05 = 0.4; remaining = 1 - 2 = -1 (overspent: exhaustion 0).
     * Every burn window sees the same mix: rate 2, rate_lower 0.4 (the 3 d window has 2 days
     * of data, same ratio). */
    {"bounded good counts, rolling 1d", 0.95, ROLLING(DAY), T_ROLL, 3,
     {{-2 * DAY, 0, 100, 90, 98}},
     {864000, 777600, 846720, 0.9, 0.98, 2, 0.4, -1},
     {2, 2, 2, 2, 2, 2, 2}, {0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4}, true,
     true, 0},
    /* 90 %, 1 hour, now = T + 37 s, so the window [T-3570, T+30) is not on a minute: pieces of
     * 10 s, 1 min and 1 h. 50 events per 10 s from T-2h to T; 5 of them bad from T-30m.
     * Window: 357 windows with data x 50 = 17850 events (none after T), bad 180 x 5 = 900:
     * sli = 1 - 900/17850; consumed = 900/1785 = 0.5042; remaining = 885/1785.
     * Burns: 5m [T-270, T+30): 27 windows, bad 10 % -> 1.0; 30m likewise 1.0; 1h as the SLO
     * window: 900/17850/0.1 = 0.5042; 2h [T-7170, T+30): 717 x 50 = 35850 events -> 900/3585
     * = 0.2510; 6h, 1d, 3d hold all 720 windows = 36000 events -> 0.25.
     * Exhaustion: (885/1785) x 3600 / (900/1785) = 885 x 3600 / 900 = 3540 s. */
    {"unaligned now, rolling 1h", 0.9, ROLLING(HOUR), T_ROLL, 37,
     {{-2 * HOUR, -1800, 50, 50, 50}, {-1800, 0, 50, 45, 45}},
     {17850, 16950, 16950, 1 - 900.0 / 17850, 1 - 900.0 / 17850, 900.0 / 1785, 900.0 / 1785,
      885.0 / 1785},
     {1, 1, 900.0 / 1785, 900.0 / 3585, 0.25, 0.25, 0.25}, {0}, false,
     true, 3540},
    /* 99.9 %, 30 days, 1000 events per 10 s for 40 days; 1 bad per 10 s in the last day.
     * Window: 259,200 windows x 1000 = 259,200,000 events; bad 8640. sli = 1 - 1/30000;
     * consumed = 8640 / (0.001 x 259.2e6) = 1/30; remaining 29/30. Burns: windows up to 1 d
     * see 1/1000 bad -> 1; 3 d: 8640/25,920,000/0.001 = 1/3.
     * Exhaustion at rate 1: (29/30) x 30 d = 29 d = 2,505,600 s. */
    {"steady burn at rate 1, rolling 30d", 0.999, ROLLING(30 * DAY), T_ROLL, 0,
     {{-40 * DAY, -DAY, 1000, 1000, 1000}, {-DAY, 0, 1000, 999, 999}},
     {259200000, 259191360, 259191360, 1 - 1.0 / 30000, 1 - 1.0 / 30000, 1.0 / 30, 1.0 / 30,
      29.0 / 30},
     {1, 1, 1, 1, 1, 1, 1.0 / 3}, {0}, false,
     true, 2505600},
    /* 99.9 %, calendar month in New York. At 2024-02-01T06:00Z it is 01:00 on Feb 1 local:
     * the month began at 05:00Z, an hour ago. All bad until 05:00Z (January, local), all good
     * since. Window [05:00Z, 06:00Z): 360 x 100 = 36,000 events, all good: sli 1, nothing
     * spent. Burn windows reach back into January: 2h: 36000 bad of 72000 -> 0.5/0.001 = 500;
     * 6h: 5/6 -> 833.3; 1d: 23/24 -> 958.3; 3d: only that day has data -> 958.3. The 1 h
     * window burns 0: no exhaustion. */
    {"calendar month New York excludes January", 0.999,
     CALENDAR(AGG_SLO_CAL_MONTH, 1, "America/New_York"), "2024-02-01T06:00:00Z", 0,
     {{-DAY, -HOUR, 100, 0, 0}, {-HOUR, 0, 100, 100, 100}},
     {36000, 36000, 36000, 1, 1, 0, 0, 1},
     {0, 0, 0, 500, 5000.0 / 6, 23000.0 / 24, 23000.0 / 24}, {0}, false,
     false, 0},
    /* The same data, month in UTC: the window [Feb 1 00:00Z, 06:00Z) holds 5 bad hours of 6:
     * 216,000 events, 36,000 good: sli = 1/6; consumed = (5/6)/0.001 = 833.3; remaining
     * -832.3, so exhaustion is 0. */
    {"calendar month UTC includes the bad hours", 0.999, CALENDAR(AGG_SLO_CAL_MONTH, 1, NULL),
     "2024-02-01T06:00:00Z", 0,
     {{-DAY, -HOUR, 100, 0, 0}, {-HOUR, 0, 100, 100, 100}},
     {216000, 36000, 36000, 1.0 / 6, 1.0 / 6, 5000.0 / 6, 5000.0 / 6, 1 - 5000.0 / 6},
     {0, 0, 0, 500, 5000.0 / 6, 23000.0 / 24, 23000.0 / 24}, {0}, false,
     true, 0},
};
/* clang-format on */

static void test_occurrences_budget_and_burn(void)
{
    for (size_t i = 0; i < sizeof occ_cases / sizeof occ_cases[0]; i++) {
        const struct occ_case *c = &occ_cases[i];
        struct agg_slo_def d = make_def(c->target, c->w);
        struct synth s = {.base = at(c->base), .phases = c->phases};
        struct agg_slo_status st;
        evaluate(&d, &s, s.base + c->now, &st);
        check_expect(c->name, &st, &c->e);
        CHECK_REL(st.budget, 1 - c->target, TOL);
        check_burns(&st, c->burn, c->bounded ? c->burn_lower : NULL);
        CHECK(st.exhausts == c->exhausts);
        if (c->exhausts)
            CHECK_REL(st.exhaustion_s, c->exhaustion_s, TOL);
        else
            CHECK(isinf(st.exhaustion_s));
    }
}

/* ---- Timeslices and RatioTimeslices ------------------------------------------------------ */

struct slice_case {
    const char *name;
    enum agg_slo_budgeting budgeting;
    double target;
    double slice_target;
    double slice_s;
    struct win_spec w;
    const char *base;
    int64_t now;
    struct phase phases[PHASES_MAX];
    uint32_t res; /* resolution slices are read at */
    uint64_t slices, slices_period, empty, bad_lower, bad_upper;
    struct expect e;
    double burn[AGG_SLO_BURN_WINDOWS];
};

/* One day of hourly slices ending at T: 100 events per 10 s, except no traffic T-10h..T-7h
 * (3 empty slices), 3 % bad T-5h..T-4h, 10 % bad T-3h..T-1h. Events: 21 hours x 36,000 =
 * 756,000; bad 1080 + 7200 = 8280. Burns at 90 %: 5m, 30m, 1h: 0; 2h [T-2h, T): 3600 bad of
 * 72,000 -> 0.05/0.1 = 0.5; 6h 8280/216,000 -> 0.3833; 1d 8280/756,000 -> 0.10952; 3d adds the
 * full day before: 8280/1,620,000 -> 0.05111. */
#define DAY_OF_SLICES                                                                              \
    {                                                                                              \
        {-2 * DAY, -10 * HOUR, 100, 100, 100}, {-7 * HOUR, -5 * HOUR, 100, 100, 100},              \
            {-5 * HOUR, -4 * HOUR, 100, 97, 97}, {-4 * HOUR, -3 * HOUR, 100, 100, 100},            \
            {-3 * HOUR, -1 * HOUR, 100, 90, 90},                                                   \
        {                                                                                          \
            -1 * HOUR, 0, 100, 100, 100                                                            \
        }                                                                                          \
    }
#define DAY_OF_SLICES_BURN                                                                         \
    {                                                                                              \
        0, 0, 0, 0.5, 8280.0 / 21600, 8280.0 / 75600, 8280.0 / 162000                              \
    }

/* Columns: name, budgeting, target, slice target, slice length, window, base time, now (from
 * base), phases, the resolution slices are read at; slices complete, in the period, empty, bad
 * (lower, upper); the window counts and budget (struct expect); burn rates 5m .. 3d. */
/* clang-format off */
static const struct slice_case slice_cases[] = {
    /* Timeslices, 90 %, slices good at >= 95 %. The 97 % slice is good, the two 90 % slices
     * bad, the 3 empty ones good (nothing failed): sli = 22/24; budget = 0.1 x 24 = 2.4
     * slices; consumed = 2/2.4 = 0.8333; remaining 0.1667. now = T + 5 s: the slice in
     * progress is not judged, the window ends at T. */
    {"Timeslices rolling 1d of 1h", AGG_SLO_TIMESLICES, 0.9, 0.95, 3600, ROLLING(DAY), T_ROLL, 5,
     DAY_OF_SLICES, 3600,
     24, 24, 3, 2, 2,
     {756000, 747720, 747720, 22.0 / 24, 22.0 / 24, 2 / 2.4, 2 / 2.4, 1 - 2 / 2.4},
     DAY_OF_SLICES_BURN},
    /* RatioTimeslices on the same data: the mean ratio of the 21 non-empty slices:
     * (2 x 0.90 + 0.97 + 18 x 1.0) / 21 = 20.77/21 = 0.989048; consumed = (0.23/21)/0.1
     * = 0.109524; remaining 0.890476. */
    {"RatioTimeslices rolling 1d of 1h", AGG_SLO_RATIO_TIMESLICES, 0.9, 0, 3600, ROLLING(DAY),
     T_ROLL, 5, DAY_OF_SLICES, 3600,
     24, 24, 3, 0, 0,
     {756000, 747720, 747720, 20.77 / 21, 20.77 / 21, 0.23 / 2.1, 0.23 / 2.1, 1 - 0.23 / 2.1},
     DAY_OF_SLICES_BURN},
    /* A slice known only within bounds: the last hour has 94..96 of 100 good per 10 s.
     * 94 % < 95 %: maybe bad (bad_upper 1); 96 % >= 95 %: maybe good (bad_lower 0).
     * sli = 23/24, sli_upper 1; consumed = 1/2.4 = 0.41667, consumed_lower 0.
     * Events 864,000; good [864,000 - 360 x 6, 864,000 - 360 x 4] = [861,840, 862,560].
     * Burn (bad_upper): 5m..1h 0.06/0.1 = 0.6; 2h 2160/72,000 -> 0.3; 6h 2160/216,000 -> 0.1;
     * 1d 2160/864,000 -> 0.025; 3d (2 days of data) 2160/1,728,000 -> 0.0125. */
    {"Timeslices with a bounded slice", AGG_SLO_TIMESLICES, 0.9, 0.95, 3600, ROLLING(DAY), T_ROLL,
     0, {{-2 * DAY, -HOUR, 100, 100, 100}, {-HOUR, 0, 100, 94, 96}}, 3600,
     24, 24, 0, 0, 1,
     {864000, 861840, 862560, 23.0 / 24, 1, 1 / 2.4, 0, 1 - 1 / 2.4},
     {0.6, 0.6, 0.6, 0.3, 0.1, 0.025, 0.0125}},
    /* Calendar month (UTC) of hourly slices, 99 % of slices good at >= 99 %. On Feb 11 00:00:05
     * 240 slices are complete, of 29 x 24 = 696 in February 2024; the last 3 hours are 50 %
     * bad. sli = 237/240 = 0.9875; budget over the whole month = 0.01 x 696 = 6.96 slices;
     * consumed = 3/6.96 = 0.43103; remaining 0.56897. Events: 240 x 36,000 = 8,640,000, bad
     * 3 x 18,000 = 54,000. Burns at 1 %: 5m..2h 0.5/0.01 = 50; 6h 54,000/216,000 -> 25;
     * 1d 54,000/864,000 -> 6.25; 3d 54,000/2,592,000 -> 2.0833. */
    {"Timeslices calendar month UTC", AGG_SLO_TIMESLICES, 0.99, 0.99, 3600,
     CALENDAR(AGG_SLO_CAL_MONTH, 1, NULL), "2024-02-11T00:00:00Z", 5,
     {{-11 * DAY, -3 * HOUR, 100, 100, 100}, {-3 * HOUR, 0, 100, 50, 50}}, 3600,
     240, 696, 0, 3, 3,
     {8640000, 8586000, 8586000, 0.9875, 0.9875, 3 / 6.96, 3 / 6.96, 1 - 3 / 6.96},
     {50, 50, 50, 50, 25, 6.25, 54000.0 / 25920}},
    /* Calendar month in New York at 2024-03-01T03:00Z = Feb 29 22:00 local: February began
     * at Feb 1 05:00Z, 694 hours ago; the month has 696 hourly slices. The hour before it
     * (Jan 31 23:00 local) and the last hour are 50 % bad: only the last counts. sli =
     * 693/694; consumed = 1/6.96 = 0.14368. Events 694 x 36,000 = 24,984,000, bad 18,000.
     * Burns at 1 %: 5m..1h 50; 2h 18,000/72,000 -> 25; 6h -> 8.333; 1d -> 2.0833;
     * 3d 18,000/2,592,000 -> 0.69444 (the January hour is 694 h back). */
    {"Timeslices calendar month New York across month end", AGG_SLO_TIMESLICES, 0.99, 0.99, 3600,
     CALENDAR(AGG_SLO_CAL_MONTH, 1, "America/New_York"), "2024-03-01T03:00:00Z", 0,
     {{-30 * DAY, -695 * HOUR, 100, 100, 100}, {-695 * HOUR, -694 * HOUR, 100, 50, 50},
      {-694 * HOUR, -HOUR, 100, 100, 100}, {-HOUR, 0, 100, 50, 50}}, 3600,
     694, 696, 0, 1, 1,
     {24984000, 24966000, 24966000, 693.0 / 694, 693.0 / 694, 1 / 6.96, 1 / 6.96, 1 - 1 / 6.96},
     {50, 50, 50, 25, 1800.0 / 216, 1800.0 / 864, 1800.0 / 2592}},
    /* Calendar day in Kolkata (UTC+5:30) at 2024-01-01T18:29:59Z = 23:59:59 local: the day
     * began at 2023-12-31T18:30Z, so hourly slices are half past the UTC hour and are read at
     * 1 min. 23 slices complete (the 24th ends at midnight local), one of them all bad:
     * sli = 22/23; budget 0.1 x 24 = 2.4; consumed = 1/2.4. Events 23 x 36,000 = 828,000,
     * bad 36,000. Burn windows end at 18:29:50Z: 5m, 30m: 0; 1h reaches one 10 s window into
     * the bad hour: 100/36,000/0.1 = 0.02778; 2h 36,000/72,000 -> 5; 6h -> 1.6667; 1d ->
     * 0.41667; 3d: data since base - 2d: (172,800 - 10)/10 x 100 = 1,727,900 events ->
     * 36,000/1,727,900/0.1 = 0.208345. */
    {"Timeslices calendar day Kolkata", AGG_SLO_TIMESLICES, 0.9, 0.95, 3600,
     CALENDAR(AGG_SLO_CAL_DAY, 1, "Asia/Kolkata"), "2024-01-01T18:30:00Z", -1,
     {{-2 * DAY, -2 * HOUR, 100, 100, 100}, {-2 * HOUR, -HOUR, 100, 0, 0},
      {-HOUR, DAY, 100, 100, 100}}, 60,
     23, 24, 0, 1, 1,
     {828000, 792000, 792000, 22.0 / 23, 22.0 / 23, 1 / 2.4, 1 / 2.4, 1 - 1 / 2.4},
     {0, 0, 1.0 / 36, 5, 5.0 / 3, 5.0 / 12, 360000.0 / 1727900}},
};
/* clang-format on */

static void test_timeslices(void)
{
    for (size_t i = 0; i < sizeof slice_cases / sizeof slice_cases[0]; i++) {
        const struct slice_case *c = &slice_cases[i];
        struct agg_slo_def d = make_def(c->target, c->w);
        d.budgeting = c->budgeting;
        d.timeslice_target = c->slice_target;
        d.timeslice_window_s = c->slice_s;
        struct synth s = {.base = at(c->base), .phases = c->phases};
        struct agg_slo_status st;
        evaluate(&d, &s, s.base + c->now, &st);
        check_expect(c->name, &st, &c->e);
        CHECK_U64_EQ(st.slices, c->slices);
        CHECK_U64_EQ(st.slices_period, c->slices_period);
        CHECK_U64_EQ(st.slices_empty, c->empty);
        CHECK_U64_EQ(st.slices_bad_lower, c->bad_lower);
        CHECK_U64_EQ(st.slices_bad_upper, c->bad_upper);
        CHECK_INT_EQ(s.slice_res, c->res);
        /* Burn rates count events, not slices. */
        for (size_t k = 0; k < AGG_SLO_BURN_WINDOWS; k++)
            CHECK_REL(st.burn[k].rate, c->burn[k], TOL);
    }
}

/* ---- windows -------------------------------------------------------------------------------- */

struct window_case {
    const char *name;
    struct win_spec w;
    double slice_s; /* 0: Occurrences */
    const char *now;
    const char *from, *to, *period_start, *period_end; /* period NULL: same as from/to */
};

static const struct window_case window_cases[] = {
    {"rolling 28d ends on the 10 s grid", ROLLING(28 * DAY), 0, "2023-11-14T00:00:07Z",
     "2023-10-17T00:00:00Z", "2023-11-14T00:00:00Z", NULL, NULL},
    /* 5-minute slices: the slice in progress (00:00-00:05) is not judged yet. */
    {"rolling 28d of 5m slices", ROLLING(28 * DAY), 300, "2023-11-14T00:04:59Z",
     "2023-10-17T00:00:00Z", "2023-11-14T00:00:00Z", NULL, NULL},
    /* 7-minute slices on the epoch's grid: T is 4,047,428 x 420 + 240, so the last complete
     * slice ends at T - 240 s; one hour holds 8 whole slices (3360 s). */
    {"rolling 1h of 7m slices", ROLLING(HOUR), 420, "2023-11-14T00:00:00Z", "2023-11-13T23:00:00Z",
     "2023-11-13T23:56:00Z", NULL, NULL},
    {"month UTC", CALENDAR(AGG_SLO_CAL_MONTH, 1, NULL), 0, "2024-03-01T03:00:07Z",
     "2024-03-01T00:00:00Z", "2024-03-01T03:00:00Z", "2024-03-01T00:00:00Z",
     "2024-04-01T00:00:00Z"},
    /* Same instant, still Feb 29 (22:00 EST) in New York: February, a leap month, UTC-5. */
    {"month New York on Feb 29", CALENDAR(AGG_SLO_CAL_MONTH, 1, "America/New_York"), 0,
     "2024-03-01T03:00:07Z", "2024-02-01T05:00:00Z", "2024-03-01T03:00:00Z", "2024-02-01T05:00:00Z",
     "2024-03-01T05:00:00Z"},
    /* Starts in CET (+1), ends in CEST (+2): 31 days less an hour. */
    {"month Zurich across DST", CALENDAR(AGG_SLO_CAL_MONTH, 1, "Europe/Zurich"), 0,
     "2024-03-15T12:00:00Z", "2024-02-29T23:00:00Z", "2024-03-15T12:00:00Z", "2024-02-29T23:00:00Z",
     "2024-03-31T22:00:00Z"},
    /* 23:30Z on Oct 31 is 00:30 on Nov 1 in Zurich: November has begun there. */
    {"month Zurich past month end", CALENDAR(AGG_SLO_CAL_MONTH, 1, "Europe/Zurich"), 0,
     "2024-10-31T23:30:00Z", "2024-10-31T23:00:00Z", "2024-10-31T23:30:00Z", "2024-10-31T23:00:00Z",
     "2024-11-30T23:00:00Z"},
    {"day Kolkata (+5:30)", CALENDAR(AGG_SLO_CAL_DAY, 1, "Asia/Kolkata"), 0, "2024-01-01T18:29:59Z",
     "2023-12-31T18:30:00Z", "2024-01-01T18:29:50Z", "2023-12-31T18:30:00Z",
     "2024-01-01T18:30:00Z"},
    /* A Monday at midnight: the week has just begun, the range is empty. */
    {"ISO week just begun", CALENDAR(AGG_SLO_CAL_WEEK, 1, NULL), 0, "2024-01-01T00:00:00Z",
     "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z",
     "2024-01-08T00:00:00Z"},
    {"ISO week across year end", CALENDAR(AGG_SLO_CAL_WEEK, 1, NULL), 0, "2023-12-31T12:00:00Z",
     "2023-12-25T00:00:00Z", "2023-12-31T12:00:00Z", "2023-12-25T00:00:00Z",
     "2024-01-01T00:00:00Z"},
    /* 2-week periods from Monday 2023-12-11: Dec 11, Dec 25, Jan 8. */
    {"2 ISO weeks", CALENDAR_FROM(AGG_SLO_CAL_WEEK, 2, NULL, "2023-12-11T00:00:00Z"), 0,
     "2024-01-03T00:00:00Z", "2023-12-25T00:00:00Z", "2024-01-03T00:00:00Z", "2023-12-25T00:00:00Z",
     "2024-01-08T00:00:00Z"},
    /* 2-day periods counted back from a start in the future, Jan 10: Jan 8, ..., Jan 2, Dec 31;
     * Jan 1 lies in [Dec 31, Jan 2). */
    {"2 days, start in the future", CALENDAR_FROM(AGG_SLO_CAL_DAY, 2, NULL, "2024-01-10T00:00:00Z"),
     0, "2024-01-01T12:00:00Z", "2023-12-31T00:00:00Z", "2024-01-01T12:00:00Z",
     "2023-12-31T00:00:00Z", "2024-01-02T00:00:00Z"},
    /* 22:30Z on Mar 31 is 00:30 on Apr 1 (CEST): the second quarter. */
    {"quarter Zurich", CALENDAR(AGG_SLO_CAL_QUARTER, 1, "Europe/Zurich"), 0, "2024-03-31T22:30:00Z",
     "2024-03-31T22:00:00Z", "2024-03-31T22:30:00Z", "2024-03-31T22:00:00Z",
     "2024-06-30T22:00:00Z"},
    /* 2-month periods from January 2024: Jan-Feb, Mar-Apr. */
    {"2 months", CALENDAR_FROM(AGG_SLO_CAL_MONTH, 2, NULL, "2024-01-01T00:00:00Z"), 0,
     "2024-04-10T00:00:00Z", "2024-03-01T00:00:00Z", "2024-04-10T00:00:00Z", "2024-03-01T00:00:00Z",
     "2024-05-01T00:00:00Z"},
    {"year New York, last second of 2023", CALENDAR(AGG_SLO_CAL_YEAR, 1, "America/New_York"), 0,
     "2024-01-01T04:59:59Z", "2023-01-01T05:00:00Z", "2024-01-01T04:59:50Z", "2023-01-01T05:00:00Z",
     "2024-01-01T05:00:00Z"},
    /* Hourly slices from the month's start in New York: 03:59:59Z completes the slice ending
     * 03:00Z (the next ends at 04:00Z). */
    {"month New York of 1h slices", CALENDAR(AGG_SLO_CAL_MONTH, 1, "America/New_York"), 3600,
     "2024-03-01T03:59:59Z", "2024-02-01T05:00:00Z", "2024-03-01T03:00:00Z", "2024-02-01T05:00:00Z",
     "2024-03-01T05:00:00Z"},
};

static void test_window_ranges(void)
{
    for (size_t i = 0; i < sizeof window_cases / sizeof window_cases[0]; i++) {
        const struct window_case *c = &window_cases[i];
        struct agg_slo_def d = make_def(0.999, c->w);
        if (c->slice_s > 0) {
            d.budgeting = AGG_SLO_TIMESLICES;
            d.timeslice_window_s = c->slice_s;
            d.timeslice_target = 0.99;
        }
        slic_tz *tz = load_tz(&d);
        struct agg_slo_window w;
        printf("  %s\n", c->name);
        CHECK_OK(agg_slo_window_range(&d, tz, at(c->now), &w));
        slic_tz_destroy(tz);
        CHECK_INT_EQ(w.from, at(c->from));
        CHECK_INT_EQ(w.to, at(c->to));
        CHECK_INT_EQ(w.period_start, at(c->period_start ? c->period_start : c->from));
        CHECK_INT_EQ(w.period_end, at(c->period_end ? c->period_end : c->to));
    }
}

/* A calendar evaluation spreads the budget over the whole month: Zurich's March 2024 is 31 days
 * less an hour = 2,674,800 s. 99 %; 100 events per 10 s, 2 of them bad from Mar 15 11:00Z. At
 * 12:00Z the month (from Feb 29 23:00Z) is 14 d 13 h = 349 h old: 349 x 360 = 125,640 windows
 * x 100 = 12,564,000 events, bad 360 x 2 = 720. consumed = 720 / (0.01 x 12,564,000) =
 * 720/125,640; 1 h burn = 0.02/0.01 = 2; exhaustion = (1 - 720/125,640) x 2,674,800 / 2. */
static void test_calendar_exhaustion_uses_whole_period(void)
{
    struct agg_slo_def d =
        make_def(0.99, (struct win_spec)CALENDAR(AGG_SLO_CAL_MONTH, 1, "Europe/Zurich"));
    const struct phase phases[PHASES_MAX] = {{-40 * DAY, -HOUR, 100, 100, 100},
                                             {-HOUR, DAY, 100, 98, 98}};
    struct synth s = {.base = at("2024-03-15T12:00:00Z"), .phases = phases};
    struct agg_slo_status st;
    evaluate(&d, &s, s.base, &st);
    CHECK_INT_EQ(st.window.period_end - st.window.period_start, 2674800);
    CHECK_U64_EQ(st.total, 12564000);
    CHECK_REL(st.consumed, 720.0 / 125640, TOL);
    CHECK_REL(st.burn[AGG_SLO_BURN_1H].rate, 2, TOL);
    CHECK(st.exhausts);
    CHECK_REL(st.exhaustion_s, (1 - 720.0 / 125640) * 2674800 / 2, TOL);
}

/* ---- latency thresholds: exact counters and sketch bounds -------------------------------- */

static slic_sketch *thousand_latencies(void)
{
    /* 1 ms, 2 ms, ..., 1000 ms: exactly 300 values <= 0.3 s (300/1000.0 is the double 0.3). */
    slic_sketch *sk;
    CHECK_OK(slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, &sk));
    for (int i = 1; i <= 1000; i++)
        CHECK_OK(slic_sketch_add(sk, i / 1000.0));
    return sk;
}

static void check_counts(const struct agg_slo_counts *c, uint64_t total, uint64_t lower,
                         uint64_t upper, bool exact)
{
    CHECK_U64_EQ(c->total, total);
    CHECK_U64_EQ(c->good_lower, lower);
    CHECK_U64_EQ(c->good_upper, upper);
    CHECK(c->exact == exact);
}

static void test_threshold_counts(void)
{
    slic_sketch *sk = thousand_latencies();
    struct agg_slo_def d = make_def(0.99, (struct win_spec)ROLLING(DAY));
    d.indicator = AGG_SLO_THRESHOLD;
    d.op = AGG_SLO_OP_LTE;
    d.threshold_s = 0.3;
    struct slic_sketch_rank r;
    CHECK_OK(slic_sketch_rank(sk, 0.3, &r));
    /* The bucket holding 0.3 s (about 2 % wide) holds other values too: the sketch alone
     * cannot tell 300 exactly. */
    CHECK(r.lower < 300 && r.upper >= 300 && r.upper > r.lower);
    struct agg_slo_counts c;

    /* An exact counter at the threshold wins over the sketch. */
    const struct slic_threshold_count exact[] = {{0.1, 100, 99}, {0.3, 300, 290}, {0.5, 500, 480}};
    CHECK_OK(agg_slo_counts_from_sli(&d, 1000, 950, sk, exact, 3, &c));
    check_counts(&c, 1000, 300, 300, true);

    /* No counter there: the sketch's rank bounds, which counters far away do not narrow. */
    CHECK_OK(agg_slo_counts_from_sli(
        &d, 1000, 950, sk, (const struct slic_threshold_count[]){{0.1, 100, 99}, {0.5, 500, 480}},
        2, &c));
    check_counts(&c, 1000, r.lower, r.upper, false);

    /* Counters just below and above narrow the bounds: 299 <= good <= 301. */
    CHECK_OK(agg_slo_counts_from_sli(
        &d, 1000, 950, sk,
        (const struct slic_threshold_count[]){{0.299, 299, 290}, {0.301, 301, 292}}, 2, &c));
    check_counts(&c, 1000, r.lower > 299 ? r.lower : 299, r.upper < 301 ? r.upper : 301, false);
    CHECK(c.good_lower >= 299 && c.good_lower <= 300 && c.good_upper >= 300 && c.good_upper <= 301);

    /* Without the sketch, counters alone: exact at the threshold, or bounds. */
    CHECK_OK(agg_slo_counts_from_sli(&d, 1000, 950, NULL, exact, 3, &c));
    check_counts(&c, 1000, 300, 300, true);
    CHECK_OK(agg_slo_counts_from_sli(
        &d, 1000, 950, NULL, (const struct slic_threshold_count[]){{0.1, 100, 99}, {0.5, 500, 480}},
        2, &c));
    check_counts(&c, 1000, 100, 500, false);

    /* `< 0.3`: 299 values. A counter at 0.3 counts <= 0.3, so it is only an upper bound. */
    d.op = AGG_SLO_OP_LT;
    CHECK_OK(agg_slo_counts_from_sli(&d, 1000, 950, sk, exact, 3, &c));
    CHECK(!c.exact && c.good_lower <= 299 && c.good_upper >= 299 && c.good_upper <= 300);

    /* Ratio indicators count outcomes, exactly, and need no sketch. */
    d.indicator = AGG_SLO_RATIO_BAD;
    CHECK_OK(agg_slo_counts_from_sli(&d, 1000, 990, NULL, NULL, 0, &c));
    check_counts(&c, 1000, 990, 990, true);

    /* Contradictions are refused, *out untouched. */
    d.indicator = AGG_SLO_THRESHOLD;
    d.op = AGG_SLO_OP_LTE;
    c.total = 7;
    CHECK_ERR(agg_slo_counts_from_sli(&d, 1000, 1001, sk, NULL, 0, &c), SLIC_EINCONSISTENT);
    CHECK_ERR(agg_slo_counts_from_sli(&d, 999, 950, sk, NULL, 0, &c), SLIC_EINCONSISTENT);
    CHECK_ERR(agg_slo_counts_from_sli(&d, 1000, 950, NULL, NULL, 0, &c), SLIC_EINCONSISTENT);
    CHECK_ERR(agg_slo_counts_from_sli(&d, 1000, 950, sk,
                                      (const struct slic_threshold_count[]){{0.3, 1001, 0}}, 1, &c),
              SLIC_EINCONSISTENT);
    CHECK_U64_EQ(c.total, 7);
    /* No events: nothing to bound. */
    CHECK_OK(agg_slo_counts_from_sli(&d, 0, 0, NULL, NULL, 0, &c));
    check_counts(&c, 0, 0, 0, true);
    slic_sketch_destroy(sk);
}

/* ---- definitions the evaluator refuses ---------------------------------------------------- */

struct check_case {
    const char *field; /* the message names it */
    void (*spoil)(struct agg_slo_def *d);
};

/* clang-format off */
static void spoil_target_one(struct agg_slo_def *d) { d->target = 1.0; }
static void spoil_target_nan(struct agg_slo_def *d) { d->target = NAN; }
static void spoil_indicator(struct agg_slo_def *d) { d->indicator = 0; }
static void spoil_op(struct agg_slo_def *d)
{
    d->indicator = AGG_SLO_THRESHOLD;
    d->threshold_s = 0.3;
}
static void spoil_threshold(struct agg_slo_def *d)
{
    d->indicator = AGG_SLO_THRESHOLD;
    d->op = AGG_SLO_OP_LT;
    d->threshold_s = 0;
}
static void spoil_rolling(struct agg_slo_def *d) { d->rolling_s = 5; }
static void spoil_rolling_inf(struct agg_slo_def *d) { d->rolling_s = INFINITY; }
static void spoil_unit(struct agg_slo_def *d) { d->window = AGG_SLO_CALENDAR; d->cal_count = 1; }
static void spoil_count(struct agg_slo_def *d)
{
    d->window = AGG_SLO_CALENDAR;
    d->cal_unit = AGG_SLO_CAL_MONTH;
}
static void spoil_cal_start(struct agg_slo_def *d)
{
    spoil_count(d);
    d->cal_count = 1;
    d->cal_start = SLIC_TIME_MAX + 1;
}
static void spoil_budgeting(struct agg_slo_def *d) { d->budgeting = 0; }
static void slices_of(struct agg_slo_def *d, double s)
{
    d->budgeting = AGG_SLO_TIMESLICES;
    d->timeslice_target = 0.99;
    d->timeslice_window_s = s;
}
static void spoil_slice_grid(struct agg_slo_def *d) { slices_of(d, 15); }
static void spoil_slice_long(struct agg_slo_def *d) { slices_of(d, 2 * DAY); }
/* A DST day has 23 hours: a 24 h slice would never complete on it. */
static void spoil_slice_dst_day(struct agg_slo_def *d)
{
    slices_of(d, DAY);
    d->window = AGG_SLO_CALENDAR;
    d->cal_unit = AGG_SLO_CAL_DAY;
    d->cal_count = 1;
}
static void spoil_slice_target(struct agg_slo_def *d)
{
    slices_of(d, 300);
    d->timeslice_target = 0;
}
static void spoil_tiers(struct agg_slo_def *d) { d->n_tiers = AGG_SLO_TIERS_MAX + 1; }
static void spoil_tier_rate(struct agg_slo_def *d) { d->tiers[0].burn_rate = 0; }
static void spoil_tier_window(struct agg_slo_def *d) { d->tiers[0].short_window_s = 0; }
static void spoil_tier_after(struct agg_slo_def *d) { d->tiers[0].alert_after_s = -1; }
/* clang-format on */

static const struct check_case check_cases[] = {
    {"target", spoil_target_one},
    {"target", spoil_target_nan},
    {"indicator", spoil_indicator},
    {"op", spoil_op},
    {"threshold", spoil_threshold},
    {"timeWindow duration", spoil_rolling},
    {"timeWindow duration", spoil_rolling_inf},
    {"timeWindow unit", spoil_unit},
    {"timeWindow count", spoil_count},
    {"budgetingMethod", spoil_budgeting},
    {"timeSliceWindow: 15", spoil_slice_grid},
    {"timeSliceWindow: 172800", spoil_slice_long},
    {"timeSliceWindow: 86400", spoil_slice_dst_day},
    {"timeSliceTarget", spoil_slice_target},
    {"alert tiers", spoil_tiers},
    {"alert tier 1 burn rate", spoil_tier_rate},
    {"alert tier 1 window", spoil_tier_window},
    {"alert tier 1 alertAfter", spoil_tier_after},
    {"calendar startTime", spoil_cal_start},
};

static struct agg_slo_def checkable_def(void)
{
    static char file[] = "slo/checkout.yaml";
    struct agg_slo_def d = make_def(0.999, (struct win_spec)ROLLING(DAY));
    d.file = file;
    d.line = 12;
    d.tiers[0] = (struct agg_slo_tier){"page", HOUR, 5 * MIN, 14.4, 0};
    d.n_tiers = 1;
    return d;
}

static void test_def_check(void)
{
    struct agg_slo_def d = checkable_def();
    CHECK_OK(agg_slo_def_check(&d, NULL));
    d.budgeting = AGG_SLO_RATIO_TIMESLICES; /* needs no slice target */
    d.timeslice_window_s = 300;
    CHECK_OK(agg_slo_def_check(&d, NULL));
    for (size_t i = 0; i < sizeof check_cases / sizeof check_cases[0]; i++) {
        d = checkable_def();
        check_cases[i].spoil(&d);
        struct slic_errmsg err = {""};
        CHECK_ERR(agg_slo_def_check(&d, &err), SLIC_EINVAL);
        printf("  %s\n", err.text);
        CHECK(strncmp(err.text, "slo/checkout.yaml:12: SLO 'checkout-availability': ", 51) == 0);
        CHECK(strstr(err.text, check_cases[i].field) != NULL);
        struct agg_slo_window w;
        CHECK_ERR(agg_slo_window_range(&d, NULL, at(T_ROLL), &w), SLIC_EINVAL);
    }
}

/* ---- failures reach the caller ---------------------------------------------------------- */

static const struct phase steady_phases[PHASES_MAX] = {{-40 * DAY, DAY, 100, 99, 99}};

static int eval_rc(const struct agg_slo_def *d, const slic_tz *tz, struct synth *s,
                   const struct agg_slo_data *src, struct slic_errmsg *err)
{
    struct agg_slo_status st, before;
    memset(&st, 0xa5, sizeof st);
    memcpy(&before, &st, sizeof st);
    int rc = agg_slo_evaluate(d, tz, s->base, src, &st, err);
    if (rc != 0) {
        CHECK(memcmp(&st, &before, sizeof st) == 0); /* *out only on success */
        printf("  %s: %s\n", slic_errname(rc), err->text);
    }
    return rc;
}

static void test_failures(void)
{
    struct agg_slo_def d = make_def(0.999, (struct win_spec)ROLLING(28 * DAY));
    struct synth s = {.base = at(T_ROLL), .phases = steady_phases, .fail_rc = -EIO};
    struct agg_slo_data src = synth_source(&s);
    struct slic_errmsg err = {""};

    CHECK_ERR(eval_rc(&d, NULL, &s, &src, &err), -EIO);
    CHECK(strstr(err.text, "'checkout-availability': counts failed for [") != NULL);
    s.fail_rc = 0;
    s.lie = true;
    CHECK_ERR(eval_rc(&d, NULL, &s, &src, &err), SLIC_EINCONSISTENT);
    s.lie = false;

    struct agg_slo_data no_slices = {.counts = synth_counts, .ctx = &s};
    struct agg_slo_def sliced = d;
    slices_of(&sliced, 300);
    CHECK_ERR(eval_rc(&sliced, NULL, &s, &no_slices, &err), SLIC_EINVAL);
    s.fail_rc = -EIO;
    CHECK_ERR(eval_rc(&sliced, NULL, &s, &src, &err), -EIO);
    CHECK(strstr(err.text, "slices failed") != NULL);
    s.fail_rc = 0;

    /* The slice buffer is the one allocation. */
    slic_alloc_fail_after(0);
    int rc = eval_rc(&sliced, NULL, &s, &src, &err);
    slic_alloc_fail_after(-1);
    CHECK_ERR(rc, SLIC_ENOMEM);
    CHECK_OK(eval_rc(&sliced, NULL, &s, &src, &err));

    /* A calendar in New York evaluated without its zone, or in another one. */
    struct agg_slo_def cal =
        make_def(0.999, (struct win_spec)CALENDAR(AGG_SLO_CAL_MONTH, 1, "America/New_York"));
    CHECK_ERR(eval_rc(&cal, NULL, &s, &src, &err), SLIC_EINVAL);
    slic_tz *zurich = NULL;
    CHECK_OK(slic_tz_load("Europe/Zurich", &zurich, NULL));
    CHECK_ERR(eval_rc(&cal, zurich, &s, &src, &err), SLIC_EINVAL);
    CHECK(strstr(err.text, "Europe/Zurich") != NULL);
    slic_tz_destroy(zurich);

    CHECK_ERR(eval_rc(&d, NULL, &s, NULL, &err), SLIC_EINVAL);
    d.target = 1.5;
    CHECK_ERR(eval_rc(&d, NULL, &s, &src, &err), SLIC_EINVAL);
    d.target = 0.999;
    struct agg_slo_window w;
    CHECK_ERR(agg_slo_window_range(&d, NULL, SLIC_TIME_MAX + 1, &w), SLIC_ERANGE);
}

/* ---- reads: few, aligned, never repeated ------------------------------------------------ */

struct logged {
    struct synth s;
    size_t n;
    int64_t calls[64][3];
};

static int logged_counts(void *ctx, const struct agg_slo_def *d, int64_t from, int64_t to,
                         uint32_t res, struct agg_slo_counts *out)
{
    struct logged *l = ctx;
    for (size_t i = 0; i < l->n; i++)
        CHECK(!(l->calls[i][0] == from && l->calls[i][1] == to && l->calls[i][2] == res));
    CHECK(l->n < 64);
    l->calls[l->n][0] = from;
    l->calls[l->n][1] = to;
    l->calls[l->n][2] = res;
    l->n++;
    return synth_counts(&l->s, d, from, to, res, out);
}

static void test_reads_are_few_and_aligned(void)
{
    /* 28 days, the four workbook tiers, now = T + 37 s (window end T + 30 s). The pieces:
     * [T, T+30) at 10 s is shared by every window; each window adds its 10 s head, its minutes
     * up to the hour and its whole hours: 5m 2, 30m 2, 1h 2, 2h 3, 6h 3, 1d 3, 3d 3, 28d 3,
     * and the tiers' windows are among these: 1 + 21 = 22 calls. */
    struct agg_slo_def d = make_def(0.999, (struct win_spec)ROLLING(28 * DAY));
    d.tiers[0] = (struct agg_slo_tier){"page", HOUR, 5 * MIN, 14.4, 0};
    d.tiers[1] = (struct agg_slo_tier){"page", 6 * HOUR, 30 * MIN, 6, 0};
    d.tiers[2] = (struct agg_slo_tier){"ticket", DAY, 2 * HOUR, 3, 0};
    d.tiers[3] = (struct agg_slo_tier){"ticket", 3 * DAY, 6 * HOUR, 1, 0};
    d.n_tiers = 4;
    struct logged l = {.s = {.base = at(T_ROLL), .phases = steady_phases}};
    struct agg_slo_data src = {.counts = logged_counts, .slices = synth_slices, .ctx = &l};
    struct agg_slo_status st;
    struct slic_errmsg err = {""};
    CHECK_OK(agg_slo_evaluate(&d, NULL, l.s.base + 37, &src, &st, &err));
    CHECK_INT_EQ(l.n, 22);
    /* The pieces add up exactly: 28 x 8640 windows of 100 events, 99 good. */
    CHECK_U64_EQ(st.total, 28 * 8640 * 100);
    CHECK_U64_EQ(st.good_lower, 28 * 8640 * 99);

    /* 28 days of 5-minute slices: 8064 slices in ceil(8064 / 2048) = 4 calls, at 1 min (5
     * minutes are not whole hours). */
    slices_of(&d, 300);
    struct synth s = {.base = at(T_ROLL), .phases = steady_phases};
    evaluate(&d, &s, s.base, &st);
    CHECK_U64_EQ(st.slices, 8064);
    CHECK_INT_EQ(s.slices_calls, 4);
    CHECK_INT_EQ(s.slice_res, 60);
}

/* ---- the alert state machine ------------------------------------------------------------ */

struct alert_step {
    double long_rate;
    double short_rate;
    uint64_t long_total;
    enum agg_slo_alert_state state;
    bool changed;
};

/* One tier at 14.4x with min_events 100; one step a minute. */
static const struct alert_step alert_steps[] = {
    {1, 1, 1000, AGG_SLO_ALERT_INACTIVE, false},
    {20, 10, 1000, AGG_SLO_ALERT_INACTIVE, false},   /* long only */
    {10, 20, 1000, AGG_SLO_ALERT_INACTIVE, false},   /* short only */
    {14.4, 20, 1000, AGG_SLO_ALERT_INACTIVE, false}, /* at the rate is not above it */
    {20, 20, 99, AGG_SLO_ALERT_INACTIVE, false},     /* too few events */
    {20, 20, 100, AGG_SLO_ALERT_FIRING, true},       /* fires (step 5) */
    {20, 14.4, 100, AGG_SLO_ALERT_FIRING, false},    /* short at the rate: not below */
    {1, 15, 100, AGG_SLO_ALERT_FIRING, false},       /* long cooled: only short resolves */
    {30, 14.3, 5, AGG_SLO_ALERT_RESOLVED, true},     /* short below: resolves (step 8) */
    {30, 14.3, 1000, AGG_SLO_ALERT_RESOLVED, false},
    {30, 30, 1000, AGG_SLO_ALERT_FIRING, true}, /* fires again (step 10) */
};

static void test_alert_state_machine(void)
{
    struct agg_slo_def d = make_def(0.999, (struct win_spec)ROLLING(30 * DAY));
    d.tiers[0] = (struct agg_slo_tier){"page", HOUR, 5 * MIN, 14.4, 0};
    d.n_tiers = 1;
    d.min_events = 100;
    struct agg_slo_alerts a;
    agg_slo_alerts_init(&a);
    CHECK_STR_EQ(agg_slo_alert_state_name(a.tier[0].state), "inactive");
    int64_t t0 = at(T_ROLL);
    for (size_t i = 0; i < sizeof alert_steps / sizeof alert_steps[0]; i++) {
        const struct alert_step *s = &alert_steps[i];
        struct agg_slo_status st;
        memset(&st, 0, sizeof st);
        st.n_tiers = 1;
        st.tier_long[0] =
            (struct agg_slo_burn){.window_s = HOUR, .total = s->long_total, .rate = s->long_rate};
        st.tier_short[0] = (struct agg_slo_burn){.window_s = 5 * MIN, .rate = s->short_rate};
        int64_t now = t0 + (int64_t)i * MIN;
        CHECK_INT_EQ(agg_slo_alerts_update(&a, &d, &st, now), s->changed);
        const struct agg_slo_alert *al = &a.tier[0];
        if (al->state != s->state)
            harness_fail(__FILE__, __LINE__, "step %zu: %s, expected %s", i,
                         agg_slo_alert_state_name(al->state), agg_slo_alert_state_name(s->state));
        CHECK(al->changed == s->changed);
        if (s->changed) {
            CHECK_INT_EQ(al->since, now);
            CHECK_DBL_EQ(al->long_rate, s->long_rate);
            CHECK_DBL_EQ(al->short_rate, s->short_rate);
            CHECK_U64_EQ(al->long_total, s->long_total);
        }
    }
    const struct agg_slo_alert *al = &a.tier[0];
    CHECK_STR_EQ(agg_slo_alert_state_name(al->state), "firing");
    CHECK_INT_EQ(al->fired_at, t0 + 10 * MIN);
    CHECK_INT_EQ(al->resolved_at, 0);
    CHECK_U64_EQ(al->firings, 2);
    CHECK_INT_EQ(a.n_tiers, 1);
}

/* alertAfter 2 minutes, one update a minute: the condition must hold at the updates of t, t+1m
 * and t+2m to fire at t+2m; an update without it starts the wait again. */
static void test_alert_after(void)
{
    static const struct {
        bool burning;
        enum agg_slo_alert_state state;
        int64_t pending; /* minutes after t0 the wait began; -1: not waiting */
    } steps[] = {
        {true, AGG_SLO_ALERT_INACTIVE, 0},   {true, AGG_SLO_ALERT_INACTIVE, 0},
        {false, AGG_SLO_ALERT_INACTIVE, -1}, {true, AGG_SLO_ALERT_INACTIVE, 3},
        {true, AGG_SLO_ALERT_INACTIVE, 3},   {true, AGG_SLO_ALERT_FIRING, -1},
        {true, AGG_SLO_ALERT_FIRING, -1},    {false, AGG_SLO_ALERT_RESOLVED, -1},
    };
    struct agg_slo_def d = make_def(0.999, (struct win_spec)ROLLING(30 * DAY));
    d.tiers[0] = (struct agg_slo_tier){"page", HOUR, 5 * MIN, 14.4, 2 * MIN};
    d.n_tiers = 1;
    struct agg_slo_alerts a;
    agg_slo_alerts_init(&a);
    int64_t t0 = at(T_ROLL);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        struct agg_slo_status st;
        memset(&st, 0, sizeof st);
        st.n_tiers = 1;
        double rate = steps[i].burning ? 20 : 0;
        st.tier_long[0] = (struct agg_slo_burn){.window_s = HOUR, .total = 1000, .rate = rate};
        st.tier_short[0] = (struct agg_slo_burn){.window_s = 5 * MIN, .rate = rate};
        agg_slo_alerts_update(&a, &d, &st, t0 + (int64_t)i * MIN);
        CHECK_INT_EQ(a.tier[0].state, steps[i].state);
        CHECK_INT_EQ(a.tier[0].pending_since,
                     steps[i].pending < 0 ? 0 : t0 + steps[i].pending * MIN);
    }
    CHECK_INT_EQ(a.tier[0].fired_at, t0 + 5 * MIN);
    CHECK_INT_EQ(a.tier[0].resolved_at, t0 + 7 * MIN);
}

/* ---- alert timing with a fake clock ------------------------------------------------------ */

/* DESIGN.md's tiers for a 30-day SLO. */
static const struct agg_slo_tier workbook_tiers[4] = {
    {"page", HOUR, 5 * MIN, 14.4, 0},
    {"page", 6 * HOUR, 30 * MIN, 6, 0},
    {"ticket", DAY, 2 * HOUR, 3, 0},
    {"ticket", 3 * DAY, 6 * HOUR, 1, 0},
};

static struct agg_slo_def workbook_def(uint64_t min_events)
{
    struct agg_slo_def d = make_def(0.999, (struct win_spec)ROLLING(30 * DAY));
    memcpy(d.tiers, workbook_tiers, sizeof workbook_tiers);
    d.n_tiers = 4;
    d.min_events = min_events;
    return d;
}

/* The first boundary of the 10 s data grid strictly after s seconds: the first window end at
 * which a window's counts show more than s seconds of errors. */
static int64_t grid_after(double s)
{
    return ((int64_t)floor(s / AGG_SLO_GRID_S) + 1) * AGG_SLO_GRID_S;
}

static bool tier_burning(const struct agg_slo_status *st, size_t i)
{
    return st->tier_long[i].rate > workbook_tiers[i].burn_rate &&
           st->tier_short[i].rate > workbook_tiers[i].burn_rate;
}

/* Steady 100 events/s, all good, for 4 days; from t0 every event fails for 10 minutes; then all
 * good again. With target 99.9 % a tier's long window of L seconds burns above rate R once the
 * errors cover more than R x 0.001 x L seconds of it (the short window, shorter and all errors,
 * is above first):
 *   page   1h/5m  14.4: 14.4 x 0.001 x 3600  =  51.84 s -> the 10 s window ending t0+60
 *   page   6h/30m 6   : 6    x 0.001 x 21600 = 129.6 s  -> t0+130
 *   ticket 1d/2h  3   : 3    x 0.001 x 86400 = 259.2 s  -> t0+260
 *   ticket 3d/6h  1   : 1    x 0.001 x 259200 = 259.2 s -> t0+260
 * After the errors stop at t1 = t0 + 600 s, a short window of S seconds holds S - E seconds of
 * errors E seconds later (all of these are still inside it: S - E < 600 at the crossing), and
 * drops below R once (S - E)/S < R x 0.001:
 *   5m : E > 300 x (1 - 0.0144)    =   295.68 -> t1+300
 *   30m: E > 1800 x (1 - 0.006)    =  1789.2  -> t1+1790
 *   2h : E > 7200 x (1 - 0.003)    =  7178.4  -> t1+7180
 *   6h : E > 21600 x (1 - 0.001)   = 21578.4  -> t1+21580
 * Evaluations run every 10 s at a phase `off` from the grid: each transition happens at the
 * first evaluation at or after its boundary, never earlier, at most one interval later. */
static const struct {
    int64_t fire;
    int64_t resolve;
} hand_timing[4] = {{60, 300}, {130, 1790}, {260, 7180}, {260, 21580}};

static const struct phase incident_phases[PHASES_MAX] = {
    {-4 * DAY, 0, 1000, 1000, 1000},
    {0, 600, 1000, 0, 0},
    {600, 2 * DAY, 1000, 1000, 1000},
};

static void check_transition_timing(const struct agg_slo_def *d, struct synth *s, size_t tier,
                                    int64_t at_time, int64_t start, double math_s, int64_t hand_s,
                                    int64_t interval, bool firing)
{
    /* The math and the hand-computed boundary agree. */
    CHECK_INT_EQ(grid_after(math_s), hand_s);
    if (at_time == 0)
        harness_fail(__FILE__, __LINE__, "tier %zu never %s", tier, firing ? "fired" : "resolved");
    /* Not before the math predicts, within one evaluation interval after the data shows it. */
    CHECK((double)(at_time - start) > math_s);
    CHECK(at_time >= start + hand_s && at_time < start + hand_s + interval);
    /* One interval earlier, the evaluation did not see it. */
    struct agg_slo_status st;
    evaluate(d, s, at_time - interval, &st);
    if (firing)
        CHECK(!tier_burning(&st, tier));
    else
        CHECK(st.tier_short[tier].rate >= workbook_tiers[tier].burn_rate);
}

static void run_alert_timing(int64_t off)
{
    const int64_t interval = 10;
    struct agg_slo_def d = workbook_def(1000);
    struct synth s = {.base = at(T_ROLL), .phases = incident_phases};
    int64_t t0 = s.base, t1 = t0 + 600;
    int64_t fired[4] = {0}, resolved[4] = {0};
    struct agg_slo_alerts a;
    agg_slo_alerts_init(&a);
    for (int64_t now = t0 - 10 * MIN + off; now <= t1 + 6 * HOUR + 10 * MIN; now += interval) {
        struct agg_slo_status st;
        evaluate(&d, &s, now, &st);
        agg_slo_alerts_update(&a, &d, &st, now);
        for (size_t i = 0; i < 4; i++) {
            if (!a.tier[i].changed)
                continue;
            if (a.tier[i].state == AGG_SLO_ALERT_FIRING && fired[i] == 0)
                fired[i] = now;
            if (a.tier[i].state == AGG_SLO_ALERT_RESOLVED && resolved[i] == 0)
                resolved[i] = now;
        }
        /* At the page: 60 s of errors in the hour, 100 events/s: 6000/360,000 = 1/60 bad ->
         * rate 16.67; the 5 min window: 6000/30,000 = 0.2 -> 200. */
        if (now == fired[0]) {
            CHECK_REL(st.tier_long[0].rate, 1000.0 / 60, 1e-9);
            CHECK_REL(st.tier_short[0].rate, 200, 1e-9);
        }
    }
    for (size_t i = 0; i < 4; i++) {
        const struct agg_slo_tier *t = &workbook_tiers[i];
        double fire_math = t->burn_rate * (1 - d.target) * t->long_window_s;
        double resolve_math = t->short_window_s * (1 - t->burn_rate * (1 - d.target));
        printf("  phase %lld: tier %zu fired t0%+lld (math %.2f), resolved t1%+lld (math %.2f)\n",
               (long long)off, i, (long long)(fired[i] - t0), fire_math,
               (long long)(resolved[i] - t1), resolve_math);
        check_transition_timing(&d, &s, i, fired[i], t0, fire_math, hand_timing[i].fire, interval,
                                true);
        check_transition_timing(&d, &s, i, resolved[i], t1, resolve_math, hand_timing[i].resolve,
                                interval, false);
        CHECK_INT_EQ(fired[i], t0 + hand_timing[i].fire + off);
        CHECK_INT_EQ(resolved[i], t1 + hand_timing[i].resolve + off);
        CHECK_U64_EQ(a.tier[i].firings, 1);
        CHECK_INT_EQ(a.tier[i].fired_at, fired[i]);
        CHECK_INT_EQ(a.tier[i].resolved_at, resolved[i]);
    }
    /* The page resolved on its short window while the hour still held all 600 s of errors:
     * 60,000/360,000 bad -> rate 166.7. */
    CHECK_REL(a.tier[0].long_rate, 1000.0 / 6, 1e-9);
}

static void test_alert_timing(void)
{
    static const int64_t offsets[] = {0, 3, 9};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++)
        run_alert_timing(offsets[i]);
}

/* One event per 10 s, all failing from t0, min_events 1000: the 1 h window holds 360 events,
 * so the 14.4x page never fires however hard it burns; the 6 h window holds 2160 and fires at
 * the same boundary as with heavy traffic (129.6 s -> t0 + 130), the 1 d and 3 d at t0 + 260. */
static void test_alert_min_events_gate(void)
{
    const struct phase phases[PHASES_MAX] = {{-4 * DAY, 0, 1, 1, 1}, {0, DAY, 1, 0, 0}};
    struct agg_slo_def d = workbook_def(1000);
    struct synth s = {.base = at(T_ROLL), .phases = phases};
    struct agg_slo_alerts a;
    agg_slo_alerts_init(&a);
    int64_t fired[4] = {0};
    for (int64_t now = s.base; now <= s.base + 2 * HOUR; now += 10) {
        struct agg_slo_status st;
        evaluate(&d, &s, now, &st);
        CHECK_U64_EQ(st.tier_long[0].total, 360);
        agg_slo_alerts_update(&a, &d, &st, now);
        for (size_t i = 0; i < 4; i++) {
            if (a.tier[i].changed && fired[i] == 0)
                fired[i] = now;
        }
    }
    CHECK_INT_EQ(a.tier[0].state, AGG_SLO_ALERT_INACTIVE);
    CHECK_INT_EQ(fired[0], 0);
    CHECK_INT_EQ(fired[1], s.base + 130);
    CHECK_INT_EQ(fired[2], s.base + 260);
    CHECK_INT_EQ(fired[3], s.base + 260);
}

HARNESS_CASES(HARNESS_CASE(test_occurrences_budget_and_burn), HARNESS_CASE(test_timeslices),
              HARNESS_CASE(test_window_ranges),
              HARNESS_CASE(test_calendar_exhaustion_uses_whole_period),
              HARNESS_CASE(test_threshold_counts), HARNESS_CASE(test_def_check),
              HARNESS_CASE(test_failures), HARNESS_CASE(test_reads_are_few_and_aligned),
              HARNESS_CASE(test_alert_state_machine), HARNESS_CASE(test_alert_after),
              HARNESS_CASE(test_alert_timing), HARNESS_CASE(test_alert_min_events_gate));
HARNESS_MAIN()
