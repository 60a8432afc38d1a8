/* Stored value formats of the aggregator store (layouts in record.h). Decoding validates every
 * length and count before anything reads past the header, because a torn or corrupted value
 * must turn into an error message and not into a wild read. */
#include "record.h"

#include "alloc.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1
#else
#define HOST_LE 0
#endif

/* No sketch indexes buckets beyond about 3.5 million either way (the smallest alpha over the
 * whole indexable range), so a record claiming more is corrupt; the bound also keeps
 * offset + n well inside int32 for the merge arithmetic. */
#define INDEX_LIMIT (INT64_C(1) << 28)

#define FLAG_COLLAPSED 0x01u
#define AGENT_HEADER 40
#define AGENT_VERSION 1

static uint64_t le64(uint64_t v)
{
#if HOST_LE
    return v;
#else
    return __builtin_bswap64(v);
#endif
}

static void put_u64(uint8_t *p, uint64_t v)
{
    v = le64(v);
    memcpy(p, &v, sizeof v);
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return le64(v);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f64(uint8_t *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    put_u64(p, u);
}

static double get_f64(const uint8_t *p)
{
    uint64_t u = get_u64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

int agg__buf_reserve(struct agg__buf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < n)
        cap *= 2;
    uint8_t *p = slic_realloc(b->p, cap);
    if (!p)
        return SLIC_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

void agg__buf_fini(struct agg__buf *b)
{
    slic_free(b->p);
    *b = (struct agg__buf){0};
}

size_t agg__record_size(size_t n_thresholds, uint32_t n_buckets)
{
    return AGG__RECORD_HEADER + n_thresholds * AGG__RECORD_THRESHOLD_SIZE + (size_t)n_buckets * 8;
}

static bool stats_valid(const struct slic_sketch_view *v)
{
    if (v->count == 0)
        return v->n == 0 && v->zero_count == 0 && v->sum == 0 && v->min == 0 && v->max == 0;
    return isfinite(v->sum) && isfinite(v->min) && isfinite(v->max) && v->sum >= 0 && v->min >= 0 &&
           v->min <= v->max;
}

/* Header fields, before the variable parts are looked at. */
static int decode_header(const uint8_t *v, size_t len, struct agg__record *r,
                         struct slic_errmsg *err)
{
    if (len < AGG__RECORD_HEADER)
        return slic_errmsg_set(err, SLIC_EDECODE,
                               "record of %zu bytes is shorter than its %d-byte "
                               "header",
                               len, AGG__RECORD_HEADER);
    if (v[0] != AGG__RECORD_VERSION)
        return slic_errmsg_set(err, SLIC_EDECODE, "record version %u, expected %d", v[0],
                               AGG__RECORD_VERSION);
    if (v[1] & ~FLAG_COLLAPSED)
        return slic_errmsg_set(err, SLIC_EDECODE, "record flags 0x%02x have unknown bits", v[1]);
    if (v[2] != SLIC_SKETCH_MAPPING_CUBIC && v[2] != SLIC_SKETCH_MAPPING_LOG)
        return slic_errmsg_set(err, SLIC_EDECODE, "record sketch mapping %u is unknown", v[2]);
    uint32_t n = get_u32(v + 4);
    if (v[3] > SLIC_SERIES_THRESHOLDS_MAX || n > SLIC_SKETCH_MAX_BUCKETS_LIMIT)
        return slic_errmsg_set(err, SLIC_EDECODE,
                               "record claims %u thresholds and %u buckets, "
                               "limits are %d and %u",
                               v[3], n, SLIC_SERIES_THRESHOLDS_MAX, SLIC_SKETCH_MAX_BUCKETS_LIMIT);
    if (len != agg__record_size(v[3], n))
        return slic_errmsg_set(err, SLIC_EDECODE,
                               "record of %zu bytes, expected %zu for %u "
                               "thresholds and %u buckets",
                               len, agg__record_size(v[3], n), v[3], n);
    struct slic_sketch_view *s = &r->sketch;
    s->mapping = (enum slic_sketch_mapping)v[2];
    s->collapsed = v[1] & FLAG_COLLAPSED;
    s->n = n;
    s->offset = (int32_t)get_u32(v + 8);
    s->alpha = get_f64(v + 16);
    r->total = get_u64(v + 24);
    r->good = get_u64(v + 32);
    s->zero_count = get_u64(v + 40);
    s->count = get_u64(v + 48);
    s->sum = get_f64(v + 56);
    s->min = get_f64(v + 64);
    s->max = get_f64(v + 72);
    r->n_thresholds = v[3];
    if (!(s->alpha >= SLIC_SKETCH_MIN_ALPHA && s->alpha <= SLIC_SKETCH_MAX_ALPHA))
        return slic_errmsg_set(err, SLIC_EDECODE, "record alpha %g is out of range", s->alpha);
    if (s->offset < -INDEX_LIMIT || (int64_t)s->offset + n > INDEX_LIMIT)
        return slic_errmsg_set(err, SLIC_EDECODE, "record bucket offset %d is out of range",
                               (int)s->offset);
    if (s->count != r->total || r->good > r->total || !stats_valid(s))
        return slic_errmsg_set(err, SLIC_EDECODE,
                               "record counts contradict each other (total %llu, "
                               "good %llu, sketch count %llu, min %g, max %g, sum %g)",
                               (unsigned long long)r->total, (unsigned long long)r->good,
                               (unsigned long long)s->count, s->min, s->max, s->sum);
    return 0;
}

static int decode_thresholds(const uint8_t *p, struct agg__record *r, struct slic_errmsg *err)
{
    for (size_t i = 0; i < r->n_thresholds; i++, p += AGG__RECORD_THRESHOLD_SIZE) {
        struct slic_threshold_count *t = &r->thresholds[i];
        t->threshold = get_f64(p);
        t->count_le = get_u64(p + 8);
        t->good_le = get_u64(p + 16);
        bool ordered = i == 0 || t->threshold > r->thresholds[i - 1].threshold;
        if (!isfinite(t->threshold) || !ordered || t->count_le > r->total ||
            t->good_le > t->count_le || t->good_le > r->good)
            return slic_errmsg_set(err, SLIC_EDECODE,
                                   "record threshold %zu (%g s: %llu, good %llu) "
                                   "is out of order or exceeds the record's counts",
                                   i, t->threshold, (unsigned long long)t->count_le,
                                   (unsigned long long)t->good_le);
    }
    return 0;
}

/* Points the view's counts at p when that is safe, else copies them into scratch. */
static int decode_counts(const uint8_t *p, struct slic_sketch_view *s, struct agg__buf *scratch)
{
    if (s->n == 0) {
        s->counts = NULL;
        return 0;
    }
    if (HOST_LE && ((uintptr_t)p % _Alignof(uint64_t)) == 0) {
        s->counts = (const uint64_t *)(const void *)p;
        return 0;
    }
    size_t bytes = (size_t)s->n * sizeof(uint64_t);
    if (agg__buf_reserve(scratch, bytes))
        return SLIC_ENOMEM;
    uint64_t *c = (uint64_t *)(void *)scratch->p;
    memcpy(c, p, bytes);
    for (uint32_t i = 0; !HOST_LE && i < s->n; i++)
        c[i] = le64(c[i]);
    s->counts = c;
    return 0;
}

static int check_counts(const struct slic_sketch_view *s, struct slic_errmsg *err)
{
    uint64_t total = s->zero_count;
    bool overflow = false;
    for (uint32_t i = 0; i < s->n; i++) {
        overflow |= total > UINT64_MAX - s->counts[i];
        total += s->counts[i];
    }
    if (s->n > 0 && (s->counts[0] == 0 || s->counts[s->n - 1] == 0))
        return slic_errmsg_set(err, SLIC_EDECODE,
                               "record buckets are not trimmed (first or last "
                               "of %u is empty)",
                               s->n);
    if (overflow || total != s->count)
        return slic_errmsg_set(err, SLIC_EDECODE,
                               "record buckets add up to %s%llu, sketch count "
                               "is %llu",
                               overflow ? "more than " : "", (unsigned long long)total,
                               (unsigned long long)s->count);
    return 0;
}

int agg__record_decode_head(const void *value, size_t len, struct agg__record *out,
                            struct slic_errmsg *err)
{
    const uint8_t *v = value;
    struct agg__record r;
    int rc = decode_header(v, len, &r, err);
    if (rc == 0)
        rc = decode_thresholds(v + AGG__RECORD_HEADER, &r, err);
    if (rc)
        return rc;
    r.sketch.counts = NULL;
    *out = r;
    return 0;
}

uint64_t agg__record_buckets_sum(const void *value, const struct agg__record *r, uint32_t i,
                                 uint32_t n)
{
    const uint8_t *p = (const uint8_t *)value + AGG__RECORD_HEADER +
                       r->n_thresholds * AGG__RECORD_THRESHOLD_SIZE + (size_t)i * 8;
    uint64_t sum = 0;
    for (uint32_t k = 0; k < n; k++, p += 8)
        sum += get_u64(p);
    return sum;
}

int agg__record_decode(const void *value, size_t len, struct agg__record *out,
                       struct agg__buf *scratch, struct slic_errmsg *err)
{
    const uint8_t *v = value;
    struct agg__record r;
    int rc = decode_header(v, len, &r, err);
    if (rc)
        return rc;
    if ((rc = decode_thresholds(v + AGG__RECORD_HEADER, &r, err)))
        return rc;
    const uint8_t *counts = v + AGG__RECORD_HEADER + r.n_thresholds * AGG__RECORD_THRESHOLD_SIZE;
    if ((rc = decode_counts(counts, &r.sketch, scratch)))
        return slic_errmsg_set(err, rc, "out of memory copying %u record buckets", r.sketch.n);
    if ((rc = check_counts(&r.sketch, err)))
        return rc;
    *out = r;
    return 0;
}

/* The thresholds both sides counted exactly, counts added. A side with no events constrains
 * nothing: its count under any threshold is exactly 0. Returns how many were written. */
static size_t thresholds_merge(const struct agg__record *a, const struct agg__record *b,
                               struct slic_threshold_count *out)
{
    if (a->total == 0 || b->total == 0) {
        const struct agg__record *keep = a->total == 0 ? b : a;
        memcpy(out, keep->thresholds, keep->n_thresholds * sizeof *out);
        return keep->n_thresholds;
    }
    size_t i = 0, j = 0, n = 0;
    while (i < a->n_thresholds && j < b->n_thresholds) {
        double ta = a->thresholds[i].threshold, tb = b->thresholds[j].threshold;
        if (ta < tb) {
            i++;
        } else if (tb < ta) {
            j++;
        } else {
            out[n] = a->thresholds[i];
            out[n].count_le += b->thresholds[j].count_le;
            out[n].good_le += b->thresholds[j].good_le;
            n++, i++, j++;
        }
    }
    return n;
}

/* The bucket range of the merge of two views: [keep_lo, keep_lo + n). As slic_sketch_merge
 * does, a span wider than max_buckets keeps the highest max_buckets and folds the rest into the
 * lowest kept bucket, which depends only on the highest index, so any merge order agrees. */
struct span {
    int32_t keep_lo;
    uint32_t n;
    bool collapsed;
};

static struct span span_union(const struct slic_sketch_view *a, const struct slic_sketch_view *b,
                              uint32_t max_buckets)
{
    struct span sp = {0, 0, false};
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    const struct slic_sketch_view *v[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        if (v[i]->n == 0)
            continue;
        lo = v[i]->offset < lo ? v[i]->offset : lo;
        hi = v[i]->offset + (int64_t)v[i]->n - 1 > hi ? v[i]->offset + (int64_t)v[i]->n - 1 : hi;
    }
    if (lo > hi)
        return sp;
    int64_t keep_lo = lo;
    if (hi - lo + 1 > (int64_t)max_buckets) {
        keep_lo = hi - (int64_t)max_buckets + 1;
        sp.collapsed = true;
    }
    sp.keep_lo = (int32_t)keep_lo;
    sp.n = (uint32_t)(hi - keep_lo + 1);
    return sp;
}

static void add_counts(uint64_t *dst, int32_t keep_lo, const struct slic_sketch_view *v)
{
    uint32_t i = 0;
    for (; i < v->n && (int64_t)v->offset + i < keep_lo; i++)
        dst[0] += v->counts[i];
    uint64_t *d = dst + ((int64_t)v->offset + i - keep_lo);
    for (; i < v->n; i++)
        *d++ += v->counts[i];
}

static void write_header(uint8_t *p, const struct agg__record *m, const struct span *sp)
{
    const struct slic_sketch_view *s = &m->sketch;
    memset(p, 0, AGG__RECORD_HEADER);
    p[0] = AGG__RECORD_VERSION;
    p[1] = s->collapsed ? FLAG_COLLAPSED : 0;
    p[2] = (uint8_t)s->mapping;
    p[3] = (uint8_t)m->n_thresholds;
    put_u32(p + 4, sp->n);
    put_u32(p + 8, (uint32_t)sp->keep_lo);
    put_f64(p + 16, s->alpha);
    put_u64(p + 24, m->total);
    put_u64(p + 32, m->good);
    put_u64(p + 40, s->zero_count);
    put_u64(p + 48, s->count);
    put_f64(p + 56, s->sum);
    put_f64(p + 64, s->min);
    put_f64(p + 72, s->max);
    uint8_t *t = p + AGG__RECORD_HEADER;
    for (size_t i = 0; i < m->n_thresholds; i++, t += AGG__RECORD_THRESHOLD_SIZE) {
        put_f64(t, m->thresholds[i].threshold);
        put_u64(t + 8, m->thresholds[i].count_le);
        put_u64(t + 16, m->thresholds[i].good_le);
    }
}

/* Encodes the merge of a and b into out, which must hold neither's data. */
static int merge_two(const struct agg__record *a, const struct agg__record *b, uint32_t max_buckets,
                     struct agg__buf *out, struct slic_errmsg *err)
{
    const struct slic_sketch_view *sa = &a->sketch, *sb = &b->sketch;
    if (a->total > UINT64_MAX - b->total || sa->count > UINT64_MAX - sb->count)
        return slic_errmsg_set(err, SLIC_EOVERFLOW,
                               "merged record would count more than 2^64 - 1 "
                               "events (%llu + %llu)",
                               (unsigned long long)a->total, (unsigned long long)b->total);
    struct agg__record m = {.total = a->total + b->total, .good = a->good + b->good};
    m.n_thresholds = thresholds_merge(a, b, m.thresholds);
    struct span sp = span_union(sa, sb, max_buckets);
    m.sketch = (struct slic_sketch_view){
        .mapping = sa->mapping,
        .alpha = sa->alpha,
        .zero_count = sa->zero_count + sb->zero_count,
        .count = sa->count + sb->count,
        .sum = sa->sum + sb->sum,
        .min = sa->count == 0                        ? sb->min
               : sb->count == 0 || sa->min < sb->min ? sa->min
                                                     : sb->min,
        .max = sa->count == 0                        ? sb->max
               : sb->count == 0 || sa->max > sb->max ? sa->max
                                                     : sb->max,
        .collapsed = sa->collapsed || sb->collapsed || sp.collapsed,
    };
    size_t size = agg__record_size(m.n_thresholds, sp.n);
    if (agg__buf_reserve(out, size))
        return slic_errmsg_set(err, SLIC_ENOMEM, "out of memory for a record of %zu bytes", size);
    write_header(out->p, &m, &sp);
    /* The counts start at a multiple of 8 in a malloc'd buffer, so they can be added in place. */
    uint64_t *dst = (uint64_t *)(void *)(out->p + size - (size_t)sp.n * 8);
    memset(dst, 0, (size_t)sp.n * 8);
    add_counts(dst, sp.keep_lo, sa);
    add_counts(dst, sp.keep_lo, sb);
    for (uint32_t i = 0; !HOST_LE && i < sp.n; i++)
        dst[i] = le64(dst[i]);
    out->len = size;
    return 0;
}

static void empty_record(const struct agg__sketch_params *p, struct agg__record *r)
{
    r->total = r->good = 0;
    r->n_thresholds = 0;
    r->sketch = (struct slic_sketch_view){.mapping = p->mapping, .alpha = p->alpha};
}

static void series_record(const struct slic_series *s, const struct agg__sketch_params *p,
                          struct agg__record *r)
{
    assert(s->n_thresholds <= SLIC_SERIES_THRESHOLDS_MAX);
    empty_record(p, r);
    r->total = s->total;
    r->good = s->good;
    r->n_thresholds = s->n_thresholds;
    if (s->n_thresholds)
        memcpy(r->thresholds, s->thresholds, s->n_thresholds * sizeof *s->thresholds);
    if (s->latency)
        slic_sketch_view_get(s->latency, &r->sketch);
}

static bool same_settings(const struct slic_sketch_view *v, const struct agg__sketch_params *p)
{
    return v->alpha == p->alpha && v->mapping == p->mapping;
}

int agg__record_merge_series(const struct agg__record *stored, const struct slic_series *s,
                             const struct agg__sketch_params *p, struct agg__buf *out,
                             struct slic_errmsg *err)
{
    struct agg__record in, none;
    series_record(s, p, &in);
    if (!same_settings(&in.sketch, p))
        return slic_errmsg_set(err, SLIC_EALPHA,
                               "series sketch has alpha %g, mapping %d; the store "
                               "keeps alpha %g, mapping %d",
                               in.sketch.alpha, (int)in.sketch.mapping, p->alpha, (int)p->mapping);
    if (!stored) {
        empty_record(p, &none);
        stored = &none;
    }
    if (!same_settings(&stored->sketch, p))
        return slic_errmsg_set(err, SLIC_EALPHA,
                               "stored record has alpha %g, mapping %d; the store "
                               "keeps alpha %g, mapping %d",
                               stored->sketch.alpha, (int)stored->sketch.mapping, p->alpha,
                               (int)p->mapping);
    return merge_two(stored, &in, p->max_buckets, out, err);
}

size_t agg__record_size_of_series(const struct slic_series *s)
{
    return agg__record_size(s->n_thresholds, s->latency ? slic_sketch_bucket_span(s->latency) : 0);
}

int agg__record_acc_init(struct agg__record_acc *acc, const struct agg__sketch_params *p)
{
    *acc = (struct agg__record_acc){.params = *p};
    return slic_sketch_create_mapped(p->alpha, p->max_buckets, p->mapping, &acc->sketch);
}

void agg__record_acc_fini(struct agg__record_acc *acc)
{
    slic_sketch_destroy(acc->sketch);
    acc->sketch = NULL;
}

int agg__record_acc_add(struct agg__record_acc *acc, const struct agg__record *r)
{
    if (acc->total > UINT64_MAX - r->total)
        return SLIC_EOVERFLOW;
    /* The sketch goes first: it is the one step that can fail, and leaves acc as it was. */
    int rc = slic_sketch_merge_view(acc->sketch, &r->sketch);
    if (rc)
        return rc;
    struct agg__record cur = {.total = acc->total, .n_thresholds = acc->n_thresholds};
    memcpy(cur.thresholds, acc->thresholds, acc->n_thresholds * sizeof *acc->thresholds);
    acc->n_thresholds = thresholds_merge(&cur, r, acc->thresholds);
    acc->total += r->total;
    acc->good += r->good;
    acc->records++;
    return 0;
}

int agg__record_encode_acc(const struct agg__record_acc *acc, struct agg__buf *out)
{
    struct agg__record r = {
        .total = acc->total, .good = acc->good, .n_thresholds = acc->n_thresholds};
    memcpy(r.thresholds, acc->thresholds, acc->n_thresholds * sizeof *acc->thresholds);
    slic_sketch_view_get(acc->sketch, &r.sketch);
    struct agg__record none;
    empty_record(&acc->params, &none);
    return merge_two(&r, &none, acc->params.max_buckets, out, NULL);
}

size_t agg__record_agent_encode(const struct agg__agent_state *a, uint8_t *buf)
{
    size_t sn = strlen(a->site), nn = strlen(a->node);
    assert(sn <= SLIC_NAME_MAX && nn <= SLIC_NAME_MAX);
    memset(buf, 0, AGENT_HEADER);
    buf[0] = AGENT_VERSION;
    buf[1] = (uint8_t)sn;
    buf[2] = (uint8_t)nn;
    put_u32(buf + 4, a->seqs_ahead);
    put_u64(buf + 8, a->epoch);
    put_u64(buf + 16, a->last_seq);
    put_u64(buf + 24, a->window);
    put_u64(buf + 32, (uint64_t)a->last_seen);
    memcpy(buf + AGENT_HEADER, a->site, sn);
    memcpy(buf + AGENT_HEADER + sn, a->node, nn);
    return AGENT_HEADER + sn + nn;
}

int agg__record_agent_decode(const void *value, size_t len, struct agg__agent_state *out,
                             struct slic_errmsg *err)
{
    const uint8_t *v = value;
    if (len < AGENT_HEADER || v[0] != AGENT_VERSION)
        return slic_errmsg_set(err, SLIC_EDECODE,
                               "agent state of %zu bytes, version %d: expected "
                               "version %d and at least %d bytes",
                               len, len ? v[0] : -1, AGENT_VERSION, AGENT_HEADER);
    size_t sn = v[1], nn = v[2];
    if (sn > SLIC_NAME_MAX || nn > SLIC_NAME_MAX || len != AGENT_HEADER + sn + nn)
        return slic_errmsg_set(err, SLIC_EDECODE,
                               "agent state of %zu bytes does not hold its "
                               "site (%zu bytes) and node (%zu bytes)",
                               len, sn, nn);
    struct agg__agent_state a;
    a.seqs_ahead = get_u32(v + 4);
    a.epoch = get_u64(v + 8);
    a.last_seq = get_u64(v + 16);
    a.window = get_u64(v + 24);
    a.last_seen = (int64_t)get_u64(v + 32);
    memcpy(a.site, v + AGENT_HEADER, sn);
    a.site[sn] = '\0';
    memcpy(a.node, v + AGENT_HEADER + sn, nn);
    a.node[nn] = '\0';
    *out = a;
    return 0;
}
