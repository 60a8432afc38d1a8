/* Internals of the OpenSLO loader, shared by openslo.c (files, the document index, the set),
 * openslo_slo.c (one SLO document into definitions), openslo_indicator.c (indicators and the
 * slic metric source) and openslo_alert.c (alert policies, conditions, default tiers).
 * Everything here points into YAML streams that live for the whole load; only the final
 * definitions own copies. Not for use outside these files. */
#ifndef SLIC_AGG_OPENSLO_INT_H
#define SLIC_AGG_OPENSLO_INT_H

#include "err.h"
#include "slo_def.h"
#include "yamlconf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kinds slic knows; documents of any other kind never enter the index. */
enum agg__os_kind {
    AGG__OS_SLO,
    AGG__OS_SLI,
    AGG__OS_ALERT_POLICY,
    AGG__OS_ALERT_CONDITION,
    AGG__OS_DATA_SOURCE,
    AGG__OS_SERVICE,
    AGG__OS_NOTIFICATION_TARGET,
};

/* One top-level document of a known kind, its shape checked: root and metadata are mappings,
 * metadata.name is valid, spec is a mapping (or NULL when absent). */
struct agg__os_doc {
    const slic_yaml_node *root;
    const slic_yaml_node *metadata;
    const slic_yaml_node *spec;
    enum agg__os_kind kind;
    const char *name;
};

/* Every known document of the load: docs in load order (so checks report the first mistake
 * in file order), by_name indexes docs sorted by (kind, name) for reference lookups. */
struct agg__os_index {
    struct agg__os_doc *docs;
    size_t n;
    const struct agg__os_doc **by_name;
};

/* The document of that kind and name, or NULL. */
const struct agg__os_doc *agg__openslo_find(const struct agg__os_index *ix, enum agg__os_kind kind,
                                            const char *name);

/* Checks a metadata mapping (name, displayName, labels, annotations) and returns its name.
 * rfc1123 demands the stricter SLO name rule (see openslo.h); other names follow
 * slic_name_valid. 0, SLIC_ECONFIG or SLIC_EMISSING. */
int agg__openslo_metadata(const slic_yaml_node *meta, bool rfc1123, const char **name,
                          struct slic_errmsg *err);

/* Checks an inline object `{apiVersion?, kind: KIND, metadata, spec}` as AlertPolicy and
 * AlertCondition may be written inside another document; *spec gets its spec mapping. */
int agg__openslo_inline(const slic_yaml_node *obj, const char *kind, const char **name,
                        const slic_yaml_node **spec, struct slic_errmsg *err);

/* Why a document cannot be evaluated; why[0] stays '\0' while it can. Parsers that meet an
 * unsupported feature fill it and return 0, so the caller skips the document instead of
 * failing the load. */
struct agg__os_skip {
    char why[240];
};

void agg__openslo_skip(struct agg__os_skip *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A slic metric source as written. */
struct agg__os_source {
    const slic_yaml_node *at; /* the source's spec mapping, for messages */
    const char *sli;
    const char *outcome; /* NULL, "good" or "bad" */
    const char *sites[AGG_SLO_SITES_MAX];
    size_t n_sites;
    const slic_yaml_node *labels; /* mapping, or NULL */
};

struct agg__os_indicator {
    enum agg_slo_indicator kind;
    struct agg__os_source src;
};

/* Reads an SLI spec (`{description?, thresholdMetric | ratioMetric}`). DataSource references
 * resolve through ix. 0 with *out filled, or 0 with skip->why set when slic cannot evaluate
 * it; SLIC_ECONFIG / SLIC_EMISSING when malformed. */
int agg__openslo_indicator(const struct agg__os_index *ix, const slic_yaml_node *spec,
                           struct agg__os_indicator *out, struct agg__os_skip *skip,
                           struct slic_errmsg *err);

/* Copies a source into owned memory (labels sorted by key). 0 or SLIC_ENOMEM; on failure
 * out holds whatever was copied, for agg_slo_def_fini to free. */
int agg__openslo_source_copy(const struct agg__os_source *src, struct agg_slo_source *out);

/* Tiers from an SLO's alertPolicies sequence, resolving references through ix. 0; SLIC_ECONFIG
 * / SLIC_EMISSING when malformed or dangling; SLIC_ETOOBIG over AGG_SLO_TIERS_MAX tiers. */
int agg__openslo_alert_tiers(const struct agg__os_index *ix, const slic_yaml_node *policies,
                             struct agg_slo_tier tiers[AGG_SLO_TIERS_MAX], size_t *n,
                             struct slic_errmsg *err);

/* Checks an AlertPolicy document or AlertCondition document on its own, so a broken one is
 * reported even when no SLO names it. */
int agg__openslo_check_policy(const struct agg__os_index *ix, const struct agg__os_doc *doc,
                              struct slic_errmsg *err);
int agg__openslo_check_condition(const struct agg__os_doc *doc, struct slic_errmsg *err);

/* The default tiers scaled to an SLO period (see openslo.h). */
void agg__openslo_default_tiers(double period_s, struct agg_slo_tier tiers[AGG_SLO_TIERS_MAX],
                                size_t *n);

/* An SLO's timeWindow, the fields of agg_slo_def it fills plus the nominal period. */
struct agg__os_window {
    enum agg_slo_window_kind kind;
    double rolling_s;
    enum agg_slo_calendar_unit cal_unit;
    unsigned cal_count;
    int64_t cal_start;
    const char *time_zone; /* NULL = UTC */
    double period_s;       /* rolling_s, or cal_count nominal units (month 30 d, ...) */
};

/* Reads spec.timeWindow. 0, or 0 with skip set; SLIC_ECONFIG / SLIC_EMISSING; SLIC_ENOMEM. */
int agg__openslo_window(const slic_yaml_node *spec, struct agg__os_window *w,
                        struct agg__os_skip *skip, struct slic_errmsg *err);

/* Reads a timeSliceWindow (a number of minutes, or a duration) no longer than period_s. 0, or
 * 0 with skip set when it is no whole number of slic's 10 s windows; SLIC_ECONFIG. */
int agg__openslo_timeslice(const slic_yaml_node *node, double period_s, double *out,
                           struct agg__os_skip *skip, struct slic_errmsg *err);

/* A growing array of finished definitions. */
struct agg__os_defs {
    struct agg_slo_def *v;
    size_t n, cap;
};

/* Turns one SLO document into definitions appended to defs, or fills skip->why. */
int agg__openslo_slo(const struct agg__os_index *ix, const struct agg__os_doc *doc,
                     struct agg__os_defs *defs, struct agg__os_skip *skip, struct slic_errmsg *err);

/* Moves defs (left empty) into a new set: sorted, names checked unique, thresholds derived.
 * 0, SLIC_ENOMEM or SLIC_ECONFIG; on failure what the set took is freed and anything it did
 * not take stays in defs for the caller to free. */
struct agg_slo_set;
int agg__openslo_set_build(struct agg__os_defs *defs, struct agg_slo_set **out,
                           struct slic_errmsg *err);

/* slic_malloc'd copy of s; NULL for NULL s or out of memory (callers tell the two apart). */
char *agg__openslo_strdup(const char *s);

/* RFC 1123 label: 1..63 of [a-z0-9-], starting and ending alphanumeric. */
bool agg__openslo_rfc1123(const char *s);

#endif
