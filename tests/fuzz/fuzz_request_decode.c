/* libFuzzer target for the first code a peer's bytes reach on an nng socket: the Request and
 * Response envelopes, the Batch inside a Request, and the Ack inside a Response. Whatever the
 * decoders accept must be what codec_batch.h promises (exactly one payload; a batch whose every
 * field is valid), must encode again, and must decode from that encoding to the same thing, field
 * for field. A Reply is what `slic` decodes from an aggregator: its SLOs must render as JSON
 * (reply_json.h) whatever they hold. Any breach abort()s, which libFuzzer reports as a crash with
 * the input. The input is also fed to codec_batch_unpack directly, so the fuzzer reaches the
 * Batch decoder without having to discover the envelope first. */
#include "codec_batch.h"

#include "aggregator/reply_json.h"

#include "alloc.h"
#include "batch.h"
#include "err.h"
#include "sketch.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
    if (!ok)
        abort();
}

/* A failed decode returns a real code and says why. */
static void require_failed_cleanly(int rc, const struct codec_error *err)
{
    require(rc < 0 && err->code == rc && err->msg[0] != '\0');
    require(memchr(err->field, '\0', sizeof err->field) != NULL);
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool series_equal(const struct slic_series *a, const struct slic_series *b)
{
    if (!str_eq(a->sli, b->sli) || a->n_labels != b->n_labels ||
        a->window_start != b->window_start || a->window_seconds != b->window_seconds ||
        a->total != b->total || a->good != b->good || a->n_thresholds != b->n_thresholds ||
        (a->latency == NULL) != (b->latency == NULL))
        return false;
    if (a->latency && !slic_sketch_equal(a->latency, b->latency))
        return false;
    for (size_t i = 0; i < a->n_labels; i++)
        if (!str_eq(a->labels[i].key, b->labels[i].key) ||
            !str_eq(a->labels[i].value, b->labels[i].value))
            return false;
    for (size_t i = 0; i < a->n_thresholds; i++)
        if (!(a->thresholds[i].threshold == b->thresholds[i].threshold) ||
            a->thresholds[i].count_le != b->thresholds[i].count_le ||
            a->thresholds[i].good_le != b->thresholds[i].good_le)
            return false;
    return true;
}

static bool batch_equal(const struct slic_batch *a, const struct slic_batch *b)
{
    if (!str_eq(a->agent_id, b->agent_id) || !str_eq(a->site, b->site) ||
        !str_eq(a->node, b->node) || a->epoch != b->epoch || a->seq != b->seq ||
        a->created_unix_ms != b->created_unix_ms || a->n_series != b->n_series)
        return false;
    for (size_t i = 0; i < a->n_series; i++)
        if (!series_equal(&a->series[i], &b->series[i]))
            return false;
    return true;
}

/* What codec_batch_unpack promises of every batch it returns (codec_batch.h, batch.h). */
static void check_batch_valid(const struct slic_batch *b)
{
    require(slic_name_valid(b->agent_id) && slic_name_valid(b->site) && slic_name_valid(b->node));
    require(b->epoch > 0 && b->seq > 0 && b->n_series <= SLIC_BATCH_SERIES_MAX);
    for (size_t i = 0; i < b->n_series; i++) {
        const struct slic_series *s = &b->series[i];
        require(slic_name_valid(s->sli) && s->n_labels <= SLIC_SERIES_LABELS_MAX);
        for (size_t k = 0; k < s->n_labels; k++) {
            require(slic_label_key_valid(s->labels[k].key));
            require(slic_label_value_valid(s->labels[k].value));
            require(k == 0 || strcmp(s->labels[k - 1].key, s->labels[k].key) < 0);
        }
        require(s->window_seconds > 0 && s->window_seconds % 10 == 0);
        require(s->window_start >= 0 && s->window_start % s->window_seconds == 0);
        require(s->window_start <= INT64_MAX - (int64_t)s->window_seconds);
        require(s->good <= s->total);
        require(s->latency ? slic_sketch_count(s->latency) == s->total : s->total == 0);
        require(s->n_thresholds <= SLIC_SERIES_THRESHOLDS_MAX);
        for (size_t k = 0; k < s->n_thresholds; k++) {
            const struct slic_threshold_count *t = &s->thresholds[k];
            require(isfinite(t->threshold) && t->threshold > 0);
            require(t->good_le <= t->count_le && t->count_le <= s->total && t->good_le <= s->good);
            require(t->count_le - t->good_le <= s->total - s->good);
            if (k > 0) {
                const struct slic_threshold_count *p = &s->thresholds[k - 1];
                require(p->threshold < t->threshold);
                require(p->count_le <= t->count_le && p->good_le <= t->good_le);
            }
        }
    }
}

/* A batch decoded from untrusted bytes is valid, encodes, and decodes from that encoding to an
 * equal batch whose encoding is the same bytes again. */
static void check_batch_bytes(const uint8_t *buf, size_t len)
{
    struct slic_batch b, again;
    struct codec_error err;
    int rc = codec_batch_unpack(buf, len, &b, &err);
    if (rc != 0) {
        require_failed_cleanly(rc, &err);
        return;
    }
    check_batch_valid(&b);
    uint8_t *packed = NULL, *packed2 = NULL;
    size_t plen = 0, plen2 = 0;
    require(codec_batch_pack(&b, &packed, &plen) == 0);
    require(codec_batch_unpack(packed, plen, &again, NULL) == 0);
    require(batch_equal(&b, &again));
    require(codec_batch_pack(&again, &packed2, &plen2) == 0);
    require(plen2 == plen && memcmp(packed, packed2, plen) == 0);
    slic_free(packed2);
    slic_free(packed);
    slic_batch_fini(&again);
    slic_batch_fini(&b);
}

static void check_request(const uint8_t *data, size_t size)
{
    struct codec_request req;
    struct codec_error err;
    int rc = codec_request_unpack(data, size, &req, &err);
    if (rc != 0) {
        require_failed_cleanly(rc, &err);
        return;
    }
    require(req.msg != NULL && (req.batch != NULL) != (req.query != NULL));
    require(req.batch_len <= size && req.hmac_len <= size);
    require(req.hmac != NULL || req.hmac_len == 0);
    require(req.hmac == NULL || req.batch != NULL);
    if (req.batch) {
        require(req.batch_len > 0);
        check_batch_bytes(req.batch, req.batch_len);
        /* The envelope re-packs around the same bytes. */
        uint8_t *buf = NULL;
        size_t len = 0;
        struct codec_request again;
        require(codec_request_pack(req.batch, req.batch_len, req.hmac, req.hmac_len, NULL, &buf,
                                   &len) == 0);
        require(codec_request_unpack(buf, len, &again, NULL) == 0);
        require(again.batch_len == req.batch_len &&
                memcmp(again.batch, req.batch, req.batch_len) == 0);
        require(again.hmac_len == req.hmac_len &&
                (req.hmac_len == 0 || memcmp(again.hmac, req.hmac, req.hmac_len) == 0));
        codec_request_fini(&again);
        slic_free(buf);
    }
    codec_request_fini(&req);
    require(req.msg == NULL);
}

static bool ack_equal(const struct slic_ack *a, const struct slic_ack *b)
{
    if (a->status != b->status || a->cause != b->cause || a->epoch != b->epoch ||
        a->seq != b->seq || strcmp(a->reason, b->reason) != 0 || a->n_wanted != b->n_wanted)
        return false;
    for (size_t i = 0; i < a->n_wanted; i++) {
        const struct slic_sli_thresholds *x = &a->wanted[i], *y = &b->wanted[i];
        if (!str_eq(x->sli, y->sli) || x->n_thresholds != y->n_thresholds ||
            (x->n_thresholds > 0 &&
             memcmp(x->thresholds, y->thresholds, x->n_thresholds * sizeof *x->thresholds) != 0))
            return false;
    }
    return true;
}

/* What `slic slo --json` prints of a reply: every SLO, alone and in a list, with and without
 * its sites. Rendering untrusted messages must succeed and end every document with a newline. */
static void check_reply_renders(const Slic__Reply *r)
{
    struct agg__buf b = {0};
    require(agg_reply_json_slos(&b, r->slos, r->n_slos, true) == 0);
    require(b.len > 0 && b.p[b.len - 1] == '\n');
    for (size_t i = 0; i < r->n_slos; i++) {
        require(agg_reply_json_slo(&b, r->slos[i], i % 2 == 0) == 0);
        require(b.p[b.len - 1] == '\n');
    }
    agg__buf_fini(&b);
}

static void check_response(const uint8_t *data, size_t size)
{
    struct slic_ack ack, again;
    Slic__Reply *reply = NULL;
    struct codec_error err;
    int rc = codec_response_unpack(data, size, &ack, &reply, &err);
    if (rc != 0) {
        require_failed_cleanly(rc, &err);
        require(reply == NULL);
        return;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (reply) {
        check_reply_renders(reply);
        require(codec_response_pack(NULL, reply, &buf, &len) == 0);
        codec_reply_free(reply);
        slic_free(buf);
        return;
    }
    require(ack.status >= SLIC_ACK_ACCEPTED && ack.status <= SLIC_ACK_RETRY);
    require(memchr(ack.reason, '\0', sizeof ack.reason) != NULL);
    require(ack.n_wanted <= SLIC_ACK_WANTED_MAX);
    require(codec_response_pack(&ack, NULL, &buf, &len) == 0);
    require(codec_response_unpack(buf, len, &again, NULL, NULL) == 0);
    require(ack_equal(&ack, &again));
    slic_ack_fini(&again);
    slic_ack_fini(&ack);
    slic_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_request(data, size);
    check_response(data, size);
    check_batch_bytes(data, size);
    return 0;
}
