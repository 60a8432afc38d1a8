/* One SLO's evaluation in every scope, from the store: the data source the evaluator reads
 * (slo.h: struct agg_slo_data) answered by agg_store_query_slices, the sites an SLO covers,
 * and the alert states carried from one cycle to the next. Runs on the evaluating thread only;
 * what it builds is published by slo_engine.c. */
#include "slo_engine_int.h"

#include "alloc.h"
#include "log.h"
#include "timeutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Where one scope's counts come from: the across-sites rollups (all), or the sum of sites. */
struct source {
    agg_store *st;
    bool all;
    const char *const *sites;
    size_t n_sites;
    struct agg_slice_counts *buf; /* AGG_SLO_SLICES_CHUNK entries, reused by every call */
    struct slic_errmsg why;       /* the store's own account of a failure */
};

static int counts_add(struct agg_slo_counts *acc, const struct agg_slo_def *d,
                      const struct agg_slice_counts *s)
{
    if (acc->total > UINT64_MAX - s->total)
        return SLIC_EOVERFLOW;
    acc->total += s->total;
    if (d->indicator == AGG_SLO_THRESHOLD) {
        acc->good_lower += s->le_lower;
        acc->good_upper += s->le_upper;
        acc->exact = acc->exact && s->le_exact;
    } else {
        acc->good_lower += s->good;
        acc->good_upper += s->good;
    }
    return 0;
}

int agg__sloe_read_slices(agg_store *st, const struct agg_slo_def *d, const char *site,
                          int64_t from, int64_t slice_s, uint32_t res, size_t n,
                          struct agg_slice_counts *buf, struct agg_slo_counts *out,
                          struct slic_errmsg *why)
{
    /* `< t` over values is `<= the largest double below t`, as agg_slo_counts_from_sli has it. */
    double le = NAN;
    if (d->indicator == AGG_SLO_THRESHOLD)
        le = d->op == AGG_SLO_OP_LT ? nextafter(d->threshold_s, 0.0) : d->threshold_s;
    struct agg_query q = {
        .sli = d->source.sli,
        .site = site,
        .matchers = d->source.labels,
        .n_matchers = d->source.n_labels,
        .from = from,
        .resolution_seconds = res,
    };
    int rc = agg_store_query_slices(st, &q, le, slice_s, n, buf, why);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = counts_add(&out[i], d, &buf[i]);
    return rc;
}

static int read_slices(struct source *src, const struct agg_slo_def *d, const char *site,
                       int64_t from, int64_t slice_s, uint32_t res, size_t n,
                       struct agg_slo_counts *out)
{
    return agg__sloe_read_slices(src->st, d, site, from, slice_s, res, n, src->buf, out, &src->why);
}

static int src_slices(void *ctx, const struct agg_slo_def *d, int64_t from, uint32_t slice_s,
                      uint32_t resolution_s, size_t n, struct agg_slo_counts *out)
{
    struct source *src = ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = (struct agg_slo_counts){.exact = true};
    if (src->all)
        return read_slices(src, d, NULL, from, slice_s, resolution_s, n, out);
    int rc = 0;
    for (size_t s = 0; s < src->n_sites && rc == 0; s++)
        rc = read_slices(src, d, src->sites[s], from, slice_s, resolution_s, n, out);
    return rc;
}

/* A range is one slice as long as the range: one pass over it per series, and the same
 * per-record threshold rule as for slices, so Occurrences and Timeslices count alike. */
static int src_counts(void *ctx, const struct agg_slo_def *d, int64_t from, int64_t to,
                      uint32_t resolution_s, struct agg_slo_counts *out)
{
    struct source *src = ctx;
    *out = (struct agg_slo_counts){.exact = true};
    if (src->all)
        return read_slices(src, d, NULL, from, to - from, resolution_s, 1, out);
    int rc = 0;
    for (size_t s = 0; s < src->n_sites && rc == 0; s++)
        rc = read_slices(src, d, src->sites[s], from, to - from, resolution_s, 1, out);
    return rc;
}

/* ---- sites ---- */

bool agg__sloe_site_match(const char *p, const char *s)
{
    /* Greedy matching with one backtrack point, the last '*' seen: enough for '*' alone. */
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static bool covers_every_site(const struct agg_slo_def *d)
{
    for (size_t i = 0; i < d->source.n_sites; i++)
        if (strcmp(d->source.sites[i], "*") == 0)
            return true;
    return d->source.n_sites == 0;
}

static bool site_selected(const struct agg_slo_def *d, const char *site)
{
    for (size_t i = 0; i < d->source.n_sites; i++)
        if (agg__sloe_site_match(d->source.sites[i], site))
            return true;
    return d->source.n_sites == 0;
}

/* The sites of d's SLI that its patterns select, in the list's (sorted) order. Strings point
 * into series. */
static int sites_of(const struct agg_slo_def *d, const struct agg_series_info *series,
                    size_t n_series, const char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    for (size_t i = 0; i < n_series; i++) {
        if (strcmp(series[i].sli, d->source.sli) != 0 || !site_selected(d, series[i].site))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            const char **v = slic_realloc(*out, cap * sizeof *v);
            if (!v) {
                slic_free(*out);
                *out = NULL;
                return SLIC_ENOMEM;
            }
            *out = v;
        }
        (*out)[(*n)++] = series[i].site;
    }
    return 0;
}

/* ---- scopes ---- */

static const struct agg__sloe_scope *prev_site(const struct agg__sloe_result *prev,
                                               const char *site)
{
    size_t lo = 0, hi = prev ? prev->n_sites : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(prev->sites[mid].site, site);
        if (c == 0)
            return &prev->sites[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void log_transitions(const struct agg_slo_def *d, const struct agg__sloe_scope *sc)
{
    for (size_t i = 0; i < sc->alerts.n_tiers; i++) {
        const struct agg_slo_alert *a = &sc->alerts.tier[i];
        const struct agg_slo_tier *t = &d->tiers[i];
        if (!a->changed)
            continue;
        char lw[SLIC_DURATION_FMT_LEN] = "?", sw[SLIC_DURATION_FMT_LEN] = "?";
        slic_duration_format(t->long_window_s, lw, sizeof lw);
        slic_duration_format(t->short_window_s, sw, sizeof sw);
        slic_log(a->state == AGG_SLO_ALERT_FIRING ? SLIC_LOG_WARN : SLIC_LOG_INFO, "slo",
                 "SLO '%s' site %s: %s alert (%s/%s above %gx) %s: burn rate %.3g over %s, %.3g "
                 "over %s",
                 d->name, sc->site, t->severity, lw, sw, t->burn_rate,
                 agg_slo_alert_state_name(a->state), a->long_rate, lw, a->short_rate, sw);
    }
}

static void log_failure(agg_slo_engine *e, const struct agg_slo_def *d,
                        const struct agg__sloe_scope *sc)
{
    char key[2 * SLIC_NAME_MAX + 8];
    uint64_t held = 0;
    snprintf(key, sizeof key, "%.128s@%.128s", d->name, sc->site);
    if (agg_ratelimit_allow(e->log_limit, key, slic_now_unix_ms(), &held))
        SLIC_WARN("slo", "SLO '%s' site %s: evaluation failed: %s [%llu more since the last line]",
                  d->name, sc->site, sc->error, (unsigned long long)held);
}

/* Evaluates one scope; on failure the previous status (of the same definition) stays, marked
 * with the error, and the alert states hold, as agg_slo_alerts_update asks. */
static void eval_scope(agg_slo_engine *e, const struct agg_slo_def *d, const slic_tz *tz,
                       struct source *src, const struct agg__sloe_scope *prev, int64_t now,
                       struct agg__sloe_scope *sc)
{
    if (prev) {
        sc->evaluated = prev->evaluated;
        sc->status = prev->status;
        sc->alerts = prev->alerts;
    } else {
        agg_slo_alerts_init(&sc->alerts);
    }
    struct agg_slo_data data = {.counts = src_counts, .slices = src_slices, .ctx = src};
    struct slic_errmsg err = {{0}};
    struct agg_slo_status st;
    src->why.text[0] = '\0';
    sc->rc = agg_slo_evaluate(d, tz, now, &data, &st, &err);
    if (sc->rc != 0) {
        snprintf(sc->error, sizeof sc->error, "%s%s%s", err.text, src->why.text[0] ? ": " : "",
                 src->why.text);
        atomic_fetch_add(&e->scope_errors, 1);
        log_failure(e, d, sc);
        for (size_t i = 0; i < sc->alerts.n_tiers; i++)
            sc->alerts.tier[i].changed = false;
        return;
    }
    sc->evaluated = true;
    sc->status = st;
    sc->error[0] = '\0';
    agg_slo_alerts_update(&sc->alerts, d, &st, now);
    log_transitions(d, sc);
}

void agg__sloe_result_fini(struct agg__sloe_result *r)
{
    slic_free(r->sites);
    r->sites = NULL;
    r->n_sites = 0;
}

int agg__sloe_eval(agg_slo_engine *e, const struct agg_slo_def *d, const slic_tz *tz,
                   const struct agg__sloe_result *prev, const struct agg_series_info *series,
                   size_t n_series, int64_t now, struct agg__sloe_result *out)
{
    memset(out, 0, sizeof *out);
    out->def = d;
    const char **sites = NULL;
    size_t n_sites = 0;
    struct source src = {.st = e->store};
    int rc = sites_of(d, series, n_series, &sites, &n_sites);
    if (rc == 0 && !(src.buf = slic_malloc(AGG_SLO_SLICES_CHUNK * sizeof *src.buf)))
        rc = SLIC_ENOMEM;
    if (rc == 0 && n_sites && !(out->sites = slic_calloc(n_sites, sizeof *out->sites)))
        rc = SLIC_ENOMEM;
    if (rc != 0) {
        slic_free(sites);
        slic_free(src.buf);
        return rc;
    }
    out->n_sites = n_sites;
    snprintf(out->all.site, sizeof out->all.site, "%s", AGG_SLO_ENGINE_ALL_SITES);
    out->all.all = true;
    src.all = covers_every_site(d);
    src.sites = sites;
    src.n_sites = n_sites;
    eval_scope(e, d, tz, &src, prev ? &prev->all : NULL, now, &out->all);
    for (size_t i = 0; i < n_sites; i++) {
        struct agg__sloe_scope *sc = &out->sites[i];
        snprintf(sc->site, sizeof sc->site, "%s", sites[i]);
        src.all = false;
        src.sites = &sites[i];
        src.n_sites = 1;
        eval_scope(e, d, tz, &src, prev_site(prev, sites[i]), now, sc);
    }
    slic_free(sites);
    slic_free(src.buf);
    return 0;
}

/* ---- definitions compared across a reload ---- */

static bool str_same(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static bool source_same(const struct agg_slo_source *a, const struct agg_slo_source *b)
{
    if (!str_same(a->sli, b->sli) || a->n_sites != b->n_sites || a->n_labels != b->n_labels)
        return false;
    for (size_t i = 0; i < a->n_sites; i++)
        if (!str_same(a->sites[i], b->sites[i]))
            return false;
    for (size_t i = 0; i < a->n_labels; i++)
        if (!str_same(a->labels[i].key, b->labels[i].key) ||
            !str_same(a->labels[i].value, b->labels[i].value))
            return false;
    return true;
}

static bool tiers_same(const struct agg_slo_def *a, const struct agg_slo_def *b)
{
    if (a->n_tiers != b->n_tiers)
        return false;
    for (size_t i = 0; i < a->n_tiers; i++) {
        const struct agg_slo_tier *x = &a->tiers[i], *y = &b->tiers[i];
        if (strcmp(x->severity, y->severity) != 0 || x->long_window_s != y->long_window_s ||
            x->short_window_s != y->short_window_s || x->burn_rate != y->burn_rate ||
            x->alert_after_s != y->alert_after_s)
            return false;
    }
    return true;
}

bool agg__sloe_def_same(const struct agg_slo_def *a, const struct agg_slo_def *b)
{
    return str_same(a->name, b->name) && a->indicator == b->indicator &&
           source_same(&a->source, &b->source) && a->op == b->op &&
           a->threshold_s == b->threshold_s && a->target == b->target &&
           a->budgeting == b->budgeting && a->timeslice_target == b->timeslice_target &&
           a->timeslice_window_s == b->timeslice_window_s && a->window == b->window &&
           a->rolling_s == b->rolling_s && a->cal_unit == b->cal_unit &&
           a->cal_count == b->cal_count && str_same(a->time_zone, b->time_zone) &&
           a->cal_start == b->cal_start && tiers_same(a, b) && a->min_events == b->min_events;
}

/* ---- alerts handed over after a cycle ---- */

static int collect_scope(const struct agg_slo_def *d, const struct agg__sloe_scope *sc,
                         struct agg_slo_engine_alert **v, size_t *n, size_t *cap)
{
    for (size_t i = 0; i < sc->alerts.n_tiers && sc->evaluated; i++) {
        const struct agg_slo_alert *a = &sc->alerts.tier[i];
        if (a->state == AGG_SLO_ALERT_INACTIVE)
            continue;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 16;
            struct agg_slo_engine_alert *p = slic_realloc(*v, c * sizeof *p);
            if (!p)
                return SLIC_ENOMEM;
            *v = p;
            *cap = c;
        }
        const struct agg_slo_tier *t = &d->tiers[i];
        (*v)[(*n)++] = (struct agg_slo_engine_alert){
            .slo = d->name,
            .site = sc->all ? NULL : sc->site,
            .severity = t->severity,
            .long_window_s = t->long_window_s,
            .short_window_s = t->short_window_s,
            .burn_rate = t->burn_rate,
            .long_rate = sc->status.tier_long[i].rate,
            .short_rate = sc->status.tier_short[i].rate,
            .budget_remaining = sc->status.remaining,
            .runbook_url = d->runbook_url,
            .state = a->state,
            .fired_at = a->fired_at,
            .resolved_at = a->resolved_at,
        };
    }
    return 0;
}

void agg__sloe_report_alerts(agg_slo_engine *e, const struct agg__sloe_snap *s)
{
    if (!e->opts.on_alerts)
        return;
    struct agg_slo_engine_alert *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < s->gen->set->n_defs && rc == 0; i++) {
        const struct agg__sloe_result *r = &s->results[i];
        rc = collect_scope(r->def, &r->all, &v, &n, &cap);
        for (size_t j = 0; j < r->n_sites && rc == 0; j++)
            rc = collect_scope(r->def, &r->sites[j], &v, &n, &cap);
    }
    /* A partial set would read as "the others resolved": better to skip this cycle's. */
    if (rc == 0)
        e->opts.on_alerts(e->opts.on_alerts_ctx, v, n);
    else
        SLIC_ERROR("slo", "out of memory handing over alerts; they go out after the next cycle");
    slic_free(v);
}

const char *agg__sloe_indicator_name(const struct agg_slo_def *d)
{
    switch (d->indicator) {
    case AGG_SLO_RATIO_GOOD:
        return "ratio";
    case AGG_SLO_RATIO_BAD:
        return "ratio_bad";
    case AGG_SLO_THRESHOLD:
        return "threshold";
    }
    return "unknown";
}

const char *agg__sloe_budgeting_name(const struct agg_slo_def *d)
{
    switch (d->budgeting) {
    case AGG_SLO_OCCURRENCES:
        return "occurrences";
    case AGG_SLO_TIMESLICES:
        return "timeslices";
    case AGG_SLO_RATIO_TIMESLICES:
        return "ratio_timeslices";
    }
    return "unknown";
}
