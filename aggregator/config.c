/* Loading slic-aggregator's YAML configuration onto its embedded defaults (see config.h). */
#include "config.h"

#include "alloc.h"
#include "batch.h"
#include "hmac.h"
#include "http.h"
#include "yamlconf.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = slic_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

int agg_config_defaults(struct agg_config *c)
{
    memset(c, 0, sizeof *c);
    c->source = dup_string("built-in defaults");
    c->listen = dup_string("tcp://127.0.0.1:7710");
    c->data_dir = dup_string("./slic-data");
    c->http_listen = dup_string(AGG_HTTP_DEFAULT_LISTEN);
    c->durable = true;
    c->log_level = SLIC_LOG_INFO;
    c->map_size = 1ull << 30;
    c->map_size_max = 64ull << 30;
    c->retention[0] = 2 * 86400;
    c->retention[1] = 30 * 86400;
    c->retention[2] = 400 * 86400;
    c->max_request_bytes = 4u << 20;
    c->contexts = 128;
    c->max_future_seconds = 600;
    c->max_label_sets_per_sli = 1000;
    c->group_max_batches = 256;
    c->expire_interval_seconds = 60;
    c->slo_evaluate_interval = 10;
    c->alert_resend_interval = 60;
    c->auth_require_signed = true;
    c->upstream_max_queue = 1ull << 30;
    c->upstream_ack_timeout = 5;
    c->upstream_backoff_max = 30;
    if (!c->source || !c->listen || !c->data_dir || !c->http_listen) {
        agg_config_fini(c);
        return SLIC_ENOMEM;
    }
    return 0;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        slic_free(v[i]);
    slic_free(v);
}

void agg_config_fini(struct agg_config *c)
{
    if (!c)
        return;
    slic_free(c->source);
    slic_free(c->listen);
    slic_free(c->data_dir);
    slic_free(c->http_listen);
    free_strings(c->slo_paths, c->n_slo_paths);
    free_strings(c->alertmanagers, c->n_alertmanagers);
    free_strings(c->webhooks, c->n_webhooks);
    slic_free(c->tls_cert_file);
    slic_free(c->tls_key_file);
    slic_free(c->tls_client_ca_file);
    slic_free(c->auth_secret_file);
    slic_file_free((char *)c->auth_secret, c->auth_secret_len); /* wipes it */
    slic_free(c->upstream_url);
    slic_free(c->upstream_id);
    slic_free(c->upstream_key_file);
    memset(c, 0, sizeof *c);
}

static int load_listen(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    int rc = slic_yaml_get_string_copy(root, "listen", 0, &c->listen, err);
    if (rc)
        return rc;
    if (strncmp(c->listen, "tcp://", 6) != 0 && strncmp(c->listen, "tls+tcp://", 10) != 0 &&
        strncmp(c->listen, "ipc://", 6) != 0)
        return slic_yaml_error(slic_yaml_get(root, "listen"), err, SLIC_ECONFIG,
                               "expected an nng URL like tcp://127.0.0.1:7710, got \"%s\"",
                               c->listen);
    return 0;
}

/* http: {listen: HOST:PORT}. An empty string turns the HTTP side off; null (`listen:` with
 * nothing after it) is refused like any other null, since its meaning would be a guess. */
static int load_http(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"listen", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "http", 0, &m, err);
    if (rc || !m)
        return rc;
    if ((rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_string_copy(m, "listen", 0, &c->http_listen, err)))
        return rc;
    struct agg_http_addr addr;
    struct slic_errmsg why = {{0}};
    if (c->http_listen[0] && agg_http_addr_parse(c->http_listen, &addr, &why) != 0)
        return slic_yaml_error(slic_yaml_get(m, "listen"), err, SLIC_ECONFIG, "%s", why.text);
    return 0;
}

static int load_store(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"map_size", "map_size_max", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "store", 0, &m, err);
    if (rc || !m)
        return rc;
    if ((rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_size(m, "map_size", 0, 1u << 20, 1ull << 44, &c->map_size, err)) ||
        (rc =
             slic_yaml_get_size(m, "map_size_max", 0, 1u << 20, 1ull << 44, &c->map_size_max, err)))
        return rc;
    if (c->map_size_max < c->map_size)
        return slic_yaml_error(slic_yaml_get(m, "map_size_max"), err, SLIC_ECONFIG,
                               "must be at least map_size (%llu bytes)",
                               (unsigned long long)c->map_size);
    return 0;
}

static int load_retention(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"10s", "1m", "1h", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "retention", 0, &m, err);
    if (rc || !m)
        return rc;
    if ((rc = slic_yaml_check_keys(m, keys, err)))
        return rc;
    for (int i = 0; i < 3; i++) {
        double d = (double)c->retention[i];
        if ((rc = slic_yaml_get_duration(m, keys[i], 0, 3600, 20 * 366 * 86400.0, &d, err)))
            return rc;
        c->retention[i] = (int64_t)d;
    }
    if (c->retention[0] > c->retention[1] || c->retention[1] > c->retention[2])
        return slic_yaml_error(m, err, SLIC_ECONFIG,
                               "coarser rollups must be kept at least as long as finer ones "
                               "(10s <= 1m <= 1h)");
    return 0;
}

static int load_limits(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {
        "max_request",       "contexts",        "max_future", "label_sets_per_sli",
        "group_max_batches", "expire_interval", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "limits", 0, &m, err);
    if (rc || !m)
        return rc;
    uint64_t contexts = c->contexts, sets = c->max_label_sets_per_sli;
    uint64_t group = c->group_max_batches;
    double future = (double)c->max_future_seconds, expire = c->expire_interval_seconds;
    if ((rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_size(m, "max_request", 0, 4096, 256u << 20, &c->max_request_bytes,
                                 err)) ||
        (rc = slic_yaml_get_uint64(m, "contexts", 0, 1, 65536, &contexts, err)) ||
        (rc = slic_yaml_get_duration(m, "max_future", 0, 0, 86400, &future, err)) ||
        (rc = slic_yaml_get_uint64(m, "label_sets_per_sli", 0, 1, 1000000, &sets, err)) ||
        (rc = slic_yaml_get_uint64(m, "group_max_batches", 0, 1, 1024, &group, err)) ||
        (rc = slic_yaml_get_duration(m, "expire_interval", 0, 1, 86400, &expire, err)))
        return rc;
    c->contexts = (unsigned)contexts;
    c->max_label_sets_per_sli = (unsigned)sets;
    c->group_max_batches = (unsigned)group;
    c->max_future_seconds = (int64_t)future;
    c->expire_interval_seconds = (unsigned)expire;
    return 0;
}

/* slo: {paths: [FILE-OR-DIR...], evaluate_interval: DURATION}. The files themselves are read
 * by the caller (openslo.h), so a config check and a reload report their errors alike. */
static int load_slo(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"paths", "evaluate_interval", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "slo", 0, &m, err);
    if (rc || !m)
        return rc;
    const char **paths = NULL;
    size_t n = 0;
    if ((rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_duration(m, "evaluate_interval", 0, 1, 86400, &c->slo_evaluate_interval,
                                     err)) ||
        (rc = slic_yaml_get_strings(m, "paths", 0, &paths, &n, err)))
        return rc;
    if (n && !(c->slo_paths = slic_calloc(n, sizeof *c->slo_paths)))
        rc = SLIC_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!(c->slo_paths[i] = dup_string(paths[i])))
            rc = SLIC_ENOMEM;
        else
            c->n_slo_paths = i + 1;
    }
    slic_free(paths);
    return rc;
}

/* A list of strings at key, copied into *out (replacing what was there). */
static int take_strings(const slic_yaml_node *m, const char *key, char ***out, size_t *out_n,
                        struct slic_errmsg *err)
{
    const char **v = NULL;
    size_t n = 0;
    int rc = slic_yaml_get_strings(m, key, 0, &v, &n, err);
    if (rc || !v)
        return rc;
    char **copy = slic_calloc(n + 1, sizeof *copy);
    for (size_t i = 0; copy && i < n; i++) {
        if (strncmp(v[i], "http://", 7) != 0 && strncmp(v[i], "https://", 8) != 0) {
            rc = slic_yaml_error(slic_yaml_get(m, key), err, SLIC_ECONFIG,
                                 "expected http:// or https:// URLs, got \"%s\"", v[i]);
            break;
        }
        if (!(copy[i] = dup_string(v[i]))) {
            rc = SLIC_ENOMEM;
            break;
        }
    }
    slic_free(v);
    if (!copy)
        return SLIC_ENOMEM;
    if (rc) {
        free_strings(copy, n);
        return rc;
    }
    free_strings(*out, *out_n);
    *out = copy;
    *out_n = n;
    return 0;
}

static int load_alerts(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"alertmanager", "webhooks", "resend_interval", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "alerts", 0, &m, err);
    if (rc || !m)
        return rc;
    if ((rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = take_strings(m, "alertmanager", &c->alertmanagers, &c->n_alertmanagers, err)) ||
        (rc = take_strings(m, "webhooks", &c->webhooks, &c->n_webhooks, err)) ||
        (rc = slic_yaml_get_duration(m, "resend_interval", 0, 1, 3600, &c->alert_resend_interval,
                                     err)))
        return rc;
    if (c->n_alertmanagers + c->n_webhooks > 8)
        return slic_yaml_error(m, err, SLIC_ECONFIG, "at most 8 alert targets in all");
    return 0;
}

/* tls: {cert_file, key_file, client_ca_file}: all three, readable, the key private. */
static int load_tls(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"cert_file", "key_file", "client_ca_file", NULL};
    char **fields[] = {&c->tls_cert_file, &c->tls_key_file, &c->tls_client_ca_file};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "tls", 0, &m, err);
    if (rc || !m || (rc = slic_yaml_check_keys(m, keys, err)))
        return rc;
    for (int i = 0; i < 3; i++)
        if ((rc = slic_yaml_get_string_copy(m, keys[i], SLIC_YAML_REQUIRED, fields[i], err)))
            return rc;
    for (int i = 0; i < 3; i++)
        if ((rc = slic_file_check_at(slic_yaml_get(m, keys[i]), i == 1 ? SLIC_FILE_PRIVATE : 0,
                                     err)))
            return rc;
    return 0;
}

int agg_config_read_secret(struct agg_config *c, const char *path, const char *what,
                           struct slic_errmsg *err)
{
    uint8_t *secret = NULL;
    size_t len = 0;
    int rc = slic_secret_file_read(path, what, &secret, &len, err);
    if (rc)
        return rc;
    char *copy = dup_string(path);
    if (!copy) {
        slic_file_free((char *)secret, len);
        return SLIC_ENOMEM;
    }
    slic_file_free((char *)c->auth_secret, c->auth_secret_len);
    slic_free(c->auth_secret_file);
    c->auth_secret = secret;
    c->auth_secret_len = len;
    c->auth_secret_file = copy;
    return 0;
}

/* auth: {secret_file, require_signed_batches}: the secret is read now, and kept. */
static int load_auth(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"secret_file", "require_signed_batches", NULL};
    const slic_yaml_node *m = NULL;
    const char *path = NULL;
    int rc = slic_yaml_get_mapping(root, "auth", 0, &m, err);
    if (rc || !m)
        return rc;
    if ((rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_bool(m, "require_signed_batches", 0, &c->auth_require_signed, err)) ||
        (rc = slic_yaml_get_string(m, "secret_file", SLIC_YAML_REQUIRED, &path, err)))
        return rc;
    struct slic_errmsg why = {{0}};
    if ((rc = agg_config_read_secret(c, path, "file", &why)) == 0 || rc == SLIC_ENOMEM)
        return rc;
    return slic_yaml_error(slic_yaml_get(m, "secret_file"), err, SLIC_ECONFIG, "%s", why.text);
}

int agg_config_check_tls(const struct agg_config *c, struct slic_errmsg *err)
{
    bool tls_url = strncmp(c->listen, "tls+tcp://", 10) == 0;
    if (tls_url && !c->tls_cert_file)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "listen %s uses TLS: it needs a tls: section with cert_file, "
                               "key_file and client_ca_file (the CA whose certificates agents "
                               "and slic must present)",
                               c->listen);
    if (!tls_url && c->tls_cert_file)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "tls: is set, but listen %s is not a tls+tcp:// URL: listen on "
                               "tls+tcp://HOST:PORT, or remove tls:",
                               c->listen);
    return 0;
}

/* The host name, cut at the first dot, with characters a name may not hold replaced, so the
 * default upstream id is always a valid name. */
static int host_name_copy(char **out)
{
    char buf[SLIC_NAME_MAX + 1];
    if (gethostname(buf, sizeof buf) != 0 || buf[0] == '\0')
        snprintf(buf, sizeof buf, "localhost");
    buf[sizeof buf - 1] = '\0';
    buf[strcspn(buf, ".")] = '\0';
    for (char *p = buf; *p; p++)
        if (!slic_name_valid((char[]){*p, '\0'}))
            *p = '_';
    return (*out = dup_string(buf)) ? 0 : SLIC_ENOMEM;
}

/* upstream.auth: {key_file}: checked now (exists, private), read when forwarding starts. */
static int load_upstream_auth(const slic_yaml_node *up, struct agg_config *c,
                              struct slic_errmsg *err)
{
    static const char *const keys[] = {"key_file", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(up, "auth", 0, &m, err);
    if (rc || !m)
        return rc;
    if ((rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_string_copy(m, "key_file", SLIC_YAML_REQUIRED, &c->upstream_key_file,
                                        err)))
        return rc;
    return slic_file_check_at(slic_yaml_get(m, "key_file"), SLIC_FILE_PRIVATE, err);
}

/* upstream: {url, id, max_queue, ack_timeout, backoff_max, auth: {key_file}}. */
static int load_upstream(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"url",         "id",   "max_queue", "ack_timeout",
                                       "backoff_max", "auth", "tls",       NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "upstream", 0, &m, err);
    if (rc || !m || (rc = slic_yaml_check_keys(m, keys, err)))
        return rc;
    if (slic_yaml_get(m, "tls"))
        return slic_yaml_error(slic_yaml_get(m, "tls"), err, SLIC_ECONFIG,
                               "TLS towards the upstream is not supported yet: use a tcp:// "
                               "url over a trusted network (batches can still be signed with "
                               "upstream.auth.key_file), or remove upstream.tls");
    if ((rc = slic_yaml_get_string_copy(m, "url", SLIC_YAML_REQUIRED, &c->upstream_url, err)) ||
        (rc = slic_yaml_get_string_copy(m, "id", 0, &c->upstream_id, err)) ||
        (rc = slic_yaml_get_size(m, "max_queue", 0, 1u << 20, 1ull << 44, &c->upstream_max_queue,
                                 err)) ||
        (rc = slic_yaml_get_duration(m, "ack_timeout", 0, 0.1, 600, &c->upstream_ack_timeout,
                                     err)) ||
        (rc = slic_yaml_get_duration(m, "backoff_max", 0, 0.1, 3600, &c->upstream_backoff_max,
                                     err)) ||
        (rc = load_upstream_auth(m, c, err)))
        return rc;
    if (strncmp(c->upstream_url, "tcp://", 6) != 0 && strncmp(c->upstream_url, "ipc://", 6) != 0)
        return slic_yaml_error(slic_yaml_get(m, "url"), err, SLIC_ECONFIG,
                               "expected the upstream aggregator's nng URL, like "
                               "tcp://global:7710 (tls+tcp:// is not supported yet), got \"%s\"",
                               c->upstream_url);
    if (c->upstream_id && !slic_name_valid(c->upstream_id))
        return slic_yaml_error(slic_yaml_get(m, "id"), err, SLIC_ECONFIG,
                               "expected a name of 1..%d characters [A-Za-z0-9_.:-], got \"%s\"",
                               SLIC_NAME_MAX, c->upstream_id);
    return c->upstream_id ? 0 : host_name_copy(&c->upstream_id);
}

static int load_log_level(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    const char *s = NULL;
    int rc = slic_yaml_get_string(root, "log_level", 0, &s, err);
    if (rc || !s)
        return rc;
    if (slic_log_level_parse(s, &c->log_level) != 0)
        return slic_yaml_error(slic_yaml_get(root, "log_level"), err, SLIC_ECONFIG,
                               "expected debug, info, warn or error, got \"%s\"", s);
    return 0;
}

static int load_root(const slic_yaml_node *root, struct agg_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"listen", "data_dir",  "durable",  "log_level", "http",
                                       "store",  "retention", "limits",   "slo",       "alerts",
                                       "tls",    "auth",      "upstream", NULL};
    struct slic_errmsg why = {{0}};
    int rc;
    if ((rc = slic_yaml_check_keys(root, keys, err)) || (rc = load_listen(root, c, err)) ||
        (rc = slic_yaml_get_string_copy(root, "data_dir", 0, &c->data_dir, err)) ||
        (rc = slic_yaml_get_bool(root, "durable", 0, &c->durable, err)) ||
        (rc = load_log_level(root, c, err)) || (rc = load_http(root, c, err)) ||
        (rc = load_store(root, c, err)) || (rc = load_retention(root, c, err)) ||
        (rc = load_limits(root, c, err)) || (rc = load_slo(root, c, err)) ||
        (rc = load_alerts(root, c, err)) || (rc = load_tls(root, c, err)) ||
        (rc = load_auth(root, c, err)) || (rc = load_upstream(root, c, err)))
        return rc;
    if ((rc = agg_config_check_tls(c, &why)) != 0) {
        const slic_yaml_node *at = slic_yaml_get(root, c->tls_cert_file ? "tls" : "listen");
        return slic_yaml_error(at ? at : root, err, rc, "%s", why.text);
    }
    return 0;
}

int agg_config_load(const char *path, struct agg_config *out, struct slic_errmsg *err)
{
    struct agg_config c;
    slic_yaml_stream *y = NULL;
    int rc = agg_config_defaults(&c);
    if (rc)
        return rc;
    if ((rc = slic_yaml_load_file(path, NULL, &y, err)) != 0) {
        if (rc > -4096 && rc < 0 && err)
            slic_errmsg_set(err, rc, "%s: cannot read: %s", path, slic_strerror(rc));
        goto fail;
    }
    if (slic_yaml_doc_count(y) > 1) {
        rc = slic_yaml_error(slic_yaml_doc(y, 1), err, SLIC_ECONFIG,
                             "a configuration file holds one YAML document");
        goto fail;
    }
    /* An empty file means "all defaults". */
    if (slic_yaml_doc_count(y) == 1 && !slic_yaml_is_null(slic_yaml_doc(y, 0)) &&
        (rc = load_root(slic_yaml_doc(y, 0), &c, err)) != 0)
        goto fail;
    slic_free(c.source);
    if (!(c.source = dup_string(path))) {
        rc = SLIC_ENOMEM;
        goto fail;
    }
    slic_yaml_destroy(y);
    *out = c;
    return 0;
fail:
    slic_yaml_destroy(y);
    agg_config_fini(&c);
    return rc;
}
