/* Tests of proto/codec_batch.c's Batch codec: a batch survives codec_batch_pack +
 * codec_batch_unpack field for field, and every kind of bad Batch is refused with the code and
 * the field path (codec_error.field) codec_batch.h promises. Bad inputs are made the way a broken
 * agent would make them: a valid batch is packed, parsed back into protobuf-c's message, broken
 * in one place and re-serialized by protobuf-c itself. Envelopes and the Ack are tested in
 * test_codec_envelope.c.
 *
 * Cases: roundtrip_* (a rich sample; the minimal batches); reject_* (one per rule: schema
 * version, names, epoch/seq, series count, SLI, labels, window, counts, sketch, each threshold
 * rule); decode_truncated / decode_garbage (never a crash, never an invalid batch);
 * pack_enomem / unpack_enomem (every failed allocation is SLIC_ENOMEM, explained, and leaks
 * nothing); agent_id_* (codec_batch_agent_id, the scan a signature check relies on: refuses
 * what it must, and never disagrees with the decoder). The size cap (CODEC_MAX_MESSAGE_BYTES)
 * is tested with the envelopes'. */
#include "codec_batch.h"

#include "alloc.h"
#include "batch.h"
#include "err.h"
#include "harness.h"
#include "sketch.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building batches ---------------------------------------------------------------------- */

/* A window start every series in the sample is aligned to (10 s, 60 s and 1 h). */
#define T0 INT64_C(1699999200)

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = slic_malloc(n);
    CHECK(d != NULL);
    memcpy(d, s, n);
    return d;
}

/* A string of n copies of c, in one of four static buffers used in turn (so a call may take
 * two of them as arguments). */
static const char *repeat(char c, size_t n)
{
    static char bufs[4][256];
    static unsigned next;
    char *buf = bufs[next++ % 4];
    CHECK(n < sizeof bufs[0]);
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

static void series_init(struct slic_series *s, const char *sli, int64_t start, uint32_t secs)
{
    memset(s, 0, sizeof *s);
    s->sli = xstrdup(sli);
    s->window_start = start;
    s->window_seconds = secs;
    s->labels = slic_calloc(SLIC_SERIES_LABELS_MAX, sizeof *s->labels);
    s->thresholds = slic_calloc(SLIC_SERIES_THRESHOLDS_MAX, sizeof *s->thresholds);
    CHECK(s->labels != NULL && s->thresholds != NULL);
}

/* Labels must be added in key order. */
static void series_label(struct slic_series *s, const char *key, const char *value)
{
    CHECK(s->n_labels < SLIC_SERIES_LABELS_MAX);
    s->labels[s->n_labels].key = xstrdup(key);
    s->labels[s->n_labels].value = xstrdup(value);
    s->n_labels++;
}

static void series_events(struct slic_series *s, double latency, uint64_t n, bool good)
{
    if (!s->latency)
        CHECK_OK(slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                                    &s->latency));
    CHECK_OK(slic_sketch_add_n(s->latency, latency, n));
    s->total += n;
    s->good += good ? n : 0;
}

static void series_threshold(struct slic_series *s, double t, uint64_t count_le, uint64_t good_le)
{
    CHECK(s->n_thresholds < SLIC_SERIES_THRESHOLDS_MAX);
    s->thresholds[s->n_thresholds++] = (struct slic_threshold_count){t, count_le, good_le};
}

/* Four series covering what a batch can hold:
 *   [0] "checkout", 2 labels, 10 s, 6 events (one of them 0 s, one bad), 3 thresholds
 *   [1] "login", 2 labels (one value empty), 10 s, no events and so no sketch, 1 threshold
 *   [2] "search.api:v2", no labels, a coarsened 60 s window, 2^40 + 2000 events
 *   [3] a 128-byte SLI name, 8 labels at the size limits, a 1 h window, 16 thresholds */
static void sample_batch(struct slic_batch *b)
{
    memset(b, 0, sizeof *b);
    b->agent_id = xstrdup("agent-7f3a.eu_1:x");
    b->site = xstrdup("eu-zrh");
    b->node = xstrdup("node-042.example.net");
    b->epoch = UINT64_C(1700000000123);
    b->seq = 42;
    b->created_unix_ms = T0 * 1000 + 123;
    b->n_series = 4;
    b->series = slic_calloc(b->n_series, sizeof *b->series);
    CHECK(b->series != NULL);

    struct slic_series *s = &b->series[0];
    series_init(s, "checkout", T0 + 10, 10);
    series_label(s, "method", "POST");
    series_label(s, "route", "/pay");
    series_events(s, 0.0, 1, true);
    series_events(s, 0.012, 3, true);
    series_events(s, 0.2, 1, true);
    series_events(s, 0.9, 1, false);
    series_threshold(s, 0.05, 4, 4);
    series_threshold(s, 0.25, 5, 5);
    series_threshold(s, 1.0, 6, 5);

    s = &b->series[1];
    series_init(s, "login", T0 + 20, 10);
    series_label(s, "region", "eu-west");
    series_label(s, "zone", "");
    series_threshold(s, 0.3, 0, 0);

    s = &b->series[2];
    series_init(s, "search.api:v2", T0 + 60, 60);
    struct harness_rng r;
    harness_rng_seed(&r, 11);
    for (int i = 0; i < 2000; i++)
        series_events(s, exp(harness_rng_normal(&r) - 3.0), 1, i % 200 != 0);
    series_events(s, 0.5, UINT64_C(1) << 40, true);

    s = &b->series[3];
    series_init(s, repeat('s', SLIC_NAME_MAX), T0, 3600);
    for (int i = 0; i < SLIC_SERIES_LABELS_MAX - 1; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i);
        series_label(s, key, i == 0 ? " !\"#$%&'()*+,-./~" : "v");
    }
    series_label(s, repeat('z', SLIC_LABEL_KEY_MAX), repeat('~', SLIC_LABEL_VALUE_MAX));
    for (int i = 0; i < 100; i++)
        series_events(s, 0.01 * (i + 1), 1, i % 2 == 0);
    for (uint64_t j = 0; j < SLIC_SERIES_THRESHOLDS_MAX; j++)
        series_threshold(s, 0.05 * (double)(j + 1) + 0.001, 5 * (j + 1), (5 * (j + 1) + 1) / 2);
}

/* The smallest valid batch header, around the series given. */
static struct slic_batch tiny_batch(struct slic_series *series, size_t n)
{
    struct slic_batch b = {.agent_id = "a", .site = "s", .node = "n", .epoch = 1, .seq = 1};
    b.series = series;
    b.n_series = n;
    return b;
}

static void pack_ok(const struct slic_batch *b, uint8_t **buf, size_t *len)
{
    int rc = codec_batch_pack(b, buf, len);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "codec_batch_pack: %s", slic_errname(rc));
}

static void unpack_ok(const uint8_t *buf, size_t len, struct slic_batch *out)
{
    struct codec_error err = {0};
    int rc = codec_batch_unpack(buf, len, out, &err);
    if (rc != 0) {
        char why[300];
        harness_fail(__FILE__, __LINE__, "codec_batch_unpack: %s: %s", slic_errname(rc),
                     codec_error_format(&err, why, sizeof why));
    }
}

/* ---- comparing batches --------------------------------------------------------------------- */

/* Everything in a series but its sketch, as text: two series with the same text and equal
 * sketches are equal, and a failure can print both in full. */
static const char *series_text(const struct slic_series *s, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s {", s->sli);
    for (size_t k = 0; k < s->n_labels && n >= 0 && (size_t)n < len; k++)
        n += snprintf(buf + n, len - (size_t)n, "%s=\"%s\" ", s->labels[k].key, s->labels[k].value);
    if (n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, "} %lld+%u %llu/%llu %s",
                      (long long)s->window_start, s->window_seconds, (unsigned long long)s->good,
                      (unsigned long long)s->total, s->latency ? "sketch" : "no sketch");
    for (size_t k = 0; k < s->n_thresholds && n >= 0 && (size_t)n < len; k++)
        n += snprintf(buf + n, len - (size_t)n, " <=%.17g:%llu/%llu", s->thresholds[k].threshold,
                      (unsigned long long)s->thresholds[k].good_le,
                      (unsigned long long)s->thresholds[k].count_le);
    CHECK(n >= 0 && (size_t)n < len);
    return buf;
}

static void check_series_equal(const struct slic_series *a, const struct slic_series *b, size_t i)
{
    char ta[2048], tb[2048];
    if (strcmp(series_text(a, ta, sizeof ta), series_text(b, tb, sizeof tb)) != 0)
        harness_fail(__FILE__, __LINE__, "series[%zu]:\n    %s\n != %s", i, ta, tb);
    if (a->latency && !slic_sketch_equal(a->latency, b->latency))
        harness_fail(__FILE__, __LINE__, "series[%zu].latency: sketches differ", i);
}

static void check_batch_equal(const struct slic_batch *a, const struct slic_batch *b)
{
    CHECK_STR_EQ(a->agent_id, b->agent_id);
    CHECK_STR_EQ(a->site, b->site);
    CHECK_STR_EQ(a->node, b->node);
    CHECK_U64_EQ(a->epoch, b->epoch);
    CHECK_U64_EQ(a->seq, b->seq);
    CHECK_INT_EQ(a->created_unix_ms, b->created_unix_ms);
    CHECK_U64_EQ(a->n_series, b->n_series);
    for (size_t i = 0; i < a->n_series; i++)
        check_series_equal(&a->series[i], &b->series[i], i);
}

/* Packs, unpacks and re-packs: the copy equals the original and encodes to the same bytes. */
static void roundtrip(const struct slic_batch *b)
{
    uint8_t *buf, *buf2;
    size_t len, len2;
    struct slic_batch copy;
    pack_ok(b, &buf, &len);
    CHECK(len <= CODEC_MAX_MESSAGE_BYTES);
    unpack_ok(buf, len, &copy);
    check_batch_equal(b, &copy);
    pack_ok(&copy, &buf2, &len2);
    CHECK_U64_EQ(len2, len);
    CHECK(memcmp(buf, buf2, len) == 0);
    slic_batch_fini(&copy);
    slic_free(buf);
    slic_free(buf2);
}

/* ---- round trips --------------------------------------------------------------------------- */

static void roundtrip_sample(void)
{
    struct slic_batch b;
    sample_batch(&b);
    roundtrip(&b);
    slic_batch_fini(&b);
}

/* No series at all; then one zero-total series carrying an empty sketch, which survives as one,
 * with the extremes of epoch, seq and created_unix_ms. */
static void roundtrip_minimal(void)
{
    struct slic_batch b = tiny_batch(NULL, 0);
    roundtrip(&b);
    struct slic_series s = {.sli = "idle", .window_start = 0, .window_seconds = 10};
    CHECK_OK(slic_sketch_create(0.02, 64, &s.latency));
    b = tiny_batch(&s, 1);
    b.epoch = b.seq = UINT64_MAX;
    b.created_unix_ms = -1;
    roundtrip(&b);
    slic_sketch_destroy(s.latency);
}

static void pack_rejects_missing_sketch(void)
{
    struct slic_series s = {.sli = "x", .window_start = T0, .window_seconds = 10, .total = 1};
    struct slic_batch b = tiny_batch(&s, 1);
    uint8_t *buf = (uint8_t *)"untouched";
    size_t len = 12345;
    CHECK_ERR(codec_batch_pack(&b, &buf, &len), SLIC_EINVAL);
    CHECK_STR_EQ((const char *)buf, "untouched");
    CHECK_U64_EQ(len, 12345);
}

/* ---- rejections ---------------------------------------------------------------------------- */

/* A valid sample batch as protobuf-c parsed it (with its own malloc), to break one field at a
 * time. Every change goes through SET, which remembers the old bytes, so the message can be put
 * back as protobuf-c built it before slic__batch__free_unpacked walks it: replacement strings
 * and arrays may then live on the stack. */
struct fixture {
    struct slic_batch batch;
    Slic__Batch *m;
    struct {
        void *addr;
        size_t size;
        unsigned char old[16];
    } undo[32];
    size_t n_undo;
};

static void fixture_open(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    sample_batch(&f->batch);
    uint8_t *buf;
    size_t len;
    pack_ok(&f->batch, &buf, &len);
    f->m = slic__batch__unpack(NULL, len, buf);
    CHECK(f->m != NULL);
    slic_free(buf);
}

static void fixture_save(struct fixture *f, void *addr, size_t size)
{
    CHECK(f->n_undo < sizeof f->undo / sizeof f->undo[0]);
    CHECK(size <= sizeof f->undo[0].old);
    f->undo[f->n_undo].addr = addr;
    f->undo[f->n_undo].size = size;
    memcpy(f->undo[f->n_undo].old, addr, size);
    f->n_undo++;
}

#define SET(f, lvalue, value)                                                                      \
    do {                                                                                           \
        fixture_save((f), &(lvalue), sizeof(lvalue));                                              \
        (lvalue) = (value);                                                                        \
    } while (0)

static void fixture_restore(struct fixture *f)
{
    while (f->n_undo > 0) {
        f->n_undo--;
        memcpy(f->undo[f->n_undo].addr, f->undo[f->n_undo].old, f->undo[f->n_undo].size);
    }
}

static void fixture_close(struct fixture *f)
{
    fixture_restore(f);
    slic__batch__free_unpacked(f->m, NULL);
    slic_batch_fini(&f->batch);
}

/* The message as it stands, serialized by protobuf-c; the fixture is restored afterwards. */
static uint8_t *fixture_bytes(struct fixture *f, size_t *len)
{
    *len = slic__batch__get_packed_size(f->m);
    uint8_t *buf = malloc(*len + 1);
    CHECK(buf != NULL);
    CHECK_U64_EQ(slic__batch__pack(f->m, buf), *len);
    fixture_restore(f);
    return buf;
}

/* Serializes the broken message and checks that decoding it fails with `want`, names `field`,
 * explains itself and leaves *out alone; the same without an error struct. `what` says which
 * row of a table is being checked, for the failure message. */
#define EXPECT_REJECT(f, want, field) expect_reject_at(__LINE__, "", (f), (want), (field))

static void expect_reject_at(int line, const char *what, struct fixture *f, int want,
                             const char *field)
{
    size_t len;
    uint8_t *buf = fixture_bytes(f, &len);
    struct slic_batch out, sentinel;
    memset(&out, 0xa5, sizeof out);
    memcpy(&sentinel, &out, sizeof out);
    struct codec_error err = {0};
    int rc = codec_batch_unpack(buf, len, &out, &err);
    if (rc != want)
        harness_fail(__FILE__, line,
                     "[%s] codec_batch_unpack returned %s {\"%s\": %s}, expected "
                     "%s at \"%s\"",
                     what, slic_errname(rc), rc ? err.field : "", rc ? err.msg : "accepted",
                     slic_errname(want), field);
    if (memcmp(&out, &sentinel, sizeof out) != 0)
        harness_fail(__FILE__, line, "[%s] codec_batch_unpack wrote *out on failure", what);
    if (err.code != want || strcmp(err.field, field) != 0 || err.msg[0] == '\0')
        harness_fail(__FILE__, line, "[%s] error {%s, \"%s\", \"%s\"}, expected {%s, \"%s\", ...}",
                     what, slic_errname(err.code), err.field, err.msg, slic_errname(want), field);
    if ((rc = codec_batch_unpack(buf, len, &out, NULL)) != want)
        harness_fail(__FILE__, line, "[%s] with err NULL: %s, expected %s", what, slic_errname(rc),
                     slic_errname(want));
    free(buf);
}

/* The broken message is still acceptable: returns the decoded batch (slic_batch_fini it). */
static void expect_accept(struct fixture *f, struct slic_batch *out)
{
    size_t len;
    uint8_t *buf = fixture_bytes(f, &len);
    unpack_ok(buf, len, out);
    free(buf);
}

static void reject_schema_version(void)
{
    struct fixture f;
    fixture_open(&f);
    SET(&f, f.m->has_schema_version, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "schema_version");
    SET(&f, f.m->schema_version, 0);
    EXPECT_REJECT(&f, SLIC_EVERSION, "schema_version");
    SET(&f, f.m->schema_version, CODEC_SCHEMA_VERSION + 1);
    EXPECT_REJECT(&f, SLIC_EVERSION, "schema_version");
    fixture_close(&f);
}

/* For each of agent_id, site and node: absent, empty, a character outside [A-Za-z0-9_.:-],
 * one byte too long; exactly SLIC_NAME_MAX bytes is accepted. */
static void reject_names(void)
{
    static const char *const fields[] = {"agent_id", "site", "node"};
    static const char *const bad[] = {"", "has space", "slash/", "é", "tab\t", "semi;", "star*"};
    for (int k = 0; k < 3; k++) {
        struct fixture f;
        fixture_open(&f);
        char longest[SLIC_NAME_MAX + 2];
        memset(longest, 'n', SLIC_NAME_MAX + 1);
        char **slot = k == 0 ? &f.m->agent_id : k == 1 ? &f.m->site : &f.m->node;
        SET(&f, *slot, NULL);
        expect_reject_at(__LINE__, fields[k], &f, SLIC_EMISSING, fields[k]);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            SET(&f, *slot, (char *)bad[i]);
            expect_reject_at(__LINE__, bad[i], &f, SLIC_EINVAL, fields[k]);
        }
        longest[SLIC_NAME_MAX + 1] = '\0';
        SET(&f, *slot, longest);
        expect_reject_at(__LINE__, "129 bytes", &f, SLIC_EINVAL, fields[k]);
        longest[SLIC_NAME_MAX] = '\0';
        SET(&f, *slot, longest);
        struct slic_batch out;
        expect_accept(&f, &out);
        CHECK_U64_EQ(strlen(k == 0 ? out.agent_id : k == 1 ? out.site : out.node), SLIC_NAME_MAX);
        slic_batch_fini(&out);
        fixture_close(&f);
    }
}

static void reject_epoch_seq(void)
{
    struct fixture f;
    fixture_open(&f);
    SET(&f, f.m->epoch, 0);
    EXPECT_REJECT(&f, SLIC_EINVAL, "epoch");
    SET(&f, f.m->has_epoch, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "epoch");
    SET(&f, f.m->seq, 0);
    EXPECT_REJECT(&f, SLIC_EINVAL, "seq");
    SET(&f, f.m->has_seq, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "seq");
    fixture_close(&f);
}

/* SLIC_BATCH_SERIES_MAX copies of the small zero-total series are accepted; one more is not. */
static void reject_too_many_series(void)
{
    struct fixture f;
    fixture_open(&f);
    size_t n = SLIC_BATCH_SERIES_MAX + 1;
    Slic__Series **many = malloc(n * sizeof *many);
    CHECK(many != NULL);
    for (size_t i = 0; i < n; i++)
        many[i] = f.m->series[1];
    SET(&f, f.m->series, many);
    SET(&f, f.m->n_series, n);
    EXPECT_REJECT(&f, SLIC_ETOOBIG, "series");
    SET(&f, f.m->series, many);
    SET(&f, f.m->n_series, n - 1);
    struct slic_batch out;
    expect_accept(&f, &out);
    CHECK_U64_EQ(out.n_series, SLIC_BATCH_SERIES_MAX);
    slic_batch_fini(&out);
    free(many);
    fixture_close(&f);
}

static void reject_sli(void)
{
    struct fixture f;
    fixture_open(&f);
    SET(&f, f.m->series[2]->sli, NULL);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[2].sli");
    SET(&f, f.m->series[2]->sli, "check out");
    EXPECT_REJECT(&f, SLIC_EINVAL, "series[2].sli");
    SET(&f, f.m->series[2]->sli, "");
    EXPECT_REJECT(&f, SLIC_EINVAL, "series[2].sli");
    fixture_close(&f);
}

static void reject_too_many_labels(void)
{
    struct fixture f;
    fixture_open(&f);
    Slic__Label labels[SLIC_SERIES_LABELS_MAX + 1];
    Slic__Label *ptrs[SLIC_SERIES_LABELS_MAX + 1];
    char keys[SLIC_SERIES_LABELS_MAX + 1][16];
    for (int i = 0; i <= SLIC_SERIES_LABELS_MAX; i++) {
        slic__label__init(&labels[i]);
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        labels[i].key = keys[i];
        labels[i].value = "v";
        ptrs[i] = &labels[i];
    }
    SET(&f, f.m->series[1]->labels, ptrs);
    SET(&f, f.m->series[1]->n_labels, SLIC_SERIES_LABELS_MAX + 1);
    EXPECT_REJECT(&f, SLIC_ETOOBIG, "series[1].labels");
    fixture_close(&f);
}

static void reject_label_key(void)
{
    struct fixture f;
    fixture_open(&f);
    static const char *const bad[] = {"", "1st", "has-dash", "dot.ted", "sp ace", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SET(&f, f.m->series[1]->labels[0]->key, (char *)bad[i]);
        expect_reject_at(__LINE__, bad[i], &f, SLIC_EINVAL, "series[1].labels");
    }
    /* "a" * 65 sorts before "region" too, so only its length is at fault. */
    SET(&f, f.m->series[1]->labels[0]->key, (char *)repeat('a', SLIC_LABEL_KEY_MAX + 1));
    EXPECT_REJECT(&f, SLIC_EINVAL, "series[1].labels");
    SET(&f, f.m->series[1]->labels[1]->key, NULL);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[1].labels");
    fixture_close(&f);
}

static void reject_label_value(void)
{
    struct fixture f;
    fixture_open(&f);
    static const char *const bad[] = {"tab\there", "new\nline", "\x7f", "caf\xc3\xa9", "\x1b[31m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SET(&f, f.m->series[1]->labels[1]->value, (char *)bad[i]);
        expect_reject_at(__LINE__, bad[i], &f, SLIC_EINVAL, "series[1].labels");
    }
    SET(&f, f.m->series[1]->labels[1]->value, (char *)repeat('v', SLIC_LABEL_VALUE_MAX + 1));
    EXPECT_REJECT(&f, SLIC_EINVAL, "series[1].labels");
    SET(&f, f.m->series[1]->labels[0]->value, NULL);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[1].labels");
    fixture_close(&f);
}

static void reject_labels_order(void)
{
    struct fixture f;
    fixture_open(&f);
    Slic__Label **l = f.m->series[1]->labels;
    Slic__Label *first = l[0];
    SET(&f, l[0], l[1]);
    SET(&f, l[1], first);
    expect_reject_at(__LINE__, "unsorted", &f, SLIC_EINCONSISTENT, "series[1].labels");
    SET(&f, l[1]->key, l[0]->key);
    EXPECT_REJECT(&f, SLIC_EINCONSISTENT, "series[1].labels");
    fixture_close(&f);
}

static void reject_window_seconds(void)
{
    struct fixture f;
    fixture_open(&f);
    Slic__Series *s = f.m->series[0];
    static const uint32_t bad[] = {0, 1, 5, 15, 25, 366u * 86400u + 10, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SET(&f, s->window_start, 0);
        SET(&f, s->window_seconds, bad[i]);
        EXPECT_REJECT(&f, SLIC_EINVAL, "series[0].window_seconds");
    }
    SET(&f, s->has_window_seconds, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[0].window_seconds");
    fixture_close(&f);
}

static void reject_window_start(void)
{
    struct fixture f;
    fixture_open(&f);
    Slic__Series *s = f.m->series[2]; /* 60 s */
    static const int64_t bad[] = {T0 + 1, T0 + 10, T0 + 30, T0 - 1, -60, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SET(&f, s->window_start, bad[i]);
        EXPECT_REJECT(&f, SLIC_EINVAL, "series[2].window_start");
    }
    /* Aligned, but the window would end past INT64_MAX: every reader adds the two. */
    SET(&f, s->window_start, INT64_MAX - INT64_MAX % 60);
    EXPECT_REJECT(&f, SLIC_EINVAL, "series[2].window_start");
    SET(&f, s->has_window_start, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[2].window_start");
    /* The epoch itself is a valid window start. */
    SET(&f, s->window_start, 0);
    struct slic_batch out;
    expect_accept(&f, &out);
    CHECK_INT_EQ(out.series[2].window_start, 0);
    slic_batch_fini(&out);
    fixture_close(&f);
}

static void reject_counts(void)
{
    struct fixture f;
    fixture_open(&f);
    SET(&f, f.m->series[1]->good, 1);
    EXPECT_REJECT(&f, SLIC_EINCONSISTENT, "series[1].good");
    SET(&f, f.m->series[0]->has_total, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[0].total");
    SET(&f, f.m->series[0]->has_good, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[0].good");
    fixture_close(&f);
}

/* total > 0 needs a sketch, and the sketch must hold exactly total values. */
static void reject_latency(void)
{
    struct fixture f;
    fixture_open(&f);
    SET(&f, f.m->series[0]->latency, NULL);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[0].latency");
    SET(&f, f.m->series[0]->total, 7);
    EXPECT_REJECT(&f, SLIC_EINCONSISTENT, "series[0].latency");
    SET(&f, f.m->series[0]->total, 5);
    SET(&f, f.m->series[0]->good, 4);
    SET(&f, f.m->series[0]->n_thresholds, 0);
    EXPECT_REJECT(&f, SLIC_EINCONSISTENT, "series[0].latency");
    fixture_close(&f);
}

/* The sketch decoder's own errors arrive with the series' path in front. */
static void reject_sketch_nested(void)
{
    struct fixture f;
    fixture_open(&f);
    Slic__Sketch *sk = f.m->series[2]->latency;
    SET(&f, sk->sum, NAN);
    EXPECT_REJECT(&f, SLIC_EVALUE, "series[2].latency.sum");
    SET(&f, sk->alpha, 0.5);
    EXPECT_REJECT(&f, SLIC_EINVAL, "series[2].latency.alpha");
    SET(&f, sk->has_mapping, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[2].latency.mapping");
    SET(&f, sk->min, -1.0);
    EXPECT_REJECT(&f, SLIC_EVALUE, "series[2].latency.min");
    fixture_close(&f);
}

static void reject_thresholds_too_many(void)
{
    struct fixture f;
    fixture_open(&f);
    Slic__ThresholdCount t[SLIC_SERIES_THRESHOLDS_MAX + 1];
    Slic__ThresholdCount *ptrs[SLIC_SERIES_THRESHOLDS_MAX + 1];
    for (int i = 0; i <= SLIC_SERIES_THRESHOLDS_MAX; i++) {
        slic__threshold_count__init(&t[i]);
        t[i].has_threshold = t[i].has_count_le = t[i].has_good_le = 1;
        t[i].threshold = 0.1 * (i + 1);
        ptrs[i] = &t[i];
    }
    SET(&f, f.m->series[0]->thresholds, ptrs);
    SET(&f, f.m->series[0]->n_thresholds, SLIC_SERIES_THRESHOLDS_MAX + 1);
    EXPECT_REJECT(&f, SLIC_ETOOBIG, "series[0].thresholds");
    fixture_close(&f);
}

/* Thresholds that are not positive finite seconds, not strictly ascending, or lack a part. */
static void reject_thresholds_values(void)
{
    struct fixture f;
    fixture_open(&f);
    Slic__ThresholdCount **t = f.m->series[0]->thresholds;
    static const double bad[] = {NAN, -NAN, -0.5, 0.0, -0.0, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SET(&f, t[0]->threshold, bad[i]);
        EXPECT_REJECT(&f, SLIC_EVALUE, "series[0].thresholds");
    }
    SET(&f, t[1]->threshold, t[0]->threshold);
    expect_reject_at(__LINE__, "repeated", &f, SLIC_EINCONSISTENT, "series[0].thresholds");
    SET(&f, t[2]->threshold, 0.01);
    expect_reject_at(__LINE__, "descending", &f, SLIC_EINCONSISTENT, "series[0].thresholds");
    SET(&f, t[1]->has_threshold, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[0].thresholds");
    SET(&f, t[1]->has_count_le, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[0].thresholds");
    SET(&f, t[1]->has_good_le, 0);
    EXPECT_REJECT(&f, SLIC_EMISSING, "series[0].thresholds");
    fixture_close(&f);
}

/* series[0]: total 6, good 5; thresholds 0.05 s {4, 4}, 0.25 s {5, 5}, 1 s {6, 5}. */
static void reject_thresholds_counts(void)
{
    static const struct {
        const char *what;
        size_t index;
        uint64_t count_le, good_le;
    } bad[] = {
        {"count_le > total", 2, 7, 5},
        {"good_le > count_le", 0, 4, 5},
        {"good_le > good", 2, 6, 6},
        {"count_le falls as the threshold rises", 2, 4, 4},
        {"good_le falls as the threshold rises", 1, 4, 3},
        {"more bad events under it than the series has", 0, 4, 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fixture f;
        fixture_open(&f);
        Slic__ThresholdCount *t = f.m->series[0]->thresholds[bad[i].index];
        SET(&f, t->count_le, bad[i].count_le);
        SET(&f, t->good_le, bad[i].good_le);
        expect_reject_at(__LINE__, bad[i].what, &f, SLIC_EINCONSISTENT, "series[0].thresholds");
        fixture_close(&f);
    }
}

/* Absent created_unix_ms reads as 0; fields a later schema adds are skipped. */
static void decode_optional_and_unknown(void)
{
    struct fixture f;
    fixture_open(&f);
    SET(&f, f.m->has_created_unix_ms, 0);
    struct slic_batch out;
    expect_accept(&f, &out);
    CHECK_INT_EQ(out.created_unix_ms, 0);
    slic_batch_fini(&out);

    uint8_t *buf;
    size_t len;
    pack_ok(&f.batch, &buf, &len);
    const uint8_t extra[] = {0xf8, 0x01, 0x07, 0x7a, 0x02, 'h', 'i'}; /* 31: 7, 15: "hi" */
    uint8_t *longer = malloc(len + sizeof extra);
    CHECK(longer != NULL);
    memcpy(longer, buf, len);
    memcpy(longer + len, extra, sizeof extra);
    unpack_ok(longer, len + sizeof extra, &out);
    check_batch_equal(&f.batch, &out);
    slic_batch_fini(&out);
    free(longer);
    slic_free(buf);
    fixture_close(&f);
}

/* ---- malformed bytes ----------------------------------------------------------------------- */

/* What any batch codec_batch_unpack returns must satisfy, whatever bytes it came from. */
static void check_decoded_valid(const struct slic_batch *b)
{
    CHECK(slic_name_valid(b->agent_id) && slic_name_valid(b->site) && slic_name_valid(b->node));
    CHECK(b->epoch > 0 && b->seq > 0 && b->n_series <= SLIC_BATCH_SERIES_MAX);
    for (size_t i = 0; i < b->n_series; i++) {
        const struct slic_series *s = &b->series[i];
        CHECK(slic_name_valid(s->sli));
        CHECK(s->n_labels <= SLIC_SERIES_LABELS_MAX &&
              s->n_thresholds <= SLIC_SERIES_THRESHOLDS_MAX);
        CHECK(s->window_seconds > 0 && s->window_start % s->window_seconds == 0);
        CHECK(s->good <= s->total);
        CHECK(s->latency ? slic_sketch_count(s->latency) == s->total : s->total == 0);
    }
    roundtrip(b);
}

/* A failed decode: a real code, explained, and *out untouched. */
static void check_failed(int rc, const struct codec_error *err, const struct slic_batch *out,
                         size_t at)
{
    static const struct slic_batch zero;
    if (err->code != rc || err->msg[0] == '\0' || strcmp(slic_errname(rc), "EUNKNOWN") == 0)
        harness_fail(__FILE__, __LINE__, "at %zu bytes: %s with error {%s, \"%s\", \"%s\"}", at,
                     slic_errname(rc), slic_errname(err->code), err->field, err->msg);
    if (memcmp(out, &zero, sizeof zero) != 0)
        harness_fail(__FILE__, __LINE__, "at %zu bytes: *out written on failure", at);
}

static void decode_truncated(void)
{
    struct slic_batch b;
    sample_batch(&b);
    uint8_t *buf;
    size_t len;
    pack_ok(&b, &buf, &len);
    int n_decode = 0, n_ok = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        /* Exactly `cut` bytes of their own, so ASan sees any read past the end. */
        uint8_t *part = malloc(cut > 0 ? cut : 1);
        CHECK(part != NULL);
        memcpy(part, buf, cut);
        struct slic_batch out = {0};
        struct codec_error err = {0};
        int rc = codec_batch_unpack(part, cut, &out, &err);
        if (rc == 0) {
            check_decoded_valid(&out);
            slic_batch_fini(&out);
            n_ok++;
        } else {
            check_failed(rc, &err, &out, cut);
            n_decode += rc == SLIC_EDECODE;
        }
        free(part);
    }
    /* A prefix decodes only when it ends between two top-level fields after seq: with 0, 1, 2,
     * 3 or 4 whole series (created_unix_ms, which comes last, then reads as 0), and the whole.
     * Every other cut loses a required field or the tail of a series. */
    CHECK_INT_EQ(n_ok, 6);
    CHECK(n_decode > (int)len / 2);
    slic_free(buf);
    slic_batch_fini(&b);
}

/* Calls check on 1000 random byte strings of up to 199 bytes, then on 2000 copies of the sample
 * batch with one to four bits flipped; each in a buffer of its exact size, so ASan sees any
 * read past the end. */
static void for_each_mutation(uint64_t seed, void (*check)(const uint8_t *buf, size_t len))
{
    struct slic_batch b;
    sample_batch(&b);
    uint8_t *buf;
    size_t len;
    pack_ok(&b, &buf, &len);
    struct harness_rng r;
    harness_rng_seed(&r, seed);
    for (int round = 0; round < 3000; round++) {
        size_t n = round < 1000 ? harness_rng_next(&r) % 200 : len;
        uint8_t *copy = malloc(n > 0 ? n : 1);
        CHECK(copy != NULL);
        if (round < 1000) {
            for (size_t i = 0; i < n; i++)
                copy[i] = (uint8_t)harness_rng_next(&r);
        } else {
            memcpy(copy, buf, len);
            for (int k = 0; k <= round % 4; k++)
                copy[harness_rng_next(&r) % len] ^= (uint8_t)(1u << (harness_rng_next(&r) % 8));
        }
        check(copy, n);
        free(copy);
    }
    slic_free(buf);
    slic_batch_fini(&b);
}

/* Whatever the bytes: a valid batch, or a failure that is explained and writes nothing. */
static void check_decode_any(const uint8_t *buf, size_t len)
{
    struct slic_batch out = {0};
    struct codec_error err = {0};
    int rc = codec_batch_unpack(buf, len, &out, &err);
    if (rc == 0) {
        check_decoded_valid(&out);
        slic_batch_fini(&out);
    } else {
        check_failed(rc, &err, &out, len);
    }
}

static void decode_garbage(void)
{
    struct slic_batch out = {0};
    struct codec_error err = {0};
    static const uint8_t junk[][8] = {
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* an endless varint */
        {0x3a, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* series of 127 bytes, 6 present */
        {0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* wire type 7 */
        {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* field number 0 */
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        CHECK_ERR(codec_batch_unpack(junk[i], sizeof junk[i], &out, &err), SLIC_EDECODE);
        check_failed(SLIC_EDECODE, &err, &out, sizeof junk[i]);
        CHECK_STR_EQ(err.field, "");
    }
    /* An empty message is a valid protobuf lacking every field. */
    CHECK_ERR(codec_batch_unpack(NULL, 0, &out, &err), SLIC_EMISSING);
    CHECK_STR_EQ(err.field, "schema_version");

    /* Random bytes and bit flips of a valid batch: never a crash, never an invalid batch. */
    for_each_mutation(5, check_decode_any);
}

/* ---- the agent_id alone (codec_batch_agent_id) --------------------------------------------- */

/* What the aggregator checks a signature for must be what it then decodes: whenever both the
 * scan and the decoder accept bytes, they agree on the agent_id. */
static void check_agent_id_agrees(const uint8_t *buf, size_t len)
{
    char id[SLIC_NAME_MAX + 1];
    struct codec_error err = {0};
    struct slic_batch out = {0};
    int peek = codec_batch_agent_id(buf, len, id, &err);
    if (peek != 0)
        CHECK(err.code == peek && err.msg[0] != '\0');
    if (codec_batch_unpack(buf, len, &out, NULL) != 0)
        return;
    if (peek == 0)
        CHECK_STR_EQ(id, out.agent_id);
    slic_batch_fini(&out);
}

static void agent_id_of_valid_batches(void)
{
    struct fixture f;
    fixture_open(&f);
    char id[SLIC_NAME_MAX + 1], longest[SLIC_NAME_MAX + 1];
    size_t len;
    uint8_t *buf = fixture_bytes(&f, &len);
    CHECK_OK(codec_batch_agent_id(buf, len, id, NULL));
    CHECK_STR_EQ(id, f.batch.agent_id);
    free(buf);
    memset(longest, 'a', SLIC_NAME_MAX);
    longest[SLIC_NAME_MAX] = '\0';
    SET(&f, f.m->agent_id, longest);
    buf = fixture_bytes(&f, &len);
    CHECK_OK(codec_batch_agent_id(buf, len, id, NULL));
    CHECK_STR_EQ(id, longest);
    free(buf);
    fixture_close(&f);
}

static void expect_agent_id_reject(int line, const uint8_t *buf, size_t len, int want,
                                   const char *field)
{
    char id[SLIC_NAME_MAX + 1] = "untouched";
    struct codec_error err = {0};
    int rc = codec_batch_agent_id(buf, len, id, &err);
    if (rc != want || strcmp(err.field, field) != 0 || err.msg[0] == '\0')
        harness_fail(__FILE__, line, "codec_batch_agent_id: %s {\"%s\": %s}, expected %s at \"%s\"",
                     slic_errname(rc), err.field, err.msg, slic_errname(want), field);
    CHECK_STR_EQ(id, "untouched");
    CHECK_ERR(codec_batch_agent_id(buf, len, id, NULL), want);
}

/* Absent, invalid, twice (which the decoder would take, keeping the last: the case the scan
 * exists to refuse), with the wrong wire type; malformed wire format anywhere. */
static void agent_id_refused(void)
{
    struct fixture f;
    fixture_open(&f);
    size_t len;
    SET(&f, f.m->agent_id, NULL);
    uint8_t *buf = fixture_bytes(&f, &len);
    expect_agent_id_reject(__LINE__, buf, len, SLIC_EMISSING, "agent_id");
    free(buf);
    static const char *const bad[] = {"", "has space", "tab\t", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        SET(&f, f.m->agent_id, (char *)bad[i]);
        buf = fixture_bytes(&f, &len);
        expect_agent_id_reject(__LINE__, buf, len, SLIC_EINVAL, "agent_id");
        free(buf);
    }
    char too_long[SLIC_NAME_MAX + 2];
    memset(too_long, 'a', SLIC_NAME_MAX + 1);
    too_long[SLIC_NAME_MAX + 1] = '\0';
    SET(&f, f.m->agent_id, too_long);
    buf = fixture_bytes(&f, &len);
    expect_agent_id_reject(__LINE__, buf, len, SLIC_EINVAL, "agent_id");
    free(buf);

    buf = fixture_bytes(&f, &len);
    static const uint8_t second[] = {0x12, 0x05, 'o', 't', 'h', 'e', 'r'}; /* agent_id "other" */
    static const uint8_t as_varint[] = {0x10, 0x01};                       /* field 2, varint */
    static const uint8_t nul_in_id[] = {0x12, 0x03, 'a', 0x00, 'b'};
    uint8_t *more = malloc(len + sizeof second);
    CHECK(more != NULL);
    memcpy(more, buf, len);
    memcpy(more + len, second, sizeof second);
    struct slic_batch out;
    unpack_ok(more, len + sizeof second, &out); /* protobuf: the last one wins */
    CHECK_STR_EQ(out.agent_id, "other");
    slic_batch_fini(&out);
    expect_agent_id_reject(__LINE__, more, len + sizeof second, SLIC_EDECODE, "agent_id");
    memcpy(more + len, as_varint, sizeof as_varint);
    expect_agent_id_reject(__LINE__, more, len + sizeof as_varint, SLIC_EDECODE, "agent_id");
    expect_agent_id_reject(__LINE__, nul_in_id, sizeof nul_in_id, SLIC_EINVAL, "agent_id");
    free(more);
    free(buf);

    static const uint8_t junk[][8] = {
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* an endless varint */
        {0x3a, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* 127 bytes announced, 6 present */
        {0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* wire type 7 */
        {0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* a group */
        {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* field number 0 */
        {0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12}, /* 64-bit value, then a cut tag */
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        expect_agent_id_reject(__LINE__, junk[i], sizeof junk[i], SLIC_EDECODE, "");
    expect_agent_id_reject(__LINE__, NULL, 0, SLIC_EMISSING, "agent_id");
    expect_agent_id_reject(__LINE__, junk[0], CODEC_MAX_MESSAGE_BYTES + 1u, SLIC_ETOOBIG, "");
    fixture_close(&f);
}

/* Every prefix, random bytes and bit flips: bounded reads (ASan) and agreement with the
 * decoder whenever both accept. */
static void agent_id_fuzz(void)
{
    struct slic_batch b;
    sample_batch(&b);
    uint8_t *buf;
    size_t len;
    pack_ok(&b, &buf, &len);
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *part = malloc(cut > 0 ? cut : 1);
        CHECK(part != NULL);
        memcpy(part, buf, cut);
        check_agent_id_agrees(part, cut);
        free(part);
    }
    slic_free(buf);
    slic_batch_fini(&b);
    for_each_mutation(11, check_agent_id_agrees);
}

/* ---- allocation failure -------------------------------------------------------------------- */

static void pack_enomem(void)
{
    struct slic_batch b;
    sample_batch(&b);
    long n;
    for (n = 0; n < 1000; n++) {
        uint8_t *buf = (uint8_t *)"untouched";
        size_t len = 12345;
        slic_alloc_fail_after(n);
        int rc = codec_batch_pack(&b, &buf, &len);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            slic_free(buf);
            break;
        }
        if (rc != SLIC_ENOMEM)
            harness_fail(__FILE__, __LINE__, "allocation %ld failed: %s, expected SLIC_ENOMEM", n,
                         slic_errname(rc));
        CHECK_STR_EQ((const char *)buf, "untouched");
        CHECK_U64_EQ(len, 12345);
    }
    /* Seven arrays of message structs and the output buffer. */
    CHECK_INT_EQ(n, 8);
    slic_batch_fini(&b);
}

/* Fails the first, second, ... allocation of one decode until it succeeds: every failure is
 * SLIC_ENOMEM, explained, with *out untouched and nothing leaked (LeakSanitizer checks when the
 * case's process exits). Returns how many allocations the decode needs. */
static long unpack_enomem_all(const struct slic_batch *b)
{
    uint8_t *buf;
    size_t len;
    pack_ok(b, &buf, &len);
    for (long n = 0; n < 100000; n++) {
        struct slic_batch out = {0};
        struct codec_error err = {0};
        slic_alloc_fail_after(n);
        int rc = codec_batch_unpack(buf, len, &out, &err);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            check_batch_equal(b, &out);
            slic_batch_fini(&out);
            slic_free(buf);
            return n;
        }
        if (rc != SLIC_ENOMEM)
            harness_fail(__FILE__, __LINE__, "allocation %ld: %s {\"%s\": %s}, expected ENOMEM", n,
                         slic_errname(rc), err.field, err.msg);
        check_failed(rc, &err, &out, len);
    }
    harness_fail(__FILE__, __LINE__, "decode never succeeded");
}

static void unpack_enomem(void)
{
    struct slic_batch b;
    sample_batch(&b);
    /* protobuf-c's message tree, then the strings, labels, thresholds and sketches. */
    CHECK(unpack_enomem_all(&b) > 60);
    slic_batch_fini(&b);
    struct slic_batch empty = tiny_batch(NULL, 0);
    CHECK(unpack_enomem_all(&empty) >= 5);
}

HARNESS_CASES(HARNESS_CASE(roundtrip_sample), HARNESS_CASE(roundtrip_minimal),
              HARNESS_CASE(pack_rejects_missing_sketch), HARNESS_CASE(reject_schema_version),
              HARNESS_CASE(reject_names), HARNESS_CASE(reject_epoch_seq),
              HARNESS_CASE(reject_too_many_series), HARNESS_CASE(reject_sli),
              HARNESS_CASE(reject_too_many_labels), HARNESS_CASE(reject_label_key),
              HARNESS_CASE(reject_label_value), HARNESS_CASE(reject_labels_order),
              HARNESS_CASE(reject_window_seconds), HARNESS_CASE(reject_window_start),
              HARNESS_CASE(reject_counts), HARNESS_CASE(reject_latency),
              HARNESS_CASE(reject_sketch_nested), HARNESS_CASE(reject_thresholds_too_many),
              HARNESS_CASE(reject_thresholds_values), HARNESS_CASE(reject_thresholds_counts),
              HARNESS_CASE(decode_optional_and_unknown), HARNESS_CASE(decode_truncated),
              HARNESS_CASE(decode_garbage), HARNESS_CASE(pack_enomem), HARNESS_CASE(unpack_enomem),
              HARNESS_CASE(agent_id_of_valid_batches), HARNESS_CASE(agent_id_refused),
              HARNESS_CASE(agent_id_fuzz));

HARNESS_MAIN()
