/* The probe set and its HTTP(S) probes. One curl multi handle per set is driven by the agent's
 * libuv loop through curl's multi-socket API: curl says which sockets to watch (one uv_poll_t
 * each) and when to wake it (one uv_timer_t), and we call curl_multi_socket_action back.
 * Each probe keeps one easy handle for its lifetime but forbids connection, DNS and TLS session
 * reuse, so every run measures what a new user sees. The set also schedules every probe of
 * both kinds and owns their lifecycle; TCP attempts and the loop-free parts (configuration,
 * status codes, schedule arithmetic, results) live in src_probe_tcp.c. */
#include "probe.h"

#include "alloc.h"
#include "batch.h"
#include "log.h"
#include "timeutil.h"
#include "version.h"

#include <assert.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_COMP "probe"

/* A socket curl asked us to watch. */
struct watch {
    uv_poll_t poll;
    curl_socket_t fd;
    agent_probe_set *set;
    struct watch *next;
};

struct probe {
    agent_probe_set *set;
    enum agent_probe_kind kind;
    char *sli;
    char *target;
    char *display;    /* target as logs show it */
    char *body_match; /* NULL when there is none */
    size_t match_len;
    bool https;
    uint64_t interval_ms, timeout_ms, offset_ms;
    struct agent_probe_status status;
    uv_timer_t tick;
    int64_t last_slot_ms;
    bool running;
    bool start_failing; /* the last tick could not start a run: log only the first */
    uint64_t run_start_ns;
    struct agent__probe_results res;
    /* HTTP */
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    uint64_t body_seen;
    bool body_found;
    size_t carry_len;
    /* The substring search keeps the last match_len - 1 bytes between writes, so a match
     * straddling two of curl's writes is found without buffering the body. */
    char window[2 * AGENT_PROBE_BODY_MATCH_MAX];
    /* TCP */
    struct agent__probe_tcp *tcp;
};

struct agent_probe_set {
    uv_loop_t *loop;
    struct agent_sink sink;
    char *jitter_key;
    CURLM *multi;
    uv_timer_t curl_timer;
    struct watch *watches;
    struct probe **probes;
    size_t n, cap;
    bool started, closing;
    unsigned pending; /* close callbacks outstanding; the set is freed when it drops to 0 */
    void (*closed)(void *arg);
    void *closed_arg;
};

int agent__probe_http_url_check(const char *url, bool *https)
{
    CURLU *u = curl_url();
    if (!u)
        return SLIC_ENOMEM;
    char *scheme = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    int rc = SLIC_EINVAL;
    if (uc == CURLUE_OK && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)) {
        *https = scheme[4] == 's';
        rc = 0;
    }
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

/* Every run ends here, whatever its kind. */
static void probe_done(void *arg, enum agent_probe_result r, const struct agent__probe_timing *t,
                       const char *why)
{
    struct probe *p = arg;
    p->running = false;
    agent__probe_results_report(&p->res, r, t, why);
}

/* ---- HTTP: one easy handle per probe ---- */

static bool contains(const char *h, size_t hn, const char *n, size_t nn)
{
    for (size_t i = 0; i + nn <= hn; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nn) == 0)
            return true;
    return false;
}

static void body_scan(struct probe *p, const char *data, size_t len)
{
    size_t keep_max = p->match_len - 1;
    while (len > 0 && !p->body_found) {
        size_t take = sizeof p->window - p->carry_len;
        take = take < len ? take : len;
        memcpy(p->window + p->carry_len, data, take);
        size_t wlen = p->carry_len + take;
        p->body_found = contains(p->window, wlen, p->body_match, p->match_len);
        size_t keep = wlen < keep_max ? wlen : keep_max;
        memmove(p->window, p->window + wlen - keep, keep);
        p->carry_len = keep;
        data += take;
        len -= take;
    }
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct probe *p = userp;
    size_t len = size * nmemb;
    if (p->body_match && p->body_seen < AGENT_PROBE_BODY_SCAN_MAX) {
        uint64_t room = AGENT_PROBE_BODY_SCAN_MAX - p->body_seen;
        body_scan(p, data, len < room ? len : (size_t)room);
    }
    p->body_seen += len;
    return len; /* everything past the scanned prefix is read and dropped */
}

static int http_easy_setup(struct probe *p, const char *ca_file, bool insecure)
{
    CURL *e = curl_easy_init();
    if (!e)
        return SLIC_ENOMEM;
    bool bad = false;
    bad |= curl_easy_setopt(e, CURLOPT_URL, p->target) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)p) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)p) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "slic-probe/" SLIC_VERSION) != CURLE_OK;
    /* A probe stands for a new user: resolve, connect and handshake on every run, or the
     * phases after the first run would measure curl's caches instead of the service. */
    bad |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L) != CURLE_OK;
    if (ca_file)
        bad |= curl_easy_setopt(e, CURLOPT_CAINFO, ca_file) != CURLE_OK;
    if (insecure) {
        bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK;
    }
    if (bad) {
        curl_easy_cleanup(e);
        return SLIC_ENOMEM; /* every option above is supported: only a copy can fail */
    }
    p->easy = e;
    return 0;
}

static int http_start(struct probe *p)
{
    p->errbuf[0] = '\0';
    p->body_seen = 0;
    p->body_found = false;
    p->carry_len = 0;
    p->run_start_ns = slic_now_mono_ns();
    CURLMcode mc = curl_multi_add_handle(p->set->multi, p->easy);
    return mc == CURLM_OK ? 0 : mc == CURLM_OUT_OF_MEMORY ? SLIC_ENOMEM : SLIC_EINVAL;
}

static enum agent_probe_result http_classify(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return AGENT_PROBE_FAIL_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
        return AGENT_PROBE_FAIL_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return AGENT_PROBE_FAIL_DNS;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
        return AGENT_PROBE_FAIL_TLS;
    default:
        return AGENT_PROBE_FAIL_OTHER;
    }
}

static double us_to_s(curl_off_t us)
{
    return us > 0 ? (double)us / 1e6 : 0.0;
}

/* curl's times are cumulative from the start of the transfer; phases are their differences.
 * A time of 0 means the transfer never reached that point. */
static void http_timing(struct probe *p, struct agent__probe_timing *t)
{
    curl_off_t nl = 0, ct = 0, ac = 0, st = 0, tt = 0;
    curl_easy_getinfo(p->easy, CURLINFO_NAMELOOKUP_TIME_T, &nl);
    curl_easy_getinfo(p->easy, CURLINFO_CONNECT_TIME_T, &ct);
    curl_easy_getinfo(p->easy, CURLINFO_APPCONNECT_TIME_T, &ac);
    curl_easy_getinfo(p->easy, CURLINFO_STARTTRANSFER_TIME_T, &st);
    curl_easy_getinfo(p->easy, CURLINFO_TOTAL_TIME_T, &tt);
    *t = (struct agent__probe_timing){.dns = -1, .connect = -1, .tls = -1, .ttfb = -1};
    if (nl > 0 || ct > 0)
        t->dns = us_to_s(nl);
    if (ct > 0)
        t->connect = us_to_s(ct - nl);
    if (p->https && ac > 0)
        t->tls = us_to_s(ac - ct);
    curl_off_t sent = p->https ? ac : ct;
    if (st > 0 && sent > 0)
        t->ttfb = us_to_s(st - sent);
    uint64_t now = slic_now_mono_ns();
    t->total =
        tt > 0 ? us_to_s(tt) : (double)(now > p->run_start_ns ? now - p->run_start_ns : 0) / 1e9;
}

static void http_finish(struct probe *p, CURLcode rc)
{
    struct agent__probe_timing t;
    http_timing(p, &t);
    long code = 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(p->set->multi, p->easy);

    enum agent_probe_result r = AGENT_PROBE_OK;
    char why[CURL_ERROR_SIZE + 96];
    why[0] = '\0';
    if (rc != CURLE_OK) {
        r = http_classify(rc);
        snprintf(why, sizeof why, "%s", p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
    } else if (!agent_probe_status_match(&p->status, code)) {
        char want[128];
        agent__probe_status_format(&p->status, want, sizeof want);
        r = AGENT_PROBE_FAIL_STATUS;
        snprintf(why, sizeof why, "HTTP status %ld, expected %s", code, want);
    } else if (p->body_match && !p->body_found) {
        r = AGENT_PROBE_FAIL_BODY;
        snprintf(why, sizeof why, "body has no \"%.64s\" in its first %d bytes", p->body_match,
                 AGENT_PROBE_BODY_SCAN_MAX);
    }
    probe_done(p, r, &t, why);
}

/* Hands every finished transfer to its probe. Called after each curl_multi_socket_action. */
static void http_drain(agent_probe_set *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        /* m belongs to curl and dies with curl_multi_remove_handle: copy what we need. */
        CURLcode rc = m->data.result;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        http_finish((struct probe *)priv, rc);
    }
}

/* ---- curl <-> libuv ---- */

static void set_unref(agent_probe_set *s);

static void on_watch_closed(uv_handle_t *h)
{
    struct watch *w = h->data;
    agent_probe_set *s = w->set;
    slic_free(w);
    set_unref(s);
}

static void watch_close(agent_probe_set *s, struct watch *w)
{
    for (struct watch **pp = &s->watches; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    /* uv_close stops the poll at once, before curl closes the descriptor: libuv must never
     * watch a closed fd, which curl may hand out again for its next socket. */
    s->pending++;
    uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct watch *w = h->data;
    agent_probe_set *s = w->set;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    CURLMcode mc = curl_multi_socket_action(s->multi, w->fd, flags, &running);
    if (mc != CURLM_OK)
        SLIC_WARN(LOG_COMP, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
    http_drain(s);
}

static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    agent_probe_set *s = userp;
    struct watch *w = socketp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (w) {
            watch_close(s, w);
            if (s->multi)
                curl_multi_assign(s->multi, fd, NULL);
        }
        return 0;
    }
    if (!w) {
        w = slic_calloc(1, sizeof *w);
        if (!w || uv_poll_init_socket(s->loop, &w->poll, fd) < 0) {
            slic_free(w);
            return -1; /* curl fails the transfer that wanted this socket */
        }
        w->fd = fd;
        w->set = s;
        w->poll.data = w;
        w->next = s->watches;
        s->watches = w;
        curl_multi_assign(s->multi, fd, w);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&w->poll, events, on_poll) < 0 ? -1 : 0;
}

static void on_curl_timeout(uv_timer_t *h)
{
    agent_probe_set *s = h->data;
    int running;
    CURLMcode mc = curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (mc != CURLM_OK)
        SLIC_WARN(LOG_COMP, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
    http_drain(s);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
    agent_probe_set *s = userp;
    (void)m;
    /* curl must not be called back from inside its own callback: even "now" (0 ms) goes
     * through the loop. */
    if (timeout_ms < 0)
        uv_timer_stop(&s->curl_timer);
    else
        uv_timer_start(&s->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- the set ---- */

static void probe_arm(struct probe *p);

static void on_tick(uv_timer_t *h)
{
    struct probe *p = h->data;
    probe_arm(p);
    if (p->running) {
        p->res.c.skipped++;
        return;
    }
    int rc = p->kind == AGENT_PROBE_HTTP
                 ? http_start(p)
                 : agent__probe_tcp_run(p->tcp, p->timeout_ms, probe_done, p);
    if (rc < 0) {
        p->res.c.skipped++;
        if (!p->start_failing)
            SLIC_WARN(LOG_COMP, "probe %s: cannot start a run: %s", p->sli, slic_strerror(rc));
        p->start_failing = true;
        return;
    }
    p->start_failing = false;
    p->running = true;
    p->res.c.started++;
}

static void probe_arm(struct probe *p)
{
    int64_t now = slic_now_unix_ms();
    /* A timer may fire a little before its wall-clock slot (loop time is cached, and the two
     * clocks drift): never schedule the same slot twice. But if the wall clock was stepped
     * back, the last slot lies far ahead: start again from now rather than stall. */
    int64_t after = now;
    if (p->last_slot_ms > now && p->last_slot_ms - now <= (int64_t)p->interval_ms)
        after = p->last_slot_ms;
    int64_t slot = agent_probe_next_slot_ms(after, p->interval_ms, p->offset_ms);
    p->last_slot_ms = slot;
    uv_timer_start(&p->tick, on_tick, (uint64_t)(slot - now), 0);
}

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = slic_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* The URL as logs show it: without user, password and query, which may carry secrets. */
static char *http_url_display(const char *url)
{
    CURLU *u = curl_url();
    char *shown = NULL, *copy = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &shown, 0) == CURLUE_OK)
        copy = str_dup(shown);
    curl_free(shown);
    curl_url_cleanup(u);
    return copy;
}

static void probe_free(struct probe *p)
{
    if (p->easy)
        curl_easy_cleanup(p->easy);
    slic_free(p->sli);
    slic_free(p->target);
    slic_free(p->display);
    slic_free(p->body_match);
    slic_free(p);
}

static int probe_fill(agent_probe_set *s, struct probe *p, const struct agent_probe_config *c)
{
    p->set = s;
    p->kind = c->kind;
    p->status = c->status;
    agent__probe_durations_ms(c, &p->interval_ms, &p->timeout_ms);
    p->offset_ms =
        agent_probe_jitter_ms(s->jitter_key, c->sli, c->target, p->interval_ms, p->timeout_ms);
    p->sli = str_dup(c->sli);
    p->target = str_dup(c->target);
    p->display = c->kind == AGENT_PROBE_HTTP ? http_url_display(c->target) : str_dup(c->target);
    if (!p->sli || !p->target || !p->display)
        return SLIC_ENOMEM;
    p->res = (struct agent__probe_results){.sink = &s->sink, .sli = p->sli, .target = p->display};
    if (c->kind == AGENT_PROBE_TCP)
        return agent__probe_tcp_create(s->loop, c->target, &p->tcp);
    if (c->body_match && *c->body_match) {
        p->body_match = str_dup(c->body_match);
        if (!p->body_match)
            return SLIC_ENOMEM;
        p->match_len = strlen(p->body_match);
    }
    int rc = agent__probe_http_url_check(c->target, &p->https);
    if (rc < 0)
        return rc;
    return http_easy_setup(p, c->ca_file, c->insecure);
}

int agent_probe_set_add(agent_probe_set *s, const struct agent_probe_config *cfg,
                        struct slic_errmsg *err)
{
    if (s->started || s->closing)
        return slic_errmsg_set(err, SLIC_EINVAL, "probe set: add after start");
    int rc = agent_probe_config_validate(cfg, err);
    if (rc < 0)
        return rc;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        struct probe **grown = slic_realloc(s->probes, cap * sizeof *grown);
        if (!grown)
            return slic_errmsg_set(err, SLIC_ENOMEM, "probe '%s': out of memory", cfg->sli);
        s->probes = grown;
        s->cap = cap;
    }
    struct probe *p = slic_calloc(1, sizeof *p);
    if (!p)
        return slic_errmsg_set(err, SLIC_ENOMEM, "probe '%s': out of memory", cfg->sli);
    rc = probe_fill(s, p, cfg);
    if (rc < 0) {
        if (p->tcp)
            agent__probe_tcp_close(p->tcp, NULL, NULL); /* no run yet: frees at once */
        probe_free(p);
        return slic_errmsg_set(err, rc, "probe '%s': %s", cfg->sli, slic_strerror(rc));
    }
    s->probes[s->n++] = p;
    return 0;
}

int agent_probe_set_create(uv_loop_t *loop, const struct agent_sink *sink, const char *jitter_key,
                           agent_probe_set **out, struct slic_errmsg *err)
{
    /* Reference-counted by curl, and thread-safe in this libcurl (CURL_VERSION_THREADSAFE). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return slic_errmsg_set(err, SLIC_EINVAL, "probe set: curl_global_init failed");
    agent_probe_set *s = slic_calloc(1, sizeof *s);
    if (s)
        s->jitter_key = str_dup(jitter_key ? jitter_key : "");
    if (s && s->jitter_key)
        s->multi = curl_multi_init();
    if (!s || !s->multi) {
        if (s)
            slic_free(s->jitter_key);
        slic_free(s);
        curl_global_cleanup();
        return slic_errmsg_set(err, SLIC_ENOMEM, "probe set: out of memory");
    }
    s->loop = loop;
    s->sink = *sink;
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, (void *)s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, (void *)s);
    uv_timer_init(loop, &s->curl_timer);
    s->curl_timer.data = s;
    *out = s;
    return 0;
}

int agent_probe_set_start(agent_probe_set *s)
{
    if (s->started || s->closing)
        return SLIC_EINVAL;
    s->started = true;
    for (size_t i = 0; i < s->n; i++) {
        struct probe *p = s->probes[i];
        uv_timer_init(s->loop, &p->tick);
        p->tick.data = p;
        probe_arm(p);
    }
    return 0;
}

size_t agent_probe_set_count(const agent_probe_set *s)
{
    return s->n;
}

int agent_probe_set_counters(const agent_probe_set *s, size_t index,
                             struct agent_probe_counters *out)
{
    if (index >= s->n)
        return SLIC_EINVAL;
    *out = s->probes[index]->res.c;
    return 0;
}

/* ---- closing ---- */

static void set_unref(agent_probe_set *s)
{
    if (--s->pending > 0 || !s->closing)
        return;
    void (*closed)(void *) = s->closed;
    void *arg = s->closed_arg;
    for (size_t i = 0; i < s->n; i++)
        probe_free(s->probes[i]);
    slic_free(s->probes);
    slic_free(s->jitter_key);
    slic_free(s);
    curl_global_cleanup();
    if (closed)
        closed(arg);
}

static void on_set_handle_closed(uv_handle_t *h)
{
    set_unref(h->data);
}

static void on_tick_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    set_unref(p->set);
}

static void on_tcp_closed(void *arg)
{
    set_unref(arg);
}

static void probe_stop(agent_probe_set *s, struct probe *p)
{
    if (s->started) {
        s->pending++;
        uv_close((uv_handle_t *)&p->tick, on_tick_closed);
    }
    if (p->easy) {
        /* Curl's order: off the multi handle, then the easy handle, and the multi last. */
        if (p->running)
            curl_multi_remove_handle(s->multi, p->easy);
        curl_easy_cleanup(p->easy);
        p->easy = NULL;
    }
    if (p->tcp) {
        s->pending++;
        agent__probe_tcp_close(p->tcp, on_tcp_closed, s);
        p->tcp = NULL;
    }
    p->running = false;
}

void agent_probe_set_close(agent_probe_set *s, void (*closed)(void *arg), void *arg)
{
    if (!s)
        return;
    assert(!s->closing);
    s->closing = true;
    s->closed = closed;
    s->closed_arg = arg;
    /* Held until every close below has been requested, so no callback can free the set while
     * this function still walks it. */
    s->pending++;
    for (size_t i = 0; i < s->n; i++)
        probe_stop(s, s->probes[i]);
    /* Cleared first: curl may report sockets removed from inside the cleanup, and must not be
     * called back then. */
    CURLM *multi = s->multi;
    s->multi = NULL;
    curl_multi_cleanup(multi);
    /* Sockets curl never reported removed (it owes no callback after cleanup). */
    while (s->watches)
        watch_close(s, s->watches);
    s->pending++;
    uv_close((uv_handle_t *)&s->curl_timer, on_set_handle_closed);
    set_unref(s);
}
