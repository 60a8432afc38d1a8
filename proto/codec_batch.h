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

/* Largest serialized Response a decoder accepts when it expects a Reply (slic): a list of SLOs
 * with every site's numbers (about 500 bytes a scope) outgrows CODEC_MAX_MESSAGE_BYTES in a
 * large deployment. The aggregator answers a larger reply with an error instead of sending it.
 * An agent, expecting only acks, keeps the smaller cap. */
#define CODEC_MAX_REPLY_BYTES (32u * 1024u * 1024u)

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

/* The agent_id a serialized Batch claims, read without decoding anything else, so that an
 * aggregator can check the batch's signature (whose key depends on the agent_id) before it
 * parses the rest. A scan of the top-level wire format, allocating nothing: every tag and length
 * is bounds-checked; agent_id must appear exactly once, as a valid name (batch.h), so it is the
 * agent_id codec_batch_unpack would return. 0 with out filled; SLIC_ETOOBIG, SLIC_EDECODE
 * (malformed wire format, or agent_id twice or with the wrong wire type), SLIC_EMISSING or
 * SLIC_EINVAL (not a valid name), with *err (NULL allowed) saying which. */
int codec_batch_agent_id(const uint8_t *buf, size_t len, char out[SLIC_NAME_MAX + 1],
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
int codec_request_pack(const uint8_t *batch, size_t batch_len, const uint8_t *hmac, size_t hmac_len,
                       const Slic__Query *query, uint8_t **buf, size_t *len);

/* Parses a Request, checking the size cap and that it carries exactly one of a non-empty batch
 * or a query (and no batch_hmac with a query). 0, SLIC_ETOOBIG, SLIC_EDECODE, SLIC_EMISSING
 * (neither, or an empty batch), SLIC_EINCONSISTENT (both) or SLIC_ENOMEM. Free with
 * codec_request_fini. */
int codec_request_unpack(const uint8_t *buf, size_t len, struct codec_request *out,
                         struct codec_error *err);
void codec_request_fini(struct codec_request *r);

/* Serializes a Response carrying an ack or a reply (exactly one non-NULL). An ack's cause is
 * written only when it is not SLIC_ACK_CAUSE_UNSPECIFIED, so older agents read the same bytes
 * as before causes existed. */
int codec_response_pack(const struct slic_ack *ack, const Slic__Reply *reply, uint8_t **buf,
                        size_t *len);

/* Parses a Response. Exactly one of *ack_out (filled; slic_ack_fini it) or *reply_out (a message
 * to free with codec_reply_free) is set; the other is left untouched; pass NULL for one the
 * caller does not expect, and getting it then is SLIC_EINCONSISTENT. A response with neither is
 * SLIC_EMISSING; an ack without schema_version, status, epoch or seq is SLIC_EMISSING too. An
 * ack's cause reads as SLIC_ACK_CAUSE_UNSPECIFIED when absent or unknown to this reader (a newer
 * aggregator's), so such an ack is handled as before causes existed. More than
 * CODEC_MAX_REPLY_BYTES (reply_out given) or CODEC_MAX_MESSAGE_BYTES (only ack_out) is
 * SLIC_ETOOBIG. A Reply's fields are not checked: its reader treats them as untrusted. */
int codec_response_unpack(const uint8_t *buf, size_t len, struct slic_ack *ack_out,
                          Slic__Reply **reply_out, struct codec_error *err);
void codec_reply_free(Slic__Reply *reply);

#endif
