/* `slic slo list|show` (see cli_slo.h): the subcommand and name, the checks on them, the Query
 * of kind SLOS, and the choice between a table and the JSON of /api/v1/slos. */
#include "cli_slo.h"

#include "batch.h"
#include "cli_format.h"
#include "reply_json.h"

#include <stdio.h>
#include <string.h>

/* The across-sites scope, as the aggregator names it (slo_engine.h). */
#define ALL_SITES "*"

const char cli_slo_usage[] = "usage: slic slo list [--site S | --sites] [--json]\n"
                             "       slic slo show NAME [--site S] [--json]\n";

const char cli_slo_help[] =
    "\n"
    "The SLOs the aggregator evaluates (the OpenSLO files given to slic-aggregator --slo), with\n"
    "the numbers of its latest evaluation across all sites and per site.\n"
    "\n"
    "  list          a row per SLO: SLI, objective, window, events in it, SLI value, error\n"
    "                budget left, burn rates over 1h and 6h, and the alerts firing\n"
    "  show NAME     one SLO in full: definition, window, events, SLI value, budget consumed and\n"
    "                remaining, time to exhaustion, burn rates 5m..3d, each alert tier with its\n"
    "                state and since when, and a row per site\n"
    "  --site S      one site only (list: the SLOs covering it); '*' for across sites\n"
    "  --sites       list: a row for each site under each SLO\n"
    "  --json        the JSON of the aggregator's GET /api/v1/slos[?site=S] (list) or\n"
    "                /api/v1/slos/NAME[?site=S] (show), byte for byte\n"
    "\n"
    "Where latencies are known only through sketches, SLI values, budget consumed and burn\n"
    "rates are conservative (from the fewest good events the data allows); show gives the\n"
    "optimistic bound beside them. A burn rate of 1 spends the budget exactly over the window.\n"
    "Exit status 3 when no SLO has that name, the SLO does not cover the site, or (list) no SLO\n"
    "covers the site.\n";

int cli_slo_arg(struct cli_slo *s, const char *arg, char *msg, size_t size)
{
    if (s->sub == CLI_SLO_NONE) {
        if (strcmp(arg, "list") == 0 || strcmp(arg, "show") == 0) {
            s->sub = arg[0] == 'l' ? CLI_SLO_LIST : CLI_SLO_SHOW;
            return 0;
        }
        snprintf(msg, size, "slo: unknown subcommand '%s': expected list or show", arg);
        return -1;
    }
    if (s->sub == CLI_SLO_SHOW && !s->name) {
        s->name = arg;
        return 0;
    }
    snprintf(msg, size, "unexpected argument '%s'", arg);
    return -1;
}

int cli_slo_check(const struct cli_slo *s, char *msg, size_t size)
{
    if (s->sub == CLI_SLO_NONE)
        snprintf(msg, size, "slo: list or show?");
    else if (s->sub == CLI_SLO_SHOW && !s->name)
        snprintf(msg, size, "slo show: which SLO? (slic slo list lists them)");
    else if (s->name && !slic_name_valid(s->name))
        snprintf(msg, size, "'%s' is not an SLO name: expected 1..%d of [A-Za-z0-9_.:-]", s->name,
                 SLIC_NAME_MAX);
    else if (s->site && strcmp(s->site, ALL_SITES) != 0 && !slic_name_valid(s->site))
        snprintf(msg, size,
                 "--site: '%s' is not a site: expected 1..%d of [A-Za-z0-9_.:-], or '*' for "
                 "across sites",
                 s->site, SLIC_NAME_MAX);
    else if (s->per_site && s->sub != CLI_SLO_LIST)
        snprintf(msg, size, "--sites applies to 'slic slo list' only");
    else if (s->per_site && s->site)
        snprintf(msg, size, "give --site or --sites, not both");
    else
        return 0;
    return -1;
}

void cli_slo_query(const struct cli_slo *s, Slic__Query *q)
{
    q->has_kind = 1;
    q->kind = SLIC__QUERY__KIND__SLOS;
    q->slo = (char *)s->name;
    q->site = (char *)s->site;
}

static int print_show(FILE *out, const struct cli_slo *s, const Slic__Reply *r, int64_t now)
{
    if (r->n_slos == 0) {
        fputs("slic: the aggregator's answer carries no SLO\n", stderr);
        return EXIT_FAIL;
    }
    if (s->json) {
        struct agg__buf b = {0};
        return cli_put_json(out, &b, agg_reply_json_slo(&b, r->slos[0], !s->site)) ? EXIT_FAIL
                                                                                   : EXIT_OK;
    }
    cli_print_slo_show(out, r->slos[0], now);
    return EXIT_OK;
}

static int print_list(FILE *out, const struct cli_slo *s, const Slic__Reply *r)
{
    if (s->json) {
        struct agg__buf b = {0};
        if (cli_put_json(out, &b, agg_reply_json_slos(&b, r->slos, r->n_slos, !s->site)))
            return EXIT_FAIL;
    } else if (r->n_slos > 0) {
        if (cli_print_slo_list(out, r->slos, r->n_slos, s->site, s->per_site))
            return EXIT_FAIL;
    } else if (!s->site) {
        fputs("no SLOs loaded (slic-aggregator --slo FILE-OR-DIR loads OpenSLO files)\n", out);
    }
    if (r->n_slos == 0 && s->site) {
        fputs("slic: no SLO covers site '", stderr);
        cli_put_sanitized(stderr, s->site);
        fputs("'\n", stderr);
        return EXIT_NOT_FOUND;
    }
    return EXIT_OK;
}

int cli_slo_print(FILE *out, const struct cli_slo *s, const Slic__Reply *r, int64_t now)
{
    return s->sub == CLI_SLO_SHOW ? print_show(out, s, r, now) : print_list(out, s, r);
}
