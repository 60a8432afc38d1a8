/* The sender against the real aggregator, embedded in the test process (store, writer and nng
 * server on a free 127.0.0.1 port, data in the case's temp dir), on a real libuv loop. A small
 * in-memory spool stands in for agent/spool.c and checks what the sender asks of it: seqs taken
 * oldest first and once each, never more in flight than the limit, one final answer per seq. */
#include "harness.h"

#include "alloc.h"
#include "codec_batch.h"
#include "hmac.h"
#include "sender.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"
#include "validate.h"
#include "writer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXB 64
#define SLI "checkout"
#define AGENT_ID "agent-t"
#define EVENTS 10 /* per batch */

/* ---- the embedded aggregator ---------------------------------------------------------------- */

struct agg {
    agg_store *store;
    agg_writer *writer;
    agg_server *server;
    struct agg_stats stats;
};

/* auth (NULL: none) is borrowed, as the daemon's server borrows its own. */
static void agg_start_auth(struct agg *g, const char *url, const agg_auth *auth)
{
    struct slic_errmsg err = {{0}};
    struct agg_store_options so = {.map_size_initial = (size_t)64 << 20, .nosync = true};
    memset(g, 0, sizeof *g);
    if (agg_store_open(harness_tmpdir(), &so, &g->store, &err) != 0)
        harness_fail(__FILE__, __LINE__, "agg_store_open: %s", err.text);
    struct agg_writer_options wo;
    agg_writer_options_default(&wo);
    CHECK_OK(agg_writer_create(g->store, &wo, &g->writer));
    struct agg_server_options o;
    agg_server_options_default(&o);
    o.listen = url;
    o.contexts = 8;
    o.auth = auth;
    if (agg_server_create(&o, g->store, g->writer, &g->stats, &g->server, &err) != 0)
        harness_fail(__FILE__, __LINE__, "agg_server_create: %s", err.text);
}

static void agg_start(struct agg *g, const char *url)
{
    agg_start_auth(g, url, NULL);
}

/* As the daemon stops: answer RETRY from now on, commit and ack what is queued, close. */
static void agg_stop(struct agg *g)
{
    agg_server_drain(g->server);
    agg_writer_destroy(g->writer);
    agg_server_destroy(g->server);
    agg_store_close(g->store);
    memset(g, 0, sizeof *g);
}

static void free_url(char *buf, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    CHECK_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
    CHECK_OK(getsockname(fd, (struct sockaddr *)&a, &alen));
    close(fd);
    snprintf(buf, len, "tcp://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
}

/* ---- batches -------------------------------------------------------------------------------- */

static char *dup_str(const char *s)
{
    char *d = slic_malloc(strlen(s) + 1);
    CHECK(d != NULL);
    return strcpy(d, s);
}

/* One series of EVENTS events (one bad) in the 10 s window at `start`. */
static void batch_make(uint64_t seq, int64_t start, uint8_t **buf, size_t *len)
{
    struct slic_batch b = {.agent_id = dup_str(AGENT_ID),
                           .site = dup_str("site-a"),
                           .node = dup_str("node-1"),
                           .epoch = 1,
                           .seq = seq,
                           .created_unix_ms = slic_now_unix_ms()};
    b.series = slic_calloc(1, sizeof *b.series);
    CHECK(b.series != NULL);
    b.n_series = 1;
    struct slic_series *se = &b.series[0];
    se->sli = dup_str(SLI);
    se->window_start = start;
    se->window_seconds = 10;
    CHECK_OK(slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                                &se->latency));
    for (int i = 0; i < EVENTS; i++)
        CHECK_OK(slic_sketch_add(se->latency, 0.01 * (i + 1)));
    se->total = EVENTS;
    se->good = EVENTS - 1;
    CHECK_OK(codec_batch_pack(&b, buf, len));
    slic_batch_fini(&b);
}

/* ---- the fixture: loop, spool, sender -------------------------------------------------------- */

struct fx {
    uv_loop_t loop;
    uv_timer_t watchdog, timer;
    bool handles_closed;
    char url[64];
    struct agg agg;
    bool agg_up;
    agent_sender *s;
    struct agent_sender_options opt;
    bool closed;
    /* The spool: seqs 1..n. */
    unsigned n;
    int64_t base; /* window start of seq 1 */
    uint8_t *bytes[MAXB + 1];
    size_t len[MAXB + 1];
    uint64_t last_taken;
    unsigned limit;
    unsigned max_inflight; /* the most seen, counting the batch being taken */
    /* What came back. */
    unsigned acks[MAXB + 1];
    enum slic_ack_status status[MAXB + 1];
    char reason[MAXB + 1][SLIC_ACK_REASON_MAX];
    unsigned n_acked;
    unsigned close_at; /* close the sender at this many answers */
    void (*on_ack)(struct fx *f, unsigned n_acked);
    int drain_rc;
    unsigned drain_calls;
};

static void fx_init(struct fx *f, unsigned n)
{
    memset(f, 0, sizeof *f);
    CHECK_OK(uv_loop_init(&f->loop));
    free_url(f->url, sizeof f->url);
    f->n = n;
    f->close_at = n;
    int64_t now = slic_now_unix_ms() / 1000;
    f->base = slic_window_align(now, 10) - 10 * (int64_t)(n + 1);
    for (unsigned i = 1; i <= n; i++)
        batch_make(i, f->base + 10 * (int64_t)(i - 1), &f->bytes[i], &f->len[i]);
    f->opt = (struct agent_sender_options){
        .url = f->url, .ack_timeout_ms = 1000, .backoff_min_ms = 20, .backoff_max_ms = 300};
}

static int spool_next(void *ctx, uint64_t after_seq, uint64_t *seq, uint8_t **bytes, size_t *len)
{
    struct fx *f = ctx;
    /* Oldest first and once each: the sender asks after exactly what it took last. */
    CHECK_U64_EQ(after_seq, f->last_taken);
    unsigned inflight = agent_sender_inflight(f->s);
    CHECK(inflight < f->limit);
    if (after_seq >= f->n)
        return 0;
    if (inflight + 1 > f->max_inflight)
        f->max_inflight = inflight + 1;
    *seq = after_seq + 1;
    *len = f->len[*seq];
    *bytes = slic_malloc(*len);
    CHECK(*bytes != NULL);
    memcpy(*bytes, f->bytes[*seq], *len);
    f->last_taken = *seq;
    return 1;
}

static void on_sender_closed(void *arg)
{
    struct fx *f = arg;
    f->closed = true;
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

/* Closes the sender and the fixture's timers: uv_run then returns. */
static void fx_finish(struct fx *f)
{
    if (f->handles_closed)
        return;
    f->handles_closed = true;
    agent_sender_close(f->s, on_sender_closed, f);
    uv_close((uv_handle_t *)&f->watchdog, on_handle_closed);
    uv_close((uv_handle_t *)&f->timer, on_handle_closed);
}

static void spool_acked(void *ctx, uint64_t seq, const struct slic_ack *ack)
{
    struct fx *f = ctx;
    CHECK(!f->handles_closed);
    CHECK(seq >= 1 && seq <= f->n);
    CHECK(ack->status != SLIC_ACK_RETRY);
    CHECK(agent_sender_inflight(f->s) < f->limit);
    f->acks[seq]++;
    f->status[seq] = ack->status;
    snprintf(f->reason[seq], sizeof f->reason[seq], "%s", ack->reason);
    f->n_acked++;
    if (f->on_ack)
        f->on_ack(f, f->n_acked);
    if (f->n_acked == f->close_at)
        fx_finish(f);
}

static void on_watchdog(uv_timer_t *t)
{
    struct fx *f = t->data;
    struct agent_sender_stats st;
    agent_sender_stats(f->s, &st);
    harness_fail(__FILE__, __LINE__,
                 "stuck: %u of %u answered, %u in flight, link %d, %llu sent, %llu retries",
                 f->n_acked, f->close_at, st.inflight, (int)st.link, (unsigned long long)st.sent,
                 (unsigned long long)st.retries);
}

/* Creates the sender (from scratch: a restarted agent starts its cursor at 0) and the
 * fixture's timers; fx_wait then runs the loop until the fixture is finished. */
static void fx_start(struct fx *f)
{
    struct agent_sender_callbacks cb = {spool_next, spool_acked, f};
    struct slic_errmsg err = {{0}};
    f->limit = f->opt.inflight ? f->opt.inflight : 4;
    f->last_taken = 0;
    f->n_acked = 0;
    f->max_inflight = 0;
    f->closed = false;
    f->handles_closed = false;
    memset(f->acks, 0, sizeof f->acks);
    if (agent_sender_create(&f->loop, &f->opt, &cb, &f->s, &err) != 0)
        harness_fail(__FILE__, __LINE__, "agent_sender_create: %s", err.text);
    uv_timer_init(&f->loop, &f->watchdog);
    uv_timer_init(&f->loop, &f->timer);
    f->watchdog.data = f->timer.data = f;
    uv_timer_start(&f->watchdog, on_watchdog, 60000, 0);
}

static void fx_wait(struct fx *f)
{
    CHECK_OK(uv_run(&f->loop, UV_RUN_DEFAULT));
    CHECK(f->closed);
}

static void fx_run(struct fx *f)
{
    fx_start(f);
    fx_wait(f);
}

static void fx_fini(struct fx *f)
{
    CHECK_INT_EQ(uv_loop_close(&f->loop), 0);
    if (f->agg_up)
        agg_stop(&f->agg);
    for (unsigned i = 1; i <= f->n; i++)
        slic_free(f->bytes[i]);
}

/* Every seq answered exactly once, with `want` (0: ACCEPTED or DUPLICATE). */
static void check_each_once(const struct fx *f, enum slic_ack_status want)
{
    for (unsigned i = 1; i <= f->n; i++) {
        CHECK_INT_EQ(f->acks[i], 1);
        if (want)
            CHECK_INT_EQ(f->status[i], want);
        else
            CHECK(f->status[i] == SLIC_ACK_ACCEPTED || f->status[i] == SLIC_ACK_DUPLICATE);
    }
}

/* What the store holds: every batch counted once, the agent's seqs contiguous up to n. */
static void check_store(struct fx *f, uint64_t batches_counted)
{
    struct agg_agent_info *ag = NULL;
    size_t n = 0;
    CHECK_OK(agg_store_list_agents(f->agg.store, &ag, &n, NULL));
    CHECK_INT_EQ(n, 1);
    CHECK_STR_EQ(ag[0].agent_id, AGENT_ID);
    CHECK_U64_EQ(ag[0].last_seq, f->n);
    CHECK_U64_EQ(ag[0].seqs_ahead, 0);
    slic_free(ag);
    struct agg_query q = {
        .sli = SLI, .from = f->base, .to = f->base + 10 * (int64_t)f->n, .resolution_seconds = 10};
    struct agg_query_result r;
    struct slic_errmsg err = {{0}};
    if (agg_store_query_sli(f->agg.store, &q, &r, &err) != 0)
        harness_fail(__FILE__, __LINE__, "agg_store_query_sli: %s", err.text);
    CHECK_U64_EQ(r.total, batches_counted * EVENTS);
    CHECK_U64_EQ(r.good, batches_counted * (EVENTS - 1));
    agg_query_result_fini(&r);
}

/* ---- cases ---------------------------------------------------------------------------------- */

/* At the last answer: the sender's self-metrics agree with what the agent saw. */
static void stats_check_cb(struct fx *f, unsigned n_acked)
{
    if (n_acked != f->n)
        return;
    struct agent_sender_stats st;
    agent_sender_stats(f->s, &st);
    CHECK_U64_EQ(st.accepted + st.duplicate, f->n);
    CHECK_U64_EQ(st.rejected, 0);
    CHECK(st.sent >= f->n);
    CHECK_INT_EQ(st.inflight, 0);
    CHECK_INT_EQ(st.link, AGENT_SENDER_UP);
    CHECK(st.last_ack_unix_ms > 0);
    CHECK(st.ack_latency_last_ns > 0 && st.ack_latency_sum_ns >= st.ack_latency_last_ns);
}

static void delivers_each_once_oldest_first(void)
{
    struct fx f;
    fx_init(&f, 20);
    agg_start(&f.agg, f.url);
    f.agg_up = true;
    f.on_ack = stats_check_cb;
    fx_run(&f);
    check_each_once(&f, SLIC_ACK_ACCEPTED);
    CHECK_INT_EQ(f.max_inflight, 4); /* the default limit, reached and never passed */
    check_store(&f, 20);
    CHECK_U64_EQ(f.agg.stats.batches_accepted, 20);
    fx_fini(&f);
}

/* A restarted agent replays its spool from the start: every seq comes back DUPLICATE and the
 * store still counts each batch once. Also a smaller in-flight limit. */
static void replay_gets_duplicates(void)
{
    struct fx f;
    fx_init(&f, 20);
    f.opt.inflight = 2;
    agg_start(&f.agg, f.url);
    f.agg_up = true;
    f.on_ack = stats_check_cb;
    fx_run(&f);
    check_each_once(&f, SLIC_ACK_ACCEPTED);
    CHECK_INT_EQ(f.max_inflight, 2);
    fx_run(&f);
    check_each_once(&f, SLIC_ACK_DUPLICATE);
    CHECK_INT_EQ(f.max_inflight, 2);
    check_store(&f, 20);
    CHECK_U64_EQ(f.agg.stats.batches_duplicate, 20);
    fx_fini(&f);
}

/* A batch whose window lies a day in the future is refused by the aggregator: reported once as
 * REJECTED with the reason, not retried; its neighbours go through. */
static void rejected_reported_with_reason(void)
{
    struct fx f;
    fx_init(&f, 5);
    slic_free(f.bytes[3]);
    int64_t future = slic_window_align(slic_now_unix_ms() / 1000 + 86400, 10);
    batch_make(3, future, &f.bytes[3], &f.len[3]);
    agg_start(&f.agg, f.url);
    f.agg_up = true;
    fx_run(&f);
    for (unsigned i = 1; i <= 5; i++) {
        CHECK_INT_EQ(f.acks[i], 1);
        CHECK_INT_EQ(f.status[i], i == 3 ? SLIC_ACK_REJECTED : SLIC_ACK_ACCEPTED);
    }
    CHECK(strstr(f.reason[3], "future") != NULL);
    CHECK_U64_EQ(f.agg.stats.batches_rejected, 1);
    check_store(&f, 4);
    fx_fini(&f);
}

/* A request above CODEC_MAX_MESSAGE_BYTES would only make the aggregator drop the connection,
 * at every attempt: it is reported REJECTED without being sent. */
static void oversized_batch_rejected_unsent(void)
{
    struct fx f;
    fx_init(&f, 3);
    slic_free(f.bytes[2]);
    f.len[2] = CODEC_MAX_MESSAGE_BYTES + 1;
    f.bytes[2] = slic_calloc(1, f.len[2]);
    CHECK(f.bytes[2] != NULL);
    agg_start(&f.agg, f.url);
    f.agg_up = true;
    fx_run(&f);
    for (unsigned i = 1; i <= 3; i++) {
        CHECK_INT_EQ(f.acks[i], 1);
        CHECK_INT_EQ(f.status[i], i == 2 ? SLIC_ACK_REJECTED : SLIC_ACK_ACCEPTED);
    }
    CHECK(strstr(f.reason[2], "exceeds") != NULL);
    CHECK_U64_EQ(f.agg.stats.requests, 2);
    CHECK_U64_EQ(f.agg.stats.batches_accepted, 2);
    fx_fini(&f);
}

static void start_aggregator_late(uv_timer_t *t)
{
    struct fx *f = t->data;
    struct agent_sender_stats st;
    agent_sender_stats(f->s, &st);
    /* Nothing could be delivered, the sender says so, and it kept trying. */
    CHECK_INT_EQ(f->n_acked, 0);
    CHECK_INT_EQ(st.link, AGENT_SENDER_DOWN);
    CHECK(st.retries > 0);
    CHECK_INT_EQ(st.inflight, 4);
    agg_start(&f->agg, f->url);
    f->agg_up = true;
}

static void aggregator_down_at_start(void)
{
    struct fx f;
    fx_init(&f, 20);
    f.on_ack = stats_check_cb;
    f.opt.ack_timeout_ms = 500;
    fx_start(&f);
    uv_timer_start(&f.timer, start_aggregator_late, 1500, 0);
    fx_wait(&f);
    check_each_once(&f, SLIC_ACK_ACCEPTED);
    check_store(&f, 20);
    fx_fini(&f);
}

static void reopen_aggregator(uv_timer_t *t)
{
    struct fx *f = t->data;
    struct agent_sender_stats st;
    agent_sender_stats(f->s, &st);
    CHECK_INT_EQ(st.link, AGENT_SENDER_DOWN);
    agg_start(&f->agg, f->url);
    f->agg_up = true;
}

/* Stops the aggregator after 10 answers, with batches in flight; reopens it on the same port
 * and data dir 700 ms later. */
static void stop_after_ten(struct fx *f, unsigned n_acked)
{
    if (n_acked != 10)
        return;
    agg_stop(&f->agg);
    f->agg_up = false;
    uv_timer_start(&f->timer, reopen_aggregator, 700, 0);
}

static void aggregator_restart_midrun(void)
{
    struct fx f;
    fx_init(&f, 60);
    agg_start(&f.agg, f.url);
    f.agg_up = true;
    f.on_ack = stop_after_ten;
    fx_run(&f);
    check_each_once(&f, 0);
    check_store(&f, 60);
    fx_fini(&f);
}

static void end_retry_phase(uv_timer_t *t)
{
    struct fx *f = t->data;
    struct agent_sender_stats st;
    agent_sender_stats(f->s, &st);
    CHECK_INT_EQ(f->n_acked, 0);
    CHECK(st.retries >= 4);
    CHECK(f->agg.stats.batches_retry >= 4);
    agg_stop(&f->agg);
    agg_start(&f->agg, f->url);
}

/* A draining aggregator answers RETRY: the sender resends with backoff, tells the agent
 * nothing, and delivers once a fresh aggregator answers. */
static void retry_answers_are_resent(void)
{
    struct fx f;
    fx_init(&f, 8);
    agg_start(&f.agg, f.url);
    f.agg_up = true;
    agg_server_drain(f.agg.server);
    fx_start(&f);
    uv_timer_start(&f.timer, end_retry_phase, 800, 0);
    fx_wait(&f);
    check_each_once(&f, SLIC_ACK_ACCEPTED);
    check_store(&f, 8);
    fx_fini(&f);
}

/* Closed from inside acked() at the first answer, with three more in flight: nothing more is
 * reported, nothing leaks (ASan), the loop closes. */
static void close_with_batches_in_flight(void)
{
    struct fx f;
    fx_init(&f, 20);
    agg_start(&f.agg, f.url);
    f.agg_up = true;
    f.close_at = 1;
    fx_run(&f);
    CHECK_INT_EQ(f.n_acked, 1);
    fx_fini(&f);
}

static void close_now(uv_timer_t *t)
{
    fx_finish(t->data);
}

/* No aggregator at all: the sends are still pending inside nng when the sender closes. */
static void close_while_unreachable(void)
{
    struct fx f;
    fx_init(&f, 20);
    fx_start(&f);
    uv_timer_start(&f.timer, close_now, 300, 0);
    fx_wait(&f);
    CHECK_INT_EQ(f.n_acked, 0);
    CHECK_U64_EQ(f.last_taken, 4);
    fx_fini(&f);
}

static void on_drained(void *arg, int rc)
{
    struct fx *f = arg;
    f->drain_rc = rc;
    f->drain_calls++;
    fx_finish(f);
}

static void drain_run(struct fx *f, uint32_t timeout_ms)
{
    f->close_at = 0; /* the drain callback closes */
    fx_start(f);
    agent_sender_drain(f->s, timeout_ms, on_drained, f);
    fx_wait(f);
    CHECK_INT_EQ(f->drain_calls, 1);
}

/* SIGTERM with a reachable aggregator: everything is delivered, then done(0). */
static void drain_delivers_everything(void)
{
    struct fx f;
    fx_init(&f, 20);
    agg_start(&f.agg, f.url);
    f.agg_up = true;
    drain_run(&f, 10000);
    CHECK_OK(f.drain_rc);
    check_each_once(&f, SLIC_ACK_ACCEPTED);
    check_store(&f, 20);
    fx_fini(&f);
}

/* SIGTERM without an aggregator: done(SLIC_ERETRY) at the deadline, batches left unreported. */
static void drain_gives_up_at_deadline(void)
{
    struct fx f;
    fx_init(&f, 20);
    uint64_t t0 = slic_now_mono_ns();
    drain_run(&f, 400);
    uint64_t ms = (slic_now_mono_ns() - t0) / 1000000;
    CHECK_ERR(f.drain_rc, SLIC_ERETRY);
    CHECK_INT_EQ(f.n_acked, 0);
    CHECK(ms >= 390 && ms < 5000);
    fx_fini(&f);
}

static int dummy_next(void *ctx, uint64_t after, uint64_t *seq, uint8_t **b, size_t *len)
{
    (void)ctx, (void)after, (void)seq, (void)b, (void)len;
    return 0;
}

static void dummy_acked(void *ctx, uint64_t seq, const struct slic_ack *ack)
{
    (void)ctx, (void)seq, (void)ack;
}

static void bad_options_refused(void)
{
    uv_loop_t loop;
    CHECK_OK(uv_loop_init(&loop));
    struct agent_sender_callbacks cb = {dummy_next, dummy_acked, NULL};
    struct agent_sender_options o = {.url = "tcp://127.0.0.1:1"};
    agent_sender *s = NULL;
    struct slic_errmsg err = {{0}};
    CHECK_ERR(agent_sender_create(&loop, &(struct agent_sender_options){0}, &cb, &s, &err),
              SLIC_EINVAL);
    o.inflight = 100000;
    CHECK_ERR(agent_sender_create(&loop, &o, &cb, &s, &err), SLIC_EINVAL);
    o.inflight = 0;
    o.backoff_min_ms = 500;
    o.backoff_max_ms = 100;
    CHECK_ERR(agent_sender_create(&loop, &o, &cb, &s, &err), SLIC_EINVAL);
    o.backoff_min_ms = o.backoff_max_ms = 0;
    struct agent_sender_security cert_only = {.tls_ca_file = "ca.pem", .tls_cert_file = "c.pem"};
    o.security = &cert_only;
    CHECK_ERR(agent_sender_create(&loop, &o, &cb, &s, &err), SLIC_EINVAL);
    CHECK(strstr(err.text, "tls.key_file") != NULL);
    o.security = NULL;
    o.url = "nosuch://somewhere";
    CHECK_ERR(agent_sender_create(&loop, &o, &cb, &s, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "nosuch://somewhere") != NULL);
    CHECK(s == NULL);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

/* Every allocation of create failing in turn: SLIC_ENOMEM, nothing leaked (ASan), and the loop
 * has nothing left open. */
static void create_out_of_memory(void)
{
    uv_loop_t loop;
    CHECK_OK(uv_loop_init(&loop));
    struct agent_sender_callbacks cb = {dummy_next, dummy_acked, NULL};
    struct agent_sender_options o = {.url = "tcp://127.0.0.1:1"};
    agent_sender *s = NULL;
    int rc = SLIC_ENOMEM;
    long n = 0;
    for (; rc == SLIC_ENOMEM; n++) {
        slic_alloc_fail_after(n);
        rc = agent_sender_create(&loop, &o, &cb, &s, NULL);
        slic_alloc_fail_after(-1);
        CHECK(rc == 0 || rc == SLIC_ENOMEM);
        CHECK(n < 100);
    }
    CHECK(n >= 3); /* the sender, its url and its slots each failed once */
    agent_sender_close(s, NULL, NULL);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

/* ---- signed batches ------------------------------------------------------------------------- */

#define SECRET "a secret of at least thirty-two bytes, for the tests"

/* An aggregator that checks signatures with SECRET, as the daemon's main creates it; the
 * embedded aggregator borrows it (agg_start_auth). */
static agg_auth *auth_create(bool require_signed)
{
    struct agg_auth_options o = {.secret = (const uint8_t *)SECRET,
                                 .secret_len = strlen(SECRET),
                                 .require_signed = require_signed};
    agg_auth *a = NULL;
    CHECK_OK(agg_auth_create(&o, &a, NULL));
    return a;
}

/* The sender's security, signing with the key of agent_id `id`; NULL: it does not sign. */
struct signing {
    uint8_t key[SLIC_HMAC_LEN];
    struct agent_sender_security sec;
};

/* Senders the fixture creates from now on sign as `id` (NULL: they do not sign). */
static void sender_signs_as(struct fx *f, struct signing *sg, const char *id)
{
    sg->sec = (struct agent_sender_security){.agent_id = AGENT_ID};
    if (id) {
        CHECK_OK(slic_agent_key_derive((const uint8_t *)SECRET, strlen(SECRET), id, sg->key));
        sg->sec.key = sg->key;
    }
    f->opt.security = &sg->sec;
}

/* After a while of refusals: nothing reported to the agent (so nothing set aside), every batch
 * taken still in flight over a working link, each refusal counted apart and as a retry. */
static void refused_then_stop(uv_timer_t *t)
{
    struct fx *f = t->data;
    struct agent_sender_stats st;
    agent_sender_stats(f->s, &st);
    CHECK_INT_EQ(f->n_acked, 0);
    CHECK_U64_EQ(st.rejected, 0);
    CHECK_INT_EQ(st.inflight, f->limit);
    CHECK_INT_EQ(st.link, AGENT_SENDER_UP);
    CHECK(st.refused_signature >= f->limit);
    CHECK(st.retries >= st.refused_signature);
    fx_finish(f);
}

static void run_refused(struct fx *f)
{
    fx_start(f);
    uv_timer_start(&f->timer, refused_then_stop, 800, 0);
    fx_wait(f);
}

/* The aggregator has heard from no agent: no refused batch consumed a seq. */
static void check_store_untouched(struct fx *f)
{
    struct agg_agent_info *ag = NULL;
    size_t n = 0;
    CHECK_OK(agg_store_list_agents(f->agg.store, &ag, &n, NULL));
    CHECK_INT_EQ(n, 0);
    slic_free(ag);
}

/* Signature refusals the embedded aggregator counted, missing and wrong together. */
static uint64_t refused_at_aggregator(const struct fx *f)
{
    return atomic_load(&f->agg.stats.batches_unsigned) + atomic_load(&f->agg.stats.batches_forged);
}

static void signed_batches_accepted(void)
{
    agg_auth *a = auth_create(true);
    struct signing sg;
    struct fx f;
    fx_init(&f, 10);
    sender_signs_as(&f, &sg, AGENT_ID);
    agg_start_auth(&f.agg, f.url, a);
    f.agg_up = true;
    fx_run(&f);
    check_each_once(&f, SLIC_ACK_ACCEPTED);
    check_store(&f, 10);
    CHECK_U64_EQ(refused_at_aggregator(&f), 0);
    fx_fini(&f);
    agg_auth_destroy(a);
}

/* A key for another agent_id, then no key: refused, kept, resent, and nothing of it stored;
 * the aggregator counts each kind apart. With the right key the same batches arrive, each once,
 * ACCEPTED (not DUPLICATE: the refused attempts consumed nothing). */
static void refused_batches_kept_until_key_fixed(void)
{
    agg_auth *a = auth_create(true);
    struct signing sg;
    struct fx f;
    fx_init(&f, 10);
    agg_start_auth(&f.agg, f.url, a);
    f.agg_up = true;
    sender_signs_as(&f, &sg, "another-agent");
    run_refused(&f);
    check_store_untouched(&f);
    uint64_t forged = atomic_load(&f.agg.stats.batches_forged);
    CHECK(forged >= 4);
    CHECK_U64_EQ(atomic_load(&f.agg.stats.batches_unsigned), 0);
    sender_signs_as(&f, &sg, NULL);
    run_refused(&f);
    check_store_untouched(&f);
    CHECK(atomic_load(&f.agg.stats.batches_unsigned) >= 4);
    CHECK_U64_EQ(atomic_load(&f.agg.stats.batches_forged), forged);
    CHECK_U64_EQ(f.agg.stats.batches_rejected, refused_at_aggregator(&f));
    sender_signs_as(&f, &sg, AGENT_ID);
    fx_run(&f);
    check_each_once(&f, SLIC_ACK_ACCEPTED);
    check_store(&f, 10);
    fx_fini(&f);
    agg_auth_destroy(a);
}

/* require_signed_batches: false (a rollout): unsigned batches pass, wrongly signed ones do not. */
static void unsigned_accepted_during_rollout(void)
{
    agg_auth *a = auth_create(false);
    struct signing sg;
    struct fx f;
    fx_init(&f, 6);
    agg_start_auth(&f.agg, f.url, a);
    f.agg_up = true;
    sender_signs_as(&f, &sg, "another-agent");
    run_refused(&f);
    check_store_untouched(&f);
    sender_signs_as(&f, &sg, NULL);
    fx_run(&f);
    check_each_once(&f, SLIC_ACK_ACCEPTED);
    check_store(&f, 6);
    CHECK_U64_EQ(atomic_load(&f.agg.stats.batches_unsigned), 0);
    fx_fini(&f);
    agg_auth_destroy(a);
}

/* A signed batch to an aggregator without a secret: the signature is ignored, as before. */
static void signature_ignored_without_secret(void)
{
    struct signing sg;
    struct fx f;
    fx_init(&f, 3);
    sender_signs_as(&f, &sg, AGENT_ID);
    agg_start(&f.agg, f.url);
    f.agg_up = true;
    fx_run(&f);
    check_each_once(&f, SLIC_ACK_ACCEPTED);
    check_store(&f, 3);
    fx_fini(&f);
}

/* Two senders in one process with different keys, to one aggregator: the security is each
 * sender's own, not the process's, and is copied when the sender is created. */
static void two_senders_two_keys(void)
{
    agg_auth *a = auth_create(true);
    struct signing right, wrong;
    struct fx good, bad;
    fx_init(&good, 3);
    fx_init(&bad, 6); /* more than the in-flight limit: refused_then_stop expects it full */
    memcpy(bad.url, good.url, sizeof bad.url);
    sender_signs_as(&good, &right, AGENT_ID);
    sender_signs_as(&bad, &wrong, "another-agent");
    agg_start_auth(&good.agg, good.url, a);
    good.agg_up = true;
    fx_start(&good);
    fx_start(&bad);
    /* Changing the options after create changes nothing. */
    memset(right.key, 0, sizeof right.key);
    wrong.sec.key = NULL;
    fx_wait(&good);
    check_each_once(&good, SLIC_ACK_ACCEPTED);
    uv_timer_start(&bad.timer, refused_then_stop, 800, 0);
    fx_wait(&bad);
    check_store(&good, 3);
    CHECK_U64_EQ(atomic_load(&good.agg.stats.batches_unsigned), 0);
    CHECK(atomic_load(&good.agg.stats.batches_forged) >= 4);
    fx_fini(&bad);
    fx_fini(&good);
    agg_auth_destroy(a);
}

/* tls+tcp:// without security options, without tls.ca_file, or with a CA file that is not
 * there: refused at create, naming what to set. */
static void tls_without_ca_refused(void)
{
    uv_loop_t loop;
    CHECK_OK(uv_loop_init(&loop));
    struct agent_sender_callbacks cb = {dummy_next, dummy_acked, NULL};
    struct agent_sender_options o = {.url = "tls+tcp://127.0.0.1:1"};
    agent_sender *s = NULL;
    struct slic_errmsg err = {{0}};
    CHECK_ERR(agent_sender_create(&loop, &o, &cb, &s, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "tls.ca_file") != NULL);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    struct agent_sender_security sec = {.agent_id = AGENT_ID};
    o.security = &sec;
    CHECK_ERR(agent_sender_create(&loop, &o, &cb, &s, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "tls.ca_file") != NULL);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    sec.tls_ca_file = "/nonexistent/ca.pem";
    CHECK(agent_sender_create(&loop, &o, &cb, &s, &err) != 0);
    CHECK(strstr(err.text, "/nonexistent/ca.pem") != NULL);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
}

HARNESS_CASES(HARNESS_CASE(delivers_each_once_oldest_first), HARNESS_CASE(replay_gets_duplicates),
              HARNESS_CASE(rejected_reported_with_reason),
              HARNESS_CASE(oversized_batch_rejected_unsent), HARNESS_CASE(aggregator_down_at_start),
              HARNESS_CASE(aggregator_restart_midrun), HARNESS_CASE(retry_answers_are_resent),
              HARNESS_CASE(close_with_batches_in_flight), HARNESS_CASE(close_while_unreachable),
              HARNESS_CASE(drain_delivers_everything), HARNESS_CASE(drain_gives_up_at_deadline),
              HARNESS_CASE(bad_options_refused), HARNESS_CASE(create_out_of_memory),
              HARNESS_CASE(signed_batches_accepted),
              HARNESS_CASE(refused_batches_kept_until_key_fixed),
              HARNESS_CASE(unsigned_accepted_during_rollout),
              HARNESS_CASE(signature_ignored_without_secret), HARNESS_CASE(two_senders_two_keys),
              HARNESS_CASE(tls_without_ca_refused));
HARNESS_MAIN()
