/* Tests of the aggregator's HTTP side: the Prometheus text helpers (aggregator/http_prom.c), the
 * shared JSON rendering (aggregator/reply_json.c), listen-address parsing, and a real daemon on
 * 127.0.0.1 (port 0) over a temp-dir store, asked with libcurl.
 *
 *   prom_family_and_samples     HELP/TYPE lines, labels, value forms, u64 beyond 2^53
 *   prom_label_escaping         odd SLI names and label values escape as the format says
 *   prom_rejects_bad_names      invalid metric/label names and types: SLIC_EINVAL, page unchanged
 *   json_string_escaping        quotes, controls and invalid UTF-8
 *   json_sli_object             a hand-built SliResult renders as `slic query --json` prints it
 *   addr_parse                  IPv4, [IPv6], ports; host names and junk refused
 *   server_routes               healthz, metrics, query errors, slos without hooks, 404, 405
 *   server_hooks                SLO hooks answer /api/v1/slos and extend /metrics; a failing
 *                               metrics hook is cut off and counted
 *   server_burndown             /api/v1/slos/NAME/burndown reaches its hook with site and points
 *                               (defaults "*" and 120); bad parameters are 400s naming them
 *   server_dashboard            / and /dashboard serve the page as HTML with a strict CSP and
 *                               no-cache; HEAD has no body; other paths under it are 404
 *   server_drain                after agg_http_drain /healthz is 503 and the writer is let go
 *   server_bind_failure         a port in use: SLIC_ECONFIG naming the address
 *   metrics_alloc_failures      every allocation failure gives a 500, never a broken page */
#include "harness.h"

#include "alloc.h"
#include "http.h"
#include "reply_json.h"
#include "stats.h"
#include "store.h"
#include "writer.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- Prometheus text ----------------------------------------------------------------------- */

static void test_prom_family_and_samples(void)
{
    struct agg__buf b = {0};
    struct slic_label l[2] = {{"result", "accepted"}, {"site", "eu"}};
    CHECK_OK(agg_http_prom_family(&b, "slic_x_total", "counter", "Things.\nMore \\ things."));
    CHECK_OK(agg_http_prom_sample_u64(&b, "slic_x_total", l, 2, UINT64_MAX));
    CHECK_OK(agg_http_prom_family(&b, "slic_y_seconds", "gauge", "Y."));
    CHECK_OK(agg_http_prom_sample(&b, "slic_y_seconds", NULL, 0, 0.1));
    CHECK_OK(agg_http_prom_sample(&b, "slic_y_seconds", l, 1, NAN));
    CHECK_OK(agg_http_prom_sample(&b, "slic_y_seconds", l + 1, 1, -INFINITY));
    CHECK_OK(agg_http_prom_sample(&b, "slic_y_seconds", l, 2, INFINITY));
    CHECK_STR_EQ((char *)b.p, "# HELP slic_x_total Things.\\nMore \\\\ things.\n"
                              "# TYPE slic_x_total counter\n"
                              "slic_x_total{result=\"accepted\",site=\"eu\"} 18446744073709551615\n"
                              "# HELP slic_y_seconds Y.\n"
                              "# TYPE slic_y_seconds gauge\n"
                              "slic_y_seconds 0.1\n"
                              "slic_y_seconds{result=\"accepted\"} NaN\n"
                              "slic_y_seconds{site=\"eu\"} -Inf\n"
                              "slic_y_seconds{result=\"accepted\",site=\"eu\"} +Inf\n");
    agg__buf_fini(&b);
}

static void test_prom_label_escaping(void)
{
    static const struct {
        const char *value, *want;
    } cases[] = {
        {"checkout.v2:pay-eu_1", "checkout.v2:pay-eu_1"}, /* every SLI name character as is */
        {"a\"b", "a\\\"b"},
        {"back\\slash", "back\\\\slash"},
        {"two\nlines", "two\\nlines"},
        {"tab\there", "tab\there"}, /* only \\, \" and \n are escaped */
        {"caf\xc3\xa9", "caf\xc3\xa9"},
        {"bad\xff", "bad\xef\xbf\xbd"},                 /* invalid UTF-8 becomes U+FFFD */
        {"cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd"}, /* a truncated sequence, byte by byte */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct agg__buf b = {0};
        struct slic_label l = {"sli", (char *)cases[i].value};
        char want[128];
        CHECK_OK(agg_http_prom_sample_u64(&b, "m", &l, 1, 7));
        snprintf(want, sizeof want, "m{sli=\"%s\"} 7\n", cases[i].want);
        if (strcmp((char *)b.p, want) != 0)
            harness_fail(__FILE__, __LINE__, "case %zu: got %s, want %s", i, (char *)b.p, want);
        agg__buf_fini(&b);
    }
}

static void test_prom_rejects_bad_names(void)
{
    struct agg__buf b = {0};
    CHECK_OK(agg__buf_puts(&b, "kept\n"));
    struct slic_label bad_key = {"9lives", "x"}, reserved = {"__name__", "x"};
    struct slic_label dotted = {"a.b", "x"}, no_value = {"k", NULL};
    CHECK_ERR(agg_http_prom_family(&b, "slic_x", "counter", "no _total"), SLIC_EINVAL);
    CHECK_ERR(agg_http_prom_family(&b, "slic-x", "gauge", "dash"), SLIC_EINVAL);
    CHECK_ERR(agg_http_prom_family(&b, "1x", "gauge", "digit"), SLIC_EINVAL);
    CHECK_ERR(agg_http_prom_family(&b, "x", "histogram", "type"), SLIC_EINVAL);
    CHECK_ERR(agg_http_prom_family(&b, "", "gauge", "empty"), SLIC_EINVAL);
    CHECK_ERR(agg_http_prom_sample(&b, "x", &bad_key, 1, 1), SLIC_EINVAL);
    CHECK_ERR(agg_http_prom_sample(&b, "x", &reserved, 1, 1), SLIC_EINVAL);
    CHECK_ERR(agg_http_prom_sample(&b, "x", &dotted, 1, 1), SLIC_EINVAL);
    CHECK_ERR(agg_http_prom_sample(&b, "x", &no_value, 1, 1), SLIC_EINVAL);
    CHECK_ERR(agg_http_prom_sample(&b, "x y", NULL, 0, 1), SLIC_EINVAL);
    CHECK_OK(agg_http_prom_family(&b, "ns:sub_total", "counter", "Colons are allowed."));
    CHECK_STR_EQ((char *)b.p, "kept\n# HELP ns:sub_total Colons are allowed.\n"
                              "# TYPE ns:sub_total counter\n");
    agg__buf_fini(&b);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static void test_json_string_escaping(void)
{
    struct agg__buf b = {0};
    CHECK_OK(agg_json_string(&b, "q\"b\\s\n\t\x01\x7f caf\xc3\xa9 \xc0\xaf \xed\xa0\x80 \xf4\x90"));
    CHECK_STR_EQ((char *)b.p, "\"q\\\"b\\\\s\\n\\t\\u0001\\u007f caf\xc3\xa9 \\ufffd\\ufffd "
                              "\\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\"");
    agg__buf_fini(&b);
}

static void test_json_sli_object(void)
{
    Slic__QuantileValue q[2] = {SLIC__QUANTILE_VALUE__INIT, SLIC__QUANTILE_VALUE__INIT};
    Slic__QuantileValue *qp[2] = {&q[0], &q[1]};
    q[0].has_q = q[0].has_value = 1, q[0].q = 0.5, q[0].value = 0.1;
    q[1].has_q = 1, q[1].q = 0.999; /* no value */
    Slic__ThresholdFraction t = SLIC__THRESHOLD_FRACTION__INIT, *tp = &t;
    t.has_threshold = t.has_count_lower = t.has_count_upper = t.has_exact = 1;
    t.threshold = 0.3, t.count_lower = t.count_upper = 3, t.exact = 1;
    Slic__SliResult s = SLIC__SLI_RESULT__INIT;
    s.sli = "checkout";
    s.has_from = s.has_to = s.has_resolution_seconds = 1;
    s.from = 1764151200, s.to = 1764151260, s.resolution_seconds = 10;
    s.count = 4, s.good = 3, s.sum = 1.0, s.has_min = s.has_max = 1, s.min = 0.05, s.max = 0.5;
    s.n_quantiles = 2, s.quantiles = qp, s.n_thresholds = 1, s.thresholds = &tp;
    struct slic_label l = {"route", "/pay"};
    struct agg_reply_scope sc = {"eu", NULL, &l, 1};
    struct agg__buf b = {0};
    CHECK_OK(agg_reply_json_sli(&b, &s, &sc));
    CHECK_STR_EQ(
        (char *)b.p,
        "{\"sli\":\"checkout\",\"site\":\"eu\",\"node\":null,\"labels\":{\"route\":\"/pay\"},"
        "\"from\":\"2025-11-26T10:00:00Z\",\"from_unix\":1764151200,"
        "\"to\":\"2025-11-26T10:01:00Z\",\"to_unix\":1764151260,"
        "\"resolution_seconds\":10,\"count\":4,\"good\":3,\"good_ratio\":0.75,\"sum\":1,"
        "\"min\":0.05,\"max\":0.5,\"mean\":0.25,\"quantiles\":{\"0.5\":0.1,\"0.999\":null},"
        "\"under_threshold\":{\"0.3\":{\"lower\":0.75,\"upper\":0.75,\"count_lower\":3,"
        "\"count_upper\":3,\"exact\":true}},\"sketch_collapsed\":false}\n");
    agg__buf_fini(&b);
}

/* ---- addresses ----------------------------------------------------------------------------- */

static void test_addr_parse(void)
{
    static const struct {
        const char *in, *text;
        unsigned port;
    } good[] = {{"127.0.0.1:7711", "127.0.0.1:7711", 7711},
                {"0.0.0.0:0", "0.0.0.0:0", 0},
                {"[::1]:80", "[::1]:80", 80},
                {"[0:0::1]:65535", "[::1]:65535", 65535}};
    static const char *const bad[] = {
        "",         "127.0.0.1",    "127.0.0.1:",      ":7711",        "localhost:7711",
        "1.2.3:80", "127.0.0.1:-1", "127.0.0.1:65536", "::1:80",       "[::1]80",
        "[::1:80",  "[]:80",        "127.0.0.1:8 0",   "[1.2.3.4]:80", "127.0.0.1:123456",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct agg_http_addr a;
        CHECK_OK(agg_http_addr_parse(good[i].in, &a, NULL));
        CHECK_STR_EQ(a.text, good[i].text);
        CHECK_INT_EQ(a.port, good[i].port);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct agg_http_addr a;
        struct slic_errmsg err = {{0}};
        if (agg_http_addr_parse(bad[i], &a, &err) != SLIC_ECONFIG)
            harness_fail(__FILE__, __LINE__, "\"%s\" accepted", bad[i]);
        CHECK(strstr(err.text, "127.0.0.1:7711") != NULL);
    }
}

/* ---- a live server ------------------------------------------------------------------------- */

struct fixture {
    agg_store *store;
    agg_writer *writer;
    struct agg_stats stats;
    agg_http *http;
};

static void fixture_start(struct fixture *f, const struct agg_http_hooks *hooks)
{
    struct agg_store_options so = {.map_size_initial = (size_t)16 << 20, .nosync = true};
    struct agg_writer_options wo;
    struct agg_http_options ho;
    struct slic_errmsg err = {{0}};
    memset(f, 0, sizeof *f);
    if (agg_store_open(harness_tmpdir(), &so, &f->store, &err) != 0)
        harness_fail(__FILE__, __LINE__, "agg_store_open: %s", err.text);
    agg_writer_options_default(&wo);
    CHECK_OK(agg_writer_create(f->store, &wo, &f->writer));
    agg_http_options_default(&ho);
    ho.listen = "127.0.0.1:0";
    if (agg_http_create(&ho, f->store, f->writer, &f->stats, hooks, &f->http, &err) != 0)
        harness_fail(__FILE__, __LINE__, "agg_http_create: %s", err.text);
    CHECK(agg_http_port(f->http) != 0);
}

static void fixture_stop(struct fixture *f)
{
    agg_http_drain(f->http);
    agg_writer_destroy(f->writer);
    agg_http_destroy(f->http);
    agg_store_close(f->store);
}

struct response {
    long status;
    char type[128];
    char headers[4096];
    char body[65536];
    size_t len;
};

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct response *r = ctx;
    size_t used = strlen(r->headers), take = size * n;
    if (take > sizeof r->headers - 1 - used)
        take = sizeof r->headers - 1 - used;
    memcpy(r->headers + used, p, take);
    r->headers[used + take] = '\0';
    return size * n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct response *r = ctx;
    size_t take = size * n;
    if (take > sizeof r->body - 1 - r->len)
        take = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, p, take);
    r->len += take;
    r->body[r->len] = '\0';
    return size * n;
}

/* One request with libcurl; method NULL is GET. */
static void request(const struct fixture *f, const char *method, const char *path,
                    struct response *r)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)agg_http_port(f->http), path);
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    CHECK(c != NULL);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        harness_fail(__FILE__, __LINE__, "GET %s: %s", url, curl_easy_strerror(rc));
    char *type = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    snprintf(r->type, sizeof r->type, "%s", type ? type : "");
    curl_easy_cleanup(c);
}

#define CHECK_HAS(hay, needle)                                                                     \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            harness_fail(__FILE__, __LINE__, "\"%s\" lacks \"%s\"", (hay), (needle));              \
    } while (0)

static void test_server_routes(void)
{
    struct fixture f;
    struct response r;
    fixture_start(&f, NULL);
    request(&f, NULL, "/healthz", &r);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(r.body, "ok\n");
    request(&f, "HEAD", "/metrics", &r);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(r.type, "text/plain; version=0.0.4; charset=utf-8");
    CHECK_INT_EQ(r.len, 0);
    atomic_store(&f.stats.batches_accepted, 42);
    atomic_store(&f.stats.batches_rejected, 5);
    atomic_store(&f.stats.batches_unsigned, 3);
    atomic_store(&f.stats.batches_forged, 2);
    request(&f, NULL, "/metrics", &r);
    CHECK_HAS(r.body, "slic_build_info{version=\"0.1.0\"} 1\n");
    CHECK_HAS(r.body, "slic_aggregator_batches_total{result=\"accepted\"} 42\n");
    CHECK_HAS(r.body, "slic_aggregator_batches_total{result=\"rejected\"} 5\n");
    CHECK_HAS(r.body, "# TYPE slic_aggregator_batches_refused_signature_total counter\n");
    CHECK_HAS(r.body, "slic_aggregator_batches_refused_signature_total{reason=\"missing\"} 3\n");
    CHECK_HAS(r.body, "slic_aggregator_batches_refused_signature_total{reason=\"wrong\"} 2\n");
    CHECK_HAS(r.body, "# TYPE slic_aggregator_store_last_commit_seconds gauge\n");
    CHECK_HAS(r.body, "slic_aggregator_writer_queue_depth 0\n");
    CHECK_HAS(r.body, "slic_aggregator_http_requests_total{handler=\"healthz\",code=\"200\"} 1\n");
    request(&f, NULL, "/api/v1/query?sli=nope&window=1h", &r);
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_EQ(r.type, "application/json");
    CHECK_STR_EQ(r.body, "{\"error\":\"no data for SLI 'nope'\"}\n");
    CHECK_U64_EQ(atomic_load(&f.stats.queries), 1);
    request(&f, NULL, "/api/v1/query?sli=a&threshold=fast", &r);
    CHECK_INT_EQ(r.status, 400);
    CHECK_HAS(r.body, "\"parameter\":\"threshold\"");
    request(&f, NULL, "/api/v1/query?sli=a&window=1h&from=now", &r);
    CHECK_HAS(r.body, "\"parameter\":\"window\"");
    request(&f, NULL, "/api/v1/query?sli=a&from=now&to=-1h", &r);
    CHECK_HAS(r.body, "\"parameter\":\"from\"");
    request(&f, NULL, "/api/v1/query?sli=bad%20name", &r);
    CHECK_HAS(r.body, "\"parameter\":\"sli\"");
    request(&f, NULL, "/api/v1/query?sli=a&label=9x%3Dy", &r);
    CHECK_HAS(r.body, "\"parameter\":\"label\"");
    request(&f, NULL, "/api/v1/slos", &r);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(r.body, "[]\n");
    request(&f, NULL, "/api/v1/slos/checkout", &r);
    CHECK_INT_EQ(r.status, 404);
    request(&f, NULL, "/api/v1/slos?site=bad%0Asite", &r);
    CHECK_INT_EQ(r.status, 400);
    request(&f, NULL, "/api/v2/anything", &r);
    CHECK_INT_EQ(r.status, 404);
    CHECK_HAS(r.body, "\"error\":\"no such path");
    request(&f, "DELETE", "/metrics", &r);
    CHECK_INT_EQ(r.status, 405);
    fixture_stop(&f);
}

static int good_metrics(void *ctx, struct agg__buf *out)
{
    (void)ctx;
    struct slic_label l = {"slo", "checkout \"fast\""};
    int rc = agg_http_prom_family(out, "slic_slo_error_budget_remaining", "gauge", "Budget.");
    return rc ? rc : agg_http_prom_sample(out, "slic_slo_error_budget_remaining", &l, 1, 0.5);
}

static int failing_metrics(void *ctx, struct agg__buf *out)
{
    (void)ctx;
    agg__buf_puts(out, "# HELP half_written");
    return SLIC_ESTORE;
}

static int slos_json(void *ctx, const char *name, const char *site, struct agg__buf *out,
                     int *status)
{
    (void)ctx;
    if (name && strcmp(name, "checkout") != 0) {
        *status = 404;
        return 0;
    }
    return agg__buf_printf(out, "{\"name\":\"%s\",\"site\":\"%s\"}\n", name ? name : "*",
                           site ? site : "*");
}

static void test_server_hooks(void)
{
    struct fixture f;
    struct response r;
    struct agg_http_hooks hooks = {.metrics = good_metrics, .slos_json = slos_json};
    fixture_start(&f, &hooks);
    request(&f, NULL, "/metrics", &r);
    CHECK_HAS(r.body, "slic_aggregator_metrics_hook_errors_total 0\n");
    CHECK_HAS(r.body, "slic_slo_error_budget_remaining{slo=\"checkout \\\"fast\\\"\"} 0.5\n");
    request(&f, NULL, "/api/v1/slos?site=eu", &r);
    CHECK_STR_EQ(r.body, "{\"name\":\"*\",\"site\":\"eu\"}\n");
    request(&f, NULL, "/api/v1/slos/checkout", &r);
    CHECK_STR_EQ(r.body, "{\"name\":\"checkout\",\"site\":\"*\"}\n");
    request(&f, NULL, "/api/v1/slos/other", &r);
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_EQ(r.body, "{\"error\":\"no SLO named 'other'\"}\n");
    request(&f, NULL, "/api/v1/slos?site=*", &r);
    CHECK_STR_EQ(r.body, "{\"name\":\"*\",\"site\":\"*\"}\n");
    fixture_stop(&f);

    hooks.metrics = failing_metrics;
    fixture_start(&f, &hooks);
    request(&f, NULL, "/metrics", &r);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(r.body, "half_written") == NULL);
    request(&f, NULL, "/metrics", &r);
    CHECK_HAS(r.body, "slic_aggregator_metrics_hook_errors_total 1\n");
    fixture_stop(&f);
}

/* A burndown hook that echoes what it was asked. */
static int burndown_json(void *ctx, const char *name, const char *site, unsigned points,
                         struct agg__buf *out, int *status)
{
    (void)ctx;
    if (strcmp(name, "checkout") != 0) {
        *status = 404;
        return 0;
    }
    if (strcmp(site, "nowhere") == 0) {
        *status = 404;
        return agg__buf_puts(out, "{\"error\":\"SLO 'checkout' covers no site 'nowhere'\"}\n");
    }
    if (strcmp(site, "broken") == 0)
        return SLIC_ESTORE;
    return agg__buf_printf(out, "{\"slo\":\"%s\",\"site\":\"%s\",\"points\":%u}\n", name, site,
                           points);
}

static void test_server_burndown(void)
{
    /* path: the status, and a substring of the body (for a 400: the parameter named). */
    static const struct {
        const char *path;
        long status;
        const char *body;
    } cases[] = {
        {"", 200, "{\"slo\":\"checkout\",\"site\":\"*\",\"points\":120}\n"},
        {"?site=eu-zrh&points=2", 200, "{\"slo\":\"checkout\",\"site\":\"eu-zrh\",\"points\":2}"},
        {"?points=1000&site=*", 200, "{\"slo\":\"checkout\",\"site\":\"*\",\"points\":1000}"},
        {"?site=nowhere", 404, "covers no site 'nowhere'"},
        {"?site=broken", 500, "the SLO engine could not answer"},
        {"?points=1", 400, "points"},
        {"?points=1001", 400, "points"},
        {"?points=12x", 400, "points"},
        {"?points=", 400, "points"},
        {"?points=-5", 400, "points"},
        {"?points=00000002", 400, "points"},
        {"?points=5&points=6", 400, "points"},
        {"?site=a%20b", 400, "site"},
        {"?site=eu&site=us", 400, "site"},
        {"?from=now", 400, "from"},
        {"/more", 404, "no such path"},
    };
    struct fixture f;
    struct response r;
    char path[256], want[64];
    fixture_start(&f, NULL);
    request(&f, NULL, "/api/v1/slos/checkout/burndown", &r);
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_EQ(r.body, "{\"error\":\"no SLO named 'checkout'\"}\n");
    fixture_stop(&f);

    struct agg_http_hooks hooks = {.slos_json = slos_json, .slo_burndown = burndown_json};
    fixture_start(&f, &hooks);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "/api/v1/slos/checkout/burndown%s", cases[i].path);
        snprintf(want, sizeof want, "\"parameter\":\"%s\"", cases[i].body);
        request(&f, NULL, path, &r);
        if (r.status != cases[i].status ||
            !strstr(r.body, cases[i].status == 400 ? want : cases[i].body))
            harness_fail(__FILE__, __LINE__, "%s: %ld %s, expected %ld with %s", path, r.status,
                         r.body, cases[i].status, cases[i].body);
        CHECK_STR_EQ(r.type, "application/json");
    }
    request(&f, NULL, "/api/v1/slos/other/burndown", &r);
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_EQ(r.body, "{\"error\":\"no SLO named 'other'\"}\n");
    request(&f, NULL, "/api/v1/slos/bad%20name/burndown", &r);
    CHECK_HAS(r.body, "\"parameter\":\"name\"");
    request(&f, NULL, "/api/v1/slos/checkout?points=5", &r); /* points are the series' alone */
    CHECK_HAS(r.body, "\"parameter\":\"points\"");
    request(&f, NULL, "/api/v1/slos//burndown", &r);
    CHECK_INT_EQ(r.status, 404);
    request(&f, NULL, "/api/v1/slos/checkout/other", &r);
    CHECK_INT_EQ(r.status, 404);
    request(&f, NULL, "/metrics", &r);
    CHECK_HAS(r.body,
              "slic_aggregator_http_requests_total{handler=\"burndown\",code=\"400\"} 11\n");
    fixture_stop(&f);
}

static void test_server_dashboard(void)
{
    struct fixture f;
    struct response r;
    fixture_start(&f, NULL);
    const char *const paths[] = {"/", "/dashboard"};
    for (size_t i = 0; i < 2; i++) {
        request(&f, NULL, paths[i], &r);
        CHECK_INT_EQ(r.status, 200);
        CHECK_STR_EQ(r.type, "text/html; charset=utf-8");
        CHECK(strncmp(r.body, "<!doctype html>", 15) == 0);
        CHECK(r.len > 1000 && strlen(r.body) == r.len);
        CHECK_HAS(r.body, "api/v1/slos");
        CHECK_HAS(r.body, "</html>");
        /* Self-contained: nothing fetched from another origin. */
        CHECK(strstr(r.body, " src=") == NULL && strstr(r.body, "url(") == NULL);
        CHECK(strstr(r.body, "@import") == NULL && strstr(r.body, "stylesheet") == NULL);
        CHECK_HAS(r.headers, "Content-Security-Policy: default-src 'none'; ");
        CHECK_HAS(r.headers, "script-src 'unsafe-inline'; ");
        CHECK_HAS(r.headers, "connect-src 'self'; ");
        CHECK_HAS(r.headers, "frame-ancestors 'none'");
        CHECK_HAS(r.headers, "Cache-Control: no-cache\r\n");
        CHECK_HAS(r.headers, "X-Content-Type-Options: nosniff");
    }
    request(&f, "HEAD", "/", &r);
    CHECK_INT_EQ(r.status, 200);
    CHECK_INT_EQ(r.len, 0);
    CHECK_STR_EQ(r.type, "text/html; charset=utf-8");
    CHECK_HAS(r.headers, "Content-Security-Policy: ");
    request(&f, NULL, "/dashboard/", &r);
    CHECK_INT_EQ(r.status, 404);
    CHECK(strstr(r.headers, "Content-Security-Policy") == NULL);
    CHECK_HAS(r.headers, "Cache-Control: no-store");
    request(&f, "POST", "/", &r);
    CHECK_INT_EQ(r.status, 405);
    request(&f, NULL, "/metrics", &r);
    CHECK_HAS(r.body,
              "slic_aggregator_http_requests_total{handler=\"dashboard\",code=\"200\"} 3\n");
    /* Without memory for the page: a 500, never a truncated page. */
    slic_alloc_fail_after(0);
    request(&f, NULL, "/", &r);
    slic_alloc_fail_after(-1);
    CHECK_INT_EQ(r.status, 500);
    CHECK_STR_EQ(r.type, "application/json");
    fixture_stop(&f);
}

static void test_server_drain(void)
{
    struct fixture f;
    struct response r;
    fixture_start(&f, NULL);
    agg_http_drain(f.http);
    agg_writer_destroy(f.writer); /* the server must not touch it from here on */
    f.writer = NULL;
    request(&f, NULL, "/healthz", &r);
    CHECK_INT_EQ(r.status, 503);
    CHECK_HAS(r.body, "draining");
    request(&f, NULL, "/metrics", &r);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strstr(r.body, "writer_queue_depth") == NULL);
    fixture_stop(&f);
}

static void test_server_bind_failure(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    CHECK(fd >= 0);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 1) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    char addr[32], want[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    snprintf(want, sizeof want, "cannot serve HTTP on %s", addr);

    struct agg_store_options so = {.map_size_initial = (size_t)16 << 20, .nosync = true};
    struct agg_http_options ho;
    struct agg_stats stats = {0};
    struct slic_errmsg err = {{0}};
    agg_store *st = NULL;
    agg_http *h = NULL;
    CHECK_OK(agg_store_open(harness_tmpdir(), &so, &st, &err));
    agg_http_options_default(&ho);
    ho.listen = addr;
    CHECK_ERR(agg_http_create(&ho, st, NULL, &stats, NULL, &h, &err), SLIC_ECONFIG);
    CHECK_HAS(err.text, want);
    ho.listen = "localhost:1";
    CHECK_ERR(agg_http_create(&ho, st, NULL, &stats, NULL, &h, &err), SLIC_ECONFIG);
    CHECK_HAS(err.text, "http listen: \"localhost:1\"");
    CHECK(h == NULL);
    agg_store_close(st);
    close(fd);
}

static void test_metrics_alloc_failures(void)
{
    struct fixture f;
    struct response r;
    fixture_start(&f, NULL);
    for (long n = 0;; n++) {
        slic_alloc_fail_after(n);
        request(&f, NULL, "/metrics", &r);
        slic_alloc_fail_after(-1);
        if (r.status == 200) {
            CHECK_HAS(r.body, "slic_aggregator_writer_queue_depth 0\n");
            break;
        }
        CHECK_INT_EQ(r.status, 500);
        CHECK(n < 1000);
    }
    fixture_stop(&f);
}

HARNESS_CASES(HARNESS_CASE(test_prom_family_and_samples), HARNESS_CASE(test_prom_label_escaping),
              HARNESS_CASE(test_prom_rejects_bad_names), HARNESS_CASE(test_json_string_escaping),
              HARNESS_CASE(test_json_sli_object), HARNESS_CASE(test_addr_parse),
              HARNESS_CASE(test_server_routes), HARNESS_CASE(test_server_hooks),
              HARNESS_CASE(test_server_burndown), HARNESS_CASE(test_server_dashboard),
              HARNESS_CASE(test_server_drain), HARNESS_CASE(test_server_bind_failure),
              HARNESS_CASE(test_metrics_alloc_failures));

HARNESS_MAIN()
