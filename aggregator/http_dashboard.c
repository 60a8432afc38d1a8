/* The dashboard: one self-contained page (aggregator/dashboard.html, embedded at build time)
 * whose script draws the SLO table and burn-down charts from /api/v1/slos and
 * /api/v1/slos/NAME/burndown. Operators run aggregators on isolated networks, so the page loads
 * nothing from anywhere else, and its Content-Security-Policy says so: only its own inline
 * script and style run, and it may fetch only from the aggregator that served it. The script
 * puts every string from the API into the page as text, never as markup. */
#include "http_int.h"

#include "reply_json.h"

#define HTML_TYPE "text/html; charset=utf-8"

/* Inline script and style are the page's own; everything else is refused: no other origin, no
 * plugins, no forms, no framing (clickjacking), no <base> rewriting relative URLs. The data:
 * image is the empty favicon the page declares, so browsers do not ask for /favicon.ico. */
#define DASHBOARD_CSP                                                                              \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "                  \
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "                     \
    "frame-ancestors 'none'"

int agg__http_dashboard(struct agg__http_reply *r)
{
    r->status = MHD_HTTP_OK;
    r->content_type = HTML_TYPE;
    /* The page changes only with the binary, but a browser should still check after an
     * upgrade: it may revalidate, never use a stale copy unasked. */
    r->cache_control = "no-cache";
    r->csp = DASHBOARD_CSP;
    r->body.len = 0;
    return agg__buf_append(&r->body, agg__dashboard_html, agg__dashboard_html_len);
}
