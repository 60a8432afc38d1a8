/* The agent's loop and the wiring between its parts (see agent.h). Everything here runs on the
 * one loop thread; nng's threads reach it only through the sender's uv_async. Sources (line
 * protocol sockets, probes, access-log tails) are in agent_sources.c. */
#include "agent.h"

#include "agent_int.h"
#include "alloc.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TICK_MS 250
#define DRAIN_TIMEOUT_MS 5000

/* ---- events in ------------------------------------------------------------------------------ */

static void sink_event(void *ctx, const struct slic_event *ev)
{
    agent *a = ctx;
    agent_window_record(a->window, ev, slic_now_unix_ms());
}

/* The agent's own SLIs, recorded like any other so they reach the aggregator the same way:
 * slic.agent.ingest (good: events counted; bad: events dropped or lines malformed) and
 * slic.agent.delivery (per batch: latency from window end to final ack; bad: rejected). */
static void record_self(agent *a, const char *sli, double latency, uint64_t weight, bool good)
{
    if (weight == 0)
        return;
    struct slic_event ev = {
        .name = sli, .name_len = strlen(sli), .latency = latency, .weight = weight, .good = good};
    if (agent_window_record(a->window, &ev, slic_now_unix_ms()) == 0)
        a->self_records++;
}

static void record_ingest(agent *a)
{
    struct agent_window_stats ws;
    agent_window_stats_get(a->window, &ws);
    uint64_t dropped = agent__malformed_total(a);
    for (int i = 0; i < AGENT_WINDOW_DROP_COUNT; i++)
        dropped += ws.events_dropped[i];
    uint64_t accepted = ws.events_accepted - a->self_records;
    record_self(a, "slic.agent.ingest", 0, accepted - a->reported_accepted, true);
    record_self(a, "slic.agent.ingest", 0, dropped - a->reported_dropped, false);
    a->reported_accepted = accepted;
    a->reported_dropped = dropped;
}

/* ---- windows out ---------------------------------------------------------------------------- */

static void spool_batch(agent *a, struct slic_batch *b, int64_t window_start)
{
    int64_t window_end = window_start + (int64_t)a->cfg.window_seconds;
    b->agent_id = a->cfg.agent_id;
    b->site = a->cfg.site;
    b->node = a->cfg.node;
    struct agent_spool_state_kv state[AGENT_STATE_MAX];
    size_t n_state = agent__sources_state(a, state, AGENT_STATE_MAX);
    uint64_t seq = 0, events = 0;
    for (size_t i = 0; i < b->n_series; i++)
        events += b->series[i].total;
    struct slic_errmsg err = {{0}};
    int rc = agent_spool_append(a->spool, b, window_end, state, n_state, &seq, &err);
    /* The strings belong to the configuration, not to the batch. */
    b->agent_id = b->site = b->node = NULL;
    if (rc) {
        a->windows_lost++;
        SLIC_ERROR("agent",
                   "window %lld+%us with %llu events could not be spooled and is lost: "
                   "%s",
                   (long long)window_start, a->cfg.window_seconds, (unsigned long long)events,
                   err.text[0] ? err.text : slic_strerror(rc));
        return;
    }
    a->windows_spooled++;
    SLIC_DEBUG("agent", "window %lld spooled as seq %llu (%zu series, %llu events)",
               (long long)window_start, (unsigned long long)seq, b->n_series,
               (unsigned long long)events);
}

/* Closes every window that is due (or, when flushing, every open one) into the spool. */
static void close_windows(agent *a, bool flush)
{
    int64_t now = slic_now_unix_ms();
    struct slic_batch b;
    int64_t start = 0;
    bool any = false;
    for (;;) {
        memset(&b, 0, sizeof b);
        int rc = flush ? agent_window_flush(a->window, now, &b, &start)
                       : agent_window_close_due(a->window, now, &b, &start);
        if (rc != 1)
            break;
        spool_batch(a, &b, start);
        slic_batch_fini(&b);
        any = true;
    }
    if (any && a->sender)
        agent_sender_kick(a->sender);
}

static void on_tick(uv_timer_t *t)
{
    agent *a = t->data;
    int64_t now = slic_now_unix_ms();
    /* Once per window, just before it closes, the agent reports on itself into it. */
    int64_t len_ms = (int64_t)a->cfg.window_seconds * 1000;
    int64_t window = now / len_ms;
    if (window != a->last_self_window) {
        a->last_self_window = window;
        agent__sources_mark_boundary(a);
        record_ingest(a);
    }
    close_windows(a, false);
}

/* ---- the sender's view of the spool --------------------------------------------------------- */

static int sender_next(void *ctx, uint64_t after_seq, uint64_t *seq, uint8_t **bytes, size_t *len)
{
    agent *a = ctx;
    struct agent_spool_item item;
    size_t n = 0;
    struct slic_errmsg err = {{0}};
    int rc = agent_spool_take(a->spool, after_seq, 1, &item, &n, &err);
    if (rc) {
        SLIC_ERROR("agent", "cannot read the spool: %s",
                   err.text[0] ? err.text : slic_strerror(rc));
        return rc;
    }
    if (n == 0)
        return 0;
    agent__inflight_note(a, item.seq, item.window_end);
    *seq = item.seq;
    *bytes = item.bytes;
    *len = item.len;
    item.bytes = NULL;
    agent_spool_item_fini(&item);
    return 1;
}

static void sender_acked(void *ctx, uint64_t seq, const struct slic_ack *ack)
{
    agent *a = ctx;
    uint64_t epoch = agent_spool_epoch(a->spool);
    struct slic_errmsg err = {{0}};
    int64_t window_end = agent__inflight_take(a, seq);
    int rc;
    if (ack->status == SLIC_ACK_REJECTED) {
        rc = agent_spool_reject(a->spool, epoch, seq, ack->reason, &err);
    } else {
        rc = agent_spool_ack(a->spool, epoch, seq, &err);
        if (ack->n_wanted > 0 || a->had_wanted)
            agent_window_set_wanted_thresholds(a->window, ack->wanted, ack->n_wanted);
        a->had_wanted = ack->n_wanted > 0;
    }
    if (rc && rc != SLIC_ENOTFOUND)
        SLIC_ERROR("agent", "spool update for seq %llu failed: %s", (unsigned long long)seq,
                   err.text[0] ? err.text : slic_strerror(rc));
    if (window_end > 0) {
        /* A window flushed at shutdown ends in the future: its delay counts from now. */
        int64_t delay_ms = slic_now_unix_ms() - window_end * 1000;
        record_self(a, "slic.agent.delivery", delay_ms > 0 ? (double)delay_ms / 1000.0 : 0, 1,
                    ack->status != SLIC_ACK_REJECTED);
    }
    agent_sender_kick(a->sender);
}

/* ---- stopping ------------------------------------------------------------------------------- */

static void on_closed_handle(uv_handle_t *h)
{
    (void)h;
}

static void on_sender_closed(void *arg)
{
    agent *a = arg;
    a->sender = NULL;
}

static void finish_stop(agent *a)
{
    uv_close((uv_handle_t *)&a->tick, on_closed_handle);
    for (int i = 0; i < AGENT_SIGNALS; i++)
        uv_close((uv_handle_t *)&a->signals[i], on_closed_handle);
    agent_sender_close(a->sender, on_sender_closed, a);
}

static void on_drained(void *arg, int rc)
{
    agent *a = arg;
    struct agent_spool_stats st = {0};
    agent_spool_stats_get(a->spool, &st, NULL);
    if (rc == 0)
        SLIC_INFO("agent", "every spooled window was delivered; stopping");
    else
        SLIC_WARN("agent",
                  "stopping with %llu windows still in the spool (%s): they are "
                  "delivered when the agent starts again",
                  (unsigned long long)st.pending,
                  "the aggregator did not acknowledge them in time");
    finish_stop(a);
}

static void on_sources_closed(void *arg)
{
    agent *a = arg;
    /* No more events can arrive: close what is open, then give delivery a bounded chance. */
    close_windows(a, true);
    agent_sender_kick(a->sender);
    agent_sender_drain(a->sender, DRAIN_TIMEOUT_MS, on_drained, a);
}

static void begin_stop(agent *a, const char *why)
{
    if (a->stopping)
        return;
    a->stopping = true;
    SLIC_INFO("agent",
              "%s: closing the open window and delivering what is spooled (at most "
              "%d s)",
              why, DRAIN_TIMEOUT_MS / 1000);
    uv_timer_stop(&a->tick);
    agent__sources_close(a, on_sources_closed);
}

static void reload(agent *a)
{
    if (!a->config_path) {
        SLIC_WARN("agent", "SIGHUP: running on built-in defaults, nothing to reload");
        return;
    }
    struct agent_config fresh;
    struct slic_errmsg err = {{0}};
    int rc = agent_config_load(a->config_path, &fresh, &err);
    if (rc) {
        SLIC_ERROR("agent", "configuration reload rejected, keeping the running one: %s",
                   err.text[0] ? err.text : slic_strerror(rc));
        return;
    }
    slic_log_set_level(fresh.log_level);
    SLIC_INFO("agent",
              "configuration reloaded from %s: log level applied; sockets, spool, "
              "window, probes and access logs change at the next restart",
              a->config_path);
    agent_config_fini(&fresh);
}

static void on_signal(uv_signal_t *h, int signum)
{
    agent *a = h->data;
    if (signum == SIGHUP)
        reload(a);
    else
        begin_stop(a, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static int open_window(agent *a, struct slic_errmsg *err)
{
    struct agent_window_options wo;
    agent_window_options_init(&wo);
    wo.window_seconds = a->cfg.window_seconds;
    wo.label_keys = (const char *const *)a->cfg.label_keys;
    wo.n_label_keys = a->cfg.n_label_keys;
    wo.max_labelsets_per_sli = a->cfg.max_labelsets_per_sli;
    wo.max_slis = a->cfg.max_slis;
    wo.thresholds = a->cfg.thresholds;
    wo.n_thresholds = a->cfg.n_thresholds;
    return agent_window_create(&wo, &a->window, err);
}

static int open_spool_and_sender(agent *a, struct slic_errmsg *err)
{
    struct agent_spool_options so = {.cap_bytes = a->cfg.spool_max_bytes,
                                     .agent_id = a->cfg.agent_id};
    int rc = agent_spool_open(a->cfg.spool_dir, &so, &a->spool, err);
    if (rc == -EBUSY)
        return slic_errmsg_set(err, rc,
                               "spool %s is in use by another slic-agent; run one agent "
                               "per spool dir",
                               a->cfg.spool_dir);
    if (rc)
        return rc;
    /* Borrowed from the configuration for the create call: the sender reads the TLS files
     * then and keeps its own copy of the key. */
    struct agent_sender_security sec = {
        .tls_ca_file = a->cfg.tls_ca_file,
        .tls_cert_file = a->cfg.tls_cert_file,
        .tls_key_file = a->cfg.tls_key_file,
        .tls_server_name = a->cfg.tls_server_name,
        .key = a->cfg.auth_key_set ? a->cfg.auth_key : NULL,
        .agent_id = a->cfg.agent_id,
    };
    struct agent_sender_options o = {
        .url = a->cfg.aggregator, .inflight = a->cfg.inflight, .security = &sec};
    struct agent_sender_callbacks cb = {sender_next, sender_acked, a};
    return agent_sender_create(&a->loop, &o, &cb, &a->sender, err);
}

static int start_loop_handles(agent *a)
{
    static const int signums[AGENT_SIGNALS] = {SIGTERM, SIGINT, SIGHUP};
    uv_timer_init(&a->loop, &a->tick);
    a->tick.data = a;
    for (int i = 0; i < AGENT_SIGNALS; i++) {
        uv_signal_init(&a->loop, &a->signals[i]);
        a->signals[i].data = a;
        uv_signal_start(&a->signals[i], on_signal, signums[i]);
    }
    return uv_timer_start(&a->tick, on_tick, TICK_MS, TICK_MS);
}

int agent_create(struct agent_config *cfg, const char *config_path, agent **out,
                 struct slic_errmsg *err)
{
    agent *a = slic_calloc(1, sizeof *a);
    if (!a)
        return SLIC_ENOMEM;
    a->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    if (config_path && agent_config_set_string(&a->config_path, config_path)) {
        agent_destroy(a);
        return SLIC_ENOMEM;
    }
    a->sink = (struct agent_sink){sink_event, a};
    int rc = uv_loop_init(&a->loop);
    if (rc) {
        agent_destroy(a);
        return slic_errmsg_set(err, SLIC_ENOMEM, "cannot create the event loop: %s",
                               uv_strerror(rc));
    }
    a->loop_open = true;
    if ((rc = open_window(a, err)) || (rc = open_spool_and_sender(a, err)) ||
        (rc = agent__sources_start(a, err)) || (rc = start_loop_handles(a))) {
        *out = a; /* the caller's agent_destroy runs the loop to close what was opened */
        return rc ? rc : SLIC_ENOMEM;
    }
    SLIC_INFO("agent",
              "agent %s (site %s, node %s) delivering to %s; spool %s (epoch %llu); "
              "%u s windows",
              a->cfg.agent_id, a->cfg.site, a->cfg.node, a->cfg.aggregator, a->cfg.spool_dir,
              (unsigned long long)agent_spool_epoch(a->spool), a->cfg.window_seconds);
    *out = a;
    return 0;
}

int agent_run(agent *a)
{
    uv_run(&a->loop, UV_RUN_DEFAULT);
    return a->windows_lost ? 1 : 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, on_closed_handle);
}

void agent_destroy(agent *a)
{
    if (!a)
        return;
    if (a->loop_open) {
        /* After a failed start, parts are open: close them through the loop. */
        if (a->sender)
            agent_sender_close(a->sender, on_sender_closed, a);
        agent__sources_close(a, NULL);
        uv_walk(&a->loop, close_walk, NULL);
        uv_run(&a->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&a->loop) != 0)
            SLIC_WARN("agent", "event loop closed with handles still open");
    }
    agent_spool_close(a->spool);
    agent_window_destroy(a->window);
    slic_free(a->tails);
    agent_config_fini(&a->cfg);
    slic_free(a->config_path);
    slic_free(a);
}
