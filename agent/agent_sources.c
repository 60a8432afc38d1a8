/* Starting, stopping and reading the agent's sources (see agent_int.h). Each source closes
 * asynchronously; a count of those still closing tells when the last one is done. */
#include "agent_int.h"

#include "alloc.h"
#include "log.h"
#include "timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int start_lineproto(agent *a, struct slic_errmsg *err)
{
    const struct agent_config *c = &a->cfg;
    if (!c->udp[0] && !c->unix_path[0])
        return 0;
    struct agent_lineproto_options o = {
        .udp = c->udp, .unix_path = c->unix_path, .recv_buffer = c->recv_buffer};
    slic_lineproto_opts_init(&o.parse);
    o.parse.status_bad_min = c->status_bad_min;
    return agent_lineproto_create(&a->loop, &o, &a->sink, &a->lineproto, err);
}

static int start_probes(agent *a, struct slic_errmsg *err)
{
    if (a->cfg.n_probes == 0)
        return 0;
    int rc = agent_probe_set_create(&a->loop, &a->sink, a->cfg.node, &a->probes, err);
    for (size_t i = 0; rc == 0 && i < a->cfg.n_probes; i++) {
        struct agent_probe_config pc = agent_config_probe_view(&a->cfg.probes[i]);
        rc = agent_probe_set_add(a->probes, &pc, err);
    }
    return rc ? rc : agent_probe_set_start(a->probes);
}

static enum slic_accesslog_unit unit_of(double seconds)
{
    return seconds >= 1      ? SLIC_ACCESSLOG_S
           : seconds >= 1e-3 ? SLIC_ACCESSLOG_MS
                             : SLIC_ACCESSLOG_US;
}

static void accesslog_opts(const struct agent_config *c, const struct agent_config_tail *t,
                           struct slic_accesslog_opts *o)
{
    slic_accesslog_opts_init(
        o, t->format == AGENT_TAIL_JSON ? SLIC_ACCESSLOG_JSON : SLIC_ACCESSLOG_COMBINED, t->sli);
    o->unit = unit_of(t->latency_unit_s);
    o->status_bad_min = c->status_bad_min;
    o->label_route = t->route_label;
    if (t->format == AGENT_TAIL_JSON) {
        o->latency_key = t->latency_key;
        o->status_key = t->status_key;
        o->path_key = t->route_label ? t->path_key : NULL;
    } else {
        o->latency_field = t->latency_field;
    }
}

/* The access logs' sink. A window is committed with the positions agent__sources_mark_boundary
 * took when the agent's tick saw the clock enter the next window, up to a tick (and any loop
 * delay) after the boundary itself. A line read in between must count in the window those
 * positions are committed with, not in the next one: otherwise a crash after that commit loses
 * it (the committed position is past it, its window never spooled). So a line counts in the
 * newest window whose boundary has been marked, which stays open until the tick has marked the
 * next boundary: the tick marks before it closes windows, and closes one only a grace after its
 * end. Lines thus move by at most a tick into the past, never into a closed window. */
static void tail_event(void *ctx, const struct slic_event *ev)
{
    agent *a = ctx;
    int64_t len_ms = (int64_t)a->cfg.window_seconds * 1000;
    int64_t now = slic_now_unix_ms();
    if (now / len_ms > a->last_self_window)
        now = (a->last_self_window + 1) * len_ms - 1;
    agent_window_record(a->window, ev, now);
}

/* Where this log stood when the spool last committed a window, if it did. */
static bool saved_position(agent *a, const char *key, struct agent_tail_pos *pos)
{
    void *v = NULL;
    size_t len = 0;
    bool ok = agent_spool_state_get(a->spool, key, &v, &len, NULL) == 0 &&
              agent_tail_pos_decode(v, len, pos) == 0;
    slic_free(v);
    return ok;
}

static int start_tail(agent *a, const struct agent_config_tail *t, struct agent_tail_source *src,
                      struct slic_errmsg *err)
{
    accesslog_opts(&a->cfg, t, &src->al.opts);
    int rc = slic_accesslog_opts_check(&src->al.opts, err);
    if (rc)
        return rc;
    src->al.sink = (struct agent_sink){tail_event, a};
    src->al.name = t->path;
    snprintf(src->key, sizeof src->key, "tail:%s", t->path);
    struct agent_tail_pos resume;
    bool have = saved_position(a, src->key, &resume);
    struct agent_tail_options o;
    agent_tail_options_init(&o, t->path, agent_tail_accesslog_line, &src->al);
    o.from_start = t->from_start;
    if ((rc = agent_tail_create(&a->loop, &o, have ? &resume : NULL, &src->tail, err)) != 0)
        return rc;
    agent_tail_position(src->tail, &src->boundary_pos);
    return 0;
}

static int start_tails(agent *a, struct slic_errmsg *err)
{
    if (a->cfg.n_tails == 0)
        return 0;
    /* Each tail's boundary position starts as where the tail starts: that marks the boundary
     * of the window the agent starts in now rather than at the first tick, and tail_event counts
     * the lines read before that tick in this window accordingly. */
    a->last_self_window = slic_now_unix_ms() / ((int64_t)a->cfg.window_seconds * 1000);
    a->tails = slic_calloc(a->cfg.n_tails, sizeof *a->tails);
    if (!a->tails)
        return SLIC_ENOMEM;
    a->n_tails = a->cfg.n_tails;
    for (size_t i = 0; i < a->n_tails; i++) {
        int rc = start_tail(a, &a->cfg.tails[i], &a->tails[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

int agent__sources_start(agent *a, struct slic_errmsg *err)
{
    int rc;
    if ((rc = start_lineproto(a, err)) || (rc = start_probes(a, err)) || (rc = start_tails(a, err)))
        return rc;
    return 0;
}

void agent__sources_mark_boundary(agent *a)
{
    for (size_t i = 0; i < a->n_tails; i++) {
        if (a->tails[i].tail)
            agent_tail_position(a->tails[i].tail, &a->tails[i].boundary_pos);
    }
}

static void source_closed(void *arg)
{
    agent *a = arg;
    if (--a->sources_closing > 0)
        return;
    a->sources_closed = true;
    if (a->on_sources_closed)
        a->on_sources_closed(a);
}

void agent__sources_close(agent *a, void (*done)(void *arg))
{
    if (a->sources_closing > 0 || a->sources_closed) {
        if (done)
            a->on_sources_closed = done;
        return;
    }
    a->on_sources_closed = done;
    /* Their counters go with them; keep the total for the agent's last reports. */
    a->malformed_closed = agent__malformed_total(a);
    /* One extra count, released below, so a source that closes at once cannot finish early. */
    a->sources_closing = 1;
    if (a->lineproto) {
        a->sources_closing++;
        agent_lineproto_close(a->lineproto, source_closed, a);
        a->lineproto = NULL;
    }
    if (a->probes) {
        a->sources_closing++;
        agent_probe_set_close(a->probes, source_closed, a);
        a->probes = NULL;
    }
    for (size_t i = 0; i < a->n_tails; i++) {
        if (!a->tails[i].tail)
            continue;
        /* Stopping flushes every open window, the current one included, with the lines read
         * into it: the last commit must say they were read, or the next start reads them
         * again. (Stopping within a grace after a boundary flushes the previous window too,
         * committed first with this same position: only a crash between those two commits
         * would lose the current window's lines.) */
        agent_tail_position(a->tails[i].tail, &a->tails[i].boundary_pos);
        a->sources_closing++;
        agent_tail_close(a->tails[i].tail, source_closed, a);
        a->tails[i].tail = NULL;
    }
    source_closed(a);
}

uint64_t agent__malformed_total(const agent *a)
{
    if (a->sources_closing > 0 || a->sources_closed)
        return a->malformed_closed;
    uint64_t n = 0;
    if (a->lineproto) {
        struct slic_lineproto_counters c;
        agent_lineproto_counters(a->lineproto, &c);
        for (int i = 0; i < SLIC_LINEPROTO_REASON_COUNT; i++)
            n += c.rejected[i];
    }
    for (size_t i = 0; i < a->n_tails; i++) {
        /* Blank lines are not events, nor malformed: not counted here. */
        for (int r = SLIC_ACCESSLOG_E_TOO_LONG; r < SLIC_ACCESSLOG_REASON_COUNT; r++)
            n += a->tails[i].al.rejected[r];
    }
    return n;
}

/* The daemon's counters as one JSON object, for `slic-agent --status`. batches_refused_signature
 * (a missing or wrong auth.key_file: the batches stay in the spool) is part of send_retries. */
static void status_json(agent *a)
{
    struct agent_window_stats ws;
    struct agent_sender_stats ss = {0};
    agent_window_stats_get(a->window, &ws);
    if (a->sender)
        agent_sender_stats(a->sender, &ss);
    uint64_t dropped = 0;
    for (int i = 0; i < AGENT_WINDOW_DROP_COUNT; i++)
        dropped += ws.events_dropped[i];
    snprintf(a->status_json, sizeof a->status_json,
             "{\"updated_unix_ms\":%" PRId64 ",\"events_accepted\":%" PRIu64
             ",\"events_dropped\":%" PRIu64 ",\"events_late\":%" PRIu64
             ",\"events_overflowed\":%" PRIu64 ",\"lines_malformed\":%" PRIu64
             ",\"windows_spooled\":%" PRIu64 ",\"windows_lost\":%" PRIu64
             ",\"batches_accepted\":%" PRIu64 ",\"batches_duplicate\":%" PRIu64
             ",\"batches_rejected\":%" PRIu64 ",\"send_retries\":%" PRIu64
             ",\"batches_refused_signature\":%" PRIu64 ",\"last_ack_unix_ms\":%" PRId64
             ",\"aggregator_link\":\"%s\",\"memory_bytes\":%zu}",
             slic_now_unix_ms(), ws.events_accepted - a->self_records, dropped, ws.events_late,
             ws.events_overflowed, agent__malformed_total(a), a->windows_spooled, a->windows_lost,
             ss.accepted, ss.duplicate, ss.rejected, ss.retries, ss.refused_signature,
             ss.last_ack_unix_ms,
             ss.link == AGENT_SENDER_UP     ? "up"
             : ss.link == AGENT_SENDER_DOWN ? "down"
                                            : "connecting",
             ws.memory_bytes);
}

size_t agent__sources_state(agent *a, struct agent_spool_state_kv *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n_tails && n < max; i++) {
        struct agent_tail_source *t = &a->tails[i];
        size_t len = 0;
        if (agent_tail_pos_encode(&t->boundary_pos, t->pos_buf, sizeof t->pos_buf, &len) == 0)
            out[n++] = (struct agent_spool_state_kv){t->key, t->pos_buf, len};
    }
    if (n < max) {
        status_json(a);
        out[n++] =
            (struct agent_spool_state_kv){AGENT_STATUS_KEY, a->status_json, strlen(a->status_json)};
    }
    return n;
}

void agent__inflight_note(agent *a, uint64_t seq, int64_t window_end)
{
    a->inflight[seq % AGENT_INFLIGHT_RING].seq = seq;
    a->inflight[seq % AGENT_INFLIGHT_RING].window_end = window_end;
}

int64_t agent__inflight_take(agent *a, uint64_t seq)
{
    if (a->inflight[seq % AGENT_INFLIGHT_RING].seq != seq)
        return 0;
    a->inflight[seq % AGENT_INFLIGHT_RING].seq = 0;
    return a->inflight[seq % AGENT_INFLIGHT_RING].window_end;
}
