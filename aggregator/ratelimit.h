/* Keeps a repeated log line from flooding the log: one line per key per period (e.g. per agent
 * and rejection reason per minute), with a count of the lines held back in between. Fixed
 * memory: keys hash into a table of slots; a key that collides with another simply takes the
 * slot over, which can only let an extra line through, never hide one for longer. Thread-safe. */
#ifndef SLIC_AGG_RATELIMIT_H
#define SLIC_AGG_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct agg_ratelimit agg_ratelimit;

/* 0 or SLIC_ENOMEM. slots > 0, period_ms > 0. */
int agg_ratelimit_create(unsigned slots, int64_t period_ms, agg_ratelimit **out);
void agg_ratelimit_destroy(agg_ratelimit *r);

/* True when a line for key may be written at now_ms; then *suppressed is how many were held
 * back for this key since its last line. */
bool agg_ratelimit_allow(agg_ratelimit *r, const char *key, int64_t now_ms, uint64_t *suppressed);

#endif
