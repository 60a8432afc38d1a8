/* The one codec between slic's own structs (common/) and the protobuf-c messages of slic.proto.
 * Encoding trusts its input (it comes from our own structs); decoding does not: every byte
 * string and every message it is given may come from the network, so sizes are capped, presence
 * of required fields is checked here and every value is validated before use. A failed decode
 * says why in a struct codec_error that names the field, the value and what was expected. */
#ifndef SLIC_PROTO_CODEC_H
#define SLIC_PROTO_CODEC_H

#include "sketch.h"
#include "slic.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* The schema_version this codec writes and accepts (see slic.proto). */
#define CODEC_SCHEMA_VERSION 1

/* Largest serialized Sketch codec_sketch_unpack accepts. Any sketch slic can hold encodes well
 * below it: at most SLIC_SKETCH_MAX_BUCKETS_LIMIT counts of at most 10 bytes each, plus under
 * 128 bytes of other fields, is about 640 KiB. */
#define CODEC_MAX_SKETCH_BYTES (1024u * 1024u)

#define CODEC_ERROR_FIELD_LEN 96
#define CODEC_ERROR_MSG_LEN 160

/* Why a decode failed, for logs and for the `reason` of an Ack or Reply.
 *   code   the code the failing function returned (a SLIC_E* code).
 *   field  the path of the field at fault in the message given, e.g. "alpha"; decoders of
 *          enclosing messages prefix their own path, e.g. "series[3].latency.alpha". Empty
 *          when no single field is at fault (e.g. bytes that are not protobuf at all).
 *   msg    the value found and what was expected, e.g. "0.5 is outside [0.0001, 0.2]".
 * Both strings are always NUL-terminated, truncated if need be. */
struct codec_error {
    int code;
    char field[CODEC_ERROR_FIELD_LEN];
    char msg[CODEC_ERROR_MSG_LEN];
};

/* Writes "field: msg" (or just msg when no field is named) into buf, truncating to len bytes
 * including the NUL. Returns buf. len must be > 0. */
const char *codec_error_format(const struct codec_error *err, char *buf, size_t len);

/* Fills msg, which the caller has initialised with slic__sketch__init() (or SLIC__SKETCH__INIT),
 * from the sketch. Every field of msg is overwritten, so a message may be reused. msg->counts
 * borrows the sketch's own bucket array: nothing is allocated, msg is valid only until the
 * sketch is next changed or destroyed, and it must never be passed to
 * slic__sketch__free_unpacked(). Returns 0, or SLIC_EINVAL for a sketch whose mapping the wire
 * has no value for (a programmer error). */
int codec_sketch_to_msg(const slic_sketch *sk, Slic__Sketch *msg);

/* Builds a new sketch from an untrusted message: checks that the required fields are present
 * (mapping, alpha and count; offset when counts is non-empty; min, max and sum when count > 0),
 * maps the enum, then validates every value through slic_sketch_from_view(), with max_buckets
 * as the decoder's limit (a message with more buckets is rejected, not collapsed).
 * Returns 0, SLIC_EMISSING, SLIC_EINVAL (unknown mapping, alpha out of range, or a bad
 * max_buckets argument), SLIC_ETOOBIG, SLIC_ERANGE, SLIC_EOVERFLOW, SLIC_EVALUE,
 * SLIC_EINCONSISTENT or SLIC_ENOMEM. *out is written only on success, *err (NULL allowed) only
 * on failure. The caller owns *out (slic_sketch_destroy). */
int codec_sketch_from_msg(const Slic__Sketch *msg, uint32_t max_buckets, slic_sketch **out,
                          struct codec_error *err);

/* Serializes the sketch into a new buffer from slic_malloc(), which the caller frees with
 * slic_free(). The encoding is canonical: equal sketches give identical bytes. Returns 0 or
 * SLIC_ENOMEM; *buf and *len are written only on success. */
int codec_sketch_pack(const slic_sketch *sk, uint8_t **buf, size_t *len);

/* Parses untrusted bytes into a new sketch, as codec_sketch_from_msg() does for a message.
 * buf may be NULL only when len is 0. Returns the codes of codec_sketch_from_msg(), and
 * SLIC_ETOOBIG for more than CODEC_MAX_SKETCH_BYTES bytes, SLIC_EDECODE for bytes that are not
 * a protobuf Sketch (truncated, malformed). Every allocation, protobuf-c's included, goes
 * through slic_malloc(); nothing is kept after the call. */
int codec_sketch_unpack(const uint8_t *buf, size_t len, uint32_t max_buckets, slic_sketch **out,
                        struct codec_error *err);

#endif
