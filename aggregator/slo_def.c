/* Freeing an SLO definition (slo_def.h): every string and array it owns. */
#include "slo_def.h"

#include "alloc.h"

#include <string.h>

void agg_slo_def_fini(struct agg_slo_def *d)
{
    if (!d)
        return;
    slic_free(d->name);
    slic_free(d->display_name);
    slic_free(d->description);
    slic_free(d->service);
    slic_free(d->file);
    slic_free(d->source.sli);
    for (size_t i = 0; i < d->source.n_sites; i++)
        slic_free(d->source.sites[i]);
    for (size_t i = 0; i < d->source.n_labels; i++) {
        slic_free(d->source.labels[i].key);
        slic_free(d->source.labels[i].value);
    }
    slic_free(d->source.labels);
    slic_free(d->time_zone);
    slic_free(d->runbook_url);
    memset(d, 0, sizeof *d);
}
