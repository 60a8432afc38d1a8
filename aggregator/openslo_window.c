/* An SLO's time window (OpenSLO `timeWindow`): rolling, of a fixed length, or calendar-aligned
 * to days, ISO weeks, months, quarters or years in an IANA time zone; and the length of a
 * time slice. OpenSLO's duration shorthand (12h, 4w, 1M, 1Q, 1Y) is read here; fixed lengths
 * also take slic's own durations ("1h30m"). */
#include "openslo_int.h"

#include "timeutil.h"

#include <stdio.h>
#include <string.h>

#define DAY_S 86400.0
#define ROLLING_MIN_S 60.0
/* Five years: longer than any retention slic keeps, so anything beyond is a typo. */
#define PERIOD_MAX_S (5 * 366 * DAY_S)
/* The most units in a calendar window the evaluator counts (AGG__SLO_CAL_COUNT_MAX). */
#define CAL_COUNT_MAX 1000u
/* The finest window slic stores: slices are made of whole windows. */
#define SLICE_STEP_S 10

struct cal_unit_info {
    char shorthand;
    const char *name;
    enum agg_slo_calendar_unit unit;
    enum slic_cal_unit cal;
    double nominal_s; /* for burn-rate scaling and bounds: month 30 d, quarter 91 d, year 365 d */
};

static const struct cal_unit_info cal_units[] = {
    {'d', "day", AGG_SLO_CAL_DAY, SLIC_CAL_DAY, DAY_S},
    {'w', "week (Monday)", AGG_SLO_CAL_WEEK, SLIC_CAL_WEEK, 7 * DAY_S},
    {'M', "month", AGG_SLO_CAL_MONTH, SLIC_CAL_MONTH, 30 * DAY_S},
    {'Q', "quarter", AGG_SLO_CAL_QUARTER, SLIC_CAL_QUARTER, 91 * DAY_S},
    {'Y', "year", AGG_SLO_CAL_YEAR, SLIC_CAL_YEAR, 365 * DAY_S},
};

static const struct cal_unit_info *cal_unit_find(char c)
{
    for (size_t i = 0; i < sizeof cal_units / sizeof cal_units[0]; i++) {
        if (cal_units[i].shorthand == c)
            return &cal_units[i];
    }
    return NULL;
}

static bool ends_in_calendar_unit(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && (s[n - 1] == 'M' || s[n - 1] == 'Q' || s[n - 1] == 'Y');
}

static int read_rolling(const slic_yaml_node *item, struct agg__os_window *w,
                        struct agg__os_skip *skip, struct slic_errmsg *err)
{
    const slic_yaml_node *dur = slic_yaml_get(item, "duration");
    /* A month is not a fixed length; counting one as 30 days would quietly mean another SLO. */
    if (ends_in_calendar_unit(slic_yaml_text(dur))) {
        agg__openslo_skip(skip,
                          "a rolling window of %s has no fixed length; slic rolls windows of "
                          "minutes, hours, days or weeks (30d, 4w)",
                          slic_yaml_text(dur));
        return 0;
    }
    int rc = slic_yaml_as_duration(dur, ROLLING_MIN_S, PERIOD_MAX_S, &w->rolling_s, err);
    if (rc)
        return rc;
    w->kind = AGG_SLO_ROLLING;
    w->period_s = w->rolling_s;
    return 0;
}

/* "1M" -> count 1 of the month unit. 0, or 0 with skip set for h and m (valid OpenSLO but no
 * calendar unit slic aligns to). */
static int read_cal_duration(const slic_yaml_node *dur, const struct cal_unit_info **unit,
                             unsigned *count, struct agg__os_skip *skip, struct slic_errmsg *err)
{
    const char *s = slic_yaml_text(dur);
    size_t len = strlen(s), digits = strspn(s, "0123456789");
    /* Shorthand is digits and one unit letter; five digits are more than any window needs. */
    bool shaped = digits > 0 && digits <= 5 && len == digits + 1;
    char letter = shaped ? s[digits] : '\0';
    unsigned n = 0;
    for (size_t i = 0; shaped && i < digits; i++)
        n = n * 10 + (unsigned)(s[i] - '0');
    if (letter == 'h' || letter == 'm') {
        agg__openslo_skip(skip,
                          "calendar windows of %s: slic aligns calendar windows to days, "
                          "weeks, months, quarters or years",
                          s);
        return 0;
    }
    *unit = shaped ? cal_unit_find(letter) : NULL;
    if (!*unit || n == 0)
        return slic_yaml_error(dur, err, SLIC_ECONFIG,
                               "expected a calendar duration like 1M, 1Q, 1Y, 1w or 7d, got "
                               "\"%s\"",
                               s);
    if (n > CAL_COUNT_MAX || n * (*unit)->nominal_s > PERIOD_MAX_S)
        return slic_yaml_error(dur, err, SLIC_ECONFIG,
                               "a window of at most %u units and 5 years, got \"%s\"",
                               CAL_COUNT_MAX, s);
    *count = n;
    return 0;
}

/* OpenSLO's startTime is a local date and time without zone: "2022-01-01 00:00:00". As if it
 * were UTC, that is the local wall clock reading, which is what calendar alignment is about. */
static int parse_local_time(const char *s, int64_t *out)
{
    char buf[32];
    size_t n = strlen(s);
    if (n == 10)
        snprintf(buf, sizeof buf, "%sT00:00:00Z", s);
    else if (n == 19 && (s[10] == ' ' || s[10] == 'T'))
        snprintf(buf, sizeof buf, "%.10sT%sZ", s, s + 11);
    else
        return SLIC_EINVAL;
    return slic_rfc3339_parse(buf, out);
}

/* The instant a period starts, from calendar.startTime in tz. 0 with skip set when startTime
 * is no unit boundary: slic's periods start at local midnight on the first day of a unit. */
static int read_start_time(const slic_yaml_node *node, const slic_tz *tz,
                           const struct cal_unit_info *u, int64_t *start, struct agg__os_skip *skip,
                           struct slic_errmsg *err)
{
    const char *s = NULL;
    int64_t local = 0, aligned = 0;
    int rc = slic_yaml_as_string(node, &s, err);
    if (rc)
        return rc;
    if (parse_local_time(s, &local) < 0)
        return slic_yaml_error(node, err, SLIC_ECONFIG,
                               "expected a local date and time like \"2022-01-01 00:00:00\", got "
                               "\"%s\"",
                               s);
    /* Reading the wall clock as UTC, a UTC calendar tells whether it is a unit boundary. */
    if (slic_cal_start(NULL, local, u->cal, &aligned) < 0 || aligned != local) {
        agg__openslo_skip(skip,
                          "calendar startTime \"%s\" is not the start of a %s; slic "
                          "starts calendar periods at local midnight on a unit's first day",
                          s, u->name);
        return 0;
    }
    /* Local noon of that first day lies inside the period whatever the zone's offset or DST,
     * so the unit start containing it is the period's first instant, gaps included. */
    int64_t noon = local + 43200 - slic_tz_offset(tz, local);
    if (slic_cal_start(tz, noon, u->cal, start) < 0)
        return slic_yaml_error(node, err, SLIC_ECONFIG, "\"%s\" is out of range", s);
    return 0;
}

/* Loads the zone now, so an unknown one fails the load rather than the first evaluation. */
static int load_zone(const slic_yaml_node *cal, const char *zone, slic_tz **tz,
                     struct slic_errmsg *err)
{
    struct slic_errmsg tz_err = {{0}};
    int rc = slic_tz_load(zone ? zone : "UTC", tz, &tz_err);
    if (rc == SLIC_ENOMEM)
        return rc;
    if (rc < 0)
        return slic_yaml_error(slic_yaml_get(cal, "timeZone"), err, SLIC_ECONFIG, "%s",
                               tz_err.text);
    return 0;
}

static int read_calendar(const slic_yaml_node *item, struct agg__os_window *w,
                         struct agg__os_skip *skip, struct slic_errmsg *err)
{
    static const char *const keys[] = {"startTime", "timeZone", NULL};
    const struct cal_unit_info *u = NULL;
    const slic_yaml_node *cal = NULL, *start = NULL;
    slic_tz *tz = NULL;
    int rc;
    if ((rc = read_cal_duration(slic_yaml_get(item, "duration"), &u, &w->cal_count, skip, err)) ||
        skip->why[0] || (rc = slic_yaml_get_mapping(item, "calendar", 0, &cal, err)))
        return rc;
    if (cal && ((rc = slic_yaml_check_keys(cal, keys, err)) ||
                (rc = slic_yaml_get_string(cal, "timeZone", 0, &w->time_zone, err))))
        return rc;
    if ((rc = load_zone(cal, w->time_zone, &tz, err)))
        return rc;
    start = cal ? slic_yaml_get(cal, "startTime") : NULL;
    if (start) {
        rc = read_start_time(start, tz, u, &w->cal_start, skip, err);
    } else if (w->cal_count > 1) {
        /* Which months a 2M window pairs up is the startTime's to say. */
        rc =
            slic_yaml_error(item, err, SLIC_EMISSING,
                            "a calendar window of %u units needs calendar.startTime", w->cal_count);
    } else {
        /* One unit: every unit boundary starts a period; any one will do as the anchor. */
        rc = slic_cal_start(tz, 0, u->cal, &w->cal_start);
    }
    slic_tz_destroy(tz);
    w->kind = AGG_SLO_CALENDAR;
    w->cal_unit = u->unit;
    w->period_s = w->cal_count * u->nominal_s;
    return rc;
}

int agg__openslo_window(const slic_yaml_node *spec, struct agg__os_window *w,
                        struct agg__os_skip *skip, struct slic_errmsg *err)
{
    static const char *const keys[] = {"duration", "isRolling", "calendar", NULL};
    const slic_yaml_node *seq = NULL, *item = NULL;
    const char *duration = NULL;
    int rc;
    memset(w, 0, sizeof *w);
    if ((rc = slic_yaml_get_sequence(spec, "timeWindow", SLIC_YAML_REQUIRED, &seq, err)))
        return rc;
    if (slic_yaml_len(seq) != 1)
        return slic_yaml_error(seq, err, SLIC_ECONFIG, "expected exactly one time window, got %zu",
                               slic_yaml_len(seq));
    item = slic_yaml_item(seq, 0);
    /* OpenSLO: isRolling defaults to false when a calendar is given; without one, a window
     * that does not say otherwise rolls. */
    bool rolling = slic_yaml_get(item, "calendar") == NULL;
    if ((rc = slic_yaml_check_keys(item, keys, err)) ||
        (rc = slic_yaml_get_string(item, "duration", SLIC_YAML_REQUIRED, &duration, err)) ||
        (rc = slic_yaml_get_bool(item, "isRolling", 0, &rolling, err)))
        return rc;
    if (rolling && slic_yaml_get(item, "calendar"))
        return slic_yaml_error(slic_yaml_get(item, "calendar"), err, SLIC_ECONFIG,
                               "a rolling window has no calendar; set isRolling: false");
    return rolling ? read_rolling(item, w, skip, err) : read_calendar(item, w, skip, err);
}

int agg__openslo_timeslice(const slic_yaml_node *node, double period_s, double *out,
                           struct agg__os_skip *skip, struct slic_errmsg *err)
{
    double s = 0, minutes = 0;
    const char *text = slic_yaml_text(node);
    /* OpenSLO: a bare number is minutes. */
    if (text && strspn(text, "0123456789.") == strlen(text)) {
        int rc = slic_yaml_as_double(node, 0, PERIOD_MAX_S / 60, &minutes, err);
        if (rc)
            return rc;
        s = minutes * 60;
    } else {
        int rc = slic_yaml_as_duration(node, 0, PERIOD_MAX_S, &s, err);
        if (rc)
            return rc;
    }
    if (s <= 0 || s > period_s)
        return slic_yaml_error(node, err, SLIC_ECONFIG,
                               "a time slice must be longer than 0 and no longer than the SLO's "
                               "window");
    double steps = s / SLICE_STEP_S;
    if (steps != (double)(int64_t)steps) {
        agg__openslo_skip(skip, "time slices of %s: slic builds slices from whole %d s windows",
                          text ? text : "?", SLICE_STEP_S);
        return 0;
    }
    *out = s;
    return 0;
}
