/* Access-log lines into events: web servers already log every request with its status and
 * duration, so an SLI can come from the log the server writes anyway. Two formats:
 *
 * COMBINED: nginx/Apache "combined" plus extra fields, one of which holds the latency:
 *     nginx:  log_format slic '$remote_addr - $remote_user [$time_local] "$request" $status '
 *                             '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time';
 *             ($request_time: seconds with millisecond resolution: unit S)
 *     Apache: LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" %D" slic
 *             (%D: microseconds: unit US)
 *   Fields are separated by spaces; [time] is bracketed; request, referer and user agent are
 *   quoted, with backslash escapes (Apache writes \" and \\, nginx \x22: both read fine). A quote
 *   ends a quoted field only when a space or the end of the line follows it, so a logger that
 *   leaves quotes inside a user agent unescaped still parses. latency_field picks the field:
 *   n >= 0 is the n-th field after the user agent (0: the first), n < 0 counts from the end of
 *   the line (-1: the last) and is the default, because it stays right even when a stray quote
 *   misleads the quoted-field scan. The time field is not read: events count when read.
 *
 * JSON: one flat JSON object per line (nginx `escape=json`, most JSON loggers), with configured
 *   keys for latency, status, path and method. Latency and status may be numbers or strings
 *   holding numbers ("0.123" is what nginx writes for "$request_time"). Other members may hold
 *   anything, nested objects and arrays included (validated and skipped, up to
 *   SLIC_ACCESSLOG_JSON_DEPTH deep). A key given twice: the last one counts, as in most JSON
 *   parsers. Bytes >= 0x80 in strings are not checked for UTF-8 validity.
 *
 * Both: the latency is plain decimal (see slic_lineproto_decimal) in the configured unit, from 0
 * to one day. Status is an integer 0..999; the event is bad when status >= status_bad_min (500
 * by default; 0 turns the rule off, and so does a JSON format with no status key). The path is
 * the request target up to any '?'. With label_route the path becomes a "route" label, and with
 * label_method the method a "method" label (one of the nine RFC 9110 methods, else "_OTHER",
 * so garbage requests cannot invent label values). Paths are unbounded in number: the caller
 * must map or cap them before they become series.
 *
 * Nothing here allocates or keeps state: one opts struct may serve many threads, each with its
 * own record. */
#ifndef SLIC_ACCESSLOG_H
#define SLIC_ACCESSLOG_H

#include "err.h"
#include "event.h"

#include <stdbool.h>
#include <stddef.h>

/* Longest line, in bytes, without its "\n" or "\r\n". Request lines alone may reach 8 KiB
 * (nginx's large_client_header_buffers), with referer and user agent on top. */
#define SLIC_ACCESSLOG_LINE_MAX 16384
/* Longest JSON path (after unescaping) a record can hold; longer ones are reported absent. */
#define SLIC_ACCESSLOG_PATH_MAX 2048
/* Longest JSON method (after unescaping) a record can hold; no real method comes close. */
#define SLIC_ACCESSLOG_METHOD_MAX 32
/* Longest configured JSON key, in bytes. */
#define SLIC_ACCESSLOG_KEY_MAX 64
/* Deepest nesting of JSON objects and arrays, the line's own object included. */
#define SLIC_ACCESSLOG_JSON_DEPTH 32
/* Largest |latency_field|. */
#define SLIC_ACCESSLOG_FIELD_MAX 64
#define SLIC_ACCESSLOG_STATUS_BAD_MIN 500

/* X(enum suffix, name for logs and metrics labels). */
#define SLIC_ACCESSLOG_REASON_TABLE(X)                                                             \
    X(OK, "ok")                                                                                    \
    X(E_EMPTY, "empty")                 /* nothing but an optional "\r" */                         \
    X(E_TOO_LONG, "too_long")           /* over SLIC_ACCESSLOG_LINE_MAX */                         \
    X(E_SYNTAX, "syntax")               /* not the configured format */                            \
    X(E_NO_LATENCY, "no_latency")       /* latency field or key absent */                          \
    X(E_BAD_LATENCY, "bad_latency")     /* not plain decimal ("-", negative, ...) */               \
    X(E_TOO_LARGE, "latency_too_large") /* over one day */                                         \
    X(E_NO_STATUS, "no_status")         /* JSON: status key absent */                              \
    X(E_BAD_STATUS, "bad_status")       /* not an integer 0..999 */

enum slic_accesslog_reason {
#define SLIC_ACCESSLOG_REASON_ENUM(suffix, name) SLIC_ACCESSLOG_##suffix,
    SLIC_ACCESSLOG_REASON_TABLE(SLIC_ACCESSLOG_REASON_ENUM)
#undef SLIC_ACCESSLOG_REASON_ENUM
        SLIC_ACCESSLOG_REASON_COUNT
};

/* The reason's name ("bad_latency"); "unknown" outside the enum. Never NULL; static. */
const char *slic_accesslog_reason_name(enum slic_accesslog_reason r);

enum slic_accesslog_format {
    SLIC_ACCESSLOG_COMBINED = 1,
    SLIC_ACCESSLOG_JSON = 2,
};

enum slic_accesslog_unit {
    SLIC_ACCESSLOG_S = 1,  /* nginx $request_time, Apache %T */
    SLIC_ACCESSLOG_MS = 2, /* Apache %{ms}T */
    SLIC_ACCESSLOG_US = 3, /* Apache %D */
};

/* Strings are borrowed and must outlive every parse call. */
struct slic_accesslog_opts {
    enum slic_accesslog_format format;
    const char *sli; /* the events' name; satisfies slic_name_valid */
    enum slic_accesslog_unit unit;
    unsigned status_bad_min; /* bad when status >= this; 0: off */
    bool label_route;
    bool label_method;
    /* COMBINED only. */
    int latency_field;
    /* JSON only: member names. latency_key is required; the others may be NULL (absent). */
    const char *latency_key;
    const char *status_key;
    const char *path_key;
    const char *method_key;
};

/* Defaults for `format`: unit S, status_bad_min 500, no labels; COMBINED reads the last field;
 * JSON reads keys "request_time" and "status" (nginx's variable names), no path or method. */
void slic_accesslog_opts_init(struct slic_accesslog_opts *o, enum slic_accesslog_format format,
                              const char *sli);

/* 0 when usable; SLIC_ECONFIG with a message naming the field otherwise. The parser assumes
 * checked options. */
int slic_accesslog_opts_check(const struct slic_accesslog_opts *o, struct slic_errmsg *err);

/* One parsed line. Its strings point into the line, into the record's own scratch storage, or
 * to static strings (the event's name is opts->sli): valid while the line and the options live
 * and until the record is reused. Do not copy the struct itself: views into scratch_ would
 * still point at the original. */
struct slic_accesslog_record {
    struct slic_event event;
    unsigned status;    /* 0..999; 0 also when the format has no status */
    const char *method; /* as logged (not the label's canonical form); "" when absent */
    size_t method_len;
    const char *path; /* request target without the query; "" when absent */
    size_t path_len;
    /* Route labels asked for but left out: the path is absent, or not a valid label value
     * (non-ASCII, control characters, over SLIC_LABEL_VALUE_MAX bytes). */
    unsigned labels_dropped;
    char scratch_[SLIC_ACCESSLOG_PATH_MAX +
                  SLIC_ACCESSLOG_METHOD_MAX]; /* private: unescaped JSON strings */
};

/* Parses one line (without '\n'; one trailing '\r' is ignored). Returns OK and fills *rec, or
 * the reason the line was refused, leaving *rec untouched. */
enum slic_accesslog_reason slic_accesslog_parse(const struct slic_accesslog_opts *o,
                                                const char *line, size_t len,
                                                struct slic_accesslog_record *rec);

#endif
