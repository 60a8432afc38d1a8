/* One measured user-visible event, as the agent's parsers hand it to the windowing code: an SLI
 * name, a latency, an outcome, a weight and a few labels. It is a view: every string points into
 * the buffer that was parsed (or into storage the parser names), is NOT NUL-terminated, and is
 * valid only as long as that buffer. A consumer that keeps anything must copy it. */
#ifndef SLIC_EVENT_H
#define SLIC_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Labels an event can carry out of its parser. More than a series may keep
 * (SLIC_SERIES_LABELS_MAX): the agent filters and maps them to its configured label set. */
#define SLIC_EVENT_LABELS_MAX 16

/* The longest latency any parser accepts: one day, in seconds. Longer "requests" are clock
 * errors or unit mistakes, and would stretch every sketch's range for nothing. */
#define SLIC_EVENT_LATENCY_MAX 86400.0

struct slic_event_label {
    const char *key; /* satisfies slic_label_key_valid */
    size_t key_len;
    const char *value; /* satisfies slic_label_value_valid; may be empty */
    size_t value_len;
};

struct slic_event {
    const char *name; /* satisfies slic_name_valid */
    size_t name_len;
    double latency;  /* seconds: finite, 0 <= latency <= SLIC_EVENT_LATENCY_MAX */
    uint64_t weight; /* how many events this one stands for (sampling): >= 1 */
    bool good;
    /* Keys unique, in the order they appeared; not sorted. */
    size_t n_labels;
    struct slic_event_label labels[SLIC_EVENT_LABELS_MAX];
};

#endif
