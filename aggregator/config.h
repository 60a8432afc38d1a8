/* slic-aggregator's configuration: embedded defaults, overridden by a YAML file. Loading checks
 * everything an operator can get wrong and says where: file, line, key, value, what was
 * expected. A config is loaded whole or not at all, so SIGHUP can keep the old one on error. */
#ifndef SLIC_AGG_CONFIG_H
#define SLIC_AGG_CONFIG_H

#include "err.h"
#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agg_config {
    /* Where the settings came from: a file path, or "built-in defaults". */
    char *source;
    /* nng URL agents and `slic` connect to. */
    char *listen;
    char *data_dir;
    /* HOST:PORT of the HTTP API and /metrics (numeric, loopback by default); "" disables it. */
    char *http_listen;
    /* Synced commits (true) or MDB_NOSYNC (false: faster, an OS crash may lose acked data). */
    bool durable;
    enum slic_log_level log_level;
    uint64_t map_size;
    uint64_t map_size_max;
    /* Retention of the 10 s, 1 min and 1 h rollups, seconds. */
    int64_t retention[3];
    uint64_t max_request_bytes;
    unsigned contexts;
    int64_t max_future_seconds;
    unsigned max_label_sets_per_sli;
    unsigned group_max_batches;
    unsigned expire_interval_seconds;
    /* slo: OpenSLO files or directories (paths, relative to the working directory, as
     * data_dir is), and seconds between evaluation cycles (evaluate_interval). */
    char **slo_paths;
    size_t n_slo_paths;
    /* alerts: Alertmanager base URLs and webhook URLs that firing and resolved SLO alerts
     * are pushed to, and how often a firing alert is sent again. */
    char **alertmanagers;
    size_t n_alertmanagers;
    char **webhooks;
    size_t n_webhooks;
    double alert_resend_interval;
    double slo_evaluate_interval;
    /* tls: for a tls+tcp:// listen URL (and only then): PEM files of the aggregator's
     * certificate and private key, and of the CA that signs the client certificates every
     * agent and `slic` must present. NULL without a tls: section. */
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_client_ca_file;
    /* auth: the secret agents' batch keys derive from, read from secret_file when the
     * configuration is loaded (NULL: batch signatures are not checked), and whether unsigned
     * batches are refused (require_signed_batches, default true). */
    char *auth_secret_file;
    uint8_t *auth_secret;
    size_t auth_secret_len;
    bool auth_require_signed;
    /* upstream: the aggregator (a global tier) this one forwards its merged per-site data to,
     * exactly once (forward.h). NULL url: no upstream, nothing is queued. id is our agent_id
     * and node there (default: the host name); max_queue bounds the forward queue in bytes;
     * key_file (upstream.auth.key_file, NULL: unsigned) holds the key the upstream derives
     * for id (`slic-aggregator --agent-key ID` on the upstream). */
    char *upstream_url;
    char *upstream_id;
    uint64_t upstream_max_queue;
    double upstream_ack_timeout;
    double upstream_backoff_max;
    char *upstream_key_file;
};

/* Fills c with the embedded defaults (strings allocated; agg_config_fini frees). 0 or
 * SLIC_ENOMEM. */
int agg_config_defaults(struct agg_config *c);

/* Defaults, then the file at path on top. 0 with *out filled; -errno when the file cannot be
 * read, SLIC_ECONFIG/SLIC_EMISSING/SLIC_ETOOBIG with err naming file, line and key, or
 * SLIC_ENOMEM. *out untouched on failure. */
int agg_config_load(const char *path, struct agg_config *out, struct slic_errmsg *err);

void agg_config_fini(struct agg_config *c);

/* The listen URL and the tls: section agree: tls+tcp:// needs one, other URLs take none. Run by
 * agg_config_load, and again by the caller after command-line overrides. 0 or SLIC_ECONFIG with
 * err saying what to change. */
int agg_config_check_tls(const struct agg_config *c, struct slic_errmsg *err);

/* Reads the secret of auth.secret_file into c (replacing any), as agg_config_load does; for
 * --secret-file. `what` names the file in messages. 0, or an error as slic_secret_file_read. */
int agg_config_read_secret(struct agg_config *c, const char *path, const char *what,
                           struct slic_errmsg *err);

#endif
