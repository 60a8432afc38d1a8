/* Durations, RFC 3339, clocks and calendar arithmetic (see timeutil.h).
 * Civil dates use Howard Hinnant's days-from-civil algorithms (proleptic Gregorian, exact for
 * negative times), so no libc time-zone state (TZ, tzset, localtime) is ever touched and all
 * of it is thread-safe. Time zones come from TZif files (RFC 8536), read once into a slic_tz. */
#include "timeutil.h"

#include "alloc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S INT64_C(1000000000)
#define SECS_PER_DAY INT64_C(86400)

/* ---- integer and civil-date helpers ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

struct civil {
    int64_t y;
    unsigned m, d;
};

static struct civil civil_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    struct civil c;
    c.d = doy - (153 * mp + 2) / 5 + 1;
    c.m = mp < 10 ? mp + 3 : mp - 9;
    c.y = (int64_t)yoe + era * 400 + (c.m <= 2);
    return c;
}

static bool time_in_range(int64_t t)
{
    return t >= SLIC_TIME_MIN && t <= SLIC_TIME_MAX;
}

static bool is_digit(char c)
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
    while (is_digit(*p))
        p++;
    const char *int_end = p, *frac_start = p, *frac_end = p;
    if (*p == '.') {
        frac_start = ++p;
        while (is_digit(*p))
            p++;
        frac_end = p;
        if (frac_end == frac_start)
            return SLIC_EINVAL;
    }
    if (int_end == int_start)
        return SLIC_EINVAL;
    const char *unit_start = p;
    while (*p && !is_digit(*p) && *p != '.')
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
    if (!time_in_range(t))
        return SLIC_ERANGE;
    int64_t days = floor_div(t, SECS_PER_DAY);
    int64_t sod = t - days * SECS_PER_DAY;
    struct civil c = civil_from_days(days);
    snprintf(buf, size, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)c.y, c.m, c.d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    return 0;
}

/* Reads exactly n digits at *pp as a number and advances; false if any is not a digit. */
static bool read_digits(const char **pp, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((*pp)[i]))
            return false;
        v = v * 10 + ((*pp)[i] - '0');
    }
    *pp += n;
    *out = v;
    return true;
}

static bool expect_char(const char **pp, char c)
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
    if (!read_digits(&p, 2, &hh) || !expect_char(&p, ':') || !read_digits(&p, 2, &mm) || hh > 23 ||
        mm > 59)
        return false;
    *out = sign * (hh * 3600 + mm * 60);
    *pp = p;
    return true;
}

int slic_rfc3339_parse(const char *s, int64_t *out)
{
    const char *p = s;
    int y = 0, mo = 0, d = 0, hh = 0, mi = 0, ss = 0;
    if (!s || !read_digits(&p, 4, &y) || !expect_char(&p, '-') || !read_digits(&p, 2, &mo) ||
        !expect_char(&p, '-') || !read_digits(&p, 2, &d))
        return SLIC_EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return SLIC_EINVAL;
    p++;
    if (!read_digits(&p, 2, &hh) || !expect_char(&p, ':') || !read_digits(&p, 2, &mi) ||
        !expect_char(&p, ':') || !read_digits(&p, 2, &ss))
        return SLIC_EINVAL;
    if (*p == '.') {
        const char *frac = ++p;
        while (is_digit(*p))
            p++;
        if (p == frac)
            return SLIC_EINVAL;
    }
    int64_t offset = 0;
    if (!read_offset(&p, &offset) || *p != '\0')
        return SLIC_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo) || hh > 23 ||
        mi > 59 || ss > 60)
        return SLIC_EINVAL;
    int64_t minute =
        days_from_civil(y, (unsigned)mo, (unsigned)d) * SECS_PER_DAY + hh * 3600 + mi * 60 - offset;
    /* A leap second exists only as 23:59:60 UTC; POSIX time folds it into the next second. */
    if (ss == 60 && floor_mod(minute, SECS_PER_DAY) != SECS_PER_DAY - 60)
        return SLIC_EINVAL;
    int64_t t = minute + ss;
    if (!time_in_range(t))
        return SLIC_ERANGE;
    *out = t;
    return 0;
}

/* now +/- a duration; subtracting rounds up the seconds so the result never lies after the
 * exact instant, adding rounds down for the same reason. */
static int time_relative(const char *dur, int sign, int64_t now, int64_t *out)
{
    if (!time_in_range(now))
        return SLIC_ERANGE;
    int64_t ns = 0;
    int rc = slic_duration_parse_ns(dur, &ns);
    if (rc < 0)
        return rc;
    int64_t secs = sign < 0 ? -(ns / NS_PER_S + (ns % NS_PER_S != 0)) : ns / NS_PER_S;
    int64_t t = now + secs; /* |secs| < 2^34 and now is in range: no overflow. */
    if (!time_in_range(t))
        return SLIC_ERANGE;
    *out = t;
    return 0;
}

static int time_unix_parse(const char *s, int64_t *out)
{
    int64_t t = 0;
    for (const char *p = s; *p; p++) {
        if (!is_digit(*p))
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
        if (!time_in_range(now))
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

/* ---- time zones: TZif files ---- */

/* A date in a POSIX TZ rule: Jn (1-365, Feb 29 never counted), n (0-365), or Mm.w.d (day d of
 * week w of month m, week 5 meaning the last). */
struct tz_date {
    char kind; /* 'J', 'D' or 'M' */
    int n, m, w, d;
    int32_t time; /* seconds after local midnight; may be negative or past 24 h */
};

/* The POSIX TZ string from a TZif footer, which governs times after the last transition. */
struct tz_rule {
    int32_t std_off, dst_off; /* seconds east of UTC */
    bool has_dst;
    struct tz_date start, end;
};

struct slic_tz {
    char name[128];
    size_t ntrans, ntypes;
    int64_t *trans;      /* transition times, strictly increasing */
    uint8_t *trans_type; /* the type each transition switches to */
    int32_t *type_off;   /* offset of each local time type */
    bool has_rule;
    struct tz_rule rule;
};

/* Offsets RFC 8536 allows: -25 h < off < 26 h. */
#define TZ_OFF_MIN (-89999)
#define TZ_OFF_MAX 93599
#define TZ_FILE_MAX (256 * 1024)
#define TZ_MAX_TRANS 50000
/* Offsets are evaluated for times clamped to just beyond the RFC 3339 range: no zone data
 * means anything further out, and clamping keeps every sum below far from int64 overflow. */
#define TZ_T_MIN (SLIC_TIME_MIN - 4 * SECS_PER_DAY)
#define TZ_T_MAX (SLIC_TIME_MAX + 4 * SECS_PER_DAY)

struct tz_reader {
    const unsigned char *p;
    size_t left;
};

static bool rd_skip(struct tz_reader *r, size_t n)
{
    if (r->left < n)
        return false;
    r->p += n;
    r->left -= n;
    return true;
}

static bool rd_be(struct tz_reader *r, size_t n, uint64_t *out)
{
    if (r->left < n)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | r->p[i];
    rd_skip(r, n);
    *out = v;
    return true;
}

struct tzif_header {
    char version;
    uint64_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static bool tzif_header_read(struct tz_reader *r, struct tzif_header *h)
{
    if (r->left < 44 || memcmp(r->p, "TZif", 4) != 0)
        return false;
    h->version = (char)r->p[4];
    rd_skip(r, 20);
    return rd_be(r, 4, &h->isutcnt) && rd_be(r, 4, &h->isstdcnt) && rd_be(r, 4, &h->leapcnt) &&
           rd_be(r, 4, &h->timecnt) && rd_be(r, 4, &h->typecnt) && rd_be(r, 4, &h->charcnt);
}

/* Bytes of a data block with `tsize`-byte times (4 in version 1, 8 after). Counts are capped
 * by the caller, so this cannot overflow. */
static size_t tzif_block_size(const struct tzif_header *h, size_t tsize)
{
    return h->timecnt * tsize + h->timecnt + h->typecnt * 6 + h->charcnt +
           h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* A POSIX TZ designation: three or more letters, or <...> of letters, digits, '+' and '-'. */
static bool posix_name_skip(const char **pp)
{
    const char *p = *pp;
    size_t n = 0;
    if (*p == '<') {
        p++;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '+' ||
               *p == '-')
            p++, n++;
        if (*p != '>')
            return false;
        p++;
    } else {
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
            p++, n++;
    }
    *pp = p;
    return n >= 3;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h, as seconds. */
static bool posix_hms_read(const char **pp, int max_h, int32_t *out)
{
    const char *p = *pp;
    int sign = 1, h = 0, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!is_digit(*p))
        return false;
    while (is_digit(*p) && h <= max_h)
        h = h * 10 + (*p++ - '0');
    if (h > max_h)
        return false;
    if (*p == ':') {
        p++;
        if (!read_digits(&p, 2, &m) || m > 59)
            return false;
        if (*p == ':') {
            p++;
            if (!read_digits(&p, 2, &s) || s > 59)
                return false;
        }
    }
    *pp = p;
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

static bool posix_int_read(const char **pp, int lo, int hi, int *out)
{
    const char *p = *pp;
    int v = 0;
    if (!is_digit(*p))
        return false;
    while (is_digit(*p) && v <= hi)
        v = v * 10 + (*p++ - '0');
    if (v < lo || v > hi)
        return false;
    *pp = p;
    *out = v;
    return true;
}

static bool posix_date_read(const char **pp, struct tz_date *dt)
{
    const char *p = *pp;
    bool ok;
    memset(dt, 0, sizeof *dt);
    if (*p == 'J') {
        p++;
        dt->kind = 'J';
        ok = posix_int_read(&p, 1, 365, &dt->n);
    } else if (*p == 'M') {
        p++;
        dt->kind = 'M';
        ok = posix_int_read(&p, 1, 12, &dt->m) && expect_char(&p, '.') &&
             posix_int_read(&p, 1, 5, &dt->w) && expect_char(&p, '.') &&
             posix_int_read(&p, 0, 6, &dt->d);
    } else {
        dt->kind = 'D';
        ok = posix_int_read(&p, 0, 365, &dt->n);
    }
    if (!ok)
        return false;
    dt->time = 2 * 3600;
    /* Version 3 TZif extends rule times to -167..167 hours. */
    if (*p == '/' && (p++, !posix_hms_read(&p, 167, &dt->time)))
        return false;
    *pp = p;
    return true;
}

/* Parses "std offset [dst [offset] ,start[/time],end[/time]]", e.g. "CET-1CEST,M3.5.0,M10.5.0/3".
 * POSIX offsets count west, hence the negations. */
static bool posix_tz_parse(const char *s, struct tz_rule *r)
{
    const char *p = s;
    int32_t west = 0;
    memset(r, 0, sizeof *r);
    if (!posix_name_skip(&p) || !posix_hms_read(&p, 24, &west))
        return false;
    r->std_off = -west;
    if (*p == '\0')
        return true;
    if (!posix_name_skip(&p))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p != ',') {
        if (!posix_hms_read(&p, 24, &west))
            return false;
        r->dst_off = -west;
    }
    /* A DST zone without rules leaves the switch dates to the implementation: refuse it. */
    return expect_char(&p, ',') && posix_date_read(&p, &r->start) && expect_char(&p, ',') &&
           posix_date_read(&p, &r->end) && *p == '\0';
}

/* Unix time of a rule date in `year`, given the offset in force just before it. */
static int64_t rule_date_time(const struct tz_date *dt, int64_t year, int32_t off_before)
{
    int64_t day;
    if (dt->kind == 'J') {
        day = days_from_civil(year, 1, 1) + dt->n - 1 + (is_leap(year) && dt->n >= 60);
    } else if (dt->kind == 'D') {
        day = days_from_civil(year, 1, 1) + dt->n;
    } else {
        int64_t first = days_from_civil(year, (unsigned)dt->m, 1);
        int64_t wday_first = floor_mod(first + 4, 7); /* 1970-01-01 was a Thursday (4) */
        day = first + floor_mod(dt->d - wday_first, 7) + 7 * (dt->w - 1);
        while (day >= first + days_in_month(year, (unsigned)dt->m))
            day -= 7;
    }
    return day * SECS_PER_DAY + dt->time - off_before;
}

static int32_t rule_offset(const struct tz_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t year = civil_from_days(floor_div(t + r->std_off, SECS_PER_DAY)).y;
    int64_t start = rule_date_time(&r->start, year, r->std_off);
    int64_t end = rule_date_time(&r->end, year, r->dst_off);
    /* In the southern hemisphere DST spans the new year, so the end precedes the start. */
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? r->dst_off : r->std_off;
}

int32_t slic_tz_offset(const slic_tz *tz, int64_t t)
{
    if (!tz)
        return 0;
    t = t < TZ_T_MIN ? TZ_T_MIN : t > TZ_T_MAX ? TZ_T_MAX : t;
    /* RFC 8536: type 0 rules before the first transition; the footer after the last one, or
     * everywhere when there are no transitions. */
    if (tz->ntrans == 0)
        return tz->has_rule ? rule_offset(&tz->rule, t) : tz->type_off[0];
    if (t < tz->trans[0])
        return tz->type_off[0];
    if (t >= tz->trans[tz->ntrans - 1]) {
        return tz->has_rule ? rule_offset(&tz->rule, t)
                            : tz->type_off[tz->trans_type[tz->ntrans - 1]];
    }
    size_t lo = 0, hi = tz->ntrans - 1; /* trans[lo] <= t < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->type_off[tz->trans_type[lo]];
}

const char *slic_tz_name(const slic_tz *tz)
{
    return tz ? tz->name : "UTC";
}

static slic_tz *tz_alloc(const char *name, size_t ntrans, size_t ntypes)
{
    /* One block: the struct, then int64 times, int32 offsets, uint8 type indices, in falling
     * alignment order so each array is aligned. */
    size_t size = sizeof(slic_tz) + ntrans * sizeof(int64_t) + ntypes * sizeof(int32_t) + ntrans;
    slic_tz *tz = slic_calloc(1, size);
    if (!tz)
        return NULL;
    snprintf(tz->name, sizeof tz->name, "%s", name);
    tz->ntrans = ntrans;
    tz->ntypes = ntypes;
    tz->trans = (int64_t *)(tz + 1);
    tz->type_off = (int32_t *)(tz->trans + ntrans);
    tz->trans_type = (uint8_t *)(tz->type_off + ntypes);
    return tz;
}

/* Decodes a TZif file. Returns SLIC_EDECODE with a reason in err for anything malformed. */
static int tzif_decode(const char *name, const unsigned char *buf, size_t len, slic_tz **out,
                       struct slic_errmsg *err)
{
    struct tz_reader r = {buf, len};
    struct tzif_header h;
    size_t tsize = 4;
    if (!tzif_header_read(&r, &h))
        goto malformed;
    if (h.version >= '2') {
        /* Skip the 32-bit block; the 64-bit one after it covers all times. */
        if (h.timecnt > TZ_MAX_TRANS || h.typecnt > 256 || h.charcnt > 65536 || h.leapcnt > 65536 ||
            h.isstdcnt > 256 || h.isutcnt > 256 || !rd_skip(&r, tzif_block_size(&h, 4)) ||
            !tzif_header_read(&r, &h))
            goto malformed;
        tsize = 8;
    }
    if (h.leapcnt != 0)
        return slic_errmsg_set(err, SLIC_EDECODE,
                               "time zone '%s': has leap seconds; use the zone without them", name);
    if (h.timecnt > TZ_MAX_TRANS || h.typecnt < 1 || h.typecnt > 256 || h.charcnt < 1 ||
        h.charcnt > 65536 || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt) ||
        (h.isutcnt != 0 && h.isutcnt != h.typecnt) || r.left < tzif_block_size(&h, tsize))
        goto malformed;

    slic_tz *tz = tz_alloc(name, h.timecnt, h.typecnt);
    if (!tz)
        return slic_errmsg_set(err, SLIC_ENOMEM, "time zone '%s': out of memory", name);
    for (size_t i = 0; i < h.timecnt; i++) {
        uint64_t v = 0;
        rd_be(&r, tsize, &v);
        tz->trans[i] = tsize == 4 ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            goto malformed_tz;
    }
    for (size_t i = 0; i < h.timecnt; i++) {
        tz->trans_type[i] = r.p[i];
        if (r.p[i] >= h.typecnt)
            goto malformed_tz;
    }
    rd_skip(&r, h.timecnt);
    for (size_t i = 0; i < h.typecnt; i++) {
        uint64_t off = 0;
        rd_be(&r, 4, &off);
        tz->type_off[i] = (int32_t)(uint32_t)off;
        if (tz->type_off[i] < TZ_OFF_MIN || tz->type_off[i] > TZ_OFF_MAX || r.p[0] > 1 ||
            r.p[1] >= h.charcnt)
            goto malformed_tz;
        rd_skip(&r, 2);
    }
    rd_skip(&r, h.charcnt + h.isstdcnt + h.isutcnt);
    if (tsize == 8) {
        /* The footer: "\n" POSIX-TZ-string "\n"; an empty string means no rule. */
        const char *f = (const char *)r.p;
        const char *nl = r.left > 1 ? memchr(f + 1, '\n', r.left - 1) : NULL;
        char footer[128];
        size_t flen = nl ? (size_t)(nl - f - 1) : 0;
        if (!nl || f[0] != '\n' || flen >= sizeof footer)
            goto malformed_tz;
        memcpy(footer, f + 1, flen);
        footer[flen] = '\0';
        if (flen > 0) {
            if (!posix_tz_parse(footer, &tz->rule) || tz->rule.std_off < TZ_OFF_MIN ||
                tz->rule.std_off > TZ_OFF_MAX || tz->rule.dst_off < TZ_OFF_MIN ||
                tz->rule.dst_off > TZ_OFF_MAX)
                goto malformed_tz;
            tz->has_rule = true;
        }
    }
    *out = tz;
    return 0;

malformed_tz:
    slic_tz_destroy(tz);
malformed:
    return slic_errmsg_set(err, SLIC_EDECODE, "time zone '%s': malformed TZif file", name);
}

/* Zone names are relative paths made of [A-Za-z0-9_+-] parts, so they cannot climb out of
 * the tz database directory. */
static bool tz_name_valid(const char *name)
{
    size_t len = strlen(name), part = 0;
    if (len == 0 || len >= sizeof(((slic_tz *)0)->name))
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (c == '/') {
            if (part == 0)
                return false;
            part = 0;
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' ||
                   c == '+' || c == '-') {
            part++;
        } else {
            return false;
        }
    }
    return part > 0;
}

/* Reads a whole file of at most `cap` bytes into a slic_malloc'd buffer. */
static int tz_file_read(const char *path, size_t cap, unsigned char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    unsigned char *buf = slic_malloc(cap + 1);
    size_t len = 0;
    if (!buf) {
        rc = SLIC_ENOMEM;
        goto close_fd;
    }
    while (len <= cap) {
        ssize_t n = read(fd, buf + len, cap + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto free_buf;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > cap) {
        rc = SLIC_ETOOBIG;
        goto free_buf;
    }
    *out = buf;
    *out_len = len;
    goto close_fd;
free_buf:
    slic_free(buf);
close_fd:
    close(fd);
    return rc;
}

int slic_tz_load(const char *name, slic_tz **out, struct slic_errmsg *err)
{
    if (!name || !tz_name_valid(name))
        return slic_errmsg_set(err, SLIC_EINVAL, "time zone '%s': not a valid zone name",
                               name ? name : "(null)");
    if (strcmp(name, "UTC") == 0) {
        slic_tz *tz = tz_alloc(name, 0, 1);
        if (!tz)
            return slic_errmsg_set(err, SLIC_ENOMEM, "time zone '%s': out of memory", name);
        *out = tz;
        return 0;
    }
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return slic_errmsg_set(err, SLIC_EINVAL, "time zone '%s': path too long", name);
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = tz_file_read(path, TZ_FILE_MAX, &buf, &len);
    if (rc == -ENOENT || rc == -ENOTDIR || rc == -EISDIR)
        return slic_errmsg_set(err, SLIC_ENOTFOUND, "time zone '%s': not found in %s", name, dir);
    if (rc == SLIC_ETOOBIG)
        return slic_errmsg_set(err, SLIC_EDECODE, "time zone '%s': %s is too large", name, path);
    if (rc < 0)
        return slic_errmsg_set(err, rc, "time zone '%s': %s: %s", name, path, slic_strerror(rc));
    rc = tzif_decode(name, buf, len, out, err);
    slic_free(buf);
    return rc;
}

void slic_tz_destroy(slic_tz *tz)
{
    slic_free(tz);
}

/* ---- calendar arithmetic ---- */

static int64_t local_of(const slic_tz *tz, int64_t t)
{
    return t + slic_tz_offset(tz, t);
}

/* The Unix time at which the local clock in tz reads `local` (seconds since 1970-01-01 00:00
 * local). Offsets a day either side catch both sides of any transition; when two instants
 * match (a fold) the earlier wins, and when none does (a gap) the answer is the first instant
 * whose local time is later, found by bisection over the widest span offsets allow. */
static int64_t local_to_utc(const slic_tz *tz, int64_t local)
{
    const int64_t probes[3] = {local - SECS_PER_DAY, local, local + SECS_PER_DAY};
    bool found = false;
    int64_t best = 0;
    for (int i = 0; i < 3; i++) {
        int64_t c = local - slic_tz_offset(tz, probes[i]);
        if (local_of(tz, c) == local && (!found || c < best)) {
            best = c;
            found = true;
        }
    }
    if (found)
        return best;
    int64_t lo = local - TZ_OFF_MAX - 1, hi = local - TZ_OFF_MIN + 1;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (local_of(tz, mid) >= local)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static int cal_result(const slic_tz *tz, int64_t days, int64_t sod, int64_t *out)
{
    /* A day or two of slack beyond the RFC 3339 range keeps days * 86400 far from overflow;
     * the final check below decides. */
    if (days < SLIC_TIME_MIN / SECS_PER_DAY - 2 || days > SLIC_TIME_MAX / SECS_PER_DAY + 2)
        return SLIC_ERANGE;
    int64_t t = local_to_utc(tz, days * SECS_PER_DAY + sod);
    if (!time_in_range(t))
        return SLIC_ERANGE;
    *out = t;
    return 0;
}

int slic_cal_start(const slic_tz *tz, int64_t t, enum slic_cal_unit unit, int64_t *out)
{
    if (!time_in_range(t))
        return SLIC_ERANGE;
    int64_t days = floor_div(local_of(tz, t), SECS_PER_DAY);
    struct civil c = civil_from_days(days);
    switch (unit) {
    case SLIC_CAL_DAY:
        break;
    case SLIC_CAL_WEEK:
        days -= floor_mod(days + 3, 7); /* 1970-01-01 was a Thursday: Monday is 0 */
        break;
    case SLIC_CAL_MONTH:
        days = days_from_civil(c.y, c.m, 1);
        break;
    case SLIC_CAL_QUARTER:
        days = days_from_civil(c.y, (c.m - 1) / 3 * 3 + 1, 1);
        break;
    case SLIC_CAL_YEAR:
        days = days_from_civil(c.y, 1, 1);
        break;
    default:
        return SLIC_EINVAL;
    }
    return cal_result(tz, days, 0, out);
}

/* Months to add for n units, or false if n is absurdly large (beyond 10,000 years). */
static bool cal_months(enum slic_cal_unit unit, int64_t n, int64_t *months)
{
    int64_t per = unit == SLIC_CAL_MONTH ? 1 : unit == SLIC_CAL_QUARTER ? 3 : 12;
    if (n > 120000 || n < -120000)
        return false;
    *months = n * per;
    return true;
}

int slic_cal_add(const slic_tz *tz, int64_t t, enum slic_cal_unit unit, int64_t n, int64_t *out)
{
    if (!time_in_range(t))
        return SLIC_ERANGE;
    int64_t local = local_of(tz, t);
    int64_t days = floor_div(local, SECS_PER_DAY), sod = local - days * SECS_PER_DAY;
    /* Bounded so the arithmetic below cannot overflow; any larger n leaves the range anyway. */
    const int64_t max_days = 4000000;
    switch (unit) {
    case SLIC_CAL_DAY:
    case SLIC_CAL_WEEK: {
        int64_t per = unit == SLIC_CAL_WEEK ? 7 : 1;
        if (n > max_days || n < -max_days)
            return SLIC_ERANGE;
        days += n * per;
        break;
    }
    case SLIC_CAL_MONTH:
    case SLIC_CAL_QUARTER:
    case SLIC_CAL_YEAR: {
        int64_t months = 0;
        if (!cal_months(unit, n, &months))
            return SLIC_ERANGE;
        struct civil c = civil_from_days(days);
        int64_t total = c.y * 12 + (c.m - 1) + months;
        int64_t y = floor_div(total, 12);
        unsigned m = (unsigned)floor_mod(total, 12) + 1;
        unsigned dim = days_in_month(y, m);
        /* Jan 31 + 1 month is the last day of February, not March 3. */
        days = days_from_civil(y, m, c.d < dim ? c.d : dim);
        break;
    }
    default:
        return SLIC_EINVAL;
    }
    return cal_result(tz, days, sod, out);
}
