/* Tests of proto/codec_batch.c's envelopes: a Request carries exactly one of a serialized batch
 * (with its HMAC) or a query, a Response exactly one of an Ack or a Reply, and each survives
 * pack + unpack; every malformed envelope and Ack is refused with the code and field path
 * codec_batch.h promises, and no allocation failure leaks or is misreported. The Batch itself is
 * tested in test_codec_batch.c.
 *
 * Cases:
 *   requests   request_roundtrip_batch, request_roundtrip_query, request_pack_invalid,
 *              reject_request_shape (neither, both, HMAC without batch, empty batch),
 *              request_truncated, request_garbage
 *   size caps  request_oversized, batch_oversized, response_oversized
 *   responses  response_roundtrip_ack (every status, reason, wanted thresholds),
 *              response_ack_long_reason, response_roundtrip_reply, response_pack_invalid,
 *              reject_response_shape (neither, both, an ack or reply the caller did not expect),
 *              reject_ack_header, reject_ack_wanted, response_truncated,
 *              response_ack_cause, response_ack_cause_unknown (Ack.cause)
 *   memory     request_enomem, response_enomem */
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

/* ---- helpers ------------------------------------------------------------------------------- */

/* A small valid batch, serialized. */
static uint8_t *batch_bytes(size_t *len)
{
    struct slic_label labels[] = {{"route", "/pay"}};
    struct slic_threshold_count thr[] = {{0.1, 2, 1}};
    struct slic_series s = {.sli = "checkout",
                            .labels = labels,
                            .n_labels = 1,
                            .window_start = 1700000000,
                            .window_seconds = 10,
                            .total = 3,
                            .good = 2,
                            .thresholds = thr,
                            .n_thresholds = 1};
    CHECK_OK(slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, 256, &s.latency));
    CHECK_OK(slic_sketch_add(s.latency, 0.02));
    CHECK_OK(slic_sketch_add(s.latency, 0.05));
    CHECK_OK(slic_sketch_add(s.latency, 1.5));
    struct slic_batch b = {.agent_id = "agent-1",
                           .site = "eu-zrh",
                           .node = "n1",
                           .epoch = 7,
                           .seq = 9,
                           .created_unix_ms = 1700000000123,
                           .series = &s,
                           .n_series = 1};
    uint8_t *buf;
    CHECK_OK(codec_batch_pack(&b, &buf, len));
    slic_sketch_destroy(s.latency);
    return buf;
}

/* An HMAC-sized tag with zero bytes inside, which must survive as bytes. */
static const uint8_t hmac32[32] = {0x00, 0x01, 0xff, 0x00, 0x7f, 0x80, 1,  2,  3,  4,  5,
                                   6,    7,    8,    9,    10,   11,   12, 13, 14, 15, 16,
                                   17,   18,   19,   20,   21,   22,   23, 24, 0,  0};

static double query_quantiles[] = {0.5, 0.99, 0.999};
static double query_thresholds[] = {0.1, 0.25};

/* Points *q at a query naming every field; nothing is allocated. */
static void sample_query(Slic__Query *q, Slic__Label *label, Slic__Label **label_ptr)
{
    slic__query__init(q);
    slic__label__init(label);
    label->key = "route";
    label->value = "/pay";
    *label_ptr = label;
    q->has_schema_version = q->has_kind = q->has_from = q->has_to = 1;
    q->schema_version = CODEC_SCHEMA_VERSION;
    q->kind = SLIC__QUERY__KIND__SLI;
    q->sli = "checkout";
    q->site = "eu-zrh";
    q->from = 1700000000;
    q->to = 1700003600;
    q->n_quantiles = 3;
    q->quantiles = query_quantiles;
    q->n_thresholds = 2;
    q->thresholds = query_thresholds;
    q->n_labels = 1;
    q->labels = label_ptr;
}

static uint8_t *message_bytes(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len + 1);
    CHECK(buf != NULL);
    CHECK_U64_EQ(protobuf_c_message_pack(m, buf), *len);
    return buf;
}

/* Copies exactly n bytes to a buffer of their own, so ASan sees any read past the end. */
static uint8_t *exact_copy(const uint8_t *buf, size_t n)
{
    uint8_t *part = malloc(n > 0 ? n : 1);
    CHECK(part != NULL);
    memcpy(part, buf, n);
    return part;
}

static void check_error(int line, const char *what, int rc, const struct codec_error *err, int want,
                        const char *field)
{
    if (rc != want)
        harness_fail(__FILE__, line, "[%s] returned %s {\"%s\": %s}, expected %s at \"%s\"", what,
                     slic_errname(rc), rc ? err->field : "", rc ? err->msg : "accepted",
                     slic_errname(want), field);
    if (err->code != want || strcmp(err->field, field) != 0 || err->msg[0] == '\0')
        harness_fail(__FILE__, line, "[%s] error {%s, \"%s\", \"%s\"}, expected {%s, \"%s\", ...}",
                     what, slic_errname(err->code), err->field, err->msg, slic_errname(want),
                     field);
}

/* A request that fails to decode fails with a real code, explained, and *out untouched. */
static void expect_request_reject(int line, const char *what, const uint8_t *buf, size_t len,
                                  int want, const char *field)
{
    struct codec_request out, sentinel;
    memset(&out, 0xa5, sizeof out);
    memcpy(&sentinel, &out, sizeof out);
    struct codec_error err = {0};
    int rc = codec_request_unpack(buf, len, &out, &err);
    check_error(line, what, rc, &err, want, field);
    if (memcmp(&out, &sentinel, sizeof out) != 0)
        harness_fail(__FILE__, line, "[%s] *out written on failure", what);
    if (codec_request_unpack(buf, len, &out, NULL) != want)
        harness_fail(__FILE__, line, "[%s] another code with err NULL", what);
}

/* The same for responses; both out-parameters stay untouched. */
static void expect_response_reject(int line, const char *what, const uint8_t *buf, size_t len,
                                   bool want_ack, bool want_reply, int want, const char *field)
{
    struct slic_ack ack, ack_sentinel;
    memset(&ack, 0xa5, sizeof ack);
    memcpy(&ack_sentinel, &ack, sizeof ack);
    Slic__Reply *reply = (Slic__Reply *)&ack_sentinel;
    struct codec_error err = {0};
    int rc =
        codec_response_unpack(buf, len, want_ack ? &ack : NULL, want_reply ? &reply : NULL, &err);
    check_error(line, what, rc, &err, want, field);
    if (memcmp(&ack, &ack_sentinel, sizeof ack) != 0 || reply != (Slic__Reply *)&ack_sentinel)
        harness_fail(__FILE__, line, "[%s] an out-parameter was written on failure", what);
}

/* ---- requests ------------------------------------------------------------------------------ */

static void request_roundtrip_batch(void)
{
    size_t blen;
    uint8_t *batch = batch_bytes(&blen);
    for (int signed_ = 0; signed_ <= 1; signed_++) {
        uint8_t *buf;
        size_t len;
        CHECK_OK(codec_request_pack(batch, blen, signed_ ? hmac32 : NULL, sizeof hmac32, NULL, &buf,
                                    &len));
        struct codec_request req;
        struct codec_error err = {0};
        CHECK_OK(codec_request_unpack(buf, len, &req, &err));
        CHECK(req.msg != NULL && req.query == NULL);
        CHECK_U64_EQ(req.batch_len, blen);
        CHECK(req.batch != NULL && memcmp(req.batch, batch, blen) == 0);
        if (signed_) {
            CHECK_U64_EQ(req.hmac_len, sizeof hmac32);
            CHECK(req.hmac != NULL && memcmp(req.hmac, hmac32, sizeof hmac32) == 0);
        } else {
            CHECK(req.hmac == NULL);
            CHECK_U64_EQ(req.hmac_len, 0);
        }
        /* The batch inside decodes, and re-encodes to the very bytes that were signed. */
        struct slic_batch b;
        CHECK_OK(codec_batch_unpack(req.batch, req.batch_len, &b, NULL));
        uint8_t *again;
        size_t again_len;
        CHECK_OK(codec_batch_pack(&b, &again, &again_len));
        CHECK_U64_EQ(again_len, blen);
        CHECK(memcmp(again, batch, blen) == 0);
        slic_free(again);
        slic_batch_fini(&b);
        codec_request_fini(&req);
        CHECK(req.msg == NULL && req.batch == NULL);
        codec_request_fini(&req); /* twice is harmless */
        codec_request_fini(NULL);
        slic_free(buf);
    }
    slic_free(batch);
}

static void request_roundtrip_query(void)
{
    Slic__Query q;
    Slic__Label label, *label_ptr;
    sample_query(&q, &label, &label_ptr);
    uint8_t *buf;
    size_t len;
    CHECK_OK(codec_request_pack(NULL, 0, NULL, 0, &q, &buf, &len));
    struct codec_request req;
    CHECK_OK(codec_request_unpack(buf, len, &req, NULL));
    CHECK(req.batch == NULL && req.hmac == NULL && req.query != NULL);
    CHECK_U64_EQ(req.batch_len, 0);
    const Slic__Query *got = req.query;
    CHECK(got->has_schema_version && got->schema_version == CODEC_SCHEMA_VERSION);
    CHECK(got->has_kind && got->kind == SLIC__QUERY__KIND__SLI);
    CHECK_STR_EQ(got->sli, "checkout");
    CHECK_STR_EQ(got->site, "eu-zrh");
    CHECK(got->node == NULL);
    CHECK(got->has_from && got->from == 1700000000 && got->has_to && got->to == 1700003600);
    CHECK_U64_EQ(got->n_quantiles, 3);
    CHECK(memcmp(got->quantiles, query_quantiles, sizeof query_quantiles) == 0);
    CHECK_U64_EQ(got->n_thresholds, 2);
    CHECK(memcmp(got->thresholds, query_thresholds, sizeof query_thresholds) == 0);
    CHECK_U64_EQ(got->n_labels, 1);
    CHECK_STR_EQ(got->labels[0]->key, "route");
    CHECK_STR_EQ(got->labels[0]->value, "/pay");
    codec_request_fini(&req);
    slic_free(buf);
}

static void request_pack_invalid(void)
{
    Slic__Query q;
    Slic__Label label, *label_ptr;
    sample_query(&q, &label, &label_ptr);
    uint8_t *buf = (uint8_t *)"untouched";
    size_t len = 12345;
    CHECK_ERR(codec_request_pack(NULL, 0, NULL, 0, NULL, &buf, &len), SLIC_EINVAL);
    CHECK_ERR(codec_request_pack(hmac32, 4, NULL, 0, &q, &buf, &len), SLIC_EINVAL);
    CHECK_STR_EQ((const char *)buf, "untouched");
    CHECK_U64_EQ(len, 12345);
}

static void reject_request_shape(void)
{
    Slic__Query q;
    Slic__Label label, *label_ptr;
    sample_query(&q, &label, &label_ptr);
    static const struct {
        const char *what;
        bool batch, hmac, query;
        size_t batch_len;
        int want;
        const char *field;
    } rows[] = {
        {"neither batch nor query", false, false, false, 0, SLIC_EMISSING, "batch"},
        {"an HMAC alone", false, true, false, 0, SLIC_EMISSING, "batch"},
        {"both batch and query", true, false, true, 8, SLIC_EINCONSISTENT, "batch"},
        {"an HMAC with a query", false, true, true, 0, SLIC_EINCONSISTENT, "batch_hmac"},
        /* protobuf-c gives a present, empty bytes field a NULL pointer: a caller testing
         * req.batch would take it for a query and find none. */
        {"an empty batch", true, true, false, 0, SLIC_EMISSING, "batch"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        Slic__Request r = SLIC__REQUEST__INIT;
        r.has_batch = rows[i].batch;
        r.batch.data = (uint8_t *)hmac32;
        r.batch.len = rows[i].batch_len;
        r.has_batch_hmac = rows[i].hmac;
        r.batch_hmac.data = (uint8_t *)hmac32;
        r.batch_hmac.len = sizeof hmac32;
        r.query = rows[i].query ? &q : NULL;
        size_t len;
        uint8_t *buf = message_bytes(&r.base, &len);
        expect_request_reject(__LINE__, rows[i].what, buf, len, rows[i].want, rows[i].field);
        free(buf);
    }
}

/* Every prefix of a valid request either fails cleanly or decodes to a request whose batch, if
 * any, decodes or fails cleanly in turn. Returns how many prefixes decoded. */
static int request_prefixes(const uint8_t *buf, size_t len)
{
    int n_ok = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *part = exact_copy(buf, cut);
        struct codec_request req = {0};
        struct codec_error err = {0};
        int rc = codec_request_unpack(part, cut, &req, &err);
        if (rc == 0) {
            n_ok++;
            CHECK((req.batch != NULL) != (req.query != NULL));
            struct slic_batch b = {0};
            if (req.batch && codec_batch_unpack(req.batch, req.batch_len, &b, &err) == 0)
                slic_batch_fini(&b);
            codec_request_fini(&req);
        } else {
            CHECK_INT_EQ(err.code, rc);
            CHECK(err.msg[0] != '\0' && req.msg == NULL);
        }
        free(part);
    }
    return n_ok;
}

static void request_truncated(void)
{
    size_t blen, len;
    uint8_t *batch = batch_bytes(&blen), *buf;
    CHECK_OK(codec_request_pack(batch, blen, hmac32, sizeof hmac32, NULL, &buf, &len));
    /* The whole request, and the prefix that ends just before the HMAC (an unsigned batch). */
    CHECK_INT_EQ(request_prefixes(buf, len), 2);
    slic_free(buf);
    slic_free(batch);

    Slic__Query q;
    Slic__Label label, *label_ptr;
    sample_query(&q, &label, &label_ptr);
    CHECK_OK(codec_request_pack(NULL, 0, NULL, 0, &q, &buf, &len));
    CHECK_INT_EQ(request_prefixes(buf, len), 1);
    slic_free(buf);
}

static void request_garbage(void)
{
    static const uint8_t junk[][6] = {
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* an endless varint */
        {0x0a, 0x40, 'a', 'b', 'c', 'd'},     /* batch of 64 bytes, 4 present */
        {0x1a, 0x03, 0x08, 0x01, 0x10, 0x00}, /* query cut inside */
        {0x0e, 0x00, 0x00, 0x00, 0x00, 0x00}, /* wire type 6 */
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        expect_request_reject(__LINE__, "junk", junk[i], sizeof junk[i], SLIC_EDECODE, "");

    struct harness_rng r;
    harness_rng_seed(&r, 3);
    uint8_t bytes[64];
    for (int round = 0; round < 5000; round++) {
        size_t n = harness_rng_next(&r) % sizeof bytes;
        for (size_t i = 0; i < n; i++)
            bytes[i] = (uint8_t)harness_rng_next(&r);
        struct codec_request req;
        struct codec_error err = {0};
        int rc = codec_request_unpack(bytes, n, &req, &err);
        if (rc == 0)
            codec_request_fini(&req);
        else
            CHECK(err.code == rc && err.msg[0] != '\0');
        struct slic_ack ack;
        Slic__Reply *reply = NULL;
        rc = codec_response_unpack(bytes, n, &ack, &reply, &err);
        if (rc == 0 && reply)
            codec_reply_free(reply);
        else if (rc == 0)
            slic_ack_fini(&ack);
        else
            CHECK(err.code == rc && err.msg[0] != '\0');
    }
}

/* A request of exactly CODEC_MAX_MESSAGE_BYTES decodes; one byte more does not. */
static void request_oversized(void)
{
    /* Tag (1 byte) + length (4-byte varint) + the batch bytes. */
    size_t blen = CODEC_MAX_MESSAGE_BYTES - 5;
    uint8_t *blob = malloc(blen + 1);
    CHECK(blob != NULL);
    memset(blob, 0x55, blen + 1);
    uint8_t *buf;
    size_t len;
    CHECK_OK(codec_request_pack(blob, blen, NULL, 0, NULL, &buf, &len));
    CHECK_U64_EQ(len, CODEC_MAX_MESSAGE_BYTES);
    struct codec_request req;
    CHECK_OK(codec_request_unpack(buf, len, &req, NULL));
    CHECK_U64_EQ(req.batch_len, blen);
    codec_request_fini(&req);
    slic_free(buf);

    CHECK_OK(codec_request_pack(blob, blen + 1, NULL, 0, NULL, &buf, &len));
    CHECK_U64_EQ(len, CODEC_MAX_MESSAGE_BYTES + 1);
    expect_request_reject(__LINE__, "one byte over", buf, len, SLIC_ETOOBIG, "");
    struct slic_ack ack;
    struct codec_error err = {0};
    CHECK_ERR(codec_response_unpack(buf, len, &ack, NULL, &err), SLIC_ETOOBIG);
    slic_free(buf);
    free(blob);
}

/* A Batch of exactly CODEC_MAX_MESSAGE_BYTES (a valid one padded with a field from a later
 * schema, which the decoder skips) decodes to the batch it carried; one byte more is refused
 * before any byte is looked at. */
static void batch_oversized(void)
{
    size_t len;
    uint8_t *batch = batch_bytes(&len);
    for (size_t want = CODEC_MAX_MESSAGE_BYTES; want <= CODEC_MAX_MESSAGE_BYTES + 1; want++) {
        /* Field 15, length-delimited: a tag byte and a 4-byte length, then the filling. */
        size_t body = want - len - 5;
        uint8_t *big = malloc(want);
        CHECK(big != NULL && body >= (1u << 21) && body < (1u << 28));
        memcpy(big, batch, len);
        const uint8_t hdr[5] = {0x7a, (uint8_t)(body | 0x80), (uint8_t)(body >> 7 | 0x80),
                                (uint8_t)(body >> 14 | 0x80), (uint8_t)(body >> 21)};
        memcpy(big + len, hdr, sizeof hdr);
        memset(big + len + sizeof hdr, 'x', body);
        struct slic_batch b = {0};
        struct codec_error err = {0};
        int rc = codec_batch_unpack(big, want, &b, &err);
        if (want == CODEC_MAX_MESSAGE_BYTES) {
            CHECK_OK(rc);
            uint8_t *again;
            size_t again_len;
            CHECK_OK(codec_batch_pack(&b, &again, &again_len));
            CHECK(again_len == len && memcmp(again, batch, len) == 0);
            slic_free(again);
            slic_batch_fini(&b);
        } else {
            check_error(__LINE__, "one byte over", rc, &err, SLIC_ETOOBIG, "");
            CHECK(b.agent_id == NULL);
            CHECK_ERR(codec_batch_unpack(big, SIZE_MAX, &b, NULL), SLIC_ETOOBIG);
        }
        free(big);
    }
    slic_free(batch);
}

/* ---- responses ----------------------------------------------------------------------------- */

static double wanted_a[] = {0.1, 0.25, 1.0};
static double wanted_many[SLIC_SERIES_THRESHOLDS_MAX];

/* An ack wanting thresholds for three SLIs: some, none, and the most allowed. */
static void sample_ack(struct slic_ack *a, struct slic_sli_thresholds wanted[3],
                       enum slic_ack_status status, const char *reason)
{
    for (int i = 0; i < SLIC_SERIES_THRESHOLDS_MAX; i++)
        wanted_many[i] = 0.001 * (i + 1);
    wanted[0] = (struct slic_sli_thresholds){"checkout", wanted_a, 3};
    wanted[1] = (struct slic_sli_thresholds){"login", NULL, 0};
    wanted[2] =
        (struct slic_sli_thresholds){"search.api:v2", wanted_many, SLIC_SERIES_THRESHOLDS_MAX};
    memset(a, 0, sizeof *a);
    a->status = status;
    a->epoch = UINT64_MAX;
    a->seq = 12345678901234;
    snprintf(a->reason, sizeof a->reason, "%s", reason);
    a->wanted = wanted;
    a->n_wanted = 3;
}

static void check_ack_equal(const struct slic_ack *a, const struct slic_ack *b)
{
    CHECK_INT_EQ(a->status, b->status);
    CHECK_INT_EQ(a->cause, b->cause);
    CHECK_U64_EQ(a->epoch, b->epoch);
    CHECK_U64_EQ(a->seq, b->seq);
    CHECK_STR_EQ(a->reason, b->reason);
    CHECK_U64_EQ(a->n_wanted, b->n_wanted);
    for (size_t i = 0; i < a->n_wanted; i++) {
        CHECK_STR_EQ(a->wanted[i].sli, b->wanted[i].sli);
        CHECK_U64_EQ(a->wanted[i].n_thresholds, b->wanted[i].n_thresholds);
        for (size_t k = 0; k < a->wanted[i].n_thresholds; k++)
            CHECK_DBL_EQ(a->wanted[i].thresholds[k], b->wanted[i].thresholds[k]);
    }
}

static void response_roundtrip_ack(void)
{
    static const struct {
        enum slic_ack_status status;
        const char *reason;
    } rows[] = {
        {SLIC_ACK_ACCEPTED, ""},
        {SLIC_ACK_DUPLICATE, ""},
        {SLIC_ACK_REJECTED, "series[3].labels: keys must be sorted and unique"},
        {SLIC_ACK_RETRY, "store full; retry with backoff"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct slic_ack a, got;
        struct slic_sli_thresholds wanted[3];
        sample_ack(&a, wanted, rows[i].status, rows[i].reason);
        if (i == 1)
            a.n_wanted = 0;
        uint8_t *buf;
        size_t len;
        CHECK_OK(codec_response_pack(&a, NULL, &buf, &len));
        Slic__Reply *reply = NULL;
        struct codec_error err = {0};
        int rc = codec_response_unpack(buf, len, &got, &reply, &err);
        if (rc != 0)
            harness_fail(__FILE__, __LINE__, "%s: %s {\"%s\": %s}",
                         slic_ack_status_name(rows[i].status), slic_errname(rc), err.field,
                         err.msg);
        CHECK(reply == NULL);
        check_ack_equal(&a, &got);
        slic_ack_fini(&got);
        CHECK(got.wanted == NULL && got.n_wanted == 0);
        slic_free(buf);
    }
}

/* The reason fills the struct's array; a longer one on the wire is cut, not refused. */
static void response_ack_long_reason(void)
{
    struct slic_ack a, got;
    struct slic_sli_thresholds wanted[3];
    char longest[SLIC_ACK_REASON_MAX];
    memset(longest, 'r', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    sample_ack(&a, wanted, SLIC_ACK_REJECTED, longest);
    uint8_t *buf;
    size_t len;
    CHECK_OK(codec_response_pack(&a, NULL, &buf, &len));
    CHECK_OK(codec_response_unpack(buf, len, &got, NULL, NULL));
    check_ack_equal(&a, &got);
    slic_ack_fini(&got);
    slic_free(buf);

    char longer[4 * SLIC_ACK_REASON_MAX];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    Slic__Ack m = SLIC__ACK__INIT;
    m.has_schema_version = m.has_epoch = m.has_seq = m.has_status = 1;
    m.schema_version = CODEC_SCHEMA_VERSION;
    m.status = SLIC__ACK__STATUS__REJECTED;
    m.reason = longer;
    Slic__Response r = SLIC__RESPONSE__INIT;
    r.ack = &m;
    buf = message_bytes(&r.base, &len);
    CHECK_OK(codec_response_unpack(buf, len, &got, NULL, NULL));
    CHECK_U64_EQ(strlen(got.reason), SLIC_ACK_REASON_MAX - 1);
    slic_ack_fini(&got);
    free(buf);
}

/* A reply with a little of everything, pointing at static storage. */
static Slic__Reply *sample_reply(void)
{
    static Slic__Reply reply = SLIC__REPLY__INIT;
    static Slic__SliResult res = SLIC__SLI_RESULT__INIT;
    static Slic__QuantileValue qv = SLIC__QUANTILE_VALUE__INIT, *qvs[] = {&qv};
    static Slic__AgentInfo agent = SLIC__AGENT_INFO__INIT, *agents[] = {&agent};
    reply.has_schema_version = reply.has_status = 1;
    reply.schema_version = CODEC_SCHEMA_VERSION;
    reply.status = SLIC__REPLY__STATUS__OK;
    res.sli = "checkout";
    res.has_count = res.has_good = 1;
    res.count = 1000;
    res.good = 998;
    qv.has_q = qv.has_value = 1;
    qv.q = 0.99;
    qv.value = 0.25;
    res.n_quantiles = 1;
    res.quantiles = qvs;
    reply.sli = &res;
    agent.agent_id = "agent-1";
    agent.has_last_seq = 1;
    agent.last_seq = 77;
    reply.n_agents = 1;
    reply.agents = agents;
    return &reply;
}

static void response_roundtrip_reply(void)
{
    uint8_t *buf;
    size_t len;
    CHECK_OK(codec_response_pack(NULL, sample_reply(), &buf, &len));
    struct slic_ack ack, sentinel;
    memset(&ack, 0xa5, sizeof ack);
    memcpy(&sentinel, &ack, sizeof ack);
    Slic__Reply *got = NULL;
    CHECK_OK(codec_response_unpack(buf, len, &ack, &got, NULL));
    CHECK(memcmp(&ack, &sentinel, sizeof ack) == 0);
    CHECK(got != NULL);
    CHECK(got->has_status && got->status == SLIC__REPLY__STATUS__OK);
    CHECK(got->sli != NULL);
    CHECK_STR_EQ(got->sli->sli, "checkout");
    CHECK_U64_EQ(got->sli->count, 1000);
    CHECK_U64_EQ(got->sli->good, 998);
    CHECK_U64_EQ(got->sli->n_quantiles, 1);
    CHECK_DBL_EQ(got->sli->quantiles[0]->value, 0.25);
    CHECK_U64_EQ(got->n_agents, 1);
    CHECK_STR_EQ(got->agents[0]->agent_id, "agent-1");
    CHECK_U64_EQ(got->agents[0]->last_seq, 77);
    codec_reply_free(got);
    codec_reply_free(NULL);
    slic_free(buf);
}

static void response_pack_invalid(void)
{
    struct slic_ack a;
    struct slic_sli_thresholds wanted[3];
    sample_ack(&a, wanted, SLIC_ACK_ACCEPTED, "");
    uint8_t *buf = (uint8_t *)"untouched";
    size_t len = 12345;
    CHECK_ERR(codec_response_pack(NULL, NULL, &buf, &len), SLIC_EINVAL);
    CHECK_ERR(codec_response_pack(&a, sample_reply(), &buf, &len), SLIC_EINVAL);
    CHECK_STR_EQ((const char *)buf, "untouched");
    CHECK_U64_EQ(len, 12345);
}

static void reject_response_shape(void)
{
    Slic__Ack m = SLIC__ACK__INIT;
    m.has_schema_version = m.has_epoch = m.has_seq = m.has_status = 1;
    m.schema_version = CODEC_SCHEMA_VERSION;
    m.status = SLIC__ACK__STATUS__ACCEPTED;
    size_t len;
    Slic__Response r = SLIC__RESPONSE__INIT;
    uint8_t *buf = message_bytes(&r.base, &len);
    expect_response_reject(__LINE__, "neither", buf, len, true, true, SLIC_EMISSING, "ack");
    free(buf);
    r.ack = &m;
    r.reply = sample_reply();
    buf = message_bytes(&r.base, &len);
    expect_response_reject(__LINE__, "both", buf, len, true, true, SLIC_EINCONSISTENT, "ack");
    free(buf);
    r.reply = NULL;
    buf = message_bytes(&r.base, &len);
    expect_response_reject(__LINE__, "unexpected ack", buf, len, false, true, SLIC_EINCONSISTENT,
                           "ack");
    free(buf);
    r.ack = NULL;
    r.reply = sample_reply();
    buf = message_bytes(&r.base, &len);
    expect_response_reject(__LINE__, "unexpected reply", buf, len, true, false, SLIC_EINCONSISTENT,
                           "reply");
    free(buf);
}

/* Ack.cause survives the round trip through the normal pack and unpack; an ack without one
 * (an older aggregator's) reads as UNSPECIFIED, and UNSPECIFIED is not written at all, so older
 * agents read the same bytes as before causes existed. */
static void response_ack_cause(void)
{
    static const enum slic_ack_cause causes[] = {SLIC_ACK_CAUSE_UNSPECIFIED, SLIC_ACK_CAUSE_INVALID,
                                                 SLIC_ACK_CAUSE_SIGNATURE};
    size_t unspecified_len = 0;
    for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++) {
        struct slic_ack a, got;
        struct slic_sli_thresholds wanted[3];
        sample_ack(&a, wanted, SLIC_ACK_REJECTED, "signature: does not match");
        a.cause = causes[i];
        uint8_t *buf;
        size_t len;
        CHECK_OK(codec_response_pack(&a, NULL, &buf, &len));
        memset(&got, 0x5a, sizeof got);
        CHECK_OK(codec_response_unpack(buf, len, &got, NULL, NULL));
        CHECK_INT_EQ(got.cause, causes[i]);
        check_ack_equal(&a, &got);
        slic_ack_fini(&got);
        if (i == 0)
            unspecified_len = len;
        else
            CHECK(len > unspecified_len); /* the field is there only when said */
        slic_free(buf);
    }
    Slic__Ack m = SLIC__ACK__INIT;
    m.has_schema_version = m.has_epoch = m.has_seq = m.has_status = 1;
    m.schema_version = CODEC_SCHEMA_VERSION;
    m.status = SLIC__ACK__STATUS__REJECTED;
    Slic__Response r = SLIC__RESPONSE__INIT;
    r.ack = &m;
    size_t len;
    uint8_t *buf = message_bytes(&r.base, &len);
    struct slic_ack got;
    CHECK_OK(codec_response_unpack(buf, len, &got, NULL, NULL));
    CHECK_INT_EQ(got.status, SLIC_ACK_REJECTED);
    CHECK_INT_EQ(got.cause, SLIC_ACK_CAUSE_UNSPECIFIED);
    slic_ack_fini(&got);
    free(buf);
}

/* A cause this reader does not know (a newer aggregator's) reads as UNSPECIFIED, not as an
 * error, and the rest of the ack is read as usual. */
static void response_ack_cause_unknown(void)
{
    Slic__Ack m = SLIC__ACK__INIT;
    m.has_schema_version = m.has_epoch = m.has_seq = m.has_status = m.has_cause = 1;
    m.schema_version = CODEC_SCHEMA_VERSION;
    m.status = SLIC__ACK__STATUS__REJECTED;
    m.seq = 7;
    static const int values[] = {3, 100, -1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        m.cause = (Slic__Ack__Cause)values[i];
        Slic__Response r = SLIC__RESPONSE__INIT;
        r.ack = &m;
        size_t len;
        uint8_t *buf = message_bytes(&r.base, &len);
        struct slic_ack got;
        CHECK_OK(codec_response_unpack(buf, len, &got, NULL, NULL));
        CHECK_INT_EQ(got.cause, SLIC_ACK_CAUSE_UNSPECIFIED);
        CHECK_INT_EQ(got.status, SLIC_ACK_REJECTED);
        CHECK_U64_EQ(got.seq, 7);
        slic_ack_fini(&got);
        free(buf);
    }
}

/* A valid Ack message to break, with two wanted-threshold entries. */
struct ack_fixture {
    Slic__Ack m;
    Slic__SliThresholds w[2];
    Slic__SliThresholds *w_ptrs[2];
    double t[SLIC_SERIES_THRESHOLDS_MAX + 1];
};

static void ack_fixture_init(struct ack_fixture *f)
{
    slic__ack__init(&f->m);
    f->m.has_schema_version = f->m.has_epoch = f->m.has_seq = f->m.has_status = 1;
    f->m.schema_version = CODEC_SCHEMA_VERSION;
    f->m.epoch = 3;
    f->m.seq = 4;
    f->m.status = SLIC__ACK__STATUS__REJECTED;
    f->m.reason = "bad";
    for (int i = 0; i <= SLIC_SERIES_THRESHOLDS_MAX; i++)
        f->t[i] = 0.01 * (i + 1);
    for (int i = 0; i < 2; i++) {
        slic__sli_thresholds__init(&f->w[i]);
        f->w[i].sli = i == 0 ? "checkout" : "login";
        f->w[i].thresholds = f->t;
        f->w[i].n_thresholds = 4;
        f->w_ptrs[i] = &f->w[i];
    }
    f->m.n_wanted_thresholds = 2;
    f->m.wanted_thresholds = f->w_ptrs;
}

static void expect_ack_reject(int line, const char *what, struct ack_fixture *f, int want,
                              const char *field)
{
    Slic__Response r = SLIC__RESPONSE__INIT;
    r.ack = &f->m;
    size_t len;
    uint8_t *buf = message_bytes(&r.base, &len);
    expect_response_reject(line, what, buf, len, true, true, want, field);
    free(buf);
    ack_fixture_init(f);
}

static void reject_ack_header(void)
{
    struct ack_fixture f;
    ack_fixture_init(&f);
    f.m.has_schema_version = 0;
    expect_ack_reject(__LINE__, "schema_version absent", &f, SLIC_EMISSING, "ack.schema_version");
    f.m.schema_version = CODEC_SCHEMA_VERSION + 1;
    expect_ack_reject(__LINE__, "schema_version 2", &f, SLIC_EVERSION, "ack.schema_version");
    f.m.has_status = 0;
    expect_ack_reject(__LINE__, "status absent", &f, SLIC_EMISSING, "ack.status");
    static const int bad_status[] = {0, 5, -1, 1000};
    for (size_t i = 0; i < sizeof bad_status / sizeof bad_status[0]; i++) {
        f.m.status = (Slic__Ack__Status)bad_status[i];
        expect_ack_reject(__LINE__, "unknown status", &f, SLIC_EINVAL, "ack.status");
    }
    f.m.has_epoch = 0;
    expect_ack_reject(__LINE__, "epoch absent", &f, SLIC_EMISSING, "ack.epoch");
    f.m.has_seq = 0;
    expect_ack_reject(__LINE__, "seq absent", &f, SLIC_EMISSING, "ack.seq");
}

static void reject_ack_wanted(void)
{
    struct ack_fixture f;
    ack_fixture_init(&f);
    f.w[1].sli = NULL;
    expect_ack_reject(__LINE__, "sli absent", &f, SLIC_EMISSING, "ack.wanted_thresholds[1].sli");
    f.w[1].sli = "not a name";
    expect_ack_reject(__LINE__, "sli invalid", &f, SLIC_EINVAL, "ack.wanted_thresholds[1].sli");
    f.w[1].n_thresholds = SLIC_SERIES_THRESHOLDS_MAX + 1;
    expect_ack_reject(__LINE__, "17 thresholds", &f, SLIC_ETOOBIG,
                      "ack.wanted_thresholds[1].thresholds");
    static const double bad[][2] = {{0.1, 0.1}, {0.2, 0.1}, {NAN, 1},
                                    {-1, 1},    {0, 1},     {1, INFINITY}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f.w[1].thresholds = (double *)bad[i];
        f.w[1].n_thresholds = 2;
        expect_ack_reject(__LINE__, "thresholds not ascending positive seconds", &f, SLIC_EINVAL,
                          "ack.wanted_thresholds[1].thresholds");
    }
    size_t n = SLIC_ACK_WANTED_MAX + 1;
    Slic__SliThresholds **many = malloc(n * sizeof *many);
    CHECK(many != NULL);
    for (size_t i = 0; i < n; i++)
        many[i] = &f.w[0];
    f.m.wanted_thresholds = many;
    f.m.n_wanted_thresholds = n;
    expect_ack_reject(__LINE__, "1025 SLIs", &f, SLIC_ETOOBIG, "ack.wanted_thresholds");
    f.m.wanted_thresholds = many;
    f.m.n_wanted_thresholds = n - 1;
    Slic__Response r = SLIC__RESPONSE__INIT;
    r.ack = &f.m;
    size_t len;
    uint8_t *buf = message_bytes(&r.base, &len);
    struct slic_ack got;
    CHECK_OK(codec_response_unpack(buf, len, &got, NULL, NULL));
    CHECK_U64_EQ(got.n_wanted, SLIC_ACK_WANTED_MAX);
    slic_ack_fini(&got);
    free(buf);
    free(many);
}

static void response_truncated(void)
{
    struct slic_ack a;
    struct slic_sli_thresholds wanted[3];
    sample_ack(&a, wanted, SLIC_ACK_REJECTED, "why not");
    uint8_t *bufs[2];
    size_t lens[2];
    CHECK_OK(codec_response_pack(&a, NULL, &bufs[0], &lens[0]));
    CHECK_OK(codec_response_pack(NULL, sample_reply(), &bufs[1], &lens[1]));
    for (int k = 0; k < 2; k++) {
        int n_ok = 0;
        for (size_t cut = 0; cut <= lens[k]; cut++) {
            uint8_t *part = exact_copy(bufs[k], cut);
            struct slic_ack got = {0};
            Slic__Reply *reply = NULL;
            struct codec_error err = {0};
            int rc = codec_response_unpack(part, cut, &got, &reply, &err);
            if (rc == 0) {
                n_ok++;
                slic_ack_fini(&got);
                codec_reply_free(reply);
            } else {
                CHECK(err.code == rc && err.msg[0] != '\0' && reply == NULL);
                CHECK(got.wanted == NULL);
            }
            free(part);
        }
        /* The envelope holds one length-delimited field: only the whole of it decodes. */
        CHECK_INT_EQ(n_ok, 1);
        slic_free(bufs[k]);
    }
}

/* A Response of exactly `size` bytes carrying a reply whose error string fills it. */
static uint8_t *reply_of_size(size_t size, size_t *len)
{
    char *fill = malloc(size);
    CHECK(fill != NULL);
    Slic__Reply reply = SLIC__REPLY__INIT;
    reply.has_status = 1;
    reply.status = SLIC__REPLY__STATUS__INTERNAL;
    uint8_t *buf = NULL;
    /* Two rounds: the first measures the envelope around the string, whose length varints keep
     * their size from one round to the next at these sizes. */
    for (size_t n = size / 2, round = 0; round < 2; round++) {
        memset(fill, 'x', n);
        fill[n] = '\0';
        reply.error = fill;
        slic_free(buf);
        CHECK_OK(codec_response_pack(NULL, &reply, &buf, len));
        n += size - *len;
    }
    CHECK_U64_EQ(*len, size);
    free(fill);
    return buf;
}

/* An agent, expecting only acks, refuses a Response over CODEC_MAX_MESSAGE_BYTES; slic, expecting
 * a reply, accepts up to CODEC_MAX_REPLY_BYTES (a list of SLOs across many sites) and refuses one
 * byte more before looking at any. */
static void response_oversized(void)
{
    uint8_t *big = calloc(CODEC_MAX_REPLY_BYTES + 1, 1);
    CHECK(big != NULL);
    expect_response_reject(__LINE__, "one byte over, ack", big, CODEC_MAX_MESSAGE_BYTES + 1, true,
                           false, SLIC_ETOOBIG, "");
    expect_response_reject(__LINE__, "one byte over, reply", big, CODEC_MAX_REPLY_BYTES + 1, true,
                           true, SLIC_ETOOBIG, "");
    free(big);

    size_t len;
    uint8_t *buf = reply_of_size(CODEC_MAX_REPLY_BYTES, &len);
    Slic__Reply *got = NULL;
    CHECK_OK(codec_response_unpack(buf, len, NULL, &got, NULL));
    CHECK(got->error && strlen(got->error) > CODEC_MAX_REPLY_BYTES - 16);
    codec_reply_free(got);
    expect_response_reject(__LINE__, "a large reply where an ack was expected", buf, len, true,
                           false, SLIC_ETOOBIG, "");
    slic_free(buf);
}

/* ---- allocation failure -------------------------------------------------------------------- */

/* Fails the first, second, ... allocation of `decode` on buf until it succeeds: every failure
 * must be SLIC_ENOMEM, explained, and leak nothing (LeakSanitizer checks at the case's exit).
 * Returns how many allocations the decode needs. */
enum decoder { DECODE_REQUEST, DECODE_RESPONSE };

static long decode_enomem_all(enum decoder decode, const uint8_t *buf, size_t len)
{
    for (long n = 0; n < 10000; n++) {
        struct codec_request req;
        struct slic_ack ack;
        Slic__Reply *reply = NULL;
        struct codec_error err = {0};
        slic_alloc_fail_after(n);
        int rc = decode == DECODE_REQUEST ? codec_request_unpack(buf, len, &req, &err)
                                          : codec_response_unpack(buf, len, &ack, &reply, &err);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            if (decode == DECODE_REQUEST)
                codec_request_fini(&req);
            else if (reply)
                codec_reply_free(reply);
            else
                slic_ack_fini(&ack);
            return n;
        }
        if (rc != SLIC_ENOMEM || err.code != SLIC_ENOMEM || err.msg[0] == '\0')
            harness_fail(__FILE__, __LINE__,
                         "allocation %ld failed: %s {%s, \"%s\": %s}, "
                         "expected SLIC_ENOMEM",
                         n, slic_errname(rc), slic_errname(err.code), err.field, err.msg);
        CHECK(reply == NULL);
    }
    harness_fail(__FILE__, __LINE__, "decode never succeeded");
}

static void request_enomem(void)
{
    size_t blen, len;
    uint8_t *batch = batch_bytes(&blen), *buf;
    CHECK_OK(codec_request_pack(batch, blen, hmac32, sizeof hmac32, NULL, &buf, &len));
    /* The message, the batch bytes and the HMAC bytes. */
    CHECK(decode_enomem_all(DECODE_REQUEST, buf, len) >= 3);
    slic_free(buf);
    slic_alloc_fail_after(0);
    int rc = codec_request_pack(batch, blen, NULL, 0, NULL, &buf, &len);
    slic_alloc_fail_after(-1);
    CHECK_ERR(rc, SLIC_ENOMEM);
    slic_free(batch);

    Slic__Query q;
    Slic__Label label, *label_ptr;
    sample_query(&q, &label, &label_ptr);
    CHECK_OK(codec_request_pack(NULL, 0, NULL, 0, &q, &buf, &len));
    CHECK(decode_enomem_all(DECODE_REQUEST, buf, len) >= 8);
    slic_free(buf);
}

static void response_enomem(void)
{
    struct slic_ack a;
    struct slic_sli_thresholds wanted[3];
    sample_ack(&a, wanted, SLIC_ACK_RETRY, "later");
    uint8_t *buf;
    size_t len;
    for (long n = 0;; n++) {
        slic_alloc_fail_after(n);
        int rc = codec_response_pack(&a, NULL, &buf, &len);
        slic_alloc_fail_after(-1);
        if (rc == 0)
            break;
        CHECK_ERR(rc, SLIC_ENOMEM);
        CHECK(n < 3);
    }
    /* The envelope, the ack, its reason, three entries with their names and thresholds, then
     * the struct's own copies. */
    CHECK(decode_enomem_all(DECODE_RESPONSE, buf, len) >= 12);
    slic_free(buf);

    CHECK_OK(codec_response_pack(NULL, sample_reply(), &buf, &len));
    CHECK(decode_enomem_all(DECODE_RESPONSE, buf, len) >= 6);
    slic_free(buf);
}

HARNESS_CASES(HARNESS_CASE(request_roundtrip_batch), HARNESS_CASE(request_roundtrip_query),
              HARNESS_CASE(request_pack_invalid), HARNESS_CASE(reject_request_shape),
              HARNESS_CASE(request_truncated), HARNESS_CASE(request_garbage),
              HARNESS_CASE(request_oversized), HARNESS_CASE(batch_oversized),
              HARNESS_CASE(response_roundtrip_ack), HARNESS_CASE(response_ack_long_reason),
              HARNESS_CASE(response_roundtrip_reply), HARNESS_CASE(response_pack_invalid),
              HARNESS_CASE(reject_response_shape), HARNESS_CASE(reject_ack_header),
              HARNESS_CASE(reject_ack_wanted), HARNESS_CASE(response_truncated),
              HARNESS_CASE(response_oversized), HARNESS_CASE(request_enomem),
              HARNESS_CASE(response_enomem), HARNESS_CASE(response_ack_cause),
              HARNESS_CASE(response_ack_cause_unknown));

HARNESS_MAIN()
