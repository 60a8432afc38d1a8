/* JSON rendering of query replies (see reply_json.h). A small writer tracks commas and carries
 * the first allocation failure along, so the rendering code reads as a list of fields and checks
 * for failure once, at the end. */
#include "reply_json.h"

#include "alloc.h"
#include "timeutil.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the buffer ---------------------------------------------------------------------------- */

/* Room for `extra` more bytes plus the NUL, growing by doubling so appends stay amortised O(1). */
static int buf_grow(struct agg__buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return SLIC_ENOMEM;
    return agg__buf_reserve(b, b->len + extra + 1);
}

int agg__buf_append(struct agg__buf *b, const void *data, size_t n)
{
    if (buf_grow(b, n))
        return SLIC_ENOMEM;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int agg__buf_puts(struct agg__buf *b, const char *s)
{
    return agg__buf_append(b, s, strlen(s));
}

int agg__buf_printf(struct agg__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_grow(b, (size_t)n))
        return SLIC_ENOMEM;
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* ---- values -------------------------------------------------------------------------------- */

size_t agg__utf8_len(const unsigned char *s)
{
    uint32_t cp, min;
    size_t n;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0)
        n = 2, cp = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        n = 3, cp = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        n = 4, cp = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int agg_json_string(struct agg__buf *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = agg__buf_append(out, "\"", 1);
    while (*p && rc == 0) {
        unsigned char c = *p;
        size_t n = 1;
        if (c == '"' || c == '\\')
            rc = agg__buf_printf(out, "\\%c", c);
        else if (c == '\n')
            rc = agg__buf_puts(out, "\\n");
        else if (c == '\t')
            rc = agg__buf_puts(out, "\\t");
        else if (c < 0x20 || c == 0x7f)
            rc = agg__buf_printf(out, "\\u%04x", c);
        else if ((n = agg__utf8_len(p)) == 0)
            rc = agg__buf_puts(out, "\\ufffd"), n = 1;
        else
            rc = agg__buf_append(out, p, n);
        p += n;
    }
    return rc ? rc : agg__buf_append(out, "\"", 1);
}

/* The shortest text that reads back as the same double: "0.999", not "0.99899999999999999". */
static void fmt_double(double d, char *buf, size_t n)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static double ratio(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : NAN;
}

/* ---- the writer (reply_json.h) ------------------------------------------------------------- */

static void jw_put(struct agg__jw *w, const char *s)
{
    if (w->rc == 0)
        w->rc = agg__buf_puts(w->out, s);
}

/* Value writers take the key of the value in an object, or NULL for an element of an array. */
static void jw_begin(struct agg__jw *w, const char *key)
{
    if (w->comma)
        jw_put(w, ",");
    w->comma = false;
    if (key) {
        if (w->rc == 0)
            w->rc = agg_json_string(w->out, key);
        jw_put(w, ":");
    }
}

void agg__jw_open(struct agg__jw *w, const char *key, const char *bracket)
{
    jw_begin(w, key);
    jw_put(w, bracket);
}

void agg__jw_close(struct agg__jw *w, const char *bracket)
{
    jw_put(w, bracket);
    w->comma = true;
}

void agg__jw_raw(struct agg__jw *w, const char *key, const char *text)
{
    jw_begin(w, key);
    jw_put(w, text ? text : "null");
    w->comma = true;
}

void agg__jw_str(struct agg__jw *w, const char *key, const char *s)
{
    if (!s) {
        agg__jw_raw(w, key, NULL);
        return;
    }
    jw_begin(w, key);
    if (w->rc == 0)
        w->rc = agg_json_string(w->out, s);
    w->comma = true;
}

void agg__jw_num(struct agg__jw *w, const char *key, bool has, double d)
{
    char buf[40];
    if (has && isfinite(d))
        fmt_double(d, buf, sizeof buf);
    agg__jw_raw(w, key, has && isfinite(d) ? buf : NULL);
}

void agg__jw_u64(struct agg__jw *w, const char *key, bool has, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    agg__jw_raw(w, key, has ? buf : NULL);
}

static void jw_i64(struct agg__jw *w, const char *key, bool has, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    agg__jw_raw(w, key, has ? buf : NULL);
}

void agg__jw_bool(struct agg__jw *w, const char *key, bool v)
{
    agg__jw_raw(w, key, v ? "true" : "false");
}

/* A time as RFC 3339 under `key` and as Unix seconds under `key`_unix. */
static void jw_time(struct agg__jw *w, const char *key, bool has, int64_t t)
{
    char buf[SLIC_RFC3339_LEN], unix_key[64];
    bool ok = has && slic_rfc3339_format(t, buf, sizeof buf) == 0;
    agg__jw_str(w, key, ok ? buf : NULL);
    snprintf(unix_key, sizeof unix_key, "%s_unix", key);
    jw_i64(w, unix_key, has, t);
}

int agg__jw_end(struct agg__jw *w)
{
    jw_put(w, "\n");
    return w->rc;
}

/* ---- slic query ---------------------------------------------------------------------------- */

static void sli_thresholds(struct agg__jw *w, const Slic__SliResult *s)
{
    char key[40];
    agg__jw_open(w, "under_threshold", "{");
    for (size_t i = 0; i < s->n_thresholds; i++) {
        const Slic__ThresholdFraction *f = s->thresholds[i];
        fmt_double(f->threshold, key, sizeof key);
        agg__jw_open(w, key, "{");
        agg__jw_num(w, "lower", f->has_count_lower, ratio(f->count_lower, s->count));
        agg__jw_num(w, "upper", f->has_count_upper, ratio(f->count_upper, s->count));
        agg__jw_u64(w, "count_lower", f->has_count_lower, f->count_lower);
        agg__jw_u64(w, "count_upper", f->has_count_upper, f->count_upper);
        agg__jw_bool(w, "exact", f->has_exact && f->exact);
        agg__jw_close(w, "}");
    }
    agg__jw_close(w, "}");
}

int agg_reply_json_sli(struct agg__buf *out, const Slic__SliResult *s,
                       const struct agg_reply_scope *sc)
{
    struct agg__jw w = {out, false, 0};
    bool any = s->count > 0; /* min, max and mean of no events are null, not 0 */
    char key[40];
    agg__jw_open(&w, NULL, "{");
    agg__jw_str(&w, "sli", s->sli);
    agg__jw_str(&w, "site", sc->site);
    agg__jw_str(&w, "node", sc->node);
    agg__jw_open(&w, "labels", "{");
    for (size_t i = 0; i < sc->n_labels; i++)
        agg__jw_str(&w, sc->labels[i].key, sc->labels[i].value);
    agg__jw_close(&w, "}");
    jw_time(&w, "from", s->has_from, s->from);
    jw_time(&w, "to", s->has_to, s->to);
    agg__jw_u64(&w, "resolution_seconds", s->has_resolution_seconds, s->resolution_seconds);
    agg__jw_u64(&w, "count", true, s->count);
    agg__jw_u64(&w, "good", true, s->good);
    agg__jw_num(&w, "good_ratio", any, ratio(s->good, s->count));
    agg__jw_num(&w, "sum", true, s->sum);
    agg__jw_num(&w, "min", any && s->has_min, s->min);
    agg__jw_num(&w, "max", any && s->has_max, s->max);
    agg__jw_num(&w, "mean", any, s->sum / (double)s->count);
    agg__jw_open(&w, "quantiles", "{");
    for (size_t i = 0; i < s->n_quantiles; i++) {
        fmt_double(s->quantiles[i]->q, key, sizeof key);
        agg__jw_num(&w, key, s->quantiles[i]->has_value, s->quantiles[i]->value);
    }
    agg__jw_close(&w, "}");
    if (s->n_thresholds > 0)
        sli_thresholds(&w, s);
    agg__jw_bool(&w, "sketch_collapsed",
                 s->latency && s->latency->has_collapsed && s->latency->collapsed);
    agg__jw_close(&w, "}");
    return agg__jw_end(&w);
}

/* ---- slic series and agents ---------------------------------------------------------------- */

int agg_reply_json_series(struct agg__buf *out, Slic__SeriesInfo *const *series, size_t n)
{
    struct agg__jw w = {out, false, 0};
    agg__jw_open(&w, NULL, "[");
    for (size_t i = 0; i < n; i++) {
        const Slic__SeriesInfo *s = series[i];
        agg__jw_open(&w, NULL, "{");
        agg__jw_str(&w, "sli", s->sli);
        agg__jw_open(&w, "sites", "[");
        for (size_t k = 0; k < s->n_sites; k++)
            agg__jw_str(&w, NULL, s->sites[k]);
        agg__jw_close(&w, "]");
        jw_time(&w, "last_data", s->has_last_data, s->last_data);
        agg__jw_close(&w, "}");
    }
    agg__jw_close(&w, "]");
    return agg__jw_end(&w);
}

int agg_reply_json_agents(struct agg__buf *out, Slic__AgentInfo *const *agents, size_t n)
{
    struct agg__jw w = {out, false, 0};
    agg__jw_open(&w, NULL, "[");
    for (size_t i = 0; i < n; i++) {
        const Slic__AgentInfo *a = agents[i];
        agg__jw_open(&w, NULL, "{");
        agg__jw_str(&w, "agent_id", a->agent_id);
        agg__jw_str(&w, "site", a->site);
        agg__jw_str(&w, "node", a->node);
        agg__jw_u64(&w, "epoch", a->has_epoch, a->epoch);
        agg__jw_u64(&w, "last_seq", a->has_last_seq, a->last_seq);
        jw_time(&w, "last_seen", a->has_last_seen, a->last_seen);
        agg__jw_close(&w, "}");
    }
    agg__jw_close(&w, "]");
    return agg__jw_end(&w);
}
