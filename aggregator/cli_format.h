/* Printing of the `slic` client's answers: aligned tables for people, JSON for tools. A Reply
 * comes from the network, so any field may be absent and any string may hold any byte: absent
 * values print as "-" (tables) or null (JSON), tables show only printable ASCII (anything else
 * as '?', so a reply cannot drive the terminal), and JSON strings are escaped, with invalid
 * UTF-8 replaced by U+FFFD. */
#ifndef SLIC_AGG_CLI_FORMAT_H
#define SLIC_AGG_CLI_FORMAT_H

#include "batch.h"
#include "record.h"
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

/* `slic slo list`: a row per SLO (name, SLI, objective, window, events, SLI value, budget
 * left, burn rates over 1 h and 6 h, firing alerts) for its scope; with per_site, a row for each of
 * its sites under it. A SITE column shows the scope when per_site or when the list was asked for
 * one site (site non-NULL). Returns 0, or SLIC_ENOMEM (said on stderr). cli_format_slo.c. */
int cli_print_slo_list(FILE *out, Slic__SloInfo *const *slos, size_t n, const char *site,
                       bool per_site);

/* `slic slo show`: one SLO in full: definition, window, the numbers of its scope (events, SLI
 * value, budget, time to exhaustion, burn rates, alert tiers) and a row per site. now (Unix
 * seconds) gives the age of the evaluation. cli_format_slo.c. */
void cli_print_slo_show(FILE *out, const Slic__SloInfo *slo, int64_t now);

/* ---- the pieces the printers share (cli_format.c) ---- */

/* Exit status of slic. */
enum exit_code { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_NOT_FOUND = 3 };

/* Writes s for a terminal: printable ASCII as it is, every other byte as '?'. NULL prints
 * nothing. */
void cli_put_sanitized(FILE *out, const char *s);

/* Writes what a reply_json.h renderer appended to b, given its return code rc, or says on
 * stderr why nothing could be; frees b's memory. Returns rc. */
int cli_put_json(FILE *out, struct agg__buf *b, int rc);

/* Values as text, "-" when absent or not finite. A fraction as a percentage with at least 3
 * decimals, and more near 100 % (99.950 %, 99.9950 %); a time in RFC 3339; a span of seconds in
 * at most two units ("45s", "4m50s", "3h20m", "12d5h"); how long before now t was. */
void cli_fmt_percent(double frac, char *buf, size_t n);
void cli_fmt_time(bool has, int64_t t, char *buf, size_t n);
void cli_fmt_span(int64_t seconds, char *buf, size_t n);
void cli_fmt_age(bool has, int64_t t, int64_t now, char *buf, size_t n);

/* A table whose cells are produced on demand (twice: once to measure, once to print), so a
 * long list needs no memory beyond one cell. Cells are printed sanitized (cli_put_sanitized),
 * so they may hold strings from the reply as they are; a cell longer than 1023 bytes is cut. */
#define CLI_TABLE_COLS_MAX 12
struct cli_table {
    size_t cols;                /* at most CLI_TABLE_COLS_MAX */
    const char *const *headers; /* NULL: no header row */
    const bool *right;          /* per column: right-aligned (numbers); NULL: all left */
    size_t rows;
    void (*cell)(const void *ctx, size_t row, size_t col, char *buf, size_t size);
    const void *ctx;
};
void cli_table_print(FILE *out, const struct cli_table *t);

/* Rows of up to three cells prepared up front, for short tables (summaries). */
#define CLI_ROWS_MAX 40
#define CLI_ROW_CELL 256
struct cli_rows {
    size_t n;
    char cell[CLI_ROWS_MAX][3][CLI_ROW_CELL];
};
/* The next row, cleared; NULL when the table is full. */
char (*cli_rows_add(struct cli_rows *r))[CLI_ROW_CELL];
/* A summary row: key and a formatted value. */
void cli_kv(struct cli_rows *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cli_rows_print(FILE *out, const struct cli_rows *r, size_t cols, const char *const *headers,
                    const bool *right);

#endif
