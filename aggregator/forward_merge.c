/* Merging a committed group's series into forward Batches (see forward_merge.h). The series
 * are sorted by their merge key through an array of references, so a run of equal keys is one
 * merged series and a run of one site is one Batch; merged series borrow names and labels from
 * the inputs and own only the sketches they merged. */
#include "forward_merge.h"

#include "alloc.h"
#include "labels.h"
#include "record.h"

#include <stdlib.h>
#include <string.h>

struct ref {
    const struct slic_batch *b;
    const struct slic_series *s;
};

/* The Batch being filled: its series, their threshold storage, and the sketches it owns. */
struct chunk {
    const struct agg_forward_origin *o;
    const char *site;
    struct slic_series *series;
    struct slic_threshold_count (*thr)[SLIC_SERIES_THRESHOLDS_MAX];
    slic_sketch **owned;
    size_t n;
    size_t bytes;
    unsigned label_sets; /* of the last series' SLI in this chunk */
    uint64_t emitted;
    agg_forward_emit_fn emit;
    void *ctx;
};

/* Everything but the site: two series merge when this is 0 and their sites are equal. */
static int cmp_series(const struct slic_series *a, const struct slic_series *b)
{
    int c = strcmp(a->sli, b->sli);
    if (c || (c = slic_series_labels_cmp(a, b)))
        return c;
    if (a->window_start != b->window_start)
        return a->window_start < b->window_start ? -1 : 1;
    if (a->window_seconds != b->window_seconds)
        return a->window_seconds < b->window_seconds ? -1 : 1;
    return 0;
}

static int cmp_ref(const void *x, const void *y)
{
    const struct ref *a = x, *b = y;
    int c = strcmp(a->b->site, b->b->site);
    return c ? c : cmp_series(a->s, b->s);
}

/* The thresholds of `into` that s also counts, with s's counts added. */
static void thresholds_intersect(struct slic_series *into, const struct slic_series *s)
{
    size_t kept = 0, j = 0;
    for (size_t i = 0; i < into->n_thresholds; i++) {
        struct slic_threshold_count t = into->thresholds[i];
        while (j < s->n_thresholds && s->thresholds[j].threshold < t.threshold)
            j++;
        if (j == s->n_thresholds || s->thresholds[j].threshold != t.threshold)
            continue;
        t.count_le += s->thresholds[j].count_le;
        t.good_le += s->thresholds[j].good_le;
        into->thresholds[kept++] = t;
    }
    into->n_thresholds = kept;
}

static bool add_overflows(uint64_t *acc, uint64_t v)
{
    if (*acc > UINT64_MAX - v)
        return true;
    *acc += v;
    return false;
}

/* The sketch of a run: a clone of the first that has one, with the others merged in. */
static int sketch_merge_run(const struct ref *run, size_t k, slic_sketch **out)
{
    slic_sketch *acc = NULL;
    for (size_t i = 0; i < k; i++) {
        const slic_sketch *sk = run[i].s->latency;
        int rc = !sk ? 0 : acc ? slic_sketch_merge(acc, sk) : slic_sketch_clone(sk, &acc);
        if (rc) {
            slic_sketch_destroy(acc);
            return rc;
        }
    }
    *out = acc;
    return 0;
}

/* Series run[0..k) (equal keys) as one series at c->series[c->n]. */
static int merge_run(struct chunk *c, const struct ref *run, size_t k)
{
    struct slic_series *out = &c->series[c->n];
    *out = *run[0].s;
    c->owned[c->n] = NULL;
    if (k == 1)
        return 0; /* borrowed as it is */
    /* Series without events constrain no threshold (their counts are all zero). */
    size_t base = 0;
    while (base + 1 < k && run[base].s->total == 0)
        base++;
    out->n_thresholds = run[base].s->n_thresholds;
    out->thresholds = c->thr[c->n];
    if (out->n_thresholds)
        memcpy(out->thresholds, run[base].s->thresholds,
               out->n_thresholds * sizeof *out->thresholds);
    out->total = run[base].s->total;
    out->good = run[base].s->good;
    for (size_t i = 0; i < k; i++) {
        const struct slic_series *s = run[i].s;
        if (i == base || s->total == 0)
            continue;
        if (add_overflows(&out->total, s->total) || add_overflows(&out->good, s->good))
            return SLIC_EOVERFLOW;
        thresholds_intersect(out, s);
    }
    int rc = sketch_merge_run(run, k, &out->latency);
    if (rc == 0)
        c->owned[c->n] = out->latency;
    return rc;
}

static void chunk_clear(struct chunk *c)
{
    for (size_t i = 0; i < c->n; i++)
        slic_sketch_destroy(c->owned[i]);
    c->n = 0;
    c->bytes = 0;
}

/* Hands the chunk over as one Batch, then empties it. */
static int chunk_flush(struct chunk *c)
{
    if (c->n == 0)
        return 0;
    struct slic_batch b = {
        .agent_id = (char *)c->o->id,
        .site = (char *)c->site,
        .node = (char *)c->o->id,
        .epoch = c->o->epoch,
        .seq = c->o->first_seq + c->emitted,
        .created_unix_ms = c->o->now_ms,
        .series = c->series,
        .n_series = c->n,
    };
    int rc = c->emit(c->ctx, &b);
    chunk_clear(c);
    if (rc == 0)
        c->emitted++;
    return rc;
}

static int merge_sorted(struct chunk *c, const struct ref *refs, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = 1;
        while (i + k < n && cmp_ref(&refs[i], &refs[i + k]) == 0)
            k++;
        int rc = 0;
        bool new_site = c->n > 0 && strcmp(c->site, refs[i].b->site) != 0;
        /* Sorted by SLI then labels: one SLI's label sets are consecutive in a chunk. */
        const struct slic_series *prev = c->n ? &c->series[c->n - 1] : NULL;
        if (!prev || new_site || strcmp(prev->sli, refs[i].s->sli) != 0)
            c->label_sets = 1;
        else if (slic_series_labels_cmp(prev, refs[i].s) != 0)
            c->label_sets++;
        if ((new_site || c->n == AGG_FORWARD_BATCH_SERIES_MAX ||
             c->bytes >= AGG_FORWARD_BATCH_BYTES_MAX ||
             c->label_sets > AGG_FORWARD_LABEL_SETS_MAX) &&
            (rc = chunk_flush(c)))
            return rc;
        if (c->n == 0)
            c->label_sets = 1;
        c->site = refs[i].b->site;
        if ((rc = merge_run(c, &refs[i], k)))
            return rc;
        c->bytes += agg__record_size_of_series(&c->series[c->n]) + strlen(refs[i].s->sli);
        c->n++;
        i += k;
    }
    return chunk_flush(c);
}

static size_t refs_collect(const struct slic_batch *const *batches,
                           const enum agg_ingest_result *results, size_t n, struct ref *refs)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (results[i] != AGG_INGEST_ACCEPTED)
            continue;
        for (size_t j = 0; j < batches[i]->n_series; j++)
            refs[m++] = (struct ref){batches[i], &batches[i]->series[j]};
    }
    return m;
}

int agg_forward_merge(const struct slic_batch *const *batches,
                      const enum agg_ingest_result *results, size_t n,
                      const struct agg_forward_origin *origin, agg_forward_emit_fn emit, void *ctx,
                      uint64_t *emitted)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += results[i] == AGG_INGEST_ACCEPTED ? batches[i]->n_series : 0;
    *emitted = 0;
    if (total == 0)
        return 0;
    size_t cap = total < AGG_FORWARD_BATCH_SERIES_MAX ? total : AGG_FORWARD_BATCH_SERIES_MAX;
    struct ref *refs = slic_calloc(total, sizeof *refs);
    struct chunk c = {.o = origin, .emit = emit, .ctx = ctx};
    c.series = slic_calloc(cap, sizeof *c.series);
    c.thr = slic_calloc(cap, sizeof *c.thr);
    c.owned = slic_calloc(cap, sizeof *c.owned);
    int rc = SLIC_ENOMEM;
    if (refs && c.series && c.thr && c.owned) {
        size_t m = refs_collect(batches, results, n, refs);
        qsort(refs, m, sizeof *refs, cmp_ref);
        rc = merge_sorted(&c, refs, m);
    }
    chunk_clear(&c);
    *emitted = c.emitted;
    slic_free(c.owned);
    slic_free(c.thr);
    slic_free(c.series);
    slic_free(refs);
    return rc;
}
