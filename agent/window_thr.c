/* The window's threshold tables: immutable sets of exact-count thresholds per SLI, sorted by
 * name for binary search and shared by reference among the windows opened under them. A table is
 * the configured thresholds united with those the aggregator wants; configured ones fold first,
 * so wanted ones never crowd them out of the per-SLI cap. */
#include "window_int.h"

#include "alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* strcmp order for strings given by length (none contains a NUL). */
static int name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

void agent__window_thr_release(struct agent__window_thr_table *t)
{
    if (!t || --t->refs > 0)
        return;
    for (size_t i = 0; i < t->n; i++)
        slic_free(t->e[i].sli);
    slic_free(t->e);
    slic_free(t);
}

const struct agent__window_thr_entry *
agent__window_thr_find(const struct agent__window_thr_table *t, const char *name, size_t len)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, len, t->e[mid].sli, t->e[mid].len);
        if (c == 0)
            return &t->e[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

bool agent__window_threshold_ok(double x)
{
    return isfinite(x) && x >= 0;
}

/* Adds x to e's ascending set unless already there; false when the set is full. */
static bool thr_insert(struct agent__window_thr_entry *e, double x)
{
    uint32_t i = 0;
    while (i < e->n && e->t[i] < x)
        i++;
    if (i < e->n && e->t[i] == x)
        return true;
    if (e->n == AGENT__WINDOW_THR_MAX)
        return false;
    memmove(&e->t[i + 1], &e->t[i], (e->n - i) * sizeof e->t[0]);
    e->t[i] = x;
    e->n++;
    return true;
}

static int thr_entry_cmp(const void *pa, const void *pb)
{
    const struct agent__window_thr_entry *a = pa, *b = pb;
    int c = name_cmp(a->sli, a->len, b->sli, b->len);
    return c ? c : (a->order > b->order) - (a->order < b->order);
}

/* Folds entries of the same SLI into the first of them (the sort put configured ones first), so
 * that configured thresholds are never crowded out by wanted ones. */
static size_t thr_fold(struct agent__window_thr_table *t)
{
    size_t dropped = 0, j = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct agent__window_thr_entry *e = &t->e[i];
        struct agent__window_thr_entry *prev = j > 0 ? &t->e[j - 1] : NULL;
        if (prev && name_cmp(prev->sli, prev->len, e->sli, e->len) == 0) {
            for (uint32_t k = 0; k < e->n; k++)
                dropped += !thr_insert(prev, e->t[k]);
            slic_free(e->sli);
        } else {
            t->e[j++] = *e;
        }
    }
    t->n = j;
    return dropped;
}

/* Appends one list entry to t, or counts it in *ignored when its name or a threshold is bad. */
static int thr_append(struct agent__window_thr_table *t, const struct slic_sli_thresholds *src,
                      size_t *ignored, size_t *dropped)
{
    bool ok = src->sli && slic_name_valid(src->sli) && (src->n_thresholds == 0 || src->thresholds);
    for (size_t k = 0; ok && k < src->n_thresholds; k++)
        ok = agent__window_threshold_ok(src->thresholds[k]);
    if (!ok) {
        (*ignored)++;
        return 0;
    }
    struct agent__window_thr_entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    e->len = strlen(src->sli);
    if (!(e->sli = agent__window_dup_n(src->sli, e->len)))
        return SLIC_ENOMEM;
    e->order = t->n++;
    for (size_t k = 0; k < src->n_thresholds; k++)
        *dropped += !thr_insert(e, src->thresholds[k]);
    return 0;
}

/* Builds a table of base's entries united with list's. Invalid list entries are skipped and
 * added to *ignored, thresholds beyond the per-SLI cap to *dropped. */
int agent__window_thr_build(const struct agent__window_thr_table *base,
                            const struct slic_sli_thresholds *list, size_t n,
                            struct agent__window_thr_table **out, size_t *ignored, size_t *dropped)
{
    size_t n_base = base ? base->n : 0;
    struct agent__window_thr_table *t = slic_calloc(1, sizeof *t);
    if (!t)
        return SLIC_ENOMEM;
    t->refs = 1;
    if (!(t->e = slic_calloc(n_base + n + 1, sizeof *t->e)))
        goto fail;
    for (size_t i = 0; i < n_base; i++) {
        t->e[i] = base->e[i];
        t->e[i].order = i;
        if (!(t->e[i].sli = agent__window_dup_n(base->e[i].sli, base->e[i].len)))
            goto fail;
        t->n++;
    }
    for (size_t i = 0; i < n; i++)
        if (thr_append(t, &list[i], ignored, dropped) != 0)
            goto fail;
    qsort(t->e, t->n, sizeof *t->e, thr_entry_cmp);
    *dropped += thr_fold(t);
    *out = t;
    return 0;
fail:
    agent__window_thr_release(t);
    return SLIC_ENOMEM;
}
