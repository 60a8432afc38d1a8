/* The SLO engine's metric families on /metrics (see slo_engine.h for the list). Every family is
 * written whole, HELP and TYPE first and then a sample per SLO and scope, so the page stays
 * valid for `promtool check metrics` however many SLOs and sites there are. A scope whose
 * latest evaluation failed is left out of the value families rather than shown stale (its
 * failure is counted in slic_slo_evaluation_errors_total); its alert states, which hold through
 * a failure, are still shown. */
#include "slo_engine_int.h"

#include "timeutil.h"

#include <stdio.h>
#include <string.h>

typedef double (*scope_value)(const struct agg_slo_status *st);

static double value_sli(const struct agg_slo_status *st)
{
    return st->sli;
}

static double value_remaining(const struct agg_slo_status *st)
{
    return st->remaining;
}

static double value_events(const struct agg_slo_status *st)
{
    return (double)st->total;
}

static bool scope_current(const struct agg__sloe_scope *sc)
{
    return sc->evaluated && sc->rc == 0;
}

static int scope_sample(struct agg__buf *out, const char *name, const struct agg_slo_def *d,
                        const struct agg__sloe_scope *sc, scope_value f)
{
    if (!scope_current(sc))
        return 0;
    struct slic_label l[2] = {{"slo", d->name}, {"site", (char *)sc->site}};
    return agg_http_prom_sample(out, name, l, 2, f(&sc->status));
}

/* One sample per SLO and scope of f(status). */
static int per_scope(struct agg__buf *out, const struct agg__sloe_snap *s, const char *name,
                     const char *help, scope_value f)
{
    int rc = agg_http_prom_family(out, name, "gauge", help);
    for (size_t i = 0; rc == 0 && i < s->gen->set->n_defs; i++) {
        const struct agg__sloe_result *r = &s->results[i];
        rc = scope_sample(out, name, r->def, &r->all, f);
        for (size_t j = 0; rc == 0 && j < r->n_sites; j++)
            rc = scope_sample(out, name, r->def, &r->sites[j], f);
    }
    return rc;
}

static int burn_samples(struct agg__buf *out, const struct agg_slo_def *d,
                        const struct agg__sloe_scope *sc)
{
    int rc = 0;
    for (size_t i = 0; scope_current(sc) && rc == 0 && i < AGG_SLO_BURN_WINDOWS; i++) {
        char win[SLIC_DURATION_FMT_LEN];
        if (slic_duration_format((double)agg_slo_burn_window_s[i], win, sizeof win) != 0)
            continue;
        struct slic_label l[3] = {{"slo", d->name}, {"site", (char *)sc->site}, {"window", win}};
        rc = agg_http_prom_sample(out, "slic_slo_burn_rate", l, 3, sc->status.burn[i].rate);
    }
    return rc;
}

/* True when an earlier tier has the same labels: a policy listing one condition twice would
 * otherwise make two samples of one series, which the format forbids. */
static bool tier_repeats(const struct agg_slo_def *d, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        const struct agg_slo_tier *a = &d->tiers[i], *b = &d->tiers[j];
        if (strcmp(a->severity, b->severity) == 0 && a->long_window_s == b->long_window_s &&
            a->short_window_s == b->short_window_s)
            return true;
    }
    return false;
}

static int alert_samples(struct agg__buf *out, const struct agg_slo_def *d,
                         const struct agg__sloe_scope *sc)
{
    int rc = 0;
    for (size_t i = 0; sc->evaluated && rc == 0 && i < d->n_tiers; i++) {
        const struct agg_slo_tier *t = &d->tiers[i];
        char lw[SLIC_DURATION_FMT_LEN], sw[SLIC_DURATION_FMT_LEN];
        if (tier_repeats(d, i) || slic_duration_format(t->long_window_s, lw, sizeof lw) != 0 ||
            slic_duration_format(t->short_window_s, sw, sizeof sw) != 0)
            continue;
        struct slic_label l[5] = {{"slo", d->name},
                                  {"site", (char *)sc->site},
                                  {"severity", (char *)t->severity},
                                  {"long_window", lw},
                                  {"short_window", sw}};
        bool firing = i < sc->alerts.n_tiers && sc->alerts.tier[i].state == AGG_SLO_ALERT_FIRING;
        rc = agg_http_prom_sample(out, "slic_slo_alert", l, 5, firing ? 1 : 0);
    }
    return rc;
}

typedef int (*scope_writer)(struct agg__buf *out, const struct agg_slo_def *d,
                            const struct agg__sloe_scope *sc);

static int per_scope_with(struct agg__buf *out, const struct agg__sloe_snap *s, const char *name,
                          const char *help, scope_writer f)
{
    int rc = agg_http_prom_family(out, name, "gauge", help);
    for (size_t i = 0; rc == 0 && i < s->gen->set->n_defs; i++) {
        const struct agg__sloe_result *r = &s->results[i];
        rc = f(out, r->def, &r->all);
        for (size_t j = 0; rc == 0 && j < r->n_sites; j++)
            rc = f(out, r->def, &r->sites[j]);
    }
    return rc;
}

static int targets(struct agg__buf *out, const struct agg__sloe_snap *s)
{
    int rc = agg_http_prom_family(out, "slic_slo_target", "gauge",
                                  "Objective of the SLO: the share of good events (or slices) it "
                                  "promises.");
    for (size_t i = 0; rc == 0 && i < s->gen->set->n_defs; i++) {
        const struct agg_slo_def *d = &s->gen->set->defs[i];
        struct slic_label l = {"slo", d->name};
        rc = agg_http_prom_sample(out, "slic_slo_target", &l, 1, d->target);
    }
    return rc;
}

/* The thresholds every Ack asks agents to count, per SLI, from the current definitions. */
static int wanted(agg_slo_engine *e, struct agg__buf *out)
{
    const struct slic_sli_thresholds *list;
    size_t n;
    agg_slo_wanted *ref = agg_slo_engine_wanted(e, &list, &n);
    int rc = agg_http_prom_family(out, "slic_slo_wanted_thresholds", "gauge",
                                  "Latency thresholds of an SLI that acks ask agents to count "
                                  "exactly, for its threshold SLOs.");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct slic_label l = {"sli", list[i].sli};
        rc = agg_http_prom_sample_u64(out, "slic_slo_wanted_thresholds", &l, 1,
                                      list[i].n_thresholds);
    }
    agg_slo_wanted_release(ref);
    return rc;
}

static int engine_health(agg_slo_engine *e, struct agg__buf *out, const struct agg__sloe_snap *s)
{
    int rc;
    if ((rc = agg_http_prom_family(out, "slic_slo_definitions", "gauge",
                                   "SLOs loaded (one per objective).")) ||
        (rc =
             agg_http_prom_sample_u64(out, "slic_slo_definitions", NULL, 0, s->gen->set->n_defs)) ||
        (rc = agg_http_prom_family(out, "slic_slo_evaluation_seconds", "gauge",
                                   "Wall time of the latest evaluation cycle of every SLO and "
                                   "scope.")) ||
        (rc = agg_http_prom_sample(out, "slic_slo_evaluation_seconds", NULL, 0,
                                   (double)atomic_load(&e->last_cycle_ns) / 1e9)) ||
        (rc = agg_http_prom_family(out, "slic_slo_evaluations_total", "counter",
                                   "Evaluation cycles completed.")) ||
        (rc = agg_http_prom_sample_u64(out, "slic_slo_evaluations_total", NULL, 0,
                                       atomic_load(&e->cycles))) ||
        (rc = agg_http_prom_family(out, "slic_slo_evaluation_errors_total", "counter",
                                   "Evaluations of one SLO in one scope that failed (logged).")) ||
        (rc = agg_http_prom_sample_u64(out, "slic_slo_evaluation_errors_total", NULL, 0,
                                       atomic_load(&e->scope_errors))))
        return rc;
    return 0;
}

int agg_slo_engine_metrics(agg_slo_engine *e, struct agg__buf *out)
{
    struct agg__sloe_snap *s = agg__sloe_snap_get(e);
    int rc = per_scope(out, s, "slic_slo_sli",
                       "SLI value over the SLO window (conservative where latencies are known "
                       "only from sketches); site \"*\" is across all sites.",
                       value_sli);
    if (rc == 0)
        rc = targets(out, s);
    if (rc == 0)
        rc = per_scope(out, s, "slic_slo_error_budget_remaining",
                       "Share of the error budget left over the SLO window; negative once "
                       "overspent.",
                       value_remaining);
    if (rc == 0)
        rc = per_scope_with(out, s, "slic_slo_burn_rate",
                            "Error budget burn rate over a trailing window: (bad / total) / "
                            "(1 - target).",
                            burn_samples);
    if (rc == 0)
        rc = per_scope_with(out, s, "slic_slo_alert",
                            "Multi-window burn-rate alert of the SLO: 1 firing, 0 otherwise.",
                            alert_samples);
    if (rc == 0)
        rc = per_scope(out, s, "slic_slo_window_events", "Events in the SLO window.", value_events);
    if (rc == 0)
        rc = wanted(e, out);
    if (rc == 0)
        rc = engine_health(e, out, s);
    agg__sloe_snap_put(s);
    return rc;
}
