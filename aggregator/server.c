/* The nng rep server (see server.h). Each context is a small state machine driven by its aio
 * callback: RECV (waiting for a request) -> either WRITE (batch queued at the writer; the
 * writer's done callback sends the ack) or SEND (reply being sent) -> RECV again. A context
 * handles one request at a time, so its state needs no lock; the writer touches a context only
 * between submit and done, when nng is not touching it. */
#include "server.h"

#include "alloc.h"
#include "codec_batch.h"
#include "log.h"
#include "query.h"
#include "ratelimit.h"
#include "timeutil.h"
#include "validate.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum ctx_state { CTX_RECV, CTX_WRITE, CTX_SEND };

struct server_ctx {
    agg_server *srv;
    nng_aio *aio;
    nng_ctx ctx;
    enum ctx_state state;
    struct slic_batch batch;
    struct agg_write_item item;
    /* Set when the batch failed validation: it goes to the writer without its series only to
     * consume its seq (or the agent's seqs could never become contiguous again), and is then
     * answered REJECTED with this reason. */
    char reject_reason[SLIC_ACK_REASON_MAX];
};

struct agg_server {
    struct agg_server_options opts;
    agg_store *store;
    agg_writer *writer;
    struct agg_stats *stats;
    agg_ratelimit *reject_log;
    nng_socket sock;
    bool sock_open;
    struct server_ctx *ctxs;
    unsigned n_ctxs;
    atomic_bool draining;
    atomic_uint busy;
    /* Reloadable limits (SIGHUP), read by every context. */
    _Atomic int64_t max_future_seconds;
    _Atomic int64_t max_age_seconds;
    atomic_uint max_label_sets_per_sli;
};

void agg_server_options_default(struct agg_server_options *o)
{
    o->listen = "tcp://127.0.0.1:7710";
    o->recv_max_bytes = CODEC_MAX_MESSAGE_BYTES;
    o->contexts = 128;
    o->max_future_seconds = 600;
    o->max_age_seconds = 400 * 86400;
    o->max_label_sets_per_sli = 1000;
    o->slo = NULL;
}

/* ---- sending ------------------------------------------------------------------------------ */

static void ctx_recv(struct server_ctx *c)
{
    c->state = CTX_RECV;
    nng_ctx_recv(c->ctx, c->aio);
}

/* Sends bytes as the reply, or, if even that cannot be built, goes back to receiving: the
 * client times out and retries, which is always safe. */
static void ctx_send(struct server_ctx *c, uint8_t *buf, size_t len)
{
    nng_msg *msg = NULL;
    if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, buf, len) != 0) {
        nng_msg_free(msg);
        slic_free(buf);
        SLIC_ERROR("server", "out of memory building a %zu-byte reply; the client will retry",
                   len);
        atomic_fetch_sub(&c->srv->busy, 1);
        ctx_recv(c);
        return;
    }
    slic_free(buf);
    c->state = CTX_SEND;
    nng_aio_set_msg(c->aio, msg);
    nng_ctx_send(c->ctx, c->aio);
}

static void send_ack(struct server_ctx *c, uint64_t epoch, uint64_t seq,
                     enum slic_ack_status status, const char *reason)
{
    struct slic_ack ack = {.status = status, .epoch = epoch, .seq = seq};
    snprintf(ack.reason, sizeof ack.reason, "%s", reason ? reason : "");
    /* Every ack carries the full list, so an agent learns of a reload with its next batch. The
     * list is only read while packing, under a reference that keeps it alive through a reload. */
    const struct slic_sli_thresholds *wanted;
    agg_slo_wanted *ref = agg_slo_engine_wanted(c->srv->opts.slo, &wanted, &ack.n_wanted);
    ack.wanted = (struct slic_sli_thresholds *)wanted;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (codec_response_pack(&ack, NULL, &buf, &len) != 0) {
        buf = NULL;
        len = 0;
    }
    agg_slo_wanted_release(ref);
    ctx_send(c, buf, len);
}

/* ---- batches ------------------------------------------------------------------------------- */

static void log_reject(agg_server *s, const char *agent, const char *site, const char *node,
                       uint64_t epoch, uint64_t seq, const char *reason)
{
    char key[256];
    snprintf(key, sizeof key, "%s|%.120s", agent ? agent : "?", reason);
    uint64_t held = 0;
    if (!agg_ratelimit_allow(s->reject_log, key, slic_now_unix_ms(), &held))
        return;
    SLIC_WARN("server",
              "rejected batch from agent %s (site %s, node %s) epoch %" PRIu64 " seq %" PRIu64
              ": %s [%" PRIu64 " more like it held back since last logged; logged at most once "
              "a minute per agent and reason]",
              agent ? agent : "?", site ? site : "?", node ? node : "?", epoch, seq, reason,
              held);
}

static void reject(struct server_ctx *c, const struct slic_batch *b, const char *reason)
{
    atomic_fetch_add(&c->srv->stats->batches_rejected, 1);
    log_reject(c->srv, b->agent_id, b->site, b->node, b->epoch, b->seq, reason);
    send_ack(c, b->epoch, b->seq, SLIC_ACK_REJECTED, reason);
}

/* Runs on the writer thread once the batch's group is committed (or not). */
static void write_done(struct agg_write_item *item)
{
    struct server_ctx *c = (struct server_ctx *)((char *)item - offsetof(struct server_ctx, item));
    struct agg_stats *st = c->srv->stats;
    const struct slic_batch *b = &c->batch;
    switch (item->result) {
    case AGG_INGEST_ACCEPTED:
    case AGG_INGEST_DUPLICATE:
        if (c->reject_reason[0]) {
            reject(c, b, c->reject_reason);
        } else {
            bool dup = item->result == AGG_INGEST_DUPLICATE;
            atomic_fetch_add(dup ? &st->batches_duplicate : &st->batches_accepted, 1);
            if (!dup)
                atomic_fetch_add(&st->series_accepted, b->n_series);
            send_ack(c, b->epoch, b->seq, dup ? SLIC_ACK_DUPLICATE : SLIC_ACK_ACCEPTED, NULL);
        }
        break;
    case AGG_INGEST_STALE_EPOCH:
        reject(c, b, "epoch is older than this agent's newest: a batch from before a restart "
                     "that lost its spool");
        break;
    case AGG_INGEST_REJECTED:
        reject(c, b, item->reason && item->reason[0] ? item->reason : "the store refused it");
        break;
    case AGG_INGEST_RETRY:
    default:
        atomic_fetch_add(&st->batches_retry, 1);
        send_ack(c, b->epoch, b->seq, SLIC_ACK_RETRY,
                 item->reason && item->reason[0] ? item->reason
                                                 : "the aggregator could not commit it now");
        break;
    }
    slic_batch_fini(&c->batch);
}

/* Drops the series of a batch that failed validation, keeping its identity and seq. */
static void batch_strip_series(struct slic_batch *b)
{
    for (size_t i = 0; i < b->n_series; i++)
        slic_series_fini(&b->series[i]);
    b->n_series = 0;
}

static void handle_batch(struct server_ctx *c, const struct codec_request *req)
{
    agg_server *s = c->srv;
    struct codec_error cerr = {0};
    c->reject_reason[0] = '\0';
    int rc = codec_batch_unpack(req->batch, req->batch_len, &c->batch, &cerr);
    if (rc) {
        char why[CODEC_ERROR_FIELD_LEN + CODEC_ERROR_MSG_LEN + 8];
        codec_error_format(&cerr, why, sizeof why);
        atomic_fetch_add(rc == SLIC_ENOMEM ? &s->stats->batches_retry
                                           : &s->stats->batches_rejected,
                         1);
        log_reject(s, NULL, NULL, NULL, 0, 0, rc == SLIC_ENOMEM ? "out of memory" : why);
        send_ack(c, 0, 0, rc == SLIC_ENOMEM ? SLIC_ACK_RETRY : SLIC_ACK_REJECTED,
                 rc == SLIC_ENOMEM ? "aggregator out of memory" : why);
        return;
    }
    if (atomic_load(&s->draining)) {
        atomic_fetch_add(&s->stats->batches_retry, 1);
        send_ack(c, c->batch.epoch, c->batch.seq, SLIC_ACK_RETRY, "aggregator shutting down");
        slic_batch_fini(&c->batch);
        return;
    }
    struct agg_batch_limits lim = {atomic_load(&s->max_future_seconds),
                                   atomic_load(&s->max_age_seconds),
                                   atomic_load(&s->max_label_sets_per_sli)};
    struct slic_errmsg err = {{0}};
    if (agg_batch_check(&c->batch, slic_now_unix_ms() / 1000, &lim, &err) != 0) {
        snprintf(c->reject_reason, sizeof c->reject_reason, "%.*s",
                 (int)sizeof c->reject_reason - 1, err.text);
        batch_strip_series(&c->batch);
    }
    c->state = CTX_WRITE;
    c->item = (struct agg_write_item){.batch = &c->batch, .done = write_done};
    agg_writer_submit(s->writer, &c->item);
}

/* ---- queries ------------------------------------------------------------------------------- */

static void handle_query(struct server_ctx *c, const Slic__Query *q)
{
    agg_server *s = c->srv;
    atomic_fetch_add(&s->stats->queries, 1);
    Slic__Reply *reply = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (agg_query_answer(s->store, q, slic_now_unix_ms() / 1000, &reply) != 0 ||
        codec_response_pack(NULL, reply, &buf, &len) != 0) {
        atomic_fetch_add(&s->stats->queries_failed, 1);
        SLIC_ERROR("server", "out of memory answering a query");
        buf = NULL;
        len = 0;
    }
    agg_query_reply_free(reply);
    ctx_send(c, buf, len);
}

/* ---- the context state machine ------------------------------------------------------------ */

static void handle_request(struct server_ctx *c, nng_msg *msg)
{
    struct codec_request req;
    struct codec_error cerr = {0};
    atomic_fetch_add(&c->srv->stats->requests, 1);
    atomic_fetch_add(&c->srv->busy, 1);
    int rc = codec_request_unpack(nng_msg_body(msg), nng_msg_len(msg), &req, &cerr);
    nng_msg_free(msg);
    if (rc) {
        char why[CODEC_ERROR_FIELD_LEN + CODEC_ERROR_MSG_LEN + 8];
        codec_error_format(&cerr, why, sizeof why);
        atomic_fetch_add(&c->srv->stats->decode_errors, 1);
        log_reject(c->srv, NULL, NULL, NULL, 0, 0, why);
        send_ack(c, 0, 0, SLIC_ACK_REJECTED, why);
        return;
    }
    if (req.batch)
        handle_batch(c, &req);
    else
        handle_query(c, req.query);
    codec_request_fini(&req);
}

static void ctx_callback(void *arg)
{
    struct server_ctx *c = arg;
    int rv = nng_aio_result(c->aio);
    switch (c->state) {
    case CTX_RECV:
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            return; /* shutting down */
        if (rv != 0) {
            ctx_recv(c);
            return;
        }
        handle_request(c, nng_aio_get_msg(c->aio));
        return;
    case CTX_SEND:
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(c->aio)); /* the peer went away; it will retry */
            nng_aio_set_msg(c->aio, NULL);
        }
        atomic_fetch_sub(&c->srv->busy, 1);
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
            return;
        ctx_recv(c);
        return;
    case CTX_WRITE:
        /* No aio is outstanding while the writer holds the context. */
        return;
    }
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static int ctxs_start(agg_server *s)
{
    s->ctxs = slic_calloc(s->opts.contexts, sizeof *s->ctxs);
    if (!s->ctxs)
        return SLIC_ENOMEM;
    for (unsigned i = 0; i < s->opts.contexts; i++) {
        struct server_ctx *c = &s->ctxs[i];
        c->srv = s;
        if (nng_aio_alloc(&c->aio, ctx_callback, c) != 0)
            return SLIC_ENOMEM;
        if (nng_ctx_open(&c->ctx, s->sock) != 0) {
            nng_aio_free(c->aio);
            c->aio = NULL;
            return SLIC_ENOMEM;
        }
        s->n_ctxs = i + 1;
    }
    for (unsigned i = 0; i < s->n_ctxs; i++)
        ctx_recv(&s->ctxs[i]);
    return 0;
}

int agg_server_create(const struct agg_server_options *opts, agg_store *store, agg_writer *writer,
                      struct agg_stats *stats, agg_server **out, struct slic_errmsg *err)
{
    agg_server *s = slic_calloc(1, sizeof *s);
    if (!s)
        return SLIC_ENOMEM;
    s->opts = *opts;
    if (s->opts.contexts == 0)
        s->opts.contexts = 1;
    s->store = store;
    s->writer = writer;
    s->stats = stats;
    agg_server_set_limits(s, opts);
    int rc = agg_ratelimit_create(1024, 60000, &s->reject_log);
    if (rc)
        goto fail;
    int rv = nng_rep0_open(&s->sock);
    if (rv != 0) {
        rc = slic_errmsg_set(err, SLIC_ENOMEM, "cannot open an nng rep socket: %s",
                             nng_strerror(rv));
        goto fail;
    }
    s->sock_open = true;
    nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, s->opts.recv_max_bytes);
    if ((rc = ctxs_start(s)) != 0)
        goto fail;
    if ((rv = nng_listen(s->sock, s->opts.listen, NULL, 0)) != 0) {
        rc = slic_errmsg_set(err, SLIC_ECONFIG, "cannot listen on %s: %s", s->opts.listen,
                             nng_strerror(rv));
        goto fail;
    }
    SLIC_INFO("server", "listening on %s (%u contexts, requests up to %zu bytes)",
              s->opts.listen, s->n_ctxs, s->opts.recv_max_bytes);
    *out = s;
    return 0;
fail:
    agg_server_destroy(s);
    return rc;
}

void agg_server_set_limits(agg_server *s, const struct agg_server_options *opts)
{
    atomic_store(&s->max_future_seconds, opts->max_future_seconds);
    atomic_store(&s->max_age_seconds, opts->max_age_seconds);
    atomic_store(&s->max_label_sets_per_sli, opts->max_label_sets_per_sli);
}

void agg_server_drain(agg_server *s)
{
    atomic_store(&s->draining, true);
}

unsigned agg_server_busy(agg_server *s)
{
    return atomic_load(&s->busy);
}

void agg_server_destroy(agg_server *s)
{
    if (!s)
        return;
    /* Stop I/O before freeing: nng_aio_stop waits for a running callback to return. */
    for (unsigned i = 0; i < s->n_ctxs; i++) {
        nng_aio_stop(s->ctxs[i].aio);
        /* A reply stopped before nng took it is still ours (nng neither sent it nor called
         * back), so it would leak. */
        if (s->ctxs[i].state == CTX_SEND) {
            nng_msg *m = nng_aio_get_msg(s->ctxs[i].aio);
            nng_aio_set_msg(s->ctxs[i].aio, NULL);
            if (m)
                nng_msg_free(m);
        }
    }
    for (unsigned i = 0; i < s->n_ctxs; i++) {
        nng_ctx_close(s->ctxs[i].ctx);
        nng_aio_free(s->ctxs[i].aio);
        if (s->ctxs[i].state == CTX_WRITE)
            slic_batch_fini(&s->ctxs[i].batch);
    }
    if (s->sock_open)
        nng_close(s->sock);
    slic_free(s->ctxs);
    agg_ratelimit_destroy(s->reject_log);
    slic_free(s);
}
