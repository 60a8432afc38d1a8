/* Loading slic-agent's YAML configuration onto its embedded defaults (see config.h). The probe
 * and access-log sections are read by config_sources.c. */
#include "config.h"

#include "alloc.h"
#include "config_sources.h"
#include "timeutil.h"
#include "yamlconf.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int agent_config_set_string(char **field, const char *value)
{
    size_t n = strlen(value) + 1;
    char *copy = slic_malloc(n);
    if (!copy)
        return SLIC_ENOMEM;
    memcpy(copy, value, n);
    slic_free(*field);
    *field = copy;
    return 0;
}

/* The host name, cut at the first dot and at SLIC_NAME_MAX, with characters a name may not
 * hold replaced, so it is always a valid node name. */
static void host_name(char *buf, size_t size)
{
    if (gethostname(buf, size) != 0 || buf[0] == '\0')
        snprintf(buf, size, "localhost");
    buf[size - 1] = '\0';
    char *dot = strchr(buf, '.');
    if (dot)
        *dot = '\0';
    for (char *p = buf; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            *p = '_';
    }
}

int agent_config_defaults(struct agent_config *c)
{
    char host[SLIC_NAME_MAX + 1];
    host_name(host, sizeof host);
    memset(c, 0, sizeof *c);
    c->spool_max_bytes = 1ull << 30;
    c->window_seconds = 10;
    c->log_level = SLIC_LOG_INFO;
    c->recv_buffer = 8u << 20;
    c->status_bad_min = 500;
    c->max_labelsets_per_sli = 100;
    c->max_slis = 1000;
    c->inflight = 4;
    int rc = 0;
    if ((rc = agent_config_set_string(&c->source, "built-in defaults")) ||
        (rc = agent_config_set_string(&c->agent_id, host)) ||
        (rc = agent_config_set_string(&c->site, "local")) ||
        (rc = agent_config_set_string(&c->node, host)) ||
        (rc = agent_config_set_string(&c->aggregator, "tcp://127.0.0.1:7710")) ||
        (rc = agent_config_set_string(&c->spool_dir, "./slic-spool")) ||
        (rc = agent_config_set_string(&c->udp, "127.0.0.1:8125")) ||
        (rc = agent_config_set_string(&c->unix_path, "./slic-agent.sock")))
        agent_config_fini(c);
    return rc;
}

static void thresholds_fini(struct agent_config *c)
{
    for (size_t i = 0; i < c->n_thresholds; i++) {
        slic_free(c->thresholds[i].sli);
        slic_free(c->thresholds[i].thresholds);
    }
    slic_free(c->thresholds);
}

void agent_config_fini(struct agent_config *c)
{
    if (!c)
        return;
    char **strings[] = {&c->source,       &c->agent_id,      &c->site,         &c->node,
                        &c->aggregator,   &c->spool_dir,     &c->udp,          &c->unix_path,
                        &c->tls_ca_file,  &c->tls_cert_file, &c->tls_key_file, &c->tls_server_name,
                        &c->auth_key_file};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        slic_free(*strings[i]);
    slic_wipe(c->auth_key, sizeof c->auth_key);
    for (size_t i = 0; i < c->n_label_keys; i++)
        slic_free(c->label_keys[i]);
    slic_free(c->label_keys);
    thresholds_fini(c);
    agent_config_sources_fini(c);
    memset(c, 0, sizeof *c);
}

/* A string at key that must be a slic name (site, node, agent id). */
static int take_name(const slic_yaml_node *map, const char *key, char **field,
                     struct slic_errmsg *err)
{
    const char *s = NULL;
    int rc = slic_yaml_get_string(map, key, 0, &s, err);
    if (rc || !s)
        return rc;
    if (!slic_name_valid(s))
        return slic_yaml_error(slic_yaml_get(map, key), err, SLIC_ECONFIG,
                               "expected 1..%d characters of [A-Za-z0-9_.:-], got \"%s\"",
                               SLIC_NAME_MAX, s);
    return agent_config_set_string(field, s);
}

static int load_identity(const slic_yaml_node *root, struct agent_config *c,
                         struct slic_errmsg *err)
{
    int rc;
    c->agent_id_set = slic_yaml_get(root, "agent_id") != NULL;
    if ((rc = take_name(root, "agent_id", &c->agent_id, err)) ||
        (rc = take_name(root, "site", &c->site, err)) ||
        (rc = take_name(root, "node", &c->node, err)) ||
        (rc = slic_yaml_get_string_copy(root, "aggregator", 0, &c->aggregator, err)))
        return rc;
    if (strncmp(c->aggregator, "tcp://", 6) != 0 && strncmp(c->aggregator, "ipc://", 6) != 0 &&
        strncmp(c->aggregator, "tls+tcp://", 10) != 0)
        return slic_yaml_error(slic_yaml_get(root, "aggregator"), err, SLIC_ECONFIG,
                               "expected an nng URL like tcp://aggregator:7710, got \"%s\"",
                               c->aggregator);
    const char *lvl = NULL;
    if ((rc = slic_yaml_get_string(root, "log_level", 0, &lvl, err)) != 0)
        return rc;
    if (lvl && slic_log_level_parse(lvl, &c->log_level) != 0)
        return slic_yaml_error(slic_yaml_get(root, "log_level"), err, SLIC_ECONFIG,
                               "expected debug, info, warn or error, got \"%s\"", lvl);
    double window = c->window_seconds;
    if ((rc = slic_yaml_get_duration(root, "window", 0, 10, 86400, &window, err)) != 0)
        return rc;
    if ((int64_t)window % 10 != 0 || window != (double)(int64_t)window)
        return slic_yaml_error(slic_yaml_get(root, "window"), err, SLIC_ECONFIG,
                               "expected a whole multiple of 10s, so windows of every agent "
                               "line up");
    c->window_seconds = (uint32_t)window;
    return 0;
}

static int load_spool(const slic_yaml_node *root, struct agent_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"dir", "max_size", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "spool", 0, &m, err);
    if (rc || !m)
        return rc;
    if ((rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_string_copy(m, "dir", 0, &c->spool_dir, err)))
        return rc;
    return slic_yaml_get_size(m, "max_size", 0, 1u << 20, 1ull << 40, &c->spool_max_bytes, err);
}

static int load_listen(const slic_yaml_node *root, struct agent_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"udp", "unix", "receive_buffer", "status_bad_from", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "listen", 0, &m, err);
    if (rc || !m)
        return rc;
    uint64_t bad = c->status_bad_min;
    if ((rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_string_copy(m, "udp", 0, &c->udp, err)) ||
        (rc = slic_yaml_get_string_copy(m, "unix", 0, &c->unix_path, err)) ||
        (rc = slic_yaml_get_size(m, "receive_buffer", 0, 0, 1u << 30, &c->recv_buffer, err)) ||
        (rc = slic_yaml_get_uint64(m, "status_bad_from", 0, 0, 999, &bad, err)))
        return rc;
    c->status_bad_min = (unsigned)bad;
    return 0;
}

static int load_labels(const slic_yaml_node *root, struct agent_config *c, struct slic_errmsg *err)
{
    const char **keys = NULL;
    size_t n = 0;
    int rc = slic_yaml_get_strings(root, "labels", 0, &keys, &n, err);
    if (rc || !keys)
        return rc;
    const slic_yaml_node *node = slic_yaml_get(root, "labels");
    if (n > SLIC_SERIES_LABELS_MAX)
        rc = slic_yaml_error(node, err, SLIC_ECONFIG, "at most %d label keys may be kept",
                             SLIC_SERIES_LABELS_MAX);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!slic_label_key_valid(keys[i]))
            rc = slic_yaml_error(node, err, SLIC_ECONFIG,
                                 "\"%s\" is not a label key: expected [A-Za-z_][A-Za-z0-9_]*",
                                 keys[i]);
    }
    char **copy = rc ? NULL : slic_calloc(n, sizeof *copy);
    if (!rc && !copy)
        rc = SLIC_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = agent_config_set_string(&copy[i], keys[i]);
        if (rc) {
            while (i-- > 0)
                slic_free(copy[i]);
            slic_free(copy);
        }
    }
    slic_free(keys);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->n_label_keys; i++)
        slic_free(c->label_keys[i]);
    slic_free(c->label_keys);
    c->label_keys = copy;
    c->n_label_keys = n;
    return 0;
}

/* slis: {checkout: {thresholds: [300ms, 1s]}}: exact counters the agent keeps from the start. */
static int load_sli(const slic_yaml_node *key, const slic_yaml_node *val,
                    struct slic_sli_thresholds *t, struct slic_errmsg *err)
{
    static const char *const keys[] = {"thresholds", NULL};
    const char *name = slic_yaml_text(key);
    if (!name || !slic_name_valid(name))
        return slic_yaml_error(key, err, SLIC_ECONFIG, "\"%s\" is not a valid SLI name",
                               name ? name : "");
    const slic_yaml_node *seq = NULL;
    int rc;
    if ((rc = slic_yaml_check_keys(val, keys, err)) ||
        (rc = slic_yaml_get_sequence(val, "thresholds", SLIC_YAML_REQUIRED, &seq, err)))
        return rc;
    size_t n = slic_yaml_len(seq);
    if (n > SLIC_SERIES_THRESHOLDS_MAX)
        return slic_yaml_error(seq, err, SLIC_ECONFIG, "at most %d thresholds per SLI",
                               SLIC_SERIES_THRESHOLDS_MAX);
    if (agent_config_set_string(&t->sli, name) ||
        !(t->thresholds = slic_calloc(n + 1, sizeof *t->thresholds)))
        return SLIC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if ((rc = slic_yaml_as_duration(slic_yaml_item(seq, i), 1e-6, 86400, &t->thresholds[i],
                                        err)) != 0)
            return rc;
        if (i > 0 && !(t->thresholds[i] > t->thresholds[i - 1]))
            return slic_yaml_error(slic_yaml_item(seq, i), err, SLIC_ECONFIG,
                                   "thresholds must ascend");
        t->n_thresholds = i + 1;
    }
    return 0;
}

static int load_slis(const slic_yaml_node *root, struct agent_config *c, struct slic_errmsg *err)
{
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "slis", 0, &m, err);
    if (rc || !m)
        return rc;
    size_t n = slic_yaml_len(m);
    thresholds_fini(c);
    c->n_thresholds = 0;
    if (!(c->thresholds = slic_calloc(n + 1, sizeof *c->thresholds)))
        return SLIC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        c->n_thresholds = i + 1;
        const slic_yaml_node *v = slic_yaml_pair_value(m, i);
        if ((rc = slic_yaml_as_mapping(v, err)) ||
            (rc = load_sli(slic_yaml_pair_key(m, i), v, &c->thresholds[i], err)))
            return rc;
    }
    return 0;
}

static int load_limits(const slic_yaml_node *root, struct agent_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"label_sets_per_sli", "slis", "inflight", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "limits", 0, &m, err);
    if (rc || !m)
        return rc;
    uint64_t sets = c->max_labelsets_per_sli, slis = c->max_slis, inflight = c->inflight;
    if ((rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_uint64(m, "label_sets_per_sli", 0, 1, 10000, &sets, err)) ||
        (rc = slic_yaml_get_uint64(m, "slis", 0, 1, 100000, &slis, err)) ||
        (rc = slic_yaml_get_uint64(m, "inflight", 0, 1, 64, &inflight, err)))
        return rc;
    c->max_labelsets_per_sli = (uint32_t)sets;
    c->max_slis = (uint32_t)slis;
    c->inflight = (unsigned)inflight;
    return 0;
}

/* tls: {ca_file, cert_file, key_file, server_name}. */
static int load_tls(const slic_yaml_node *root, struct agent_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"ca_file", "cert_file", "key_file", "server_name", NULL};
    char **files[] = {&c->tls_ca_file, &c->tls_cert_file, &c->tls_key_file};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "tls", 0, &m, err);
    if (rc || !m || (rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_string_copy(m, "server_name", 0, &c->tls_server_name, err)))
        return rc;
    for (int i = 0; i < 3; i++)
        if ((rc = slic_yaml_get_string_copy(m, keys[i], i == 0 ? SLIC_YAML_REQUIRED : 0, files[i],
                                            err)))
            return rc;
    if (!c->tls_cert_file != !c->tls_key_file)
        return slic_yaml_error(m, err, SLIC_ECONFIG,
                               "cert_file and key_file go together: this agent's certificate "
                               "and its private key");
    for (int i = 0; i < 3; i++)
        if (*files[i] && (rc = slic_file_check_at(slic_yaml_get(m, keys[i]),
                                                  i == 2 ? SLIC_FILE_PRIVATE : 0, err)))
            return rc;
    return 0;
}

/* auth: {key_file}: the key is read now, and kept. */
static int load_auth(const slic_yaml_node *root, struct agent_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {"key_file", NULL};
    const slic_yaml_node *m = NULL;
    int rc = slic_yaml_get_mapping(root, "auth", 0, &m, err);
    if (rc || !m || (rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = slic_yaml_get_string_copy(m, "key_file", SLIC_YAML_REQUIRED, &c->auth_key_file, err)))
        return rc;
    struct slic_errmsg why = {{0}};
    if ((rc = slic_agent_key_file_read(c->auth_key_file, "file", c->auth_key, &why)) != 0)
        return rc == SLIC_ENOMEM ? rc
                                 : slic_yaml_error(slic_yaml_get(m, "key_file"), err, SLIC_ECONFIG,
                                                   "%s", why.text);
    c->auth_key_set = true;
    return 0;
}

int agent_config_check_tls(const struct agent_config *c, struct slic_errmsg *err)
{
    bool tls_url = strncmp(c->aggregator, "tls+tcp://", 10) == 0;
    if (tls_url && !c->tls_ca_file)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "aggregator %s uses TLS: it needs a tls: section with ca_file "
                               "(the CA that signs the aggregator's certificate), and cert_file "
                               "and key_file (this agent's certificate)",
                               c->aggregator);
    if (!tls_url && c->tls_ca_file)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "tls: is set, but aggregator %s is not a tls+tcp:// URL: use "
                               "tls+tcp://HOST:PORT, or remove tls:",
                               c->aggregator);
    return 0;
}

static int load_root(const slic_yaml_node *root, struct agent_config *c, struct slic_errmsg *err)
{
    static const char *const keys[] = {
        "agent_id", "site", "node",   "aggregator", "log_level",   "window", "spool", "listen",
        "labels",   "slis", "limits", "probes",     "access_logs", "tls",    "auth",  NULL};
    struct slic_errmsg why = {{0}};
    int rc;
    if ((rc = slic_yaml_check_keys(root, keys, err)) || (rc = load_identity(root, c, err)) ||
        (rc = load_spool(root, c, err)) || (rc = load_listen(root, c, err)) ||
        (rc = load_labels(root, c, err)) || (rc = load_slis(root, c, err)) ||
        (rc = load_limits(root, c, err)) || (rc = agent_config_load_probes(root, c, err)) ||
        (rc = agent_config_load_tails(root, c, err)) || (rc = load_tls(root, c, err)) ||
        (rc = load_auth(root, c, err)))
        return rc;
    if ((rc = agent_config_check_tls(c, &why)) != 0) {
        const slic_yaml_node *at = slic_yaml_get(root, c->tls_ca_file ? "tls" : "aggregator");
        return slic_yaml_error(at ? at : root, err, rc, "%s", why.text);
    }
    return 0;
}

int agent_config_finish(struct agent_config *c)
{
    return c->agent_id_set ? 0 : agent_config_set_string(&c->agent_id, c->node);
}

int agent_config_load(const char *path, struct agent_config *out, struct slic_errmsg *err)
{
    struct agent_config c;
    slic_yaml_stream *y = NULL;
    int rc = agent_config_defaults(&c);
    if (rc)
        return rc;
    if ((rc = slic_yaml_load_file(path, NULL, &y, err)) != 0)
        goto fail;
    if (slic_yaml_doc_count(y) > 1) {
        rc = slic_yaml_error(slic_yaml_doc(y, 1), err, SLIC_ECONFIG,
                             "a configuration file holds one YAML document");
        goto fail;
    }
    if (slic_yaml_doc_count(y) == 1 && !slic_yaml_is_null(slic_yaml_doc(y, 0)) &&
        (rc = load_root(slic_yaml_doc(y, 0), &c, err)) != 0)
        goto fail;
    if ((rc = agent_config_set_string(&c.source, path)) != 0 || (rc = agent_config_finish(&c)) != 0)
        goto fail;
    slic_yaml_destroy(y);
    *out = c;
    return 0;
fail:
    slic_yaml_destroy(y);
    agent_config_fini(&c);
    return rc;
}
