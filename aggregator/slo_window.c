/* SLO windows: the range of data an evaluation covers and the period its budget is spread over,
 * rolling or calendar-aligned in an IANA time zone. Calendar arithmetic (local midnights, month
 * lengths, DST) is timeutil's; this file only picks the period and lines the range up with the
 * 10 s grid and the slice grid. */
#include "slo_int.h"

#include <math.h>
#include <string.h>

int64_t agg__slo_floor(int64_t t, int64_t step)
{
    return slic_window_align(t, step);
}

int64_t agg__slo_ceil(int64_t t, int64_t step)
{
    int64_t f = slic_window_align(t, step);
    return f == t ? t : f + step;
}

int64_t agg__slo_grid_round(double s)
{
    int64_t steps = llround(s / AGG_SLO_GRID_S);
    return (steps < 1 ? 1 : steps) * AGG_SLO_GRID_S;
}

int64_t agg__slo_slice_s(const struct agg_slo_def *d)
{
    return (int64_t)d->timeslice_window_s;
}

bool agg__slo_sliced(const struct agg_slo_def *d)
{
    return d->budgeting == AGG_SLO_TIMESLICES || d->budgeting == AGG_SLO_RATIO_TIMESLICES;
}

/* ---- time zones ---- */

static bool zone_is_utc(const char *name)
{
    return name == NULL || strcmp(name, "UTC") == 0;
}

int agg_slo_tz_load(const struct agg_slo_def *d, slic_tz **out, struct slic_errmsg *err)
{
    if (d->window != AGG_SLO_CALENDAR || zone_is_utc(d->time_zone)) {
        *out = NULL;
        return 0;
    }
    return slic_tz_load(d->time_zone, out, err);
}

/* The zone handed to an evaluation must be the definition's: a calendar month counted in the
 * wrong zone is off by hours at both ends, silently. */
static bool zone_matches(const struct agg_slo_def *d, const slic_tz *tz)
{
    if (d->window != AGG_SLO_CALENDAR)
        return true;
    if (tz == NULL)
        return zone_is_utc(d->time_zone);
    const char *name = d->time_zone ? d->time_zone : "UTC";
    return strcmp(slic_tz_name(tz), name) == 0;
}

/* ---- calendar periods ---- */

static enum slic_cal_unit cal_unit_of(enum agg_slo_calendar_unit u)
{
    switch (u) {
    case AGG_SLO_CAL_DAY:
        return SLIC_CAL_DAY;
    case AGG_SLO_CAL_WEEK:
        return SLIC_CAL_WEEK;
    case AGG_SLO_CAL_MONTH:
        return SLIC_CAL_MONTH;
    case AGG_SLO_CAL_QUARTER:
        return SLIC_CAL_QUARTER;
    case AGG_SLO_CAL_YEAR:
        break;
    }
    return SLIC_CAL_YEAR;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return agg__slo_floor(a, b) / b;
}

/* Year and month (1..12) of a day counted from 1970-01-01 in the proleptic Gregorian calendar
 * (H. Hinnant's civil_from_days). */
static void civil_from_days(int64_t days, int64_t *year, int64_t *month)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = yoe + era * 400 + (m <= 2);
    *month = m;
}

/* The number of the unit containing t on a count of such units in tz's local calendar (days
 * from 1970-01-01, ISO weeks from Monday 1970-01-05, months, quarters and years from year 0):
 * the difference of two numbers is how many units lie between. */
static int64_t unit_number(const slic_tz *tz, int64_t t, enum agg_slo_calendar_unit u)
{
    int64_t local_day = floor_div(t + slic_tz_offset(tz, t), 86400);
    int64_t year, month;
    civil_from_days(local_day, &year, &month);
    switch (u) {
    case AGG_SLO_CAL_DAY:
        return local_day;
    case AGG_SLO_CAL_WEEK:
        return floor_div(local_day - 4, 7); /* day 4 is Monday 1970-01-05 */
    case AGG_SLO_CAL_MONTH:
        return year * 12 + (month - 1);
    case AGG_SLO_CAL_QUARTER:
        return year * 4 + (month - 1) / 3;
    case AGG_SLO_CAL_YEAR:
        break;
    }
    return year;
}

/* The calendar period of d containing t: [*start, *end). Periods of cal_count units follow
 * each other from the one starting at cal_start, forwards and backwards. */
static int cal_period(const struct agg_slo_def *d, const slic_tz *tz, int64_t t, int64_t *start,
                      int64_t *end)
{
    enum slic_cal_unit u = cal_unit_of(d->cal_unit);
    int64_t unit_start, s, e;
    int rc = slic_cal_start(tz, t, u, &unit_start);
    if (rc != 0)
        return rc;
    int64_t n = (int64_t)d->cal_count;
    int64_t k =
        unit_number(tz, unit_start, d->cal_unit) - unit_number(tz, d->cal_start, d->cal_unit);
    int64_t back = k - floor_div(k, n) * n; /* units since the period began */
    if ((rc = slic_cal_add(tz, unit_start, u, -back, &s)) != 0 ||
        (rc = slic_cal_add(tz, s, u, n, &e)) != 0)
        return rc;
    *start = s;
    *end = e;
    return 0;
}

/* ---- ranges ---- */

static void rolling_range(const struct agg_slo_def *d, int64_t now, struct agg_slo_window *w)
{
    int64_t duration = agg__slo_grid_round(d->rolling_s);
    if (agg__slo_sliced(d)) {
        /* Whole slices on the slice grid, ending with the last complete one. */
        int64_t slice = agg__slo_slice_s(d);
        w->to = agg__slo_floor(now, slice);
        w->from = w->to - duration / slice * slice;
    } else {
        w->to = agg__slo_floor(now, AGG_SLO_GRID_S);
        w->from = w->to - duration;
    }
    w->period_start = w->from;
    w->period_end = w->to;
}

static int calendar_range(const struct agg_slo_def *d, const slic_tz *tz, int64_t now,
                          struct agg_slo_window *w)
{
    int rc = cal_period(d, tz, now, &w->period_start, &w->period_end);
    if (rc != 0)
        return rc;
    /* Local midnights are on the 10 s grid in every zone in use today; rounding up keeps the
     * range inside the period for historical offsets that are not. */
    w->from = agg__slo_ceil(w->period_start, AGG_SLO_GRID_S);
    int64_t end = agg__slo_floor(now, AGG_SLO_GRID_S);
    if (end < w->from)
        end = w->from;
    if (agg__slo_sliced(d)) {
        int64_t slice = agg__slo_slice_s(d);
        end = w->from + (end - w->from) / slice * slice;
    }
    w->to = end;
    return 0;
}

int agg__slo_window_range(const struct agg_slo_def *d, const slic_tz *tz, int64_t now,
                          struct agg_slo_window *out, struct slic_errmsg *err)
{
    int rc = agg_slo_def_check(d, err);
    if (rc != 0)
        return rc;
    if (!zone_matches(d, tz))
        return slic_errmsg_set(err, SLIC_EINVAL, "SLO '%s': evaluated in zone %s, defined in %s",
                               agg__slo_name(d), tz ? slic_tz_name(tz) : "UTC",
                               d->time_zone ? d->time_zone : "UTC");
    if (now < SLIC_TIME_MIN || now > SLIC_TIME_MAX)
        return slic_errmsg_set(err, SLIC_ERANGE, "SLO '%s': time %lld is outside years 0000..9999",
                               agg__slo_name(d), (long long)now);
    struct agg_slo_window w;
    if (d->window == AGG_SLO_ROLLING) {
        rolling_range(d, now, &w);
    } else if ((rc = calendar_range(d, tz, now, &w)) != 0) {
        return slic_errmsg_set(err, rc, "SLO '%s': no calendar period at %lld in %s: %s",
                               agg__slo_name(d), (long long)now, tz ? slic_tz_name(tz) : "UTC",
                               slic_strerror(rc));
    }
    *out = w;
    return 0;
}

int agg_slo_window_range(const struct agg_slo_def *d, const slic_tz *tz, int64_t now,
                         struct agg_slo_window *out)
{
    return agg__slo_window_range(d, tz, now, out, NULL);
}
