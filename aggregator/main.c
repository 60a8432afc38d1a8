/* slic-aggregator: arguments -> configuration -> store, writer, server -> wait for signals ->
 * drain and stop. Signals are blocked in every thread and taken here with sigtimedwait, so
 * SIGHUP (reload) and SIGTERM (drain) are handled in plain code, not in signal handlers. */
#include "batch.h"
#include "config.h"
#include "forward.h"
#include "hmac.h"
#include "http.h"
#include "log.h"
#include "openslo.h"
#include "server.h"
#include "alertpush.h"
#include "alloc.h"
#include "slo_engine.h"
#include "stats.h"
#include "store.h"
#include "timeutil.h"
#include "validate.h"
#include "version.h"
#include "writer.h"

#include "alloc.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More --slo arguments than any deployment needs; a directory holds any number of files. */
#define MAX_SLO_ARGS 64

struct args {
    const char *config;
    const char *listen;
    const char *data_dir;
    const char *http;
    const char *slo[MAX_SLO_ARGS];
    size_t n_slo;
    int check_config;
    const char *secret_file;
    const char *agent_key; /* --agent-key: print this agent's key and exit */
};

static void usage(FILE *to)
{
    fprintf(to,
            "usage: slic-aggregator [--config FILE] [options]\n"
            "\n"
            "Receives latency sketches from slic agents over nng, merges them exactly once into\n"
            "an LMDB store (10 s / 1 min / 1 h rollups per node, site and across sites) and\n"
            "answers `slic` queries. Runs with built-in defaults when no file is given.\n"
            "\n"
            "options:\n"
            "  --config FILE     YAML configuration (see examples/slic-aggregator.yaml)\n"
            "  --listen URL      override `listen` (default tcp://127.0.0.1:7710)\n"
            "  --data-dir DIR    override `data_dir` (default ./slic-data)\n"
            "  --http ADDR       override `http.listen` (default 127.0.0.1:7711; \"\" disables)\n"
            "  --slo PATH        OpenSLO file or directory; repeatable; replaces `slo.paths`\n"
            "  --secret-file F   override `auth.secret_file`: the secret agents' keys derive from\n"
            "  --agent-key ID    print the key for agent_id ID (hex, for its auth.key_file), from\n"
            "                    --secret-file or the configuration's auth.secret_file, and exit\n"
            "  --check-config    load and check the configuration, print it, and exit\n"
            "  --help            this text\n"
            "  --version         print the version\n"
            "\n"
            "signals: SIGHUP reloads the configuration and the SLO files (a bad one is rejected\n"
            "and the running one kept); SIGTERM or SIGINT stops accepting batches, commits and\n"
            "acknowledges what is queued, closes the store cleanly and exits.\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"data-dir", required_argument, NULL, 'd'},
                                         {"http", required_argument, NULL, 't'},
                                         {"slo", required_argument, NULL, 's'},
                                         {"check-config", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"secret-file", required_argument, NULL, 'S'},
                                         {"agent-key", required_argument, NULL, 'K'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 'l':
            a->listen = optarg;
            break;
        case 'd':
            a->data_dir = optarg;
            break;
        case 't':
            a->http = optarg;
            break;
        case 's':
            if (a->n_slo == MAX_SLO_ARGS) {
                fprintf(stderr, "slic-aggregator: at most %d --slo arguments; name a directory\n",
                        MAX_SLO_ARGS);
                return 2;
            }
            a->slo[a->n_slo++] = optarg;
            break;
        case 'k':
            a->check_config = 1;
            break;
        case 'S':
            a->secret_file = optarg;
            break;
        case 'K':
            a->agent_key = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("slic-aggregator %s\n", SLIC_VERSION);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "slic-aggregator: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return 0;
}

/* --slo replaces the file's slo.paths, as the other options replace their keys. */
static int replace_slo_paths(struct agg_config *c, const char *const *paths, size_t n)
{
    char **v = slic_calloc(n, sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        if (!(v[i] = strdup(paths[i]))) {
            while (i-- > 0)
                free(v[i]);
            slic_free(v);
            v = NULL;
        }
    }
    if (!v) {
        agg_config_fini(c);
        return SLIC_ENOMEM;
    }
    for (size_t i = 0; i < c->n_slo_paths; i++)
        slic_free(c->slo_paths[i]);
    slic_free(c->slo_paths);
    c->slo_paths = v;
    c->n_slo_paths = n;
    return 0;
}

/* Loads the file (or the defaults) and applies command-line overrides. */
static int load_config(const struct args *a, struct agg_config *c, struct slic_errmsg *err)
{
    int rc = a->config ? agg_config_load(a->config, c, err) : agg_config_defaults(c);
    if (rc)
        return rc;
    const char *over[3] = {a->listen, a->data_dir, a->http};
    char **field[3] = {&c->listen, &c->data_dir, &c->http_listen};
    struct agg_http_addr addr;
    struct slic_errmsg why = {{0}};
    if (a->http && a->http[0] && agg_http_addr_parse(a->http, &addr, &why) != 0) {
        agg_config_fini(c);
        return slic_errmsg_set(err, SLIC_ECONFIG, "--http: %s", why.text);
    }
    for (int i = 0; i < 3; i++) {
        if (!over[i])
            continue;
        char *copy = strdup(over[i]);
        if (!copy) {
            agg_config_fini(c);
            return SLIC_ENOMEM;
        }
        free(*field[i]);
        *field[i] = copy;
    }
    /* The overrides may have changed what the file's own checks saw. */
    if ((a->secret_file &&
         (rc = agg_config_read_secret(c, a->secret_file, "--secret-file", err))) ||
        (rc = agg_config_check_tls(c, err))) {
        agg_config_fini(c);
        return rc;
    }
    return a->n_slo ? replace_slo_paths(c, a->slo, a->n_slo) : 0;
}

/* --agent-key: the one place a key is printed, on purpose, for provisioning one agent. */
static int print_agent_key(const struct args *a)
{
    struct agg_config c = {0}; /* load_config leaves it so on failure: fini stays safe */
    struct slic_errmsg err = {{0}};
    uint8_t key[SLIC_HMAC_LEN];
    char hex[SLIC_AGENT_KEY_HEX_LEN + 1];
    if (!slic_name_valid(a->agent_key)) {
        fprintf(stderr,
                "slic-aggregator: --agent-key: '%s' is not an agent_id: expected 1..%d "
                "characters of [A-Za-z0-9_.:-]\n",
                a->agent_key, SLIC_NAME_MAX);
        return 2;
    }
    int rc = load_config(a, &c, &err);
    if (rc == 0 && !c.auth_secret)
        rc = slic_errmsg_set(&err, SLIC_ECONFIG,
                             "--agent-key needs the secret: --secret-file FILE, or --config "
                             "FILE with auth.secret_file");
    if (rc == 0)
        rc = slic_agent_key_derive(c.auth_secret, c.auth_secret_len, a->agent_key, key);
    if (rc == 0) {
        slic_hex_encode(key, sizeof key, hex);
        printf("%s\n", hex);
        slic_wipe(hex, sizeof hex);
        slic_wipe(key, sizeof key);
    } else {
        fprintf(stderr, "slic-aggregator: %s\n", err.text[0] ? err.text : slic_strerror(rc));
    }
    agg_config_fini(&c);
    return rc ? 1 : 0;
}

static void print_config(const struct agg_config *c)
{
    printf("configuration from %s: OK\n"
           "  listen            %s\n"
           "  data_dir          %s\n"
           "  http              %s\n"
           "  durable           %s\n"
           "  map size          %llu bytes, growing to %llu\n"
           "  retention         10s: %llds, 1m: %llds, 1h: %llds\n"
           "  max request       %llu bytes, %u contexts, windows up to %llds in the future\n",
           c->source, c->listen, c->data_dir, c->http_listen[0] ? c->http_listen : "off",
           c->durable ? "yes (synced commits)" : "no", (unsigned long long)c->map_size,
           (unsigned long long)c->map_size_max, (long long)c->retention[0],
           (long long)c->retention[1], (long long)c->retention[2],
           (unsigned long long)c->max_request_bytes, c->contexts, (long long)c->max_future_seconds);
    printf("  slo               %s", c->n_slo_paths ? "" : "none");
    for (size_t i = 0; i < c->n_slo_paths; i++)
        printf("%s%s", i ? ", " : "", c->slo_paths[i]);
    printf(", evaluated every %gs\n", c->slo_evaluate_interval);
    if (c->tls_cert_file)
        printf("  tls               cert %s, key %s; client certificates required, signed by "
               "%s\n",
               c->tls_cert_file, c->tls_key_file, c->tls_client_ca_file);
    if (c->auth_secret)
        printf("  auth              agents' keys derive from the secret in %s (%zu bytes); "
               "unsigned batches %s\n",
               c->auth_secret_file, c->auth_secret_len,
               c->auth_require_signed ? "refused" : "ACCEPTED (require_signed_batches: false)");
}

/* ---- SLOs ---- */

/* Loads the configured SLO files: a set loaded whole, or an error naming file, line and key.
 * The report (skipped documents) goes to the caller. */
static int load_slos(const struct agg_config *c, struct agg_slo_set **set,
                     struct agg_openslo_report *rep, struct slic_errmsg *err)
{
    return agg_openslo_load((const char *const *)c->slo_paths, c->n_slo_paths, set, rep, err);
}

static void log_slos(const struct agg_slo_set *set, const struct agg_openslo_report *rep)
{
    size_t n_sli = 0, n_thr = 0;
    const struct slic_sli_thresholds *t = agg_slo_set_thresholds(set, &n_sli);
    for (size_t i = 0; i < n_sli; i++)
        n_thr += t[i].n_thresholds;
    agg_openslo_report_log(rep);
    SLIC_INFO("main",
              "%zu SLOs loaded from %zu files, %zu documents skipped; agents asked to count %zu "
              "latency thresholds on %zu SLIs",
              set->n_defs, rep->n_files, rep->n_skipped, n_thr, n_sli);
}

/* --check-config's part: the SLO files load, and what was skipped, one line each. */
static int check_slos(const struct agg_config *c)
{
    struct agg_slo_set *set = NULL;
    struct agg_openslo_report rep;
    struct slic_errmsg err = {{0}};
    int rc = load_slos(c, &set, &rep, &err);
    if (rc) {
        fprintf(stderr, "slic-aggregator: SLOs: %s\n", err.text[0] ? err.text : slic_strerror(rc));
        return 1;
    }
    printf("%zu SLOs loaded, %zu skipped\n", set->n_defs, rep.n_skipped);
    for (size_t i = 0; i < rep.n_skipped; i++) {
        char line[1024];
        agg_openslo_skipped_format(&rep.skipped[i], line, sizeof line);
        printf("  %s\n", line);
    }
    agg_openslo_report_fini(&rep);
    agg_slo_set_destroy(set);
    return 0;
}

static void server_options(const struct agg_config *c, struct agg_server_options *o)
{
    agg_server_options_default(o);
    o->listen = c->listen;
    o->recv_max_bytes = c->max_request_bytes;
    o->contexts = c->contexts;
    o->max_future_seconds = c->max_future_seconds;
    o->max_age_seconds = c->retention[2];
    o->max_label_sets_per_sli = c->max_label_sets_per_sli;
}

struct daemon {
    struct agg_config cfg;
    struct agg_stats stats;
    agg_auth *auth;
    agg_store *store;
    agg_forward *forward;
    agg_writer *writer;
    agg_server *server;
    agg_http *http;
    agg_slo_engine *slo;
    agg_alertpush *push;
};

/* The engine's alerts, as the pusher takes them; runs on the engine's thread each cycle. */
static void push_alerts(void *ctx, const struct agg_slo_engine_alert *alerts, size_t n)
{
    agg_alertpush *push = ctx;
    struct agg_alertpush_alert *v = slic_calloc(n + 1, sizeof *v);
    if (!v) {
        SLIC_ERROR("main", "out of memory handing %zu alerts to the pusher; next cycle retries", n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct agg_slo_engine_alert *a = &alerts[i];
        v[i] = (struct agg_alertpush_alert){
            .slo = a->slo,
            .site = a->site,
            .severity = a->severity,
            .long_window_s = a->long_window_s,
            .short_window_s = a->short_window_s,
            .long_rate = a->long_rate,
            .short_rate = a->short_rate,
            .threshold = a->burn_rate,
            .budget_remaining = a->budget_remaining,
            .runbook_url = a->runbook_url,
            .state =
                a->state == AGG_SLO_ALERT_FIRING ? AGG_ALERTPUSH_FIRING : AGG_ALERTPUSH_RESOLVED,
            .starts_at = a->fired_at,
            .ends_at = a->resolved_at,
        };
    }
    agg_alertpush_update(push, v, n);
    slic_free(v);
}

/* Starts the pusher when the configuration names any alert target. */
static int start_alertpush(struct daemon *d, struct slic_errmsg *err)
{
    size_t n = d->cfg.n_alertmanagers + d->cfg.n_webhooks;
    if (n == 0)
        return 0;
    struct agg_alertpush_target targets[8];
    for (size_t i = 0; i < d->cfg.n_alertmanagers; i++)
        targets[i] =
            (struct agg_alertpush_target){AGG_ALERTPUSH_ALERTMANAGER, d->cfg.alertmanagers[i]};
    for (size_t i = 0; i < d->cfg.n_webhooks; i++)
        targets[d->cfg.n_alertmanagers + i] =
            (struct agg_alertpush_target){AGG_ALERTPUSH_WEBHOOK, d->cfg.webhooks[i]};
    struct agg_alertpush_options o;
    agg_alertpush_options_default(&o);
    o.targets = targets;
    o.n_targets = n;
    o.resend_interval_s = d->cfg.alert_resend_interval;
    return agg_alertpush_create(&o, &d->push, err);
}

/* Who may connect and send (TLS files, batch-signing secret), for the server to borrow. */
static int auth_start(struct daemon *d, struct slic_errmsg *err)
{
    struct agg_auth_options ao = {
        .tls_cert_file = d->cfg.tls_cert_file,
        .tls_key_file = d->cfg.tls_key_file,
        .tls_client_ca_file = d->cfg.tls_client_ca_file,
        .secret = d->cfg.auth_secret,
        .secret_len = d->cfg.auth_secret_len,
        .require_signed = d->cfg.auth_require_signed,
    };
    int rc = agg_auth_create(&ao, &d->auth, err);
    if (rc == 0 && !d->cfg.auth_secret)
        SLIC_WARN("main", "no auth.secret_file: batches are not signed, so any peer that can "
                          "connect may send data as any agent_id");
    return rc;
}

/* Takes set. */
static int daemon_start(struct daemon *d, struct agg_slo_set *set, struct slic_errmsg *err)
{
    struct agg_store_options so = {
        .map_size_initial = d->cfg.map_size,
        .map_size_max = d->cfg.map_size_max,
        .nosync = !d->cfg.durable,
        .retention_10s = d->cfg.retention[0],
        .retention_1m = d->cfg.retention[1],
        .retention_1h = d->cfg.retention[2],
    };
    int rc = agg_store_open(d->cfg.data_dir, &so, &d->store, err);
    /* Forwarding is enabled in the store before the writer can commit anything. */
    if (rc || (rc = agg_forward_start_from_config(&d->cfg, d->store, &d->forward, err))) {
        agg_slo_set_destroy(set);
        return rc;
    }
    if ((rc = start_alertpush(d, err)) != 0) {
        agg_slo_set_destroy(set);
        return rc;
    }
    struct agg_slo_engine_options eo;
    agg_slo_engine_options_default(&eo);
    eo.evaluate_interval_s = d->cfg.slo_evaluate_interval;
    if (d->push) {
        eo.on_alerts = push_alerts;
        eo.on_alerts_ctx = d->push;
    }
    if ((rc = agg_slo_engine_create(d->store, &eo, set, &d->slo, err)) != 0)
        return rc;
    struct agg_writer_options wo;
    agg_writer_options_default(&wo);
    wo.max_group_batches = d->cfg.group_max_batches;
    wo.expire_interval_seconds = d->cfg.expire_interval_seconds;
    if ((rc = agg_writer_create(d->store, &wo, &d->writer)) != 0)
        return slic_errmsg_set(err, rc, "cannot start the writer thread: %s", slic_strerror(rc));
    if ((rc = auth_start(d, err)) != 0)
        return rc;
    struct agg_server_options o;
    server_options(&d->cfg, &o);
    o.slo = d->slo;
    o.auth = d->auth;
    if ((rc = agg_server_create(&o, d->store, d->writer, &d->stats, &d->server, err)) != 0)
        return rc;
    if (d->cfg.http_listen[0]) {
        struct agg_http_options ho;
        struct agg_http_hooks hooks;
        agg_http_options_default(&ho);
        ho.listen = d->cfg.http_listen;
        ho.forward = d->forward;
        agg_slo_engine_hooks(d->slo, &hooks);
        if ((rc = agg_http_create(&ho, d->store, d->writer, &d->stats, &hooks, &d->http, err)))
            return rc;
    }
    if ((rc = agg_slo_engine_start(d->slo)) != 0)
        return slic_errmsg_set(err, rc, "cannot start the SLO thread: %s", slic_strerror(rc));
    return 0;
}

/* Drains in dependency order: /healthz says 503 and HTTP lets go of the writer, no new
 * batches, commit and ack the queued ones, stop HTTP and nng (both read the SLO engine), stop
 * the SLO engine (it reads the store), close LMDB. */
static void daemon_stop(struct daemon *d)
{
    agg_http_drain(d->http);
    if (d->server)
        agg_server_drain(d->server);
    agg_writer_destroy(d->writer);
    agg_http_destroy(d->http);
    agg_server_destroy(d->server);
    agg_auth_destroy(d->auth); /* after the server, which borrows it */
    agg_slo_engine_destroy(d->slo);
    agg_alertpush_destroy(d->push); /* after the engine, which calls it */
    /* Never waits on the upstream; after HTTP, before the store it reads closes. */
    agg_forward_destroy(d->forward);
    agg_store_close(d->store);
    agg_config_fini(&d->cfg);
}

/* SIGHUP's SLO part: a set loaded whole replaces the running one and is evaluated at once; a
 * broken file keeps the running set. */
static void reload_slos(struct daemon *d, const struct agg_config *fresh)
{
    struct agg_slo_set *set = NULL;
    struct agg_openslo_report rep;
    struct slic_errmsg err = {{0}};
    int rc = load_slos(fresh, &set, &rep, &err);
    if (rc) {
        SLIC_ERROR("main", "SLO reload rejected, keeping the running SLOs: %s",
                   err.text[0] ? err.text : slic_strerror(rc));
        return;
    }
    log_slos(set, &rep);
    agg_openslo_report_fini(&rep);
    if ((rc = agg_slo_engine_reload(d->slo, set, fresh->slo_evaluate_interval, &err)) != 0)
        SLIC_ERROR("main", "SLO reload rejected, keeping the running SLOs: %s",
                   err.text[0] ? err.text : slic_strerror(rc));
}

static bool same_path(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* True when the tls: or auth: settings differ (the secret compared by value, not by path). */
static bool security_changed(const struct agg_config *a, const struct agg_config *b)
{
    return !same_path(a->tls_cert_file, b->tls_cert_file) ||
           !same_path(a->tls_key_file, b->tls_key_file) ||
           !same_path(a->tls_client_ca_file, b->tls_client_ca_file) ||
           a->auth_require_signed != b->auth_require_signed ||
           a->auth_secret_len != b->auth_secret_len ||
           (a->auth_secret && !slic_equal_ct(a->auth_secret, b->auth_secret, a->auth_secret_len));
}

static void reload(struct daemon *d, const struct args *a)
{
    struct agg_config fresh;
    struct slic_errmsg err = {{0}};
    int rc = load_config(a, &fresh, &err);
    if (rc) {
        SLIC_ERROR("main", "configuration reload rejected, keeping the running one: %s",
                   err.text[0] ? err.text : slic_strerror(rc));
        return;
    }
    if (strcmp(fresh.listen, d->cfg.listen) != 0 || strcmp(fresh.data_dir, d->cfg.data_dir) != 0 ||
        strcmp(fresh.http_listen, d->cfg.http_listen) != 0)
        SLIC_WARN("main", "listen, data_dir and http changes take effect only after a restart");
    if (security_changed(&fresh, &d->cfg))
        SLIC_WARN("main", "tls: and auth: changes take effect only after a restart");
    slic_log_set_level(fresh.log_level);
    struct agg_server_options o;
    server_options(&fresh, &o);
    agg_server_set_limits(d->server, &o);
    reload_slos(d, &fresh);
    SLIC_INFO("main", "configuration reloaded from %s", fresh.source);
    agg_config_fini(&fresh);
}

static void log_totals(const struct agg_stats *s)
{
    SLIC_INFO("main",
              "stopped cleanly: %llu batches accepted, %llu duplicate, %llu rejected (%llu of "
              "them unsigned, %llu wrongly signed), %llu told to retry; %llu queries",
              (unsigned long long)s->batches_accepted, (unsigned long long)s->batches_duplicate,
              (unsigned long long)s->batches_rejected, (unsigned long long)s->batches_unsigned,
              (unsigned long long)s->batches_forged, (unsigned long long)s->batches_retry,
              (unsigned long long)s->queries);
}

static int serve(struct daemon *d, const struct args *a, const sigset_t *sigs)
{
    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(sigs, NULL, &tick);
        if (sig == SIGHUP) {
            reload(d, a);
        } else if (sig == SIGTERM || sig == SIGINT) {
            SLIC_INFO("main", "%s: draining (%u requests in flight, %u batches queued)",
                      sig == SIGTERM ? "SIGTERM" : "SIGINT", agg_server_busy(d->server),
                      agg_writer_pending(d->writer));
            return 0;
        } else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            SLIC_ERROR("main", "sigtimedwait: %s", strerror(errno));
            return 1;
        }
    }
}

int main(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (a.agent_key)
        return print_agent_key(&a);
    struct daemon d = {0};
    struct slic_errmsg err = {{0}};
    if ((rc = load_config(&a, &d.cfg, &err)) != 0) {
        fprintf(stderr, "slic-aggregator: %s\n", err.text[0] ? err.text : slic_strerror(rc));
        return 1;
    }
    if (a.check_config) {
        print_config(&d.cfg);
        rc = check_slos(&d.cfg);
        agg_config_fini(&d.cfg);
        return rc;
    }
    slic_log_set_level(d.cfg.log_level);
    /* Blocked before any thread starts, so every thread inherits the mask and only
     * sigtimedwait below ever sees these signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    SLIC_INFO("main", "slic-aggregator %s starting: configuration from %s, data in %s, %s",
              SLIC_VERSION, d.cfg.source, d.cfg.data_dir,
              d.cfg.durable ? "durable (synced) commits" : "NON-durable commits (durable: false)");
    /* SLOs load before anything starts: a broken file refuses the start, naming file and line. */
    struct agg_slo_set *set = NULL;
    struct agg_openslo_report rep;
    if ((rc = load_slos(&d.cfg, &set, &rep, &err)) != 0) {
        SLIC_ERROR("main", "cannot start: SLOs: %s", err.text[0] ? err.text : slic_strerror(rc));
        agg_config_fini(&d.cfg);
        return 1;
    }
    log_slos(set, &rep);
    agg_openslo_report_fini(&rep);
    if ((rc = daemon_start(&d, set, &err)) != 0) {
        SLIC_ERROR("main", "cannot start: %s", err.text[0] ? err.text : slic_strerror(rc));
        daemon_stop(&d);
        return 1;
    }
    rc = serve(&d, &a, &sigs);
    struct agg_stats totals;
    memcpy(&totals, &d.stats, sizeof totals);
    daemon_stop(&d);
    log_totals(&totals);
    return rc;
}
