/* Time for slic: durations as operators write them ("250ms", "28d"), RFC 3339 timestamps, the
 * CLI's relative times ("now-1h"), clocks, window alignment, and calendar arithmetic in IANA
 * time zones for calendar-aligned SLO windows.
 * Unix times are int64 seconds (or milliseconds where named so) and ignore leap seconds, as
 * POSIX time does. Everything here is thread-safe: nothing sets TZ or calls tzset/localtime
 * (slic_tz_load only reads TZDIR), and a slic_tz is immutable once loaded, so threads may share
 * one. */
#ifndef SLIC_TIMEUTIL_H
#define SLIC_TIMEUTIL_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

/* The range of Unix seconds the calendar and RFC 3339 functions accept: 0000-01-01T00:00:00Z
 * to 9999-12-31T23:59:59Z, the years RFC 3339 can write. Outside it they return SLIC_ERANGE. */
#define SLIC_TIME_MIN INT64_C(-62167219200)
#define SLIC_TIME_MAX INT64_C(253402300799)

/* The longest duration: INT64_MAX nanoseconds (about 292 years), so every duration fits in
 * int64 nanoseconds. */
#define SLIC_DURATION_MAX_NS INT64_MAX

/* Buffer sizes, terminating NUL included. */
#define SLIC_DURATION_FMT_LEN 24 /* "9223372036854775807ns" */
#define SLIC_RFC3339_LEN 21      /* "2026-11-26T10:00:00Z" */

/* ---- durations ---- */

/* Parses a duration: one or more <number><unit> parts ("10s", "1.5s", "1h30m"), where the
 * number is decimal digits with an optional fraction and the unit is ns, us (or µs), ms, s, m,
 * h, d (86400 s) or w (7 d). A lone "0" is also accepted. No sign, no spaces.
 * Returns 0 and writes *out_ns; SLIC_EINVAL for an empty string, garbage, a missing unit or a
 * part finer than one nanosecond; SLIC_ERANGE above SLIC_DURATION_MAX_NS. */
int slic_duration_parse_ns(const char *s, int64_t *out_ns);

/* As slic_duration_parse_ns, in seconds ("300us" -> 0.0003). Exact whenever the duration is
 * whole seconds or under one second; otherwise within one ulp. */
int slic_duration_parse(const char *s, double *out_seconds);

/* As slic_duration_parse_ns, for settings that must be whole seconds ("1500ms" is rejected with
 * SLIC_EINVAL, "2000ms" gives 2). */
int slic_duration_parse_s(const char *s, int64_t *out_seconds);

/* Writes the shortest exact form in one unit: the largest of w, d, h, m, s, ms, us, ns that
 * divides the duration ("5m", "90m", "300ms", "1500ms", "0s"). Durations are first rounded to
 * the nearest nanosecond. Returns 0; SLIC_EINVAL for a negative or non-finite value or a
 * buffer under SLIC_DURATION_FMT_LEN; SLIC_ERANGE above SLIC_DURATION_MAX_NS. */
int slic_duration_format(double seconds, char *buf, size_t size);
int slic_duration_format_ns(int64_t ns, char *buf, size_t size);

/* ---- timestamps ---- */

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ". Returns 0; SLIC_ERANGE outside SLIC_TIME_MIN..MAX;
 * SLIC_EINVAL if size < SLIC_RFC3339_LEN. */
int slic_rfc3339_format(int64_t t, char *buf, size_t size);

/* Parses an RFC 3339 date-time: "2026-11-26T10:00:00Z", "2026-11-26T11:00:00.250+01:00".
 * 't', 'z' and a space separator are accepted as RFC 3339 allows; a leap second (:60) counts
 * as the next second. Fractional seconds are dropped (the result is the whole second the
 * instant falls in). Returns 0; SLIC_EINVAL for anything else, including impossible dates
 * (2025-02-29); SLIC_ERANGE if the result is outside SLIC_TIME_MIN..MAX. */
int slic_rfc3339_parse(const char *s, int64_t *out);

/* Parses a time as the CLI's --from/--to take it: RFC 3339; Unix seconds ("1764151200", no sign);
 * "now"; "now-1h" / "now+15m"; or "-30m" / "+30m" (relative to now). Relative offsets are
 * durations as above, with sub-second parts rounded towards the past.
 * Returns 0; SLIC_EINVAL for anything else; SLIC_ERANGE if the result is outside
 * SLIC_TIME_MIN..MAX. */
int slic_time_parse(const char *s, int64_t now, int64_t *out);

/* ---- clocks and windows ---- */

/* Wall-clock time in Unix milliseconds (CLOCK_REALTIME). */
int64_t slic_now_unix_ms(void);

/* Monotonic nanoseconds since an arbitrary start (CLOCK_MONOTONIC): for measuring intervals. */
uint64_t slic_now_mono_ns(void);

/* Floors t to a multiple of len (both in the same unit): the start of the aligned window that
 * contains t, also for negative t (-1 with len 10 gives -10). len must be > 0 and the result
 * representable (t >= INT64_MIN + len); both are asserted. */
int64_t slic_window_align(int64_t t, int64_t len);

/* ---- time zones and calendars ---- */

/* An IANA time zone read from the system's tz database (TZif files), immutable after load. */
typedef struct slic_tz slic_tz;

/* Loads the zone `name` ("Europe/Zurich") from $TZDIR, or /usr/share/zoneinfo when TZDIR is
 * unset. "UTC" needs no file. Names must be relative paths of [A-Za-z0-9_+-] parts with no
 * "." or ".." part. Zones with leap seconds ("right/...") are rejected: slic counts POSIX time.
 * Returns 0 and *out (free with slic_tz_destroy); SLIC_EINVAL for a bad name; SLIC_ENOTFOUND
 * for an unknown zone; SLIC_EDECODE for a malformed file; SLIC_ENOMEM; -errno for I/O errors.
 * err (may be NULL) gets a message naming the zone. */
int slic_tz_load(const char *name, slic_tz **out, struct slic_errmsg *err);

/* Frees a zone; NULL allowed. */
void slic_tz_destroy(slic_tz *tz);

/* The name the zone was loaded with. */
const char *slic_tz_name(const slic_tz *tz);

/* The zone's offset from UTC at Unix time t, in seconds east of Greenwich (Zurich in summer:
 * 7200). tz NULL means UTC. Times a few days beyond SLIC_TIME_MIN..MAX get the offset at that
 * edge. */
int32_t slic_tz_offset(const slic_tz *tz, int64_t t);

/* Calendar units for slic_cal_start and slic_cal_add. Weeks are ISO weeks, starting Monday. */
enum slic_cal_unit {
    SLIC_CAL_DAY,
    SLIC_CAL_WEEK,
    SLIC_CAL_MONTH,
    SLIC_CAL_QUARTER,
    SLIC_CAL_YEAR,
};

/* The start (local midnight) of the day, week, month, quarter or year containing t in tz (NULL
 * means UTC). When local midnight does not exist (a DST gap at midnight, as in Santiago), the
 * start is the first instant of that local day. Returns 0; SLIC_ERANGE if t or the result lies
 * outside SLIC_TIME_MIN..MAX. */
int slic_cal_start(const slic_tz *tz, int64_t t, enum slic_cal_unit unit, int64_t *out);

/* Adds n (may be negative) days, weeks, months, quarters or years to t in tz's local calendar,
 * keeping the local time of day: adding a month to Jan 31 gives the last day of February, and
 * adding a day across a DST change gives 23 or 25 hours. A local time that falls in a DST gap
 * moves to the first instant after the gap; one that occurs twice resolves to the earlier.
 * Returns 0; SLIC_ERANGE if t or the result lies outside SLIC_TIME_MIN..MAX. */
int slic_cal_add(const slic_tz *tz, int64_t t, enum slic_cal_unit unit, int64_t n, int64_t *out);

#endif
