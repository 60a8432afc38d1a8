/* Benchmark of the latency sketch: how fast values go in, against the textbook log() mapping
 * and against a bare counts[i]++ loop (the floor no sketch can beat), how fast sketches merge,
 * and how small they encode. Run by `make bench` from the -O2 release build. Each timing is the
 * best of several runs, so other load on the machine shows up as noise, not as a slower sketch. */
#include "alloc.h"
#include "codec.h"
#include "sketch.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_VALUES 10000000
#define WINDOW_VALUES 10000
#define RUNS 5
#define MERGES 200000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64*: the benchmark needs speed and repeatability, not statistical finesse. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform01(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545f4914f6cdd1dull) >> 11) * 0x1p-53;
}

/* Lognormal latencies with a median of 50 ms (sigma 1: p99 is about half a second). */
static double lognormal_50ms(void)
{
    double u1 = uniform01(), u2 = uniform01();
    if (u1 <= 0)
        u1 = 0x1p-53;
    return 0.05 * exp(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_sketch: %s failed (%d)\n", what, rc);
    exit(1);
}

static slic_sketch *new_sketch(enum slic_sketch_mapping mapping)
{
    slic_sketch *sk = NULL;
    int rc = slic_sketch_create_mapped(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                                       mapping, &sk);
    if (rc)
        die("slic_sketch_create", rc);
    return sk;
}

/* Best-of-RUNS nanoseconds per value for inserting all values into a fresh sketch. */
static double time_inserts(const double *values, enum slic_sketch_mapping mapping)
{
    double best = INFINITY;
    for (int run = 0; run < RUNS; run++) {
        slic_sketch *sk = new_sketch(mapping);
        double t0 = now();
        for (size_t i = 0; i < N_VALUES; i++) {
            int rc = slic_sketch_add(sk, values[i]);
            if (rc)
                die("slic_sketch_add", rc);
        }
        double dt = now() - t0;
        if (slic_sketch_count(sk) != N_VALUES)
            die("count check", -1);
        slic_sketch_destroy(sk);
        if (dt < best)
            best = dt;
    }
    return best * 1e9 / N_VALUES;
}

/* The mapping alone: value -> bucket index, summed so the work cannot be optimised away. */
static double time_index(const double *values, enum slic_sketch_mapping mapping)
{
    slic_sketch *sk = new_sketch(mapping);
    double best = INFINITY;
    int64_t sum = 0;
    for (int run = 0; run < RUNS; run++) {
        double t0 = now();
        for (size_t i = 0; i < N_VALUES; i++)
            sum += slic_sketch_index_of(sk, values[i]);
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    slic_sketch_destroy(sk);
    if (sum == 42)
        printf(" ");
    return best * 1e9 / N_VALUES;
}

/* The floor: indexes computed beforehand, then only the increments. */
static double time_bare_increments(const double *values)
{
    slic_sketch *sk = new_sketch(SLIC_SKETCH_MAPPING_CUBIC);
    int32_t *idx = malloc(N_VALUES * sizeof *idx);
    if (!idx)
        die("malloc", -1);
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (size_t i = 0; i < N_VALUES; i++) {
        idx[i] = slic_sketch_index_of(sk, values[i]);
        lo = idx[i] < lo ? idx[i] : lo;
        hi = idx[i] > hi ? idx[i] : hi;
    }
    size_t span = (size_t)(hi - lo + 1);
    uint64_t *counts = calloc(span, sizeof *counts);
    double best = INFINITY;
    for (int run = 0; run < RUNS; run++) {
        memset(counts, 0, span * sizeof *counts);
        double t0 = now();
        for (size_t i = 0; i < N_VALUES; i++)
            counts[idx[i] - lo]++;
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < span; i++)
        total += counts[i];
    if (total != N_VALUES)
        die("floor count check", -1);
    free(counts);
    free(idx);
    slic_sketch_destroy(sk);
    return best * 1e9 / N_VALUES;
}

/* A sketch whose values spread over exactly `buckets` consecutive buckets. */
static slic_sketch *sketch_spanning(uint32_t buckets, double start)
{
    slic_sketch *sk = new_sketch(SLIC_SKETCH_MAPPING_CUBIC);
    int32_t first = slic_sketch_index_of(sk, start);
    for (uint32_t b = 0; b < buckets; b++) {
        double lo, hi;
        slic_sketch_bucket_bounds(sk, first + (int32_t)b, &lo, &hi);
        int rc = slic_sketch_add_n(sk, hi, 1 + b % 7);
        if (rc)
            die("slic_sketch_add_n", rc);
    }
    return sk;
}

static double time_merges(void)
{
    slic_sketch *a = sketch_spanning(1000, 0.0001), *b = sketch_spanning(1000, 0.0002);
    double best = INFINITY;
    for (int run = 0; run < RUNS; run++) {
        slic_sketch *dst = NULL;
        int rc = slic_sketch_clone(a, &dst);
        if (rc)
            die("slic_sketch_clone", rc);
        double t0 = now();
        for (int i = 0; i < MERGES; i++) {
            if ((rc = slic_sketch_merge(dst, b)))
                die("slic_sketch_merge", rc);
        }
        double dt = now() - t0;
        slic_sketch_destroy(dst);
        if (dt < best)
            best = dt;
    }
    slic_sketch_destroy(a);
    slic_sketch_destroy(b);
    return best * 1e9 / MERGES;
}

static size_t encoded_bytes(const double *values, size_t n, uint32_t *buckets)
{
    slic_sketch *sk = new_sketch(SLIC_SKETCH_MAPPING_CUBIC);
    for (size_t i = 0; i < n; i++)
        slic_sketch_add(sk, values[i]);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = codec_sketch_pack(sk, &buf, &len);
    if (rc)
        die("codec_sketch_pack", rc);
    *buckets = slic_sketch_bucket_span(sk);
    slic_free(buf);
    slic_sketch_destroy(sk);
    return len;
}

int main(void)
{
    double *values = malloc(N_VALUES * sizeof *values);
    if (!values)
        die("malloc", -1);
    for (size_t i = 0; i < N_VALUES; i++)
        values[i] = lognormal_50ms();

    double cubic_ns = time_inserts(values, SLIC_SKETCH_MAPPING_CUBIC);
    double log_ns = time_inserts(values, SLIC_SKETCH_MAPPING_LOG);
    double floor_ns = time_bare_increments(values);
    double cubic_index_ns = time_index(values, SLIC_SKETCH_MAPPING_CUBIC);
    double log_index_ns = time_index(values, SLIC_SKETCH_MAPPING_LOG);
    double merge_ns = time_merges();
    uint32_t window_buckets, all_buckets;
    size_t window_bytes = encoded_bytes(values, WINDOW_VALUES, &window_buckets);
    size_t all_bytes = encoded_bytes(values, N_VALUES, &all_buckets);

    printf("\nsketch benchmark: %d lognormal values (median 50 ms, sigma 1), alpha %.2f, "
           "best of %d runs\n",
           N_VALUES, SLIC_SKETCH_DEFAULT_ALPHA, RUNS);
    printf("%-46s %14s %s\n", "measure", "value", "target");
    printf("%-46s %11.2f ns\n", "insert, cubic mapping (slic default)", cubic_ns);
    printf("%-46s %11.2f ns\n", "insert, log() mapping (reference)", log_ns);
    printf("%-46s %11.2f ns\n", "bare counts[i]++ on precomputed indexes (floor)", floor_ns);
    printf("%-46s %13.2fx >= 2x: %s\n", "speed-up of cubic over log()", log_ns / cubic_ns,
           log_ns / cubic_ns >= 2.0 ? "met" : "MISSED");
    printf("%-46s %11.2f ns\n", "index only, cubic mapping", cubic_index_ns);
    printf("%-46s %11.2f ns\n", "index only, log() mapping", log_index_ns);
    printf("%-46s %13.2fx\n", "speed-up of the cubic mapping alone", log_index_ns / cubic_index_ns);
    printf("%-46s %11.1f ns\n", "merge two 1000-bucket sketches", merge_ns);
    printf("%-46s %11zu B  (%u buckets)\n", "encoded sketch, 10 s window of 10k values",
           window_bytes, window_buckets);
    printf("%-46s %11zu B  (%u buckets) < 3 KB: %s\n", "encoded sketch, 10M values", all_bytes,
           all_buckets, all_bytes < 3000 ? "met" : "MISSED");
    free(values);
    return 0;
}
