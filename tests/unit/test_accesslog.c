/* Tests of common/accesslog.c: combined lines as nginx and Apache really write them (the
 * `log_format slic` of accesslog.h, Apache's %D microseconds, "-" fields, HTTP/2.0, escaped and
 * unescaped quotes), the latency field picked from either end, JSON lines (escapes, \u and
 * surrogate pairs, numbers as strings, missing keys, nested values, duplicates, depth), every
 * malformed form with its reason, the limits, labels, and option checking. */
#include "harness.h"

#include "accesslog.h"
#include "batch.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Option sets the tables refer to by name. */
enum preset {
    NGINX,       /* combined, seconds, last field */
    NGINX_LBL,   /* ... with method and route labels */
    NGINX_MS,    /* combined, milliseconds */
    APACHE_US,   /* combined, microseconds (%D) */
    EXTRA_0,     /* combined, first field after the user agent */
    EXTRA_1,     /* ... the second */
    EXTRA_2,     /* ... the third */
    EXTRA_3,     /* ... the fourth */
    EXTRA_M2,    /* ... the second from the end */
    JSON,        /* JSON, nginx keys, path and method, both labels */
    JSON_NOSTAT, /* JSON without a status key */
    JSON_MS,     /* JSON, "duration_ms" in milliseconds */
};

static struct slic_accesslog_opts preset(enum preset p)
{
    struct slic_accesslog_opts o;
    bool json = p == JSON || p == JSON_NOSTAT || p == JSON_MS;
    slic_accesslog_opts_init(&o, json ? SLIC_ACCESSLOG_JSON : SLIC_ACCESSLOG_COMBINED, "web");
    switch (p) {
    case NGINX:
        break;
    case NGINX_LBL:
    case JSON:
        o.label_method = o.label_route = true;
        o.path_key = "request_uri";
        o.method_key = "request_method";
        break;
    case NGINX_MS:
        o.unit = SLIC_ACCESSLOG_MS;
        break;
    case APACHE_US:
        o.unit = SLIC_ACCESSLOG_US;
        break;
    case EXTRA_0:
    case EXTRA_1:
    case EXTRA_2:
    case EXTRA_3:
        o.latency_field = (int)(p - EXTRA_0);
        break;
    case EXTRA_M2:
        o.latency_field = -2;
        break;
    case JSON_NOSTAT:
        o.status_key = NULL;
        break;
    case JSON_MS:
        o.latency_key = "duration_ms";
        o.unit = SLIC_ACCESSLOG_MS;
        break;
    }
    CHECK_OK(slic_accesslog_opts_check(&o, NULL));
    return o;
}

struct al_case {
    enum preset p;
    const char *line;
    enum slic_accesslog_reason want;
    double latency;
    unsigned status;
    bool good;
    const char *method;
    const char *path;
    const char *labels;
};

#define OK_(p, line, lat, status, good, method, path, labels)                                      \
    {                                                                                              \
        p, line, SLIC_ACCESSLOG_OK, lat, status, good, method, path, labels                        \
    }
#define BAD_(p, line, reason)                                                                      \
    {                                                                                              \
        p, line, SLIC_ACCESSLOG_##reason, 0, 0, false, NULL, NULL, NULL                            \
    }

/* The prefix of a combined line up to the status, and the referer and user agent after it. */
#define PFX "203.0.113.9 - - [26/Nov/2025:10:00:00 +0000] "
#define UA "\"https://shop.example/cart\" \"Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0\""

static const struct al_case cases[] = {
    /* nginx: log_format slic '... "$http_user_agent" $request_time'. */
    OK_(NGINX, PFX "\"GET /api/cart?id=42 HTTP/1.1\" 200 512 " UA " 0.123", 0.123, 200, true, "GET",
        "/api/cart", ""),
    OK_(NGINX, PFX "\"POST /pay HTTP/2.0\" 201 0 " UA " 1.500", 1.5, 201, true, "POST", "/pay", ""),
    OK_(NGINX, PFX "\"GET / HTTP/1.1\" 500 12 " UA " 0.001", 0.001, 500, false, "GET", "/", ""),
    OK_(NGINX, PFX "\"GET / HTTP/1.1\" 503 12 " UA " 0.001", 0.001, 503, false, "GET", "/", ""),
    OK_(NGINX, PFX "\"GET / HTTP/1.1\" 499 0 " UA " 0.001", 0.001, 499, true, "GET", "/", ""),
    OK_(NGINX, PFX "\"GET / HTTP/1.1\" 404 0 " UA " 0.000", 0, 404, true, "GET", "/", ""),
    OK_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0.5\r", 0.5, 200, true, "GET", "/", ""),
    OK_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 86400", 86400, 200, true, "GET", "/", ""),
    OK_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0.5  ", 0.5, 200, true, "GET", "/", ""),
    /* "-" fields: no request line (a 400 for garbage), no referer, no agent, no bytes. */
    OK_(NGINX, "127.0.0.1 - - [26/Nov/2025:10:00:00 +0000] \"-\" 400 0 \"-\" \"-\" 0.000", 0, 400,
        true, "", "", ""),
    OK_(NGINX,
        "10.0.0.1 - - [26/Nov/2025:10:00:00 +0000] \"\\x16\\x03\\x01\\x02\\x00\" 400 157 \"-\" "
        "\"-\" 0.010",
        0.01, 400, true, "", "", ""),
    OK_(NGINX, "::1 - alice [26/Nov/2025:10:00:00 +0100] \"GET /x HTTP/1.0\" 200 - \"-\" \"-\" 0.2",
        0.2, 200, true, "GET", "/x", ""),
    /* Quotes inside fields: nginx writes \x22, Apache \", and some loggers leave them bare. */
    OK_(NGINX, PFX "\"GET /q HTTP/1.1\" 200 5 \"-\" \"Mozilla \\x22quoted\\x22 agent\" 0.25", 0.25,
        200, true, "GET", "/q", ""),
    OK_(NGINX, PFX "\"GET /a\\\"b HTTP/1.1\" 200 5 \"-\" \"curl \\\"x\\\" y\" 0.25", 0.25, 200,
        true, "GET", "/a\\\"b", ""),
    OK_(NGINX, PFX "\"GET /q HTTP/1.1\" 200 5 \"-\" \"Mozilla \"evil\" agent\" 0.25", 0.25, 200,
        true, "GET", "/q", ""),
    OK_(NGINX, PFX "\"GET /q HTTP/1.1\" 200 5 \"-\" \"ua\\\\\" 0.25", 0.25, 200, true, "GET", "/q",
        ""),
    OK_(NGINX, PFX "\"GET /q HTTP/1.1\" 200 5 \"\" \"\" 0.25", 0.25, 200, true, "GET", "/q", ""),
    /* Request targets: absolute form, OPTIONS *, a query only, HTTP/0.9. */
    OK_(NGINX, PFX "\"GET http://h/p?x HTTP/1.1\" 200 1 " UA " 1", 1, 200, true, "GET",
        "http://h/p", ""),
    OK_(NGINX, PFX "\"OPTIONS * HTTP/1.1\" 200 1 " UA " 1", 1, 200, true, "OPTIONS", "*", ""),
    OK_(NGINX, PFX "\"GET ?x=1 HTTP/1.1\" 200 1 " UA " 1", 1, 200, true, "GET", "", ""),
    OK_(NGINX, PFX "\"GET /old\" 200 1 " UA " 1", 1, 200, true, "GET", "/old", ""),
    /* Apache: %D microseconds, a user, a one-word agent. */
    OK_(APACHE_US,
        "192.168.1.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
        "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\" 123456",
        123456 / 1e6, 200, true, "GET", "/apache_pb.gif", ""),
    OK_(APACHE_US, PFX "\"GET / HTTP/1.1\" 502 0 \"-\" \"curl/8.0\" 86400000000", 86400, 502, false,
        "GET", "/", ""),
    OK_(NGINX_MS, PFX "\"GET / HTTP/1.1\" 200 0 \"-\" \"curl/8.0\" 250", 0.25, 200, true, "GET",
        "/", ""),
    /* Which extra field: counted after the user agent, or from the end. */
    OK_(EXTRA_0, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0.050 0.040 \"-\"", 0.05, 200, true, "GET",
        "/", ""),
    OK_(EXTRA_1, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0.050 0.040 \"-\"", 0.04, 200, true, "GET",
        "/", ""),
    OK_(EXTRA_M2, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0.050 0.040 \"-\"", 0.04, 200, true, "GET",
        "/", ""),
    OK_(EXTRA_1, PFX "\"GET / HTTP/1.1\" 200 0 " UA " \"x y\" 0.040", 0.04, 200, true, "GET", "/",
        ""),
    OK_(EXTRA_1, PFX "\"GET / HTTP/1.1\" 200 0 " UA " [a b] \"0.040\"", 0.04, 200, true, "GET", "/",
        ""),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0.050 0.040 \"-\"", E_BAD_LATENCY),
    BAD_(EXTRA_2, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0.050 0.040 \"-\"", E_BAD_LATENCY),
    BAD_(EXTRA_3, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0.050 0.040 \"-\"", E_NO_LATENCY),
    BAD_(EXTRA_3, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0.050 0.040 \"-", E_SYNTAX),
    BAD_(EXTRA_M2, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0.050", E_NO_LATENCY),
    /* Labels: method from a fixed set, route without the query. */
    OK_(NGINX_LBL, PFX "\"GET /api/cart?id=42 HTTP/1.1\" 200 512 " UA " 0.123", 0.123, 200, true,
        "GET", "/api/cart", "method=GET;route=/api/cart"),
    OK_(NGINX_LBL, PFX "\"PATCH /x HTTP/1.1\" 200 512 " UA " 0.1", 0.1, 200, true, "PATCH", "/x",
        "method=PATCH;route=/x"),
    OK_(NGINX_LBL, PFX "\"FOO /x HTTP/1.1\" 405 512 " UA " 0.1", 0.1, 405, true, "FOO", "/x",
        "method=_OTHER;route=/x"),
    OK_(NGINX_LBL, PFX "\"get /x HTTP/1.1\" 400 512 " UA " 0.1", 0.1, 400, true, "get", "/x",
        "method=_OTHER;route=/x"),
    OK_(NGINX_LBL, "127.0.0.1 - - [26/Nov/2025:10:00:00 +0000] \"-\" 400 0 \"-\" \"-\" 0.000", 0,
        400, true, "", "", "method=_OTHER"),
    /* Malformed. */
    BAD_(NGINX, "", E_EMPTY),
    BAD_(NGINX, "\r", E_EMPTY),
    BAD_(NGINX, "garbage", E_SYNTAX),
    BAD_(NGINX, "1.2.3.4 - - 26/Nov/2025:10:00:00 \"GET / HTTP/1.1\" 200 0 \"-\" \"-\" 1",
         E_SYNTAX),
    BAD_(NGINX, "1.2.3.4 - - [26/Nov/2025:10:00:00 +0000 \"GET / HTTP/1.1\" 200 0 \"-\" \"-\" 1",
         E_SYNTAX),
    BAD_(NGINX, PFX "GET / HTTP/1.1 200 0 \"-\" \"-\" 1", E_SYNTAX),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1 200 0 - - 1", E_SYNTAX),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 \"-\" \"unterminated 1", E_SYNTAX),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 \"-\"", E_SYNTAX),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200", E_SYNTAX),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 \"-\" \"ua\\\" 1", E_SYNTAX),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA, E_NO_LATENCY),
    BAD_(EXTRA_0, PFX "\"GET / HTTP/1.1\" 200 0 " UA, E_NO_LATENCY),
    BAD_(EXTRA_0, PFX "\"GET / HTTP/1.1\" 200 0 " UA "   ", E_NO_LATENCY),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " -", E_BAD_LATENCY),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " -0.1", E_BAD_LATENCY),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0,5", E_BAD_LATENCY),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " nan", E_BAD_LATENCY),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 0x1", E_BAD_LATENCY),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 86400.001", E_TOO_LARGE),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 1e999", E_TOO_LARGE),
    BAD_(APACHE_US, PFX "\"GET / HTTP/1.1\" 200 0 " UA " 86400000001", E_TOO_LARGE),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" abc 0 " UA " 0.1", E_BAD_STATUS),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 2000 0 " UA " 0.1", E_BAD_STATUS),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" -1 0 " UA " 0.1", E_BAD_STATUS),
    BAD_(NGINX, PFX "\"GET / HTTP/1.1\" 200 0 " UA " -", E_BAD_LATENCY),

    /* JSON: nginx `escape=json`, numbers bare or as strings. */
    OK_(JSON,
        "{\"time\":\"2025-11-26T10:00:00+00:00\",\"remote_addr\":\"1.2.3.4\","
        "\"request_method\":\"GET\",\"request_uri\":\"/api/x?y=1\",\"status\":200,"
        "\"request_time\":0.123}",
        0.123, 200, true, "GET", "/api/x", "method=GET;route=/api/x"),
    OK_(JSON, "{\"status\":\"503\",\"request_time\":\"0.5\",\"request_uri\":\"/a\"}", 0.5, 503,
        false, "", "/a", "method=_OTHER;route=/a"),
    OK_(JSON, "  { \"status\" : 200 ,\t\"request_time\" : 1e-3 }  \r", 0.001, 200, true, "", "",
        "method=_OTHER"),
    OK_(JSON, "{\"status\":200,\"request_time\":0}", 0, 200, true, "", "", "method=_OTHER"),
    OK_(JSON, "{\"status\":0,\"request_time\":86400}", 86400, 0, true, "", "", "method=_OTHER"),
    /* Escapes in strings: unescaped into the record; non-ASCII paths are not labels. */
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_uri\":\"\\/api\\/x\"}", 1, 200, true,
        "", "/api/x", "method=_OTHER;route=/api/x"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_uri\":\"/a\\u0041b\"}", 1, 200, true,
        "", "/aAb", "method=_OTHER;route=/aAb"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_uri\":\"/caf\\u00e9\"}", 1, 200, true,
        "", "/caf\xc3\xa9", "method=_OTHER"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_uri\":\"/\\u20ac\"}", 1, 200, true, "",
        "/\xe2\x82\xac", "method=_OTHER"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_uri\":\"/\\ud83d\\ude00\"}", 1, 200,
        true, "", "/\xf0\x9f\x98\x80", "method=_OTHER"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_uri\":\"/\\ud83dx\"}", 1, 200, true, "",
        "/\xef\xbf\xbdx", "method=_OTHER"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_uri\":\"/\\ude00\\ud83d\"}", 1, 200,
        true, "", "/\xef\xbf\xbd\xef\xbf\xbd", "method=_OTHER"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_uri\":\"/x\\u003fq=1\"}", 1, 200, true,
        "", "/x", "method=_OTHER;route=/x"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_uri\":\"/a\\\"b\\\\c\\tq\"}", 1, 200,
        true, "", "/a\"b\\c\tq", "method=_OTHER"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_method\":\"\\u0050OST\"}", 1, 200, true,
        "POST", "", "method=POST"),
    OK_(JSON, "{\"st\\u0061tus\":500,\"request\\u005ftime\":2}", 2, 500, false, "", "",
        "method=_OTHER"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"caf\\u00e9\":\"\\b\\f\\n\\r\\t\\/\"}", 1, 200,
        true, "", "", "method=_OTHER"),
    /* Nested values are skipped, and keys inside them do not count. */
    OK_(JSON,
        "{\"req\":{\"a\":[1,2,{\"b\":\"}\"}],\"request_time\":9},\"status\":200,"
        "\"request_time\":0.1,\"tags\":[],\"o\":{},\"n\":null,\"t\":true,\"f\":false}",
        0.1, 200, true, "", "", "method=_OTHER"),
    /* A key given twice: the last counts. */
    OK_(JSON, "{\"request_time\":1,\"status\":500,\"request_time\":2,\"status\":200}", 2, 200, true,
        "", "", "method=_OTHER"),
    OK_(JSON, "{\"status\":200,\"request_time\":1,\"request_uri\":5}", 1, 200, true, "", "",
        "method=_OTHER"),
    OK_(JSON_NOSTAT, "{\"request_time\":0.25}", 0.25, 0, true, "", "", ""),
    OK_(JSON_NOSTAT, "{\"request_time\":0.25,\"status\":500}", 0.25, 0, true, "", "", ""),
    OK_(JSON_MS, "{\"duration_ms\":250,\"status\":502}", 0.25, 502, false, "", "", ""),
    OK_(JSON_MS, "{\"duration_ms\":\"1.5e2\",\"status\":\"200\"}", 0.15, 200, true, "", "", ""),
    BAD_(JSON, "{}", E_NO_LATENCY),
    BAD_(JSON, "{\"status\":200}", E_NO_LATENCY),
    BAD_(JSON, "{\"status\":200,\"req\":{\"request_time\":1}}", E_NO_LATENCY),
    BAD_(JSON, "{\"request_time\":1}", E_NO_STATUS),
    BAD_(JSON, "{\"request_time\":null,\"status\":200}", E_BAD_LATENCY),
    BAD_(JSON, "{\"request_time\":true,\"status\":200}", E_BAD_LATENCY),
    BAD_(JSON, "{\"request_time\":{},\"status\":200}", E_BAD_LATENCY),
    BAD_(JSON, "{\"request_time\":[1],\"status\":200}", E_BAD_LATENCY),
    BAD_(JSON, "{\"request_time\":\"-\",\"status\":200}", E_BAD_LATENCY),
    BAD_(JSON, "{\"request_time\":\"\",\"status\":200}", E_BAD_LATENCY),
    BAD_(JSON, "{\"request_time\":-1,\"status\":200}", E_BAD_LATENCY),
    BAD_(JSON, "{\"request_time\":\"\\u0031\",\"status\":200}", E_BAD_LATENCY),
    BAD_(JSON, "{\"request_time\":\" 1\",\"status\":200}", E_BAD_LATENCY),
    BAD_(JSON, "{\"request_time\":86401,\"status\":200}", E_TOO_LARGE),
    BAD_(JSON, "{\"request_time\":1e400,\"status\":200}", E_TOO_LARGE),
    BAD_(JSON, "{\"request_time\":1,\"status\":null}", E_BAD_STATUS),
    BAD_(JSON, "{\"request_time\":1,\"status\":500.0}", E_BAD_STATUS),
    BAD_(JSON, "{\"request_time\":1,\"status\":\"abc\"}", E_BAD_STATUS),
    BAD_(JSON, "{\"request_time\":1,\"status\":1000}", E_BAD_STATUS),
    BAD_(JSON, "{\"request_time\":1,\"status\":-200}", E_BAD_STATUS),
    BAD_(JSON, "{\"request_time\":1,\"status\":[]}", E_BAD_STATUS),
    BAD_(JSON, "{\"request_time\":1,\"status\":200", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":1,\"status\":200}x", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":1,\"status\":200}}", E_SYNTAX),
    BAD_(JSON, "[{\"request_time\":1,\"status\":200}]", E_SYNTAX),
    BAD_(JSON, "\"request_time\"", E_SYNTAX),
    BAD_(JSON, "{'request_time':1}", E_SYNTAX),
    BAD_(JSON, "{request_time:1}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":01,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":1.,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":.5,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":+1,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":1e,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":NaN,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":1,\"status\":200,}", E_SYNTAX),
    BAD_(JSON, "{,\"request_time\":1}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\" 1}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":tru}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":nul}", E_SYNTAX),
    BAD_(JSON, "{\"a\":\"\\x22\",\"request_time\":1,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"a\":\"\\u12\",\"request_time\":1,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"a\":\"\\u12g4\",\"request_time\":1,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"a\":\"tab\there\",\"request_time\":1,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"a\":\"unterminated,\"request_time\":1,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"a\":\"ends in backslash\\", E_SYNTAX),
    BAD_(JSON, "{\"a\":[1,],\"request_time\":1,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"a\":[1 2],\"request_time\":1,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"a\":{\"b\"},\"request_time\":1,\"status\":200}", E_SYNTAX),
    BAD_(JSON, "{\"a\":{\"b\":1]}", E_SYNTAX),
    BAD_(JSON, "{\"request_time\":1,\"status\":200}\n{}", E_SYNTAX),
    BAD_(JSON, "{", E_SYNTAX),
    BAD_(JSON, "   ", E_SYNTAX),
};

static void labels_format(const struct slic_event *ev, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ev->n_labels; i++) {
        const struct slic_event_label *l = &ev->labels[i];
        int n = snprintf(out + used, size - used, "%s%.*s=%.*s", i ? ";" : "", (int)l->key_len,
                         l->key, (int)l->value_len, l->value);
        CHECK(n > 0 && (size_t)n < size - used);
        used += (size_t)n;
    }
}

static void check_text(const char *p, size_t n, const char *want, size_t i, const char *what)
{
    if (n != strlen(want) || memcmp(p, want, n) != 0)
        harness_fail(__FILE__, __LINE__, "case %zu: %s \"%.*s\", want \"%s\"", i, what, (int)n, p,
                     want);
}

static void check_case(const struct al_case *c, size_t i)
{
    struct slic_accesslog_opts o = preset(c->p);
    struct slic_accesslog_record *rec = malloc(sizeof *rec);
    CHECK(rec != NULL);
    memset(rec, 0x5a, sizeof *rec);
    enum slic_accesslog_reason r = slic_accesslog_parse(&o, c->line, strlen(c->line), rec);
    if (r != c->want)
        harness_fail(__FILE__, __LINE__, "case %zu \"%s\": got %s, want %s", i, c->line,
                     slic_accesslog_reason_name(r), slic_accesslog_reason_name(c->want));
    if (r != SLIC_ACCESSLOG_OK) {
        /* A refused line leaves the record as it was. */
        for (size_t b = 0; b < sizeof *rec; b++)
            CHECK(((unsigned char *)rec)[b] == 0x5a);
        free(rec);
        return;
    }
    const struct slic_event *ev = &rec->event;
    check_text(ev->name, ev->name_len, "web", i, "name");
    if (ev->latency != c->latency)
        harness_fail(__FILE__, __LINE__, "case %zu: latency %.17g, want %.17g", i, ev->latency,
                     c->latency);
    CHECK_U64_EQ(ev->weight, 1);
    CHECK_INT_EQ(rec->status, c->status);
    if (ev->good != c->good)
        harness_fail(__FILE__, __LINE__, "case %zu: good %d", i, ev->good);
    check_text(rec->method, rec->method_len, c->method, i, "method");
    check_text(rec->path, rec->path_len, c->path, i, "path");
    char labels[512];
    labels_format(ev, labels, sizeof labels);
    check_text(labels, strlen(labels), c->labels, i, "labels");
    free(rec);
}

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i], i);
}

/* Strings are views into the line, or into the record's scratch for unescaped JSON. */
static void test_views(void)
{
    struct slic_accesslog_opts o = preset(NGINX_LBL);
    struct slic_accesslog_record rec;
    const char *line = PFX "\"GET /api/cart?id=42 HTTP/1.1\" 200 512 " UA " 0.123";
    CHECK_INT_EQ(slic_accesslog_parse(&o, line, strlen(line), &rec), SLIC_ACCESSLOG_OK);
    const char *path = strstr(line, "/api/cart");
    CHECK(rec.path == path);
    CHECK(rec.event.labels[1].value == path);
    CHECK(rec.event.name == o.sli);

    o = preset(JSON);
    line =
        "{\"status\":200,\"request_time\":1,\"request_uri\":\"\\/x\",\"request_method\":\"GET\"}";
    CHECK_INT_EQ(slic_accesslog_parse(&o, line, strlen(line), &rec), SLIC_ACCESSLOG_OK);
    CHECK(rec.path >= rec.scratch_ && rec.path < rec.scratch_ + sizeof rec.scratch_);
    CHECK(rec.method == strstr(line, "GET"));
    CHECK(rec.event.labels[1].value == rec.path);
}

/* Lines are bounded by the length given, not by a NUL; NULs inside are ordinary bytes. */
static void test_not_nul_terminated(void)
{
    struct slic_accesslog_opts o = preset(NGINX_LBL);
    struct slic_accesslog_record rec;
    const char *full = PFX "\"GET /x HTTP/1.1\" 200 5 \"-\" \"-\" 0.25 0.5";
    size_t n = strlen(full) - 4;
    char *line = malloc(n);
    CHECK(line != NULL);
    memcpy(line, full, n);
    CHECK_INT_EQ(slic_accesslog_parse(&o, line, n, &rec), SLIC_ACCESSLOG_OK);
    CHECK_DBL_EQ(rec.event.latency, 0.25);
    free(line);

    const char nul_path[] = PFX "\"GET /a\0b HTTP/1.1\" 200 5 \"-\" \"-\" 0.25";
    CHECK_INT_EQ(slic_accesslog_parse(&o, nul_path, sizeof nul_path - 1, &rec), SLIC_ACCESSLOG_OK);
    CHECK_INT_EQ(rec.path_len, 4);
    CHECK_INT_EQ(rec.event.n_labels, 1);
    CHECK_INT_EQ(rec.labels_dropped, 1);

    o = preset(JSON);
    const char nul_json[] = "{\"status\":200,\"request_time\":1,\"a\":\"\0\"}";
    CHECK_INT_EQ(slic_accesslog_parse(&o, nul_json, sizeof nul_json - 1, &rec),
                 SLIC_ACCESSLOG_E_SYNTAX);
}

/* A combined line of exactly `len` bytes, its path padded to fit. */
static size_t long_line(char *line, size_t len)
{
    const char *head = PFX "\"GET /";
    const char *tail = " HTTP/1.1\" 200 5 \"-\" \"-\" 0.25";
    size_t fixed = strlen(head) + strlen(tail);
    memcpy(line, head, strlen(head));
    memset(line + strlen(head), 'p', len - fixed);
    memcpy(line + strlen(head) + (len - fixed), tail, strlen(tail));
    return fixed;
}

static void test_line_length_limit(void)
{
    struct slic_accesslog_opts o = preset(NGINX_LBL);
    struct slic_accesslog_record rec;
    char *line = malloc(SLIC_ACCESSLOG_LINE_MAX + 2);
    CHECK(line != NULL);
    long_line(line, SLIC_ACCESSLOG_LINE_MAX + 1);
    CHECK_INT_EQ(slic_accesslog_parse(&o, line, SLIC_ACCESSLOG_LINE_MAX + 1, &rec),
                 SLIC_ACCESSLOG_E_TOO_LONG);
    /* The longest line parsed: its long path is kept in the record but is no label. */
    size_t fixed = long_line(line, SLIC_ACCESSLOG_LINE_MAX);
    CHECK_INT_EQ(slic_accesslog_parse(&o, line, SLIC_ACCESSLOG_LINE_MAX, &rec), SLIC_ACCESSLOG_OK);
    CHECK_INT_EQ(rec.path_len, SLIC_ACCESSLOG_LINE_MAX - fixed + 1);
    CHECK_INT_EQ(rec.labels_dropped, 1);
    /* The limit excludes the line ending. */
    line[SLIC_ACCESSLOG_LINE_MAX] = '\r';
    CHECK_INT_EQ(slic_accesslog_parse(&o, line, SLIC_ACCESSLOG_LINE_MAX + 1, &rec),
                 SLIC_ACCESSLOG_OK);
    free(line);
}

/* A route label is at most SLIC_LABEL_VALUE_MAX bytes; longer paths stay in the record. */
static void test_route_length(void)
{
    struct slic_accesslog_opts o = preset(NGINX_LBL);
    struct slic_accesslog_record rec;
    char path[SLIC_LABEL_VALUE_MAX + 2], line[1024];
    for (size_t n = SLIC_LABEL_VALUE_MAX; n <= SLIC_LABEL_VALUE_MAX + 1; n++) {
        path[0] = '/';
        memset(path + 1, 'p', n - 1);
        path[n] = '\0';
        snprintf(line, sizeof line, PFX "\"GET %s?q=1 HTTP/1.1\" 200 5 \"-\" \"-\" 0.25", path);
        CHECK_INT_EQ(slic_accesslog_parse(&o, line, strlen(line), &rec), SLIC_ACCESSLOG_OK);
        CHECK_INT_EQ(rec.path_len, n);
        bool fits = n == SLIC_LABEL_VALUE_MAX;
        CHECK_INT_EQ(rec.event.n_labels, fits ? 2 : 1);
        CHECK_INT_EQ(rec.labels_dropped, fits ? 0 : 1);
    }
}

/* Escaped JSON paths live in the record's scratch, up to SLIC_ACCESSLOG_PATH_MAX bytes. */
static void test_json_path_scratch_limit(void)
{
    struct slic_accesslog_opts o = preset(JSON);
    struct slic_accesslog_record rec;
    char *line = malloc(SLIC_ACCESSLOG_PATH_MAX + 256);
    CHECK(line != NULL);
    for (size_t n = SLIC_ACCESSLOG_PATH_MAX; n <= SLIC_ACCESSLOG_PATH_MAX + 1; n++) {
        /* "\/" then n - 1 letters: n bytes once unescaped, and a query after them. */
        int k = sprintf(line, "{\"status\":200,\"request_time\":1,\"request_uri\":\"\\/");
        memset(line + k, 'p', n - 1);
        sprintf(line + k + n - 1, "?q=1\"}");
        CHECK_INT_EQ(slic_accesslog_parse(&o, line, strlen(line), &rec), SLIC_ACCESSLOG_OK);
        CHECK_INT_EQ(rec.path_len, n == SLIC_ACCESSLOG_PATH_MAX ? n : 0);
        CHECK_INT_EQ(rec.labels_dropped, 1);
    }
    free(line);
}

/* Nesting up to SLIC_ACCESSLOG_JSON_DEPTH, the line's object included. */
static void test_json_depth(void)
{
    struct slic_accesslog_opts o = preset(JSON);
    struct slic_accesslog_record rec;
    char line[1024];
    for (int depth = SLIC_ACCESSLOG_JSON_DEPTH; depth <= SLIC_ACCESSLOG_JSON_DEPTH + 1; depth++) {
        /* Below the line's own object, arrays and objects alternate: [{"k":[{"k":0}]}]. */
        size_t n = (size_t)sprintf(line, "{\"status\":200,\"request_time\":1,\"x\":");
        for (int i = 1; i < depth; i++)
            n += (size_t)sprintf(line + n, "%s", i % 2 ? "[" : "{\"k\":");
        line[n++] = '0';
        for (int i = depth - 1; i >= 1; i--)
            line[n++] = i % 2 ? ']' : '}';
        line[n++] = '}';
        line[n] = '\0';
        enum slic_accesslog_reason r = slic_accesslog_parse(&o, line, n, &rec);
        CHECK_INT_EQ(r, depth <= SLIC_ACCESSLOG_JSON_DEPTH ? SLIC_ACCESSLOG_OK
                                                           : SLIC_ACCESSLOG_E_SYNTAX);
    }
    /* Far deeper than the limit fails fast, without recursing that deep. */
    char deep[4096];
    size_t n = (size_t)sprintf(deep, "{\"a\":");
    memset(deep + n, '[', sizeof deep - n - 1);
    deep[sizeof deep - 1] = '\0';
    CHECK_INT_EQ(slic_accesslog_parse(&o, deep, strlen(deep), &rec), SLIC_ACCESSLOG_E_SYNTAX);
}

static void test_status_rule(void)
{
    struct slic_accesslog_opts o = preset(NGINX);
    struct slic_accesslog_record rec;
    const char *l400 = PFX "\"GET / HTTP/1.1\" 400 0 \"-\" \"-\" 0.1";
    const char *l503 = PFX "\"GET / HTTP/1.1\" 503 0 \"-\" \"-\" 0.1";
    o.status_bad_min = 400;
    CHECK_INT_EQ(slic_accesslog_parse(&o, l400, strlen(l400), &rec), SLIC_ACCESSLOG_OK);
    CHECK(!rec.event.good);
    o.status_bad_min = 0;
    CHECK_INT_EQ(slic_accesslog_parse(&o, l503, strlen(l503), &rec), SLIC_ACCESSLOG_OK);
    CHECK(rec.event.good);
    CHECK_INT_EQ(rec.status, 503);
}

static void test_opts(void)
{
    struct slic_accesslog_opts o;
    struct slic_errmsg err = {{0}};
    slic_accesslog_opts_init(&o, SLIC_ACCESSLOG_COMBINED, "checkout");
    CHECK_INT_EQ(o.unit, SLIC_ACCESSLOG_S);
    CHECK_INT_EQ(o.latency_field, -1);
    CHECK_INT_EQ(o.status_bad_min, 500);
    CHECK(!o.label_route && !o.label_method);
    CHECK_OK(slic_accesslog_opts_check(&o, &err));

    o.sli = "bad name";
    CHECK_ERR(slic_accesslog_opts_check(&o, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "bad name") != NULL);
    o.sli = NULL;
    CHECK_ERR(slic_accesslog_opts_check(&o, &err), SLIC_ECONFIG);
    o.sli = "checkout";
    o.unit = (enum slic_accesslog_unit)9;
    CHECK_ERR(slic_accesslog_opts_check(&o, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "unit") != NULL);
    o.unit = SLIC_ACCESSLOG_US;
    o.status_bad_min = 1000;
    CHECK_ERR(slic_accesslog_opts_check(&o, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "status_bad_min") != NULL);
    o.status_bad_min = 0;
    o.latency_field = SLIC_ACCESSLOG_FIELD_MAX;
    CHECK_OK(slic_accesslog_opts_check(&o, &err));
    o.latency_field = -SLIC_ACCESSLOG_FIELD_MAX - 1;
    CHECK_ERR(slic_accesslog_opts_check(&o, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "latency_field") != NULL);
    o.format = (enum slic_accesslog_format)0;
    CHECK_ERR(slic_accesslog_opts_check(&o, &err), SLIC_ECONFIG);

    slic_accesslog_opts_init(&o, SLIC_ACCESSLOG_JSON, "checkout");
    CHECK_STR_EQ(o.latency_key, "request_time");
    CHECK_STR_EQ(o.status_key, "status");
    CHECK(o.path_key == NULL && o.method_key == NULL);
    CHECK_OK(slic_accesslog_opts_check(&o, &err));
    o.latency_key = NULL;
    CHECK_ERR(slic_accesslog_opts_check(&o, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "latency_key") != NULL);
    o.latency_key = "";
    CHECK_ERR(slic_accesslog_opts_check(&o, &err), SLIC_ECONFIG);
    char key[SLIC_ACCESSLOG_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    o.latency_key = key;
    CHECK_ERR(slic_accesslog_opts_check(&o, &err), SLIC_ECONFIG);
    key[SLIC_ACCESSLOG_KEY_MAX] = '\0';
    CHECK_OK(slic_accesslog_opts_check(&o, &err));
    o.path_key = "";
    CHECK_ERR(slic_accesslog_opts_check(&o, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "path_key") != NULL);
}

/* The longest configured key still matches when it arrives escaped. */
static void test_json_long_escaped_key(void)
{
    struct slic_accesslog_opts o = preset(JSON_NOSTAT);
    struct slic_accesslog_record rec;
    char key[SLIC_ACCESSLOG_KEY_MAX + 1], line[512];
    memset(key, 'k', SLIC_ACCESSLOG_KEY_MAX);
    key[SLIC_ACCESSLOG_KEY_MAX] = '\0';
    o.latency_key = key;
    CHECK_OK(slic_accesslog_opts_check(&o, NULL));
    snprintf(line, sizeof line, "{\"\\u006b%s\":3}", key + 1);
    CHECK_INT_EQ(slic_accesslog_parse(&o, line, strlen(line), &rec), SLIC_ACCESSLOG_OK);
    CHECK_DBL_EQ(rec.event.latency, 3);
    /* One byte longer can never be the configured key. */
    snprintf(line, sizeof line, "{\"\\u006b%sk\":3}", key + 1);
    CHECK_INT_EQ(slic_accesslog_parse(&o, line, strlen(line), &rec), SLIC_ACCESSLOG_E_NO_LATENCY);
}

static void test_reason_names(void)
{
    for (int i = 0; i < SLIC_ACCESSLOG_REASON_COUNT; i++) {
        const char *n = slic_accesslog_reason_name((enum slic_accesslog_reason)i);
        CHECK(n != NULL && n[0] != '\0' && strcmp(n, "unknown") != 0);
        CHECK(strspn(n, "abcdefghijklmnopqrstuvwxyz_") == strlen(n));
        for (int j = 0; j < i; j++)
            CHECK(strcmp(n, slic_accesslog_reason_name((enum slic_accesslog_reason)j)) != 0);
    }
    CHECK_STR_EQ(slic_accesslog_reason_name(SLIC_ACCESSLOG_E_BAD_LATENCY), "bad_latency");
    CHECK_STR_EQ(slic_accesslog_reason_name(SLIC_ACCESSLOG_REASON_COUNT), "unknown");
}

HARNESS_CASES(HARNESS_CASE(test_table), HARNESS_CASE(test_views),
              HARNESS_CASE(test_not_nul_terminated), HARNESS_CASE(test_line_length_limit),
              HARNESS_CASE(test_route_length), HARNESS_CASE(test_json_path_scratch_limit),
              HARNESS_CASE(test_json_depth), HARNESS_CASE(test_status_rule),
              HARNESS_CASE(test_opts), HARNESS_CASE(test_json_long_escaped_key),
              HARNESS_CASE(test_reason_names));
HARNESS_MAIN()
