/* /api/v1/slos[/NAME][?site=S]: the SLO engine's latest snapshot as JSON, built as the Reply
 * `slic slo` gets (slo_engine_reply.c) and rendered by the renderer `slic slo --json` uses
 * (reply_json_slo.c), so the API and the CLI print the same bytes. */
#include "slo_engine_int.h"

#include "reply_json.h"

#include <assert.h>

/* {"error": "..."} and a newline, as the HTTP side writes its own errors. */
static int error_object(struct agg__buf *out, const char *msg)
{
    struct agg__jw w = {.out = out};
    agg__jw_open(&w, NULL, "{");
    agg__jw_str(&w, "error", msg);
    agg__jw_close(&w, "}");
    return agg__jw_end(&w);
}

int agg_slo_engine_json(agg_slo_engine *e, const char *name, const char *site, struct agg__buf *out,
                        int *status)
{
    Slic__Reply *r = NULL;
    int rc = agg_slo_engine_reply(e, name, site, &r);
    if (rc)
        return rc;
    bool with_sites = site == NULL;
    if (r->status != SLIC__REPLY__STATUS__OK) {
        /* The engine refuses only what it cannot find; the HTTP side checked the names. */
        *status = r->status == SLIC__REPLY__STATUS__NOT_FOUND ? 404 : 400;
        rc = error_object(out, r->error);
    } else if (name) {
        assert(r->n_slos == 1);
        *status = 200;
        rc = agg_reply_json_slo(out, r->slos[0], with_sites);
    } else {
        *status = 200;
        rc = agg_reply_json_slos(out, r->slos, r->n_slos, with_sites);
    }
    agg_slo_engine_reply_free(r);
    return rc;
}
