/* TCP probes, and the loop-free parts both probe kinds share: configuration checks, expected
 * status codes, schedule arithmetic, and turning a run's result into events, counters and
 * state-change logs. The probe set itself and HTTP live in src_probe_http.c.
 * A TCP run is one connect attempt on the agent's libuv loop. A host name is resolved on
 * libuv's thread pool (uv_getaddrinfo) and the first address returned is tried; an address
 * literal is connected to directly. A per-attempt timer bounds the whole attempt.
 * Each attempt is its own heap object because its handles outlive its result: a connect can
 * only be abandoned by closing the socket, and a resolution already running on the pool cannot
 * be cancelled at all, so the attempt frees itself once every callback owed to it has run. */
#include "probe.h"

#include "alloc.h"
#include "batch.h"
#include "log.h"
#include "timeutil.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const result_names[AGENT_PROBE_RESULT_COUNT] = {
    "ok", "timeout", "connect", "dns", "tls", "status", "body", "other",
};

const char *agent_probe_result_name(enum agent_probe_result r)
{
    return (unsigned)r < AGENT_PROBE_RESULT_COUNT ? result_names[r] : "unknown";
}

/* ---- targets ---- */

static bool host_char_ok(char c)
{
    /* Names, IPv4, IPv6 (inside brackets) with an optional %scope. Anything else (spaces,
     * slashes, a scheme) is a configuration mistake better reported at load than at run. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == ':' || c == '%';
}

static int port_parse(const char *s, int *out)
{
    int v = 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 5)
            return SLIC_EINVAL;
        v = v * 10 + (s[n] - '0');
    }
    if (n == 0 || v < 1 || v > 65535)
        return SLIC_EINVAL;
    *out = v;
    return 0;
}

int agent__probe_tcp_target_parse(const char *target, char *host, size_t host_size, int *port)
{
    const char *h = target;
    const char *colon;
    size_t hlen;
    if (target[0] == '[') {
        const char *end = strchr(target, ']');
        if (!end || end[1] != ':')
            return SLIC_EINVAL;
        h = target + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(target, ':');
        if (!colon)
            return SLIC_EINVAL;
        hlen = (size_t)(colon - target);
        /* A bare IPv6 address is ambiguous ("::1:80"): it must be written in brackets. */
        if (memchr(target, ':', hlen))
            return SLIC_EINVAL;
    }
    if (hlen == 0 || hlen >= host_size)
        return SLIC_EINVAL;
    for (size_t i = 0; i < hlen; i++)
        if (!host_char_ok(h[i]))
            return SLIC_EINVAL;
    int p;
    if (port_parse(colon + 1, &p) < 0)
        return SLIC_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = p;
    return 0;
}

/* ---- expected status codes ---- */

static bool status_code_parse(const char *s, size_t len, int *out)
{
    if (len != 3 || s[0] < '1' || s[0] > '5')
        return false;
    for (size_t i = 1; i < 3; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    *out = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return true;
}

static bool status_item_parse(const char *s, size_t len, struct agent_probe_status_range *r)
{
    if (len == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
        (s[2] == 'x' || s[2] == 'X')) {
        r->lo = (s[0] - '0') * 100;
        r->hi = r->lo + 99;
        return true;
    }
    const char *dash = memchr(s, '-', len);
    if (!dash) {
        if (!status_code_parse(s, len, &r->lo))
            return false;
        r->hi = r->lo;
        return true;
    }
    return status_code_parse(s, (size_t)(dash - s), &r->lo) &&
           status_code_parse(dash + 1, len - (size_t)(dash - s) - 1, &r->hi) && r->lo <= r->hi;
}

int agent_probe_status_parse(const char *spec, struct agent_probe_status *out,
                             struct slic_errmsg *err)
{
    struct agent_probe_status st = {0};
    const char *p = spec;
    for (;;) {
        while (*p == ' ')
            p++;
        const char *end = p + strcspn(p, ",");
        size_t len = (size_t)(end - p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (st.n == AGENT_PROBE_STATUS_RANGES_MAX)
            return slic_errmsg_set(err, SLIC_EINVAL, "status codes '%s': more than %d items", spec,
                                   AGENT_PROBE_STATUS_RANGES_MAX);
        if (!status_item_parse(p, len, &st.r[st.n]))
            return slic_errmsg_set(err, SLIC_EINVAL,
                                   "status codes '%s': '%.*s' is not a code (200), a class "
                                   "(2xx) or a range (200-299) within 100..599",
                                   spec, (int)len, p);
        st.n++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    *out = st;
    return 0;
}

bool agent_probe_status_match(const struct agent_probe_status *s, long code)
{
    if (s->n == 0)
        return code >= 200 && code <= 399;
    for (size_t i = 0; i < s->n; i++)
        if (code >= s->r[i].lo && code <= s->r[i].hi)
            return true;
    return false;
}

void agent__probe_status_format(const struct agent_probe_status *s, char *buf, size_t size)
{
    static const struct agent_probe_status dflt = {1, {{200, 399}}};
    if (s->n == 0)
        s = &dflt;
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n && used < size; i++) {
        const struct agent_probe_status_range *r = &s->r[i];
        int n = r->lo == r->hi
                    ? snprintf(buf + used, size - used, "%s%d", i ? "," : "", r->lo)
                    : snprintf(buf + used, size - used, "%s%d-%d", i ? "," : "", r->lo, r->hi);
        used += n > 0 ? (size_t)n : 0;
    }
}

/* ---- configuration ---- */

void agent__probe_durations_ms(const struct agent_probe_config *c, uint64_t *interval_ms,
                               uint64_t *timeout_ms)
{
    double interval = c->interval == 0 ? AGENT_PROBE_INTERVAL_DEFAULT : c->interval;
    double timeout = c->timeout == 0 ? fmin(AGENT_PROBE_TIMEOUT_DEFAULT, interval / 2) : c->timeout;
    /* Out-of-range values are caught by the caller on the clamped result. */
    *interval_ms = interval > 0 && interval <= 2 * AGENT_PROBE_INTERVAL_MAX
                       ? (uint64_t)llround(interval * 1000)
                       : 0;
    *timeout_ms = timeout > 0 && timeout <= 2 * AGENT_PROBE_INTERVAL_MAX
                      ? (uint64_t)llround(timeout * 1000)
                      : 0;
}

static int target_check(const struct agent_probe_config *c, struct slic_errmsg *err)
{
    if (c->kind == AGENT_PROBE_HTTP) {
        bool https;
        int rc = agent__probe_http_url_check(c->target, &https);
        if (rc == SLIC_ENOMEM)
            return slic_errmsg_set(err, rc, "probe '%s': out of memory", c->sli);
        if (rc < 0)
            return slic_errmsg_set(err, SLIC_ECONFIG,
                                   "probe '%s': url '%s': expected an http:// or https:// URL",
                                   c->sli, c->target);
        return 0;
    }
    if (c->kind != AGENT_PROBE_TCP)
        return slic_errmsg_set(err, SLIC_ECONFIG, "probe '%s': kind: expected http or tcp", c->sli);
    char host[256];
    int port;
    if (agent__probe_tcp_target_parse(c->target, host, sizeof host, &port) < 0)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "probe '%s': target '%s': expected host:port or [ipv6]:port "
                               "with port 1..65535",
                               c->sli, c->target);
    if (c->status.n || (c->body_match && *c->body_match) || c->ca_file || c->insecure)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "probe '%s': status, body match, ca_file and insecure apply to "
                               "http probes only",
                               c->sli);
    return 0;
}

static int http_options_check(const struct agent_probe_config *c, struct slic_errmsg *err)
{
    if (c->status.n > AGENT_PROBE_STATUS_RANGES_MAX)
        return slic_errmsg_set(err, SLIC_ECONFIG, "probe '%s': more than %d status ranges", c->sli,
                               AGENT_PROBE_STATUS_RANGES_MAX);
    for (size_t i = 0; i < c->status.n; i++) {
        const struct agent_probe_status_range *r = &c->status.r[i];
        if (r->lo < 100 || r->hi > 599 || r->lo > r->hi)
            return slic_errmsg_set(err, SLIC_ECONFIG,
                                   "probe '%s': status range %d-%d: expected 100 <= lo <= hi "
                                   "<= 599",
                                   c->sli, r->lo, r->hi);
    }
    if (c->body_match && strlen(c->body_match) > AGENT_PROBE_BODY_MATCH_MAX)
        return slic_errmsg_set(err, SLIC_ECONFIG, "probe '%s': body match: longer than %d bytes",
                               c->sli, AGENT_PROBE_BODY_MATCH_MAX);
    if (c->ca_file && access(c->ca_file, R_OK) != 0)
        return slic_errmsg_set(err, SLIC_ECONFIG, "probe '%s': ca_file '%s': not readable", c->sli,
                               c->ca_file);
    return 0;
}

int agent_probe_config_validate(const struct agent_probe_config *c, struct slic_errmsg *err)
{
    if (!c->sli || !slic_name_valid(c->sli) ||
        strlen(c->sli) > SLIC_NAME_MAX - AGENT_PROBE_SUFFIX_MAX)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "probe '%s': sli: expected 1..%d characters of [A-Za-z0-9_.:-]",
                               c->sli ? c->sli : "", SLIC_NAME_MAX - AGENT_PROBE_SUFFIX_MAX);
    if (!c->target || !*c->target)
        return slic_errmsg_set(err, SLIC_ECONFIG, "probe '%s': target: missing", c->sli);
    uint64_t interval_ms, timeout_ms;
    agent__probe_durations_ms(c, &interval_ms, &timeout_ms);
    if (interval_ms < (uint64_t)(AGENT_PROBE_INTERVAL_MIN * 1000) ||
        interval_ms > (uint64_t)(AGENT_PROBE_INTERVAL_MAX * 1000))
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "probe '%s': interval %g s: expected %g s to %g s", c->sli,
                               c->interval, AGENT_PROBE_INTERVAL_MIN, AGENT_PROBE_INTERVAL_MAX);
    if (timeout_ms < 1 || timeout_ms >= interval_ms)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "probe '%s': timeout %g s: expected at least 1 ms and less than "
                               "the interval (%g s)",
                               c->sli, (double)timeout_ms / 1000, (double)interval_ms / 1000);
    int rc = target_check(c, err);
    if (rc < 0)
        return rc;
    return c->kind == AGENT_PROBE_HTTP ? http_options_check(c, err) : 0;
}

/* ---- scheduling ---- */

uint64_t agent_probe_jitter_ms(const char *jitter_key, const char *sli, const char *target,
                               uint64_t interval_ms, uint64_t timeout_ms)
{
    uint64_t span = interval_ms / 10;
    if (timeout_ms < interval_ms && interval_ms - timeout_ms < span)
        span = interval_ms - timeout_ms;
    if (span == 0)
        return 0;
    /* FNV-1a over the three strings (NUL-separated so "ab"+"c" differs from "a"+"bc"), then a
     * splitmix64 finaliser so every bit of the hash reaches the low bits the modulo keeps. */
    const char *parts[3] = {jitter_key ? jitter_key : "", sli, target};
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i];; p++) {
            h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
            if (!*p)
                break;
        }
    }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h % span;
}

int64_t agent_probe_next_slot_ms(int64_t after_ms, uint64_t interval_ms, uint64_t offset_ms)
{
    assert(interval_ms > 0 && offset_ms < interval_ms);
    int64_t iv = (int64_t)interval_ms;
    int64_t slot = slic_window_align(after_ms - (int64_t)offset_ms, iv) + (int64_t)offset_ms;
    return slot + iv;
}

/* ---- results: events, counters, state ---- */

static void result_emit(const struct agent__probe_results *pr, const char *suffix, double latency,
                        bool good)
{
    char name[SLIC_NAME_MAX + 1];
    int n = snprintf(name, sizeof name, "%s%s", pr->sli, suffix);
    assert(n > 0 && (size_t)n < sizeof name); /* the SLI length was checked at add */
    if (!(latency >= 0))
        latency = 0;
    if (latency > SLIC_EVENT_LATENCY_MAX)
        latency = SLIC_EVENT_LATENCY_MAX;
    struct slic_event ev = {
        .name = name, .name_len = (size_t)n, .latency = latency, .weight = 1, .good = good};
    agent_sink_emit(pr->sink, &ev);
}

void agent__probe_results_report(struct agent__probe_results *pr, enum agent_probe_result r,
                                 const struct agent__probe_timing *t, const char *why)
{
    bool good = r == AGENT_PROBE_OK;
    pr->c.runs++;
    pr->c.results[r]++;
    pr->c.last = r;
    /* Phases first, then the probe's own event: a consumer that sees <sli> has seen the run. */
    if (t->dns >= 0)
        result_emit(pr, ".dns", t->dns, good);
    if (t->connect >= 0)
        result_emit(pr, ".connect", t->connect, good);
    if (t->tls >= 0)
        result_emit(pr, ".tls", t->tls, good);
    if (t->ttfb >= 0)
        result_emit(pr, ".ttfb", t->ttfb, good);
    result_emit(pr, "", t->total, good);

    if (!good && pr->c.state != AGENT_PROBE_DOWN)
        SLIC_WARN("probe", "probe %s (%s) is down: %s after %.3f s: %s", pr->sli, pr->target,
                  agent_probe_result_name(r), t->total, why);
    else if (good && pr->c.state == AGENT_PROBE_DOWN)
        SLIC_INFO("probe", "probe %s (%s) is up again (%.3f s)", pr->sli, pr->target, t->total);
    pr->c.state = good ? AGENT_PROBE_UP : AGENT_PROBE_DOWN;
}

/* ---- TCP runs ---- */

/* RFC 1035 names are at most 253 characters; IPv6 literals with a scope id fit easily. */
#define TCP_HOST_MAX 256

struct attempt {
    struct agent__probe_tcp *owner;
    struct attempt *next;
    uv_timer_t timer; /* the timeout; also delivers a connect error detected synchronously */
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t conn;
    unsigned pending; /* callbacks still owed: one per handle to close, one per resolution */
    bool finished;    /* result delivered, or abandoned by close: ignore late callbacks */
    bool resolving;
    bool tcp_open;
    int sync_error;
    uint64_t start_ns;
    uint64_t resolved_ns; /* 0 when the target is an address literal */
    agent__probe_done done;
    uint64_t timeout_ms;
    void *arg;
};

struct agent__probe_tcp {
    uv_loop_t *loop;
    char host[TCP_HOST_MAX];
    char port[8];
    bool literal;
    struct sockaddr_storage addr; /* when literal */
    struct attempt *attempts;     /* every attempt not yet freed, finished or not */
    bool closing;
    void (*closed)(void *arg);
    void *closed_arg;
};

int agent__probe_tcp_create(uv_loop_t *loop, const char *target, struct agent__probe_tcp **out)
{
    struct agent__probe_tcp *t = slic_calloc(1, sizeof *t);
    if (!t)
        return SLIC_ENOMEM;
    int port;
    if (agent__probe_tcp_target_parse(target, t->host, sizeof t->host, &port) < 0) {
        slic_free(t);
        return SLIC_EINVAL;
    }
    t->loop = loop;
    snprintf(t->port, sizeof t->port, "%d", port);
    t->literal = uv_ip4_addr(t->host, port, (struct sockaddr_in *)&t->addr) == 0 ||
                 uv_ip6_addr(t->host, port, (struct sockaddr_in6 *)&t->addr) == 0;
    *out = t;
    return 0;
}

static enum agent_probe_result tcp_classify(int status)
{
    switch (status) {
    case UV_ETIMEDOUT:
        return AGENT_PROBE_FAIL_TIMEOUT;
    case UV_ECONNREFUSED:
    case UV_ENETUNREACH:
    case UV_EHOSTUNREACH:
    case UV_EADDRNOTAVAIL:
        return AGENT_PROBE_FAIL_CONNECT;
    case UV_EAI_NONAME:
    case UV_EAI_AGAIN:
    case UV_EAI_FAIL:
    case UV_EAI_NODATA:
    case UV_EAI_ADDRFAMILY:
        return AGENT_PROBE_FAIL_DNS;
    default:
        return AGENT_PROBE_FAIL_OTHER;
    }
}

static double seconds_between(uint64_t from_ns, uint64_t to_ns)
{
    return to_ns > from_ns ? (double)(to_ns - from_ns) / 1e9 : 0.0;
}

static void owner_free(struct agent__probe_tcp *t)
{
    void (*closed)(void *) = t->closed;
    void *arg = t->closed_arg;
    slic_free(t);
    if (closed)
        closed(arg);
}

static void attempt_unref(struct attempt *a)
{
    if (--a->pending > 0)
        return;
    struct agent__probe_tcp *t = a->owner;
    for (struct attempt **pp = &t->attempts; *pp; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    slic_free(a);
    if (t->closing && !t->attempts)
        owner_free(t);
}

static void on_handle_closed(uv_handle_t *h)
{
    attempt_unref(h->data);
}

/* Stops everything the attempt still has going. Memory goes in the last callback. */
static void attempt_release(struct attempt *a)
{
    a->finished = true;
    uv_close((uv_handle_t *)&a->timer, on_handle_closed);
    if (a->tcp_open)
        uv_close((uv_handle_t *)&a->tcp, on_handle_closed);
    /* Fails with UV_EBUSY once the lookup is running on the pool; on_resolved then drops the
     * result when it arrives. */
    if (a->resolving)
        uv_cancel((uv_req_t *)&a->gai);
}

static void attempt_finish(struct attempt *a, int status)
{
    uint64_t now = slic_now_mono_ns();
    struct agent__probe_timing t = {.dns = -1, .connect = -1, .tls = -1, .ttfb = -1};
    t.total = seconds_between(a->start_ns, now);
    if (a->resolved_ns)
        t.dns = seconds_between(a->start_ns, a->resolved_ns);
    if (status == 0)
        t.connect = seconds_between(a->resolved_ns ? a->resolved_ns : a->start_ns, now);
    char why[128];
    if (status == UV_ETIMEDOUT)
        snprintf(why, sizeof why, "no connection within %llu ms",
                 (unsigned long long)a->timeout_ms);
    else
        snprintf(why, sizeof why, "%s", status == 0 ? "" : uv_strerror(status));
    attempt_release(a);
    a->done(a->arg, status == 0 ? AGENT_PROBE_OK : tcp_classify(status), &t, why);
}

static void on_timer(uv_timer_t *h)
{
    struct attempt *a = h->data;
    attempt_finish(a, a->sync_error ? a->sync_error : UV_ETIMEDOUT);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct attempt *a = req->data;
    /* After a timeout or close the socket was closed under the request: UV_ECANCELED. */
    if (!a->finished)
        attempt_finish(a, status);
}

/* A connect can fail inside uv_tcp_connect (no file descriptors, no route). The result is
 * still delivered from the loop, through the timer, so `done` never runs inside a call. */
static void connect_fail_later(struct attempt *a, int rc)
{
    a->sync_error = rc;
    uv_timer_start(&a->timer, on_timer, 0, 0);
}

static void connect_start(struct attempt *a, const struct sockaddr *addr)
{
    int rc = uv_tcp_init(a->owner->loop, &a->tcp);
    if (rc < 0) {
        connect_fail_later(a, rc);
        return;
    }
    a->tcp.data = a;
    a->tcp_open = true;
    a->pending++;
    a->conn.data = a;
    rc = uv_tcp_connect(&a->conn, &a->tcp, addr, on_connected);
    if (rc < 0)
        connect_fail_later(a, rc);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct attempt *a = req->data;
    a->resolving = false;
    if (!a->finished) {
        if (status < 0) {
            attempt_finish(a, status);
        } else {
            a->resolved_ns = slic_now_mono_ns();
            connect_start(a, res->ai_addr);
        }
    }
    uv_freeaddrinfo(res);
    attempt_unref(a);
}

int agent__probe_tcp_run(struct agent__probe_tcp *t, uint64_t timeout_ms, agent__probe_done done,
                         void *arg)
{
    assert(!t->closing);
    struct attempt *a = slic_calloc(1, sizeof *a);
    if (!a)
        return SLIC_ENOMEM;
    a->owner = t;
    a->done = done;
    a->timeout_ms = timeout_ms;
    a->arg = arg;
    a->start_ns = slic_now_mono_ns();
    uv_timer_init(t->loop, &a->timer);
    a->timer.data = a;
    a->pending = 1;
    a->next = t->attempts;
    t->attempts = a;
    uv_timer_start(&a->timer, on_timer, timeout_ms, 0);

    if (t->literal) {
        connect_start(a, (const struct sockaddr *)&t->addr);
        return 0;
    }
    /* No AI_ADDRCONFIG: glibc ignores loopback addresses for it, so "localhost" would not
     * resolve on a host whose only interface is lo. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    a->gai.data = a;
    int rc = uv_getaddrinfo(t->loop, &a->gai, on_resolved, t->host, t->port, &hints);
    if (rc < 0) {
        attempt_release(a);
        return rc;
    }
    a->resolving = true;
    a->pending++;
    return 0;
}

void agent__probe_tcp_close(struct agent__probe_tcp *t, void (*closed)(void *arg), void *arg)
{
    t->closing = true;
    t->closed = closed;
    t->closed_arg = arg;
    for (struct attempt *a = t->attempts; a; a = a->next)
        if (!a->finished)
            attempt_release(a);
    if (!t->attempts)
        owner_free(t);
}
