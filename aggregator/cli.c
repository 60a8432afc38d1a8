/* slic: the operator's command-line client. Arguments -> one Query -> one nng req/rep round trip
 * to the aggregator -> a table or JSON on stdout. Exit status: 0 success, 1 failure (aggregator
 * unreachable, or it reported an error), 2 usage error, 3 nothing found. Errors go to stderr,
 * one line each, naming the option, value or address at fault. */
#include "cli_format.h"
#include "cli_net.h"
#include "cli_slo.h"

#include "alloc.h"
#include "batch.h"
#include "codec_batch.h"
#include "err.h"
#include "timeutil.h"
#include "version.h"

#include <nng/nng.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ADDR "tcp://127.0.0.1:7710"
#define DEFAULT_TIMEOUT_MS 5000
#define QUANTILES_MAX 32
#define THRESHOLDS_MAX SLIC_SERIES_THRESHOLDS_MAX

enum cmd { CMD_NONE, CMD_QUERY, CMD_SERIES, CMD_AGENTS, CMD_SLO, CMD_HELP };

/* The commands an option applies to, as a mask of (1 << cmd); 0: every command. */
#define FOR(cmd) (1u << (cmd))

/* X(id, name, takes a value, the commands it applies to) */
#define CLI_OPTIONS(X)                                                                             \
    X(OPT_ADDR, "addr", true, 0)                                                                   \
    X(OPT_TIMEOUT, "timeout", true, 0)                                                             \
    X(OPT_JSON, "json", false, 0)                                                                  \
    X(OPT_HELP, "help", false, 0)                                                                  \
    X(OPT_VERSION, "version", false, 0)                                                            \
    X(OPT_TLS_CA, "tls-ca", true, 0)                                                               \
    X(OPT_TLS_CERT, "tls-cert", true, 0)                                                           \
    X(OPT_TLS_KEY, "tls-key", true, 0)                                                             \
    X(OPT_TLS_SERVER_NAME, "tls-server-name", true, 0)                                             \
    X(OPT_SITE, "site", true, FOR(CMD_QUERY) | FOR(CMD_SLO))                                       \
    X(OPT_SITES, "sites", false, FOR(CMD_SLO))                                                     \
    X(OPT_NODE, "node", true, FOR(CMD_QUERY))                                                      \
    X(OPT_LABEL, "label", true, FOR(CMD_QUERY))                                                    \
    X(OPT_WINDOW, "window", true, FOR(CMD_QUERY))                                                  \
    X(OPT_FROM, "from", true, FOR(CMD_QUERY))                                                      \
    X(OPT_TO, "to", true, FOR(CMD_QUERY))                                                          \
    X(OPT_Q, "q", true, FOR(CMD_QUERY))                                                            \
    X(OPT_THRESHOLD, "threshold", true, FOR(CMD_QUERY))

enum opt {
#define OPT_ENUM(id, name, value, cmds) id,
    CLI_OPTIONS(OPT_ENUM)
#undef OPT_ENUM
        OPT_COUNT
};

static const struct {
    const char *name;
    bool takes_value;
    unsigned cmds;
} opt_defs[OPT_COUNT] = {
#define OPT_DEF(id, name, value, cmds) [id] = {name, value, cmds},
    CLI_OPTIONS(OPT_DEF)
#undef OPT_DEF
};

static const char *const cmd_names[] = {[CMD_QUERY] = "query",
                                        [CMD_SERIES] = "series",
                                        [CMD_AGENTS] = "agents",
                                        [CMD_SLO] = "slo",
                                        [CMD_HELP] = "help"};

/* Everything the arguments say, parsed and checked. Strings point into argv. */
struct cli {
    enum cmd cmd;
    bool seen[OPT_COUNT];
    const char *value[OPT_COUNT]; /* the last value of each single-valued option */
    const char *sli;
    const char *help_topic;
    double quantiles[QUANTILES_MAX];
    size_t n_quantiles;
    double thresholds[THRESHOLDS_MAX];
    size_t n_thresholds;
    struct slic_label labels[SLIC_SERIES_LABELS_MAX];
    size_t n_labels;
    struct cli_slo slo;
    /* Resolved after parsing. */
    const char *addr;
    int32_t timeout_ms;
    bool has_from, has_to;
    int64_t from, to;
    int64_t now;
};

/* ---- help ---------------------------------------------------------------------------------- */

/* Indexed by enum cmd; CMD_NONE is slic itself. */
static const char *const usages[] = {
    [CMD_NONE] = "usage: slic [--addr URL] [--timeout DUR] [--json] COMMAND [ARGS]\n",
    [CMD_QUERY] = "usage: slic query SLI [--site S | --node N] [--label KEY=VALUE]...\n"
                  "                      [--window DUR | --from T [--to T]] [--q Q,...] "
                  "[--threshold DUR,...]\n",
    [CMD_SERIES] = "usage: slic series [--json]\n",
    [CMD_AGENTS] = "usage: slic agents [--json]\n",
    [CMD_SLO] = cli_slo_usage,
    [CMD_HELP] = "usage: slic help [COMMAND]\n",
};

static const char help_top[] =
    "\n"
    "Asks a slic aggregator what its agents measured.\n"
    "\n"
    "commands:\n"
    "  query SLI     count, good ratio, latency quantiles and threshold fractions of one SLI\n"
    "  series        the SLIs stored, with their sites and newest data\n"
    "  agents        the agents heard from: site, node, epoch, last seq, last seen\n"
    "  slo list      the SLOs: objective, SLI value, error budget left, burn rates, alerts\n"
    "  slo show SLO  one SLO in full, with its alert tiers and a row per site\n"
    "  help [CMD]    this text, or a command's\n"
    "\n"
    "options (every command):\n"
    "  --addr URL      the aggregator (default: $SLIC_ADDR, else " DEFAULT_ADDR ")\n"
    "  --timeout DUR   give up after DUR, e.g. 500ms, 10s (default 5s)\n"
    "  --tls-ca FILE   for a tls+tcp:// address: the CA that signs the aggregator's certificate\n"
    "  --tls-cert FILE, --tls-key FILE\n"
    "                  the client certificate and key the aggregator requires (PEM)\n"
    "  --tls-server-name NAME\n"
    "                  the name the aggregator's certificate carries (default: the address's\n"
    "                  host; IP addresses must be in it as DNS names)\n"
    "  --json          JSON for other tools instead of a table\n"
    "  -h, --help      help; after a command, that command's help\n"
    "  --version       print the version\n"
    "\n"
    "exit status: 0 success; 1 failure (aggregator unreachable, or it reported an error);\n"
    "2 usage error; 3 nothing found (unknown SLI, SLO, site, node or labels).\n";

static const char help_query[] =
    "\n"
    "Totals and latency of one SLI over a time range, merged across sites unless narrowed.\n"
    "\n"
    "  --site S           one site only\n"
    "  --node N           one node only (per-node data is kept at 10 s and 1 min resolution,\n"
    "                     so for a shorter time than per-site data)\n"
    "  --label KEY=VALUE  only series carrying this label (repeatable)\n"
    "  --window DUR       the last DUR: 5m, 1h, 28d (default 1h); with --to, the DUR before it\n"
    "  --from T, --to T   the range [from, to): RFC 3339 (2025-11-26T10:00:00Z), Unix seconds,\n"
    "                     now, now-1h or -30m; --to defaults to now\n"
    "  --q Q,...          quantiles in [0, 1] (default 0.5,0.9,0.99,0.999), at most 32\n"
    "  --threshold DUR    fraction of events at or below DUR: 300ms (repeatable or a comma\n"
    "                     list, at most 16); exact where agents count that threshold, else\n"
    "                     bounds from the sketch\n"
    "\n"
    "The range is widened to whole windows of the resolution used (10 s, 1 min or 1 h).\n"
    "Latencies show in ms to 3 significant digits, within the sketch's 1 % accuracy.\n"
    "With --json: one object with sli, site, node, labels, from, to (RFC 3339; *_unix in\n"
    "seconds), resolution_seconds, count, good, good_ratio, sum, min, max, mean (seconds),\n"
    "quantiles {\"Q\": seconds}, under_threshold {\"SECONDS\": {lower, upper, count_lower,\n"
    "count_upper, exact}} when thresholds were asked, and sketch_collapsed.\n"
    "Exit status 3 when the aggregator has no data for the SLI, site, node or labels.\n";

static const char help_series[] =
    "\n"
    "Every SLI the aggregator stores, with the sites that sent it and the end of its newest\n"
    "window. With --json: an array of {sli, sites, last_data, last_data_unix}.\n";

static const char help_agents[] =
    "\n"
    "Every agent the aggregator has heard from: site, node, epoch (new at each agent start with\n"
    "an empty spool), the highest seq up to which every batch is committed, and when its last\n"
    "batch was. With --json: an array of {agent_id, site, node, epoch, last_seq, last_seen,\n"
    "last_seen_unix}.\n";

static void print_help(enum cmd topic)
{
    static const char *const texts[] = {
        [CMD_NONE] = help_top,      [CMD_QUERY] = help_query, [CMD_SERIES] = help_series,
        [CMD_AGENTS] = help_agents, [CMD_SLO] = cli_slo_help, [CMD_HELP] = help_top};
    fputs(usages[topic], stdout);
    fputs(texts[topic], stdout);
}

/* Prints "slic: <message>", the usage line of the command at hand and a pointer to --help.
 * Returns EXIT_USAGE. */
static int usage_error(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const struct cli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fputs("slic: ", stderr);
    cli_put_sanitized(stderr, msg);
    fputc('\n', stderr);
    fputs(usages[c->cmd], stderr);
    fprintf(stderr, "Try 'slic %s%s--help' for more.\n",
            c->cmd == CMD_NONE ? "" : cmd_names[c->cmd], c->cmd == CMD_NONE ? "" : " ");
    return EXIT_USAGE;
}

/* ---- list-valued options ------------------------------------------------------------------- */

/* Splits a comma list in place and hands each item to fn; stops at the first error. */
static int for_each_item(struct cli *c, char *list, int (*fn)(struct cli *, const char *))
{
    for (char *save = NULL, *item = strtok_r(list, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        int rc = fn(c, item);
        if (rc)
            return rc;
    }
    return 0;
}

static int add_quantile(struct cli *c, const char *s)
{
    char *end;
    errno = 0;
    double q = strtod(s, &end);
    if (end == s || *end || errno || !(q >= 0 && q <= 1))
        return usage_error(c, "--q: '%s' is not a quantile in [0, 1]%s", s,
                           q > 1 && q <= 100 && end != s ? " (write 0.99 for the 99th percentile)"
                                                         : "");
    for (size_t i = 0; i < c->n_quantiles; i++)
        if (c->quantiles[i] == q)
            return 0; /* asked twice: answered once */
    if (c->n_quantiles == QUANTILES_MAX)
        return usage_error(c, "--q: at most %d quantiles", QUANTILES_MAX);
    c->quantiles[c->n_quantiles++] = q;
    return 0;
}

static int add_threshold(struct cli *c, const char *s)
{
    double t;
    if (slic_duration_parse(s, &t) != 0 || !(t > 0))
        return usage_error(c, "--threshold: '%s' is not a positive duration like 300ms or 1.5s", s);
    for (size_t i = 0; i < c->n_thresholds; i++)
        if (c->thresholds[i] == t)
            return 0;
    if (c->n_thresholds == THRESHOLDS_MAX)
        return usage_error(c, "--threshold: at most %d thresholds", THRESHOLDS_MAX);
    c->thresholds[c->n_thresholds++] = t;
    return 0;
}

/* KEY=VALUE, split in place (argv strings are writable). */
static int add_label(struct cli *c, char *s)
{
    char *eq = strchr(s, '=');
    if (!eq)
        return usage_error(c, "--label: '%s' is not KEY=VALUE", s);
    *eq = '\0';
    const char *key = s, *value = eq + 1;
    if (!slic_label_key_valid(key))
        return usage_error(c,
                           "--label: '%s' is not a label key: expected 1..%d of "
                           "[A-Za-z0-9_], not starting with a digit",
                           key, SLIC_LABEL_KEY_MAX);
    if (!slic_label_value_valid(value))
        return usage_error(c, "--label %s: the value must be 0..%d printable ASCII characters", key,
                           SLIC_LABEL_VALUE_MAX);
    for (size_t i = 0; i < c->n_labels; i++)
        if (strcmp(c->labels[i].key, key) == 0)
            return usage_error(c, "--label: key '%s' given twice", key);
    if (c->n_labels == SLIC_SERIES_LABELS_MAX)
        return usage_error(c, "--label: at most %d labels", SLIC_SERIES_LABELS_MAX);
    c->labels[c->n_labels++] = (struct slic_label){(char *)key, (char *)value};
    return 0;
}

/* ---- parsing ------------------------------------------------------------------------------- */

static int take_option(struct cli *c, enum opt o, char *value)
{
    c->seen[o] = true;
    c->value[o] = value;
    switch (o) {
    case OPT_Q:
        return for_each_item(c, value, add_quantile);
    case OPT_THRESHOLD:
        return for_each_item(c, value, add_threshold);
    case OPT_LABEL:
        return add_label(c, value);
    default:
        return 0;
    }
}

/* "--name", "--name=value" or "--name value" (then *i moves past the value); "-h". */
static int parse_option(struct cli *c, int argc, char **argv, int *i)
{
    char *arg = argv[*i], *value = NULL;
    if (strcmp(arg, "-h") == 0)
        return take_option(c, OPT_HELP, NULL);
    if (strncmp(arg, "--", 2) != 0)
        return usage_error(c, "unknown option '%s'", arg);
    char name[32];
    size_t len = strcspn(arg + 2, "=");
    snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), arg + 2);
    if (arg[2 + len] == '=')
        value = arg + 3 + len;
    for (int o = 0; o < OPT_COUNT; o++) {
        if (strlen(opt_defs[o].name) != len || strncmp(opt_defs[o].name, arg + 2, len) != 0)
            continue;
        if (!opt_defs[o].takes_value && value)
            return usage_error(c, "option --%s takes no value", name);
        if (opt_defs[o].takes_value && !value) {
            if (*i + 1 >= argc)
                return usage_error(c, "option --%s needs a value", name);
            value = argv[++*i];
        }
        return take_option(c, (enum opt)o, value);
    }
    return usage_error(c, "unknown option '%.*s'", (int)(len + 2), arg);
}

static int parse_positional(struct cli *c, const char *arg)
{
    if (c->cmd == CMD_NONE) {
        for (int k = CMD_QUERY; k <= CMD_HELP; k++) {
            if (strcmp(arg, cmd_names[k]) == 0) {
                c->cmd = (enum cmd)k;
                return 0;
            }
        }
        return usage_error(c, "unknown command '%s'", arg);
    }
    if (c->cmd == CMD_QUERY && !c->sli) {
        c->sli = arg;
        return 0;
    }
    if (c->cmd == CMD_HELP && !c->help_topic) {
        c->help_topic = arg;
        return 0;
    }
    char msg[256];
    if (c->cmd == CMD_SLO)
        return cli_slo_arg(&c->slo, arg, msg, sizeof msg) ? usage_error(c, "%s", msg) : 0;
    return usage_error(c, "unexpected argument '%s'", arg);
}

static int parse_args(struct cli *c, int argc, char **argv)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        int rc;
        if (!options_done && strcmp(argv[i], "--") == 0)
            options_done = true, rc = 0;
        else if (!options_done && argv[i][0] == '-' && argv[i][1] != '\0')
            rc = parse_option(c, argc, argv, &i);
        else
            rc = parse_positional(c, argv[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- checking and resolving ---------------------------------------------------------------- */

static int check_time(struct cli *c, enum opt o, int64_t *out)
{
    if (slic_time_parse(c->value[o], c->now, out) != 0)
        return usage_error(c,
                           "--%s: '%s' is not a time: expected RFC 3339 "
                           "(2025-11-26T10:00:00Z), Unix seconds, now, now-1h or -30m",
                           opt_defs[o].name, c->value[o]);
    return 0;
}

/* --window, --from and --to into [from, to); what is left unset the aggregator defaults. */
static int resolve_range(struct cli *c)
{
    int rc;
    if ((c->has_from = c->seen[OPT_FROM]) && (rc = check_time(c, OPT_FROM, &c->from)))
        return rc;
    if ((c->has_to = c->seen[OPT_TO]) && (rc = check_time(c, OPT_TO, &c->to)))
        return rc;
    if (c->seen[OPT_WINDOW]) {
        int64_t w;
        if (c->has_from)
            return usage_error(c, "give --window or --from, not both");
        if (slic_duration_parse_s(c->value[OPT_WINDOW], &w) != 0 || w <= 0 || w > SLIC_TIME_MAX)
            return usage_error(c,
                               "--window: '%s' is not a positive whole-second duration like "
                               "5m, 1h or 28d",
                               c->value[OPT_WINDOW]);
        c->to = c->has_to ? c->to : c->now;
        c->from = c->to - w;
        c->has_from = c->has_to = true;
    }
    if (c->has_from && c->from >= (c->has_to ? c->to : c->now))
        return usage_error(c, "--from (%s) is not before --to (%s)", c->value[OPT_FROM],
                           c->has_to ? c->value[OPT_TO] : "now");
    return 0;
}

static int check_query_args(struct cli *c)
{
    if (!c->sli)
        return usage_error(c, "query: which SLI? (slic series lists them)");
    if (!slic_name_valid(c->sli))
        return usage_error(c, "'%s' is not an SLI name: expected 1..%d of [A-Za-z0-9_.:-]", c->sli,
                           SLIC_NAME_MAX);
    if (c->seen[OPT_SITE] && c->seen[OPT_NODE])
        return usage_error(c, "give --site or --node, not both");
    for (enum opt o = OPT_SITE; o <= OPT_NODE; o++)
        if (c->seen[o] && !slic_name_valid(c->value[o]))
            return usage_error(c, "--%s: '%s' is not a name: expected 1..%d of [A-Za-z0-9_.:-]",
                               opt_defs[o].name, c->value[o], SLIC_NAME_MAX);
    if (c->n_quantiles == 0) {
        static const double dflt[] = {0.5, 0.9, 0.99, 0.999};
        memcpy(c->quantiles, dflt, sizeof dflt);
        c->n_quantiles = sizeof dflt / sizeof dflt[0];
    }
    return resolve_range(c);
}

/* "--site applies to 'slic query' and 'slic slo' only". */
static int option_misplaced(const struct cli *c, enum opt o)
{
    char cmds[128] = "";
    size_t used = 0;
    for (int k = CMD_QUERY; k < CMD_HELP && used < sizeof cmds; k++)
        if (opt_defs[o].cmds & FOR(k))
            used += (size_t)snprintf(cmds + used, sizeof cmds - used, "%s'slic %s'",
                                     used ? " and " : "", cmd_names[k]);
    return usage_error(c, "--%s applies to %s only", opt_defs[o].name, cmds);
}

static int check_slo_args(struct cli *c)
{
    char msg[512];
    c->slo.site = c->value[OPT_SITE];
    c->slo.per_site = c->seen[OPT_SITES];
    c->slo.json = c->seen[OPT_JSON];
    return cli_slo_check(&c->slo, msg, sizeof msg) ? usage_error(c, "%s", msg) : 0;
}

static int check_common(struct cli *c)
{
    const char *env = getenv("SLIC_ADDR");
    c->addr = c->seen[OPT_ADDR] ? c->value[OPT_ADDR] : env && *env ? env : DEFAULT_ADDR;
    bool tls = strncmp(c->addr, "tls+tcp://", 10) == 0;
    if (tls && !c->seen[OPT_TLS_CA])
        return usage_error(c,
                           "'%s' uses TLS: give --tls-ca (the CA that signs the aggregator's "
                           "certificate), and --tls-cert and --tls-key (a client certificate)",
                           c->addr);
    if (!tls && (c->seen[OPT_TLS_CA] || c->seen[OPT_TLS_CERT] || c->seen[OPT_TLS_KEY] ||
                 c->seen[OPT_TLS_SERVER_NAME]))
        return usage_error(c, "the --tls-* options need a tls+tcp:// address");
    if (c->seen[OPT_TLS_CERT] != c->seen[OPT_TLS_KEY])
        return usage_error(c, "--tls-cert and --tls-key go together");
    c->timeout_ms = DEFAULT_TIMEOUT_MS;
    if (c->seen[OPT_TIMEOUT]) {
        int64_t ns;
        if (slic_duration_parse_ns(c->value[OPT_TIMEOUT], &ns) != 0 || ns <= 0 ||
            ns / 1000000 >= INT32_MAX)
            return usage_error(c, "--timeout: '%s' is not a positive duration like 5s",
                               c->value[OPT_TIMEOUT]);
        c->timeout_ms = (int32_t)((ns + 999999) / 1000000);
    }
    for (int o = 0; o < OPT_COUNT; o++)
        if (c->seen[o] && opt_defs[o].cmds && !(opt_defs[o].cmds & FOR(c->cmd)))
            return option_misplaced(c, (enum opt)o);
    if (c->cmd == CMD_SLO)
        return check_slo_args(c);
    return c->cmd == CMD_QUERY ? check_query_args(c) : 0;
}

static int build_request(const struct cli *c, uint8_t **buf, size_t *len)
{
    Slic__Query q = SLIC__QUERY__INIT;
    Slic__Label labels[SLIC_SERIES_LABELS_MAX], *label_ptrs[SLIC_SERIES_LABELS_MAX];
    q.has_schema_version = q.has_kind = 1;
    q.schema_version = CODEC_SCHEMA_VERSION;
    q.kind = c->cmd == CMD_QUERY    ? SLIC__QUERY__KIND__SLI
             : c->cmd == CMD_SERIES ? SLIC__QUERY__KIND__SERIES
                                    : SLIC__QUERY__KIND__AGENTS;
    if (c->cmd == CMD_SLO)
        cli_slo_query(&c->slo, &q);
    if (c->cmd == CMD_QUERY) {
        q.sli = (char *)c->sli;
        q.site = (char *)c->value[OPT_SITE];
        q.node = (char *)c->value[OPT_NODE];
        q.has_from = c->has_from, q.from = c->from;
        q.has_to = c->has_to, q.to = c->to;
        q.n_quantiles = c->n_quantiles;
        q.quantiles = (double *)c->quantiles;
        q.n_thresholds = c->n_thresholds;
        q.thresholds = (double *)c->thresholds;
        for (size_t i = 0; i < c->n_labels; i++) {
            slic__label__init(&labels[i]);
            labels[i].key = c->labels[i].key;
            labels[i].value = c->labels[i].value;
            label_ptrs[i] = &labels[i];
        }
        q.n_labels = c->n_labels;
        q.labels = label_ptrs;
    }
    return codec_request_pack(NULL, 0, NULL, 0, &q, buf, len);
}

/* ---- the reply ----------------------------------------------------------------------------- */

static int reply_error(const char *what, const Slic__Reply *r, int code)
{
    fprintf(stderr, "slic: %s", what);
    cli_put_sanitized(stderr, r->error ? r->error : "(no reason given)");
    fputc('\n', stderr);
    return code;
}

static int reply_print(const struct cli *c, const Slic__Reply *r)
{
    if (!r->has_schema_version || r->schema_version != CODEC_SCHEMA_VERSION) {
        fprintf(stderr,
                "slic: the aggregator answered in schema version %" PRIu32 ", this slic "
                "reads version %d: use the slic of the aggregator's release\n",
                r->schema_version, CODEC_SCHEMA_VERSION);
        return EXIT_FAIL;
    }
    switch (r->has_status ? r->status : SLIC__REPLY__STATUS__STATUS_UNSPECIFIED) {
    case SLIC__REPLY__STATUS__OK:
        break;
    case SLIC__REPLY__STATUS__BAD_QUERY:
        return reply_error("the aggregator rejected the query: ", r, EXIT_FAIL);
    case SLIC__REPLY__STATUS__NOT_FOUND:
        return reply_error("", r, EXIT_NOT_FOUND);
    case SLIC__REPLY__STATUS__INTERNAL:
        return reply_error("the aggregator failed: ", r, EXIT_FAIL);
    default:
        fprintf(stderr, "slic: the aggregator answered with unknown status %d\n", (int)r->status);
        return EXIT_FAIL;
    }
    bool json = c->seen[OPT_JSON];
    if (c->cmd == CMD_SLO)
        return cli_slo_print(stdout, &c->slo, r, c->now);
    if (c->cmd == CMD_SERIES) {
        cli_print_series(stdout, r->series, r->n_series, c->now, json);
    } else if (c->cmd == CMD_AGENTS) {
        cli_print_agents(stdout, r->agents, r->n_agents, c->now, json);
    } else if (!r->sli) {
        fputs("slic: the aggregator's answer carries no result\n", stderr);
        return EXIT_FAIL;
    } else {
        struct cli_sli_scope scope = {c->value[OPT_SITE], c->value[OPT_NODE], c->labels,
                                      c->n_labels};
        cli_print_sli(stdout, r->sli, &scope, json);
    }
    return EXIT_OK;
}

static int run(const struct cli *c)
{
    uint8_t *req = NULL;
    size_t req_len = 0;
    if (build_request(c, &req, &req_len) != 0) {
        fputs("slic: out of memory\n", stderr);
        return EXIT_FAIL;
    }
    void *resp = NULL;
    size_t resp_len = 0;
    struct cli_target t = {
        .addr = c->addr,
        .timeout_ms = c->timeout_ms,
        .tls_ca = c->value[OPT_TLS_CA],
        .tls_cert = c->value[OPT_TLS_CERT],
        .tls_key = c->value[OPT_TLS_KEY],
        .tls_server_name = c->value[OPT_TLS_SERVER_NAME],
    };
    int code = cli_round_trip(&t, req, req_len, &resp, &resp_len);
    slic_free(req);
    if (code)
        return code;

    Slic__Reply *reply = NULL;
    struct codec_error cerr = {0};
    char why[CODEC_ERROR_FIELD_LEN + CODEC_ERROR_MSG_LEN + 8];
    if (resp_len == 0) {
        /* The server sends an empty message when it could not build an answer. */
        fputs("slic: the aggregator could not answer (see its log)\n", stderr);
        code = EXIT_FAIL;
    } else if (codec_response_unpack(resp, resp_len, NULL, &reply, &cerr) != 0) {
        fputs("slic: cannot read the aggregator's answer: ", stderr);
        cli_put_sanitized(stderr, codec_error_format(&cerr, why, sizeof why));
        fputc('\n', stderr);
        code = EXIT_FAIL;
    } else {
        code = reply_print(c, reply);
        codec_reply_free(reply);
    }
    nng_free(resp, resp_len);
    return code;
}

int main(int argc, char **argv)
{
    struct cli c;
    memset(&c, 0, sizeof c);
    c.now = slic_now_unix_ms() / 1000;
    int code = parse_args(&c, argc, argv);
    if (code)
        return code;
    if (c.seen[OPT_VERSION]) {
        printf("slic %s\n", SLIC_VERSION);
        return EXIT_OK;
    }
    if (c.cmd == CMD_HELP || c.seen[OPT_HELP]) {
        enum cmd topic = c.cmd == CMD_HELP ? CMD_NONE : c.cmd;
        for (int k = CMD_QUERY; c.help_topic && k <= CMD_HELP; k++)
            if (strcmp(c.help_topic, cmd_names[k]) == 0)
                topic = (enum cmd)k;
        if (c.help_topic && topic == CMD_NONE)
            return usage_error(&c, "help: unknown command '%s'", c.help_topic);
        print_help(topic);
        return EXIT_OK;
    }
    if (c.cmd == CMD_NONE)
        return usage_error(&c, "no command given");
    if ((code = check_common(&c)) != 0)
        return code;
    code = run(&c);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "slic: writing the output: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    return code;
}
