/* The checks on a decoded batch that the codec cannot make: those that need the aggregator's
 * clock and its limits. The codec has already checked every field's syntax and consistency. */
#ifndef SLIC_AGG_VALIDATE_H
#define SLIC_AGG_VALIDATE_H

#include "batch.h"
#include "err.h"

#include <stdint.h>

struct agg_batch_limits {
    int64_t max_future_seconds;
    int64_t max_age_seconds;
    unsigned max_label_sets_per_sli;
};

/* 0, or SLIC_EINVAL with err naming the series and what is wrong: a window ending more than
 * max_future_seconds after now; a window older than max_age_seconds; an SLI carrying more than
 * max_label_sets_per_sli distinct label sets in this batch. */
int agg_batch_check(const struct slic_batch *b, int64_t now, const struct agg_batch_limits *lim,
                    struct slic_errmsg *err);

#endif
