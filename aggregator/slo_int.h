/* Helpers the SLO evaluation files share (slo.c, slo_check.c, slo_window.c, slo_alert.c); not
 * for use outside them. */
#ifndef SLIC_AGG_SLO_INT_H
#define SLIC_AGG_SLO_INT_H

#include "slo.h"

#include <stdint.h>

/* Windows longer than this are refused: ten years of seconds keeps every sum of times far from
 * int64 overflow and is longer than any retention. */
#define AGG__SLO_WINDOW_MAX_S (3660.0 * 86400.0)
/* Calendar windows of more units than this are refused (e.g. 1000 days). */
#define AGG__SLO_CAL_COUNT_MAX 1000u

/* t rounded down / up to a multiple of step (> 0), for negative t too. */
int64_t agg__slo_floor(int64_t t, int64_t step);
int64_t agg__slo_ceil(int64_t t, int64_t step);

/* A window length in seconds from a definition, rounded to the nearest multiple of
 * AGG_SLO_GRID_S and at least one grid step. s is finite and within AGG__SLO_WINDOW_MAX_S
 * (agg_slo_def_check). */
int64_t agg__slo_grid_round(double s);

/* The slice length of a Timeslices / RatioTimeslices definition, in whole seconds. */
int64_t agg__slo_slice_s(const struct agg_slo_def *d);

/* True for budgeting by slices. */
bool agg__slo_sliced(const struct agg_slo_def *d);

/* The SLO's name for messages, never NULL. */
const char *agg__slo_name(const struct agg_slo_def *d);

/* agg_slo_window_range with a message naming the SLO on failure. */
int agg__slo_window_range(const struct agg_slo_def *d, const slic_tz *tz, int64_t now,
                          struct agg_slo_window *out, struct slic_errmsg *err);

#endif
