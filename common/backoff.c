/* Retry delays (see backoff.h). */
#include "backoff.h"

uint64_t slic_jitter_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t slic_backoff_ms(uint64_t *state, uint64_t min_ms, uint64_t max_ms, unsigned attempts)
{
    uint64_t d = min_ms;
    for (unsigned i = 1; i < attempts && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    return d - d / 2 + slic_jitter_next(state) % (d / 2 + 1);
}
