/* Starting the forwarder from slic-aggregator's configuration (forward.h), so main only calls
 * one function: the store learns its upstream id and queue bound before the writer starts, the
 * batch-signing key is read, and the thread starts. */
#include "forward.h"

#include "log.h"

int agg_forward_start_from_config(const struct agg_config *c, agg_store *st, agg_forward **out,
                                  struct slic_errmsg *err)
{
    *out = NULL;
    if (!c->upstream_url)
        return 0;
    struct agg_forward_options o = {
        .url = c->upstream_url,
        .id = c->upstream_id,
        .ack_timeout_ms = (uint32_t)(c->upstream_ack_timeout * 1000),
        .backoff_max_ms = (uint32_t)(c->upstream_backoff_max * 1000),
    };
    int rc = agg_store_forward_enable(st, c->upstream_id, c->upstream_max_queue, err);
    if (rc == 0 && c->upstream_key_file) {
        o.sign = true;
        rc = slic_agent_key_file_read(c->upstream_key_file, "upstream.auth.key_file", o.key, err);
    }
    if (rc == 0 && !o.sign)
        SLIC_WARN("forward",
                  "no upstream.auth.key_file: batches forwarded to %s are unsigned, "
                  "which an upstream that requires signed batches refuses",
                  c->upstream_url);
    if (rc == 0)
        rc = agg_forward_create(st, &o, out, err);
    slic_wipe(o.key, sizeof o.key);
    return rc;
}
