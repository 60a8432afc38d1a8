/* What the SLO evaluator can evaluate: the checks agg_slo_def_check makes of a definition, each
 * failure named by file, line, SLO and field so an operator can fix the YAML. The OpenSLO loader
 * runs them at load, the evaluator again before every evaluation (they are cheap), so nothing
 * downstream divides by a zero budget or loops over a zero-length slice. */
#include "slo_int.h"

#include <math.h>
#include <stdio.h>

const char *agg__slo_name(const struct agg_slo_def *d)
{
    return d->name ? d->name : "(unnamed)";
}

/* "file:line: SLO 'name'" for messages. */
static const char *where(const struct agg_slo_def *d, char *buf, size_t size)
{
    if (d->file)
        snprintf(buf, size, "%s:%u: SLO '%s'", d->file, d->line, agg__slo_name(d));
    else
        snprintf(buf, size, "SLO '%s'", agg__slo_name(d));
    return buf;
}

static int bad(const struct agg_slo_def *d, struct slic_errmsg *err, const char *field,
               double value, const char *expected)
{
    char w[192];
    return slic_errmsg_set(err, SLIC_EINVAL, "%s: %s: %g: expected %s", where(d, w, sizeof w),
                           field, value, expected);
}

static bool window_ok(double s)
{
    return isfinite(s) && s >= AGG_SLO_GRID_S && s <= AGG__SLO_WINDOW_MAX_S;
}

static int check_indicator(const struct agg_slo_def *d, struct slic_errmsg *err)
{
    switch (d->indicator) {
    case AGG_SLO_RATIO_GOOD:
    case AGG_SLO_RATIO_BAD:
        return 0;
    case AGG_SLO_THRESHOLD:
        if (d->op != AGG_SLO_OP_LTE && d->op != AGG_SLO_OP_LT)
            return bad(d, err, "op", (double)d->op, "lte or lt");
        if (!(isfinite(d->threshold_s) && d->threshold_s > 0))
            return bad(d, err, "threshold", d->threshold_s, "a positive number of seconds");
        return 0;
    }
    return bad(d, err, "indicator", (double)d->indicator, "a ratio or threshold metric");
}

/* The shortest a calendar period of d can be, in seconds: a DST change takes an hour off. */
static double shortest_period_s(const struct agg_slo_def *d)
{
    static const double unit_days[] = {
        [AGG_SLO_CAL_DAY] = 1,      [AGG_SLO_CAL_WEEK] = 7,   [AGG_SLO_CAL_MONTH] = 28,
        [AGG_SLO_CAL_QUARTER] = 89, [AGG_SLO_CAL_YEAR] = 365,
    };
    return d->cal_count * unit_days[d->cal_unit] * 86400.0 - 3600.0;
}

static int check_window(const struct agg_slo_def *d, struct slic_errmsg *err)
{
    if (d->window == AGG_SLO_ROLLING) {
        if (!window_ok(d->rolling_s))
            return bad(d, err, "timeWindow duration", d->rolling_s, "10 s to 3660 days");
        return 0;
    }
    if (d->window != AGG_SLO_CALENDAR)
        return bad(d, err, "timeWindow", (double)d->window, "rolling or calendar");
    if (d->cal_unit < AGG_SLO_CAL_DAY || d->cal_unit > AGG_SLO_CAL_YEAR)
        return bad(d, err, "timeWindow unit", (double)d->cal_unit,
                   "day, week, month, quarter or year");
    if (d->cal_count < 1 || d->cal_count > AGG__SLO_CAL_COUNT_MAX)
        return bad(d, err, "timeWindow count", (double)d->cal_count, "1 to 1000 units");
    if (d->cal_start < SLIC_TIME_MIN || d->cal_start > SLIC_TIME_MAX)
        return bad(d, err, "calendar startTime", (double)d->cal_start,
                   "a time in years 0000..9999");
    return 0;
}

static int check_budgeting(const struct agg_slo_def *d, struct slic_errmsg *err)
{
    if (d->budgeting == AGG_SLO_OCCURRENCES)
        return 0;
    if (!agg__slo_sliced(d))
        return bad(d, err, "budgetingMethod", (double)d->budgeting,
                   "Occurrences, Timeslices or RatioTimeslices");
    double s = d->timeslice_window_s;
    /* Slices on the 10 s grid are whole stored windows: no slice splits an agent's window. */
    if (!(isfinite(s) && s >= AGG_SLO_GRID_S && fmod(s, AGG_SLO_GRID_S) == 0))
        return bad(d, err, "timeSliceWindow", s, "a whole multiple of 10 s");
    double longest = d->window == AGG_SLO_ROLLING ? (double)agg__slo_grid_round(d->rolling_s)
                                                  : shortest_period_s(d);
    if (s > longest)
        return bad(d, err, "timeSliceWindow", s, "no longer than the SLO window");
    if (d->budgeting == AGG_SLO_TIMESLICES &&
        !(isfinite(d->timeslice_target) && d->timeslice_target > 0 && d->timeslice_target <= 1))
        return bad(d, err, "timeSliceTarget", d->timeslice_target, "a ratio in (0, 1]");
    return 0;
}

static int check_tiers(const struct agg_slo_def *d, struct slic_errmsg *err)
{
    if (d->n_tiers > AGG_SLO_TIERS_MAX)
        return bad(d, err, "alert tiers", (double)d->n_tiers, "at most 8");
    for (size_t i = 0; i < d->n_tiers; i++) {
        const struct agg_slo_tier *t = &d->tiers[i];
        char field[48];
        if (!window_ok(t->long_window_s) || !window_ok(t->short_window_s)) {
            snprintf(field, sizeof field, "alert tier %zu window", i + 1);
            return bad(d, err, field,
                       window_ok(t->long_window_s) ? t->short_window_s : t->long_window_s,
                       "10 s to 3660 days");
        }
        if (!(isfinite(t->burn_rate) && t->burn_rate > 0)) {
            snprintf(field, sizeof field, "alert tier %zu burn rate", i + 1);
            return bad(d, err, field, t->burn_rate, "a positive number");
        }
        if (!(isfinite(t->alert_after_s) && t->alert_after_s >= 0 &&
              t->alert_after_s <= AGG__SLO_WINDOW_MAX_S)) {
            snprintf(field, sizeof field, "alert tier %zu alertAfter", i + 1);
            return bad(d, err, field, t->alert_after_s, "0 to 3660 days");
        }
    }
    return 0;
}

int agg_slo_def_check(const struct agg_slo_def *d, struct slic_errmsg *err)
{
    int rc;
    if ((rc = check_indicator(d, err)) != 0)
        return rc;
    if (!(isfinite(d->target) && d->target > 0 && d->target < 1))
        return bad(d, err, "target", d->target, "a ratio in (0, 1), e.g. 0.999");
    if ((rc = check_window(d, err)) != 0 || (rc = check_budgeting(d, err)) != 0 ||
        (rc = check_tiers(d, err)) != 0)
        return rc;
    return 0;
}
