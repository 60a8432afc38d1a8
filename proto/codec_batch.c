/* Batch, Request, Response and Ack to and from the wire (see codec_batch.h). Encoders borrow
 * strings and sketch counts from the structs they are given and allocate only the arrays of
 * message structs protobuf-c needs; decoders check every field before building a struct. */
#include "codec_batch.h"

#include "alloc.h"
#include "codec_internal.h"
#include "err.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = slic_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- Batch: encode ------------------------------------------------------------------------ */

/* The message structs one batch needs, allocated in four arrays so freeing is four calls. */
struct batch_msgs {
    Slic__Series *series;
    Slic__Series **series_ptrs;
    Slic__Label *labels;
    Slic__Label **label_ptrs;
    Slic__ThresholdCount *thresholds;
    Slic__ThresholdCount **threshold_ptrs;
    Slic__Sketch *sketches;
};

static void batch_msgs_free(struct batch_msgs *m)
{
    slic_free(m->series);
    slic_free(m->series_ptrs);
    slic_free(m->labels);
    slic_free(m->label_ptrs);
    slic_free(m->thresholds);
    slic_free(m->threshold_ptrs);
    slic_free(m->sketches);
}

static int batch_msgs_alloc(const struct slic_batch *b, struct batch_msgs *m)
{
    size_t n_labels = 0, n_thresholds = 0, n = b->n_series;
    for (size_t i = 0; i < n; i++) {
        n_labels += b->series[i].n_labels;
        n_thresholds += b->series[i].n_thresholds;
    }
    /* +1: slic_calloc(0) may return NULL, which must not read as failure. */
    m->series = slic_calloc(n + 1, sizeof *m->series);
    m->series_ptrs = slic_calloc(n + 1, sizeof *m->series_ptrs);
    m->labels = slic_calloc(n_labels + 1, sizeof *m->labels);
    m->label_ptrs = slic_calloc(n_labels + 1, sizeof *m->label_ptrs);
    m->thresholds = slic_calloc(n_thresholds + 1, sizeof *m->thresholds);
    m->threshold_ptrs = slic_calloc(n_thresholds + 1, sizeof *m->threshold_ptrs);
    m->sketches = slic_calloc(n + 1, sizeof *m->sketches);
    if (!m->series || !m->series_ptrs || !m->labels || !m->label_ptrs || !m->thresholds ||
        !m->threshold_ptrs || !m->sketches) {
        batch_msgs_free(m);
        return SLIC_ENOMEM;
    }
    return 0;
}

static int series_to_msg(const struct slic_series *s, Slic__Series *ms, Slic__Label *labels,
                         Slic__Label **label_ptrs, Slic__ThresholdCount *thr,
                         Slic__ThresholdCount **thr_ptrs, Slic__Sketch *sketch)
{
    slic__series__init(ms);
    ms->sli = s->sli;
    for (size_t i = 0; i < s->n_labels; i++) {
        slic__label__init(&labels[i]);
        labels[i].key = s->labels[i].key;
        labels[i].value = s->labels[i].value;
        label_ptrs[i] = &labels[i];
    }
    ms->n_labels = s->n_labels;
    ms->labels = label_ptrs;
    ms->has_window_start = ms->has_window_seconds = ms->has_total = ms->has_good = 1;
    ms->window_start = s->window_start;
    ms->window_seconds = s->window_seconds;
    ms->total = s->total;
    ms->good = s->good;
    if (s->latency) {
        slic__sketch__init(sketch);
        int rc = codec_sketch_to_msg(s->latency, sketch);
        if (rc)
            return rc;
        ms->latency = sketch;
    } else if (s->total > 0) {
        return SLIC_EINVAL;
    }
    for (size_t i = 0; i < s->n_thresholds; i++) {
        slic__threshold_count__init(&thr[i]);
        thr[i].has_threshold = thr[i].has_count_le = thr[i].has_good_le = 1;
        thr[i].threshold = s->thresholds[i].threshold;
        thr[i].count_le = s->thresholds[i].count_le;
        thr[i].good_le = s->thresholds[i].good_le;
        thr_ptrs[i] = &thr[i];
    }
    ms->n_thresholds = s->n_thresholds;
    ms->thresholds = thr_ptrs;
    return 0;
}

static int pack_message(const ProtobufCMessage *msg, uint8_t **buf, size_t *len)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    uint8_t *out = slic_malloc(size + 1);
    if (!out)
        return SLIC_ENOMEM;
    protobuf_c_message_pack(msg, out);
    *buf = out;
    *len = size;
    return 0;
}

int codec_batch_pack(const struct slic_batch *b, uint8_t **buf, size_t *len)
{
    struct batch_msgs m;
    int rc = batch_msgs_alloc(b, &m);
    if (rc)
        return rc;
    Slic__Batch mb = SLIC__BATCH__INIT;
    mb.has_schema_version = mb.has_epoch = mb.has_seq = mb.has_created_unix_ms = 1;
    mb.schema_version = CODEC_SCHEMA_VERSION;
    mb.agent_id = b->agent_id;
    mb.site = b->site;
    mb.node = b->node;
    mb.epoch = b->epoch;
    mb.seq = b->seq;
    mb.created_unix_ms = b->created_unix_ms;
    size_t li = 0, ti = 0;
    for (size_t i = 0; i < b->n_series; i++) {
        const struct slic_series *s = &b->series[i];
        rc = series_to_msg(s, &m.series[i], &m.labels[li], &m.label_ptrs[li], &m.thresholds[ti],
                           &m.threshold_ptrs[ti], &m.sketches[i]);
        if (rc)
            goto done;
        m.series_ptrs[i] = &m.series[i];
        li += s->n_labels;
        ti += s->n_thresholds;
    }
    mb.n_series = b->n_series;
    mb.series = m.series_ptrs;
    rc = pack_message(&mb.base, buf, len);
done:
    batch_msgs_free(&m);
    return rc;
}

/* ---- Batch: decode -------------------------------------------------------------------------- */

/* Allocation failures are reported through err like every other failure, so a caller that logs
 * err never prints an empty or stale reason. */
static int nomem(struct codec_error *err, const char *path, const char *what)
{
    return codec__err_set(err, SLIC_ENOMEM, path, "", "out of memory copying %s", what);
}

static int check_name(const char *value, const char *path, const char *field,
                      struct codec_error *err)
{
    if (!value)
        return codec__err_set(err, SLIC_EMISSING, path, field, "required, absent");
    if (!slic_name_valid(value))
        return codec__err_set(err, SLIC_EINVAL, path, field,
                              "\"%.64s\" is not a name: expected 1..%d bytes of [A-Za-z0-9_.:-]",
                              value, SLIC_NAME_MAX);
    return 0;
}

static int labels_from_msg(const Slic__Series *ms, const char *path, struct slic_series *s,
                           struct codec_error *err)
{
    if (ms->n_labels > SLIC_SERIES_LABELS_MAX)
        return codec__err_set(err, SLIC_ETOOBIG, path, "labels", "%zu labels, at most %d allowed",
                              ms->n_labels, SLIC_SERIES_LABELS_MAX);
    for (size_t i = 0; i < ms->n_labels; i++) {
        const Slic__Label *l = ms->labels[i];
        if (!l->key || !l->value)
            return codec__err_set(err, SLIC_EMISSING, path, "labels",
                                  "label %zu lacks its key or value", i);
        if (!slic_label_key_valid(l->key))
            return codec__err_set(err, SLIC_EINVAL, path, "labels",
                                  "key \"%.64s\": expected 1..%d bytes of [A-Za-z0-9_]", l->key,
                                  SLIC_LABEL_KEY_MAX);
        if (!slic_label_value_valid(l->value))
            return codec__err_set(err, SLIC_EINVAL, path, "labels",
                                  "value of \"%s\": expected 0..%d printable ASCII bytes", l->key,
                                  SLIC_LABEL_VALUE_MAX);
        if (i > 0 && strcmp(ms->labels[i - 1]->key, l->key) >= 0)
            return codec__err_set(err, SLIC_EINCONSISTENT, path, "labels",
                                  "keys must be sorted and unique: \"%s\" after \"%s\"", l->key,
                                  ms->labels[i - 1]->key);
    }
    s->labels = slic_calloc(ms->n_labels + 1, sizeof *s->labels);
    if (!s->labels)
        return nomem(err, path, "labels");
    for (size_t i = 0; i < ms->n_labels; i++) {
        s->labels[i].key = dup_string(ms->labels[i]->key);
        s->labels[i].value = dup_string(ms->labels[i]->value);
        s->n_labels = i + 1;
        if (!s->labels[i].key || !s->labels[i].value)
            return nomem(err, path, "labels");
    }
    return 0;
}

static int thresholds_from_msg(const Slic__Series *ms, const char *path, struct slic_series *s,
                               struct codec_error *err)
{
    if (ms->n_thresholds > SLIC_SERIES_THRESHOLDS_MAX)
        return codec__err_set(err, SLIC_ETOOBIG, path, "thresholds",
                              "%zu thresholds, at most %d allowed", ms->n_thresholds,
                              SLIC_SERIES_THRESHOLDS_MAX);
    s->thresholds = slic_calloc(ms->n_thresholds + 1, sizeof *s->thresholds);
    if (!s->thresholds)
        return nomem(err, path, "thresholds");
    for (size_t i = 0; i < ms->n_thresholds; i++) {
        const Slic__ThresholdCount *t = ms->thresholds[i];
        if (!t->has_threshold || !t->has_count_le || !t->has_good_le)
            return codec__err_set(err, SLIC_EMISSING, path, "thresholds",
                                  "threshold %zu lacks threshold, count_le or good_le", i);
        if (!(isfinite(t->threshold) && t->threshold > 0))
            return codec__err_set(err, SLIC_EVALUE, path, "thresholds",
                                  "threshold %g: expected a positive number of seconds",
                                  t->threshold);
        if (i > 0 && !(t->threshold > ms->thresholds[i - 1]->threshold))
            return codec__err_set(err, SLIC_EINCONSISTENT, path, "thresholds",
                                  "thresholds must ascend: %g after %g", t->threshold,
                                  ms->thresholds[i - 1]->threshold);
        if (t->count_le > ms->total || t->good_le > t->count_le || t->good_le > ms->good)
            return codec__err_set(err, SLIC_EINCONSISTENT, path, "thresholds",
                                  "at %gs: count_le %" PRIu64 " and good_le %" PRIu64
                                  " must satisfy good_le <= count_le <= total (%" PRIu64
                                  ") and good_le <= good (%" PRIu64 ")",
                                  t->threshold, t->count_le, t->good_le, ms->total, ms->good);
        /* Bad events under a threshold are among the window's bad events; counts under a
         * higher threshold include those under a lower one. The store adds and subtracts
         * these, so a contradiction here would surface as a negative count there. */
        if (t->count_le - t->good_le > ms->total - ms->good)
            return codec__err_set(err, SLIC_EINCONSISTENT, path, "thresholds",
                                  "at %gs: %" PRIu64 " bad events at or below, but only %" PRIu64
                                  " bad in the window",
                                  t->threshold, t->count_le - t->good_le, ms->total - ms->good);
        if (i > 0 && (t->count_le < ms->thresholds[i - 1]->count_le ||
                      t->good_le < ms->thresholds[i - 1]->good_le))
            return codec__err_set(err, SLIC_EINCONSISTENT, path, "thresholds",
                                  "at %gs: count_le %" PRIu64 " and good_le %" PRIu64
                                  " fall below those at %gs (%" PRIu64 ", %" PRIu64 ")",
                                  t->threshold, t->count_le, t->good_le,
                                  ms->thresholds[i - 1]->threshold, ms->thresholds[i - 1]->count_le,
                                  ms->thresholds[i - 1]->good_le);
        s->thresholds[i] = (struct slic_threshold_count){t->threshold, t->count_le, t->good_le};
    }
    s->n_thresholds = ms->n_thresholds;
    return 0;
}

static int window_check(const Slic__Series *ms, const char *path, struct codec_error *err)
{
    if (!ms->has_window_start)
        return codec__err_set(err, SLIC_EMISSING, path, "window_start", "required, absent");
    if (!ms->has_window_seconds)
        return codec__err_set(err, SLIC_EMISSING, path, "window_seconds", "required, absent");
    if (ms->window_seconds == 0 || ms->window_seconds % 10 != 0 ||
        ms->window_seconds > 366u * 86400u)
        return codec__err_set(err, SLIC_EINVAL, path, "window_seconds",
                              "%" PRIu32 ": expected a positive multiple of 10 s, at most a year",
                              ms->window_seconds);
    if (ms->window_start % (int64_t)ms->window_seconds != 0)
        return codec__err_set(err, SLIC_EINVAL, path, "window_start",
                              "%" PRId64 " is not aligned to the %" PRIu32 " s window",
                              ms->window_start, ms->window_seconds);
    /* Readers compute window_start + window_seconds and store times as unsigned big-endian
     * keys: both need a start at or after 1970 whose end fits in an int64. */
    if (ms->window_start < 0 || ms->window_start > INT64_MAX - (int64_t)ms->window_seconds)
        return codec__err_set(err, SLIC_EINVAL, path, "window_start",
                              "%" PRId64 ": expected Unix seconds >= 0 whose window end fits "
                              "in 64 bits",
                              ms->window_start);
    return 0;
}

static int series_from_msg(const Slic__Series *ms, const char *path, struct slic_series *s,
                           struct codec_error *err)
{
    int rc = check_name(ms->sli, path, "sli", err);
    if (rc || (rc = window_check(ms, path, err)))
        return rc;
    if (!ms->has_total)
        return codec__err_set(err, SLIC_EMISSING, path, "total", "required, absent");
    if (!ms->has_good)
        return codec__err_set(err, SLIC_EMISSING, path, "good", "required, absent");
    if (ms->good > ms->total)
        return codec__err_set(err, SLIC_EINCONSISTENT, path, "good",
                              "%" PRIu64 " good out of %" PRIu64 " total", ms->good, ms->total);
    if (!ms->latency && ms->total > 0)
        return codec__err_set(err, SLIC_EMISSING, path, "latency",
                              "required when total > 0 (total is %" PRIu64 ")", ms->total);
    s->window_start = ms->window_start;
    s->window_seconds = ms->window_seconds;
    s->total = ms->total;
    s->good = ms->good;
    if (!(s->sli = dup_string(ms->sli)))
        return nomem(err, path, "sli");
    if ((rc = labels_from_msg(ms, path, s, err)) || (rc = thresholds_from_msg(ms, path, s, err)))
        return rc;
    if (ms->latency) {
        char at[CODEC_ERROR_FIELD_LEN];
        snprintf(at, sizeof at, "%s.latency", path);
        rc = codec__sketch_from_msg_at(ms->latency, SLIC_SKETCH_MAX_BUCKETS_LIMIT, at, &s->latency,
                                       err);
        if (rc)
            return rc;
        if (slic_sketch_count(s->latency) != ms->total)
            return codec__err_set(err, SLIC_EINCONSISTENT, path, "latency",
                                  "sketch holds %" PRIu64 " values, total is %" PRIu64,
                                  slic_sketch_count(s->latency), ms->total);
    }
    return 0;
}

static int batch_header_check(const Slic__Batch *mb, struct codec_error *err)
{
    if (!mb->has_schema_version)
        return codec__err_set(err, SLIC_EMISSING, "", "schema_version", "required, absent");
    if (mb->schema_version != CODEC_SCHEMA_VERSION)
        return codec__err_set(err, SLIC_EVERSION, "", "schema_version",
                              "%" PRIu32 " is not supported: this aggregator speaks version %d",
                              mb->schema_version, CODEC_SCHEMA_VERSION);
    int rc;
    if ((rc = check_name(mb->agent_id, "", "agent_id", err)) ||
        (rc = check_name(mb->site, "", "site", err)) ||
        (rc = check_name(mb->node, "", "node", err)))
        return rc;
    if (!mb->has_epoch)
        return codec__err_set(err, SLIC_EMISSING, "", "epoch", "required, absent");
    if (mb->epoch == 0)
        return codec__err_set(err, SLIC_EINVAL, "", "epoch", "0; epochs start at 1");
    if (!mb->has_seq)
        return codec__err_set(err, SLIC_EMISSING, "", "seq", "required, absent");
    if (mb->seq == 0)
        return codec__err_set(err, SLIC_EINVAL, "", "seq", "0; sequence numbers start at 1");
    if (mb->n_series > SLIC_BATCH_SERIES_MAX)
        return codec__err_set(err, SLIC_ETOOBIG, "", "series", "%zu series, at most %d allowed",
                              mb->n_series, SLIC_BATCH_SERIES_MAX);
    return 0;
}

static int batch_from_msg(const Slic__Batch *mb, struct slic_batch *b, struct codec_error *err)
{
    int rc = batch_header_check(mb, err);
    if (rc)
        return rc;
    b->epoch = mb->epoch;
    b->seq = mb->seq;
    b->created_unix_ms = mb->has_created_unix_ms ? mb->created_unix_ms : 0;
    b->agent_id = dup_string(mb->agent_id);
    b->site = dup_string(mb->site);
    b->node = dup_string(mb->node);
    b->series = slic_calloc(mb->n_series + 1, sizeof *b->series);
    if (!b->agent_id || !b->site || !b->node || !b->series)
        return nomem(err, "", "the batch header");
    for (size_t i = 0; i < mb->n_series; i++) {
        char path[32];
        snprintf(path, sizeof path, "series[%zu]", i);
        b->n_series = i + 1;
        if ((rc = series_from_msg(mb->series[i], path, &b->series[i], err)))
            return rc;
    }
    return 0;
}

/* Unpacks at most max_len bytes into a message of `desc`, mapping protobuf-c's NULL to a slic
 * code. */
static int unpack_message(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                          size_t max_len, ProtobufCMessage **out, struct codec_error *err)
{
    if (len > max_len)
        return codec__err_set(err, SLIC_ETOOBIG, "", "", "%zu bytes, at most %zu accepted", len,
                              max_len);
    struct codec__pb_alloc_state state = {false};
    ProtobufCAllocator allocator = codec__pb_allocator(&state);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, &allocator, len, buf);
    if (!m && state.failed)
        return codec__err_set(err, SLIC_ENOMEM, "", "", "out of memory parsing a %zu-byte %s", len,
                              desc->short_name);
    if (!m)
        return codec__err_set(err, SLIC_EDECODE, "", "", "%zu bytes are not a valid %s message",
                              len, desc->short_name);
    *out = m;
    return 0;
}

static void free_message(ProtobufCMessage *m)
{
    struct codec__pb_alloc_state state = {false};
    ProtobufCAllocator allocator = codec__pb_allocator(&state);
    protobuf_c_message_free_unpacked(m, &allocator);
}

int codec_batch_unpack(const uint8_t *buf, size_t len, struct slic_batch *out,
                       struct codec_error *err)
{
    ProtobufCMessage *m = NULL;
    int rc = unpack_message(&slic__batch__descriptor, buf, len, CODEC_MAX_MESSAGE_BYTES, &m, err);
    if (rc)
        return rc;
    struct slic_batch b = {0};
    rc = batch_from_msg((const Slic__Batch *)m, &b, err);
    free_message(m);
    if (rc) {
        slic_batch_fini(&b);
        return rc;
    }
    *out = b;
    return 0;
}

/* ---- Batch: the agent_id alone ------------------------------------------------------------ */

/* A base-128 varint at *p, at most 10 bytes, not past end. */
static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Steps over one field's value of wire type `type`; a length-delimited value's bytes are also
 * returned in *val and *val_len. False for a truncated value or a group (slic never sends one). */
static bool wire_skip(const uint8_t **p, const uint8_t *end, unsigned type, const uint8_t **val,
                      size_t *val_len)
{
    uint64_t n = 0;
    switch (type) {
    case 0: /* varint */
        return wire_varint(p, end, &n);
    case 1: /* 64-bit */
        n = 8;
        break;
    case 2: /* length-delimited */
        if (!wire_varint(p, end, &n))
            return false;
        break;
    case 5: /* 32-bit */
        n = 4;
        break;
    default:
        return false;
    }
    if (n > (uint64_t)(end - *p))
        return false;
    *val = *p;
    *val_len = (size_t)n;
    *p += n;
    return true;
}

int codec_batch_agent_id(const uint8_t *buf, size_t len, char out[SLIC_NAME_MAX + 1],
                         struct codec_error *err)
{
    if (len > CODEC_MAX_MESSAGE_BYTES)
        return codec__err_set(err, SLIC_ETOOBIG, "", "", "%zu bytes, at most %u accepted", len,
                              CODEC_MAX_MESSAGE_BYTES);
    const uint8_t *p = buf, *end = buf + len, *id = NULL;
    size_t id_len = 0;
    while (p < end) {
        uint64_t tag = 0;
        const uint8_t *val = NULL;
        size_t val_len = 0;
        if (!wire_varint(&p, end, &tag) || tag >> 3 == 0 ||
            !wire_skip(&p, end, (unsigned)(tag & 7), &val, &val_len))
            return codec__err_set(err, SLIC_EDECODE, "", "",
                                  "%zu bytes are not a valid Batch message", len);
        if (tag >> 3 != 2)
            continue;
        /* protobuf keeps the last of repeated scalars; refusing a second one means no reader
         * can see another agent_id than the one the signature was checked for. */
        if ((tag & 7) != 2 || id)
            return codec__err_set(err, SLIC_EDECODE, "", "agent_id",
                                  (tag & 7) != 2 ? "not a string" : "appears more than once");
        id = val;
        id_len = val_len;
    }
    if (!id)
        return codec__err_set(err, SLIC_EMISSING, "", "agent_id", "required, absent");
    if (id_len == 0 || id_len > SLIC_NAME_MAX || memchr(id, '\0', id_len))
        return codec__err_set(err, SLIC_EINVAL, "", "agent_id",
                              "%zu bytes; expected 1..%d characters of [A-Za-z0-9_.:-]", id_len,
                              SLIC_NAME_MAX);
    char name[SLIC_NAME_MAX + 1];
    memcpy(name, id, id_len);
    name[id_len] = '\0';
    if (!slic_name_valid(name))
        return codec__err_set(err, SLIC_EINVAL, "", "agent_id",
                              "expected 1..%d characters of [A-Za-z0-9_.:-]", SLIC_NAME_MAX);
    memcpy(out, name, id_len + 1);
    return 0;
}

/* ---- Request ------------------------------------------------------------------------------- */

int codec_request_pack(const uint8_t *batch, size_t batch_len, const uint8_t *hmac, size_t hmac_len,
                       const Slic__Query *query, uint8_t **buf, size_t *len)
{
    if ((batch == NULL) == (query == NULL))
        return SLIC_EINVAL;
    Slic__Request r = SLIC__REQUEST__INIT;
    if (batch) {
        r.has_batch = 1;
        r.batch.data = (uint8_t *)batch;
        r.batch.len = batch_len;
        if (hmac) {
            r.has_batch_hmac = 1;
            r.batch_hmac.data = (uint8_t *)hmac;
            r.batch_hmac.len = hmac_len;
        }
    }
    r.query = (Slic__Query *)query;
    return pack_message(&r.base, buf, len);
}

int codec_request_unpack(const uint8_t *buf, size_t len, struct codec_request *out,
                         struct codec_error *err)
{
    ProtobufCMessage *m = NULL;
    int rc = unpack_message(&slic__request__descriptor, buf, len, CODEC_MAX_MESSAGE_BYTES, &m, err);
    if (rc)
        return rc;
    Slic__Request *r = (Slic__Request *)m;
    if (r->has_batch && r->query)
        rc = codec__err_set(err, SLIC_EINCONSISTENT, "", "batch",
                            "a request carries exactly one of batch or query, not both");
    else if (!r->has_batch && !r->query)
        rc = codec__err_set(err, SLIC_EMISSING, "", "batch",
                            "a request carries exactly one of batch or query, and has neither");
    else if (r->has_batch_hmac && !r->has_batch)
        rc = codec__err_set(err, SLIC_EINCONSISTENT, "", "batch_hmac",
                            "an HMAC signs a batch; this request carries a query");
    /* protobuf-c leaves data NULL for an empty bytes field; the caller must still be able to
     * tell a batch from a query by .batch, and an empty Batch lacks every required field. */
    else if (r->has_batch && r->batch.len == 0)
        rc = codec__err_set(err, SLIC_EMISSING, "", "batch", "present but empty");
    if (rc) {
        free_message(m);
        return rc;
    }
    *out = (struct codec_request){
        .msg = r,
        .batch = r->has_batch ? r->batch.data : NULL,
        .batch_len = r->has_batch ? r->batch.len : 0,
        .hmac = r->has_batch_hmac ? r->batch_hmac.data : NULL,
        .hmac_len = r->has_batch_hmac ? r->batch_hmac.len : 0,
        .query = r->query,
    };
    return 0;
}

void codec_request_fini(struct codec_request *r)
{
    if (r && r->msg)
        free_message(&r->msg->base);
    if (r)
        memset(r, 0, sizeof *r);
}

/* ---- Response and Ack ---------------------------------------------------------------------- */

static int ack_to_msg(const struct slic_ack *a, Slic__Ack *m, Slic__SliThresholds *wanted,
                      Slic__SliThresholds **wanted_ptrs)
{
    slic__ack__init(m);
    m->has_schema_version = m->has_epoch = m->has_seq = m->has_status = 1;
    m->schema_version = CODEC_SCHEMA_VERSION;
    m->epoch = a->epoch;
    m->seq = a->seq;
    m->status = (Slic__Ack__Status)a->status;
    m->reason = a->reason[0] ? (char *)a->reason : NULL;
    m->has_cause = a->cause != SLIC_ACK_CAUSE_UNSPECIFIED;
    m->cause = (Slic__Ack__Cause)a->cause;
    for (size_t i = 0; i < a->n_wanted; i++) {
        slic__sli_thresholds__init(&wanted[i]);
        wanted[i].sli = a->wanted[i].sli;
        wanted[i].n_thresholds = a->wanted[i].n_thresholds;
        wanted[i].thresholds = a->wanted[i].thresholds;
        wanted_ptrs[i] = &wanted[i];
    }
    m->n_wanted_thresholds = a->n_wanted;
    m->wanted_thresholds = wanted_ptrs;
    return 0;
}

int codec_response_pack(const struct slic_ack *ack, const Slic__Reply *reply, uint8_t **buf,
                        size_t *len)
{
    if ((ack == NULL) == (reply == NULL))
        return SLIC_EINVAL;
    Slic__Response r = SLIC__RESPONSE__INIT;
    Slic__Ack m;
    Slic__SliThresholds *wanted = NULL;
    Slic__SliThresholds **wanted_ptrs = NULL;
    if (ack) {
        wanted = slic_calloc(ack->n_wanted + 1, sizeof *wanted);
        wanted_ptrs = slic_calloc(ack->n_wanted + 1, sizeof *wanted_ptrs);
        if (!wanted || !wanted_ptrs) {
            slic_free(wanted);
            slic_free(wanted_ptrs);
            return SLIC_ENOMEM;
        }
        ack_to_msg(ack, &m, wanted, wanted_ptrs);
        r.ack = &m;
    }
    r.reply = (Slic__Reply *)reply;
    int rc = pack_message(&r.base, buf, len);
    slic_free(wanted);
    slic_free(wanted_ptrs);
    return rc;
}

static int wanted_from_msg(const Slic__Ack *m, struct slic_ack *a, struct codec_error *err)
{
    if (m->n_wanted_thresholds > SLIC_ACK_WANTED_MAX)
        return codec__err_set(err, SLIC_ETOOBIG, "ack", "wanted_thresholds",
                              "%zu SLIs, at most %d allowed", m->n_wanted_thresholds,
                              SLIC_ACK_WANTED_MAX);
    a->wanted = slic_calloc(m->n_wanted_thresholds + 1, sizeof *a->wanted);
    if (!a->wanted)
        return nomem(err, "ack", "wanted_thresholds");
    for (size_t i = 0; i < m->n_wanted_thresholds; i++) {
        const Slic__SliThresholds *w = m->wanted_thresholds[i];
        char path[48];
        snprintf(path, sizeof path, "ack.wanted_thresholds[%zu]", i);
        int rc = check_name(w->sli, path, "sli", err);
        if (rc)
            return rc;
        if (w->n_thresholds > SLIC_SERIES_THRESHOLDS_MAX)
            return codec__err_set(err, SLIC_ETOOBIG, path, "thresholds",
                                  "%zu thresholds for %s, at most %d", w->n_thresholds, w->sli,
                                  SLIC_SERIES_THRESHOLDS_MAX);
        for (size_t k = 0; k < w->n_thresholds; k++) {
            if (!(isfinite(w->thresholds[k]) && w->thresholds[k] > 0) ||
                (k > 0 && !(w->thresholds[k] > w->thresholds[k - 1])))
                return codec__err_set(err, SLIC_EINVAL, path, "thresholds",
                                      "for %s: %g at %zu; expected ascending positive seconds",
                                      w->sli, w->thresholds[k], k);
        }
        struct slic_sli_thresholds *t = &a->wanted[i];
        a->n_wanted = i + 1;
        t->sli = dup_string(w->sli);
        t->thresholds = slic_calloc(w->n_thresholds + 1, sizeof *t->thresholds);
        if (!t->sli || !t->thresholds)
            return nomem(err, path, "an SLI's thresholds");
        /* protobuf-c leaves the array NULL when it is empty; memcpy must not see NULL. */
        if (w->n_thresholds > 0)
            memcpy(t->thresholds, w->thresholds, w->n_thresholds * sizeof *t->thresholds);
        t->n_thresholds = w->n_thresholds;
    }
    return 0;
}

_Static_assert((int)SLIC_ACK_CAUSE_INVALID == (int)SLIC__ACK__CAUSE__CAUSE_INVALID &&
                   (int)SLIC_ACK_CAUSE_SIGNATURE == (int)SLIC__ACK__CAUSE__CAUSE_SIGNATURE,
               "enum slic_ack_cause (batch.h) and Ack.Cause (slic.proto) share their values");

/* Ack.cause as this reader knows it; anything newer reads as UNSPECIFIED (see codec_batch.h). */
static enum slic_ack_cause cause_from_msg(const Slic__Ack *m)
{
    if (m->has_cause && (m->cause == SLIC__ACK__CAUSE__CAUSE_INVALID ||
                         m->cause == SLIC__ACK__CAUSE__CAUSE_SIGNATURE))
        return (enum slic_ack_cause)m->cause;
    return SLIC_ACK_CAUSE_UNSPECIFIED;
}

static int ack_from_msg(const Slic__Ack *m, struct slic_ack *a, struct codec_error *err)
{
    if (!m->has_schema_version)
        return codec__err_set(err, SLIC_EMISSING, "ack", "schema_version", "required, absent");
    if (m->schema_version != CODEC_SCHEMA_VERSION)
        return codec__err_set(err, SLIC_EVERSION, "ack", "schema_version",
                              "%" PRIu32 " is not supported: this agent speaks version %d",
                              m->schema_version, CODEC_SCHEMA_VERSION);
    if (!m->has_status)
        return codec__err_set(err, SLIC_EMISSING, "ack", "status", "required, absent");
    if (!m->has_epoch)
        return codec__err_set(err, SLIC_EMISSING, "ack", "epoch", "required, absent");
    if (!m->has_seq)
        return codec__err_set(err, SLIC_EMISSING, "ack", "seq", "required, absent");
    if (m->status < SLIC__ACK__STATUS__ACCEPTED || m->status > SLIC__ACK__STATUS__RETRY)
        return codec__err_set(err, SLIC_EINVAL, "ack", "status", "unknown status %d",
                              (int)m->status);
    a->status = (enum slic_ack_status)m->status;
    a->cause = cause_from_msg(m);
    a->epoch = m->epoch;
    a->seq = m->seq;
    snprintf(a->reason, sizeof a->reason, "%s", m->reason ? m->reason : "");
    return wanted_from_msg(m, a, err);
}

int codec_response_unpack(const uint8_t *buf, size_t len, struct slic_ack *ack_out,
                          Slic__Reply **reply_out, struct codec_error *err)
{
    ProtobufCMessage *m = NULL;
    int rc = unpack_message(&slic__response__descriptor, buf, len,
                            reply_out ? CODEC_MAX_REPLY_BYTES : CODEC_MAX_MESSAGE_BYTES, &m, err);
    if (rc)
        return rc;
    Slic__Response *r = (Slic__Response *)m;
    if (r->ack && r->reply) {
        rc = codec__err_set(err, SLIC_EINCONSISTENT, "", "ack",
                            "a response carries exactly one of ack or reply, not both");
    } else if (!r->ack && !r->reply) {
        rc = codec__err_set(err, SLIC_EMISSING, "", "ack",
                            "a response carries exactly one of ack or reply, and has neither");
    } else if (r->ack) {
        struct slic_ack a;
        memset(&a, 0, sizeof a);
        if (!ack_out)
            rc = codec__err_set(err, SLIC_EINCONSISTENT, "", "ack", "expected a reply, got an ack");
        else if ((rc = ack_from_msg(r->ack, &a, err)) != 0)
            slic_ack_fini(&a);
        else
            *ack_out = a;
    } else if (!reply_out) {
        rc = codec__err_set(err, SLIC_EINCONSISTENT, "", "reply", "expected an ack, got a reply");
    } else {
        /* Hand the reply over and free only the envelope around it. */
        *reply_out = r->reply;
        r->reply = NULL;
    }
    free_message(m);
    return rc;
}

void codec_reply_free(Slic__Reply *reply)
{
    if (reply)
        free_message(&reply->base);
}
