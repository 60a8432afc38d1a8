/* Internals shared by the HTTP side's files: http.c (daemon, routing, /healthz), http_api.c
 * (/api/v1/...), http_prom.c (/metrics and the exposition format) and http_dashboard.c (the
 * dashboard page). Handlers fill a struct agg__http_reply; http.c turns it into a
 * libmicrohttpd response. */
#ifndef SLIC_AGG_HTTP_INT_H
#define SLIC_AGG_HTTP_INT_H

#include "http.h"
#include "ratelimit.h"

#include <microhttpd.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* What /metrics counts requests by: a fixed set, so the label values stay few. */
enum agg__http_route {
    AGG__HTTP_ROUTE_HEALTHZ,
    AGG__HTTP_ROUTE_METRICS,
    AGG__HTTP_ROUTE_QUERY,
    AGG__HTTP_ROUTE_SLOS,
    AGG__HTTP_ROUTE_BURNDOWN,
    AGG__HTTP_ROUTE_DASHBOARD,
    AGG__HTTP_ROUTE_OTHER,
    AGG__HTTP_ROUTES
};

/* The status codes the server answers with, by index (see agg__http_code_index). */
#define AGG__HTTP_CODES(X) X(200) X(400) X(404) X(405) X(414) X(500) X(503)
#define AGG__HTTP_N_CODES 7

struct agg_http {
    struct MHD_Daemon *daemon;
    agg_store *store;
    struct agg_stats *stats;
    struct agg_http_hooks hooks;
    struct agg_forward *forward; /* NULL: not forwarding */
    struct agg_http_addr addr;   /* as bound: the port is the real one */
    /* agg_http_drain lets go of the writer while requests may be reading its queue depth. */
    pthread_mutex_t writer_mu;
    agg_writer *writer;
    atomic_bool draining;
    _Atomic uint64_t requests[AGG__HTTP_ROUTES][AGG__HTTP_N_CODES];
    _Atomic uint64_t hook_errors;
    /* libmicrohttpd's last message (why starting failed) and the limit on logging them. */
    pthread_mutex_t log_mu;
    atomic_bool started;
    char last_log[256];
    agg_ratelimit *log_limit;
};

struct agg__http_reply {
    unsigned status;
    const char *content_type;
    struct agg__buf body;
    /* Headers beyond the defaults: NULL leaves Cache-Control at "no-store" and sends no
     * Content-Security-Policy. */
    const char *cache_control;
    const char *csp;
};

/* Index of a status code in agg_http.requests, or -1 for one not counted. */
int agg__http_code_index(unsigned status);
/* The route names used as label values, by enum agg__http_route. */
extern const char *const agg__http_route_names[AGG__HTTP_ROUTES];

/* Replaces the body with {"error": message[, "parameter": param]} and sets the status. Returns 0
 * or SLIC_ENOMEM. */
int agg__http_error(struct agg__http_reply *r, unsigned status, const char *param, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

/* GET /metrics. Returns 0 or SLIC_ENOMEM. */
int agg__http_metrics(agg_http *h, struct agg__http_reply *r);

/* GET /api/v1/query with the connection's query arguments. 0 or SLIC_ENOMEM. */
int agg__http_query(agg_http *h, struct MHD_Connection *conn, struct agg__http_reply *r);

/* GET /api/v1/slos (name NULL) or /api/v1/slos/NAME. 0 or SLIC_ENOMEM. */
int agg__http_slos(agg_http *h, struct MHD_Connection *conn, const char *name,
                   struct agg__http_reply *r);

/* GET /api/v1/slos/NAME/burndown[?site=S&points=N]. 0 or SLIC_ENOMEM. */
int agg__http_burndown(agg_http *h, struct MHD_Connection *conn, const char *name,
                       struct agg__http_reply *r);

/* GET / and /dashboard: the page, with its security headers. 0 or SLIC_ENOMEM. */
int agg__http_dashboard(struct agg__http_reply *r);

/* The page: aggregator/dashboard.html, which the Makefile embeds ($(O)/gen/dashboard_html.c). */
extern const unsigned char agg__dashboard_html[];
extern const size_t agg__dashboard_html_len;

#endif
