/* The latency sketch (see sketch.h): a logarithmic index mapping and a dense, growable array of
 * bucket counts. Recording is the hot path of every agent, so the common case is a few integer
 * and floating-point operations on the value's bits and one increment, with no log() and no
 * allocation. Everything here assumes the build's -ffp-contract=off, so that every platform
 * computes the same bucket for the same value. */
#include "sketch.h"

#include "alloc.h"
#include "err.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* The cubic mapping approximates log2(x) by e + P(s), where x = 2^e * (1 + s) with s in [0, 1)
 * and P(s) = A s^3 + B s^2 + C s. P(0) = 0 and P(1) = 1, so the approximation is continuous
 * across powers of two, and P' > 0, so it is strictly increasing. Its slope differs from the true
 * log2's, most (by CUBIC_CORRECTION) at s = 0; making the buckets that much narrower in the
 * approximate space keeps every bucket's upper/lower ratio within gamma, which is the whole
 * accuracy guarantee. */
#define CUBIC_A (6.0 / 35.0)
#define CUBIC_B (-3.0 / 5.0)
#define CUBIC_C (10.0 / 7.0)
#define CUBIC_CORRECTION (7.0 / (10.0 * M_LN2))

/* Buckets are made narrower by this relative margin so that rounding in the mapping and its
 * inverse (about 1e-15) can never push a bucket's ratio past gamma. */
#define MAPPING_SAFETY (1.0 + 1e-9)

/* The bucket array starts this small and grows by half again, up to max_buckets. */
#define STORE_MIN_CAP 64u

struct slic_sketch {
    enum slic_sketch_mapping mapping;
    double alpha;
    /* index = ceil(approx_log2(value) * multiplier) */
    double multiplier;
    uint32_t max_buckets;

    /* counts[i] is the count of bucket offset + i; cap entries allocated, never more than
     * max_buckets, so any index inside the array keeps the span within the cap. */
    uint64_t *counts;
    int32_t offset;
    uint32_t cap;
    /* Lowest and highest non-empty bucket; lo > hi while no value has been indexed. */
    int32_t lo;
    int32_t hi;

    uint64_t zero_count;
    uint64_t count;
    double sum;
    double min;
    double max;
    bool collapsed;
};

static inline double cubic_log2(double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    int exponent = (int)((bits >> 52) & 0x7ff) - 1023;
    uint64_t mantissa_bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double mantissa;
    memcpy(&mantissa, &mantissa_bits, sizeof mantissa);
    double s = mantissa - 1.0;
    return (double)exponent + ((CUBIC_A * s + CUBIC_B) * s + CUBIC_C) * s;
}

/* The inverse of cubic_log2: solves P(s) = frac by Newton's method. P is increasing and concave
 * on [0, 1], so the iteration converges quickly and always the same way for the same input. */
static double cubic_exp2(double y)
{
    double e = floor(y);
    double frac = y - e;
    double s = frac;
    for (int i = 0; i < 8; i++) {
        double p = ((CUBIC_A * s + CUBIC_B) * s + CUBIC_C) * s - frac;
        double dp = (3.0 * CUBIC_A * s + 2.0 * CUBIC_B) * s + CUBIC_C;
        s -= p / dp;
    }
    if (s < 0.0)
        s = 0.0;
    if (s > 1.0)
        s = 1.0;
    return ldexp(1.0 + s, (int)e);
}

static inline double approx_log2(const slic_sketch *sk, double value)
{
    if (sk->mapping == SLIC_SKETCH_MAPPING_CUBIC)
        return cubic_log2(value);
    return log(value) * (1.0 / M_LN2);
}

static double approx_exp2(const slic_sketch *sk, double y)
{
    if (sk->mapping == SLIC_SKETCH_MAPPING_CUBIC)
        return cubic_exp2(y);
    return exp2(y);
}

/* ceil() for the values the mapping produces (|x| < 2^31), without a libm call. */
static inline int32_t ceil_to_int(double x)
{
    int32_t i = (int32_t)x;
    return x > (double)i ? i + 1 : i;
}

/* Precondition: value in [SLIC_SKETCH_MIN_INDEXABLE, SLIC_SKETCH_MAX_INDEXABLE]. */
static inline int32_t index_of(const slic_sketch *sk, double value)
{
    return ceil_to_int(approx_log2(sk, value) * sk->multiplier);
}

int32_t slic_sketch_index_of(const slic_sketch *sk, double value)
{
    if (!(value >= SLIC_SKETCH_MIN_INDEXABLE))
        value = SLIC_SKETCH_MIN_INDEXABLE;
    if (value > SLIC_SKETCH_MAX_INDEXABLE)
        value = SLIC_SKETCH_MAX_INDEXABLE;
    return index_of(sk, value);
}

void slic_sketch_bucket_bounds(const slic_sketch *sk, int32_t index, double *lower, double *upper)
{
    *lower = approx_exp2(sk, ((double)index - 1.0) / sk->multiplier);
    *upper = approx_exp2(sk, (double)index / sk->multiplier);
}

/* The value that stands for a whole bucket: 2·lo·hi / (lo + hi) is within (hi - lo) / (hi + lo)
 * of both ends, which is at most alpha because hi / lo <= gamma = (1 + alpha) / (1 - alpha). */
static double bucket_value(const slic_sketch *sk, int32_t index)
{
    double lo, hi;
    slic_sketch_bucket_bounds(sk, index, &lo, &hi);
    /* Written so that lo · hi is never formed: at the indexable limits it would underflow to 0
     * or overflow to infinity. */
    return lo * (2.0 / (1.0 + lo / hi));
}

static bool alpha_valid(double alpha)
{
    return alpha >= SLIC_SKETCH_MIN_ALPHA && alpha <= SLIC_SKETCH_MAX_ALPHA;
}

static bool mapping_valid(enum slic_sketch_mapping mapping)
{
    return mapping == SLIC_SKETCH_MAPPING_CUBIC || mapping == SLIC_SKETCH_MAPPING_LOG;
}

int slic_sketch_create_mapped(double alpha, uint32_t max_buckets, enum slic_sketch_mapping mapping,
                              slic_sketch **out)
{
    if (!alpha_valid(alpha) || !mapping_valid(mapping) || max_buckets < 16 ||
        max_buckets > SLIC_SKETCH_MAX_BUCKETS_LIMIT)
        return SLIC_EINVAL;
    slic_sketch *sk = slic_calloc(1, sizeof *sk);
    if (!sk)
        return SLIC_ENOMEM;
    double log2_gamma = log2((1.0 + alpha) / (1.0 - alpha));
    double correction = mapping == SLIC_SKETCH_MAPPING_CUBIC ? CUBIC_CORRECTION : 1.0;
    sk->mapping = mapping;
    sk->alpha = alpha;
    sk->multiplier = correction * MAPPING_SAFETY / log2_gamma;
    sk->max_buckets = max_buckets;
    sk->lo = INT32_MAX;
    sk->hi = INT32_MIN;
    sk->min = INFINITY;
    sk->max = -INFINITY;
    *out = sk;
    return 0;
}

int slic_sketch_create(double alpha, uint32_t max_buckets, slic_sketch **out)
{
    return slic_sketch_create_mapped(alpha, max_buckets, SLIC_SKETCH_MAPPING_CUBIC, out);
}

int slic_sketch_clone(const slic_sketch *sk, slic_sketch **out)
{
    slic_sketch *copy = slic_malloc(sizeof *copy);
    if (!copy)
        return SLIC_ENOMEM;
    *copy = *sk;
    if (sk->counts) {
        copy->counts = slic_malloc((size_t)sk->cap * sizeof *copy->counts);
        if (!copy->counts) {
            slic_free(copy);
            return SLIC_ENOMEM;
        }
        memcpy(copy->counts, sk->counts, (size_t)sk->cap * sizeof *copy->counts);
    }
    *out = copy;
    return 0;
}

void slic_sketch_destroy(slic_sketch *sk)
{
    if (!sk)
        return;
    slic_free(sk->counts);
    slic_free(sk);
}

static bool store_empty(const slic_sketch *sk)
{
    return sk->lo > sk->hi;
}

void slic_sketch_reset(slic_sketch *sk)
{
    if (sk->counts)
        memset(sk->counts, 0, (size_t)sk->cap * sizeof *sk->counts);
    sk->lo = INT32_MAX;
    sk->hi = INT32_MIN;
    sk->zero_count = 0;
    sk->count = 0;
    sk->sum = 0;
    sk->min = INFINITY;
    sk->max = -INFINITY;
    sk->collapsed = false;
}

static inline uint64_t *bucket(slic_sketch *sk, int32_t index)
{
    return &sk->counts[(int64_t)index - sk->offset];
}

/* Moves the counts of every bucket below keep_lo into bucket keep_lo, in place. */
static void store_collapse_in_place(slic_sketch *sk, int32_t keep_lo)
{
    uint64_t moved = 0;
    int32_t last = sk->hi < keep_lo ? sk->hi : keep_lo - 1;
    for (int32_t i = sk->lo; i <= last; i++) {
        moved += *bucket(sk, i);
        *bucket(sk, i) = 0;
    }
    *bucket(sk, keep_lo) += moved;
    sk->lo = keep_lo;
    if (sk->hi < keep_lo)
        sk->hi = keep_lo;
    sk->collapsed = true;
}

/* Copies the buckets into a new array laid out for [keep_lo, new_hi], collapsing any below
 * keep_lo. Allocates before changing anything, so on SLIC_ENOMEM the sketch is untouched. */
static int store_relayout(slic_sketch *sk, int32_t keep_lo, int32_t new_hi)
{
    uint32_t span = (uint32_t)((int64_t)new_hi - keep_lo + 1);
    uint32_t cap = span + span / 2;
    if (cap < STORE_MIN_CAP)
        cap = STORE_MIN_CAP;
    if (cap > sk->max_buckets)
        cap = sk->max_buckets;
    int32_t offset = keep_lo - (int32_t)((cap - span) / 2);
    uint64_t *counts = slic_calloc(cap, sizeof *counts);
    if (!counts)
        return SLIC_ENOMEM;
    if (!store_empty(sk)) {
        for (int32_t i = sk->lo; i <= sk->hi; i++) {
            int32_t to = i < keep_lo ? keep_lo : i;
            counts[(int64_t)to - offset] += *bucket(sk, i);
        }
        if (sk->lo < keep_lo) {
            sk->collapsed = true;
            sk->lo = keep_lo;
            if (sk->hi < keep_lo)
                sk->hi = keep_lo;
        }
    }
    slic_free(sk->counts);
    sk->counts = counts;
    sk->offset = offset;
    sk->cap = cap;
    return 0;
}

/* Makes room for buckets lo..hi beside those already held. If the union would span more than
 * max_buckets, the lowest collapse: *keep_lo tells the caller the lowest bucket that remains,
 * into which anything lower must go. Collapsing to "highest index - max_buckets + 1" depends
 * only on the highest index ever seen, so the result is the same in any order of adds and
 * merges. */
static int store_prepare(slic_sketch *sk, int32_t lo, int32_t hi, int32_t *keep_lo)
{
    bool empty = store_empty(sk);
    int32_t new_lo = empty || lo < sk->lo ? lo : sk->lo;
    int32_t new_hi = empty || hi > sk->hi ? hi : sk->hi;
    int32_t kl = new_lo;
    if ((int64_t)new_hi - new_lo + 1 > (int64_t)sk->max_buckets)
        kl = new_hi - (int32_t)sk->max_buckets + 1;
    *keep_lo = kl;
    bool fits = sk->counts && kl >= sk->offset && (int64_t)new_hi < (int64_t)sk->offset + sk->cap;
    if (!fits)
        return store_relayout(sk, kl, new_hi);
    if (!empty && sk->lo < kl)
        store_collapse_in_place(sk, kl);
    return 0;
}

/* Adds n to bucket index; store_prepare must have made room for it. */
static void store_add_prepared(slic_sketch *sk, int32_t index, uint64_t n, int32_t keep_lo)
{
    if (index < keep_lo) {
        index = keep_lo;
        sk->collapsed = true;
    }
    *bucket(sk, index) += n;
    if (index < sk->lo)
        sk->lo = index;
    if (index > sk->hi)
        sk->hi = index;
}

static int value_check(double value)
{
    if (isnan(value) || value < 0 || isinf(value))
        return SLIC_EVALUE;
    if (value > SLIC_SKETCH_MAX_INDEXABLE)
        return SLIC_ERANGE;
    return 0;
}

/* min and max start at +inf and -inf, so they need no "is this the first value" test. */
static void stats_add(slic_sketch *sk, double value, uint64_t n)
{
    sk->min = value < sk->min ? value : sk->min;
    sk->max = value > sk->max ? value : sk->max;
    sk->count += n;
    sk->sum += value * (double)n;
}

int slic_sketch_add_n(slic_sketch *sk, double value, uint64_t n)
{
    /* One comparison accepts every ordinary value; the slow checks run only for the rest. */
    if (!(value >= SLIC_SKETCH_MIN_INDEXABLE && value <= SLIC_SKETCH_MAX_INDEXABLE)) {
        int rc = value_check(value);
        if (rc)
            return rc;
    }
    if (n == 0)
        return 0;
    /* A sum that overflows to infinity would make the sketch undecodable downstream. */
    if (sk->count > UINT64_MAX - n || !isfinite(sk->sum + value * (double)n))
        return SLIC_EOVERFLOW;
    if (value < SLIC_SKETCH_MIN_INDEXABLE) {
        sk->zero_count += n;
    } else {
        int32_t index = index_of(sk, value);
        uint32_t rel = (uint32_t)((int64_t)index - sk->offset);
        if (rel < sk->cap) {
            sk->counts[rel] += n;
            if (index < sk->lo)
                sk->lo = index;
            if (index > sk->hi)
                sk->hi = index;
        } else {
            int32_t keep_lo;
            int rc = store_prepare(sk, index, index, &keep_lo);
            if (rc)
                return rc;
            store_add_prepared(sk, index, n, keep_lo);
        }
    }
    stats_add(sk, value, n);
    return 0;
}

/* The hot path of every agent: one ordinary value whose bucket is within the range already
 * seen, nothing near overflow. Everything else takes the general path. The cubic mapping works
 * on the value's bits, and for positive doubles the bits order like the values, so one
 * unsigned comparison rejects zero, subnormals, negatives, NaN and infinities at once. */
#define MIN_INDEXABLE_BITS 0x0170000000000000ull /* 2^-1000 */
#define MAX_INDEXABLE_BITS 0x7e70000000000000ull /* 2^+1000 */

static inline double cubic_log2_bits(uint64_t bits)
{
    int exponent = (int)(bits >> 52) - 1023;
    uint64_t mantissa_bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double mantissa;
    memcpy(&mantissa, &mantissa_bits, sizeof mantissa);
    double s = mantissa - 1.0;
    return (double)exponent + ((CUBIC_A * s + CUBIC_B) * s + CUBIC_C) * s;
}

int slic_sketch_add(slic_sketch *sk, double value)
{
    int32_t index;
    if (sk->mapping == SLIC_SKETCH_MAPPING_CUBIC) {
        uint64_t bits;
        memcpy(&bits, &value, sizeof bits);
        if (bits - MIN_INDEXABLE_BITS > MAX_INDEXABLE_BITS - MIN_INDEXABLE_BITS)
            goto general;
        index = ceil_to_int(cubic_log2_bits(bits) * sk->multiplier);
    } else {
        if (!(value >= SLIC_SKETCH_MIN_INDEXABLE && value <= SLIC_SKETCH_MAX_INDEXABLE))
            goto general;
        index = ceil_to_int(log(value) * (1.0 / M_LN2) * sk->multiplier);
    }
    if (index < sk->lo || index > sk->hi)
        goto general;
    double sum = sk->sum + value;
    if (sum > DBL_MAX || sk->count == UINT64_MAX)
        goto general;
    sk->counts[(int64_t)index - sk->offset]++;
    sk->count++;
    sk->sum = sum;
    if (value < sk->min)
        sk->min = value;
    if (value > sk->max)
        sk->max = value;
    return 0;
general:
    return slic_sketch_add_n(sk, value, 1);
}

int slic_sketch_merge_view(slic_sketch *dst, const struct slic_sketch_view *src)
{
    if (dst->mapping != src->mapping || dst->alpha != src->alpha)
        return SLIC_EALPHA;
    if (src->count == 0)
        return 0;
    if (dst->count > UINT64_MAX - src->count || !isfinite(dst->sum + src->sum))
        return SLIC_EOVERFLOW;
    if (src->n > 0) {
        int32_t keep_lo;
        int32_t last = (int32_t)((int64_t)src->offset + src->n - 1);
        int rc = store_prepare(dst, src->offset, last, &keep_lo);
        if (rc)
            return rc;
        for (uint32_t i = 0; i < src->n; i++) {
            if (src->counts[i])
                store_add_prepared(dst, (int32_t)(src->offset + (int64_t)i), src->counts[i],
                                   keep_lo);
        }
    }
    dst->min = src->min < dst->min ? src->min : dst->min;
    dst->max = src->max > dst->max ? src->max : dst->max;
    dst->zero_count += src->zero_count;
    dst->count += src->count;
    dst->sum += src->sum;
    dst->collapsed = dst->collapsed || src->collapsed;
    return 0;
}

int slic_sketch_merge(slic_sketch *dst, const slic_sketch *src)
{
    struct slic_sketch_view view;
    slic_sketch_view_get(src, &view);
    return slic_sketch_merge_view(dst, &view);
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int slic_sketch_quantile(const slic_sketch *sk, double q, double *out)
{
    if (!(q >= 0.0 && q <= 1.0) || sk->count == 0)
        return SLIC_EINVAL;
    /* The rank of the wanted value among the sorted values, counted from 0. The extremes are
     * known exactly. */
    double rank = floor(q * (double)(sk->count - 1));
    if (rank <= 0) {
        *out = sk->min;
        return 0;
    }
    if (rank >= (double)(sk->count - 1)) {
        *out = sk->max;
        return 0;
    }
    uint64_t seen = sk->zero_count;
    if ((double)seen > rank) {
        *out = sk->min;
        return 0;
    }
    for (int32_t i = sk->lo; i <= sk->hi; i++) {
        seen += sk->counts[(int64_t)i - sk->offset];
        if ((double)seen > rank) {
            /* Clamping can only move the answer towards the true value, which lies in
             * [min, max]. */
            *out = clamp(bucket_value(sk, i), sk->min, sk->max);
            return 0;
        }
    }
    *out = sk->max;
    return 0;
}

int slic_sketch_rank(const slic_sketch *sk, double x, struct slic_sketch_rank *out)
{
    if (isnan(x))
        return SLIC_EINVAL;
    struct slic_sketch_rank r = {0, 0};
    if (sk->count == 0 || x < sk->min) {
        *out = r;
        return 0;
    }
    if (x >= sk->max) {
        r.lower = r.upper = sk->count;
        *out = r;
        return 0;
    }
    if (x < SLIC_SKETCH_MIN_INDEXABLE) {
        /* Zero-bucket values are not told apart: any of them may be above x. */
        r.upper = sk->zero_count;
        *out = r;
        return 0;
    }
    int32_t index = index_of(sk, x);
    uint64_t below = sk->zero_count;
    for (int32_t i = sk->lo; i <= sk->hi && i < index; i++)
        below += sk->counts[(int64_t)i - sk->offset];
    uint64_t within = 0;
    if (index >= sk->lo && index <= sk->hi)
        within = sk->counts[(int64_t)index - sk->offset];
    else if (index < sk->lo && sk->collapsed)
        /* The collapsed lowest bucket also holds values from below its range, any of which
         * may be <= x. */
        within = sk->counts[(int64_t)sk->lo - sk->offset];
    r.lower = below;
    r.upper = below + within;
    *out = r;
    return 0;
}

uint64_t slic_sketch_count(const slic_sketch *sk)
{
    return sk->count;
}

double slic_sketch_sum(const slic_sketch *sk)
{
    return sk->sum;
}

double slic_sketch_min(const slic_sketch *sk)
{
    return sk->count ? sk->min : 0;
}

double slic_sketch_max(const slic_sketch *sk)
{
    return sk->count ? sk->max : 0;
}

double slic_sketch_alpha(const slic_sketch *sk)
{
    return sk->alpha;
}

enum slic_sketch_mapping slic_sketch_mapping_of(const slic_sketch *sk)
{
    return sk->mapping;
}

uint32_t slic_sketch_max_buckets(const slic_sketch *sk)
{
    return sk->max_buckets;
}

uint32_t slic_sketch_bucket_span(const slic_sketch *sk)
{
    return store_empty(sk) ? 0 : (uint32_t)((int64_t)sk->hi - sk->lo + 1);
}

bool slic_sketch_collapsed(const slic_sketch *sk)
{
    return sk->collapsed;
}

void slic_sketch_view_get(const slic_sketch *sk, struct slic_sketch_view *out)
{
    bool empty = store_empty(sk);
    *out = (struct slic_sketch_view){
        .mapping = sk->mapping,
        .alpha = sk->alpha,
        .offset = empty ? 0 : sk->lo,
        .n = slic_sketch_bucket_span(sk),
        .counts = empty ? NULL : &sk->counts[(int64_t)sk->lo - sk->offset],
        .zero_count = sk->zero_count,
        .count = sk->count,
        .sum = sk->sum,
        .min = slic_sketch_min(sk),
        .max = slic_sketch_max(sk),
        .collapsed = sk->collapsed,
    };
}

/* Checks of from_view that need no sketch: totals add up without overflow. */
static int view_check_counts(const struct slic_sketch_view *v)
{
    uint64_t total = v->zero_count;
    for (uint32_t i = 0; i < v->n; i++) {
        if (total > UINT64_MAX - v->counts[i])
            return SLIC_EOVERFLOW;
        total += v->counts[i];
    }
    if (v->n > 0 && (v->counts[0] == 0 || v->counts[v->n - 1] == 0))
        return SLIC_EINCONSISTENT; /* not trimmed: a canonical encoder never sends this */
    return total == v->count ? 0 : SLIC_EINCONSISTENT;
}

static bool finite_nonneg(double x)
{
    return isfinite(x) && x >= 0;
}

/* min, max and sum must be possible for the buckets: each value lies in its bucket, so the
 * smallest and largest fall in the lowest and highest one, and the sum lies between
 * count·min and count·max (up to rounding in how it was added up). */
static int view_check_stats(const slic_sketch *sk, const struct slic_sketch_view *v)
{
    if (v->count == 0)
        return v->min == 0 && v->max == 0 && v->sum == 0 ? 0 : SLIC_EINCONSISTENT;
    if (!finite_nonneg(v->min) || !finite_nonneg(v->max) || !finite_nonneg(v->sum))
        return SLIC_EVALUE;
    if (v->min > v->max || v->max > SLIC_SKETCH_MAX_INDEXABLE)
        return SLIC_EINCONSISTENT;
    if ((v->zero_count > 0) != (v->min < SLIC_SKETCH_MIN_INDEXABLE))
        return SLIC_EINCONSISTENT;
    if ((v->n > 0) != (v->max >= SLIC_SKETCH_MIN_INDEXABLE))
        return SLIC_EINCONSISTENT;
    if (v->n > 0) {
        int32_t last = (int32_t)((int64_t)v->offset + v->n - 1);
        if (index_of(sk, v->max) != last)
            return SLIC_EINCONSISTENT;
        if (v->zero_count == 0) {
            int32_t min_index = index_of(sk, v->min);
            if (v->collapsed ? min_index > v->offset : min_index != v->offset)
                return SLIC_EINCONSISTENT;
        }
    }
    double n = (double)v->count;
    if (v->sum < v->min * n * (1 - 1e-6) || v->sum > v->max * n * (1 + 1e-6))
        return SLIC_EINCONSISTENT;
    return 0;
}

int slic_sketch_from_view(const struct slic_sketch_view *view, uint32_t max_buckets,
                          slic_sketch **out)
{
    slic_sketch *sk = NULL;
    int rc = slic_sketch_create_mapped(view->alpha, max_buckets, view->mapping, &sk);
    if (rc)
        return rc;
    if (view->n > max_buckets) {
        rc = SLIC_ETOOBIG;
        goto fail;
    }
    if (view->n > 0 &&
        (view->offset < index_of(sk, SLIC_SKETCH_MIN_INDEXABLE) ||
         (int64_t)view->offset + view->n - 1 > (int64_t)index_of(sk, SLIC_SKETCH_MAX_INDEXABLE))) {
        rc = SLIC_ERANGE;
        goto fail;
    }
    if ((rc = view_check_counts(view)) || (rc = view_check_stats(sk, view)))
        goto fail;
    if (view->n > 0) {
        int32_t keep_lo;
        int32_t last = (int32_t)((int64_t)view->offset + view->n - 1);
        if ((rc = store_prepare(sk, view->offset, last, &keep_lo)))
            goto fail;
        memcpy(bucket(sk, view->offset), view->counts, (size_t)view->n * sizeof *view->counts);
        sk->lo = view->offset;
        sk->hi = last;
    }
    sk->zero_count = view->zero_count;
    sk->count = view->count;
    sk->sum = view->sum;
    if (view->count > 0) {
        sk->min = view->min;
        sk->max = view->max;
    }
    sk->collapsed = view->collapsed;
    *out = sk;
    return 0;
fail:
    slic_sketch_destroy(sk);
    return rc;
}

bool slic_sketch_equal(const slic_sketch *a, const slic_sketch *b)
{
    if (a->mapping != b->mapping || a->alpha != b->alpha || a->count != b->count ||
        a->zero_count != b->zero_count || a->min != b->min || a->max != b->max ||
        a->collapsed != b->collapsed || slic_sketch_bucket_span(a) != slic_sketch_bucket_span(b))
        return false;
    if (fabs(a->sum - b->sum) > 1e-9 * fabs(b->sum))
        return false;
    if (store_empty(a))
        return true;
    if (a->lo != b->lo)
        return false;
    for (int32_t i = a->lo; i <= a->hi; i++) {
        if (a->counts[(int64_t)i - a->offset] != b->counts[(int64_t)i - b->offset])
            return false;
    }
    return true;
}
