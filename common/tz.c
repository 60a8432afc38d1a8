/* IANA time zones and calendar arithmetic (declared in timeutil.h): a TZif reader (RFC 8536)
 * that loads a zone once into an immutable slic_tz, the POSIX TZ rule of its footer for times
 * after the last transition, and calendar starts and additions in local time. Reads $TZDIR but
 * never sets TZ or calls tzset/localtime, so it is thread-safe. */
#include "timeutil_int.h"

#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
#define TZ_T_MIN (SLIC_TIME_MIN - 4 * SLIC__SECS_PER_DAY)
#define TZ_T_MAX (SLIC_TIME_MAX + 4 * SLIC__SECS_PER_DAY)

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
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || slic__is_digit(*p) ||
               *p == '+' || *p == '-')
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
    if (!slic__is_digit(*p))
        return false;
    while (slic__is_digit(*p) && h <= max_h)
        h = h * 10 + (*p++ - '0');
    if (h > max_h)
        return false;
    if (*p == ':') {
        p++;
        if (!slic__read_digits(&p, 2, &m) || m > 59)
            return false;
        if (*p == ':') {
            p++;
            if (!slic__read_digits(&p, 2, &s) || s > 59)
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
    if (!slic__is_digit(*p))
        return false;
    while (slic__is_digit(*p) && v <= hi)
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
        ok = posix_int_read(&p, 1, 12, &dt->m) && slic__expect_char(&p, '.') &&
             posix_int_read(&p, 1, 5, &dt->w) && slic__expect_char(&p, '.') &&
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
    return slic__expect_char(&p, ',') && posix_date_read(&p, &r->start) &&
           slic__expect_char(&p, ',') && posix_date_read(&p, &r->end) && *p == '\0';
}

/* Unix time of a rule date in `year`, given the offset in force just before it. */
static int64_t rule_date_time(const struct tz_date *dt, int64_t year, int32_t off_before)
{
    int64_t day;
    if (dt->kind == 'J') {
        day = slic__days_from_civil(year, 1, 1) + dt->n - 1 + (slic__is_leap(year) && dt->n >= 60);
    } else if (dt->kind == 'D') {
        day = slic__days_from_civil(year, 1, 1) + dt->n;
    } else {
        int64_t first = slic__days_from_civil(year, (unsigned)dt->m, 1);
        int64_t wday_first = slic__floor_mod(first + 4, 7); /* 1970-01-01 was a Thursday (4) */
        day = first + slic__floor_mod(dt->d - wday_first, 7) + 7 * (dt->w - 1);
        while (day >= first + slic__days_in_month(year, (unsigned)dt->m))
            day -= 7;
    }
    return day * SLIC__SECS_PER_DAY + dt->time - off_before;
}

static int32_t rule_offset(const struct tz_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t year = slic__civil_from_days(slic__floor_div(t + r->std_off, SLIC__SECS_PER_DAY)).y;
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
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || slic__is_digit(c) ||
                   c == '_' || c == '+' || c == '-') {
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
    const int64_t probes[3] = {local - SLIC__SECS_PER_DAY, local, local + SLIC__SECS_PER_DAY};
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
    if (days < SLIC_TIME_MIN / SLIC__SECS_PER_DAY - 2 ||
        days > SLIC_TIME_MAX / SLIC__SECS_PER_DAY + 2)
        return SLIC_ERANGE;
    int64_t t = local_to_utc(tz, days * SLIC__SECS_PER_DAY + sod);
    if (!slic__time_in_range(t))
        return SLIC_ERANGE;
    *out = t;
    return 0;
}

int slic_cal_start(const slic_tz *tz, int64_t t, enum slic_cal_unit unit, int64_t *out)
{
    if (!slic__time_in_range(t))
        return SLIC_ERANGE;
    int64_t days = slic__floor_div(local_of(tz, t), SLIC__SECS_PER_DAY);
    struct slic__civil c = slic__civil_from_days(days);
    switch (unit) {
    case SLIC_CAL_DAY:
        break;
    case SLIC_CAL_WEEK:
        days -= slic__floor_mod(days + 3, 7); /* 1970-01-01 was a Thursday: Monday is 0 */
        break;
    case SLIC_CAL_MONTH:
        days = slic__days_from_civil(c.y, c.m, 1);
        break;
    case SLIC_CAL_QUARTER:
        days = slic__days_from_civil(c.y, (c.m - 1) / 3 * 3 + 1, 1);
        break;
    case SLIC_CAL_YEAR:
        days = slic__days_from_civil(c.y, 1, 1);
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
    if (!slic__time_in_range(t))
        return SLIC_ERANGE;
    int64_t local = local_of(tz, t);
    int64_t days = slic__floor_div(local, SLIC__SECS_PER_DAY),
            sod = local - days * SLIC__SECS_PER_DAY;
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
        struct slic__civil c = slic__civil_from_days(days);
        int64_t total = c.y * 12 + (c.m - 1) + months;
        int64_t y = slic__floor_div(total, 12);
        unsigned m = (unsigned)slic__floor_mod(total, 12) + 1;
        unsigned dim = slic__days_in_month(y, m);
        /* Jan 31 + 1 month is the last day of February, not March 3. */
        days = slic__days_from_civil(y, m, c.d < dim ? c.d : dim);
        break;
    }
    default:
        return SLIC_EINVAL;
    }
    return cal_result(tz, days, sod, out);
}
