/* Tests of the agent's spool (agent/spool*.c) against real LMDB in a temporary directory:
 * append / take / ack order, restarts (clean and kill -9) keeping batches, epoch, seqs and state,
 * epochs, unknown acks, rejects kept aside and bounded, coarsening near the cap keeping every
 * count exact and touching only never-sent batches, dropping when coarsening cannot help, a
 * read-only reader in another process beside the writer, the one-writer lock, a full LMDB map,
 * refused inputs and dirs, and allocation failure. Time comes from a fake clock. */
#include "harness.h"

#include "alloc.h"
#include "batch.h"
#include "codec_batch.h"
#include "err.h"
#include "sketch.h"
#include "spool.h"
#include "spool_int.h"

#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define AGENT "agent-1"
/* An hour boundary: 10 s, 1 min and 1 h windows all start here. */
#define T0 INT64_C(1699999200)
#define DAY 86400
#define KIB 1024u

struct fake_clock {
    int64_t ms;
};

static int64_t fake_ms(void *ctx)
{
    return ((struct fake_clock *)ctx)->ms;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = slic_malloc(n + 1);
    CHECK(p != NULL);
    return memcpy(p, s, n + 1);
}

/* The latencies of one series: deterministic, 1 ms to 1 s. */
static double value_of(uint64_t seed, size_t i)
{
    return 0.001 * (double)(1 + (seed * 7919 + i * 104729) % 997);
}

static const double thresholds[] = {0.1, 0.5};

/* One series of `events` events in the 10 s window at start; every tenth event is bad. */
static void series_make(struct slic_series *s, const char *sli, const char *route, int64_t start,
                        size_t events, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->sli = dup_str(sli);
    s->labels = slic_calloc(1, sizeof *s->labels);
    CHECK(s->labels != NULL);
    s->labels[0].key = dup_str("route");
    s->labels[0].value = dup_str(route);
    s->n_labels = 1;
    s->window_start = start;
    s->window_seconds = 10;
    CHECK_OK(slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                                &s->latency));
    s->thresholds = slic_calloc(2, sizeof *s->thresholds);
    CHECK(s->thresholds != NULL);
    s->n_thresholds = 2;
    for (size_t t = 0; t < 2; t++)
        s->thresholds[t].threshold = thresholds[t];
    for (size_t i = 0; i < events; i++) {
        double v = value_of(seed, i);
        bool good = i % 10 != 0;
        CHECK_OK(slic_sketch_add(s->latency, v));
        s->total++;
        s->good += good;
        for (size_t t = 0; t < 2; t++) {
            s->thresholds[t].count_le += v <= thresholds[t];
            s->thresholds[t].good_le += good && v <= thresholds[t];
        }
    }
}

/* A batch of the 10 s window at start: n_series series of two SLIs and several routes. */
static void batch_make(struct slic_batch *b, int64_t start, size_t n_series, size_t events)
{
    memset(b, 0, sizeof *b);
    b->agent_id = dup_str(AGENT);
    b->site = dup_str("site-a");
    b->node = dup_str("node-1");
    b->created_unix_ms = (start + 10) * 1000;
    b->series = slic_calloc(n_series, sizeof *b->series);
    CHECK(b->series != NULL);
    for (size_t i = 0; i < n_series; i++) {
        char route[32];
        snprintf(route, sizeof route, "/r%zu", i / 2);
        series_make(&b->series[i], i % 2 ? "checkout" : "login", route, start, events,
                    (uint64_t)start + i);
    }
    b->n_series = n_series;
}

/* Everything counted in some batches: the sums coarsening must keep. */
struct totals {
    uint64_t total;
    uint64_t good;
    uint64_t sketch_count;
    uint64_t count_le[2];
    uint64_t good_le[2];
    uint64_t batches;
};

static void totals_add(struct totals *t, const struct slic_batch *b)
{
    for (size_t i = 0; i < b->n_series; i++) {
        const struct slic_series *s = &b->series[i];
        t->total += s->total;
        t->good += s->good;
        t->sketch_count += s->latency ? slic_sketch_count(s->latency) : 0;
        CHECK_INT_EQ(s->n_thresholds, 2);
        for (size_t k = 0; k < 2; k++) {
            t->count_le[k] += s->thresholds[k].count_le;
            t->good_le[k] += s->thresholds[k].good_le;
        }
    }
    t->batches++;
}

static void totals_check_eq(const struct totals *a, const struct totals *b)
{
    CHECK_U64_EQ(a->total, b->total);
    CHECK_U64_EQ(a->good, b->good);
    CHECK_U64_EQ(a->sketch_count, b->sketch_count);
    for (size_t k = 0; k < 2; k++) {
        CHECK_U64_EQ(a->count_le[k], b->count_le[k]);
        CHECK_U64_EQ(a->good_le[k], b->good_le[k]);
    }
}

static const char *spool_dir(void)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/spool", harness_tmpdir());
    return dir;
}

static struct fake_clock test_clock = {(T0 + 10 * DAY) * 1000};

static struct agent_spool_options opts(uint64_t cap)
{
    return (struct agent_spool_options){
        .cap_bytes = cap, .agent_id = AGENT, .clock_ms = fake_ms, .clock_ctx = &test_clock};
}

static agent_spool *open_writer(uint64_t cap)
{
    struct agent_spool_options o = opts(cap);
    agent_spool *sp = NULL;
    struct slic_errmsg e = {{0}};
    int rc = agent_spool_open(spool_dir(), &o, &sp, &e);
    if (rc)
        harness_fail(__FILE__, __LINE__, "open: %s", e.text);
    return sp;
}

/* Appends the window at start; returns its seq. Adds its counts to *t when given. */
static uint64_t append_window(agent_spool *sp, int64_t start, size_t n_series, size_t events,
                              struct totals *t)
{
    struct slic_batch b;
    batch_make(&b, start, n_series, events);
    uint64_t seq = 0;
    struct slic_errmsg e = {{0}};
    int rc = agent_spool_append(sp, &b, start + 10, NULL, 0, &seq, &e);
    if (rc)
        harness_fail(__FILE__, __LINE__, "append: %s (%s)", slic_errname(rc), e.text);
    if (t)
        totals_add(t, &b);
    slic_batch_fini(&b);
    return seq;
}

static struct agent_spool_stats stats_of(agent_spool *sp)
{
    struct agent_spool_stats st;
    CHECK_OK(agent_spool_stats_get(sp, &st, NULL));
    return st;
}

/* Walks every pending batch: checks seqs are consecutive from first_seq (no holes: tombstones
 * stand in for merged and dropped ones), each decodes with the spool's epoch and its seq, every
 * window is aligned, within an hour and ended by now; sums the counts. Returns the count. */
static size_t pending_walk(agent_spool *sp, uint64_t first_seq, struct totals *t,
                           size_t *tombstones)
{
    struct agent_spool_item items[16];
    size_t n, count = 0;
    uint64_t after = 0, expect = first_seq;
    int64_t now = test_clock.ms / 1000;
    *tombstones = 0;
    do {
        CHECK_OK(agent_spool_peek(sp, after, 16, items, &n, NULL));
        for (size_t i = 0; i < n; i++) {
            struct slic_batch b;
            CHECK_U64_EQ(items[i].seq, expect);
            CHECK_OK(codec_batch_unpack(items[i].bytes, items[i].len, &b, NULL));
            CHECK_U64_EQ(b.seq, items[i].seq);
            CHECK_U64_EQ(b.epoch, agent_spool_epoch(sp));
            CHECK_INT_EQ(b.n_series, items[i].n_series);
            for (size_t j = 0; j < b.n_series; j++) {
                const struct slic_series *s = &b.series[j];
                int64_t end = s->window_start + (int64_t)s->window_seconds;
                CHECK_INT_EQ(s->window_start % s->window_seconds, 0);
                CHECK_INT_EQ(s->window_start / 3600, (end - 1) / 3600);
                CHECK(end <= now);
            }
            *tombstones += b.n_series == 0;
            totals_add(t, &b);
            slic_batch_fini(&b);
            after = items[i].seq;
            expect++;
            count++;
            agent_spool_item_fini(&items[i]);
        }
    } while (n > 0);
    return count;
}

/* ---- order, restart, epochs ---- */

static void test_append_take_ack_order(void)
{
    agent_spool *sp = open_writer(0);
    uint64_t epoch = agent_spool_epoch(sp);
    CHECK(epoch >= (uint64_t)test_clock.ms);
    for (int i = 0; i < 5; i++)
        CHECK_U64_EQ(append_window(sp, T0 + 10 * i, 2, 20, NULL), (uint64_t)i + 1);
    struct agent_spool_item it[8];
    size_t n;
    CHECK_OK(agent_spool_take(sp, 0, 2, it, &n, NULL));
    CHECK_INT_EQ(n, 2);
    CHECK_U64_EQ(it[0].seq, 1);
    CHECK_U64_EQ(it[1].seq, 2);
    CHECK(it[0].sent && it[1].sent);
    CHECK_INT_EQ(it[0].window_start, T0);
    CHECK_INT_EQ(it[0].window_end, T0 + 10);
    CHECK_U64_EQ(it[0].events, 40);
    CHECK_U64_EQ(it[0].epoch, epoch);
    for (size_t i = 0; i < n; i++)
        agent_spool_item_fini(&it[i]);
    CHECK_OK(agent_spool_take(sp, 2, 8, it, &n, NULL));
    CHECK_INT_EQ(n, 3);
    CHECK_U64_EQ(it[0].seq, 3);
    CHECK_U64_EQ(it[2].seq, 5);
    for (size_t i = 0; i < n; i++)
        agent_spool_item_fini(&it[i]);
    CHECK_OK(agent_spool_take(sp, 5, 8, it, &n, NULL));
    CHECK_INT_EQ(n, 0);
    for (uint64_t s = 1; s <= 3; s++)
        CHECK_OK(agent_spool_ack(sp, epoch, s, NULL));
    CHECK_OK(agent_spool_peek(sp, 0, 8, it, &n, NULL));
    CHECK_INT_EQ(n, 2);
    CHECK_U64_EQ(it[0].seq, 4);
    CHECK(it[0].sent);
    for (size_t i = 0; i < n; i++)
        agent_spool_item_fini(&it[i]);
    struct agent_spool_stats st = stats_of(sp);
    CHECK_U64_EQ(st.pending, 2);
    CHECK_U64_EQ(st.pending_sent, 2);
    CHECK_U64_EQ(st.next_seq, 6);
    CHECK_INT_EQ(st.oldest_window_start, T0 + 30);
    CHECK_INT_EQ(st.oldest_age_seconds, test_clock.ms / 1000 - (T0 + 30));
    CHECK_INT_EQ(st.last_closed_window_end, T0 + 50);
    CHECK(st.writer_open);
    CHECK(!st.unclean_start);
    agent_spool_close(sp);
}

static void test_restart_keeps_pending_epoch_state(void)
{
    agent_spool *sp = open_writer(0);
    uint64_t epoch = agent_spool_epoch(sp);
    struct agent_spool_state_kv kv[2] = {{"tail:/var/log/a", "offset=10", 9},
                                         {"tail:/var/log/b", "offset=7", 8}};
    struct slic_batch b;
    uint64_t seq;
    for (int i = 0; i < 3; i++) {
        batch_make(&b, T0 + 10 * i, 2, 5);
        kv[0].value = i == 2 ? "offset=99" : "offset=10";
        CHECK_OK(agent_spool_append(sp, &b, T0 + 10 * i + 10, kv, 2, &seq, NULL));
        slic_batch_fini(&b);
    }
    struct agent_spool_item it;
    size_t n;
    CHECK_OK(agent_spool_take(sp, 0, 1, &it, &n, NULL));
    agent_spool_item_fini(&it);
    agent_spool_close(sp);

    sp = open_writer(0);
    CHECK_U64_EQ(agent_spool_epoch(sp), epoch);
    struct agent_spool_stats st = stats_of(sp);
    CHECK_U64_EQ(st.pending, 3);
    CHECK_U64_EQ(st.pending_sent, 1);
    CHECK(!st.unclean_start);
    void *v;
    size_t len;
    CHECK_OK(agent_spool_state_get(sp, "tail:/var/log/a", &v, &len, NULL));
    CHECK_INT_EQ(len, 9);
    CHECK(memcmp(v, "offset=99", 9) == 0);
    slic_free(v);
    /* A NULL value deletes the record, in the same transaction as the window. */
    struct agent_spool_state_kv del = {"tail:/var/log/b", NULL, 0};
    batch_make(&b, T0 + 30, 2, 5);
    CHECK_OK(agent_spool_append(sp, &b, T0 + 40, &del, 1, &seq, NULL));
    slic_batch_fini(&b);
    CHECK_U64_EQ(seq, 4);
    CHECK_ERR(agent_spool_state_get(sp, "tail:/var/log/b", &v, &len, NULL), SLIC_ENOTFOUND);
    agent_spool_close(sp);
}

static void test_epoch_new_only_when_empty(void)
{
    agent_spool *sp = open_writer(0);
    uint64_t e1 = agent_spool_epoch(sp);
    append_window(sp, T0, 1, 5, NULL);
    agent_spool_close(sp);
    sp = open_writer(0);
    CHECK_U64_EQ(agent_spool_epoch(sp), e1); /* a batch is pending: kept */
    CHECK_OK(agent_spool_ack(sp, e1, 1, NULL));
    agent_spool_close(sp);
    sp = open_writer(0);
    uint64_t e2 = agent_spool_epoch(sp);
    CHECK(e2 > e1); /* empty: a new epoch, even with the clock standing still */
    CHECK_U64_EQ(append_window(sp, T0 + 10, 1, 5, NULL), 1);
    agent_spool_close(sp);
}

static void test_ack_unknown_is_harmless(void)
{
    agent_spool *sp = open_writer(0);
    uint64_t epoch = agent_spool_epoch(sp);
    append_window(sp, T0, 1, 5, NULL);
    CHECK_ERR(agent_spool_ack(sp, epoch, 99, NULL), SLIC_ENOTFOUND);
    CHECK_ERR(agent_spool_ack(sp, epoch + 1, 1, NULL), SLIC_ENOTFOUND);
    CHECK_ERR(agent_spool_reject(sp, epoch, 99, "x", NULL), SLIC_ENOTFOUND);
    CHECK_U64_EQ(stats_of(sp).pending, 1);
    CHECK_OK(agent_spool_ack(sp, epoch, 1, NULL));
    CHECK_ERR(agent_spool_ack(sp, epoch, 1, NULL), SLIC_ENOTFOUND);
    struct agent_spool_stats st = stats_of(sp);
    CHECK_U64_EQ(st.pending, 0);
    CHECK_U64_EQ(st.pending_bytes, 0);
    CHECK_U64_EQ(st.rejected_total, 0);
    agent_spool_close(sp);
}

static void test_reject_kept_aside_and_bounded(void)
{
    struct agent_spool_options o = opts(0);
    o.rejected_max = 3;
    agent_spool *sp = NULL;
    CHECK_OK(agent_spool_open(spool_dir(), &o, &sp, NULL));
    uint64_t epoch = agent_spool_epoch(sp);
    for (int i = 0; i < 6; i++)
        append_window(sp, T0 + 10 * i, 2, 5, NULL);
    CHECK_OK(agent_spool_reject(sp, epoch, 1, "series[0]: sketch alpha 0.02", NULL));
    struct agent_spool_item it[8];
    size_t n;
    CHECK_OK(agent_spool_peek(sp, 0, 8, it, &n, NULL));
    CHECK_INT_EQ(n, 5);
    CHECK_U64_EQ(it[0].seq, 2);
    for (size_t i = 0; i < n; i++)
        agent_spool_item_fini(&it[i]);
    struct agent_spool_rejected rej[8];
    CHECK_OK(agent_spool_rejected_list(sp, rej, 8, &n, NULL));
    CHECK_INT_EQ(n, 1);
    CHECK_U64_EQ(rej[0].seq, 1);
    CHECK_U64_EQ(rej[0].epoch, epoch);
    CHECK_U64_EQ(rej[0].events, 10);
    CHECK_INT_EQ(rej[0].window_start, T0);
    CHECK_INT_EQ(rej[0].rejected_unix_ms, test_clock.ms);
    CHECK_STR_EQ(rej[0].reason, "series[0]: sketch alpha 0.02");
    for (uint64_t s = 2; s <= 5; s++)
        CHECK_OK(agent_spool_reject(sp, epoch, s, NULL, NULL));
    CHECK_ERR(agent_spool_ack(sp, epoch, 1, NULL), SLIC_ENOTFOUND); /* not pending any more */
    agent_spool_close(sp);

    CHECK_OK(agent_spool_open(spool_dir(), &o, &sp, NULL));
    CHECK_OK(agent_spool_rejected_list(sp, rej, 8, &n, NULL));
    CHECK_INT_EQ(n, 3); /* the two oldest were deleted to keep 3 */
    CHECK_U64_EQ(rej[0].seq, 3);
    CHECK_U64_EQ(rej[2].seq, 5);
    CHECK_STR_EQ(rej[2].reason, "(no reason given)");
    struct agent_spool_stats st = stats_of(sp);
    CHECK_U64_EQ(st.rejected_kept, 3);
    CHECK_U64_EQ(st.rejected_total, 5);
    CHECK_U64_EQ(st.rejected_deleted, 2);
    CHECK_U64_EQ(st.pending, 1);
    agent_spool_close(sp);
}

/* ---- the cap ---- */

static void test_coarsen_keeps_counts_exact(void)
{
    const uint64_t cap = 1024 * KIB;
    agent_spool *sp = open_writer(cap);
    struct totals in = {0}, out = {0};
    const size_t windows = 420; /* 70 minutes: two hours */
    struct agent_spool_item sent[3];
    size_t n_sent = 0;
    for (size_t i = 0; i < windows; i++) {
        append_window(sp, T0 + 10 * (int64_t)i, 8, 40, &in);
        if (i == 2) /* the first three go to the sender: they must never be merged */
            CHECK_OK(agent_spool_take(sp, 0, 3, sent, &n_sent, NULL));
        CHECK(stats_of(sp).used_bytes <= cap);
    }
    CHECK_INT_EQ(n_sent, 3);
    struct agent_spool_stats st = stats_of(sp);
    CHECK(st.coarsened > 0);
    CHECK_U64_EQ(st.dropped, 0);
    CHECK_U64_EQ(st.pending, windows);
    size_t tombstones;
    CHECK_INT_EQ(pending_walk(sp, 1, &out, &tombstones), windows);
    totals_check_eq(&in, &out);
    CHECK_U64_EQ(tombstones, st.coarsened);
    /* The sent batches are byte for byte what the sender holds. */
    struct agent_spool_item it[3];
    size_t n;
    CHECK_OK(agent_spool_peek(sp, 0, 3, it, &n, NULL));
    for (size_t i = 0; i < 3; i++) {
        CHECK_INT_EQ(it[i].len, sent[i].len);
        CHECK(memcmp(it[i].bytes, sent[i].bytes, it[i].len) == 0);
        CHECK_INT_EQ(it[i].n_series, 8);
        agent_spool_item_fini(&it[i]);
        agent_spool_item_fini(&sent[i]);
    }
    /* Coarse windows are whole minutes or hours. */
    CHECK_OK(agent_spool_peek(sp, 3, 1, it, &n, NULL));
    struct slic_batch b;
    CHECK_OK(codec_batch_unpack(it[0].bytes, it[0].len, &b, NULL));
    CHECK(b.series[0].window_seconds == 60 || b.series[0].window_seconds == 3600);
    slic_batch_fini(&b);
    agent_spool_item_fini(&it[0]);
    /* Acking everything empties the spool and its byte count. */
    uint64_t epoch = agent_spool_epoch(sp);
    for (uint64_t s = 1; s <= windows; s++)
        CHECK_OK(agent_spool_ack(sp, epoch, s, NULL));
    st = stats_of(sp);
    CHECK_U64_EQ(st.pending, 0);
    CHECK_U64_EQ(st.pending_bytes, 0);
    agent_spool_close(sp);
}

static void test_drop_when_coarsening_cannot_help(void)
{
    const uint64_t cap = 512 * KIB;
    agent_spool *sp = open_writer(cap);
    struct totals in = {0}, out = {0};
    const size_t windows = 200;
    for (size_t i = 0; i < windows; i++) {
        uint64_t seq = append_window(sp, T0 + 10 * (int64_t)i, 8, 40, &in);
        /* Everything is handed to the sender at once, so nothing may be merged. */
        struct agent_spool_item it;
        size_t n;
        CHECK_OK(agent_spool_take(sp, seq - 1, 1, &it, &n, NULL));
        CHECK_INT_EQ(n, 1);
        agent_spool_item_fini(&it);
        CHECK(stats_of(sp).used_bytes <= cap);
    }
    struct agent_spool_stats st = stats_of(sp);
    CHECK_U64_EQ(st.coarsened, 0);
    CHECK(st.dropped > 0);
    CHECK_U64_EQ(st.pending, windows);
    size_t tombstones;
    CHECK_INT_EQ(pending_walk(sp, 1, &out, &tombstones), windows);
    CHECK_U64_EQ(tombstones, st.dropped);
    CHECK_U64_EQ(out.total + st.dropped_events, in.total);
    /* The oldest went first. */
    struct agent_spool_item it;
    size_t n;
    CHECK_OK(agent_spool_peek(sp, 0, 1, &it, &n, NULL));
    CHECK_INT_EQ(it.n_series, 0);
    agent_spool_item_fini(&it);
    CHECK_OK(agent_spool_peek(sp, windows - 1, 1, &it, &n, NULL));
    CHECK_INT_EQ(it.n_series, 8);
    agent_spool_item_fini(&it);
    agent_spool_close(sp);
}

static void test_coarse_window_choice(void)
{
    struct {
        int64_t a0, a1, b0, b1;
        uint32_t lcm_a, lcm_b;
        int64_t now;
        uint32_t want;
        bool later;
    } cases[] = {
        {T0, T0 + 10, T0 + 10, T0 + 20, 10, 10, T0 + DAY, 60, false},
        {T0, T0 + 60, T0 + 60, T0 + 70, 60, 10, T0 + DAY, 3600, false},
        {T0, T0 + 10, T0 + 10, T0 + 20, 10, 10, T0 + 30, 0, true}, /* minute still open */
        {T0, T0 + 10, T0, T0 + 10, 10, 10, T0 + 10, 10, false},    /* the same window */
        {T0 + 3590, T0 + 3600, T0 + 3600, T0 + 3610, 10, 10, T0 + DAY, 0, false}, /* hours */
        {T0, T0 + 30, T0 + 30, T0 + 60, 30, 30, T0 + DAY, 60, false},
        {T0, T0 + 70, T0 + 70, T0 + 140, 0, 0, T0 + DAY, 0, false}, /* 70 s: never */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct agent__spool_hdr a = {1, cases[i].lcm_a, cases[i].a0, cases[i].a1, 1};
        struct agent__spool_hdr b = {1, cases[i].lcm_b, cases[i].b0, cases[i].b1, 1};
        bool later;
        CHECK_INT_EQ(agent__spool_coarse_window(&a, &b, cases[i].now, &later), cases[i].want);
        CHECK_INT_EQ(later, cases[i].later);
    }
}

static void test_merge_series(void)
{
    struct slic_batch a, b;
    batch_make(&a, T0, 4, 30);
    batch_make(&b, T0 + 10, 4, 30);
    /* b's first series counts one threshold fewer: only the common one survives the merge. */
    b.series[0].n_thresholds = 1;
    struct totals ta = {0};
    totals_add(&ta, &a);
    uint64_t total_b = 0;
    for (size_t i = 0; i < b.n_series; i++)
        total_b += b.series[i].total;
    CHECK_OK(agent__spool_merge(&a, &b, 60));
    CHECK_INT_EQ(b.n_series, 0);
    CHECK_INT_EQ(a.n_series, 4);
    for (size_t i = 0; i < a.n_series; i++) {
        CHECK_INT_EQ(a.series[i].window_start, T0);
        CHECK_INT_EQ(a.series[i].window_seconds, 60);
        CHECK_U64_EQ(a.series[i].total, 60);
        CHECK_U64_EQ(slic_sketch_count(a.series[i].latency), 60);
    }
    size_t two = 0;
    for (size_t i = 0; i < a.n_series; i++)
        two += a.series[i].n_thresholds == 2;
    CHECK_INT_EQ(two, 3);
    uint64_t total = 0;
    for (size_t i = 0; i < a.n_series; i++)
        total += a.series[i].total;
    CHECK_U64_EQ(total, ta.total + total_b);
    slic_batch_fini(&a);
    slic_batch_fini(&b);
}

/* ---- processes ---- */

/* In a child process: opens read-only and exits with the pending count (250+: an error). */
static int reader_child(void)
{
    struct agent_spool_options o = {.read_only = true};
    agent_spool *sp = NULL;
    struct agent_spool_stats st;
    if (agent_spool_open(spool_dir(), &o, &sp, NULL) != 0)
        return 250;
    int code = agent_spool_stats_get(sp, &st, NULL) == 0 && st.writer_open ? (int)st.pending : 251;
    struct slic_batch b;
    batch_make(&b, T0, 1, 1);
    uint64_t seq;
    if (agent_spool_append(sp, &b, T0 + 10, NULL, 0, &seq, NULL) != SLIC_EINVAL)
        code = 252;
    slic_batch_fini(&b);
    agent_spool_close(sp);
    return code;
}

static int run_child(int (*fn)(void))
{
    (void)spool_dir(); /* the case's temporary dir is made here, shared with the child */
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(fn());
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_readonly_beside_writer(void)
{
    struct agent_spool_options ro = {.read_only = true};
    agent_spool *r = NULL;
    CHECK_ERR(agent_spool_open(spool_dir(), &ro, &r, NULL), SLIC_ENOTFOUND);
    agent_spool *sp = open_writer(0);
    for (int i = 0; i < 3; i++)
        append_window(sp, T0 + 10 * i, 2, 5, NULL);
    CHECK_INT_EQ(run_child(reader_child), 3);
    append_window(sp, T0 + 30, 2, 5, NULL);
    CHECK_INT_EQ(run_child(reader_child), 4);
    /* One writer per dir. */
    struct agent_spool_options o = opts(0);
    agent_spool *second = NULL;
    struct slic_errmsg e = {{0}};
    CHECK_ERR(agent_spool_open(spool_dir(), &o, &second, &e), -EBUSY);
    CHECK(strstr(e.text, spool_dir()) != NULL);
    agent_spool_close(sp);
}

static int killed_writer_child(void)
{
    agent_spool *sp = open_writer(0);
    for (int i = 0; i < 3; i++)
        append_window(sp, T0 + 10 * i, 2, 5, NULL);
    struct agent_spool_item it;
    size_t n;
    CHECK_OK(agent_spool_take(sp, 0, 1, &it, &n, NULL));
    raise(SIGKILL); /* no close, no exit handlers: what kill -9 leaves */
    return 0;
}

static void test_kill9_restart_loses_nothing_spooled(void)
{
    CHECK_INT_EQ(run_child(killed_writer_child), 128 + SIGKILL);
    agent_spool *sp = open_writer(0);
    struct agent_spool_stats st = stats_of(sp);
    CHECK(st.unclean_start);
    CHECK_U64_EQ(st.pending, 3);
    CHECK_U64_EQ(st.pending_sent, 1);
    CHECK_U64_EQ(st.next_seq, 4);
    CHECK_INT_EQ(st.last_closed_window_end, T0 + 30);
    uint64_t epoch = st.epoch;
    agent_spool_close(sp);
    sp = open_writer(0);
    st = stats_of(sp);
    CHECK(!st.unclean_start);
    CHECK_U64_EQ(st.epoch, epoch);
    agent_spool_close(sp);
}

/* ---- failures ---- */

/* State records cannot be coarsened or dropped, so a map too small for them fills for good:
 * appends then fail with SLIC_ERETRY, and the spool stays intact. */
static void test_map_full_is_an_error(void)
{
    struct agent_spool_options o = opts(1024 * KIB);
    o.map_size = 96 * KIB; /* far below the cap: the map fills first */
    agent_spool *sp = NULL;
    CHECK_OK(agent_spool_open(spool_dir(), &o, &sp, NULL));
    static char blob[4000];
    memset(blob, 'x', sizeof blob);
    size_t ok = 0, full = 0;
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof key, "tail:%d", i);
        struct agent_spool_state_kv kv = {key, blob, sizeof blob};
        struct slic_batch b;
        batch_make(&b, T0 + 10 * i, 4, 20);
        uint64_t seq;
        struct slic_errmsg e = {{0}};
        int rc = agent_spool_append(sp, &b, T0 + 10 * i + 10, &kv, 1, &seq, &e);
        slic_batch_fini(&b);
        if (rc == SLIC_ERETRY) {
            CHECK(strstr(e.text, spool_dir()) != NULL);
            full++;
            continue;
        }
        CHECK_OK(rc);
        CHECK_U64_EQ(seq, ++ok);
    }
    CHECK(full > 0);
    CHECK(ok > 0);
    agent_spool_close(sp);
    /* Reopened with room: every stored seq is there, without holes, with its state record. */
    sp = open_writer(0);
    struct totals t = {0};
    size_t tombstones;
    CHECK_INT_EQ(pending_walk(sp, 1, &t, &tombstones), ok);
    void *v;
    size_t len;
    CHECK_OK(agent_spool_state_get(sp, "tail:0", &v, &len, NULL));
    CHECK_INT_EQ(len, sizeof blob);
    slic_free(v);
    CHECK_U64_EQ(append_window(sp, T0 + 1000, 1, 5, NULL), ok + 1);
    agent_spool_close(sp);
}

static void test_refused_inputs(void)
{
    agent_spool *sp = open_writer(AGENT_SPOOL_MIN_CAP);
    struct slic_batch b;
    uint64_t seq;
    batch_make(&b, T0 + 5, 1, 5); /* not aligned */
    CHECK_ERR(agent_spool_append(sp, &b, T0 + 15, NULL, 0, &seq, NULL), SLIC_EINVAL);
    slic_batch_fini(&b);
    batch_make(&b, T0, 1, 5);
    slic_free(b.agent_id);
    b.agent_id = dup_str("someone-else");
    CHECK_ERR(agent_spool_append(sp, &b, T0 + 10, NULL, 0, &seq, NULL), SLIC_EINVAL);
    slic_batch_fini(&b);
    char key[AGENT_SPOOL_STATE_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    struct agent_spool_state_kv kv = {key, "v", 1};
    batch_make(&b, T0, 1, 5);
    CHECK_ERR(agent_spool_append(sp, &b, T0 + 10, &kv, 1, &seq, NULL), SLIC_EINVAL);
    slic_batch_fini(&b);
    /* More than a quarter of the cap in one window. */
    batch_make(&b, T0, 200, 200);
    CHECK_ERR(agent_spool_append(sp, &b, T0 + 10, NULL, 0, &seq, NULL), SLIC_ETOOBIG);
    slic_batch_fini(&b);
    CHECK_U64_EQ(stats_of(sp).pending, 0);
    CHECK_U64_EQ(append_window(sp, T0, 1, 5, NULL), 1);
    agent_spool_close(sp);

    struct agent_spool_options o = opts(0);
    o.agent_id = "bad id";
    CHECK_ERR(agent_spool_open(spool_dir(), &o, &sp, NULL), SLIC_EINVAL);
    o = opts(1000);
    CHECK_ERR(agent_spool_open(spool_dir(), &o, &sp, NULL), SLIC_EINVAL);
}

static void test_agent_id_change(void)
{
    agent_spool *sp = open_writer(0);
    uint64_t epoch = agent_spool_epoch(sp);
    append_window(sp, T0, 1, 5, NULL);
    agent_spool_close(sp);
    struct agent_spool_options o = opts(0);
    o.agent_id = "agent-2";
    struct slic_errmsg e = {{0}};
    CHECK_ERR(agent_spool_open(spool_dir(), &o, &sp, &e), SLIC_ECONFIG);
    CHECK(strstr(e.text, "agent-1") != NULL);
    sp = open_writer(0);
    CHECK_OK(agent_spool_ack(sp, epoch, 1, NULL));
    agent_spool_close(sp);
    CHECK_OK(agent_spool_open(spool_dir(), &o, &sp, NULL)); /* empty: the new id is taken */
    CHECK(agent_spool_epoch(sp) > epoch);
    agent_spool_close(sp);
}

static void test_other_schema_version_refused(void)
{
    agent_spool *sp = open_writer(0);
    agent_spool_close(sp);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {4, "meta"}, v;
    CHECK_OK(mdb_env_create(&env));
    CHECK_OK(mdb_env_set_maxdbs(env, 8));
    CHECK_OK(mdb_env_open(env, spool_dir(), 0, 0640));
    CHECK_OK(mdb_txn_begin(env, NULL, 0, &txn));
    CHECK_OK(mdb_dbi_open(txn, "meta", 0, &dbi));
    CHECK_OK(mdb_get(txn, dbi, &k, &v));
    uint8_t copy[256];
    CHECK(v.mv_size <= sizeof copy);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[0] = 99;
    v.mv_data = copy;
    CHECK_OK(mdb_put(txn, dbi, &k, &v, 0));
    CHECK_OK(mdb_txn_commit(txn));
    mdb_env_close(env);
    struct agent_spool_options o = opts(0);
    struct slic_errmsg e = {{0}};
    CHECK_ERR(agent_spool_open(spool_dir(), &o, &sp, &e), SLIC_EVERSION);
    CHECK(strstr(e.text, spool_dir()) != NULL);
}

/* Every allocation of an append, failed in turn: SLIC_ENOMEM and nothing stored, then success.
 * The second round runs with the spool past the coarsening threshold, so the failures land in
 * decoding, merging and re-encoding too; counts stay exact throughout. */
static void test_alloc_failure_on_append(void)
{
    agent_spool *sp = open_writer(AGENT_SPOOL_MIN_CAP);
    struct totals in = {0}, out = {0};
    int64_t start = T0;
    for (int round = 0; round < 2; round++) {
        while (round == 1 && stats_of(sp).coarsened == 0)
            append_window(sp, (start += 10), 8, 40, &in);
        struct slic_batch b;
        batch_make(&b, (start += 10), 8, 40);
        struct agent_spool_stats before = stats_of(sp);
        uint64_t seq = 0;
        int rc = SLIC_ENOMEM;
        for (long n = 0; rc == SLIC_ENOMEM; n++) {
            slic_alloc_fail_after(n);
            rc = agent_spool_append(sp, &b, start + 10, NULL, 0, &seq, NULL);
            slic_alloc_fail_after(-1);
            if (rc == SLIC_ENOMEM) {
                struct agent_spool_stats now = stats_of(sp);
                CHECK_U64_EQ(now.next_seq, before.next_seq);
                CHECK_U64_EQ(now.pending, before.pending);
            }
        }
        CHECK_OK(rc);
        CHECK_U64_EQ(seq, before.next_seq);
        totals_add(&in, &b);
        slic_batch_fini(&b);
    }
    size_t tombstones;
    pending_walk(sp, 1, &out, &tombstones);
    totals_check_eq(&in, &out);
    agent_spool_close(sp);
}

HARNESS_CASES(
    HARNESS_CASE(test_append_take_ack_order), HARNESS_CASE(test_restart_keeps_pending_epoch_state),
    HARNESS_CASE(test_epoch_new_only_when_empty), HARNESS_CASE(test_ack_unknown_is_harmless),
    HARNESS_CASE(test_reject_kept_aside_and_bounded), HARNESS_CASE(test_coarsen_keeps_counts_exact),
    HARNESS_CASE(test_drop_when_coarsening_cannot_help), HARNESS_CASE(test_coarse_window_choice),
    HARNESS_CASE(test_merge_series), HARNESS_CASE(test_readonly_beside_writer),
    HARNESS_CASE(test_kill9_restart_loses_nothing_spooled), HARNESS_CASE(test_map_full_is_an_error),
    HARNESS_CASE(test_refused_inputs), HARNESS_CASE(test_agent_id_change),
    HARNESS_CASE(test_other_schema_version_refused), HARNESS_CASE(test_alloc_failure_on_append));
HARNESS_MAIN()
