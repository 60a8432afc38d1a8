/* Per-key log rate limiting in a fixed hash table (see ratelimit.h). */
#include "ratelimit.h"

#include "alloc.h"
#include "err.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define KEY_MAX 192

struct slot {
    char key[KEY_MAX];
    int64_t last_ms;
    uint64_t suppressed;
};

struct agg_ratelimit {
    pthread_mutex_t mu;
    unsigned n;
    int64_t period_ms;
    struct slot *slots;
};

int agg_ratelimit_create(unsigned slots, int64_t period_ms, agg_ratelimit **out)
{
    agg_ratelimit *r = slic_calloc(1, sizeof *r);
    if (!r)
        return SLIC_ENOMEM;
    r->slots = slic_calloc(slots, sizeof *r->slots);
    if (!r->slots) {
        slic_free(r);
        return SLIC_ENOMEM;
    }
    r->n = slots;
    r->period_ms = period_ms;
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

void agg_ratelimit_destroy(agg_ratelimit *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    slic_free(r->slots);
    slic_free(r);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

bool agg_ratelimit_allow(agg_ratelimit *r, const char *key, int64_t now_ms, uint64_t *suppressed)
{
    char k[KEY_MAX];
    snprintf(k, sizeof k, "%s", key);
    pthread_mutex_lock(&r->mu);
    struct slot *s = &r->slots[fnv1a(k) % r->n];
    bool allow;
    if (strcmp(s->key, k) != 0) {
        memcpy(s->key, k, sizeof k);
        s->suppressed = 0;
        allow = true;
    } else {
        allow = now_ms - s->last_ms >= r->period_ms;
    }
    if (allow) {
        *suppressed = s->suppressed;
        s->suppressed = 0;
        s->last_ms = now_ms;
    } else {
        s->suppressed++;
    }
    pthread_mutex_unlock(&r->mu);
    return allow;
}
