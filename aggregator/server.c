/* The nng rep server (see server.h). Each context is a small state machine driven by its aio
 * callback: RECV (waiting for a request) -> either WRITE (batch queued at the writer; the
 * writer's done callback sends the ack) or SEND (reply being sent) -> RECV again. A context
 * handles one request at a time, so its state needs no lock; the writer touches a context only
 * between submit and done, when nng is not touching it. */
#include "server.h"

#include "alloc.h"
#include "codec_batch.h"
#include "hmac.h"
#include "log.h"
#include "query.h"
#include "ratelimit.h"
#include "timeutil.h"
#include "validate.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Largest certificate, key or CA file read for TLS. */
#define TLS_FILE_MAX (1u << 20)

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
    /* The connection the request came on (for logs), and the agent_id its signature was
     * checked for, which the decoded batch must carry. */
    nng_pipe pipe;
    char signed_by[SLIC_NAME_MAX + 1];
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
    o->auth = NULL;
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
        SLIC_ERROR("server", "out of memory building a %zu-byte reply; the client will retry", len);
        atomic_fetch_sub(&c->srv->busy, 1);
        ctx_recv(c);
        return;
    }
    slic_free(buf);
    c->state = CTX_SEND;
    nng_aio_set_msg(c->aio, msg);
    nng_ctx_send(c->ctx, c->aio);
}

static void send_ack_cause(struct server_ctx *c, uint64_t epoch, uint64_t seq,
                           enum slic_ack_status status, enum slic_ack_cause cause,
                           const char *reason)
{
    struct slic_ack ack = {.status = status, .cause = cause, .epoch = epoch, .seq = seq};
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

/* Every rejection but a signature's is of the batch itself (CAUSE_INVALID). */
static void send_ack(struct server_ctx *c, uint64_t epoch, uint64_t seq,
                     enum slic_ack_status status, const char *reason)
{
    send_ack_cause(
        c, epoch, seq, status,
        status == SLIC_ACK_REJECTED ? SLIC_ACK_CAUSE_INVALID : SLIC_ACK_CAUSE_UNSPECIFIED, reason);
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
              agent ? agent : "?", site ? site : "?", node ? node : "?", epoch, seq, reason, held);
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
        reject(c, b,
               "epoch is older than this agent's newest: a batch from before a restart "
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

/* "IP:port" of the peer on pipe p, or a word saying why there is none. */
static void peer_format(nng_pipe p, char *buf, size_t len)
{
    nng_sockaddr sa;
    char ip[INET6_ADDRSTRLEN];
    snprintf(buf, len, "an unknown peer");
    if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
        return;
    if (sa.s_family == NNG_AF_INET && inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof ip))
        snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(sa.s_in.sa_port));
    else if (sa.s_family == NNG_AF_INET6 && inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof ip))
        snprintf(buf, len, "[%s]:%u", ip, (unsigned)ntohs(sa.s_in6.sa_port));
    else if (sa.s_family == NNG_AF_IPC)
        snprintf(buf, len, "a local (ipc) peer");
}

/* Once a minute per claimed agent_id and verdict: a misconfigured agent resends without end. */
static void log_unauthenticated(struct server_ctx *c, const char *claimed, enum agg_auth_verdict v,
                                const char *why)
{
    char key[SLIC_NAME_MAX + 16], peer[INET6_ADDRSTRLEN + 16];
    snprintf(key, sizeof key, "auth|%d|%s", (int)v, claimed);
    uint64_t held = 0;
    if (!agg_ratelimit_allow(c->srv->reject_log, key, slic_now_unix_ms(), &held))
        return;
    peer_format(c->pipe, peer, sizeof peer);
    SLIC_WARN("server",
              "refused a batch claiming to be from agent %s, sent by %s: %s. Nothing of it was "
              "stored and no seq consumed. If it is a real agent, its auth.key_file must hold "
              "what `slic-aggregator --agent-key %s` prints. [%" PRIu64 " more like it held "
              "back since last logged; logged at most once a minute per agent]",
              claimed, peer, why, claimed, held);
}

/* Checks the signature before anything in the batch is decoded. A batch that fails is answered
 * at once, REJECTED: it never reaches the writer, so it consumes no seq and changes nothing of
 * the agent it claims to be. Returns true when the batch may go on. */
static bool batch_authenticated(struct server_ctx *c, const struct codec_request *req)
{
    agg_server *s = c->srv;
    struct slic_errmsg why = {{0}};
    enum agg_auth_verdict v = agg_auth_check(s->opts.auth, req->batch, req->batch_len, req->hmac,
                                             req->hmac_len, c->signed_by, &why);
    if (v == AGG_AUTH_OK || v == AGG_AUTH_UNCHECKED) {
        if (v == AGG_AUTH_UNCHECKED)
            c->signed_by[0] = '\0';
        return true;
    }
    atomic_fetch_add(&s->stats->batches_rejected, 1);
    if (v == AGG_AUTH_MALFORMED) {
        log_reject(s, NULL, NULL, NULL, 0, 0, why.text);
        send_ack(c, 0, 0, SLIC_ACK_REJECTED, why.text);
    } else {
        atomic_fetch_add(
            v == AGG_AUTH_UNSIGNED ? &s->stats->batches_unsigned : &s->stats->batches_forged, 1);
        log_unauthenticated(c, c->signed_by, v, why.text);
        send_ack_cause(c, 0, 0, SLIC_ACK_REJECTED, SLIC_ACK_CAUSE_SIGNATURE, why.text);
    }
    return false;
}

static void handle_batch(struct server_ctx *c, const struct codec_request *req)
{
    agg_server *s = c->srv;
    struct codec_error cerr = {0};
    c->reject_reason[0] = '\0';
    if (!batch_authenticated(c, req))
        return;
    int rc = codec_batch_unpack(req->batch, req->batch_len, &c->batch, &cerr);
    /* codec_batch_agent_id and the decoder never disagree (tests/unit/test_codec_batch.c), so
     * this only guards that promise: a batch signed for one agent never counts for another. */
    if (rc == 0 && c->signed_by[0] && strcmp(c->signed_by, c->batch.agent_id) != 0) {
        slic_batch_fini(&c->batch);
        rc = cerr.code = SLIC_EINCONSISTENT;
        snprintf(cerr.field, sizeof cerr.field, "agent_id");
        snprintf(cerr.msg, sizeof cerr.msg, "not the one its signature was checked for");
    }
    if (rc) {
        char why[CODEC_ERROR_FIELD_LEN + CODEC_ERROR_MSG_LEN + 8];
        codec_error_format(&cerr, why, sizeof why);
        atomic_fetch_add(rc == SLIC_ENOMEM ? &s->stats->batches_retry : &s->stats->batches_rejected,
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
    if (agg_query_answer_all(s->store, s->opts.slo, q, slic_now_unix_ms() / 1000, &reply) != 0 ||
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
    c->pipe = nng_msg_get_pipe(msg);
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

/* Certificate, key and client CA into a server TLS configuration that requires a client
 * certificate signed by that CA: nng 1.5.2 cannot name the certificate a peer used, but it can
 * refuse peers without one. Files are read here, not by nng, so errors name them. */
static int tls_config_build(const struct agg_auth_tls *t, nng_tls_config **out,
                            struct slic_errmsg *err)
{
    char *cert = NULL, *key = NULL, *ca = NULL;
    size_t cert_len = 0, key_len = 0, ca_len = 0;
    nng_tls_config *cfg = NULL;
    int rc, rv = 0;
    if ((rc = slic_file_read(t->cert_file, TLS_FILE_MAX, 0, "tls.cert_file", &cert, &cert_len,
                             err)) ||
        (rc = slic_file_read(t->key_file, TLS_FILE_MAX, SLIC_FILE_PRIVATE, "tls.key_file", &key,
                             &key_len, err)) ||
        (rc = slic_file_read(t->client_ca_file, TLS_FILE_MAX, 0, "tls.client_ca_file", &ca, &ca_len,
                             err)))
        goto done;
    if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0)
        rc = slic_errmsg_set(err, SLIC_ENOMEM, "TLS configuration: %s", nng_strerror(rv));
    else if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0)
        rc = slic_errmsg_set(err, SLIC_ECONFIG,
                             "tls.cert_file %s, tls.key_file %s: not a PEM certificate and its "
                             "unencrypted private key (%s)",
                             t->cert_file, t->key_file, nng_strerror(rv));
    else if ((rv = nng_tls_config_ca_chain(cfg, ca, NULL)) != 0 ||
             (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0)
        rc = slic_errmsg_set(err, SLIC_ECONFIG,
                             "tls.client_ca_file %s: not PEM CA certificates (%s)",
                             t->client_ca_file, nng_strerror(rv));
done:
    slic_file_free(cert, cert_len);
    slic_file_free(key, key_len);
    slic_file_free(ca, ca_len);
    if (rc && cfg)
        nng_tls_config_free(cfg);
    else if (!rc)
        *out = cfg;
    return rc;
}

/* Listens on opts.listen; a tls+tcp:// URL needs the TLS files of opts.auth. */
static int listen_start(agg_server *s, struct slic_errmsg *err)
{
    const char *url = s->opts.listen;
    bool tls = strncmp(url, "tls+", 4) == 0;
    const struct agg_auth_tls *files = agg_auth_tls(s->opts.auth);
    if (tls && !files)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "cannot listen on %s: TLS needs tls: cert_file, key_file and "
                               "client_ca_file in the configuration",
                               url);
    nng_listener l;
    nng_tls_config *cfg = NULL;
    int rc = 0, rv = nng_listener_create(&l, s->sock, url);
    if (rv == 0 && tls) {
        if ((rc = tls_config_build(files, &cfg, err)) != 0) {
            nng_listener_close(l);
            return rc;
        }
        rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
        nng_tls_config_free(cfg); /* the listener holds its own reference */
    }
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv != 0)
        return slic_errmsg_set(err, SLIC_ECONFIG, "cannot listen on %s: %s", url, nng_strerror(rv));
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
    if ((rc = listen_start(s, err)) != 0)
        goto fail;
    SLIC_INFO("server", "listening on %s (%u contexts, requests up to %zu bytes)%s%s",
              s->opts.listen, s->n_ctxs, s->opts.recv_max_bytes,
              strncmp(s->opts.listen, "tls+", 4) == 0 ? "; TLS, client certificates required" : "",
              !agg_auth_signs(s->opts.auth) ? ""
              : agg_auth_requires_signed(s->opts.auth)
                  ? "; every batch must be signed by its agent"
                  : "; signed batches are checked, UNSIGNED ONES ACCEPTED "
                    "(auth.require_signed_batches: false)");
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
