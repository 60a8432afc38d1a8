/* Durations, RFC 3339, clocks and the civil-date helpers (see timeutil.h); time zones and
 * calendar arithmetic are in tz.c. Civil dates use Howard Hinnant's days-from-civil algorithms
 * (proleptic Gregorian, exact for negative times), so no libc time-zone state (TZ, tzset,
 * localtime) is ever touched and all of it is thread-safe. */
#include "timeutil_int.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NS_PER_S INT64_C(1000000000)

/* ---- integer and civil-date helpers ---- */

int64_t slic__floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t slic__floor_mod(int64_t a, int64_t b)
{
    return a - slic__floor_div(a, b) * b;
}

bool slic__is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned slic__days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && slic__is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d. */
int64_t slic__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

struct slic__civil slic__civil_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    struct slic__civil c;
    c.d = doy - (153 * mp + 2) / 5 + 1;
    c.m = mp < 10 ? mp + 3 : mp - 9;
    c.y = (int64_t)yoe + era * 400 + (c.m <= 2);
    return c;
}

bool slic__time_in_range(int64_t t)
{
    return t >= SLIC_TIME_MIN && t <= SLIC_TIME_MAX;
}

bool slic__is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- durations ---- */

struct dur_unit {
    const char *name;
    int64_t ns;
};

/* Largest first: slic_duration_format_ns picks the first unit that divides the value. The two
 * spellings of "µs" (micro sign U+00B5 and Greek mu U+03BC) are accepted, never written. */
static const struct dur_unit dur_units[] = {
    {"w", 604800 * NS_PER_S}, {"d", 86400 * NS_PER_S}, {"h", 3600 * NS_PER_S}, {"m", 60 * NS_PER_S},
    {"s", NS_PER_S},          {"ms", 1000000},         {"us", 1000},           {"ns", 1},
    {"\xc2\xb5s", 1000},      {"\xce\xbcs", 1000},
};
#define N_DUR_FORMAT_UNITS 8

static const struct dur_unit *dur_unit_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof dur_units / sizeof dur_units[0]; i++) {
        if (strlen(dur_units[i].name) == len && memcmp(dur_units[i].name, name, len) == 0)
            return &dur_units[i];
    }
    return NULL;
}

/* Parses one <digits>[.<digits>]<unit> part at *pp into exact nanoseconds and advances *pp.
 * Fraction digits are applied one decimal place at a time, so "1.5s" and "0.25ms" stay exact
 * and a part finer than 1 ns is refused rather than rounded. */
static int dur_part_parse(const char **pp, int64_t *out_ns)
{
    const char *p = *pp, *int_start = p;
    while (slic__is_digit(*p))
        p++;
    const char *int_end = p, *frac_start = p, *frac_end = p;
    if (*p == '.') {
        frac_start = ++p;
        while (slic__is_digit(*p))
            p++;
        frac_end = p;
        if (frac_end == frac_start)
            return SLIC_EINVAL;
    }
    if (int_end == int_start)
        return SLIC_EINVAL;
    const char *unit_start = p;
    while (*p && !slic__is_digit(*p) && *p != '.')
        p++;
    const struct dur_unit *u = dur_unit_find(unit_start, (size_t)(p - unit_start));
    if (!u)
        return SLIC_EINVAL;

    int64_t whole = 0;
    for (const char *q = int_start; q < int_end; q++) {
        int digit = *q - '0';
        if (whole > (INT64_MAX - digit) / 10)
            return SLIC_ERANGE;
        whole = whole * 10 + digit;
    }
    if (whole > INT64_MAX / u->ns)
        return SLIC_ERANGE;
    int64_t ns = whole * u->ns, scale = u->ns, frac = 0;
    for (const char *q = frac_start; q < frac_end; q++) {
        int digit = *q - '0';
        if (scale % 10 == 0) {
            scale /= 10;
            frac += digit * scale;
        } else if (digit != 0) {
            return SLIC_EINVAL;
        }
    }
    if (ns > INT64_MAX - frac)
        return SLIC_ERANGE;
    *out_ns = ns + frac;
    *pp = p;
    return 0;
}

int slic_duration_parse_ns(const char *s, int64_t *out_ns)
{
    if (!s || !*s)
        return SLIC_EINVAL;
    if (strcmp(s, "0") == 0) {
        *out_ns = 0;
        return 0;
    }
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        int64_t part = 0;
        int rc = dur_part_parse(&p, &part);
        if (rc < 0)
            return rc;
        if (total > INT64_MAX - part)
            return SLIC_ERANGE;
        total += part;
    }
    *out_ns = total;
    return 0;
}

int slic_duration_parse(const char *s, double *out_seconds)
{
    int64_t ns = 0;
    int rc = slic_duration_parse_ns(s, &ns);
    if (rc < 0)
        return rc;
    /* Splitting off whole seconds keeps both common cases exact: whole seconds convert exactly,
     * and a sub-second part is one correctly rounded division. */
    *out_seconds = (double)(ns / NS_PER_S) + (double)(ns % NS_PER_S) / 1e9;
    return 0;
}

int slic_duration_parse_s(const char *s, int64_t *out_seconds)
{
    int64_t ns = 0;
    int rc = slic_duration_parse_ns(s, &ns);
    if (rc < 0)
        return rc;
    if (ns % NS_PER_S != 0)
        return SLIC_EINVAL;
    *out_seconds = ns / NS_PER_S;
    return 0;
}

int slic_duration_format_ns(int64_t ns, char *buf, size_t size)
{
    if (ns < 0 || size < SLIC_DURATION_FMT_LEN)
        return SLIC_EINVAL;
    if (ns == 0) {
        snprintf(buf, size, "0s");
        return 0;
    }
    for (size_t i = 0; i < N_DUR_FORMAT_UNITS; i++) {
        if (ns % dur_units[i].ns == 0) {
            snprintf(buf, size, "%lld%s", (long long)(ns / dur_units[i].ns), dur_units[i].name);
            return 0;
        }
    }
    assert(!"the nanosecond unit divides every value");
    return SLIC_EINVAL;
}

int slic_duration_format(double seconds, char *buf, size_t size)
{
    if (!(seconds >= 0) || isinf(seconds))
        return SLIC_EINVAL;
    double ns = round(seconds * 1e9);
    /* 2^63 is the first double past INT64_MAX. */
    if (!(ns < 9223372036854775808.0))
        return SLIC_ERANGE;
    return slic_duration_format_ns((int64_t)ns, buf, size);
}

/* ---- RFC 3339 ---- */

int slic_rfc3339_format(int64_t t, char *buf, size_t size)
{
    if (size < SLIC_RFC3339_LEN)
        return SLIC_EINVAL;
    if (!slic__time_in_range(t))
        return SLIC_ERANGE;
    int64_t days = slic__floor_div(t, SLIC__SECS_PER_DAY);
    int64_t sod = t - days * SLIC__SECS_PER_DAY;
    struct slic__civil c = slic__civil_from_days(days);
    snprintf(buf, size, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)c.y, c.m, c.d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    return 0;
}

/* Reads exactly n digits at *pp as a number and advances; false if any is not a digit. */
bool slic__read_digits(const char **pp, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!slic__is_digit((*pp)[i]))
            return false;
        v = v * 10 + ((*pp)[i] - '0');
    }
    *pp += n;
    *out = v;
    return true;
}

bool slic__expect_char(const char **pp, char c)
{
    if (**pp != c)
        return false;
    (*pp)++;
    return true;
}

/* The numeric offset at the end of an RFC 3339 time, in seconds east: Z, +hh:mm or -hh:mm. */
static bool read_offset(const char **pp, int64_t *out)
{
    const char *p = *pp;
    if (*p == 'Z' || *p == 'z') {
        *out = 0;
        *pp = p + 1;
        return true;
    }
    if (*p != '+' && *p != '-')
        return false;
    int sign = *p++ == '-' ? -1 : 1, hh = 0, mm = 0;
    if (!slic__read_digits(&p, 2, &hh) || !slic__expect_char(&p, ':') ||
        !slic__read_digits(&p, 2, &mm) || hh > 23 || mm > 59)
        return false;
    *out = sign * (hh * 3600 + mm * 60);
    *pp = p;
    return true;
}

int slic_rfc3339_parse(const char *s, int64_t *out)
{
    const char *p = s;
    int y = 0, mo = 0, d = 0, hh = 0, mi = 0, ss = 0;
    if (!s || !slic__read_digits(&p, 4, &y) || !slic__expect_char(&p, '-') ||
        !slic__read_digits(&p, 2, &mo) || !slic__expect_char(&p, '-') ||
        !slic__read_digits(&p, 2, &d))
        return SLIC_EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return SLIC_EINVAL;
    p++;
    if (!slic__read_digits(&p, 2, &hh) || !slic__expect_char(&p, ':') ||
        !slic__read_digits(&p, 2, &mi) || !slic__expect_char(&p, ':') ||
        !slic__read_digits(&p, 2, &ss))
        return SLIC_EINVAL;
    if (*p == '.') {
        const char *frac = ++p;
        while (slic__is_digit(*p))
            p++;
        if (p == frac)
            return SLIC_EINVAL;
    }
    int64_t offset = 0;
    if (!read_offset(&p, &offset) || *p != '\0')
        return SLIC_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > slic__days_in_month(y, (unsigned)mo) ||
        hh > 23 || mi > 59 || ss > 60)
        return SLIC_EINVAL;
    int64_t minute = slic__days_from_civil(y, (unsigned)mo, (unsigned)d) * SLIC__SECS_PER_DAY +
                     hh * 3600 + mi * 60 - offset;
    /* A leap second exists only as 23:59:60 UTC; POSIX time folds it into the next second. */
    if (ss == 60 && slic__floor_mod(minute, SLIC__SECS_PER_DAY) != SLIC__SECS_PER_DAY - 60)
        return SLIC_EINVAL;
    int64_t t = minute + ss;
    if (!slic__time_in_range(t))
        return SLIC_ERANGE;
    *out = t;
    return 0;
}

/* now +/- a duration; subtracting rounds up the seconds so the result never lies after the
 * exact instant, adding rounds down for the same reason. */
static int time_relative(const char *dur, int sign, int64_t now, int64_t *out)
{
    if (!slic__time_in_range(now))
        return SLIC_ERANGE;
    int64_t ns = 0;
    int rc = slic_duration_parse_ns(dur, &ns);
    if (rc < 0)
        return rc;
    int64_t secs = sign < 0 ? -(ns / NS_PER_S + (ns % NS_PER_S != 0)) : ns / NS_PER_S;
    int64_t t = now + secs; /* |secs| < 2^34 and now is in range: no overflow. */
    if (!slic__time_in_range(t))
        return SLIC_ERANGE;
    *out = t;
    return 0;
}

static int time_unix_parse(const char *s, int64_t *out)
{
    int64_t t = 0;
    for (const char *p = s; *p; p++) {
        if (!slic__is_digit(*p))
            return SLIC_EINVAL;
        if (t > SLIC_TIME_MAX)
            return SLIC_ERANGE;
        t = t * 10 + (*p - '0');
    }
    if (t > SLIC_TIME_MAX)
        return SLIC_ERANGE;
    *out = t;
    return 0;
}

int slic_time_parse(const char *s, int64_t now, int64_t *out)
{
    if (!s || !*s)
        return SLIC_EINVAL;
    if (strcmp(s, "now") == 0) {
        if (!slic__time_in_range(now))
            return SLIC_ERANGE;
        *out = now;
        return 0;
    }
    const char *rel = strncmp(s, "now", 3) == 0 ? s + 3 : s;
    if (*rel == '+' || *rel == '-')
        return time_relative(rel + 1, *rel == '-' ? -1 : 1, now, out);
    if (rel != s)
        return SLIC_EINVAL;
    if (strlen(s) >= 10 && s[4] == '-')
        return slic_rfc3339_parse(s, out);
    return time_unix_parse(s, out);
}

/* ---- clocks and windows ---- */

int64_t slic_now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t slic_now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * (uint64_t)NS_PER_S + (uint64_t)ts.tv_nsec;
}

int64_t slic_window_align(int64_t t, int64_t len)
{
    assert(len > 0);
    assert(t >= INT64_MIN + len);
    int64_t r = t % len;
    /* C division truncates towards zero; a window start must be at or before t. */
    if (r < 0)
        r += len;
    return t - r;
}
