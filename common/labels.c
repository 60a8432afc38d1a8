/* Ordering series by label set (see labels.h). */
#include "labels.h"

#include <string.h>

int slic_series_labels_cmp(const struct slic_series *a, const struct slic_series *b)
{
    if (a->n_labels != b->n_labels)
        return a->n_labels < b->n_labels ? -1 : 1;
    for (size_t i = 0; i < a->n_labels; i++) {
        int c = strcmp(a->labels[i].key, b->labels[i].key);
        if (c || (c = strcmp(a->labels[i].value, b->labels[i].value)))
            return c;
    }
    return 0;
}
