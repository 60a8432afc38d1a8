/* slic-agent: arguments -> configuration -> agent create/run/destroy -> exit code. Also
 * --check-config (load, print, exit) and --status (read the spool of a running or stopped agent,
 * read-only, without disturbing it). */
#include "agent.h"
#include "config.h"
#include "log.h"
#include "status.h"
#include "version.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

struct args {
    const char *config;
    const char *overrides[6]; /* aggregator, spool dir, udp, unix, site, node */
    int check_config;
    int status;
    int json;
};

enum { O_AGGREGATOR, O_SPOOL, O_UDP, O_UNIX, O_SITE, O_NODE };

static void usage(FILE *to)
{
    fprintf(to,
            "usage: slic-agent [--config FILE] [options]\n"
            "\n"
            "Measures what users see on this node — StatsD/DogStatsD timers on UDP and a unix\n"
            "socket, HTTP/TCP probes, web-server access logs — closes aligned windows into\n"
            "latency sketches, keeps them in an LMDB spool and delivers them exactly once to a\n"
            "slic-aggregator. Runs with built-in defaults when no file is given.\n"
            "\n"
            "options:\n"
            "  --config FILE       YAML configuration (see examples/slic-agent.yaml)\n"
            "  --aggregator URL    override `aggregator` (default tcp://127.0.0.1:7710)\n"
            "  --spool-dir DIR     override `spool.dir` (default ./slic-spool)\n"
            "  --udp HOST:PORT     override `listen.udp` (default 127.0.0.1:8125; \"\" = off)\n"
            "  --unix PATH         override `listen.unix` (default ./slic-agent.sock; \"\" = off)\n"
            "  --site NAME         override `site` (default local)\n"
            "  --node NAME         override `node` (default: the host name)\n"
            "  --check-config      load and check the configuration, print it, exit\n"
            "  --status            show the spool and counters of the agent using this spool\n"
            "  --json              with --status: JSON\n"
            "  --help, --version\n"
            "\n"
            "signals: SIGHUP reloads the configuration (a bad one is rejected, the running one\n"
            "kept); SIGTERM closes the open window, spools it, tries to deliver for up to 5 s\n"
            "and exits, leaving anything undelivered in the spool for the next start.\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"config", 1, NULL, 'c'}, {"aggregator", 1, NULL, 'a'},   {"spool-dir", 1, NULL, 's'},
        {"udp", 1, NULL, 'u'},    {"unix", 1, NULL, 'x'},         {"site", 1, NULL, 'S'},
        {"node", 1, NULL, 'N'},   {"check-config", 0, NULL, 'k'}, {"status", 0, NULL, 't'},
        {"json", 0, NULL, 'j'},   {"help", 0, NULL, 'h'},         {"version", 0, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 'a':
            a->overrides[O_AGGREGATOR] = optarg;
            break;
        case 's':
            a->overrides[O_SPOOL] = optarg;
            break;
        case 'u':
            a->overrides[O_UDP] = optarg;
            break;
        case 'x':
            a->overrides[O_UNIX] = optarg;
            break;
        case 'S':
            a->overrides[O_SITE] = optarg;
            break;
        case 'N':
            a->overrides[O_NODE] = optarg;
            break;
        case 'k':
            a->check_config = 1;
            break;
        case 't':
            a->status = 1;
            break;
        case 'j':
            a->json = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("slic-agent %s\n", SLIC_VERSION);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "slic-agent: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return 0;
}

static int load_config(const struct args *a, struct agent_config *c, struct slic_errmsg *err)
{
    int rc = a->config ? agent_config_load(a->config, c, err) : agent_config_defaults(c);
    if (rc)
        return rc;
    char **fields[6] = {&c->aggregator, &c->spool_dir, &c->udp, &c->unix_path, &c->site, &c->node};
    for (int i = 0; i < 6 && rc == 0; i++) {
        if (a->overrides[i])
            rc = agent_config_set_string(fields[i], a->overrides[i]);
    }
    if (rc == 0)
        rc = agent_config_finish(c);
    if (rc == 0 && (!slic_name_valid(c->site) || !slic_name_valid(c->node)))
        rc = slic_errmsg_set(err, SLIC_ECONFIG,
                             "site and node must be 1..%d characters of "
                             "[A-Za-z0-9_.:-]",
                             SLIC_NAME_MAX);
    if (rc == 0)
        rc = agent_config_check_tls(c, err); /* --aggregator may have changed the URL */
    if (rc)
        agent_config_fini(c);
    return rc;
}

static void print_config(const struct agent_config *c)
{
    printf("configuration from %s: OK\n"
           "  agent %s, site %s, node %s\n"
           "  aggregator        %s\n"
           "  spool             %s (capped at %llu bytes)\n"
           "  windows           %u s\n"
           "  line protocol     udp %s, unix %s\n"
           "  labels kept       %zu, SLIs with exact thresholds %zu\n"
           "  probes            %zu\n"
           "  access logs       %zu\n",
           c->source, c->agent_id, c->site, c->node, c->aggregator, c->spool_dir,
           (unsigned long long)c->spool_max_bytes, c->window_seconds, c->udp[0] ? c->udp : "off",
           c->unix_path[0] ? c->unix_path : "off", c->n_label_keys, c->n_thresholds, c->n_probes,
           c->n_tails);
    if (c->tls_ca_file)
        printf("  tls               CA %s, %s%s%s, server name %s\n", c->tls_ca_file,
               c->tls_cert_file ? "certificate " : "NO client certificate",
               c->tls_cert_file ? c->tls_cert_file : "", c->tls_cert_file ? " with its key" : "",
               c->tls_server_name ? c->tls_server_name : "from the URL");
    printf("  batches           %s\n", c->auth_key_set ? "signed with the key in auth.key_file"
                                                       : "unsigned (no auth.key_file)");
}

int main(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    struct agent_config cfg;
    struct slic_errmsg err = {{0}};
    if ((rc = load_config(&a, &cfg, &err)) != 0) {
        fprintf(stderr, "slic-agent: %s\n", err.text[0] ? err.text : slic_strerror(rc));
        return 1;
    }
    if (a.check_config || a.status) {
        rc = a.status ? agent_status_print(cfg.spool_dir, a.json) : (print_config(&cfg), 0);
        agent_config_fini(&cfg);
        return rc;
    }
    slic_log_set_level(cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    agent *ag = NULL;
    if ((rc = agent_create(&cfg, a.config, &ag, &err)) != 0) {
        SLIC_ERROR("main", "cannot start: %s", err.text[0] ? err.text : slic_strerror(rc));
        agent_destroy(ag);
        agent_config_fini(&cfg);
        return 1;
    }
    rc = agent_run(ag);
    agent_destroy(ag); /* wipes the key with the configuration */
    return rc;
}
