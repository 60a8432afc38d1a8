/* Reading the `probes:` and `access_logs:` sections of slic-agent's configuration. */
#include "config_sources.h"

#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void probe_fini(struct agent_config_probe *p)
{
    slic_free(p->sli);
    slic_free(p->target);
    slic_free(p->body_contains);
    slic_free(p->ca_file);
}

static void tail_fini(struct agent_config_tail *t)
{
    slic_free(t->sli);
    slic_free(t->path);
    slic_free(t->latency_key);
    slic_free(t->status_key);
    slic_free(t->path_key);
}

void agent_config_sources_fini(struct agent_config *c)
{
    for (size_t i = 0; i < c->n_probes; i++)
        probe_fini(&c->probes[i]);
    slic_free(c->probes);
    c->probes = NULL;
    c->n_probes = 0;
    for (size_t i = 0; i < c->n_tails; i++)
        tail_fini(&c->tails[i]);
    slic_free(c->tails);
    c->tails = NULL;
    c->n_tails = 0;
}

static int take_sli(const slic_yaml_node *map, char **field, struct slic_errmsg *err)
{
    int rc = slic_yaml_get_string_copy(map, "sli", SLIC_YAML_REQUIRED, field, err);
    if (rc == 0 && !slic_name_valid(*field))
        rc = slic_yaml_error(slic_yaml_get(map, "sli"), err, SLIC_ECONFIG,
                             "\"%s\" is not a valid SLI name: expected 1..%d characters of "
                             "[A-Za-z0-9_.:-]",
                             *field, SLIC_NAME_MAX);
    return rc;
}

/* expect_status: [200, "2xx", "200-299"]: each item parsed by probe.h's parser. */
static int load_expect_status(const slic_yaml_node *m, struct agent_config_probe *p,
                              struct slic_errmsg *err)
{
    const char **v = NULL;
    size_t n = 0;
    int rc = slic_yaml_get_strings(m, "expect_status", 0, &v, &n, err);
    if (rc || !v)
        return rc;
    const slic_yaml_node *node = slic_yaml_get(m, "expect_status");
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct agent_probe_status one;
        struct slic_errmsg why = {{0}};
        if (agent_probe_status_parse(v[i], &one, &why) != 0)
            rc = slic_yaml_error(node, err, SLIC_ECONFIG, "%s", why.text);
        else if (p->status.n + one.n > AGENT_PROBE_STATUS_RANGES_MAX)
            rc = slic_yaml_error(node, err, SLIC_ECONFIG, "at most %d status ranges",
                                 AGENT_PROBE_STATUS_RANGES_MAX);
        for (size_t k = 0; rc == 0 && k < one.n; k++)
            p->status.r[p->status.n++] = one.r[k];
    }
    slic_free(v);
    return rc;
}

struct agent_probe_config agent_config_probe_view(const struct agent_config_probe *p)
{
    return (struct agent_probe_config){.sli = p->sli,
                                       .kind = p->kind,
                                       .target = p->target,
                                       .interval = p->interval_s,
                                       .timeout = p->timeout_s,
                                       .status = p->status,
                                       .body_match = p->body_contains,
                                       .ca_file = p->ca_file,
                                       .insecure = p->insecure};
}

static int load_probe(const slic_yaml_node *m, struct agent_config_probe *p,
                      struct slic_errmsg *err)
{
    static const char *const keys[] = {
        "sli",           "http",          "tcp",     "interval", "timeout",
        "expect_status", "body_contains", "ca_file", "insecure", NULL};
    int rc;
    p->interval_s = 10;
    p->timeout_s = 0; /* probe.h's default: min(5 s, interval / 2) */
    if ((rc = slic_yaml_as_mapping(m, err)) || (rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = take_sli(m, &p->sli, err)) ||
        (rc = slic_yaml_get_string_copy(m, "http", 0, &p->target, err)))
        return rc;
    p->kind = p->target ? AGENT_PROBE_HTTP : AGENT_PROBE_TCP;
    if (!p->target && (rc = slic_yaml_get_string_copy(m, "tcp", 0, &p->target, err)) != 0)
        return rc;
    if (!p->target || (slic_yaml_get(m, "http") && slic_yaml_get(m, "tcp")))
        return slic_yaml_error(m, err, SLIC_ECONFIG,
                               "a probe has exactly one of http: URL or tcp: HOST:PORT");
    if (p->kind == AGENT_PROBE_HTTP && strncmp(p->target, "http://", 7) != 0 &&
        strncmp(p->target, "https://", 8) != 0)
        return slic_yaml_error(slic_yaml_get(m, "http"), err, SLIC_ECONFIG,
                               "expected an http:// or https:// URL, got \"%s\"", p->target);
    if ((rc = slic_yaml_get_duration(m, "interval", 0, 0.1, 86400, &p->interval_s, err)) ||
        (rc = slic_yaml_get_duration(m, "timeout", 0, 0.001, 3600, &p->timeout_s, err)) ||
        (rc = load_expect_status(m, p, err)) ||
        (rc = slic_yaml_get_string_copy(m, "body_contains", 0, &p->body_contains, err)) ||
        (rc = slic_yaml_get_string_copy(m, "ca_file", 0, &p->ca_file, err)) ||
        (rc = slic_yaml_get_bool(m, "insecure", 0, &p->insecure, err)))
        return rc;
    if (p->timeout_s > 0 && p->timeout_s >= p->interval_s)
        return slic_yaml_error(slic_yaml_get(m, "timeout") ? slic_yaml_get(m, "timeout") : m, err,
                               SLIC_ECONFIG, "the timeout must be shorter than the interval");
    /* Everything the probe itself will check (URL syntax, CA file readable...), now, so that
     * --check-config and a SIGHUP reload catch it with the file and line. */
    struct agent_probe_config view = agent_config_probe_view(p);
    struct slic_errmsg why = {{0}};
    if (agent_probe_config_validate(&view, &why) != 0)
        return slic_yaml_error(m, err, SLIC_ECONFIG, "%s", why.text);
    return 0;
}

int agent_config_load_probes(const slic_yaml_node *root, struct agent_config *c,
                             struct slic_errmsg *err)
{
    const slic_yaml_node *seq = NULL;
    int rc = slic_yaml_get_sequence(root, "probes", 0, &seq, err);
    if (rc || !seq)
        return rc;
    size_t n = slic_yaml_len(seq);
    if (n > AGENT_CONFIG_PROBES_MAX)
        return slic_yaml_error(seq, err, SLIC_ECONFIG, "at most %d probes",
                               AGENT_CONFIG_PROBES_MAX);
    struct agent_config_probe *v = slic_calloc(n + 1, sizeof *v);
    if (!v)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = load_probe(slic_yaml_item(seq, i), &v[i], err);
    for (size_t i = 0; i < c->n_probes; i++)
        probe_fini(&c->probes[i]);
    slic_free(c->probes);
    c->probes = v;
    c->n_probes = n;
    return rc;
}

static int load_latency_unit(const slic_yaml_node *m, struct agent_config_tail *t,
                             struct slic_errmsg *err)
{
    const char *u = NULL;
    int rc = slic_yaml_get_string(m, "latency_unit", 0, &u, err);
    if (rc || !u)
        return rc;
    if (strcmp(u, "s") == 0)
        t->latency_unit_s = 1;
    else if (strcmp(u, "ms") == 0)
        t->latency_unit_s = 1e-3;
    else if (strcmp(u, "us") == 0)
        t->latency_unit_s = 1e-6;
    else
        return slic_yaml_error(slic_yaml_get(m, "latency_unit"), err, SLIC_ECONFIG,
                               "expected s (nginx $request_time), ms or us (Apache %%D), got "
                               "\"%s\"",
                               u);
    return 0;
}

static int load_tail(const slic_yaml_node *m, struct agent_config_tail *t, struct slic_errmsg *err)
{
    static const char *const keys[] = {"sli",          "path",        "format",     "latency_field",
                                       "latency_unit", "latency_key", "status_key", "path_key",
                                       "route_label",  "from_start",  NULL};
    const char *format = NULL;
    int64_t field = -1;
    int rc;
    t->latency_unit_s = 1;
    if ((rc = slic_yaml_as_mapping(m, err)) || (rc = slic_yaml_check_keys(m, keys, err)) ||
        (rc = take_sli(m, &t->sli, err)) ||
        (rc = slic_yaml_get_string_copy(m, "path", SLIC_YAML_REQUIRED, &t->path, err)) ||
        (rc = slic_yaml_get_string(m, "format", 0, &format, err)))
        return rc;
    if (!format || strcmp(format, "combined") == 0)
        t->format = AGENT_TAIL_COMBINED;
    else if (strcmp(format, "json") == 0)
        t->format = AGENT_TAIL_JSON;
    else
        return slic_yaml_error(slic_yaml_get(m, "format"), err, SLIC_ECONFIG,
                               "expected combined or json, got \"%s\"", format);
    if ((rc = slic_yaml_get_int64(m, "latency_field", 0, -32, 32, &field, err)) ||
        (rc = load_latency_unit(m, t, err)) ||
        (rc = agent_config_set_string(&t->latency_key, "request_time")) ||
        (rc = agent_config_set_string(&t->status_key, "status")) ||
        (rc = agent_config_set_string(&t->path_key, "path")) ||
        (rc = slic_yaml_get_string_copy(m, "latency_key", 0, &t->latency_key, err)) ||
        (rc = slic_yaml_get_string_copy(m, "status_key", 0, &t->status_key, err)) ||
        (rc = slic_yaml_get_string_copy(m, "path_key", 0, &t->path_key, err)) ||
        (rc = slic_yaml_get_bool(m, "route_label", 0, &t->route_label, err)) ||
        (rc = slic_yaml_get_bool(m, "from_start", 0, &t->from_start, err)))
        return rc;
    t->latency_field = (int)field;
    return 0;
}

int agent_config_load_tails(const slic_yaml_node *root, struct agent_config *c,
                            struct slic_errmsg *err)
{
    const slic_yaml_node *seq = NULL;
    int rc = slic_yaml_get_sequence(root, "access_logs", 0, &seq, err);
    if (rc || !seq)
        return rc;
    size_t n = slic_yaml_len(seq);
    if (n > AGENT_CONFIG_TAILS_MAX)
        return slic_yaml_error(seq, err, SLIC_ECONFIG, "at most %d access logs",
                               AGENT_CONFIG_TAILS_MAX);
    struct agent_config_tail *v = slic_calloc(n + 1, sizeof *v);
    if (!v)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = load_tail(slic_yaml_item(seq, i), &v[i], err);
    for (size_t i = 0; i < c->n_tails; i++)
        tail_fini(&c->tails[i]);
    slic_free(c->tails);
    c->tails = v;
    c->n_tails = n;
    return rc;
}
