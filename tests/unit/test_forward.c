/* Tests of forwarding to an upstream aggregator on the regional side: the merge of a group
 * (aggregator/forward_merge.c) and the forward queue in the store (store_forward.c) against
 * real LMDB in a temporary directory: one Batch per site written in the ingest transaction,
 * duplicates not forwarded, a queue that survives a crash before anything was sent, epoch and
 * seq kept across restarts, the bound that empties the oldest entries, and setting aside. The
 * forwarder's network side is tested end to end (tests/e2e/aggregator_forward.sh). */
#include "harness.h"

#include "../../aggregator/forward.h"
#include "../../aggregator/forward_merge.h"
#include "../../aggregator/record.h"
#include "../../aggregator/store.h"
#include "alloc.h"
#include "backoff.h"
#include "batch.h"
#include "codec_batch.h"
#include "err.h"
#include "sketch.h"

#include <lmdb.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define T0 INT64_C(1699999200)

static int64_t fake_now(void *ctx)
{
    (void)ctx;
    return T0 + 3600;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = slic_malloc(n + 1);
    CHECK(p != NULL);
    return memcpy(p, s, n + 1);
}

static const double THRESHOLDS[2] = {0.1, 0.3};

/* n events of seed from 1 ms up, labelled route=r (when r), counting under the first
 * n_thr thresholds of THRESHOLDS. */
static void series_fill(struct slic_series *s, const char *sli, const char *route, int64_t start,
                        size_t n, uint64_t seed, size_t n_thr)
{
    memset(s, 0, sizeof *s);
    s->sli = dup_str(sli);
    if (route) {
        s->labels = slic_calloc(1, sizeof *s->labels);
        CHECK(s->labels != NULL);
        s->labels[0] = (struct slic_label){dup_str("route"), dup_str(route)};
        s->n_labels = 1;
    }
    s->window_start = start;
    s->window_seconds = 10;
    if (n)
        CHECK_OK(slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                                    &s->latency));
    if (n_thr) {
        s->thresholds = slic_calloc(n_thr, sizeof *s->thresholds);
        CHECK(s->thresholds != NULL);
        s->n_thresholds = n_thr;
        for (size_t t = 0; t < n_thr; t++)
            s->thresholds[t].threshold = THRESHOLDS[t];
    }
    for (size_t i = 0; i < n; i++) {
        double v = 0.001 * (double)(1 + (seed * 7919 + i * 104729) % 499);
        CHECK_OK(slic_sketch_add(s->latency, v));
        s->total++;
        s->good += v <= 0.25;
        for (size_t t = 0; t < n_thr; t++) {
            s->thresholds[t].count_le += v <= THRESHOLDS[t];
            s->thresholds[t].good_le += v <= THRESHOLDS[t] && v <= 0.25;
        }
    }
}

/* One batch of agent in site: series "lat" (route=a) at T0 with n events and n_thr
 * thresholds, and "err" at T0 + 10 with 5 events. */
static struct slic_batch *batch_at(const char *agent, const char *site, uint64_t seq, size_t n,
                                   size_t n_thr, int64_t start)
{
    struct slic_batch *b = slic_calloc(1, sizeof *b);
    CHECK(b != NULL);
    b->agent_id = dup_str(agent);
    b->site = dup_str(site);
    b->node = dup_str(agent);
    b->epoch = 1;
    b->seq = seq;
    b->series = slic_calloc(2, sizeof *b->series);
    CHECK(b->series != NULL);
    b->n_series = 2;
    series_fill(&b->series[0], "lat", "a", start, n, seq + strlen(agent), n_thr);
    series_fill(&b->series[1], "err", NULL, start + 10, 5, seq, 0);
    return b;
}

static struct slic_batch *batch_of(const char *agent, const char *site, uint64_t seq, size_t n,
                                   size_t n_thr)
{
    return batch_at(agent, site, seq, n, n_thr, T0);
}

static void batch_free(struct slic_batch *b)
{
    slic_batch_fini(b);
    slic_free(b);
}

static const char *dir(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/store", harness_tmpdir());
    return path;
}

static agg_store *open_store(const char *fwd_id, uint64_t max_queue)
{
    struct agg_store_options o = {.map_size_initial = 16 << 20, .clock = fake_now};
    agg_store *st = NULL;
    struct slic_errmsg err = {{0}};
    int rc = agg_store_open(dir(), &o, &st, &err);
    if (rc)
        harness_fail(__FILE__, __LINE__, "open: %s", err.text);
    if (fwd_id && (rc = agg_store_forward_enable(st, fwd_id, max_queue, &err)))
        harness_fail(__FILE__, __LINE__, "enable: %s", err.text);
    return st;
}

static void write_group(agg_store *st, struct slic_batch **b, size_t n,
                        const enum agg_ingest_result *want)
{
    enum agg_ingest_result r[8];
    CHECK(n <= 8);
    CHECK_OK(agg_store_write_batches(st, (const struct slic_batch *const *)b, n, r, NULL, NULL));
    for (size_t i = 0; i < n; i++)
        CHECK_INT_EQ(r[i], want[i]);
}

/* Writes one batch, expecting `want`, and frees it. */
static void write_one(agg_store *st, struct slic_batch *b, enum agg_ingest_result want)
{
    write_group(st, &b, 1, &want);
    batch_free(b);
}

static struct agg_store_forward_stats fstats(agg_store *st)
{
    struct agg_store_forward_stats s;
    CHECK_OK(agg_store_forward_stats_get(st, &s, NULL));
    return s;
}

/* The oldest queued Batch, decoded. */
static void peek_batch(agg_store *st, struct slic_batch *out, uint64_t *seq)
{
    struct agg_forward_item it;
    CHECK_OK(agg_store_forward_peek(st, &it, NULL));
    struct codec_error ce;
    int rc = codec_batch_unpack(it.batch, it.len, out, &ce);
    if (rc)
        harness_fail(__FILE__, __LINE__, "queued batch does not decode: %s", ce.msg);
    CHECK_U64_EQ(out->seq, it.seq);
    *seq = it.seq;
    slic_free(it.batch);
}

static const struct slic_series *find(const struct slic_batch *b, const char *sli)
{
    for (size_t i = 0; i < b->n_series; i++)
        if (strcmp(b->series[i].sli, sli) == 0)
            return &b->series[i];
    harness_fail(__FILE__, __LINE__, "no series %s", sli);
}

/* Two agents of site "east" and one of "west" in one group: one Batch per site, series of
 * equal key merged (sketch bit for bit, counts added, thresholds both counted kept). */
static void merge_per_group(void)
{
    agg_store *st = open_store("region-1", 0);
    struct slic_batch *b[3] = {batch_of("a1", "east", 1, 40, 2), batch_of("a2", "east", 1, 30, 1),
                               batch_of("a3", "west", 1, 20, 2)};
    write_group(
        st, b, 3,
        (enum agg_ingest_result[]){AGG_INGEST_ACCEPTED, AGG_INGEST_ACCEPTED, AGG_INGEST_ACCEPTED});
    struct agg_store_forward_stats s = fstats(st);
    CHECK_U64_EQ(s.queued, 2);
    CHECK_U64_EQ(s.next_seq, 3);
    CHECK(s.epoch > 0);

    struct slic_batch east;
    uint64_t seq;
    peek_batch(st, &east, &seq);
    CHECK_U64_EQ(seq, 1);
    CHECK_STR_EQ(east.site, "east");
    CHECK_STR_EQ(east.agent_id, "region-1");
    CHECK_STR_EQ(east.node, "region-1");
    CHECK_U64_EQ(east.epoch, s.epoch);
    CHECK_U64_EQ(east.n_series, 2);
    const struct slic_series *lat = find(&east, "lat"), *err = find(&east, "err");
    CHECK_U64_EQ(lat->total, 70);
    CHECK_U64_EQ(lat->good, b[0]->series[0].good + b[1]->series[0].good);
    CHECK_U64_EQ(err->total, 10);
    CHECK_INT_EQ(lat->n_labels, 1);
    CHECK_STR_EQ(lat->labels[0].value, "a");
    slic_sketch *want = NULL;
    CHECK_OK(slic_sketch_clone(b[0]->series[0].latency, &want));
    CHECK_OK(slic_sketch_merge(want, b[1]->series[0].latency));
    CHECK(slic_sketch_equal(lat->latency, want));
    slic_sketch_destroy(want);
    /* a2 counted only 0.1 s: 0.3 s is not exact for the merge and is dropped. */
    CHECK_INT_EQ(lat->n_thresholds, 1);
    CHECK_DBL_EQ(lat->thresholds[0].threshold, 0.1);
    CHECK_U64_EQ(lat->thresholds[0].count_le,
                 b[0]->series[0].thresholds[0].count_le + b[1]->series[0].thresholds[0].count_le);
    slic_batch_fini(&east);

    CHECK_OK(agg_store_forward_remove(st, 1, NULL, NULL));
    struct slic_batch west;
    peek_batch(st, &west, &seq);
    CHECK_U64_EQ(seq, 2);
    CHECK_STR_EQ(west.site, "west");
    CHECK_U64_EQ(find(&west, "lat")->total, 20);
    CHECK_INT_EQ(find(&west, "lat")->n_thresholds, 2);
    slic_batch_fini(&west);
    for (int i = 0; i < 3; i++)
        batch_free(b[i]);
    agg_store_close(st);
}

/* A crash after the commit and before any forwarding: the queue is in the committed data. */
static void queue_survives_crash(void)
{
    agg_store *st = open_store("region-1", 0);
    struct slic_batch *b = batch_of("a1", "east", 1, 10, 0);
    write_group(st, &b, 1, (enum agg_ingest_result[]){AGG_INGEST_ACCEPTED});
    uint64_t epoch = fstats(st).epoch;
    agg_store_close(st); /* nothing forwarded */
    batch_free(b);

    st = open_store("region-1", 0);
    struct agg_store_forward_stats s = fstats(st);
    CHECK_U64_EQ(s.queued, 1);
    CHECK_U64_EQ(s.epoch, epoch);
    CHECK_U64_EQ(s.next_seq, 2);
    CHECK(s.queued_bytes > 0);
    struct slic_batch q;
    uint64_t seq;
    peek_batch(st, &q, &seq);
    CHECK_U64_EQ(seq, 1);
    CHECK_U64_EQ(find(&q, "lat")->total, 10);
    slic_batch_fini(&q);
    /* The next group continues the same epoch's seqs. */
    write_one(st, batch_of("a1", "east", 2, 10, 0), AGG_INGEST_ACCEPTED);
    s = fstats(st);
    CHECK_U64_EQ(s.queued, 2);
    CHECK_U64_EQ(s.next_seq, 3);
    agg_store_close(st);
}

/* A new upstream id starts a new epoch at seq 1 (the upstream knows nothing of the old). */
static void epoch_per_id(void)
{
    agg_store *st = open_store("region-1", 0);
    write_one(st, batch_of("a1", "east", 1, 10, 0), AGG_INGEST_ACCEPTED);
    uint64_t epoch = fstats(st).epoch;
    agg_store_close(st);
    st = open_store("region-2", 0);
    struct agg_store_forward_stats s = fstats(st);
    CHECK(s.epoch > epoch);
    CHECK_U64_EQ(s.next_seq, 1);
    CHECK_U64_EQ(s.queued, 1); /* the old id's batch is still owed */
    agg_store_close(st);
}

/* Batches the store answers DUPLICATE (or rejects) add nothing to the queue. */
static void duplicates_not_forwarded(void)
{
    agg_store *st = open_store("region-1", 0);
    struct slic_batch *b[2] = {batch_of("a1", "east", 1, 10, 0), batch_of("a1", "east", 1, 10, 0)};
    write_group(st, b, 2, (enum agg_ingest_result[]){AGG_INGEST_ACCEPTED, AGG_INGEST_DUPLICATE});
    write_group(st, &b[0], 1, (enum agg_ingest_result[]){AGG_INGEST_DUPLICATE});
    struct agg_store_forward_stats s = fstats(st);
    CHECK_U64_EQ(s.queued, 1);
    struct slic_batch q;
    uint64_t seq;
    peek_batch(st, &q, &seq);
    CHECK_U64_EQ(find(&q, "lat")->total, 10);
    slic_batch_fini(&q);
    for (int i = 0; i < 2; i++)
        batch_free(b[i]);
    agg_store_close(st);
}

/* Without enabling, nothing is queued: an aggregator with no upstream writes as before. */
static void disabled_queues_nothing(void)
{
    agg_store *st = open_store(NULL, 0);
    write_one(st, batch_of("a1", "east", 1, 10, 0), AGG_INGEST_ACCEPTED);
    struct agg_store_forward_stats s = fstats(st);
    CHECK(!s.enabled);
    CHECK_U64_EQ(s.queued, 0);
    struct agg_forward_item it;
    CHECK_ERR(agg_store_forward_peek(st, &it, NULL), SLIC_ENOTFOUND);
    agg_store_close(st);
}

/* Past max_queue the oldest entries are emptied, keeping their seqs, and counted. */
static void bounded_queue_drops(void)
{
    agg_store *st = open_store("region-1", 3000);
    for (uint64_t seq = 1; seq <= 6; seq++) {
        /* Windows no two groups share: merging frees nothing, so the oldest are emptied. */
        write_one(st, batch_at("a1", "east", seq, 200, 2, T0 + 20 * (int64_t)seq),
                  AGG_INGEST_ACCEPTED);
    }
    struct agg_store_forward_stats s = fstats(st);
    CHECK_U64_EQ(s.queued, 6);
    CHECK(s.dropped >= 1);
    CHECK(s.queued_bytes <= 3000);
    struct slic_batch q;
    uint64_t seq;
    peek_batch(st, &q, &seq);
    CHECK_U64_EQ(seq, 1);
    CHECK_U64_EQ(q.n_series, 0); /* emptied, same (agent, epoch, seq) */
    CHECK_STR_EQ(q.agent_id, "region-1");
    CHECK_U64_EQ(q.epoch, s.epoch);
    slic_batch_fini(&q);
    /* The byte count the bound uses is the queue's: reopening recounts the same. */
    uint64_t bytes = s.queued_bytes, lat = 0;
    agg_store_close(st);
    st = open_store("region-1", 3000);
    CHECK_U64_EQ(fstats(st).queued_bytes, bytes);
    /* Every seq is still there, in order; whole groups were lost, and not all. */
    for (uint64_t want = 1; want <= 6; want++) {
        peek_batch(st, &q, &seq);
        CHECK_U64_EQ(seq, want);
        for (size_t j = 0; j < q.n_series; j++)
            lat += strcmp(q.series[j].sli, "lat") == 0 ? q.series[j].total : 0;
        slic_batch_fini(&q);
        CHECK_OK(agg_store_forward_remove(st, seq, NULL, NULL));
    }
    if (!(lat > 0 && lat < 6 * 200 && lat % 200 == 0))
        harness_fail(__FILE__, __LINE__, "%llu lat events left", (unsigned long long)lat);
    agg_store_close(st);
}

/* Past max_queue, groups that share windows are first merged: nothing is lost, and the
 * queue's first entry (maybe in flight) is left as it was. */
static void bounded_queue_merges_first(void)
{
    agg_store *st = open_store("region-1", 3000);
    for (uint64_t seq = 1; seq <= 6; seq++) {
        write_one(st, batch_of("a1", "east", seq, 200, 2), AGG_INGEST_ACCEPTED);
    }
    struct agg_store_forward_stats s = fstats(st);
    CHECK_U64_EQ(s.queued, 6);
    CHECK_U64_EQ(s.dropped, 0);
    CHECK(s.merged >= 2);
    CHECK(s.queued_bytes <= 3000);
    uint64_t lat = 0, err = 0, seq;
    for (uint64_t want = 1; want <= 6; want++) {
        struct slic_batch q;
        peek_batch(st, &q, &seq);
        CHECK_U64_EQ(seq, want);
        CHECK_STR_EQ(q.agent_id, "region-1");
        if (want == 1)
            CHECK_U64_EQ(find(&q, "lat")->total, 200); /* untouched */
        for (size_t j = 0; j < q.n_series; j++)
            *(strcmp(q.series[j].sli, "lat") ? &err : &lat) += q.series[j].total;
        if (q.n_series)
            CHECK_INT_EQ(find(&q, "lat")->n_thresholds, 2);
        slic_batch_fini(&q);
        CHECK_OK(agg_store_forward_remove(st, seq, NULL, NULL));
    }
    CHECK_U64_EQ(lat, 6 * 200);
    CHECK_U64_EQ(err, 6 * 5);
    agg_store_close(st);
}

/* Random groups against a small bound, with the forwarder's deletes in between: seqs stay
 * contiguous, the byte count matches what a reopen recounts, and the events queued are exactly
 * those written and not yet delivered, whenever nothing was emptied. */
static void bounded_queue_random(void)
{
    struct harness_rng rng;
    harness_rng_seed(&rng, 7);
    agg_store *st = open_store("region-1", 8000);
    uint64_t written = 0, delivered = 0, next_expected = 1, seq;
    for (uint64_t g = 1; g <= 60; g++) {
        size_t n = 1 + harness_rng_next(&rng) % 3;
        struct slic_batch *b[3];
        enum agg_ingest_result want[3];
        for (size_t i = 0; i < n; i++) {
            char agent[16];
            snprintf(agent, sizeof agent, "a%zu", i);
            int64_t start = T0 + 20 * (int64_t)(harness_rng_next(&rng) % 4);
            b[i] = batch_at(agent, i % 2 ? "east" : "west", g, 1 + harness_rng_next(&rng) % 50, 1,
                            start);
            written += b[i]->series[0].total + b[i]->series[1].total;
            want[i] = AGG_INGEST_ACCEPTED;
        }
        write_group(st, b, n, want);
        for (size_t i = 0; i < n; i++)
            batch_free(b[i]);
        if (harness_rng_next(&rng) % 3 == 0) { /* the forwarder delivers the oldest */
            struct slic_batch q;
            peek_batch(st, &q, &seq);
            CHECK_U64_EQ(seq, next_expected++);
            for (size_t j = 0; j < q.n_series; j++)
                delivered += q.series[j].total;
            slic_batch_fini(&q);
            CHECK_OK(agg_store_forward_remove(st, seq, NULL, NULL));
        }
    }
    struct agg_store_forward_stats s = fstats(st);
    CHECK(s.merged > 0);
    uint64_t bytes = s.queued_bytes, queued_events = 0;
    agg_store_close(st);
    st = open_store("region-1", 8000);
    CHECK_U64_EQ(fstats(st).queued_bytes, bytes);
    for (; next_expected < s.next_seq; next_expected++) {
        struct slic_batch q;
        peek_batch(st, &q, &seq);
        CHECK_U64_EQ(seq, next_expected);
        for (size_t j = 0; j < q.n_series; j++)
            queued_events += q.series[j].total;
        slic_batch_fini(&q);
        CHECK_OK(agg_store_forward_remove(st, seq, NULL, NULL));
    }
    CHECK(delivered + queued_events <= written);
    if (s.dropped == 0)
        CHECK_U64_EQ(delivered + queued_events, written);
    CHECK_U64_EQ(fstats(st).queued_bytes, 0);
    agg_store_close(st);
}

/* A refused batch moves aside with its reason and the queue moves on. */
static void set_aside(void)
{
    agg_store *st = open_store("region-1", 0);
    struct slic_batch *b[2] = {batch_of("a1", "east", 1, 10, 0), batch_of("a2", "west", 1, 10, 0)};
    write_group(st, b, 2, (enum agg_ingest_result[]){AGG_INGEST_ACCEPTED, AGG_INGEST_ACCEPTED});
    CHECK_OK(agg_store_forward_remove(st, 1, "refused: bad sketch", NULL));
    CHECK_OK(agg_store_forward_remove(st, 1, NULL, NULL)); /* gone already: not an error */
    struct agg_store_forward_stats s = fstats(st);
    CHECK_U64_EQ(s.queued, 1);
    CHECK_U64_EQ(s.set_aside, 1);
    CHECK_OK(agg_store_forward_remove(st, 2, NULL, NULL));
    s = fstats(st);
    CHECK_U64_EQ(s.queued, 0);
    CHECK_U64_EQ(s.queued_bytes, 0);
    CHECK_INT_EQ(s.oldest_queued_ms, 0);
    for (int i = 0; i < 2; i++)
        batch_free(b[i]);
    agg_store_close(st);
}

static int count_emit(void *ctx, const struct slic_batch *b)
{
    uint64_t *n = ctx;
    *n += b->n_series;
    return 0;
}

static int thresholds_emit(void *ctx, const struct slic_batch *b)
{
    size_t *n = ctx;
    *n = b->series[0].n_thresholds;
    return 0;
}

/* Many distinct series split into several Batches of at most AGG_FORWARD_BATCH_SERIES_MAX,
 * with contiguous seqs; a series with no events constrains no threshold. */
static void merge_splits_and_empty_series(void)
{
    size_t n = AGG_FORWARD_BATCH_SERIES_MAX + 10;
    struct slic_batch b = {.agent_id = "x", .site = "s", .node = "x", .epoch = 1, .seq = 1};
    b.series = slic_calloc(n, sizeof *b.series);
    CHECK(b.series != NULL);
    b.n_series = n;
    for (size_t i = 0; i < n; i++)
        series_fill(&b.series[i], "lat", NULL, T0 + 10 * (int64_t)i, 3, i, 2);
    const struct slic_batch *in[1] = {&b};
    enum agg_ingest_result r[1] = {AGG_INGEST_ACCEPTED};
    struct agg_forward_origin o = {"up", 7, 100, 0};
    uint64_t series = 0, emitted = 0;
    CHECK_OK(agg_forward_merge(in, r, 1, &o, count_emit, &series, &emitted));
    CHECK_U64_EQ(emitted, 2);
    CHECK_U64_EQ(series, n);
    r[0] = AGG_INGEST_DUPLICATE;
    CHECK_OK(agg_forward_merge(in, r, 1, &o, count_emit, &series, &emitted));
    CHECK_U64_EQ(emitted, 0);
    for (size_t i = 0; i < n; i++)
        slic_series_fini(&b.series[i]);
    slic_free(b.series);

    /* More label sets of one SLI than an upstream takes in one Batch: split too. */
    n = AGG_FORWARD_LABEL_SETS_MAX + 1;
    b.series = slic_calloc(n, sizeof *b.series);
    CHECK(b.series != NULL);
    b.n_series = n;
    for (size_t i = 0; i < n; i++) {
        char route[16];
        snprintf(route, sizeof route, "r%zu", i);
        series_fill(&b.series[i], "lat", route, T0, 3, i, 0);
    }
    r[0] = AGG_INGEST_ACCEPTED;
    series = 0;
    CHECK_OK(agg_forward_merge(in, r, 1, &o, count_emit, &series, &emitted));
    CHECK_U64_EQ(emitted, 2);
    CHECK_U64_EQ(series, n);
    for (size_t i = 0; i < n; i++)
        slic_series_fini(&b.series[i]);
    slic_free(b.series);

    /* An empty series of the same key beside one with thresholds: the thresholds stay. */
    struct slic_batch e1 = {.agent_id = "a", .site = "s", .node = "a", .epoch = 1, .seq = 1};
    struct slic_batch e2 = e1;
    struct slic_series s1, s2;
    series_fill(&s1, "lat", NULL, T0, 0, 1, 0);
    series_fill(&s2, "lat", NULL, T0, 9, 2, 2);
    e1.series = &s1;
    e1.n_series = 1;
    e2.series = &s2;
    e2.n_series = 1;
    const struct slic_batch *two[2] = {&e1, &e2};
    enum agg_ingest_result rr[2] = {AGG_INGEST_ACCEPTED, AGG_INGEST_ACCEPTED};
    size_t n_thr = 0;
    CHECK_OK(agg_forward_merge(two, rr, 2, &o, thresholds_emit, &n_thr, &emitted));
    CHECK_U64_EQ(emitted, 1);
    CHECK_INT_EQ(n_thr, 2);
    slic_series_fini(&s1);
    slic_series_fini(&s2);
}

/* No forwarder configured: nothing to start, nothing on /metrics. */
static void start_without_upstream(void)
{
    struct agg_config c = {0};
    agg_forward *f = (agg_forward *)1;
    CHECK_OK(agg_forward_start_from_config(&c, NULL, &f, NULL));
    CHECK(f == NULL);
    CHECK_OK(agg_forward_metrics(NULL, NULL));
    agg_forward_destroy(NULL);
}

/* A data dir written before forwarding existed (no fwd_* databases) opens as it is: the new
 * databases are only added, so the schema version stays 1. */
static void store_without_forward_dbs_opens(void)
{
    agg_store *st = open_store(NULL, 0);
    struct slic_batch *b = batch_of("a1", "east", 1, 10, 0);
    write_group(st, &b, 1, (enum agg_ingest_result[]){AGG_INGEST_ACCEPTED});
    agg_store_close(st);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_env_create(&env) == 0);
    CHECK(mdb_env_set_maxdbs(env, 8) == 0);
    CHECK(mdb_env_open(env, dir(), 0, 0640) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    CHECK(mdb_dbi_open(txn, "fwd_queue", 0, &dbi) == 0);
    CHECK(mdb_drop(txn, dbi, 1) == 0);
    CHECK(mdb_dbi_open(txn, "fwd_aside", 0, &dbi) == 0);
    CHECK(mdb_drop(txn, dbi, 1) == 0);
    CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);

    st = open_store("region-1", 0);
    write_group(st, &b, 1, (enum agg_ingest_result[]){AGG_INGEST_DUPLICATE});
    batch_free(b);
    write_one(st, batch_of("a1", "east", 2, 10, 0), AGG_INGEST_ACCEPTED);
    CHECK_U64_EQ(fstats(st).queued, 1);
    agg_store_close(st);
}

/* A transaction redone in a grown map queues its forward Batches once: seqs stay contiguous
 * and the queued events are exactly those written. */
static void map_growth_redo_queues_once(void)
{
    struct agg_store_options o = {.map_size_initial = 1 << 20, .clock = fake_now};
    agg_store *st = NULL;
    CHECK_OK(agg_store_open(dir(), &o, &st, NULL));
    CHECK_OK(agg_store_forward_enable(st, "region-1", 0, NULL));
    enum { BATCHES = 4, SERIES = 1500 };
    struct slic_batch *b[BATCHES];
    for (int i = 0; i < BATCHES; i++) {
        b[i] = slic_calloc(1, sizeof *b[i]);
        CHECK(b[i] != NULL);
        char name[16];
        snprintf(name, sizeof name, "a%d", i);
        *b[i] = (struct slic_batch){.agent_id = dup_str(name),
                                    .site = dup_str(i % 2 ? "x" : "y"),
                                    .node = dup_str(name),
                                    .epoch = 1,
                                    .seq = 1};
        b[i]->series = slic_calloc(SERIES, sizeof *b[i]->series);
        CHECK(b[i]->series != NULL);
        b[i]->n_series = SERIES;
        for (size_t j = 0; j < SERIES; j++)
            series_fill(&b[i]->series[j], "lat", NULL, T0 + 10 * (int64_t)(j % 360), 2, j, 0);
    }
    write_group(st, b, BATCHES,
                (enum agg_ingest_result[]){AGG_INGEST_ACCEPTED, AGG_INGEST_ACCEPTED,
                                           AGG_INGEST_ACCEPTED, AGG_INGEST_ACCEPTED});
    struct agg_store_stats ss;
    agg_store_stats_get(st, &ss);
    CHECK(ss.map_growths >= 1);
    struct agg_store_forward_stats s = fstats(st);
    CHECK_U64_EQ(s.next_seq, s.queued + 1);
    uint64_t events = 0, seq;
    for (uint64_t want = 1; want <= s.queued; want++) {
        struct slic_batch q;
        peek_batch(st, &q, &seq);
        CHECK_U64_EQ(seq, want);
        for (size_t j = 0; j < q.n_series; j++)
            events += q.series[j].total;
        slic_batch_fini(&q);
        CHECK_OK(agg_store_forward_remove(st, seq, NULL, NULL));
    }
    CHECK_U64_EQ(events, (uint64_t)BATCHES * SERIES * 2);
    for (int i = 0; i < BATCHES; i++)
        batch_free(b[i]);
    agg_store_close(st);
}

/* Retry waits grow from the floor to the cap and stay in the upper half of each step. */
static void backoff_bounds(void)
{
    uint64_t rng = 42;
    for (unsigned attempts = 1; attempts < 40; attempts++) {
        uint64_t step = 100;
        for (unsigned i = 1; i < attempts && step < 30000; i++)
            step *= 2;
        step = step > 30000 ? 30000 : step;
        for (int k = 0; k < 50; k++) {
            uint64_t d = slic_backoff_ms(&rng, 100, 30000, attempts);
            CHECK(d >= step - step / 2 && d <= step);
        }
    }
}

/* ---- the forwarder against a scripted upstream (an nng rep socket in this process) ---- */

struct upstream {
    nng_socket sock;
    pthread_t thread;
    unsigned answered;
    unsigned retried_seq2;
    bool signed_all;
};

/* seq 1: REJECTED (set aside); seq 2: RETRY once, then DUPLICATE; anything else: ACCEPTED. */
static void *upstream_main(void *arg)
{
    struct upstream *u = arg;
    for (;;) {
        nng_msg *m = NULL;
        if (nng_recvmsg(u->sock, &m, 0) != 0)
            return NULL;
        struct codec_request req;
        struct slic_batch b;
        CHECK_OK(codec_request_unpack(nng_msg_body(m), nng_msg_len(m), &req, NULL));
        CHECK_OK(codec_batch_unpack(req.batch, req.batch_len, &b, NULL));
        u->signed_all &= req.hmac_len == 32;
        struct slic_ack ack = {.status = SLIC_ACK_ACCEPTED, .epoch = b.epoch, .seq = b.seq};
        if (b.seq == 1) {
            ack.status = SLIC_ACK_REJECTED;
            ack.cause = SLIC_ACK_CAUSE_INVALID;
            snprintf(ack.reason, sizeof ack.reason, "scripted refusal");
        } else if (b.seq == 2) {
            ack.status = u->retried_seq2++ ? SLIC_ACK_DUPLICATE : SLIC_ACK_RETRY;
        }
        codec_request_fini(&req);
        slic_batch_fini(&b);
        uint8_t *buf = NULL;
        size_t len = 0;
        CHECK_OK(codec_response_pack(&ack, NULL, &buf, &len));
        nng_msg_clear(m);
        CHECK(nng_msg_append(m, buf, len) == 0);
        slic_free(buf);
        if (nng_sendmsg(u->sock, m, 0) != 0)
            nng_msg_free(m);
        u->answered++;
    }
}

static void forwarder_outcomes(void)
{
    agg_store *st = open_store("region-1", 0);
    const char *sites[3] = {"s1", "s2", "s3"};
    for (int i = 0; i < 3; i++) {
        write_one(st, batch_of("a1", sites[i], (uint64_t)i + 1, 10, 0), AGG_INGEST_ACCEPTED);
    }
    struct upstream u = {.signed_all = true};
    CHECK(nng_rep0_open(&u.sock) == 0);
    CHECK(nng_listen(u.sock, "inproc://slic-forward-test", NULL, 0) == 0);
    CHECK(pthread_create(&u.thread, NULL, upstream_main, &u) == 0);

    struct agg_forward_options o = {.url = "inproc://slic-forward-test",
                                    .id = "region-1",
                                    .sign = true,
                                    .backoff_min_ms = 10,
                                    .backoff_max_ms = 20,
                                    .idle_poll_ms = 10};
    agg_forward *f = NULL;
    CHECK_OK(agg_forward_create(st, &o, &f, NULL));
    struct agg_store_forward_stats s = fstats(st);
    for (int i = 0; i < 500 && s.queued > 0; i++) {
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
        s = fstats(st);
    }
    CHECK_U64_EQ(s.queued, 0);
    CHECK_U64_EQ(s.set_aside, 1);
    struct agg_forward_stats fs;
    agg_forward_stats_get(f, &fs);
    CHECK_U64_EQ(fs.forwarded, 2);
    CHECK_U64_EQ(fs.duplicates, 1);
    CHECK_U64_EQ(fs.set_aside, 1);
    CHECK(fs.retries >= 1);
    CHECK(fs.reachable);
    CHECK(u.signed_all);
    struct agg__buf page = {0};
    CHECK_OK(agg_forward_metrics(f, &page));
    CHECK(page.len > 0);
    char *text = slic_malloc(page.len + 1);
    CHECK(text != NULL);
    memcpy(text, page.p, page.len);
    text[page.len] = '\0';
    CHECK(strstr(text, "slic_aggregator_forward_batches_total 2\n") != NULL);
    CHECK(strstr(text, "slic_aggregator_forward_set_aside_batches 1\n") != NULL);
    CHECK(strstr(text, "slic_aggregator_forward_queue_batches 0\n") != NULL);
    slic_free(text);
    agg__buf_fini(&page);
    agg_forward_destroy(f);
    nng_close(u.sock);
    pthread_join(u.thread, NULL);
    agg_store_close(st);
}

/* Seconds agg_forward_destroy takes after the forwarder ran 200 ms against url. */
static double destroy_seconds(agg_store *st, const char *url)
{
    struct agg_forward_options o = {.url = url, .id = "region-1", .ack_timeout_ms = 30000};
    agg_forward *f = NULL;
    CHECK_OK(agg_forward_create(st, &o, &f, NULL));
    nanosleep(&(struct timespec){0, 200 * 1000000}, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    agg_forward_destroy(f);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* An unreachable upstream does not hold the forwarder's destroy up at all, and one that took
 * the request and never answers holds it only for the close grace (1 s), not the 30 s ack
 * timeout. The batch stays queued either way. */
static void destroy_is_prompt_when_unreachable(void)
{
    agg_store *st = open_store("region-1", 0);
    write_one(st, batch_of("a1", "east", 1, 10, 0), AGG_INGEST_ACCEPTED);
    CHECK(destroy_seconds(st, "inproc://slic-forward-nobody") < 0.5);
    nng_socket silent;
    CHECK(nng_rep0_open(&silent) == 0);
    CHECK(nng_listen(silent, "inproc://slic-forward-silent", NULL, 0) == 0);
    double took = destroy_seconds(st, "inproc://slic-forward-silent");
    CHECK(took < 2.0);
    CHECK_U64_EQ(fstats(st).queued, 1);
    nng_close(silent);
    agg_store_close(st);
}

HARNESS_CASES(HARNESS_CASE(merge_per_group), HARNESS_CASE(queue_survives_crash),
              HARNESS_CASE(epoch_per_id), HARNESS_CASE(duplicates_not_forwarded),
              HARNESS_CASE(disabled_queues_nothing), HARNESS_CASE(bounded_queue_drops),
              HARNESS_CASE(bounded_queue_merges_first), HARNESS_CASE(bounded_queue_random),
              HARNESS_CASE(set_aside), HARNESS_CASE(merge_splits_and_empty_series),
              HARNESS_CASE(start_without_upstream), HARNESS_CASE(forwarder_outcomes),
              HARNESS_CASE(destroy_is_prompt_when_unreachable),
              HARNESS_CASE(store_without_forward_dbs_opens), HARNESS_CASE(backoff_bounds),
              HARNESS_CASE(map_growth_redo_queues_once));
HARNESS_MAIN()
