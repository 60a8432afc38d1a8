/* Tests of the latency sketch (common/sketch.c): the accuracy guarantee on four distributions,
 * exact and order-independent merging, rank bounds, rejection of bad values, and the edges
 * (zero, subnormals, the indexable limits, one value, empty sketches, the bucket cap). */
#include "harness.h"

#include "alloc.h"
#include "err.h"
#include "sketch.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALPHA SLIC_SKETCH_DEFAULT_ALPHA
#define N_VALUES 1000000
/* Rounding in computing a bucket's representative value may add ~1e-15 to its relative error. */
#define ALPHA_SLACK 1e-12

static const double quantiles[] = {0.5, 0.9, 0.95, 0.99, 0.999};

enum dist { DIST_UNIFORM, DIST_EXPONENTIAL, DIST_LOGNORMAL, DIST_PARETO, DIST_COUNT };
static const char *const dist_names[] = {"uniform", "exponential", "lognormal", "pareto"};

/* Latencies in seconds, shaped like real services: mostly tens of milliseconds, long tails. */
static double draw(struct harness_rng *r, enum dist d)
{
    double u = harness_rng_uniform(r);
    switch (d) {
    case DIST_UNIFORM:
        return 0.001 + u * 0.999;
    case DIST_EXPONENTIAL:
        return -0.1 * log1p(-u);
    case DIST_LOGNORMAL:
        return 0.05 * exp(harness_rng_normal(r));
    case DIST_PARETO:
        return 0.01 / pow(1.0 - u, 1.0 / 1.5);
    default:
        abort();
    }
}

static double *draw_many(enum dist d, size_t n, uint64_t seed)
{
    struct harness_rng r;
    harness_rng_seed(&r, seed);
    double *v = malloc(n * sizeof *v);
    CHECK(v != NULL);
    for (size_t i = 0; i < n; i++)
        v[i] = draw(&r, d);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static slic_sketch *sketch_new(void)
{
    slic_sketch *sk = NULL;
    CHECK_OK(slic_sketch_create(ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, &sk));
    return sk;
}

static slic_sketch *sketch_of(const double *v, size_t n)
{
    slic_sketch *sk = sketch_new();
    for (size_t i = 0; i < n; i++)
        CHECK_OK(slic_sketch_add(sk, v[i]));
    return sk;
}

/* The exact answer the sketch approximates: the value at rank floor(q (n - 1)). */
static double exact_quantile(const double *sorted, size_t n, double q)
{
    return sorted[(size_t)floor(q * (double)(n - 1))];
}

static void check_quantiles(const slic_sketch *sk, const double *sorted, size_t n, const char *what)
{
    for (size_t i = 0; i < sizeof quantiles / sizeof quantiles[0]; i++) {
        double got, want = exact_quantile(sorted, n, quantiles[i]);
        CHECK_OK(slic_sketch_quantile(sk, quantiles[i], &got));
        if (!(fabs(got - want) <= (slic_sketch_alpha(sk) + ALPHA_SLACK) * want))
            harness_fail(__FILE__, __LINE__, "%s q=%g: got %.9g, exact %.9g, rel. error %.5f", what,
                         quantiles[i], got, want, fabs(got - want) / want);
    }
}

/* How many sorted values are <= x. */
static uint64_t exact_rank(const double *sorted, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void check_rank(const slic_sketch *sk, const double *sorted, size_t n, double x)
{
    struct slic_sketch_rank r;
    CHECK_OK(slic_sketch_rank(sk, x, &r));
    uint64_t exact = exact_rank(sorted, n, x);
    if (!(r.lower <= exact && exact <= r.upper))
        harness_fail(__FILE__, __LINE__, "rank(%.9g): exact %llu outside [%llu, %llu]", x,
                     (unsigned long long)exact, (unsigned long long)r.lower,
                     (unsigned long long)r.upper);
    /* The uncertainty is at most the one bucket holding x (a collapsed lowest bucket also
     * holds everything below it, so there it can be wider). */
    if (!slic_sketch_collapsed(sk) && x >= SLIC_SKETCH_MIN_INDEXABLE && x < slic_sketch_max(sk) &&
        x >= slic_sketch_min(sk)) {
        double lower, upper;
        slic_sketch_bucket_bounds(sk, slic_sketch_index_of(sk, x), &lower, &upper);
        uint64_t in_bucket = exact_rank(sorted, n, upper) - exact_rank(sorted, n, lower);
        CHECK(r.upper - r.lower <= in_bucket);
    }
}

static void test_accuracy_one(enum dist d, enum slic_sketch_mapping mapping)
{
    double *v = draw_many(d, N_VALUES, 42 + d);
    slic_sketch *sk = NULL;
    CHECK_OK(slic_sketch_create_mapped(ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, mapping, &sk));
    for (size_t i = 0; i < N_VALUES; i++)
        CHECK_OK(slic_sketch_add(sk, v[i]));
    qsort(v, N_VALUES, sizeof *v, cmp_double);
    CHECK_U64_EQ(slic_sketch_count(sk), N_VALUES);
    CHECK_DBL_EQ(slic_sketch_min(sk), v[0]);
    CHECK_DBL_EQ(slic_sketch_max(sk), v[N_VALUES - 1]);
    CHECK(!slic_sketch_collapsed(sk));
    check_quantiles(sk, v, N_VALUES, dist_names[d]);
    /* Every rank at the quantiles, at the extremes and at 200 points spread over the range. */
    for (size_t i = 0; i < sizeof quantiles / sizeof quantiles[0]; i++)
        check_rank(sk, v, N_VALUES, exact_quantile(v, N_VALUES, quantiles[i]));
    check_rank(sk, v, N_VALUES, v[0]);
    check_rank(sk, v, N_VALUES, v[N_VALUES - 1]);
    check_rank(sk, v, N_VALUES, 0.0);
    check_rank(sk, v, N_VALUES, 0.3);
    for (int i = 0; i < 200; i++)
        check_rank(sk, v, N_VALUES, v[(size_t)i * (N_VALUES / 200)] * 1.0001);
    slic_sketch_destroy(sk);
    free(v);
}

static void test_accuracy_uniform(void)
{
    test_accuracy_one(DIST_UNIFORM, SLIC_SKETCH_MAPPING_CUBIC);
}

static void test_accuracy_exponential(void)
{
    test_accuracy_one(DIST_EXPONENTIAL, SLIC_SKETCH_MAPPING_CUBIC);
}

static void test_accuracy_lognormal(void)
{
    test_accuracy_one(DIST_LOGNORMAL, SLIC_SKETCH_MAPPING_CUBIC);
}

static void test_accuracy_pareto(void)
{
    test_accuracy_one(DIST_PARETO, SLIC_SKETCH_MAPPING_CUBIC);
}

static void test_accuracy_log_mapping(void)
{
    for (int d = 0; d < DIST_COUNT; d++)
        test_accuracy_one((enum dist)d, SLIC_SKETCH_MAPPING_LOG);
}

/* The guarantee at its source: every bucket's upper/lower ratio stays within gamma, and every
 * value lands in the bucket whose bounds contain it, for alphas across the allowed range. */
static void test_bucket_bounds_guarantee(void)
{
    static const double alphas[] = {0.0001, 0.001, 0.005, 0.01, 0.02, 0.05, 0.2};
    struct harness_rng r;
    harness_rng_seed(&r, 7);
    for (size_t a = 0; a < sizeof alphas / sizeof alphas[0]; a++) {
        for (int m = SLIC_SKETCH_MAPPING_CUBIC; m <= SLIC_SKETCH_MAPPING_LOG; m++) {
            slic_sketch *sk = NULL;
            CHECK_OK(slic_sketch_create_mapped(alphas[a], 1024, (enum slic_sketch_mapping)m, &sk));
            double gamma = (1 + alphas[a]) / (1 - alphas[a]);
            for (int i = 0; i < 200000; i++) {
                /* log-uniform over 1 ns .. 1000 s */
                double v = 1e-9 * pow(10, 12 * harness_rng_uniform(&r));
                double lo, hi;
                slic_sketch_bucket_bounds(sk, slic_sketch_index_of(sk, v), &lo, &hi);
                if (!(lo <= v * (1 + 1e-14) && v <= hi * (1 + 1e-14)))
                    harness_fail(__FILE__, __LINE__, "alpha %g: %.17g not in (%.17g, %.17g]",
                                 alphas[a], v, lo, hi);
                CHECK(hi / lo <= gamma * (1 + 1e-12));
            }
            slic_sketch_destroy(sk);
        }
    }
}

/* Merges parts[order[0]], parts[order[1]], ... into a fresh sketch. */
static slic_sketch *merge_in_order(slic_sketch **parts, const size_t *order, size_t n)
{
    slic_sketch *acc = NULL;
    CHECK_OK(slic_sketch_create(ALPHA, slic_sketch_max_buckets(parts[0]), &acc));
    for (size_t i = 0; i < n; i++)
        CHECK_OK(slic_sketch_merge(acc, parts[order[i]]));
    return acc;
}

/* Merges pairwise, like a tree of aggregators: a different association of the same parts. */
static slic_sketch *merge_tree(slic_sketch **parts, size_t n)
{
    slic_sketch **level = malloc(n * sizeof *level);
    CHECK(level != NULL);
    for (size_t i = 0; i < n; i++)
        CHECK_OK(slic_sketch_clone(parts[i], &level[i]));
    while (n > 1) {
        size_t out = 0;
        for (size_t i = 0; i + 1 < n; i += 2) {
            CHECK_OK(slic_sketch_merge(level[i + 1], level[i]));
            slic_sketch_destroy(level[i]);
            level[out++] = level[i + 1];
        }
        if (n % 2)
            level[out++] = level[n - 1];
        n = out;
    }
    slic_sketch *root = level[0];
    free(level);
    return root;
}

static void check_equal(const slic_sketch *a, const slic_sketch *b, const char *what)
{
    struct slic_sketch_view va, vb;
    slic_sketch_view_get(a, &va);
    slic_sketch_view_get(b, &vb);
    if (!slic_sketch_equal(a, b))
        harness_fail(__FILE__, __LINE__,
                     "%s: sketches differ (count %llu/%llu, offset %d/%d, buckets %u/%u)", what,
                     (unsigned long long)va.count, (unsigned long long)vb.count, va.offset,
                     vb.offset, va.n, vb.n);
    /* Bucket for bucket, bit for bit. */
    CHECK(va.n == vb.n && (va.n == 0 || memcmp(va.counts, vb.counts, va.n * 8) == 0));
}

static void merge_many(uint32_t max_buckets, double spread)
{
    enum { PARTS = 1000, VALUES = 200000 };
    struct harness_rng r;
    harness_rng_seed(&r, 99);
    slic_sketch *parts[PARTS];
    slic_sketch *whole = NULL;
    CHECK_OK(slic_sketch_create(ALPHA, max_buckets, &whole));
    for (size_t i = 0; i < PARTS; i++)
        CHECK_OK(slic_sketch_create(ALPHA, max_buckets, &parts[i]));
    for (size_t i = 0; i < VALUES; i++) {
        /* Random parts of random sizes: each value goes to a random sketch. */
        double v = draw(&r, (enum dist)(i % DIST_COUNT)) * pow(spread, harness_rng_uniform(&r));
        if (i % 1000 == 0)
            v = 0; /* some zeros, for the zero bucket */
        size_t p = harness_rng_next(&r) % PARTS;
        p = p * p / PARTS; /* skewed: a few big parts, many small or empty */
        CHECK_OK(slic_sketch_add(parts[p], v));
        CHECK_OK(slic_sketch_add(whole, v));
    }
    size_t order[PARTS];
    for (size_t i = 0; i < PARTS; i++)
        order[i] = i;
    slic_sketch *forward = merge_in_order(parts, order, PARTS);
    for (size_t i = 0; i < PARTS; i++)
        order[i] = PARTS - 1 - i;
    slic_sketch *backward = merge_in_order(parts, order, PARTS);
    for (size_t i = PARTS - 1; i > 0; i--) {
        size_t j = harness_rng_next(&r) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    slic_sketch *shuffled = merge_in_order(parts, order, PARTS);
    slic_sketch *tree = merge_tree(parts, PARTS);
    check_equal(forward, whole, "forward");
    check_equal(backward, whole, "backward");
    check_equal(shuffled, whole, "shuffled");
    check_equal(tree, whole, "tree");
    CHECK_U64_EQ(slic_sketch_count(forward), VALUES);
    slic_sketch_destroy(forward);
    slic_sketch_destroy(backward);
    slic_sketch_destroy(shuffled);
    slic_sketch_destroy(tree);
    slic_sketch_destroy(whole);
    for (size_t i = 0; i < PARTS; i++)
        slic_sketch_destroy(parts[i]);
}

static void test_merge_orders_equal_whole(void)
{
    merge_many(SLIC_SKETCH_DEFAULT_MAX_BUCKETS, 1.0);
}

/* With a small cap the lowest buckets collapse; where they collapse to depends only on the
 * highest bucket, so every order still gives the same sketch. */
static void test_merge_orders_equal_whole_collapsed(void)
{
    merge_many(64, 1e6);
}

static void test_merge_commutative_associative(void)
{
    double *va = draw_many(DIST_LOGNORMAL, 5000, 1);
    double *vb = draw_many(DIST_PARETO, 5000, 2);
    double *vc = draw_many(DIST_UNIFORM, 5000, 3);
    slic_sketch *a = sketch_of(va, 5000), *b = sketch_of(vb, 5000), *c = sketch_of(vc, 5000);
    slic_sketch *ab, *ba, *ab_c, *bc, *a_bc;
    CHECK_OK(slic_sketch_clone(a, &ab));
    CHECK_OK(slic_sketch_merge(ab, b));
    CHECK_OK(slic_sketch_clone(b, &ba));
    CHECK_OK(slic_sketch_merge(ba, a));
    check_equal(ab, ba, "a+b vs b+a");
    CHECK_OK(slic_sketch_clone(ab, &ab_c));
    CHECK_OK(slic_sketch_merge(ab_c, c));
    CHECK_OK(slic_sketch_clone(b, &bc));
    CHECK_OK(slic_sketch_merge(bc, c));
    CHECK_OK(slic_sketch_clone(a, &a_bc));
    CHECK_OK(slic_sketch_merge(a_bc, bc));
    check_equal(ab_c, a_bc, "(a+b)+c vs a+(b+c)");
    slic_sketch *list[] = {a, b, c, ab, ba, ab_c, bc, a_bc};
    for (size_t i = 0; i < 8; i++)
        slic_sketch_destroy(list[i]);
    free(va);
    free(vb);
    free(vc);
}

static void test_merge_empty(void)
{
    slic_sketch *empty = sketch_new(), *other = sketch_new(), *full = sketch_new();
    CHECK_OK(slic_sketch_add(full, 0.25));
    CHECK_OK(slic_sketch_add(full, 0.5));
    slic_sketch *before;
    CHECK_OK(slic_sketch_clone(full, &before));
    CHECK_OK(slic_sketch_merge(full, empty));
    check_equal(full, before, "full + empty");
    CHECK_OK(slic_sketch_merge(empty, other));
    CHECK_U64_EQ(slic_sketch_count(empty), 0);
    CHECK_OK(slic_sketch_merge(empty, full));
    check_equal(empty, full, "empty + full");
    slic_sketch_destroy(empty);
    slic_sketch_destroy(other);
    slic_sketch_destroy(full);
    slic_sketch_destroy(before);
}

static void test_merge_rejects_other_alpha_or_mapping(void)
{
    slic_sketch *a = sketch_new(), *b = NULL, *c = NULL;
    CHECK_OK(slic_sketch_create(0.02, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, &b));
    CHECK_OK(slic_sketch_create_mapped(ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                                       SLIC_SKETCH_MAPPING_LOG, &c));
    CHECK_OK(slic_sketch_add(b, 1.0));
    CHECK_OK(slic_sketch_add(c, 1.0));
    CHECK_ERR(slic_sketch_merge(a, b), SLIC_EALPHA);
    CHECK_ERR(slic_sketch_merge(a, c), SLIC_EALPHA);
    CHECK_U64_EQ(slic_sketch_count(a), 0);
    slic_sketch_destroy(a);
    slic_sketch_destroy(b);
    slic_sketch_destroy(c);
}

static void test_rejects_bad_values(void)
{
    slic_sketch *sk = sketch_new();
    CHECK_OK(slic_sketch_add(sk, 0.1));
    CHECK_ERR(slic_sketch_add(sk, NAN), SLIC_EVALUE);
    CHECK_ERR(slic_sketch_add(sk, -NAN), SLIC_EVALUE);
    CHECK_ERR(slic_sketch_add(sk, -0.001), SLIC_EVALUE);
    CHECK_ERR(slic_sketch_add(sk, -DBL_MAX), SLIC_EVALUE);
    CHECK_ERR(slic_sketch_add(sk, INFINITY), SLIC_EVALUE);
    CHECK_ERR(slic_sketch_add(sk, -INFINITY), SLIC_EVALUE);
    CHECK_ERR(slic_sketch_add(sk, DBL_MAX), SLIC_ERANGE);
    CHECK_ERR(slic_sketch_add_n(sk, NAN, 5), SLIC_EVALUE);
    /* Nothing changed. */
    CHECK_U64_EQ(slic_sketch_count(sk), 1);
    CHECK_DBL_EQ(slic_sketch_min(sk), 0.1);
    CHECK_DBL_EQ(slic_sketch_max(sk), 0.1);
    CHECK_DBL_EQ(slic_sketch_sum(sk), 0.1);
    slic_sketch_destroy(sk);
}

static void test_rejects_bad_arguments(void)
{
    slic_sketch *sk = NULL;
    CHECK_ERR(slic_sketch_create(0, 4096, &sk), SLIC_EINVAL);
    CHECK_ERR(slic_sketch_create(NAN, 4096, &sk), SLIC_EINVAL);
    CHECK_ERR(slic_sketch_create(0.5, 4096, &sk), SLIC_EINVAL);
    CHECK_ERR(slic_sketch_create(0.01, 8, &sk), SLIC_EINVAL);
    CHECK_ERR(slic_sketch_create(0.01, SLIC_SKETCH_MAX_BUCKETS_LIMIT + 1, &sk), SLIC_EINVAL);
    CHECK_ERR(slic_sketch_create_mapped(0.01, 4096, (enum slic_sketch_mapping)9, &sk), SLIC_EINVAL);
    CHECK(sk == NULL);
    sk = sketch_new();
    double q;
    CHECK_ERR(slic_sketch_quantile(sk, 0.5, &q), SLIC_EINVAL); /* empty */
    CHECK_OK(slic_sketch_add(sk, 1));
    CHECK_ERR(slic_sketch_quantile(sk, -0.01, &q), SLIC_EINVAL);
    CHECK_ERR(slic_sketch_quantile(sk, 1.01, &q), SLIC_EINVAL);
    CHECK_ERR(slic_sketch_quantile(sk, NAN, &q), SLIC_EINVAL);
    struct slic_sketch_rank r;
    CHECK_ERR(slic_sketch_rank(sk, NAN, &r), SLIC_EINVAL);
    slic_sketch_destroy(sk);
}

static void test_add_n_equals_repeated_add(void)
{
    slic_sketch *a = sketch_new(), *b = sketch_new();
    double values[] = {0, 0.001, 0.25, 0.25, 3.5, 1e-7};
    for (size_t i = 0; i < 6; i++) {
        CHECK_OK(slic_sketch_add_n(a, values[i], 4));
        for (int k = 0; k < 4; k++)
            CHECK_OK(slic_sketch_add(b, values[i]));
    }
    CHECK_OK(slic_sketch_add_n(a, 9.0, 0)); /* n = 0 records nothing */
    check_equal(a, b, "add_n vs add");
    CHECK_U64_EQ(slic_sketch_count(a), 24);
    slic_sketch_destroy(a);
    slic_sketch_destroy(b);
}

static void test_count_overflow(void)
{
    slic_sketch *sk = sketch_new(), *other = sketch_new();
    CHECK_OK(slic_sketch_add_n(sk, 0.5, UINT64_MAX - 1));
    CHECK_OK(slic_sketch_add(sk, 0.5));
    CHECK_ERR(slic_sketch_add(sk, 0.5), SLIC_EOVERFLOW);
    CHECK_OK(slic_sketch_add(other, 0.5));
    CHECK_ERR(slic_sketch_merge(sk, other), SLIC_EOVERFLOW);
    CHECK_U64_EQ(slic_sketch_count(sk), UINT64_MAX);
    slic_sketch_destroy(sk);
    slic_sketch_destroy(other);
    /* A sum that would overflow to infinity is refused, by add and by merge, changing nothing. */
    sk = sketch_new();
    other = sketch_new();
    CHECK_OK(slic_sketch_add_n(sk, 1e300, 1000));
    CHECK_ERR(slic_sketch_add_n(sk, 1e300, 1000000000), SLIC_EOVERFLOW);
    CHECK_U64_EQ(slic_sketch_count(sk), 1000);
    CHECK_OK(slic_sketch_add_n(other, 1e300, 150000000)); /* sum 1.5e308, near DBL_MAX */
    CHECK_ERR(slic_sketch_merge(other, other), SLIC_EOVERFLOW);
    CHECK_U64_EQ(slic_sketch_count(other), 150000000);
    CHECK(isfinite(slic_sketch_sum(other)));
    slic_sketch_destroy(sk);
    slic_sketch_destroy(other);
}

static void test_powers_of_two(void)
{
    slic_sketch *sk = sketch_new();
    for (int e = -30; e <= 30; e++) {
        double v = ldexp(1.0, e), lo, hi;
        slic_sketch_bucket_bounds(sk, slic_sketch_index_of(sk, v), &lo, &hi);
        CHECK(lo < v && v <= hi * (1 + 1e-15));
        slic_sketch *one = sketch_new();
        CHECK_OK(slic_sketch_add(one, v));
        double q;
        CHECK_OK(slic_sketch_quantile(one, 0.5, &q));
        CHECK_DBL_EQ(q, v); /* one value: clamped to min = max = v */
        slic_sketch_destroy(one);
        CHECK_OK(slic_sketch_add(sk, v));
    }
    double sorted[61];
    for (int e = -30; e <= 30; e++)
        sorted[e + 30] = ldexp(1.0, e);
    check_quantiles(sk, sorted, 61, "powers of two");
    slic_sketch_destroy(sk);
}

static void test_zero_and_subnormals(void)
{
    slic_sketch *sk = sketch_new();
    CHECK_OK(slic_sketch_add(sk, 0.0));
    CHECK_OK(slic_sketch_add(sk, -0.0));
    CHECK_OK(slic_sketch_add(sk, DBL_TRUE_MIN));
    CHECK_OK(slic_sketch_add(sk, DBL_MIN / 2)); /* subnormal */
    CHECK_OK(slic_sketch_add(sk, DBL_MIN));
    CHECK_OK(slic_sketch_add(sk, SLIC_SKETCH_MIN_INDEXABLE / 2));
    struct slic_sketch_view v;
    slic_sketch_view_get(sk, &v);
    CHECK_U64_EQ(v.zero_count, 6);
    CHECK_INT_EQ(v.n, 0);
    double q;
    CHECK_OK(slic_sketch_quantile(sk, 0.99, &q));
    CHECK(q < SLIC_SKETCH_MIN_INDEXABLE);
    struct slic_sketch_rank r;
    CHECK_OK(slic_sketch_rank(sk, 1.0, &r));
    CHECK_U64_EQ(r.lower, 6);
    CHECK_U64_EQ(r.upper, 6);
    CHECK_OK(slic_sketch_add(sk, 0.2));
    CHECK_OK(slic_sketch_quantile(sk, 0.0, &q));
    CHECK_DBL_EQ(q, 0.0);
    CHECK_OK(slic_sketch_quantile(sk, 1.0, &q));
    CHECK_DBL_EQ(q, 0.2);
    slic_sketch_destroy(sk);
}

static void test_indexable_limits(void)
{
    slic_sketch *sk = sketch_new();
    double lo = SLIC_SKETCH_MIN_INDEXABLE, hi = SLIC_SKETCH_MAX_INDEXABLE;
    CHECK_OK(slic_sketch_add(sk, lo));
    CHECK_OK(slic_sketch_add(sk, hi));
    CHECK_ERR(slic_sketch_add(sk, nextafter(hi, INFINITY)), SLIC_ERANGE);
    struct slic_sketch_view v;
    slic_sketch_view_get(sk, &v);
    CHECK_U64_EQ(v.zero_count, 0);
    /* The two limits are ~2000 binary orders apart: far past the default cap. */
    CHECK(slic_sketch_collapsed(sk));
    double q;
    CHECK_OK(slic_sketch_quantile(sk, 1.0, &q));
    CHECK_DBL_EQ(q, hi);
    slic_sketch *wide = NULL;
    CHECK_OK(slic_sketch_create(0.2, SLIC_SKETCH_MAX_BUCKETS_LIMIT, &wide));
    CHECK_OK(slic_sketch_add(wide, lo));
    CHECK_OK(slic_sketch_add(wide, lo * 1.5));
    CHECK_OK(slic_sketch_add(wide, hi));
    CHECK(!slic_sketch_collapsed(wide));
    CHECK_OK(slic_sketch_quantile(wide, 0.5, &q));
    CHECK_REL(q, lo * 1.5, 0.2 + ALPHA_SLACK);
    double b_lo, b_hi;
    slic_sketch_bucket_bounds(wide, slic_sketch_index_of(wide, hi), &b_lo, &b_hi);
    CHECK(isfinite(b_hi) && b_lo < hi && hi <= b_hi);
    slic_sketch_destroy(sk);
    slic_sketch_destroy(wide);
}

static void test_one_value_and_empty(void)
{
    slic_sketch *sk = sketch_new();
    struct slic_sketch_rank r;
    CHECK_OK(slic_sketch_rank(sk, 1.0, &r));
    CHECK_U64_EQ(r.upper, 0);
    CHECK_U64_EQ(slic_sketch_count(sk), 0);
    CHECK_DBL_EQ(slic_sketch_min(sk), 0);
    CHECK_INT_EQ(slic_sketch_bucket_span(sk), 0);
    CHECK_OK(slic_sketch_add(sk, 0.123));
    for (size_t i = 0; i < 5; i++) {
        double q;
        CHECK_OK(slic_sketch_quantile(sk, quantiles[i], &q));
        CHECK_DBL_EQ(q, 0.123);
    }
    CHECK_OK(slic_sketch_rank(sk, 0.123, &r));
    CHECK_U64_EQ(r.lower, 1);
    CHECK_OK(slic_sketch_rank(sk, 0.1229, &r));
    CHECK_U64_EQ(r.upper, 0);
    slic_sketch_reset(sk);
    CHECK_U64_EQ(slic_sketch_count(sk), 0);
    CHECK_INT_EQ(slic_sketch_bucket_span(sk), 0);
    CHECK_OK(slic_sketch_add(sk, 7.0));
    CHECK_DBL_EQ(slic_sketch_min(sk), 7.0);
    slic_sketch_destroy(sk);
    slic_sketch_destroy(NULL);
}

static void test_collapse_at_cap(void)
{
    slic_sketch *sk = NULL;
    CHECK_OK(slic_sketch_create(ALPHA, 100, &sk));
    /* 100 buckets at 1% cover a ratio of about e^2 = 7.4; values span 1 µs .. 10 s. */
    double *v = draw_many(DIST_LOGNORMAL, 100000, 5);
    for (size_t i = 0; i < 100000; i++)
        CHECK_OK(slic_sketch_add(sk, v[i]));
    CHECK_OK(slic_sketch_add(sk, 1e-6));
    CHECK_OK(slic_sketch_add(sk, 10.0));
    CHECK(slic_sketch_collapsed(sk));
    CHECK_INT_EQ(slic_sketch_bucket_span(sk), 100);
    CHECK_U64_EQ(slic_sketch_count(sk), 100002);
    /* Counts stay exact; quantiles above the collapsed range keep their accuracy. */
    double *all = malloc(100002 * sizeof *all);
    memcpy(all, v, 100000 * sizeof *all);
    all[100000] = 1e-6;
    all[100001] = 10.0;
    qsort(all, 100002, sizeof *all, cmp_double);
    double q, want = exact_quantile(all, 100002, 0.9999);
    CHECK_OK(slic_sketch_quantile(sk, 0.9999, &q));
    CHECK_REL(q, want, ALPHA + ALPHA_SLACK);
    /* The collapsed lowest bucket widens the rank bound below it but never breaks it. */
    check_rank(sk, all, 100002, 2e-6);
    check_rank(sk, all, 100002, 0.05);
    free(all);
    free(v);
    slic_sketch_destroy(sk);
}

static void test_allocation_failure_changes_nothing(void)
{
    slic_sketch *sk = NULL;
    slic_alloc_fail_after(0);
    CHECK_ERR(slic_sketch_create(ALPHA, 4096, &sk), SLIC_ENOMEM);
    slic_alloc_fail_after(1);
    CHECK_OK(slic_sketch_create(ALPHA, 4096, &sk));
    CHECK_ERR(slic_sketch_add(sk, 0.5), SLIC_ENOMEM);
    CHECK_U64_EQ(slic_sketch_count(sk), 0);
    slic_alloc_fail_after(-1);
    CHECK_OK(slic_sketch_add(sk, 0.5));
    /* Growing the bucket array fails: the sketch keeps what it had. */
    slic_alloc_fail_after(0);
    CHECK_ERR(slic_sketch_add(sk, 500.0), SLIC_ENOMEM);
    slic_sketch *copy = NULL;
    CHECK_ERR(slic_sketch_clone(sk, &copy), SLIC_ENOMEM);
    slic_sketch *other = NULL;
    slic_alloc_fail_after(-1);
    CHECK_OK(slic_sketch_create(ALPHA, 4096, &other));
    CHECK_OK(slic_sketch_add(other, 1e-5));
    slic_alloc_fail_after(0);
    CHECK_ERR(slic_sketch_merge(sk, other), SLIC_ENOMEM);
    slic_alloc_fail_after(-1);
    CHECK_U64_EQ(slic_sketch_count(sk), 1);
    CHECK_INT_EQ(slic_sketch_bucket_span(sk), 1);
    CHECK_OK(slic_sketch_merge(sk, other));
    CHECK_U64_EQ(slic_sketch_count(sk), 2);
    slic_sketch_destroy(sk);
    slic_sketch_destroy(other);
}

HARNESS_CASES(HARNESS_CASE(test_accuracy_uniform), HARNESS_CASE(test_accuracy_exponential),
              HARNESS_CASE(test_accuracy_lognormal), HARNESS_CASE(test_accuracy_pareto),
              HARNESS_CASE(test_accuracy_log_mapping), HARNESS_CASE(test_bucket_bounds_guarantee),
              HARNESS_CASE(test_merge_orders_equal_whole),
              HARNESS_CASE(test_merge_orders_equal_whole_collapsed),
              HARNESS_CASE(test_merge_commutative_associative), HARNESS_CASE(test_merge_empty),
              HARNESS_CASE(test_merge_rejects_other_alpha_or_mapping),
              HARNESS_CASE(test_rejects_bad_values), HARNESS_CASE(test_rejects_bad_arguments),
              HARNESS_CASE(test_add_n_equals_repeated_add), HARNESS_CASE(test_count_overflow),
              HARNESS_CASE(test_powers_of_two), HARNESS_CASE(test_zero_and_subnormals),
              HARNESS_CASE(test_indexable_limits), HARNESS_CASE(test_one_value_and_empty),
              HARNESS_CASE(test_collapse_at_cap),
              HARNESS_CASE(test_allocation_failure_changes_nothing));

HARNESS_MAIN()
