/* The alert pusher (alertpush.h), its bookkeeping half: the alerts known from the engine's
 * latest set, kept sorted by identity so each update costs O(n log n), what changed since the
 * one before, and the pusher's options and lifecycle. The delivery thread is in
 * alertpush_send.c. */
#include "alertpush_int.h"

#include "alloc.h"
#include "timeutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------------------- */

static char *str_dup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = slic_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

static bool blank(const char *s)
{
    return !s || !*s;
}

static int64_t now_s(void)
{
    return slic_now_unix_ms() / 1000;
}

/* Identity: what Alertmanager's fingerprint is made of (the labels). */
static int alert_cmp(const struct agg_alertpush_alert *x, const struct agg_alertpush_alert *y)
{
    int c = strcmp(x->slo, y->slo);
    if (!c)
        c = strcmp(nz(x->site), nz(y->site));
    if (!c)
        c = strcmp(x->severity, y->severity);
    if (!c)
        c = (x->long_window_s > y->long_window_s) - (x->long_window_s < y->long_window_s);
    if (!c)
        c = (x->short_window_s > y->short_window_s) - (x->short_window_s < y->short_window_s);
    return c;
}

static int entry_cmp(const void *x, const void *y)
{
    return alert_cmp(&((const struct agg__alertpush_entry *)x)->a,
                     &((const struct agg__alertpush_entry *)y)->a);
}

static void entry_fini(struct agg__alertpush_entry *e)
{
    slic_free((char *)e->a.slo);
    slic_free((char *)e->a.site);
    slic_free((char *)e->a.severity);
    slic_free((char *)e->a.runbook_url);
}

/* ---- the alert set (caller holds the mutex) ------------------------------------------------ */

static struct agg__alertpush_entry *entry_find(agg_alertpush *p, size_t n,
                                               const struct agg_alertpush_alert *a)
{
    struct agg__alertpush_entry key = {.a = *a};
    /* bsearch and qsort want a real array even when empty. */
    return n ? bsearch(&key, p->entries, n, sizeof key, entry_cmp) : NULL;
}

static void entry_resolve(struct agg__alertpush_entry *e, uint64_t gen)
{
    e->a.state = AGG_ALERTPUSH_RESOLVED;
    e->resolved_gen = gen;
    e->resolved_mono_ns = slic_now_mono_ns();
    e->done = false;
    memset(e->sends, 0, sizeof e->sends);
}

/* A new entry for an alert not known yet; *changed when it needs posting. 0 or SLIC_ENOMEM. */
static int entry_new(agg_alertpush *p, struct agg__alertpush_entry *e,
                     const struct agg_alertpush_alert *a, uint64_t gen, bool *changed)
{
    *e = (struct agg__alertpush_entry){.a = *a, .seen = true};
    e->a.slo = str_dup(a->slo);
    e->a.site = blank(a->site) ? NULL : str_dup(a->site);
    e->a.severity = str_dup(a->severity);
    e->a.runbook_url = blank(a->runbook_url) ? NULL : str_dup(a->runbook_url);
    if (!e->a.slo || (!blank(a->site) && !e->a.site) || !e->a.severity ||
        (!blank(a->runbook_url) && !e->a.runbook_url)) {
        entry_fini(e);
        return SLIC_ENOMEM;
    }
    *changed = true;
    if (a->state == AGG_ALERTPUSH_RESOLVED) {
        entry_resolve(e, gen);
        /* An older end cannot still be firing anywhere: the endsAt of its last push passed. */
        int64_t ttl_s = (int64_t)ceil(3 * p->opts.resend_interval_s);
        e->done = a->ends_at > 0 && now_s() - a->ends_at > ttl_s;
        *changed = !e->done;
    }
    return 0;
}

/* Takes the numbers and state of a; returns whether the state changed (a post is due). */
static bool entry_apply(struct agg__alertpush_entry *e, const struct agg_alertpush_alert *a,
                        uint64_t gen)
{
    bool changed = false;
    if (a->state == AGG_ALERTPUSH_FIRING) {
        changed = e->a.state != AGG_ALERTPUSH_FIRING || e->a.starts_at != a->starts_at;
        e->done = false;
    } else if (e->a.state == AGG_ALERTPUSH_FIRING || e->a.ends_at != a->ends_at) {
        /* A new end while resolved is a firing this pusher never saw: send that end too. */
        entry_resolve(e, gen);
        changed = true;
    }
    const char *slo = e->a.slo, *site = e->a.site, *sev = e->a.severity, *rb = e->a.runbook_url;
    e->a = *a;
    e->a.slo = slo, e->a.site = site, e->a.severity = sev, e->a.runbook_url = rb;
    /* A runbook moved by a reload. On allocation failure the old link stays: harmless. */
    if (strcmp(nz(rb), nz(a->runbook_url)) != 0) {
        char *copy = blank(a->runbook_url) ? NULL : str_dup(a->runbook_url);
        if (copy || blank(a->runbook_url)) {
            slic_free((char *)rb);
            e->a.runbook_url = copy;
        }
    }
    e->seen = true;
    return changed;
}

static int entries_reserve(agg_alertpush *p, size_t n)
{
    if (n <= p->cap_entries)
        return 0;
    size_t cap = p->cap_entries ? p->cap_entries : 16;
    while (cap < n)
        cap *= 2;
    struct agg__alertpush_entry *e = slic_realloc(p->entries, cap * sizeof *e);
    struct agg_alertpush_alert *s = e ? slic_realloc(p->scratch, cap * sizeof *s) : NULL;
    if (e)
        p->entries = e;
    if (!s)
        return SLIC_ENOMEM;
    p->scratch = s;
    p->cap_entries = cap;
    return 0;
}

/* Sorts new entries into place and drops duplicate identities: the engine passes one alert per
 * identity, and two would reach Alertmanager as one anyway. */
static void entries_sort(agg_alertpush *p)
{
    if (p->n_entries < 2)
        return;
    qsort(p->entries, p->n_entries, sizeof *p->entries, entry_cmp);
    size_t keep = 0;
    for (size_t i = 0; i < p->n_entries; i++) {
        if (keep > 0 && entry_cmp(&p->entries[keep - 1], &p->entries[i]) == 0) {
            entry_fini(&p->entries[i]);
            continue;
        }
        p->entries[keep++] = p->entries[i];
    }
    p->n_entries = keep;
}

/* Adds entries for the alerts not known yet, after the sorted ones; all or nothing. */
static int add_new(agg_alertpush *p, const struct agg_alertpush_alert *alerts, size_t n,
                   uint64_t gen, bool *changed)
{
    size_t known = p->n_entries;
    int rc = entries_reserve(p, known + n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (entry_find(p, known, &alerts[i]))
            continue;
        bool c = false;
        rc = entry_new(p, &p->entries[p->n_entries], &alerts[i], gen, &c);
        if (rc == 0)
            p->n_entries++;
        *changed |= c;
    }
    if (rc) {
        while (p->n_entries > known)
            entry_fini(&p->entries[--p->n_entries]);
        *changed = false;
    }
    return rc;
}

int agg_alertpush_update(agg_alertpush *p, const struct agg_alertpush_alert *alerts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (agg_alertpush_alert_check(&alerts[i]))
            return SLIC_EINVAL;
    pthread_mutex_lock(&p->mu);
    uint64_t gen = p->gen + 1;
    bool changed = false;
    size_t known = p->n_entries;
    int rc = add_new(p, alerts, n, gen, &changed);
    if (rc) {
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    for (size_t i = 0; i < known; i++)
        p->entries[i].seen = false;
    for (size_t i = 0; i < n; i++) {
        struct agg__alertpush_entry *e = entry_find(p, known, &alerts[i]);
        if (e)
            changed |= entry_apply(e, &alerts[i], gen);
    }
    /* Gone while firing: its SLO or tier was removed. End it now rather than let it linger. */
    for (size_t i = 0; i < known; i++) {
        struct agg__alertpush_entry *e = &p->entries[i];
        if (!e->seen && e->a.state == AGG_ALERTPUSH_FIRING) {
            e->a.ends_at = now_s();
            entry_resolve(e, gen);
            changed = true;
        }
    }
    entries_sort(p);
    if (changed)
        p->gen = gen;
    pthread_mutex_unlock(&p->mu);
    if (changed)
        curl_multi_wakeup(p->multi);
    return 0;
}

/* Marks resolved alerts done once every target took them AGG_ALERTPUSH_RESOLVED_SENDS times,
 * or once the endsAt of the last firing push has passed (a target down all along has expired
 * the alert by then), and forgets done ones the engine no longer reports. */
void agg__alertpush_sweep(agg_alertpush *p, uint64_t now)
{
    size_t keep = 0;
    for (size_t i = 0; i < p->n_entries; i++) {
        struct agg__alertpush_entry *e = &p->entries[i];
        if (e->a.state == AGG_ALERTPUSH_RESOLVED && !e->done) {
            bool all = true;
            for (size_t t = 0; t < p->opts.n_targets; t++)
                all = all && e->sends[t] >= AGG_ALERTPUSH_RESOLVED_SENDS;
            e->done = all || now - e->resolved_mono_ns >= 3 * p->resend_ns;
        }
        if (e->done && !e->seen) {
            entry_fini(e);
            continue;
        }
        p->entries[keep++] = *e;
    }
    p->n_entries = keep;
}

/* ---- creation and teardown ----------------------------------------------------------------- */

void agg_alertpush_options_default(struct agg_alertpush_options *o)
{
    *o = (struct agg_alertpush_options){.resend_interval_s = 60, .timeout_s = 5};
}

static bool label_name_ok(const char *s)
{
    static const char *const reserved[] = {"alertname", "slo",         "site",
                                           "severity",  "long_window", "short_window"};
    if (blank(s) || (s[0] >= '0' && s[0] <= '9') || strncmp(s, "__", 2) == 0)
        return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return false;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(s, reserved[i]) == 0)
            return false;
    return true;
}

static bool url_ok(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    bool ok = u && !blank(url) && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

static int options_check(const struct agg_alertpush_options *o, struct slic_errmsg *err)
{
    if (o->n_targets == 0 || o->n_targets > AGG_ALERTPUSH_TARGETS_MAX)
        return slic_errmsg_set(err, SLIC_ECONFIG, "alerts: %zu targets; expected 1 to %d",
                               o->n_targets, AGG_ALERTPUSH_TARGETS_MAX);
    for (size_t i = 0; i < o->n_targets; i++) {
        const struct agg_alertpush_target *t = &o->targets[i];
        if (t->kind != AGG_ALERTPUSH_ALERTMANAGER && t->kind != AGG_ALERTPUSH_WEBHOOK)
            return slic_errmsg_set(err, SLIC_ECONFIG, "alerts: target %zu: unknown kind %d", i,
                                   (int)t->kind);
        if (!url_ok(t->url))
            return slic_errmsg_set(err, SLIC_ECONFIG,
                                   "alerts: target '%s': expected an http:// or https:// URL",
                                   nz(t->url));
    }
    if (!(o->resend_interval_s > 0 && o->resend_interval_s <= 86400))
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "alerts: resend interval %g s; expected more than 0, at most 1d",
                               o->resend_interval_s);
    if (!(o->timeout_s > 0 && o->timeout_s <= 3600))
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "alerts: timeout %g s; expected more than 0, at most 1h",
                               o->timeout_s);
    if (o->n_labels > AGG_ALERTPUSH_LABELS_MAX)
        return slic_errmsg_set(err, SLIC_ECONFIG, "alerts: %zu labels; at most %d allowed",
                               o->n_labels, AGG_ALERTPUSH_LABELS_MAX);
    for (size_t i = 0; i < o->n_labels; i++) {
        const char *k = o->labels[i].key;
        if (!label_name_ok(k) || !o->labels[i].value)
            return slic_errmsg_set(err, SLIC_ECONFIG,
                                   "alerts: label '%s': expected a name of [A-Za-z0-9_] not "
                                   "starting with a digit or __, not one slic sets, and a value",
                                   nz(k));
        for (size_t j = 0; j < i; j++)
            if (strcmp(k, o->labels[j].key) == 0)
                return slic_errmsg_set(err, SLIC_ECONFIG, "alerts: label '%s' given twice", k);
    }
    return 0;
}

static void options_free(struct agg_alertpush_options *o)
{
    for (size_t i = 0; o->targets && i < o->n_targets; i++)
        slic_free((char *)o->targets[i].url);
    for (size_t i = 0; o->labels && i < o->n_labels; i++) {
        slic_free(o->labels[i].key);
        slic_free(o->labels[i].value);
    }
    slic_free((void *)o->targets);
    slic_free((void *)o->labels);
    slic_free((char *)o->generator_url);
    *o = (struct agg_alertpush_options){0};
}

/* The pusher's own copy of the options. 0 or SLIC_ENOMEM (the copy is then freed). */
static int options_copy(const struct agg_alertpush_options *src, struct agg_alertpush_options *o)
{
    *o = *src;
    struct agg_alertpush_target *t = slic_calloc(src->n_targets, sizeof *t);
    struct slic_label *l = src->n_labels ? slic_calloc(src->n_labels, sizeof *l) : NULL;
    o->targets = t;
    o->labels = l;
    o->generator_url = blank(src->generator_url) ? NULL : str_dup(src->generator_url);
    bool ok = t && (l || !src->n_labels) && (o->generator_url || blank(src->generator_url));
    for (size_t i = 0; ok && i < src->n_targets; i++) {
        t[i].kind = src->targets[i].kind;
        ok = (t[i].url = str_dup(src->targets[i].url)) != NULL;
    }
    for (size_t i = 0; ok && i < src->n_labels; i++) {
        l[i].key = str_dup(src->labels[i].key);
        l[i].value = str_dup(src->labels[i].value);
        ok = l[i].key && l[i].value;
    }
    if (ok)
        return 0;
    options_free(o);
    return SLIC_ENOMEM;
}

static void pusher_free(agg_alertpush *p)
{
    for (size_t i = 0; i < AGG_ALERTPUSH_TARGETS_MAX; i++)
        agg__alertpush_target_fini(p, i);
    curl_multi_cleanup(p->multi);
    for (size_t i = 0; i < p->n_entries; i++)
        entry_fini(&p->entries[i]);
    slic_free(p->entries);
    slic_free(p->scratch);
    options_free(&p->opts);
    slic_free(p);
    curl_global_cleanup();
}

int agg_alertpush_create(const struct agg_alertpush_options *o, agg_alertpush **out,
                         struct slic_errmsg *err)
{
    /* Reference-counted by curl, and thread-safe in this libcurl (CURL_VERSION_THREADSAFE). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return slic_errmsg_set(err, SLIC_ENOMEM, "alerts: curl_global_init failed");
    int rc = options_check(o, err);
    if (rc) {
        curl_global_cleanup();
        return rc;
    }
    agg_alertpush *p = slic_calloc(1, sizeof *p);
    if (!p || options_copy(o, &p->opts) || !(p->multi = curl_multi_init())) {
        if (p)
            pusher_free(p);
        else
            curl_global_cleanup();
        return slic_errmsg_set(err, SLIC_ENOMEM, "alerts: out of memory");
    }
    p->resend_ns = (uint64_t)(o->resend_interval_s * 1e9);
    for (size_t i = 0; i < o->n_targets && rc == 0; i++)
        rc = agg__alertpush_target_init(p, i);
    if (rc == 0) {
        pthread_mutex_init(&p->mu, NULL);
        rc = -pthread_create(&p->thread, NULL, agg__alertpush_main, p);
        if (rc)
            pthread_mutex_destroy(&p->mu);
    }
    if (rc) {
        pusher_free(p);
        return slic_errmsg_set(err, rc, "alerts: cannot start: %s", slic_strerror(rc));
    }
    *out = p;
    return 0;
}

void agg_alertpush_destroy(agg_alertpush *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_mutex_unlock(&p->mu);
    curl_multi_wakeup(p->multi);
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pusher_free(p);
}

size_t agg_alertpush_target_count(const agg_alertpush *p)
{
    return p->opts.n_targets;
}

int agg_alertpush_stats(agg_alertpush *p, size_t i, struct agg_alertpush_stats *out)
{
    if (i >= p->opts.n_targets)
        return SLIC_EINVAL;
    pthread_mutex_lock(&p->mu);
    *out = p->targets[i].stats;
    pthread_mutex_unlock(&p->mu);
    return 0;
}
