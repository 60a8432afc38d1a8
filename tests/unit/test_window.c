/* Tests of the agent's windowing (agent/window.c): exact totals and sketches per window; window
 * alignment, grace, late events and flushing; label filtering and canonical order; the label-set,
 * SLI and series caps with the overflow series; exact threshold counts against brute force, and
 * wanted thresholds from an Ack applying from the next window only; memory reused across many
 * windows; every batch closed passes the wire codec's validation (pack + unpack, field for
 * field); allocation failures on create, record, set_wanted and close are SLIC_ENOMEM, lose
 * nothing already counted, and crash nothing. */
#include "window.h"

#include "alloc.h"
#include "batch.h"
#include "codec_batch.h"
#include "err.h"
#include "harness.h"
#include "sketch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A receive time aligned to 10 s, 60 s and 1 h windows (ms). */
#define T INT64_C(1699999200000)
#define W10 INT64_C(10000)

/* ---- helpers ------------------------------------------------------------------------------- */

static struct slic_event ev_make(const char *name, double latency, bool good, uint64_t weight)
{
    struct slic_event ev;
    memset(&ev, 0, sizeof ev);
    ev.name = name;
    ev.name_len = strlen(name);
    ev.latency = latency;
    ev.good = good;
    ev.weight = weight;
    return ev;
}

static void ev_label(struct slic_event *ev, const char *key, const char *value)
{
    CHECK(ev->n_labels < SLIC_EVENT_LABELS_MAX);
    ev->labels[ev->n_labels++] = (struct slic_event_label){key, strlen(key), value, strlen(value)};
}

static agent_window *window_new(const struct agent_window_options *o)
{
    agent_window *w = NULL;
    struct slic_errmsg err = {{0}};
    int rc = agent_window_create(o, &w, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "create: %s: %s", slic_errname(rc), err.text);
    return w;
}

static agent_window *window_default(void)
{
    struct agent_window_options o;
    agent_window_options_init(&o);
    return window_new(&o);
}

static void record_ok(agent_window *w, const char *name, double latency, bool good, int64_t now)
{
    struct slic_event ev = ev_make(name, latency, good, 1);
    CHECK_OK(agent_window_record(w, &ev, now));
}

static struct agent_window_stats stats_of(const agent_window *w)
{
    struct agent_window_stats st;
    agent_window_stats_get(w, &st);
    return st;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = slic_malloc(n);
    CHECK(d != NULL);
    memcpy(d, s, n);
    return d;
}

static void check_series_equal(const struct slic_series *a, const struct slic_series *b)
{
    CHECK_STR_EQ(a->sli, b->sli);
    CHECK_U64_EQ(a->n_labels, b->n_labels);
    for (size_t i = 0; i < a->n_labels; i++) {
        CHECK_STR_EQ(a->labels[i].key, b->labels[i].key);
        CHECK_STR_EQ(a->labels[i].value, b->labels[i].value);
    }
    CHECK_INT_EQ(a->window_start, b->window_start);
    CHECK_U64_EQ(a->window_seconds, b->window_seconds);
    CHECK_U64_EQ(a->total, b->total);
    CHECK_U64_EQ(a->good, b->good);
    CHECK(slic_sketch_equal(a->latency, b->latency));
    CHECK_U64_EQ(a->n_thresholds, b->n_thresholds);
    for (size_t i = 0; i < a->n_thresholds; i++) {
        CHECK_DBL_EQ(a->thresholds[i].threshold, b->thresholds[i].threshold);
        CHECK_U64_EQ(a->thresholds[i].count_le, b->thresholds[i].count_le);
        CHECK_U64_EQ(a->thresholds[i].good_le, b->thresholds[i].good_le);
    }
}

static int series_order(const struct slic_series *a, const struct slic_series *b)
{
    int c = strcmp(a->sli, b->sli);
    for (size_t i = 0; c == 0 && i < a->n_labels && i < b->n_labels; i++)
        if ((c = strcmp(a->labels[i].key, b->labels[i].key)) == 0)
            c = strcmp(a->labels[i].value, b->labels[i].value);
    return c ? c : (a->n_labels > b->n_labels) - (a->n_labels < b->n_labels);
}

/* Fills the header as the agent would, then proves the wire codec accepts the batch as it is:
 * codec_batch_unpack validates every rule codec_batch.h lists. Also checks strict order. */
static void check_wire_valid(struct slic_batch *b)
{
    static uint64_t seq;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct slic_batch back = {0};
    struct codec_error err = {0};
    CHECK(b->agent_id == NULL && b->site == NULL && b->node == NULL);
    b->agent_id = xstrdup("agent-1");
    b->site = xstrdup("site-a");
    b->node = xstrdup("node-1");
    b->epoch = 1;
    b->seq = ++seq;
    for (size_t i = 1; i < b->n_series; i++)
        CHECK(series_order(&b->series[i - 1], &b->series[i]) < 0);
    CHECK_OK(codec_batch_pack(b, &buf, &len));
    int rc = codec_batch_unpack(buf, len, &back, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "unpack: %s: %s: %s", slic_errname(rc), err.field,
                     err.msg);
    CHECK_U64_EQ(back.n_series, b->n_series);
    for (size_t i = 0; i < b->n_series; i++)
        check_series_equal(&b->series[i], &back.series[i]);
    slic_batch_fini(&back);
    slic_free(buf);
}

/* Closes the one window due at now: checks it is valid on the wire and starts at start_ms. */
static void close_one(agent_window *w, int64_t now, int64_t start_ms, struct slic_batch *b)
{
    int64_t start = -1;
    CHECK_INT_EQ(agent_window_close_due(w, now, b, &start), 1);
    CHECK_INT_EQ(start, start_ms / 1000);
    check_wire_valid(b);
}

/* The series with these labels ("k=v" strings, sorted), or NULL. */
static const struct slic_series *find(const struct slic_batch *b, const char *sli, size_t n,
                                      const char *const *kv)
{
    for (size_t i = 0; i < b->n_series; i++) {
        const struct slic_series *s = &b->series[i];
        bool same = strcmp(s->sli, sli) == 0 && s->n_labels == n;
        for (size_t j = 0; same && j < n; j++) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s=%s", s->labels[j].key, s->labels[j].value);
            same = strcmp(buf, kv[j]) == 0;
        }
        if (same)
            return s;
    }
    return NULL;
}

static uint64_t batch_total(const struct slic_batch *b)
{
    uint64_t n = 0;
    for (size_t i = 0; i < b->n_series; i++)
        n += b->series[i].total;
    return n;
}

/* ---- totals, sketches and time ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void totals_and_quantiles(void)
{
    enum { N = 20000 };
    static double v[N];
    struct harness_rng r;
    harness_rng_seed(&r, 7);
    agent_window *w = window_default();
    uint64_t good = 0;
    for (int i = 0; i < N; i++) {
        v[i] = 0.01 * exp(harness_rng_normal(&r));
        bool ok = harness_rng_uniform(&r) < 0.9;
        good += ok;
        record_ok(w, "checkout", v[i], ok, T + 1 + i % 9000);
    }
    qsort(v, N, sizeof v[0], cmp_double);
    struct slic_batch b;
    CHECK_INT_EQ(agent_window_close_due(w, T + W10 + 999, &b, NULL), 0); /* grace not over */
    close_one(w, T + W10 + 1000, T, &b);
    CHECK_U64_EQ(b.n_series, 1);
    const struct slic_series *s = &b.series[0];
    CHECK_STR_EQ(s->sli, "checkout");
    CHECK_U64_EQ(s->n_labels, 0);
    CHECK_U64_EQ(s->window_seconds, 10);
    CHECK_U64_EQ(s->total, N);
    CHECK_U64_EQ(s->good, good);
    CHECK_U64_EQ(s->n_thresholds, 0);
    CHECK_U64_EQ(slic_sketch_count(s->latency), N);
    CHECK_INT_EQ(b.created_unix_ms, T + W10 + 1000);
    static const double qs[] = {0.0, 0.5, 0.9, 0.99, 0.999, 1.0};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double got;
        CHECK_OK(slic_sketch_quantile(s->latency, qs[i], &got));
        CHECK_REL(got, v[(size_t)floor(qs[i] * (N - 1))], SLIC_SKETCH_DEFAULT_ALPHA + 1e-12);
    }
    slic_batch_fini(&b);
    struct agent_window_stats st = stats_of(w);
    CHECK_U64_EQ(st.events_accepted, N);
    CHECK_U64_EQ(st.windows_closed, 1);
    CHECK_U64_EQ(st.windows_open, 0);
    CHECK_INT_EQ(agent_window_close_due(w, T + 100 * W10, &b, NULL), 0);
    agent_window_destroy(w);
}

static void weights_count_as_events(void)
{
    agent_window *w = window_default();
    struct slic_event ev = ev_make("api", 0.2, false, 10); /* |@0.1 */
    CHECK_OK(agent_window_record(w, &ev, T));
    record_ok(w, "api", 0.1, true, T);
    struct slic_batch b;
    close_one(w, T + 2 * W10, T, &b);
    CHECK_U64_EQ(b.series[0].total, 11);
    CHECK_U64_EQ(b.series[0].good, 1);
    CHECK_U64_EQ(slic_sketch_count(b.series[0].latency), 11);
    slic_batch_fini(&b);
    CHECK_U64_EQ(stats_of(w).events_accepted, 2); /* records, not weights */
    agent_window_destroy(w);
}

static void windows_align_to_wall_clock(void)
{
    agent_window *w = window_default();
    record_ok(w, "api", 0.1, true, T + 9999);  /* last ms of [T, T+10s) */
    record_ok(w, "api", 0.2, true, T + 10000); /* first ms of the next */
    record_ok(w, "api", 0.3, true, T);
    struct slic_batch b;
    int64_t start;
    CHECK_INT_EQ(agent_window_close_due(w, T + 10999, &b, &start), 0);
    close_one(w, T + 11000, T, &b);
    CHECK_U64_EQ(b.series[0].total, 2);
    CHECK_DBL_EQ(slic_sketch_min(b.series[0].latency), 0.1);
    CHECK_DBL_EQ(slic_sketch_max(b.series[0].latency), 0.3);
    slic_batch_fini(&b);
    CHECK_INT_EQ(agent_window_close_due(w, T + 20999, &b, &start), 0);
    close_one(w, T + 21000, T + W10, &b);
    CHECK_U64_EQ(b.series[0].total, 1);
    slic_batch_fini(&b);
    agent_window_destroy(w);

    /* A 60 s window aligns to minutes, not to the first event. */
    struct agent_window_options o;
    agent_window_options_init(&o);
    o.window_seconds = 60;
    w = window_new(&o);
    record_ok(w, "api", 0.1, true, T + 61234);
    record_ok(w, "api", 0.1, true, T + 119999);
    close_one(w, T + 121000, T + 60000, &b);
    CHECK_U64_EQ(b.series[0].window_seconds, 60);
    CHECK_U64_EQ(b.series[0].total, 2);
    slic_batch_fini(&b);
    agent_window_destroy(w);
}

/* An event stamped before a boundary but recorded after it counts where it belongs while the
 * grace lasts; after the close it moves to the next window, counted as late. */
static void grace_and_late_events(void)
{
    agent_window *w = window_default(); /* grace 1 s */
    record_ok(w, "api", 0.1, true, T + 5000);
    record_ok(w, "api", 0.1, true, T + 10200); /* opens the next window */
    record_ok(w, "api", 0.1, true, T + 9990);  /* late stamp, previous window still open */
    struct slic_batch b;
    close_one(w, T + 11000, T, &b);
    CHECK_U64_EQ(b.series[0].total, 2);
    slic_batch_fini(&b);
    record_ok(w, "api", 0.1, true, T + 9995);    /* its window is closed */
    record_ok(w, "api", 0.1, true, T - 3600000); /* a clock stepped back an hour */
    struct agent_window_stats st = stats_of(w);
    CHECK_U64_EQ(st.events_late, 2);
    CHECK_U64_EQ(st.events_accepted, 5);
    close_one(w, T + 21000, T + W10, &b);
    CHECK_U64_EQ(b.series[0].total, 3);
    slic_batch_fini(&b);
    agent_window_destroy(w);

    /* Grace 0: a window closes at its end. */
    struct agent_window_options o;
    agent_window_options_init(&o);
    o.grace_ms = 0;
    w = window_new(&o);
    record_ok(w, "api", 0.1, true, T + 9999);
    CHECK_INT_EQ(agent_window_close_due(w, T + 9999, &b, NULL), 0);
    close_one(w, T + 10000, T, &b);
    slic_batch_fini(&b);
    agent_window_destroy(w);
}

static void flush_closes_everything_open(void)
{
    agent_window *w = window_default();
    record_ok(w, "api", 0.1, true, T + 9000);
    record_ok(w, "api", 0.1, true, T + 10100);
    record_ok(w, "api", 0.1, true, T + 10200);
    struct slic_batch b;
    int64_t start;
    CHECK_INT_EQ(agent_window_close_due(w, T + 10300, &b, &start), 0);
    CHECK_INT_EQ(agent_window_flush(w, T + 10300, &b, &start), 1);
    CHECK_INT_EQ(start, T / 1000);
    CHECK_U64_EQ(batch_total(&b), 1);
    check_wire_valid(&b);
    slic_batch_fini(&b);
    CHECK_INT_EQ(agent_window_flush(w, T + 10300, &b, &start), 1);
    CHECK_INT_EQ(start, (T + W10) / 1000);
    CHECK_U64_EQ(batch_total(&b), 2);
    check_wire_valid(&b);
    slic_batch_fini(&b);
    CHECK_INT_EQ(agent_window_flush(w, T + 10300, &b, &start), 0);
    CHECK_U64_EQ(stats_of(w).windows_open, 0);
    /* An event still arriving for the flushed window counts in the one after it. */
    record_ok(w, "api", 0.1, true, T + 10400);
    CHECK_U64_EQ(stats_of(w).events_late, 1);
    CHECK_INT_EQ(agent_window_flush(w, T + 10400, &b, &start), 1);
    CHECK_INT_EQ(start, (T + 2 * W10) / 1000);
    slic_batch_fini(&b);
    agent_window_destroy(w);
}

/* A window whose events were all dropped is closed without a batch. */
static void empty_window_gives_no_batch(void)
{
    struct agent_window_options o;
    agent_window_options_init(&o);
    const char *keys[] = {"route"};
    o.label_keys = keys;
    o.n_label_keys = 1;
    agent_window *w = window_new(&o);
    struct slic_event ev = ev_make("api", 0.1, true, 1);
    ev_label(&ev, "route", "bad\tvalue");
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_EINVAL);
    struct slic_batch b;
    CHECK_INT_EQ(agent_window_close_due(w, T + 2 * W10, &b, NULL), 0);
    struct agent_window_stats st = stats_of(w);
    CHECK_U64_EQ(st.windows_empty, 1);
    CHECK_U64_EQ(st.windows_closed, 0);
    CHECK_U64_EQ(st.windows_open, 0);
    CHECK_U64_EQ(st.events_dropped[AGENT_WINDOW_DROP_INVALID], 1);
    agent_window_destroy(w);
}

static void invalid_events_are_dropped_and_counted(void)
{
    struct agent_window_options o;
    agent_window_options_init(&o);
    const char *keys[] = {"route"};
    o.label_keys = keys;
    o.n_label_keys = 1;
    agent_window *w = window_new(&o);
    struct slic_event ev;
    ev = ev_make("api", NAN, true, 1);
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_EVALUE);
    ev = ev_make("api", -0.001, true, 1);
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_EVALUE);
    ev = ev_make("api", INFINITY, true, 1);
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_EVALUE);
    ev = ev_make("api", SLIC_EVENT_LATENCY_MAX * 2, true, 1);
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_EVALUE);
    ev = ev_make("api", 0.1, true, 0);
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_EINVAL);
    ev = ev_make("bad name", 0.1, true, 1);
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_EINVAL);
    ev = ev_make("api", 0.1, true, 1);
    CHECK_ERR(agent_window_record(w, &ev, -1), SLIC_EINVAL);
    ev_label(&ev, "route", "/a");
    ev_label(&ev, "route", "/b");
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_EINVAL);
    struct agent_window_stats st = stats_of(w);
    CHECK_U64_EQ(st.events_dropped[AGENT_WINDOW_DROP_INVALID], 8);
    CHECK_U64_EQ(st.events_accepted, 0);
    CHECK_STR_EQ(agent_window_drop_name(AGENT_WINDOW_DROP_INVALID), "invalid");
    CHECK_STR_EQ(agent_window_drop_name(AGENT_WINDOW_DROP_NOMEM), "nomem");
    /* Zero latency is a value like any other. */
    ev = ev_make("api", 0.0, true, 1);
    CHECK_OK(agent_window_record(w, &ev, T));
    agent_window_destroy(w);
}

static void backlog_when_close_is_not_called(void)
{
    agent_window *w = window_default();
    for (int i = 0; i < AGENT_WINDOW_OPEN_MAX; i++)
        record_ok(w, "api", 0.1, true, T + i * W10);
    struct slic_event ev = ev_make("api", 0.1, true, 1);
    CHECK_ERR(agent_window_record(w, &ev, T + AGENT_WINDOW_OPEN_MAX * W10), SLIC_ERETRY);
    CHECK_U64_EQ(stats_of(w).events_dropped[AGENT_WINDOW_DROP_BACKLOG], 1);
    struct slic_batch b;
    close_one(w, T + AGENT_WINDOW_OPEN_MAX * W10, T, &b);
    slic_batch_fini(&b);
    CHECK_OK(agent_window_record(w, &ev, T + AGENT_WINDOW_OPEN_MAX * W10));
    agent_window_destroy(w);
}

/* ---- labels and caps ----------------------------------------------------------------------- */

static void labels_filtered_and_sorted(void)
{
    struct agent_window_options o;
    agent_window_options_init(&o);
    const char *keys[] = {"route", "code"};
    o.label_keys = keys;
    o.n_label_keys = 2;
    agent_window *w = window_new(&o);
    struct slic_event ev = ev_make("api", 0.1, true, 1);
    ev_label(&ev, "host", "h1");
    ev_label(&ev, "route", "/pay");
    ev_label(&ev, "region", "eu");
    ev_label(&ev, "code", "200");
    CHECK_OK(agent_window_record(w, &ev, T));
    ev.labels[0].value = "h2"; /* a dropped key does not make a new series */
    CHECK_OK(agent_window_record(w, &ev, T));
    ev = ev_make("api", 0.2, false, 1);
    ev_label(&ev, "route", "/pay");
    CHECK_OK(agent_window_record(w, &ev, T));
    ev = ev_make("api", 0.3, true, 1);
    ev_label(&ev, "route", ""); /* empty values are values */
    CHECK_OK(agent_window_record(w, &ev, T));
    record_ok(w, "api", 0.4, true, T);
    record_ok(w, "a", 0.4, true, T);

    struct slic_batch b;
    close_one(w, T + 2 * W10, T, &b);
    CHECK_U64_EQ(b.n_series, 5);
    const char *both[] = {"code=200", "route=/pay"};
    const char *pay[] = {"route=/pay"};
    const char *empty[] = {"route="};
    const struct slic_series *s = find(&b, "api", 2, both);
    CHECK(s != NULL);
    CHECK_U64_EQ(s->total, 2);
    CHECK((s = find(&b, "api", 1, pay)) != NULL);
    CHECK_U64_EQ(s->total, 1);
    CHECK_U64_EQ(s->good, 0);
    CHECK(find(&b, "api", 1, empty) != NULL);
    CHECK(find(&b, "api", 0, NULL) != NULL);
    CHECK_STR_EQ(b.series[0].sli, "a"); /* sorted by SLI, then labels */
    CHECK_U64_EQ(b.series[1].n_labels, 0);
    slic_batch_fini(&b);
    agent_window_destroy(w);
}

static void cardinality_cap_overflows_exactly(void)
{
    struct agent_window_options o;
    agent_window_options_init(&o);
    const char *keys[] = {"route"};
    o.label_keys = keys;
    o.n_label_keys = 1;
    o.max_labelsets_per_sli = 3;
    agent_window *w = window_new(&o);
    uint64_t want_total = 0, want_good = 0;
    for (int i = 0; i < 10; i++) {
        char route[16];
        snprintf(route, sizeof route, "/r%d", i);
        for (int k = 0; k <= i; k++) {
            struct slic_event ev = ev_make("api", 0.01 * (k + 1), k % 2 == 0, (uint64_t)k + 1);
            ev_label(&ev, "route", route);
            CHECK_OK(agent_window_record(w, &ev, T + k));
            if (i >= 3) {
                want_total += (uint64_t)k + 1;
                want_good += k % 2 == 0 ? (uint64_t)k + 1 : 0;
            }
        }
    }
    record_ok(w, "other_sli", 0.1, true, T);
    struct slic_batch b;
    close_one(w, T + 2 * W10, T, &b);
    CHECK_U64_EQ(b.n_series, 5); /* 3 routes, the overflow series, other_sli */
    const char *ov[] = {AGENT_WINDOW_OVERFLOW_KEY "=" AGENT_WINDOW_OVERFLOW_VALUE};
    const struct slic_series *s = find(&b, "api", 1, ov);
    CHECK(s != NULL);
    CHECK_U64_EQ(s->total, want_total);
    CHECK_U64_EQ(s->good, want_good);
    CHECK_U64_EQ(slic_sketch_count(s->latency), want_total);
    const char *r0[] = {"route=/r0"}, *r2[] = {"route=/r2"};
    CHECK(find(&b, "api", 1, r0) != NULL);
    CHECK(find(&b, "api", 1, r2) != NULL);
    slic_batch_fini(&b);
    CHECK_U64_EQ(stats_of(w).events_overflowed, 4 + 5 + 6 + 7 + 8 + 9 + 10); /* /r3../r9 */

    /* The cap counts afresh in each window. */
    struct slic_event ev = ev_make("api", 0.1, true, 1);
    ev_label(&ev, "route", "/r9");
    CHECK_OK(agent_window_record(w, &ev, T + 2 * W10));
    close_one(w, T + 4 * W10, T + 2 * W10, &b);
    const char *r9[] = {"route=/r9"};
    CHECK(find(&b, "api", 1, r9) != NULL);
    slic_batch_fini(&b);
    agent_window_destroy(w);
}

static void sli_cap_drops_new_slis(void)
{
    struct agent_window_options o;
    agent_window_options_init(&o);
    o.max_slis = 2;
    agent_window *w = window_new(&o);
    record_ok(w, "a", 0.1, true, T);
    record_ok(w, "b", 0.1, true, T);
    struct slic_event ev = ev_make("c", 0.1, true, 1);
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_ETOOBIG);
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_ETOOBIG);
    record_ok(w, "a", 0.1, true, T);
    struct agent_window_stats st = stats_of(w);
    CHECK_U64_EQ(st.events_dropped[AGENT_WINDOW_DROP_SLI_CAP], 2);
    CHECK_U64_EQ(st.events_accepted, 3);
    CHECK_U64_EQ(st.slis_open, 2);
    struct slic_batch b;
    close_one(w, T + 2 * W10, T, &b);
    CHECK_U64_EQ(b.n_series, 2);
    slic_batch_fini(&b);
    record_ok(w, "c", 0.1, true, T + 2 * W10); /* a new window has room again */
    agent_window_destroy(w);
}

static void series_cap_uses_overflow_then_drops(void)
{
    struct agent_window_options o;
    agent_window_options_init(&o);
    const char *keys[] = {"route"};
    o.label_keys = keys;
    o.n_label_keys = 1;
    o.max_series = 4;
    agent_window *w = window_new(&o);
    const char *routes[] = {"/a", "/b", "/c", "/d", "/e"};
    for (int i = 0; i < 5; i++) {
        struct slic_event ev = ev_make("api", 0.1, true, 1);
        ev_label(&ev, "route", routes[i]);
        CHECK_OK(agent_window_record(w, &ev, T)); /* /d and /e: overflow, the 4th series */
    }
    struct slic_event ev = ev_make("web", 0.1, true, 1);
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_ETOOBIG);
    struct agent_window_stats st = stats_of(w);
    CHECK_U64_EQ(st.events_dropped[AGENT_WINDOW_DROP_SERIES_CAP], 1);
    CHECK_U64_EQ(st.events_overflowed, 2);
    CHECK_U64_EQ(st.series_open, 4);
    CHECK_U64_EQ(st.slis_open, 1); /* the refused SLI left nothing behind */
    struct slic_batch b;
    close_one(w, T + 2 * W10, T, &b);
    CHECK_U64_EQ(b.n_series, 4);
    CHECK_U64_EQ(batch_total(&b), 5);
    slic_batch_fini(&b);
    agent_window_destroy(w);

    /* However full the window, an SLI already in it loses nothing: its slot for the overflow
     * series was kept. Only a new SLI is refused. */
    o.max_series = 3;
    w = window_new(&o);
    for (int i = 0; i < 5; i++) {
        ev = ev_make("api", 0.1, true, 1);
        ev_label(&ev, "route", routes[i]);
        CHECK_OK(agent_window_record(w, &ev, T)); /* /a, /b, then overflow for the rest */
    }
    ev = ev_make("web", 0.1, true, 1);
    CHECK_ERR(agent_window_record(w, &ev, T), SLIC_ETOOBIG);
    st = stats_of(w);
    CHECK_U64_EQ(st.events_overflowed, 3);
    CHECK_U64_EQ(st.series_open, 3);
    close_one(w, T + 2 * W10, T, &b);
    CHECK_U64_EQ(batch_total(&b), 5);
    slic_batch_fini(&b);
    agent_window_destroy(w);
}

/* ---- thresholds ---------------------------------------------------------------------------- */

static void check_thresholds_brute(const struct slic_series *s, const double *lat, const bool *good,
                                   const uint64_t *weight, size_t n)
{
    for (size_t t = 0; t < s->n_thresholds; t++) {
        uint64_t c = 0, g = 0;
        for (size_t i = 0; i < n; i++)
            if (lat[i] <= s->thresholds[t].threshold) {
                c += weight[i];
                g += good[i] ? weight[i] : 0;
            }
        CHECK_U64_EQ(s->thresholds[t].count_le, c);
        CHECK_U64_EQ(s->thresholds[t].good_le, g);
    }
}

static void thresholds_exact(void)
{
    enum { N = 5000 };
    static double lat[N];
    static bool good[N];
    static uint64_t weight[N];
    double conf[] = {0.1, 0.25, 0.5};
    struct slic_sli_thresholds th = {"api", conf, 3};
    struct agent_window_options o;
    agent_window_options_init(&o);
    o.thresholds = &th;
    o.n_thresholds = 1;
    agent_window *w = window_new(&o);
    struct harness_rng r;
    harness_rng_seed(&r, 11);
    for (size_t i = 0; i < N; i++) {
        /* Every fifth value sits exactly on a threshold: it counts as <=. */
        lat[i] = i % 5 == 0 ? conf[i % 3] : harness_rng_uniform(&r) * 0.8;
        good[i] = harness_rng_uniform(&r) < 0.7;
        weight[i] = 1 + harness_rng_next(&r) % 5;
        struct slic_event ev = ev_make("api", lat[i], good[i], weight[i]);
        CHECK_OK(agent_window_record(w, &ev, T + 1));
    }
    record_ok(w, "nothr", 0.1, true, T);
    struct slic_batch b;
    close_one(w, T + 2 * W10, T, &b);
    const struct slic_series *s = find(&b, "api", 0, NULL);
    CHECK(s != NULL);
    CHECK_U64_EQ(s->n_thresholds, 3);
    for (size_t t = 0; t < 3; t++)
        CHECK_DBL_EQ(s->thresholds[t].threshold, conf[t]);
    check_thresholds_brute(s, lat, good, weight, N);
    CHECK_U64_EQ(find(&b, "nothr", 0, NULL)->n_thresholds, 0);
    slic_batch_fini(&b);
    agent_window_destroy(w);
}

static void wanted_thresholds_apply_from_next_window(void)
{
    double conf[] = {0.5};
    struct slic_sli_thresholds th = {"api", conf, 1};
    struct agent_window_options o;
    agent_window_options_init(&o);
    o.thresholds = &th;
    o.n_thresholds = 1;
    agent_window *w = window_new(&o);
    record_ok(w, "api", 0.05, true, T);       /* window 1 open */
    record_ok(w, "api", 0.05, true, T + W10); /* window 2 open, window 1 in grace */

    double api_w[] = {0.1, 0.5, 1.0}, web_w[] = {0.2}, bad_w[] = {NAN};
    struct slic_sli_thresholds wanted[] = {
        {"api", api_w, 3}, {"web", web_w, 1}, {"bad name", web_w, 1}, {"x", bad_w, 1}};
    CHECK_OK(agent_window_set_wanted_thresholds(w, wanted, 4));
    struct agent_window_stats st = stats_of(w);
    CHECK_U64_EQ(st.wanted_ignored, 2);
    CHECK_U64_EQ(st.thresholds_dropped, 0);

    record_ok(w, "api", 0.05, true, T + 1);
    record_ok(w, "web", 0.05, true, T + W10 + 1);
    struct slic_batch b;
    close_one(w, T + W10 + 1000, T, &b);
    CHECK_U64_EQ(b.series[0].n_thresholds, 1);
    CHECK_U64_EQ(b.series[0].thresholds[0].count_le, 2);
    slic_batch_fini(&b);
    close_one(w, T + 2 * W10 + 1000, T + W10, &b);
    CHECK_U64_EQ(find(&b, "api", 0, NULL)->n_thresholds, 1); /* opened before the Ack */
    CHECK_U64_EQ(find(&b, "web", 0, NULL)->n_thresholds, 0);
    slic_batch_fini(&b);

    record_ok(w, "api", 0.1, true, T + 3 * W10);
    record_ok(w, "api", 0.7, false, T + 3 * W10);
    record_ok(w, "web", 0.2, false, T + 3 * W10);
    close_one(w, T + 4 * W10 + 1000, T + 3 * W10, &b);
    const struct slic_series *s = find(&b, "api", 0, NULL);
    CHECK_U64_EQ(s->n_thresholds, 3);
    CHECK_DBL_EQ(s->thresholds[0].threshold, 0.1);
    CHECK_U64_EQ(s->thresholds[0].count_le, 1);
    CHECK_U64_EQ(s->thresholds[1].count_le, 1);
    CHECK_U64_EQ(s->thresholds[2].count_le, 2);
    CHECK_U64_EQ(s->thresholds[2].good_le, 1);
    s = find(&b, "web", 0, NULL);
    CHECK_U64_EQ(s->n_thresholds, 1);
    CHECK_U64_EQ(s->thresholds[0].count_le, 1);
    CHECK_U64_EQ(s->thresholds[0].good_le, 0);
    slic_batch_fini(&b);

    /* The next Ack replaces the set: an empty one leaves the configured thresholds. */
    CHECK_OK(agent_window_set_wanted_thresholds(w, NULL, 0));
    record_ok(w, "api", 0.1, true, T + 5 * W10);
    record_ok(w, "web", 0.1, true, T + 5 * W10);
    close_one(w, T + 6 * W10 + 1000, T + 5 * W10, &b);
    CHECK_U64_EQ(find(&b, "api", 0, NULL)->n_thresholds, 1);
    CHECK_U64_EQ(find(&b, "web", 0, NULL)->n_thresholds, 0);
    slic_batch_fini(&b);
    agent_window_destroy(w);
}

/* Configured thresholds always stay; wanted ones fill up to the cap of 16 per SLI. */
static void wanted_thresholds_capped(void)
{
    double conf[] = {5.0, 6.0, 7.0};
    struct slic_sli_thresholds th = {"api", conf, 3};
    struct agent_window_options o;
    agent_window_options_init(&o);
    o.thresholds = &th;
    o.n_thresholds = 1;
    agent_window *w = window_new(&o);
    double want[20];
    for (int i = 0; i < 20; i++)
        want[i] = 0.05 * (i + 1); /* 0.05 .. 1.0, none equal to a configured one */
    struct slic_sli_thresholds wanted[] = {{"api", want, 20}, {"api", conf, 2}};
    CHECK_OK(agent_window_set_wanted_thresholds(w, wanted, 2));
    CHECK_U64_EQ(stats_of(w).thresholds_dropped, 20 - 13);
    static double lat[200];
    static bool good[200];
    static uint64_t weight[200];
    for (int i = 0; i < 200; i++) {
        lat[i] = 0.005 * i * (i % 7 == 0 ? 50 : 1);
        good[i] = i % 3 != 0;
        weight[i] = 1 + (uint64_t)(i % 4);
        struct slic_event ev = ev_make("api", lat[i], good[i], weight[i]);
        CHECK_OK(agent_window_record(w, &ev, T));
    }
    struct slic_batch b;
    close_one(w, T + 2 * W10, T, &b);
    const struct slic_series *s = &b.series[0];
    CHECK_U64_EQ(s->n_thresholds, SLIC_SERIES_THRESHOLDS_MAX);
    CHECK_DBL_EQ(s->thresholds[0].threshold, 0.05);
    CHECK_DBL_EQ(s->thresholds[12].threshold, 0.65);
    CHECK_DBL_EQ(s->thresholds[13].threshold, 5.0);
    CHECK_DBL_EQ(s->thresholds[15].threshold, 7.0);
    check_thresholds_brute(s, lat, good, weight, 200);
    slic_batch_fini(&b);
    agent_window_destroy(w);
}

/* ---- memory -------------------------------------------------------------------------------- */

static void record_window(agent_window *w, int64_t start, int n_routes, struct harness_rng *r)
{
    for (int i = 0; i < 20 * n_routes; i++) {
        char route[16];
        snprintf(route, sizeof route, "/r%d", i % n_routes);
        struct slic_event ev = ev_make((i / n_routes) % 2 ? "api" : "web",
                                       0.001 * exp(6 * harness_rng_uniform(r)), i % 9 != 0, 1);
        ev_label(&ev, "route", route);
        CHECK_OK(agent_window_record(w, &ev, start + i % 9000));
    }
}

static void memory_reused_across_windows(void)
{
    struct agent_window_options o;
    agent_window_options_init(&o);
    const char *keys[] = {"route"};
    o.label_keys = keys;
    o.n_label_keys = 1;
    agent_window *w = window_new(&o);
    struct harness_rng r;
    harness_rng_seed(&r, 3);
    struct agent_window_stats warm = {0};
    for (int win = 0; win < 1000; win++) {
        int64_t start = T + win * W10;
        record_window(w, start, 50, &r);
        struct slic_batch b;
        close_one(w, start + W10 + 1000, start, &b);
        CHECK_U64_EQ(b.n_series, 100);
        slic_batch_fini(&b);
        struct agent_window_stats st = stats_of(w);
        CHECK_U64_EQ(st.windows_open, 0);
        if (win == 10)
            warm = st;
        if (win > 10) {
            CHECK_U64_EQ(st.series_pooled, warm.series_pooled);
            CHECK(st.memory_bytes <= warm.memory_bytes + warm.memory_bytes / 20);
        }
    }
    CHECK(warm.memory_bytes < 1024 * 1024);
    /* After a burst of label sets, the pool gives the memory back. */
    record_window(w, T + 1000 * W10, 100, &r); /* 200 series (cap 100 per SLI) */
    struct slic_batch b;
    close_one(w, T + 1001 * W10 + 1000, T + 1000 * W10, &b);
    slic_batch_fini(&b);
    CHECK(stats_of(w).series_pooled >= 200);
    record_window(w, T + 1001 * W10, 5, &r);
    close_one(w, T + 1002 * W10 + 1000, T + 1001 * W10, &b);
    slic_batch_fini(&b);
    CHECK(stats_of(w).series_pooled <= 10 + 16);
    agent_window_destroy(w);
}

/* ---- allocation failures ------------------------------------------------------------------- */

static void alloc_failure_on_create(void)
{
    double conf[] = {0.1};
    struct slic_sli_thresholds th = {"api", conf, 1};
    const char *keys[] = {"route", "code"};
    struct agent_window_options o;
    agent_window_options_init(&o);
    o.thresholds = &th;
    o.n_thresholds = 1;
    o.label_keys = keys;
    o.n_label_keys = 2;
    long n;
    for (n = 0; n < 1000; n++) {
        agent_window *w = (agent_window *)&n; /* must stay untouched on failure */
        slic_alloc_fail_after(n);
        int rc = agent_window_create(&o, &w, NULL);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            agent_window_destroy(w);
            break;
        }
        CHECK_ERR(rc, SLIC_ENOMEM);
        CHECK(w == (agent_window *)&n);
    }
    CHECK(n > 0 && n < 1000);
}

/* Records a varied stream with the n-th allocation failing: each record is counted or dropped
 * with SLIC_ENOMEM, and what was counted closes into a valid batch with exactly those events. */
static void alloc_failure_on_record(void)
{
    const char *keys[] = {"route"};
    double conf[] = {0.01, 1.0};
    struct slic_sli_thresholds th = {"s0", conf, 2};
    struct agent_window_options o;
    agent_window_options_init(&o);
    o.label_keys = keys;
    o.n_label_keys = 1;
    o.max_labelsets_per_sli = 4;
    o.thresholds = &th;
    o.n_thresholds = 1;
    bool saw_failure = false;
    for (long n = 0; n < 400; n++) {
        agent_window *w = window_new(&o);
        uint64_t counted = 0, nomem = 0;
        slic_alloc_fail_after(n);
        for (int i = 0; i < 60; i++) {
            char sli[8], route[8];
            snprintf(sli, sizeof sli, "s%d", i % 3);
            snprintf(route, sizeof route, "/%d", i % 7);
            /* Latencies spanning decades make sketches grow their bucket arrays. */
            struct slic_event ev = ev_make(sli, 1e-6 * pow(10, i % 9), i % 4 != 0, 2);
            ev_label(&ev, "route", route);
            int rc = agent_window_record(w, &ev, T + i);
            if (rc == SLIC_ENOMEM)
                nomem++;
            else
                CHECK_OK(rc);
            counted += rc == 0 ? 2 : 0;
        }
        slic_alloc_fail_after(-1);
        saw_failure |= nomem > 0;
        struct agent_window_stats st = stats_of(w);
        CHECK_U64_EQ(st.events_dropped[AGENT_WINDOW_DROP_NOMEM], nomem);
        CHECK_U64_EQ(st.events_accepted + nomem, 60);
        struct slic_batch b;
        int rc = agent_window_close_due(w, T + 2 * W10, &b, NULL);
        CHECK_INT_EQ(rc, counted ? 1 : 0);
        if (rc == 1) {
            CHECK_U64_EQ(batch_total(&b), counted);
            check_wire_valid(&b);
            slic_batch_fini(&b);
        }
        agent_window_destroy(w);
        if (nomem == 0)
            break;
    }
    CHECK(saw_failure);
}

/* Closing with the n-th allocation failing is SLIC_ENOMEM and keeps the window, whole, for a
 * retry: the batch finally made holds every event. */
static void alloc_failure_on_close(void)
{
    const char *keys[] = {"route"};
    double conf[] = {0.05};
    struct slic_sli_thresholds th = {"api", conf, 1};
    struct agent_window_options o;
    agent_window_options_init(&o);
    o.label_keys = keys;
    o.n_label_keys = 1;
    o.max_labelsets_per_sli = 3;
    o.thresholds = &th;
    o.n_thresholds = 1;
    agent_window *w = window_new(&o);
    for (int i = 0; i < 40; i++) {
        char route[8];
        snprintf(route, sizeof route, "/%d", i % 5);
        struct slic_event ev = ev_make(i % 2 ? "api" : "web", 0.01 * (i + 1), true, 1);
        ev_label(&ev, "route", route);
        CHECK_OK(agent_window_record(w, &ev, T + i));
    }
    long n;
    struct slic_batch b;
    for (n = 0; n < 1000; n++) {
        slic_alloc_fail_after(n);
        int rc = agent_window_close_due(w, T + 2 * W10, &b, NULL);
        slic_alloc_fail_after(-1);
        if (rc == 1)
            break;
        CHECK_ERR(rc, SLIC_ENOMEM);
        CHECK_U64_EQ(stats_of(w).windows_open, 1);
    }
    CHECK(n > 0 && n < 1000);
    CHECK_U64_EQ(batch_total(&b), 40);
    CHECK_U64_EQ(b.n_series, 8);
    check_wire_valid(&b);
    slic_batch_fini(&b);

    /* set_wanted: a failure keeps the previous set. */
    double want[] = {0.02};
    struct slic_sli_thresholds wanted = {"api", want, 1};
    slic_alloc_fail_after(0);
    CHECK_ERR(agent_window_set_wanted_thresholds(w, &wanted, 1), SLIC_ENOMEM);
    slic_alloc_fail_after(1);
    CHECK_ERR(agent_window_set_wanted_thresholds(w, &wanted, 1), SLIC_ENOMEM);
    slic_alloc_fail_after(-1);
    record_ok(w, "api", 0.01, true, T + 3 * W10);
    close_one(w, T + 5 * W10, T + 3 * W10, &b);
    CHECK_U64_EQ(b.series[0].n_thresholds, 1);
    slic_batch_fini(&b);
    agent_window_destroy(w);
}

/* ---- options ------------------------------------------------------------------------------- */

static void bad_options_rejected(void)
{
    struct agent_window_options o;
    struct slic_errmsg err;
    agent_window *w = NULL;
    const char *bad_key[] = {AGENT_WINDOW_OVERFLOW_KEY};
    const char *dup_key[] = {"route", "route"};
    const char *nine[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    const char *digit[] = {"1abc"};
    double desc[] = {0.5, 0.1}, nan_t[] = {NAN};
    struct slic_sli_thresholds th_desc = {"api", desc, 2}, th_nan = {"api", nan_t, 1};
    struct slic_sli_thresholds th_dup[] = {{"api", nan_t, 0}, {"api", nan_t, 0}};
    for (int c = 0; c < 12; c++) {
        agent_window_options_init(&o);
        switch (c) {
        case 0:
            o.window_seconds = 15;
            break;
        case 1:
            o.window_seconds = 0;
            break;
        case 2:
            o.grace_ms = 10000;
            break;
        case 3:
            o.label_keys = bad_key;
            o.n_label_keys = 1;
            break;
        case 4:
            o.label_keys = dup_key;
            o.n_label_keys = 2;
            break;
        case 5:
            o.label_keys = nine;
            o.n_label_keys = 9;
            break;
        case 6:
            o.label_keys = digit;
            o.n_label_keys = 1;
            break;
        case 7:
            o.thresholds = &th_desc;
            o.n_thresholds = 1;
            break;
        case 8:
            o.thresholds = &th_nan;
            o.n_thresholds = 1;
            break;
        case 9:
            o.thresholds = th_dup;
            o.n_thresholds = 2;
            break;
        case 10:
            o.sketch_alpha = 0.5;
            break;
        case 11:
            o.max_series = SLIC_BATCH_SERIES_MAX + 1;
            break;
        }
        err.text[0] = '\0';
        CHECK_ERR(agent_window_create(&o, &w, &err), SLIC_ECONFIG);
        CHECK(w == NULL);
        CHECK(err.text[0] != '\0');
    }
    agent_window_destroy(NULL);
}

HARNESS_CASES(HARNESS_CASE(totals_and_quantiles), HARNESS_CASE(weights_count_as_events),
              HARNESS_CASE(windows_align_to_wall_clock), HARNESS_CASE(grace_and_late_events),
              HARNESS_CASE(flush_closes_everything_open), HARNESS_CASE(empty_window_gives_no_batch),
              HARNESS_CASE(invalid_events_are_dropped_and_counted),
              HARNESS_CASE(backlog_when_close_is_not_called),
              HARNESS_CASE(labels_filtered_and_sorted),
              HARNESS_CASE(cardinality_cap_overflows_exactly), HARNESS_CASE(sli_cap_drops_new_slis),
              HARNESS_CASE(series_cap_uses_overflow_then_drops), HARNESS_CASE(thresholds_exact),
              HARNESS_CASE(wanted_thresholds_apply_from_next_window),
              HARNESS_CASE(wanted_thresholds_capped), HARNESS_CASE(memory_reused_across_windows),
              HARNESS_CASE(alloc_failure_on_create), HARNESS_CASE(alloc_failure_on_record),
              HARNESS_CASE(alloc_failure_on_close), HARNESS_CASE(bad_options_rejected));
HARNESS_MAIN()
