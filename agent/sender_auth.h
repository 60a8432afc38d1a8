/* The sender's security (sender.c's helpers; agent_sender_security in sender.h is what callers
 * give): TLS towards a tls+tcp:// aggregator, with this agent's client certificate, and the
 * signature on every batch it sends: HMAC-SHA256 over the exact batch bytes with this agent's
 * key (common/hmac.h), which is what makes the aggregator trust the agent_id in it. And what
 * the sender does when a batch is refused for its signature: that is a key problem, not a data
 * problem, so the batch stays in the spool and is resent, and the operator is told, once a
 * minute, what to fix. Everything here runs on the sender's loop. */
#ifndef SLIC_AGENT_SENDER_AUTH_H
#define SLIC_AGENT_SENDER_AUTH_H

#include "err.h"
#include "hmac.h"
#include "sender.h"

#include <nng/nng.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One sender's copy of its security (agent_sender_options.security), taken when it is
 * created. */
struct agent__sender_sec {
    bool sign;
    uint8_t key[SLIC_HMAC_LEN];
    bool tls;
    bool client_cert;
    char agent_id[SLIC_NAME_MAX + 1];
    /* The once-a-minute error line about signature refusals. */
    uint64_t refused_logged; /* refusals counted when the last line was written */
    uint64_t last_log_ms;    /* uv_now() of the last line; 0: none yet */
};

/* Copies conf (NULL: none) into sec and, for a tls+tcp:// url, puts a TLS client configuration
 * on the dialer (CA, certificate and key read now, so errors name the file). 0; SLIC_ECONFIG
 * with err naming the file or setting; SLIC_ENOMEM; -errno from reading a file. */
int agent__sender_sec_init(struct agent__sender_sec *sec, const struct agent_sender_security *conf,
                           nng_dialer d, const char *url, struct slic_errmsg *err);

/* Wipes the key. */
void agent__sender_sec_fini(struct agent__sender_sec *sec);

/* Wraps a serialized batch into a Request, signed when the agent has a key. Buffer from
 * slic_malloc. 0 or SLIC_ENOMEM. */
int agent__sender_request_pack(const struct agent__sender_sec *sec, const uint8_t *batch,
                               size_t len, uint8_t **req, size_t *req_len);

/* After a signature refusal of batch seq, the refused-th so far: at most once a minute, logs an
 * error saying the batch is kept and what to fix (now_ms: the loop's clock). */
void agent__sender_sec_refused(struct agent__sender_sec *sec, const char *url, uint64_t seq,
                               const char *reason, uint64_t refused, uint64_t now_ms);

/* A hint to add to "cannot reach the aggregator: <reason>" when TLS is a likely cause ("" when
 * not). */
const char *agent__sender_tls_hint(const struct agent__sender_sec *sec, const char *reason);

#endif
