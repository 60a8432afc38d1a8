/* Burn-down series (see slo_burndown.h): cumulative counts of a window, recorded at up to N
 * points as its atoms arrive in time order, and turned into budget consumed once the whole
 * window is in, since the denominator of every point is the window's own. The sums and the
 * final divisions are written exactly as slo.c writes them (same operands, same order), which is
 * what makes the last point equal the evaluator's consumed bit for bit. */
#include "slo_burndown.h"

#include "alloc.h"

#include <assert.h>
#include <string.h>

static bool sliced(const struct agg_slo_def *d)
{
    return d->budgeting == AGG_SLO_TIMESLICES || d->budgeting == AGG_SLO_RATIO_TIMESLICES;
}

int agg_slo_burndown_init(struct agg_slo_burndown *b, const struct agg_slo_def *d,
                          const struct agg_slo_window *w, size_t max_points)
{
    memset(b, 0, sizeof *b);
    if (max_points < AGG_SLO_BURNDOWN_POINTS_MIN || max_points > AGG_SLO_BURNDOWN_POINTS_MAX ||
        w->to < w->from)
        return SLIC_EINVAL;
    b->d = d;
    b->w = *w;
    b->max_points = max_points;
    if (sliced(d)) {
        b->slice_s = (int64_t)d->timeslice_window_s;
        if (b->slice_s <= 0 || (w->to - w->from) % b->slice_s != 0)
            return SLIC_EINVAL;
        /* slo.c: the period's slices counted from `from`, at least one. */
        int64_t period = (w->period_end - w->from) / b->slice_s;
        b->slices_period = period > 0 ? (uint64_t)period : 1;
    }
    if (!(b->points = slic_calloc(max_points, sizeof *b->points)))
        return SLIC_ENOMEM;
    b->acc = (struct agg_slo_burndown_point){.t = w->from};
    b->points[b->n++] = b->acc;
    b->next = 1;
    return 0;
}

/* Counts one slice as slo.c's tally_slice does. */
static void tally_slice(struct agg_slo_burndown *b, const struct agg_slo_counts *c)
{
    b->acc.slices++;
    if (c->total == 0)
        return;
    double lo = (double)c->good_lower / (double)c->total;
    b->acc.nonempty++;
    b->acc.ratio_sum += lo;
    if (b->d->budgeting == AGG_SLO_TIMESLICES && !(lo >= b->d->timeslice_target))
        b->acc.bad_slices++;
}

/* A point at the end of the atoms so far, when they reach the next evenly spaced time (or the
 * window's end). Integer arithmetic, so the times are exact: the k-th time is reached when
 * (t - from) x (max_points - 1) >= k x (to - from). */
static void maybe_record(struct agg_slo_burndown *b)
{
    int64_t span = b->w.to - b->w.from, done = b->acc.t - b->w.from;
    uint64_t steps = (uint64_t)(b->max_points - 1);
    bool reached = (uint64_t)done * steps >= b->next * (uint64_t)span;
    if (!reached && b->acc.t != b->w.to)
        return;
    /* Each point but the first takes a distinct k in 1..max_points - 1. */
    assert(b->n < b->max_points);
    b->points[b->n++] = b->acc;
    b->next = (uint64_t)done * steps / (uint64_t)span + 1;
}

int agg_slo_burndown_add(struct agg_slo_burndown *b, int64_t start, int64_t end,
                         const struct agg_slo_counts *c)
{
    if (b->finished || !b->points || start != b->acc.t || end <= start || end > b->w.to ||
        (b->slice_s && end - start != b->slice_s))
        return SLIC_EINVAL;
    if (!(c->good_lower <= c->good_upper && c->good_upper <= c->total))
        return SLIC_EINCONSISTENT;
    if (b->acc.total > UINT64_MAX - c->total)
        return SLIC_EOVERFLOW;
    b->acc.total += c->total;
    b->acc.good_lower += c->good_lower;
    if (b->slice_s)
        tally_slice(b, c);
    b->acc.t = end;
    maybe_record(b);
    return 0;
}

/* Budget consumed by p, with the final sums `all` giving the denominators. */
static double consumed_at(const struct agg_slo_burndown *b, const struct agg_slo_burndown_point *p,
                          const struct agg_slo_burndown_point *all)
{
    double budget = 1.0 - b->d->target;
    switch (b->d->budgeting) {
    case AGG_SLO_TIMESLICES:
        if (all->slices == 0)
            return 0.0;
        return (double)p->bad_slices / (budget * (double)b->slices_period);
    case AGG_SLO_RATIO_TIMESLICES:
        if (all->nonempty == 0)
            return 0.0;
        /* The slices still to come count as perfect (ratio 1): at the last point none are to
         * come, and this is slo.c's (1 - mean ratio) / budget to the bit. */
        return (1.0 -
                (p->ratio_sum + (double)(all->nonempty - p->nonempty)) / (double)all->nonempty) /
               budget;
    case AGG_SLO_OCCURRENCES:
        break;
    }
    if (all->total == 0)
        return 0.0;
    return (double)(p->total - p->good_lower) / (budget * (double)all->total);
}

int agg_slo_burndown_finish(struct agg_slo_burndown *b, const struct agg_slo_burndown_point **out,
                            size_t *n)
{
    if (!b->points || b->acc.t != b->w.to)
        return SLIC_EINVAL;
    for (size_t i = 0; i < b->n && !b->finished; i++) {
        struct agg_slo_burndown_point *p = &b->points[i];
        p->consumed = consumed_at(b, p, &b->acc);
        p->remaining = 1.0 - p->consumed;
    }
    b->finished = true;
    *out = b->points;
    *n = b->n;
    return 0;
}

void agg_slo_burndown_pin(struct agg_slo_burndown *b, double consumed)
{
    if (!b->finished || b->n == 0)
        return;
    struct agg_slo_burndown_point *last = &b->points[b->n - 1];
    if (last->consumed == consumed)
        return;
    double scale = last->consumed > 0 ? consumed / last->consumed : 0.0;
    for (size_t i = 0; i + 1 < b->n; i++) {
        b->points[i].consumed *= scale;
        b->points[i].remaining = 1.0 - b->points[i].consumed;
    }
    last->consumed = consumed;
    last->remaining = 1.0 - consumed;
}

void agg_slo_burndown_fini(struct agg_slo_burndown *b)
{
    if (!b)
        return;
    slic_free(b->points);
    b->points = NULL;
    b->n = 0;
}
