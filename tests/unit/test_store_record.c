/* Tests of the aggregator store's codecs, without LMDB: key layout and sort order (keys.c),
 * labels, and the stored record and agent-state formats (record.c): round trips, merging equal
 * to slic_sketch_merge (collapse included), exact thresholds, and rejection of every truncated or
 * damaged value. */
#include "harness.h"

#include "../../aggregator/keys.h"
#include "../../aggregator/record.h"
#include "alloc.h"
#include "batch.h"
#include "err.h"
#include "sketch.h"

#include <stdlib.h>
#include <string.h>

#define ALPHA SLIC_SKETCH_DEFAULT_ALPHA
#define T0 INT64_C(1699999200)

static const struct agg__sketch_params params = {ALPHA, SLIC_SKETCH_MAPPING_CUBIC, 4096};

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = slic_malloc(n + 1);
    CHECK(p != NULL);
    return memcpy(p, s, n + 1);
}

struct spec {
    const char *sli;
    int64_t start;
    uint32_t seconds;
    size_t n;
    uint64_t seed;
    const double *thresholds;
    size_t n_thresholds;
};

/* n deterministic latencies from 1 ms to 1 s; good ones are at or under 0.5 s. */
static void series_fill(struct slic_series *s, const struct spec *sp)
{
    memset(s, 0, sizeof *s);
    s->sli = dup_str(sp->sli);
    s->window_start = sp->start;
    s->window_seconds = sp->seconds;
    if (sp->n)
        CHECK_OK(slic_sketch_create(ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS, &s->latency));
    if (sp->n_thresholds) {
        s->thresholds = slic_calloc(sp->n_thresholds, sizeof *s->thresholds);
        CHECK(s->thresholds != NULL);
        s->n_thresholds = sp->n_thresholds;
    }
    for (size_t i = 0; i < sp->n; i++) {
        double v = 0.001 * (double)(1 + (sp->seed * 7919 + i * 104729) % 997);
        CHECK_OK(slic_sketch_add(s->latency, v));
        s->total++;
        s->good += v <= 0.5;
        for (size_t t = 0; t < sp->n_thresholds; t++) {
            s->thresholds[t].threshold = sp->thresholds[t];
            s->thresholds[t].count_le += v <= sp->thresholds[t];
            s->thresholds[t].good_le += v <= sp->thresholds[t] && v <= 0.5;
        }
    }
}

static void test_keys_layout(void)
{
    char name[SLIC_NAME_MAX + 1];
    memset(name, 'n', SLIC_NAME_MAX);
    name[SLIC_NAME_MAX] = '\0';
    struct agg__key a, b;
    agg__key_series(&a, AGG__RES_1M, AGG__SCOPE_NODE, name, name, name, UINT64_MAX);
    agg__key_set_time(&a, a.len, -5);
    CHECK(a.len <= 511);
    CHECK_INT_EQ(a.len, AGG__KEY_MAX);
    struct agg__key_parts p;
    CHECK_OK(agg__key_parse(a.b, a.len, &p));
    CHECK_INT_EQ(p.res, AGG__RES_1M);
    CHECK_STR_EQ(p.node, name);
    CHECK_INT_EQ(p.time, -5);
    /* Times sort numerically, negative ones included, within one series. */
    static const int64_t times[] = {INT64_MIN, -3600, -1, 0, 1, 10, T0, INT64_MAX};
    for (size_t i = 1; i < sizeof times / sizeof times[0]; i++) {
        agg__key_series(&a, AGG__RES_10S, AGG__SCOPE_SITE, "x", "s", NULL, 7);
        b = a;
        agg__key_set_time(&a, a.len, times[i - 1]);
        agg__key_set_time(&b, b.len, times[i]);
        CHECK(memcmp(a.b, b.b, a.len) < 0);
        CHECK_INT_EQ(agg__key_time(b.b, b.len), times[i]);
    }
    /* "ab" is not a prefix of "abc": the NUL ends the name. */
    agg__key_prefix(&a, AGG__RES_10S, AGG__SCOPE_ALL, "ab", NULL, NULL);
    agg__key_series(&b, AGG__RES_10S, AGG__SCOPE_ALL, "abc", NULL, NULL, 0);
    CHECK(memcmp(a.b, b.b, a.len) != 0);
    CHECK_ERR(agg__key_parse(a.b, a.len, &p), SLIC_EDECODE);

    struct slic_label l[2] = {{"region", "eu"}, {"route", "/pay"}};
    uint8_t c[AGG__LABELS_MAX];
    size_t n = agg__labels_canonical(l, 2, c);
    CHECK(agg__labels_hash(c, n) != 0);
    CHECK(agg__labels_match(c, n, &l[1], 1));
    struct slic_label other = {"route", "/pa"};
    CHECK(!agg__labels_match(c, n, &other, 1));
    CHECK(agg__labels_match(c, n, NULL, 0));
    CHECK_U64_EQ(agg__labels_next_id(UINT64_MAX), 1);
}

static void test_record_codec(void)
{
    static const double th[] = {0.1, 0.25};
    struct spec sp = {.sli = "x",
                      .start = T0,
                      .seconds = 10,
                      .n = 500,
                      .seed = 3,
                      .thresholds = th,
                      .n_thresholds = 2};
    struct slic_series s1, s2;
    series_fill(&s1, &sp);
    sp.seed = 4;
    sp.n_thresholds = 1;
    series_fill(&s2, &sp);
    struct agg__sketch_params p = {ALPHA, SLIC_SKETCH_MAPPING_CUBIC, 4096};
    struct agg__buf v1 = {0}, v2 = {0}, scratch = {0};
    struct agg__record r1, r2;
    struct slic_errmsg err;
    CHECK_OK(agg__record_merge_series(NULL, &s1, &p, &v1, &err));
    CHECK_OK(agg__record_decode(v1.p, v1.len, &r1, &scratch, &err));
    CHECK_OK(agg__record_merge_series(&r1, &s2, &p, &v2, &err));
    /* Unaligned: the counts are copied; the result must not change. */
    uint8_t *odd = malloc(v2.len + 1);
    CHECK(odd != NULL);
    memcpy(odd + 1, v2.p, v2.len);
    CHECK_OK(agg__record_decode(odd + 1, v2.len, &r2, &scratch, &err));
    CHECK((const uint8_t *)r2.sketch.counts == scratch.p);
    CHECK_U64_EQ(r2.total, 1000);
    CHECK_U64_EQ(r2.good, s1.good + s2.good);
    CHECK_INT_EQ(r2.n_thresholds, 1); /* only 0.1 s was counted by both */
    CHECK_U64_EQ(r2.thresholds[0].count_le, s1.thresholds[0].count_le + s2.thresholds[0].count_le);
    slic_sketch *want = NULL, *got = NULL;
    CHECK_OK(slic_sketch_clone(s1.latency, &want));
    CHECK_OK(slic_sketch_merge(want, s2.latency));
    CHECK_OK(slic_sketch_from_view(&r2.sketch, 4096, &got));
    CHECK(slic_sketch_equal(got, want));
    /* Every truncation and a wrong version are errors, never crashes. */
    for (size_t len = 0; len < v2.len; len++)
        CHECK_ERR(agg__record_decode(odd + 1, len, &r2, &scratch, &err), SLIC_EDECODE);
    odd[1] = 9;
    CHECK_ERR(agg__record_decode(odd + 1, v2.len, &r2, &scratch, &err), SLIC_EDECODE);
    /* A bucket count that no longer adds up. */
    memcpy(odd + 1, v2.p, v2.len);
    odd[v2.len] ^= 0x40;
    CHECK_ERR(agg__record_decode(odd + 1, v2.len, &r2, &scratch, &err), SLIC_EDECODE);
    free(odd);
    slic_sketch_destroy(want);
    slic_sketch_destroy(got);
    agg__buf_fini(&v1);
    agg__buf_fini(&v2);
    agg__buf_fini(&scratch);
    slic_series_fini(&s1);
    slic_series_fini(&s2);
}

/* The header-only decode gives what the full one gives, bar the counts, which it reads in place
 * at any alignment; it refuses every truncation, but not damaged counts (by design). */
static void test_record_decode_head(void)
{
    static const double th[] = {0.1, 0.25};
    struct spec sp = {"x", T0, 10, 300, 5, th, 2};
    struct slic_series s;
    series_fill(&s, &sp);
    struct agg__buf v = {0}, scratch = {0};
    struct agg__record full, head;
    CHECK_OK(agg__record_merge_series(NULL, &s, &params, &v, NULL));
    CHECK_OK(agg__record_decode(v.p, v.len, &full, &scratch, NULL));
    uint8_t *odd = malloc(v.len + 3);
    CHECK(odd != NULL);
    memcpy(odd + 3, v.p, v.len);
    CHECK_OK(agg__record_decode_head(odd + 3, v.len, &head, NULL));
    CHECK(head.sketch.counts == NULL);
    CHECK_U64_EQ(head.total, full.total);
    CHECK_U64_EQ(head.good, full.good);
    CHECK_INT_EQ(head.n_thresholds, 2);
    CHECK_U64_EQ(head.thresholds[1].count_le, full.thresholds[1].count_le);
    CHECK_INT_EQ(head.sketch.offset, full.sketch.offset);
    CHECK_INT_EQ(head.sketch.n, full.sketch.n);
    uint64_t all = 0;
    for (uint32_t i = 0; i < full.sketch.n; i++) {
        CHECK_U64_EQ(agg__record_buckets_sum(odd + 3, &head, i, 1), full.sketch.counts[i]);
        all += full.sketch.counts[i];
    }
    CHECK_U64_EQ(agg__record_buckets_sum(odd + 3, &head, 0, head.sketch.n), all);
    CHECK_U64_EQ(agg__record_buckets_sum(odd + 3, &head, 2, 0), 0);
    for (size_t len = 0; len < v.len; len++)
        CHECK_ERR(agg__record_decode_head(odd + 3, len, &head, NULL), SLIC_EDECODE);
    odd[3 + v.len - 1] ^= 0x40;
    CHECK_OK(agg__record_decode_head(odd + 3, v.len, &head, NULL));
    free(odd);
    agg__buf_fini(&v);
    agg__buf_fini(&scratch);
    slic_series_fini(&s);
}

/* Record merging collapses exactly as slic_sketch_merge does when the span passes the cap. */
static void test_record_collapse(void)
{
    struct agg__sketch_params p = {ALPHA, SLIC_SKETCH_MAPPING_CUBIC, 16};
    struct slic_series lo = {.sli = "x", .window_start = T0, .window_seconds = 10};
    struct slic_series hi = lo;
    CHECK_OK(slic_sketch_create(ALPHA, 4096, &lo.latency));
    CHECK_OK(slic_sketch_create(ALPHA, 4096, &hi.latency));
    CHECK_OK(slic_sketch_add_n(lo.latency, 0.001, 5));
    CHECK_OK(slic_sketch_add_n(hi.latency, 0.9, 3));
    lo.total = 5;
    hi.total = 3;
    struct agg__buf a = {0}, b = {0}, scratch = {0};
    struct agg__record r;
    CHECK_OK(agg__record_merge_series(NULL, &lo, &p, &a, NULL));
    CHECK_OK(agg__record_decode(a.p, a.len, &r, &scratch, NULL));
    CHECK_OK(agg__record_merge_series(&r, &hi, &p, &b, NULL));
    CHECK_OK(agg__record_decode(b.p, b.len, &r, &scratch, NULL));
    slic_sketch *want = NULL;
    CHECK_OK(slic_sketch_create(ALPHA, 16, &want));
    CHECK_OK(slic_sketch_merge(want, lo.latency));
    CHECK_OK(slic_sketch_merge(want, hi.latency));
    struct slic_sketch_view wv;
    slic_sketch_view_get(want, &wv);
    CHECK(r.sketch.collapsed && wv.collapsed);
    CHECK_INT_EQ(r.sketch.n, wv.n);
    CHECK_INT_EQ(r.sketch.offset, wv.offset);
    CHECK(memcmp(r.sketch.counts, wv.counts, wv.n * 8) == 0);
    slic_sketch_destroy(want);
    slic_sketch_destroy(lo.latency);
    slic_sketch_destroy(hi.latency);
    agg__buf_fini(&a);
    agg__buf_fini(&b);
    agg__buf_fini(&scratch);
}

static void test_record_merge_errors(void)
{
    struct spec sp = {.sli = "x", .start = T0, .seconds = 10, .n = 10, .seed = 1};
    struct slic_series s;
    series_fill(&s, &sp);
    struct agg__buf v = {0}, scratch = {0};
    struct agg__record r;
    struct slic_errmsg err;
    struct agg__sketch_params other = params;
    other.alpha = 0.02;
    CHECK_ERR(agg__record_merge_series(NULL, &s, &other, &v, &err), SLIC_EALPHA);
    CHECK(strstr(err.text, "series") != NULL);
    CHECK_OK(agg__record_merge_series(NULL, &s, &params, &v, &err));
    CHECK_OK(agg__record_decode(v.p, v.len, &r, &scratch, &err));
    r.sketch.alpha = 0.02; /* as if written by a store of other settings */
    struct agg__buf out = {0};
    CHECK_ERR(agg__record_merge_series(&r, &s, &params, &out, &err), SLIC_EALPHA);
    CHECK(strstr(err.text, "stored") != NULL);
    r.sketch.alpha = ALPHA;
    r.total = r.sketch.count = UINT64_MAX - 5;
    CHECK_ERR(agg__record_merge_series(&r, &s, &params, &out, &err), SLIC_EOVERFLOW);
    /* A series without events makes a valid, empty record. */
    struct slic_series empty = {.sli = "x", .window_start = T0, .window_seconds = 10};
    CHECK_OK(agg__record_merge_series(NULL, &empty, &params, &out, &err));
    CHECK_INT_EQ(out.len, AGG__RECORD_HEADER);
    CHECK_OK(agg__record_decode(out.p, out.len, &r, &scratch, &err));
    CHECK_U64_EQ(r.total, 0);
    CHECK_INT_EQ(r.sketch.n, 0);
    agg__buf_fini(&v);
    agg__buf_fini(&out);
    agg__buf_fini(&scratch);
    slic_series_fini(&s);
}

static void test_record_acc(void)
{
    static const double th2[] = {0.1, 0.25}, th1[] = {0.25};
    struct spec sp[3] = {
        {.sli = "x",
         .start = T0,
         .seconds = 10,
         .n = 50,
         .seed = 1,
         .thresholds = th2,
         .n_thresholds = 2},
        {.sli = "x", .start = T0, .seconds = 10, .n = 0},
        {.sli = "x",
         .start = T0,
         .seconds = 10,
         .n = 70,
         .seed = 2,
         .thresholds = th1,
         .n_thresholds = 1},
    };
    struct agg__record_acc acc;
    CHECK_OK(agg__record_acc_init(&acc, &params));
    struct agg__buf v[3] = {{0}}, scratch = {0}, enc = {0};
    struct slic_series s[3];
    slic_sketch *want = NULL;
    CHECK_OK(slic_sketch_create(ALPHA, 4096, &want));
    for (size_t i = 0; i < 3; i++) {
        struct agg__record r;
        series_fill(&s[i], &sp[i]);
        CHECK_OK(agg__record_merge_series(NULL, &s[i], &params, &v[i], NULL));
        CHECK_OK(agg__record_decode(v[i].p, v[i].len, &r, &scratch, NULL));
        CHECK_OK(agg__record_acc_add(&acc, &r));
        if (s[i].latency)
            CHECK_OK(slic_sketch_merge(want, s[i].latency));
        if (i == 0)
            CHECK_INT_EQ(acc.n_thresholds, 2);
    }
    CHECK_U64_EQ(acc.total, 120);
    CHECK_U64_EQ(acc.records, 3);
    CHECK_INT_EQ(acc.n_thresholds, 1); /* 0.25 s: the empty record constrained nothing */
    CHECK_U64_EQ(acc.thresholds[0].count_le,
                 s[0].thresholds[1].count_le + s[2].thresholds[0].count_le);
    CHECK(slic_sketch_equal(acc.sketch, want));
    /* Encoding the accumulator gives a record that decodes to the same thing. */
    struct agg__record back;
    CHECK_OK(agg__record_encode_acc(&acc, &enc));
    CHECK_OK(agg__record_decode(enc.p, enc.len, &back, &scratch, NULL));
    CHECK_U64_EQ(back.total, 120);
    CHECK_INT_EQ(back.n_thresholds, 1);
    /* Errors leave the accumulator as it was. */
    back.total = back.sketch.count = UINT64_MAX;
    CHECK_ERR(agg__record_acc_add(&acc, &back), SLIC_EOVERFLOW);
    CHECK_OK(agg__record_decode(v[0].p, v[0].len, &back, &scratch, NULL));
    back.sketch.alpha = 0.02;
    CHECK_ERR(agg__record_acc_add(&acc, &back), SLIC_EALPHA);
    CHECK_U64_EQ(acc.total, 120);
    CHECK(slic_sketch_equal(acc.sketch, want));
    slic_sketch_destroy(want);
    agg__record_acc_fini(&acc);
    for (size_t i = 0; i < 3; i++) {
        agg__buf_fini(&v[i]);
        slic_series_fini(&s[i]);
    }
    agg__buf_fini(&enc);
    agg__buf_fini(&scratch);
}

static void test_agent_state_codec(void)
{
    struct agg__agent_state a = {.epoch = 7,
                                 .last_seq = 1000,
                                 .window = 0x8000000000000005ull,
                                 .seqs_ahead = 3,
                                 .last_seen = T0,
                                 .site = "eu-zrh",
                                 .node = "web-1"};
    uint8_t buf[AGG__AGENT_VALUE_MAX + 1];
    size_t n = agg__record_agent_encode(&a, buf);
    struct agg__agent_state b;
    CHECK_OK(agg__record_agent_decode(buf, n, &b, NULL));
    CHECK_U64_EQ(b.epoch, 7);
    CHECK_U64_EQ(b.last_seq, 1000);
    CHECK_U64_EQ(b.window, a.window);
    CHECK_INT_EQ(b.seqs_ahead, 3);
    CHECK_INT_EQ(b.last_seen, T0);
    CHECK_STR_EQ(b.site, "eu-zrh");
    CHECK_STR_EQ(b.node, "web-1");
    struct slic_errmsg err;
    for (size_t len = 0; len < n; len++)
        CHECK_ERR(agg__record_agent_decode(buf, len, &b, &err), SLIC_EDECODE);
    CHECK_ERR(agg__record_agent_decode(buf, n + 1, &b, &err), SLIC_EDECODE);
    buf[0] = 2;
    CHECK_ERR(agg__record_agent_decode(buf, n, &b, &err), SLIC_EDECODE);
    CHECK(strstr(err.text, "version") != NULL);
}

HARNESS_CASES(HARNESS_CASE(test_keys_layout), HARNESS_CASE(test_record_codec),
              HARNESS_CASE(test_record_collapse), HARNESS_CASE(test_record_merge_errors),
              HARNESS_CASE(test_record_acc), HARNESS_CASE(test_agent_state_codec),
              HARNESS_CASE(test_record_decode_head));

HARNESS_MAIN()
