/* Key encodings of the aggregator store; the layouts and why they sort as they do are in
 * keys.h. Everything here is pure byte shuffling: no LMDB, no allocation. */
#include "keys.h"

#include "err.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const uint32_t res_seconds[AGG__RES_COUNT] = {10, 60, 3600};
static const char *const res_names[AGG__RES_COUNT] = {"10s", "1m", "1h"};

uint32_t agg__res_seconds(enum agg__res res)
{
    assert((unsigned)res < AGG__RES_COUNT);
    return res_seconds[res];
}

bool agg__res_from_seconds(uint32_t seconds, enum agg__res *out)
{
    for (int r = 0; r < AGG__RES_COUNT; r++) {
        if (res_seconds[r] == seconds) {
            *out = (enum agg__res)r;
            return true;
        }
    }
    return false;
}

void agg__be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t agg__be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Appends name and its NUL. */
static void put_name(struct agg__key *k, const char *name)
{
    size_t n = strlen(name);
    assert(n >= 1 && n <= SLIC_NAME_MAX);
    memcpy(k->b + k->len, name, n + 1);
    k->len += n + 1;
}

void agg__key_prefix(struct agg__key *k, enum agg__res res, enum agg__scope scope, const char *sli,
                     const char *site, const char *node)
{
    k->len = 0;
    k->b[k->len++] = (uint8_t)res;
    k->b[k->len++] = (uint8_t)scope;
    put_name(k, sli);
    if (scope == AGG__SCOPE_SITE) {
        put_name(k, site);
    } else if (scope == AGG__SCOPE_NODE) {
        put_name(k, node);
        if (site)
            put_name(k, site);
    }
}

void agg__key_series(struct agg__key *k, enum agg__res res, enum agg__scope scope, const char *sli,
                     const char *site, const char *node, uint64_t labelset)
{
    assert(scope == AGG__SCOPE_ALL || site != NULL);
    agg__key_prefix(k, res, scope, sli, site, node);
    agg__be64_put(k->b + k->len, labelset);
    k->len += AGG__KEY_LABELSET_LEN;
}

void agg__key_set_time(struct agg__key *k, size_t series_len, int64_t t)
{
    assert(series_len + AGG__KEY_TIME_LEN <= AGG__KEY_MAX);
    agg__be64_put(k->b + series_len, (uint64_t)t ^ (UINT64_C(1) << 63));
    k->len = series_len + AGG__KEY_TIME_LEN;
}

int64_t agg__key_time(const uint8_t *key, size_t len)
{
    assert(len >= AGG__KEY_TIME_LEN);
    uint64_t u = agg__be64_get(key + len - AGG__KEY_TIME_LEN) ^ (UINT64_C(1) << 63);
    int64_t t;
    memcpy(&t, &u, sizeof t);
    return t;
}

void agg__key_set_res(struct agg__key *k, enum agg__res res)
{
    k->b[0] = (uint8_t)res;
}

/* Takes one NUL-terminated name from key[*pos..end); NULL when there is none. */
static const char *take_name(const uint8_t *key, size_t end, size_t *pos)
{
    const uint8_t *start = key + *pos;
    const uint8_t *nul = memchr(start, 0, end - *pos);
    if (!nul || nul == start || (size_t)(nul - start) > SLIC_NAME_MAX)
        return NULL;
    *pos += (size_t)(nul - start) + 1;
    return (const char *)start;
}

int agg__key_parse(const void *key, size_t len, struct agg__key_parts *out)
{
    const uint8_t *b = key;
    const size_t tail = AGG__KEY_LABELSET_LEN + AGG__KEY_TIME_LEN;
    if (len < 2 + 2 + tail || len > AGG__KEY_MAX || b[0] >= AGG__RES_COUNT ||
        b[1] < AGG__SCOPE_ALL || b[1] > AGG__SCOPE_NODE)
        return SLIC_EDECODE;
    struct agg__key_parts p = {.res = (enum agg__res)b[0], .scope = (enum agg__scope)b[1]};
    size_t end = len - tail, pos = 2;
    p.site = p.node = "";
    if (!(p.sli = take_name(b, end, &pos)))
        return SLIC_EDECODE;
    if (p.scope == AGG__SCOPE_NODE && !(p.node = take_name(b, end, &pos)))
        return SLIC_EDECODE;
    if (p.scope != AGG__SCOPE_ALL && !(p.site = take_name(b, end, &pos)))
        return SLIC_EDECODE;
    if (pos != end)
        return SLIC_EDECODE;
    p.labelset = agg__be64_get(b + end);
    p.time = agg__key_time(b, len);
    *out = p;
    return 0;
}

void agg__key_describe(const void *key, size_t len, char *buf, size_t cap)
{
    struct agg__key_parts p;
    if (agg__key_parse(key, len, &p) == 0) {
        static const char *const scopes[] = {"", "all", "site", "node"};
        snprintf(buf, cap, "%s/%s %s%s%s%s%s labels#%016" PRIx64 " t=%" PRId64, res_names[p.res],
                 scopes[p.scope], p.sli, *p.node ? " node=" : "", p.node, *p.site ? " site=" : "",
                 p.site, p.labelset, p.time);
        return;
    }
    /* Not a data key: show its first bytes, which is what an operator needs to find it. */
    const uint8_t *b = key;
    size_t used = (size_t)snprintf(buf, cap, "undecodable key of %zu bytes: ", len);
    for (size_t i = 0; i < len && used + 3 < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%02x", b[i]);
}

size_t agg__labels_canonical(const struct slic_label *labels, size_t n, uint8_t *buf)
{
    assert(n <= SLIC_SERIES_LABELS_MAX);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t kn = strlen(labels[i].key), vn = strlen(labels[i].value);
        assert(kn <= SLIC_LABEL_KEY_MAX && vn <= SLIC_LABEL_VALUE_MAX);
        memcpy(buf + len, labels[i].key, kn + 1);
        len += kn + 1;
        memcpy(buf + len, labels[i].value, vn + 1);
        len += vn + 1;
    }
    return len;
}

uint64_t agg__labels_hash(const uint8_t *canonical, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++) {
        h ^= canonical[i];
        h *= UINT64_C(0x100000001b3);
    }
    /* FNV-1a's low bits mix poorly for short inputs; the splitmix64 finalizer spreads them. */
    h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;
    return h ? h : 1;
}

uint64_t agg__labels_next_id(uint64_t id)
{
    return id + 1 ? id + 1 : 1;
}

/* Finds key in the canonical labels; the value's start and length, or false. */
static bool labels_find(const uint8_t *c, size_t len, const char *key, const uint8_t **value,
                        size_t *value_len)
{
    size_t kn = strlen(key), pos = 0;
    while (pos < len) {
        const uint8_t *k = c + pos;
        const uint8_t *knul = memchr(k, 0, len - pos);
        if (!knul)
            return false;
        const uint8_t *v = knul + 1;
        const uint8_t *vnul = memchr(v, 0, (size_t)(c + len - v));
        if (!vnul)
            return false;
        if ((size_t)(knul - k) == kn && memcmp(k, key, kn) == 0) {
            *value = v;
            *value_len = (size_t)(vnul - v);
            return true;
        }
        pos = (size_t)(vnul - c) + 1;
    }
    return false;
}

bool agg__labels_match(const uint8_t *canonical, size_t len, const struct slic_label *matchers,
                       size_t n_matchers)
{
    for (size_t i = 0; i < n_matchers; i++) {
        const uint8_t *v;
        size_t vn;
        if (!labels_find(canonical, len, matchers[i].key, &v, &vn))
            return false;
        if (vn != strlen(matchers[i].value) || memcmp(v, matchers[i].value, vn) != 0)
            return false;
    }
    return true;
}

size_t agg__key_seq(uint8_t *buf, const char *agent_id, uint64_t epoch, uint64_t seq)
{
    size_t n = strlen(agent_id);
    assert(n >= 1 && n <= SLIC_NAME_MAX);
    memcpy(buf, agent_id, n + 1);
    agg__be64_put(buf + n + 1, epoch);
    agg__be64_put(buf + n + 9, seq);
    return n + 17;
}
