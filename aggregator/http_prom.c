/* GET /metrics: the aggregator's own health in the Prometheus text exposition format 0.0.4, then
 * whatever the metrics hook adds. Every family has HELP and TYPE, counters end in _total, units
 * are bytes and seconds, and label values are escaped, so `promtool check metrics` accepts the
 * page whatever an SLI or site is called. A scrape reads atomics and one store snapshot; it
 * never blocks the writer. */
#include "http_int.h"

#include "forward.h"

#include "log.h"
#include "reply_json.h"
#include "timeutil.h"
#include "version.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- the exposition format ----------------------------------------------------------------- */

static bool metric_name_valid(const char *s)
{
    if (!s || !(*s == '_' || *s == ':' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:") ==
           strlen(s);
}

/* Names starting with "__" are reserved for Prometheus itself. */
static bool label_name_valid(const char *s)
{
    if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) ||
        strncmp(s, "__", 2) == 0)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
           strlen(s);
}

/* Escapes text for a HELP line (\\ and \n) or, with quote, a label value (\" too). The format
 * requires UTF-8, so bytes that are not valid UTF-8 become U+FFFD. */
static int escape(struct agg__buf *out, const char *s, bool quote)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = 0;
    while (*p && rc == 0) {
        size_t n = agg__utf8_len(p);
        if (*p == '\\')
            rc = agg__buf_puts(out, "\\\\");
        else if (*p == '\n')
            rc = agg__buf_puts(out, "\\n");
        else if (*p == '"' && quote)
            rc = agg__buf_puts(out, "\\\"");
        else if (n == 0)
            rc = agg__buf_puts(out, "\xef\xbf\xbd"), n = 1;
        else
            rc = agg__buf_append(out, p, n);
        p += n ? n : 1;
    }
    return rc;
}

/* Undoes a partly written line, so a failed call leaves the page as it was. */
static int rollback(struct agg__buf *out, size_t mark, int rc)
{
    if (out->p) {
        out->len = mark;
        out->p[mark] = '\0';
    }
    return rc;
}

int agg_http_prom_family(struct agg__buf *out, const char *name, const char *type, const char *help)
{
    size_t n = name ? strlen(name) : 0, mark = out->len;
    bool counter = type && strcmp(type, "counter") == 0;
    if (!metric_name_valid(name) || !help ||
        !(counter || (type && (strcmp(type, "gauge") == 0 || strcmp(type, "untyped") == 0))) ||
        (counter && (n < 6 || strcmp(name + n - 6, "_total") != 0)))
        return SLIC_EINVAL;
    int rc = agg__buf_printf(out, "# HELP %s ", name);
    if (rc == 0)
        rc = escape(out, help, false);
    if (rc == 0)
        rc = agg__buf_printf(out, "\n# TYPE %s %s\n", name, type);
    return rc ? rollback(out, mark, rc) : 0;
}

/* name{k="v",...} */
static int sample_head(struct agg__buf *out, const char *name, const struct slic_label *labels,
                       size_t n)
{
    if (!metric_name_valid(name))
        return SLIC_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!label_name_valid(labels[i].key) || !labels[i].value)
            return SLIC_EINVAL;
    int rc = agg__buf_puts(out, name);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = agg__buf_printf(out, "%s%s=\"", i ? "," : "{", labels[i].key);
        if (rc == 0)
            rc = escape(out, labels[i].value, true);
        if (rc == 0)
            rc = agg__buf_puts(out, "\"");
    }
    if (rc == 0 && n > 0)
        rc = agg__buf_puts(out, "}");
    return rc;
}

/* The shortest text that reads back as the same double; the format's own names for the rest. */
static void fmt_value(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static int sample_tail(struct agg__buf *out, size_t mark, int rc, const char *value)
{
    if (rc == 0)
        rc = agg__buf_printf(out, " %s\n", value);
    return rc ? rollback(out, mark, rc) : 0;
}

int agg_http_prom_sample(struct agg__buf *out, const char *name, const struct slic_label *labels,
                         size_t n_labels, double value)
{
    char text[40];
    size_t mark = out->len;
    fmt_value(value, text, sizeof text);
    return sample_tail(out, mark, sample_head(out, name, labels, n_labels), text);
}

int agg_http_prom_sample_u64(struct agg__buf *out, const char *name,
                             const struct slic_label *labels, size_t n_labels, uint64_t value)
{
    char text[24];
    size_t mark = out->len;
    snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    return sample_tail(out, mark, sample_head(out, name, labels, n_labels), text);
}

/* ---- the aggregator's families ------------------------------------------------------------- */

/* A family of one unlabelled sample. */
static int put_counter(struct agg__buf *out, const char *name, const char *help, uint64_t v)
{
    int rc = agg_http_prom_family(out, name, "counter", help);
    return rc ? rc : agg_http_prom_sample_u64(out, name, NULL, 0, v);
}

static int put_gauge(struct agg__buf *out, const char *name, const char *help, double v)
{
    int rc = agg_http_prom_family(out, name, "gauge", help);
    return rc ? rc : agg_http_prom_sample(out, name, NULL, 0, v);
}

static int put_gauge_u64(struct agg__buf *out, const char *name, const char *help, uint64_t v)
{
    int rc = agg_http_prom_family(out, name, "gauge", help);
    return rc ? rc : agg_http_prom_sample_u64(out, name, NULL, 0, v);
}

static int put_build_info(struct agg__buf *out)
{
    struct slic_label version = {"version", SLIC_VERSION};
    int rc = agg_http_prom_family(out, "slic_build_info", "gauge",
                                  "Always 1; the version of slic-aggregator as a label.");
    return rc ? rc : agg_http_prom_sample(out, "slic_build_info", &version, 1, 1);
}

static uint64_t load(const struct agg_stats *s, size_t offset)
{
    return atomic_load((const _Atomic uint64_t *)((const char *)s + offset));
}

/* One counter family with a sample per value of one label, each read from an agg_stats field. */
struct stat_by_label {
    const char *value;
    size_t offset;
};

static int put_counter_by(struct agg__buf *out, const struct agg_stats *s, const char *name,
                          const char *help, const char *key, const struct stat_by_label *rows,
                          size_t n)
{
    int rc = agg_http_prom_family(out, name, "counter", help);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct slic_label label = {(char *)key, (char *)rows[i].value};
        rc = agg_http_prom_sample_u64(out, name, &label, 1, load(s, rows[i].offset));
    }
    return rc;
}

static int put_batches(struct agg__buf *out, const struct agg_stats *s)
{
    static const struct stat_by_label results[] = {
        {"accepted", offsetof(struct agg_stats, batches_accepted)},
        {"duplicate", offsetof(struct agg_stats, batches_duplicate)},
        {"rejected", offsetof(struct agg_stats, batches_rejected)},
        {"retry", offsetof(struct agg_stats, batches_retry)}};
    /* Signature refusals are also counted apart from result="rejected" because they call for
     * another fix: not the agent's data but its key; and a rising count of wrong signatures
     * may be someone sending as an agent they are not. */
    static const struct stat_by_label refusals[] = {
        {"missing", offsetof(struct agg_stats, batches_unsigned)},
        {"wrong", offsetof(struct agg_stats, batches_forged)}};
    int rc = put_counter_by(out, s, "slic_aggregator_batches_total",
                            "Batches from agents by their acknowledgement: accepted (committed "
                            "now), duplicate (committed before), rejected (invalid, never "
                            "mergeable; or refused for its signature, see "
                            "slic_aggregator_batches_refused_signature_total), retry (not "
                            "committed; sent again).",
                            "result", results, sizeof results / sizeof results[0]);
    return rc ? rc
              : put_counter_by(out, s, "slic_aggregator_batches_refused_signature_total",
                               "Batches refused for their signature before anything else in "
                               "them was read (also counted as rejected); their agents keep and "
                               "resend them. reason: missing (unsigned while "
                               "auth.require_signed_batches is on), wrong (not the batch's HMAC "
                               "under the key of the agent_id it claims: a wrong auth.key_file, "
                               "or not that agent).",
                               "reason", refusals, sizeof refusals / sizeof refusals[0]);
}

static int put_server(struct agg__buf *out, const struct agg_stats *s)
{
    static const struct {
        const char *name, *help;
        size_t offset;
    } counters[] = {
        {"slic_aggregator_requests_total",
         "Requests received over nng from agents and slic, batches and queries.",
         offsetof(struct agg_stats, requests)},
        {"slic_aggregator_series_accepted_total", "Series in batches committed for the first time.",
         offsetof(struct agg_stats, series_accepted)},
        {"slic_aggregator_queries_total", "Queries from slic over nng and from /api/v1/query.",
         offsetof(struct agg_stats, queries)},
        {"slic_aggregator_queries_failed_total", "Queries that could not be answered at all.",
         offsetof(struct agg_stats, queries_failed)},
        {"slic_aggregator_decode_errors_total", "nng requests that could not be decoded.",
         offsetof(struct agg_stats, decode_errors)},
    };
    int rc = put_batches(out, s);
    for (size_t i = 0; i < sizeof counters / sizeof counters[0] && rc == 0; i++)
        rc = put_counter(out, counters[i].name, counters[i].help, load(s, counters[i].offset));
    return rc;
}

static int put_store(struct agg__buf *out, const struct agg_store_stats *s)
{
    int rc;
    if ((rc = put_counter(out, "slic_aggregator_store_commits_total",
                          "LMDB write transactions committed.", s->commits)) ||
        (rc = put_gauge(out, "slic_aggregator_store_last_commit_seconds",
                        "How long the last commit took, its sync included when durable.",
                        (double)s->last_commit_ns / 1e9)) ||
        (rc = put_gauge_u64(out, "slic_aggregator_store_map_size_bytes",
                            "Size of the LMDB memory map now.", s->map_size)) ||
        (rc = put_gauge_u64(out, "slic_aggregator_store_map_size_max_bytes",
                            "Size the LMDB map may grow to (store.map_size_max).",
                            s->map_size_max)) ||
        (rc = put_gauge_u64(out, "slic_aggregator_store_used_bytes",
                            "Bytes of the map in use (high-water mark of the data file).",
                            s->used_bytes)) ||
        (rc = put_counter(out, "slic_aggregator_store_map_growths_total",
                          "Times the LMDB map was doubled because it was full.", s->map_growths)) ||
        (rc = put_counter(out, "slic_aggregator_store_records_written_total",
                          "Rollup records written (one per series, resolution and scope).",
                          s->records_written)) ||
        (rc = put_counter(out, "slic_aggregator_store_records_expired_total",
                          "Rollup records deleted by the retention pass.", s->records_expired)) ||
        (rc = put_counter(out, "slic_aggregator_store_series_merged_total",
                          "Series stored in at least one resolution.", s->series_merged)) ||
        (rc = put_counter(out, "slic_aggregator_store_series_too_old_total",
                          "Series older than every retention, stored nowhere.", s->series_too_old)))
        return rc;
    return put_counter(out, "slic_aggregator_store_stale_readers_cleared_total",
                       "LMDB reader slots of dead processes cleared.", s->stale_readers_cleared);
}

static int put_http(struct agg__buf *out, agg_http *h)
{
    static const unsigned codes[AGG__HTTP_N_CODES] = {
#define CODE_ENTRY(c) c,
        AGG__HTTP_CODES(CODE_ENTRY)
#undef CODE_ENTRY
    };
    const char *name = "slic_aggregator_http_requests_total";
    int rc = agg_http_prom_family(out, name, "counter",
                                  "HTTP requests answered, by handler and status code.");
    for (int r = 0; r < AGG__HTTP_ROUTES && rc == 0; r++) {
        for (int c = 0; c < AGG__HTTP_N_CODES && rc == 0; c++) {
            uint64_t n = atomic_load(&h->requests[r][c]);
            char code[8];
            snprintf(code, sizeof code, "%u", codes[c]);
            struct slic_label labels[2] = {{"handler", (char *)agg__http_route_names[r]},
                                           {"code", code}};
            /* Pairs never seen are left out: most never are. */
            if (n > 0)
                rc = agg_http_prom_sample_u64(out, name, labels, 2, n);
        }
    }
    return rc ? rc
              : put_counter(out, "slic_aggregator_metrics_hook_errors_total",
                            "Scrapes on which the SLO metrics could not be added.",
                            atomic_load(&h->hook_errors));
}

/* The SLO engine's families. A failing hook loses only its own part of the page: what it wrote
 * is cut off, the failure counted and logged, and the aggregator's families still served. */
static int put_hook(struct agg__buf *out, agg_http *h)
{
    if (!h->hooks.metrics)
        return 0;
    size_t mark = out->len;
    int rc = h->hooks.metrics(h->hooks.ctx, out);
    if (rc == 0)
        return 0;
    rollback(out, mark, rc);
    atomic_fetch_add(&h->hook_errors, 1);
    uint64_t held = 0;
    if (agg_ratelimit_allow(h->log_limit, "metrics hook", slic_now_unix_ms(), &held))
        SLIC_WARN("http", "/metrics: the SLO metrics could not be added: %s", slic_strerror(rc));
    return 0;
}

int agg__http_metrics(agg_http *h, struct agg__http_reply *r)
{
    struct agg_store_stats ss;
    agg_store_stats_get(h->store, &ss);
    pthread_mutex_lock(&h->writer_mu);
    bool have_writer = h->writer != NULL;
    unsigned pending = have_writer ? agg_writer_pending(h->writer) : 0;
    pthread_mutex_unlock(&h->writer_mu);

    r->status = 200;
    r->content_type = PROM_TYPE;
    struct agg__buf *out = &r->body;
    int rc;
    if ((rc = put_build_info(out)) || (rc = put_server(out, h->stats)) ||
        (rc = put_store(out, &ss)) || (rc = put_http(out, h)) ||
        (rc = agg_forward_metrics(h->forward, out)))
        return rc;
    /* While draining the writer is gone; its queue is left out rather than reported as 0. */
    if (have_writer &&
        (rc = put_gauge_u64(out, "slic_aggregator_writer_queue_depth",
                            "Batches queued for the writer and not yet committed.", pending)))
        return rc;
    return put_hook(out, h);
}
