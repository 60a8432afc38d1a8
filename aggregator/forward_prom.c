/* The forwarder's /metrics families (forward.h), in the aggregator's Prometheus text format
 * (http.h). Kept beside the forwarder so /metrics only has to call one function. */
#include "forward.h"

#include "http.h"
#include "log.h"
#include "timeutil.h"

static int put(struct agg__buf *out, const char *name, const char *type, const char *help,
               uint64_t v)
{
    int rc = agg_http_prom_family(out, name, type, help);
    return rc ? rc : agg_http_prom_sample_u64(out, name, NULL, 0, v);
}

int agg_forward_metrics(agg_forward *f, struct agg__buf *out)
{
    if (!f)
        return 0;
    struct agg_forward_stats fs;
    struct agg_store_forward_stats qs;
    struct slic_errmsg err = {{0}};
    agg_forward_stats_get(f, &fs);
    int rc = agg_store_forward_stats_get(agg__forward_store(f), &qs, &err);
    if (rc) {
        SLIC_WARN("forward", "forward queue metrics unavailable: %s", err.text);
        return 0; /* the other families are still worth serving */
    }
    int64_t now = slic_now_unix_ms();
    double age = qs.oldest_queued_ms && now > qs.oldest_queued_ms
                     ? (double)(now - qs.oldest_queued_ms) / 1000.0
                     : 0;
    const char *g = "gauge", *c = "counter";
    if ((rc = put(out, "slic_aggregator_forward_queue_batches", g,
                  "Batches queued for the upstream aggregator.", qs.queued)) ||
        (rc = put(out, "slic_aggregator_forward_queue_bytes", g,
                  "Bytes of the batches queued for the upstream aggregator.", qs.queued_bytes)) ||
        (rc = agg_http_prom_family(out, "slic_aggregator_forward_oldest_queued_seconds", g,
                                   "Age of the oldest batch queued for the upstream, 0 when "
                                   "none.")) ||
        (rc = agg_http_prom_sample(out, "slic_aggregator_forward_oldest_queued_seconds", NULL, 0,
                                   age)) ||
        (rc = put(out, "slic_aggregator_forward_batches_total", c,
                  "Batches the upstream acknowledged (accepted or duplicate).", fs.forwarded)) ||
        (rc = put(out, "slic_aggregator_forward_duplicates_total", c,
                  "Forwarded batches the upstream answered as duplicates.", fs.duplicates)) ||
        (rc =
             put(out, "slic_aggregator_forward_retries_total", c,
                 "Failed forward attempts: retry answers, timeouts, no connection.", fs.retries)) ||
        (rc = put(out, "slic_aggregator_forward_signature_refusals_total", c,
                  "Forward attempts the upstream refused for their signature.",
                  fs.signature_refusals)) ||
        (rc = put(out, "slic_aggregator_forward_set_aside_batches", g,
                  "Batches the upstream rejected, kept aside in the data dir.", qs.set_aside)) ||
        (rc = put(out, "slic_aggregator_forward_merged_total", c,
                  "Queued batches merged into others to keep the queue under "
                  "upstream.max_queue (nothing lost).",
                  qs.merged)) ||
        (rc = put(out, "slic_aggregator_forward_dropped_total", c,
                  "Queued batches emptied to keep the queue under upstream.max_queue.",
                  qs.dropped)) ||
        (rc = put(out, "slic_aggregator_forward_upstream_up", g,
                  "1 when the last attempt reached the upstream aggregator.", fs.reachable)))
        return rc;
    return 0;
}
