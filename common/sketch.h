/* A mergeable latency sketch in the manner of DDSketch: values fall into logarithmically sized
 * buckets, so any quantile it returns is within relative accuracy alpha of the true value at
 * that rank. Counts are integers and merging adds buckets, so merging is exact, associative and
 * commutative: the merge of many sketches in any order equals, bucket for bucket, the sketch of
 * all their values. Values are latencies in seconds: >= 0 and finite.
 *
 * Not thread-safe: one sketch belongs to one thread at a time. */
#ifndef SLIC_SKETCH_H
#define SLIC_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct slic_sketch slic_sketch;

#define SLIC_SKETCH_DEFAULT_ALPHA 0.01
#define SLIC_SKETCH_MIN_ALPHA 0.0001
#define SLIC_SKETCH_MAX_ALPHA 0.2
#define SLIC_SKETCH_DEFAULT_MAX_BUCKETS 4096u
/* No sketch, created or decoded, may hold more buckets than this. */
#define SLIC_SKETCH_MAX_BUCKETS_LIMIT 65536u

/* Values in [0, MIN_INDEXABLE) are counted in the zero bucket (this includes every subnormal);
 * values above MAX_INDEXABLE are rejected. Far beyond any latency, so nothing real is lost. */
#define SLIC_SKETCH_MIN_INDEXABLE 0x1p-1000
#define SLIC_SKETCH_MAX_INDEXABLE 0x1p+1000

/* How a value becomes a bucket index. Both keep the alpha guarantee; CUBIC is the default and
 * avoids a log() per value (exponent bits + a cubic polynomial of the mantissa). LOG is the
 * textbook mapping, kept as the reference the benchmark measures against. Sketches merge only
 * with sketches of the same mapping and alpha. Values are stable: they travel on the wire. */
enum slic_sketch_mapping {
    SLIC_SKETCH_MAPPING_CUBIC = 1,
    SLIC_SKETCH_MAPPING_LOG = 2,
};

/* Creates an empty sketch. alpha in [SLIC_SKETCH_MIN_ALPHA, SLIC_SKETCH_MAX_ALPHA];
 * max_buckets in [16, SLIC_SKETCH_MAX_BUCKETS_LIMIT]. When more buckets than max_buckets would
 * be needed, the lowest collapse into one (see slic_sketch_collapsed). Returns 0, SLIC_EINVAL or
 * SLIC_ENOMEM; *out is written only on success. */
int slic_sketch_create(double alpha, uint32_t max_buckets, slic_sketch **out);
int slic_sketch_create_mapped(double alpha, uint32_t max_buckets, enum slic_sketch_mapping mapping,
                              slic_sketch **out);

/* A deep copy. 0 or SLIC_ENOMEM. */
int slic_sketch_clone(const slic_sketch *sk, slic_sketch **out);

/* Frees the sketch; NULL is allowed. */
void slic_sketch_destroy(slic_sketch *sk);

/* Empties the sketch, keeping its settings and memory. */
void slic_sketch_reset(slic_sketch *sk);

/* Records `value` once, or `n` times. Returns 0; SLIC_EVALUE for NaN, negative or infinite;
 * SLIC_ERANGE above SLIC_SKETCH_MAX_INDEXABLE; SLIC_EOVERFLOW if the count would pass 2^64-1
 * or the sum would overflow to infinity;
 * SLIC_ENOMEM if the bucket array had to grow and could not. On error nothing changes.
 * Allocates only when the value lies outside the bucket range seen so far. */
int slic_sketch_add(slic_sketch *sk, double value);
int slic_sketch_add_n(slic_sketch *sk, double value, uint64_t n);

/* Adds every value of src into dst. Returns 0; SLIC_EALPHA if alpha or mapping differ;
 * SLIC_EOVERFLOW or SLIC_ENOMEM (dst unchanged in every error case). */
int slic_sketch_merge(slic_sketch *dst, const slic_sketch *src);

/* The value at rank floor(q * (count - 1)) of the sorted values, within relative error alpha
 * (unless it falls in a collapsed bucket). q in [0, 1]. Returns 0, SLIC_EINVAL for a bad q or
 * an empty sketch. */
int slic_sketch_quantile(const slic_sketch *sk, double q, double *out);

/* How many recorded values are <= x: the true number lies in [lower, upper]. The uncertainty is
 * confined to the one bucket containing x (plus, for x below the zero bucket's limit, the zero
 * bucket), so upper - lower is at most that bucket's count. */
struct slic_sketch_rank {
    uint64_t lower;
    uint64_t upper;
};
int slic_sketch_rank(const slic_sketch *sk, double x, struct slic_sketch_rank *out);

uint64_t slic_sketch_count(const slic_sketch *sk);
double slic_sketch_sum(const slic_sketch *sk);
/* min and max are 0 for an empty sketch. */
double slic_sketch_min(const slic_sketch *sk);
double slic_sketch_max(const slic_sketch *sk);
double slic_sketch_alpha(const slic_sketch *sk);
enum slic_sketch_mapping slic_sketch_mapping_of(const slic_sketch *sk);
uint32_t slic_sketch_max_buckets(const slic_sketch *sk);
/* Number of buckets between the lowest and highest non-empty one, inclusive. */
uint32_t slic_sketch_bucket_span(const slic_sketch *sk);

/* True once the bucket cap forced the lowest buckets to collapse: the lowest bucket then also
 * holds values below its own range, and low quantiles are upper bounds. Callers report it. */
bool slic_sketch_collapsed(const slic_sketch *sk);

/* The bucket index of a value under this sketch's mapping (value in [MIN_INDEXABLE,
 * MAX_INDEXABLE]), and the bounds (lower, upper] of the values a bucket holds. For tests, the
 * benchmark and decoders that check consistency. */
int32_t slic_sketch_index_of(const slic_sketch *sk, double value);
void slic_sketch_bucket_bounds(const slic_sketch *sk, int32_t index, double *lower, double *upper);

/* A read-only picture of the sketch in its wire shape: counts[i] is the count of bucket
 * offset + i, trimmed so that counts[0] and counts[n - 1] are non-zero (n == 0 when every value
 * is in the zero bucket). Pointers stay valid until the sketch is next changed or destroyed. */
struct slic_sketch_view {
    enum slic_sketch_mapping mapping;
    double alpha;
    int32_t offset;
    uint32_t n;
    const uint64_t *counts;
    uint64_t zero_count;
    uint64_t count;
    double sum;
    double min;
    double max;
    bool collapsed;
};
void slic_sketch_view_get(const slic_sketch *sk, struct slic_sketch_view *out);

/* Adds the values a view describes into dst, as slic_sketch_merge does, without building a
 * sketch first: the fast path for merging stored sketches. The view must be trusted (one from
 * slic_sketch_view_get, or one that slic_sketch_from_view accepted): it is not validated beyond
 * alpha and mapping. Same return codes as slic_sketch_merge. */
int slic_sketch_merge_view(slic_sketch *dst, const struct slic_sketch_view *src);

/* Builds a sketch from a view that came from untrusted input, checking every field: alpha and
 * mapping known; n <= max_buckets; buckets inside the indexable range and trimmed; counts adding
 * up to count without overflow; min, max and sum finite, ordered and consistent with the
 * buckets. Returns 0, SLIC_EINVAL (bad alpha, mapping or max_buckets), SLIC_ETOOBIG,
 * SLIC_ERANGE, SLIC_EOVERFLOW, SLIC_EVALUE (NaN, negative or infinite min, max or sum),
 * SLIC_EINCONSISTENT or SLIC_ENOMEM. */
int slic_sketch_from_view(const struct slic_sketch_view *view, uint32_t max_buckets,
                          slic_sketch **out);

/* True when both hold the same values bucket for bucket, with equal settings, count, min, max
 * and collapse flag. The float sum is compared to a relative 1e-9: floating-point addition is
 * the one part of a merge whose last bits depend on order. */
bool slic_sketch_equal(const slic_sketch *a, const slic_sketch *b);

#endif
