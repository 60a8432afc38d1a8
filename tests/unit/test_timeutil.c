/* Tests of common/timeutil.c: durations both ways, RFC 3339 and the CLI's relative times,
 * window alignment (negative times too), TZif loading, and calendar starts and month
 * arithmetic in UTC and in zones with DST (Zurich), midnight DST gaps (Santiago) and a skipped
 * day (Apia). Expected Unix times were computed independently with `date -u -d ... +%s`; zone
 * offsets are also cross-checked against glibc's localtime_r over several centuries. */
#include "harness.h"

#include "alloc.h"
#include "err.h"
#include "timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS INT64_C(1000000000)

/* ---- durations ---- */

struct dur_case {
    const char *in;
    int rc;
    int64_t ns;
};

static const struct dur_case dur_cases[] = {
    {"250ms", 0, 250000000},
    {"10s", 0, 10 * NS},
    {"5m", 0, 300 * NS},
    {"1h", 0, 3600 * NS},
    {"28d", 0, 2419200 * NS},
    {"12w", 0, 7257600 * NS},
    {"1.5s", 0, 1500000000},
    {"300us", 0, 300000},
    {"300\xc2\xb5s", 0, 300000},
    {"300\xce\xbcs", 0, 300000},
    {"1ns", 0, 1},
    {"1.25ms", 0, 1250000},
    {"0.5w", 0, 302400 * NS},
    {"1h30m", 0, 5400 * NS},
    {"1m30.5s", 0, 90500000000},
    {"0", 0, 0},
    {"0s", 0, 0},
    {"007s", 0, 7 * NS},
    {"1.000000000s", 0, NS},
    {"9223372036854775807ns", 0, INT64_MAX},
    /* Rejected. */
    {"", SLIC_EINVAL, 0},
    {"-1s", SLIC_EINVAL, 0},
    {"+1s", SLIC_EINVAL, 0},
    {"10", SLIC_EINVAL, 0},
    {"s", SLIC_EINVAL, 0},
    {"1.s", SLIC_EINVAL, 0},
    {".5s", SLIC_EINVAL, 0},
    {"1 s", SLIC_EINVAL, 0},
    {" 1s", SLIC_EINVAL, 0},
    {"1s ", SLIC_EINVAL, 0},
    {"1x", SLIC_EINVAL, 0},
    {"10S", SLIC_EINVAL, 0},
    {"1y", SLIC_EINVAL, 0},
    {"ten", SLIC_EINVAL, 0},
    {"1h1", SLIC_EINVAL, 0},
    {"0.1ns", SLIC_EINVAL, 0},
    {"1.0000000001s", SLIC_EINVAL, 0},
    {"1..5s", SLIC_EINVAL, 0},
    /* Past INT64_MAX nanoseconds. */
    {"9223372036854775808ns", SLIC_ERANGE, 0},
    {"107000d", SLIC_ERANGE, 0},
    {"99999999999999999999999s", SLIC_ERANGE, 0},
    {"9223372036854775807ns1ns", SLIC_ERANGE, 0},
};

static void test_duration_parse_table(void)
{
    for (size_t i = 0; i < sizeof dur_cases / sizeof dur_cases[0]; i++) {
        const struct dur_case *c = &dur_cases[i];
        int64_t ns = -42;
        int rc = slic_duration_parse_ns(c->in, &ns);
        if (rc != c->rc)
            harness_fail(__FILE__, __LINE__, "\"%s\": rc %d (%s), want %d (%s)", c->in, rc,
                         slic_errname(rc), c->rc, slic_errname(c->rc));
        if (rc == 0 && ns != c->ns)
            harness_fail(__FILE__, __LINE__, "\"%s\": %lld ns, want %lld", c->in, (long long)ns,
                         (long long)c->ns);
        if (rc != 0)
            CHECK_INT_EQ(ns, -42); /* untouched on failure */
    }
}

static void test_duration_parse_seconds(void)
{
    double s = 0;
    CHECK_OK(slic_duration_parse("1.5s", &s));
    CHECK_DBL_EQ(s, 1.5);
    CHECK_OK(slic_duration_parse("300us", &s));
    CHECK_DBL_EQ(s, 0.0003); /* correctly rounded, equal to the literal */
    CHECK_OK(slic_duration_parse("250ms", &s));
    CHECK_DBL_EQ(s, 0.25);
    CHECK_OK(slic_duration_parse("28d", &s));
    CHECK_DBL_EQ(s, 2419200.0);
    CHECK_OK(slic_duration_parse("1ns", &s));
    CHECK_DBL_EQ(s, 1e-9);
    s = 7;
    CHECK_ERR(slic_duration_parse("-5m", &s), SLIC_EINVAL);
    CHECK_DBL_EQ(s, 7);

    int64_t whole = -1;
    CHECK_OK(slic_duration_parse_s("2000ms", &whole));
    CHECK_INT_EQ(whole, 2);
    CHECK_OK(slic_duration_parse_s("28d", &whole));
    CHECK_INT_EQ(whole, 2419200);
    CHECK_ERR(slic_duration_parse_s("1500ms", &whole), SLIC_EINVAL);
    CHECK_ERR(slic_duration_parse_s("1.5s", &whole), SLIC_EINVAL);
    CHECK_ERR(slic_duration_parse_s("garbage", &whole), SLIC_EINVAL);
    CHECK_INT_EQ(whole, 2419200);
}

struct dur_fmt_case {
    double seconds;
    int rc;
    const char *want;
};

static void test_duration_format(void)
{
    static const struct dur_fmt_case cases[] = {
        {300, 0, "5m"},
        {5400, 0, "90m"},
        {0.3, 0, "300ms"},
        {1.5, 0, "1500ms"},
        {0, 0, "0s"},
        {90, 0, "90s"},
        {3600, 0, "1h"},
        {259200, 0, "3d"},
        {2419200, 0, "4w"},
        {0.0003, 0, "300us"},
        {1e-9, 0, "1ns"},
        {1.0000000004, 0, "1s"}, /* rounded to the nanosecond */
        {-1, SLIC_EINVAL, NULL},
        {NAN, SLIC_EINVAL, NULL},
        {INFINITY, SLIC_EINVAL, NULL},
        {1e10, SLIC_ERANGE, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[SLIC_DURATION_FMT_LEN] = "untouched";
        int rc = slic_duration_format(cases[i].seconds, buf, sizeof buf);
        if (rc != cases[i].rc)
            harness_fail(__FILE__, __LINE__, "%g: rc %d, want %d", cases[i].seconds, rc,
                         cases[i].rc);
        if (rc == 0)
            CHECK_STR_EQ(buf, cases[i].want);
    }
    char small[8];
    CHECK_ERR(slic_duration_format(1, small, sizeof small), SLIC_EINVAL);
    char buf[SLIC_DURATION_FMT_LEN];
    CHECK_OK(slic_duration_format_ns(INT64_MAX, buf, sizeof buf));
    CHECK_STR_EQ(buf, "9223372036854775807ns");
    CHECK_ERR(slic_duration_format_ns(-1, buf, sizeof buf), SLIC_EINVAL);
}

/* Formatting then parsing gives back the same nanoseconds, for values of every magnitude. */
static void test_duration_roundtrip(void)
{
    struct harness_rng r;
    harness_rng_seed(&r, 20261126);
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = harness_rng_next(&r);
        int64_t ns = (int64_t)(bits >> (1 + harness_rng_next(&r) % 63));
        /* Many round values too: multiples of each unit. */
        static const int64_t round_to[] = {1, 1000, 1000000, NS, 60 * NS, 3600 * NS};
        int64_t unit = round_to[i % 6];
        ns -= ns % unit;
        char buf[SLIC_DURATION_FMT_LEN];
        int64_t back = -1;
        CHECK_OK(slic_duration_format_ns(ns, buf, sizeof buf));
        CHECK_OK(slic_duration_parse_ns(buf, &back));
        if (back != ns)
            harness_fail(__FILE__, __LINE__, "%lld -> \"%s\" -> %lld", (long long)ns, buf,
                         (long long)back);
    }
}

/* ---- RFC 3339 and relative times ---- */

struct fmt_case {
    int64_t t;
    const char *want;
};

static void test_rfc3339_format(void)
{
    static const struct fmt_case cases[] = {
        {0, "1970-01-01T00:00:00Z"},
        {1795687200, "2026-11-26T10:00:00Z"},
        {-1, "1969-12-31T23:59:59Z"},
        {951782400, "2000-02-29T00:00:00Z"},
        {1709164800, "2024-02-29T00:00:00Z"},
        {-2208988800, "1900-01-01T00:00:00Z"},
        {SLIC_TIME_MIN, "0000-01-01T00:00:00Z"},
        {SLIC_TIME_MAX, "9999-12-31T23:59:59Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[SLIC_RFC3339_LEN];
        CHECK_OK(slic_rfc3339_format(cases[i].t, buf, sizeof buf));
        CHECK_STR_EQ(buf, cases[i].want);
        int64_t back = 0;
        CHECK_OK(slic_rfc3339_parse(buf, &back));
        CHECK_INT_EQ(back, cases[i].t);
    }
    char buf[SLIC_RFC3339_LEN];
    CHECK_ERR(slic_rfc3339_format(SLIC_TIME_MAX + 1, buf, sizeof buf), SLIC_ERANGE);
    CHECK_ERR(slic_rfc3339_format(SLIC_TIME_MIN - 1, buf, sizeof buf), SLIC_ERANGE);
    CHECK_ERR(slic_rfc3339_format(0, buf, sizeof buf - 1), SLIC_EINVAL);
}

struct parse_case {
    const char *in;
    int rc;
    int64_t t;
};

static void run_parse_cases(const struct parse_case *cases, size_t n, int64_t now, bool cli)
{
    for (size_t i = 0; i < n; i++) {
        int64_t t = 12345;
        int rc = cli ? slic_time_parse(cases[i].in, now, &t) : slic_rfc3339_parse(cases[i].in, &t);
        if (rc != cases[i].rc)
            harness_fail(__FILE__, __LINE__, "\"%s\": rc %d (%s), want %d (%s)", cases[i].in, rc,
                         slic_errname(rc), cases[i].rc, slic_errname(cases[i].rc));
        if (rc == 0 && t != cases[i].t)
            harness_fail(__FILE__, __LINE__, "\"%s\": %lld, want %lld", cases[i].in, (long long)t,
                         (long long)cases[i].t);
        if (rc != 0 && t != 12345)
            harness_fail(__FILE__, __LINE__, "\"%s\": output written on failure", cases[i].in);
    }
}

static void test_rfc3339_parse(void)
{
    static const struct parse_case cases[] = {
        {"2026-11-26T10:00:00Z", 0, 1795687200},
        {"2026-11-26T11:00:00+01:00", 0, 1795687200},
        {"2026-11-26T05:30:00-04:30", 0, 1795687200},
        {"2026-11-26T10:00:00-00:00", 0, 1795687200},
        {"2026-11-26t10:00:00z", 0, 1795687200},
        {"2026-11-26 10:00:00Z", 0, 1795687200},
        {"2026-11-26T10:00:00.999999999Z", 0, 1795687200},
        {"2026-11-27T00:59:00+14:59", 0, 1795687200},
        {"1969-12-31T23:59:59.5Z", 0, -1},
        {"2024-02-29T00:00:00Z", 0, 1709164800},
        {"2000-02-29T00:00:00Z", 0, 951782400},
        /* A leap second is the next second; only 23:59:60 UTC can be one. */
        {"2016-12-31T23:59:60Z", 0, 1483228800},
        {"2016-12-31T18:59:60-05:00", 0, 1483228800},
        {"2026-11-26T10:00:60Z", SLIC_EINVAL, 0},
        {"2023-02-29T00:00:00Z", SLIC_EINVAL, 0},
        {"1900-02-29T00:00:00Z", SLIC_EINVAL, 0},
        {"2026-04-31T00:00:00Z", SLIC_EINVAL, 0},
        {"2026-13-01T00:00:00Z", SLIC_EINVAL, 0},
        {"2026-00-01T00:00:00Z", SLIC_EINVAL, 0},
        {"2026-11-00T00:00:00Z", SLIC_EINVAL, 0},
        {"2026-11-26T24:00:00Z", SLIC_EINVAL, 0},
        {"2026-11-26T10:60:00Z", SLIC_EINVAL, 0},
        {"2026-11-26T10:00:00", SLIC_EINVAL, 0},
        {"2026-11-26T10:00:00+0100", SLIC_EINVAL, 0},
        {"2026-11-26T10:00:00+24:00", SLIC_EINVAL, 0},
        {"2026-11-26T10:00:00.Z", SLIC_EINVAL, 0},
        {"2026-11-26T10:00Z", SLIC_EINVAL, 0},
        {"2026-11-26", SLIC_EINVAL, 0},
        {"2026-11-26T10:00:00Zjunk", SLIC_EINVAL, 0},
        {"26-11-26T10:00:00Z", SLIC_EINVAL, 0},
        {"", SLIC_EINVAL, 0},
        {"0000-01-01T00:00:00Z", 0, SLIC_TIME_MIN},
        {"0000-01-01T00:00:00+01:00", SLIC_ERANGE, 0},
        {"9999-12-31T23:59:59-01:00", SLIC_ERANGE, 0},
    };
    run_parse_cases(cases, sizeof cases / sizeof cases[0], 0, false);
}

static void test_time_parse_cli(void)
{
    const int64_t now = 1795687200; /* 2026-11-26T10:00:00Z */
    static const struct parse_case cases[] = {
        {"now", 0, 1795687200},
        {"now-1h", 0, 1795687200 - 3600},
        {"now+15m", 0, 1795687200 + 900},
        {"-30m", 0, 1795687200 - 1800},
        {"+1d", 0, 1795687200 + 86400},
        {"now-1h30m", 0, 1795687200 - 5400},
        {"now-1.5s", 0, 1795687200 - 2}, /* rounded towards the past */
        {"now+1.5s", 0, 1795687200 + 1},
        {"now-0s", 0, 1795687200},
        {"1764151200", 0, 1764151200},
        {"0", 0, 0},
        {"2026-11-26T11:00:00+01:00", 0, 1795687200},
        {"now-", SLIC_EINVAL, 0},
        {"nowx", SLIC_EINVAL, 0},
        {"now 1h", SLIC_EINVAL, 0},
        {"-30", SLIC_EINVAL, 0},
        {"yesterday", SLIC_EINVAL, 0},
        {"", SLIC_EINVAL, 0},
        {"12a", SLIC_EINVAL, 0},
        /* Milliseconds by mistake land past year 9999. */
        {"1764151200000", SLIC_ERANGE, 0},
        {"99999999999999999999999", SLIC_ERANGE, 0},
        {"now+9223372037s", SLIC_ERANGE, 0}, /* beyond the longest duration */
    };
    run_parse_cases(cases, sizeof cases / sizeof cases[0], now, true);
    int64_t t = 0;
    CHECK_ERR(slic_time_parse("now", SLIC_TIME_MAX + 1, &t), SLIC_ERANGE);
    CHECK_ERR(slic_time_parse("now+1d", SLIC_TIME_MAX - 100, &t), SLIC_ERANGE);
    CHECK_ERR(slic_time_parse("-1s", SLIC_TIME_MIN, &t), SLIC_ERANGE);
    CHECK_OK(slic_time_parse("now-100s", SLIC_TIME_MAX, &t));
    CHECK_INT_EQ(t, SLIC_TIME_MAX - 100);
}

/* ---- clocks and windows ---- */

static void test_clocks(void)
{
    int64_t ms = slic_now_unix_ms();
    int64_t libc_ms = (int64_t)time(NULL) * 1000;
    CHECK(ms > INT64_C(1700000000000));
    CHECK(ms - libc_ms > -2000 && ms - libc_ms < 2000);
    uint64_t a = slic_now_mono_ns();
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    uint64_t b = slic_now_mono_ns();
    CHECK(b >= a + 2000000);
}

struct align_case {
    int64_t t, len, want;
};

static void test_window_align(void)
{
    static const struct align_case cases[] = {
        {0, 10, 0},
        {9, 10, 0},
        {10, 10, 10},
        {-1, 10, -10},
        {-10, 10, -10},
        {-11, 10, -20},
        {1764151234567, 10000, 1764151230000},
        {-1764151234567, 10000, -1764151240000},
        {5, 1, 5},
        {INT64_MAX, 10, INT64_MAX - 7},
        {INT64_MIN + 10, 10, INT64_C(-9223372036854775800)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = slic_window_align(cases[i].t, cases[i].len);
        if (got != cases[i].want)
            harness_fail(__FILE__, __LINE__, "align(%lld, %lld) = %lld, want %lld",
                         (long long)cases[i].t, (long long)cases[i].len, (long long)got,
                         (long long)cases[i].want);
    }
}

/* ---- time zones ---- */

static slic_tz *tz_load(const char *name)
{
    slic_tz *tz = NULL;
    struct slic_errmsg err = {{0}};
    int rc = slic_tz_load(name, &tz, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "slic_tz_load(%s): %s: %s", name, slic_errname(rc),
                     err.text);
    return tz;
}

struct off_case {
    int64_t t;
    int32_t off;
};

static void test_tz_zurich_offsets(void)
{
    slic_tz *tz = tz_load("Europe/Zurich");
    CHECK_STR_EQ(slic_tz_name(tz), "Europe/Zurich");
    static const struct off_case cases[] = {
        {1705320000, 3600},     /* 2024-01-15T12:00Z, winter */
        {1721044800, 7200},     /* 2024-07-15T12:00Z, summer */
        {1711846800 - 1, 3600}, /* 2024-03-31T00:59:59Z, last second of CET */
        {1711846800, 7200},     /* 2024-03-31T01:00:00Z, CEST starts */
        {1729990800 - 1, 7200}, /* 2024-10-27T00:59:59Z */
        {1729990800, 3600},     /* 2024-10-27T01:00:00Z, back to CET */
        {4118144400, 7200},     /* 2100-07-01T03:00Z: past the data, from the rule */
        {-3675198849, 2048},    /* 1853-07-15T23:25:51Z: local mean time, +0:34:08 */
        {-3675198848, 1786},    /* Bern mean time from 1853-07-15T23:25:52Z */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (slic_tz_offset(tz, cases[i].t) != cases[i].off)
            harness_fail(__FILE__, __LINE__, "offset at %lld: %d, want %d", (long long)cases[i].t,
                         slic_tz_offset(tz, cases[i].t), cases[i].off);
    }
    CHECK_INT_EQ(slic_tz_offset(NULL, 1721044800), 0);
    CHECK_STR_EQ(slic_tz_name(NULL), "UTC");
    slic_tz_destroy(tz);
}

/* Our reading of the tz database agrees with glibc's, second for second, from 1850 to 2200,
 * in zones that exercise every feature: southern DST, 30-minute DST, negative DST, two-hour
 * DST, a skipped day, and zones whose rules changed often. The test process is single
 * threaded, so setting TZ here is safe. */
static void test_tz_matches_glibc(void)
{
    static const char *const zones[] = {
        "Europe/Zurich",
        "America/Santiago",
        "America/New_York",
        "Australia/Lord_Howe",
        "Europe/Dublin",
        "Asia/Kolkata",
        "Pacific/Apia",
        "Africa/Casablanca",
        "America/Sao_Paulo",
        "Asia/Tehran",
        "Pacific/Chatham",
        "Antarctica/Troll",
        "UTC",
        "Etc/GMT+5",
        "Australia/Sydney",
        "America/St_Johns",
    };
    struct harness_rng r;
    harness_rng_seed(&r, 42);
    const int64_t lo = -3786825600, span = 7258118400 - lo; /* 1850 .. 2200 */
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        slic_tz *tz = tz_load(zones[z]);
        char tzenv[80];
        snprintf(tzenv, sizeof tzenv, ":%s", zones[z]);
        setenv("TZ", tzenv, 1);
        tzset();
        for (int i = 0; i < 20000; i++) {
            int64_t t = lo + (int64_t)(harness_rng_next(&r) % (uint64_t)span);
            /* Half the samples near a transition: nudge to the nearest hour boundary. */
            if (i % 2)
                t -= t % 1800;
            time_t tt = (time_t)t;
            struct tm tm;
            CHECK(localtime_r(&tt, &tm) != NULL);
            if (slic_tz_offset(tz, t) != tm.tm_gmtoff)
                harness_fail(__FILE__, __LINE__, "%s at %lld: %d, glibc %ld", zones[z],
                             (long long)t, slic_tz_offset(tz, t), tm.tm_gmtoff);
        }
        slic_tz_destroy(tz);
    }
    unsetenv("TZ");
}

/* Both sides of every half-hour boundary from 2000 to 2060 (every DST change happens on one),
 * in zones whose rules differ in kind: so each transition is right to the second, including
 * those computed from the footer rule past the file's last transition. */
static void test_tz_transitions_match_glibc(void)
{
    static const char *const zones[] = {"Europe/Zurich", "America/Santiago", "Australia/Lord_Howe",
                                        "Europe/Dublin", "America/New_York", "Antarctica/Troll"};
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        slic_tz *tz = tz_load(zones[z]);
        char tzenv[80];
        snprintf(tzenv, sizeof tzenv, ":%s", zones[z]);
        setenv("TZ", tzenv, 1);
        tzset();
        for (int64_t b = 946684800; b < 2871763200; b += 1800) {
            for (int64_t t = b - 1; t <= b; t++) {
                time_t tt = (time_t)t;
                struct tm tm;
                CHECK(localtime_r(&tt, &tm) != NULL);
                if (slic_tz_offset(tz, t) != tm.tm_gmtoff)
                    harness_fail(__FILE__, __LINE__, "%s at %lld: %d, glibc %ld", zones[z],
                                 (long long)t, slic_tz_offset(tz, t), tm.tm_gmtoff);
            }
        }
        slic_tz_destroy(tz);
    }
    unsetenv("TZ");
}

static void test_tz_load_errors(void)
{
    static const struct {
        const char *name;
        int rc;
    } cases[] = {
        {"", SLIC_EINVAL},
        {"../../etc/passwd", SLIC_EINVAL},
        {"/etc/localtime", SLIC_EINVAL},
        {"Europe//Zurich", SLIC_EINVAL},
        {"Europe/Zurich/", SLIC_EINVAL},
        {"Europe/Zu rich", SLIC_EINVAL},
        {"Europe/./Zurich", SLIC_EINVAL},
        {"Europe/Zurch", SLIC_ENOTFOUND},
        {"Europe", SLIC_ENOTFOUND}, /* a directory */
        {"right/Europe/Zurich", SLIC_EDECODE},
        {"zone.tab", SLIC_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        slic_tz *tz = (slic_tz *)&cases; /* must stay untouched */
        struct slic_errmsg err = {{0}};
        int rc = slic_tz_load(cases[i].name, &tz, &err);
        if (rc != cases[i].rc)
            harness_fail(__FILE__, __LINE__, "\"%s\": %s, want %s (%s)", cases[i].name,
                         slic_errname(rc), slic_errname(cases[i].rc), err.text);
        CHECK(tz == (slic_tz *)&cases);
        CHECK(strstr(err.text, "time zone '") != NULL);
    }
    struct slic_errmsg err = {{0}};
    slic_tz *tz = NULL;
    CHECK_ERR(slic_tz_load("Europe/Zurch", &tz, &err), SLIC_ENOTFOUND);
    CHECK(strstr(err.text, "Europe/Zurch") != NULL);
    CHECK(strstr(err.text, "not found") != NULL);
    slic_tz_destroy(NULL);
}

/* Writes bytes as a zone file under a private TZDIR. */
static void tzdir_write(const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", harness_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
    setenv("TZDIR", harness_tmpdir(), 1);
}

static size_t put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

/* A version 2 TZif with no transitions at all: only the footer rule says when DST is, the way
 * `zic -b slim` writes zones whose rules have not changed for a long time. */
static size_t tzif_rule_only(unsigned char *buf, const char *footer)
{
    size_t n = 0;
    for (int block = 0; block < 2; block++) {
        memcpy(buf + n, "TZif2", 5);
        memset(buf + n + 5, 0, 15);
        n += 20;
        static const uint32_t counts[6] = {0, 0, 0, 0, 1, 4}; /* one type, "CET\0" */
        for (int i = 0; i < 6; i++)
            n += put_be32(buf + n, counts[i]);
        n += put_be32(buf + n, 3600);
        buf[n++] = 0; /* isdst */
        buf[n++] = 0; /* designation index */
        memcpy(buf + n, "CET", 4);
        n += 4;
    }
    n += (size_t)sprintf((char *)buf + n, "\n%s\n", footer);
    return n;
}

static void test_tz_rule_only_file(void)
{
    unsigned char buf[256];
    size_t n = tzif_rule_only(buf, "CET-1CEST,M3.5.0,M10.5.0/3");
    tzdir_write("Rule_Zurich", buf, n);
    slic_tz *mine = tz_load("Rule_Zurich");
    unsetenv("TZDIR");
    slic_tz *real = tz_load("Europe/Zurich");
    /* Every hour of 2020..2040, including both changes each year. */
    for (int64_t t = 1577836800; t < 2208988800; t += 3600)
        CHECK_INT_EQ(slic_tz_offset(mine, t), slic_tz_offset(real, t));
    slic_tz_destroy(mine);
    slic_tz_destroy(real);
}

static void test_tz_malformed_files(void)
{
    unsigned char good[256];
    size_t n = tzif_rule_only(good, "CET-1CEST,M3.5.0,M10.5.0/3");
    unsigned char bad[256];
    /* Every truncation is refused cleanly. */
    for (size_t cut = 0; cut < n; cut++) {
        tzdir_write("Cut", good, cut);
        slic_tz *tz = NULL;
        int rc = slic_tz_load("Cut", &tz, NULL);
        if (rc != SLIC_EDECODE)
            harness_fail(__FILE__, __LINE__, "cut at %zu: %s", cut, slic_errname(rc));
    }
    static const char *const bad_footers[] = {
        "CET-1CEST",                   /* DST without rules */
        "CET-1CEST,M3.5.0",            /* one rule */
        "CET-1CEST,M13.5.0,M10.5.0/3", /* month 13 */
        "CET-1CEST,M3.6.0,M10.5.0/3",  /* week 6 */
        "CET-1CEST,M3.5.7,M10.5.0/3",  /* weekday 7 */
        "CET-1CEST,J0,J365",           /* J counts from 1 */
        "CE-1",                        /* name too short */
        "CET-1x",
        "CET-99",
    };
    for (size_t i = 0; i < sizeof bad_footers / sizeof bad_footers[0]; i++) {
        size_t m = tzif_rule_only(bad, bad_footers[i]);
        tzdir_write("Bad", bad, m);
        slic_tz *tz = NULL;
        struct slic_errmsg err = {{0}};
        int rc = slic_tz_load("Bad", &tz, &err);
        if (rc != SLIC_EDECODE)
            harness_fail(__FILE__, __LINE__, "footer \"%s\": %s", bad_footers[i], slic_errname(rc));
        CHECK(strstr(err.text, "time zone 'Bad': malformed") != NULL);
    }
    memcpy(bad, good, n);
    bad[0] = 'X';
    tzdir_write("Magic", bad, n);
    slic_tz *tz = NULL;
    CHECK_ERR(slic_tz_load("Magic", &tz, NULL), SLIC_EDECODE);
    /* Other footers that are valid: quoted names, explicit DST offset and times, J and n. */
    static const char *const good_footers[] = {
        "<+03>-3",
        "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
        "IST-1GMT0,M10.5.0,M3.5.0/1",
        "EST5EDT4,0/0,J365/25",
        "AAA3BBB,J60/1:30:15,300/-2",
    };
    for (size_t i = 0; i < sizeof good_footers / sizeof good_footers[0]; i++) {
        size_t m = tzif_rule_only(bad, good_footers[i]);
        tzdir_write("Good", bad, m);
        tz = tz_load("Good");
        slic_tz_destroy(tz);
    }
    unsetenv("TZDIR");
}

static void test_tz_load_alloc_failures(void)
{
    for (long n = 0;; n++) {
        slic_tz *tz = NULL;
        slic_alloc_fail_after(n);
        int rc = slic_tz_load("Europe/Zurich", &tz, NULL);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            CHECK(n > 0);
            CHECK_INT_EQ(slic_tz_offset(tz, 1721044800), 7200);
            slic_tz_destroy(tz);
            break;
        }
        CHECK_ERR(rc, SLIC_ENOMEM);
        CHECK(n < 10);
    }
}

/* ---- calendars ---- */

struct cal_case {
    const char *zone; /* NULL: UTC */
    int64_t t;
    enum slic_cal_unit unit;
    int64_t n; /* for slic_cal_add */
    int64_t want;
    const char *what;
};

static void run_cal_cases(const struct cal_case *cases, size_t count, bool add)
{
    for (size_t i = 0; i < count; i++) {
        const struct cal_case *c = &cases[i];
        slic_tz *tz = c->zone ? tz_load(c->zone) : NULL;
        int64_t got = 0;
        int rc = add ? slic_cal_add(tz, c->t, c->unit, c->n, &got)
                     : slic_cal_start(tz, c->t, c->unit, &got);
        if (rc != 0 || got != c->want) {
            char g[SLIC_RFC3339_LEN] = "?", w[SLIC_RFC3339_LEN] = "?";
            slic_rfc3339_format(got, g, sizeof g);
            slic_rfc3339_format(c->want, w, sizeof w);
            harness_fail(__FILE__, __LINE__, "%s: rc %s, got %lld (%s), want %lld (%s)", c->what,
                         slic_errname(rc), (long long)got, g, (long long)c->want, w);
        }
        slic_tz_destroy(tz);
    }
}

static void test_cal_start_utc(void)
{
    static const struct cal_case cases[] = {
        {NULL, 1709211600, SLIC_CAL_MONTH, 0, 1706745600, "2024-02-29T13:00 month"},
        {NULL, 1709211600, SLIC_CAL_WEEK, 0, 1708905600, "2024-02-29 (Thu) week: Mon 26th"},
        {NULL, 1708905600, SLIC_CAL_WEEK, 0, 1708905600, "Monday 00:00 is its own week"},
        {NULL, 1709510399, SLIC_CAL_WEEK, 0, 1708905600, "Sunday 23:59:59 still that week"},
        {NULL, 1709211600, SLIC_CAL_DAY, 0, 1709164800, "day"},
        {NULL, 1715774400, SLIC_CAL_QUARTER, 0, 1711929600, "2024-05-15 quarter: Apr 1"},
        {NULL, 1735689599, SLIC_CAL_QUARTER, 0, 1727740800, "2024-12-31T23:59:59: Oct 1"},
        {NULL, 1709211600, SLIC_CAL_YEAR, 0, 1704067200, "year 2024"},
        /* Before 1970: floor, not truncation. */
        {NULL, -43200, SLIC_CAL_DAY, 0, -86400, "1969-12-31T12:00 day"},
        {NULL, -43200, SLIC_CAL_WEEK, 0, -259200, "1969-12-31 (Wed) week: Mon 29th"},
        {NULL, -43200, SLIC_CAL_MONTH, 0, -2678400, "1969-12 month"},
        {NULL, -43200, SLIC_CAL_QUARTER, 0, -7948800, "1969 Q4"},
        {NULL, -43200, SLIC_CAL_YEAR, 0, -31536000, "1969"},
        {NULL, -1, SLIC_CAL_DAY, 0, -86400, "1969-12-31T23:59:59 day"},
        {NULL, 0, SLIC_CAL_WEEK, 0, -259200, "1970-01-01 (Thu) week"},
        {NULL, SLIC_TIME_MAX, SLIC_CAL_YEAR, 0, 253370764800, "year 9999"},
    };
    run_cal_cases(cases, sizeof cases / sizeof cases[0], false);
    int64_t t = 0;
    CHECK_ERR(slic_cal_start(NULL, SLIC_TIME_MAX + 1, SLIC_CAL_DAY, &t), SLIC_ERANGE);
    CHECK_ERR(slic_cal_start(NULL, SLIC_TIME_MIN - 1, SLIC_CAL_DAY, &t), SLIC_ERANGE);
    /* 0000-01-01 is a Saturday: its ISO week starts in year -1. */
    CHECK_ERR(slic_cal_start(NULL, SLIC_TIME_MIN, SLIC_CAL_WEEK, &t), SLIC_ERANGE);
    CHECK_INT_EQ(t, 0);
    CHECK_OK(slic_cal_start(NULL, SLIC_TIME_MIN, SLIC_CAL_YEAR, &t));
    CHECK_INT_EQ(t, SLIC_TIME_MIN);
}

static void test_cal_add_utc(void)
{
    static const struct cal_case cases[] = {
        {NULL, 1706695200, SLIC_CAL_MONTH, 1, 1709200800, "2024-01-31T10:00 +1 month: Feb 29"},
        {NULL, 1675159200, SLIC_CAL_MONTH, 1, 1677578400, "2023-01-31T10:00 +1 month: Feb 28"},
        {NULL, 1711879200, SLIC_CAL_MONTH, -1, 1709200800, "2024-03-31T10:00 -1 month: Feb 29"},
        {NULL, 1709200800, SLIC_CAL_YEAR, 1, 1740736800, "2024-02-29 +1 year: 2025-02-28"},
        {NULL, 1709200800, SLIC_CAL_YEAR, 4, 1835431200, "2024-02-29 +4 years: 2028-02-29"},
        {NULL, 1730368800, SLIC_CAL_QUARTER, 1, 1738317600, "2024-10-31 +1 quarter: Jan 31"},
        {NULL, 1734256800, SLIC_CAL_MONTH, 1, 1736935200, "2024-12-15 +1 month: 2025-01-15"},
        {NULL, 1734256800, SLIC_CAL_MONTH, -12, 1702634400, "2024-12-15 -12 months"},
        {NULL, 1734256800, SLIC_CAL_MONTH, 0, 1734256800, "+0 months"},
        {NULL, 1709164800, SLIC_CAL_DAY, 1, 1709251200, "2024-02-29 +1 day: Mar 1"},
        {NULL, 1709164800, SLIC_CAL_WEEK, -1, 1708560000, "2024-02-29 -1 week"},
        {NULL, -43200, SLIC_CAL_MONTH, 2, 5054400, "1969-12-31T12:00 +2 months: 1970-02-28"},
        {NULL, 1709164800, SLIC_CAL_MONTH, 12 * 100, 4864838400, "+1200 months: 2124-02-29"},
    };
    run_cal_cases(cases, sizeof cases / sizeof cases[0], true);
    int64_t t = 7;
    CHECK_ERR(slic_cal_add(NULL, SLIC_TIME_MAX, SLIC_CAL_DAY, 1, &t), SLIC_ERANGE);
    CHECK_ERR(slic_cal_add(NULL, 0, SLIC_CAL_YEAR, 8030, &t), SLIC_ERANGE);
    CHECK_ERR(slic_cal_add(NULL, 0, SLIC_CAL_YEAR, INT64_MAX, &t), SLIC_ERANGE);
    CHECK_ERR(slic_cal_add(NULL, 0, SLIC_CAL_DAY, INT64_MIN, &t), SLIC_ERANGE);
    CHECK_ERR(slic_cal_add(NULL, 0, SLIC_CAL_MONTH, -1970 * 12 - 1, &t), SLIC_ERANGE);
    CHECK_INT_EQ(t, 7);
}

static void test_cal_dst_zones(void)
{
    static const struct cal_case starts[] = {
        {"Europe/Zurich", 1711886400, SLIC_CAL_WEEK, 0, 1711321200,
         "Zurich, Sun 2024-03-31 (DST starts): week from Mon 25th 00:00 CET"},
        {"Europe/Zurich", 1713182400, SLIC_CAL_MONTH, 0, 1711922400,
         "Zurich 2024-04-15: month from Apr 1 00:00 CEST"},
        {"Europe/Zurich", 1711927800, SLIC_CAL_MONTH, 0, 1711922400,
         "Zurich 2024-03-31T23:30Z is already April locally"},
        {"Europe/Zurich", 1730417400, SLIC_CAL_MONTH, 0, 1730415600,
         "Zurich 2024-10-31T23:30Z is Nov 1 00:30 CET"},
        {"Europe/Zurich", 1715774400, SLIC_CAL_QUARTER, 0, 1711922400, "Zurich Q2 2024"},
        {"Europe/Zurich", 1715774400, SLIC_CAL_YEAR, 0, 1704063600, "Zurich year 2024"},
        {"Europe/Zurich", 1729990800, SLIC_CAL_DAY, 0, 1729980000,
         "Zurich, DST ends: the day began at 00:00 CEST"},
        /* Santiago moves its clocks at midnight: 2024-09-08 has no 00:00. */
        {"America/Santiago", 1725796800, SLIC_CAL_DAY, 0, 1725768000,
         "Santiago 2024-09-08: the day starts at 01:00 -03, the gap's end"},
        {"America/Santiago", 1712491200, SLIC_CAL_DAY, 0, 1712462400,
         "Santiago 2024-04-07: 00:00 -04, after the repeated hour"},
        {"America/Santiago", 1725796800, SLIC_CAL_MONTH, 0, 1725163200, "Santiago Sep 2024"},
        /* Apia skipped 2011-12-30 entirely. */
        {"Pacific/Apia", 1325296800, SLIC_CAL_DAY, 0, 1325239200,
         "Apia 2011-12-31: first day after the skip"},
    };
    run_cal_cases(starts, sizeof starts / sizeof starts[0], false);
    static const struct cal_case adds[] = {
        {"Europe/Zurich", 1711321200, SLIC_CAL_WEEK, 1, 1711922400,
         "Zurich Mon 2024-03-25 00:00 +1 week: 167 hours"},
        {"Europe/Zurich", 1711796400, SLIC_CAL_DAY, 1, 1711879200,
         "Zurich 2024-03-30 12:00 +1 day: 23 hours"},
        {"Europe/Zurich", 1711762200, SLIC_CAL_DAY, 1, 1711846800,
         "Zurich 2024-03-30 02:30 +1 day falls in the gap: 03:00 CEST"},
        {"Europe/Zurich", 1729902600, SLIC_CAL_DAY, 1, 1729989000,
         "Zurich 2024-10-26 02:30 +1 day occurs twice: the earlier"},
        {"Europe/Zurich", 1706695200, SLIC_CAL_MONTH, 1, 1709200800,
         "Zurich 2024-01-31 11:00 +1 month: Feb 29 11:00"},
        {"Europe/Zurich", 1711922400, SLIC_CAL_MONTH, -1, 1709247600,
         "Zurich Apr 1 00:00 CEST -1 month: Mar 1 00:00 CET"},
        {"Pacific/Apia", 1325235600, SLIC_CAL_DAY, 1, 1325239200,
         "Apia 2011-12-29 23:00 +1 day: Dec 30 never happened, first instant after"},
    };
    run_cal_cases(adds, sizeof adds / sizeof adds[0], true);
}

/* Each month's start in Zurich is local midnight on the 1st, across 30 years of DST. */
static void test_cal_month_walk(void)
{
    slic_tz *tz = tz_load("Europe/Zurich");
    int64_t t = 946681200; /* 2000-01-01T00:00 CET */
    for (int i = 0; i < 360; i++) {
        int64_t next = 0, start = 0;
        CHECK_OK(slic_cal_add(tz, t, SLIC_CAL_MONTH, 1, &next));
        CHECK_OK(slic_cal_start(tz, next - 1, SLIC_CAL_MONTH, &start));
        CHECK_INT_EQ(start, t);
        CHECK_INT_EQ(slic_window_align(next + slic_tz_offset(tz, next), 86400),
                     next + slic_tz_offset(tz, next));
        t = next;
    }
    CHECK_INT_EQ(t, 1893452400); /* 2030-01-01T00:00 CET */
    slic_tz_destroy(tz);
}

HARNESS_CASES(HARNESS_CASE(test_duration_parse_table), HARNESS_CASE(test_duration_parse_seconds),
              HARNESS_CASE(test_duration_format), HARNESS_CASE(test_duration_roundtrip),
              HARNESS_CASE(test_rfc3339_format), HARNESS_CASE(test_rfc3339_parse),
              HARNESS_CASE(test_time_parse_cli), HARNESS_CASE(test_clocks),
              HARNESS_CASE(test_window_align), HARNESS_CASE(test_tz_zurich_offsets),
              HARNESS_CASE(test_tz_matches_glibc), HARNESS_CASE(test_tz_transitions_match_glibc),
              HARNESS_CASE(test_tz_load_errors), HARNESS_CASE(test_tz_rule_only_file),
              HARNESS_CASE(test_tz_malformed_files), HARNESS_CASE(test_tz_load_alloc_failures),
              HARNESS_CASE(test_cal_start_utc), HARNESS_CASE(test_cal_add_utc),
              HARNESS_CASE(test_cal_dst_zones), HARNESS_CASE(test_cal_month_walk));

HARNESS_MAIN()
