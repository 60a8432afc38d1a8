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

#include <stddef.h>

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

#endif
