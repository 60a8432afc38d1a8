/* What an agent measures, as slic's own structs: a batch of series, each one SLI stream (name +
 * labels) over one aligned window. proto/codec.c turns these into wire messages and back; the
 * agent builds them, the aggregator stores them. Limits here bound every decoder. */
#ifndef SLIC_BATCH_H
#define SLIC_BATCH_H

#include "sketch.h"

#include <stddef.h>
#include <stdint.h>

/* Limits a batch must respect; a decoder rejects anything larger. */
#define SLIC_NAME_MAX 128        /* SLI names, sites, nodes, agent ids: bytes */
#define SLIC_LABEL_KEY_MAX 64    /* bytes */
#define SLIC_LABEL_VALUE_MAX 128 /* bytes */
#define SLIC_SERIES_LABELS_MAX 8 /* labels on one series */
#define SLIC_SERIES_THRESHOLDS_MAX 16
#define SLIC_BATCH_SERIES_MAX 20000 /* series in one batch */

struct slic_label {
    char *key;
    char *value;
};

/* Exact count of events at or below a latency threshold (seconds). */
struct slic_threshold_count {
    double threshold;
    uint64_t count_le;
    uint64_t good_le;
};

struct slic_series {
    char *sli;
    /* Sorted by key, keys unique. */
    struct slic_label *labels;
    size_t n_labels;
    /* Unix seconds, a multiple of window_seconds. */
    int64_t window_start;
    uint32_t window_seconds;
    uint64_t total;
    uint64_t good;
    /* Owned; its count equals total. NULL only when total is 0. */
    slic_sketch *latency;
    /* Ascending by threshold, each threshold once. */
    struct slic_threshold_count *thresholds;
    size_t n_thresholds;
};

struct slic_batch {
    char *agent_id;
    char *site;
    char *node;
    uint64_t epoch;
    uint64_t seq;
    int64_t created_unix_ms;
    struct slic_series *series;
    size_t n_series;
};

/* The aggregator's answer to one batch (see Ack in proto/slic.proto). */
enum slic_ack_status {
    SLIC_ACK_ACCEPTED = 1,  /* committed now: delete from the spool */
    SLIC_ACK_DUPLICATE = 2, /* committed earlier: delete from the spool */
    SLIC_ACK_REJECTED = 3,  /* never acceptable: keep aside, do not retry */
    SLIC_ACK_RETRY = 4,     /* not now: retry with backoff */
};

/* What kind of rejection a REJECTED answer is (Ack.cause). The two kinds call for opposite
 * actions, so the agent acts on this, never on the reason's text. */
enum slic_ack_cause {
    /* Not said: not a rejection, an older aggregator, or a cause newer than this reader.
     * Handled as INVALID, as before causes existed. */
    SLIC_ACK_CAUSE_UNSPECIFIED = 0,
    SLIC_ACK_CAUSE_INVALID = 1,   /* the batch itself is unacceptable: keep it aside */
    SLIC_ACK_CAUSE_SIGNATURE = 2, /* missing or wrong signature: keep it, fix the key, resend */
};

/* Latency thresholds (seconds, ascending) the aggregator wants counted exactly for one SLI. */
struct slic_sli_thresholds {
    char *sli;
    double *thresholds;
    size_t n_thresholds;
};

#define SLIC_ACK_REASON_MAX 256
#define SLIC_ACK_WANTED_MAX 1024 /* SLIs with wanted thresholds in one Ack */

struct slic_ack {
    enum slic_ack_status status;
    enum slic_ack_cause cause; /* REJECTED only; UNSPECIFIED otherwise */
    uint64_t epoch;
    uint64_t seq;
    char reason[SLIC_ACK_REASON_MAX];
    struct slic_sli_thresholds *wanted;
    size_t n_wanted;
};

const char *slic_ack_status_name(enum slic_ack_status s);

/* Frees everything a series or batch owns (strings with slic_free, sketches with
 * slic_sketch_destroy) and zeroes it. NULL is allowed. */
void slic_series_fini(struct slic_series *s);
void slic_batch_fini(struct slic_batch *b);
void slic_ack_fini(struct slic_ack *a);

/* Syntax checks, used by decoders and config loaders alike. Each returns true when valid.
 * Names (SLI, site, node, agent id): 1..SLIC_NAME_MAX bytes of [A-Za-z0-9_.:-].
 * Label keys: 1..SLIC_LABEL_KEY_MAX bytes of [A-Za-z0-9_], not starting with a digit.
 * Label values: 0..SLIC_LABEL_VALUE_MAX bytes of printable ASCII (0x20..0x7e). */
bool slic_name_valid(const char *s);
bool slic_label_key_valid(const char *s);
bool slic_label_value_valid(const char *s);

#endif
