/* A small YAML document tree for slic's config files and OpenSLO files, on top of libyaml's
 * event parser. A stream holds every document of a file ("---" separated); each node knows its
 * file, line, column and dotted key path, so typed getters can report errors an operator can
 * act on: `agent.yaml:7: key 'windows.length': expected a duration like 10s or 1m, got "ten"`.
 * Input is untrusted-grade bounded (size, depth, node count); anchors, aliases and tags are
 * rejected, so no input expands beyond its own size. A loaded stream is immutable: threads may
 * read one concurrently. */
#ifndef SLIC_YAMLCONF_H
#define SLIC_YAMLCONF_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct slic_yaml_stream slic_yaml_stream;
typedef struct slic_yaml_node slic_yaml_node;

enum slic_yaml_kind {
    SLIC_YAML_SCALAR,
    SLIC_YAML_SEQUENCE,
    SLIC_YAML_MAPPING,
};

/* Caps on what a load accepts; a zero field takes the default. */
struct slic_yaml_limits {
    size_t max_bytes;   /* input size; default SLIC_YAML_DEFAULT_MAX_BYTES */
    unsigned max_depth; /* nesting of mappings and sequences; default SLIC_YAML_DEFAULT_MAX_DEPTH,
                           never more than 1024 */
    size_t max_nodes;   /* nodes in the whole stream, keys included */
};

#define SLIC_YAML_DEFAULT_MAX_BYTES ((size_t)4 << 20)
#define SLIC_YAML_DEFAULT_MAX_DEPTH 64u
#define SLIC_YAML_DEFAULT_MAX_NODES ((size_t)1 << 18)

/* ---- loading ---- */

/* Parses all documents of text[0..len) (no NUL needed). `name` names the input in messages
 * and nodes (usually the file name) and is copied. limits may be NULL for the defaults.
 * Returns 0 and *out (free with slic_yaml_destroy). Errors, with a message in err (may be NULL)
 * naming name:line:column:
 *   SLIC_ECONFIG  malformed YAML (libyaml's problem text), an anchor, alias or tag, a mapping
 *                 key that is not a scalar, a duplicate key, a NUL character in a scalar;
 *   SLIC_ETOOBIG  input, depth or node count over the limits;
 *   SLIC_ENOMEM   out of memory. */
int slic_yaml_load_string(const char *name, const char *text, size_t len,
                          const struct slic_yaml_limits *limits, slic_yaml_stream **out,
                          struct slic_errmsg *err);

/* As slic_yaml_load_string, reading the file at path (named by path in messages). Also returns
 * -errno when the file cannot be opened or read (-EISDIR for a directory). */
int slic_yaml_load_file(const char *path, const struct slic_yaml_limits *limits,
                        slic_yaml_stream **out, struct slic_errmsg *err);

/* Frees the stream and every node in it; NULL allowed. */
void slic_yaml_destroy(slic_yaml_stream *s);

/* Documents in the stream (0 for empty input), and the root node of document i (NULL when
 * i is out of range). A document with no content ("---" alone) has a null scalar as root. */
size_t slic_yaml_doc_count(const slic_yaml_stream *s);
const slic_yaml_node *slic_yaml_doc(const slic_yaml_stream *s, size_t i);

/* ---- navigating ---- (nodes are owned by their stream and live until slic_yaml_destroy) */

enum slic_yaml_kind slic_yaml_kind(const slic_yaml_node *n);

/* Where the node starts: the input's name, 1-based line and column. */
const char *slic_yaml_file(const slic_yaml_node *n);
unsigned slic_yaml_line(const slic_yaml_node *n);
unsigned slic_yaml_column(const slic_yaml_node *n);

/* Writes the node's dotted key path from its document root into buf (always NUL-terminated,
 * truncated with "..." if too small): "windows.length", "spec.objectives[0].target"; "" for a
 * root. A mapping key has the path of its value. */
void slic_yaml_path(const slic_yaml_node *n, char *buf, size_t size);

/* A scalar's text, NUL-terminated (scalars never contain NUL); NULL for a collection. */
const char *slic_yaml_text(const slic_yaml_node *n);

/* True for a plain scalar written as "", "~" or "null" (any case: Null, NULL): YAML's null.
 * Quoted scalars are never null. */
bool slic_yaml_is_null(const slic_yaml_node *n);

/* Items in a sequence or pairs in a mapping; 0 for a scalar. */
size_t slic_yaml_len(const slic_yaml_node *n);

/* Sequence item i; NULL if n is not a sequence or i is out of range. */
const slic_yaml_node *slic_yaml_item(const slic_yaml_node *seq, size_t i);

/* Key (always a scalar) and value of mapping pair i, in document order; NULL if map is not a
 * mapping or i is out of range. */
const slic_yaml_node *slic_yaml_pair_key(const slic_yaml_node *map, size_t i);
const slic_yaml_node *slic_yaml_pair_value(const slic_yaml_node *map, size_t i);

/* The value for key in a mapping; NULL if map is NULL, not a mapping, or has no such key.
 * Keys are unique (duplicates are rejected at load). */
const slic_yaml_node *slic_yaml_get(const slic_yaml_node *map, const char *key);

/* ---- messages ---- */

/* Formats `file:line: key 'path': <fmt...>` (or `file:line: document: ...` for a root) into
 * err and returns code: for checks the caller makes itself, in the same style. */
int slic_yaml_error(const slic_yaml_node *n, struct slic_errmsg *err, int code, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

/* Checks every key of map against the NULL-terminated list allowed. Returns 0; SLIC_ECONFIG
 * naming the first unknown key, its line, and the closest allowed key when one is near
 * ("did you mean 'listen'?") or else the allowed keys; SLIC_ECONFIG too if map is not a
 * mapping. */
int slic_yaml_check_keys(const slic_yaml_node *map, const char *const allowed[],
                         struct slic_errmsg *err);

/* ---- typed values ----
 * Two layers. slic_yaml_as_* convert one node. slic_yaml_get_* look a key up in a mapping and
 * convert its value: a missing key returns 0 and leaves *out untouched (so it keeps the
 * caller's default), unless flags has SLIC_YAML_REQUIRED, which makes it SLIC_EMISSING.
 * Every function writes *out only on success and otherwise returns SLIC_ECONFIG (SLIC_EMISSING
 * for a missing required key) with a message naming file, line, key path, the value found and
 * what was expected. A null value (`key:` with nothing, `~`) is a value, not a missing key: it
 * fails every conversion, because an operator who wrote the key meant something. */

#define SLIC_YAML_REQUIRED 1u

/* Any scalar but null; *out points into the stream. */
int slic_yaml_as_string(const slic_yaml_node *n, const char **out, struct slic_errmsg *err);
/* true/false/yes/no, any case. */
int slic_yaml_as_bool(const slic_yaml_node *n, bool *out, struct slic_errmsg *err);
/* Decimal integer with optional sign, within [min, max]. */
int slic_yaml_as_int64(const slic_yaml_node *n, int64_t min, int64_t max, int64_t *out,
                       struct slic_errmsg *err);
/* Decimal integer without sign, within [min, max]. */
int slic_yaml_as_uint64(const slic_yaml_node *n, uint64_t min, uint64_t max, uint64_t *out,
                        struct slic_errmsg *err);
/* A finite decimal number ("0.999", "1e-3"), within [min, max]. Read with strtod, so the
 * process must keep the C locale's decimal point (slic never calls setlocale). */
int slic_yaml_as_double(const slic_yaml_node *n, double min, double max, double *out,
                        struct slic_errmsg *err);
/* A duration as slic_duration_parse takes it ("250ms", "28d"), in seconds within
 * [min_s, max_s]. */
int slic_yaml_as_duration(const slic_yaml_node *n, double min_s, double max_s, double *out,
                          struct slic_errmsg *err);
/* A size in bytes as slic_size_parse takes it, within [min, max]. */
int slic_yaml_as_size(const slic_yaml_node *n, uint64_t min, uint64_t max, uint64_t *out,
                      struct slic_errmsg *err);
/* A sequence of non-null scalars. On success *out is a slic_malloc'd array of *out_n pointers
 * into the stream (NULL when the sequence is empty); free the array with slic_free. Also
 * SLIC_ENOMEM. */
int slic_yaml_as_strings(const slic_yaml_node *n, const char ***out, size_t *out_n,
                         struct slic_errmsg *err);
/* The node itself if it is a mapping (or sequence); otherwise SLIC_ECONFIG. */
int slic_yaml_as_mapping(const slic_yaml_node *n, struct slic_errmsg *err);
int slic_yaml_as_sequence(const slic_yaml_node *n, struct slic_errmsg *err);

/* The keyed forms. map must be a mapping node (SLIC_ECONFIG otherwise). */
int slic_yaml_get_string(const slic_yaml_node *map, const char *key, unsigned flags,
                         const char **out, struct slic_errmsg *err);
int slic_yaml_get_bool(const slic_yaml_node *map, const char *key, unsigned flags, bool *out,
                       struct slic_errmsg *err);
int slic_yaml_get_int64(const slic_yaml_node *map, const char *key, unsigned flags, int64_t min,
                        int64_t max, int64_t *out, struct slic_errmsg *err);
int slic_yaml_get_uint64(const slic_yaml_node *map, const char *key, unsigned flags, uint64_t min,
                         uint64_t max, uint64_t *out, struct slic_errmsg *err);
int slic_yaml_get_double(const slic_yaml_node *map, const char *key, unsigned flags, double min,
                         double max, double *out, struct slic_errmsg *err);
int slic_yaml_get_duration(const slic_yaml_node *map, const char *key, unsigned flags, double min_s,
                           double max_s, double *out, struct slic_errmsg *err);
int slic_yaml_get_size(const slic_yaml_node *map, const char *key, unsigned flags, uint64_t min,
                       uint64_t max, uint64_t *out, struct slic_errmsg *err);
int slic_yaml_get_strings(const slic_yaml_node *map, const char *key, unsigned flags,
                          const char ***out, size_t *out_n, struct slic_errmsg *err);
/* As slic_yaml_get_string, but stores a slic_malloc'd copy in *field, freeing what was there,
 * so configuration structs can own their strings. A missing key leaves *field untouched. Also
 * SLIC_ENOMEM. */
int slic_yaml_get_string_copy(const slic_yaml_node *map, const char *key, unsigned flags,
                              char **field, struct slic_errmsg *err);
/* The value node if it is a mapping (or sequence). */
int slic_yaml_get_mapping(const slic_yaml_node *map, const char *key, unsigned flags,
                          const slic_yaml_node **out, struct slic_errmsg *err);
int slic_yaml_get_sequence(const slic_yaml_node *map, const char *key, unsigned flags,
                           const slic_yaml_node **out, struct slic_errmsg *err);

/* Parses a size in bytes: digits with an optional fraction and unit, no spaces: "4096",
 * "4096B", "10MB" (powers of 1000: kB/KB, MB, GB, TB, PB), "512MiB" (powers of 1024: KiB, MiB,
 * GiB, TiB, PiB). Units are case-insensitive. A fraction ("1.5GiB") is rounded to the nearest
 * byte. Returns 0; SLIC_EINVAL for anything else; SLIC_ERANGE above UINT64_MAX. */
int slic_size_parse(const char *s, uint64_t *out);

#endif
