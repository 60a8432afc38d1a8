/* Replies to `slic slo` (Query kind SLOS) from the SLO engine's latest snapshot (see
 * slo_engine.h). The Reply is not a protobuf-c unpacked message: it is the first member of a
 * struct slo_reply that also owns the messages it points at, and every string it points at is
 * borrowed from the snapshot, whose reference the box holds, so one agg_slo_engine_reply_free
 * releases it all. Building reads one immutable snapshot and never blocks an evaluation. */
#include "slo_engine_int.h"

#include "alloc.h"
#include "codec.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The messages of one scope; tiers and burn windows are bounded, so they live in place. */
struct scope_msgs {
    Slic__SloScope scope;
    Slic__SloSlices slices;
    Slic__SloBurnRate burn[AGG_SLO_BURN_WINDOWS];
    Slic__SloBurnRate *burn_ptrs[AGG_SLO_BURN_WINDOWS];
    Slic__SloAlert alerts[AGG_SLO_TIERS_MAX];
    Slic__SloAlert *alert_ptrs[AGG_SLO_TIERS_MAX];
};

/* The messages of one SLO. */
struct slo_msgs {
    Slic__SloInfo info;
    Slic__SloWindow window;
    Slic__Label *labels;
    Slic__Label **label_ptrs;
    struct scope_msgs *scopes; /* [0] is info.scope, then one per site */
    Slic__SloScope **site_ptrs;
};

struct slo_reply {
    Slic__Reply reply; /* what callers see; agg_slo_engine_reply_free finds the box from it */
    char error[3 * SLIC_NAME_MAX];
    struct agg__sloe_snap *snap; /* the strings the reply points at; NULL without an engine */
    struct slo_msgs *slos;
    size_t n_slos;
    Slic__SloInfo **slo_ptrs;
};

static struct slo_reply *box_of(Slic__Reply *reply)
{
    return (struct slo_reply *)(void *)((char *)reply - offsetof(struct slo_reply, reply));
}

static void not_found(struct slo_reply *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void not_found(struct slo_reply *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->error, sizeof b->error, fmt, ap);
    va_end(ap);
    b->reply.status = SLIC__REPLY__STATUS__NOT_FOUND;
    b->reply.error = b->error;
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

/* A time the engine keeps as 0 for "never" is left absent. */
static void set_time(protobuf_c_boolean *has, int64_t *field, int64_t t)
{
    *has = t != 0;
    *field = t;
}

/* The window as defined, and the range `all` (the across-sites scope) evaluated last. */
static void fill_window(Slic__SloWindow *w, const struct agg_slo_def *d,
                        const struct agg__sloe_scope *all)
{
    slic__slo_window__init(w);
    if (d->window == AGG_SLO_ROLLING) {
        w->kind = "rolling";
        w->has_length_seconds = 1;
        w->length_seconds = d->rolling_s;
    } else {
        w->kind = "calendar";
        w->has_calendar_count = 1;
        w->calendar_count = d->cal_count;
        w->calendar_unit = (char *)cal_unit_name(d->cal_unit);
        w->time_zone = d->time_zone ? d->time_zone : "UTC";
    }
    if (!all->evaluated)
        return;
    const struct agg_slo_window *r = &all->status.window;
    set_time(&w->has_from, &w->from, r->from);
    set_time(&w->has_to, &w->to, r->to);
    set_time(&w->has_period_start, &w->period_start, r->period_start);
    set_time(&w->has_period_end, &w->period_end, r->period_end);
}

/* Labels are the one part of a definition without a fixed bound here, so they are allocated. */
static int fill_labels(struct slo_msgs *m, const struct agg_slo_source *src)
{
    m->labels = slic_calloc(src->n_labels + 1, sizeof *m->labels);
    m->label_ptrs = slic_calloc(src->n_labels + 1, sizeof *m->label_ptrs);
    if (!m->labels || !m->label_ptrs)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < src->n_labels; i++) {
        slic__label__init(&m->labels[i]);
        m->labels[i].key = src->labels[i].key;
        m->labels[i].value = src->labels[i].value;
        m->label_ptrs[i] = &m->labels[i];
    }
    m->info.n_labels = src->n_labels;
    m->info.labels = m->label_ptrs;
    return 0;
}

static void fill_definition(Slic__SloInfo *p, const struct agg_slo_def *d)
{
    p->name = d->name;
    p->display_name = d->display_name;
    p->description = d->description;
    p->service = d->service;
    p->sli = d->source.sli;
    p->n_site_patterns = d->source.n_sites;
    p->site_patterns = (char **)d->source.sites;
    p->indicator = (char *)agg__sloe_indicator_name(d);
    if (d->indicator == AGG_SLO_THRESHOLD) {
        p->op = d->op == AGG_SLO_OP_LT ? "lt" : "lte";
        p->has_threshold_seconds = 1;
        p->threshold_seconds = d->threshold_s;
    }
    p->has_target = 1;
    p->target = d->target;
    p->budgeting = (char *)agg__sloe_budgeting_name(d);
    p->has_timeslice_target = d->budgeting == AGG_SLO_TIMESLICES;
    p->timeslice_target = d->timeslice_target;
    p->has_timeslice_window_seconds = d->budgeting != AGG_SLO_OCCURRENCES;
    p->timeslice_window_seconds = d->timeslice_window_s;
    p->has_min_events = 1;
    p->min_events = d->min_events;
    p->runbook_url = d->runbook_url;
    p->file = d->file;
    p->has_line = 1;
    p->line = d->line;
}

/* ---- one scope ---- */

/* Every tier of the definition, inactive where the scope has no state for it yet. */
static void fill_alerts(struct scope_msgs *m, const struct agg_slo_def *d,
                        const struct agg__sloe_scope *sc)
{
    for (size_t i = 0; i < d->n_tiers; i++) {
        const struct agg_slo_tier *t = &d->tiers[i];
        const struct agg_slo_alert *a = i < sc->alerts.n_tiers ? &sc->alerts.tier[i] : NULL;
        Slic__SloAlert *p = &m->alerts[i];
        slic__slo_alert__init(p);
        p->severity = (char *)t->severity;
        p->has_long_window_seconds = p->has_short_window_seconds = 1;
        p->long_window_seconds = t->long_window_s;
        p->short_window_seconds = t->short_window_s;
        p->has_burn_rate_threshold = 1;
        p->burn_rate_threshold = t->burn_rate;
        p->state = (char *)agg_slo_alert_state_name(a ? a->state : AGG_SLO_ALERT_INACTIVE);
        set_time(&p->has_since, &p->since, a ? a->since : 0);
        if (sc->evaluated && i < sc->status.n_tiers) {
            p->has_burn_long = p->has_burn_short = 1;
            p->burn_long = sc->status.tier_long[i].rate;
            p->burn_short = sc->status.tier_short[i].rate;
        }
        p->has_firings = 1;
        p->firings = a ? a->firings : 0;
        m->alert_ptrs[i] = p;
    }
    m->scope.n_alerts = d->n_tiers;
    m->scope.alerts = m->alert_ptrs;
}

static void fill_burn_rates(struct scope_msgs *m, const struct agg_slo_status *st)
{
    for (size_t i = 0; i < AGG_SLO_BURN_WINDOWS; i++) {
        Slic__SloBurnRate *p = &m->burn[i];
        slic__slo_burn_rate__init(p);
        p->has_window_seconds = p->has_rate = 1;
        p->window_seconds = (uint32_t)agg_slo_burn_window_s[i];
        p->rate = st->burn[i].rate;
        m->burn_ptrs[i] = p;
    }
    m->scope.n_burn_rates = AGG_SLO_BURN_WINDOWS;
    m->scope.burn_rates = m->burn_ptrs;
}

static void fill_slices(struct scope_msgs *m, const struct agg_slo_status *st)
{
    Slic__SloSlices *p = &m->slices;
    slic__slo_slices__init(p);
    p->has_complete = p->has_in_period = p->has_empty = p->has_bad_lower = p->has_bad_upper = 1;
    p->complete = st->slices;
    p->in_period = st->slices_period;
    p->empty = st->slices_empty;
    p->bad_lower = st->slices_bad_lower;
    p->bad_upper = st->slices_bad_upper;
    m->scope.slices = p;
}

/* The event counts read 0 before the first evaluation, as /api/v1/slos has always shown them;
 * everything else derived from an evaluation is absent until there is one. */
static void fill_scope(struct scope_msgs *m, const struct agg_slo_def *d,
                       const struct agg__sloe_scope *sc)
{
    Slic__SloScope *p = &m->scope;
    const struct agg_slo_status *st = &sc->status;
    bool ok = sc->evaluated;
    slic__slo_scope__init(p);
    p->site = (char *)sc->site;
    p->has_evaluated = p->has_exact = 1;
    p->evaluated = ok;
    p->exact = ok && st->exact;
    p->error = sc->rc ? (char *)sc->error : NULL;
    p->has_events_total = p->has_events_good_lower = p->has_events_good_upper = 1;
    p->events_total = ok ? st->total : 0;
    p->events_good_lower = ok ? st->good_lower : 0;
    p->events_good_upper = ok ? st->good_upper : 0;
    fill_alerts(m, d, sc);
    if (!ok)
        return;
    set_time(&p->has_evaluated_at, &p->evaluated_at, st->now);
    p->has_value = p->has_value_upper = 1;
    p->value = st->sli;
    p->value_upper = st->sli_upper;
    p->has_consumed = p->has_consumed_lower = p->has_remaining = 1;
    p->consumed = st->consumed;
    p->consumed_lower = st->consumed_lower;
    p->remaining = st->remaining;
    p->has_time_to_exhaustion_seconds = st->exhausts;
    p->time_to_exhaustion_seconds = st->exhaustion_s;
    if (d->budgeting != AGG_SLO_OCCURRENCES)
        fill_slices(m, st);
    fill_burn_rates(m, st);
}

/* ---- SLOs ---- */

/* The scope of r named site: across sites for NULL or "*"; NULL when r does not cover it. */
static const struct agg__sloe_scope *scope_of(const struct agg__sloe_result *r, const char *site)
{
    if (!site || strcmp(site, AGG_SLO_ENGINE_ALL_SITES) == 0)
        return &r->all;
    for (size_t i = 0; i < r->n_sites; i++)
        if (strcmp(r->sites[i].site, site) == 0)
            return &r->sites[i];
    return NULL;
}

/* One SLO with the scope asked (site) or, site NULL, with every scope. */
static int fill_slo(struct slo_msgs *m, const struct agg__sloe_result *r, const char *site)
{
    const struct agg_slo_def *d = r->def;
    size_t n_sites = site ? 0 : r->n_sites;
    slic__slo_info__init(&m->info);
    fill_definition(&m->info, d);
    fill_window(&m->window, d, &r->all);
    m->info.window = &m->window;
    m->scopes = slic_calloc(1 + n_sites, sizeof *m->scopes);
    m->site_ptrs = slic_calloc(n_sites + 1, sizeof *m->site_ptrs);
    if (!m->scopes || !m->site_ptrs)
        return SLIC_ENOMEM;
    fill_scope(&m->scopes[0], d, scope_of(r, site));
    m->info.scope = &m->scopes[0].scope;
    for (size_t i = 0; i < n_sites; i++) {
        fill_scope(&m->scopes[1 + i], d, &r->sites[i]);
        m->site_ptrs[i] = &m->scopes[1 + i].scope;
    }
    m->info.n_sites = n_sites;
    m->info.sites = m->site_ptrs;
    return fill_labels(m, &d->source);
}

/* Adds the results that cover site to the reply, in the snapshot's (name) order. */
static int add_slos(struct slo_reply *b, const struct agg__sloe_result *const *results, size_t n,
                    const char *site)
{
    b->slos = slic_calloc(n + 1, sizeof *b->slos);
    b->slo_ptrs = slic_calloc(n + 1, sizeof *b->slo_ptrs);
    if (!b->slos || !b->slo_ptrs)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!scope_of(results[i], site))
            continue;
        struct slo_msgs *m = &b->slos[b->n_slos++];
        int rc = fill_slo(m, results[i], site);
        if (rc)
            return rc;
        b->slo_ptrs[b->n_slos - 1] = &m->info;
    }
    b->reply.n_slos = b->n_slos;
    b->reply.slos = b->slo_ptrs;
    return 0;
}

static int answer_one(struct slo_reply *b, const char *name, const char *site)
{
    const struct agg__sloe_snap *s = b->snap;
    const struct agg_slo_def *d = s ? agg_slo_set_find(s->gen->set, name) : NULL;
    const struct agg__sloe_result *r = d ? &s->results[d - s->gen->set->defs] : NULL;
    if (!r) {
        not_found(b, "no SLO named '%s'", name);
        return 0;
    }
    if (!scope_of(r, site)) {
        not_found(b, "SLO '%s' covers no site '%s'", name, site);
        return 0;
    }
    return add_slos(b, &r, 1, site);
}

static int answer_all(struct slo_reply *b, const char *site)
{
    const struct agg__sloe_snap *s = b->snap;
    size_t n = s ? s->gen->set->n_defs : 0;
    const struct agg__sloe_result **results = slic_calloc(n + 1, sizeof *results);
    if (!results)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        results[i] = &s->results[i];
    int rc = add_slos(b, results, n, site);
    slic_free(results);
    return rc;
}

int agg_slo_engine_reply(agg_slo_engine *e, const char *name, const char *site, Slic__Reply **out)
{
    struct slo_reply *b = slic_calloc(1, sizeof *b);
    if (!b)
        return SLIC_ENOMEM;
    slic__reply__init(&b->reply);
    b->reply.has_schema_version = b->reply.has_status = 1;
    b->reply.schema_version = CODEC_SCHEMA_VERSION;
    b->reply.status = SLIC__REPLY__STATUS__OK;
    b->snap = e ? agg__sloe_snap_get(e) : NULL;
    int rc = name ? answer_one(b, name, site) : answer_all(b, site);
    if (rc) {
        agg_slo_engine_reply_free(&b->reply);
        return rc;
    }
    *out = &b->reply;
    return 0;
}

void agg_slo_engine_reply_free(Slic__Reply *reply)
{
    if (!reply)
        return;
    struct slo_reply *b = box_of(reply);
    for (size_t i = 0; i < b->n_slos; i++) {
        slic_free(b->slos[i].labels);
        slic_free(b->slos[i].label_ptrs);
        slic_free(b->slos[i].scopes);
        slic_free(b->slos[i].site_ptrs);
    }
    slic_free(b->slos);
    slic_free(b->slo_ptrs);
    agg__sloe_snap_put(b->snap);
    slic_free(b);
}
