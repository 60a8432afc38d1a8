/* Ordering series by label set (batch.h keeps each series' labels sorted by key), for code that
 * sorts series so that those of one label set sit together: merging, counting cardinality. */
#ifndef SLIC_LABELS_H
#define SLIC_LABELS_H

#include "batch.h"

/* Orders by label count, then key and value pair by pair (strcmp): 0 when a and b carry
 * exactly the same labels. */
int slic_series_labels_cmp(const struct slic_series *a, const struct slic_series *b);

#endif
