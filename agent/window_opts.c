/* The window's options: their defaults and the checks agent_window_create applies before
 * building anything, each failure naming the field, the value and what was expected. */
#include "window_int.h"

#include "sketch.h"

#include <string.h>

#define SLIS_LIMIT (1u << 20)

void agent_window_options_init(struct agent_window_options *o)
{
    memset(o, 0, sizeof *o);
    o->window_seconds = 10;
    o->grace_ms = 1000;
    o->max_labelsets_per_sli = 100;
    o->max_slis = 1000;
    o->max_series = 10000;
    o->sketch_alpha = SLIC_SKETCH_DEFAULT_ALPHA;
    o->sketch_max_buckets = SLIC_SKETCH_DEFAULT_MAX_BUCKETS;
}

static int check_label_keys(const struct agent_window_options *o, struct slic_errmsg *err)
{
    if (o->n_label_keys > SLIC_SERIES_LABELS_MAX)
        return slic_errmsg_set(err, SLIC_ECONFIG, "label keys: %zu given, at most %d are kept",
                               o->n_label_keys, SLIC_SERIES_LABELS_MAX);
    for (size_t i = 0; i < o->n_label_keys; i++) {
        const char *k = o->label_keys[i] ? o->label_keys[i] : "(null)";
        if (!slic_label_key_valid(k) || strcmp(k, AGENT_WINDOW_OVERFLOW_KEY) == 0)
            return slic_errmsg_set(err, SLIC_ECONFIG,
                                   "label key '%s': expected [A-Za-z_][A-Za-z0-9_]* of at most %d "
                                   "bytes, other than '%s'",
                                   k, SLIC_LABEL_KEY_MAX, AGENT_WINDOW_OVERFLOW_KEY);
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->label_keys[j], k) == 0)
                return slic_errmsg_set(err, SLIC_ECONFIG, "label key '%s' listed twice", k);
    }
    return 0;
}

static int check_thresholds(const struct agent_window_options *o, struct slic_errmsg *err)
{
    for (size_t i = 0; i < o->n_thresholds; i++) {
        const struct slic_sli_thresholds *t = &o->thresholds[i];
        if (!t->sli || !slic_name_valid(t->sli))
            return slic_errmsg_set(err, SLIC_ECONFIG, "thresholds[%zu]: SLI name '%s' is invalid",
                                   i, t->sli ? t->sli : "(null)");
        if (t->n_thresholds > AGENT__WINDOW_THR_MAX || (t->n_thresholds && !t->thresholds))
            return slic_errmsg_set(err, SLIC_ECONFIG, "SLI %s: %zu thresholds, at most %d", t->sli,
                                   t->n_thresholds, AGENT__WINDOW_THR_MAX);
        for (size_t k = 0; k < t->n_thresholds; k++)
            if (!agent__window_threshold_ok(t->thresholds[k]) ||
                (k > 0 && t->thresholds[k] <= t->thresholds[k - 1]))
                return slic_errmsg_set(err, SLIC_ECONFIG,
                                       "SLI %s: threshold %g: expected finite, >= 0 and above "
                                       "the one before",
                                       t->sli, t->thresholds[k]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->thresholds[j].sli, t->sli) == 0)
                return slic_errmsg_set(err, SLIC_ECONFIG, "SLI %s: thresholds given twice", t->sli);
    }
    return 0;
}

int agent__window_options_check(const struct agent_window_options *o, struct slic_errmsg *err)
{
    if (o->window_seconds == 0 || o->window_seconds % 10 ||
        o->window_seconds > AGENT_WINDOW_SECONDS_MAX)
        return slic_errmsg_set(err, SLIC_ECONFIG, "window: %u s; expected a multiple of 10 <= %u",
                               o->window_seconds, AGENT_WINDOW_SECONDS_MAX);
    if ((uint64_t)o->grace_ms >= (uint64_t)o->window_seconds * 1000)
        return slic_errmsg_set(err, SLIC_ECONFIG, "grace: %u ms; expected less than the window",
                               o->grace_ms);
    if (o->max_labelsets_per_sli == 0 || o->max_slis == 0 || o->max_slis > SLIS_LIMIT ||
        o->max_series < 2 || o->max_series > SLIC_BATCH_SERIES_MAX)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "caps: label sets %u, SLIs %u, series %u; "
                               "expected >= 1, [1, %u], [2, %d]",
                               o->max_labelsets_per_sli, o->max_slis, o->max_series, SLIS_LIMIT,
                               SLIC_BATCH_SERIES_MAX);
    if (!(o->sketch_alpha >= SLIC_SKETCH_MIN_ALPHA && o->sketch_alpha <= SLIC_SKETCH_MAX_ALPHA) ||
        o->sketch_max_buckets < 16 || o->sketch_max_buckets > SLIC_SKETCH_MAX_BUCKETS_LIMIT)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "sketch: alpha %g, max buckets %u; expected "
                               "[%g, %g], [16, %u]",
                               o->sketch_alpha, o->sketch_max_buckets, SLIC_SKETCH_MIN_ALPHA,
                               SLIC_SKETCH_MAX_ALPHA, SLIC_SKETCH_MAX_BUCKETS_LIMIT);
    int rc = check_label_keys(o, err);
    return rc ? rc : check_thresholds(o, err);
}
