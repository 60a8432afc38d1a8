/* Alert tiers for an SLO: from the AlertPolicy documents it names (each condition a burnrate
 * AlertCondition, inline or by reference), or else the multi-window, multi-burn-rate defaults
 * of the SRE Workbook scaled to the SLO's period. OpenSLO gives a condition one lookback
 * window; slic alerts on two, so the short window is derived from the long one. */
#include "openslo_int.h"

#include <stdio.h>
#include <string.h>

/* The SRE Workbook's ratio of long to short window (1h/5m, 6h/30m, 1d/2h, 3d/6h). */
#define SHORT_WINDOW_DIVISOR 12.0

/* The short window must hold at least one 10 s window, the finest slic stores. */
#define LOOKBACK_MIN_S 120.0
#define LOOKBACK_MAX_S (366 * 86400.0)

/* Burn rates above this would need a target closer to 1 than a double tells apart. */
#define BURN_RATE_MAX 1e6

/* One default tier: severity, windows, and the percentage of the period's budget spent by the
 * time it fires when burning at its rate for its long window. */
struct default_tier {
    const char *severity;
    double long_s, short_s;
    double budget_pct;
};

static const struct default_tier default_tiers[] = {
    {"page", 3600, 300, 2},
    {"page", 6 * 3600, 1800, 5},
    {"ticket", 86400, 2 * 3600, 10},
    {"ticket", 3 * 86400, 6 * 3600, 10},
};

/* For a 30-day SLO the workbook's rates are 14.4, 6, 3 and 1: burning at rate r for window w
 * spends r * w / period of the budget. The same budget percentages scaled to another period
 * give r = pct * period / (100 * w); one division keeps 30 d at exactly 14.4, 6, 3 and 1. */
void agg__openslo_default_tiers(double period_s, struct agg_slo_tier tiers[AGG_SLO_TIERS_MAX],
                                size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < sizeof default_tiers / sizeof default_tiers[0]; i++) {
        const struct default_tier *d = &default_tiers[i];
        /* A long window past the period would judge more than the SLO's own window. */
        if (d->long_s > period_s)
            continue;
        struct agg_slo_tier *t = &tiers[(*n)++];
        memset(t, 0, sizeof *t);
        snprintf(t->severity, sizeof t->severity, "%s", d->severity);
        t->long_window_s = d->long_s;
        t->short_window_s = d->short_s;
        t->burn_rate = d->budget_pct * period_s / (100.0 * d->long_s);
    }
}

/* Severities become alert labels: short tokens like page, ticket, sev1. */
static bool severity_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof((struct agg_slo_tier *)0)->severity)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int read_burnrate(const slic_yaml_node *cond, struct agg_slo_tier *t,
                         struct slic_errmsg *err)
{
    static const char *const keys[] = {"kind", "threshold", "lookbackWindow", "alertAfter", NULL};
    const char *kind = "burnrate";
    int rc;
    if ((rc = slic_yaml_check_keys(cond, keys, err)) ||
        (rc = slic_yaml_get_string(cond, "kind", 0, &kind, err)))
        return rc;
    if (strcmp(kind, "burnrate") != 0)
        return slic_yaml_error(slic_yaml_get(cond, "kind"), err, SLIC_ECONFIG,
                               "expected burnrate (the one OpenSLO v1 condition kind), got "
                               "\"%s\"",
                               kind);
    if ((rc = slic_yaml_get_double(cond, "threshold", SLIC_YAML_REQUIRED, 0, BURN_RATE_MAX,
                                   &t->burn_rate, err)) ||
        (rc = slic_yaml_get_duration(cond, "lookbackWindow", SLIC_YAML_REQUIRED, LOOKBACK_MIN_S,
                                     LOOKBACK_MAX_S, &t->long_window_s, err)) ||
        (rc = slic_yaml_get_duration(cond, "alertAfter", 0, 0, LOOKBACK_MAX_S, &t->alert_after_s,
                                     err)))
        return rc;
    if (t->burn_rate <= 0)
        return slic_yaml_error(slic_yaml_get(cond, "threshold"), err, SLIC_ECONFIG,
                               "a burn rate threshold must be above 0");
    t->short_window_s = t->long_window_s / SHORT_WINDOW_DIVISOR;
    return 0;
}

/* The spec of an AlertCondition, as one tier. */
static int read_condition(const slic_yaml_node *spec, struct agg_slo_tier *t,
                          struct slic_errmsg *err)
{
    static const char *const keys[] = {"description", "severity", "condition", NULL};
    const char *severity = NULL, *description = NULL;
    const slic_yaml_node *cond = NULL;
    int rc;
    memset(t, 0, sizeof *t);
    if ((rc = slic_yaml_check_keys(spec, keys, err)) ||
        (rc = slic_yaml_get_string(spec, "description", 0, &description, err)) ||
        (rc = slic_yaml_get_string(spec, "severity", SLIC_YAML_REQUIRED, &severity, err)) ||
        (rc = slic_yaml_get_mapping(spec, "condition", SLIC_YAML_REQUIRED, &cond, err)))
        return rc;
    if (!severity_valid(severity))
        return slic_yaml_error(slic_yaml_get(spec, "severity"), err, SLIC_ECONFIG,
                               "expected a severity of 1 to %zu characters of [A-Za-z0-9_-] "
                               "like page or ticket, got \"%s\"",
                               sizeof t->severity - 1, severity);
    snprintf(t->severity, sizeof t->severity, "%s", severity);
    return read_burnrate(cond, t, err);
}

/* One item of an AlertPolicy's conditions: `conditionRef: NAME` or an inline AlertCondition. */
static int read_condition_item(const struct agg__os_index *ix, const slic_yaml_node *item,
                               struct agg_slo_tier *t, struct slic_errmsg *err)
{
    static const char *const ref_keys[] = {"conditionRef", NULL};
    const slic_yaml_node *spec = NULL;
    const char *name = NULL;
    int rc = slic_yaml_as_mapping(item, err);
    if (rc)
        return rc;
    if (!slic_yaml_get(item, "conditionRef")) {
        if ((rc = agg__openslo_inline(item, "AlertCondition", &name, &spec, err)))
            return rc;
        return read_condition(spec, t, err);
    }
    if ((rc = slic_yaml_check_keys(item, ref_keys, err)) ||
        (rc = slic_yaml_get_string(item, "conditionRef", 0, &name, err)))
        return rc;
    const struct agg__os_doc *doc = agg__openslo_find(ix, AGG__OS_ALERT_CONDITION, name);
    if (!doc)
        return slic_yaml_error(slic_yaml_get(item, "conditionRef"), err, SLIC_ECONFIG,
                               "no AlertCondition named '%s' in the loaded files", name);
    return read_condition(doc->spec, t, err);
}

/* The spec of an AlertPolicy: its tiers into tiers[*n...], none if alertWhenBreaching is false
 * (the policy then only describes notifications slic does not send). */
static int read_policy(const struct agg__os_index *ix, const slic_yaml_node *spec,
                       struct agg_slo_tier tiers[AGG_SLO_TIERS_MAX], size_t *n,
                       struct slic_errmsg *err)
{
    static const char *const keys[] = {"description",
                                       "alertWhenNoData",
                                       "alertWhenResolved",
                                       "alertWhenBreaching",
                                       "conditions",
                                       "notificationTargets",
                                       NULL};
    const slic_yaml_node *conds = NULL, *targets = NULL;
    const char *description = NULL;
    bool breaching = true, no_data = false, resolved = false;
    int rc;
    if ((rc = slic_yaml_check_keys(spec, keys, err)) ||
        (rc = slic_yaml_get_string(spec, "description", 0, &description, err)) ||
        (rc = slic_yaml_get_bool(spec, "alertWhenBreaching", 0, &breaching, err)) ||
        (rc = slic_yaml_get_bool(spec, "alertWhenNoData", 0, &no_data, err)) ||
        (rc = slic_yaml_get_bool(spec, "alertWhenResolved", 0, &resolved, err)) ||
        (rc = slic_yaml_get_sequence(spec, "notificationTargets", 0, &targets, err)) ||
        (rc = slic_yaml_get_sequence(spec, "conditions", SLIC_YAML_REQUIRED, &conds, err)))
        return rc;
    if (slic_yaml_len(conds) == 0)
        return slic_yaml_error(conds, err, SLIC_ECONFIG, "an AlertPolicy needs a condition");
    for (size_t i = 0; i < slic_yaml_len(conds); i++) {
        const slic_yaml_node *item = slic_yaml_item(conds, i);
        struct agg_slo_tier t;
        if ((rc = read_condition_item(ix, item, &t, err)))
            return rc;
        if (!breaching)
            continue;
        if (*n == AGG_SLO_TIERS_MAX)
            return slic_yaml_error(item, err, SLIC_ETOOBIG, "an SLO takes at most %d alert tiers",
                                   AGG_SLO_TIERS_MAX);
        tiers[(*n)++] = t;
    }
    return 0;
}

/* One item of an SLO's alertPolicies: a name, `alertPolicyRef: NAME`, or an inline policy. */
static int read_policy_item(const struct agg__os_index *ix, const slic_yaml_node *item,
                            struct agg_slo_tier tiers[AGG_SLO_TIERS_MAX], size_t *n,
                            struct slic_errmsg *err)
{
    static const char *const ref_keys[] = {"alertPolicyRef", NULL};
    const slic_yaml_node *spec = NULL, *ref_node = item;
    const char *name = NULL;
    int rc;
    if (slic_yaml_kind(item) == SLIC_YAML_MAPPING && !slic_yaml_get(item, "alertPolicyRef")) {
        if ((rc = agg__openslo_inline(item, "AlertPolicy", &name, &spec, err)))
            return rc;
        return read_policy(ix, spec, tiers, n, err);
    }
    if (slic_yaml_kind(item) == SLIC_YAML_MAPPING) {
        if ((rc = slic_yaml_check_keys(item, ref_keys, err)))
            return rc;
        ref_node = slic_yaml_get(item, "alertPolicyRef");
    }
    if ((rc = slic_yaml_as_string(ref_node, &name, err)))
        return rc;
    const struct agg__os_doc *doc = agg__openslo_find(ix, AGG__OS_ALERT_POLICY, name);
    if (!doc)
        return slic_yaml_error(ref_node, err, SLIC_ECONFIG,
                               "no AlertPolicy named '%s' in the loaded files", name);
    return read_policy(ix, doc->spec, tiers, n, err);
}

int agg__openslo_alert_tiers(const struct agg__os_index *ix, const slic_yaml_node *policies,
                             struct agg_slo_tier tiers[AGG_SLO_TIERS_MAX], size_t *n,
                             struct slic_errmsg *err)
{
    int rc = slic_yaml_as_sequence(policies, err);
    *n = 0;
    for (size_t i = 0; rc == 0 && i < slic_yaml_len(policies); i++)
        rc = read_policy_item(ix, slic_yaml_item(policies, i), tiers, n, err);
    return rc;
}

int agg__openslo_check_policy(const struct agg__os_index *ix, const struct agg__os_doc *doc,
                              struct slic_errmsg *err)
{
    struct agg_slo_tier tiers[AGG_SLO_TIERS_MAX];
    size_t n = 0;
    return read_policy(ix, doc->spec, tiers, &n, err);
}

int agg__openslo_check_condition(const struct agg__os_doc *doc, struct slic_errmsg *err)
{
    struct agg_slo_tier t;
    return read_condition(doc->spec, &t, err);
}
