/* The codec between common structs and slic.proto's protobuf-c messages (see codec.h).
 * Decoders assume hostile input: protobuf-c only checks the wire format, so this file checks
 * that required fields are present and hands values to common/'s validators. protobuf-c's
 * failures (a NULL from unpack) become slic codes here and go no further. Every allocation,
 * protobuf-c's included, goes through slic_malloc so tests can fail any one of them. The
 * helpers codec_internal.h shares with the other codec files live here too. */
#include "codec.h"

#include "alloc.h"
#include "codec_internal.h"
#include "err.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* A sketch at the bucket limit must always fit under the unpack cap, or an aggregator could not
 * read back what a peer legitimately sent: 10 bytes per varint count, < 128 for the rest. */
_Static_assert((uint64_t)SLIC_SKETCH_MAX_BUCKETS_LIMIT * 10u + 128u <= CODEC_MAX_SKETCH_BYTES,
               "CODEC_MAX_SKETCH_BYTES is too small for the largest legal sketch");

/* ---- errors ---------------------------------------------------------------------------- */

int codec__err_set(struct codec_error *err, int code, const char *path, const char *field,
                   const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    const char *dot = path[0] != '\0' && field[0] != '\0' ? "." : "";
    snprintf(err->field, sizeof err->field, "%s%s%s", path, dot, field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

const char *codec_error_format(const struct codec_error *err, char *buf, size_t len)
{
    assert(len > 0);
    if (err->field[0] != '\0')
        snprintf(buf, len, "%s: %s", err->field, err->msg);
    else
        snprintf(buf, len, "%s", err->msg);
    return buf;
}

/* ---- protobuf-c allocator ---------------------------------------------------------------- */

static void *pb_alloc(void *data, size_t size)
{
    /* malloc(0) may legally return NULL, which must not read as an allocation failure. */
    void *p = slic_malloc(size > 0 ? size : 1);
    if (!p)
        ((struct codec__pb_alloc_state *)data)->failed = true;
    return p;
}

static void pb_free(void *data, void *p)
{
    (void)data;
    slic_free(p);
}

ProtobufCAllocator codec__pb_allocator(struct codec__pb_alloc_state *state)
{
    state->failed = false;
    return (ProtobufCAllocator){pb_alloc, pb_free, state};
}

/* ---- Sketch: encode ------------------------------------------------------------------------ */

static int mapping_to_wire(enum slic_sketch_mapping mapping, Slic__Sketch__Mapping *out)
{
    switch (mapping) {
    case SLIC_SKETCH_MAPPING_CUBIC:
        *out = SLIC__SKETCH__MAPPING__CUBIC;
        return 0;
    case SLIC_SKETCH_MAPPING_LOG:
        *out = SLIC__SKETCH__MAPPING__LOG;
        return 0;
    }
    return SLIC_EINVAL;
}

int codec_sketch_to_msg(const slic_sketch *sk, Slic__Sketch *msg)
{
    struct slic_sketch_view v;
    slic_sketch_view_get(sk, &v);
    Slic__Sketch__Mapping mapping;
    int rc = mapping_to_wire(v.mapping, &mapping);
    if (rc)
        return rc;

    /* Optional fields that carry nothing are left out (offset without buckets, min/max/sum of
     * an empty sketch, zero counts, a false flag): the encoding stays small and canonical, and
     * decoders treat absent as 0. */
    msg->has_mapping = 1;
    msg->mapping = mapping;
    msg->has_alpha = 1;
    msg->alpha = v.alpha;
    msg->has_offset = v.n > 0;
    msg->offset = v.n > 0 ? v.offset : 0;
    msg->n_counts = v.n;
    /* Borrowed, never written through: protobuf-c's struct has no const member to hold it. */
    msg->counts = (uint64_t *)v.counts;
    msg->has_zero_count = v.zero_count > 0;
    msg->zero_count = v.zero_count;
    msg->has_count = 1;
    msg->count = v.count;
    msg->has_sum = v.count > 0;
    msg->sum = v.count > 0 ? v.sum : 0;
    msg->has_min = v.count > 0;
    msg->min = v.count > 0 ? v.min : 0;
    msg->has_max = v.count > 0;
    msg->max = v.count > 0 ? v.max : 0;
    msg->has_collapsed = v.collapsed;
    msg->collapsed = v.collapsed;
    return 0;
}

int codec_sketch_pack(const slic_sketch *sk, uint8_t **buf, size_t *len)
{
    Slic__Sketch msg = SLIC__SKETCH__INIT;
    int rc = codec_sketch_to_msg(sk, &msg);
    if (rc)
        return rc;
    size_t size = slic__sketch__get_packed_size(&msg);
    uint8_t *out = slic_malloc(size > 0 ? size : 1);
    if (!out)
        return SLIC_ENOMEM;
    size_t written = slic__sketch__pack(&msg, out);
    assert(written == size);
    (void)written;
    *buf = out;
    *len = size;
    return 0;
}

/* ---- Sketch: decode ------------------------------------------------------------------------ */

static int sketch_check_present(const Slic__Sketch *m, const char *path, struct codec_error *err)
{
    if (!m->has_mapping)
        return codec__err_set(err, SLIC_EMISSING, path, "mapping", "absent; it is required");
    if (!m->has_alpha)
        return codec__err_set(err, SLIC_EMISSING, path, "alpha", "absent; it is required");
    if (!m->has_count)
        return codec__err_set(err, SLIC_EMISSING, path, "count", "absent; it is required");
    if (m->n_counts > 0 && !m->has_offset)
        return codec__err_set(err, SLIC_EMISSING, path, "offset",
                              "absent; it is required when counts is non-empty (%zu counts)",
                              m->n_counts);
    /* min and max of 0 are real values (a sketch of zeros), so absence cannot mean 0 here. */
    const char *stat = !m->has_min ? "min" : !m->has_max ? "max" : !m->has_sum ? "sum" : NULL;
    if (m->count > 0 && stat)
        return codec__err_set(err, SLIC_EMISSING, path, stat,
                              "absent; it is required when count > 0 (count %" PRIu64 ")",
                              m->count);
    return 0;
}

static int mapping_from_wire(const Slic__Sketch *m, const char *path, enum slic_sketch_mapping *out,
                             struct codec_error *err)
{
    /* protobuf-c does not check enum values: any int32 on the wire arrives here. */
    switch ((int)m->mapping) {
    case SLIC__SKETCH__MAPPING__CUBIC:
        *out = SLIC_SKETCH_MAPPING_CUBIC;
        return 0;
    case SLIC__SKETCH__MAPPING__LOG:
        *out = SLIC_SKETCH_MAPPING_LOG;
        return 0;
    default:
        return codec__err_set(err, SLIC_EINVAL, path, "mapping",
                              "%d is not a known mapping; expected CUBIC (1) or LOG (2)",
                              (int)m->mapping);
    }
}

/* The message's fields as a view; presence was checked already, so absent means 0. */
static int sketch_msg_view(const Slic__Sketch *m, const char *path, struct slic_sketch_view *v,
                           struct codec_error *err)
{
    int rc = mapping_from_wire(m, path, &v->mapping, err);
    if (rc)
        return rc;
    /* The view counts buckets in 32 bits; no legal sketch comes near (the cap is 65536). */
    if (m->n_counts > UINT32_MAX)
        return codec__err_set(err, SLIC_ETOOBIG, path, "counts", "%zu buckets, more than 2^32-1",
                              m->n_counts);
    v->alpha = m->alpha;
    v->offset = m->has_offset ? m->offset : 0;
    v->n = (uint32_t)m->n_counts;
    v->counts = m->n_counts > 0 ? m->counts : NULL;
    v->zero_count = m->has_zero_count ? m->zero_count : 0;
    v->count = m->count;
    v->sum = m->has_sum ? m->sum : 0;
    v->min = m->has_min ? m->min : 0;
    v->max = m->has_max ? m->max : 0;
    v->collapsed = m->has_collapsed && m->collapsed;
    return 0;
}

/* slic_sketch_from_view() returns only a code; these name the field most likely at fault, by
 * re-checking the view cheaply. They decide nothing: the code is always from_view's. */

static bool finite_nonneg(double x)
{
    return isfinite(x) && x >= 0;
}

static void explain_einval(const struct slic_sketch_view *v, uint32_t max_buckets, const char *path,
                           struct codec_error *err)
{
    if (!(v->alpha >= SLIC_SKETCH_MIN_ALPHA && v->alpha <= SLIC_SKETCH_MAX_ALPHA))
        codec__err_set(err, SLIC_EINVAL, path, "alpha", "%.17g is outside [%g, %g]", v->alpha,
                       SLIC_SKETCH_MIN_ALPHA, SLIC_SKETCH_MAX_ALPHA);
    else
        codec__err_set(err, SLIC_EINVAL, path, "",
                       "the decoder's max_buckets %" PRIu32 " is outside [16, %u]", max_buckets,
                       SLIC_SKETCH_MAX_BUCKETS_LIMIT);
}

static void explain_evalue(const struct slic_sketch_view *v, const char *path,
                           struct codec_error *err)
{
    const char *name = "sum";
    double value = v->sum;
    if (!finite_nonneg(v->min)) {
        name = "min";
        value = v->min;
    } else if (!finite_nonneg(v->max)) {
        name = "max";
        value = v->max;
    }
    codec__err_set(err, SLIC_EVALUE, path, name, "%.17g; expected a finite value >= 0", value);
}

/* zero_count plus the counts, saturating at 2^64-1 (overflow is reported separately). */
static uint64_t view_total(const struct slic_sketch_view *v)
{
    uint64_t total = v->zero_count;
    for (uint32_t i = 0; i < v->n; i++)
        total = total > UINT64_MAX - v->counts[i] ? UINT64_MAX : total + v->counts[i];
    return total;
}

/* The stats that cannot be true of the buckets, in the order a reader would look. Returns
 * false when none of the cheap checks finds the fault. */
static bool explain_stats(const struct slic_sketch_view *v, const char *path,
                          struct codec_error *err)
{
    const int code = SLIC_EINCONSISTENT;
    if (v->count == 0) {
        const char *name = v->min != 0 ? "min" : v->max != 0 ? "max" : "sum";
        double value = v->min != 0 ? v->min : v->max != 0 ? v->max : v->sum;
        codec__err_set(err, code, path, name, "%.17g; expected 0 when count is 0", value);
    } else if (v->min > v->max) {
        codec__err_set(err, code, path, "min", "%.17g is greater than max %.17g", v->min, v->max);
    } else if (v->max > SLIC_SKETCH_MAX_INDEXABLE) {
        codec__err_set(err, code, path, "max", "%.17g is above the indexable limit %g", v->max,
                       SLIC_SKETCH_MAX_INDEXABLE);
    } else if (v->zero_count > 0 && v->min >= SLIC_SKETCH_MIN_INDEXABLE) {
        codec__err_set(err, code, path, "min",
                       "%.17g, but zero_count %" PRIu64 " says a value is below %g", v->min,
                       v->zero_count, SLIC_SKETCH_MIN_INDEXABLE);
    } else if (v->zero_count == 0 && v->min < SLIC_SKETCH_MIN_INDEXABLE) {
        codec__err_set(err, code, path, "min", "%.17g is below %g, but zero_count is 0", v->min,
                       SLIC_SKETCH_MIN_INDEXABLE);
    } else if ((v->n > 0) != (v->max >= SLIC_SKETCH_MIN_INDEXABLE)) {
        codec__err_set(err, code, path, "max", "%.17g, but there %s", v->max,
                       v->n > 0 ? "are buckets above the zero bucket" : "are no buckets");
    } else if (v->sum < v->min * (double)v->count * (1 - 1e-6) ||
               v->sum > v->max * (double)v->count * (1 + 1e-6)) {
        codec__err_set(err, code, path, "sum", "%.17g is not between count * min and count * max",
                       v->sum);
    } else {
        return false;
    }
    return true;
}

/* What is left: min or max lies outside the lowest or highest bucket. Telling which needs the
 * mapping, so a scratch sketch is made; if even that fails, the message names both. */
static void explain_buckets(const struct slic_sketch_view *v, const char *path,
                            struct codec_error *err)
{
    const int code = SLIC_EINCONSISTENT;
    int64_t last = (int64_t)v->offset + v->n - 1;
    slic_sketch *scratch = NULL;
    if (v->n == 0 || slic_sketch_create_mapped(v->alpha, 16, v->mapping, &scratch) != 0) {
        codec__err_set(err, code, path, "offset",
                       "buckets %" PRId32 "..%" PRId64 " cannot hold min %.17g and max %.17g",
                       v->offset, last, v->min, v->max);
        return;
    }
    int32_t max_index = slic_sketch_index_of(scratch, v->max);
    int32_t min_index = slic_sketch_index_of(scratch, v->min);
    slic_sketch_destroy(scratch);
    if (max_index != last)
        codec__err_set(err, code, path, "max",
                       "%.17g falls in bucket %" PRId32 ", but the highest bucket is %" PRId64,
                       v->max, max_index, last);
    else
        codec__err_set(err, code, path, "min",
                       "%.17g falls in bucket %" PRId32 ", but the lowest bucket is %" PRId32 "%s",
                       v->min, min_index, v->offset, v->collapsed ? " (collapsed)" : "");
}

static void explain_einconsistent(const struct slic_sketch_view *v, const char *path,
                                  struct codec_error *err)
{
    const int code = SLIC_EINCONSISTENT;
    uint64_t total = view_total(v);
    if (v->n > 0 && v->counts[0] == 0) {
        codec__err_set(err, code, path, "counts",
                       "counts[0] is 0; the first and last must be non-zero");
    } else if (v->n > 0 && v->counts[v->n - 1] == 0) {
        codec__err_set(err, code, path, "counts",
                       "counts[%" PRIu32 "] is 0; the first and last must be non-zero", v->n - 1);
    } else if (total != v->count) {
        codec__err_set(err, code, path, "count",
                       "%" PRIu64 ", but zero_count plus counts add up to %" PRIu64, v->count,
                       total);
    } else if (!explain_stats(v, path, err)) {
        explain_buckets(v, path, err);
    }
}

static void explain_view_error(const struct slic_sketch_view *v, uint32_t max_buckets, int rc,
                               const char *path, struct codec_error *err)
{
    switch (rc) {
    case SLIC_EINVAL:
        explain_einval(v, max_buckets, path, err);
        break;
    case SLIC_ETOOBIG:
        codec__err_set(err, rc, path, "counts",
                       "%" PRIu32 " buckets, more than the limit of %" PRIu32, v->n, max_buckets);
        break;
    case SLIC_ERANGE:
        codec__err_set(err, rc, path, "offset",
                       "buckets %" PRId32 "..%" PRId64
                       " reach outside the indexable range [%g, %g]",
                       v->offset, (int64_t)v->offset + v->n - 1, SLIC_SKETCH_MIN_INDEXABLE,
                       SLIC_SKETCH_MAX_INDEXABLE);
        break;
    case SLIC_EOVERFLOW:
        codec__err_set(err, rc, path, "counts", "zero_count plus the counts pass 2^64-1");
        break;
    case SLIC_EVALUE:
        explain_evalue(v, path, err);
        break;
    case SLIC_EINCONSISTENT:
        explain_einconsistent(v, path, err);
        break;
    default:
        codec__err_set(err, rc, path, "", "%s", slic_strerror(rc));
        break;
    }
}

int codec__sketch_from_msg_at(const Slic__Sketch *m, uint32_t max_buckets, const char *path,
                              slic_sketch **out, struct codec_error *err)
{
    int rc = sketch_check_present(m, path, err);
    if (rc)
        return rc;
    struct slic_sketch_view v;
    if ((rc = sketch_msg_view(m, path, &v, err)))
        return rc;
    slic_sketch *sk = NULL;
    rc = slic_sketch_from_view(&v, max_buckets, &sk);
    if (rc) {
        explain_view_error(&v, max_buckets, rc, path, err);
        return rc;
    }
    *out = sk;
    return 0;
}

int codec_sketch_from_msg(const Slic__Sketch *msg, uint32_t max_buckets, slic_sketch **out,
                          struct codec_error *err)
{
    return codec__sketch_from_msg_at(msg, max_buckets, "", out, err);
}

int codec_sketch_unpack(const uint8_t *buf, size_t len, uint32_t max_buckets, slic_sketch **out,
                        struct codec_error *err)
{
    assert(buf || len == 0);
    if (len > CODEC_MAX_SKETCH_BYTES)
        return codec__err_set(err, SLIC_ETOOBIG, "", "", "%zu bytes, more than the limit of %u",
                              len, CODEC_MAX_SKETCH_BYTES);
    struct codec__pb_alloc_state state;
    ProtobufCAllocator allocator = codec__pb_allocator(&state);
    Slic__Sketch *msg = slic__sketch__unpack(&allocator, len, buf);
    if (!msg) {
        if (state.failed)
            return codec__err_set(err, SLIC_ENOMEM, "", "", "out of memory parsing %zu bytes", len);
        return codec__err_set(err, SLIC_EDECODE, "", "",
                              "%zu bytes are not a valid Sketch message (truncated or malformed)",
                              len);
    }
    int rc = codec__sketch_from_msg_at(msg, max_buckets, "", out, err);
    slic__sketch__free_unpacked(msg, &allocator);
    return rc;
}
