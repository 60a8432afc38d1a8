/* slic-aggregator: arguments -> configuration -> store, writer, server -> wait for signals ->
 * drain and stop. Signals are blocked in every thread and taken here with sigtimedwait, so
 * SIGHUP (reload) and SIGTERM (drain) are handled in plain code, not in signal handlers. */
#include "config.h"
#include "log.h"
#include "server.h"
#include "stats.h"
#include "store.h"
#include "timeutil.h"
#include "version.h"
#include "writer.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct args {
    const char *config;
    const char *listen;
    const char *data_dir;
    int check_config;
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
            "  --check-config    load and check the configuration, print it, and exit\n"
            "  --help            this text\n"
            "  --version         print the version\n"
            "\n"
            "signals: SIGHUP reloads the configuration (a bad one is rejected and the running\n"
            "one kept); SIGTERM or SIGINT stops accepting batches, commits and acknowledges what\n"
            "is queued, closes the store cleanly and exits.\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
        {"data-dir", required_argument, NULL, 'd'}, {"check-config", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
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
        case 'k':
            a->check_config = 1;
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

/* Loads the file (or the defaults) and applies command-line overrides. */
static int load_config(const struct args *a, struct agg_config *c, struct slic_errmsg *err)
{
    int rc = a->config ? agg_config_load(a->config, c, err) : agg_config_defaults(c);
    if (rc)
        return rc;
    const char *over[2] = {a->listen, a->data_dir};
    char **field[2] = {&c->listen, &c->data_dir};
    for (int i = 0; i < 2; i++) {
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
    return 0;
}

static void print_config(const struct agg_config *c)
{
    printf("configuration from %s: OK\n"
           "  listen            %s\n"
           "  data_dir          %s\n"
           "  durable           %s\n"
           "  map size          %llu bytes, growing to %llu\n"
           "  retention         10s: %llds, 1m: %llds, 1h: %llds\n"
           "  max request       %llu bytes, %u contexts, windows up to %llds in the future\n",
           c->source, c->listen, c->data_dir, c->durable ? "yes (synced commits)" : "no",
           (unsigned long long)c->map_size, (unsigned long long)c->map_size_max,
           (long long)c->retention[0], (long long)c->retention[1], (long long)c->retention[2],
           (unsigned long long)c->max_request_bytes, c->contexts,
           (long long)c->max_future_seconds);
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
    agg_store *store;
    agg_writer *writer;
    agg_server *server;
};

static int daemon_start(struct daemon *d, struct slic_errmsg *err)
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
    if (rc)
        return rc;
    struct agg_writer_options wo;
    agg_writer_options_default(&wo);
    wo.max_group_batches = d->cfg.group_max_batches;
    wo.expire_interval_seconds = d->cfg.expire_interval_seconds;
    if ((rc = agg_writer_create(d->store, &wo, &d->writer)) != 0)
        return slic_errmsg_set(err, rc, "cannot start the writer thread: %s", slic_strerror(rc));
    struct agg_server_options o;
    server_options(&d->cfg, &o);
    return agg_server_create(&o, d->store, d->writer, &d->stats, &d->server, err);
}

/* Drains in dependency order: no new batches, commit and ack the queued ones, stop nng, close
 * LMDB. */
static void daemon_stop(struct daemon *d)
{
    if (d->server)
        agg_server_drain(d->server);
    agg_writer_destroy(d->writer);
    agg_server_destroy(d->server);
    agg_store_close(d->store);
    agg_config_fini(&d->cfg);
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
    if (strcmp(fresh.listen, d->cfg.listen) != 0 || strcmp(fresh.data_dir, d->cfg.data_dir) != 0)
        SLIC_WARN("main", "listen and data_dir changes take effect only after a restart");
    slic_log_set_level(fresh.log_level);
    struct agg_server_options o;
    server_options(&fresh, &o);
    agg_server_set_limits(d->server, &o);
    SLIC_INFO("main", "configuration reloaded from %s", fresh.source);
    agg_config_fini(&fresh);
}

static void log_totals(const struct agg_stats *s)
{
    SLIC_INFO("main",
              "stopped cleanly: %llu batches accepted, %llu duplicate, %llu rejected, %llu told "
              "to retry; %llu queries",
              (unsigned long long)s->batches_accepted, (unsigned long long)s->batches_duplicate,
              (unsigned long long)s->batches_rejected, (unsigned long long)s->batches_retry,
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
    struct daemon d = {0};
    struct slic_errmsg err = {{0}};
    if ((rc = load_config(&a, &d.cfg, &err)) != 0) {
        fprintf(stderr, "slic-aggregator: %s\n", err.text[0] ? err.text : slic_strerror(rc));
        return 1;
    }
    if (a.check_config) {
        print_config(&d.cfg);
        agg_config_fini(&d.cfg);
        return 0;
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
    if ((rc = daemon_start(&d, &err)) != 0) {
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
