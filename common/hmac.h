/* HMAC-SHA256 (mbedTLS) and what slic builds on it. An agent signs every batch it sends with a
 * key of its own; the aggregator derives that key from one secret it holds and the agent_id the
 * batch claims, so it trusts an agent_id only through a signature that checks (see DESIGN.md,
 * "Serving"). Also the hex form keys travel in, and reading key and secret files, which must be
 * private to their owner. Nothing here logs or prints a key, a secret or a file's contents. */
#ifndef SLIC_HMAC_H
#define SLIC_HMAC_H

#include "err.h"
#include "yamlconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of an HMAC-SHA256, which is also the length of a per-agent key. */
#define SLIC_HMAC_LEN 32
/* A per-agent key written as hex digits, as `slic-aggregator --agent-key` prints it. */
#define SLIC_AGENT_KEY_HEX_LEN (2 * SLIC_HMAC_LEN)
/* The aggregator's secret: at least as long as the keys derived from it, and bounded so a
 * wrong path (a log file, a device) is refused instead of read. */
#define SLIC_SECRET_MIN 32
#define SLIC_SECRET_MAX 4096
/* Domain separation for key derivation: a key for another purpose, derived from the same
 * secret later, takes another label, so the two can never be the same key. */
#define SLIC_AGENT_KEY_LABEL "slic-agent-key-v1"

/* out = HMAC-SHA256(key, msg). 0, or SLIC_ENOMEM when mbedTLS cannot allocate its context. */
int slic_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                     uint8_t out[SLIC_HMAC_LEN]);

/* True when mac is exactly SLIC_HMAC_LEN bytes equal to HMAC-SHA256(key, msg). The comparison
 * takes the same time wherever the first difference is, so timing tells an attacker nothing
 * about how close a forgery came. False also when the HMAC cannot be computed. */
bool slic_hmac_sha256_verify(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                             const uint8_t *mac, size_t mac_len);

/* Constant-time equality of two buffers of n bytes. */
bool slic_equal_ct(const void *a, const void *b, size_t n);

/* An agent's key: HMAC-SHA256(secret, SLIC_AGENT_KEY_LABEL || 0x00 || agent_id). The 0x00
 * ends the label, so no agent_id can make another label's input. agent_id must be a valid slic
 * name (batch.h). 0; SLIC_EINVAL for an invalid agent_id or a secret shorter than
 * SLIC_SECRET_MIN; SLIC_ENOMEM. */
int slic_agent_key_derive(const uint8_t *secret, size_t secret_len, const char *agent_id,
                          uint8_t key[SLIC_HMAC_LEN]);

/* Lower-case hex of n bytes into out, which holds 2n + 1 characters (NUL-terminated). */
void slic_hex_encode(const uint8_t *in, size_t n, char *out);

/* Exactly 2 * out_len hex digits (either case) of hex[0..hex_len) into out. 0, or SLIC_EINVAL
 * for another length or a non-hex character (out is then wiped). */
int slic_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_len);

/* Overwrites n bytes with zeros in a way the compiler may not remove. NULL allowed when n is 0. */
void slic_wipe(void *p, size_t n);

/* ---- files ----
 * `what` names the file in messages as the operator knows it: a configuration key such as
 * "auth.key_file" or an option such as "--secret-file". */

/* Refuse a file that its group or other users may read, write or run. */
#define SLIC_FILE_PRIVATE 1u
/* Drop one trailing "\n" or "\r\n" (editors add one; `openssl rand -hex 32 >f` writes one). */
#define SLIC_FILE_STRIP_NEWLINE 2u

/* Reads the regular file at path, at most max bytes, into a new slic_malloc'd buffer with a
 * NUL after its *len bytes (so PEM text can be handed on as a string); free it with
 * slic_file_free, which wipes it first. Returns 0; -errno when it cannot be opened or read;
 * SLIC_ECONFIG for a file that is not regular, is larger than max, is empty, or (with
 * SLIC_FILE_PRIVATE) is open to group or others, with err naming `what`, the path and the
 * command that fixes it; SLIC_ENOMEM. */
int slic_file_read(const char *path, size_t max, unsigned flags, const char *what, char **out,
                   size_t *len, struct slic_errmsg *err);
void slic_file_free(char *buf, size_t len);

/* For configuration loaders: reads (and wipes) the file that the scalar node n names, at most
 * SLIC_FILE_CHECK_MAX bytes, so a wrong path or mode fails the load (and --check-config, and a
 * reload) rather than the start. 0; SLIC_ECONFIG with err naming n's file, line and key, the
 * path and what to do; SLIC_ENOMEM. */
#define SLIC_FILE_CHECK_MAX ((size_t)1 << 20)
int slic_file_check_at(const slic_yaml_node *n, unsigned flags, struct slic_errmsg *err);

/* The aggregator's secret: a private file of SLIC_SECRET_MIN..SLIC_SECRET_MAX bytes (any bytes;
 * e.g. `openssl rand -hex 32`), a trailing newline not counted. Free with slic_file_free.
 * Errors as slic_file_read, and SLIC_ECONFIG for a secret too short. */
int slic_secret_file_read(const char *path, const char *what, uint8_t **out, size_t *len,
                          struct slic_errmsg *err);

/* An agent's key: a private file holding SLIC_AGENT_KEY_HEX_LEN hex digits (a trailing newline
 * allowed), as `slic-aggregator --agent-key AGENT_ID` prints it. Errors as slic_file_read, and
 * SLIC_ECONFIG when the contents are not such a key (which the message never quotes). */
int slic_agent_key_file_read(const char *path, const char *what, uint8_t key[SLIC_HMAC_LEN],
                             struct slic_errmsg *err);

#endif
