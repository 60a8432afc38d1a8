/* Delivers spooled batches to the aggregator over nng req/rep (see sender.h). Each in-flight
 * batch sits in a slot with its own nng context and aio. A slot's aio callback runs on nng's
 * threads: when a send completes it starts the receive (on nng 1.5.2 a receive must never be
 * pending beside a send: cancelling that pair crashes), and when an operation ends it queues
 * the slot under a mutex and wakes the loop with uv_async_send. Everything else - answers,
 * backoff, pulling from the spool, callbacks into the agent - happens on the loop, in service().
 * A slot belongs either to the loop or to nng (`busy`), never to both. */
#include "sender.h"

#include "alloc.h"
#include "backoff.h"
#include "codec_batch.h"
#include "log.h"
#include "sender_auth.h"
#include "timeutil.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SENDER_INFLIGHT_MAX 256u
#define SENDER_TIMEOUT_MAX_MS 3600000u /* nng durations are int32 milliseconds */
#define SENDER_CLOSE_GRACE_MS 2000u    /* see agent_sender_close */

struct slot {
    agent_sender *s;
    nng_ctx ctx;
    nng_aio *aio;
    /* Loop side. */
    bool used;      /* holds a batch taken from the spool */
    bool busy;      /* an nng operation is outstanding: nng owns the fields below */
    bool link_wait; /* failed for want of a connection: retry as soon as one opens */
    uint64_t seq;
    uint8_t *batch; /* the Batch as taken, until wrapped into req */
    size_t batch_len;
    uint8_t *req; /* the Request sent on every attempt */
    size_t req_len;
    unsigned attempts; /* failed attempts so far */
    uint64_t next_try; /* uv_now() milliseconds */
    uint64_t sent_ns;
    /* nng side, handed to the loop through the done queue. */
    bool receiving;
    int rv;
    nng_msg *reply;
    struct slot *done_next;
};

struct agent_sender {
    uv_loop_t *loop;
    uv_async_t async;
    uv_timer_t timer;
    unsigned open_handles;
    struct agent_sender_callbacks cb;
    char *url;
    uint32_t ack_timeout_ms, backoff_min_ms, backoff_max_ms;
    struct slot *slots;
    unsigned n_slots;
    nng_socket sock;
    bool sock_open;
    nng_dialer dialer;
    struct agent__sender_sec sec; /* TLS and batch signing (sender_auth.h) */
    uint64_t rng;
    struct agent_sender_stats st;
    uint64_t link_changed_ms;  /* uv_now() of the last link change */
    uint64_t connect_deadline; /* CONNECTING turns DOWN then */
    uint64_t dial_seen[9];     /* dialer error counters already explained in a log line */
    /* A run of failed attempts over a working link (RETRY answers, missing answers), logged
     * once when it starts and once when an answer ends it. */
    bool troubled;
    uint64_t trouble_since_ms;
    uint64_t trouble_retries; /* st.retries when it started */
    char backoff_max_text[SLIC_DURATION_FMT_LEN];
    /* The spool cursor: the highest seq taken; a pull is wanted after a kick. */
    uint64_t cursor;
    bool pull_wanted;
    int pull_last; /* last next() result: 1 more, 0 empty, < 0 error */
    bool draining;
    uint64_t drain_deadline;
    void (*drain_done)(void *arg, int rc);
    void *drain_arg;
    bool closing;
    void (*closed)(void *arg);
    void *closed_arg;
    /* Shared with nng's threads. */
    pthread_mutex_t mu;
    struct slot *done_head, *done_tail;
    int pipe_id;     /* the open connection's pipe, 0 when none */
    bool async_live; /* false once close_finish has begun: no more wake-ups */
};

static void service(agent_sender *s);

/* ---- nng's side: queue and wake, nothing more ----------------------------------------------- */

static void wake_locked(agent_sender *s)
{
    if (s->async_live)
        uv_async_send(&s->async);
}

static void done_push(agent_sender *s, struct slot *sl)
{
    pthread_mutex_lock(&s->mu);
    sl->done_next = NULL;
    if (s->done_tail)
        s->done_tail->done_next = sl;
    else
        s->done_head = sl;
    s->done_tail = sl;
    wake_locked(s);
    pthread_mutex_unlock(&s->mu);
}

static struct slot *done_pop(agent_sender *s)
{
    pthread_mutex_lock(&s->mu);
    struct slot *sl = s->done_head;
    if (sl && !(s->done_head = sl->done_next))
        s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    return sl;
}

static void slot_aio_cb(void *arg)
{
    struct slot *sl = arg;
    int rv = nng_aio_result(sl->aio);
    if (!sl->receiving && rv == 0) {
        /* The request is on a pipe: only now may the receive start (see the file comment). */
        sl->receiving = true;
        nng_aio_set_timeout(sl->aio, (nng_duration)sl->s->ack_timeout_ms);
        nng_ctx_recv(sl->ctx, sl->aio);
        return;
    }
    if (!sl->receiving) {
        nng_msg_free(nng_aio_get_msg(sl->aio)); /* a failed send hands its message back */
    } else if (rv == 0) {
        sl->reply = nng_aio_get_msg(sl->aio);
    }
    nng_aio_set_msg(sl->aio, NULL);
    sl->rv = rv;
    done_push(sl->s, sl);
}

/* A dialer has at most one pipe at a time. ADD_PRE, not ADD_POST: nng starts sending on a pipe
 * before ADD_POST runs, so an answer could otherwise arrive from a link not yet known to be up.
 * The id is kept, not a flag, because nng may report pipes out of order. */
static void pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    agent_sender *s = arg;
    pthread_mutex_lock(&s->mu);
    if (ev == NNG_PIPE_EV_ADD_PRE)
        s->pipe_id = nng_pipe_id(p);
    else if (s->pipe_id == nng_pipe_id(p))
        s->pipe_id = 0;
    wake_locked(s);
    pthread_mutex_unlock(&s->mu);
}

/* ---- backoff and the link state ------------------------------------------------------------ */

/* Exponential up to the cap, jittered so that agents that lost the same aggregator at the same
 * moment do not come back in lockstep (backoff.h). */
static uint64_t backoff_ms(agent_sender *s, unsigned attempts)
{
    return slic_backoff_ms(&s->rng, s->backoff_min_ms, s->backoff_max_ms, attempts);
}

/* Why the dialer has failed since the last explanation, from nng's dialer statistics (nng 1.5
 * reports background dial errors nowhere else): the error counted most often since then. */
static void dial_reason(agent_sender *s, char *buf, size_t len)
{
    static const struct {
        const char *stat, *why;
    } errs[] = {
        {"refused", "connection refused"},
        {"timeout", "connection attempt timed out"},
        {"disconnect", "disconnected by the peer"},
        {"proto", "protocol error (is a slic aggregator listening there?)"},
        {"auth", "TLS authentication failed"},
        {"oom", "out of memory"},
        {"reject", "connection rejected"},
        {"canceled", "connection attempt canceled"},
        {"other", "network error (unreachable host or unresolvable name?)"},
    };
    _Static_assert(sizeof errs / sizeof errs[0] == sizeof s->dial_seen / sizeof s->dial_seen[0],
                   "one seen counter per statistic");
    snprintf(buf, len, "no connection within %" PRIu32 " ms", s->ack_timeout_ms);
    nng_stat *all = NULL;
    if (nng_stats_get(&all) != 0)
        return;
    nng_stat *d = nng_stat_find_dialer(all, s->dialer);
    uint64_t best = 0;
    for (size_t i = 0; d && i < sizeof errs / sizeof errs[0]; i++) {
        nng_stat *c = nng_stat_find(d, errs[i].stat);
        uint64_t v = c ? nng_stat_value(c) : s->dial_seen[i];
        if (v - s->dial_seen[i] > best) {
            best = v - s->dial_seen[i];
            snprintf(buf, len, "%s", errs[i].why);
        }
        s->dial_seen[i] = v;
    }
    nng_stats_free(all);
}

static void link_set(agent_sender *s, enum agent_sender_link to)
{
    s->st.link = to;
    s->st.link_since_unix_ms = slic_now_unix_ms();
    s->link_changed_ms = uv_now(s->loop);
}

static void link_down(agent_sender *s, bool was_up)
{
    char reason[128];
    /* Called in both cases, so the next explanation counts only newer dial errors. */
    dial_reason(s, reason, sizeof reason);
    if (was_up)
        SLIC_WARN("sender",
                  "lost the connection to aggregator at %s; reconnecting with backoff up to %s "
                  "(%u batches in flight, the rest wait in the spool)",
                  s->url, s->backoff_max_text, s->st.inflight);
    else
        SLIC_WARN("sender",
                  "cannot reach aggregator at %s: %s%s; retrying with backoff up to %s (%u "
                  "batches in flight, the rest wait in the spool)",
                  s->url, reason, agent__sender_tls_hint(&s->sec, reason), s->backoff_max_text,
                  s->st.inflight);
    link_set(s, AGENT_SENDER_DOWN);
}

static void link_up(agent_sender *s)
{
    if (s->st.link == AGENT_SENDER_DOWN)
        SLIC_INFO("sender", "aggregator at %s reachable again after %.1fs (%u batches in flight)",
                  s->url, (double)(uv_now(s->loop) - s->link_changed_ms) / 1000.0, s->st.inflight);
    else
        SLIC_INFO("sender", "connected to aggregator at %s", s->url);
    link_set(s, AGENT_SENDER_UP);
    /* Batches that failed for want of a connection go now, not at the end of their backoff. */
    for (unsigned i = 0; i < s->n_slots; i++) {
        if (s->slots[i].link_wait) {
            s->slots[i].next_try = 0;
            s->slots[i].link_wait = false;
        }
    }
}

/* One log line per change of state, however many batches fail meanwhile. */
static void link_update(agent_sender *s)
{
    pthread_mutex_lock(&s->mu);
    bool up = s->pipe_id > 0;
    pthread_mutex_unlock(&s->mu);
    if (up && s->st.link != AGENT_SENDER_UP)
        link_up(s);
    else if (!up && s->st.link == AGENT_SENDER_UP)
        link_down(s, true);
    else if (!up && s->st.link == AGENT_SENDER_CONNECTING && uv_now(s->loop) >= s->connect_deadline)
        link_down(s, false);
}

/* ---- slots ------------------------------------------------------------------------------- */

static void slot_release(agent_sender *s, struct slot *sl)
{
    slic_free(sl->batch);
    slic_free(sl->req);
    sl->batch = sl->req = NULL;
    sl->used = false;
    s->st.inflight--;
}

/* From the 8th failed attempt on, at powers of two: a batch that fails while others pass
 * stays visible without flooding the log. */
static bool log_attempt(unsigned attempts)
{
    return attempts >= 8 && (attempts & (attempts - 1)) == 0;
}

static void retry_later(agent_sender *s, struct slot *sl, const char *why)
{
    sl->attempts++;
    s->st.retries++;
    uint64_t now = uv_now(s->loop), wait = backoff_ms(s, sl->attempts);
    sl->next_try = now + wait;
    sl->link_wait = s->st.link != AGENT_SENDER_UP;
    if (sl->link_wait)
        return; /* the link state's own log line tells this story */
    if (!s->troubled) {
        s->troubled = true;
        s->trouble_since_ms = now;
        s->trouble_retries = s->st.retries - 1;
        SLIC_WARN("sender",
                  "aggregator at %s: batch %" PRIu64 ": %s; resending with backoff up to %s, "
                  "without limit (further failures are logged only for batches that keep "
                  "failing)",
                  s->url, sl->seq, why, s->backoff_max_text);
    } else if (log_attempt(sl->attempts)) {
        SLIC_WARN("sender",
                  "batch %" PRIu64 " to %s has failed %u times, last: %s; next attempt in %" PRIu64
                  " ms",
                  sl->seq, s->url, sl->attempts, why, wait);
    }
}

/* Hands a final answer to the agent. The slot is freed first, so the agent may kick or close
 * from the callback. */
static void slot_report(agent_sender *s, struct slot *sl, const struct slic_ack *ack)
{
    uint64_t seq = sl->seq;
    if (ack->status == SLIC_ACK_REJECTED)
        s->st.rejected++;
    else if (ack->status == SLIC_ACK_DUPLICATE)
        s->st.duplicate++;
    else
        s->st.accepted++;
    slot_release(s, sl);
    s->cb.acked(s->cb.ctx, seq, ack);
}

/* The aggregator's final answer (anything but RETRY). */
static void slot_answered(agent_sender *s, struct slot *sl, const struct slic_ack *ack)
{
    uint64_t lat = slic_now_mono_ns() - sl->sent_ns;
    if (ack->status == SLIC_ACK_REJECTED)
        SLIC_WARN("sender",
                  "aggregator at %s rejected batch %" PRIu64 " (epoch %" PRIu64 " seq %" PRIu64
                  "): %s; it will be kept aside, not retried",
                  s->url, sl->seq, ack->epoch, ack->seq, ack->reason);
    if (s->troubled) {
        s->troubled = false;
        SLIC_INFO("sender", "aggregator at %s answering again after %.1fs (%" PRIu64 " resends)",
                  s->url, (double)(uv_now(s->loop) - s->trouble_since_ms) / 1000.0,
                  s->st.retries - s->trouble_retries);
    }
    s->st.ack_latency_last_ns = lat;
    s->st.ack_latency_sum_ns += lat;
    s->st.last_ack_unix_ms = slic_now_unix_ms();
    slot_report(s, sl, ack);
}

/* A request above the decoders' cap is never accepted, and nng drops the connection of a peer
 * that sends one, on every attempt. Rejected here instead, so the agent keeps it aside. */
static void slot_reject_oversized(agent_sender *s, struct slot *sl)
{
    struct slic_ack ack = {.status = SLIC_ACK_REJECTED};
    snprintf(ack.reason, sizeof ack.reason,
             "not sent: its request of %zu bytes exceeds the %u bytes any aggregator accepts",
             sl->req_len, CODEC_MAX_MESSAGE_BYTES);
    SLIC_ERROR("sender", "batch %" PRIu64 " for %s %s; it will be kept aside", sl->seq, s->url,
               ack.reason);
    slot_report(s, sl, &ack);
}

static void slot_send(agent_sender *s, struct slot *sl)
{
    if (!sl->req) {
        /* Wrapped here rather than when taken, so running out of memory is one more retry. */
        if (agent__sender_request_pack(&s->sec, sl->batch, sl->batch_len, &sl->req, &sl->req_len)) {
            retry_later(s, sl, "out of memory wrapping it into a request");
            return;
        }
        slic_free(sl->batch);
        sl->batch = NULL;
    }
    if (sl->req_len > CODEC_MAX_MESSAGE_BYTES) {
        slot_reject_oversized(s, sl);
        return;
    }
    nng_msg *m = NULL;
    int rv = nng_msg_alloc(&m, sl->req_len);
    if (rv) {
        retry_later(s, sl, nng_strerror(rv));
        return;
    }
    memcpy(nng_msg_body(m), sl->req, sl->req_len);
    sl->busy = true;
    sl->receiving = false;
    sl->reply = NULL;
    sl->sent_ns = slic_now_mono_ns();
    s->st.sent++;
    nng_aio_set_msg(sl->aio, m);
    /* The send waits at most this long for a connection; the receive then gets as long again
     * for the answer (set in slot_aio_cb). */
    nng_aio_set_timeout(sl->aio, (nng_duration)s->ack_timeout_ms);
    nng_ctx_send(sl->ctx, sl->aio);
}

static void slot_answer(agent_sender *s, struct slot *sl)
{
    nng_msg *m = sl->reply;
    sl->reply = NULL;
    struct slic_ack ack;
    struct codec_error cerr = {0};
    int rc = codec_response_unpack(nng_msg_body(m), nng_msg_len(m), &ack, NULL, &cerr);
    nng_msg_free(m);
    char why[CODEC_ERROR_FIELD_LEN + CODEC_ERROR_MSG_LEN + SLIC_ACK_REASON_MAX];
    if (rc) {
        char detail[CODEC_ERROR_FIELD_LEN + CODEC_ERROR_MSG_LEN + 8];
        snprintf(why, sizeof why, "unreadable answer (%s)",
                 codec_error_format(&cerr, detail, sizeof detail));
        retry_later(s, sl, why);
        return;
    }
    if (ack.status == SLIC_ACK_RETRY) {
        snprintf(why, sizeof why, "the aggregator asked to retry (%s)", ack.reason);
        retry_later(s, sl, why);
    } else if (ack.status == SLIC_ACK_REJECTED && ack.cause == SLIC_ACK_CAUSE_SIGNATURE) {
        /* The batch is fine; this agent's key is not. It is never reported as rejected, so the
         * agent never sets it aside: it is resent until a fixed key gets it accepted. */
        s->st.refused_signature++;
        agent__sender_sec_refused(&s->sec, s->url, sl->seq, ack.reason, s->st.refused_signature,
                                  uv_now(s->loop));
        snprintf(why, sizeof why, "refused for its signature (%s)", ack.reason);
        retry_later(s, sl, why);
    } else {
        slot_answered(s, sl, &ack);
    }
    slic_ack_fini(&ack);
}

static void slot_complete(agent_sender *s, struct slot *sl)
{
    sl->busy = false;
    if (sl->rv == 0) {
        slot_answer(s, sl);
        return;
    }
    char why[160];
    if (sl->rv == NNG_ETIMEDOUT && !sl->receiving)
        snprintf(why, sizeof why, "no connection within %" PRIu32 " ms", s->ack_timeout_ms);
    else if (sl->rv == NNG_ETIMEDOUT)
        snprintf(why, sizeof why, "no answer within %" PRIu32 " ms", s->ack_timeout_ms);
    else
        snprintf(why, sizeof why, "%s failed: %s", sl->receiving ? "receive" : "send",
                 nng_strerror(sl->rv));
    retry_later(s, sl, why);
}

/* ---- the loop's side ----------------------------------------------------------------------- */

static void slot_take(agent_sender *s, struct slot *sl, uint64_t seq, uint8_t *bytes, size_t len)
{
    *sl = (struct slot){.s = s,
                        .ctx = sl->ctx,
                        .aio = sl->aio,
                        .used = true,
                        .seq = seq,
                        .batch = bytes,
                        .batch_len = len};
    s->st.inflight++;
    s->cursor = seq;
}

static struct slot *slot_free_find(agent_sender *s)
{
    for (unsigned i = 0; i < s->n_slots; i++)
        if (!s->slots[i].used)
            return &s->slots[i];
    return NULL;
}

/* Takes batches oldest first into free slots, until the spool has no more. */
static void pull(agent_sender *s)
{
    struct slot *sl;
    while (s->pull_wanted && !s->closing && (sl = slot_free_find(s)) != NULL) {
        uint64_t seq = 0;
        uint8_t *bytes = NULL;
        size_t len = 0;
        int rc = s->cb.next(s->cb.ctx, s->cursor, &seq, &bytes, &len);
        s->pull_last = rc;
        if (rc <= 0) {
            if (rc < 0)
                SLIC_ERROR("sender",
                           "cannot read the batch after %" PRIu64 " from the spool: %s; trying "
                           "again at the next kick",
                           s->cursor, slic_strerror(rc));
            s->pull_wanted = false;
            return;
        }
        assert(seq > s->cursor && bytes && len > 0 && "next() broke its contract");
        if (s->closing) {
            slic_free(bytes); /* closed from inside next(): the batch stays in the spool */
            return;
        }
        slot_take(s, sl, seq, bytes, len);
    }
}

/* The link state is read again before each completion: the event of the connection an answer
 * came on precedes the answer, so the answer is always judged with the link it used. */
static void complete_all(agent_sender *s)
{
    struct slot *sl;
    while (!s->closing && (sl = done_pop(s)) != NULL) {
        link_update(s);
        slot_complete(s, sl);
    }
}

static void send_due(agent_sender *s)
{
    uint64_t now = uv_now(s->loop);
    for (unsigned i = 0; i < s->n_slots && !s->closing; i++) {
        struct slot *sl = &s->slots[i];
        if (sl->used && !sl->busy && sl->next_try <= now)
            slot_send(s, sl);
    }
}

static void drain_check(agent_sender *s)
{
    if (!s->draining)
        return;
    int rc;
    if (s->st.inflight == 0 && s->pull_last == 0 && !s->pull_wanted)
        rc = 0;
    else if (uv_now(s->loop) >= s->drain_deadline)
        rc = SLIC_ERETRY;
    else
        return;
    s->draining = false;
    s->drain_done(s->drain_arg, rc);
}

static void close_quiesce(agent_sender *s);
static void close_finish(agent_sender *s);

static void on_timer(uv_timer_t *t)
{
    agent_sender *s = t->data;
    if (s->closing)
        close_finish(s); /* the grace period for answers on their way is over */
    else
        service(s);
}

/* Sleeps until the earliest of: a slot's next attempt, the connect deadline, the drain
 * deadline. */
static void timer_rearm(agent_sender *s)
{
    uint64_t due = UINT64_MAX;
    for (unsigned i = 0; i < s->n_slots; i++) {
        const struct slot *sl = &s->slots[i];
        if (sl->used && !sl->busy && sl->next_try < due)
            due = sl->next_try;
    }
    if (s->st.link == AGENT_SENDER_CONNECTING && s->connect_deadline < due)
        due = s->connect_deadline;
    if (s->draining && s->drain_deadline < due)
        due = s->drain_deadline;
    if (due == UINT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    uint64_t now = uv_now(s->loop);
    uv_timer_start(&s->timer, on_timer, due > now ? due - now : 0, 0);
}

/* The one place the sender acts: after a wake-up from nng, a kick, or the timer. Every step
 * may call into the agent, which may close the sender, so each checks `closing`. */
static void service(agent_sender *s)
{
    if (s->closing)
        return;
    link_update(s);
    complete_all(s);
    if (!s->closing)
        pull(s);
    if (!s->closing)
        send_due(s);
    if (!s->closing)
        drain_check(s);
    if (!s->closing)
        timer_rearm(s);
}

static void on_async(uv_async_t *a)
{
    agent_sender *s = a->data;
    if (s->closing)
        close_quiesce(s);
    else
        service(s);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static int options_check(const struct agent_sender_options *o,
                         const struct agent_sender_callbacks *cb, struct slic_errmsg *err)
{
    if (!o || !o->url || !o->url[0] || !cb || !cb->next || !cb->acked)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "sender: an aggregator url and the next and "
                               "acked callbacks are required");
    if (o->inflight > SENDER_INFLIGHT_MAX || o->ack_timeout_ms > SENDER_TIMEOUT_MAX_MS ||
        o->backoff_max_ms > SENDER_TIMEOUT_MAX_MS ||
        (o->backoff_max_ms && o->backoff_min_ms > o->backoff_max_ms))
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "sender for %s: inflight %u (at most %u), ack timeout %" PRIu32
                               " ms, backoff %" PRIu32 "..%" PRIu32 " ms (at most %u ms, "
                               "minimum below maximum): out of range",
                               o->url, o->inflight, SENDER_INFLIGHT_MAX, o->ack_timeout_ms,
                               o->backoff_min_ms, o->backoff_max_ms, SENDER_TIMEOUT_MAX_MS);
    const struct agent_sender_security *sec = o->security;
    if (sec && !sec->tls_cert_file != !sec->tls_key_file)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "sender for %s: a TLS client certificate needs its key and a key "
                               "its certificate: set both tls.cert_file and tls.key_file, or "
                               "neither",
                               o->url);
    return 0;
}

static void options_apply(agent_sender *s, const struct agent_sender_options *o)
{
    s->n_slots = o->inflight ? o->inflight : 4;
    s->ack_timeout_ms = o->ack_timeout_ms ? o->ack_timeout_ms : 10000;
    s->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 100;
    s->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 30000;
    if (s->backoff_max_ms < s->backoff_min_ms)
        s->backoff_max_ms = s->backoff_min_ms;
    slic_duration_format_ns((int64_t)s->backoff_max_ms * 1000000, s->backoff_max_text,
                            sizeof s->backoff_max_text);
}

/* Socket, contexts and dialer (with o->security's TLS configuration), not yet dialing. nng's
 * own resend timer is off (this file decides when to resend), but nng still resends on a new
 * connection a request whose connection closed before the answer came. Its reconnect backoff
 * is capped and jittered. */
static int nng_setup(agent_sender *s, const struct agent_sender_options *o, struct slic_errmsg *err)
{
    int rv = nng_req0_open(&s->sock);
    if (rv)
        return slic_errmsg_set(err, SLIC_ENOMEM, "sender: cannot open an nng req socket: %s",
                               nng_strerror(rv));
    s->sock_open = true;
    nng_socket_set_ms(s->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(s->sock, NNG_OPT_RECONNMINT, (nng_duration)s->backoff_min_ms);
    nng_socket_set_ms(s->sock, NNG_OPT_RECONNMAXT, (nng_duration)s->backoff_max_ms);
    if ((rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_PRE, pipe_event, s)) != 0 ||
        (rv = nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, pipe_event, s)) != 0)
        return slic_errmsg_set(err, SLIC_ENOMEM, "sender: nng_pipe_notify: %s", nng_strerror(rv));
    for (unsigned i = 0; i < s->n_slots; i++) {
        struct slot *sl = &s->slots[i];
        sl->s = s;
        if ((rv = nng_aio_alloc(&sl->aio, slot_aio_cb, sl)) != 0 ||
            (rv = nng_ctx_open(&sl->ctx, s->sock)) != 0)
            return slic_errmsg_set(err, SLIC_ENOMEM, "sender: cannot open nng context %u: %s", i,
                                   nng_strerror(rv));
    }
    if ((rv = nng_dialer_create(&s->dialer, s->sock, s->url)) != 0)
        return slic_errmsg_set(err, SLIC_ECONFIG, "sender: cannot dial aggregator at %s: %s",
                               s->url, nng_strerror(rv));
    return agent__sender_sec_init(&s->sec, o->security, s->dialer, s->url, err);
}

static void sender_free(agent_sender *s)
{
    for (unsigned i = 0; s->slots && i < s->n_slots; i++) {
        if (s->slots[i].aio)
            nng_aio_free(s->slots[i].aio);
        slic_free(s->slots[i].batch);
        slic_free(s->slots[i].req);
    }
    pthread_mutex_destroy(&s->mu);
    agent__sender_sec_fini(&s->sec);
    slic_free(s->slots);
    slic_free(s->url);
    slic_free(s);
}

int agent_sender_create(uv_loop_t *loop, const struct agent_sender_options *o,
                        const struct agent_sender_callbacks *cb, agent_sender **out,
                        struct slic_errmsg *err)
{
    int rc = options_check(o, cb, err);
    if (rc)
        return rc;
    agent_sender *s = slic_calloc(1, sizeof *s);
    if (!s)
        return SLIC_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    s->loop = loop;
    s->cb = *cb;
    options_apply(s, o);
    size_t url_len = strlen(o->url) + 1;
    s->url = slic_malloc(url_len);
    s->slots = slic_calloc(s->n_slots, sizeof *s->slots);
    if (!s->url || !s->slots) {
        rc = slic_errmsg_set(err, SLIC_ENOMEM, "sender: out of memory");
        goto fail;
    }
    memcpy(s->url, o->url, url_len);
    if ((rc = nng_setup(s, o, err)) != 0)
        goto fail;
    if ((rc = uv_async_init(loop, &s->async, on_async)) != 0) {
        rc = slic_errmsg_set(err, rc, "sender: uv_async_init: %s", uv_strerror(rc));
        goto fail;
    }
    uv_timer_init(loop, &s->timer);
    s->async.data = s->timer.data = s;
    s->open_handles = 2;
    s->async_live = true;
    s->rng = slic_now_mono_ns() ^ (uint64_t)(uintptr_t)s;
    uv_update_time(loop);
    link_set(s, AGENT_SENDER_CONNECTING);
    s->connect_deadline = uv_now(loop) + s->ack_timeout_ms;
    s->pull_wanted = true;
    s->pull_last = 1;
    int rv = nng_dialer_start(s->dialer, NNG_FLAG_NONBLOCK);
    if (rv) {
        rc = slic_errmsg_set(err, SLIC_ECONFIG, "sender: cannot dial aggregator at %s: %s", s->url,
                             nng_strerror(rv));
        agent_sender_close(s, NULL, NULL); /* the handles are live: free on the loop */
        return rc;
    }
    SLIC_INFO("sender", "sending to %s (%u in flight, ack timeout %" PRIu32 " ms)", s->url,
              s->n_slots, s->ack_timeout_ms);
    uv_async_send(&s->async);
    *out = s;
    return 0;
fail:
    if (s->sock_open)
        nng_close(s->sock);
    sender_free(s);
    return rc;
}

void agent_sender_kick(agent_sender *s)
{
    if (s->closing)
        return;
    s->pull_wanted = true;
    uv_async_send(&s->async);
}

void agent_sender_drain(agent_sender *s, uint32_t timeout_ms, void (*done)(void *arg, int rc),
                        void *arg)
{
    if (s->closing)
        return;
    /* The loop's cached time may be stale if the caller has been busy; the deadline must not
     * come early. */
    uv_update_time(s->loop);
    s->draining = true;
    s->drain_deadline = uv_now(s->loop) + timeout_ms;
    s->drain_done = done;
    s->drain_arg = arg;
    agent_sender_kick(s);
}

void agent_sender_stats(const agent_sender *s, struct agent_sender_stats *out)
{
    *out = s->st;
}

unsigned agent_sender_inflight(const agent_sender *s)
{
    return s->st.inflight;
}

static void on_handle_closed(uv_handle_t *h)
{
    agent_sender *s = h->data;
    if (--s->open_handles > 0)
        return;
    void (*closed)(void *) = s->closed;
    void *arg = s->closed_arg;
    sender_free(s);
    if (closed)
        closed(arg);
}

/* Stops nng (no callback runs after nng_aio_stop returns), frees what the stopped operations
 * left behind, then closes the uv handles; the last close callback frees the sender. */
static void close_finish(agent_sender *s)
{
    pthread_mutex_lock(&s->mu);
    bool done = !s->async_live;
    s->async_live = false;
    pthread_mutex_unlock(&s->mu);
    if (done)
        return;
    for (unsigned i = 0; i < s->n_slots; i++)
        nng_aio_stop(s->slots[i].aio);
    nng_close(s->sock);
    struct slot *sl;
    while ((sl = done_pop(s)) != NULL)
        nng_msg_free(sl->reply);
    for (unsigned i = 0; i < s->n_slots; i++) {
        nng_msg_free(nng_aio_get_msg(s->slots[i].aio));
        nng_aio_set_msg(s->slots[i].aio, NULL);
    }
    if (s->st.inflight)
        SLIC_INFO("sender", "closing: %u batches unanswered by %s stay in the spool",
                  s->st.inflight, s->url);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->async, on_handle_closed);
}

/* nng 1.5.2 can hang for good in nng_close when an answer arrives on the connection while it
 * is being torn down (nng issues #1543 and #1813, fixed in 1.8). So while the link is up,
 * requests already sent are given a short grace to be answered (or to time out) before the
 * socket closes; their answers are dropped unreported, the batches stay in the spool. */
static void close_quiesce(agent_sender *s)
{
    struct slot *sl;
    while ((sl = done_pop(s)) != NULL) {
        sl->busy = false;
        nng_msg_free(sl->reply);
        sl->reply = NULL;
    }
    bool busy = false;
    for (unsigned i = 0; i < s->n_slots; i++)
        busy = busy || s->slots[i].busy;
    if (!busy || s->st.link != AGENT_SENDER_UP)
        close_finish(s);
}

void agent_sender_close(agent_sender *s, void (*closed)(void *arg), void *arg)
{
    assert(!s->closing && "agent_sender_close called twice");
    s->closing = true;
    s->closed = closed;
    s->closed_arg = arg;
    s->draining = false;
    uint32_t grace =
        s->ack_timeout_ms < SENDER_CLOSE_GRACE_MS ? s->ack_timeout_ms : SENDER_CLOSE_GRACE_MS;
    uv_timer_start(&s->timer, on_timer, grace, 0);
    close_quiesce(s);
}
