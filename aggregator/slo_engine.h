/* The SLO engine: holds the loaded SLO definitions (openslo.h) and evaluates each of them
 * (slo.h) from the store, per site and across all its sites, on its own thread every
 * evaluate_interval and at once after a reload. It keeps the latest status and the alert states
 * of every (SLO, scope), serves them to the HTTP side (/api/v1/slos JSON, SLO families on
 * /metrics, through agg_http_hooks) and tells the nng server which latency thresholds agents
 * should count exactly.
 *
 * Scopes. An SLO's sites are the sites holding its SLI (agg_store_list_series) that match its
 * site patterns ('*' matches any run of characters; no patterns: every site). The across-sites
 * scope is named "*" in JSON and metric labels: '*' is never part of a site name, so it cannot
 * be mistaken for one. Without site patterns it reads the store's across-sites rollups (one
 * series per labelset); with patterns it adds up the matching sites.
 *
 * Concurrency. Definitions and results are immutable snapshots shared by reference count: a
 * reader (HTTP request, ack) takes the current one under a short lock and never waits for an
 * evaluation. One evaluation runs at a time. Every function here is thread-safe. */
#ifndef SLIC_AGG_SLO_ENGINE_H
#define SLIC_AGG_SLO_ENGINE_H

#include "batch.h"
#include "err.h"
#include "http.h"
#include "openslo.h"
#include "slo.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct agg_slo_engine agg_slo_engine;

/* The name of the across-sites scope in JSON and metric labels. */
#define AGG_SLO_ENGINE_ALL_SITES "*"

#define AGG_SLO_ENGINE_DEFAULT_INTERVAL_S 10.0

/* One alert tier of one SLO in one scope that is firing or has fired (inactive tiers are left
 * out), as handed to on_alerts. Strings are borrowed for the duration of the call. */
struct agg_slo_engine_alert {
    const char *slo;
    const char *site; /* NULL: across sites */
    const char *severity;
    double long_window_s;
    double short_window_s;
    double burn_rate; /* the tier's threshold */
    double long_rate; /* burn rates at the latest evaluation */
    double short_rate;
    double budget_remaining;
    const char *runbook_url; /* NULL: none */
    enum agg_slo_alert_state state;
    int64_t fired_at;    /* start of the latest firing */
    int64_t resolved_at; /* end of the latest firing; 0 while firing */
};

struct agg_slo_engine_options {
    double evaluate_interval_s; /* 0: AGG_SLO_ENGINE_DEFAULT_INTERVAL_S */
    /* Wall clock, Unix seconds (tests fake it); NULL: time(). */
    int64_t (*clock)(void *ctx);
    void *clock_ctx;
    /* Called on the evaluating thread after every cycle with every firing or resolved alert of
     * every SLO and scope (e.g. for agg_alertpush_update). Must not call back into the engine.
     * NULL: none. */
    void (*on_alerts)(void *ctx, const struct agg_slo_engine_alert *alerts, size_t n);
    void *on_alerts_ctx;
};

void agg_slo_engine_options_default(struct agg_slo_engine_options *o);

/* Takes ownership of set (also on failure; NULL is an empty set) and loads the time zones of
 * its calendar windows. Does not evaluate or start the thread yet. store must outlive the
 * engine. Returns 0; SLIC_EINVAL (a bad interval); SLIC_ECONFIG (a time zone that cannot be
 * loaded: err names the SLO, its file and line); SLIC_ENOMEM. */
int agg_slo_engine_create(agg_store *store, const struct agg_slo_engine_options *opts,
                          struct agg_slo_set *set, agg_slo_engine **out, struct slic_errmsg *err);

/* Starts the evaluating thread; its first cycle runs at once. Returns 0 or -errno. */
int agg_slo_engine_start(agg_slo_engine *e);

/* Stops the thread (waiting for a cycle in progress) and frees everything. References handed
 * out (agg_slo_engine_wanted) must have been released. NULL allowed. */
void agg_slo_engine_destroy(agg_slo_engine *e);

/* Replaces the definitions with set (ownership taken, also on failure) and has the thread
 * evaluate them at once, so a changed threshold or target is re-evaluated over the whole stored
 * history without waiting for the next tick. Alert states carry over for SLOs whose name and
 * evaluated definition (indicator, source, threshold, target, budgeting, window, tiers,
 * min_events) are unchanged; the others start inactive. On failure (a time zone that cannot be
 * loaded: SLIC_ECONFIG with err) the running set stays. evaluate_interval_s > 0 also replaces
 * the interval. */
int agg_slo_engine_reload(agg_slo_engine *e, struct agg_slo_set *set, double evaluate_interval_s,
                          struct slic_errmsg *err);

/* Runs one evaluation cycle of every SLO and scope now, on the calling thread (waiting for a
 * cycle in progress), and publishes it. Failures of single scopes are logged and kept with
 * their scope; returns 0, or SLIC_ESTORE / SLIC_ENOMEM when the store's series cannot even be
 * listed (nothing is published then). */
int agg_slo_engine_evaluate(agg_slo_engine *e);

/* Completed cycles; a test or caller waits for the count to pass a value it saw. */
uint64_t agg_slo_engine_cycles(agg_slo_engine *e);

/* ---- what agents are asked to count ---- */

typedef struct agg_slo_wanted agg_slo_wanted;

/* The latency thresholds, per SLI, of the current definitions (agg_slo_set_thresholds), for
 * every Ack's wanted list: *list and *n stay valid, unchanged, until the returned reference is
 * released, however often the engine reloads meanwhile. e NULL: no list (*list NULL, *n 0),
 * returns NULL. Never fails. */
agg_slo_wanted *agg_slo_engine_wanted(agg_slo_engine *e, const struct slic_sli_thresholds **list,
                                      size_t *n);
/* NULL allowed. */
void agg_slo_wanted_release(agg_slo_wanted *w);

/* ---- replies (slic slo) ---- */

struct Slic__Reply; /* slic.pb-c.h */

/* The Reply to a Query of kind SLOS (slic.proto) from the latest snapshot: every SLO (name
 * NULL) or the one named; every scope (site NULL: SloInfo.scope across sites, SloInfo.sites
 * each site) or only `site` (a site name, or "*" for across sites; then the list holds only the
 * SLOs covering it). An unknown name, or a named SLO not covering `site`, is a reply with
 * status NOT_FOUND and an error naming the SLO and the site. e NULL: no SLOs are loaded (an
 * empty list; NOT_FOUND for a name). The caller has checked name and site (slic_name_valid,
 * or "*"). The reply borrows from the snapshot, whose reference it holds until
 * agg_slo_engine_reply_free. Returns 0 with *out set, or SLIC_ENOMEM. */
int agg_slo_engine_reply(agg_slo_engine *e, const char *name, const char *site,
                         struct Slic__Reply **out);
/* NULL allowed. */
void agg_slo_engine_reply_free(struct Slic__Reply *reply);

/* ---- serving ---- */

/* The hooks the HTTP side calls (http.h): /api/v1/slos[/NAME][?site=S] and the SLO families of
 * /metrics. ctx is e, which must outlive the HTTP server. */
void agg_slo_engine_hooks(agg_slo_engine *e, struct agg_http_hooks *out);

/* Appends the JSON of /api/v1/slos (name NULL: an array of every SLO) or /api/v1/slos/NAME (an
 * object), every scope or only `site` (a site name, or "*" for across sites), then a newline.
 * Per SLO: its definition (name, display_name, service, sli, indicator, target, threshold,
 * budgeting, window), the numbers of the across-sites scope (value, error budget, consumed,
 * remaining, time to exhaustion, burn rates, alerts, exact) and `sites`, the same numbers per
 * site. *status is 404 for an unknown name, or a site the SLO does not cover. Returns 0 or
 * SLIC_ENOMEM. */
int agg_slo_engine_json(agg_slo_engine *e, const char *name, const char *site, struct agg__buf *out,
                        int *status);

/* Appends the SLO metric families (Prometheus text format 0.0.4):
 *   slic_slo_sli{slo,site}                         SLI value over the window (conservative)
 *   slic_slo_target{slo}                           objective
 *   slic_slo_error_budget_remaining{slo,site}      share of the budget left (< 0: overspent)
 *   slic_slo_burn_rate{slo,site,window}            5m 30m 1h 2h 6h 1d 3d
 *   slic_slo_alert{slo,site,severity,long_window,short_window}  1 firing, 0 otherwise
 *   slic_slo_window_events{slo,site}               events in the SLO window
 *   slic_slo_wanted_thresholds{sli}                thresholds agents are asked to count
 *   slic_slo_definitions                           SLOs loaded
 *   slic_slo_evaluation_seconds                    duration of the latest cycle
 *   slic_slo_evaluations_total, slic_slo_evaluation_errors_total
 * site is "*" across sites. Returns 0, SLIC_EINVAL or SLIC_ENOMEM. */
int agg_slo_engine_metrics(agg_slo_engine *e, struct agg__buf *out);

/* ---- burn-down (dashboard) ---- */

/* Appends the JSON of /api/v1/slos/NAME/burndown[?site=S&points=N], then a newline: how the
 * error budget of the SLO's current window was spent in one scope (site NULL or "*": across
 * sites), as a series of at most max_points (AGG_SLO_BURNDOWN_POINTS_MIN..MAX, slo_burndown.h)
 * cumulative points from the window's start to its end, read from the store over the window of
 * the latest evaluation of that scope. Keys: slo, site, budgeting, target, error_budget,
 * evaluated, evaluated_at, error, window {kind, from, to, period_start, period_end},
 * resolution_seconds (the coarsest stored resolution read), consumed and remaining (the
 * evaluation's, which the last point equals), read_consumed (what the store held when read;
 * differs from consumed only when events arrived or expired since the evaluation), and points
 * [{t, consumed, remaining, total, bad, slices (by slices), bad_slices (Timeslices)}] with
 * times in RFC 3339 and counts cumulative (bad: events not surely good). Before the first
 * evaluation of the scope, evaluated is false, times and numbers null and points empty.
 * *status is 404 for an unknown name (nothing appended) or a site the SLO does not cover (an
 * {"error"} body). Returns 0; SLIC_EINVAL (max_points out of range); the store's code when it
 * cannot be read (logged, rate-limited); SLIC_ENOMEM. */
int agg_slo_engine_burndown(agg_slo_engine *e, const char *name, const char *site,
                            size_t max_points, struct agg__buf *out, int *status);

#endif
