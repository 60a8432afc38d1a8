/* The HTTP daemon (see http.h): address parsing, the libmicrohttpd daemon's lifecycle, request
 * routing, /healthz, and turning a handler's reply into a response. libmicrohttpd runs a small
 * pool of epoll threads; every answer is built in one call of the access handler from the URL
 * and its arguments alone (no request body is ever read), so no per-connection state is kept. */
#include "http_int.h"

#include "alloc.h"
#include "log.h"
#include "ratelimit.h"
#include "reply_json.h"
#include "timeutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Paths longer than any route are refused before routing. */
#define HTTP_PATH_MAX 256
/* Per-connection memory for the request line and headers: a request line longer than about
 * half of it is answered 414 by libmicrohttpd itself, which bounds query strings. */
#define HTTP_CONN_MEMORY ((size_t)16 << 10)
/* libmicrohttpd's own messages (a client over the connection limit, a malformed request) are
 * logged at most once a minute per message. */
#define HTTP_LOG_PERIOD_MS 60000

#define JSON_TYPE "application/json"
#define TEXT_TYPE "text/plain; charset=utf-8"

const char *const agg__http_route_names[AGG__HTTP_ROUTES] = {
    "healthz", "metrics", "query", "slos", "burndown", "dashboard", "other"};

/* ---- addresses ----------------------------------------------------------------------------- */

static int addr_error(const char *text, struct slic_errmsg *err)
{
    return slic_errmsg_set(err, SLIC_ECONFIG,
                           "\"%.64s\" is not an HTTP listen address: expected a numeric IPv4 or "
                           "bracketed IPv6 address and a port, like 127.0.0.1:7711 or "
                           "[::1]:7711 (host names are not resolved)",
                           text);
}

/* 0..65535 in plain decimal digits, nothing else. */
static bool parse_port(const char *s, uint16_t *out)
{
    unsigned long v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
        return false;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned long)(s[i] - '0');
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* Splits "HOST:PORT" or "[HOST]:PORT" into host (copied into buf) and port text. */
static bool split_host_port(const char *text, char *buf, size_t size, const char **port, bool *v6)
{
    const char *host = text, *end;
    if ((*v6 = text[0] == '[')) {
        host = text + 1;
        end = strchr(host, ']');
        if (!end || end[1] != ':')
            return false;
        *port = end + 2;
    } else {
        end = strchr(text, ':');
        if (!end || strchr(end + 1, ':'))
            return false;
        *port = end + 1;
    }
    size_t n = (size_t)(end - host);
    if (n == 0 || n >= size)
        return false;
    memcpy(buf, host, n);
    buf[n] = '\0';
    return true;
}

static void addr_format(struct agg_http_addr *a)
{
    char host[INET6_ADDRSTRLEN];
    const void *raw = a->sa.ss_family == AF_INET6
                          ? (const void *)&((struct sockaddr_in6 *)&a->sa)->sin6_addr
                          : (const void *)&((struct sockaddr_in *)&a->sa)->sin_addr;
    inet_ntop(a->sa.ss_family, raw, host, sizeof host);
    snprintf(a->text, sizeof a->text, a->sa.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             (unsigned)a->port);
}

int agg_http_addr_parse(const char *text, struct agg_http_addr *out, struct slic_errmsg *err)
{
    struct agg_http_addr a;
    char host[INET6_ADDRSTRLEN];
    const char *port_text;
    bool v6;
    memset(&a, 0, sizeof a);
    if (!split_host_port(text, host, sizeof host, &port_text, &v6) ||
        !parse_port(port_text, &a.port))
        return addr_error(text, err);
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.sa;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a.port);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return addr_error(text, err);
        a.sa_len = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&a.sa;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a.port);
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return addr_error(text, err);
        a.sa_len = sizeof *s4;
    }
    addr_format(&a);
    *out = a;
    return 0;
}

void agg_http_options_default(struct agg_http_options *o)
{
    o->listen = AGG_HTTP_DEFAULT_LISTEN;
    o->threads = 2;
    o->max_connections = 64;
    o->timeout_seconds = 10;
}

/* ---- replies ------------------------------------------------------------------------------- */

int agg__http_code_index(unsigned status)
{
    static const unsigned codes[AGG__HTTP_N_CODES] = {
#define CODE_ENTRY(c) c,
        AGG__HTTP_CODES(CODE_ENTRY)
#undef CODE_ENTRY
    };
    for (int i = 0; i < AGG__HTTP_N_CODES; i++)
        if (codes[i] == status)
            return i;
    return -1;
}

int agg__http_error(struct agg__http_reply *r, unsigned status, const char *param, const char *fmt,
                    ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->body.len = 0;
    r->status = status;
    r->content_type = JSON_TYPE;
    int rc = agg__buf_puts(&r->body, "{\"error\":");
    if (rc == 0)
        rc = agg_json_string(&r->body, msg);
    if (rc == 0 && param && (rc = agg__buf_puts(&r->body, ",\"parameter\":")) == 0)
        rc = agg_json_string(&r->body, param);
    return rc ? rc : agg__buf_puts(&r->body, "}\n");
}

static int reply_text(struct agg__http_reply *r, unsigned status, const char *text)
{
    r->status = status;
    r->content_type = TEXT_TYPE;
    r->body.len = 0;
    return agg__buf_puts(&r->body, text);
}

/* Hands the body to libmicrohttpd, which frees it with slic_free once sent. */
static enum MHD_Result send_reply(struct MHD_Connection *conn, struct agg__http_reply *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(r->body.len, r->body.p, slic_free);
    if (!resp) {
        agg__buf_fini(&r->body);
        return MHD_NO;
    }
    r->body = (struct agg__buf){0};
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    /* Every answer describes this moment: caches must not keep it (the page may say less). */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            r->cache_control ? r->cache_control : "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->csp)
        MHD_add_response_header(resp, "Content-Security-Policy", r->csp);
    if (r->status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A reply could not be built (out of memory, or a bug): a fixed answer that needs no
 * allocation of ours. */
static enum MHD_Result send_internal_error(struct MHD_Connection *conn)
{
    static const char body[] = "{\"error\":\"internal error; see the aggregator's log\"}\n";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_TYPE);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Text from a request fit for a log line: printable ASCII only, at most size - 1 bytes. */
static const char *printable(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    for (; s[n] && n + 1 < size; n++)
        buf[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
    buf[n] = '\0';
    return buf;
}

static void log_failure(agg_http *h, const char *url, int rc)
{
    char path[65];
    uint64_t held = 0;
    if (!agg_ratelimit_allow(h->log_limit, slic_errname(rc), slic_now_unix_ms(), &held))
        return;
    printable(url, path, sizeof path);
    if (held)
        SLIC_ERROR("http", "cannot answer %s: %s [%llu more such failures since the last line]",
                   path, slic_strerror(rc), (unsigned long long)held);
    else
        SLIC_ERROR("http", "cannot answer %s: %s", path, slic_strerror(rc));
}

/* ---- routing ------------------------------------------------------------------------------- */

#define SLOS_PATH "/api/v1/slos"
#define BURNDOWN_SUFFIX "/burndown"

/* /api/v1/slos, /api/v1/slos/NAME and /api/v1/slos/NAME/burndown. */
static enum agg__http_route slos_route_of(const char *url)
{
    size_t n = strlen(SLOS_PATH);
    if (strncmp(url, SLOS_PATH, n) != 0 || (url[n] != '\0' && url[n] != '/'))
        return AGG__HTTP_ROUTE_OTHER;
    const char *slash = url[n] ? strchr(url + n + 1, '/') : NULL;
    if (!slash)
        return AGG__HTTP_ROUTE_SLOS;
    if (slash > url + n + 1 && strcmp(slash, BURNDOWN_SUFFIX) == 0)
        return AGG__HTTP_ROUTE_BURNDOWN;
    return AGG__HTTP_ROUTE_OTHER;
}

static enum agg__http_route route_of(const char *url)
{
    if (strcmp(url, "/healthz") == 0)
        return AGG__HTTP_ROUTE_HEALTHZ;
    if (strcmp(url, "/metrics") == 0)
        return AGG__HTTP_ROUTE_METRICS;
    if (strcmp(url, "/api/v1/query") == 0)
        return AGG__HTTP_ROUTE_QUERY;
    if (strcmp(url, "/") == 0 || strcmp(url, "/dashboard") == 0)
        return AGG__HTTP_ROUTE_DASHBOARD;
    return slos_route_of(url);
}

/* 200 while batches can still be committed; 503 from the moment the aggregator starts to stop,
 * so a load balancer or supervisor stops sending work before the listener goes away. */
static int healthz(agg_http *h, struct agg__http_reply *r)
{
    pthread_mutex_lock(&h->writer_mu);
    bool writer_up = h->writer != NULL;
    pthread_mutex_unlock(&h->writer_mu);
    if (atomic_load(&h->draining) || !writer_up)
        return reply_text(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "draining: the aggregator is shutting down\n");
    return reply_text(r, MHD_HTTP_OK, "ok\n");
}

static int dispatch(agg_http *h, struct MHD_Connection *conn, const char *url,
                    enum agg__http_route route, struct agg__http_reply *r)
{
    switch (route) {
    case AGG__HTTP_ROUTE_HEALTHZ:
        return healthz(h, r);
    case AGG__HTTP_ROUTE_METRICS:
        return agg__http_metrics(h, r);
    case AGG__HTTP_ROUTE_QUERY:
        return agg__http_query(h, conn, r);
    case AGG__HTTP_ROUTE_SLOS: {
        const char *name = url[strlen(SLOS_PATH)] == '/' ? url + strlen(SLOS_PATH) + 1 : "";
        return agg__http_slos(h, conn, name[0] ? name : NULL, r);
    }
    case AGG__HTTP_ROUTE_BURNDOWN: {
        /* The NAME of /api/v1/slos/NAME/burndown; on_request bounded the path. */
        char name[HTTP_PATH_MAX + 1];
        const char *start = url + strlen(SLOS_PATH) + 1;
        size_t n = strlen(start) - strlen(BURNDOWN_SUFFIX);
        memcpy(name, start, n);
        name[n] = '\0';
        return agg__http_burndown(h, conn, name, r);
    }
    case AGG__HTTP_ROUTE_DASHBOARD:
        return agg__http_dashboard(r);
    default:
        return agg__http_error(r, MHD_HTTP_NOT_FOUND, NULL,
                               "no such path; slic serves / (the dashboard), /healthz, /metrics, "
                               "/api/v1/query, /api/v1/slos, /api/v1/slos/NAME and "
                               "/api/v1/slos/NAME/burndown");
    }
}

/* libmicrohttpd calls this first when the headers are in, then once per piece of body, then
 * once more at the end. Answering on the first call would make it close the connection, so GET
 * and HEAD are answered on the last call (keeping connections alive between scrapes); another
 * method is refused at once, without reading its body. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    static int headers_seen;
    (void)version, (void)upload;
    agg_http *h = cls;
    struct agg__http_reply r = {.status = MHD_HTTP_OK, .content_type = JSON_TYPE};
    enum agg__http_route route = route_of(url);
    bool readable =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (readable && !*state) {
        *state = &headers_seen;
        return MHD_YES;
    }
    if (readable && *upload_size) {
        *upload_size = 0; /* a body means nothing to a GET: dropped */
        return MHD_YES;
    }
    int rc;
    if (!readable)
        rc = agg__http_error(&r, MHD_HTTP_METHOD_NOT_ALLOWED, NULL,
                             "method %.16s is not allowed: the API is read-only (GET, HEAD)",
                             method);
    else if (strlen(url) > HTTP_PATH_MAX)
        rc = agg__http_error(&r, MHD_HTTP_URI_TOO_LONG, NULL, "the path is longer than %d bytes",
                             HTTP_PATH_MAX);
    else
        rc = dispatch(h, conn, url, route, &r);
    if (rc) {
        agg__buf_fini(&r.body);
        r.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        log_failure(h, url, rc);
    }
    int code = agg__http_code_index(r.status);
    if (code >= 0)
        atomic_fetch_add(&h->requests[route][code], 1);
    return rc ? send_internal_error(conn) : send_reply(conn, &r);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

/* libmicrohttpd's messages: the last one is kept for agg_http_create's error when starting
 * fails; all are logged, rate-limited, since clients can provoke them. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    agg_http *h = cls;
    char msg[sizeof h->last_log];
    char raw[sizeof h->last_log];
    vsnprintf(raw, sizeof raw, fmt, ap);
    raw[strcspn(raw, "\r\n")] = '\0';
    printable(raw, msg, sizeof msg);
    pthread_mutex_lock(&h->log_mu);
    memcpy(h->last_log, msg, sizeof msg);
    pthread_mutex_unlock(&h->log_mu);
    /* While starting, a failure is reported once, by agg_http_create's error. */
    uint64_t held = 0;
    if (!atomic_load(&h->started) ||
        !agg_ratelimit_allow(h->log_limit, fmt, slic_now_unix_ms(), &held))
        return;
    if (held)
        SLIC_WARN("http", "libmicrohttpd: %s [%llu more like it since the last such line]", msg,
                  (unsigned long long)held);
    else
        SLIC_WARN("http", "libmicrohttpd: %s", msg);
}

static struct MHD_Daemon *daemon_start(agg_http *h, const struct agg_http_options *o)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (h->addr.sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(flags, h->addr.port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&h->addr.sa, MHD_OPTION_THREAD_POOL_SIZE, o->threads,
                            MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_seconds,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONN_MEMORY,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_END);
}

int agg_http_create(const struct agg_http_options *opts, agg_store *store, agg_writer *writer,
                    struct agg_stats *stats, const struct agg_http_hooks *hooks, agg_http **out,
                    struct slic_errmsg *err)
{
    assert(opts && store && stats && out);
    struct agg_http_addr addr;
    struct slic_errmsg why = {{0}};
    if (agg_http_addr_parse(opts->listen, &addr, &why) != 0)
        return slic_errmsg_set(err, SLIC_ECONFIG, "http listen: %s", why.text);
    agg_http *h = slic_calloc(1, sizeof *h);
    if (!h)
        return SLIC_ENOMEM;
    if (agg_ratelimit_create(64, HTTP_LOG_PERIOD_MS, &h->log_limit) != 0) {
        slic_free(h);
        return SLIC_ENOMEM;
    }
    pthread_mutex_init(&h->writer_mu, NULL);
    pthread_mutex_init(&h->log_mu, NULL);
    h->store = store;
    h->writer = writer;
    h->stats = stats;
    h->addr = addr;
    h->forward = opts->forward;
    if (hooks)
        h->hooks = *hooks;
    if (!(h->daemon = daemon_start(h, opts))) {
        slic_errmsg_set(err, SLIC_ECONFIG, "cannot serve HTTP on %s: %s", addr.text,
                        h->last_log[0] ? h->last_log : "libmicrohttpd could not start");
        agg_http_destroy(h);
        return SLIC_ECONFIG;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info && info->port) {
        h->addr.port = info->port;
        addr_format(&h->addr);
    }
    atomic_store(&h->started, true);
    SLIC_INFO("http", "HTTP API and /metrics on http://%s", h->addr.text);
    *out = h;
    return 0;
}

void agg_http_drain(agg_http *h)
{
    if (!h)
        return;
    atomic_store(&h->draining, true);
    pthread_mutex_lock(&h->writer_mu);
    h->writer = NULL;
    pthread_mutex_unlock(&h->writer_mu);
}

uint16_t agg_http_port(const agg_http *h)
{
    return h->addr.port;
}

void agg_http_destroy(agg_http *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->writer_mu);
    pthread_mutex_destroy(&h->log_mu);
    agg_ratelimit_destroy(h->log_limit);
    slic_free(h);
}
