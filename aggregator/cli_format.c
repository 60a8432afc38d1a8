/* Printing for the `slic` client (see cli_format.h): values as text for people (latencies in
 * ms, ratios in percent, times in RFC 3339) and a small aligned-table printer. JSON comes from
 * reply_json.c, which the HTTP API shares, so `slic --json` and the API print the same bytes.
 * Everything printed from a reply is treated as untrusted. */
#include "cli_format.h"

#include "reply_json.h"
#include "timeutil.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CELL_MAX 1024
/* Percentages never show more decimals than a double can carry near 100. */
#define PERCENT_DECIMALS_MAX 12

/* ---- values as text ------------------------------------------------------------------------ */

void cli_put_sanitized(FILE *out, const char *s)
{
    for (; s && *s; s++)
        fputc(*s >= 0x20 && *s < 0x7f ? *s : '?', out);
}

/* Milliseconds to 3 significant digits, never in exponent form: "0.0123 ms", "1.23 ms",
 * "123 ms", "1230 ms". Three digits is what a 1 % sketch can vouch for. */
static void fmt_ms(double seconds, char *buf, size_t n)
{
    double ms = seconds * 1000.0;
    if (!isfinite(ms) || ms < 0) {
        snprintf(buf, n, "-");
        return;
    }
    if (ms == 0) {
        snprintf(buf, n, "0 ms");
        return;
    }
    int mag = (int)floor(log10(ms));
    double step = pow(10.0, mag - 2);
    double rounded = round(ms / step) * step;
    mag = (int)floor(log10(rounded)); /* 999.7 rounds up to 1000: one more integer digit */
    snprintf(buf, n, "%.*f ms", mag >= 2 ? 0 : 2 - mag, rounded);
}

/* A threshold as the operator wrote it, in ms at full precision: "300 ms", "75.5 ms". */
static void fmt_threshold(double seconds, char *buf, size_t n)
{
    snprintf(buf, n, "%g ms", seconds * 1000.0);
}

/* A fraction as a percentage with at least 3 decimals, and more near 100 % so that the part
 * missing to 100 % shows two significant digits: 99.900 %, 99.950 %, 99.9950 %. */
void cli_fmt_percent(double frac, char *buf, size_t n)
{
    if (!isfinite(frac)) {
        snprintf(buf, n, "-");
        return;
    }
    double pct = frac * 100.0, rest = 100.0 - pct;
    int decimals = 3;
    if (rest > 0) {
        int want = 1 - (int)floor(log10(rest));
        decimals = want > decimals ? want : decimals;
        decimals = decimals < PERCENT_DECIMALS_MAX ? decimals : PERCENT_DECIMALS_MAX;
    }
    snprintf(buf, n, "%.*f%%", decimals, pct);
}

static double ratio(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : NAN;
}

void cli_fmt_time(bool has, int64_t t, char *buf, size_t n)
{
    if (!has || slic_rfc3339_format(t, buf, n) != 0)
        snprintf(buf, n, "-");
}

void cli_fmt_span(int64_t s, char *buf, size_t n)
{
    if (s < 0)
        snprintf(buf, n, "-");
    else if (s < 60)
        snprintf(buf, n, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(buf, n, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, n, "%" PRId64 "h%" PRId64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, n, "%" PRId64 "d%" PRId64 "h", s / 86400, s % 86400 / 3600);
}

void cli_fmt_age(bool has, int64_t t, int64_t now, char *buf, size_t n)
{
    if (!has || t > now || t < SLIC_TIME_MIN)
        snprintf(buf, n, "-");
    else
        cli_fmt_span(now - t, buf, n);
}

/* "p50", "p99.9", "p100": the quantile as a percentile. */
static void fmt_percentile(double q, char *buf, size_t n)
{
    snprintf(buf, n, "p%.10g", q * 100.0);
}

/* ---- tables -------------------------------------------------------------------------------- */

void cli_table_print(FILE *out, const struct cli_table *t)
{
    size_t width[CLI_TABLE_COLS_MAX] = {0};
    char buf[CELL_MAX];
    for (size_t c = 0; c < t->cols && t->headers; c++)
        width[c] = strlen(t->headers[c]);
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++) {
            t->cell(t->ctx, r, c, buf, sizeof buf);
            size_t w = strlen(buf);
            width[c] = w > width[c] ? w : width[c];
        }
    }
    for (size_t r = t->headers ? 0 : 1; r <= t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++) {
            if (r == 0)
                snprintf(buf, sizeof buf, "%s", t->headers[c]);
            else
                t->cell(t->ctx, r - 1, c, buf, sizeof buf);
            bool last = c + 1 == t->cols, right = t->right && t->right[c];
            int pad = (int)(width[c] - strlen(buf));
            if (right)
                fprintf(out, "%*s", pad, "");
            cli_put_sanitized(out, buf);
            if (!last)
                fprintf(out, "%*s  ", right ? 0 : pad, "");
        }
        fputc('\n', out);
    }
}

/* ---- JSON ---------------------------------------------------------------------------------- */

int cli_put_json(FILE *out, struct agg__buf *b, int rc)
{
    if (rc == 0)
        fwrite(b->p, 1, b->len, out);
    else
        fprintf(stderr, "slic: cannot format the answer as JSON: %s\n", slic_strerror(rc));
    agg__buf_fini(b);
    return rc;
}

/* ---- rows prepared up front ---------------------------------------------------------------- */

static void rows_cell(const void *ctx, size_t row, size_t col, char *buf, size_t size)
{
    snprintf(buf, size, "%s", ((const struct cli_rows *)ctx)->cell[row][col]);
}

char (*cli_rows_add(struct cli_rows *r))[CLI_ROW_CELL]
{
    if (r->n >= CLI_ROWS_MAX)
        return NULL;
    memset(r->cell[r->n], 0, sizeof r->cell[r->n]);
    return r->cell[r->n++];
}

void cli_kv(struct cli_rows *r, const char *key, const char *fmt, ...)
{
    char(*row)[CLI_ROW_CELL] = cli_rows_add(r);
    if (!row)
        return;
    snprintf(row[0], CLI_ROW_CELL, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row[1], CLI_ROW_CELL, fmt, ap);
    va_end(ap);
}

void cli_rows_print(FILE *out, const struct cli_rows *r, size_t cols, const char *const *headers,
                    const bool *right)
{
    struct cli_table t = {cols, headers, right, r->n, rows_cell, r};
    cli_table_print(out, &t);
}

/* ---- slic query ---------------------------------------------------------------------------- */

static void fmt_scope(const struct cli_sli_scope *sc, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "%s %s",
                                   sc->site   ? "site"
                                   : sc->node ? "node"
                                              : "all",
                                   sc->site   ? sc->site
                                   : sc->node ? sc->node
                                              : "sites");
    for (size_t i = 0; i < sc->n_labels && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s=%s", i ? "," : ", labels ",
                                 sc->labels[i].key, sc->labels[i].value);
}

static void fmt_range(const Slic__SliResult *s, char *buf, size_t n)
{
    char from[SLIC_RFC3339_LEN], to[SLIC_RFC3339_LEN], len[SLIC_DURATION_FMT_LEN];
    char res[SLIC_DURATION_FMT_LEN];
    cli_fmt_time(s->has_from, s->from, from, sizeof from);
    cli_fmt_time(s->has_to, s->to, to, sizeof to);
    if (!s->has_from || !s->has_to || s->to < s->from ||
        slic_duration_format((double)s->to - (double)s->from, len, sizeof len) != 0)
        snprintf(len, sizeof len, "-");
    if (slic_duration_format(s->resolution_seconds, res, sizeof res) != 0)
        snprintf(res, sizeof res, "-");
    snprintf(buf, n, "%s .. %s (%s at %s resolution)", from, to, len, res);
}

static void sli_summary(FILE *out, const Slic__SliResult *s, const struct cli_sli_scope *sc)
{
    struct cli_rows r = {0};
    char buf[CLI_ROW_CELL];
    bool any = s->count > 0;
    cli_kv(&r, "sli", "%s", s->sli ? s->sli : "-");
    fmt_scope(sc, buf, sizeof buf);
    cli_kv(&r, "scope", "%s", buf);
    fmt_range(s, buf, sizeof buf);
    cli_kv(&r, "range", "%s", buf);
    cli_kv(&r, "count", "%" PRIu64, s->count);
    cli_kv(&r, "good", "%" PRIu64, s->good);
    cli_fmt_percent(ratio(s->good, s->count), buf, sizeof buf);
    cli_kv(&r, "good ratio", "%s", buf);
    fmt_ms(any ? s->sum / (double)s->count : NAN, buf, sizeof buf);
    cli_kv(&r, "mean", "%s", buf);
    fmt_ms(any && s->has_min ? s->min : NAN, buf, sizeof buf);
    cli_kv(&r, "min", "%s", buf);
    fmt_ms(any && s->has_max ? s->max : NAN, buf, sizeof buf);
    cli_kv(&r, "max", "%s", buf);
    cli_rows_print(out, &r, 2, NULL, NULL);
}

static void sli_quantiles(FILE *out, const Slic__SliResult *s)
{
    static const char *const headers[] = {"QUANTILE", "LATENCY"};
    static const bool right[] = {false, true};
    struct cli_rows r = {0};
    for (size_t i = 0; i < s->n_quantiles; i++) {
        char(*row)[CLI_ROW_CELL] = cli_rows_add(&r);
        if (!row)
            break;
        fmt_percentile(s->quantiles[i]->q, row[0], CLI_ROW_CELL);
        fmt_ms(s->quantiles[i]->has_value ? s->quantiles[i]->value : NAN, row[1], CLI_ROW_CELL);
    }
    fputc('\n', out);
    cli_rows_print(out, &r, 2, headers, right);
}

static void sli_thresholds(FILE *out, const Slic__SliResult *s)
{
    static const char *const headers[] = {"THRESHOLD", "AT OR BELOW", "EVENTS"};
    static const bool right[] = {false, true, false};
    struct cli_rows r = {0};
    for (size_t i = 0; i < s->n_thresholds; i++) {
        const Slic__ThresholdFraction *f = s->thresholds[i];
        char(*row)[CLI_ROW_CELL] = cli_rows_add(&r), lo[64], hi[64];
        if (!row)
            break;
        fmt_threshold(f->threshold, row[0], CLI_ROW_CELL);
        cli_fmt_percent(ratio(f->count_lower, s->count), lo, sizeof lo);
        cli_fmt_percent(ratio(f->count_upper, s->count), hi, sizeof hi);
        if (f->count_lower == f->count_upper) {
            snprintf(row[1], CLI_ROW_CELL, "%s", lo);
            snprintf(row[2], CLI_ROW_CELL, "%" PRIu64 "%s", f->count_lower,
                     f->has_exact && f->exact ? " (exact)" : "");
        } else {
            snprintf(row[1], CLI_ROW_CELL, "%s..%s", lo, hi);
            snprintf(row[2], CLI_ROW_CELL, "%" PRIu64 "..%" PRIu64, f->count_lower, f->count_upper);
        }
    }
    fputc('\n', out);
    cli_rows_print(out, &r, 3, headers, right);
}

void cli_print_sli(FILE *out, const Slic__SliResult *s, const struct cli_sli_scope *scope,
                   bool json)
{
    if (json) {
        struct agg__buf b = {0};
        struct agg_reply_scope sc = {scope->site, scope->node, scope->labels, scope->n_labels};
        cli_put_json(out, &b, agg_reply_json_sli(&b, s, &sc));
        return;
    }
    sli_summary(out, s, scope);
    if (s->n_quantiles > 0)
        sli_quantiles(out, s);
    if (s->n_thresholds > 0)
        sli_thresholds(out, s);
    if (s->has_from && s->has_to && s->from == s->to)
        fputs("\nnote: the range lies beyond what the aggregator keeps (retention)\n", out);
    else if (s->count == 0)
        fputs("\nnote: no events in this range\n", out);
    if (s->latency && s->latency->has_collapsed && s->latency->collapsed)
        fputs("\nnote: the latency sketch reached its bucket cap; low quantiles are upper "
              "bounds\n",
              out);
}

/* ---- slic series --------------------------------------------------------------------------- */

struct series_ctx {
    Slic__SeriesInfo *const *series;
    int64_t now;
};

static void series_cell(const void *ctx, size_t row, size_t col, char *buf, size_t size)
{
    const struct series_ctx *c = ctx;
    const Slic__SeriesInfo *s = c->series[row];
    size_t used = 0;
    buf[0] = '\0';
    switch (col) {
    case 0:
        snprintf(buf, size, "%s", s->sli ? s->sli : "-");
        break;
    case 1:
        for (size_t i = 0; i < s->n_sites && used < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "",
                                     s->sites[i] ? s->sites[i] : "-");
        break;
    case 2:
        cli_fmt_time(s->has_last_data, s->last_data, buf, size);
        break;
    default:
        cli_fmt_age(s->has_last_data, s->last_data, c->now, buf, size);
        break;
    }
}

void cli_print_series(FILE *out, Slic__SeriesInfo *const *series, size_t n, int64_t now, bool json)
{
    if (json) {
        struct agg__buf b = {0};
        cli_put_json(out, &b, agg_reply_json_series(&b, series, n));
        return;
    }
    if (n == 0) {
        fputs("no SLIs stored yet\n", out);
        return;
    }
    static const char *const headers[] = {"SLI", "SITES", "LAST DATA", "AGE"};
    static const bool right[] = {false, false, false, true};
    struct series_ctx c = {series, now};
    struct cli_table t = {4, headers, right, n, series_cell, &c};
    cli_table_print(out, &t);
}

/* ---- slic agents --------------------------------------------------------------------------- */

struct agents_ctx {
    Slic__AgentInfo *const *agents;
    int64_t now;
};

static void agents_cell(const void *ctx, size_t row, size_t col, char *buf, size_t size)
{
    const struct agents_ctx *c = ctx;
    const Slic__AgentInfo *a = c->agents[row];
    switch (col) {
    case 0:
        snprintf(buf, size, "%s", a->agent_id ? a->agent_id : "-");
        break;
    case 1:
        snprintf(buf, size, "%s", a->site ? a->site : "-");
        break;
    case 2:
        snprintf(buf, size, "%s", a->node ? a->node : "-");
        break;
    case 3:
    case 4:
        if (col == 3 ? a->has_epoch : a->has_last_seq)
            snprintf(buf, size, "%" PRIu64, col == 3 ? a->epoch : a->last_seq);
        else
            snprintf(buf, size, "-");
        break;
    case 5:
        cli_fmt_time(a->has_last_seen, a->last_seen, buf, size);
        break;
    default:
        cli_fmt_age(a->has_last_seen, a->last_seen, c->now, buf, size);
        break;
    }
}

void cli_print_agents(FILE *out, Slic__AgentInfo *const *agents, size_t n, int64_t now, bool json)
{
    if (json) {
        struct agg__buf b = {0};
        cli_put_json(out, &b, agg_reply_json_agents(&b, agents, n));
        return;
    }
    if (n == 0) {
        fputs("no agents have sent data yet\n", out);
        return;
    }
    static const char *const headers[] = {"AGENT",    "SITE",      "NODE", "EPOCH",
                                          "LAST SEQ", "LAST SEEN", "AGE"};
    static const bool right[] = {false, false, false, true, true, false, true};
    struct agents_ctx c = {agents, now};
    struct cli_table t = {7, headers, right, n, agents_cell, &c};
    cli_table_print(out, &t);
}
