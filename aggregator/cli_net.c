/* slic's one round trip to the aggregator: dial (bounded by the timeout, with TLS when asked),
 * send one request, receive one response. Every failure is explained on stderr in the terms an
 * operator can act on: which address, what nng said, what to check. */
#include "cli_net.h"

#include "cli_format.h"
#include "err.h"
#include "hmac.h"
#include "timeutil.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

/* Larger than the codec's cap, so an oversized reply is reported by the codec ("N bytes, at most
 * M") instead of nng dropping it silently and the call timing out. */
#define RECV_MAX_BYTES ((size_t)64 << 20)

/* A blocking nng_dial reports at once why a connection failed (refused, no route), which a
 * non-blocking dial would hide behind a timeout; but it waits as long as the kernel keeps
 * trying (minutes, for a host that drops packets). So it runs in a thread, and after
 * timeout_ms the socket is closed, which aborts the dial. */
struct dial_job {
    nng_socket sock;
    const char *url;
    nng_tls_config *tls;
    int rv;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* nng_dial, with the TLS configuration (NULL: none) put on the dialer first. */
static int dial_with(nng_socket sock, const char *url, nng_tls_config *tls)
{
    if (!tls)
        return nng_dial(sock, url, NULL, 0);
    nng_dialer d;
    int rv = nng_dialer_create(&d, sock, url);
    if (rv == 0 && (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls)) == 0)
        rv = nng_dialer_start(d, 0);
    return rv;
}

static void *dial_main(void *arg)
{
    struct dial_job *j = arg;
    int rv = dial_with(j->sock, j->url, j->tls);
    pthread_mutex_lock(&j->mu);
    j->rv = rv;
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* nng's result of the dial, or NNG_ETIMEDOUT after timeout_ms (the socket is then closed). */
static int dial_bounded(nng_socket sock, const char *url, nng_tls_config *tls, int32_t timeout_ms,
                        bool *closed)
{
    struct dial_job j = {.sock = sock, .url = url, .tls = tls};
    pthread_condattr_t attr;
    pthread_t thread;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&thread, NULL, dial_main, &j) != 0) {
        j.rv = dial_with(sock, url, tls); /* no thread: dial unbounded rather than not */
    } else {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L)
            deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
        pthread_mutex_lock(&j.mu);
        int wait = 0;
        while (!j.done && wait != ETIMEDOUT)
            wait = pthread_cond_timedwait(&j.cv, &j.mu, &deadline);
        bool done = j.done;
        pthread_mutex_unlock(&j.mu);
        if (!done) {
            nng_close(sock);
            *closed = true;
        }
        pthread_join(thread, NULL);
        if (!done)
            j.rv = NNG_ETIMEDOUT;
    }
    pthread_cond_destroy(&j.cv);
    pthread_mutex_destroy(&j.mu);
    return j.rv;
}

/* The TLS client configuration of the --tls-* options; the aggregator's certificate must name
 * --tls-server-name, else the address's host. Prints why on failure. */
static int tls_config(const struct cli_target *t, nng_tls_config **out)
{
    static const char *const what[3] = {"--tls-ca", "--tls-cert", "--tls-key"};
    const char *files[3] = {t->tls_ca, t->tls_cert, t->tls_key};
    char *pem[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0};
    struct slic_errmsg err = {{0}};
    const char *name = t->tls_server_name;
    nng_url *u = NULL;
    nng_tls_config *cfg = NULL;
    int rc = 0, rv = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (files[i])
            rc = slic_file_read(files[i], 1u << 20, i == 2 ? SLIC_FILE_PRIVATE : 0, what[i],
                                &pem[i], &len[i], &err);
    if (rc == 0 && !name && (rv = nng_url_parse(&u, t->addr)) == 0)
        name = u->u_hostname;
    if (rc == 0 && rv == 0 && (rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) == 0 &&
        (rv = nng_tls_config_ca_chain(cfg, pem[0], NULL)) == 0 &&
        (!pem[1] || (rv = nng_tls_config_own_cert(cfg, pem[1], pem[2], NULL)) == 0) &&
        (rv = nng_tls_config_server_name(cfg, name)) == 0)
        rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
    if (rc)
        fprintf(stderr, "slic: %s\n", err.text);
    else if (rv)
        fprintf(stderr,
                "slic: TLS: %s (--tls-ca: PEM CA certificates; --tls-cert, --tls-key: a PEM "
                "certificate and its unencrypted key)\n",
                nng_strerror(rv));
    for (int i = 0; i < 3; i++)
        slic_file_free(pem[i], len[i]);
    if (u)
        nng_url_free(u);
    if ((rc || rv) && cfg)
        nng_tls_config_free(cfg);
    else if (!rc && !rv)
        *out = cfg;
    return rc || rv ? EXIT_USAGE : 0;
}

static int64_t mono_ms(void)
{
    return (int64_t)(slic_now_mono_ns() / 1000000u);
}

static void print_unreachable(const struct cli_target *t, const char *why)
{
    fputs("slic: cannot reach the aggregator at ", stderr);
    cli_put_sanitized(stderr, t->addr);
    fprintf(stderr, ": %s (is slic-aggregator running? set SLIC_ADDR or --addr)\n", why);
}

int cli_round_trip(const struct cli_target *t, const uint8_t *req, size_t req_len, void **resp,
                   size_t *resp_len)
{
    nng_socket sock;
    int rv = nng_req0_open(&sock);
    if (rv) {
        fprintf(stderr, "slic: cannot open an nng socket: %s\n", nng_strerror(rv));
        return EXIT_FAIL;
    }
    int64_t start = mono_ms();
    bool closed = false;
    nng_tls_config *tls = NULL;
    if (t->tls_ca && tls_config(t, &tls) != 0) {
        nng_close(sock);
        return EXIT_USAGE;
    }
    rv = dial_bounded(sock, t->addr, tls, t->timeout_ms, &closed);
    if (rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL) {
        fputs("slic: '", stderr);
        cli_put_sanitized(stderr, t->addr);
        fprintf(stderr,
                "' is not an address slic can dial (%s): expected tcp://HOST:PORT, "
                "tls+tcp://HOST:PORT or ipc:///PATH\n",
                nng_strerror(rv));
        rv = EXIT_USAGE;
    } else if (rv) {
        char why[128];
        if (rv == NNG_ETIMEDOUT)
            snprintf(why, sizeof why, "no connection within %" PRId32 " ms", t->timeout_ms);
        else if (tls && (rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH || rv == NNG_ECONNSHUT))
            snprintf(why, sizeof why,
                     "TLS handshake failed (%s): is its certificate signed by --tls-ca and "
                     "named as --tls-server-name, and ours by its client CA?",
                     nng_strerror(rv));
        else
            snprintf(why, sizeof why, "%s", nng_strerror(rv));
        print_unreachable(t, why);
        rv = EXIT_FAIL;
    } else {
        /* One budget for the whole call: what the dial used is gone. */
        int64_t left = t->timeout_ms - (mono_ms() - start);
        nng_duration ms = left > 1 ? (nng_duration)left : 1;
        nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, ms);
        nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, ms);
        nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, RECV_MAX_BYTES);
        if ((rv = nng_send(sock, (void *)req, req_len, 0)) == 0)
            rv = nng_recv(sock, resp, resp_len, NNG_FLAG_ALLOC);
        if (rv) {
            fputs("slic: the aggregator at ", stderr);
            cli_put_sanitized(stderr, t->addr);
            if (rv == NNG_ETIMEDOUT)
                fprintf(stderr,
                        " did not answer within %" PRId32 " ms (overloaded or stuck? "
                        "see its log, or try a longer --timeout)\n",
                        t->timeout_ms);
            else
                fprintf(stderr, " failed to answer: %s\n", nng_strerror(rv));
            rv = EXIT_FAIL;
        }
    }
    if (!closed)
        nng_close(sock);
    if (tls)
        nng_tls_config_free(tls);
    return rv;
}
