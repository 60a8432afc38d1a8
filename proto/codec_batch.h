/* The codec for what agents send and aggregators answer: Batch <-> struct slic_batch, the
 * Request and Response envelopes, and Ack <-> struct slic_ack. Decoders take untrusted bytes:
 * sizes are capped before parsing, and every field is checked before a struct is returned, so a
 * decoded batch can go to the store as it is (only checks that need a clock or configuration,
 * such as "not in the future", are the caller's). */
#ifndef SLIC_PROTO_CODEC_BATCH_H
#define SLIC_PROTO_CODEC_BATCH_H

#include "batch.h"
#include "codec.h"

#include <stddef.h>
#include <stdint.h>

/* Largest serialized Request or Batch a decoder accepts; the aggregator's NNG_OPT_RECVMAXSZ
 * default matches it. */
#define CODEC_MAX_MESSAGE_BYTES (4u * 1024u * 1024u)

/* Serializes a batch (schema_version set here) into a new slic_malloc() buffer the caller
 * slic_free()s. Returns 0, SLIC_EINVAL for a series with total > 0 and no sketch, or
 * SLIC_ENOMEM. */
int codec_batch_pack(const struct slic_batch *b, uint8_t **buf, size_t *len);

/* Parses and validates a serialized Batch: schema version; agent_id, site, node and SLI names
 * and label syntax (batch.h); epoch and seq >= 1; at most SLIC_BATCH_SERIES_MAX series, each
 * with at most SLIC_SERIES_LABELS_MAX labels sorted by unique key; window_seconds a positive
 * multiple of 10 (at most a year) and window_start >= 0 aligned to it, start + length not
 * overflowing; good <= total; a sketch whose count equals total (absent only when total is 0);
 * at most SLIC_SERIES_THRESHOLDS_MAX thresholds, ascending, with good_le <= count_le <= total,
 * good_le <= good, count_le and good_le not falling as the threshold rises, and bad events under
 * a threshold (count_le - good_le) at most the series' bad events. On success fills *out (the
 * caller calls slic_batch_fini); on failure *out is untouched and *err (NULL allowed) names the
 * field. */
int codec_batch_unpack(const uint8_t *buf, size_t len, struct slic_batch *out,
                       struct codec_error *err);

/* A request as received: exactly one of a batch (its bytes and optional HMAC, both pointing into
 * msg) or a query. */
struct codec_request {
    Slic__Request *msg;
    const uint8_t *batch;
    size_t batch_len;
    const uint8_t *hmac;
    size_t hmac_len;
    const Slic__Query *query;
};

/* Serializes a Request carrying a serialized batch (hmac may be NULL) or a query (exactly one
 * of batch and query non-NULL). Buffer from slic_malloc(). 0, SLIC_EINVAL or SLIC_ENOMEM. */
int codec_request_pack(const uint8_t *batch, size_t batch_len, const uint8_t *hmac,
                       size_t hmac_len, const Slic__Query *query, uint8_t **buf, size_t *len);

/* Parses a Request, checking the size cap and that it carries exactly one of a non-empty batch
 * or a query (and no batch_hmac with a query). 0, SLIC_ETOOBIG, SLIC_EDECODE, SLIC_EMISSING
 * (neither, or an empty batch), SLIC_EINCONSISTENT (both) or SLIC_ENOMEM. Free with
 * codec_request_fini. */
int codec_request_unpack(const uint8_t *buf, size_t len, struct codec_request *out,
                         struct codec_error *err);
void codec_request_fini(struct codec_request *r);

/* Serializes a Response carrying an ack or a reply (exactly one non-NULL). */
int codec_response_pack(const struct slic_ack *ack, const Slic__Reply *reply, uint8_t **buf,
                        size_t *len);

/* Parses a Response. Exactly one of *ack_out (filled; slic_ack_fini it) or *reply_out (a message
 * to free with codec_reply_free) is set; the other is left untouched; pass NULL for one the
 * caller does not expect, and getting it then is SLIC_EINCONSISTENT. A response with neither is
 * SLIC_EMISSING; an ack without schema_version, status, epoch or seq is SLIC_EMISSING too. */
int codec_response_unpack(const uint8_t *buf, size_t len, struct slic_ack *ack_out,
                          Slic__Reply **reply_out, struct codec_error *err);
void codec_reply_free(Slic__Reply *reply);

#endif
