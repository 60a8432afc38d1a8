/* OpenSLO indicators as slic evaluates them: a thresholdMetric or a good/total (bad/total)
 * ratioMetric whose metric sources are of type slic and name one slic SLI stream. Any other
 * source type is valid OpenSLO that slic cannot read: the caller skips the SLO. The slic
 * source's own spec is slic's to define, so its keys are checked strictly. */
#include "openslo_int.h"

#include "alloc.h"
#include "batch.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A site pattern is a site name that may hold '*' wildcards ("us-*"). */
static bool site_pattern_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SLIC_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == ':' || c == '-' || c == '*';
        if (!ok)
            return false;
    }
    return true;
}

static int read_sites(const slic_yaml_node *spec, struct agg__os_source *src,
                      struct slic_errmsg *err)
{
    const slic_yaml_node *seq = NULL;
    int rc = slic_yaml_get_sequence(spec, "sites", 0, &seq, err);
    if (rc || !seq)
        return rc;
    size_t n = slic_yaml_len(seq);
    /* An empty list would select nothing, which nobody means; every site is "no sites key". */
    if (n == 0)
        return slic_yaml_error(seq, err, SLIC_ECONFIG,
                               "list at least one site, or leave 'sites' out for every site");
    if (n > AGG_SLO_SITES_MAX)
        return slic_yaml_error(seq, err, SLIC_ECONFIG, "at most %d sites, got %zu",
                               AGG_SLO_SITES_MAX, n);
    for (size_t i = 0; i < n; i++) {
        const slic_yaml_node *item = slic_yaml_item(seq, i);
        const char *s = NULL;
        if ((rc = slic_yaml_as_string(item, &s, err)))
            return rc;
        if (!site_pattern_valid(s))
            return slic_yaml_error(item, err, SLIC_ECONFIG,
                                   "expected a site name or pattern of [A-Za-z0-9_.:-*] "
                                   "like eu-zrh or \"us-*\", got \"%s\"",
                                   s);
        src->sites[i] = s;
    }
    src->n_sites = n;
    return 0;
}

static int read_labels(const slic_yaml_node *spec, struct agg__os_source *src,
                       struct slic_errmsg *err)
{
    const slic_yaml_node *map = NULL;
    int rc = slic_yaml_get_mapping(spec, "labels", 0, &map, err);
    if (rc || !map)
        return rc;
    size_t n = slic_yaml_len(map);
    if (n > SLIC_SERIES_LABELS_MAX)
        return slic_yaml_error(map, err, SLIC_ECONFIG,
                               "at most %d labels (as many as a series carries), got %zu",
                               SLIC_SERIES_LABELS_MAX, n);
    for (size_t i = 0; i < n; i++) {
        const slic_yaml_node *k = slic_yaml_pair_key(map, i), *v = slic_yaml_pair_value(map, i);
        const char *value = NULL;
        if (!slic_label_key_valid(slic_yaml_text(k)))
            return slic_yaml_error(k, err, SLIC_ECONFIG,
                                   "expected a label key of [A-Za-z0-9_] not starting with a "
                                   "digit, got \"%s\"",
                                   slic_yaml_text(k));
        if ((rc = slic_yaml_as_string(v, &value, err)))
            return rc;
        if (!slic_label_value_valid(value))
            return slic_yaml_error(v, err, SLIC_ECONFIG,
                                   "expected a label value of at most %d printable ASCII "
                                   "characters",
                                   SLIC_LABEL_VALUE_MAX);
    }
    src->labels = map;
    return 0;
}

/* The spec of a `type: slic` metric source. */
static int read_slic_spec(const slic_yaml_node *ms, struct agg__os_source *src,
                          struct slic_errmsg *err)
{
    static const char *const keys[] = {"sli", "outcome", "sites", "labels", NULL};
    const slic_yaml_node *spec = NULL;
    int rc;
    memset(src, 0, sizeof *src);
    if ((rc = slic_yaml_get_mapping(ms, "spec", SLIC_YAML_REQUIRED, &spec, err)) ||
        (rc = slic_yaml_check_keys(spec, keys, err)) ||
        (rc = slic_yaml_get_string(spec, "sli", SLIC_YAML_REQUIRED, &src->sli, err)) ||
        (rc = slic_yaml_get_string(spec, "outcome", 0, &src->outcome, err)))
        return rc;
    src->at = spec;
    if (!slic_name_valid(src->sli))
        return slic_yaml_error(slic_yaml_get(spec, "sli"), err, SLIC_ECONFIG,
                               "expected an SLI name of [A-Za-z0-9_.:-] like checkout, got "
                               "\"%s\"",
                               src->sli);
    if (src->outcome && strcmp(src->outcome, "good") != 0 && strcmp(src->outcome, "bad") != 0)
        return slic_yaml_error(slic_yaml_get(spec, "outcome"), err, SLIC_ECONFIG,
                               "expected good or bad, got \"%s\"", src->outcome);
    if ((rc = read_sites(spec, src, err)) || (rc = read_labels(spec, src, err)))
        return rc;
    return 0;
}

/* A metricSource's type: its own, else that of the DataSource its metricSourceRef names. */
static int source_type(const struct agg__os_index *ix, const slic_yaml_node *ms, const char **type,
                       struct slic_errmsg *err)
{
    static const char *const keys[] = {"metricSourceRef", "type", "spec", NULL};
    const char *ref = NULL;
    int rc;
    *type = NULL;
    if ((rc = slic_yaml_check_keys(ms, keys, err)) ||
        (rc = slic_yaml_get_string(ms, "type", 0, type, err)) ||
        (rc = slic_yaml_get_string(ms, "metricSourceRef", 0, &ref, err)))
        return rc;
    if (*type)
        return 0;
    if (!ref)
        return slic_yaml_error(ms, err, SLIC_EMISSING,
                               "a metricSource needs a type (type: slic) or a metricSourceRef "
                               "naming a DataSource");
    const struct agg__os_doc *ds = agg__openslo_find(ix, AGG__OS_DATA_SOURCE, ref);
    if (!ds)
        return slic_yaml_error(slic_yaml_get(ms, "metricSourceRef"), err, SLIC_ECONFIG,
                               "no DataSource named '%s' in the loaded files", ref);
    return slic_yaml_get_string(ds->spec, "type", SLIC_YAML_REQUIRED, type, err);
}

/* One `{metricSource: {...}}` holder: a thresholdMetric, or a ratio's good, bad or total. */
static int read_metric(const struct agg__os_index *ix, const slic_yaml_node *holder,
                       struct agg__os_source *src, struct agg__os_skip *skip,
                       struct slic_errmsg *err)
{
    static const char *const keys[] = {"metricSource", NULL};
    const slic_yaml_node *ms = NULL;
    const char *type = NULL;
    int rc;
    if ((rc = slic_yaml_check_keys(holder, keys, err)) ||
        (rc = slic_yaml_get_mapping(holder, "metricSource", SLIC_YAML_REQUIRED, &ms, err)) ||
        (rc = source_type(ix, ms, &type, err)))
        return rc;
    if (strcasecmp(type, "slic") != 0) {
        agg__openslo_skip(skip, "metric source type '%s' is not slic", type);
        return 0;
    }
    return read_slic_spec(ms, src, err);
}

static int read_threshold(const struct agg__os_index *ix, const slic_yaml_node *tm,
                          struct agg__os_indicator *out, struct agg__os_skip *skip,
                          struct slic_errmsg *err)
{
    int rc = read_metric(ix, tm, &out->src, skip, err);
    if (rc || skip->why[0])
        return rc;
    /* A latency SLO's good events are the fast ones, whatever their outcome says. */
    if (out->src.outcome)
        return slic_yaml_error(slic_yaml_get(out->src.at, "outcome"), err, SLIC_ECONFIG,
                               "outcome belongs to a ratioMetric's good or bad source; a "
                               "thresholdMetric reads every event of its SLI");
    out->kind = AGG_SLO_THRESHOLD;
    return 0;
}

static bool sites_equal(const struct agg__os_source *a, const struct agg__os_source *b)
{
    if (a->n_sites != b->n_sites)
        return false;
    for (size_t i = 0; i < a->n_sites; i++) {
        bool found = false;
        for (size_t j = 0; j < b->n_sites && !found; j++)
            found = strcmp(a->sites[i], b->sites[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* Same label pairs in any order; NULL (no labels key) equals an empty mapping. */
static bool labels_equal(const slic_yaml_node *a, const slic_yaml_node *b)
{
    size_t na = a ? slic_yaml_len(a) : 0, nb = b ? slic_yaml_len(b) : 0;
    if (na != nb)
        return false;
    if (na == 0)
        return true;
    for (size_t i = 0; i < na; i++) {
        const slic_yaml_node *v = slic_yaml_get(b, slic_yaml_text(slic_yaml_pair_key(a, i)));
        if (!v || strcmp(slic_yaml_text(v), slic_yaml_text(slic_yaml_pair_value(a, i))) != 0)
            return false;
    }
    return true;
}

/* slic computes good and total from one stream, so both sides must select the same one. */
static int check_same_stream(const struct agg__os_source *num, const char *num_key,
                             const struct agg__os_source *total, struct slic_errmsg *err)
{
    if (strcmp(num->sli, total->sli) != 0)
        return slic_yaml_error(slic_yaml_get(num->at, "sli"), err, SLIC_ECONFIG,
                               "%s reads SLI '%s' but total reads '%s'; slic counts %s and "
                               "total events of one SLI",
                               num_key, num->sli, total->sli, num_key);
    if (!sites_equal(num, total))
        return slic_yaml_error(num->at, err, SLIC_ECONFIG,
                               "%s and total must select the same sites", num_key);
    if (!labels_equal(num->labels, total->labels))
        return slic_yaml_error(num->at, err, SLIC_ECONFIG,
                               "%s and total must select the same labels", num_key);
    return 0;
}

/* The numerator and denominator of a ratio: which one is the numerator, and their outcomes. */
static int read_ratio_sides(const struct agg__os_index *ix, const slic_yaml_node *rm,
                            struct agg__os_indicator *out, struct agg__os_skip *skip,
                            struct slic_errmsg *err)
{
    const slic_yaml_node *good = slic_yaml_get(rm, "good"), *bad = slic_yaml_get(rm, "bad");
    const slic_yaml_node *total = NULL;
    int rc = slic_yaml_get_mapping(rm, "total", SLIC_YAML_REQUIRED, &total, err);
    if (rc)
        return rc;
    if (good && bad)
        return slic_yaml_error(bad, err, SLIC_ECONFIG, "give either good or bad, not both");
    if (!good && !bad)
        return slic_yaml_error(rm, err, SLIC_EMISSING, "a ratioMetric needs good or bad");
    const char *key = good ? "good" : "bad";
    struct agg__os_source num, den;
    if ((rc = read_metric(ix, good ? good : bad, &num, skip, err)) || skip->why[0] ||
        (rc = read_metric(ix, total, &den, skip, err)) || skip->why[0])
        return rc;
    if (!num.outcome || strcmp(num.outcome, key) != 0)
        return slic_yaml_error(num.at, err, num.outcome ? SLIC_ECONFIG : SLIC_EMISSING,
                               "the %s source needs outcome: %s", key, key);
    if (den.outcome)
        return slic_yaml_error(slic_yaml_get(den.at, "outcome"), err, SLIC_ECONFIG,
                               "total counts every event: leave its outcome out");
    if ((rc = check_same_stream(&num, key, &den, err)))
        return rc;
    out->kind = good ? AGG_SLO_RATIO_GOOD : AGG_SLO_RATIO_BAD;
    out->src = den;
    return 0;
}

static int read_ratio(const struct agg__os_index *ix, const slic_yaml_node *rm,
                      struct agg__os_indicator *out, struct agg__os_skip *skip,
                      struct slic_errmsg *err)
{
    static const char *const keys[] = {"counter", "good", "bad", "total", "rawType", "raw", NULL};
    bool counter = true;
    int rc;
    /* counter says how another source's metric behaves; slic's counts are per window and
     * exact either way, so the value is checked and otherwise unused. */
    if ((rc = slic_yaml_check_keys(rm, keys, err)) ||
        (rc = slic_yaml_get_bool(rm, "counter", 0, &counter, err)))
        return rc;
    if (slic_yaml_get(rm, "raw") || slic_yaml_get(rm, "rawType")) {
        agg__openslo_skip(skip, "a raw (precomputed) ratioMetric cannot be read from slic, "
                                "which counts good and total events itself");
        return 0;
    }
    return read_ratio_sides(ix, rm, out, skip, err);
}

int agg__openslo_indicator(const struct agg__os_index *ix, const slic_yaml_node *spec,
                           struct agg__os_indicator *out, struct agg__os_skip *skip,
                           struct slic_errmsg *err)
{
    static const char *const keys[] = {"description", "thresholdMetric", "ratioMetric", NULL};
    const slic_yaml_node *tm = NULL, *rm = NULL;
    const char *description = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = slic_yaml_check_keys(spec, keys, err)) ||
        (rc = slic_yaml_get_string(spec, "description", 0, &description, err)) ||
        (rc = slic_yaml_get_mapping(spec, "thresholdMetric", 0, &tm, err)) ||
        (rc = slic_yaml_get_mapping(spec, "ratioMetric", 0, &rm, err)))
        return rc;
    if (tm && rm)
        return slic_yaml_error(rm, err, SLIC_ECONFIG,
                               "give either thresholdMetric or ratioMetric, not both");
    if (tm)
        return read_threshold(ix, tm, out, skip, err);
    if (rm)
        return read_ratio(ix, rm, out, skip, err);
    return slic_yaml_error(spec, err, SLIC_EMISSING,
                           "an indicator needs thresholdMetric or ratioMetric");
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct slic_label *)a)->key, ((const struct slic_label *)b)->key);
}

static int copy_labels(const slic_yaml_node *map, struct agg_slo_source *out)
{
    size_t n = slic_yaml_len(map);
    if (n == 0)
        return 0;
    out->labels = slic_calloc(n, sizeof *out->labels);
    if (!out->labels)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct slic_label *l = &out->labels[i];
        /* Counted before the copies so a half-copied label is still freed. */
        out->n_labels = i + 1;
        l->key = agg__openslo_strdup(slic_yaml_text(slic_yaml_pair_key(map, i)));
        l->value = agg__openslo_strdup(slic_yaml_text(slic_yaml_pair_value(map, i)));
        if (!l->key || !l->value)
            return SLIC_ENOMEM;
    }
    /* Series carry their labels sorted by key; matching walks both in the same order. */
    qsort(out->labels, n, sizeof *out->labels, label_cmp);
    return 0;
}

int agg__openslo_source_copy(const struct agg__os_source *src, struct agg_slo_source *out)
{
    memset(out, 0, sizeof *out);
    if (!(out->sli = agg__openslo_strdup(src->sli)))
        return SLIC_ENOMEM;
    for (size_t i = 0; i < src->n_sites; i++) {
        if (!(out->sites[i] = agg__openslo_strdup(src->sites[i])))
            return SLIC_ENOMEM;
        out->n_sites = i + 1;
    }
    return src->labels ? copy_labels(src->labels, out) : 0;
}
