/* The operator-facing half of slic's YAML tree (see yamlconf.h): messages that name file, line
 * and key path; the typed getters, which convert a node or a mapping's keyed value and say what
 * was found and what was expected; unknown-key checks with a "did you mean"; and
 * slic_size_parse. Reads nodes only: a loaded stream is never changed here. */
#include "yamlconf_int.h"

#include "alloc.h"
#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- messages ---- */

int slic_yaml_error(const slic_yaml_node *n, struct slic_errmsg *err, int code, const char *fmt,
                    ...)
{
    if (!err)
        return code;
    char path[128], what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    slic_yaml_path(n, path, sizeof path);
    if (path[0] == '\0')
        return slic_errmsg_set(err, code, "%s:%u: document: %s", n->file, n->line, what);
    return slic_errmsg_set(err, code, "%s:%u: key '%s': %s", n->file, n->line, path, what);
}

/* What a node holds, for "got ...": a scalar quoted with control characters escaped and cut
 * at 48 bytes, so a message stays one readable line whatever the input. */
static void value_describe(const slic_yaml_node *n, char *buf, size_t size)
{
    if (n->kind != SLIC_YAML_SCALAR) {
        snprintf(buf, size, "%s", n->kind == SLIC_YAML_MAPPING ? "a mapping" : "a list");
        return;
    }
    if (slic_yaml_is_null(n)) {
        snprintf(buf, size, "%s", n->text[0] ? "null" : "an empty value");
        return;
    }
    size_t len = 0;
    buf[len++] = '"';
    const unsigned char *p = (const unsigned char *)n->text;
    for (size_t i = 0; p[i] && len + 8 < size; i++) {
        if (i == 48) {
            memcpy(buf + len, "...", 3);
            len += 3;
            break;
        }
        if (p[i] == '"' || p[i] == '\\')
            len += (size_t)snprintf(buf + len, size - len, "\\%c", p[i]);
        else if (p[i] < 0x20 || p[i] == 0x7f)
            len += (size_t)snprintf(buf + len, size - len, "\\x%02x", p[i]);
        else
            buf[len++] = (char)p[i];
    }
    buf[len++] = '"';
    buf[len] = '\0';
}

static int type_fail(const slic_yaml_node *n, struct slic_errmsg *err, const char *expected)
{
    char got[256];
    value_describe(n, got, sizeof got);
    return slic_yaml_error(n, err, SLIC_ECONFIG, "expected %s, got %s", expected, got);
}

/* ---- typed values ---- */

int slic_yaml_as_string(const slic_yaml_node *n, const char **out, struct slic_errmsg *err)
{
    if (n->kind != SLIC_YAML_SCALAR || slic_yaml_is_null(n))
        return type_fail(n, err, "a string");
    *out = n->text;
    return 0;
}

int slic_yaml_as_bool(const slic_yaml_node *n, bool *out, struct slic_errmsg *err)
{
    if (n->kind == SLIC_YAML_SCALAR) {
        if (strcasecmp(n->text, "true") == 0 || strcasecmp(n->text, "yes") == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(n->text, "false") == 0 || strcasecmp(n->text, "no") == 0) {
            *out = false;
            return 0;
        }
    }
    return type_fail(n, err, "true or false");
}

/* Decimal digits (with a sign if allowed) into a magnitude; false on anything else or on
 * overflow of uint64. */
static bool uint_parse(const char *s, bool allow_sign, bool *neg, uint64_t *mag)
{
    *neg = false;
    if (allow_sign && (*s == '+' || *s == '-'))
        *neg = *s++ == '-';
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *mag = v;
    return true;
}

static void int_range_describe(char *buf, size_t size, int64_t min, int64_t max)
{
    if (min == INT64_MIN && max == INT64_MAX)
        snprintf(buf, size, "an integer");
    else if (max == INT64_MAX)
        snprintf(buf, size, "an integer of at least %lld", (long long)min);
    else if (min == INT64_MIN)
        snprintf(buf, size, "an integer of at most %lld", (long long)max);
    else
        snprintf(buf, size, "an integer from %lld to %lld", (long long)min, (long long)max);
}

int slic_yaml_as_int64(const slic_yaml_node *n, int64_t min, int64_t max, int64_t *out,
                       struct slic_errmsg *err)
{
    char expected[96];
    bool neg = false;
    uint64_t mag = 0;
    if (n->kind == SLIC_YAML_SCALAR && uint_parse(n->text, true, &neg, &mag) &&
        mag <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
        /* Negating in uint64 and converting back is exact for all of int64, INT64_MIN too. */
        int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        if (v >= min && v <= max) {
            *out = v;
            return 0;
        }
    }
    int_range_describe(expected, sizeof expected, min, max);
    return type_fail(n, err, expected);
}

int slic_yaml_as_uint64(const slic_yaml_node *n, uint64_t min, uint64_t max, uint64_t *out,
                        struct slic_errmsg *err)
{
    char expected[96];
    bool neg = false;
    uint64_t v = 0;
    if (n->kind == SLIC_YAML_SCALAR && uint_parse(n->text, false, &neg, &v) && v >= min &&
        v <= max) {
        *out = v;
        return 0;
    }
    if (min == 0 && max == UINT64_MAX)
        snprintf(expected, sizeof expected, "a non-negative integer");
    else if (max == UINT64_MAX)
        snprintf(expected, sizeof expected, "an integer of at least %llu", (unsigned long long)min);
    else
        snprintf(expected, sizeof expected, "an integer from %llu to %llu", (unsigned long long)min,
                 (unsigned long long)max);
    return type_fail(n, err, expected);
}

/* The shortest of %.15g and %.17g that reads back as the same double. */
static void double_format(char *buf, size_t size, double v)
{
    snprintf(buf, size, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, size, "%.17g", v);
}

/* strtod also takes hex floats, "inf" and "nan", and leading spaces; a config number is
 * plain decimal, so anything else is refused before strtod sees it. */
static bool double_parse(const char *s, double *out)
{
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

int slic_yaml_as_double(const slic_yaml_node *n, double min, double max, double *out,
                        struct slic_errmsg *err)
{
    double v = 0;
    if (n->kind == SLIC_YAML_SCALAR && double_parse(n->text, &v) && v >= min && v <= max) {
        *out = v;
        return 0;
    }
    char expected[128], lo[32], hi[32];
    double_format(lo, sizeof lo, min);
    double_format(hi, sizeof hi, max);
    bool has_lo = isfinite(min) && min > -DBL_MAX, has_hi = isfinite(max) && max < DBL_MAX;
    if (has_lo && has_hi)
        snprintf(expected, sizeof expected, "a number from %s to %s", lo, hi);
    else if (has_lo)
        snprintf(expected, sizeof expected, "a number of at least %s", lo);
    else if (has_hi)
        snprintf(expected, sizeof expected, "a number of at most %s", hi);
    else
        snprintf(expected, sizeof expected, "a number");
    return type_fail(n, err, expected);
}

int slic_yaml_as_duration(const slic_yaml_node *n, double min_s, double max_s, double *out,
                          struct slic_errmsg *err)
{
    double v = 0;
    if (n->kind != SLIC_YAML_SCALAR || slic_duration_parse(n->text, &v) < 0)
        return type_fail(n, err, "a duration like 10s or 1m");
    if (v >= min_s && v <= max_s) {
        *out = v;
        return 0;
    }
    char expected[96], lo[SLIC_DURATION_FMT_LEN], hi[SLIC_DURATION_FMT_LEN];
    bool has_lo = min_s > 0 && slic_duration_format(min_s, lo, sizeof lo) == 0;
    bool has_hi = slic_duration_format(max_s, hi, sizeof hi) == 0;
    if (has_lo && has_hi)
        snprintf(expected, sizeof expected, "a duration from %s to %s", lo, hi);
    else if (has_hi)
        snprintf(expected, sizeof expected, "a duration of at most %s", hi);
    else
        snprintf(expected, sizeof expected, "a duration of at least %s", has_lo ? lo : "0s");
    return type_fail(n, err, expected);
}

struct size_unit {
    const char *name;
    uint64_t mult;
};

static const struct size_unit size_units[] = {
    {"pib", UINT64_C(1) << 50},
    {"tib", UINT64_C(1) << 40},
    {"gib", UINT64_C(1) << 30},
    {"mib", UINT64_C(1) << 20},
    {"kib", UINT64_C(1) << 10},
    {"pb", UINT64_C(1000000000000000)},
    {"tb", UINT64_C(1000000000000)},
    {"gb", UINT64_C(1000000000)},
    {"mb", UINT64_C(1000000)},
    {"kb", UINT64_C(1000)},
    {"b", 1},
    {"", 1},
};

/* A size in the largest binary, then decimal, unit that divides it exactly: "512MiB". */
static void size_format(char *buf, size_t size, uint64_t v)
{
    static const char *const names[] = {"PiB", "TiB", "GiB", "MiB", "KiB",
                                        "PB",  "TB",  "GB",  "MB",  "kB"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && v != 0; i++) {
        if (v % size_units[i].mult == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(v / size_units[i].mult), names[i]);
            return;
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)v);
}

int slic_size_parse(const char *s, uint64_t *out)
{
    const char *p = s;
    uint64_t whole = 0, frac = 0, frac_scale = 1;
    bool overflow = false;
    if (!s || *p < '0' || *p > '9')
        return SLIC_EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        overflow |= whole > (UINT64_MAX - d) / 10;
        whole = whole * 10 + d;
    }
    if (*p == '.') {
        /* Up to 18 fraction digits keep frac and frac_scale within uint64. */
        if (*++p < '0' || *p > '9')
            return SLIC_EINVAL;
        for (; *p >= '0' && *p <= '9'; p++, frac_scale *= 10) {
            if (frac_scale == UINT64_C(1000000000000000000))
                return SLIC_EINVAL;
            frac = frac * 10 + (uint64_t)(*p - '0');
        }
    }
    const struct size_unit *u = NULL;
    for (size_t i = 0; i < sizeof size_units / sizeof size_units[0] && !u; i++) {
        if (strcasecmp(p, size_units[i].name) == 0)
            u = &size_units[i];
    }
    if (!u)
        return SLIC_EINVAL;
    if (overflow || (u->mult > 1 && whole > UINT64_MAX / u->mult))
        return SLIC_ERANGE;
    /* frac < 10^18 and mult <= 2^50: the product needs 128 bits; rounded to nearest. */
    __extension__ typedef unsigned __int128 u128;
    uint64_t frac_bytes = (uint64_t)(((u128)frac * u->mult + frac_scale / 2) / frac_scale);
    uint64_t bytes = whole * u->mult;
    if (bytes > UINT64_MAX - frac_bytes)
        return SLIC_ERANGE;
    *out = bytes + frac_bytes;
    return 0;
}

int slic_yaml_as_size(const slic_yaml_node *n, uint64_t min, uint64_t max, uint64_t *out,
                      struct slic_errmsg *err)
{
    uint64_t v = 0;
    if (n->kind != SLIC_YAML_SCALAR || slic_size_parse(n->text, &v) < 0)
        return type_fail(n, err, "a size like 512MiB or 10MB");
    if (v >= min && v <= max) {
        *out = v;
        return 0;
    }
    char expected[96], lo[32], hi[32];
    size_format(lo, sizeof lo, min);
    size_format(hi, sizeof hi, max);
    if (max == UINT64_MAX)
        snprintf(expected, sizeof expected, "a size of at least %s", lo);
    else
        snprintf(expected, sizeof expected, "a size from %s to %s", lo, hi);
    return type_fail(n, err, expected);
}

int slic_yaml_as_strings(const slic_yaml_node *n, const char ***out, size_t *out_n,
                         struct slic_errmsg *err)
{
    if (n->kind != SLIC_YAML_SEQUENCE)
        return type_fail(n, err, "a list of strings");
    const char **v = NULL;
    if (n->n > 0) {
        v = slic_malloc(n->n * sizeof *v);
        if (!v)
            return slic_yaml_error(n, err, SLIC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n->n; i++) {
        int rc = slic_yaml_as_string(n->kids[i], &v[i], err);
        if (rc < 0) {
            slic_free(v);
            return rc;
        }
    }
    *out = v;
    *out_n = n->n;
    return 0;
}

int slic_yaml_as_mapping(const slic_yaml_node *n, struct slic_errmsg *err)
{
    return n->kind == SLIC_YAML_MAPPING ? 0 : type_fail(n, err, "a mapping of key: value");
}

int slic_yaml_as_sequence(const slic_yaml_node *n, struct slic_errmsg *err)
{
    return n->kind == SLIC_YAML_SEQUENCE ? 0 : type_fail(n, err, "a list");
}

/* ---- keyed getters ---- */

/* Finds key's value in map: 0 with *out NULL when absent and optional. */
static int lookup(const slic_yaml_node *map, const char *key, unsigned flags,
                  const slic_yaml_node **out, struct slic_errmsg *err)
{
    int rc = slic_yaml_as_mapping(map, err);
    if (rc < 0)
        return rc;
    const slic_yaml_node *v = slic_yaml_get(map, key);
    if (!v && (flags & SLIC_YAML_REQUIRED)) {
        char path[128];
        slic_yaml_path(map, path, sizeof path);
        return slic_errmsg_set(err, SLIC_EMISSING, "%s:%u: missing required key '%s%s%s'",
                               map->file, map->line, path, path[0] ? "." : "", key);
    }
    *out = v;
    return 0;
}

int slic_yaml_get_string(const slic_yaml_node *map, const char *key, unsigned flags,
                         const char **out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_string(v, out, err);
}

int slic_yaml_get_bool(const slic_yaml_node *map, const char *key, unsigned flags, bool *out,
                       struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_bool(v, out, err);
}

int slic_yaml_get_int64(const slic_yaml_node *map, const char *key, unsigned flags, int64_t min,
                        int64_t max, int64_t *out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_int64(v, min, max, out, err);
}

int slic_yaml_get_uint64(const slic_yaml_node *map, const char *key, unsigned flags, uint64_t min,
                         uint64_t max, uint64_t *out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_uint64(v, min, max, out, err);
}

int slic_yaml_get_double(const slic_yaml_node *map, const char *key, unsigned flags, double min,
                         double max, double *out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_double(v, min, max, out, err);
}

int slic_yaml_get_duration(const slic_yaml_node *map, const char *key, unsigned flags, double min_s,
                           double max_s, double *out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_duration(v, min_s, max_s, out, err);
}

int slic_yaml_get_size(const slic_yaml_node *map, const char *key, unsigned flags, uint64_t min,
                       uint64_t max, uint64_t *out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_size(v, min, max, out, err);
}

int slic_yaml_get_strings(const slic_yaml_node *map, const char *key, unsigned flags,
                          const char ***out, size_t *out_n, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_strings(v, out, out_n, err);
}

int slic_yaml_get_mapping(const slic_yaml_node *map, const char *key, unsigned flags,
                          const slic_yaml_node **out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    if (rc < 0 || !v)
        return rc;
    rc = slic_yaml_as_mapping(v, err);
    if (rc == 0)
        *out = v;
    return rc;
}

int slic_yaml_get_sequence(const slic_yaml_node *map, const char *key, unsigned flags,
                           const slic_yaml_node **out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    if (rc < 0 || !v)
        return rc;
    rc = slic_yaml_as_sequence(v, err);
    if (rc == 0)
        *out = v;
    return rc;
}

/* ---- unknown keys ---- */

#define EDIT_MAX 64

/* Case-insensitive optimal-string-alignment distance (edits: insert, delete, substitute,
 * swap two neighbours), so "Listen", "lisen" and "lsiten" are all near "listen". Keys longer
 * than EDIT_MAX - 1 get SIZE_MAX: no suggestion. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la >= EDIT_MAX || lb >= EDIT_MAX)
        return SIZE_MAX;
    size_t rows[3][EDIT_MAX];
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t v = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
        }
    }
    return rows[la % 3][lb];
}

/* The allowed key nearest to key, if near enough to be a likely typo: at most 1 edit for keys
 * up to 5 characters, 2 for longer ones. */
static const char *closest_key(const char *key, const char *const allowed[])
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; allowed[i]; i++) {
        size_t d = edit_distance(key, allowed[i]);
        size_t limit = strlen(allowed[i]) <= 5 ? 1 : 2;
        if (d <= limit && d < best_d) {
            best = allowed[i];
            best_d = d;
        }
    }
    return best;
}

static int unknown_key_fail(const slic_yaml_node *key, const char *const allowed[],
                            struct slic_errmsg *err)
{
    char path[128];
    slic_yaml_path(key, path, sizeof path);
    const char *near = closest_key(key->text, allowed);
    if (near)
        return slic_errmsg_set(err, SLIC_ECONFIG, "%s:%u: unknown key '%s'; did you mean '%s'?",
                               key->file, key->line, path, near);
    char list[200];
    size_t len = 0;
    list[0] = '\0';
    for (size_t i = 0; allowed[i]; i++) {
        slic__yaml_path_append(list, sizeof list, &len, i ? ", " : "");
        slic__yaml_path_append(list, sizeof list, &len, allowed[i]);
    }
    return slic_errmsg_set(err, SLIC_ECONFIG, "%s:%u: unknown key '%s'; allowed here: %s",
                           key->file, key->line, path, len ? list : "(none)");
}

int slic_yaml_check_keys(const slic_yaml_node *map, const char *const allowed[],
                         struct slic_errmsg *err)
{
    int rc = slic_yaml_as_mapping(map, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const char *k = map->kids[i]->text;
        bool known = false;
        for (size_t j = 0; allowed[j] && !known; j++)
            known = strcmp(k, allowed[j]) == 0;
        if (!known)
            return unknown_key_fail(map->kids[i], allowed, err);
    }
    return 0;
}

int slic_yaml_get_string_copy(const slic_yaml_node *map, const char *key, unsigned flags,
                              char **field, struct slic_errmsg *err)
{
    const char *s = NULL;
    int rc = slic_yaml_get_string(map, key, flags, &s, err);
    if (rc || !s)
        return rc;
    size_t n = strlen(s) + 1;
    char *copy = slic_malloc(n);
    if (!copy)
        return SLIC_ENOMEM;
    memcpy(copy, s, n);
    slic_free(*field);
    *field = copy;
    return 0;
}
