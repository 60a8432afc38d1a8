/* One OpenSLO SLO document into slic definitions: the indicator (inline or by indicatorRef),
 * time window, budgeting method, slic's annotations, alert tiers, and one definition per
 * objective. Features slic cannot evaluate are looked for before anything else is judged, so
 * an SLO meant for another tool is skipped, not rejected for details slic would not use. */
#include "openslo_int.h"

#include "alloc.h"
#include "openslo.h"
#include "slo.h"
#include "timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenSLO bounds descriptions to 1050 characters; they travel into alerts and the API. */
#define DESCRIPTION_MAX 1050
#define RUNBOOK_MAX 2048
/* The longest latency bound: a day, beyond any request a user waits for. */
#define THRESHOLD_MAX_S 86400.0
#define MIN_EVENTS_MAX UINT64_C(1000000000000)

/* What every objective of one SLO shares; strings point into the YAML stream. */
struct slo_common {
    const struct agg__os_doc *doc;
    const char *display_name, *description, *service, *runbook;
    struct agg__os_indicator ind;
    enum agg_slo_budgeting budgeting;
    struct agg__os_window window;
    struct agg_slo_tier tiers[AGG_SLO_TIERS_MAX];
    size_t n_tiers;
    uint64_t min_events;
};

/* What one objective adds. */
struct objective {
    const slic_yaml_node *at;
    const char *display_name;
    char suffix[64]; /* "" when the SLO has one objective */
    double target;
    enum agg_slo_op op;
    double threshold_s;
    double timeslice_target, timeslice_window_s;
};

/* ---- indicator ---- */

static int read_inline_indicator(const struct agg__os_index *ix, const slic_yaml_node *ind,
                                 struct agg__os_indicator *out, struct agg__os_skip *skip,
                                 struct slic_errmsg *err)
{
    static const char *const keys[] = {"metadata", "spec", NULL};
    const slic_yaml_node *meta = NULL, *spec = NULL;
    const char *name = NULL;
    int rc;
    if ((rc = slic_yaml_check_keys(ind, keys, err)) ||
        (rc = slic_yaml_get_mapping(ind, "metadata", 0, &meta, err)) ||
        (meta && (rc = agg__openslo_metadata(meta, false, &name, err))) ||
        (rc = slic_yaml_get_mapping(ind, "spec", SLIC_YAML_REQUIRED, &spec, err)))
        return rc;
    return agg__openslo_indicator(ix, spec, out, skip, err);
}

static int read_indicator(const struct agg__os_index *ix, const slic_yaml_node *spec,
                          struct agg__os_indicator *out, struct agg__os_skip *skip,
                          struct slic_errmsg *err)
{
    const slic_yaml_node *inl = slic_yaml_get(spec, "indicator");
    const slic_yaml_node *ref = slic_yaml_get(spec, "indicatorRef");
    const char *name = NULL;
    int rc;
    if (inl && ref)
        return slic_yaml_error(ref, err, SLIC_ECONFIG,
                               "give either indicator or indicatorRef, not both");
    if (!inl && !ref)
        return slic_yaml_error(spec, err, SLIC_EMISSING,
                               "an SLO needs an indicator or an indicatorRef");
    if (inl) {
        if ((rc = slic_yaml_as_mapping(inl, err)))
            return rc;
        return read_inline_indicator(ix, inl, out, skip, err);
    }
    if ((rc = slic_yaml_as_string(ref, &name, err)))
        return rc;
    const struct agg__os_doc *sli = agg__openslo_find(ix, AGG__OS_SLI, name);
    if (!sli)
        return slic_yaml_error(ref, err, SLIC_ECONFIG, "no SLI named '%s' in the loaded files",
                               name);
    struct agg__os_skip inner = {{0}};
    if ((rc = agg__openslo_indicator(ix, sli->spec, out, &inner, err)))
        return rc;
    if (inner.why[0])
        agg__openslo_skip(skip, "SLI '%s': %s", name, inner.why);
    return 0;
}

/* ---- what slic cannot evaluate, looked for first ---- */

static int objective_skips(const slic_yaml_node *obj, const struct agg__os_indicator *ind,
                           struct agg__os_skip *skip, struct slic_errmsg *err)
{
    int rc = slic_yaml_as_mapping(obj, err);
    if (rc)
        return rc;
    if (slic_yaml_get(obj, "indicator") || slic_yaml_get(obj, "indicatorRef") ||
        slic_yaml_get(obj, "compositeWeight")) {
        agg__openslo_skip(skip, "objectives with their own indicator (composite SLOs) are not "
                                "supported");
        return 0;
    }
    const char *op = NULL;
    if ((rc = slic_yaml_get_string(obj, "op", 0, &op, err)))
        return rc;
    if (ind->kind == AGG_SLO_THRESHOLD && op && (!strcmp(op, "gt") || !strcmp(op, "gte")))
        agg__openslo_skip(skip,
                          "op '%s': slic's latency SLOs count events at or under a bound "
                          "(lte, lt)",
                          op);
    return 0;
}

static int slo_skips(const slic_yaml_node *objectives, const struct agg__os_indicator *ind,
                     struct agg__os_skip *skip, struct slic_errmsg *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && !skip->why[0] && i < slic_yaml_len(objectives); i++)
        rc = objective_skips(slic_yaml_item(objectives, i), ind, skip, err);
    return rc;
}

/* ---- SLO-wide settings ---- */

static int read_budgeting(const slic_yaml_node *spec, enum agg_slo_budgeting *out,
                          struct slic_errmsg *err)
{
    static const struct {
        const char *name;
        enum agg_slo_budgeting b;
    } methods[] = {{"Occurrences", AGG_SLO_OCCURRENCES},
                   {"Timeslices", AGG_SLO_TIMESLICES},
                   {"RatioTimeslices", AGG_SLO_RATIO_TIMESLICES}};
    const char *s = NULL;
    int rc = slic_yaml_get_string(spec, "budgetingMethod", SLIC_YAML_REQUIRED, &s, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(s, methods[i].name) == 0) {
            *out = methods[i].b;
            return 0;
        }
    }
    return slic_yaml_error(slic_yaml_get(spec, "budgetingMethod"), err, SLIC_ECONFIG,
                           "expected Occurrences, Timeslices or RatioTimeslices, got \"%s\"", s);
}

static bool runbook_valid(const char *s)
{
    size_t n = strlen(s);
    if (n > RUNBOOK_MAX || (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    }
    return true;
}

/* Annotations are other tools' business except slic's own: runbook_url, the name Prometheus
 * alerting rules use, and the slic/ prefix, where an unknown key is a typo worth stopping for. */
static int read_annotations(const slic_yaml_node *meta, struct slo_common *c,
                            struct slic_errmsg *err)
{
    const slic_yaml_node *ann = slic_yaml_get(meta, "annotations");
    int rc;
    c->min_events = AGG_OPENSLO_MIN_EVENTS_DEFAULT;
    if (!ann)
        return 0;
    for (size_t i = 0; i < slic_yaml_len(ann); i++) {
        const slic_yaml_node *key = slic_yaml_pair_key(ann, i);
        if (strncmp(slic_yaml_text(key), "slic/", 5) == 0 &&
            strcmp(slic_yaml_text(key), "slic/min-events") != 0)
            return slic_yaml_error(slic_yaml_pair_value(ann, i), err, SLIC_ECONFIG,
                                   "unknown slic annotation; slic reads slic/min-events (and "
                                   "runbook_url)");
    }
    if ((rc = slic_yaml_get_uint64(ann, "slic/min-events", 0, 0, MIN_EVENTS_MAX, &c->min_events,
                                   err)) ||
        (rc = slic_yaml_get_string(ann, "runbook_url", 0, &c->runbook, err)))
        return rc;
    if (c->runbook && !runbook_valid(c->runbook))
        return slic_yaml_error(slic_yaml_get(ann, "runbook_url"), err, SLIC_ECONFIG,
                               "expected an http:// or https:// URL without spaces, at most %d "
                               "characters",
                               RUNBOOK_MAX);
    return 0;
}

static int read_text(const slic_yaml_node *map, const char *key, const char **out,
                     struct slic_errmsg *err)
{
    int rc = slic_yaml_get_string(map, key, 0, out, err);
    if (rc == 0 && *out && strlen(*out) > DESCRIPTION_MAX)
        return slic_yaml_error(slic_yaml_get(map, key), err, SLIC_ECONFIG,
                               "at most %d characters, got %zu", DESCRIPTION_MAX, strlen(*out));
    return rc;
}

static int read_tiers(const struct agg__os_index *ix, const slic_yaml_node *spec,
                      struct slo_common *c, struct slic_errmsg *err)
{
    const slic_yaml_node *policies = slic_yaml_get(spec, "alertPolicies");
    if (!policies) {
        agg__openslo_default_tiers(c->window.period_s, c->tiers, &c->n_tiers);
        return 0;
    }
    return agg__openslo_alert_tiers(ix, policies, c->tiers, &c->n_tiers, err);
}

/* ---- objectives ---- */

static int read_target(const slic_yaml_node *obj, double *target, struct slic_errmsg *err)
{
    const slic_yaml_node *t = slic_yaml_get(obj, "target");
    const slic_yaml_node *pct = slic_yaml_get(obj, "targetPercent");
    double scale = pct ? 100 : 1;
    int rc;
    if (t && pct)
        return slic_yaml_error(pct, err, SLIC_ECONFIG,
                               "give either target or targetPercent, not both");
    if (!t && !pct)
        return slic_yaml_error(obj, err, SLIC_EMISSING,
                               "an objective needs a target (0.999) or a targetPercent (99.9)");
    if ((rc = slic_yaml_as_double(t ? t : pct, 0, scale, target, err)))
        return rc;
    /* 0 would have no good events to ask for and 1 no error budget to spend. */
    if (*target <= 0 || *target >= scale)
        return slic_yaml_error(t ? t : pct, err, SLIC_ECONFIG,
                               "expected a %s above 0 and below %g, got %g",
                               t ? "target" : "targetPercent", scale, *target);
    *target /= scale;
    return 0;
}

/* A latency bound: a duration ("300ms") or, as OpenSLO has it, a number (seconds here). */
static int read_threshold(const slic_yaml_node *obj, struct objective *o, struct slic_errmsg *err)
{
    const char *op = NULL, *text = NULL;
    int rc;
    if ((rc = slic_yaml_get_string(obj, "op", SLIC_YAML_REQUIRED, &op, err)))
        return rc;
    o->op = strcmp(op, "lt") == 0 ? AGG_SLO_OP_LT : AGG_SLO_OP_LTE;
    const slic_yaml_node *v = slic_yaml_get(obj, "value");
    if (!v)
        return slic_yaml_error(obj, err, SLIC_EMISSING,
                               "a thresholdMetric objective needs a value: the latency bound, "
                               "like 300ms or 0.3 (seconds)");
    if ((rc = slic_yaml_as_string(v, &text, err)))
        return rc;
    char *end = NULL;
    double s = 0;
    if (strspn(text, "0123456789.eE+-") == strlen(text))
        s = strtod(text, &end);
    else if (slic_duration_parse(text, &s) == 0)
        end = (char *)text + strlen(text);
    if (!end || *end != '\0' || !(s > 0 && s <= THRESHOLD_MAX_S))
        return slic_yaml_error(v, err, SLIC_ECONFIG,
                               "expected a latency bound above 0 and at most 1d: a duration like "
                               "300ms or a number of seconds like 0.3, got \"%s\"",
                               text);
    o->threshold_s = s;
    return 0;
}

static int check_op(const slic_yaml_node *obj, enum agg_slo_indicator kind, struct slic_errmsg *err)
{
    const char *op = NULL;
    int rc = slic_yaml_get_string(obj, "op", 0, &op, err);
    if (rc || !op)
        return rc;
    if (strcmp(op, "lte") != 0 && strcmp(op, "lt") != 0 && strcmp(op, "gte") != 0 &&
        strcmp(op, "gt") != 0)
        return slic_yaml_error(slic_yaml_get(obj, "op"), err, SLIC_ECONFIG,
                               "expected lte, lt, gte or gt, got \"%s\"", op);
    /* OpenSLO's own examples put an op on ratio objectives, where it means nothing; a value
     * there would look like a latency bound that is not applied, so that is refused. */
    if (kind != AGG_SLO_THRESHOLD && slic_yaml_get(obj, "value"))
        return slic_yaml_error(slic_yaml_get(obj, "value"), err, SLIC_ECONFIG,
                               "value applies to a thresholdMetric; a ratioMetric objective has "
                               "only a target");
    return 0;
}

static int read_slices(const slic_yaml_node *obj, const struct slo_common *c, struct objective *o,
                       struct agg__os_skip *skip, struct slic_errmsg *err)
{
    const slic_yaml_node *target = slic_yaml_get(obj, "timeSliceTarget");
    const slic_yaml_node *window = slic_yaml_get(obj, "timeSliceWindow");
    int rc;
    if (c->budgeting == AGG_SLO_OCCURRENCES && (target || window))
        return slic_yaml_error(target ? target : window, err, SLIC_ECONFIG,
                               "time slices apply to Timeslices and RatioTimeslices budgeting");
    if (c->budgeting == AGG_SLO_RATIO_TIMESLICES && target)
        return slic_yaml_error(target, err, SLIC_ECONFIG,
                               "RatioTimeslices averages the slices' ratios; timeSliceTarget "
                               "applies to Timeslices");
    if (c->budgeting == AGG_SLO_OCCURRENCES)
        return 0;
    if (!window)
        return slic_yaml_error(obj, err, SLIC_EMISSING, "missing required key 'timeSliceWindow'");
    if (c->budgeting == AGG_SLO_TIMESLICES) {
        if (!target)
            return slic_yaml_error(obj, err, SLIC_EMISSING,
                                   "missing required key 'timeSliceTarget'");
        if ((rc = slic_yaml_as_double(target, 0, 1, &o->timeslice_target, err)))
            return rc;
        if (o->timeslice_target <= 0)
            return slic_yaml_error(target, err, SLIC_ECONFIG,
                                   "expected a timeSliceTarget above 0 and at most 1");
    }
    return agg__openslo_timeslice(window, c->window.period_s, &o->timeslice_window_s, skip, err);
}

/* Lower-case letters and digits of s, other runs turned into one "-", trimmed to 63. */
static void slug(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 1 < size && n < 63; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) && ch < 0x80)
            out[n++] = (char)tolower(ch);
        else if (n > 0 && out[n - 1] != '-')
            out[n++] = '-';
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
}

/* The suffix naming one of several objectives: name, else slug of displayName, else index. */
static int objective_suffix(const slic_yaml_node *obj, size_t index, struct objective *o,
                            struct slic_errmsg *err)
{
    const char *name = NULL;
    int rc = slic_yaml_get_string(obj, "name", 0, &name, err);
    if (rc)
        return rc;
    if (name && !agg__openslo_rfc1123(name))
        return slic_yaml_error(slic_yaml_get(obj, "name"), err, SLIC_ECONFIG,
                               "expected a name of at most 63 characters [a-z0-9-], starting "
                               "and ending with a letter or digit, got \"%s\"",
                               name);
    if (name)
        snprintf(o->suffix, sizeof o->suffix, "%s", name);
    else if (o->display_name)
        slug(o->display_name, o->suffix, sizeof o->suffix);
    if (!o->suffix[0])
        snprintf(o->suffix, sizeof o->suffix, "%zu", index);
    return 0;
}

static int read_objective(const slic_yaml_node *obj, size_t index, size_t count,
                          const struct slo_common *c, struct objective *o,
                          struct agg__os_skip *skip, struct slic_errmsg *err)
{
    static const char *const keys[] = {"displayName",
                                       "name",
                                       "op",
                                       "value",
                                       "target",
                                       "targetPercent",
                                       "timeSliceTarget",
                                       "timeSliceWindow",
                                       "indicator",
                                       "indicatorRef",
                                       "compositeWeight",
                                       NULL};
    int rc;
    memset(o, 0, sizeof *o);
    o->at = obj;
    if ((rc = slic_yaml_check_keys(obj, keys, err)) ||
        (rc = slic_yaml_get_string(obj, "displayName", 0, &o->display_name, err)) ||
        (rc = check_op(obj, c->ind.kind, err)) || (rc = read_target(obj, &o->target, err)))
        return rc;
    if (c->ind.kind == AGG_SLO_THRESHOLD && (rc = read_threshold(obj, o, err)))
        return rc;
    if ((rc = read_slices(obj, c, o, skip, err)) || skip->why[0])
        return rc;
    return count > 1 ? objective_suffix(obj, index, o, err) : 0;
}

/* ---- definitions ---- */

static int dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (s && !(*out = agg__openslo_strdup(s)))
        return SLIC_ENOMEM;
    return 0;
}

static int def_name(const struct slo_common *c, const struct objective *o, struct agg_slo_def *d)
{
    if (!o->suffix[0])
        return dup_opt(c->doc->name, &d->name);
    char buf[SLIC_NAME_MAX + 1];
    snprintf(buf, sizeof buf, "%s.%s", c->doc->name, o->suffix);
    return dup_opt(buf, &d->name);
}

static int def_display_name(const struct slo_common *c, const struct objective *o,
                            struct agg_slo_def *d)
{
    if (!o->suffix[0] || !o->display_name)
        return dup_opt(c->display_name, &d->display_name);
    char buf[512];
    snprintf(buf, sizeof buf, "%s: %s", c->display_name ? c->display_name : c->doc->name,
             o->display_name);
    return dup_opt(buf, &d->display_name);
}

static int def_strings(const struct slo_common *c, const struct objective *o, struct agg_slo_def *d)
{
    int rc;
    if ((rc = def_name(c, o, d)) || (rc = def_display_name(c, o, d)) ||
        (rc = dup_opt(c->description, &d->description)) ||
        (rc = dup_opt(c->service, &d->service)) ||
        (rc = dup_opt(slic_yaml_file(c->doc->root), &d->file)) ||
        (rc = dup_opt(c->window.time_zone, &d->time_zone)) ||
        (rc = dup_opt(c->runbook, &d->runbook_url)))
        return rc;
    return agg__openslo_source_copy(&c->ind.src, &d->source);
}

static void def_numbers(const struct slo_common *c, const struct objective *o,
                        struct agg_slo_def *d)
{
    d->line = slic_yaml_line(o->suffix[0] ? o->at : c->doc->root);
    d->indicator = c->ind.kind;
    d->op = o->op;
    d->threshold_s = o->threshold_s;
    d->target = o->target;
    d->budgeting = c->budgeting;
    d->timeslice_target = o->timeslice_target;
    d->timeslice_window_s = o->timeslice_window_s;
    d->window = c->window.kind;
    d->rolling_s = c->window.rolling_s;
    d->cal_unit = c->window.cal_unit;
    d->cal_count = c->window.cal_count;
    d->cal_start = c->window.cal_start;
    memcpy(d->tiers, c->tiers, sizeof d->tiers);
    d->n_tiers = c->n_tiers;
    d->min_events = c->min_events;
}

static int defs_append(struct agg__os_defs *defs, const struct slo_common *c,
                       const struct objective *o, struct slic_errmsg *err)
{
    if (defs->n == defs->cap) {
        size_t cap = defs->cap ? defs->cap * 2 : 16;
        struct agg_slo_def *v = slic_realloc(defs->v, cap * sizeof *v);
        if (!v)
            return SLIC_ENOMEM;
        defs->v = v;
        defs->cap = cap;
    }
    struct agg_slo_def *d = &defs->v[defs->n++];
    memset(d, 0, sizeof *d);
    def_numbers(c, o, d);
    int rc = def_strings(c, o, d);
    if (rc)
        return rc;
    /* The evaluator's own account of what it can evaluate has the last word, so a definition
     * this loader accepts never fails later; its message names file, line, SLO and field. */
    return agg_slo_def_check(d, err) ? SLIC_ECONFIG : 0;
}

/* Reads every objective before adding any, so a skip found in a later one adds nothing. */
static int add_objectives(const slic_yaml_node *objectives, const struct slo_common *c,
                          struct agg__os_defs *defs, struct agg__os_skip *skip,
                          struct slic_errmsg *err)
{
    size_t n = slic_yaml_len(objectives);
    struct objective *o = slic_calloc(n, sizeof *o);
    int rc = o ? 0 : SLIC_ENOMEM;
    for (size_t i = 0; rc == 0 && !skip->why[0] && i < n; i++) {
        const slic_yaml_node *obj = slic_yaml_item(objectives, i);
        rc = read_objective(obj, i, n, c, &o[i], skip, err);
        for (size_t j = 0; rc == 0 && j < i; j++) {
            if (strcmp(o[i].suffix, o[j].suffix) == 0)
                rc = slic_yaml_error(obj, err, SLIC_ECONFIG,
                                     "two objectives of this SLO are both named '%s.%s'; give "
                                     "each a distinct name",
                                     c->doc->name, o[i].suffix);
        }
    }
    for (size_t i = 0; rc == 0 && !skip->why[0] && i < n; i++)
        rc = defs_append(defs, c, &o[i], err);
    slic_free(o);
    return rc;
}

static int read_common(const struct agg__os_index *ix, const slic_yaml_node *spec,
                       struct slo_common *c, struct agg__os_skip *skip, struct slic_errmsg *err)
{
    int rc;
    if ((rc = read_text(spec, "description", &c->description, err)) ||
        (rc = slic_yaml_get_string(spec, "service", 0, &c->service, err)) ||
        (rc = slic_yaml_get_string(c->doc->metadata, "displayName", 0, &c->display_name, err)) ||
        (rc = agg__openslo_window(spec, &c->window, skip, err)) || skip->why[0] ||
        (rc = read_budgeting(spec, &c->budgeting, err)) ||
        (rc = read_annotations(c->doc->metadata, c, err)))
        return rc;
    return read_tiers(ix, spec, c, err);
}

int agg__openslo_slo(const struct agg__os_index *ix, const struct agg__os_doc *doc,
                     struct agg__os_defs *defs, struct agg__os_skip *skip, struct slic_errmsg *err)
{
    static const char *const keys[] = {"description",  "service",       "indicator",
                                       "indicatorRef", "timeWindow",    "budgetingMethod",
                                       "objectives",   "alertPolicies", NULL};
    const slic_yaml_node *objectives = NULL;
    struct slo_common c;
    int rc;
    memset(&c, 0, sizeof c);
    c.doc = doc;
    if ((rc = slic_yaml_check_keys(doc->spec, keys, err)) ||
        (rc = read_indicator(ix, doc->spec, &c.ind, skip, err)) || skip->why[0] ||
        (rc = slic_yaml_get_sequence(doc->spec, "objectives", SLIC_YAML_REQUIRED, &objectives,
                                     err)) ||
        (rc = slo_skips(objectives, &c.ind, skip, err)) || skip->why[0])
        return rc;
    if (slic_yaml_len(objectives) == 0)
        return slic_yaml_error(objectives, err, SLIC_ECONFIG, "an SLO needs an objective");
    if ((rc = read_common(ix, doc->spec, &c, skip, err)) || skip->why[0])
        return rc;
    return add_objectives(objectives, &c, defs, skip, err);
}
