/* Stored value formats of the aggregator store: the record of one series over one window (its
 * event counts, exact threshold counts and latency sketch), and the state kept per agent for
 * exactly-once ingest. Records are read far more often than written (every query merges
 * hundreds), so decoding hands out a sketch view whose counts point straight into the stored
 * bytes whenever they are suitably aligned; merging into a record is a read-modify-write that
 * never builds a slic_sketch. Values come from our own writer but are validated on decode all
 * the same: a corrupt record is an error that names what is wrong, never a crash.
 *
 * Record layout, version 1, little-endian, 80 + 24 t + 8 n bytes:
 *
 *   off  size  field
 *   0    1     version (1)
 *   1    1     flags: bit 0 = sketch collapsed; other bits 0
 *   2    1     sketch mapping (enum slic_sketch_mapping)
 *   3    1     t, threshold count (0..16)
 *   4    4     n, bucket count
 *   8    4     bucket offset (index of counts[0]), signed
 *   12   4     reserved, 0
 *   16   8     alpha (double)
 *   24   8     total events
 *   32   8     good events
 *   40   8     sketch zero_count
 *   48   8     sketch count (equals total)
 *   56   8     sketch sum (double, seconds)
 *   64   8     sketch min (double)
 *   72   8     sketch max (double)
 *   80   24 t  thresholds, ascending: threshold (double), count_le, good_le
 *   ..   8 n   bucket counts
 *
 * The counts start at a multiple of 8, so when LMDB hands out an 8-aligned value (always for
 * values on overflow pages, which records of more than ~250 buckets are) they are read in place.
 *
 * Not thread-safe beyond what each function says: buffers belong to one thread. */
#ifndef SLIC_AGG_RECORD_H
#define SLIC_AGG_RECORD_H

#include "batch.h"
#include "err.h"
#include "sketch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGG__RECORD_VERSION 1
#define AGG__RECORD_HEADER 80
#define AGG__RECORD_THRESHOLD_SIZE 24

/* The sketch settings every record of one store shares. */
struct agg__sketch_params {
    double alpha;
    enum slic_sketch_mapping mapping;
    uint32_t max_buckets;
};

/* A growable byte buffer from slic_realloc; its memory is aligned as malloc's is. */
struct agg__buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

/* Makes room for n bytes (contents not kept). 0 or SLIC_ENOMEM. */
int agg__buf_reserve(struct agg__buf *b, size_t n);
/* Frees the buffer; a zeroed buffer is allowed. */
void agg__buf_fini(struct agg__buf *b);

/* A decoded record. sketch.counts points into the decoded value or into the scratch buffer the
 * decoder was given, so it lives as long as the shorter of the two. */
struct agg__record {
    uint64_t total;
    uint64_t good;
    size_t n_thresholds;
    struct slic_threshold_count thresholds[SLIC_SERIES_THRESHOLDS_MAX];
    struct slic_sketch_view sketch;
};

/* Bytes a record with t thresholds and n buckets takes. */
size_t agg__record_size(size_t n_thresholds, uint32_t n_buckets);

/* Decodes and validates a stored value: exact length, version, settings in range, counts that
 * add up, ordered thresholds. Counts are used in place when aligned (and the host is
 * little-endian); otherwise they are copied into scratch. Returns 0, SLIC_EDECODE (the message
 * says which field is wrong) or SLIC_ENOMEM. *out is written only on success. */
int agg__record_decode(const void *value, size_t len, struct agg__record *out,
                       struct agg__buf *scratch, struct slic_errmsg *err);

/* Encodes into out the merge of a stored record (NULL: none yet) and a series: counts added,
 * sketches merged bucket by bucket (collapsing the lowest buckets, exactly as slic_sketch_merge
 * does, should the span pass p->max_buckets), and only the thresholds both counted exactly kept
 * (a side with no events constrains nothing). The series must be valid per batch.h, with a
 * sketch of p's alpha and mapping. Returns 0; SLIC_EALPHA when the stored record has other
 * sketch settings; SLIC_EOVERFLOW when a count would pass 2^64 - 1; SLIC_ENOMEM. */
int agg__record_merge_series(const struct agg__record *stored, const struct slic_series *s,
                             const struct agg__sketch_params *p, struct agg__buf *out,
                             struct slic_errmsg *err);

/* Size the merge of a series into an empty record takes, for estimating write volume. */
size_t agg__record_size_of_series(const struct slic_series *s);

/* agg__record_decode without the bucket counts: header and thresholds are decoded and checked,
 * the counts neither copied nor added up (out->sketch.counts is NULL). For readers that need
 * event counts and at most a few buckets (agg__record_buckets_sum), such as SLO evaluation, for
 * which copying and checking every bucket of every record was most of the time spent; corrupt
 * bucket counts go unnoticed here. Returns 0 or SLIC_EDECODE. */
int agg__record_decode_head(const void *value, size_t len, struct agg__record *out,
                            struct slic_errmsg *err);

/* The sum of buckets [i, i + n) (within 0..r->sketch.n) of a record r that
 * agg__record_decode_head decoded from value, read in place whatever the alignment. The caller
 * guards against overflow from corrupt counts by comparing the result with the record's total. */
uint64_t agg__record_buckets_sum(const void *value, const struct agg__record *r, uint32_t i,
                                 uint32_t n);

/* Merges decoded records: the query side. Thresholds are kept only while every record merged
 * so far (with any events) counted them exactly. */
struct agg__record_acc {
    struct agg__sketch_params params;
    uint64_t total;
    uint64_t good;
    uint64_t records;
    slic_sketch *sketch;
    size_t n_thresholds;
    struct slic_threshold_count thresholds[SLIC_SERIES_THRESHOLDS_MAX];
};

/* 0, SLIC_EINVAL (bad params) or SLIC_ENOMEM. */
int agg__record_acc_init(struct agg__record_acc *acc, const struct agg__sketch_params *p);
/* Frees the sketch unless it was taken (set acc->sketch to NULL to take it). */
void agg__record_acc_fini(struct agg__record_acc *acc);
/* Adds a record. 0, SLIC_EALPHA, SLIC_EOVERFLOW or SLIC_ENOMEM; on error acc is unchanged. */
int agg__record_acc_add(struct agg__record_acc *acc, const struct agg__record *r);
/* Encodes the accumulated record into out (e.g. to forward it upstream). 0 or SLIC_ENOMEM. */
int agg__record_encode_acc(const struct agg__record_acc *acc, struct agg__buf *out);

/* What the store remembers per agent (database "agents"). Layout, version 1, little-endian:
 *   0 version(1)  1 site length  2 node length  3 reserved  4 u32 seqs_ahead  8 u64 epoch
 *   16 u64 last_seq  24 u64 window  32 i64 last_seen  40 site bytes, then node bytes.
 * Committed seqs of the epoch: 1..last_seq, last_seq + 1 + i for each bit i set in window, and
 * the seqs_ahead entries of database "seqs" (beyond the window). */
struct agg__agent_state {
    uint64_t epoch;
    uint64_t last_seq;
    uint64_t window;
    uint32_t seqs_ahead;
    int64_t last_seen;
    char site[SLIC_NAME_MAX + 1];
    char node[SLIC_NAME_MAX + 1];
};

#define AGG__AGENT_VALUE_MAX (40 + 2 * SLIC_NAME_MAX)

/* Writes the value into buf (AGG__AGENT_VALUE_MAX bytes) and returns its length. */
size_t agg__record_agent_encode(const struct agg__agent_state *a, uint8_t *buf);
/* 0, or SLIC_EDECODE with a message. *out is written only on success. */
int agg__record_agent_decode(const void *value, size_t len, struct agg__agent_state *out,
                             struct slic_errmsg *err);

#endif
