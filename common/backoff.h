/* Retry delays for anything that resends to a peer that may be down: exponential from a floor
 * to a cap, with jitter so that many senders that lost the same peer at the same moment do not
 * come back in lockstep. No clock and no global state: the caller keeps the generator. */
#ifndef SLIC_BACKOFF_H
#define SLIC_BACKOFF_H

#include <stdint.h>

/* splitmix64 over *state: good enough for jitter, not for anything secret. Seed *state with
 * anything (a clock reading). */
uint64_t slic_jitter_next(uint64_t *state);

/* The wait before retry number `attempts` (1 = the first failure): min_ms doubled per further
 * failure up to max_ms, drawn uniformly from the upper half of that. min_ms <= max_ms. */
uint64_t slic_backoff_ms(uint64_t *state, uint64_t min_ms, uint64_t max_ms, unsigned attempts);

#endif
