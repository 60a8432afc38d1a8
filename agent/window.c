/* Aligned windows of per-series counts and sketches (see window.h). Each open window has two hash
 * tables of its own (SLIs, and series keyed by SLI + canonical kept labels), sized at create from
 * the caps so recording never rehashes. SLI and series entries come from free lists and return
 * to them when their window closes, keeping their sketch and key buffers, so a steady stream
 * reuses the same memory window after window and allocates only when its shape changes. The
 * threshold tables live in window_thr.c, the options' defaults and checks in window_opts.c. */
#include "window_int.h"

#include "alloc.h"
#include "log.h"
#include "sketch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPONENT "window"
/* A canonical label set: per kept key present, the key's index, the value's length, the value. */
#define KEY_BYTES_MAX (SLIC_SERIES_LABELS_MAX * (2 + SLIC_LABEL_VALUE_MAX))
/* Idle entries kept beyond what the last closed window used: a steady load neither frees nor
 * allocates at each window, while the memory of a past burst is given back. */
#define POOL_SLACK 16u
/* Latest receive time accepted (year 9999), so window arithmetic can never overflow. */
#define NOW_MS_MAX 253402300799999LL
/* Rough heap of a sketch: its struct plus at least the bucket array it starts with. */
#define SKETCH_BASE_BYTES 128u
#define SKETCH_MIN_BUCKETS 64u

struct sli_entry {
    struct sli_entry *chain; /* hash chain; free-list link while idle */
    struct sli_entry *next;  /* the window's list */
    uint64_t hash;
    uint32_t n_labelsets;
    struct series *overflow;
    const struct agent__window_thr_entry *thr; /* NULL: no exact thresholds for this SLI */
    size_t name_len;
    char name[SLIC_NAME_MAX + 1];
};

struct series {
    struct series *chain; /* hash chain; free-list link while idle */
    struct series *next;  /* the window's list */
    struct sli_entry *sli;
    uint64_t hash;
    unsigned char *key;
    size_t key_len, key_cap;
    bool overflow;
    uint64_t total, good;
    slic_sketch *sk;
    size_t sk_bytes; /* high-water estimate of the sketch's heap, for stats */
    uint64_t count_le[AGENT__WINDOW_THR_MAX], good_le[AGENT__WINDOW_THR_MAX];
};

struct win {
    bool open;
    int64_t start_ms;
    struct agent__window_thr_table *thr;
    struct sli_entry **sli_tab;
    struct series **series_tab;
    struct sli_entry *slis;
    struct series *series;
    uint32_t n_slis, n_series;
    /* SLIs without an overflow series yet: each keeps one series slot free for it, so an SLI
     * already in the window never loses events to the series cap. */
    uint32_t n_reserved;
    uint32_t n_overflowed; /* SLIs that overflowed, reported once at close */
    const struct sli_entry *first_overflowed;
};

struct agent_window {
    int64_t window_ms, grace_ms;
    char *keys[SLIC_SERIES_LABELS_MAX]; /* sorted, so canonical label sets come out sorted */
    size_t key_lens[SLIC_SERIES_LABELS_MAX];
    size_t n_keys;
    uint32_t max_labelsets, max_slis, max_series;
    double alpha;
    uint32_t max_buckets;
    struct agent__window_thr_table *conf;     /* the configured thresholds alone */
    struct agent__window_thr_table *next_thr; /* what the next window to open will count under */
    struct win wins[AGENT_WINDOW_OPEN_MAX];
    uint64_t sli_mask, series_mask;
    struct sli_entry *free_slis;
    struct series *free_series;
    uint32_t n_free_slis, n_free_series;
    int64_t closed_through_ms;    /* start of the latest window closed */
    uint64_t seed;                /* per instance, so label values cannot be chosen to collide */
    unsigned warned;              /* drop reasons logged since the last close, one bit each */
    struct agent_window_stats st; /* counters; stats_get fills the gauges */
};

static const char *const drop_names[AGENT_WINDOW_DROP_COUNT] = {
    "invalid", "sli_cap", "series_cap", "backlog", "overflow", "nomem",
};

const char *agent_window_drop_name(enum agent_window_drop reason)
{
    return (unsigned)reason < AGENT_WINDOW_DROP_COUNT ? drop_names[reason] : "unknown";
}

/* ---- small helpers ------------------------------------------------------------------------- */

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL; /* FNV-1a */
    return h;
}

/* FNV's low bits, which pick the bucket, mix poorly on short keys; this finalizer fixes that. */
static uint64_t hash_mix(uint64_t h)
{
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

char *agent__window_dup_n(const char *s, size_t n)
{
    char *d = slic_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static uint64_t pow2_at_least(uint64_t n)
{
    uint64_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

static size_t sketch_bytes(const slic_sketch *sk)
{
    uint32_t span = slic_sketch_bucket_span(sk);
    return SKETCH_BASE_BYTES +
           sizeof(uint64_t) * (span > SKETCH_MIN_BUCKETS ? span : SKETCH_MIN_BUCKETS);
}

/* Counts a dropped record and logs the first drop of each reason per window, so an operator
 * sees a cap being hit without one line per event. */
static int drop(agent_window *w, enum agent_window_drop reason, int code)
{
    w->st.events_dropped[reason]++;
    if (!(w->warned & (1u << reason))) {
        w->warned |= 1u << reason;
        SLIC_WARN(COMPONENT, "dropping events (%s: %s); counted in events_dropped{reason=\"%s\"}",
                  slic_errname(code), slic_strerror(code), drop_names[reason]);
    }
    return code;
}

/* ---- threshold tables ---------------------------------------------------------------------- */

int agent_window_set_wanted_thresholds(agent_window *w, const struct slic_sli_thresholds *list,
                                       size_t n)
{
    struct agent__window_thr_table *t;
    size_t ignored = 0, dropped = 0;
    if (n > SLIC_ACK_WANTED_MAX) {
        ignored = n - SLIC_ACK_WANTED_MAX;
        n = SLIC_ACK_WANTED_MAX;
    }
    int rc = agent__window_thr_build(w->conf, list, n, &t, &ignored, &dropped);
    if (rc != 0)
        return rc;
    agent__window_thr_release(w->next_thr);
    w->next_thr = t;
    /* Every Ack repeats the set: warn only when what is wrong with it changes. */
    bool changed = ignored != w->st.wanted_ignored || dropped != w->st.thresholds_dropped;
    w->st.wanted_ignored = ignored;
    w->st.thresholds_dropped = dropped;
    if (changed && (ignored || dropped))
        SLIC_WARN(COMPONENT,
                  "wanted thresholds: %zu SLI entries ignored (bad name or threshold), "
                  "%zu thresholds beyond %d per SLI not counted",
                  ignored, dropped, AGENT__WINDOW_THR_MAX);
    return 0;
}

/* ---- pools of idle entries ----------------------------------------------------------------- */

static void series_free(struct series *s)
{
    slic_sketch_destroy(s->sk);
    slic_free(s->key);
    slic_free(s);
}

static struct series *series_get(agent_window *w)
{
    struct series *s = w->free_series;
    if (s) {
        w->free_series = s->chain;
        w->n_free_series--;
        return s;
    }
    if (!(s = slic_calloc(1, sizeof *s)))
        return NULL;
    if (slic_sketch_create(w->alpha, w->max_buckets, &s->sk) != 0) {
        slic_free(s);
        return NULL;
    }
    return s;
}

static void series_put(agent_window *w, struct series *s)
{
    size_t est = sketch_bytes(s->sk);
    if (est > s->sk_bytes)
        s->sk_bytes = est;
    slic_sketch_reset(s->sk);
    s->chain = w->free_series;
    w->free_series = s;
    w->n_free_series++;
}

static struct sli_entry *sli_get(agent_window *w)
{
    struct sli_entry *e = w->free_slis;
    if (e) {
        w->free_slis = e->chain;
        w->n_free_slis--;
        return e;
    }
    return slic_malloc(sizeof *e);
}

static void sli_put(agent_window *w, struct sli_entry *e)
{
    e->chain = w->free_slis;
    w->free_slis = e;
    w->n_free_slis++;
}

/* Frees idle entries beyond the given counts. */
static void pools_trim(agent_window *w, uint32_t keep_series, uint32_t keep_slis)
{
    while (w->n_free_series > keep_series) {
        struct series *s = w->free_series;
        w->free_series = s->chain;
        w->n_free_series--;
        series_free(s);
    }
    while (w->n_free_slis > keep_slis) {
        struct sli_entry *e = w->free_slis;
        w->free_slis = e->chain;
        w->n_free_slis--;
        slic_free(e);
    }
}

/* ---- windows ------------------------------------------------------------------------------- */

/* The open window starting at start_ms, opened now if need be; NULL when every slot is taken. */
static struct win *win_get(agent_window *w, int64_t start_ms)
{
    struct win *slot = NULL;
    for (int i = 0; i < AGENT_WINDOW_OPEN_MAX; i++) {
        struct win *win = &w->wins[i];
        if (win->open && win->start_ms == start_ms)
            return win;
        if (!win->open && !slot)
            slot = win;
    }
    if (slot) {
        slot->open = true;
        slot->start_ms = start_ms;
        slot->thr = w->next_thr;
        slot->thr->refs++;
    }
    return slot;
}

/* Returns every entry of a closed (or discarded) window to the pools and frees the slot. */
static void win_release(agent_window *w, struct win *win)
{
    uint32_t n_series = win->n_series, n_slis = win->n_slis;
    /* One line per window, however many SLIs overflowed: a noisy label should not flood logs. */
    if (win->n_overflowed)
        SLIC_INFO(COMPONENT,
                  "window %lld: %u SLIs (e.g. %s) had more than %u label sets; further ones "
                  "counted in their " AGENT_WINDOW_OVERFLOW_KEY " series",
                  (long long)(win->start_ms / 1000), win->n_overflowed, win->first_overflowed->name,
                  w->max_labelsets);
    for (struct series *s = win->series, *next; s; s = next) {
        next = s->next;
        if (!s->overflow)
            win->series_tab[s->hash & w->series_mask] = NULL;
        series_put(w, s);
    }
    for (struct sli_entry *e = win->slis, *next; e; e = next) {
        next = e->next;
        win->sli_tab[e->hash & w->sli_mask] = NULL;
        sli_put(w, e);
    }
    agent__window_thr_release(win->thr);
    if (win->start_ms > w->closed_through_ms)
        w->closed_through_ms = win->start_ms;
    win->open = false;
    win->thr = NULL;
    win->series = NULL;
    win->slis = NULL;
    win->n_series = win->n_slis = win->n_reserved = win->n_overflowed = 0;
    w->warned = 0;
    pools_trim(w, n_series + POOL_SLACK, n_slis + POOL_SLACK);
}

/* ---- recording ----------------------------------------------------------------------------- */

static int event_check(const struct slic_event *ev, int64_t now_ms)
{
    if (now_ms < 0 || now_ms > NOW_MS_MAX || !ev->name || ev->name_len == 0 ||
        ev->name_len > SLIC_NAME_MAX || ev->weight == 0 || ev->n_labels > SLIC_EVENT_LABELS_MAX)
        return SLIC_EINVAL;
    if (!(ev->latency >= 0 && ev->latency <= SLIC_EVENT_LATENCY_MAX)) /* NaN fails too */
        return SLIC_EVALUE;
    return 0;
}

static int key_index(const agent_window *w, const char *key, size_t len)
{
    for (size_t k = 0; k < w->n_keys; k++)
        if (w->key_lens[k] == len && memcmp(w->keys[k], key, len) == 0)
            return (int)k;
    return -1;
}

/* Writes the event's canonical label set: kept keys only, in key order. */
static int key_build(const agent_window *w, const struct slic_event *ev,
                     unsigned char key[KEY_BYTES_MAX], size_t *len)
{
    const struct slic_event_label *by_key[SLIC_SERIES_LABELS_MAX] = {0};
    for (size_t i = 0; i < ev->n_labels; i++) {
        const struct slic_event_label *l = &ev->labels[i];
        int k = key_index(w, l->key, l->key_len);
        if (k < 0)
            continue;
        if (by_key[k] || l->value_len > SLIC_LABEL_VALUE_MAX || (l->value_len && !l->value))
            return SLIC_EINVAL;
        by_key[k] = l;
    }
    size_t n = 0;
    for (size_t k = 0; k < w->n_keys; k++) {
        if (!by_key[k])
            continue;
        key[n++] = (unsigned char)k;
        key[n++] = (unsigned char)by_key[k]->value_len;
        if (by_key[k]->value_len)
            memcpy(&key[n], by_key[k]->value, by_key[k]->value_len);
        n += by_key[k]->value_len;
    }
    *len = n;
    return 0;
}

/* Label values are checked only when a series is created: any later event matching its key
 * byte for byte is valid too, so the hot path checks nothing twice. */
static bool key_values_valid(const unsigned char *key, size_t len)
{
    char buf[SLIC_LABEL_VALUE_MAX + 1];
    for (size_t i = 0; i < len; i += 2 + key[i + 1]) {
        memcpy(buf, &key[i + 2], key[i + 1]);
        buf[key[i + 1]] = '\0';
        if (strlen(buf) != key[i + 1] || !slic_label_value_valid(buf))
            return false;
    }
    return true;
}

static struct sli_entry *sli_find(const agent_window *w, const struct win *win, uint64_t h,
                                  const char *name, size_t len)
{
    for (struct sli_entry *e = win->sli_tab[h & w->sli_mask]; e; e = e->chain)
        if (e->hash == h && e->name_len == len && memcmp(e->name, name, len) == 0)
            return e;
    return NULL;
}

static int sli_add(agent_window *w, struct win *win, uint64_t h, const struct slic_event *ev,
                   struct sli_entry **out)
{
    char name[SLIC_NAME_MAX + 1];
    memcpy(name, ev->name, ev->name_len);
    name[ev->name_len] = '\0';
    if (strlen(name) != ev->name_len || !slic_name_valid(name))
        return SLIC_EINVAL;
    struct sli_entry *e = sli_get(w);
    if (!e)
        return SLIC_ENOMEM;
    memcpy(e->name, name, ev->name_len + 1);
    e->name_len = ev->name_len;
    e->hash = h;
    e->n_labelsets = 0;
    e->overflow = NULL;
    e->thr = agent__window_thr_find(win->thr, name, ev->name_len);
    e->chain = win->sli_tab[h & w->sli_mask];
    win->sli_tab[h & w->sli_mask] = e;
    e->next = win->slis;
    win->slis = e;
    win->n_slis++;
    win->n_reserved++;
    *out = e;
    return 0;
}

/* Undoes sli_add when the SLI's first series could not be made: it is still at both heads. */
static void sli_unlink_fresh(agent_window *w, struct win *win, struct sli_entry *e)
{
    win->sli_tab[e->hash & w->sli_mask] = e->chain;
    win->slis = e->next;
    win->n_slis--;
    win->n_reserved--;
    sli_put(w, e);
}

/* The hot path: one chain walk keyed by SLI name and labels together; the SLI table is consulted
 * only when a series is missing. */
static struct series *series_find(const agent_window *w, const struct win *win, uint64_t h,
                                  const struct slic_event *ev, const unsigned char *key, size_t len)
{
    for (struct series *s = win->series_tab[h & w->series_mask]; s; s = s->chain)
        if (s->hash == h && s->key_len == len && s->sli->name_len == ev->name_len &&
            memcmp(s->sli->name, ev->name, ev->name_len) == 0 &&
            (len == 0 || memcmp(s->key, key, len) == 0))
            return s;
    return NULL;
}

/* A series from the pool, zeroed for a new window; linked into the window's list only. */
static int series_new(agent_window *w, struct win *win, struct sli_entry *sli, uint64_t h,
                      const unsigned char *key, size_t len, struct series **out)
{
    struct series *s = series_get(w);
    if (!s)
        return SLIC_ENOMEM;
    if (len > s->key_cap) {
        unsigned char *k = slic_realloc(s->key, len);
        if (!k) {
            series_put(w, s);
            return SLIC_ENOMEM;
        }
        s->key = k;
        s->key_cap = len;
    }
    if (len)
        memcpy(s->key, key, len);
    s->key_len = len;
    s->sli = sli;
    s->hash = h;
    s->overflow = false;
    s->total = s->good = 0;
    memset(s->count_le, 0, sizeof s->count_le);
    memset(s->good_le, 0, sizeof s->good_le);
    s->next = win->series;
    win->series = s;
    win->n_series++;
    *out = s;
    return 0;
}

/* A new label set of a known SLI: its own series while the caps allow, else the overflow one. */
static int series_place(agent_window *w, struct win *win, struct sli_entry *sli, uint64_t h,
                        const unsigned char *key, size_t len, struct series **out)
{
    int rc;
    if (sli->n_labelsets < w->max_labelsets &&
        win->n_series + win->n_reserved + 1 <= w->max_series) {
        if (!key_values_valid(key, len))
            return drop(w, AGENT_WINDOW_DROP_INVALID, SLIC_EINVAL);
        if ((rc = series_new(w, win, sli, h, key, len, out)) != 0)
            return drop(w, AGENT_WINDOW_DROP_NOMEM, rc);
        sli->n_labelsets++;
        (*out)->chain = win->series_tab[h & w->series_mask];
        win->series_tab[h & w->series_mask] = *out;
        return 0;
    }
    if (sli->overflow) {
        *out = sli->overflow;
        return 0;
    }
    /* The slot this SLI reserved: the series cap cannot refuse it. */
    if ((rc = series_new(w, win, sli, 0, NULL, 0, out)) != 0)
        return drop(w, AGENT_WINDOW_DROP_NOMEM, rc);
    (*out)->overflow = true;
    sli->overflow = *out;
    win->n_reserved--;
    if (win->n_overflowed++ == 0)
        win->first_overflowed = sli;
    return 0;
}

static int series_lookup(agent_window *w, struct win *win, const struct slic_event *ev,
                         const unsigned char *key, size_t len, struct series **out)
{
    uint64_t sh = hash_bytes(w->seed, ev->name, ev->name_len);
    uint64_t h = hash_mix(hash_bytes(sh, key, len));
    if ((*out = series_find(w, win, h, ev, key, len)) != NULL)
        return 0;
    sh = hash_mix(sh);
    struct sli_entry *sli = sli_find(w, win, sh, ev->name, ev->name_len);
    bool fresh = !sli;
    int rc;
    if (fresh) {
        if (win->n_slis >= w->max_slis)
            return drop(w, AGENT_WINDOW_DROP_SLI_CAP, SLIC_ETOOBIG);
        /* Its first series and the slot it reserves for its overflow series. */
        if (win->n_series + win->n_reserved + 2 > w->max_series)
            return drop(w, AGENT_WINDOW_DROP_SERIES_CAP, SLIC_ETOOBIG);
        if ((rc = sli_add(w, win, sh, ev, &sli)) != 0)
            return drop(w, rc == SLIC_ENOMEM ? AGENT_WINDOW_DROP_NOMEM : AGENT_WINDOW_DROP_INVALID,
                        rc);
    }
    rc = series_place(w, win, sli, h, key, len, out);
    if (rc != 0 && fresh)
        sli_unlink_fresh(w, win, sli);
    return rc;
}

/* Adds the event to the series: the sketch first, as it is the only step that can fail, so a
 * failure changes nothing. */
static int series_count(struct series *s, const struct slic_event *ev)
{
    uint64_t n = ev->weight;
    if (s->total > UINT64_MAX - n)
        return SLIC_EOVERFLOW;
    int rc = slic_sketch_add_n(s->sk, ev->latency, n);
    if (rc != 0)
        return rc;
    s->total += n;
    s->good += ev->good ? n : 0;
    const struct agent__window_thr_entry *thr = s->sli->thr;
    /* Thresholds ascend, so the event counts under a suffix of them. */
    for (uint32_t i = thr ? thr->n : 0; i-- > 0 && ev->latency <= thr->t[i];) {
        s->count_le[i] += n;
        s->good_le[i] += ev->good ? n : 0;
    }
    return 0;
}

int agent_window_record(agent_window *w, const struct slic_event *ev, int64_t now_ms)
{
    unsigned char key[KEY_BYTES_MAX];
    size_t len;
    int rc = event_check(ev, now_ms);
    if (rc == 0)
        rc = key_build(w, ev, key, &len);
    if (rc != 0)
        return drop(w, AGENT_WINDOW_DROP_INVALID, rc);

    int64_t start = now_ms / w->window_ms * w->window_ms;
    bool late = start <= w->closed_through_ms;
    if (late)
        start = w->closed_through_ms + w->window_ms;
    struct win *win = win_get(w, start);
    if (!win)
        return drop(w, AGENT_WINDOW_DROP_BACKLOG, SLIC_ERETRY);

    struct series *s;
    if ((rc = series_lookup(w, win, ev, key, len, &s)) != 0)
        return rc;
    if ((rc = series_count(s, ev)) != 0)
        return drop(w, rc == SLIC_ENOMEM ? AGENT_WINDOW_DROP_NOMEM : AGENT_WINDOW_DROP_OVERFLOW,
                    rc);
    w->st.events_accepted++;
    w->st.events_late += late;
    w->st.events_overflowed += s->overflow;
    return 0;
}

/* ---- closing ------------------------------------------------------------------------------- */

static int labels_export(const agent_window *w, const struct series *s, struct slic_series *out)
{
    size_t n = 0;
    for (size_t i = 0; i < s->key_len; i += 2 + s->key[i + 1])
        n++;
    n += s->overflow;
    if (n == 0)
        return 0;
    if (!(out->labels = slic_calloc(n, sizeof *out->labels)))
        return SLIC_ENOMEM;
    out->n_labels = n;
    if (s->overflow) {
        out->labels[0].key =
            agent__window_dup_n(AGENT_WINDOW_OVERFLOW_KEY, strlen(AGENT_WINDOW_OVERFLOW_KEY));
        out->labels[0].value =
            agent__window_dup_n(AGENT_WINDOW_OVERFLOW_VALUE, strlen(AGENT_WINDOW_OVERFLOW_VALUE));
        return out->labels[0].key && out->labels[0].value ? 0 : SLIC_ENOMEM;
    }
    size_t j = 0;
    for (size_t i = 0; i < s->key_len; i += 2 + s->key[i + 1], j++) {
        out->labels[j].key = agent__window_dup_n(w->keys[s->key[i]], w->key_lens[s->key[i]]);
        out->labels[j].value = agent__window_dup_n((const char *)&s->key[i + 2], s->key[i + 1]);
        if (!out->labels[j].key || !out->labels[j].value)
            return SLIC_ENOMEM;
    }
    return 0;
}

/* Fills out (zeroed by the caller) from s; on failure the caller's slic_batch_fini frees it. */
static int series_export(const agent_window *w, const struct win *win, const struct series *s,
                         struct slic_series *out)
{
    const struct agent__window_thr_entry *thr = s->sli->thr;
    if (!(out->sli = agent__window_dup_n(s->sli->name, s->sli->name_len)))
        return SLIC_ENOMEM;
    int rc = labels_export(w, s, out);
    if (rc == 0)
        rc = slic_sketch_clone(s->sk, &out->latency);
    if (rc != 0)
        return rc;
    out->window_start = win->start_ms / 1000;
    out->window_seconds = (uint32_t)(w->window_ms / 1000);
    out->total = s->total;
    out->good = s->good;
    if (!thr || thr->n == 0)
        return 0;
    if (!(out->thresholds = slic_malloc(thr->n * sizeof *out->thresholds)))
        return SLIC_ENOMEM;
    out->n_thresholds = thr->n;
    for (uint32_t i = 0; i < thr->n; i++)
        out->thresholds[i] =
            (struct slic_threshold_count){thr->t[i], s->count_le[i], s->good_le[i]};
    return 0;
}

static int series_cmp(const void *pa, const void *pb)
{
    const struct slic_series *a = pa, *b = pb;
    int c = strcmp(a->sli, b->sli);
    for (size_t i = 0; c == 0 && i < a->n_labels && i < b->n_labels; i++) {
        c = strcmp(a->labels[i].key, b->labels[i].key);
        if (c == 0)
            c = strcmp(a->labels[i].value, b->labels[i].value);
    }
    return c ? c : (a->n_labels > b->n_labels) - (a->n_labels < b->n_labels);
}

/* Builds the batch of a window. 1 when built, 0 when the window holds no events, SLIC_ENOMEM. */
static int batch_build(const agent_window *w, const struct win *win, int64_t now_ms,
                       struct slic_batch *b)
{
    size_t n = 0, i = 0;
    for (const struct series *s = win->series; s; s = s->next)
        n += s->total > 0;
    if (n == 0)
        return 0;
    memset(b, 0, sizeof *b);
    b->created_unix_ms = now_ms;
    if (!(b->series = slic_calloc(n, sizeof *b->series)))
        return SLIC_ENOMEM;
    b->n_series = n;
    for (const struct series *s = win->series; s; s = s->next) {
        if (s->total == 0)
            continue;
        int rc = series_export(w, win, s, &b->series[i++]);
        if (rc != 0) {
            slic_batch_fini(b);
            return rc;
        }
    }
    qsort(b->series, n, sizeof *b->series, series_cmp);
    return 1;
}

static struct win *win_oldest(agent_window *w)
{
    struct win *oldest = NULL;
    for (int i = 0; i < AGENT_WINDOW_OPEN_MAX; i++)
        if (w->wins[i].open && (!oldest || w->wins[i].start_ms < oldest->start_ms))
            oldest = &w->wins[i];
    return oldest;
}

static int close_next(agent_window *w, int64_t now_ms, bool force, struct slic_batch *out,
                      int64_t *window_start)
{
    struct win *win;
    while ((win = win_oldest(w)) != NULL) {
        if (!force && win->start_ms + w->window_ms + w->grace_ms > now_ms)
            return 0;
        struct slic_batch b;
        int64_t start_ms = win->start_ms;
        int rc = batch_build(w, win, now_ms, &b);
        if (rc < 0)
            return rc; /* the window stays open: nothing is lost, the caller retries */
        win_release(w, win);
        if (rc == 0) {
            w->st.windows_empty++;
            continue;
        }
        w->st.windows_closed++;
        *out = b;
        if (window_start)
            *window_start = start_ms / 1000;
        return 1;
    }
    return 0;
}

int agent_window_close_due(agent_window *w, int64_t now_ms, struct slic_batch *out,
                           int64_t *window_start)
{
    return close_next(w, now_ms, false, out, window_start);
}

int agent_window_flush(agent_window *w, int64_t now_ms, struct slic_batch *out,
                       int64_t *window_start)
{
    return close_next(w, now_ms, true, out, window_start);
}

void agent_window_stats_get(const agent_window *w, struct agent_window_stats *out)
{
    const uint64_t tabs = (w->sli_mask + 1) * sizeof(struct sli_entry *) +
                          (w->series_mask + 1) * sizeof(struct series *);
    *out = w->st;
    out->windows_open = out->slis_open = out->series_open = 0;
    out->memory_bytes = sizeof *w + AGENT_WINDOW_OPEN_MAX * tabs;
    for (int i = 0; i < AGENT_WINDOW_OPEN_MAX; i++) {
        const struct win *win = &w->wins[i];
        out->windows_open += win->open;
        out->slis_open += win->n_slis;
        out->series_open += win->n_series;
        if (win->open && win->thr != w->next_thr && win->thr != w->conf)
            out->memory_bytes += win->thr->n * sizeof(struct agent__window_thr_entry);
        for (const struct series *s = win->series; s; s = s->next) {
            size_t est = sketch_bytes(s->sk);
            out->memory_bytes += sizeof *s + s->key_cap + (est > s->sk_bytes ? est : s->sk_bytes);
        }
    }
    for (const struct series *s = w->free_series; s; s = s->chain)
        out->memory_bytes += sizeof *s + s->key_cap + s->sk_bytes;
    out->series_pooled = w->n_free_series;
    out->memory_bytes += (size_t)(out->slis_open + w->n_free_slis) * sizeof(struct sli_entry);
    out->memory_bytes += (w->conf->n + w->next_thr->n) * sizeof(struct agent__window_thr_entry);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static int key_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int agent_window_create(const struct agent_window_options *o, agent_window **out,
                        struct slic_errmsg *err)
{
    size_t ignored = 0, dropped = 0; /* config was checked: both stay 0 */
    int rc = agent__window_options_check(o, err);
    if (rc != 0)
        return rc;
    agent_window *w = slic_calloc(1, sizeof *w);
    if (!w)
        return SLIC_ENOMEM;
    w->window_ms = (int64_t)o->window_seconds * 1000;
    w->grace_ms = o->grace_ms;
    w->max_labelsets = o->max_labelsets_per_sli;
    w->max_slis = o->max_slis;
    w->max_series = o->max_series;
    w->alpha = o->sketch_alpha;
    w->max_buckets = o->sketch_max_buckets;
    w->closed_through_ms = INT64_MIN;
    w->sli_mask = pow2_at_least(o->max_slis) - 1;
    w->series_mask = pow2_at_least(o->max_series) - 1;
    for (; w->n_keys < o->n_label_keys; w->n_keys++)
        if (!(w->keys[w->n_keys] =
                  agent__window_dup_n(o->label_keys[w->n_keys], strlen(o->label_keys[w->n_keys]))))
            goto nomem;
    qsort(w->keys, w->n_keys, sizeof w->keys[0], key_ptr_cmp);
    for (size_t k = 0; k < w->n_keys; k++)
        w->key_lens[k] = strlen(w->keys[k]);
    for (int i = 0; i < AGENT_WINDOW_OPEN_MAX; i++) {
        w->wins[i].sli_tab = slic_calloc(w->sli_mask + 1, sizeof(struct sli_entry *));
        w->wins[i].series_tab = slic_calloc(w->series_mask + 1, sizeof(struct series *));
        if (!w->wins[i].sli_tab || !w->wins[i].series_tab)
            goto nomem;
    }
    if (agent__window_thr_build(NULL, o->thresholds, o->n_thresholds, &w->conf, &ignored,
                                &dropped) != 0)
        goto nomem;
    w->next_thr = w->conf;
    w->conf->refs++;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    w->seed = hash_mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)w);
    *out = w;
    return 0;
nomem:
    agent_window_destroy(w);
    return slic_errmsg_set(err, SLIC_ENOMEM, "window: out of memory creating the window tables");
}

void agent_window_destroy(agent_window *w)
{
    if (!w)
        return;
    for (int i = 0; i < AGENT_WINDOW_OPEN_MAX; i++) {
        if (w->wins[i].open)
            win_release(w, &w->wins[i]);
        slic_free(w->wins[i].sli_tab);
        slic_free(w->wins[i].series_tab);
    }
    pools_trim(w, 0, 0);
    agent__window_thr_release(w->next_thr);
    agent__window_thr_release(w->conf);
    for (size_t k = 0; k < w->n_keys; k++)
        slic_free(w->keys[k]);
    slic_free(w);
}
