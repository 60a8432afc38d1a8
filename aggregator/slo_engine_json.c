/* /api/v1/slos[/NAME][?site=S]: the SLO engine's latest snapshot as JSON. Each SLO is an object
 * with its definition, the across-sites numbers at the top level and the same numbers per site
 * under "sites" (or, with ?site=S, only that scope's numbers and no "sites"). Numbers that do
 * not exist are null: a time to exhaustion while nothing burns, a value before the first
 * evaluation. Rendering reads one immutable snapshot and never blocks an evaluation. */
#include "slo_engine_int.h"

#include "reply_json.h"
#include "timeutil.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small JSON writer: keyed values separated by commas, the first failure sticks ---- */

struct jw {
    struct agg__buf *out;
    bool comma;
    int rc;
};

static void put(struct jw *w, const char *s)
{
    if (w->rc == 0)
        w->rc = agg__buf_puts(w->out, s);
}

static void key(struct jw *w, const char *k)
{
    if (w->comma)
        put(w, ",");
    w->comma = true;
    if (k && w->rc == 0)
        w->rc = agg_json_string(w->out, k);
    if (k)
        put(w, ":");
}

static void open_(struct jw *w, const char *k, const char *bracket)
{
    key(w, k);
    put(w, bracket);
    w->comma = false;
}

static void close_(struct jw *w, const char *bracket)
{
    put(w, bracket);
    w->comma = true;
}

static void str(struct jw *w, const char *k, const char *s)
{
    key(w, k);
    if (!s)
        put(w, "null");
    else if (w->rc == 0)
        w->rc = agg_json_string(w->out, s);
}

/* The shortest text that reads back as the same double; null for NaN and infinities, which
 * JSON cannot carry. */
static void num(struct jw *w, const char *k, double d)
{
    char buf[40] = "null";
    for (int prec = 15; isfinite(d) && prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    key(w, k);
    put(w, buf);
}

static void u64(struct jw *w, const char *k, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    key(w, k);
    put(w, buf);
}

static void boolean(struct jw *w, const char *k, bool v)
{
    key(w, k);
    put(w, v ? "true" : "false");
}

/* RFC 3339, or null when t is 0 (never). */
static void timestamp(struct jw *w, const char *k, int64_t t)
{
    char buf[SLIC_RFC3339_LEN];
    str(w, k, t != 0 && slic_rfc3339_format(t, buf, sizeof buf) == 0 ? buf : NULL);
}

static void duration(struct jw *w, const char *k, double s)
{
    char buf[SLIC_DURATION_FMT_LEN];
    str(w, k, slic_duration_format(s, buf, sizeof buf) == 0 ? buf : NULL);
}

/* ---- definitions ---- */

static const char *cal_unit_name(enum agg_slo_calendar_unit u)
{
    switch (u) {
    case AGG_SLO_CAL_DAY:
        return "day";
    case AGG_SLO_CAL_WEEK:
        return "week";
    case AGG_SLO_CAL_MONTH:
        return "month";
    case AGG_SLO_CAL_QUARTER:
        return "quarter";
    case AGG_SLO_CAL_YEAR:
        return "year";
    }
    return "unknown";
}

/* The window as defined, and the range the latest evaluation covered (when there is one). */
static void window(struct jw *w, const struct agg_slo_def *d, const struct agg__sloe_scope *sc)
{
    open_(w, "window", "{");
    if (d->window == AGG_SLO_ROLLING) {
        str(w, "kind", "rolling");
        duration(w, "length", d->rolling_s);
    } else {
        char len[64];
        snprintf(len, sizeof len, "%u %s%s", d->cal_count, cal_unit_name(d->cal_unit),
                 d->cal_count == 1 ? "" : "s");
        str(w, "kind", "calendar");
        str(w, "length", len);
        str(w, "time_zone", d->time_zone ? d->time_zone : "UTC");
    }
    const struct agg_slo_window *r = sc->evaluated ? &sc->status.window : NULL;
    timestamp(w, "from", r ? r->from : 0);
    timestamp(w, "to", r ? r->to : 0);
    timestamp(w, "period_start", r ? r->period_start : 0);
    timestamp(w, "period_end", r ? r->period_end : 0);
    close_(w, "}");
}

static void definition(struct jw *w, const struct agg_slo_def *d)
{
    str(w, "name", d->name);
    str(w, "display_name", d->display_name);
    str(w, "description", d->description);
    str(w, "service", d->service);
    str(w, "sli", d->source.sli);
    open_(w, "labels", "{");
    for (size_t i = 0; i < d->source.n_labels; i++)
        str(w, d->source.labels[i].key, d->source.labels[i].value);
    close_(w, "}");
    open_(w, "site_patterns", "[");
    for (size_t i = 0; i < d->source.n_sites; i++)
        str(w, NULL, d->source.sites[i]);
    close_(w, "]");
    str(w, "indicator", agg__sloe_indicator_name(d));
    bool thr = d->indicator == AGG_SLO_THRESHOLD;
    str(w, "op", thr ? (d->op == AGG_SLO_OP_LT ? "lt" : "lte") : NULL);
    num(w, "threshold_seconds", thr ? d->threshold_s : NAN);
    num(w, "target", d->target);
    str(w, "budgeting", agg__sloe_budgeting_name(d));
    bool sliced = d->budgeting != AGG_SLO_OCCURRENCES;
    num(w, "timeslice_target", d->budgeting == AGG_SLO_TIMESLICES ? d->timeslice_target : NAN);
    num(w, "timeslice_window_seconds", sliced ? d->timeslice_window_s : NAN);
    u64(w, "min_events", d->min_events);
    str(w, "runbook_url", d->runbook_url);
    str(w, "file", d->file);
    u64(w, "line", d->line);
}

/* ---- one scope's numbers ---- */

static void burn_rates(struct jw *w, const struct agg_slo_status *st)
{
    open_(w, "burn_rates", "{");
    for (size_t i = 0; i < AGG_SLO_BURN_WINDOWS; i++) {
        char k[SLIC_DURATION_FMT_LEN];
        if (slic_duration_format((double)agg_slo_burn_window_s[i], k, sizeof k) == 0)
            num(w, k, st->burn[i].rate);
    }
    close_(w, "}");
}

static void alerts(struct jw *w, const struct agg_slo_def *d, const struct agg__sloe_scope *sc)
{
    open_(w, "alerts", "[");
    for (size_t i = 0; i < d->n_tiers; i++) {
        const struct agg_slo_tier *t = &d->tiers[i];
        const struct agg_slo_alert *a = i < sc->alerts.n_tiers ? &sc->alerts.tier[i] : NULL;
        bool have = sc->evaluated && i < sc->status.n_tiers;
        open_(w, NULL, "{");
        str(w, "severity", t->severity);
        duration(w, "long_window", t->long_window_s);
        duration(w, "short_window", t->short_window_s);
        num(w, "burn_rate_threshold", t->burn_rate);
        str(w, "state", agg_slo_alert_state_name(a ? a->state : AGG_SLO_ALERT_INACTIVE));
        timestamp(w, "since", a ? a->since : 0);
        num(w, "burn_long", have ? sc->status.tier_long[i].rate : NAN);
        num(w, "burn_short", have ? sc->status.tier_short[i].rate : NAN);
        u64(w, "firings", a ? a->firings : 0);
        close_(w, "}");
    }
    close_(w, "]");
}

static void slices(struct jw *w, const struct agg_slo_status *st)
{
    open_(w, "slices", "{");
    u64(w, "complete", st->slices);
    u64(w, "in_period", st->slices_period);
    u64(w, "empty", st->slices_empty);
    u64(w, "bad_lower", st->slices_bad_lower);
    u64(w, "bad_upper", st->slices_bad_upper);
    close_(w, "}");
}

/* The numbers of one scope, as members of the object being written. value, consumed and the
 * burn rates are the conservative ones (slo.h); value_upper and consumed_lower the optimistic
 * counterparts, equal to them when exact. */
static void scope_numbers(struct jw *w, const struct agg_slo_def *d,
                          const struct agg__sloe_scope *sc)
{
    const struct agg_slo_status *st = &sc->status;
    bool ok = sc->evaluated;
    str(w, "site", sc->site);
    boolean(w, "evaluated", ok);
    timestamp(w, "evaluated_at", ok ? st->now : 0);
    str(w, "error", sc->rc ? sc->error : NULL);
    num(w, "value", ok ? st->sli : NAN);
    num(w, "value_upper", ok ? st->sli_upper : NAN);
    boolean(w, "exact", ok && st->exact);
    open_(w, "events", "{");
    u64(w, "total", ok ? st->total : 0);
    u64(w, "good_lower", ok ? st->good_lower : 0);
    u64(w, "good_upper", ok ? st->good_upper : 0);
    close_(w, "}");
    if (ok && d->budgeting != AGG_SLO_OCCURRENCES)
        slices(w, st);
    num(w, "error_budget", 1.0 - d->target);
    num(w, "consumed", ok ? st->consumed : NAN);
    num(w, "consumed_lower", ok ? st->consumed_lower : NAN);
    num(w, "remaining", ok ? st->remaining : NAN);
    num(w, "time_to_exhaustion_seconds", ok && st->exhausts ? st->exhaustion_s : NAN);
    if (ok)
        burn_rates(w, st);
    else
        str(w, "burn_rates", NULL);
    alerts(w, d, sc);
}

/* ---- documents ---- */

static const struct agg__sloe_scope *scope_of(const struct agg__sloe_result *r, const char *site)
{
    if (!site || strcmp(site, AGG_SLO_ENGINE_ALL_SITES) == 0)
        return &r->all;
    for (size_t i = 0; i < r->n_sites; i++)
        if (strcmp(r->sites[i].site, site) == 0)
            return &r->sites[i];
    return NULL;
}

/* One SLO object: every scope (site NULL) or only `site`. */
static void slo_object(struct jw *w, const struct agg__sloe_result *r, const char *site)
{
    const struct agg__sloe_scope *sc = scope_of(r, site);
    open_(w, NULL, "{");
    definition(w, r->def);
    window(w, r->def, &r->all);
    scope_numbers(w, r->def, sc);
    if (!site) {
        open_(w, "sites", "[");
        for (size_t i = 0; i < r->n_sites; i++) {
            open_(w, NULL, "{");
            scope_numbers(w, r->def, &r->sites[i]);
            close_(w, "}");
        }
        close_(w, "]");
    }
    close_(w, "}");
}

static const struct agg__sloe_result *find(const struct agg__sloe_snap *s, const char *name)
{
    const struct agg_slo_def *d = agg_slo_set_find(s->gen->set, name);
    return d ? &s->results[d - s->gen->set->defs] : NULL;
}

int agg_slo_engine_json(agg_slo_engine *e, const char *name, const char *site, struct agg__buf *out,
                        int *status)
{
    struct agg__sloe_snap *s = agg__sloe_snap_get(e);
    struct jw w = {.out = out};
    *status = 200;
    if (name) {
        const struct agg__sloe_result *r = find(s, name);
        if (!r || !scope_of(r, site)) {
            *status = 404;
            if (r) {
                char msg[2 * SLIC_NAME_MAX + 64];
                snprintf(msg, sizeof msg, "SLO '%s' covers no site '%s'", name, site);
                open_(&w, NULL, "{");
                str(&w, "error", msg);
                close_(&w, "}");
                put(&w, "\n");
            }
        } else {
            slo_object(&w, r, site);
            put(&w, "\n");
        }
    } else {
        open_(&w, NULL, "[");
        for (size_t i = 0; i < s->gen->set->n_defs; i++)
            if (scope_of(&s->results[i], site))
                slo_object(&w, &s->results[i], site);
        close_(&w, "]");
        put(&w, "\n");
    }
    agg__sloe_snap_put(s);
    return w.rc;
}
