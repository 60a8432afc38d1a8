/* The SLO engine's lifecycle (see slo_engine.h): definitions installed as reference-counted
 * generations, results published as reference-counted snapshots, and the thread that runs an
 * evaluation cycle every interval or when a reload kicks it. Readers hold e->mu only to take a
 * reference, so an HTTP request or an ack never waits for a cycle, and a cycle never waits for a
 * slow reader. */
#include "slo_engine_int.h"

#include "alloc.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

void agg_slo_engine_options_default(struct agg_slo_engine_options *o)
{
    memset(o, 0, sizeof *o);
    o->evaluate_interval_s = AGG_SLO_ENGINE_DEFAULT_INTERVAL_S;
}

static int64_t engine_now(const agg_slo_engine *e)
{
    return e->opts.clock ? e->opts.clock(e->opts.clock_ctx) : (int64_t)time(NULL);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* An interval from a day down to a second: shorter would only rescan the same rollups. */
static bool interval_valid(double s)
{
    return s >= 1.0 && s <= 86400.0;
}

/* ---- generations ---- */

void agg__sloe_gen_put(struct agg__sloe_gen *g)
{
    if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    for (size_t i = 0; g->tz && i < g->set->n_defs; i++)
        slic_tz_destroy(g->tz[i]);
    slic_free(g->tz);
    agg_slo_set_destroy(g->set);
    slic_free(g);
}

/* Takes set whatever happens. Time zones are read from disk here, once per load, not per
 * evaluation. */
static int gen_new(struct agg_slo_set *set, struct agg__sloe_gen **out, struct slic_errmsg *err)
{
    struct agg__sloe_gen *g = slic_calloc(1, sizeof *g);
    if (!g) {
        agg_slo_set_destroy(set);
        return SLIC_ENOMEM;
    }
    atomic_init(&g->refs, 1);
    g->set = set;
    int rc = 0;
    if (!g->set && (rc = agg_openslo_load(NULL, 0, &g->set, NULL, err)) != 0) {
        slic_free(g);
        return rc;
    }
    if (g->set->n_defs && !(g->tz = slic_calloc(g->set->n_defs, sizeof *g->tz)))
        rc = SLIC_ENOMEM;
    for (size_t i = 0; rc == 0 && i < g->set->n_defs; i++) {
        struct slic_errmsg why = {{0}};
        const struct agg_slo_def *d = &g->set->defs[i];
        if (agg_slo_tz_load(d, &g->tz[i], &why) != 0)
            rc = slic_errmsg_set(err, SLIC_ECONFIG, "%s:%u: SLO '%s': %s", d->file, d->line,
                                 d->name, why.text);
    }
    if (rc) {
        agg__sloe_gen_put(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* ---- snapshots ---- */

void agg__sloe_snap_put(struct agg__sloe_snap *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; s->results && i < s->gen->set->n_defs; i++)
        agg__sloe_result_fini(&s->results[i]);
    slic_free(s->results);
    agg__sloe_gen_put(s->gen);
    slic_free(s);
}

struct agg__sloe_snap *agg__sloe_snap_get(agg_slo_engine *e)
{
    pthread_mutex_lock(&e->mu);
    struct agg__sloe_snap *s = e->snap;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&e->mu);
    return s;
}

/* A snapshot of g with nothing evaluated yet; takes a reference on g. */
static struct agg__sloe_snap *snap_new(struct agg__sloe_gen *g)
{
    struct agg__sloe_snap *s = slic_calloc(1, sizeof *s);
    size_t n = g->set->n_defs;
    if (!s || (n && !(s->results = slic_calloc(n, sizeof *s->results)))) {
        slic_free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    atomic_fetch_add(&g->refs, 1);
    s->gen = g;
    for (size_t i = 0; i < n; i++) {
        s->results[i].def = &g->set->defs[i];
        strcpy(s->results[i].all.site, AGG_SLO_ENGINE_ALL_SITES);
        s->results[i].all.all = true;
    }
    return s;
}

/* The previous cycle's result of the same SLO, if its definition is unchanged. */
static const struct agg__sloe_result *prev_result(const struct agg__sloe_snap *prev,
                                                  const struct agg_slo_def *d)
{
    const struct agg_slo_def *p = prev ? agg_slo_set_find(prev->gen->set, d->name) : NULL;
    if (!p || !agg__sloe_def_same(p, d))
        return NULL;
    return &prev->results[p - prev->gen->set->defs];
}

/* ---- evaluation cycles ---- */

static void publish(agg_slo_engine *e, struct agg__sloe_snap *s)
{
    pthread_mutex_lock(&e->mu);
    struct agg__sloe_snap *old = e->snap;
    e->snap = s;
    pthread_mutex_unlock(&e->mu);
    agg__sloe_snap_put(old);
}

static int cycle_run(agg_slo_engine *e, struct agg__sloe_gen *g, const struct agg__sloe_snap *prev,
                     struct agg__sloe_snap **out)
{
    struct agg_series_info *series = NULL;
    size_t n_series = 0;
    struct slic_errmsg err = {{0}};
    int rc = agg_store_list_series(e->store, &series, &n_series, &err);
    if (rc) {
        SLIC_ERROR("slo", "cannot list the stored series, SLOs not evaluated: %s", err.text);
        return rc;
    }
    struct agg__sloe_snap *s = snap_new(g);
    if (!s)
        rc = SLIC_ENOMEM;
    int64_t now = engine_now(e);
    for (size_t i = 0; rc == 0 && i < g->set->n_defs; i++) {
        const struct agg_slo_def *d = &g->set->defs[i];
        rc = agg__sloe_eval(e, d, g->tz[i], prev_result(prev, d), series, n_series, now,
                            &s->results[i]);
    }
    slic_free(series);
    if (rc) {
        agg__sloe_snap_put(s);
        SLIC_ERROR("slo", "out of memory evaluating SLOs; the previous results stay");
        return rc;
    }
    s->evaluated_at = now;
    *out = s;
    return 0;
}

int agg_slo_engine_evaluate(agg_slo_engine *e)
{
    pthread_mutex_lock(&e->eval_mu);
    pthread_mutex_lock(&e->mu);
    struct agg__sloe_gen *g = e->gen;
    atomic_fetch_add(&g->refs, 1);
    struct agg__sloe_snap *prev = e->snap;
    atomic_fetch_add(&prev->refs, 1);
    pthread_mutex_unlock(&e->mu);

    uint64_t t0 = mono_ns();
    struct agg__sloe_snap *s = NULL;
    int rc = cycle_run(e, g, prev, &s);
    if (rc == 0) {
        uint64_t ns = mono_ns() - t0;
        atomic_store(&e->last_cycle_ns, ns);
        SLIC_DEBUG("slo", "evaluated %zu SLOs in %.3f ms", g->set->n_defs, (double)ns / 1e6);
        agg__sloe_report_alerts(e, s);
        publish(e, s);
        atomic_fetch_add(&e->cycles, 1);
    }
    agg__sloe_snap_put(prev);
    agg__sloe_gen_put(g);
    pthread_mutex_unlock(&e->eval_mu);
    return rc;
}

uint64_t agg_slo_engine_cycles(agg_slo_engine *e)
{
    return atomic_load(&e->cycles);
}

/* The absolute CLOCK_MONOTONIC time `seconds` from now (the condition variable's clock). */
static struct timespec deadline_in(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double whole = floor(seconds);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((seconds - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Evaluates at once, then every interval, or sooner when kicked; a cycle that overruns the
 * interval is followed by the next straight away rather than piling up. */
static void *engine_thread(void *arg)
{
    agg_slo_engine *e = arg;
    for (;;) {
        agg_slo_engine_evaluate(e);
        pthread_mutex_lock(&e->mu);
        struct timespec until = deadline_in(e->interval_s);
        while (!e->stop && !e->kick && pthread_cond_timedwait(&e->cv, &e->mu, &until) != ETIMEDOUT)
            ;
        bool stop = e->stop;
        e->kick = false;
        pthread_mutex_unlock(&e->mu);
        if (stop)
            return NULL;
    }
}

/* ---- lifecycle ---- */

static int locks_init(agg_slo_engine *e)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return SLIC_ENOMEM;
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return -rc;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->eval_mu, NULL);
    return 0;
}

int agg_slo_engine_create(agg_store *store, const struct agg_slo_engine_options *opts,
                          struct agg_slo_set *set, agg_slo_engine **out, struct slic_errmsg *err)
{
    struct agg_slo_engine_options o;
    if (opts)
        o = *opts;
    else
        agg_slo_engine_options_default(&o);
    if (o.evaluate_interval_s == 0)
        o.evaluate_interval_s = AGG_SLO_ENGINE_DEFAULT_INTERVAL_S;
    if (!interval_valid(o.evaluate_interval_s)) {
        agg_slo_set_destroy(set);
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "SLO evaluate_interval %g s: expected 1 s to 1 day",
                               o.evaluate_interval_s);
    }
    agg_slo_engine *e = slic_calloc(1, sizeof *e);
    if (!e) {
        agg_slo_set_destroy(set);
        return SLIC_ENOMEM;
    }
    e->store = store;
    e->opts = o;
    e->interval_s = o.evaluate_interval_s;
    int rc = locks_init(e);
    if (rc) {
        slic_free(e);
        agg_slo_set_destroy(set);
        return rc;
    }
    if ((rc = gen_new(set, &e->gen, err)) ||
        (rc = agg_ratelimit_create(256, 60000, &e->log_limit)) || !(e->snap = snap_new(e->gen))) {
        agg_slo_engine_destroy(e);
        return rc ? rc : SLIC_ENOMEM;
    }
    *out = e;
    return 0;
}

int agg_slo_engine_start(agg_slo_engine *e)
{
    int rc = pthread_create(&e->thread, NULL, engine_thread, e);
    if (rc != 0)
        return -rc;
    e->started = true;
    return 0;
}

void agg_slo_engine_destroy(agg_slo_engine *e)
{
    if (!e)
        return;
    if (e->started) {
        pthread_mutex_lock(&e->mu);
        e->stop = true;
        pthread_cond_signal(&e->cv);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->thread, NULL);
    }
    agg__sloe_snap_put(e->snap);
    agg__sloe_gen_put(e->gen);
    agg_ratelimit_destroy(e->log_limit);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->eval_mu);
    slic_free(e);
}

int agg_slo_engine_reload(agg_slo_engine *e, struct agg_slo_set *set, double evaluate_interval_s,
                          struct slic_errmsg *err)
{
    if (evaluate_interval_s != 0 && !interval_valid(evaluate_interval_s)) {
        agg_slo_set_destroy(set);
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "SLO evaluate_interval %g s: expected 1 s to 1 day",
                               evaluate_interval_s);
    }
    struct agg__sloe_gen *g = NULL;
    int rc = gen_new(set, &g, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&e->mu);
    struct agg__sloe_gen *old = e->gen;
    e->gen = g;
    if (evaluate_interval_s != 0)
        e->interval_s = evaluate_interval_s;
    e->kick = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    agg__sloe_gen_put(old);
    return 0;
}

/* ---- wanted thresholds ---- */

/* A wanted list is a reference to the generation that holds it. */
agg_slo_wanted *agg_slo_engine_wanted(agg_slo_engine *e, const struct slic_sli_thresholds **list,
                                      size_t *n)
{
    *list = NULL;
    *n = 0;
    if (!e)
        return NULL;
    pthread_mutex_lock(&e->mu);
    struct agg__sloe_gen *g = e->gen;
    atomic_fetch_add(&g->refs, 1);
    pthread_mutex_unlock(&e->mu);
    *list = agg_slo_set_thresholds(g->set, n);
    return (agg_slo_wanted *)g;
}

void agg_slo_wanted_release(agg_slo_wanted *w)
{
    agg__sloe_gen_put((struct agg__sloe_gen *)w);
}

/* ---- HTTP hooks ---- */

static int hook_metrics(void *ctx, struct agg__buf *out)
{
    return agg_slo_engine_metrics(ctx, out);
}

static int hook_slos_json(void *ctx, const char *name, const char *site, struct agg__buf *out,
                          int *status)
{
    return agg_slo_engine_json(ctx, name, site, out, status);
}

static int hook_slo_burndown(void *ctx, const char *name, const char *site, unsigned points,
                             struct agg__buf *out, int *status)
{
    return agg_slo_engine_burndown(ctx, name, site, points, out, status);
}

void agg_slo_engine_hooks(agg_slo_engine *e, struct agg_http_hooks *out)
{
    *out = (struct agg_http_hooks){.metrics = hook_metrics,
                                   .slos_json = hook_slos_json,
                                   .slo_burndown = hook_slo_burndown,
                                   .ctx = e};
}
