/* The checks on incoming batches that the codec cannot make. Before a batch is decoded: is it
 * signed by the agent it claims to come from (agg_auth)? After: the checks that need the
 * aggregator's clock and its limits. The codec has already checked every field's syntax and
 * consistency. */
#ifndef SLIC_AGG_VALIDATE_H
#define SLIC_AGG_VALIDATE_H

#include "batch.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agg_batch_limits {
    int64_t max_future_seconds;
    int64_t max_age_seconds;
    unsigned max_label_sets_per_sli;
};

/* 0, or SLIC_EINVAL with err naming the series and what is wrong: a window ending more than
 * max_future_seconds after now; a window older than max_age_seconds; an SLI carrying more than
 * max_label_sets_per_sli distinct label sets in this batch. */
int agg_batch_check(const struct slic_batch *b, int64_t now, const struct agg_batch_limits *lim,
                    struct slic_errmsg *err);

/* ---- who may send batches ------------------------------------------------------------------
 * nng 1.5.2 cannot tell which certificate a peer used, so a TLS client certificate proves only
 * that a peer may connect. Which agent a batch is from is proved by its signature: HMAC-SHA256
 * over the exact batch bytes with the agent's key, which the aggregator derives from its secret
 * and the agent_id the batch claims (common/hmac.h). */

struct agg_auth_options {
    /* tls+tcp:// listeners: PEM files of the aggregator's certificate (chain) and private key,
     * and of the CA(s) whose certificates every client must present. All three or none;
     * copied. */
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_client_ca_file;
    /* The secret agents' keys derive from (copied, at least SLIC_SECRET_MIN bytes); NULL:
     * signatures are not checked. */
    const uint8_t *secret;
    size_t secret_len;
    /* With a secret: refuse unsigned batches. False accepts them unchecked, for the time it
     * takes to give every agent its key; signed batches are checked either way. */
    bool require_signed;
};

typedef struct agg_auth agg_auth;

/* 0 with *out; SLIC_EINVAL for TLS files given in part or a secret too short (err says which);
 * SLIC_ENOMEM. Free with agg_auth_destroy (NULL allowed), which wipes the secret. Once created
 * it never changes, so any thread may use it; the server borrows it (agg_server_options). */
int agg_auth_create(const struct agg_auth_options *o, agg_auth **out, struct slic_errmsg *err);
void agg_auth_destroy(agg_auth *a);

/* The TLS files, or NULL when none were given. Valid while a lives. */
struct agg_auth_tls {
    const char *cert_file;
    const char *key_file;
    const char *client_ca_file;
};
const struct agg_auth_tls *agg_auth_tls(const agg_auth *a);

/* True when a secret is set: signed batches are checked. */
bool agg_auth_signs(const agg_auth *a);
/* True when, moreover, unsigned batches are refused. */
bool agg_auth_requires_signed(const agg_auth *a);

enum agg_auth_verdict {
    AGG_AUTH_OK = 0,    /* signed, and the signature is right for the agent_id claimed */
    AGG_AUTH_UNCHECKED, /* no secret; or unsigned while signatures are not required */
    AGG_AUTH_MALFORMED, /* not even an agent_id can be read: an invalid batch */
    AGG_AUTH_UNSIGNED,  /* no batch_hmac, and signatures are required */
    AGG_AUTH_FORGED,    /* batch_hmac is not the batch's HMAC under the claimed agent's key */
};

/* Checks a serialized batch before anything in it is trusted: reads only the agent_id it claims
 * (codec_batch_agent_id) and verifies hmac (NULL: absent) over exactly the len bytes with that
 * agent's key. a NULL: UNCHECKED. claimed gets the agent_id ("?" when unreadable); for any
 * verdict but OK and UNCHECKED, why (NULL allowed) gets a reason fit for the Ack: what is wrong
 * and what fixes it, never anything secret. Counting the verdicts is the caller's (server.c
 * into agg_stats). Thread-safe. */
enum agg_auth_verdict agg_auth_check(const agg_auth *a, const uint8_t *batch, size_t len,
                                     const uint8_t *hmac, size_t hmac_len,
                                     char claimed[SLIC_NAME_MAX + 1], struct slic_errmsg *why);

#endif
