/* The line protocol: StatsD / DogStatsD timers, so existing clients report events unchanged.
 * One datagram holds lines separated by '\n' ("\r\n" and a trailing newline are fine):
 *
 *     name:value[:value...]|type[|@rate][|#tag,key:value,...][|other fields]
 *
 * - name: up to the first ':', satisfying slic_name_valid (so a name cannot contain ':').
 * - value: latency in milliseconds for every accepted type, plain decimal ("12", "0.5", ".5",
 *   "1e3"), 0 to one day. Several ':'-separated values (DogStatsD 1.1 packing) give one event
 *   each, with the same tags and rate.
 * - type: "ms" (timer), "h" (histogram), "d" (distribution). DogStatsD clients send timings
 *   through histogram() and distribution() in milliseconds too, so all three read alike.
 *   Counters, gauges and sets ("c", "g", "s") and DogStatsD events and service checks ("_e{",
 *   "_sc|") are refused as "not_timer"; any other type as "bad_type".
 * - @rate: sample rate in (0, 1]; the event counts round(1 / rate) times (so rate 0.3 gives 3)
 *   and at most SLIC_LINEPROTO_WEIGHT_MAX times.
 * - #tags: comma-separated "key:value" or bare "key" (value ""). See "tags" below.
 * - Any other field starting with a letter (DogStatsD's "|c:container-id", "|T1700000000",
 *   "|e:...") is skipped, so newer clients keep working; a field that is empty or starts with
 *   anything else makes the line malformed ("bad_field").
 *
 * Tags. A malformed line is rejected whole, but a tag is only decoration: a tag whose key fails
 * slic_label_key_valid (DogStatsD keys often hold '.' or '-'), whose value fails
 * slic_label_value_valid, that repeats an earlier key (outcome, status and code included), or that
 * finds SLIC_EVENT_LABELS_MAX labels already kept, is dropped and counted (tags_dropped) while the
 * event is kept: losing a measurement over a label would bias the SLI. Every tag of the line is
 * scanned, however many.
 *
 * Outcome. "outcome:good" / "outcome:bad" decides; any other outcome value rejects the line
 * ("bad_outcome"). Otherwise, when the status rule is on (status_bad_min > 0), the first
 * "status:" tag, or failing that the first "code:" tag, must be a decimal integer of up to 9
 * digits (else "bad_status") and the event is bad when it is >= status_bad_min. Otherwise the event
 * is good. The outcome tag, and with the rule on the status and code tags, are not labels: the
 * outcome is already in `good`, and status codes as labels would multiply series for no SLO
 * purpose.
 *
 * Nothing here allocates, keeps state between calls or touches globals: one opts struct may
 * serve many threads. Numbers an exact fast path cannot read go to strtod, in the C locale (slic
 * never calls setlocale). */
#ifndef SLIC_LINEPROTO_H
#define SLIC_LINEPROTO_H

#include "err.h"
#include "event.h"

#include <stddef.h>
#include <stdint.h>

/* Longest line, in bytes, without its "\n" or "\r\n". */
#define SLIC_LINEPROTO_LINE_MAX 8192
/* Longest number (value or rate), in bytes. */
#define SLIC_LINEPROTO_NUMBER_MAX 64
/* Largest weight, so rates below 1e-9 are refused and counts never approach overflow. */
#define SLIC_LINEPROTO_WEIGHT_MAX UINT64_C(1000000000)
/* Default for status_bad_min: 5xx is bad. */
#define SLIC_LINEPROTO_STATUS_BAD_MIN 500

/* X(enum suffix, name for logs and metrics labels). */
#define SLIC_LINEPROTO_REASON_TABLE(X)                                                             \
    X(OK, "ok")                                                                                    \
    X(E_EMPTY, "empty")                 /* empty line, or a datagram with no line */               \
    X(E_TOO_LONG, "too_long")           /* over SLIC_LINEPROTO_LINE_MAX */                         \
    X(E_NO_COLON, "no_colon")           /* no ':' before the first '|' */                          \
    X(E_BAD_NAME, "bad_name")           /* fails slic_name_valid */                                \
    X(E_BAD_VALUE, "bad_value")         /* empty, negative, not plain decimal */                   \
    X(E_TOO_LARGE, "latency_too_large") /* over one day */                                         \
    X(E_BAD_TYPE, "bad_type")           /* missing or unknown type */                              \
    X(E_NOT_TIMER, "not_timer")         /* counter, gauge, set, event, service check */            \
    X(E_BAD_RATE, "bad_rate")           /* not in (0, 1], too small, or given twice */             \
    X(E_BAD_FIELD, "bad_field")         /* empty field, or one starting with a non-letter */       \
    X(E_BAD_TAGS, "bad_tags")           /* a second |# field */                                    \
    X(E_BAD_OUTCOME, "bad_outcome")     /* outcome tag neither good nor bad */                     \
    X(E_BAD_STATUS, "bad_status")       /* deciding status/code tag not an integer */

enum slic_lineproto_reason {
#define SLIC_LINEPROTO_REASON_ENUM(suffix, name) SLIC_LINEPROTO_##suffix,
    SLIC_LINEPROTO_REASON_TABLE(SLIC_LINEPROTO_REASON_ENUM)
#undef SLIC_LINEPROTO_REASON_ENUM
        SLIC_LINEPROTO_REASON_COUNT
};

/* The reason's name ("bad_rate"), for logs and metrics labels; "unknown" for values outside
 * the enum. Never NULL; static. */
const char *slic_lineproto_reason_name(enum slic_lineproto_reason r);

struct slic_lineproto_opts {
    /* Status rule: a status/code tag >= this is bad. 0 turns the rule off, and status and
     * code tags are then ordinary labels. */
    unsigned status_bad_min;
};

/* Defaults: status_bad_min = SLIC_LINEPROTO_STATUS_BAD_MIN. */
void slic_lineproto_opts_init(struct slic_lineproto_opts *o);

/* 0 when usable; SLIC_ECONFIG with a message naming the field otherwise (status_bad_min must
 * be 0..999). The parse functions assume checked options. */
int slic_lineproto_opts_check(const struct slic_lineproto_opts *o, struct slic_errmsg *err);

/* Counts since the caller zeroed the struct; the parse functions only add. */
struct slic_lineproto_counters {
    uint64_t datagrams;    /* slic_lineproto_parse calls */
    uint64_t lines;        /* lines parsed, blank lines between others excluded */
    uint64_t events;       /* on_event calls (a packed line makes several) */
    uint64_t tags_dropped; /* tags dropped from accepted lines (see "Tags" above) */
    uint64_t rejected[SLIC_LINEPROTO_REASON_COUNT]; /* malformed lines by reason; [OK] stays 0 */
};

/* Called once per event. `ev` and its strings live only for the duration of the call. */
typedef void slic_lineproto_event_fn(void *ctx, const struct slic_event *ev);
/* Called once per malformed line (r != OK) with the line, "\r" stripped, for sampled logging. */
typedef void slic_lineproto_reject_fn(void *ctx, enum slic_lineproto_reason r, const char *line,
                                      size_t len);

struct slic_lineproto_sink {
    slic_lineproto_event_fn *on_event;   /* required */
    slic_lineproto_reject_fn *on_reject; /* may be NULL */
    void *ctx;
};

/* Parses one datagram of `len` bytes (NUL bytes are ordinary, invalid, characters). Blank lines
 * are skipped; a datagram with no other line counts once as E_EMPTY. Every line is reported
 * through the sink and counted in `c`; a malformed line never affects the others. */
void slic_lineproto_parse(const struct slic_lineproto_opts *o, const char *buf, size_t len,
                          const struct slic_lineproto_sink *sink,
                          struct slic_lineproto_counters *c);

/* Parses one line (without '\n'; one trailing '\r' is ignored), delivers its events or its
 * rejection through the sink, counts it in `c`, and returns OK or the reason. An empty line is
 * E_EMPTY. On rejection no event is delivered, even for a packed line whose first values were
 * fine. */
enum slic_lineproto_reason slic_lineproto_parse_line(const struct slic_lineproto_opts *o,
                                                     const char *line, size_t len,
                                                     const struct slic_lineproto_sink *sink,
                                                     struct slic_lineproto_counters *c);

/* Reads `n` bytes of plain decimal: digits with an optional '.' and fraction (at least one digit
 * in all), then an optional exponent (e/E, optional sign, digits). No sign, spaces, hex, "inf" or
 * "nan". Shared with the access-log parser so both read numbers alike.
 * Returns 0 and writes *out; SLIC_EINVAL for anything else or more than
 * SLIC_LINEPROTO_NUMBER_MAX bytes; SLIC_ERANGE when the value overflows a double. */
int slic_lineproto_decimal(const char *s, size_t n, double *out);

#endif
