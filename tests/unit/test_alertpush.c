/* Tests of aggregator/alertpush*.c. The JSON (agg_alertpush_render) byte for byte for one
 * alert, then piece by piece: escaping of names that need it, RFC 3339 times and the endsAt
 * rules, optional fields, refusals and allocation failures; every rendering is also checked to
 * be valid JSON with common/jsonscan. Then the pusher against a real libmicrohttpd server on
 * 127.0.0.1 counting POSTs: changes go out at once and unchanged sets do not, firing alerts are
 * re-sent, resolved ones sent a few times then forgotten, a vanished alert is resolved, a
 * refused post or a dead receiver is counted and retried until it recovers, and destroy returns
 * at once while a post hangs. Option checks at create complete it. */
#include "harness.h"

#include "alertpush.h"
#include "alloc.h"
#include "err.h"
#include "jsonscan.h"
#include "reply_json.h"
#include "timeutil.h"

#include <arpa/inet.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NOW INT64_C(1795688400) /* 2026-11-26T10:20:00Z */

static const struct agg_alertpush_alert base = {
    .slo = "checkout",
    .site = "eu-zrh",
    .severity = "page",
    .long_window_s = 3600,
    .short_window_s = 300,
    .long_rate = 15.2,
    .short_rate = 16.125,
    .threshold = 14.4,
    .budget_remaining = 0.425,
    .runbook_url = "https://runbooks.example/checkout",
    .state = AGG_ALERTPUSH_FIRING,
    .starts_at = NOW - 600,
};

static struct agg_alertpush_options opts_plain(void)
{
    struct agg_alertpush_options o;
    agg_alertpush_options_default(&o);
    return o;
}

/* Checks that text is a JSON array of objects, each valid per RFC 8259; returns how many. */
static size_t json_array_count(const char *text)
{
    struct slic__cursor c = {text, text + strlen(text)};
    size_t n = 0;
    CHECK(*c.p == '[');
    c.p++;
    slic__json_ws(&c);
    if (*c.p == ']')
        return 0;
    for (;;) {
        CHECK(slic__json_object(&c, 1, NULL, 0));
        n++;
        if (*c.p == ']')
            break;
        CHECK(*c.p == ',');
        c.p++;
    }
    CHECK(c.p + 1 == c.end);
    return n;
}

/* Renders n alerts at NOW into a fresh string (caller frees), checking the JSON. */
static char *render(const struct agg_alertpush_options *o, const struct agg_alertpush_alert *a,
                    size_t n)
{
    struct agg__buf b = {0};
    CHECK_OK(agg_alertpush_render(&b, o, a, n, NOW));
    CHECK_INT_EQ(json_array_count((const char *)b.p), n);
    return (char *)b.p;
}

static void check_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        harness_fail(__FILE__, __LINE__, "\"%s\" not found in %s", needle, hay);
}

static void check_lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle))
        harness_fail(__FILE__, __LINE__, "\"%s\" found in %s", needle, hay);
}

/* ---- rendering ----------------------------------------------------------------------------- */

static void test_render_exact(void)
{
    struct slic_label labels[] = {{"region", "eu-central"}};
    struct agg_alertpush_options o = opts_plain();
    o.labels = labels;
    o.n_labels = 1;
    o.generator_url = "http://127.0.0.1:8080/api/v1/slos/";
    char *s = render(&o, &base, 1);
    CHECK_STR_EQ(s, "[{\"labels\":{\"alertname\":\"SLOBurnRate\",\"slo\":\"checkout\","
                    "\"site\":\"eu-zrh\",\"severity\":\"page\",\"long_window\":\"1h\","
                    "\"short_window\":\"5m\",\"region\":\"eu-central\"},"
                    "\"annotations\":{\"summary\":\"SLO checkout at eu-zrh is burning its error "
                    "budget 15.2x too fast (page)\",\"description\":\"Burn rate 15.2x over 1h "
                    "and 16.12x over 5m, against a threshold of 14.4x; 42.5% of the error budget "
                    "remains.\",\"burn_rate\":\"15.2\",\"burn_rate_short\":\"16.12\","
                    "\"threshold\":\"14.4\",\"budget_remaining\":\"42.5%\","
                    "\"runbook_url\":\"https://runbooks.example/checkout\"},"
                    "\"startsAt\":\"2026-11-26T10:10:00Z\",\"endsAt\":\"2026-11-26T10:23:00Z\","
                    "\"generatorURL\":\"http://127.0.0.1:8080/api/v1/slos/checkout\"}]");
    free(s);
}

static void test_render_escaping(void)
{
    struct agg_alertpush_alert a = base;
    a.slo = "we\"ird\\slo\n\t\x01\x7f\xc3\xbc\xf0\x9f\x94\xa5\xff end";
    a.site = "site \"q\"";
    a.runbook_url = "https://x/?a=1&b=\"2\"";
    struct agg_alertpush_options o = opts_plain();
    o.generator_url = "http://h/slos/";
    struct slic_label labels[] = {{"team", "a\"b\\c"}};
    o.labels = labels;
    o.n_labels = 1;
    char *s = render(&o, &a, 1);
    /* Quotes, backslashes and controls escaped; valid UTF-8 kept; invalid bytes as U+FFFD. */
    check_contains(s, "\"slo\":\"we\\\"ird\\\\slo\\n\\t\\u0001\\u007f\xc3\xbc\xf0\x9f\x94\xa5"
                      "\\ufffd end\"");
    check_contains(s, "\"site\":\"site \\\"q\\\"\"");
    check_contains(s, "\"team\":\"a\\\"b\\\\c\"");
    check_contains(s, "\"runbook_url\":\"https://x/?a=1&b=\\\"2\\\"\"");
    check_contains(s, "\"summary\":\"SLO we\\\"ird\\\\slo\\n");
    /* The generator URL percent-encodes every byte but the unreserved ones. */
    check_contains(s, "\"generatorURL\":\"http://h/slos/we%22ird%5Cslo%0A%09%01%7F%C3%BC"
                      "%F0%9F%94%A5%FF%20end\"");
    free(s);
}

static void test_render_times(void)
{
    struct agg_alertpush_options o = opts_plain();
    struct agg_alertpush_alert a = base;

    /* Firing: endsAt is 3 resend intervals ahead, rounded up to whole seconds. */
    o.resend_interval_s = 0.5;
    char *s = render(&o, &a, 1);
    check_contains(s, "\"startsAt\":\"2026-11-26T10:10:00Z\",\"endsAt\":\"2026-11-26T10:20:02Z\"");
    free(s);

    /* Unknown start: now. */
    o.resend_interval_s = 60;
    a.starts_at = 0;
    s = render(&o, &a, 1);
    check_contains(s, "\"startsAt\":\"2026-11-26T10:20:00Z\",\"endsAt\":\"2026-11-26T10:23:00Z\"");
    free(s);

    /* Resolved: endsAt is the resolution, now when unknown. */
    a = base;
    a.state = AGG_ALERTPUSH_RESOLVED;
    a.ends_at = NOW - 5;
    s = render(&o, &a, 1);
    check_contains(s, "\"startsAt\":\"2026-11-26T10:10:00Z\",\"endsAt\":\"2026-11-26T10:19:55Z\"");
    free(s);
    a.ends_at = 0;
    s = render(&o, &a, 1);
    check_contains(s, "\"endsAt\":\"2026-11-26T10:20:00Z\"");
    free(s);

    /* Never an end before the start (Alertmanager refuses it): a resolution stamped before its
     * start, and a firing alert whose start is further ahead than its time to live. */
    a.ends_at = NOW - 700;
    s = render(&o, &a, 1);
    check_contains(s, "\"startsAt\":\"2026-11-26T10:10:00Z\",\"endsAt\":\"2026-11-26T10:10:00Z\"");
    free(s);
    a = base;
    a.starts_at = NOW + 3600;
    s = render(&o, &a, 1);
    check_contains(s, "\"startsAt\":\"2026-11-26T11:20:00Z\",\"endsAt\":\"2026-11-26T11:20:00Z\"");
    free(s);
}

static void test_render_optional_fields(void)
{
    struct agg_alertpush_options o = opts_plain();
    struct agg_alertpush_alert a = base;
    a.site = NULL;
    a.runbook_url = "";
    char *s = render(&o, &a, 1);
    check_lacks(s, "\"site\"");
    check_lacks(s, "runbook_url");
    check_lacks(s, "generatorURL");
    check_contains(s, "\"summary\":\"SLO checkout is burning");
    free(s);
    a.site = "";
    a.runbook_url = NULL;
    s = render(&o, &a, 1);
    check_lacks(s, "\"site\"");
    check_lacks(s, "runbook_url");
    free(s);
}

static void test_render_numbers(void)
{
    struct agg_alertpush_options o = opts_plain();
    struct agg_alertpush_alert a = base;
    a.long_rate = NAN;
    a.short_rate = INFINITY;
    a.budget_remaining = -0.125;
    a.long_window_s = 90;
    a.short_window_s = 7.5;
    char *s = render(&o, &a, 1);
    check_contains(s, "\"burn_rate\":\"unknown\",\"burn_rate_short\":\"unknown\"");
    check_contains(s, "\"budget_remaining\":\"-12.5%\"");
    check_contains(s, "\"long_window\":\"90s\",\"short_window\":\"7500ms\"");
    free(s);
}

static void test_render_many_and_empty(void)
{
    struct agg_alertpush_options o = opts_plain();
    struct agg_alertpush_alert a[3] = {base, base, base};
    a[1].severity = "ticket";
    a[2].state = AGG_ALERTPUSH_RESOLVED;
    char *s = render(&o, a, 3);
    check_contains(s, "\"severity\":\"ticket\"");
    free(s);
    s = render(&o, a, 0);
    CHECK_STR_EQ(s, "[]");
    free(s);
}

static void test_render_refuses(void)
{
    struct agg_alertpush_options o = opts_plain();
    struct agg_alertpush_alert bad[9];
    for (size_t i = 0; i < 9; i++)
        bad[i] = base;
    bad[0].slo = NULL;
    bad[1].slo = "";
    bad[2].severity = NULL;
    bad[3].state = 0;
    bad[4].long_window_s = 0;
    bad[5].short_window_s = NAN;
    bad[6].long_window_s = -60;
    bad[7].starts_at = SLIC_TIME_MAX + 1;
    bad[8].ends_at = SLIC_TIME_MAX + 1;
    struct agg__buf b = {0};
    CHECK_OK(agg__buf_puts(&b, "kept"));
    for (size_t i = 0; i < 9; i++) {
        struct agg_alertpush_alert two[2] = {base, bad[i]};
        CHECK_ERR(agg_alertpush_render(&b, &o, two, 2, NOW), SLIC_EINVAL);
        CHECK_ERR(agg_alertpush_alert_check(&bad[i]), SLIC_EINVAL);
        CHECK_STR_EQ((const char *)b.p, "kept"); /* nothing written */
    }
    /* A firing alert's endsAt must stay within RFC 3339's years. */
    CHECK_ERR(agg_alertpush_render(&b, &o, &base, 1, SLIC_TIME_MAX - 10), SLIC_EINVAL);
    agg__buf_fini(&b);
}

static void test_render_enomem(void)
{
    struct agg_alertpush_options o = opts_plain();
    o.generator_url = "http://h/";
    int failures = 0;
    for (long n = 0;; n++) {
        struct agg__buf b = {0};
        slic_alloc_fail_after(n);
        int rc = agg_alertpush_render(&b, &o, &base, 1, NOW);
        slic_alloc_fail_after(-1);
        agg__buf_fini(&b);
        if (rc == 0)
            break;
        CHECK_ERR(rc, SLIC_ENOMEM);
        failures++;
    }
    CHECK(failures > 0);
}

/* ---- a local receiver ---------------------------------------------------------------------- */

struct receiver {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    unsigned status; /* what to answer */
    unsigned posts;
    char last[8192];
    unsigned resolved_posts; /* bodies holding an alert with a rate of 0.5 (resolved here) */
};

static struct receiver rx = {.mu = PTHREAD_MUTEX_INITIALIZER, .status = 200};

struct upload {
    char data[8192];
    size_t len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version;
    struct upload *u = *state;
    if (!u) {
        *state = calloc(1, sizeof *u);
        return *state ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        size_t n =
            *upload_size < sizeof u->data - 1 - u->len ? *upload_size : sizeof u->data - 1 - u->len;
        memcpy(u->data + u->len, upload, n);
        u->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&rx.mu);
    rx.posts++;
    memcpy(rx.last, u->data, u->len + 1);
    if (strstr(u->data, "\"burn_rate_short\":\"0.5\""))
        rx.resolved_posts++;
    unsigned status = rx.status;
    pthread_mutex_unlock(&rx.mu);
    free(u);
    *state = NULL;
    static const char body[] = "{\"error\":\"refused\\n on purpose\"}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Starts the receiver on listen_fd (a socket bound to 127.0.0.1), or on a port of its own. */
static void rx_start(int listen_fd)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    if (listen_fd >= 0)
        rx.d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET,
                                listen_fd, MHD_OPTION_END);
    else
        rx.d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sin,
                                MHD_OPTION_END);
    CHECK(rx.d != NULL);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(rx.d, MHD_DAEMON_INFO_BIND_PORT);
    CHECK(info != NULL && info->port != 0);
    rx.port = info->port;
}

static unsigned rx_posts(void)
{
    pthread_mutex_lock(&rx.mu);
    unsigned n = rx.posts;
    pthread_mutex_unlock(&rx.mu);
    return n;
}

static void rx_last(char *out, size_t n)
{
    pthread_mutex_lock(&rx.mu);
    snprintf(out, n, "%s", rx.last);
    pthread_mutex_unlock(&rx.mu);
}

/* A socket bound to a free port on 127.0.0.1, not listening: connections are refused. */
static int bound_socket(int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    CHECK_INT_EQ(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    CHECK_INT_EQ(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

static double mono_s(void)
{
    return (double)slic_now_mono_ns() / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Waits up to `secs` for the receiver to have seen at least n posts. */
static void wait_posts(unsigned n, double secs)
{
    double end = mono_s() + secs;
    while (rx_posts() < n && mono_s() < end)
        sleep_s(0.01);
    if (rx_posts() < n)
        harness_fail(__FILE__, __LINE__, "%u posts after %g s, expected %u", rx_posts(), secs, n);
}

static agg_alertpush *pusher(const char *url, enum agg_alertpush_kind kind, double resend)
{
    struct agg_alertpush_target t = {kind, url};
    struct agg_alertpush_options o = opts_plain();
    o.targets = &t;
    o.n_targets = 1;
    o.resend_interval_s = resend;
    o.timeout_s = 2;
    agg_alertpush *p = NULL;
    struct slic_errmsg err = {{0}};
    CHECK_OK(agg_alertpush_create(&o, &p, &err));
    return p;
}

static struct agg_alertpush_stats stats0(agg_alertpush *p)
{
    struct agg_alertpush_stats st;
    CHECK_OK(agg_alertpush_stats(p, 0, &st));
    return st;
}

/* ---- the pusher ---------------------------------------------------------------------------- */

static void test_push_changes_only(void)
{
    rx_start(-1);
    char url[64], want[80], last[8192];
    snprintf(url, sizeof url, "http://127.0.0.1:%d//", rx.port);
    snprintf(want, sizeof want, "http://127.0.0.1:%d/api/v2/alerts", rx.port);
    agg_alertpush *p = pusher(url, AGG_ALERTPUSH_ALERTMANAGER, 60);
    CHECK_STR_EQ(stats0(p).url, want);
    CHECK_OK(agg_alertpush_update(p, NULL, 0));
    sleep_s(0.2);
    CHECK_INT_EQ(rx_posts(), 0); /* nothing to say: nothing posted */

    struct agg_alertpush_alert a = base;
    double t0 = mono_s();
    CHECK_OK(agg_alertpush_update(p, &a, 1));
    wait_posts(1, 2);
    CHECK(mono_s() - t0 < 1); /* at once, not at the 60 s resend */
    rx_last(last, sizeof last);
    check_contains(last, "\"slo\":\"checkout\"");

    /* The same set again, with new rates: no post until the resend interval. */
    for (int i = 0; i < 10; i++) {
        a.long_rate = 16 + i;
        CHECK_OK(agg_alertpush_update(p, &a, 1));
        sleep_s(0.02);
    }
    sleep_s(0.2);
    CHECK_INT_EQ(rx_posts(), 1);

    /* Fires again (a new start): posted at once. */
    a.starts_at += 60;
    CHECK_OK(agg_alertpush_update(p, &a, 1));
    wait_posts(2, 2);

    /* Resolved: posted at once with its end and the latest numbers. */
    a.state = AGG_ALERTPUSH_RESOLVED;
    a.ends_at = NOW;
    a.short_rate = 0.5;
    CHECK_OK(agg_alertpush_update(p, &a, 1));
    wait_posts(3, 2);
    rx_last(last, sizeof last);
    check_contains(last, "\"endsAt\":\"2026-11-26T10:20:00Z\"");
    check_contains(last, "\"burn_rate_short\":\"0.5\"");
    struct agg_alertpush_stats st = stats0(p);
    CHECK_U64_EQ(st.sent, 3);
    CHECK_U64_EQ(st.failed, 0);
    CHECK(!st.failing);
    CHECK(st.last_success_ms > 0);
    CHECK_ERR(agg_alertpush_stats(p, 1, &st), SLIC_EINVAL);
    CHECK_INT_EQ(agg_alertpush_target_count(p), 1);
    agg_alertpush_destroy(p);
    MHD_stop_daemon(rx.d);
}

static void test_push_resend_and_forget(void)
{
    rx_start(-1);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", rx.port);
    /* Long enough that a loaded machine still makes the three resolved sends (at 0, 0.5 and
     * 1 s) before the 1.5 s after which a resolution is dropped anyway. */
    agg_alertpush *p = pusher(url, AGG_ALERTPUSH_WEBHOOK, 0.5);
    CHECK_STR_EQ(stats0(p).url, url); /* webhooks are posted to as given */
    struct agg_alertpush_alert a = base;
    CHECK_OK(agg_alertpush_update(p, &a, 1));
    wait_posts(3, 3); /* the first, then every 0.5 s */

    /* Resolved: sent AGG_ALERTPUSH_RESOLVED_SENDS times, then no more though the engine keeps
     * reporting it. */
    a.state = AGG_ALERTPUSH_RESOLVED;
    a.ends_at = NOW;
    a.short_rate = 0.5;
    for (int i = 0; i < 40; i++) {
        CHECK_OK(agg_alertpush_update(p, &a, 1));
        sleep_s(0.05);
    }
    pthread_mutex_lock(&rx.mu);
    unsigned resolved = rx.resolved_posts;
    pthread_mutex_unlock(&rx.mu);
    CHECK_INT_EQ(resolved, AGG_ALERTPUSH_RESOLVED_SENDS);
    unsigned posts = rx_posts();
    sleep_s(1.2);
    CHECK_INT_EQ(rx_posts(), posts);
    agg_alertpush_destroy(p);
    MHD_stop_daemon(rx.d);
}

static void test_push_vanished_and_first_seen(void)
{
    rx_start(-1);
    char url[64], last[8192];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", rx.port);
    agg_alertpush *p = pusher(url, AGG_ALERTPUSH_ALERTMANAGER, 60);
    struct agg_alertpush_alert a = base;
    CHECK_OK(agg_alertpush_update(p, &a, 1));
    wait_posts(1, 2);
    /* Its SLO removed: the alert leaves the set and is posted resolved as of now. */
    int64_t before = slic_now_unix_ms() / 1000;
    CHECK_OK(agg_alertpush_update(p, NULL, 0));
    wait_posts(2, 2);
    rx_last(last, sizeof last);
    char *ends = strstr(last, "\"endsAt\":\"");
    CHECK(ends != NULL);
    int64_t t = 0;
    char stamp[SLIC_RFC3339_LEN] = {0};
    memcpy(stamp, ends + 10, SLIC_RFC3339_LEN - 1);
    CHECK_OK(slic_rfc3339_parse(stamp, &t));
    CHECK(t >= before && t <= before + 2);

    /* Resolved long ago, first seen now (a restart or reload): not worth a post. */
    struct agg_alertpush_alert old = base;
    old.slo = "old";
    old.state = AGG_ALERTPUSH_RESOLVED;
    old.ends_at = before - 3600;
    CHECK_OK(agg_alertpush_update(p, &old, 1));
    sleep_s(0.3);
    CHECK_INT_EQ(rx_posts(), 2);
    /* Resolved a moment ago: an Alertmanager may still hold it firing, so it is posted. */
    old.slo = "recent";
    old.ends_at = before - 5;
    CHECK_OK(agg_alertpush_update(p, &old, 1));
    wait_posts(3, 2);
    rx_last(last, sizeof last);
    check_contains(last, "\"slo\":\"recent\"");
    check_lacks(last, "\"slo\":\"old\"");
    agg_alertpush_destroy(p);
    MHD_stop_daemon(rx.d);
}

static void test_push_refused_is_retried(void)
{
    rx_start(-1);
    rx.status = 400;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", rx.port);
    agg_alertpush *p = pusher(url, AGG_ALERTPUSH_ALERTMANAGER, 60);
    CHECK_OK(agg_alertpush_update(p, &base, 1));
    wait_posts(1, 2);
    sleep_s(0.1);
    struct agg_alertpush_stats st = stats0(p);
    CHECK_U64_EQ(st.failed, 1);
    CHECK(st.failing);
    /* Retried after the backoff (1 s), not at the resend interval. */
    pthread_mutex_lock(&rx.mu);
    rx.status = 200;
    pthread_mutex_unlock(&rx.mu);
    wait_posts(2, 3);
    sleep_s(0.1);
    st = stats0(p);
    CHECK_U64_EQ(st.sent, 1);
    CHECK(!st.failing);
    agg_alertpush_destroy(p);
    MHD_stop_daemon(rx.d);
    rx.status = 200;
}

static void test_push_dead_then_up(void)
{
    int port;
    int fd = bound_socket(&port);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    agg_alertpush *p = pusher(url, AGG_ALERTPUSH_ALERTMANAGER, 60);
    CHECK_OK(agg_alertpush_update(p, &base, 1));
    double end = mono_s() + 3;
    while (stats0(p).failed < 1 && mono_s() < end)
        sleep_s(0.01);
    CHECK(stats0(p).failing);
    /* The receiver comes up on that port: the next retry delivers. */
    CHECK_INT_EQ(listen(fd, 16), 0);
    rx_start(fd);
    wait_posts(1, 4);
    sleep_s(0.1);
    CHECK(!stats0(p).failing);
    CHECK_U64_EQ(stats0(p).sent, 1);
    agg_alertpush_destroy(p);
    MHD_stop_daemon(rx.d);
    close(fd);
}

/* A receiver that accepts connections (the kernel's backlog does) but never answers. */
static void test_destroy_aborts_post_in_flight(void)
{
    int port;
    int fd = bound_socket(&port);
    CHECK_INT_EQ(listen(fd, 16), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    struct agg_alertpush_target t = {AGG_ALERTPUSH_ALERTMANAGER, url};
    struct agg_alertpush_options o = opts_plain();
    o.targets = &t;
    o.n_targets = 1;
    o.timeout_s = 60;
    agg_alertpush *p = NULL;
    CHECK_OK(agg_alertpush_create(&o, &p, NULL));
    CHECK_OK(agg_alertpush_update(p, &base, 1));
    sleep_s(0.3);
    double t0 = mono_s();
    agg_alertpush_destroy(p);
    CHECK(mono_s() - t0 < 0.5);
    close(fd);
}

/* ---- options ------------------------------------------------------------------------------- */

static void test_create_checks_options(void)
{
    struct agg_alertpush_target good = {AGG_ALERTPUSH_WEBHOOK, "http://127.0.0.1:1/h"};
    struct agg_alertpush_target bad_targets[] = {
        {AGG_ALERTPUSH_WEBHOOK, "ftp://127.0.0.1/"},
        {AGG_ALERTPUSH_WEBHOOK, "not a url"},
        {AGG_ALERTPUSH_WEBHOOK, NULL},
        {0, "http://127.0.0.1:1/"},
    };
    struct slic_errmsg err = {{0}};
    agg_alertpush *p = NULL;
    struct agg_alertpush_options o = opts_plain();
    CHECK_ERR(agg_alertpush_create(&o, &p, &err), SLIC_ECONFIG); /* no targets */
    for (size_t i = 0; i < sizeof bad_targets / sizeof bad_targets[0]; i++) {
        o.targets = &bad_targets[i];
        o.n_targets = 1;
        CHECK_ERR(agg_alertpush_create(&o, &p, &err), SLIC_ECONFIG);
    }
    check_contains(err.text, "unknown kind");
    o.targets = &good;
    o.resend_interval_s = 0;
    CHECK_ERR(agg_alertpush_create(&o, &p, &err), SLIC_ECONFIG);
    o.resend_interval_s = 60;
    o.timeout_s = NAN;
    CHECK_ERR(agg_alertpush_create(&o, &p, &err), SLIC_ECONFIG);
    o.timeout_s = 5;

    const char *bad_names[] = {"slo", "site", "alertname", "__meta", "1abc", "a-b", "", "é"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        struct slic_label l = {(char *)bad_names[i], "v"};
        o.labels = &l;
        o.n_labels = 1;
        CHECK_ERR(agg_alertpush_create(&o, &p, &err), SLIC_ECONFIG);
    }
    struct slic_label twice[] = {{"region", "a"}, {"region", "b"}};
    o.labels = twice;
    o.n_labels = 2;
    CHECK_ERR(agg_alertpush_create(&o, &p, &err), SLIC_ECONFIG);
    check_contains(err.text, "'region' given twice");

    struct slic_label fine[] = {{"region", "a"}, {"_team", "b"}};
    o.labels = fine;
    CHECK_OK(agg_alertpush_create(&o, &p, &err));
    CHECK_ERR(agg_alertpush_update(p, &(struct agg_alertpush_alert){.slo = "x"}, 1), SLIC_EINVAL);
    agg_alertpush_destroy(p);
    agg_alertpush_destroy(NULL);
}

/* Logs and metrics show target URLs without credentials; posts still carry them. */
static void test_stats_url_hides_credentials(void)
{
    struct agg_alertpush_target t[] = {
        {AGG_ALERTPUSH_ALERTMANAGER, "http://slic:s3cret@127.0.0.1:1/am/"},
        {AGG_ALERTPUSH_WEBHOOK, "https://token@127.0.0.1:1/hook?x=1"},
    };
    struct agg_alertpush_options o = opts_plain();
    o.targets = t;
    o.n_targets = 2;
    agg_alertpush *p = NULL;
    CHECK_OK(agg_alertpush_create(&o, &p, NULL));
    struct agg_alertpush_stats st;
    CHECK_OK(agg_alertpush_stats(p, 0, &st));
    CHECK_STR_EQ(st.url, "http://127.0.0.1:1/am/api/v2/alerts");
    CHECK_INT_EQ(st.kind, AGG_ALERTPUSH_ALERTMANAGER);
    CHECK_OK(agg_alertpush_stats(p, 1, &st));
    CHECK_STR_EQ(st.url, "https://127.0.0.1:1/hook?x=1");
    CHECK_INT_EQ(st.kind, AGG_ALERTPUSH_WEBHOOK);
    agg_alertpush_destroy(p);
}

/* Every allocation create and update make may fail: each is reported, nothing leaks. */
static void test_create_update_enomem(void)
{
    struct agg_alertpush_target t = {AGG_ALERTPUSH_WEBHOOK, "http://127.0.0.1:1/h"};
    struct slic_label l = {"region", "eu"};
    struct agg_alertpush_options o = opts_plain();
    o.targets = &t;
    o.n_targets = 1;
    o.labels = &l;
    o.n_labels = 1;
    o.generator_url = "http://h/";
    long n = 0;
    for (;; n++) {
        agg_alertpush *p = NULL;
        slic_alloc_fail_after(n);
        int rc = agg_alertpush_create(&o, &p, NULL);
        int urc = rc == 0 ? agg_alertpush_update(p, &base, 1) : 0;
        slic_alloc_fail_after(-1);
        agg_alertpush_destroy(p);
        if (rc == 0 && urc == 0)
            break;
        CHECK_ERR(rc ? rc : urc, SLIC_ENOMEM);
    }
    /* The pusher, 3 option copies, target URL, entry array and 3 entry strings at least. */
    CHECK(n >= 9);
}

HARNESS_CASES(HARNESS_CASE(test_render_exact), HARNESS_CASE(test_render_escaping),
              HARNESS_CASE(test_render_times), HARNESS_CASE(test_render_optional_fields),
              HARNESS_CASE(test_render_numbers), HARNESS_CASE(test_render_many_and_empty),
              HARNESS_CASE(test_render_refuses), HARNESS_CASE(test_render_enomem),
              HARNESS_CASE(test_push_changes_only), HARNESS_CASE(test_push_resend_and_forget),
              HARNESS_CASE(test_push_vanished_and_first_seen),
              HARNESS_CASE(test_push_refused_is_retried), HARNESS_CASE(test_push_dead_then_up),
              HARNESS_CASE(test_destroy_aborts_post_in_flight),
              HARNESS_CASE(test_create_checks_options),
              HARNESS_CASE(test_stats_url_hides_credentials),
              HARNESS_CASE(test_create_update_enomem));
HARNESS_MAIN()
