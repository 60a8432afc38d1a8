/* The aggregator's HTTP side (libmicrohttpd): /healthz, /metrics in the Prometheus text format
 * 0.0.4, a read-only JSON API (/api/v1/query answers exactly what `slic query --json` prints;
 * /api/v1/slos and /api/v1/slos/NAME/burndown come from hooks the SLO engine provides), and the
 * dashboard page (/ and /dashboard), which draws from that API. Only GET and HEAD are served, on a
 * numeric address that is loopback unless the operator says otherwise: nothing here
 * authenticates, so exposing it is a deliberate act. Requests run on a small pool of threads,
 * concurrently with the writer and the nng server; every handler is read-only. */
#ifndef SLIC_AGG_HTTP_H
#define SLIC_AGG_HTTP_H

#include "batch.h"
#include "err.h"
#include "record.h"
#include "stats.h"
#include "store.h"
#include "writer.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct agg_http agg_http;
struct agg_forward;

#define AGG_HTTP_DEFAULT_LISTEN "127.0.0.1:7711"
/* "[" + 39-character IPv6 text + "]:65535" */
#define AGG_HTTP_ADDR_TEXT_MAX 48

/* A listening address: a numeric IPv4 address or a bracketed IPv6 one, and a port. */
struct agg_http_addr {
    struct sockaddr_storage sa;
    socklen_t sa_len;
    uint16_t port;
    char text[AGG_HTTP_ADDR_TEXT_MAX]; /* normalised, e.g. "127.0.0.1:7711", "[::1]:7711" */
};

/* Parses "127.0.0.1:7711" or "[::1]:7711". Host names are refused, so an address never depends
 * on DNS at start-up; port 0 asks the kernel for a free one. Returns 0, or SLIC_ECONFIG with err
 * (NULL allowed) quoting the text and saying what was expected. *out only on success. */
int agg_http_addr_parse(const char *text, struct agg_http_addr *out, struct slic_errmsg *err);

struct agg_http_options {
    const char *listen;       /* HOST:PORT, see agg_http_addr_parse */
    unsigned threads;         /* request threads; a slow query blocks only its own */
    unsigned max_connections; /* connections beyond it are closed at once */
    unsigned timeout_seconds; /* an idle or stalled connection is closed after it */
    /* The forwarder to a global aggregator, whose families /metrics adds; NULL: none. It must
     * outlive the server. */
    struct agg_forward *forward;
};

void agg_http_options_default(struct agg_http_options *o);

/* What the SLO engine adds. Hooks run on request threads, possibly several at once, so they
 * must be thread-safe; they append to `out` (grown with agg__buf_append/agg__buf_printf from
 * reply_json.h) and return 0, or a negative code, after which whatever they appended is
 * discarded. A NULL hook means "no SLOs": /api/v1/slos answers [] and /api/v1/slos/NAME 404. */
struct agg_http_hooks {
    /* Appends complete metric families (see agg_http_prom_family/_sample) to /metrics. */
    int (*metrics)(void *ctx, struct agg__buf *out);
    /* Appends the JSON of one SLO (name) or an array of all (name NULL), of one site or of all
     * (site NULL), and sets *status (200 when left alone; 404 for an unknown name). */
    int (*slos_json)(void *ctx, const char *name, const char *site, struct agg__buf *out,
                     int *status);
    /* Appends the JSON of /api/v1/slos/NAME/burndown: the burn-down series of one SLO in one
     * scope (site "*": across sites) with at most `points` points (already checked to be in
     * AGG_SLO_BURNDOWN_POINTS_MIN..MAX, slo_burndown.h), and sets *status as slos_json does.
     * NULL: every NAME is 404. */
    int (*slo_burndown)(void *ctx, const char *name, const char *site, unsigned points,
                        struct agg__buf *out, int *status);
    void *ctx;
};

/* Binds the address and starts serving. store, writer and stats must outlive the server (the
 * writer only until agg_http_drain); hooks may be NULL and are copied. Returns 0; SLIC_ECONFIG
 * when the address is invalid or cannot be listened on (err names the address and the reason);
 * SLIC_ENOMEM; or -errno. Logs "HTTP API and /metrics on http://ADDR" once serving. */
int agg_http_create(const struct agg_http_options *opts, agg_store *store, agg_writer *writer,
                    struct agg_stats *stats, const struct agg_http_hooks *hooks, agg_http **out,
                    struct slic_errmsg *err);

/* The aggregator is stopping: /healthz answers 503 from now on, and the server lets go of the
 * writer (waiting for any request using it), so the writer may be destroyed while /healthz and
 * the API keep answering. Thread-safe; NULL allowed. */
void agg_http_drain(agg_http *h);

/* The port actually bound (useful when asked for port 0). */
uint16_t agg_http_port(const agg_http *h);

/* Stops the daemon (waiting for requests in progress) and frees. NULL allowed. */
void agg_http_destroy(agg_http *h);

/* ---- Prometheus text format 0.0.4, for /metrics and its hook ---- */

/* Appends "# HELP name help" and "# TYPE name type". type is "counter", "gauge" or "untyped";
 * a counter's name must end in _total. help is escaped (\\ and \n). Returns 0, SLIC_EINVAL for
 * a name that is not [a-zA-Z_:][a-zA-Z0-9_:]* or a bad type, or SLIC_ENOMEM. */
int agg_http_prom_family(struct agg__buf *out, const char *name, const char *type,
                         const char *help);

/* Appends one sample line: name{k="v",...} value. Label names must be [a-zA-Z_][a-zA-Z0-9_]*
 * and not start with "__"; values are escaped (\\, \" and \n) with invalid UTF-8 replaced by
 * U+FFFD. Doubles print as the shortest text that reads back exactly, NaN as NaN and infinities
 * as +Inf/-Inf; the _u64 form prints integers exactly beyond 2^53. 0, SLIC_EINVAL or
 * SLIC_ENOMEM. */
int agg_http_prom_sample(struct agg__buf *out, const char *name, const struct slic_label *labels,
                         size_t n_labels, double value);
int agg_http_prom_sample_u64(struct agg__buf *out, const char *name,
                             const struct slic_label *labels, size_t n_labels, uint64_t value);

#endif
