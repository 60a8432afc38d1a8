/* JSON rendering of query replies: the one form `slic query --json` prints and the HTTP API
 * serves, so both give the same bytes for the same Reply. A Reply may come from the network (in
 * slic), so any field may be absent and any string may hold any byte: absent values are null,
 * strings are escaped, invalid UTF-8 becomes U+FFFD, and numbers are the shortest text that
 * reads back as the same double. Output is appended to a growable buffer; nothing here does I/O,
 * and every function may run on any thread (no shared state). */
#ifndef SLIC_AGG_REPLY_JSON_H
#define SLIC_AGG_REPLY_JSON_H

#include "batch.h"
#include "record.h"
#include "slic.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the operator asked for, echoed beside the result (the reply names only the SLI). Strings
 * are borrowed; NULL site or node: not asked. */
struct agg_reply_scope {
    const char *site;
    const char *node;
    const struct slic_label *labels;
    size_t n_labels;
};

/* Appending to a struct agg__buf (record.h), keeping its contents and a NUL after the last byte
 * so the text can be used as a C string. Each returns 0 or SLIC_ENOMEM (the buffer is then
 * unchanged). A zeroed buffer is a valid empty one; free it with agg__buf_fini. */
int agg__buf_append(struct agg__buf *b, const void *data, size_t n);
int agg__buf_puts(struct agg__buf *b, const char *s);
int agg__buf_printf(struct agg__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 where the bytes are not one:
 * overlong forms, surrogates, code points past U+10FFFF and truncated sequences (the string's
 * terminating NUL included) all give 0. */
size_t agg__utf8_len(const unsigned char *s);

/* Appends s as a quoted JSON string: '"' and '\\' escaped, control characters as \n, \t or
 * \u00XX, invalid UTF-8 as \ufffd. 0 or SLIC_ENOMEM. */
int agg_json_string(struct agg__buf *out, const char *s);

/* A JSON writer appending to a buffer: it puts the commas between values and keeps the first
 * failure, after which nothing more is written, so rendering code reads as a list of fields and
 * checks once, at the end. Start with {.out = buffer}. Value writers take the key of the value
 * in an object, or NULL for an element of an array. */
struct agg__jw {
    struct agg__buf *out;
    bool comma; /* a value precedes at this level: the next one needs a comma */
    int rc;     /* the first failure; once set, nothing more is written */
};

/* Opens an object or array ("{" or "["); agg__jw_close closes it ("}" or "]"). */
void agg__jw_open(struct agg__jw *w, const char *key, const char *bracket);
void agg__jw_close(struct agg__jw *w, const char *bracket);
/* A value already in JSON form, or null when text is NULL. */
void agg__jw_raw(struct agg__jw *w, const char *key, const char *text);
/* A string (escaped as agg_json_string does), or null when s is NULL. */
void agg__jw_str(struct agg__jw *w, const char *key, const char *s);
/* A number in the shortest text that reads back as the same double; null when !has or when d
 * is NaN or infinite, which JSON cannot carry. */
void agg__jw_num(struct agg__jw *w, const char *key, bool has, double d);
void agg__jw_u64(struct agg__jw *w, const char *key, bool has, uint64_t v);
void agg__jw_bool(struct agg__jw *w, const char *key, bool v);
/* Ends the document with a newline, so `slic ... --json` output and HTTP bodies are lines.
 * Returns the first failure (SLIC_ENOMEM) or 0. */
int agg__jw_end(struct agg__jw *w);

/* One object, then a newline: sli, site, node, labels (from scope), from, to (RFC 3339 and
 * *_unix), resolution_seconds, count, good, good_ratio, sum, min, max, mean (seconds; null when
 * there are no events), quantiles {"Q": seconds}, under_threshold {"SECONDS": {lower, upper,
 * count_lower, count_upper, exact}} when thresholds were asked, and sketch_collapsed.
 * 0 or SLIC_ENOMEM (out then holds a partial object: discard it). */
int agg_reply_json_sli(struct agg__buf *out, const Slic__SliResult *s,
                       const struct agg_reply_scope *scope);

/* An array of {sli, sites, last_data, last_data_unix}, then a newline. */
int agg_reply_json_series(struct agg__buf *out, Slic__SeriesInfo *const *series, size_t n);

/* An array of {agent_id, site, node, epoch, last_seq, last_seen, last_seen_unix}, then a
 * newline. */
int agg_reply_json_agents(struct agg__buf *out, Slic__AgentInfo *const *agents, size_t n);

/* slic slo show and GET /api/v1/slos/NAME: one SLO object, then a newline. Its definition (name,
 * display_name, description, service, sli, labels, site_patterns, indicator, op,
 * threshold_seconds, target, budgeting, timeslice_target, timeslice_window_seconds,
 * min_events, runbook_url, file, line), window {kind, length, time_zone (calendar), from, to,
 * period_start, period_end}, the numbers of slo->scope at the top level (site, evaluated,
 * evaluated_at, error, value, value_upper, exact, events {total, good_lower, good_upper},
 * slices {complete, in_period, empty, bad_lower, bad_upper} (sliced budgeting), error_budget,
 * consumed, consumed_lower, remaining, time_to_exhaustion_seconds, burn_rates {"5m": rate, ...},
 * alerts [{severity, long_window, short_window, burn_rate_threshold, state, since, burn_long,
 * burn_short, firings}]) and, when with_sites, "sites": the same numbers for each site. Times are
 * RFC 3339 and durations like "5m" or "4w". 0 or SLIC_ENOMEM. */
int agg_reply_json_slo(struct agg__buf *out, const Slic__SloInfo *slo, bool with_sites);

/* slic slo list and GET /api/v1/slos: an array of the objects above, then a newline. */
int agg_reply_json_slos(struct agg__buf *out, Slic__SloInfo *const *slos, size_t n,
                        bool with_sites);

#endif
