/* Tests of agent/src_probe_http.c and agent/src_probe_tcp.c against real local servers:
 * libmicrohttpd on 127.0.0.1, plain and TLS (a self-signed certificate made by the openssl CLI),
 * serving /ok, /fail (503), /slow (longer than the probe timeout) and /body (no expected
 * substring); a bound socket that never listens stands for "connection refused". Each loop test
 * runs until the events it waits for have arrived, under a deadline timer so a bug fails the
 * case instead of hanging it, then closes everything and checks uv_loop_close() == 0. The
 * loop-free parts (status codes, configuration checks, schedule arithmetic) are tested alone. */
#include "harness.h"

#include "alloc.h"
#include "batch.h"
#include "err.h"
#include "probe.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define SLOW_MS 1200 /* how long /slow sleeps: well past the timeout probes use for it */
#define SLACK 0.5    /* seconds a latency may exceed its timeout on a loaded test machine */
#define EVENTS_MAX 512
#define WANT_MAX 8

/* ---- a local HTTP(S) server ---- */

#define SEQ_PATTERN "xx..x" /* x: 503, .: 200 */
static atomic_int seq_next;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    unsigned code = 200;
    const char *body = "hello world";
    if (strcmp(url, "/fail") == 0) {
        code = 503;
        body = "unavailable";
    } else if (strcmp(url, "/slow") == 0) {
        sleep_ms(SLOW_MS); /* one thread per connection: only this request waits */
    } else if (strcmp(url, "/seq") == 0) {
        /* Answers follow SEQ_PATTERN, one request after the other. */
        int i = atomic_fetch_add(&seq_next, 1);
        code = i < (int)strlen(SEQ_PATTERN) && SEQ_PATTERN[i] == 'x' ? 503 : 200;
    } else if (strcmp(url, "/body") == 0) {
        body = "goodbye";
    } else if (strcmp(url, "/ok") != 0) {
        code = 404;
        body = "not found";
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* Starts a server on 127.0.0.1 and an ephemeral port; TLS when key_pem is not NULL. */
static struct MHD_Daemon *server_start(const char *key_pem, const char *cert_pem, int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    struct MHD_Daemon *d;
    if (key_pem)
        d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, serve, NULL, MHD_OPTION_SOCK_ADDR,
                             &sin, MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_HTTPS_MEM_CERT,
                             cert_pem, MHD_OPTION_END);
    else
        d = MHD_start_daemon(flags, 0, NULL, NULL, serve, NULL, MHD_OPTION_SOCK_ADDR, &sin,
                             MHD_OPTION_END);
    CHECK(d != NULL);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    CHECK(info != NULL && info->port != 0);
    *port = info->port;
    return d;
}

/* A TCP port on 127.0.0.1 that refuses connections for as long as fd stays open: bound (so
 * nothing else can take it) but never listening. */
static int refusing_port(int *fd)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(*fd >= 0);
    CHECK_INT_EQ(bind(*fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    CHECK_INT_EQ(getsockname(*fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

static char *file_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    static char bufs[2][16384];
    static int which;
    char *buf = bufs[which++ % 2];
    size_t n = fread(buf, 1, sizeof bufs[0] - 1, f);
    fclose(f);
    CHECK(n > 0);
    buf[n] = '\0';
    return buf;
}

/* A self-signed certificate for 127.0.0.1 in the case's temporary directory. */
static void cert_make(char *key_path, char *cert_path, size_t size)
{
    snprintf(key_path, size, "%s/key.pem", harness_tmpdir());
    snprintf(cert_path, size, "%s/cert.pem", harness_tmpdir());
    char cmd[1400];
    int n =
        snprintf(cmd, sizeof cmd,
                 "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
                 "-addext subjectAltName=IP:127.0.0.1 -days 1 -keyout '%s' -out '%s' 2>/dev/null",
                 key_path, cert_path);
    CHECK(n > 0 && (size_t)n < sizeof cmd);
    CHECK_INT_EQ(system(cmd), 0);
}

/* ---- a loop, a sink that records, a deadline ---- */

struct rec {
    char name[SLIC_NAME_MAX + 1];
    double latency;
    bool good;
};

struct fixture {
    uv_loop_t loop;
    uv_timer_t deadline;
    bool timed_out;
    agent_probe_set *set;
    bool set_closed;
    struct rec ev[EVENTS_MAX];
    size_t n_ev;
    /* The loop stops once each of these SLIs has had `want_runs` events. */
    const char *want[WANT_MAX];
    size_t n_want;
    size_t want_runs;
};

static size_t count(const struct fixture *f, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_ev; i++)
        n += strcmp(f->ev[i].name, name) == 0;
    return n;
}

/* The first event named `name`, or NULL. */
static const struct rec *find(const struct fixture *f, const char *name)
{
    for (size_t i = 0; i < f->n_ev; i++)
        if (strcmp(f->ev[i].name, name) == 0)
            return &f->ev[i];
    return NULL;
}

static bool all_seen(const struct fixture *f)
{
    for (size_t i = 0; i < f->n_want; i++)
        if (count(f, f->want[i]) < f->want_runs)
            return false;
    return true;
}

static void on_event(void *ctx, const struct slic_event *ev)
{
    struct fixture *f = ctx;
    CHECK(f->n_ev < EVENTS_MAX);
    CHECK(ev->name_len > 0 && ev->name_len <= SLIC_NAME_MAX);
    CHECK_U64_EQ(ev->weight, 1);
    CHECK_U64_EQ(ev->n_labels, 0);
    CHECK(ev->latency >= 0 && ev->latency <= SLIC_EVENT_LATENCY_MAX);
    struct rec *r = &f->ev[f->n_ev++];
    memcpy(r->name, ev->name, ev->name_len);
    r->name[ev->name_len] = '\0';
    CHECK(slic_name_valid(r->name));
    r->latency = ev->latency;
    r->good = ev->good;
    if (f->n_want && all_seen(f))
        uv_stop(&f->loop);
}

static void on_deadline(uv_timer_t *t)
{
    struct fixture *f = t->data;
    f->timed_out = true;
    uv_stop(&f->loop);
}

static void fixture_init(struct fixture *f)
{
    /* A server thread may still write to a socket the probe has given up on. */
    signal(SIGPIPE, SIG_IGN);
    memset(f, 0, sizeof *f);
    CHECK_OK(uv_loop_init(&f->loop));
    uv_timer_init(&f->loop, &f->deadline);
    f->deadline.data = f;
    struct agent_sink sink = {.event = on_event, .ctx = f};
    struct slic_errmsg err = {{0}};
    CHECK_OK(agent_probe_set_create(&f->loop, &sink, "test-node", &f->set, &err));
}

static void fixture_add(struct fixture *f, struct agent_probe_config cfg)
{
    struct slic_errmsg err = {{0}};
    int rc = agent_probe_set_add(f->set, &cfg, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "add %s: %s", cfg.sli, err.text);
}

/* Runs the loop until every SLI in want has `runs` events, failing after deadline_ms. */
static void fixture_run(struct fixture *f, size_t runs, unsigned deadline_ms)
{
    f->want_runs = runs;
    uv_timer_start(&f->deadline, on_deadline, deadline_ms, 0);
    if (!all_seen(f))
        uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&f->deadline);
    for (size_t i = 0; i < f->n_want; i++)
        if (count(f, f->want[i]) < runs)
            harness_fail(__FILE__, __LINE__, "%s: %zu events after %u ms, expected %zu", f->want[i],
                         count(f, f->want[i]), deadline_ms, runs);
    CHECK(!f->timed_out);
}

static void on_set_closed(void *arg)
{
    struct fixture *f = arg;
    f->set_closed = true;
}

static void fixture_close(struct fixture *f)
{
    agent_probe_set_close(f->set, on_set_closed, f);
    uv_close((uv_handle_t *)&f->deadline, NULL);
    CHECK_INT_EQ(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    CHECK(f->set_closed);
    CHECK_INT_EQ(uv_loop_close(&f->loop), 0);
}

static struct agent_probe_counters counters(const struct fixture *f, size_t index)
{
    struct agent_probe_counters c;
    CHECK_OK(agent_probe_set_counters(f->set, index, &c));
    return c;
}

static void check_phase(const struct fixture *f, const char *sli, const char *suffix, bool present,
                        bool good)
{
    char name[SLIC_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s%s", sli, suffix);
    const struct rec *r = find(f, name);
    if (!present) {
        if (r)
            harness_fail(__FILE__, __LINE__, "unexpected event %s", name);
        return;
    }
    if (!r)
        harness_fail(__FILE__, __LINE__, "no event %s", name);
    CHECK_INT_EQ(r->good, good);
}

/* The probe's own event: outcome, and a latency above 0 and below its timeout plus slack. */
static const struct rec *check_main(const struct fixture *f, const char *sli, bool good,
                                    double timeout)
{
    const struct rec *r = find(f, sli);
    if (!r)
        harness_fail(__FILE__, __LINE__, "no event %s", sli);
    if (r->good != good)
        harness_fail(__FILE__, __LINE__, "%s: good is %d, expected %d", sli, r->good, good);
    if (!(r->latency > 0 && r->latency < timeout + SLACK))
        harness_fail(__FILE__, __LINE__, "%s: latency %g s outside (0, %g)", sli, r->latency,
                     timeout + SLACK);
    return r;
}

static struct agent_probe_config http_probe(const char *sli, const char *url, double interval,
                                            double timeout)
{
    return (struct agent_probe_config){.sli = sli,
                                       .kind = AGENT_PROBE_HTTP,
                                       .target = url,
                                       .interval = interval,
                                       .timeout = timeout};
}

/* ---- HTTP ---- */

static void test_http_outcomes(void)
{
    int port, refused_fd;
    struct MHD_Daemon *d = server_start(NULL, NULL, &port);
    int refused = refusing_port(&refused_fd);
    char ok[64], fail[64], body[64], none[64], byname[64];
    snprintf(ok, sizeof ok, "http://127.0.0.1:%d/ok", port);
    snprintf(fail, sizeof fail, "http://127.0.0.1:%d/fail", port);
    snprintf(body, sizeof body, "http://127.0.0.1:%d/body", port);
    snprintf(none, sizeof none, "http://127.0.0.1:%d/", refused);
    snprintf(byname, sizeof byname, "http://localhost:%d/ok", port);

    struct fixture f;
    fixture_init(&f);
    struct agent_probe_config c = http_probe("web_ok", ok, 1, 0.8);
    c.body_match = "o w"; /* inside "hello world" */
    fixture_add(&f, c);
    fixture_add(&f, http_probe("web_fail", fail, 1, 0.8));
    c = http_probe("web_fail_expected", fail, 1, 0.8);
    CHECK_OK(agent_probe_status_parse("2xx, 503", &c.status, NULL));
    fixture_add(&f, c);
    c = http_probe("web_body", body, 1, 0.8);
    c.body_match = "world";
    fixture_add(&f, c);
    fixture_add(&f, http_probe("web_refused", none, 1, 0.8));
    fixture_add(&f, http_probe("web_name", byname, 1, 0.8));
    CHECK_U64_EQ(agent_probe_set_count(f.set), 6);
    const char *want[] = {"web_ok",   "web_fail",    "web_fail_expected",
                          "web_body", "web_refused", "web_name"};
    memcpy(f.want, want, sizeof want);
    f.n_want = 6;
    CHECK_OK(agent_probe_set_start(f.set));
    fixture_run(&f, 1, 5000);

    check_main(&f, "web_ok", true, 0.8);
    check_phase(&f, "web_ok", ".dns", true, true);
    check_phase(&f, "web_ok", ".connect", true, true);
    check_phase(&f, "web_ok", ".ttfb", true, true);
    check_phase(&f, "web_ok", ".tls", false, false);
    /* Phases are each phase's own duration, so they add up to at most the total. */
    double sum = find(&f, "web_ok.dns")->latency + find(&f, "web_ok.connect")->latency +
                 find(&f, "web_ok.ttfb")->latency;
    CHECK(sum <= find(&f, "web_ok")->latency + 1e-6);

    check_main(&f, "web_fail", false, 0.8);
    check_phase(&f, "web_fail", ".ttfb", true, false); /* the whole run carries the outcome */
    check_main(&f, "web_fail_expected", true, 0.8);
    check_main(&f, "web_body", false, 0.8);
    check_main(&f, "web_refused", false, 0.8);
    check_phase(&f, "web_refused", ".connect", false, false);
    check_phase(&f, "web_refused", ".ttfb", false, false);
    check_main(&f, "web_name", true, 0.8);
    check_phase(&f, "web_name", ".dns", true, true);

    struct agent_probe_counters k = counters(&f, 0);
    CHECK(k.started >= 1 && k.runs >= 1);
    CHECK_U64_EQ(k.results[AGENT_PROBE_OK], k.runs);
    CHECK_INT_EQ(k.state, AGENT_PROBE_UP);
    k = counters(&f, 1);
    CHECK(k.results[AGENT_PROBE_FAIL_STATUS] >= 1);
    CHECK_INT_EQ(k.state, AGENT_PROBE_DOWN);
    CHECK_INT_EQ(k.last, AGENT_PROBE_FAIL_STATUS);
    CHECK(counters(&f, 2).results[AGENT_PROBE_OK] >= 1);
    CHECK(counters(&f, 3).results[AGENT_PROBE_FAIL_BODY] >= 1);
    CHECK(counters(&f, 4).results[AGENT_PROBE_FAIL_CONNECT] >= 1);
    struct agent_probe_counters out;
    CHECK_ERR(agent_probe_set_counters(f.set, 6, &out), SLIC_EINVAL);
    CHECK_ERR(agent_probe_set_add(f.set, &c, NULL), SLIC_EINVAL); /* already started */
    CHECK_ERR(agent_probe_set_start(f.set), SLIC_EINVAL);

    fixture_close(&f);
    close(refused_fd);
    MHD_stop_daemon(d);
}

static void test_http_timeout(void)
{
    int port;
    struct MHD_Daemon *d = server_start(NULL, NULL, &port);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", port);
    struct fixture f;
    fixture_init(&f);
    fixture_add(&f, http_probe("web_slow", url, 1, 0.3));
    f.want[f.n_want++] = "web_slow";
    CHECK_OK(agent_probe_set_start(f.set));
    fixture_run(&f, 1, 4000);

    /* A timed-out run is a bad event whose latency is the time it waited. */
    const struct rec *r = check_main(&f, "web_slow", false, 0.3);
    CHECK(r->latency >= 0.29);
    check_phase(&f, "web_slow", ".connect", true, false);
    check_phase(&f, "web_slow", ".ttfb", false, false);
    CHECK_U64_EQ(counters(&f, 0).results[AGENT_PROBE_FAIL_TIMEOUT], 1);
    fixture_close(&f);
    MHD_stop_daemon(d);
}

/* Runs follow the interval; a probe comes back up after going down. */
static void test_http_repeats(void)
{
    int port;
    struct MHD_Daemon *d = server_start(NULL, NULL, &port);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", port);
    struct fixture f;
    fixture_init(&f);
    fixture_add(&f, http_probe("web_fast", url, 0.2, 0.1));
    f.want[f.n_want++] = "web_fast";
    uint64_t t0 = uv_hrtime();
    CHECK_OK(agent_probe_set_start(f.set));
    fixture_run(&f, 3, 3000);
    double took = (double)(uv_hrtime() - t0) / 1e9;
    /* Three aligned slots 0.2 s apart take at least 0.4 s after the first. */
    CHECK(took >= 0.4 && took < 0.2 * 3 + 0.02 + SLACK);
    struct agent_probe_counters k = counters(&f, 0);
    CHECK(k.runs >= 3 && k.started >= k.runs);
    fixture_close(&f);
    MHD_stop_daemon(d);
}

static size_t lines_containing(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL);
    char line[2048];
    size_t n = 0;
    while (fgets(line, sizeof line, fp))
        n += strstr(line, needle) != NULL;
    fclose(fp);
    return n;
}

/* One log line per state change, not per run: down, down, up, up, down logs three lines. */
static void test_http_state_changes(void)
{
    int port;
    struct MHD_Daemon *d = server_start(NULL, NULL, &port);
    char url[64], log_path[512];
    snprintf(url, sizeof url, "http://user:pw0rd@127.0.0.1:%d/seq?token=s3cret", port);
    snprintf(log_path, sizeof log_path, "%s/stderr.log", harness_tmpdir());
    fflush(stderr);
    int saved = dup(2);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(saved >= 0 && fd >= 0);
    CHECK(dup2(fd, 2) == 2);
    close(fd);

    struct fixture f;
    fixture_init(&f);
    fixture_add(&f, http_probe("web_seq", url, 0.2, 0.1));
    f.want[f.n_want++] = "web_seq";
    CHECK_OK(agent_probe_set_start(f.set));
    fixture_run(&f, 5, 4000);
    struct agent_probe_counters k = counters(&f, 0);
    fixture_close(&f);
    MHD_stop_daemon(d);
    fflush(stderr);
    CHECK(dup2(saved, 2) == 2);
    close(saved);

    CHECK_U64_EQ(k.runs, 5);
    CHECK_U64_EQ(k.results[AGENT_PROBE_FAIL_STATUS], 3);
    CHECK_U64_EQ(k.results[AGENT_PROBE_OK], 2);
    CHECK_INT_EQ(k.state, AGENT_PROBE_DOWN);
    CHECK_U64_EQ(lines_containing(log_path, "web_seq"), 3);
    CHECK_U64_EQ(lines_containing(log_path, "is down"), 2);
    CHECK_U64_EQ(lines_containing(log_path, "is up again"), 1);
    /* Logs name the URL without the secrets it may carry. */
    CHECK_U64_EQ(lines_containing(log_path, "/seq)"), 3);
    CHECK_U64_EQ(lines_containing(log_path, "s3cret"), 0);
    CHECK_U64_EQ(lines_containing(log_path, "pw0rd"), 0);
    const char *expect[] = {"web_seq", "web_seq", "web_seq", "web_seq", "web_seq"};
    bool good[] = {false, false, true, true, false};
    size_t seen = 0;
    for (size_t i = 0; i < f.n_ev && seen < 5; i++) {
        if (strcmp(f.ev[i].name, expect[seen]) != 0)
            continue;
        CHECK_INT_EQ(f.ev[i].good, good[seen]);
        seen++;
    }
    CHECK_U64_EQ(seen, 5);
}

/* ---- HTTPS ---- */

static void test_https(void)
{
    CHECK(MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES);
    char key_path[512], cert_path[512];
    cert_make(key_path, cert_path, sizeof key_path);
    int port;
    struct MHD_Daemon *d = server_start(file_read(key_path), file_read(cert_path), &port);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/ok", port);

    struct fixture f;
    fixture_init(&f);
    struct agent_probe_config c = http_probe("tls_ok", url, 1, 0.9);
    c.ca_file = cert_path;
    c.body_match = "hello";
    fixture_add(&f, c);
    fixture_add(&f, http_probe("tls_untrusted", url, 1, 0.9));
    c = http_probe("tls_insecure", url, 1, 0.9);
    c.insecure = true;
    fixture_add(&f, c);
    const char *want[] = {"tls_ok", "tls_untrusted", "tls_insecure"};
    memcpy(f.want, want, sizeof want);
    f.n_want = 3;
    CHECK_OK(agent_probe_set_start(f.set));
    fixture_run(&f, 1, 5000);

    check_main(&f, "tls_ok", true, 0.9);
    check_phase(&f, "tls_ok", ".dns", true, true);
    check_phase(&f, "tls_ok", ".connect", true, true);
    check_phase(&f, "tls_ok", ".tls", true, true);
    check_phase(&f, "tls_ok", ".ttfb", true, true);
    CHECK(find(&f, "tls_ok.tls")->latency > 0);

    /* Without the CA the certificate does not verify: the handshake never completes, so there
     * is no TLS phase (curl 7.88 reports no connect time for such a run either). */
    check_main(&f, "tls_untrusted", false, 0.9);
    check_phase(&f, "tls_untrusted", ".tls", false, false);
    check_phase(&f, "tls_untrusted", ".ttfb", false, false);
    CHECK_U64_EQ(counters(&f, 1).results[AGENT_PROBE_FAIL_TLS], 1);
    check_main(&f, "tls_insecure", true, 0.9);
    fixture_close(&f);
    MHD_stop_daemon(d);
}

/* ---- TCP ---- */

static void test_tcp(void)
{
    int port, refused_fd;
    struct MHD_Daemon *d = server_start(NULL, NULL, &port);
    int refused = refusing_port(&refused_fd);
    char up[64], down[64];
    snprintf(up, sizeof up, "127.0.0.1:%d", port);
    snprintf(down, sizeof down, "127.0.0.1:%d", refused);

    struct fixture f;
    fixture_init(&f);
    fixture_add(
        &f,
        (struct agent_probe_config){
            .sli = "tcp_up", .kind = AGENT_PROBE_TCP, .target = up, .interval = 1, .timeout = 0.8});
    fixture_add(&f, (struct agent_probe_config){.sli = "tcp_down",
                                                .kind = AGENT_PROBE_TCP,
                                                .target = down,
                                                .interval = 1,
                                                .timeout = 0.8});
    f.want[f.n_want++] = "tcp_up";
    f.want[f.n_want++] = "tcp_down";
    CHECK_OK(agent_probe_set_start(f.set));
    fixture_run(&f, 1, 5000);

    check_main(&f, "tcp_up", true, 0.8);
    check_phase(&f, "tcp_up", ".connect", true, true);
    check_phase(&f, "tcp_up", ".dns", false, false); /* an address literal is not resolved */
    check_phase(&f, "tcp_up", ".ttfb", false, false);
    CHECK(find(&f, "tcp_up.connect")->latency <= find(&f, "tcp_up")->latency);
    check_main(&f, "tcp_down", false, 0.8);
    check_phase(&f, "tcp_down", ".connect", false, false);
    CHECK_INT_EQ(counters(&f, 0).state, AGENT_PROBE_UP);
    CHECK(counters(&f, 1).results[AGENT_PROBE_FAIL_CONNECT] >= 1);
    fixture_close(&f);
    close(refused_fd);
    MHD_stop_daemon(d);
}

/* A target that is not an address literal goes through uv_getaddrinfo and gets a .dns phase.
 * "127.1" is such a name (inet_pton rejects it) that getaddrinfo resolves to 127.0.0.1 by
 * itself, so the test needs no resolver and never leaves loopback. */
static void test_tcp_resolved(void)
{
    int port;
    struct MHD_Daemon *d = server_start(NULL, NULL, &port);
    char target[64];
    snprintf(target, sizeof target, "127.1:%d", port);
    struct fixture f;
    fixture_init(&f);
    fixture_add(&f, (struct agent_probe_config){.sli = "tcp_named",
                                                .kind = AGENT_PROBE_TCP,
                                                .target = target,
                                                .interval = 1,
                                                .timeout = 0.8});
    f.want[f.n_want++] = "tcp_named";
    CHECK_OK(agent_probe_set_start(f.set));
    fixture_run(&f, 1, 5000);
    check_main(&f, "tcp_named", true, 0.8);
    check_phase(&f, "tcp_named", ".dns", true, true);
    check_phase(&f, "tcp_named", ".connect", true, true);
    CHECK(find(&f, "tcp_named.dns")->latency + find(&f, "tcp_named.connect")->latency <=
          find(&f, "tcp_named")->latency + 1e-6);
    fixture_close(&f);
    MHD_stop_daemon(d);
}

/* ---- lifecycle ---- */

static void on_poll_started(uv_timer_t *t)
{
    struct fixture *f = t->data;
    struct agent_probe_counters k;
    CHECK_OK(agent_probe_set_counters(f->set, 0, &k));
    if (k.started > 0)
        uv_stop(&f->loop);
}

/* Closing with a transfer in flight abandons it: no event, every handle closed. */
static void test_close_during_run(void)
{
    int port;
    struct MHD_Daemon *d = server_start(NULL, NULL, &port);
    char url[64], tcp[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", port);
    snprintf(tcp, sizeof tcp, "127.0.0.1:%d", port);
    struct fixture f;
    fixture_init(&f);
    fixture_add(&f, http_probe("web_slow", url, 1, 0.9));
    fixture_add(&f, (struct agent_probe_config){
                        .sli = "tcp_up", .kind = AGENT_PROBE_TCP, .target = tcp, .interval = 1});
    CHECK_OK(agent_probe_set_start(f.set));
    uv_timer_t poll;
    uv_timer_init(&f.loop, &poll);
    poll.data = &f;
    uv_timer_start(&poll, on_poll_started, 5, 5);
    uv_timer_start(&f.deadline, on_deadline, 3000, 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    CHECK(!f.timed_out);
    uv_close((uv_handle_t *)&poll, NULL);
    CHECK(count(&f, "web_slow") == 0);
    fixture_close(&f);
    CHECK(count(&f, "web_slow") == 0);
    MHD_stop_daemon(d);
}

static void test_close_unstarted(void)
{
    struct fixture f;
    fixture_init(&f);
    fixture_add(&f, http_probe("a", "http://127.0.0.1:1/", 10, 0));
    fixture_add(
        &f, (struct agent_probe_config){.sli = "b", .kind = AGENT_PROBE_TCP, .target = "[::1]:1"});
    fixture_close(&f);

    /* NULL is allowed and does nothing. */
    agent_probe_set_close(NULL, NULL, NULL);
}

static void on_flag(void *arg)
{
    *(bool *)arg = true;
}

/* Every allocation in create and add can fail: each failure is SLIC_ENOMEM, leaks nothing
 * (LeakSanitizer checks at exit) and leaves a set that still closes cleanly. */
static void test_alloc_failures(void)
{
    struct agent_sink sink = {.event = on_event, .ctx = NULL};
    bool completed = false;
    for (long n = 0; n < 40 && !completed; n++) {
        uv_loop_t loop;
        CHECK_OK(uv_loop_init(&loop));
        agent_probe_set *s = NULL;
        slic_alloc_fail_after(n);
        int rc = agent_probe_set_create(&loop, &sink, "node", &s, NULL);
        if (rc == 0) {
            struct agent_probe_config h = http_probe("h", "http://127.0.0.1:1/", 10, 0);
            h.body_match = "x";
            struct agent_probe_config t = {
                .sli = "t", .kind = AGENT_PROBE_TCP, .target = "127.0.0.1:1"};
            rc = agent_probe_set_add(s, &h, NULL);
            if (rc == 0)
                rc = agent_probe_set_add(s, &t, NULL);
            completed = rc == 0;
            bool closed = false;
            agent_probe_set_close(s, on_flag, &closed);
            slic_alloc_fail_after(-1);
            CHECK_INT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
            CHECK(closed);
        }
        slic_alloc_fail_after(-1);
        if (!completed)
            CHECK_ERR(rc, SLIC_ENOMEM);
        CHECK_INT_EQ(uv_loop_close(&loop), 0);
    }
    CHECK(completed);
}

/* ---- loop-free parts ---- */

static void test_status_codes(void)
{
    struct agent_probe_status s;
    CHECK_OK(agent_probe_status_parse("200", &s, NULL));
    CHECK(agent_probe_status_match(&s, 200) && !agent_probe_status_match(&s, 201));
    CHECK_OK(agent_probe_status_parse(" 2xx , 301-302,404 ", &s, NULL));
    CHECK_U64_EQ(s.n, 3);
    CHECK(agent_probe_status_match(&s, 200) && agent_probe_status_match(&s, 299));
    CHECK(agent_probe_status_match(&s, 302) && agent_probe_status_match(&s, 404));
    CHECK(!agent_probe_status_match(&s, 300) && !agent_probe_status_match(&s, 303));
    CHECK_OK(agent_probe_status_parse("5XX", &s, NULL));
    CHECK(agent_probe_status_match(&s, 503) && !agent_probe_status_match(&s, 600));

    struct agent_probe_status dflt = {0};
    CHECK(agent_probe_status_match(&dflt, 200) && agent_probe_status_match(&dflt, 399));
    CHECK(!agent_probe_status_match(&dflt, 199) && !agent_probe_status_match(&dflt, 400));

    const char *bad[] = {"",     "20",      "2000",    "600",
                         "099",  "6xx",     "2x",      "200-",
                         "-200", "300-200", "200,",    ",200",
                         "abc",  "200 201", "1xx-2xx", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct slic_errmsg err = {{0}};
        struct agent_probe_status before = s;
        if (agent_probe_status_parse(bad[i], &s, &err) != SLIC_EINVAL)
            harness_fail(__FILE__, __LINE__, "'%s' was accepted", bad[i]);
        CHECK(err.text[0] != '\0');
        CHECK(memcmp(&before, &s, sizeof s) == 0); /* out untouched on failure */
    }
    char buf[64];
    CHECK_OK(agent_probe_status_parse("2xx,404", &s, NULL));
    agent__probe_status_format(&s, buf, sizeof buf);
    CHECK_STR_EQ(buf, "200-299,404");
    agent__probe_status_format(&dflt, buf, sizeof buf);
    CHECK_STR_EQ(buf, "200-399");
}

static void check_config(const struct agent_probe_config *c, int want, const char *needle)
{
    struct slic_errmsg err = {{0}};
    int rc = agent_probe_config_validate(c, &err);
    if (rc != want)
        harness_fail(__FILE__, __LINE__, "validate %s (%s): %d, expected %d: %s",
                     c->sli ? c->sli : "(null)", c->target ? c->target : "(null)", rc, want,
                     err.text);
    if (needle && !strstr(err.text, needle))
        harness_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", err.text, needle);
}

static void test_config_validate(void)
{
    struct agent_probe_config c = http_probe("web", "https://example.com/x?y=1", 0, 0);
    check_config(&c, 0, NULL);
    c.interval = 2; /* the default timeout drops to half a short interval */
    check_config(&c, 0, NULL);
    uint64_t iv, to;
    agent__probe_durations_ms(&c, &iv, &to);
    CHECK_U64_EQ(iv, 2000);
    CHECK_U64_EQ(to, 1000);
    c.interval = 0;
    agent__probe_durations_ms(&c, &iv, &to);
    CHECK_U64_EQ(iv, 10000);
    CHECK_U64_EQ(to, 5000);

    c.timeout = 10; /* == interval */
    check_config(&c, SLIC_ECONFIG, "timeout");
    c.timeout = 0.0001;
    check_config(&c, SLIC_ECONFIG, "timeout");
    c.timeout = -1;
    check_config(&c, SLIC_ECONFIG, "timeout");
    c = http_probe("web", "https://example.com/", 0.05, 0.01);
    check_config(&c, SLIC_ECONFIG, "interval");
    c.interval = 1e9;
    check_config(&c, SLIC_ECONFIG, "interval");

    const char *bad_urls[] = {"ftp://example.com/", "example.com", "http://", "http://a b/", ""};
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        c = http_probe("web", bad_urls[i], 0, 0);
        check_config(&c, SLIC_ECONFIG, NULL);
    }
    c = http_probe("bad name", "http://example.com/", 0, 0);
    check_config(&c, SLIC_ECONFIG, "sli");
    char longname[SLIC_NAME_MAX + 1];
    memset(longname, 'a', sizeof longname - 1);
    longname[SLIC_NAME_MAX - AGENT_PROBE_SUFFIX_MAX] = '\0';
    c.sli = longname;
    check_config(&c, 0, NULL);
    longname[SLIC_NAME_MAX - AGENT_PROBE_SUFFIX_MAX] = 'a';
    longname[SLIC_NAME_MAX - AGENT_PROBE_SUFFIX_MAX + 1] = '\0';
    check_config(&c, SLIC_ECONFIG, "sli");

    c = http_probe("web", "http://example.com/", 0, 0);
    c.ca_file = "/nonexistent/ca.pem";
    check_config(&c, SLIC_ECONFIG, "ca_file");
    c.ca_file = NULL;
    c.status.n = 1;
    c.status.r[0] = (struct agent_probe_status_range){300, 200};
    check_config(&c, SLIC_ECONFIG, "status");
    c.status.n = 0;
    char big[AGENT_PROBE_BODY_MATCH_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    c.body_match = big;
    check_config(&c, SLIC_ECONFIG, "body");
    c.kind = (enum agent_probe_kind)9;
    c.body_match = NULL;
    check_config(&c, SLIC_ECONFIG, "kind");

    struct agent_probe_config t = {.sli = "db", .kind = AGENT_PROBE_TCP, .target = "db1:5432"};
    check_config(&t, 0, NULL);
    const char *good_targets[] = {"10.0.0.1:1", "[::1]:65535", "[fe80::1%eth0]:22", "a-b.c_d:80"};
    for (size_t i = 0; i < sizeof good_targets / sizeof good_targets[0]; i++) {
        t.target = good_targets[i];
        check_config(&t, 0, NULL);
    }
    const char *bad_targets[] = {"db1",           "db1:",   ":80",       "db1:0",
                                 "db1:65536",     "::1:80", "[::1]80",   "db 1:80",
                                 "http://db1:80", "db1:8o", "db1:000080"};
    for (size_t i = 0; i < sizeof bad_targets / sizeof bad_targets[0]; i++) {
        t.target = bad_targets[i];
        check_config(&t, SLIC_ECONFIG, "target");
    }
    t.target = "db1:5432";
    t.body_match = "x";
    check_config(&t, SLIC_ECONFIG, "http probes only");
}

static void test_schedule(void)
{
    /* Deterministic, within [0, interval/10) and below interval - timeout. */
    uint64_t a = agent_probe_jitter_ms("node-1", "web", "http://x/", 10000, 5000);
    CHECK_U64_EQ(a, agent_probe_jitter_ms("node-1", "web", "http://x/", 10000, 5000));
    CHECK(a < 1000);
    CHECK(agent_probe_jitter_ms("n", "web", "t", 10000, 9950) < 50);
    CHECK_U64_EQ(agent_probe_jitter_ms("n", "web", "t", 5, 4), 0);
    CHECK_U64_EQ(agent_probe_jitter_ms(NULL, "web", "t", 10000, 5000),
                 agent_probe_jitter_ms("", "web", "t", 10000, 5000));
    /* Different nodes spread the same probe: 100 nodes land on many distinct offsets. */
    bool seen[1000] = {false};
    unsigned distinct = 0;
    for (int i = 0; i < 100; i++) {
        char key[32];
        snprintf(key, sizeof key, "node-%d", i);
        uint64_t o = agent_probe_jitter_ms(key, "web", "http://x/", 10000, 5000);
        CHECK(o < 1000);
        distinct += !seen[o];
        seen[o] = true;
    }
    CHECK(distinct > 80);

    /* Slots sit at k * interval + offset, strictly after the given time. */
    CHECK_INT_EQ(agent_probe_next_slot_ms(0, 10000, 250), 250);
    CHECK_INT_EQ(agent_probe_next_slot_ms(249, 10000, 250), 250);
    CHECK_INT_EQ(agent_probe_next_slot_ms(250, 10000, 250), 10250);
    CHECK_INT_EQ(agent_probe_next_slot_ms(1764151200123, 10000, 250), 1764151200250);
    CHECK_INT_EQ(agent_probe_next_slot_ms(1764151200250, 10000, 250), 1764151210250);
    CHECK_INT_EQ(agent_probe_next_slot_ms(-1, 10000, 0), 0);

    CHECK_STR_EQ(agent_probe_result_name(AGENT_PROBE_OK), "ok");
    CHECK_STR_EQ(agent_probe_result_name(AGENT_PROBE_FAIL_TIMEOUT), "timeout");
    CHECK_STR_EQ(agent_probe_result_name(AGENT_PROBE_FAIL_OTHER), "other");
    CHECK_STR_EQ(agent_probe_result_name((enum agent_probe_result)99), "unknown");
}

HARNESS_CASES(HARNESS_CASE(test_status_codes), HARNESS_CASE(test_config_validate),
              HARNESS_CASE(test_schedule), HARNESS_CASE(test_http_outcomes),
              HARNESS_CASE(test_http_timeout), HARNESS_CASE(test_http_repeats),
              HARNESS_CASE(test_http_state_changes), HARNESS_CASE(test_https),
              HARNESS_CASE(test_tcp), HARNESS_CASE(test_tcp_resolved),
              HARNESS_CASE(test_close_during_run), HARNESS_CASE(test_close_unstarted),
              HARNESS_CASE(test_alloc_failures));

HARNESS_MAIN()
