/* Coarsening, the pure half: a batch's window span and lengths (its spool header), which
 * coarser window two spooled batches can share, and merging two decoded batches into it. Merging
 * adds integers and sketch buckets, so every count stays exact; only the time resolution of the
 * merged windows is lost. Coarse windows are aligned to their length, a multiple of 10 s that
 * divides an hour, and never cross an hour: the aggregator stores such a window at every resolution
 * it fits (10 s, 1 min, 1 h), and lengths between those would buy nothing, so after a batch's own
 * window length the ladder is 1 min, then 1 h. */
#include "spool_int.h"

#include "alloc.h"
#include "labels.h"
#include "sketch.h"

#include <stdlib.h>
#include <string.h>

#define HOUR 3600u
/* The aggregator's default max_label_sets_per_sli: a merge that would put more distinct label
 * sets of one SLI into one batch is not made, so that (under the default limit) coarsening never
 * turns two acceptable batches into a rejected one. */
#define MERGE_LABEL_SETS_MAX 1000u

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;
    if (t % step != 0 && t < 0)
        q--;
    return q * step;
}

void agent__spool_hdr_of(const struct slic_batch *b, struct agent__spool_hdr *h)
{
    memset(h, 0, sizeof *h);
    h->n_series = (uint32_t)b->n_series;
    uint64_t lcm = 1;
    for (size_t i = 0; i < b->n_series; i++) {
        const struct slic_series *s = &b->series[i];
        int64_t end = s->window_start + (int64_t)s->window_seconds;
        if (i == 0 || s->window_start < h->window_start)
            h->window_start = s->window_start;
        if (i == 0 || end > h->window_end)
            h->window_end = end;
        h->events = h->events > UINT64_MAX - s->total ? UINT64_MAX : h->events + s->total;
        /* A length that does not divide an hour never shares a coarse window: lcm 0. */
        uint64_t w = s->window_seconds;
        lcm = lcm && w && HOUR % w == 0 ? lcm / gcd64(lcm, w) * w : 0;
    }
    h->window_lcm = b->n_series && lcm <= HOUR ? (uint32_t)lcm : 0;
}

uint32_t agent__spool_coarse_window(const struct agent__spool_hdr *a,
                                    const struct agent__spool_hdr *b, int64_t now, bool *later)
{
    *later = false;
    if (!a->window_lcm || !b->window_lcm)
        return 0;
    uint64_t l = (uint64_t)a->window_lcm / gcd64(a->window_lcm, b->window_lcm) * b->window_lcm;
    if (l > HOUR || HOUR % l)
        return 0;
    int64_t lo = a->window_start < b->window_start ? a->window_start : b->window_start;
    int64_t hi = a->window_end > b->window_end ? a->window_end : b->window_end;
    const uint32_t ladder[] = {(uint32_t)l, 60, HOUR};
    for (size_t i = 0; i < sizeof ladder / sizeof ladder[0]; i++) {
        uint32_t len = ladder[i];
        if (len < l || len % l)
            continue;
        int64_t start = floor_to(lo, len);
        if (hi > start + (int64_t)len)
            continue;
        /* A window still open on the agent's clock would be refused by the aggregator as
         * coming from the future, and is not closed yet anyway: wait for it. */
        if (start + (int64_t)len > now) {
            *later = true;
            return 0;
        }
        return len;
    }
    return 0;
}

/* Orders by SLI, label set, then window, so series to merge sit together. */
static int series_cmp(const void *x, const void *y)
{
    const struct slic_series *a = x, *b = y;
    int c = strcmp(a->sli, b->sli);
    if (c || (c = slic_series_labels_cmp(a, b)))
        return c;
    return a->window_start < b->window_start ? -1 : a->window_start > b->window_start;
}

static int add_u64(uint64_t *dst, uint64_t v)
{
    if (*dst > UINT64_MAX - v)
        return SLIC_EOVERFLOW;
    *dst += v;
    return 0;
}

/* Keeps the thresholds both series count, with their counts added. Both lists ascend. */
static int thresholds_absorb(struct slic_series *d, const struct slic_series *s)
{
    size_t k = 0, j = 0;
    for (size_t i = 0; i < d->n_thresholds; i++) {
        struct slic_threshold_count t = d->thresholds[i];
        while (j < s->n_thresholds && s->thresholds[j].threshold < t.threshold)
            j++;
        if (j == s->n_thresholds || s->thresholds[j].threshold != t.threshold)
            continue;
        int rc = add_u64(&t.count_le, s->thresholds[j].count_le);
        if (rc || (rc = add_u64(&t.good_le, s->thresholds[j].good_le)))
            return rc;
        d->thresholds[k++] = t;
    }
    d->n_thresholds = k;
    return 0;
}

/* Adds series s into d (same SLI, labels and window). s keeps nothing d needs. */
static int series_absorb(struct slic_series *d, struct slic_series *s)
{
    int rc = add_u64(&d->total, s->total);
    if (rc || (rc = add_u64(&d->good, s->good)) || (rc = thresholds_absorb(d, s)))
        return rc;
    if (!s->latency)
        return 0;
    if (!d->latency) {
        d->latency = s->latency;
        s->latency = NULL;
        return 0;
    }
    return slic_sketch_merge(d->latency, s->latency);
}

/* Merges each run of equal (SLI, labels, window) in the sorted array into its first series and
 * compacts the array. */
static int runs_merge(struct slic_series *all, size_t n, size_t *out_n)
{
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        for (; j < n && series_cmp(&all[i], &all[j]) == 0; j++) {
            int rc = series_absorb(&all[i], &all[j]);
            slic_series_fini(&all[j]);
            if (rc)
                return rc;
        }
        if (out != i) {
            all[out] = all[i];
            memset(&all[i], 0, sizeof all[i]);
        }
        out++;
        i = j;
    }
    *out_n = out;
    return 0;
}

/* Distinct label sets per SLI in the sorted array, against MERGE_LABEL_SETS_MAX. */
static bool label_sets_ok(const struct slic_series *all, size_t n)
{
    size_t sets = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(all[i].sli, all[i - 1].sli) != 0)
            sets = 1;
        else if (slic_series_labels_cmp(&all[i], &all[i - 1]) != 0)
            sets++;
        if (sets > MERGE_LABEL_SETS_MAX)
            return false;
    }
    return true;
}

int agent__spool_merge(struct slic_batch *dst, struct slic_batch *src, uint32_t window)
{
    size_t n = dst->n_series + src->n_series;
    struct slic_series *all = slic_calloc(n + 1, sizeof *all);
    if (!all)
        return SLIC_ENOMEM;
    /* From here dst owns every series, so one slic_batch_fini frees them whatever happens. */
    if (dst->n_series)
        memcpy(all, dst->series, dst->n_series * sizeof *all);
    if (src->n_series)
        memcpy(all + dst->n_series, src->series, src->n_series * sizeof *all);
    slic_free(dst->series);
    slic_free(src->series);
    dst->series = all;
    dst->n_series = n;
    src->series = NULL;
    src->n_series = 0;
    for (size_t i = 0; i < n; i++) {
        all[i].window_start = floor_to(all[i].window_start, window);
        all[i].window_seconds = window;
    }
    qsort(all, n, sizeof *all, series_cmp);
    size_t kept;
    int rc = runs_merge(all, n, &kept);
    if (rc)
        return rc;
    dst->n_series = kept;
    if (kept > SLIC_BATCH_SERIES_MAX || !label_sets_ok(all, kept))
        return SLIC_ETOOBIG;
    return 0;
}
