/* The set a load hands over (see openslo.h): definitions sorted by name for lookups, and the
 * latency thresholds per SLI that agents are asked to count exactly, derived once at load so
 * the set stays immutable and readers never allocate. */
#include "openslo.h"

#include "alloc.h"
#include "log.h"
#include "openslo_int.h"

#include <stdlib.h>
#include <string.h>

static int def_cmp(const void *a, const void *b)
{
    return strcmp(((const struct agg_slo_def *)a)->name, ((const struct agg_slo_def *)b)->name);
}

/* ---- thresholds per SLI ---- */

struct sli_threshold {
    const char *sli;
    double t;
};

static int sli_threshold_cmp(const void *a, const void *b)
{
    const struct sli_threshold *x = a, *y = b;
    int c = strcmp(x->sli, y->sli);
    if (c)
        return c;
    return x->t < y->t ? -1 : x->t > y->t;
}

/* Fills one SLI's entry from its run of sorted pairs, keeping the smallest distinct ones. */
static int thresholds_fill(struct slic_sli_thresholds *out, const struct sli_threshold *run,
                           size_t n)
{
    size_t kept = 0, distinct = 0;
    size_t cap = n < SLIC_SERIES_THRESHOLDS_MAX ? n : SLIC_SERIES_THRESHOLDS_MAX;
    if (!(out->sli = agg__openslo_strdup(run[0].sli)) ||
        !(out->thresholds = slic_calloc(cap, sizeof *out->thresholds)))
        return SLIC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && run[i].t == run[i - 1].t)
            continue;
        distinct++;
        if (kept < cap)
            out->thresholds[kept++] = run[i].t;
    }
    out->n_thresholds = kept;
    if (distinct > kept)
        SLIC_WARN("openslo",
                  "SLI '%s': SLOs use %zu latency thresholds; agents count the %d smallest "
                  "exactly, the others are evaluated from the latency sketch",
                  out->sli, distinct, SLIC_SERIES_THRESHOLDS_MAX);
    return 0;
}

static void thresholds_free(struct slic_sli_thresholds *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        slic_free(v[i].sli);
        slic_free(v[i].thresholds);
    }
    slic_free(v);
}

static int thresholds_build(struct agg_slo_set *set)
{
    size_t n = 0;
    struct sli_threshold *pairs = slic_calloc(set->n_defs ? set->n_defs : 1, sizeof *pairs);
    if (!pairs)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < set->n_defs; i++) {
        if (set->defs[i].indicator == AGG_SLO_THRESHOLD)
            pairs[n++] = (struct sli_threshold){set->defs[i].source.sli, set->defs[i].threshold_s};
    }
    qsort(pairs, n, sizeof *pairs, sli_threshold_cmp);
    int rc = 0;
    set->thresholds = slic_calloc(n ? n : 1, sizeof *set->thresholds);
    if (!set->thresholds)
        rc = SLIC_ENOMEM;
    for (size_t i = 0, end; rc == 0 && i < n; i = end) {
        for (end = i + 1; end < n && strcmp(pairs[end].sli, pairs[i].sli) == 0; end++)
            ;
        if (set->n_thresholds == SLIC_ACK_WANTED_MAX) {
            SLIC_WARN("openslo",
                      "latency thresholds of more than %d SLIs; the rest are "
                      "evaluated from the latency sketch",
                      SLIC_ACK_WANTED_MAX);
            break;
        }
        rc = thresholds_fill(&set->thresholds[set->n_thresholds++], pairs + i, end - i);
    }
    slic_free(pairs);
    return rc;
}

/* ---- the set ---- */

void agg_slo_set_destroy(struct agg_slo_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n_defs; i++)
        agg_slo_def_fini(&set->defs[i]);
    slic_free(set->defs);
    thresholds_free(set->thresholds, set->n_thresholds);
    slic_free(set);
}

static int def_name_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct agg_slo_def *)elem)->name);
}

const struct agg_slo_def *agg_slo_set_find(const struct agg_slo_set *set, const char *name)
{
    if (!set || set->n_defs == 0)
        return NULL;
    return bsearch(name, set->defs, set->n_defs, sizeof *set->defs, def_name_cmp);
}

const struct slic_sli_thresholds *agg_slo_set_thresholds(const struct agg_slo_set *set, size_t *n)
{
    *n = set->n_thresholds;
    return set->thresholds;
}

int agg__openslo_set_build(struct agg__os_defs *defs, struct agg_slo_set **out,
                           struct slic_errmsg *err)
{
    struct agg_slo_set *set = slic_calloc(1, sizeof *set);
    if (!set)
        return SLIC_ENOMEM;
    set->defs = defs->v;
    set->n_defs = defs->n;
    memset(defs, 0, sizeof *defs);
    if (set->n_defs > 1)
        qsort(set->defs, set->n_defs, sizeof *set->defs, def_cmp);
    /* Plain SLO names are unique and hold no '.', objective names are unique within their SLO:
     * a clash here would be a loader bug, still refused rather than served. */
    for (size_t i = 1; i < set->n_defs; i++) {
        const struct agg_slo_def *d = &set->defs[i];
        if (strcmp(d->name, set->defs[i - 1].name) == 0) {
            int rc = slic_errmsg_set(err, SLIC_ECONFIG, "%s:%u: SLO '%s' is defined twice", d->file,
                                     d->line, d->name);
            agg_slo_set_destroy(set);
            return rc;
        }
    }
    int rc = thresholds_build(set);
    if (rc) {
        agg_slo_set_destroy(set);
        return rc;
    }
    *out = set;
    return 0;
}
