/* Printing of the `slic` client's answers: aligned tables for people, JSON for tools. A Reply
 * comes from the network, so any field may be absent and any string may hold any byte: absent
 * values print as "-" (tables) or null (JSON), tables show only printable ASCII (anything else
 * as '?', so a reply cannot drive the terminal), and JSON strings are escaped, with invalid
 * UTF-8 replaced by U+FFFD. */
#ifndef SLIC_AGG_CLI_FORMAT_H
#define SLIC_AGG_CLI_FORMAT_H

#include "batch.h"
#include "slic.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What the operator asked for, echoed beside the result (the reply names only the SLI). */
struct cli_sli_scope {
    const char *site; /* NULL: not asked */
    const char *node;
    const struct slic_label *labels;
    size_t n_labels;
};

/* `slic query`: count, good, good ratio, latency summary, quantiles and threshold fractions.
 * Tables show latencies in ms to 3 significant digits and ratios as percentages with enough
 * decimals to tell 99.9 % from 99.95 %; JSON gives seconds and fractions exactly. */
void cli_print_sli(FILE *out, const Slic__SliResult *s, const struct cli_sli_scope *scope,
                   bool json);

/* `slic series` and `slic agents`; now (Unix seconds) gives the tables' AGE column. JSON is an
 * array of objects. */
void cli_print_series(FILE *out, Slic__SeriesInfo *const *series, size_t n, int64_t now, bool json);
void cli_print_agents(FILE *out, Slic__AgentInfo *const *agents, size_t n, int64_t now, bool json);

/* Writes s for a terminal: printable ASCII as it is, every other byte as '?'. NULL prints
 * nothing. */
void cli_put_sanitized(FILE *out, const char *s);

#endif
