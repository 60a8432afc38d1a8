/* The alert pusher's thread (alertpush.h): posts to every target through one libcurl multi
 * handle. It sleeps in curl_multi_poll, which both waits for the sockets of posts in flight and
 * is woken by agg_alertpush_update and agg_alertpush_destroy (curl_multi_wakeup), so a change
 * goes out at once and shutdown never waits for a receiver. Targets are independent: each has
 * its own post in flight, backoff and resend clock, so a dead one delays no other. */
#include "alertpush_int.h"

#include "alloc.h"
#include "log.h"
#include "timeutil.h"
#include "version.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define COMPONENT "alertpush"
/* The first retry after a failure, doubled per failure up to the resend interval. */
#define BACKOFF_MIN_NS 1000000000ull

static size_t on_reply(char *data, size_t size, size_t n, void *arg)
{
    struct agg__alertpush_target *t = arg;
    size_t len = size * n, room = AGG__ALERTPUSH_REPLY_KEEP - t->reply_len;
    size_t take = len < room ? len : room;
    memcpy(t->reply + t->reply_len, data, take);
    t->reply_len += take;
    t->reply[t->reply_len] = '\0';
    return len;
}

/* Printable ASCII only: a reply is untrusted text going into the log. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            *s = ' ';
}

static uint64_t target_due_at(const agg_alertpush *p, const struct agg__alertpush_target *t)
{
    uint64_t at = t->gen_sent != p->gen ? 0 : t->resend_mono_ns;
    return at > t->retry_mono_ns ? at : t->retry_mono_ns;
}

static void target_failed(agg_alertpush *p, struct agg__alertpush_target *t, uint64_t now,
                          const char *why)
{
    t->stats.failed++;
    t->backoff_ns = t->backoff_ns ? t->backoff_ns * 2 : BACKOFF_MIN_NS;
    if (t->backoff_ns > p->resend_ns)
        t->backoff_ns = p->resend_ns > BACKOFF_MIN_NS ? p->resend_ns : BACKOFF_MIN_NS;
    t->retry_mono_ns = now + t->backoff_ns;
    t->resend_mono_ns = 0; /* whatever was due stays due after the backoff */
    /* Once per episode: a receiver down for an hour must not fill the log. */
    if (!t->stats.failing)
        SLIC_WARN(COMPONENT,
                  "POST %s failed: %s; retrying with backoff (further failures are "
                  "logged at debug level)",
                  t->shown, why);
    else
        SLIC_DEBUG(COMPONENT, "POST %s failed again: %s", t->shown, why);
    t->stats.failing = true;
}

static void target_succeeded(agg_alertpush *p, struct agg__alertpush_target *t, uint64_t now)
{
    if (t->stats.failing)
        SLIC_INFO(COMPONENT, "POST %s succeeded again", t->shown);
    t->stats.sent++;
    t->stats.failing = false;
    t->stats.last_success_ms = slic_now_unix_ms();
    t->backoff_ns = 0;
    t->retry_mono_ns = 0;
    t->resend_mono_ns = now + p->resend_ns;
    t->gen_sent = t->gen_rendered;
    for (size_t i = 0; i < p->n_entries; i++) {
        struct agg__alertpush_entry *e = &p->entries[i];
        if (e->a.state == AGG_ALERTPUSH_RESOLVED && !e->done &&
            e->resolved_gen <= t->gen_rendered && e->sends[t->index] < UINT8_MAX)
            e->sends[t->index]++;
    }
}

/* Renders what target t has to hear and starts the post; with nothing to say, t is up to date
 * until the next resend. */
static void target_start(agg_alertpush *p, struct agg__alertpush_target *t, uint64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_entries; i++) {
        const struct agg__alertpush_entry *e = &p->entries[i];
        if (e->a.state == AGG_ALERTPUSH_FIRING ||
            (!e->done && e->sends[t->index] < AGG_ALERTPUSH_RESOLVED_SENDS))
            p->scratch[n++] = e->a;
    }
    t->gen_rendered = p->gen;
    if (n == 0) {
        t->gen_sent = p->gen;
        t->resend_mono_ns = now + p->resend_ns;
        return;
    }
    t->body.len = 0;
    int rc = agg_alertpush_render(&t->body, &p->opts, p->scratch, n, slic_now_unix_ms() / 1000);
    if (rc) {
        target_failed(p, t, now, slic_strerror(rc));
        return;
    }
    t->reply_len = 0;
    t->reply[0] = '\0';
    t->curl_err[0] = '\0';
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body.len);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, (const char *)t->body.p);
    CURLMcode mc = curl_multi_add_handle(p->multi, t->easy);
    if (mc != CURLM_OK) {
        target_failed(p, t, now, curl_multi_strerror(mc));
        return;
    }
    t->in_flight = true;
}

/* Starts every post that is due; returns how long the thread may sleep, in ms. */
static int schedule(agg_alertpush *p)
{
    uint64_t now = slic_now_mono_ns();
    agg__alertpush_sweep(p, now);
    uint64_t wake = now + p->resend_ns;
    for (size_t i = 0; i < p->opts.n_targets; i++) {
        struct agg__alertpush_target *t = &p->targets[i];
        if (!t->in_flight && target_due_at(p, t) <= now)
            target_start(p, t, now);
        if (!t->in_flight && target_due_at(p, t) < wake)
            wake = target_due_at(p, t);
    }
    uint64_t ms = wake > now ? (wake - now + 999999) / 1000000 : 0;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void finish(agg_alertpush *p, struct agg__alertpush_target *t, CURLcode res)
{
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    uint64_t now = slic_now_mono_ns();
    pthread_mutex_lock(&p->mu);
    t->in_flight = false;
    if (res == CURLE_OK && status >= 200 && status < 300) {
        target_succeeded(p, t, now);
    } else if (res != CURLE_OK) {
        target_failed(p, t, now, t->curl_err[0] ? t->curl_err : curl_easy_strerror(res));
    } else {
        char why[AGG__ALERTPUSH_REPLY_KEEP + 32];
        sanitize(t->reply);
        snprintf(why, sizeof why, "HTTP %ld: %s", status, t->reply);
        target_failed(p, t, now, why);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Handles finished posts; returns how many. */
static int collect(agg_alertpush *p)
{
    int n = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(p->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode res = m->data.result; /* m is gone once the handle is removed */
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        curl_multi_remove_handle(p->multi, easy);
        finish(p, (struct agg__alertpush_target *)(void *)priv, res);
        n++;
    }
    return n;
}

void *agg__alertpush_main(void *arg)
{
    agg_alertpush *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        bool stop = p->stopping;
        int wait_ms = stop ? 0 : schedule(p);
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        int running = 0;
        curl_multi_perform(p->multi, &running);
        /* A finished post may leave its target due at once (a change arrived meanwhile). */
        if (collect(p) > 0)
            continue;
        curl_multi_poll(p->multi, NULL, 0, wait_ms, NULL);
    }
    return NULL;
}

/* The URL posted to: Alertmanager's alerts endpoint under its base, a webhook's as given. */
static char *post_url(const struct agg_alertpush_target *t)
{
    const char *path = t->kind == AGG_ALERTPUSH_ALERTMANAGER ? "/api/v2/alerts" : "";
    size_t n = strlen(t->url), plen = strlen(path);
    while (plen > 0 && n > 0 && t->url[n - 1] == '/')
        n--;
    char *u = slic_malloc(n + plen + 1);
    if (u) {
        memcpy(u, t->url, n);
        memcpy(u + n, path, plen + 1);
    }
    return u;
}

/* The URL as logs and metrics show it: without a user name or password it may carry. */
static char *shown_url(const char *url)
{
    CURLU *u = curl_url();
    char *out = NULL, *s = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
        size_t n = strlen(s) + 1;
        if ((out = slic_malloc(n)))
            memcpy(out, s, n);
    }
    curl_free(s);
    curl_url_cleanup(u);
    return out;
}

int agg__alertpush_target_init(agg_alertpush *p, size_t i)
{
    struct agg__alertpush_target *t = &p->targets[i];
    t->index = i;
    t->kind = p->opts.targets[i].kind;
    t->url = post_url(&p->opts.targets[i]);
    t->shown = t->url ? shown_url(t->url) : NULL;
    t->easy = curl_easy_init();
    /* An empty Expect: curl would otherwise wait for "100 Continue" before larger bodies. */
    static const char *const headers[] = {"Content-Type: application/json", "Expect:"};
    for (size_t h = 0; h < 2; h++) {
        struct curl_slist *l = curl_slist_append(t->headers, headers[h]);
        if (!l)
            return SLIC_ENOMEM;
        t->headers = l;
    }
    if (!t->url || !t->shown || !t->easy)
        return SLIC_ENOMEM;
    t->stats.kind = t->kind;
    t->stats.url = t->shown;
    long timeout_ms = (long)ceil(p->opts.timeout_s * 1000);
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "slic-aggregator/" SLIC_VERSION);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    /* Threads and signals do not mix: no SIGALRM for DNS timeouts. */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* Destroy must not wait for a name lookup in progress: the resolver thread is left behind
     * to finish on its own rather than joined. */
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
    /* No redirects are followed, and none could lead to file:// or another protocol. */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)t);
    return 0;
}

void agg__alertpush_target_fini(agg_alertpush *p, size_t i)
{
    struct agg__alertpush_target *t = &p->targets[i];
    /* A post still in flight is dropped with its handle: the receiver sees a closed socket. */
    if (t->in_flight)
        curl_multi_remove_handle(p->multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    agg__buf_fini(&t->body);
    slic_free(t->url);
    slic_free(t->shown);
    *t = (struct agg__alertpush_target){0};
}
