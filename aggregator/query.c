/* Answers operators' queries from the store and the SLO engine. A Query comes from the network,
 * so every field is checked before use and a bad one becomes a BAD_QUERY reply naming it. The
 * Reply is not a protobuf-c unpacked message: it is the first member of a struct reply_box that
 * also owns everything the reply's pointers borrow (the merged sketch whose bucket array the
 * reply's Sketch points at, the store's series and agent lists whose strings it points at, the
 * SLO engine's reply whose SLOs it shows), so one agg_query_reply_free releases it all. No
 * global state: any thread may answer queries. */
#include "query.h"

#include "alloc.h"
#include "batch.h"
#include "codec.h"
#include "codec_batch.h"
#include "log.h"
#include "timeutil.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Limits on what one query may ask, so a reply stays small and cheap to build. */
#define QUERY_QUANTILES_MAX 32
#define QUERY_THRESHOLDS_MAX SLIC_SERIES_THRESHOLDS_MAX
/* The range of a query that gives no `from`: the hour before `to`. */
#define QUERY_DEFAULT_RANGE 3600
/* How much of an untrusted string an error message quotes. */
#define QUERY_QUOTE_MAX 64
/* What a Response adds around its Reply: a tag and a length, at most 6 bytes. */
#define RESPONSE_ENVELOPE_MAX 16

struct reply_box {
    Slic__Reply reply; /* what callers see; agg_query_reply_free finds the box from it */
    char error[512];

    /* Kind SLI. Quantiles and thresholds are capped, so they live here, not on the heap. */
    Slic__SliResult sli;
    char sli_name[SLIC_NAME_MAX + 1];
    Slic__Sketch latency;
    slic_sketch *sketch; /* owned; latency.counts borrows its bucket array */
    Slic__QuantileValue quantiles[QUERY_QUANTILES_MAX];
    Slic__QuantileValue *quantile_ptrs[QUERY_QUANTILES_MAX];
    Slic__ThresholdFraction thresholds[QUERY_THRESHOLDS_MAX];
    Slic__ThresholdFraction *threshold_ptrs[QUERY_THRESHOLDS_MAX];

    /* Kind SERIES: the store's list (whose strings the reply borrows), grouped by SLI. */
    struct agg_series_info *series_raw;
    Slic__SeriesInfo *series;
    Slic__SeriesInfo **series_ptrs;
    char **site_ptrs; /* every group's sites, one slice per SeriesInfo */

    /* Kind AGENTS. */
    struct agg_agent_info *agents_raw;
    Slic__AgentInfo *agents;
    Slic__AgentInfo **agent_ptrs;

    /* Kind SLOS: the engine's reply, whose status, error and SLOs this one shows. */
    Slic__Reply *slo_reply;
};

static struct reply_box *box_of(Slic__Reply *reply)
{
    return (struct reply_box *)(void *)((char *)reply - offsetof(struct reply_box, reply));
}

/* Sets the reply's status and error message. Always returns false, so a check can end with
 * `return reply_fail(...)`. */
static bool reply_fail(struct reply_box *b, Slic__Reply__Status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool reply_fail(struct reply_box *b, Slic__Reply__Status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->error, sizeof b->error, fmt, ap);
    va_end(ap);
    b->reply.status = status;
    b->reply.error = b->error;
    return false;
}

/* A copy of an untrusted string fit to quote in a message: at most QUERY_QUOTE_MAX bytes, with
 * anything but printable ASCII replaced by '?', so an error cannot smuggle control characters
 * into a terminal or a log line. */
static const char *quoted(const char *s, char buf[QUERY_QUOTE_MAX + 4])
{
    size_t n = 0;
    for (; s[n] && n < QUERY_QUOTE_MAX; n++)
        buf[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? s[n] : '?';
    if (s[n])
        buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
    buf[n] = '\0';
    return buf;
}

static const char *time_text(int64_t t, char buf[32])
{
    if (slic_rfc3339_format(t, buf, 32) != 0)
        snprintf(buf, 32, "%" PRId64, t);
    return buf;
}

/* ---- validation ---------------------------------------------------------------------------- */

static bool check_header(const Slic__Query *q, struct reply_box *b)
{
    if (!q->has_schema_version)
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY, "schema_version: absent; expected %d",
                          CODEC_SCHEMA_VERSION);
    if (q->schema_version != CODEC_SCHEMA_VERSION)
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                          "schema_version: %" PRIu32 " is not supported; expected %d",
                          q->schema_version, CODEC_SCHEMA_VERSION);
    if (!q->has_kind || q->kind == SLIC__QUERY__KIND__KIND_UNSPECIFIED)
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                          "kind: absent; expected SLI, SERIES, AGENTS or SLOS");
    if (q->kind != SLIC__QUERY__KIND__SLI && q->kind != SLIC__QUERY__KIND__SERIES &&
        q->kind != SLIC__QUERY__KIND__AGENTS && q->kind != SLIC__QUERY__KIND__SLOS)
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                          "kind: unknown value %d; expected SLI, SERIES, AGENTS or SLOS",
                          (int)q->kind);
    return true;
}

/* A name field (sli, site, node): `required` says whether absence is an error. */
static bool check_name(const char *field, const char *value, bool required, struct reply_box *b)
{
    char qb[QUERY_QUOTE_MAX + 4];
    if (!value) {
        if (!required)
            return true;
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY, "%s: absent; it is required", field);
    }
    if (!slic_name_valid(value))
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                          "%s: '%s' is not a valid name: expected 1..%d characters of "
                          "[A-Za-z0-9_.:-]",
                          field, quoted(value, qb), SLIC_NAME_MAX);
    return true;
}

static bool check_quantiles(const Slic__Query *q, struct reply_box *b)
{
    if (q->n_quantiles > QUERY_QUANTILES_MAX)
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY, "quantiles: %zu given, at most %d",
                          q->n_quantiles, QUERY_QUANTILES_MAX);
    for (size_t i = 0; i < q->n_quantiles; i++) {
        /* Written so that NaN fails too. */
        if (!(q->quantiles[i] >= 0.0 && q->quantiles[i] <= 1.0))
            return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                              "quantiles[%zu]: %g is outside [0, 1]", i, q->quantiles[i]);
    }
    return true;
}

static bool check_thresholds(const Slic__Query *q, struct reply_box *b)
{
    if (q->n_thresholds > QUERY_THRESHOLDS_MAX)
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY, "thresholds: %zu given, at most %d",
                          q->n_thresholds, QUERY_THRESHOLDS_MAX);
    for (size_t i = 0; i < q->n_thresholds; i++) {
        double t = q->thresholds[i];
        if (!(isfinite(t) && t > 0.0))
            return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                              "thresholds[%zu]: %g is not a positive, finite number of seconds", i,
                              t);
    }
    return true;
}

/* Checks the label matchers and copies them into matchers[] (strings borrowed from q). */
static bool check_labels(const Slic__Query *q, struct slic_label *matchers, struct reply_box *b)
{
    char qb[QUERY_QUOTE_MAX + 4];
    if (q->n_labels > SLIC_SERIES_LABELS_MAX)
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY, "labels: %zu given, at most %d",
                          q->n_labels, SLIC_SERIES_LABELS_MAX);
    for (size_t i = 0; i < q->n_labels; i++) {
        const Slic__Label *l = q->labels[i];
        if (!l->key || !slic_label_key_valid(l->key))
            return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                              "labels[%zu].key: '%s' is not a label key: expected 1..%d "
                              "characters of [A-Za-z0-9_], not starting with a digit",
                              i, l->key ? quoted(l->key, qb) : "", SLIC_LABEL_KEY_MAX);
        if (!l->value || !slic_label_value_valid(l->value))
            return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                              "labels[%zu].value: %s for key '%s': expected 0..%d printable "
                              "ASCII characters",
                              i, l->value ? "invalid" : "absent", l->key, SLIC_LABEL_VALUE_MAX);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(q->labels[k]->key, l->key) == 0)
                return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                                  "labels[%zu].key: '%s' is given twice", i, l->key);
        }
        matchers[i].key = l->key;
        matchers[i].value = l->value;
    }
    return true;
}

static bool check_time(const char *field, int64_t t, struct reply_box *b)
{
    if (t < SLIC_TIME_MIN || t > SLIC_TIME_MAX)
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                          "%s: %" PRId64 " is outside the Unix seconds of years 0000..9999", field,
                          t);
    return true;
}

/* Resolves the range [from, to): absent `to` is now, absent `from` the hour before `to`. */
static bool check_range(const Slic__Query *q, int64_t now, int64_t *from, int64_t *to,
                        struct reply_box *b)
{
    if (q->has_from && !check_time("from", q->from, b))
        return false;
    if (q->has_to && !check_time("to", q->to, b))
        return false;
    int64_t t = q->has_to ? q->to : now;
    int64_t f = q->has_from ? q->from : t - QUERY_DEFAULT_RANGE;
    if (f >= t) {
        char fb[32], tb[32];
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY, "from: %s is not before to (%s)",
                          time_text(f, fb), time_text(t, tb));
    }
    *from = f;
    *to = t;
    return true;
}

/* Every check an SLI query needs, in the order of the fields. */
static bool check_sli_query(const Slic__Query *q, int64_t now, struct agg_query *aq,
                            struct slic_label *matchers, struct reply_box *b)
{
    if (!check_name("sli", q->sli, true, b) || !check_name("site", q->site, false, b) ||
        !check_name("node", q->node, false, b))
        return false;
    /* slic.proto allows one site or one node, so a reply always means one thing. */
    if (q->site && q->node)
        return reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY,
                          "node: give a site or a node, not both");
    if (!check_range(q, now, &aq->from, &aq->to, b) || !check_quantiles(q, b) ||
        !check_thresholds(q, b) || !check_labels(q, matchers, b))
        return false;
    aq->sli = q->sli;
    aq->site = q->site;
    aq->node = q->node;
    aq->matchers = matchers;
    aq->n_matchers = q->n_labels;
    aq->resolution_seconds = 0;
    aq->now = now;
    return true;
}

/* ---- SLI ----------------------------------------------------------------------------------- */

static void reply_not_found(struct reply_box *b, const Slic__Query *q)
{
    char where[256] = "";
    size_t n = 0;
    if (q->site)
        n += (size_t)snprintf(where + n, sizeof where - n, " at site '%s'", q->site);
    if (q->node && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, " on node '%s'", q->node);
    if (q->n_labels > 0 && n < sizeof where)
        n += (size_t)snprintf(where + n, sizeof where - n, " with labels");
    for (size_t i = 0; i < q->n_labels && n < sizeof where; i++)
        n += (size_t)snprintf(where + n, sizeof where - n, "%s%s=%s", i ? "," : " ",
                              q->labels[i]->key, q->labels[i]->value);
    reply_fail(b, SLIC__REPLY__STATUS__NOT_FOUND, "no data for SLI '%s'%s", q->sli, where);
}

/* A store failure other than memory: the operator's problem, not the client's, so it is logged
 * here and the client gets the store's message. */
static void reply_internal(struct reply_box *b, int rc, const struct slic_errmsg *err)
{
    const char *why = err->text[0] ? err->text : slic_strerror(rc);
    SLIC_ERROR("query", "query failed: %s", why);
    reply_fail(b, SLIC__REPLY__STATUS__INTERNAL, "%s", why);
}

static void fill_quantiles(struct reply_box *b, const Slic__Query *q)
{
    for (size_t i = 0; i < q->n_quantiles; i++) {
        Slic__QuantileValue *v = &b->quantiles[i];
        slic__quantile_value__init(v);
        v->has_q = 1;
        v->q = q->quantiles[i];
        /* An empty range has no quantiles: the value is left absent, not made up. */
        double value;
        if (slic_sketch_count(b->sketch) > 0 &&
            slic_sketch_quantile(b->sketch, v->q, &value) == 0) {
            v->has_value = 1;
            v->value = value;
        }
        b->quantile_ptrs[i] = v;
    }
    b->sli.n_quantiles = q->n_quantiles;
    b->sli.quantiles = q->n_quantiles ? b->quantile_ptrs : NULL;
}

/* Exact counters answer a threshold they were kept for; otherwise the sketch bounds it. */
static int fill_thresholds(struct reply_box *b, const Slic__Query *q,
                           const struct agg_query_result *res)
{
    for (size_t i = 0; i < q->n_thresholds; i++) {
        Slic__ThresholdFraction *f = &b->thresholds[i];
        slic__threshold_fraction__init(f);
        f->has_threshold = f->has_count_lower = f->has_count_upper = f->has_exact = 1;
        f->threshold = q->thresholds[i];
        const struct slic_threshold_count *exact = NULL;
        for (size_t k = 0; k < res->n_thresholds && !exact; k++) {
            if (res->thresholds[k].threshold == f->threshold)
                exact = &res->thresholds[k];
        }
        if (exact) {
            f->count_lower = f->count_upper = exact->count_le;
            f->exact = 1;
        } else {
            struct slic_sketch_rank r;
            int rc = slic_sketch_rank(b->sketch, f->threshold, &r);
            if (rc)
                return rc;
            f->count_lower = r.lower;
            f->count_upper = r.upper;
            f->exact = 0;
        }
        b->threshold_ptrs[i] = f;
    }
    b->sli.n_thresholds = q->n_thresholds;
    b->sli.thresholds = q->n_thresholds ? b->threshold_ptrs : NULL;
    return 0;
}

/* Builds the SliResult, taking ownership of the result's sketch. */
static void fill_sli(struct reply_box *b, const Slic__Query *q, struct agg_query_result *res)
{
    b->sketch = res->latency;
    res->latency = NULL;

    Slic__SliResult *s = &b->sli;
    slic__sli_result__init(s);
    snprintf(b->sli_name, sizeof b->sli_name, "%s", q->sli);
    s->sli = b->sli_name;
    s->has_from = s->has_to = s->has_resolution_seconds = 1;
    s->from = res->from;
    s->to = res->to;
    s->resolution_seconds = res->resolution_seconds;
    s->has_count = s->has_good = s->has_sum = s->has_min = s->has_max = 1;
    s->count = res->total;
    s->good = res->good;
    s->sum = slic_sketch_sum(b->sketch);
    s->min = slic_sketch_min(b->sketch);
    s->max = slic_sketch_max(b->sketch);
    fill_quantiles(b, q);

    int rc = fill_thresholds(b, q, res);
    if (rc == 0) {
        slic__sketch__init(&b->latency);
        rc = codec_sketch_to_msg(b->sketch, &b->latency);
    }
    if (rc) {
        /* Neither can fail on a sketch the store built; if one does, say so rather than
         * answer with part of a result. */
        struct slic_errmsg err;
        slic_errmsg_set(&err, rc, "building the result for SLI '%s': %s", q->sli,
                        slic_strerror(rc));
        reply_internal(b, rc, &err);
        return;
    }
    s->latency = &b->latency;
    b->reply.sli = s;
}

static int answer_sli(agg_store *st, const Slic__Query *q, int64_t now, struct reply_box *b)
{
    struct agg_query aq;
    struct slic_label matchers[SLIC_SERIES_LABELS_MAX];
    memset(&aq, 0, sizeof aq);
    if (!check_sli_query(q, now, &aq, matchers, b))
        return 0;

    struct agg_query_result res;
    struct slic_errmsg err = {{0}};
    int rc = agg_store_query_sli(st, &aq, &res, &err);
    switch (rc) {
    case 0:
        fill_sli(b, q, &res);
        agg_query_result_fini(&res);
        return 0;
    case SLIC_ENOMEM:
        return rc;
    case SLIC_ENOTFOUND:
        reply_not_found(b, q);
        return 0;
    case SLIC_EINVAL:
        /* The checks above mirror the store's, so this is rare: pass on what it says. */
        reply_fail(b, SLIC__REPLY__STATUS__BAD_QUERY, "%s",
                   err.text[0] ? err.text : slic_strerror(rc));
        return 0;
    default:
        reply_internal(b, rc, &err);
        return 0;
    }
}

/* ---- SERIES -------------------------------------------------------------------------------- */

/* The store lists (SLI, site) pairs sorted by SLI; the reply has one SeriesInfo per SLI with
 * all its sites, and the newest data of any of them. */
static int answer_series(agg_store *st, struct reply_box *b)
{
    struct slic_errmsg err = {{0}};
    size_t n = 0;
    int rc = agg_store_list_series(st, &b->series_raw, &n, &err);
    if (rc == SLIC_ENOMEM)
        return rc;
    if (rc) {
        reply_internal(b, rc, &err);
        return 0;
    }
    const struct agg_series_info *raw = b->series_raw;
    size_t groups = 0;
    for (size_t i = 0; i < n; i++)
        groups += i == 0 || strcmp(raw[i].sli, raw[i - 1].sli) != 0;

    b->series = slic_calloc(groups + 1, sizeof *b->series);
    b->series_ptrs = slic_calloc(groups + 1, sizeof *b->series_ptrs);
    b->site_ptrs = slic_calloc(n + 1, sizeof *b->site_ptrs);
    if (!b->series || !b->series_ptrs || !b->site_ptrs)
        return SLIC_ENOMEM;

    Slic__SeriesInfo *cur = NULL;
    size_t g = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(raw[i].sli, raw[i - 1].sli) != 0) {
            cur = &b->series[g];
            slic__series_info__init(cur);
            cur->sli = (char *)raw[i].sli;
            cur->sites = &b->site_ptrs[i];
            cur->has_last_data = 1;
            cur->last_data = raw[i].last_data;
            b->series_ptrs[g++] = cur;
        }
        cur->sites[cur->n_sites++] = (char *)raw[i].site;
        if (raw[i].last_data > cur->last_data)
            cur->last_data = raw[i].last_data;
    }
    b->reply.n_series = groups;
    b->reply.series = b->series_ptrs;
    return 0;
}

/* ---- AGENTS -------------------------------------------------------------------------------- */

static int answer_agents(agg_store *st, struct reply_box *b)
{
    struct slic_errmsg err = {{0}};
    size_t n = 0;
    int rc = agg_store_list_agents(st, &b->agents_raw, &n, &err);
    if (rc == SLIC_ENOMEM)
        return rc;
    if (rc) {
        reply_internal(b, rc, &err);
        return 0;
    }
    b->agents = slic_calloc(n + 1, sizeof *b->agents);
    b->agent_ptrs = slic_calloc(n + 1, sizeof *b->agent_ptrs);
    if (!b->agents || !b->agent_ptrs)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct agg_agent_info *a = &b->agents_raw[i];
        Slic__AgentInfo *m = &b->agents[i];
        slic__agent_info__init(m);
        m->agent_id = (char *)a->agent_id;
        m->site = (char *)a->site;
        m->node = (char *)a->node;
        m->has_epoch = m->has_last_seq = m->has_last_seen = 1;
        m->epoch = a->epoch;
        m->last_seq = a->last_seq;
        m->last_seen = a->last_seen;
        b->agent_ptrs[i] = m;
    }
    b->reply.n_agents = n;
    b->reply.agents = b->agent_ptrs;
    return 0;
}

/* ---- SLOS --------------------------------------------------------------------------------- */

static int answer_slos(agg_slo_engine *slo, const Slic__Query *q, struct reply_box *b)
{
    if (!check_name("slo", q->slo, false, b))
        return 0;
    /* "*" names the across-sites scope; it is never part of a site name. */
    bool all_sites = q->site && strcmp(q->site, AGG_SLO_ENGINE_ALL_SITES) == 0;
    if (!all_sites && !check_name("site", q->site, false, b))
        return 0;
    int rc = agg_slo_engine_reply(slo, q->slo, q->site, &b->slo_reply);
    if (rc)
        return rc;
    const Slic__Reply *r = b->slo_reply;
    b->reply.status = r->status;
    b->reply.error = r->error;
    b->reply.n_slos = r->n_slos;
    b->reply.slos = r->slos;
    return 0;
}

/* ---- entry points -------------------------------------------------------------------------- */

/* A reply larger than a client accepts would be dropped by it with a less useful message; this
 * one says what to do instead. */
static void check_size(struct reply_box *b)
{
    size_t size = slic__reply__get_packed_size(&b->reply);
    if (size <= CODEC_MAX_REPLY_BYTES - RESPONSE_ENVELOPE_MAX)
        return;
    b->reply.sli = NULL;
    b->reply.n_series = b->reply.n_agents = b->reply.n_slos = 0;
    b->reply.series = NULL;
    b->reply.agents = NULL;
    b->reply.slos = NULL;
    SLIC_WARN("query", "a %zu-byte answer is over the %u-byte reply limit; refused", size,
              CODEC_MAX_REPLY_BYTES);
    reply_fail(b, SLIC__REPLY__STATUS__INTERNAL,
               "the answer is %zu bytes, more than the %u a reply may carry: ask for less (one "
               "SLO, one site)",
               size, CODEC_MAX_REPLY_BYTES);
}

int agg_query_answer(agg_store *store, const Slic__Query *q, int64_t now, Slic__Reply **out)
{
    return agg_query_answer_all(store, NULL, q, now, out);
}

int agg_query_answer_all(agg_store *store, agg_slo_engine *slo, const Slic__Query *q, int64_t now,
                         Slic__Reply **out)
{
    assert(store && q && out);
    struct reply_box *b = slic_calloc(1, sizeof *b);
    if (!b)
        return SLIC_ENOMEM;
    slic__reply__init(&b->reply);
    b->reply.has_schema_version = b->reply.has_status = 1;
    b->reply.schema_version = CODEC_SCHEMA_VERSION;
    b->reply.status = SLIC__REPLY__STATUS__OK;

    int rc = 0;
    if (check_header(q, b)) {
        switch (q->kind) {
        case SLIC__QUERY__KIND__SLI:
            rc = answer_sli(store, q, now, b);
            break;
        case SLIC__QUERY__KIND__SERIES:
            rc = answer_series(store, b);
            break;
        case SLIC__QUERY__KIND__SLOS:
            rc = answer_slos(slo, q, b);
            break;
        default:
            rc = answer_agents(store, b);
            break;
        }
    }
    if (rc) {
        agg_query_reply_free(&b->reply);
        return rc;
    }
    check_size(b);
    *out = &b->reply;
    return 0;
}

void agg_query_reply_free(Slic__Reply *reply)
{
    if (!reply)
        return;
    struct reply_box *b = box_of(reply);
    slic_sketch_destroy(b->sketch);
    slic_free(b->series_raw);
    slic_free(b->series);
    slic_free(b->series_ptrs);
    slic_free(b->site_ptrs);
    slic_free(b->agents_raw);
    slic_free(b->agents);
    slic_free(b->agent_ptrs);
    agg_slo_engine_reply_free(b->slo_reply);
    slic_free(b);
}
