/* Internals shared by the window's files: window.c (open windows, recording, closing and the
 * lifecycle), window_thr.c (the immutable, reference-counted threshold tables) and window_opts.c
 * (option defaults and their checks). Not for use outside them. */
#ifndef SLIC_AGENT_WINDOW_INT_H
#define SLIC_AGENT_WINDOW_INT_H

#include "window.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT__WINDOW_THR_MAX SLIC_SERIES_THRESHOLDS_MAX

struct agent__window_thr_entry {
    char *sli;
    size_t len;
    size_t order; /* position in the input, so that configured entries fold first */
    uint32_t n;
    double t[AGENT__WINDOW_THR_MAX]; /* ascending */
};

/* An immutable threshold set, shared by the windows opened while it was the current one. */
struct agent__window_thr_table {
    uint32_t refs;
    size_t n;
    struct agent__window_thr_entry *e; /* sorted by name */
};

/* A copy of the n bytes at s with a NUL after them; NULL when out of memory. */
char *agent__window_dup_n(const char *s, size_t n);

/* Drops a reference to t and frees it with the last one; t may be NULL. */
void agent__window_thr_release(struct agent__window_thr_table *t);

/* The entry of SLI name (len bytes) in t, or NULL. */
const struct agent__window_thr_entry *
agent__window_thr_find(const struct agent__window_thr_table *t, const char *name, size_t len);

/* Whether x may be a threshold: finite and >= 0. */
bool agent__window_threshold_ok(double x);

/* Builds a table (one reference) of base's entries, which may be NULL, united with list's. Invalid
 * list entries are skipped and added to *ignored, thresholds beyond the per-SLI cap to *dropped.
 * 0, or SLIC_ENOMEM with *out untouched. */
int agent__window_thr_build(const struct agent__window_thr_table *base,
                            const struct slic_sli_thresholds *list, size_t n,
                            struct agent__window_thr_table **out, size_t *ignored, size_t *dropped);

/* Checks options against window.h's contract: 0, or SLIC_ECONFIG with a message in err. */
int agent__window_options_check(const struct agent_window_options *o, struct slic_errmsg *err);

#endif
