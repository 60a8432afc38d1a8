/* JSON of SLO replies (reply_json.h): the one rendering of slic.proto's SloInfo that both
 * `slic slo --json` and GET /api/v1/slos print, so they give the same bytes. The reply may come
 * from the network: every field may be absent (null, or a missing member where a whole part is
 * absent) and strings are escaped by the writer. Numbers that do not exist are null: a time to
 * exhaustion while nothing burns, a value before the first evaluation. */
#include "reply_json.h"

#include "timeutil.h"

#include <stdio.h>
#include <string.h>

/* RFC 3339, or null when absent. */
static void timestamp(struct agg__jw *w, const char *key, bool has, int64_t t)
{
    char buf[SLIC_RFC3339_LEN];
    agg__jw_str(w, key, has && slic_rfc3339_format(t, buf, sizeof buf) == 0 ? buf : NULL);
}

/* "5m", "4w", or null when absent. */
static void duration(struct agg__jw *w, const char *key, bool has, double seconds)
{
    char buf[SLIC_DURATION_FMT_LEN];
    agg__jw_str(w, key, has && slic_duration_format(seconds, buf, sizeof buf) == 0 ? buf : NULL);
}

static bool is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

/* ---- definition ---- */

static void definition(struct agg__jw *w, const Slic__SloInfo *s)
{
    agg__jw_str(w, "name", s->name);
    agg__jw_str(w, "display_name", s->display_name);
    agg__jw_str(w, "description", s->description);
    agg__jw_str(w, "service", s->service);
    agg__jw_str(w, "sli", s->sli);
    agg__jw_open(w, "labels", "{");
    for (size_t i = 0; i < s->n_labels; i++)
        if (s->labels[i]->key) /* an object member needs a name */
            agg__jw_str(w, s->labels[i]->key, s->labels[i]->value);
    agg__jw_close(w, "}");
    agg__jw_open(w, "site_patterns", "[");
    for (size_t i = 0; i < s->n_site_patterns; i++)
        agg__jw_str(w, NULL, s->site_patterns[i]);
    agg__jw_close(w, "]");
    agg__jw_str(w, "indicator", s->indicator);
    agg__jw_str(w, "op", s->op);
    agg__jw_num(w, "threshold_seconds", s->has_threshold_seconds, s->threshold_seconds);
    agg__jw_num(w, "target", s->has_target, s->target);
    agg__jw_str(w, "budgeting", s->budgeting);
    agg__jw_num(w, "timeslice_target", s->has_timeslice_target, s->timeslice_target);
    agg__jw_num(w, "timeslice_window_seconds", s->has_timeslice_window_seconds,
                s->timeslice_window_seconds);
    agg__jw_u64(w, "min_events", s->has_min_events, s->min_events);
    agg__jw_str(w, "runbook_url", s->runbook_url);
    agg__jw_str(w, "file", s->file);
    agg__jw_u64(w, "line", s->has_line, s->line);
}

/* "1 month", "2 weeks". */
static void calendar_length(struct agg__jw *w, const Slic__SloWindow *win)
{
    char len[64];
    bool has = win->has_calendar_count && win->calendar_unit;
    if (has)
        snprintf(len, sizeof len, "%u %.32s%s", (unsigned)win->calendar_count, win->calendar_unit,
                 win->calendar_count == 1 ? "" : "s");
    agg__jw_str(w, "length", has ? len : NULL);
}

static void window(struct agg__jw *w, const Slic__SloWindow *win)
{
    static const Slic__SloWindow none = SLIC__SLO_WINDOW__INIT;
    win = win ? win : &none;
    agg__jw_open(w, "window", "{");
    agg__jw_str(w, "kind", win->kind);
    if (is(win->kind, "calendar")) {
        calendar_length(w, win);
        agg__jw_str(w, "time_zone", win->time_zone);
    } else {
        duration(w, "length", win->has_length_seconds, win->length_seconds);
    }
    timestamp(w, "from", win->has_from, win->from);
    timestamp(w, "to", win->has_to, win->to);
    timestamp(w, "period_start", win->has_period_start, win->period_start);
    timestamp(w, "period_end", win->has_period_end, win->period_end);
    agg__jw_close(w, "}");
}

/* ---- one scope ---- */

static void burn_rates(struct agg__jw *w, const Slic__SloScope *sc)
{
    agg__jw_open(w, "burn_rates", "{");
    for (size_t i = 0; i < sc->n_burn_rates; i++) {
        const Slic__SloBurnRate *b = sc->burn_rates[i];
        char key[SLIC_DURATION_FMT_LEN];
        if (b->has_window_seconds &&
            slic_duration_format((double)b->window_seconds, key, sizeof key) == 0)
            agg__jw_num(w, key, b->has_rate, b->rate);
    }
    agg__jw_close(w, "}");
}

static void alerts(struct agg__jw *w, const Slic__SloScope *sc)
{
    agg__jw_open(w, "alerts", "[");
    for (size_t i = 0; i < sc->n_alerts; i++) {
        const Slic__SloAlert *a = sc->alerts[i];
        agg__jw_open(w, NULL, "{");
        agg__jw_str(w, "severity", a->severity);
        duration(w, "long_window", a->has_long_window_seconds, a->long_window_seconds);
        duration(w, "short_window", a->has_short_window_seconds, a->short_window_seconds);
        agg__jw_num(w, "burn_rate_threshold", a->has_burn_rate_threshold, a->burn_rate_threshold);
        agg__jw_str(w, "state", a->state);
        timestamp(w, "since", a->has_since, a->since);
        agg__jw_num(w, "burn_long", a->has_burn_long, a->burn_long);
        agg__jw_num(w, "burn_short", a->has_burn_short, a->burn_short);
        agg__jw_u64(w, "firings", a->has_firings, a->firings);
        agg__jw_close(w, "}");
    }
    agg__jw_close(w, "]");
}

static void slices(struct agg__jw *w, const Slic__SloSlices *s)
{
    agg__jw_open(w, "slices", "{");
    agg__jw_u64(w, "complete", s->has_complete, s->complete);
    agg__jw_u64(w, "in_period", s->has_in_period, s->in_period);
    agg__jw_u64(w, "empty", s->has_empty, s->empty);
    agg__jw_u64(w, "bad_lower", s->has_bad_lower, s->bad_lower);
    agg__jw_u64(w, "bad_upper", s->has_bad_upper, s->bad_upper);
    agg__jw_close(w, "}");
}

/* The numbers of one scope, as members of the object being written; the error budget comes
 * from the SLO's target. */
static void scope_numbers(struct agg__jw *w, const Slic__SloInfo *slo, const Slic__SloScope *sc)
{
    static const Slic__SloScope none = SLIC__SLO_SCOPE__INIT;
    sc = sc ? sc : &none;
    bool evaluated = sc->has_evaluated && sc->evaluated;
    agg__jw_str(w, "site", sc->site);
    agg__jw_bool(w, "evaluated", evaluated);
    timestamp(w, "evaluated_at", sc->has_evaluated_at, sc->evaluated_at);
    agg__jw_str(w, "error", sc->error);
    agg__jw_num(w, "value", sc->has_value, sc->value);
    agg__jw_num(w, "value_upper", sc->has_value_upper, sc->value_upper);
    agg__jw_bool(w, "exact", sc->has_exact && sc->exact);
    agg__jw_open(w, "events", "{");
    agg__jw_u64(w, "total", sc->has_events_total, sc->events_total);
    agg__jw_u64(w, "good_lower", sc->has_events_good_lower, sc->events_good_lower);
    agg__jw_u64(w, "good_upper", sc->has_events_good_upper, sc->events_good_upper);
    agg__jw_close(w, "}");
    if (sc->slices)
        slices(w, sc->slices);
    agg__jw_num(w, "error_budget", slo->has_target, 1.0 - slo->target);
    agg__jw_num(w, "consumed", sc->has_consumed, sc->consumed);
    agg__jw_num(w, "consumed_lower", sc->has_consumed_lower, sc->consumed_lower);
    agg__jw_num(w, "remaining", sc->has_remaining, sc->remaining);
    agg__jw_num(w, "time_to_exhaustion_seconds", sc->has_time_to_exhaustion_seconds,
                sc->time_to_exhaustion_seconds);
    if (evaluated)
        burn_rates(w, sc);
    else
        agg__jw_raw(w, "burn_rates", NULL);
    alerts(w, sc);
}

/* ---- documents ---- */

static void slo_object(struct agg__jw *w, const Slic__SloInfo *s, bool with_sites)
{
    agg__jw_open(w, NULL, "{");
    definition(w, s);
    window(w, s->window);
    scope_numbers(w, s, s->scope);
    if (with_sites) {
        agg__jw_open(w, "sites", "[");
        for (size_t i = 0; i < s->n_sites; i++) {
            agg__jw_open(w, NULL, "{");
            scope_numbers(w, s, s->sites[i]);
            agg__jw_close(w, "}");
        }
        agg__jw_close(w, "]");
    }
    agg__jw_close(w, "}");
}

int agg_reply_json_slo(struct agg__buf *out, const Slic__SloInfo *slo, bool with_sites)
{
    struct agg__jw w = {.out = out};
    slo_object(&w, slo, with_sites);
    return agg__jw_end(&w);
}

int agg_reply_json_slos(struct agg__buf *out, Slic__SloInfo *const *slos, size_t n, bool with_sites)
{
    struct agg__jw w = {.out = out};
    agg__jw_open(&w, NULL, "[");
    for (size_t i = 0; i < n; i++)
        slo_object(&w, slos[i], with_sites);
    agg__jw_close(&w, "]");
    return agg__jw_end(&w);
}
