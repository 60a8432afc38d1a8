/* Benchmark of SLO evaluation from the store, in process: one 28-day SLO over 28 days of hourly
 * data from 50 sites, evaluated by the SLO engine per site and across sites (51 evaluations:
 * SLI value, budget, 7 burn-rate windows and the alert tiers' windows each) as every
 * evaluation cycle does, for a ratio SLO, a latency-threshold SLO and a RatioTimeslices SLO of
 * hourly slices. The figure: a 28-day SLO across 50 sites evaluates in well under
 * 50 ms. */
#include "aggregator/slo_engine.h"
#include "aggregator/store.h"
#include "batch.h"
#include "log.h"
#include "aggregator/openslo.h"
#include "sketch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SITES 50
#define HOURS (28 * 24)
#define VALUES 20 /* events per site per hour */
#define RUNS 20
#define END_T (1790000000 / 3600 * 3600)

static int64_t end_t = END_T;

static int64_t bench_clock(void *ctx)
{
    (void)ctx;
    return end_t;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_slo: %s failed (%d)\n", what, rc);
    exit(1);
}

static uint64_t rng = 88172645463325252ull;
static double lognormal(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    double u1 = (double)(rng >> 11) * 0x1p-53 + 1e-12;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    double u2 = (double)(rng >> 11) * 0x1p-53;
    return 0.05 * exp(sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

static char sites[SITES][16];
static char sli[] = "checkout";

/* One agent per site, one batch per hour of one hourly series. */
static void batch_make(struct slic_batch *b, struct slic_series *se, unsigned site, unsigned h)
{
    memset(b, 0, sizeof *b);
    memset(se, 0, sizeof *se);
    b->agent_id = sites[site];
    b->site = sites[site];
    b->node = sites[site];
    b->epoch = 1;
    b->seq = h + 1;
    b->series = se;
    b->n_series = 1;
    se->sli = sli;
    se->window_start = END_T - (int64_t)(HOURS - h) * 3600;
    se->window_seconds = 3600;
    if (slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                           &se->latency))
        die("sketch", 0);
    for (int i = 0; i < VALUES; i++)
        slic_sketch_add(se->latency, lognormal());
    se->total = VALUES;
    se->good = VALUES - 1;
}

static void fill(agg_store *st)
{
    enum { GROUP = 32 };
    for (unsigned site = 0; site < SITES; site++) {
        for (unsigned h = 0; h < HOURS; h += GROUP) {
            struct slic_batch b[GROUP];
            struct slic_series se[GROUP];
            const struct slic_batch *g[GROUP];
            enum agg_ingest_result res[GROUP];
            unsigned k = HOURS - h < GROUP ? HOURS - h : GROUP;
            for (unsigned j = 0; j < k; j++) {
                batch_make(&b[j], &se[j], site, h + j);
                g[j] = &b[j];
            }
            struct slic_errmsg err;
            int rc = agg_store_write_batches(st, g, k, res, NULL, &err);
            if (rc)
                die(err.text, rc);
            for (unsigned j = 0; j < k; j++)
                slic_sketch_destroy(se[j].latency);
        }
    }
}

static struct agg_slo_set *load(const char *dir, const char *objective, const char *budgeting,
                                bool threshold)
{
    char path[600];
    snprintf(path, sizeof path, "%s/slo.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        die("writing the SLO file", 0);
    fprintf(f, "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: bench}\nspec:\n"
               "  indicator:\n    spec:\n");
    if (threshold)
        fprintf(f, "      thresholdMetric:\n"
                   "        metricSource: {type: slic, spec: {sli: checkout}}\n");
    else
        fprintf(f, "      ratioMetric:\n        counter: true\n"
                   "        good: {metricSource: {type: slic, spec: {sli: checkout, outcome: "
                   "good}}}\n"
                   "        total: {metricSource: {type: slic, spec: {sli: checkout}}}\n");
    fprintf(f,
            "  timeWindow: [{duration: 28d, isRolling: true}]\n"
            "  budgetingMethod: %s\n  objectives: [%s]\n",
            budgeting, objective);
    fclose(f);
    const char *p = path;
    struct agg_slo_set *set = NULL;
    struct slic_errmsg err;
    int rc = agg_openslo_load(&p, 1, &set, NULL, &err);
    if (rc)
        die(err.text, rc);
    return set;
}

/* Best and mean of RUNS evaluation cycles of one SLO in its 51 scopes. */
static void measure(agg_store *st, const char *label, struct agg_slo_set *set)
{
    struct agg_slo_engine_options o;
    agg_slo_engine_options_default(&o);
    o.clock = bench_clock;
    agg_slo_engine *e = NULL;
    struct slic_errmsg err;
    int rc = agg_slo_engine_create(st, &o, set, &e, &err);
    if (rc)
        die(err.text, rc);
    double best = INFINITY, total = 0;
    for (int run = 0; run < RUNS; run++) {
        double t0 = now_s();
        if ((rc = agg_slo_engine_evaluate(e)) != 0)
            die("evaluate", rc);
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
        total += dt;
    }
    char line[80];
    snprintf(line, sizeof line, "%s: 50 sites + across", label);
    printf("%-52s %9.2f ms (mean %.2f) < 50 ms: %s\n", line, best * 1e3, total / RUNS * 1e3,
           best < 0.050 ? "met" : "MISSED");
    printf("%-52s %9.3f ms\n", "  per evaluation (one scope)", best * 1e3 / (SITES + 1));
    agg_slo_engine_destroy(e);
}

int main(void)
{
    slic_log_set_level(SLIC_LOG_ERROR);
    for (int i = 0; i < SITES; i++)
        snprintf(sites[i], sizeof sites[i], "site-%d", i);
    char dir[] = "/tmp/slic-bench-slo-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", -1);
    char path[600];
    snprintf(path, sizeof path, "%s/store", dir);
    struct agg_store_options so = {.clock = bench_clock};
    agg_store *st = NULL;
    struct slic_errmsg err;
    int rc = agg_store_open(path, &so, &st, &err);
    if (rc)
        die(err.text, rc);
    fill(st);

    printf("\nSLO evaluation benchmark: one 28-day SLO, %d sites x %d hourly windows (%d events "
           "each)\n",
           SITES, HOURS, VALUES);
    printf("%-52s %12s\n", "measure", "value");
    measure(st, "ratio, Occurrences", load(dir, "{target: 0.999}", "Occurrences", false));
    measure(st, "latency <= 300ms, Occurrences",
            load(dir, "{op: lte, value: 300ms, target: 0.99}", "Occurrences", true));
    measure(st, "ratio, RatioTimeslices of 1h",
            load(dir, "{target: 0.999, timeSliceWindow: 1h}", "RatioTimeslices", false));
    agg_store_close(st);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_slo: could not remove %s\n", dir);
    return 0;
}
