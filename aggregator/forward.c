/* The forwarder thread (see forward.h). It blocks, one request at a time, on a single nng aio:
 * send, then receive, each with a timeout. Only one operation is ever pending, never a send
 * beside a receive (cancelling that pair crashes nng 1.5.2), and destroy cancels it, joins the
 * thread and only then closes the socket, so closing never meets a pending receive (which can
 * hang some nng versions). Operations start under the mutex that destroy takes to cancel, so
 * none can start after the cancel and wait out its timeout. nng 1.5.2 can also hang in
 * nng_close when an answer arrives while the connection is torn down (nng issues #1543, #1813),
 * so a request already sent is given a short grace to be answered before it is cancelled; a
 * request still waiting for a connection (the upstream unreachable) is cancelled at once. */
#include "forward.h"

#include "alloc.h"
#include "backoff.h"
#include "codec_batch.h"
#include "log.h"
#include "ratelimit.h"
#include "timeutil.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define COMPONENT "forward"
#define LOG_PERIOD_MS 60000
#define CLOSE_GRACE_MS 1000

struct agg_forward {
    agg_store *st;
    struct agg_forward_options o;
    char *url;
    char id[SLIC_NAME_MAX + 1];
    nng_socket sock;
    nng_aio *aio;
    pthread_t thread;
    agg_ratelimit *logs;
    uint64_t rng;
    /* Shared with destroy and the stats readers. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    bool receiving; /* a request is on the wire and its answer awaited */
    struct agg_forward_stats stats;
    bool ever_answered; /* first answer logs "reachable" even without a failure before */
    bool down_logged;
};

/* What one attempt came to. */
enum outcome { OUT_DELIVERED, OUT_DUPLICATE, OUT_REJECTED, OUT_SIGNATURE, OUT_RETRY, OUT_DOWN };

/* ---- one exchange ---------------------------------------------------------------------------- */

/* Starts op on the aio unless stopping, and waits for it. NNG_ECANCELED once stopping. */
static int aio_run(agg_forward *f, bool send, nng_msg *msg)
{
    pthread_mutex_lock(&f->mu);
    if (f->stopping) {
        pthread_mutex_unlock(&f->mu);
        nng_msg_free(msg);
        return NNG_ECANCELED;
    }
    nng_aio_set_timeout(f->aio, (nng_duration)f->o.ack_timeout_ms);
    if (send) {
        nng_aio_set_msg(f->aio, msg);
        nng_send_aio(f->sock, f->aio);
    } else {
        nng_recv_aio(f->sock, f->aio);
    }
    f->receiving = !send;
    pthread_mutex_unlock(&f->mu);
    nng_aio_wait(f->aio);
    pthread_mutex_lock(&f->mu);
    f->receiving = false;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    int rv = nng_aio_result(f->aio);
    if (send && rv != 0)
        nng_msg_free(nng_aio_get_msg(f->aio)); /* a failed send hands its message back */
    return rv;
}

/* Sends req and reads the ack; *why gets the reason of a REJECTED or RETRY, or the transport
 * error. */
static enum outcome exchange(agg_forward *f, const uint8_t *req, size_t len, char *why,
                             size_t why_len)
{
    nng_msg *m = NULL;
    int rv = nng_msg_alloc(&m, 0);
    if (rv == 0 && (rv = nng_msg_append(m, req, len)) != 0)
        nng_msg_free(m);
    if (rv == 0 && (rv = aio_run(f, true, m)) == 0)
        rv = aio_run(f, false, NULL);
    if (rv != 0) {
        snprintf(why, why_len, "%s", nng_strerror(rv));
        return OUT_DOWN;
    }
    nng_msg *r = nng_aio_get_msg(f->aio);
    struct slic_ack ack;
    struct codec_error ce;
    rv = codec_response_unpack(nng_msg_body(r), nng_msg_len(r), &ack, NULL, &ce);
    nng_msg_free(r);
    if (rv != 0) {
        snprintf(why, why_len, "unreadable answer: %s", ce.msg);
        return OUT_RETRY;
    }
    snprintf(why, why_len, "%s", ack.reason);
    enum outcome out = ack.status == SLIC_ACK_ACCEPTED         ? OUT_DELIVERED
                       : ack.status == SLIC_ACK_DUPLICATE      ? OUT_DUPLICATE
                       : ack.status != SLIC_ACK_REJECTED       ? OUT_RETRY
                       : ack.cause == SLIC_ACK_CAUSE_SIGNATURE ? OUT_SIGNATURE
                                                               : OUT_REJECTED;
    slic_ack_fini(&ack);
    return out;
}

/* The Request for a queued Batch: signed when we have a key. */
static int request_pack(const agg_forward *f, const struct agg_forward_item *it, uint8_t **req,
                        size_t *len)
{
    uint8_t mac[SLIC_HMAC_LEN];
    if (f->o.sign && slic_hmac_sha256(f->o.key, sizeof f->o.key, it->batch, it->len, mac) != 0)
        return SLIC_ENOMEM;
    return codec_request_pack(it->batch, it->len, f->o.sign ? mac : NULL,
                              f->o.sign ? sizeof mac : 0, NULL, req, len);
}

/* ---- logging and state ----------------------------------------------------------------------- */

static bool log_allowed(agg_forward *f, const char *key, uint64_t *suppressed)
{
    return agg_ratelimit_allow(f->logs, key, slic_now_unix_ms(), suppressed);
}

/* Reachability changes are logged once per transition. */
static void reachability(agg_forward *f, bool answered, const char *why)
{
    pthread_mutex_lock(&f->mu);
    bool was = f->stats.reachable, first = !f->ever_answered && !f->down_logged;
    f->stats.reachable = answered;
    f->ever_answered |= answered;
    bool log_up = answered && (!was || first), log_down = !answered && (was || first);
    f->down_logged |= log_down;
    pthread_mutex_unlock(&f->mu);
    if (log_up)
        SLIC_INFO(COMPONENT, "upstream %s is reachable: forwarding as %s", f->url, f->id);
    else if (log_down)
        SLIC_WARN(COMPONENT,
                  "upstream %s is unreachable (%s): batches stay queued and are retried; check "
                  "upstream.url and that the upstream aggregator runs",
                  f->url, why);
}

static void count(agg_forward *f, uint64_t *field)
{
    pthread_mutex_lock(&f->mu);
    (*field)++;
    pthread_mutex_unlock(&f->mu);
}

/* ms from now on the condition variable's clock (CLOCK_REALTIME). */
static struct timespec deadline_after(uint32_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)ms * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    return ts;
}

/* Sleeps ms unless destroy wakes us. False once stopping. */
static bool pause_ms(agg_forward *f, uint32_t ms)
{
    struct timespec ts = deadline_after(ms);
    pthread_mutex_lock(&f->mu);
    if (!f->stopping)
        pthread_cond_timedwait(&f->cv, &f->mu, &ts);
    bool go_on = !f->stopping;
    pthread_mutex_unlock(&f->mu);
    return go_on;
}

/* ---- the loop -------------------------------------------------------------------------------- */

static void set_aside(agg_forward *f, uint64_t seq, const char *why)
{
    struct slic_errmsg err = {{0}};
    char reason[SLIC_ACK_REASON_MAX + 64];
    snprintf(reason, sizeof reason, "refused by upstream %s: %s", f->url, why);
    int rc = agg_store_forward_remove(f->st, seq, reason, &err);
    uint64_t held = 0;
    if (rc == 0)
        count(f, &f->stats.set_aside);
    if (log_allowed(f, "aside", &held))
        SLIC_ERROR(COMPONENT,
                   "forward batch seq %" PRIu64 " %s: %s (%" PRIu64 " more such lines held "
                   "back); it is kept in the data dir's fwd_aside database and the queue moves on",
                   seq, rc ? "could not be set aside" : "set aside", rc ? err.text : reason, held);
}

static void delivered(agg_forward *f, uint64_t seq, bool duplicate)
{
    struct slic_errmsg err = {{0}};
    uint64_t held = 0;
    if (agg_store_forward_remove(f->st, seq, NULL, &err) != 0 && log_allowed(f, "remove", &held))
        SLIC_ERROR(COMPONENT,
                   "forward batch seq %" PRIu64 " was delivered but stays queued: %s; "
                   "it will be resent and answered as a duplicate",
                   seq, err.text);
    pthread_mutex_lock(&f->mu);
    f->stats.forwarded++;
    f->stats.duplicates += duplicate;
    pthread_mutex_unlock(&f->mu);
}

/* One attempt at the oldest queued Batch. Returns true when the next should follow at once. */
static bool attempt(agg_forward *f, const struct agg_forward_item *it)
{
    uint8_t *req = NULL;
    size_t len = 0;
    char why[SLIC_ACK_REASON_MAX];
    uint64_t held = 0;
    if (request_pack(f, it, &req, &len) != 0)
        return false;
    enum outcome out = exchange(f, req, len, why, sizeof why);
    slic_free(req);
    pthread_mutex_lock(&f->mu);
    bool stopping = f->stopping;
    pthread_mutex_unlock(&f->mu);
    if (stopping)
        return false; /* cancelled by destroy: says nothing about the upstream */
    reachability(f, out != OUT_DOWN, why);
    switch (out) {
    case OUT_DELIVERED:
    case OUT_DUPLICATE:
        delivered(f, it->seq, out == OUT_DUPLICATE);
        return true;
    case OUT_REJECTED:
        set_aside(f, it->seq, why);
        return true;
    case OUT_SIGNATURE:
        count(f, &f->stats.signature_refusals);
        if (log_allowed(f, "signature", &held))
            SLIC_ERROR(COMPONENT,
                       "upstream %s refuses our signature (%s): run `slic-aggregator --agent-key "
                       "%s` on the upstream host and put its output in upstream.auth.key_file "
                       "(mode 600); the batch stays queued",
                       f->url, why, f->id);
        break;
    case OUT_RETRY:
        if (log_allowed(f, "retry", &held))
            SLIC_WARN(COMPONENT,
                      "upstream %s asks to retry forward batch seq %" PRIu64 ": %s (%" PRIu64
                      " more such lines held back)",
                      f->url, it->seq, why, held);
        break;
    case OUT_DOWN:
        break;
    }
    count(f, &f->stats.retries);
    return false;
}

static void *forward_main(void *arg)
{
    agg_forward *f = arg;
    unsigned failures = 0;
    for (;;) {
        struct agg_forward_item it = {0};
        struct slic_errmsg err = {{0}};
        uint64_t held = 0;
        int rc = agg_store_forward_peek(f->st, &it, &err);
        bool next_now = false;
        if (rc == SLIC_ESTORE && it.seq > 0) {
            set_aside(f, it.seq, err.text);
            next_now = true;
        } else if (rc == 0) {
            next_now = attempt(f, &it);
            slic_free(it.batch);
        } else if (rc != SLIC_ENOTFOUND && log_allowed(f, "peek", &held)) {
            SLIC_ERROR(COMPONENT, "cannot read the forward queue: %s", err.text);
        }
        failures = next_now || rc == SLIC_ENOTFOUND ? 0 : failures + 1;
        uint32_t wait = f->o.idle_poll_ms; /* the queue is empty */
        if (next_now)
            wait = 0;
        else if (failures)
            wait = (uint32_t)slic_backoff_ms(&f->rng, f->o.backoff_min_ms, f->o.backoff_max_ms,
                                             failures);
        if (!pause_ms(f, wait))
            break;
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

static int socket_open(agg_forward *f, struct slic_errmsg *err)
{
    int rv = nng_req0_open(&f->sock);
    if (rv)
        return slic_errmsg_set(err, SLIC_ENOMEM, "upstream: cannot open a socket: %s",
                               nng_strerror(rv));
    nng_socket_set_ms(f->sock, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(f->sock, NNG_OPT_RECONNMAXT, (nng_duration)f->o.backoff_max_ms);
    nng_socket_set_ms(f->sock, NNG_OPT_REQ_RESENDTIME, 0); /* we resend ourselves */
    nng_socket_set_size(f->sock, NNG_OPT_RECVMAXSZ, CODEC_MAX_MESSAGE_BYTES);
    if ((rv = nng_aio_alloc(&f->aio, NULL, NULL)) != 0) {
        nng_close(f->sock);
        return slic_errmsg_set(err, SLIC_ENOMEM, "upstream: %s", nng_strerror(rv));
    }
    if ((rv = nng_dial(f->sock, f->url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
        nng_aio_free(f->aio);
        nng_close(f->sock);
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "upstream.url %s: %s: expected tcp://HOST:PORT or ipc://PATH",
                               f->url, nng_strerror(rv));
    }
    return 0;
}

static void options_resolve(struct agg_forward_options *o)
{
    o->ack_timeout_ms = o->ack_timeout_ms ? o->ack_timeout_ms : 5000;
    o->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 100;
    o->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 30000;
    if (o->backoff_max_ms < o->backoff_min_ms)
        o->backoff_max_ms = o->backoff_min_ms;
    o->idle_poll_ms = o->idle_poll_ms ? o->idle_poll_ms : 200;
}

static void forward_free(agg_forward *f)
{
    slic_wipe(f->o.key, sizeof f->o.key);
    agg_ratelimit_destroy(f->logs);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    slic_free(f->url);
    slic_free(f);
}

int agg_forward_create(agg_store *st, const struct agg_forward_options *o, agg_forward **out,
                       struct slic_errmsg *err)
{
    agg_forward *f = slic_calloc(1, sizeof *f);
    size_t n = strlen(o->url) + 1;
    char *url = slic_malloc(n);
    if (!f || !url || agg_ratelimit_create(16, LOG_PERIOD_MS, &f->logs)) {
        slic_free(url);
        if (f)
            slic_free(f);
        return slic_errmsg_set(err, SLIC_ENOMEM, "out of memory starting the forwarder");
    }
    f->st = st;
    f->o = *o;
    options_resolve(&f->o);
    f->url = memcpy(url, o->url, n);
    f->o.url = f->url;
    f->o.id = f->id;
    snprintf(f->id, sizeof f->id, "%s", o->id);
    f->rng = slic_now_mono_ns();
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    int rc = socket_open(f, err);
    if (rc) {
        forward_free(f);
        return rc;
    }
    if ((rc = pthread_create(&f->thread, NULL, forward_main, f)) != 0) {
        nng_aio_free(f->aio);
        nng_close(f->sock);
        forward_free(f);
        return slic_errmsg_set(err, -rc, "cannot start the forwarder thread: %s", strerror(rc));
    }
    SLIC_INFO(COMPONENT, "forwarding to upstream %s as %s%s", f->url, f->id,
              f->o.sign ? ", batches signed" : ", batches unsigned");
    *out = f;
    return 0;
}

void agg_forward_destroy(agg_forward *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->cv);
    if (f->receiving) {
        /* Let a request on the wire be answered (or time out) rather than close under it. */
        struct timespec ts = deadline_after(CLOSE_GRACE_MS);
        while (f->receiving && pthread_cond_timedwait(&f->cv, &f->mu, &ts) == 0)
            ;
    }
    nng_aio_cancel(f->aio);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    /* Nothing is pending on the aio now: stopping it and closing the socket cannot hang. */
    nng_aio_stop(f->aio);
    nng_aio_free(f->aio);
    nng_close(f->sock);
    forward_free(f);
}

void agg_forward_stats_get(agg_forward *f, struct agg_forward_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->stats;
    pthread_mutex_unlock(&f->mu);
}

agg_store *agg__forward_store(const agg_forward *f)
{
    return f->st;
}
