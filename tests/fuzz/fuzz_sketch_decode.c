/* libFuzzer target for the Sketch decoder, the first code an untrusted peer's bytes reach.
 * Whatever codec_sketch_unpack accepts must be a sketch every other function can use without
 * fault, and must survive pack + unpack unchanged; any breach abort()s, which libFuzzer reports
 * as a crash with the input that caused it. */
#include "codec.h"

#include "alloc.h"
#include "err.h"
#include "sketch.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_BUCKETS 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
    if (!ok)
        abort();
}

static void check_view(const slic_sketch *sk)
{
    struct slic_sketch_view v;
    slic_sketch_view_get(sk, &v);
    require(v.n <= FUZZ_MAX_BUCKETS);
    require(v.n == 0 || (v.counts[0] != 0 && v.counts[v.n - 1] != 0));
    uint64_t total = v.zero_count;
    for (uint32_t i = 0; i < v.n; i++) {
        require(total <= UINT64_MAX - v.counts[i]);
        total += v.counts[i];
    }
    require(total == v.count);
    require(v.min >= 0 && v.min <= v.max && v.max <= SLIC_SKETCH_MAX_INDEXABLE);
}

/* Quantiles lie in [min, max] and rise with q; ranks stay within [0, count]. */
static void exercise_queries(const slic_sketch *sk)
{
    static const double qs[] = {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0};
    uint64_t count = slic_sketch_count(sk);
    double min = slic_sketch_min(sk), max = slic_sketch_max(sk), prev = min;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double v = -1;
        int rc = slic_sketch_quantile(sk, qs[i], &v);
        if (count == 0) {
            require(rc == SLIC_EINVAL);
            continue;
        }
        require(rc == 0 && v >= min && v <= max && v >= prev);
        prev = v;

        struct slic_sketch_rank r;
        require(slic_sketch_rank(sk, v, &r) == 0);
        require(r.lower <= r.upper && r.upper <= count);
    }
    const double xs[] = {0.0, min, max, max * 2, SLIC_SKETCH_MIN_INDEXABLE / 2, 1.0};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        struct slic_sketch_rank r;
        require(slic_sketch_rank(sk, xs[i], &r) == 0);
        require(r.lower <= r.upper && r.upper <= count);
        if (xs[i] >= max)
            require(r.lower == count && r.upper == count);
    }
}

/* Merging a sketch into its own copy doubles every count, or refuses without change. */
static void exercise_merge(const slic_sketch *sk)
{
    slic_sketch *copy = NULL;
    require(slic_sketch_clone(sk, &copy) == 0);
    uint64_t count = slic_sketch_count(sk);
    int rc = slic_sketch_merge(copy, sk);
    require(rc == 0 || rc == SLIC_EOVERFLOW);
    require(slic_sketch_count(copy) == (rc == 0 ? 2 * count : count));
    slic_sketch_destroy(copy);
}

static void check_roundtrip(const slic_sketch *sk)
{
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    slic_sketch *copy = NULL;
    require(codec_sketch_pack(sk, &buf, &len) == 0);
    require(codec_sketch_unpack(buf, len, FUZZ_MAX_BUCKETS, &copy, NULL) == 0);
    require(slic_sketch_equal(sk, copy));
    /* The canonical encoding is a fixed point: the copy encodes to the very same bytes. */
    require(codec_sketch_pack(copy, &buf2, &len2) == 0);
    require(len2 == len && memcmp(buf, buf2, len) == 0);
    slic_free(buf2);
    slic_free(buf);
    slic_sketch_destroy(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slic_sketch *sk = NULL;
    struct codec_error err;
    int rc = codec_sketch_unpack(data, size, FUZZ_MAX_BUCKETS, &sk, &err);
    if (rc != 0) {
        require(sk == NULL && rc < 0 && err.code == rc && err.msg[0] != '\0');
        return 0;
    }
    check_view(sk);
    exercise_queries(sk);
    exercise_merge(sk);
    check_roundtrip(sk);
    slic_sketch_destroy(sk);
    return 0;
}
