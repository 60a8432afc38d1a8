/* Error-budget burn-down series, for the dashboard's charts: how the budget of an SLO's current
 * window was spent, cumulatively from the window's start to each of up to N points. A builder
 * takes the window's counts in time order, in whatever pieces the data comes in ("atoms": store
 * records, or one slice each for budgeting by slices), records a point whenever the atoms reach
 * the next of N evenly spaced times, and turns the cumulative counts into budget consumed with
 * the formulas, and the order of arithmetic, of slo.c. So the last point of a series fed the
 * counts the evaluator read equals its `consumed` and `remaining` bit for bit.
 *
 * Every point shares the denominator of the window as it stands at its end, so the series only
 * falls and its last point is the evaluator's number:
 *   Occurrences      bad events so far / (budget x events in [from, to))
 *   Timeslices       bad slices so far / (budget x slices in the whole period)
 *   RatioTimeslices  sum of (1 - ratio) over non-empty slices so far /
 *                    (budget x non-empty slices in [from, to))
 * "Bad" is conservative, as for slo.c's consumed: events not surely good (total - good_lower),
 * and slices not surely meeting the slice target.
 *
 * Pure: no I/O, no shared state; a builder is used by one thread at a time. */
#ifndef SLIC_AGG_SLO_BURNDOWN_H
#define SLIC_AGG_SLO_BURNDOWN_H

#include "slo.h"

#include <stddef.h>
#include <stdint.h>

/* Points of one series: the first is the window's start, the last its end. */
#define AGG_SLO_BURNDOWN_POINTS_MIN 2
#define AGG_SLO_BURNDOWN_POINTS_MAX 1000
#define AGG_SLO_BURNDOWN_POINTS_DEFAULT 120

struct agg_slo_burndown_point {
    int64_t t; /* the point sums [window from, t) */
    /* Cumulative counts. */
    uint64_t total;      /* events */
    uint64_t good_lower; /* events surely good; total - good_lower are the bad ones */
    uint64_t slices;     /* budgeting by slices: complete slices */
    uint64_t nonempty;   /* ... of which held events */
    uint64_t bad_slices; /* Timeslices: slices not surely meeting timeslice_target */
    double ratio_sum;    /* RatioTimeslices: the sum of non-empty slices' (lower) ratios */
    /* Set by agg_slo_burndown_finish. */
    double consumed;
    double remaining; /* 1 - consumed; negative once the budget is overspent */
};

struct agg_slo_burndown {
    /* Settings, from agg_slo_burndown_init. */
    const struct agg_slo_def *d;
    struct agg_slo_window w;
    int64_t slice_s;        /* budgeting by slices: every atom is one slice this long */
    uint64_t slices_period; /* Timeslices: slices in the whole period, as slo.c counts them */
    size_t max_points;
    /* Progress. */
    struct agg_slo_burndown_point acc; /* sums of the atoms so far; acc.t is where they end */
    uint64_t next;                     /* index of the next evenly spaced time to reach */
    struct agg_slo_burndown_point *points;
    size_t n;
    bool finished;
};

/* Starts a series of at most max_points (AGG_SLO_BURNDOWN_POINTS_MIN..MAX) points over the
 * window w of definition d (as agg_slo_window_range gives it; d is borrowed until fini). The
 * first point, at w->from, is recorded at once. Returns 0; SLIC_EINVAL for a point count out of
 * range, a window with to < from, or, budgeting by slices, a range that is not whole slices;
 * SLIC_ENOMEM. b needs agg_slo_burndown_fini whatever the result. */
int agg_slo_burndown_init(struct agg_slo_burndown *b, const struct agg_slo_def *d,
                          const struct agg_slo_window *w, size_t max_points);

/* Adds the counts of the atom [start, end): it starts where the previous one ended (the first
 * at w->from) and ends no later than w->to; budgeting by slices it is exactly one slice. Records
 * a point at `end` when end is w->to or reaches the next of the evenly spaced times from + k x
 * (to - from) / (max_points - 1), so points lie on atom boundaries, at most one atom late.
 * Returns 0; SLIC_EINVAL (an atom out of place, or after finish); SLIC_EINCONSISTENT (counts
 * with good_lower > good_upper > total); SLIC_EOVERFLOW (more than 2^64 events). */
int agg_slo_burndown_add(struct agg_slo_burndown *b, int64_t start, int64_t end,
                         const struct agg_slo_counts *c);

/* Once atoms cover [from, to): sets every point's consumed and remaining and hands out the
 * points (b keeps them; valid until fini). Returns 0, or SLIC_EINVAL when the atoms stop short
 * of w->to. */
int agg_slo_burndown_finish(struct agg_slo_burndown *b, const struct agg_slo_burndown_point **out,
                            size_t *n);

/* After finish: makes the last point's consumed exactly `consumed` (what the evaluator reported
 * for the window) and scales every earlier point by the same factor, so a series read a little
 * after the evaluation (events that arrived since) keeps its shape and ends on the number the
 * rest of the API shows. When the series spent nothing, the earlier points stay at 0. */
void agg_slo_burndown_pin(struct agg_slo_burndown *b, double consumed);

/* Frees the points. NULL allowed. */
void agg_slo_burndown_fini(struct agg_slo_burndown *b);

#endif
