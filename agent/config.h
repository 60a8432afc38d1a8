/* slic-agent's configuration: embedded defaults (it runs with no file at all), overridden by a
 * YAML file whose mistakes are reported by file, line and key. A configuration is loaded whole
 * or not at all, so SIGHUP can keep the running one when a new file is broken. */
#ifndef SLIC_AGENT_CONFIG_H
#define SLIC_AGENT_CONFIG_H

#include "batch.h"
#include "err.h"
#include "hmac.h"
#include "log.h"
#include "probe.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_CONFIG_PROBES_MAX 256
#define AGENT_CONFIG_TAILS_MAX 64

/* One probe: an HTTP(S) request or a TCP connect, on an interval (see probe.h). */
struct agent_config_probe {
    char *sli;
    enum agent_probe_kind kind;
    char *target; /* URL for http, HOST:PORT for tcp */
    double interval_s;
    double timeout_s;
    struct agent_probe_status status; /* expected codes; n == 0: 200-399 */
    char *body_contains;              /* NULL: any body */
    char *ca_file;                    /* NULL: the system's CAs */
    bool insecure;                    /* do not verify the peer (tests, never production) */
};

/* The probe as probe.h takes it; strings borrowed from p. */
struct agent_probe_config agent_config_probe_view(const struct agent_config_probe *p);

enum agent_tail_format { AGENT_TAIL_COMBINED = 1, AGENT_TAIL_JSON = 2 };

/* One access log to follow. */
struct agent_config_tail {
    char *sli;
    char *path;
    enum agent_tail_format format;
    /* combined: which whitespace-separated field holds the latency, counted from 0, or from
     * the end of the line when negative (-1, the default: the last field); json: the key. */
    int latency_field;
    char *latency_key;
    char *status_key;
    char *path_key;
    double latency_unit_s; /* 1 for seconds, 0.001 for ms, 1e-6 for us */
    bool route_label;      /* keep the request path (without query) as label `route` */
    bool from_start;       /* a file never seen before is read from its start, not its end */
};

struct agent_config {
    char *source; /* file path, or "built-in defaults" */
    /* The agent's identity towards the aggregator; unless set explicitly, the node name, so
     * several agents on one host (different nodes) never share one. */
    char *agent_id;
    bool agent_id_set;
    char *site;
    char *node;
    char *aggregator;
    char *spool_dir;
    uint64_t spool_max_bytes;
    uint32_t window_seconds;
    enum slic_log_level log_level;
    char *udp;       /* "" disables */
    char *unix_path; /* "" disables */
    uint64_t recv_buffer;
    unsigned status_bad_min;
    char **label_keys;
    size_t n_label_keys;
    struct slic_sli_thresholds *thresholds;
    size_t n_thresholds;
    uint32_t max_labelsets_per_sli;
    uint32_t max_slis;
    unsigned inflight;
    struct agent_config_probe *probes;
    size_t n_probes;
    struct agent_config_tail *tails;
    size_t n_tails;
    /* tls: for a tls+tcp:// aggregator (and only then): the CA that signs the aggregator's
     * certificate (required); this agent's certificate and private key (both or neither; an
     * aggregator that requires client certificates, as slic's does, turns away an agent
     * without); the name the aggregator's certificate must carry (NULL: the URL's host). */
    char *tls_ca_file;
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_server_name;
    /* auth: the file holding this agent's batch key, and the key, read when the configuration
     * is loaded. Without it batches go unsigned. */
    char *auth_key_file;
    bool auth_key_set;
    uint8_t auth_key[SLIC_HMAC_LEN];
};

/* Fills c with the embedded defaults: site "local", node = agent_id = the host name,
 * aggregator tcp://127.0.0.1:7710, UDP 127.0.0.1:8125, unix socket ./slic-agent.sock, 10 s
 * windows, spool ./slic-spool capped at 1 GiB. 0 or SLIC_ENOMEM. */
int agent_config_defaults(struct agent_config *c);

/* Defaults, then the file on top. 0; -errno when unreadable; SLIC_ECONFIG, SLIC_EMISSING or
 * SLIC_ETOOBIG with err naming file, line and key; SLIC_ENOMEM. *out untouched on failure. */
int agent_config_load(const char *path, struct agent_config *out, struct slic_errmsg *err);

void agent_config_fini(struct agent_config *c);

/* After command-line overrides: an agent_id not set explicitly follows the node name.
 * 0 or SLIC_ENOMEM. */
int agent_config_finish(struct agent_config *c);

/* Replaces *field with a copy of value. 0 or SLIC_ENOMEM. */
int agent_config_set_string(char **field, const char *value);

/* The aggregator URL and the tls: section agree: tls+tcp:// needs one, other URLs take none.
 * Run by agent_config_load, and again by the caller after command-line overrides. 0 or
 * SLIC_ECONFIG with err saying what to change. */
int agent_config_check_tls(const struct agent_config *c, struct slic_errmsg *err);

#endif
