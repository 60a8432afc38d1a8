/* The sender's TLS configuration and batch signatures (see sender_auth.h). nng 1.5.2 cannot
 * tell the aggregator which certificate an agent used, so the certificate only admits the agent
 * to the connection; the signature is what names it. */
#include "sender_auth.h"

#include "alloc.h"
#include "codec_batch.h"
#include "log.h"

#include <nng/supplemental/tls/tls.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Largest certificate, key or CA file read. */
#define TLS_FILE_MAX (1u << 20)
/* One error line per this many milliseconds while batches keep being refused. */
#define REFUSED_LOG_EVERY_MS 60000u

/* ---- TLS ----------------------------------------------------------------------------------- */

/* The name the aggregator's certificate must carry: the configured one, else the URL's host,
 * so that a certificate signed by the CA for another host is never accepted in its place. */
static int tls_server_name(nng_tls_config *cfg, const struct agent_sender_security *conf,
                           const char *url, struct slic_errmsg *err)
{
    if (conf->tls_server_name)
        return nng_tls_config_server_name(cfg, conf->tls_server_name);
    nng_url *u = NULL;
    int rv = nng_url_parse(&u, url);
    if (rv == 0 && (!u->u_hostname || !u->u_hostname[0]))
        rv = NNG_EADDRINVAL;
    if (rv == 0)
        rv = nng_tls_config_server_name(cfg, u->u_hostname);
    if (u)
        nng_url_free(u);
    if (rv)
        slic_errmsg_set(err, SLIC_ECONFIG,
                        "sender: no host name in %s to check the aggregator's certificate "
                        "against (%s); set tls.server_name",
                        url, nng_strerror(rv));
    return rv;
}

/* Reads the files and fills cfg. Every failure sets err. */
static int tls_config_fill(nng_tls_config *cfg, const struct agent_sender_security *conf,
                           const char *url, struct slic_errmsg *err)
{
    char *ca = NULL, *cert = NULL, *key = NULL;
    size_t ca_len = 0, cert_len = 0, key_len = 0;
    int rc, rv = 0;
    if ((rc = slic_file_read(conf->tls_ca_file, TLS_FILE_MAX, 0, "tls.ca_file", &ca, &ca_len, err)))
        goto done;
    if ((rv = nng_tls_config_ca_chain(cfg, ca, NULL)) != 0) {
        rc = slic_errmsg_set(err, SLIC_ECONFIG, "tls.ca_file %s: not PEM CA certificates (%s)",
                             conf->tls_ca_file, nng_strerror(rv));
        goto done;
    }
    if (conf->tls_cert_file &&
        ((rc = slic_file_read(conf->tls_cert_file, TLS_FILE_MAX, 0, "tls.cert_file", &cert,
                              &cert_len, err)) ||
         (rc = slic_file_read(conf->tls_key_file, TLS_FILE_MAX, SLIC_FILE_PRIVATE, "tls.key_file",
                              &key, &key_len, err))))
        goto done;
    if (cert && (rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
        rc = slic_errmsg_set(err, SLIC_ECONFIG,
                             "tls.cert_file %s, tls.key_file %s: not a PEM certificate and its "
                             "unencrypted private key (%s)",
                             conf->tls_cert_file, conf->tls_key_file, nng_strerror(rv));
        goto done;
    }
    if (tls_server_name(cfg, conf, url, err) != 0 ||
        nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED) != 0)
        rc = SLIC_ECONFIG;
done:
    slic_file_free(ca, ca_len);
    slic_file_free(cert, cert_len);
    slic_file_free(key, key_len);
    return rc;
}

static int tls_apply(nng_dialer d, const struct agent_sender_security *conf, const char *url,
                     struct slic_errmsg *err)
{
    if (!conf->tls_ca_file)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "sender: %s uses TLS: set tls.ca_file to the CA that signs the "
                               "aggregator's certificate",
                               url);
    nng_tls_config *cfg = NULL;
    int rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT);
    if (rv)
        return slic_errmsg_set(err, SLIC_ENOMEM, "sender: TLS configuration: %s", nng_strerror(rv));
    int rc = tls_config_fill(cfg, conf, url, err);
    if (rc == 0 && (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) != 0)
        rc = slic_errmsg_set(err, SLIC_ECONFIG, "sender: TLS for %s: %s", url, nng_strerror(rv));
    nng_tls_config_free(cfg); /* the dialer holds its own reference */
    return rc;
}

/* ---- the sender's copy --------------------------------------------------------------------- */

int agent__sender_sec_init(struct agent__sender_sec *sec, const struct agent_sender_security *conf,
                           nng_dialer d, const char *url, struct slic_errmsg *err)
{
    static const struct agent_sender_security none = {0};
    if (!conf)
        conf = &none;
    memset(sec, 0, sizeof *sec);
    sec->sign = conf->key != NULL;
    if (sec->sign)
        memcpy(sec->key, conf->key, sizeof sec->key);
    /* Only ever printed as the argument of the command that fetches the right key. */
    snprintf(sec->agent_id, sizeof sec->agent_id, "%s",
             conf->agent_id && conf->agent_id[0] ? conf->agent_id : "AGENT_ID");
    sec->tls = strncmp(url, "tls+", 4) == 0;
    sec->client_cert = sec->tls && conf->tls_cert_file;
    if (!sec->tls)
        return 0;
    if (conf->tls_ca_file && !conf->tls_cert_file)
        SLIC_WARN("sender",
                  "%s: no tls.cert_file: an aggregator that requires client "
                  "certificates (slic's does) will refuse this agent's connections",
                  url);
    return tls_apply(d, conf, url, err);
}

void agent__sender_sec_fini(struct agent__sender_sec *sec)
{
    slic_wipe(sec->key, sizeof sec->key);
}

int agent__sender_request_pack(const struct agent__sender_sec *sec, const uint8_t *batch,
                               size_t len, uint8_t **req, size_t *req_len)
{
    uint8_t mac[SLIC_HMAC_LEN];
    if (sec->sign && slic_hmac_sha256(sec->key, sizeof sec->key, batch, len, mac) != 0)
        return SLIC_ENOMEM;
    return codec_request_pack(batch, len, sec->sign ? mac : NULL, sec->sign ? sizeof mac : 0, NULL,
                              req, req_len);
}

void agent__sender_sec_refused(struct agent__sender_sec *sec, const char *url, uint64_t seq,
                               const char *reason, uint64_t refused, uint64_t now_ms)
{
    if (sec->last_log_ms && now_ms - sec->last_log_ms < REFUSED_LOG_EVERY_MS)
        return;
    uint64_t since = refused - sec->refused_logged - 1;
    sec->last_log_ms = now_ms ? now_ms : 1;
    sec->refused_logged = refused;
    SLIC_ERROR("sender",
               "aggregator at %s refused batch %" PRIu64 " for its signature (%s). The batch "
               "stays in the spool and is resent with backoff: nothing is lost, but nothing "
               "arrives until this is fixed: %s. Run `slic-aggregator --agent-key %s` on the "
               "aggregator host, put its output in this agent's auth.key_file (mode 600) and "
               "restart the agent. [%" PRIu64 " more refused since the last such line; logged "
               "at most once a minute]",
               url, seq, reason,
               sec->sign ? "auth.key_file does not hold the key the aggregator derives for this "
                           "agent_id"
                         : "this agent has no auth.key_file, so it signs nothing",
               sec->agent_id, since);
}

const char *agent__sender_tls_hint(const struct agent__sender_sec *sec, const char *reason)
{
    if (!sec->tls)
        return "";
    if (strstr(reason, "TLS"))
        return "; check that tls.ca_file signed the aggregator's certificate, which must name "
               "tls.server_name (default: the URL's host) as a DNS name (mbedTLS 2.28 ignores "
               "IP-address names), and that the aggregator's client CA signed tls.cert_file";
    if (!sec->client_cert)
        return "; over TLS this is also how an aggregator that requires client certificates "
               "(slic's does) turns away an agent without one: set tls.cert_file and "
               "tls.key_file";
    return "; over TLS this is also how the aggregator turns away a client certificate its "
           "tls.client_ca_file did not sign";
}
