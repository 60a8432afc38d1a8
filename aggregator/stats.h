/* The aggregator's own health counters, shared by server, writer and the HTTP /metrics page.
 * Plain atomics: any thread adds, any thread reads, nobody locks. */
#ifndef SLIC_AGG_STATS_H
#define SLIC_AGG_STATS_H

#include <stdatomic.h>
#include <stdint.h>

struct agg_stats {
    _Atomic uint64_t requests;
    _Atomic uint64_t batches_accepted;
    _Atomic uint64_t batches_duplicate;
    _Atomic uint64_t batches_rejected;
    /* Of batches_rejected: refused for their signature before anything else in them was read
     * (Ack cause SIGNATURE; the agent keeps them and resends): unsigned while signatures are
     * required, or signed with something other than the batch's HMAC under the key of the
     * agent_id it claims. */
    _Atomic uint64_t batches_unsigned;
    _Atomic uint64_t batches_forged;
    _Atomic uint64_t batches_retry;
    _Atomic uint64_t series_accepted;
    _Atomic uint64_t queries;
    _Atomic uint64_t queries_failed;
    _Atomic uint64_t decode_errors;
};

#endif
