/* /api/v1/slos/NAME/burndown: the burn-down series (slo_burndown.h) of one SLO in one scope,
 * read from the store over the window of the engine's latest evaluation of that scope, and
 * pinned to that evaluation's consumed, so the dashboard's chart ends on the number its table
 * shows. Runs on HTTP request threads, holding a snapshot reference (definition, zone, status)
 * and never the engine's locks.
 *
 * The store is read the way the evaluator reads it, so that at rest the series ends on the
 * evaluator's consumed without pinning (read_consumed in the JSON says whether it did):
 * budgeting by slices reads the same slices at the same resolution; Occurrences reads the
 * window in pieces aligned to the stored resolutions (slo.c's fetch_aligned), one atom per
 * stored record. The work is one evaluation's reading of one scope, whatever the number of
 * points asked: the window's hours plus at most 2 x (59 + 5) minutes and 10 s records at its
 * ends (or its slices), per series, AGG_SLO_SLICES_CHUNK records per store call. */
#include "slo_engine_int.h"

#include "alloc.h"
#include "log.h"
#include "reply_json.h"
#include "slo_burndown.h"
#include "timeutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The stored resolutions, finest first. */
static const uint32_t resolutions[] = {10, 60, 3600};
#define N_RESOLUTIONS (sizeof resolutions / sizeof resolutions[0])

/* Where one scope's counts come from and where they go. */
struct reader {
    agg_store *st;
    const struct agg_slo_def *d;
    const char **sites; /* summed; a NULL entry reads the across-sites rollups */
    size_t n_sites;
    struct agg_slice_counts *raw;  /* AGG_SLO_SLICES_CHUNK entries */
    struct agg_slo_counts *counts; /* AGG_SLO_SLICES_CHUNK entries */
    struct agg_slo_burndown *b;
    uint32_t resolution; /* the coarsest resolution read, for the JSON */
    struct slic_errmsg why;
};

/* ---- reading ---- */

/* Feeds the builder n consecutive atoms of slice_s seconds from `from`, read at res. */
static int feed_slices(struct reader *r, int64_t from, int64_t slice_s, uint32_t res, uint64_t n)
{
    if (res > r->resolution)
        r->resolution = res;
    int rc = 0;
    for (uint64_t done = 0; done < n && rc == 0;) {
        size_t k = n - done < AGG_SLO_SLICES_CHUNK ? (size_t)(n - done) : AGG_SLO_SLICES_CHUNK;
        int64_t at = from + (int64_t)done * slice_s;
        memset(r->counts, 0, k * sizeof *r->counts);
        for (size_t s = 0; s < r->n_sites && rc == 0; s++)
            rc = agg__sloe_read_slices(r->st, r->d, r->sites[s], at, slice_s, res, k, r->raw,
                                       r->counts, &r->why);
        for (size_t i = 0; i < k && rc == 0; i++)
            rc = agg_slo_burndown_add(r->b, at + (int64_t)i * slice_s,
                                      at + (int64_t)(i + 1) * slice_s, &r->counts[i]);
        done += k;
    }
    return rc;
}

static int64_t floor_to(int64_t t, int64_t step)
{
    return slic_window_align(t, step);
}

static int64_t ceil_to(int64_t t, int64_t step)
{
    int64_t f = slic_window_align(t, step);
    return f == t ? t : f + step;
}

/* Occurrences: [from, to) in the pieces slo.c's fetch_aligned reads (the part on the next
 * coarser grid recursively, the ends at this resolution), one atom per stored record, so the
 * series counts exactly what the evaluator counts. Points can only fall on record boundaries,
 * which is what the coarse resolutions cost: in the middle of a window at most one point per
 * hour (a window of a few hours gets few points there), at the ends one per minute or 10 s.
 * Reading the middle finer to place points evenly was rejected: events an agent sent in windows
 * longer than the finer resolution (its spool merges old windows when near full) are stored
 * only at the coarser ones, and the series would silently lose them. The ends are not widened
 * to whole hours either, which would count events outside the window. */
static int feed_aligned(struct reader *r, int64_t from, int64_t to, size_t level)
{
    int64_t res = resolutions[level];
    int64_t next = level + 1 < N_RESOLUTIONS ? resolutions[level + 1] : 0;
    int64_t a = next ? ceil_to(from, next) : to, z = next ? floor_to(to, next) : to;
    if (a >= z)
        return feed_slices(r, from, res, (uint32_t)res, (uint64_t)((to - from) / res));
    int rc = from < a ? feed_slices(r, from, res, (uint32_t)res, (uint64_t)((a - from) / res)) : 0;
    if (rc == 0)
        rc = feed_aligned(r, a, z, level + 1);
    if (rc == 0 && z < to)
        rc = feed_slices(r, z, res, (uint32_t)res, (uint64_t)((to - z) / res));
    return rc;
}

/* Budgeting by slices: every slice of the window, at the resolution slo.c reads them at (the
 * coarsest that the slice length and the window start are both multiples of). */
static int feed_window_slices(struct reader *r, const struct agg_slo_window *w)
{
    int64_t slice = (int64_t)r->d->timeslice_window_s;
    uint32_t res = resolutions[0];
    for (size_t i = 0; i < N_RESOLUTIONS; i++)
        if (slice % resolutions[i] == 0 && floor_to(w->from, resolutions[i]) == w->from)
            res = resolutions[i];
    return feed_slices(r, w->from, slice, res, (uint64_t)((w->to - w->from) / slice));
}

static int feed_window(struct reader *r, const struct agg_slo_window *w)
{
    if (w->from == w->to)
        return 0;
    if (r->d->budgeting != AGG_SLO_OCCURRENCES)
        return feed_window_slices(r, w);
    return feed_aligned(r, w->from, w->to, 0);
}

/* ---- scopes ---- */

static const struct agg__sloe_scope *scope_of(const struct agg__sloe_result *res, const char *site)
{
    if (!site || strcmp(site, AGG_SLO_ENGINE_ALL_SITES) == 0)
        return &res->all;
    for (size_t i = 0; i < res->n_sites; i++)
        if (strcmp(res->sites[i].site, site) == 0)
            return &res->sites[i];
    return NULL;
}

/* The sites a scope sums, as the evaluator's source has them: one site; or across sites, the
 * across-sites rollups when the SLO covers every site, else the sites its patterns selected. */
static int reader_sites(struct reader *r, const struct agg__sloe_result *res,
                        const struct agg__sloe_scope *sc)
{
    const struct agg_slo_def *d = res->def;
    bool every = d->source.n_sites == 0;
    for (size_t i = 0; i < d->source.n_sites; i++)
        every = every || strcmp(d->source.sites[i], "*") == 0;
    size_t n = !sc->all || every ? 1 : res->n_sites;
    if (n && !(r->sites = slic_calloc(n, sizeof *r->sites)))
        return SLIC_ENOMEM;
    r->n_sites = n;
    if (!sc->all)
        r->sites[0] = sc->site;
    for (size_t i = 0; sc->all && !every && i < n; i++)
        r->sites[i] = res->sites[i].site;
    return 0;
}

/* ---- JSON ---- */

/* RFC 3339, as the rest of the SLO API writes times; null when absent. */
static void timestamp(struct agg__jw *w, const char *key, bool has, int64_t t)
{
    char text[SLIC_RFC3339_LEN];
    agg__jw_str(w, key, has && slic_rfc3339_format(t, text, sizeof text) == 0 ? text : NULL);
}

static void points(struct agg__jw *w, const struct agg_slo_def *d,
                   const struct agg_slo_burndown_point *p, size_t n)
{
    agg__jw_open(w, "points", "[");
    for (size_t i = 0; i < n; i++) {
        agg__jw_open(w, NULL, "{");
        timestamp(w, "t", true, p[i].t);
        agg__jw_num(w, "consumed", true, p[i].consumed);
        agg__jw_num(w, "remaining", true, p[i].remaining);
        agg__jw_u64(w, "total", true, p[i].total);
        agg__jw_u64(w, "bad", true, p[i].total - p[i].good_lower);
        if (d->budgeting != AGG_SLO_OCCURRENCES)
            agg__jw_u64(w, "slices", true, p[i].slices);
        if (d->budgeting == AGG_SLO_TIMESLICES)
            agg__jw_u64(w, "bad_slices", true, p[i].bad_slices);
        agg__jw_close(w, "}");
    }
    agg__jw_close(w, "]");
}

/* The document; no points before the scope's first evaluation. */
static int render(struct agg__buf *out, const struct agg_slo_def *d,
                  const struct agg__sloe_scope *sc, uint32_t resolution,
                  const struct agg_slo_burndown_point *p, size_t n, double read_consumed)
{
    struct agg__jw w = {.out = out};
    const struct agg_slo_status *st = &sc->status;
    bool ok = sc->evaluated;
    agg__jw_open(&w, NULL, "{");
    agg__jw_str(&w, "slo", d->name);
    agg__jw_str(&w, "site", sc->site);
    agg__jw_str(&w, "budgeting", agg__sloe_budgeting_name(d));
    agg__jw_num(&w, "target", true, d->target);
    agg__jw_num(&w, "error_budget", true, 1.0 - d->target);
    agg__jw_bool(&w, "evaluated", ok);
    timestamp(&w, "evaluated_at", ok, st->now);
    agg__jw_str(&w, "error", sc->rc ? sc->error : NULL);
    agg__jw_open(&w, "window", "{");
    agg__jw_str(&w, "kind", d->window == AGG_SLO_ROLLING ? "rolling" : "calendar");
    timestamp(&w, "from", ok, st->window.from);
    timestamp(&w, "to", ok, st->window.to);
    timestamp(&w, "period_start", ok, st->window.period_start);
    timestamp(&w, "period_end", ok, st->window.period_end);
    agg__jw_close(&w, "}");
    agg__jw_u64(&w, "resolution_seconds", resolution > 0, resolution);
    agg__jw_num(&w, "consumed", ok, st->consumed);
    agg__jw_num(&w, "remaining", ok, st->remaining);
    agg__jw_num(&w, "read_consumed", ok, read_consumed);
    points(&w, d, p, n);
    agg__jw_close(&w, "}");
    return agg__jw_end(&w);
}

/* The 404 body for a scope the SLO does not cover. */
static int no_such_site(struct agg__buf *out, const char *name, const char *site)
{
    char msg[2 * SLIC_NAME_MAX + 64];
    struct agg__jw w = {.out = out};
    snprintf(msg, sizeof msg, "SLO '%s' covers no site '%s'", name, site);
    agg__jw_open(&w, NULL, "{");
    agg__jw_str(&w, "error", msg);
    agg__jw_close(&w, "}");
    return agg__jw_end(&w);
}

/* ---- the series ---- */

static void log_failure(agg_slo_engine *e, const struct agg_slo_def *d, const char *site, int rc,
                        const struct reader *r)
{
    char key[2 * SLIC_NAME_MAX + 16];
    uint64_t held = 0;
    snprintf(key, sizeof key, "burndown %.128s@%.128s", d->name, site);
    if (agg_ratelimit_allow(e->log_limit, key, slic_now_unix_ms(), &held))
        SLIC_WARN("slo", "SLO '%s' site %s: no burn-down: %s%s%s [%llu more since the last line]",
                  d->name, site, slic_strerror(rc), r->why.text[0] ? ": " : "", r->why.text,
                  (unsigned long long)held);
}

/* Reads and renders the series of an evaluated scope. */
static int series(agg_slo_engine *e, const struct agg__sloe_result *res,
                  const struct agg__sloe_scope *sc, size_t max_points, struct agg__buf *out)
{
    const struct agg_slo_window *w = &sc->status.window;
    struct agg_slo_burndown b;
    struct reader r = {.st = e->store, .d = res->def, .b = &b};
    const struct agg_slo_burndown_point *p = NULL;
    size_t n = 0;
    int rc = agg_slo_burndown_init(&b, res->def, w, max_points);
    if (rc == 0)
        rc = reader_sites(&r, res, sc);
    if (rc == 0 && (!(r.raw = slic_malloc(AGG_SLO_SLICES_CHUNK * sizeof *r.raw)) ||
                    !(r.counts = slic_malloc(AGG_SLO_SLICES_CHUNK * sizeof *r.counts))))
        rc = SLIC_ENOMEM;
    if (rc == 0)
        rc = feed_window(&r, w);
    if (rc == 0)
        rc = agg_slo_burndown_finish(&b, &p, &n);
    if (rc == 0) {
        double read_consumed = p[n - 1].consumed;
        agg_slo_burndown_pin(&b, sc->status.consumed);
        rc = render(out, res->def, sc, r.resolution, p, n, read_consumed);
    } else if (rc != SLIC_ENOMEM) {
        log_failure(e, res->def, sc->site, rc, &r);
    }
    slic_free(r.raw);
    slic_free(r.counts);
    slic_free(r.sites);
    agg_slo_burndown_fini(&b);
    return rc;
}

int agg_slo_engine_burndown(agg_slo_engine *e, const char *name, const char *site,
                            size_t max_points, struct agg__buf *out, int *status)
{
    if (max_points < AGG_SLO_BURNDOWN_POINTS_MIN || max_points > AGG_SLO_BURNDOWN_POINTS_MAX)
        return SLIC_EINVAL;
    struct agg__sloe_snap *s = agg__sloe_snap_get(e);
    const struct agg_slo_def *d = agg_slo_set_find(s->gen->set, name);
    const struct agg__sloe_result *res = d ? &s->results[d - s->gen->set->defs] : NULL;
    const struct agg__sloe_scope *sc = res ? scope_of(res, site) : NULL;
    int rc = 0;
    *status = 200;
    if (!sc) {
        *status = 404;
        if (res)
            rc = no_such_site(out, name, site);
    } else if (!sc->evaluated) {
        rc = render(out, res->def, sc, 0, NULL, 0, NAN);
    } else {
        rc = series(e, res, sc, max_points, out);
    }
    agg__sloe_snap_put(s);
    return rc;
}
