/* The JSON API: /api/v1/query and /api/v1/slos[/NAME]. A query's parameters mean what the same
 * options of `slic query` mean, are checked the same way, and go through the same Query ->
 * agg_query_answer -> reply_json path, so the API and `slic query --json` print the same object
 * for the same range. Everything in a URL is untrusted: each parameter is checked, and a bad one
 * is a 400 whose body names it. Note that in a query string '+' means a space, so "now+15m" must
 * be sent as now%2B15m. */
#include "http_int.h"

#include "alloc.h"
#include "codec.h"
#include "query.h"
#include "reply_json.h"
#include "slo_burndown.h"
#include "timeutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUANTILES_MAX 32
/* A comma list longer than this is not a list of at most 32 numbers. */
#define LIST_TEXT_MAX 1024

/* X(id, name, repeatable) */
#define QUERY_PARAMS(X)                                                                            \
    X(P_SLI, "sli", false)                                                                         \
    X(P_SITE, "site", false)                                                                       \
    X(P_NODE, "node", false)                                                                       \
    X(P_FROM, "from", false)                                                                       \
    X(P_TO, "to", false)                                                                           \
    X(P_WINDOW, "window", false)                                                                   \
    X(P_Q, "q", true)                                                                              \
    X(P_THRESHOLD, "threshold", true)                                                              \
    X(P_LABEL, "label", true)

enum param {
#define PARAM_ENUM(id, name, rep) id,
    QUERY_PARAMS(PARAM_ENUM)
#undef PARAM_ENUM
        P_COUNT
};

static const struct {
    const char *name;
    bool repeatable;
} param_defs[P_COUNT] = {
#define PARAM_DEF(id, name, rep) [id] = {name, rep},
    QUERY_PARAMS(PARAM_DEF)
#undef PARAM_DEF
};

/* Everything a query's parameters say. Strings point into the request, which outlives it. */
struct query_args {
    const char *value[P_COUNT];
    double quantiles[QUANTILES_MAX];
    size_t n_quantiles;
    double thresholds[SLIC_SERIES_THRESHOLDS_MAX];
    size_t n_thresholds;
    struct slic_label labels[SLIC_SERIES_LABELS_MAX];
    char label_keys[SLIC_SERIES_LABELS_MAX][SLIC_LABEL_KEY_MAX + 1];
    size_t n_labels;
    bool has_from, has_to;
    int64_t from, to, now;
    /* The first problem found; once set, parsing stops. */
    const char *bad_param;
    char error[400];
};

/* Records the first problem. Returns false, so a check can end with `return bad(...)`. */
static bool bad(struct query_args *a, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool bad(struct query_args *a, const char *param, const char *fmt, ...)
{
    if (a->bad_param)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->error, sizeof a->error, fmt, ap);
    va_end(ap);
    a->bad_param = param;
    return false;
}

/* ---- list-valued parameters ---------------------------------------------------------------- */

static bool add_quantile(struct query_args *a, const char *s)
{
    char *end;
    errno = 0;
    double q = strtod(s, &end);
    if (end == s || *end || errno || !(q >= 0 && q <= 1))
        return bad(a, "q", "q: '%.64s' is not a quantile in [0, 1]%s", s,
                   q > 1 && q <= 100 && end != s ? " (write 0.99 for the 99th percentile)" : "");
    for (size_t i = 0; i < a->n_quantiles; i++)
        if (a->quantiles[i] == q)
            return true; /* asked twice: answered once */
    if (a->n_quantiles == QUANTILES_MAX)
        return bad(a, "q", "q: at most %d quantiles", QUANTILES_MAX);
    a->quantiles[a->n_quantiles++] = q;
    return true;
}

static bool add_threshold(struct query_args *a, const char *s)
{
    double t;
    if (slic_duration_parse(s, &t) != 0 || !(t > 0))
        return bad(a, "threshold",
                   "threshold: '%.64s' is not a positive duration like 300ms or 1.5s", s);
    for (size_t i = 0; i < a->n_thresholds; i++)
        if (a->thresholds[i] == t)
            return true;
    if (a->n_thresholds == SLIC_SERIES_THRESHOLDS_MAX)
        return bad(a, "threshold", "threshold: at most %d thresholds", SLIC_SERIES_THRESHOLDS_MAX);
    a->thresholds[a->n_thresholds++] = t;
    return true;
}

/* Splits a comma list (copied, since the request's strings are not ours to cut). */
static bool for_each_item(struct query_args *a, enum param p, const char *list,
                          bool (*fn)(struct query_args *, const char *))
{
    char copy[LIST_TEXT_MAX + 1];
    if (strlen(list) > LIST_TEXT_MAX)
        return bad(a, param_defs[p].name, "%s: longer than %d bytes", param_defs[p].name,
                   LIST_TEXT_MAX);
    memcpy(copy, list, strlen(list) + 1);
    char *save = NULL, *item = strtok_r(copy, ",", &save);
    if (!item)
        return bad(a, param_defs[p].name, "%s: empty", param_defs[p].name);
    for (; item; item = strtok_r(NULL, ",", &save))
        if (!fn(a, item))
            return false;
    return true;
}

/* KEY=VALUE: the key is copied (the value is the rest of the request's string). */
static bool add_label(struct query_args *a, const char *s)
{
    const char *eq = strchr(s, '=');
    size_t klen = eq ? (size_t)(eq - s) : 0;
    if (!eq)
        return bad(a, "label", "label: '%.64s' is not KEY=VALUE", s);
    if (a->n_labels == SLIC_SERIES_LABELS_MAX)
        return bad(a, "label", "label: at most %d labels", SLIC_SERIES_LABELS_MAX);
    char *key = a->label_keys[a->n_labels];
    snprintf(key, SLIC_LABEL_KEY_MAX + 1, "%.*s", (int)(klen <= SLIC_LABEL_KEY_MAX ? klen : 0), s);
    if (klen > SLIC_LABEL_KEY_MAX || !slic_label_key_valid(key))
        return bad(a, "label",
                   "label: '%.*s' is not a label key: expected 1..%d of [A-Za-z0-9_], not "
                   "starting with a digit",
                   (int)(klen < 64 ? klen : 64), s, SLIC_LABEL_KEY_MAX);
    if (!slic_label_value_valid(eq + 1))
        return bad(a, "label", "label %s: the value must be 0..%d printable ASCII characters", key,
                   SLIC_LABEL_VALUE_MAX);
    for (size_t i = 0; i < a->n_labels; i++)
        if (strcmp(a->labels[i].key, key) == 0)
            return bad(a, "label", "label: key '%s' given twice", key);
    a->labels[a->n_labels++] = (struct slic_label){key, (char *)(eq + 1)};
    return true;
}

/* ---- collecting ---------------------------------------------------------------------------- */

static bool take_param(struct query_args *a, enum param p, const char *value)
{
    if (!param_defs[p].repeatable && a->value[p])
        return bad(a, param_defs[p].name, "%s: given twice", param_defs[p].name);
    a->value[p] = value;
    switch (p) {
    case P_Q:
        return for_each_item(a, p, value, add_quantile);
    case P_THRESHOLD:
        return for_each_item(a, p, value, add_threshold);
    case P_LABEL:
        return add_label(a, value);
    default:
        return true;
    }
}

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                              const char *value, size_t value_size)
{
    (void)kind, (void)key_size;
    struct query_args *a = cls;
    /* A bare "?sli" has no value; "%00" would hide the rest of one from C string functions. */
    if (!value)
        value = "", value_size = 0;
    if (strlen(value) != value_size) {
        bad(a, key, "%.32s: contains a NUL byte", key);
        return MHD_NO;
    }
    for (int p = 0; p < P_COUNT; p++)
        if (strcmp(key, param_defs[p].name) == 0)
            return take_param(a, (enum param)p, value) ? MHD_YES : MHD_NO;
    bad(a, key,
        "unknown parameter '%.32s': expected sli, site, node, from, to, window, q, threshold or "
        "label",
        key);
    return MHD_NO;
}

/* ---- checking ------------------------------------------------------------------------------ */

static bool check_time(struct query_args *a, enum param p, int64_t *out)
{
    if (slic_time_parse(a->value[p], a->now, out) == 0)
        return true;
    return bad(a, param_defs[p].name,
               "%s: '%.64s' is not a time: expected RFC 3339 (2025-11-26T10:00:00Z), Unix "
               "seconds, now, now-1h or -30m",
               param_defs[p].name, a->value[p]);
}

/* window, from and to into [from, to); what is left unset the store defaults, as for slic. */
static bool resolve_range(struct query_args *a)
{
    if ((a->has_from = a->value[P_FROM] != NULL) && !check_time(a, P_FROM, &a->from))
        return false;
    if ((a->has_to = a->value[P_TO] != NULL) && !check_time(a, P_TO, &a->to))
        return false;
    if (a->value[P_WINDOW]) {
        int64_t w;
        if (a->has_from)
            return bad(a, "window", "window: give window or from, not both");
        if (slic_duration_parse_s(a->value[P_WINDOW], &w) != 0 || w <= 0 || w > SLIC_TIME_MAX)
            return bad(a, "window",
                       "window: '%.64s' is not a positive whole-second duration like 5m, 1h or "
                       "28d",
                       a->value[P_WINDOW]);
        a->to = a->has_to ? a->to : a->now;
        a->from = a->to - w;
        a->has_from = a->has_to = true;
    }
    if (a->has_from && a->from >= (a->has_to ? a->to : a->now))
        return bad(a, "from", "from: '%.64s' is not before to ('%.64s')", a->value[P_FROM],
                   a->has_to ? a->value[P_TO] : "now");
    return true;
}

static bool check_args(struct query_args *a)
{
    if (!a->value[P_SLI])
        return bad(a, "sli", "sli: missing; which SLI? (slic series lists them)");
    for (enum param p = P_SLI; p <= P_NODE; p++)
        if (a->value[p] && !slic_name_valid(a->value[p]))
            return bad(a, param_defs[p].name,
                       "%s: '%.64s' is not a name: expected 1..%d of [A-Za-z0-9_.:-]",
                       param_defs[p].name, a->value[p], SLIC_NAME_MAX);
    if (a->value[P_SITE] && a->value[P_NODE])
        return bad(a, "node", "node: give site or node, not both");
    if (a->n_quantiles == 0) {
        static const double dflt[] = {0.5, 0.9, 0.99, 0.999};
        memcpy(a->quantiles, dflt, sizeof dflt);
        a->n_quantiles = sizeof dflt / sizeof dflt[0];
    }
    return resolve_range(a);
}

/* ---- answering ----------------------------------------------------------------------------- */

static int answer(agg_http *h, const struct query_args *a, Slic__Reply **reply)
{
    Slic__Query q = SLIC__QUERY__INIT;
    Slic__Label labels[SLIC_SERIES_LABELS_MAX], *label_ptrs[SLIC_SERIES_LABELS_MAX];
    q.has_schema_version = q.has_kind = 1;
    q.schema_version = CODEC_SCHEMA_VERSION;
    q.kind = SLIC__QUERY__KIND__SLI;
    q.sli = (char *)a->value[P_SLI];
    q.site = (char *)a->value[P_SITE];
    q.node = (char *)a->value[P_NODE];
    q.has_from = a->has_from, q.from = a->from;
    q.has_to = a->has_to, q.to = a->to;
    q.n_quantiles = a->n_quantiles;
    q.quantiles = (double *)a->quantiles;
    q.n_thresholds = a->n_thresholds;
    q.thresholds = (double *)a->thresholds;
    for (size_t i = 0; i < a->n_labels; i++) {
        slic__label__init(&labels[i]);
        labels[i].key = a->labels[i].key;
        labels[i].value = a->labels[i].value;
        label_ptrs[i] = &labels[i];
    }
    q.n_labels = a->n_labels;
    q.labels = label_ptrs;
    return agg_query_answer(h->store, &q, a->now, reply);
}

/* The parameter a store message is about: it starts with the Query field ("from: ...",
 * "quantiles[2]: ..."), named as the parameter that fills it. */
static const char *param_of(const char *msg)
{
    static const struct {
        const char *field, *param;
    } fields[] = {{"sli", "sli"},
                  {"site", "site"},
                  {"node", "node"},
                  {"from", "from"},
                  {"to", "to"},
                  {"quantiles", "q"},
                  {"thresholds", "threshold"},
                  {"labels", "label"}};
    size_t n = strcspn(msg, ":[.");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strlen(fields[i].field) == n && strncmp(msg, fields[i].field, n) == 0)
            return fields[i].param;
    return NULL;
}

static int reply_of(const Slic__Reply *rep, const struct query_args *a, struct agg__http_reply *r)
{
    const char *why = rep->error ? rep->error : "(no reason given)";
    switch (rep->status) {
    case SLIC__REPLY__STATUS__OK: {
        struct agg_reply_scope sc = {a->value[P_SITE], a->value[P_NODE], a->labels, a->n_labels};
        r->status = MHD_HTTP_OK;
        return rep->sli ? agg_reply_json_sli(&r->body, rep->sli, &sc)
                        : agg__http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                                          "the query produced no result");
    }
    case SLIC__REPLY__STATUS__BAD_QUERY:
        /* Rare: the checks above mirror the store's. */
        return agg__http_error(r, MHD_HTTP_BAD_REQUEST, param_of(why), "%s", why);
    case SLIC__REPLY__STATUS__NOT_FOUND:
        return agg__http_error(r, MHD_HTTP_NOT_FOUND, NULL, "%s", why);
    default:
        return agg__http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "%s", why);
    }
}

int agg__http_query(agg_http *h, struct MHD_Connection *conn, struct agg__http_reply *r)
{
    struct query_args *a = slic_calloc(1, sizeof *a);
    if (!a)
        return SLIC_ENOMEM;
    a->now = slic_now_unix_ms() / 1000;
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, on_arg, a);
    int rc;
    if (a->bad_param || !check_args(a)) {
        rc = agg__http_error(r, MHD_HTTP_BAD_REQUEST, a->bad_param, "%s", a->error);
    } else {
        Slic__Reply *rep = NULL;
        atomic_fetch_add(&h->stats->queries, 1);
        if ((rc = answer(h, a, &rep)) == 0)
            rc = reply_of(rep, a, r);
        else
            atomic_fetch_add(&h->stats->queries_failed, 1);
        agg_query_reply_free(rep);
    }
    slic_free(a);
    return rc;
}

/* ---- SLOs ---------------------------------------------------------------------------------- */

/* The parameters of /api/v1/slos[/NAME] (site) and of /burndown (site, points). */
struct slos_args {
    struct query_args a; /* the error machinery, and site in value[P_SITE] */
    bool burndown;
    const char *points;
};

/* A site name, or "*", the engine's name for the across-sites scope. */
static bool site_valid(const char *s)
{
    return strcmp(s, "*") == 0 || slic_name_valid(s);
}

static enum MHD_Result on_slos_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    (void)kind, (void)key_size;
    struct slos_args *s = cls;
    struct query_args *a = &s->a;
    bool points = s->burndown && strcmp(key, "points") == 0;
    const char **slot = points ? &s->points : &a->value[P_SITE];
    if (!points && strcmp(key, "site") != 0)
        bad(a, key, "unknown parameter '%.32s': expected site%s", key,
            s->burndown ? " or points" : "");
    else if (*slot)
        bad(a, key, "%s: given twice", key);
    else if (!value || strlen(value) != value_size)
        bad(a, key, "%s: empty or contains a NUL byte", key);
    else if (!points && !site_valid(value))
        bad(a, "site",
            "site: '%.64s' is not a name: expected 1..%d of [A-Za-z0-9_.:-], or * for across "
            "sites",
            value, SLIC_NAME_MAX);
    else
        *slot = value;
    return a->bad_param ? MHD_NO : MHD_YES;
}

/* Collects and checks the parameters and the SLO name; false with a->bad_param set on the
 * first problem. */
static bool slos_args_collect(struct MHD_Connection *conn, const char *name, struct slos_args *s)
{
    struct query_args *a = &s->a;
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, on_slos_arg, s);
    if (a->bad_param)
        return false;
    if (name && !slic_name_valid(name))
        return bad(a, "name", "'%.64s' is not an SLO name: expected 1..%d of [A-Za-z0-9_.:-]", name,
                   SLIC_NAME_MAX);
    return true;
}

/* points: a whole number of points in range; the default when absent. */
static bool points_parse(struct slos_args *s, unsigned *out)
{
    *out = AGG_SLO_BURNDOWN_POINTS_DEFAULT;
    if (!s->points)
        return true;
    size_t n = strlen(s->points);
    unsigned long v = 0;
    bool digits = n > 0 && n <= 4 && strspn(s->points, "0123456789") == n;
    for (size_t i = 0; digits && i < n; i++)
        v = v * 10 + (unsigned long)(s->points[i] - '0');
    if (!digits || v < AGG_SLO_BURNDOWN_POINTS_MIN || v > AGG_SLO_BURNDOWN_POINTS_MAX)
        return bad(&s->a, "points", "points: '%.64s' is not a whole number from %d to %d",
                   s->points, AGG_SLO_BURNDOWN_POINTS_MIN, AGG_SLO_BURNDOWN_POINTS_MAX);
    *out = (unsigned)v;
    return true;
}

/* A hook's answer: its body and status, a 404 of our own when it says 404 without a body, a 500
 * when it fails. */
static int hook_answer(int rc, int status, const char *name, struct agg__http_reply *r)
{
    if (rc == SLIC_ENOMEM)
        return rc;
    if (rc)
        return agg__http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                               "the SLO engine could not answer: %s", slic_strerror(rc));
    r->status = (unsigned)status;
    if (r->body.len == 0 && status == MHD_HTTP_NOT_FOUND)
        return agg__http_error(r, MHD_HTTP_NOT_FOUND, NULL, "no SLO named '%s'", name);
    return 0;
}

/* Asks the SLO hook; without one there are no SLOs. */
static int slos_answer(agg_http *h, const char *name, const char *site, struct agg__http_reply *r)
{
    if (!h->hooks.slos_json) {
        if (name)
            return agg__http_error(r, MHD_HTTP_NOT_FOUND, NULL, "no SLO named '%s'", name);
        r->status = MHD_HTTP_OK;
        return agg__buf_puts(&r->body, "[]\n");
    }
    int status = MHD_HTTP_OK;
    int rc = h->hooks.slos_json(h->hooks.ctx, name, site, &r->body, &status);
    return hook_answer(rc, status, name, r);
}

int agg__http_slos(agg_http *h, struct MHD_Connection *conn, const char *name,
                   struct agg__http_reply *r)
{
    struct slos_args *s = slic_calloc(1, sizeof *s);
    if (!s)
        return SLIC_ENOMEM;
    int rc;
    if (!slos_args_collect(conn, name, s))
        rc = agg__http_error(r, MHD_HTTP_BAD_REQUEST, s->a.bad_param, "%s", s->a.error);
    else
        rc = slos_answer(h, name, s->a.value[P_SITE], r);
    slic_free(s);
    return rc;
}

int agg__http_burndown(agg_http *h, struct MHD_Connection *conn, const char *name,
                       struct agg__http_reply *r)
{
    struct slos_args *s = slic_calloc(1, sizeof *s);
    if (!s)
        return SLIC_ENOMEM;
    s->burndown = true;
    unsigned points = 0;
    int rc;
    if (!slos_args_collect(conn, name, s) || !points_parse(s, &points)) {
        rc = agg__http_error(r, MHD_HTTP_BAD_REQUEST, s->a.bad_param, "%s", s->a.error);
    } else if (!h->hooks.slo_burndown) {
        rc = agg__http_error(r, MHD_HTTP_NOT_FOUND, NULL, "no SLO named '%s'", name);
    } else {
        const char *site = s->a.value[P_SITE] ? s->a.value[P_SITE] : "*";
        int status = MHD_HTTP_OK;
        rc = h->hooks.slo_burndown(h->hooks.ctx, name, site, points, &r->body, &status);
        rc = hook_answer(rc, status, name, r);
    }
    slic_free(s);
    return rc;
}
