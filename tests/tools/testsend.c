/* slic-testsend: plays many agents against a real aggregator, for end-to-end tests and the
 * benchmark. Every value it sends is derived from a seed, so a test knows exactly what the
 * aggregator must hold; --expect writes those exact totals and quantiles as JSON. It retries
 * every batch until acknowledged (accepted or duplicate), as a real agent does, so it can run
 * straight through aggregator crashes and restarts. --bad sends one malformed request and
 * prints the aggregator's answer. */
#include "alloc.h"
#include "batch.h"
#include "codec_batch.h"
#include "hmac.h"
#include "sketch.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
    const char *addr;
    unsigned agents, series, windows, values, sites, threads;
    int64_t start;
    uint64_t seed, epoch;
    int duplicate;
    double deadline_s;
    const char *expect;
    const char *bad;
    const char *prefix;
    unsigned window_seconds;
    /* --secret-file: sign each agent's batches with the key the aggregator derives for it. */
    uint8_t *secret;
    size_t secret_len;
};

static struct opts o = {.addr = "tcp://127.0.0.1:7710",
                        .agents = 4,
                        .series = 3,
                        .windows = 6,
                        .values = 100,
                        .sites = 2,
                        .threads = 4,
                        .seed = 1,
                        .epoch = 1,
                        .deadline_s = 120,
                        .prefix = "",
                        .window_seconds = 10};

static atomic_ulong n_accepted, n_duplicate, n_rejected, n_retries;

static void die(const char *what, const char *detail, int rc)
{
    fprintf(stderr, "slic-testsend: %s%s%s (%d)\n", what, detail[0] ? " " : "", detail, rc);
    exit(2);
}

/* splitmix64 of (seed, agent, series, window, i): any value can be recomputed independently. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static double unit(uint64_t h)
{
    return (double)(h >> 11) * 0x1p-53;
}

/* A latency (seconds, 1 ms .. ~1 s, lognormal-ish) and outcome for one event. */
static void event(unsigned a, unsigned s, unsigned w, unsigned i, double *lat, int *good)
{
    uint64_t h = mix(o.seed ^ mix(a ^ mix(s ^ mix(w ^ mix(i)))));
    double u1 = unit(h), u2 = unit(mix(h));
    if (u1 <= 0)
        u1 = 0x1p-53;
    *lat = 0.05 * exp(0.8 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
    *good = (mix(h + 1) % 100) != 0; /* 1% bad */
}

static char *xstrdup(const char *s)
{
    char *d = slic_malloc(strlen(s) + 1);
    if (!d)
        die("out of memory", "", 0);
    return strcpy(d, s);
}

static int64_t window_start(unsigned w)
{
    return o.start + (int64_t)w * o.window_seconds;
}

/* Batch seq w+1 of agent a: every series' events of window w. */
static void build_batch(unsigned a, unsigned w, struct slic_batch *b)
{
    char buf[64];
    memset(b, 0, sizeof *b);
    snprintf(buf, sizeof buf, "%sagent-%u", o.prefix, a);
    b->agent_id = xstrdup(buf);
    snprintf(buf, sizeof buf, "site-%u", a % o.sites);
    b->site = xstrdup(buf);
    snprintf(buf, sizeof buf, "%snode-%u", o.prefix, a);
    b->node = xstrdup(buf);
    b->epoch = o.epoch;
    b->seq = w + 1;
    b->series = slic_calloc(o.series, sizeof *b->series);
    b->n_series = o.series;
    for (unsigned s = 0; s < o.series; s++) {
        struct slic_series *se = &b->series[s];
        snprintf(buf, sizeof buf, "sli%u", s);
        se->sli = xstrdup(buf);
        se->window_start = window_start(w);
        se->window_seconds = o.window_seconds;
        if (slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                               &se->latency))
            die("sketch", "", 0);
        for (unsigned i = 0; i < o.values; i++) {
            double lat;
            int good;
            event(a, s, w, i, &lat, &good);
            slic_sketch_add(se->latency, lat);
            se->total++;
            se->good += (uint64_t)good;
        }
    }
}

/* Sends one request and waits for its response, retrying on any failure until the deadline. */
static void exchange(nng_socket sock, const uint8_t *req, size_t len, struct slic_ack *ack)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        nng_msg *m = NULL, *r = NULL;
        int rv = nng_msg_alloc(&m, 0);
        if (rv == 0)
            rv = nng_msg_append(m, req, len);
        if (rv == 0 && (rv = nng_sendmsg(sock, m, 0)) != 0)
            nng_msg_free(m);
        if (rv == 0 && (rv = nng_recvmsg(sock, &r, 0)) == 0) {
            struct codec_error err;
            rv = codec_response_unpack(nng_msg_body(r), nng_msg_len(r), ack, NULL, &err);
            nng_msg_free(r);
            if (rv == 0 && ack->status != SLIC_ACK_RETRY)
                return;
            if (rv == 0)
                slic_ack_fini(ack);
        }
        atomic_fetch_add(&n_retries, 1);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) > o.deadline_s)
            die("no acknowledgement within the deadline from", o.addr, rv);
        nanosleep(&(struct timespec){0, 50 * 1000000}, NULL);
    }
}

static nng_socket dial(void)
{
    nng_socket sock;
    int rv = nng_req0_open(&sock);
    if (rv)
        die("nng_req0_open", "", rv);
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 3000);
    nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 3000);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 20);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 200);
    nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, 0); /* we retry ourselves */
    if ((rv = nng_dial(sock, o.addr, NULL, NNG_FLAG_NONBLOCK)) != 0)
        die("cannot dial", o.addr, rv);
    return sock;
}

static void send_batch(nng_socket sock, unsigned a, unsigned w)
{
    struct slic_batch b;
    build_batch(a, w, &b);
    uint8_t *bb = NULL, *rb = NULL;
    size_t bl = 0, rl = 0;
    uint8_t key[SLIC_HMAC_LEN], mac[SLIC_HMAC_LEN];
    if (codec_batch_pack(&b, &bb, &bl))
        die("encode", "", 0);
    if (o.secret && (slic_agent_key_derive(o.secret, o.secret_len, b.agent_id, key) ||
                     slic_hmac_sha256(key, sizeof key, bb, bl, mac)))
        die("sign", b.agent_id, 0);
    if (codec_request_pack(bb, bl, o.secret ? mac : NULL, o.secret ? sizeof mac : 0, NULL, &rb,
                           &rl))
        die("encode", "", 0);
    struct slic_ack ack;
    exchange(sock, rb, rl, &ack);
    if (ack.status == SLIC_ACK_ACCEPTED)
        atomic_fetch_add(&n_accepted, 1);
    else if (ack.status == SLIC_ACK_DUPLICATE)
        atomic_fetch_add(&n_duplicate, 1);
    else {
        atomic_fetch_add(&n_rejected, 1);
        fprintf(stderr, "slic-testsend: agent %u seq %u rejected: %s\n", a, w + 1, ack.reason);
    }
    slic_ack_fini(&ack);
    slic_free(bb);
    slic_free(rb);
    slic_batch_fini(&b);
}

static atomic_uint next_agent;

/* Each thread takes whole agents, sending each agent's windows in order, then (with
 * --duplicate) all of them again newest first. */
static void *sender_thread(void *arg)
{
    (void)arg;
    /* Dialled only once there is an agent to send for: nng 1.5.2 can leak a dialer closed
     * while its first connection is still being set up, which LeakSanitizer then reports. */
    nng_socket sock = NNG_SOCKET_INITIALIZER;
    for (unsigned a; (a = atomic_fetch_add(&next_agent, 1)) < o.agents;) {
        if (nng_socket_id(sock) <= 0)
            sock = dial();
        for (unsigned w = 0; w < o.windows; w++)
            send_batch(sock, a, w);
        for (unsigned w = o.windows; o.duplicate && w-- > 0;)
            send_batch(sock, a, w);
    }
    if (nng_socket_id(sock) > 0)
        nng_close(sock);
    return NULL;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The exact answers, per SLI over every agent and window: count, good, quantiles, and the
 * events at or below a few latency thresholds. */
static void write_expect(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write", path, 0);
    size_t n = (size_t)o.agents * o.windows * o.values;
    double *v = malloc(n * sizeof *v);
    fprintf(f, "{\"from\": %" PRId64 ", \"to\": %" PRId64 ", \"slis\": {", o.start,
            window_start(o.windows));
    for (unsigned s = 0; s < o.series; s++) {
        size_t k = 0;
        uint64_t good = 0;
        for (unsigned a = 0; a < o.agents; a++)
            for (unsigned w = 0; w < o.windows; w++)
                for (unsigned i = 0; i < o.values; i++) {
                    int g;
                    event(a, s, w, i, &v[k++], &g);
                    good += (uint64_t)g;
                }
        qsort(v, n, sizeof *v, cmp_double);
        fprintf(f, "%s\"sli%u\": {\"count\": %zu, \"good\": %" PRIu64 ", \"quantiles\": {",
                s ? ", " : "", s, n, good);
        static const double qs[] = {0.5, 0.9, 0.99, 0.999};
        for (int i = 0; i < 4; i++)
            fprintf(f, "%s\"%g\": %.17g", i ? ", " : "", qs[i],
                    v[(size_t)floor(qs[i] * (double)(n - 1))]);
        fprintf(f, "}, \"le\": {");
        /* Events at or below each threshold, from the raw values: what a latency SLO at that
         * threshold must count, to check the aggregator's sketch-derived bounds against. */
        static const double les[] = {0.05, 0.1, 0.2, 0.3, 0.5};
        for (int i = 0; i < 5; i++) {
            size_t le = 0;
            while (le < n && v[le] <= les[i])
                le++;
            fprintf(f, "%s\"%g\": %zu", i ? ", " : "", les[i], le);
        }
        fprintf(f, "}}");
    }
    fprintf(f, "}}\n");
    free(v);
    fclose(f);
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: slic-testsend [options]\n"
            "  --addr URL        aggregator (default tcp://127.0.0.1:7710)\n"
            "  --agents N        agents to play (default 4); agent i is site-(i%%sites), node-i\n"
            "  --sites N         sites (default 2)\n"
            "  --series N        SLIs per batch, named sli0.. (default 3)\n"
            "  --windows N       10 s windows per agent = batches per agent (default 6)\n"
            "  --values N        events per series per window (default 100)\n"
            "  --start T         first window start, Unix seconds (default: now - windows*len)\n"
            "  --window-seconds N  window length, a multiple of 10 (default 10)\n"
            "  --prefix P        prefix of agent ids and node names, so senders do not collide\n"
            "  --seed N --epoch N\n"
            "  --threads N       concurrent senders (default 4)\n"
            "  --duplicate       send every batch twice, the second time newest first\n"
            "  --deadline S      give up on a batch unacknowledged this long (default 120)\n"
            "  --expect FILE     write the exact expected totals and quantiles as JSON\n"
            "  --secret-file F   sign every batch with its agent's key, derived from this secret\n"
            "  --bad KIND        send one bad request and print the answer: truncated, garbage,\n"
            "                    oversized, version, future, nan, labels, unaligned\n");
}

int testsend_bad(const char *kind); /* in testsend_bad.c */
const char *testsend_addr(void);

const char *testsend_addr(void)
{
    return o.addr;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"addr", 1, 0, 'a'},
                                             {"agents", 1, 0, 'A'},
                                             {"sites", 1, 0, 'S'},
                                             {"series", 1, 0, 's'},
                                             {"windows", 1, 0, 'w'},
                                             {"values", 1, 0, 'v'},
                                             {"start", 1, 0, 't'},
                                             {"seed", 1, 0, 'r'},
                                             {"epoch", 1, 0, 'e'},
                                             {"threads", 1, 0, 'j'},
                                             {"duplicate", 0, 0, 'd'},
                                             {"deadline", 1, 0, 'D'},
                                             {"expect", 1, 0, 'x'},
                                             {"bad", 1, 0, 'b'},
                                             {"help", 0, 0, 'h'},
                                             {"prefix", 1, 0, 'p'},
                                             {"window-seconds", 1, 0, 'W'},
                                             {"secret-file", 1, 0, 'k'},
                                             {0, 0, 0, 0}};
    int c;
    o.start = -1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            o.addr = optarg;
            break;
        case 'A':
            o.agents = (unsigned)atoi(optarg);
            break;
        case 'S':
            o.sites = (unsigned)atoi(optarg);
            break;
        case 's':
            o.series = (unsigned)atoi(optarg);
            break;
        case 'w':
            o.windows = (unsigned)atoi(optarg);
            break;
        case 'v':
            o.values = (unsigned)atoi(optarg);
            break;
        case 't':
            o.start = strtoll(optarg, NULL, 10);
            break;
        case 'r':
            o.seed = strtoull(optarg, NULL, 10);
            break;
        case 'e':
            o.epoch = strtoull(optarg, NULL, 10);
            break;
        case 'j':
            o.threads = (unsigned)atoi(optarg);
            break;
        case 'd':
            o.duplicate = 1;
            break;
        case 'D':
            o.deadline_s = atof(optarg);
            break;
        case 'x':
            o.expect = optarg;
            break;
        case 'b':
            o.bad = optarg;
            break;
        case 'p':
            o.prefix = optarg;
            break;
        case 'W':
            o.window_seconds = (unsigned)atoi(optarg);
            break;
        case 'k': {
            struct slic_errmsg err = {{0}};
            if (slic_secret_file_read(optarg, "--secret-file", &o.secret, &o.secret_len, &err))
                die(err.text, "", 0);
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o.sites == 0 || o.threads == 0 || o.values == 0 || o.window_seconds == 0 ||
        o.window_seconds % 10 != 0) {
        usage(stderr);
        return 2;
    }
    int64_t len = o.window_seconds;
    if (o.start < 0)
        o.start = (time(NULL) / len - (int64_t)o.windows - 1) * len;
    if (o.start % len)
        die("--start must be a multiple of the window length", "", 0);
    if (o.bad)
        return testsend_bad(o.bad) ? 1 : 0;
    if (o.expect)
        write_expect(o.expect);
    pthread_t th[64];
    unsigned nt = o.threads > 64 ? 64 : o.threads;
    for (unsigned i = 0; i < nt; i++)
        pthread_create(&th[i], NULL, sender_thread, NULL);
    for (unsigned i = 0; i < nt; i++)
        pthread_join(th[i], NULL);
    /* nng tears closed sockets down on its own threads; wait for that, or LeakSanitizer may
     * catch a dialer still being freed at exit and fail the test that ran us. */
    nng_fini();
    printf("sent %u batches: %lu accepted, %lu duplicate, %lu rejected, %lu retries\n",
           o.agents * o.windows * (o.duplicate ? 2 : 1), atomic_load(&n_accepted),
           atomic_load(&n_duplicate), atomic_load(&n_rejected), atomic_load(&n_retries));
    return atomic_load(&n_rejected) ? 1 : 0;
}
