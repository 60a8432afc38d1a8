/* Loading SLO definitions from OpenSLO v1 YAML files into struct agg_slo_def (slo_def.h).
 *
 * What slic reads. Files hold any number of documents ("---"). Kinds:
 *   SLO             evaluated: one agg_slo_def per objective (see naming below);
 *   SLI             an indicator an SLO names with `indicatorRef`;
 *   AlertPolicy     named by an SLO's `alertPolicies` (a name, `alertPolicyRef: NAME`, or inline
 *                   `{kind: AlertPolicy, metadata, spec}`); its conditions are inline
 *                   `{kind: AlertCondition, ...}` or `conditionRef: NAME`;
 *   AlertCondition  one alert tier: `condition: {kind: burnrate, threshold, lookbackWindow,
 *                   alertAfter}` becomes burn_rate = threshold, long window = lookbackWindow,
 *                   short window = lookbackWindow / 12 (the SRE Workbook's ratio: 1h/5m, 6h/30m,
 *                   1d/2h, 3d/6h), alert_after_s = alertAfter;
 *   DataSource      consulted when a metricSource has `metricSourceRef` and no `type`;
 *   Service, AlertNotificationTarget  accepted and not used.
 * Other kinds, and other apiVersions than openslo/v1, are skipped and reported.
 *
 * The slic metric source: `metricSource: {type: slic, spec: {sli: NAME, outcome: good|bad,
 * sites: [PATTERN...], labels: {KEY: VALUE}}}`. A thresholdMetric's spec has no outcome and its
 * objective has `op: lte|lt` and `value:` a latency, either a number of seconds or a duration
 * ("300ms"). A ratioMetric has `good` (outcome: good) or `bad` (outcome: bad) plus `total` (no
 * outcome), all reading the same sli, sites and labels.
 *
 * Other choices, each also in the code where it is made:
 * - An SLO with several objectives becomes one definition per objective, named
 *   "<slo>.<suffix>": the objective's `name` (a slic extension, as Nobl9 has it), else its
 *   displayName lower-cased with runs of other characters turned into "-", else its index.
 *   SLO names follow RFC 1123 ([a-z0-9-], at most 63), so a "." never occurs in a plain name.
 * - Without `alertPolicies`, the default tiers of DESIGN.md apply, their burn rates scaled
 *   from a 30-day SLO to this one's period as (budget fraction) x period / long window
 *   (calendar periods count nominally: day 1 d, week 7 d, month 30 d, quarter 91 d,
 *   year 365 d); a tier whose long window exceeds the period is left out.
 *   `alertPolicies: []` means no alerts.
 * - Annotations on the SLO: `slic/min-events` (default 10: below this many events in an alert
 *   window no alert fires) and `runbook_url` (http:// or https://).
 *
 * Errors versus skips. A document slic cannot evaluate although it is valid OpenSLO (another
 * metric source, a raw ratio, op gt/gte, a rolling window in months, a calendar startTime off
 * a period boundary, ...) is skipped and listed in the report. Anything malformed (a missing
 * or mistyped field, a bad duration, a target outside (0, 1), an unknown op or budgeting
 * method, a duplicate name, a reference to nothing) fails the whole load with a message naming
 * file, line and key: a set of SLOs is loaded whole or not at all, so a SIGHUP reload can keep
 * the old set. */
#ifndef SLIC_AGG_OPENSLO_H
#define SLIC_AGG_OPENSLO_H

#include "batch.h"
#include "err.h"
#include "slo_def.h"

#include <stddef.h>

/* Default for `slic/min-events`. */
#define AGG_OPENSLO_MIN_EVENTS_DEFAULT 10

/* The result of a load: immutable, so threads may share it. */
struct agg_slo_set {
    /* Sorted by name; names unique. */
    struct agg_slo_def *defs;
    size_t n_defs;
    /* Per SLI (sorted by name), the latency thresholds of its threshold SLOs, ascending and
     * distinct: what the aggregator asks agents to count exactly. At most
     * SLIC_SERIES_THRESHOLDS_MAX per SLI (the smallest; an SLO beyond them is evaluated from
     * the sketch's rank) and SLIC_ACK_WANTED_MAX SLIs; a warning is logged when either cap
     * cuts. */
    struct slic_sli_thresholds *thresholds;
    size_t n_thresholds;
};

/* One document the load left out, and why. Strings owned by the report. */
struct agg_openslo_skipped {
    char *file;
    unsigned line;
    char *kind;   /* as written: "SLO", "Service", "PrometheusRule" */
    char *name;   /* metadata.name, or "" when it has none */
    char *reason; /* "metric source type 'prometheus' is not slic" */
};

struct agg_openslo_report {
    size_t n_files;
    size_t n_documents; /* non-empty documents read */
    struct agg_openslo_skipped *skipped;
    size_t n_skipped;
};

/* Loads every path in order: a file (any name), or a directory whose *.yaml and *.yml files
 * (not hidden, not in subdirectories) are read in name order. References resolve across all
 * of them. n may be 0 (an empty set).
 * report may be NULL; otherwise it is reset first and, on success, filled (free with
 * agg_openslo_report_fini; on failure it is left empty).
 * Returns 0 and *out (free with agg_slo_set_destroy). Errors, with err (may be NULL) naming
 * file, line and key:
 *   SLIC_ECONFIG, SLIC_EMISSING  malformed content, duplicate names, dangling references, or
 *                                a definition agg_slo_def_check (slo.h) says the evaluator
 *                                cannot evaluate;
 *   SLIC_ETOOBIG                 a file over yamlconf's limits, or more than
 *                                AGG_SLO_TIERS_MAX alert tiers on one SLO;
 *   -errno                       a path that cannot be read;
 *   SLIC_ENOMEM. */
int agg_openslo_load(const char *const paths[], size_t n, struct agg_slo_set **out,
                     struct agg_openslo_report *report, struct slic_errmsg *err);

/* Frees a set and every definition in it; NULL allowed. */
void agg_slo_set_destroy(struct agg_slo_set *set);

/* The definition named name, or NULL. */
const struct agg_slo_def *agg_slo_set_find(const struct agg_slo_set *set, const char *name);

/* The per-SLI thresholds above (set->thresholds); *n gets their count. Owned by the set. */
const struct slic_sli_thresholds *agg_slo_set_thresholds(const struct agg_slo_set *set, size_t *n);

/* Writes one line for a skipped document: `file:line: SLO 'name' skipped: reason`. */
void agg_openslo_skipped_format(const struct agg_openslo_skipped *s, char *buf, size_t size);

/* Logs each skipped document at warn level, component "openslo". */
void agg_openslo_report_log(const struct agg_openslo_report *r);

/* Frees what a report owns and zeroes it; NULL allowed. */
void agg_openslo_report_fini(struct agg_openslo_report *r);

#endif
