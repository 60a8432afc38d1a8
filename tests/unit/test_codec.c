/* Tests of proto/codec.c's Sketch codec: sketches survive encode + decode exactly, and every
 * kind of bad input is refused with the code (and the field named in struct codec_error) that
 * codec.h and sketch.h promise, through both the message and the byte entry points.
 *
 * Decode-error cases (one harness case each):
 *   decode_truncated            every prefix of a valid encoding fails or decodes to a valid sketch
 *   decode_oversized            more than CODEC_MAX_SKETCH_BYTES -> SLIC_ETOOBIG (exactly it: ok)
 *   decode_garbage              bytes that are not protobuf -> SLIC_EDECODE; random bytes and
 *                               mutated encodings never crash and never yield an invalid sketch
 *   decode_wrong_wire_type      a known field with the wrong wire type -> SLIC_EDECODE
 *   decode_missing_required     alpha, mapping, count absent; offset with counts; min, max, sum
 *                               with count > 0 -> SLIC_EMISSING naming the field
 *   decode_unknown_mapping      mapping 0 (unspecified), 3, 7, -1 -> SLIC_EINVAL
 *   decode_alpha_out_of_range   0, negative, too small, too large, NaN, inf -> SLIC_EINVAL
 *   decode_offset_out_of_range  buckets below or above the indexable range -> SLIC_ERANGE
 *   decode_offset_overflow      offset + n past INT32_MAX -> SLIC_ERANGE
 *   decode_counts_mismatch      count != zero_count + counts -> SLIC_EINCONSISTENT
 *   decode_counts_overflow      counts summing past UINT64_MAX -> SLIC_EOVERFLOW
 *   decode_untrimmed            leading or trailing zero count -> SLIC_EINCONSISTENT
 *   decode_too_many_buckets     more buckets than max_buckets -> SLIC_ETOOBIG
 *   decode_bad_stats            NaN, negative or infinite min, max or sum -> SLIC_EVALUE
 *   decode_min_above_max        min > max -> SLIC_EINCONSISTENT
 *   decode_count_zero_nonempty  count 0 with buckets, zero_count or min -> SLIC_EINCONSISTENT
 *   decode_stats_outside_buckets min or max outside the end buckets -> SLIC_EINCONSISTENT
 *   decode_bad_max_buckets      the decoder's own max_buckets out of range -> SLIC_EINVAL
 */
#include "codec.h"

#include "alloc.h"
#include "codec_internal.h"
#include "err.h"
#include "harness.h"
#include "sketch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------- */

static slic_sketch *new_sketch(double alpha, uint32_t max_buckets, enum slic_sketch_mapping m)
{
    slic_sketch *sk = NULL;
    CHECK_OK(slic_sketch_create_mapped(alpha, max_buckets, m, &sk));
    return sk;
}

static slic_sketch *default_sketch(void)
{
    return new_sketch(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                      SLIC_SKETCH_MAPPING_CUBIC);
}

enum dist {
    DIST_UNIFORM,
    DIST_LOGNORMAL,
    DIST_EXPONENTIAL,
    DIST_BIMODAL,
    DIST_WITH_ZEROS,
    DIST_COUNT,
};

static double draw(struct harness_rng *r, enum dist d)
{
    switch (d) {
    case DIST_UNIFORM:
        return 0.001 + harness_rng_uniform(r);
    case DIST_LOGNORMAL:
        return exp(harness_rng_normal(r) * 1.5 - 3.0);
    case DIST_EXPONENTIAL:
        return -log(1.0 - harness_rng_uniform(r)) * 0.2;
    case DIST_BIMODAL:
        return harness_rng_uniform(r) < 0.9 ? 0.01 * (1 + 0.03 * harness_rng_normal(r))
                                            : 2.0 + harness_rng_uniform(r);
    case DIST_WITH_ZEROS:
    default:
        return harness_rng_uniform(r) < 0.2 ? 0.0 : 1e-6 * exp(harness_rng_uniform(r) * 20);
    }
}

static void fill(slic_sketch *sk, enum dist d, int n, uint64_t seed)
{
    struct harness_rng r;
    harness_rng_seed(&r, seed);
    for (int i = 0; i < n; i++)
        CHECK_OK(slic_sketch_add(sk, draw(&r, d)));
}

static void msg_of(const slic_sketch *sk, Slic__Sketch *m)
{
    slic__sketch__init(m);
    CHECK_OK(codec_sketch_to_msg(sk, m));
}

/* Serializes a hand-made message (protobuf-c, not the codec) into a malloc'd buffer. */
static uint8_t *msg_bytes(const Slic__Sketch *m, size_t *len)
{
    size_t n = slic__sketch__get_packed_size(m);
    uint8_t *buf = malloc(n > 0 ? n : 1);
    CHECK(buf != NULL);
    CHECK_U64_EQ(slic__sketch__pack(m, buf), n);
    *len = n;
    return buf;
}

static void check_views_equal(const slic_sketch *a, const slic_sketch *b)
{
    struct slic_sketch_view va, vb;
    slic_sketch_view_get(a, &va);
    slic_sketch_view_get(b, &vb);
    CHECK_INT_EQ(va.mapping, vb.mapping);
    CHECK_DBL_EQ(va.alpha, vb.alpha);
    CHECK_INT_EQ(va.offset, vb.offset);
    CHECK_U64_EQ(va.n, vb.n);
    CHECK(va.n == 0 || memcmp(va.counts, vb.counts, va.n * sizeof *va.counts) == 0);
    CHECK_U64_EQ(va.zero_count, vb.zero_count);
    CHECK_U64_EQ(va.count, vb.count);
    /* The wire carries the sum's exact bits, so no tolerance is needed here. */
    CHECK_DBL_EQ(va.sum, vb.sum);
    CHECK_DBL_EQ(va.min, vb.min);
    CHECK_DBL_EQ(va.max, vb.max);
    CHECK_INT_EQ(va.collapsed, vb.collapsed);
}

/* Encodes, decodes and re-encodes through both entry points, checking the copy is exact and
 * the encoding canonical (the copy encodes to the same bytes). */
static void roundtrip(const slic_sketch *sk, uint32_t max_buckets)
{
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    slic_sketch *copy = NULL;
    struct codec_error err = {0};
    CHECK_OK(codec_sketch_pack(sk, &buf, &len));
    CHECK(len <= CODEC_MAX_SKETCH_BYTES);
    int rc = codec_sketch_unpack(buf, len, max_buckets, &copy, &err);
    if (rc != 0) {
        char why[300];
        harness_fail(__FILE__, __LINE__, "unpack: %s: %s", slic_errname(rc),
                     codec_error_format(&err, why, sizeof why));
    }
    CHECK(slic_sketch_equal(sk, copy));
    CHECK(slic_sketch_equal(copy, sk));
    check_views_equal(sk, copy);
    CHECK_OK(codec_sketch_pack(copy, &buf2, &len2));
    CHECK_U64_EQ(len2, len);
    CHECK(memcmp(buf, buf2, len) == 0);
    slic_sketch_destroy(copy);
    copy = NULL;

    Slic__Sketch m;
    msg_of(sk, &m);
    CHECK_OK(codec_sketch_from_msg(&m, max_buckets, &copy, NULL));
    CHECK(slic_sketch_equal(sk, copy));
    check_views_equal(sk, copy);
    slic_sketch_destroy(copy);
    slic_free(buf);
    slic_free(buf2);
}

/* What a successfully decoded sketch must satisfy whatever bytes it came from. */
static void check_decoded_valid(const slic_sketch *sk, uint32_t max_buckets)
{
    struct slic_sketch_view v;
    slic_sketch_view_get(sk, &v);
    CHECK(v.n <= max_buckets);
    uint64_t total = v.zero_count;
    for (uint32_t i = 0; i < v.n; i++)
        total += v.counts[i];
    CHECK_U64_EQ(total, v.count);
    CHECK(v.n == 0 || (v.counts[0] != 0 && v.counts[v.n - 1] != 0));
    CHECK(isfinite(v.min) && isfinite(v.max) && isfinite(v.sum));
    CHECK(v.min >= 0 && v.min <= v.max);
    roundtrip(sk, max_buckets);
}

/* Checks a decode failure: the code, the untouched out-param and the error's field, through
 * codec_sketch_from_msg and, for the same message as bytes, codec_sketch_unpack. */
#define EXPECT_REJECT(m, max_buckets, want, field)                                                 \
    expect_reject_at(__FILE__, __LINE__, (m), (max_buckets), (want), (field))

static void expect_one(const char *file, int line, const char *how, int rc,
                       const struct codec_error *err, slic_sketch *out, int want, const char *field)
{
    static char buf[400];
    if (rc != want)
        harness_fail(file, line, "%s returned %s, expected %s (%s)", how, slic_errname(rc),
                     slic_errname(want), rc ? codec_error_format(err, buf, sizeof buf) : "ok");
    if (out != NULL)
        harness_fail(file, line, "%s wrote *out on failure", how);
    if (err->code != want || strcmp(err->field, field) != 0 || err->msg[0] == '\0')
        harness_fail(file, line, "%s: error {%s, \"%s\", \"%s\"}, expected field \"%s\"", how,
                     slic_errname(err->code), err->field, err->msg, field);
}

static void expect_reject_at(const char *file, int line, const Slic__Sketch *m,
                             uint32_t max_buckets, int want, const char *field)
{
    struct codec_error err = {0};
    slic_sketch *out = NULL;
    int rc = codec_sketch_from_msg(m, max_buckets, &out, &err);
    expect_one(file, line, "codec_sketch_from_msg", rc, &err, out, want, field);
    if (codec_sketch_from_msg(m, max_buckets, &out, NULL) != want)
        harness_fail(file, line, "codec_sketch_from_msg with err NULL: another code");

    size_t len;
    uint8_t *buf = msg_bytes(m, &len);
    struct codec_error err2 = {0};
    rc = codec_sketch_unpack(buf, len, max_buckets, &out, &err2);
    expect_one(file, line, "codec_sketch_unpack", rc, &err2, out, want, field);
    free(buf);
}

/* A sketch whose message has every field present: buckets, zeros, a non-zero count. */
static slic_sketch *full_sketch(void)
{
    slic_sketch *sk = default_sketch();
    CHECK_OK(slic_sketch_add(sk, 0.0));
    for (int i = 1; i <= 10; i++)
        CHECK_OK(slic_sketch_add(sk, i * 0.1));
    return sk;
}

/* A sketch of values 1..10 (about 115 buckets at 1%), no zeros. */
static slic_sketch *wide_sketch(void)
{
    slic_sketch *sk = default_sketch();
    for (int i = 0; i <= 100; i++)
        CHECK_OK(slic_sketch_add(sk, 1.0 + i * 0.09));
    return sk;
}

/* ---- round trips --------------------------------------------------------------------------- */

static void roundtrip_empty(void)
{
    slic_sketch *sk = default_sketch();
    roundtrip(sk, SLIC_SKETCH_DEFAULT_MAX_BUCKETS);
    Slic__Sketch m;
    msg_of(sk, &m);
    CHECK(m.has_mapping && m.has_alpha && m.has_count);
    CHECK(!m.has_offset && m.n_counts == 0 && !m.has_zero_count);
    CHECK(!m.has_min && !m.has_max && !m.has_sum && !m.has_collapsed);
    slic_sketch_destroy(sk);
}

static void roundtrip_one_value(void)
{
    slic_sketch *sk = default_sketch();
    CHECK_OK(slic_sketch_add(sk, 0.25));
    roundtrip(sk, SLIC_SKETCH_DEFAULT_MAX_BUCKETS);
    Slic__Sketch m;
    msg_of(sk, &m);
    CHECK_U64_EQ(m.n_counts, 1);
    CHECK_U64_EQ(m.counts[0], 1);
    CHECK_INT_EQ(m.offset, slic_sketch_index_of(sk, 0.25));
    CHECK_DBL_EQ(m.min, 0.25);
    CHECK_DBL_EQ(m.max, 0.25);
    CHECK_DBL_EQ(m.sum, 0.25);
    slic_sketch_destroy(sk);
}

static void roundtrip_zero_only(void)
{
    slic_sketch *sk = default_sketch();
    CHECK_OK(slic_sketch_add(sk, 0.0));
    CHECK_OK(slic_sketch_add_n(sk, 0.0, 41));
    /* Below the indexable range counts as zero too (subnormals included). */
    CHECK_OK(slic_sketch_add(sk, 0x1p-1030));
    roundtrip(sk, SLIC_SKETCH_DEFAULT_MAX_BUCKETS);
    Slic__Sketch m;
    msg_of(sk, &m);
    CHECK(!m.has_offset && m.n_counts == 0);
    CHECK_U64_EQ(m.zero_count, 43);
    CHECK(m.has_min && m.has_max && m.has_sum);
    slic_sketch_destroy(sk);
}

static void roundtrip_distributions(void)
{
    const double alphas[] = {SLIC_SKETCH_MIN_ALPHA, 0.001, 0.01, 0.05, SLIC_SKETCH_MAX_ALPHA};
    const enum slic_sketch_mapping maps[] = {SLIC_SKETCH_MAPPING_CUBIC, SLIC_SKETCH_MAPPING_LOG};
    for (size_t a = 0; a < sizeof alphas / sizeof alphas[0]; a++) {
        for (size_t mi = 0; mi < 2; mi++) {
            for (int d = 0; d < DIST_COUNT; d++) {
                slic_sketch *sk = new_sketch(alphas[a], SLIC_SKETCH_MAX_BUCKETS_LIMIT, maps[mi]);
                fill(sk, (enum dist)d, 5000, 1000 * a + 100 * mi + (uint64_t)d);
                /* Large counts make multi-byte varints. */
                CHECK_OK(slic_sketch_add_n(sk, 0.5, UINT64_C(1) << 40));
                roundtrip(sk, SLIC_SKETCH_MAX_BUCKETS_LIMIT);
                slic_sketch_destroy(sk);
            }
        }
    }
}

static void roundtrip_collapsed(void)
{
    slic_sketch *sk = new_sketch(0.01, 16, SLIC_SKETCH_MAPPING_CUBIC);
    for (double v = 1e-9; v < 1e9; v *= 1.7)
        CHECK_OK(slic_sketch_add(sk, v));
    CHECK(slic_sketch_collapsed(sk));
    CHECK(slic_sketch_bucket_span(sk) <= 16);
    roundtrip(sk, 16);
    Slic__Sketch m;
    msg_of(sk, &m);
    CHECK(m.has_collapsed && m.collapsed);
    slic_sketch_destroy(sk);
}

static void roundtrip_log_mapping(void)
{
    slic_sketch *sk = new_sketch(0.02, 2048, SLIC_SKETCH_MAPPING_LOG);
    fill(sk, DIST_LOGNORMAL, 20000, 7);
    fill(sk, DIST_WITH_ZEROS, 1000, 8);
    roundtrip(sk, 2048);
    Slic__Sketch m;
    msg_of(sk, &m);
    CHECK_INT_EQ(m.mapping, SLIC__SKETCH__MAPPING__LOG);
    uint8_t *buf;
    size_t len;
    slic_sketch *copy = NULL;
    CHECK_OK(codec_sketch_pack(sk, &buf, &len));
    CHECK_OK(codec_sketch_unpack(buf, len, 2048, &copy, NULL));
    CHECK_INT_EQ(slic_sketch_mapping_of(copy), SLIC_SKETCH_MAPPING_LOG);
    slic_sketch_destroy(copy);
    slic_free(buf);
    slic_sketch_destroy(sk);
}

/* The ends of everything: the indexable limits, a subnormal, counts near 2^64. */
static void roundtrip_extremes(void)
{
    slic_sketch *sk = new_sketch(SLIC_SKETCH_MAX_ALPHA, 4096, SLIC_SKETCH_MAPPING_CUBIC);
    CHECK_OK(slic_sketch_add(sk, SLIC_SKETCH_MAX_INDEXABLE));
    CHECK_OK(slic_sketch_add(sk, SLIC_SKETCH_MIN_INDEXABLE));
    CHECK_OK(slic_sketch_add(sk, 0x1p-1070));
    CHECK_OK(slic_sketch_add_n(sk, 1.0, UINT64_MAX - 3));
    CHECK(!slic_sketch_collapsed(sk));
    roundtrip(sk, 4096);
    slic_sketch_destroy(sk);
}

/* Fields a later schema adds are skipped, not refused (slic.proto: new optional fields do not
 * bump the version). */
static void decode_ignores_unknown_fields(void)
{
    slic_sketch *sk = full_sketch();
    uint8_t *buf;
    size_t len;
    CHECK_OK(codec_sketch_pack(sk, &buf, &len));
    const uint8_t extra[] = {0xa8, 0x01, 0x05, 0x7a, 0x03, 'a', 'b', 'c'}; /* 21: 5, 15: "abc" */
    uint8_t *longer = malloc(len + sizeof extra);
    CHECK(longer != NULL);
    memcpy(longer, buf, len);
    memcpy(longer + len, extra, sizeof extra);
    slic_sketch *copy = NULL;
    CHECK_OK(codec_sketch_unpack(longer, len + sizeof extra, 4096, &copy, NULL));
    CHECK(slic_sketch_equal(sk, copy));
    slic_sketch_destroy(copy);
    free(longer);
    slic_free(buf);
    slic_sketch_destroy(sk);
}

static void to_msg_borrows(void)
{
    slic_sketch *sk = wide_sketch();
    struct slic_sketch_view v;
    slic_sketch_view_get(sk, &v);
    Slic__Sketch m;
    slic__sketch__init(&m);
    /* Filling a message must not allocate. */
    slic_alloc_fail_after(0);
    int rc = codec_sketch_to_msg(sk, &m);
    slic_alloc_fail_after(-1);
    CHECK_OK(rc);
    CHECK(m.counts == v.counts);
    CHECK_U64_EQ(m.n_counts, v.n);
    /* Reusing the message for an empty sketch clears what no longer applies. */
    slic_sketch *empty = default_sketch();
    CHECK_OK(codec_sketch_to_msg(empty, &m));
    CHECK(!m.has_offset && m.n_counts == 0 && !m.has_min && !m.has_max && !m.has_sum);
    slic_sketch_destroy(empty);
    slic_sketch_destroy(sk);
}

static void error_format(void)
{
    struct codec_error err = {SLIC_EINVAL, "alpha", "0.5 is outside [0.0001, 0.2]"};
    char buf[64];
    CHECK_STR_EQ(codec_error_format(&err, buf, sizeof buf), "alpha: 0.5 is outside [0.0001, 0.2]");
    err.field[0] = '\0';
    CHECK_STR_EQ(codec_error_format(&err, buf, sizeof buf), "0.5 is outside [0.0001, 0.2]");
    char small[6];
    CHECK_STR_EQ(codec_error_format(&err, small, sizeof small), "0.5 i");
}

/* Decoders of enclosing messages pass their path; the error names the field in full. */
static void error_nested_path(void)
{
    slic_sketch *sk = full_sketch();
    Slic__Sketch m;
    msg_of(sk, &m);
    m.alpha = 0.5;
    struct codec_error err = {0};
    slic_sketch *out = NULL;
    CHECK_ERR(codec__sketch_from_msg_at(&m, 4096, "series[3].latency", &out, &err), SLIC_EINVAL);
    CHECK_STR_EQ(err.field, "series[3].latency.alpha");
    CHECK_ERR(codec__err_set(&err, SLIC_EDECODE, "series[3]", "", "x"), SLIC_EDECODE);
    CHECK_STR_EQ(err.field, "series[3]");
    slic_sketch_destroy(sk);
}

/* ---- decode errors ------------------------------------------------------------------------- */

static void check_prefixes(const slic_sketch *sk, uint32_t max_buckets, int *n_decode)
{
    uint8_t *buf;
    size_t len;
    CHECK_OK(codec_sketch_pack(sk, &buf, &len));
    for (size_t cut = 0; cut <= len; cut++) {
        /* A copy of exactly `cut` bytes, so ASan sees any read past the end. */
        uint8_t *part = malloc(cut > 0 ? cut : 1);
        CHECK(part != NULL);
        memcpy(part, buf, cut);
        slic_sketch *out = NULL;
        struct codec_error err = {0};
        int rc = codec_sketch_unpack(part, cut, max_buckets, &out, &err);
        if (rc == 0) {
            check_decoded_valid(out, max_buckets);
            slic_sketch_destroy(out);
        } else {
            CHECK(out == NULL);
            CHECK_INT_EQ(err.code, rc);
            CHECK(strcmp(slic_errname(rc), "EUNKNOWN") != 0);
            CHECK(err.msg[0] != '\0');
            *n_decode += rc == SLIC_EDECODE;
        }
        free(part);
        if (cut == len)
            CHECK_OK(rc);
    }
    slic_free(buf);
}

static void decode_truncated(void)
{
    int n_decode = 0;
    slic_sketch *sk = default_sketch();
    check_prefixes(sk, 4096, &n_decode);
    CHECK_OK(slic_sketch_add(sk, 0.0));
    check_prefixes(sk, 4096, &n_decode);
    fill(sk, DIST_LOGNORMAL, 3000, 3);
    check_prefixes(sk, 4096, &n_decode);
    slic_sketch_destroy(sk);

    slic_sketch *collapsed = new_sketch(0.01, 16, SLIC_SKETCH_MAPPING_LOG);
    for (double v = 1e-6; v < 1e6; v *= 3)
        CHECK_OK(slic_sketch_add(collapsed, v));
    CHECK(slic_sketch_collapsed(collapsed));
    check_prefixes(collapsed, 16, &n_decode);
    slic_sketch_destroy(collapsed);
    /* Cuts inside a field must be seen as malformed, not just as missing fields. */
    CHECK(n_decode > 0);
}

static void decode_oversized(void)
{
    slic_sketch *sk = full_sketch();
    uint8_t *enc;
    size_t enc_len;
    CHECK_OK(codec_sketch_pack(sk, &enc, &enc_len));
    /* The encoding, then an unknown bytes field (15) padding the whole to exactly the limit:
     * tag, a 3-byte length, the padding. */
    size_t total = CODEC_MAX_SKETCH_BYTES;
    size_t pad = total - enc_len - 1 - 3;
    uint8_t *buf = calloc(1, total + 1);
    CHECK(buf != NULL);
    memcpy(buf, enc, enc_len);
    uint8_t *p = buf + enc_len;
    *p++ = 0x7a;
    *p++ = (uint8_t)(0x80 | (pad & 0x7f));
    *p++ = (uint8_t)(0x80 | ((pad >> 7) & 0x7f));
    *p++ = (uint8_t)(pad >> 14);
    CHECK(pad >> 21 == 0);

    slic_sketch *out = NULL;
    CHECK_OK(codec_sketch_unpack(buf, total, 4096, &out, NULL));
    CHECK(slic_sketch_equal(sk, out));
    slic_sketch_destroy(out);
    out = NULL;

    /* One byte more, in the padding, is refused before parsing. */
    p = buf + enc_len + 1;
    pad++;
    *p++ = (uint8_t)(0x80 | (pad & 0x7f));
    *p++ = (uint8_t)(0x80 | ((pad >> 7) & 0x7f));
    *p++ = (uint8_t)(pad >> 14);
    struct codec_error err = {0};
    CHECK_ERR(codec_sketch_unpack(buf, total + 1, 4096, &out, &err), SLIC_ETOOBIG);
    CHECK(out == NULL);
    CHECK_INT_EQ(err.code, SLIC_ETOOBIG);
    CHECK_STR_EQ(err.field, "");
    CHECK(strstr(err.msg, "1048577") != NULL);
    free(buf);
    slic_free(enc);
    slic_sketch_destroy(sk);
}

static void expect_decode_error(const uint8_t *buf, size_t len)
{
    slic_sketch *out = NULL;
    struct codec_error err = {0};
    CHECK_ERR(codec_sketch_unpack(buf, len, 4096, &out, &err), SLIC_EDECODE);
    CHECK(out == NULL);
    CHECK_INT_EQ(err.code, SLIC_EDECODE);
    CHECK_STR_EQ(err.field, "");
}

/* Feeds bytes to the decoder expecting nothing in particular, except no crash and, on success,
 * a valid sketch. */
static void decode_any(const uint8_t *buf, size_t len)
{
    slic_sketch *out = NULL;
    struct codec_error err = {0};
    int rc = codec_sketch_unpack(buf, len, 4096, &out, &err);
    if (rc == 0) {
        check_decoded_valid(out, 4096);
        slic_sketch_destroy(out);
    } else {
        CHECK(out == NULL);
        CHECK_INT_EQ(err.code, rc);
    }
}

static void decode_garbage(void)
{
    const uint8_t bad_wire_type[] = {0x0f}; /* field 1, wire type 7 */
    const uint8_t tag_only[] = {0x08};      /* field 1 varint, no value */
    const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x01}; /* 11-byte varint */
    const uint8_t short_counts[] = {0x22, 0x05, 0x01}; /* counts claims 5 bytes, has 1 */
    const uint8_t short_double[] = {0x11, 0x00, 0x00}; /* alpha with 2 of 8 bytes */
    const uint8_t field_zero[] = {0x00, 0x00};         /* field number 0 */
    const uint8_t all_ones[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_decode_error(bad_wire_type, sizeof bad_wire_type);
    expect_decode_error(tag_only, sizeof tag_only);
    expect_decode_error(long_varint, sizeof long_varint);
    expect_decode_error(short_counts, sizeof short_counts);
    expect_decode_error(short_double, sizeof short_double);
    expect_decode_error(field_zero, sizeof field_zero);
    expect_decode_error(all_ones, sizeof all_ones);

    struct harness_rng r;
    harness_rng_seed(&r, 42);
    uint8_t junk[64];
    for (int i = 0; i < 20000; i++) {
        size_t len = harness_rng_next(&r) % sizeof junk;
        for (size_t j = 0; j < len; j++)
            junk[j] = (uint8_t)harness_rng_next(&r);
        decode_any(junk, len);
    }

    /* Mutations of a valid encoding reach much further into the decoder than noise does. */
    slic_sketch *sk = full_sketch();
    uint8_t *enc;
    size_t len;
    CHECK_OK(codec_sketch_pack(sk, &enc, &len));
    uint8_t *mut = malloc(len);
    CHECK(mut != NULL);
    for (int i = 0; i < 20000; i++) {
        memcpy(mut, enc, len);
        int flips = 1 + (int)(harness_rng_next(&r) % 3);
        for (int f = 0; f < flips; f++)
            mut[harness_rng_next(&r) % len] ^= (uint8_t)(1u << (harness_rng_next(&r) % 8));
        decode_any(mut, len);
    }
    free(mut);
    slic_free(enc);
    slic_sketch_destroy(sk);
}

static void decode_wrong_wire_type(void)
{
    const uint8_t alpha_as_varint[] = {0x08, 0x01, 0x10, 0x01, 0x30, 0x00}; /* alpha: varint */
    const uint8_t mapping_as_bytes[] = {0x0a, 0x01, 0x01};                  /* mapping: bytes */
    const uint8_t count_as_fixed[] = {0x31, 0, 0, 0, 0, 0, 0, 0, 0};        /* count: fixed64 */
    expect_decode_error(alpha_as_varint, sizeof alpha_as_varint);
    expect_decode_error(mapping_as_bytes, sizeof mapping_as_bytes);
    expect_decode_error(count_as_fixed, sizeof count_as_fixed);
}

static void decode_missing_required(void)
{
    slic_sketch *sk = full_sketch();
    Slic__Sketch m;

    /* Pointers into m stay valid: msg_of refills the same struct each time. */
    protobuf_c_boolean *flags[] = {&m.has_mapping, &m.has_alpha, &m.has_count, &m.has_offset,
                                   &m.has_min,     &m.has_max,   &m.has_sum};
    const char *names[] = {"mapping", "alpha", "count", "offset", "min", "max", "sum"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        msg_of(sk, &m);
        *flags[i] = 0;
        EXPECT_REJECT(&m, 4096, SLIC_EMISSING, names[i]);
    }

    /* An empty message misses the first required field. */
    slic__sketch__init(&m);
    EXPECT_REJECT(&m, 4096, SLIC_EMISSING, "mapping");
    slic_sketch *out = NULL;
    CHECK_ERR(codec_sketch_unpack(NULL, 0, 4096, &out, NULL), SLIC_EMISSING);

    /* Absent zero_count and collapsed mean 0 and false: not required. */
    msg_of(sk, &m);
    m.has_zero_count = 0;
    m.zero_count = 0;
    m.count -= 1;
    m.min = 0.1;
    CHECK_OK(codec_sketch_from_msg(&m, 4096, &out, NULL));
    CHECK_U64_EQ(slic_sketch_count(out), 10);
    slic_sketch_destroy(out);
    slic_sketch_destroy(sk);
}

static void decode_unknown_mapping(void)
{
    slic_sketch *sk = full_sketch();
    Slic__Sketch m;
    const int bad[] = {SLIC__SKETCH__MAPPING__MAPPING_UNSPECIFIED, 3, 7, -1, 1000000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg_of(sk, &m);
        m.mapping = (Slic__Sketch__Mapping)bad[i];
        EXPECT_REJECT(&m, 4096, SLIC_EINVAL, "mapping");
    }
    slic_sketch_destroy(sk);
}

static void decode_alpha_out_of_range(void)
{
    slic_sketch *sk = full_sketch();
    Slic__Sketch m;
    const double lo = SLIC_SKETCH_MIN_ALPHA, hi = SLIC_SKETCH_MAX_ALPHA;
    const double bad[] = {0.0, -0.01, lo * 0.99, hi * 1.01, 1.0, 2.0, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg_of(sk, &m);
        m.alpha = bad[i];
        EXPECT_REJECT(&m, 4096, SLIC_EINVAL, "alpha");
    }
    slic_sketch_destroy(sk);
}

/* A message of one bucket at `offset` holding one value. min and max stay those of the value
 * 1.0, so only the range check can be the one to refuse it first. */
static void one_bucket_msg(const slic_sketch *sk, Slic__Sketch *m, int32_t offset)
{
    static uint64_t one[1] = {1};
    slic__sketch__init(m);
    CHECK_OK(codec_sketch_to_msg(sk, m));
    m->offset = offset;
    m->has_offset = 1;
    m->n_counts = 1;
    m->counts = one;
}

static void decode_offset_out_of_range(void)
{
    slic_sketch *sk = default_sketch();
    CHECK_OK(slic_sketch_add(sk, 1.0));
    int32_t lowest = slic_sketch_index_of(sk, SLIC_SKETCH_MIN_INDEXABLE);
    int32_t highest = slic_sketch_index_of(sk, SLIC_SKETCH_MAX_INDEXABLE);
    Slic__Sketch m;
    const int32_t bad[] = {lowest - 1, highest + 1, INT32_MIN, INT32_MAX, lowest - 1000000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        one_bucket_msg(sk, &m, bad[i]);
        EXPECT_REJECT(&m, 4096, SLIC_ERANGE, "offset");
    }
    /* The very ends are inside: the sketch of the limit values themselves decodes. */
    slic_sketch *ends = default_sketch();
    CHECK_OK(slic_sketch_add(ends, SLIC_SKETCH_MAX_INDEXABLE));
    slic_sketch *low = default_sketch();
    CHECK_OK(slic_sketch_add(low, SLIC_SKETCH_MIN_INDEXABLE));
    msg_of(ends, &m);
    CHECK_INT_EQ(m.offset, highest);
    roundtrip(ends, 4096);
    msg_of(low, &m);
    CHECK_INT_EQ(m.offset, lowest);
    roundtrip(low, 4096);
    slic_sketch_destroy(low);
    slic_sketch_destroy(ends);
    slic_sketch_destroy(sk);
}

static void decode_offset_overflow(void)
{
    slic_sketch *sk = default_sketch();
    CHECK_OK(slic_sketch_add_n(sk, 1.0, 3));
    Slic__Sketch m;
    uint64_t three[3] = {1, 1, 1};
    /* The last bucket would be INT32_MAX + 1, and exactly INT32_MAX: neither may wrap. */
    const int32_t offsets[] = {INT32_MAX - 1, INT32_MAX - 2, INT32_MAX};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        msg_of(sk, &m);
        m.offset = offsets[i];
        m.has_offset = 1;
        m.n_counts = 3;
        m.counts = three;
        EXPECT_REJECT(&m, 4096, SLIC_ERANGE, "offset");
    }
    slic_sketch_destroy(sk);
}

static void decode_counts_mismatch(void)
{
    slic_sketch *sk = full_sketch();
    Slic__Sketch m;
    msg_of(sk, &m);
    m.count += 1;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "count");
    msg_of(sk, &m);
    m.count -= 1;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "count");
    msg_of(sk, &m);
    m.zero_count += 1;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "count");
    msg_of(sk, &m);
    m.has_zero_count = 0;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "count");
    slic_sketch_destroy(sk);
}

static void decode_counts_overflow(void)
{
    slic_sketch *sk = default_sketch();
    CHECK_OK(slic_sketch_add(sk, 1.0));
    Slic__Sketch m;
    msg_of(sk, &m);
    /* 2^64-1 + 2 wraps to 1, which is the count claimed: only an overflow check catches it. */
    uint64_t counts[2] = {UINT64_MAX, 2};
    m.counts = counts;
    m.n_counts = 2;
    m.count = 1;
    EXPECT_REJECT(&m, 4096, SLIC_EOVERFLOW, "counts");
    m.count = UINT64_MAX;
    EXPECT_REJECT(&m, 4096, SLIC_EOVERFLOW, "counts");
    /* The zero bucket takes part in the sum too. */
    uint64_t ones[2] = {1, 1};
    m.counts = ones;
    m.has_zero_count = 1;
    m.zero_count = UINT64_MAX - 1;
    m.count = 0;
    m.min = 0;
    EXPECT_REJECT(&m, 4096, SLIC_EOVERFLOW, "counts");
    slic_sketch_destroy(sk);
}

static void decode_untrimmed(void)
{
    slic_sketch *sk = wide_sketch();
    struct slic_sketch_view v;
    slic_sketch_view_get(sk, &v);
    uint64_t *padded = calloc(v.n + 2, sizeof *padded);
    CHECK(padded != NULL);
    memcpy(padded + 1, v.counts, v.n * sizeof *padded);
    Slic__Sketch m;

    msg_of(sk, &m);
    m.counts = padded; /* a leading zero */
    m.n_counts = v.n + 1;
    m.offset = v.offset - 1;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "counts");

    msg_of(sk, &m);
    m.counts = padded + 1; /* a trailing zero */
    m.n_counts = v.n + 1;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "counts");

    msg_of(sk, &m);
    m.counts = padded; /* both */
    m.n_counts = v.n + 2;
    m.offset = v.offset - 1;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "counts");
    free(padded);
    slic_sketch_destroy(sk);
}

static void decode_too_many_buckets(void)
{
    slic_sketch *sk = wide_sketch();
    uint32_t n = slic_sketch_bucket_span(sk);
    CHECK(n > 17);
    Slic__Sketch m;
    msg_of(sk, &m);
    EXPECT_REJECT(&m, 16, SLIC_ETOOBIG, "counts");
    EXPECT_REJECT(&m, n - 1, SLIC_ETOOBIG, "counts");
    /* Exactly at the decoder's limit is fine. */
    roundtrip(sk, n);
    slic_sketch_destroy(sk);
}

static void decode_bad_stats(void)
{
    slic_sketch *sk = full_sketch();
    Slic__Sketch m;
    const double bad[] = {NAN, -NAN, -1.0, -0x1p-1074, INFINITY, -INFINITY};
    const char *fields[] = {"min", "max", "sum"};
    for (size_t f = 0; f < 3; f++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            msg_of(sk, &m);
            double *target = f == 0 ? &m.min : f == 1 ? &m.max : &m.sum;
            *target = bad[i];
            EXPECT_REJECT(&m, 4096, SLIC_EVALUE, fields[f]);
        }
    }
    slic_sketch_destroy(sk);
}

static void decode_min_above_max(void)
{
    slic_sketch *sk = wide_sketch();
    Slic__Sketch m;
    msg_of(sk, &m);
    m.min = m.max * 1.5;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "min");
    msg_of(sk, &m);
    m.max = m.min * 0.5;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "min");
    slic_sketch_destroy(sk);
}

static void decode_count_zero_nonempty(void)
{
    slic_sketch *sk = default_sketch();
    Slic__Sketch m;
    uint64_t five[1] = {5};

    msg_of(sk, &m); /* count 0 but a bucket */
    m.has_offset = 1;
    m.offset = slic_sketch_index_of(sk, 1.0);
    m.n_counts = 1;
    m.counts = five;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "count");

    msg_of(sk, &m); /* count 0 but a zero bucket */
    m.has_zero_count = 1;
    m.zero_count = 3;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "count");

    msg_of(sk, &m); /* count 0 but stats */
    m.has_min = 1;
    m.min = 1.0;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "min");
    msg_of(sk, &m);
    m.has_sum = 1;
    m.sum = 2.0;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "sum");
    slic_sketch_destroy(sk);
}

static void decode_stats_outside_buckets(void)
{
    slic_sketch *sk = wide_sketch();
    Slic__Sketch m;
    msg_of(sk, &m);
    m.max *= 1.5; /* beyond the highest bucket */
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "max");
    msg_of(sk, &m);
    m.min *= 0.5; /* below the lowest bucket of a sketch that never collapsed */
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "min");
    msg_of(sk, &m);
    m.sum = m.max * (double)m.count * 2;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "sum");
    msg_of(sk, &m);
    m.has_zero_count = 1; /* zeros claimed, yet min is not below the indexable range */
    m.zero_count = 1;
    m.count += 1;
    EXPECT_REJECT(&m, 4096, SLIC_EINCONSISTENT, "min");
    slic_sketch_destroy(sk);
}

static void decode_bad_max_buckets(void)
{
    slic_sketch *sk = full_sketch();
    Slic__Sketch m;
    msg_of(sk, &m);
    EXPECT_REJECT(&m, 15, SLIC_EINVAL, "");
    EXPECT_REJECT(&m, SLIC_SKETCH_MAX_BUCKETS_LIMIT + 1, SLIC_EINVAL, "");
    slic_sketch_destroy(sk);
}

/* ---- allocation failure -------------------------------------------------------------------- */

static void pack_enomem(void)
{
    slic_sketch *sk = wide_sketch();
    uint8_t *buf = (uint8_t *)"untouched";
    size_t len = 12345;
    slic_alloc_fail_after(0);
    int rc = codec_sketch_pack(sk, &buf, &len);
    slic_alloc_fail_after(-1);
    CHECK_ERR(rc, SLIC_ENOMEM);
    CHECK_STR_EQ((const char *)buf, "untouched");
    CHECK_U64_EQ(len, 12345);
    slic_sketch_destroy(sk);
}

/* Fails the first, second, ... allocation of one decode (of buf, or of m when buf is NULL)
 * until it succeeds; every failure must be SLIC_ENOMEM (not a misreported SLIC_EDECODE) and free
 * all it took, which LeakSanitizer checks when the case's process exits. Returns how many
 * allocations the decode needs. */
static long decode_enomem_all(const uint8_t *buf, size_t len, const Slic__Sketch *m,
                              const slic_sketch *want)
{
    for (long n = 0; n < 1000; n++) {
        slic_sketch *out = NULL;
        struct codec_error err = {0};
        slic_alloc_fail_after(n);
        int rc = buf ? codec_sketch_unpack(buf, len, 4096, &out, &err)
                     : codec_sketch_from_msg(m, 4096, &out, &err);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            CHECK(slic_sketch_equal(want, out));
            slic_sketch_destroy(out);
            return n;
        }
        if (rc != SLIC_ENOMEM)
            harness_fail(__FILE__, __LINE__, "allocation %ld failed: %s, expected SLIC_ENOMEM", n,
                         slic_errname(rc));
        CHECK(out == NULL);
        CHECK_INT_EQ(err.code, SLIC_ENOMEM);
    }
    harness_fail(__FILE__, __LINE__, "decode never succeeded");
}

static void unpack_enomem(void)
{
    slic_sketch *sk = wide_sketch();
    uint8_t *buf;
    size_t len;
    CHECK_OK(codec_sketch_pack(sk, &buf, &len));
    /* The message, its counts, the sketch and its bucket array. */
    CHECK(decode_enomem_all(buf, len, NULL, sk) >= 4);
    slic_free(buf);

    /* Unknown fields are kept by protobuf-c in allocations of their own. */
    const uint8_t extra[] = {0x7a, 0x03, 'a', 'b', 'c'};
    CHECK_OK(codec_sketch_pack(sk, &buf, &len));
    uint8_t *longer = malloc(len + sizeof extra);
    CHECK(longer != NULL);
    memcpy(longer, buf, len);
    memcpy(longer + len, extra, sizeof extra);
    CHECK(decode_enomem_all(longer, len + sizeof extra, NULL, sk) >= 5);
    free(longer);
    slic_free(buf);
    slic_sketch_destroy(sk);

    slic_sketch *empty = default_sketch();
    CHECK_OK(codec_sketch_pack(empty, &buf, &len));
    CHECK(decode_enomem_all(buf, len, NULL, empty) >= 2);
    slic_free(buf);
    slic_sketch_destroy(empty);
}

static void from_msg_enomem(void)
{
    slic_sketch *sk = wide_sketch();
    Slic__Sketch m;
    msg_of(sk, &m);
    /* The sketch and its bucket array. */
    CHECK(decode_enomem_all(NULL, 0, &m, sk) >= 2);
    slic_sketch_destroy(sk);
}

HARNESS_CASES(HARNESS_CASE(roundtrip_empty), HARNESS_CASE(roundtrip_one_value),
              HARNESS_CASE(roundtrip_zero_only), HARNESS_CASE(roundtrip_distributions),
              HARNESS_CASE(roundtrip_collapsed), HARNESS_CASE(roundtrip_log_mapping),
              HARNESS_CASE(roundtrip_extremes), HARNESS_CASE(decode_ignores_unknown_fields),
              HARNESS_CASE(to_msg_borrows), HARNESS_CASE(error_format),
              HARNESS_CASE(error_nested_path), HARNESS_CASE(decode_truncated),
              HARNESS_CASE(decode_oversized), HARNESS_CASE(decode_garbage),
              HARNESS_CASE(decode_wrong_wire_type), HARNESS_CASE(decode_missing_required),
              HARNESS_CASE(decode_unknown_mapping), HARNESS_CASE(decode_alpha_out_of_range),
              HARNESS_CASE(decode_offset_out_of_range), HARNESS_CASE(decode_offset_overflow),
              HARNESS_CASE(decode_counts_mismatch), HARNESS_CASE(decode_counts_overflow),
              HARNESS_CASE(decode_untrimmed), HARNESS_CASE(decode_too_many_buckets),
              HARNESS_CASE(decode_bad_stats), HARNESS_CASE(decode_min_above_max),
              HARNESS_CASE(decode_count_zero_nonempty), HARNESS_CASE(decode_stats_outside_buckets),
              HARNESS_CASE(decode_bad_max_buckets), HARNESS_CASE(pack_enomem),
              HARNESS_CASE(unpack_enomem), HARNESS_CASE(from_msg_enomem));

HARNESS_MAIN()
