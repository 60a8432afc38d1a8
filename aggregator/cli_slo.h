/* `slic slo list` and `slic slo show NAME`: what is particular to the SLO commands (their
 * arguments, their Query and which printer answers), so cli.c only hands them over. cli.c
 * parses the options every command shares (--addr, --timeout, --json, --site, --sites). */
#ifndef SLIC_AGG_CLI_SLO_H
#define SLIC_AGG_CLI_SLO_H

#include "slic.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cli_slo_sub { CLI_SLO_NONE, CLI_SLO_LIST, CLI_SLO_SHOW };

/* Strings point into argv. */
struct cli_slo {
    enum cli_slo_sub sub;
    const char *name; /* show: the SLO */
    const char *site; /* --site: one scope, a site or "*" (across sites); NULL: every scope */
    bool per_site;    /* list --sites: a row per site under each SLO */
    bool json;
};

/* The usage lines and the help text of `slic slo` (for slic help slo and slic slo --help). */
extern const char cli_slo_usage[];
extern const char cli_slo_help[];

/* Takes the next argument after `slo` that is not an option: the subcommand, then (show) the
 * SLO's name. Returns 0, or -1 with a message naming the argument in msg. */
int cli_slo_arg(struct cli_slo *s, const char *arg, char *msg, size_t size);

/* Checks the whole command once every argument is in: a subcommand, show's name, a valid
 * --site, --sites only with list. Returns 0, or -1 with a message naming the option in msg. */
int cli_slo_check(const struct cli_slo *s, char *msg, size_t size);

/* Sets q's kind and SLO fields; strings borrowed from s. */
void cli_slo_query(const struct cli_slo *s, Slic__Query *q);

/* Prints the answer (status OK) as a table or, with json, as the same JSON as the aggregator's
 * /api/v1/slos[/NAME][?site=S]. Returns the exit status: EXIT_OK; EXIT_NOT_FOUND for a list
 * asked for one site that no SLO covers (an empty list still prints, so --json prints []);
 * EXIT_FAIL when show's answer carries no SLO or the JSON cannot be made. now (Unix seconds)
 * gives ages. */
int cli_slo_print(FILE *out, const struct cli_slo *s, const Slic__Reply *r, int64_t now);

#endif
