/* Tables of `slic slo list` and the report of `slic slo show` (cli_format.h). Everything comes
 * from a Reply off the network: absent numbers print as "-", strings only through the table
 * printer, which sanitizes them, and no count or pointer is trusted beyond what protobuf-c
 * guarantees (arrays as long as their counts). */
#include "cli_format.h"

#include "alloc.h"
#include "timeutil.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- values as text ---- */

static bool is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

static void fmt_duration(bool has, double seconds, char *buf, size_t n)
{
    if (!has || slic_duration_format(seconds, buf, n) != 0)
        snprintf(buf, n, "-");
}

/* A target as the operator wrote it: "99.9%". */
static void fmt_target(bool has, double frac, char *buf, size_t n)
{
    if (has && isfinite(frac))
        snprintf(buf, n, "%.10g%%", frac * 100.0);
    else
        snprintf(buf, n, "-");
}

/* A share of the error budget, which may be far past 100 % or negative: "-1702.8%". */
static void fmt_budget(bool has, double frac, char *buf, size_t n)
{
    if (has && isfinite(frac))
        snprintf(buf, n, "%.1f%%", frac * 100.0);
    else
        snprintf(buf, n, "-");
}

static void fmt_rate(bool has, double rate, char *buf, size_t n)
{
    if (has && isfinite(rate))
        snprintf(buf, n, "%.2f", rate);
    else
        snprintf(buf, n, "-");
}

/* What counts as good: "<=300ms", "good". */
static void fmt_good(const Slic__SloInfo *s, char *buf, size_t n)
{
    char thr[SLIC_DURATION_FMT_LEN];
    if (is(s->indicator, "threshold")) {
        fmt_duration(s->has_threshold_seconds, s->threshold_seconds, thr, sizeof thr);
        snprintf(buf, n, "%s%s", is(s->op, "lt") ? "<" : "<=", thr);
    } else {
        snprintf(buf, n, "good");
    }
}

/* What the SLI counts: "threshold: latency <=300ms is good", "ratio: good / total events". */
static void fmt_indicator(const Slic__SloInfo *s, char *buf, size_t n)
{
    char good[64];
    fmt_good(s, good, sizeof good);
    if (is(s->indicator, "threshold"))
        snprintf(buf, n, "threshold: latency %s is good", good);
    else if (is(s->indicator, "ratio"))
        snprintf(buf, n, "ratio: good / total events");
    else if (is(s->indicator, "ratio_bad"))
        snprintf(buf, n, "ratio_bad: (total - bad) / total events");
    else
        snprintf(buf, n, "%s", s->indicator ? s->indicator : "-");
}

/* "99.9% <=300ms", "99% of 1m slices at 95% good", "95% <=100ms, mean of 5m slices". */
static void fmt_objective(const Slic__SloInfo *s, char *buf, size_t n)
{
    char target[32], good[64], slice[SLIC_DURATION_FMT_LEN], slice_target[32];
    fmt_target(s->has_target, s->target, target, sizeof target);
    fmt_good(s, good, sizeof good);
    fmt_duration(s->has_timeslice_window_seconds, s->timeslice_window_seconds, slice, sizeof slice);
    fmt_target(s->has_timeslice_target, s->timeslice_target, slice_target, sizeof slice_target);
    if (is(s->budgeting, "timeslices"))
        snprintf(buf, n, "%s of %s slices at %s %s", target, slice, slice_target, good);
    else if (is(s->budgeting, "ratio_timeslices"))
        snprintf(buf, n, "%s %s, mean of %s slices", target, good, slice);
    else
        snprintf(buf, n, "%s %s", target, good);
}

/* "4w" (rolling), "1 month" (calendar). */
static void fmt_window(const Slic__SloWindow *w, char *buf, size_t n)
{
    if (w && is(w->kind, "calendar") && w->has_calendar_count && w->calendar_unit)
        snprintf(buf, n, "%" PRIu32 " %s%s", w->calendar_count, w->calendar_unit,
                 w->calendar_count == 1 ? "" : "s");
    else
        fmt_duration(w && w->has_length_seconds, w ? w->length_seconds : 0, buf, n);
}

static const Slic__SloBurnRate *burn_over(const Slic__SloScope *sc, uint32_t window_s)
{
    for (size_t i = 0; i < sc->n_burn_rates; i++)
        if (sc->burn_rates[i]->has_window_seconds && sc->burn_rates[i]->window_seconds == window_s)
            return sc->burn_rates[i];
    return NULL;
}

static void fmt_burn_over(const Slic__SloScope *sc, uint32_t window_s, char *buf, size_t n)
{
    const Slic__SloBurnRate *b = burn_over(sc, window_s);
    fmt_rate(b && b->has_rate, b ? b->rate : 0, buf, n);
}

/* "page 1h/5m", the tier's severity and windows. */
static void fmt_tier(const Slic__SloAlert *a, char *buf, size_t n)
{
    char lw[SLIC_DURATION_FMT_LEN], sw[SLIC_DURATION_FMT_LEN];
    fmt_duration(a->has_long_window_seconds, a->long_window_seconds, lw, sizeof lw);
    fmt_duration(a->has_short_window_seconds, a->short_window_seconds, sw, sizeof sw);
    snprintf(buf, n, "%s %s/%s", a->severity ? a->severity : "-", lw, sw);
}

/* The tiers firing, "page 1h/5m, ticket 1d/2h", then whether the latest evaluation failed;
 * "-" when neither. */
static void fmt_firing(const Slic__SloScope *sc, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sc->n_alerts && used < n; i++) {
        char tier[96];
        if (!is(sc->alerts[i]->state, "firing"))
            continue;
        fmt_tier(sc->alerts[i], tier, sizeof tier);
        used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", tier);
    }
    if (sc->error && used < n)
        used += (size_t)snprintf(buf + used, n - used, "%sevaluation failed", used ? "; " : "");
    if (used == 0)
        snprintf(buf, n, "-");
}

/* ---- the numbers of a scope, as table cells ---- */

enum scope_col { COL_VALUE, COL_EVENTS, COL_BUDGET, COL_BURN_1H, COL_BURN_6H, COL_ALERTS };

static void scope_cell(const Slic__SloScope *sc, enum scope_col col, char *buf, size_t n)
{
    switch (col) {
    case COL_VALUE:
        if (sc->has_value)
            cli_fmt_percent(sc->value, buf, n);
        else
            snprintf(buf, n, "-");
        break;
    case COL_EVENTS:
        if (sc->has_events_total)
            snprintf(buf, n, "%" PRIu64, sc->events_total);
        else
            snprintf(buf, n, "-");
        break;
    case COL_BUDGET:
        fmt_budget(sc->has_remaining, sc->remaining, buf, n);
        break;
    case COL_BURN_1H:
        fmt_burn_over(sc, 3600, buf, n);
        break;
    case COL_BURN_6H:
        fmt_burn_over(sc, 6 * 3600, buf, n);
        break;
    case COL_ALERTS:
        fmt_firing(sc, buf, n);
        break;
    }
}

static const Slic__SloScope *scope_or_none(const Slic__SloScope *sc)
{
    static const Slic__SloScope none = SLIC__SLO_SCOPE__INIT;
    return sc ? sc : &none;
}

/* ---- slic slo list ---- */

struct list_row {
    const Slic__SloInfo *slo;
    const Slic__SloScope *scope;
};

struct list_ctx {
    const struct list_row *rows;
    bool site_column;
};

static void list_cell(const void *ctx, size_t row, size_t col, char *buf, size_t size)
{
    static const enum scope_col numbers[] = {COL_EVENTS,  COL_VALUE,   COL_BUDGET,
                                             COL_BURN_1H, COL_BURN_6H, COL_ALERTS};
    const struct list_ctx *c = ctx;
    const Slic__SloInfo *s = c->rows[row].slo;
    const Slic__SloScope *sc = c->rows[row].scope;
    if (!c->site_column && col >= 1)
        col++; /* the same columns, without SITE */
    switch (col) {
    case 0:
        snprintf(buf, size, "%s", s->name ? s->name : "-");
        break;
    case 1:
        snprintf(buf, size, "%s", sc->site ? sc->site : "-");
        break;
    case 2:
        snprintf(buf, size, "%s", s->sli ? s->sli : "-");
        break;
    case 3:
        fmt_objective(s, buf, size);
        break;
    case 4:
        fmt_window(s->window, buf, size);
        break;
    default:
        scope_cell(sc, numbers[col - 5], buf, size);
        break;
    }
}

/* Each SLO's scope, then (per_site) its sites. */
static size_t list_rows(Slic__SloInfo *const *slos, size_t n, bool per_site, struct list_row *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (out)
            out[k] = (struct list_row){slos[i], scope_or_none(slos[i]->scope)};
        k++;
        for (size_t j = 0; per_site && j < slos[i]->n_sites; j++, k++)
            if (out)
                out[k] = (struct list_row){slos[i], slos[i]->sites[j]};
    }
    return k;
}

int cli_print_slo_list(FILE *out, Slic__SloInfo *const *slos, size_t n, const char *site,
                       bool per_site)
{
    static const char *const headers[] = {"SLO",     "SITE",    "SLI",       "OBJECTIVE",
                                          "WINDOW",  "EVENTS",  "SLI VALUE", "BUDGET LEFT",
                                          "BURN 1H", "BURN 6H", "ALERTS"};
    static const bool right[] = {false, false, false, false, false, true,
                                 true,  true,  true,  true,  false};
    size_t rows = list_rows(slos, n, per_site, NULL);
    struct list_row *r = slic_calloc(rows + 1, sizeof *r);
    if (!r) {
        fputs("slic: out of memory\n", stderr);
        return SLIC_ENOMEM;
    }
    list_rows(slos, n, per_site, r);
    struct list_ctx c = {r, per_site || site};
    /* Without the SITE column, the headers and alignments skip its entry. */
    const char *hdr[CLI_TABLE_COLS_MAX];
    bool rt[CLI_TABLE_COLS_MAX];
    size_t cols = 0;
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        if (i == 1 && !c.site_column)
            continue;
        hdr[cols] = headers[i];
        rt[cols++] = right[i];
    }
    struct cli_table t = {cols, hdr, rt, rows, list_cell, &c};
    cli_table_print(out, &t);
    slic_free(r);
    return 0;
}

/* ---- slic slo show ---- */

static void show_definition(struct cli_rows *r, const Slic__SloInfo *s)
{
    char buf[CLI_ROW_CELL], win[64];
    size_t used = 0;
    cli_kv(r, "slo", "%s", s->name ? s->name : "-");
    if (s->display_name)
        cli_kv(r, "display name", "%s", s->display_name);
    if (s->service)
        cli_kv(r, "service", "%s", s->service);
    if (s->description)
        cli_kv(r, "description", "%s", s->description);
    used = (size_t)snprintf(buf, sizeof buf, "%s", s->sli ? s->sli : "-");
    for (size_t i = 0; i < s->n_labels && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s=%s", i ? "," : ", labels ",
                                 s->labels[i]->key ? s->labels[i]->key : "-",
                                 s->labels[i]->value ? s->labels[i]->value : "");
    cli_kv(r, "sli", "%s", buf);
    used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_site_patterns && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? ", " : "",
                                 s->site_patterns[i]);
    cli_kv(r, "sites", "%s", used ? buf : "every site");
    fmt_indicator(s, buf, sizeof buf);
    cli_kv(r, "indicator", "%s", buf);
    fmt_objective(s, buf, sizeof buf);
    cli_kv(r, "objective", "%s (%s)", buf, s->budgeting ? s->budgeting : "-");
    fmt_window(s->window, win, sizeof win);
    if (s->window && is(s->window->kind, "calendar"))
        cli_kv(r, "window", "calendar, %s in %s", win,
               s->window->time_zone ? s->window->time_zone : "-");
    else
        cli_kv(r, "window", "rolling, %s", win);
    if (s->has_min_events)
        cli_kv(r, "min events", "%" PRIu64 " in an alert's long window", s->min_events);
    if (s->runbook_url)
        cli_kv(r, "runbook", "%s", s->runbook_url);
    if (s->file)
        cli_kv(r, "defined at", "%s:%" PRIu32, s->file, s->has_line ? s->line : 0);
}

static void show_range(struct cli_rows *r, const Slic__SloWindow *w)
{
    char from[SLIC_RFC3339_LEN], to[SLIC_RFC3339_LEN];
    if (!w)
        return;
    cli_fmt_time(w->has_from, w->from, from, sizeof from);
    cli_fmt_time(w->has_to, w->to, to, sizeof to);
    cli_kv(r, "range", "%s .. %s", from, to);
    if (!is(w->kind, "calendar"))
        return;
    cli_fmt_time(w->has_period_start, w->period_start, from, sizeof from);
    cli_fmt_time(w->has_period_end, w->period_end, to, sizeof to);
    cli_kv(r, "period", "%s .. %s", from, to);
}

/* "28800 total, 14411 good (exact)" or "28800 total, 14400..14420 good". */
static void show_events(struct cli_rows *r, const Slic__SloScope *sc)
{
    char good[64];
    if (sc->events_good_lower == sc->events_good_upper)
        snprintf(good, sizeof good, "%" PRIu64 " good%s", sc->events_good_lower,
                 sc->has_exact && sc->exact ? " (exact)" : "");
    else
        snprintf(good, sizeof good, "%" PRIu64 "..%" PRIu64 " good", sc->events_good_lower,
                 sc->events_good_upper);
    cli_kv(r, "events", "%" PRIu64 " total, %s", sc->events_total, good);
    const Slic__SloSlices *sl = sc->slices;
    if (!sl)
        return;
    char bad[48];
    if (sl->bad_lower == sl->bad_upper)
        snprintf(bad, sizeof bad, "%" PRIu64, sl->bad_lower);
    else
        snprintf(bad, sizeof bad, "%" PRIu64 "..%" PRIu64, sl->bad_lower, sl->bad_upper);
    cli_kv(r, "slices",
           "%" PRIu64 " complete of %" PRIu64 " in the period, %" PRIu64 " empty, %s bad",
           sl->complete, sl->in_period, sl->empty, bad);
}

/* SLI value and budget, with the optimistic bound where it differs. */
static void show_budget(struct cli_rows *r, const Slic__SloInfo *s, const Slic__SloScope *sc)
{
    char v[48], hi[48], budget[48];
    cli_fmt_percent(sc->has_value ? sc->value : NAN, v, sizeof v);
    cli_fmt_percent(sc->has_value_upper ? sc->value_upper : NAN, hi, sizeof hi);
    bool bounded = sc->has_value_upper && sc->value_upper != sc->value;
    cli_kv(r, "sli value", "%s%s%s%s", v, bounded ? " (up to " : "", bounded ? hi : "",
           bounded ? ")" : "");
    cli_fmt_percent(s->has_target ? 1.0 - s->target : NAN, budget, sizeof budget);
    cli_kv(r, "error budget", "%s", budget);
    fmt_budget(sc->has_consumed, sc->consumed, v, sizeof v);
    fmt_budget(sc->has_consumed_lower, sc->consumed_lower, hi, sizeof hi);
    bounded = sc->has_consumed_lower && sc->consumed_lower != sc->consumed;
    cli_kv(r, "consumed", "%s of the budget%s%s%s", v, bounded ? " (at least " : "",
           bounded ? hi : "", bounded ? ")" : "");
    fmt_budget(sc->has_remaining, sc->remaining, v, sizeof v);
    cli_kv(r, "remaining", "%s", v);
    double t = sc->time_to_exhaustion_seconds;
    if (!sc->has_time_to_exhaustion_seconds)
        cli_kv(r, "exhausted in", "%s",
               sc->has_evaluated && sc->evaluated ? "never at the 1h burn rate (it burns nothing)"
                                                  : "-");
    else if (!(t > 0))
        cli_kv(r, "exhausted in", "already spent");
    else if (t < 1e15) {
        cli_fmt_span((int64_t)t, v, sizeof v);
        cli_kv(r, "exhausted in", "%s at the 1h burn rate", v);
    }
}

static void show_scope(FILE *out, const Slic__SloInfo *s, const Slic__SloScope *sc, int64_t now)
{
    struct cli_rows r = {0};
    char when[SLIC_RFC3339_LEN], age[32];
    bool all = is(sc->site, "*");
    cli_kv(&r, "scope", "%s%s", all ? "all sites" : "site ", all ? "" : sc->site ? sc->site : "-");
    if (sc->has_evaluated && sc->evaluated) {
        cli_fmt_time(sc->has_evaluated_at, sc->evaluated_at, when, sizeof when);
        cli_fmt_age(sc->has_evaluated_at, sc->evaluated_at, now, age, sizeof age);
        cli_kv(&r, "evaluated", "%s (%s ago)", when, age);
    } else {
        cli_kv(&r, "evaluated", "not yet");
    }
    if (sc->error)
        cli_kv(&r, "error", "%s", sc->error);
    show_range(&r, s->window);
    show_events(&r, sc);
    show_budget(&r, s, sc);
    cli_rows_print(out, &r, 2, NULL, NULL);
}

static void burn_cell(const void *ctx, size_t row, size_t col, char *buf, size_t size)
{
    const Slic__SloScope *sc = ctx;
    (void)row;
    if (col == 0)
        snprintf(buf, size, "burn rate");
    else
        fmt_rate(sc->burn_rates[col - 1]->has_rate, sc->burn_rates[col - 1]->rate, buf, size);
}

/* WINDOW 5m 30m ... over one row of rates. */
static void show_burn_rates(FILE *out, const Slic__SloScope *sc)
{
    char names[CLI_TABLE_COLS_MAX][SLIC_DURATION_FMT_LEN];
    const char *headers[CLI_TABLE_COLS_MAX] = {"WINDOW"};
    bool right[CLI_TABLE_COLS_MAX] = {false};
    size_t cols = 1;
    for (; cols < CLI_TABLE_COLS_MAX && cols <= sc->n_burn_rates; cols++) {
        const Slic__SloBurnRate *b = sc->burn_rates[cols - 1];
        fmt_duration(b->has_window_seconds, b->window_seconds, names[cols], sizeof names[cols]);
        headers[cols] = names[cols];
        right[cols] = true;
    }
    if (cols == 1)
        return;
    struct cli_table t = {cols, headers, right, 1, burn_cell, sc};
    fputc('\n', out);
    cli_table_print(out, &t);
}

struct alerts_ctx {
    const Slic__SloScope *scope;
    int64_t now;
};

static void alert_cell(const void *ctx, size_t row, size_t col, char *buf, size_t size)
{
    const struct alerts_ctx *c = ctx;
    const Slic__SloAlert *a = c->scope->alerts[row];
    char tier[96], when[SLIC_RFC3339_LEN], age[32];
    switch (col) {
    case 0:
        fmt_tier(a, tier, sizeof tier);
        snprintf(buf, size, "%s", tier);
        break;
    case 1:
        fmt_rate(a->has_burn_rate_threshold, a->burn_rate_threshold, buf, size);
        break;
    case 2:
        fmt_rate(a->has_burn_long, a->burn_long, buf, size);
        break;
    case 3:
        fmt_rate(a->has_burn_short, a->burn_short, buf, size);
        break;
    case 4:
        snprintf(buf, size, "%s", a->state ? a->state : "-");
        break;
    case 5:
        cli_fmt_time(a->has_since, a->since, when, sizeof when);
        cli_fmt_age(a->has_since, a->since, c->now, age, sizeof age);
        snprintf(buf, size, "%s%s%s%s", when, a->has_since ? " (" : "", a->has_since ? age : "",
                 a->has_since ? " ago)" : "");
        break;
    default:
        if (a->has_firings)
            snprintf(buf, size, "%" PRIu64, a->firings);
        else
            snprintf(buf, size, "-");
        break;
    }
}

static void show_alerts(FILE *out, const Slic__SloScope *sc, int64_t now)
{
    static const char *const headers[] = {"ALERT", "BURN ABOVE", "BURN LONG", "BURN SHORT",
                                          "STATE", "SINCE",      "FIRINGS"};
    static const bool right[] = {false, true, true, true, false, false, true};
    if (sc->n_alerts == 0)
        return;
    struct alerts_ctx c = {sc, now};
    struct cli_table t = {7, headers, right, sc->n_alerts, alert_cell, &c};
    fputc('\n', out);
    cli_table_print(out, &t);
}

static void site_cell(const void *ctx, size_t row, size_t col, char *buf, size_t size)
{
    static const enum scope_col numbers[] = {COL_VALUE,   COL_EVENTS,  COL_BUDGET,
                                             COL_BURN_1H, COL_BURN_6H, COL_ALERTS};
    const Slic__SloInfo *s = ctx;
    const Slic__SloScope *sc = s->sites[row];
    if (col == 0)
        snprintf(buf, size, "%s", sc->site ? sc->site : "-");
    else
        scope_cell(sc, numbers[col - 1], buf, size);
}

static void show_sites(FILE *out, const Slic__SloInfo *s)
{
    static const char *const headers[] = {"SITE",    "SLI VALUE", "EVENTS", "BUDGET LEFT",
                                          "BURN 1H", "BURN 6H",   "ALERTS"};
    static const bool right[] = {false, true, true, true, true, true, false};
    if (s->n_sites == 0)
        return;
    struct cli_table t = {7, headers, right, s->n_sites, site_cell, s};
    fputc('\n', out);
    cli_table_print(out, &t);
}

void cli_print_slo_show(FILE *out, const Slic__SloInfo *slo, int64_t now)
{
    const Slic__SloScope *sc = scope_or_none(slo->scope);
    struct cli_rows r = {0};
    show_definition(&r, slo);
    cli_rows_print(out, &r, 2, NULL, NULL);
    fputc('\n', out);
    show_scope(out, slo, sc, now);
    show_burn_rates(out, sc);
    show_alerts(out, sc, now);
    show_sites(out, slo);
}
