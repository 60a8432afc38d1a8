/* Internals shared by the SLO engine's files: slo_engine.c (lifecycle, the thread, snapshots,
 * reload), slo_engine_eval.c (one SLO's evaluation from the store), slo_engine_reply.c (a
 * snapshot as a wire Reply, which slo_engine_json.c renders for HTTP), slo_engine_prom.c
 * (/metrics) and slo_engine_burndown.c (the dashboard's burn-down series). Not for use outside
 * them. */
#ifndef SLIC_AGG_SLO_ENGINE_INT_H
#define SLIC_AGG_SLO_ENGINE_INT_H

#include "ratelimit.h"
#include "slo_engine.h"

#include <pthread.h>
#include <stdatomic.h>

/* One scope of one SLO: a site, or every site of it ("*"). */
struct agg__sloe_scope {
    char site[SLIC_NAME_MAX + 1];
    bool all;
    /* status holds an evaluation: the latest, or, when the latest failed (rc != 0), the one
     * before it of the same definition. */
    bool evaluated;
    int rc;
    char error[2 * sizeof(struct slic_errmsg) + 2]; /* rc != 0: why (evaluator, store) */
    struct agg_slo_status status;
    struct agg_slo_alerts alerts;
};

/* Everything known of one SLO after a cycle. */
struct agg__sloe_result {
    const struct agg_slo_def *def; /* owned by the snapshot's generation */
    struct agg__sloe_scope all;
    struct agg__sloe_scope *sites; /* sorted by site */
    size_t n_sites;
};

/* A set of definitions as installed: immutable, shared by reference. */
struct agg__sloe_gen {
    atomic_uint refs;
    struct agg_slo_set *set;
    slic_tz **tz; /* per definition; NULL = UTC */
};

/* The results of one cycle (or, before the first, of none): immutable once published. */
struct agg__sloe_snap {
    atomic_uint refs;
    struct agg__sloe_gen *gen;
    int64_t evaluated_at;             /* 0: not evaluated yet */
    struct agg__sloe_result *results; /* one per definition of gen, in its (name) order */
};

struct agg_slo_engine {
    agg_store *store;
    struct agg_slo_engine_options opts;

    /* Guards gen, snap, interval_s, kick and stop; held only to swap or take references. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct agg__sloe_gen *gen;
    struct agg__sloe_snap *snap;
    double interval_s;
    bool kick; /* evaluate now (after a reload) */
    bool stop;

    /* One cycle at a time, whether from the thread or agg_slo_engine_evaluate. */
    pthread_mutex_t eval_mu;
    pthread_t thread;
    bool started;
    agg_ratelimit *log_limit; /* evaluation failures: once a minute per SLO and scope */

    _Atomic uint64_t cycles;
    _Atomic uint64_t scope_errors;
    _Atomic uint64_t last_cycle_ns;
};

/* References: get takes one under e->mu, put drops one (freeing at zero; NULL allowed). */
struct agg__sloe_snap *agg__sloe_snap_get(agg_slo_engine *e);
void agg__sloe_snap_put(struct agg__sloe_snap *s);
void agg__sloe_gen_put(struct agg__sloe_gen *g);

/* Evaluates definition d (tz from its generation) at `now` in every scope: across sites and at
 * each site of series (the store's list, sorted by SLI then site) that its patterns match. prev
 * is the same SLO's result of the previous cycle when its definition is unchanged (alert
 * states and, for a scope that fails now, the last status carry over), else NULL. Fills *out,
 * whose def is set. Scope failures are kept in their scope and counted; returns 0, or
 * SLIC_ENOMEM (out then owns nothing). */
int agg__sloe_eval(agg_slo_engine *e, const struct agg_slo_def *d, const slic_tz *tz,
                   const struct agg__sloe_result *prev, const struct agg_series_info *series,
                   size_t n_series, int64_t now, struct agg__sloe_result *out);

/* Adds into out[0..n) the counts of d's indicator (slo.h: struct agg_slo_counts) in n
 * consecutive slices of slice_s seconds from `from`, read at the stored resolution res, of one
 * site (NULL: the across-sites rollups). buf is scratch of n entries. Both the evaluator and the
 * burn-down read the store through it, so they count alike. Returns 0, SLIC_EOVERFLOW, or the
 * store's code (agg_store_query_slices) with why. */
int agg__sloe_read_slices(agg_store *st, const struct agg_slo_def *d, const char *site,
                          int64_t from, int64_t slice_s, uint32_t res, size_t n,
                          struct agg_slice_counts *buf, struct agg_slo_counts *out,
                          struct slic_errmsg *why);

/* Frees what a result owns (its sites). */
void agg__sloe_result_fini(struct agg__sloe_result *r);

/* True when two definitions evaluate the same (names, descriptions, runbook and file position
 * aside): the condition for keeping alert states across a reload. */
bool agg__sloe_def_same(const struct agg_slo_def *a, const struct agg_slo_def *b);

/* True when site matches the pattern: '*' matches any run of characters, everything else
 * itself. */
bool agg__sloe_site_match(const char *pattern, const char *site);

/* Calls opts.on_alerts with every firing or resolved tier of the snapshot. */
void agg__sloe_report_alerts(agg_slo_engine *e, const struct agg__sloe_snap *s);

/* "ratio", "ratio_bad", "threshold"; "occurrences", "timeslices", "ratio_timeslices". */
const char *agg__sloe_indicator_name(const struct agg_slo_def *d);
const char *agg__sloe_budgeting_name(const struct agg_slo_def *d);

#endif
