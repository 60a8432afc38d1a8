/* Clock and limit checks of incoming batches (see validate.h). */
#include "validate.h"

#include "alloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int window_check(const struct slic_series *s, size_t i, int64_t now,
                        const struct agg_batch_limits *lim, struct slic_errmsg *err)
{
    int64_t end = s->window_start + (int64_t)s->window_seconds;
    if (end > now + lim->max_future_seconds)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "series[%zu] (%s): window %" PRId64 "+%" PRIu32
                               " s ends %" PRId64 " s in the future; at most %" PRId64
                               " s allowed (is the agent's clock right?)",
                               i, s->sli, s->window_start, s->window_seconds, end - now,
                               lim->max_future_seconds);
    if (s->window_start < now - lim->max_age_seconds)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "series[%zu] (%s): window %" PRId64 " is %" PRId64
                               " s old; the oldest accepted is %" PRId64 " s (coarsest retention)",
                               i, s->sli, s->window_start, now - s->window_start,
                               lim->max_age_seconds);
    return 0;
}

/* Orders series by SLI, then by label set, so equal label sets of one SLI sit together. */
static int label_set_cmp(const struct slic_series *a, const struct slic_series *b)
{
    int c = strcmp(a->sli, b->sli);
    if (c)
        return c;
    if (a->n_labels != b->n_labels)
        return a->n_labels < b->n_labels ? -1 : 1;
    for (size_t i = 0; i < a->n_labels; i++) {
        if ((c = strcmp(a->labels[i].key, b->labels[i].key)) ||
            (c = strcmp(a->labels[i].value, b->labels[i].value)))
            return c;
    }
    return 0;
}

static int series_ptr_cmp(const void *x, const void *y)
{
    return label_set_cmp(*(const struct slic_series *const *)x,
                         *(const struct slic_series *const *)y);
}

/* Counts distinct label sets per SLI by sorting pointers to the series. */
static int cardinality_check(const struct slic_batch *b, unsigned max, struct slic_errmsg *err)
{
    if (b->n_series <= max)
        return 0; /* cannot exceed: skip the sort */
    const struct slic_series **v = slic_malloc(b->n_series * sizeof *v);
    if (!v)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < b->n_series; i++)
        v[i] = &b->series[i];
    qsort(v, b->n_series, sizeof *v, series_ptr_cmp);
    int rc = 0;
    unsigned sets = 1;
    for (size_t i = 1; i < b->n_series && rc == 0; i++) {
        if (strcmp(v[i]->sli, v[i - 1]->sli) != 0)
            sets = 1;
        else if (label_set_cmp(v[i], v[i - 1]) != 0 && ++sets > max)
            rc = slic_errmsg_set(err, SLIC_EINVAL,
                                 "SLI %s carries more than %u distinct label sets in one batch; "
                                 "keep fewer label keys on the agent (labels: in its config)",
                                 v[i]->sli, max);
    }
    slic_free(v);
    return rc;
}

int agg_batch_check(const struct slic_batch *b, int64_t now, const struct agg_batch_limits *lim,
                    struct slic_errmsg *err)
{
    for (size_t i = 0; i < b->n_series; i++) {
        int rc = window_check(&b->series[i], i, now, lim, err);
        if (rc)
            return rc;
    }
    return cardinality_check(b, lim->max_label_sets_per_sli, err);
}
