/* Key encodings of the aggregator store (aggregator/store*.c). Keys are compared by LMDB's
 * default memcmp order, so every layout below is chosen to sort the way its scans need: data
 * keys by series, then by window start, so one window range of one series is one cursor range.
 *
 * Data key (database "data"):
 *
 *   off  size  field
 *   0    1     resolution: 0 = 10 s, 1 = 1 min, 2 = 1 h
 *   1    1     scope: 1 = all sites, 2 = site, 3 = node
 *   2    ..    sli, then a NUL
 *   ..   ..    scope site: site NUL;  scope node: node NUL site NUL;  scope all: nothing
 *   ..   8     labelset id, big-endian (0 = the series has no labels)
 *   ..   8     window start, Unix seconds, offset-binary big-endian (value XOR 2^63), so that
 *              memcmp order is numeric order, negative times included
 *
 * Names hold no NUL, so the terminator makes every prefix unambiguous ("ab" never matches
 * "abc"), and names sort alphabetically. Node scope puts the node before its site so a query
 * for one node is a single prefix whatever its site. The longest key is 2 + 3 * 129 + 16 =
 * 405 bytes, under LMDB's 511.
 *
 * Labels could not fit: 8 pairs of up to 64 + 128 bytes are 1.5 KiB. A labelset is therefore
 * stored once in the database "labels" under an 8-byte id, and data keys carry the id. The id
 * is a 64-bit FNV-1a hash of the canonical labels (below), mixed by the splitmix64 finalizer; the
 * writer looks the id up and, should another labelset already hold it (a hash collision), probes
 * id + 1, id + 2, ... until it finds its own labels or a free id. Labelsets are never deleted, so
 * a probe chain never breaks. Ids are therefore stable within one data dir, not across data dirs.
 *
 * Canonical labels: for each label in ascending key order, key NUL value NUL.
 *
 * Sequence key (database "seqs", batches committed out of order far ahead of an agent's
 * contiguous seq): agent_id NUL epoch(8, big-endian) seq(8, big-endian).
 * Agent key (database "agents"): the agent_id bytes. */
#ifndef SLIC_AGG_KEYS_H
#define SLIC_AGG_KEYS_H

#include "batch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum agg__res {
    AGG__RES_10S = 0,
    AGG__RES_1M = 1,
    AGG__RES_1H = 2,
};
#define AGG__RES_COUNT 3

enum agg__scope {
    AGG__SCOPE_ALL = 1,
    AGG__SCOPE_SITE = 2,
    AGG__SCOPE_NODE = 3,
};

/* 10, 60 or 3600. */
uint32_t agg__res_seconds(enum agg__res res);
/* False when seconds is not one of the three resolutions. */
bool agg__res_from_seconds(uint32_t seconds, enum agg__res *out);

#define AGG__KEY_TIME_LEN 8
#define AGG__KEY_LABELSET_LEN 8
#define AGG__KEY_MAX (2 + 3 * (SLIC_NAME_MAX + 1) + AGG__KEY_LABELSET_LEN + AGG__KEY_TIME_LEN)

struct agg__key {
    size_t len;
    uint8_t b[AGG__KEY_MAX];
};

/* The part of a data key that names a series: everything but the window start. site is
 * needed for SITE and NODE scope, node for NODE scope; the other names are ignored. Names must
 * be valid (slic_name_valid): an invalid one is a programmer error (asserted). */
void agg__key_series(struct agg__key *k, enum agg__res res, enum agg__scope scope, const char *sli,
                     const char *site, const char *node, uint64_t labelset);

/* The prefix every series of a query shares: resolution, scope and sli, then the site (SITE),
 * or the node and, when site is not NULL, its site (NODE). Stops before the labelset id. */
void agg__key_prefix(struct agg__key *k, enum agg__res res, enum agg__scope scope, const char *sli,
                     const char *site, const char *node);

/* Sets the window start after the first series_len bytes; k->len becomes series_len + 8. */
void agg__key_set_time(struct agg__key *k, size_t series_len, int64_t t);

/* The window start of a full data key (its last 8 bytes); len must be >= 8. */
int64_t agg__key_time(const uint8_t *key, size_t len);

/* Sets byte 0 of a series key or prefix to another resolution. */
void agg__key_set_res(struct agg__key *k, enum agg__res res);

/* A full data key taken apart. Names point into the key (which keeps their NULs) and stay
 * valid while it does; site and node are "" where the scope has none. */
struct agg__key_parts {
    enum agg__res res;
    enum agg__scope scope;
    const char *sli;
    const char *site;
    const char *node;
    uint64_t labelset;
    int64_t time;
};

/* 0, or SLIC_EDECODE when the bytes are not a data key. */
int agg__key_parse(const void *key, size_t len, struct agg__key_parts *out);

/* A one-line description of a data key for error messages, e.g.
 * "10s/site checkout@eu-zrh labels#3fa2... t=1700000000"; undecodable keys come out as hex.
 * Always NUL-terminates (cap > 0). */
void agg__key_describe(const void *key, size_t len, char *buf, size_t cap);

/* Canonical labels: the most bytes they can take. */
#define AGG__LABELS_MAX (SLIC_SERIES_LABELS_MAX * (SLIC_LABEL_KEY_MAX + SLIC_LABEL_VALUE_MAX + 2))

/* Writes the canonical form of n labels (sorted, valid, n <= SLIC_SERIES_LABELS_MAX) into buf
 * (AGG__LABELS_MAX bytes) and returns its length. */
size_t agg__labels_canonical(const struct slic_label *labels, size_t n, uint8_t *buf);

/* The first id to try for a canonical labelset; never 0 (0 means "no labels"). */
uint64_t agg__labels_hash(const uint8_t *canonical, size_t len);

/* The id after `id` in a probe chain; skips 0. */
uint64_t agg__labels_next_id(uint64_t id);

/* True when the canonical labelset carries every matcher's key with exactly its value. An
 * empty matcher list matches everything; malformed canonical bytes match nothing. */
bool agg__labels_match(const uint8_t *canonical, size_t len, const struct slic_label *matchers,
                       size_t n_matchers);

/* Labelset ids as stored in keys of the "labels" database. */
void agg__be64_put(uint8_t *p, uint64_t v);
uint64_t agg__be64_get(const uint8_t *p);

#define AGG__SEQ_KEY_MAX (SLIC_NAME_MAX + 1 + 16)
/* Writes a sequence key into buf (AGG__SEQ_KEY_MAX bytes) and returns its length. */
size_t agg__key_seq(uint8_t *buf, const char *agent_id, uint64_t epoch, uint64_t seq);

#endif
