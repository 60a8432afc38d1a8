/* Benchmark of the aggregator's store, in process: how many batches (of 50 series) one writer
 * commits per second, durable and not, against the floor of the same number of raw LMDB
 * read-modify-write puts of the same size in transactions of the same size; and how long a
 * 28-day query across 50 sites takes over 1 h rollups. The end-to-end figure through nng with
 * real senders is bench_aggregator.sh's. */
#include "batch.h"
#include "log.h"
#include "sketch.h"
#include "aggregator/store.h"

#include <lmdb.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SERIES 50
#define AGENTS 20
#define SITES 5
#define WINDOWS 100 /* per agent: 2000 batches in all */
#define GROUP 32    /* batches per transaction, as under concurrent load */
#define VALUES 20   /* events per series per window */
#define BASE_T 1790000000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_store: %s failed (%d)\n", what, rc);
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

static char names[SERIES][16], agents[AGENTS][16], sites[50][16], nodes[AGENTS][16];

static void batch_make(struct slic_batch *b, unsigned agent, unsigned seq, int64_t start,
                       uint32_t len, unsigned n_series, const char *site)
{
    memset(b, 0, sizeof *b);
    b->agent_id = agents[agent % AGENTS];
    b->node = nodes[agent % AGENTS];
    b->site = (char *)site;
    b->epoch = 1;
    b->seq = seq;
    b->series = calloc(n_series, sizeof *b->series);
    b->n_series = n_series;
    for (unsigned s = 0; s < n_series; s++) {
        struct slic_series *se = &b->series[s];
        se->sli = names[s];
        se->window_start = start;
        se->window_seconds = len;
        slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                           &se->latency);
        for (int i = 0; i < VALUES; i++)
            slic_sketch_add(se->latency, lognormal());
        se->total = VALUES;
        se->good = VALUES - 1;
    }
}

static void batch_free(struct slic_batch *b)
{
    for (size_t s = 0; s < b->n_series; s++)
        slic_sketch_destroy(b->series[s].latency);
    free(b->series);
}

static void rmrf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_store: could not remove %s\n", dir);
}

struct ingest {
    double seconds;
    uint64_t records, commits;
};

static struct ingest ingest(const char *dir, bool nosync, struct slic_batch *batches, size_t n)
{
    agg_store *st = NULL;
    struct agg_store_options o = {.nosync = nosync,
                                  .retention_10s = 400 * 86400,
                                  .retention_1m = 400 * 86400,
                                  .retention_1h = 400 * 86400};
    struct slic_errmsg err;
    int rc = agg_store_open(dir, &o, &st, &err);
    if (rc)
        die(err.text, rc);
    const struct slic_batch *group[GROUP];
    enum agg_ingest_result res[GROUP];
    double t0 = now_s();
    for (size_t i = 0; i < n; i += GROUP) {
        size_t k = n - i < GROUP ? n - i : GROUP;
        for (size_t j = 0; j < k; j++)
            group[j] = &batches[i + j];
        if ((rc = agg_store_write_batches(st, group, k, res, NULL, &err)) != 0)
            die(err.text, rc);
        for (size_t j = 0; j < k; j++)
            if (res[j] != AGG_INGEST_ACCEPTED)
                die("a batch was not accepted", (int)res[j]);
    }
    struct ingest r = {.seconds = now_s() - t0};
    struct agg_store_stats s;
    agg_store_stats_get(st, &s);
    r.records = s.records_written;
    r.commits = s.commits;
    agg_store_close(st);
    return r;
}

/* The floor: the same puts the store made, as raw read-modify-writes of values of the store's
 * average record size, keys of the same shape, in the same number of transactions. */
static double lmdb_floor(const char *dir, bool nosync, uint64_t puts, uint64_t txns, size_t vsize)
{
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    mkdir(dir, 0755);
    mdb_env_create(&env);
    mdb_env_set_mapsize(env, (size_t)8 << 30);
    if (mdb_env_open(env, dir, nosync ? MDB_NOSYNC : 0, 0644))
        die("mdb_env_open", -1);
    uint8_t *val = calloc(1, vsize);
    uint64_t per_txn = puts / txns;
    double t0 = now_s();
    for (uint64_t t = 0; t < txns; t++) {
        mdb_txn_begin(env, NULL, 0, &txn);
        mdb_dbi_open(txn, NULL, 0, &dbi);
        for (uint64_t p = 0; p < per_txn; p++) {
            /* Series-major big-endian keys of the store's length, so they sort as the store's
             * do: (rollup x series, window). */
            uint8_t k[48] = {0};
            uint32_t series = (uint32_t)(p % (SERIES * AGENTS * 8));
            uint64_t window = BASE_T + t * GROUP / AGENTS * 10;
            for (int i = 0; i < 4; i++)
                k[i] = (uint8_t)(series >> (24 - 8 * i));
            for (int i = 0; i < 8; i++)
                k[40 + i] = (uint8_t)(window >> (56 - 8 * i));
            MDB_val key = {sizeof k, k}, data;
            if (mdb_get(txn, dbi, &key, &data) == 0)
                memcpy(val, data.mv_data, data.mv_size < vsize ? data.mv_size : vsize);
            val[0]++;
            data.mv_size = vsize;
            data.mv_data = val;
            if (mdb_put(txn, dbi, &key, &data, 0))
                die("mdb_put", -1);
        }
        if (mdb_txn_commit(txn))
            die("mdb_txn_commit", -1);
    }
    double dt = now_s() - t0;
    free(val);
    mdb_env_close(env);
    return dt;
}

/* 50 sites x 28 days of hourly windows of one SLI, then the 28-day query. */
static void query_bench(const char *dir)
{
    agg_store *st = NULL;
    struct slic_errmsg err;
    int64_t end = BASE_T / 3600 * 3600;
    int rc = agg_store_open(dir, NULL, &st, &err);
    if (rc)
        die(err.text, rc);
    for (unsigned site = 0; site < 50; site++) {
        for (unsigned h = 0; h < 28 * 24; h += GROUP) {
            struct slic_batch b[GROUP];
            const struct slic_batch *g[GROUP];
            enum agg_ingest_result res[GROUP];
            unsigned k = 28 * 24 - h < GROUP ? 28 * 24 - h : GROUP;
            for (unsigned j = 0; j < k; j++) {
                batch_make(&b[j], site, h + j + 1, end - (int64_t)(28 * 24 - h - j) * 3600, 3600, 1,
                           sites[site]);
                b[j].agent_id = sites[site]; /* one agent per site */
                g[j] = &b[j];
            }
            if ((rc = agg_store_write_batches(st, g, k, res, NULL, &err)) != 0)
                die(err.text, rc);
            for (unsigned j = 0; j < k; j++)
                batch_free(&b[j]);
        }
    }
    struct agg_query q = {.sli = names[0], .from = end - 28 * 86400, .to = end, .now = end};
    double best = INFINITY, total = 0, per_site_best = INFINITY;
    for (int run = 0; run < 20; run++) {
        struct agg_query_result r;
        double t0 = now_s();
        if ((rc = agg_store_query_sli(st, &q, &r, &err)) != 0)
            die(err.text, rc);
        double dt = now_s() - t0;
        if (r.total != 50ull * 28 * 24 * VALUES)
            die("query total", (int)r.total);
        agg_query_result_fini(&r);
        best = dt < best ? dt : best;
        total += dt;
        /* The same answer from the 50 per-site series, merged one site at a time. */
        t0 = now_s();
        for (unsigned site = 0; site < 50; site++) {
            struct agg_query qs = q;
            qs.site = sites[site];
            if ((rc = agg_store_query_sli(st, &qs, &r, &err)) != 0)
                die(err.text, rc);
            agg_query_result_fini(&r);
        }
        dt = now_s() - t0;
        per_site_best = dt < per_site_best ? dt : per_site_best;
    }
    printf("%-52s %9.2f ms (mean %.2f) < 20 ms: %s\n", "28-day query, all 50 sites (1 h rollups)",
           best * 1e3, total / 20 * 1e3, best < 0.020 ? "met" : "MISSED");
    printf("%-52s %9.2f ms\n", "  same, as 50 per-site queries merged one by one",
           per_site_best * 1e3);
    agg_store_close(st);
}

int main(void)
{
    slic_log_set_level(SLIC_LOG_WARN);
    for (int i = 0; i < SERIES; i++)
        snprintf(names[i], sizeof names[i], "sli%d", i);
    for (int i = 0; i < AGENTS; i++) {
        snprintf(agents[i], sizeof agents[i], "agent-%d", i);
        snprintf(nodes[i], sizeof nodes[i], "node-%d", i);
    }
    for (int i = 0; i < 50; i++)
        snprintf(sites[i], sizeof sites[i], "site-%d", i);
    char dir[] = "/tmp/slic-bench-store-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", -1);
    size_t n = (size_t)AGENTS * WINDOWS;
    struct slic_batch *batches = calloc(n, sizeof *batches);
    /* Agents interleaved window by window, as they arrive in real time. */
    for (unsigned w = 0; w < WINDOWS; w++)
        for (unsigned a = 0; a < AGENTS; a++)
            batch_make(&batches[w * AGENTS + a], a, w + 1, BASE_T + w * 10, 10, SERIES,
                       sites[a % SITES]);
    size_t record_bytes = 80 + 8 * slic_sketch_bucket_span(batches[0].series[0].latency);

    printf("\nstore benchmark: %zu batches x %d series (%d events each), %d batches per "
           "transaction\n",
           n, SERIES, VALUES, GROUP);
    printf("%-52s %12s\n", "measure", "value");
    for (int durable = 1; durable >= 0; durable--) {
        char sub[600];
        snprintf(sub, sizeof sub, "%s/%s", dir, durable ? "durable" : "nosync");
        struct ingest r = ingest(sub, !durable, batches, n);
        snprintf(sub, sizeof sub, "%s/floor-%d", dir, durable);
        double floor_s = lmdb_floor(sub, !durable, r.records, r.commits, record_bytes);
        const char *mode = durable ? "durable" : "non-durable";
        char label[80];
        snprintf(label, sizeof label, "ingest, %s: batches/s", mode);
        printf("%-52s %12.0f\n", label, (double)n / r.seconds);
        snprintf(label, sizeof label, "ingest, %s: series merged/s", mode);
        printf("%-52s %12.0f\n", label, (double)n * SERIES / r.seconds);
        snprintf(label, sizeof label, "raw LMDB floor, %s: same %llu puts, batches/s", mode,
                 (unsigned long long)r.records);
        printf("%-52s %12.0f\n", label, (double)n / floor_s);
        snprintf(label, sizeof label, "ingest / floor, %s", mode);
        printf("%-52s %11.0f%% >= 50%%: %s\n", label, 100 * floor_s / r.seconds,
               floor_s / r.seconds >= 0.5 ? "met" : "MISSED");
    }
    for (size_t i = 0; i < n; i++)
        batch_free(&batches[i]);
    free(batches);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/query", dir);
    query_bench(sub);
    rmrf(dir);
    return 0;
}
