/* slic-testsend --bad KIND: one deliberately malformed request, built by taking a valid batch
 * apart at the protobuf level and breaking one thing, so the aggregator's validation is tested
 * with exactly the bytes a broken or hostile agent would send. Prints the aggregator's answer as
 * `STATUS: reason` and returns 0 when it was the rejection expected (for `oversized`, when nng
 * dropped it unanswered). */
#include "alloc.h"
#include "batch.h"
#include "codec_batch.h"
#include "sketch.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

int testsend_bad(const char *kind);
const char *testsend_addr(void); /* in testsend.c */

/* A valid one-series batch for window `start`, as a protobuf message to break. */
static Slic__Batch *valid_batch(int64_t start)
{
    struct slic_series s = {
        .sli = "badcheck", .window_start = start, .window_seconds = 10, .total = 2, .good = 2};
    slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, &s.latency);
    slic_sketch_add(s.latency, 0.1);
    slic_sketch_add(s.latency, 0.2);
    struct slic_batch b = {.agent_id = "bad-agent",
                           .site = "bad-site",
                           .node = "bad-node",
                           .epoch = 1,
                           .seq = 1,
                           .series = &s,
                           .n_series = 1};
    uint8_t *buf;
    size_t len;
    if (codec_batch_pack(&b, &buf, &len))
        exit(2);
    slic_sketch_destroy(s.latency);
    Slic__Batch *m = slic__batch__unpack(NULL, len, buf);
    slic_free(buf);
    return m;
}

static uint8_t *pack_batch(Slic__Batch *m, size_t *len)
{
    *len = slic__batch__get_packed_size(m);
    uint8_t *buf = malloc(*len + 1);
    slic__batch__pack(m, buf);
    return buf;
}

/* Adds n label sets to the batch as distinct series (one label each) of the same SLI. */
static void add_label_sets(Slic__Batch *m, unsigned n)
{
    Slic__Series *tmpl = m->series[0];
    m->series = realloc(m->series, (n + 1) * sizeof *m->series);
    for (unsigned i = 0; i < n; i++) {
        Slic__Series *s = malloc(sizeof *s);
        *s = *tmpl;
        Slic__Label *l = malloc(sizeof *l);
        slic__label__init(l);
        l->key = "user";
        l->value = malloc(16);
        snprintf(l->value, 16, "u%u", i);
        s->n_labels = 1;
        s->labels = malloc(sizeof *s->labels);
        s->labels[0] = l;
        m->series[1 + i] = s;
    }
    m->n_series = n + 1;
}

/* Frees what add_label_sets added, so the message can go back to protobuf-c to be freed. */
static void free_batch(Slic__Batch *m)
{
    for (size_t i = 1; i < m->n_series; i++) {
        free(m->series[i]->labels[0]->value);
        free(m->series[i]->labels[0]);
        free(m->series[i]->labels);
        free(m->series[i]);
    }
    m->n_series = 1;
    slic__batch__free_unpacked(m, NULL);
}

/* Builds the request bytes for `kind`; NULL for an unknown kind. */
static uint8_t *bad_request(const char *kind, size_t *len)
{
    int64_t now = (time(NULL) / 10) * 10;
    Slic__Batch *m = valid_batch(now - 60);
    uint8_t *batch = NULL, *req = NULL;
    size_t blen = 0;
    if (strcmp(kind, "version") == 0) {
        m->schema_version = 99;
    } else if (strcmp(kind, "future") == 0) {
        m->series[0]->window_start = now + 3600;
    } else if (strcmp(kind, "unaligned") == 0) {
        m->series[0]->window_start = now - 57;
    } else if (strcmp(kind, "nan") == 0) {
        m->series[0]->latency->sum = NAN;
    } else if (strcmp(kind, "labels") == 0) {
        add_label_sets(m, 1500); /* more distinct label sets than the cap of 1000 */
    } else if (strcmp(kind, "garbage") == 0) {
        *len = 4096;
        req = malloc(*len);
        for (size_t i = 0; i < *len; i++)
            req[i] = (uint8_t)(i * 131 + 7);
        free_batch(m);
        return req;
    } else if (strcmp(kind, "oversized") == 0) {
        *len = 5u * 1024 * 1024;
        free_batch(m);
        return calloc(1, *len);
    } else if (strcmp(kind, "truncated") != 0) {
        free_batch(m);
        return NULL;
    }
    batch = pack_batch(m, &blen);
    free_batch(m);
    if (codec_request_pack(batch, blen, NULL, 0, NULL, &req, len))
        exit(2);
    if (strcmp(kind, "truncated") == 0)
        *len = *len * 2 / 3;
    free(batch);
    return req;
}

/* nng 1.5.2 can block in send or close after the peer dropped an oversized request; an
 * unanswered request is the expected outcome then, so a watchdog reports it and exits. */
static int watchdog_exit_code;

static void on_watchdog(int sig)
{
    static const char msg[] = "no answer: gave up waiting after 8 s\n";
    (void)sig;
    ssize_t w = write(STDOUT_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(watchdog_exit_code);
}

int testsend_bad(const char *kind)
{
    size_t len = 0;
    uint8_t *req = bad_request(kind, &len);
    if (!req) {
        fprintf(stderr, "slic-testsend: unknown --bad kind %s\n", kind);
        return 2;
    }
    watchdog_exit_code = strcmp(kind, "oversized") == 0 ? 0 : 1;
    signal(SIGALRM, on_watchdog);
    alarm(8);
    nng_socket sock;
    nng_msg *msg = NULL, *r = NULL;
    nng_req0_open(&sock);
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 3000);
    /* An oversized request makes the aggregator drop the connection; without a send timeout
     * the retry on a new connection could wait forever. */
    nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 3000);
    if (nng_dial(sock, testsend_addr(), NULL, 0) != 0) {
        fprintf(stderr, "slic-testsend: cannot dial %s\n", testsend_addr());
        return 2;
    }
    nng_msg_alloc(&msg, 0);
    nng_msg_append(msg, req, len);
    if (strcmp(kind, "garbage") == 0 || strcmp(kind, "oversized") == 0)
        free(req);
    else
        slic_free(req);
    int rv = nng_sendmsg(sock, msg, 0);
    if (rv == 0)
        rv = nng_recvmsg(sock, &r, 0);
    int expected_drop = strcmp(kind, "oversized") == 0;
    if (rv != 0) {
        printf("no answer: %s\n", nng_strerror(rv));
        nng_close(sock);
        return expected_drop ? 0 : 1;
    }
    struct slic_ack ack;
    struct codec_error err;
    rv = codec_response_unpack(nng_msg_body(r), nng_msg_len(r), &ack, NULL, &err);
    nng_msg_free(r);
    nng_close(sock);
    if (rv) {
        printf("undecodable answer\n");
        return 1;
    }
    printf("%s: %s\n", slic_ack_status_name(ack.status), ack.reason);
    int ok = ack.status == SLIC_ACK_REJECTED && !expected_drop;
    slic_ack_fini(&ack);
    return ok ? 0 : 1;
}
