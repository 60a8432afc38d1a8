/* Pushing SLO alerts to Alertmanager (v2 API, POST /api/v2/alerts) and to generic webhooks,
 * which receive the same JSON array. The evaluation engine hands over the full set of firing and
 * resolved alerts after every cycle; the pusher's own thread posts what changed at once and
 * re-sends firing alerts every resend interval, so a slow or unreachable receiver never holds
 * up evaluation. Each receiver (target) is delivered to independently, with its own backoff.
 *
 * Alertmanager forgets a firing alert at its endsAt unless it is re-sent: firing alerts carry
 * endsAt = now + 3 resend intervals, so two lost pushes in a row do not resolve an alert, and an
 * aggregator that dies leaves no alert firing for ever. Resolved alerts are sent with their
 * endsAt AGG_ALERTPUSH_RESOLVED_SENDS times per target, then no more. */
#ifndef SLIC_AGG_ALERTPUSH_H
#define SLIC_AGG_ALERTPUSH_H

#include "batch.h"
#include "err.h"
#include "record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct agg_alertpush agg_alertpush;

#define AGG_ALERTPUSH_TARGETS_MAX 8
#define AGG_ALERTPUSH_LABELS_MAX 16
/* Successful posts of a resolved alert to each target before it is no longer sent. */
#define AGG_ALERTPUSH_RESOLVED_SENDS 3

enum agg_alertpush_state {
    AGG_ALERTPUSH_FIRING = 1,
    AGG_ALERTPUSH_RESOLVED = 2,
};

/* One alert tier of one SLO in one scope, as the engine passes it. Strings are borrowed for
 * the duration of the call that takes them. Identity (what Alertmanager's fingerprint is made
 * of): slo, site, severity and the two windows. */
struct agg_alertpush_alert {
    const char *slo;      /* required, non-empty */
    const char *site;     /* NULL or "": evaluated across sites; the site label is left out */
    const char *severity; /* required: "page" or "ticket" */
    double long_window_s; /* > 0 */
    double short_window_s;
    double long_rate; /* burn rates at the latest evaluation */
    double short_rate;
    double threshold;        /* the tier's burn rate */
    double budget_remaining; /* fraction of the error budget left; negative once overspent */
    const char *runbook_url; /* NULL or "": no runbook annotation */
    enum agg_alertpush_state state;
    int64_t starts_at; /* Unix s the current (or latest) firing began; <= 0: unknown (now) */
    int64_t ends_at;   /* RESOLVED: Unix s it resolved; <= 0: unknown (now) */
};

enum agg_alertpush_kind {
    AGG_ALERTPUSH_ALERTMANAGER = 1, /* url is the base, e.g. http://127.0.0.1:9093 */
    AGG_ALERTPUSH_WEBHOOK = 2,      /* url is posted to as it is */
};

struct agg_alertpush_target {
    enum agg_alertpush_kind kind;
    const char *url; /* http:// or https:// */
};

/* Everything is copied by agg_alertpush_create; the caller keeps ownership. */
struct agg_alertpush_options {
    const struct agg_alertpush_target *targets; /* 1..AGG_ALERTPUSH_TARGETS_MAX */
    size_t n_targets;
    double resend_interval_s; /* > 0; default 60 */
    double timeout_s;         /* per request, connect included; > 0; default 5 */
    /* Static labels added to every alert (e.g. region). Names as Prometheus allows them
     * ([A-Za-z_][A-Za-z0-9_]*, no leading "__") and none of the labels set here: alertname,
     * slo, site, severity, long_window, short_window. */
    const struct slic_label *labels;
    size_t n_labels;
    /* generatorURL of each alert: this prefix followed by the SLO name, percent-encoded
     * ("http://127.0.0.1:8080/api/v1/slos/"); NULL or "": no generatorURL. */
    const char *generator_url;
};

/* Defaults: no targets, resend 60 s, timeout 5 s, no labels, no generator URL. */
void agg_alertpush_options_default(struct agg_alertpush_options *o);

/* Checks the options, copies them and starts the pusher's thread. Returns 0 and *out;
 * SLIC_ECONFIG with a message naming the target or label at fault; SLIC_ENOMEM; -errno when the
 * thread cannot start. */
int agg_alertpush_create(const struct agg_alertpush_options *o, agg_alertpush **out,
                         struct slic_errmsg *err);

/* Hands over the complete current set of alerts (firing and resolved; inactive tiers are left
 * out). Compared with the previous set: an alert that starts firing, fires again (new
 * starts_at) or resolves is posted at once; an alert that disappears from the set while firing
 * (its SLO was removed) is posted resolved as of now. Numbers such as burn rates update the
 * annotations at the next post without forcing one. A resolved alert first seen here is posted
 * only if it resolved within the last 3 resend intervals: earlier ones cannot still be firing in
 * an Alertmanager. Never blocks on the network; callable from any thread.
 * Returns 0; SLIC_EINVAL for an alert breaking the rules of struct agg_alertpush_alert (nothing
 * is then changed); SLIC_ENOMEM (likewise). */
int agg_alertpush_update(agg_alertpush *p, const struct agg_alertpush_alert *alerts, size_t n);

/* Delivery counters of one target, for /metrics. */
struct agg_alertpush_stats {
    enum agg_alertpush_kind kind;
    const char *url;         /* the URL posted to; owned by the pusher, valid until destroy */
    uint64_t sent;           /* posts answered 2xx */
    uint64_t failed;         /* posts that failed: transport error, timeout or a non-2xx answer */
    int64_t last_success_ms; /* Unix ms of the latest 2xx; 0 if none yet */
    bool failing;            /* the latest post failed */
};

/* The number of targets: the order is that of the options. */
size_t agg_alertpush_target_count(const agg_alertpush *p);

/* Counters of target i. 0, or SLIC_EINVAL when i is out of range. Callable from any thread. */
int agg_alertpush_stats(agg_alertpush *p, size_t i, struct agg_alertpush_stats *out);

/* Stops the thread, aborting a post in flight, and frees everything. Returns at once whatever
 * the receivers do (a name lookup in progress is left to finish on its own). Not concurrently
 * with agg_alertpush_update. NULL allowed. */
void agg_alertpush_destroy(agg_alertpush *p);

/* Renders alerts as the JSON array Alertmanager's v2 API takes (postable alerts), appended to
 * out (see reply_json.h for the buffer):
 *   labels: alertname "SLOBurnRate", slo, site (unless empty), severity, long_window and
 *     short_window as durations ("1h", "5m"), then o->labels;
 *   annotations: summary, description, burn_rate (long window), burn_rate_short, threshold,
 *     budget_remaining (percent, "42.5%"), runbook_url (when given);
 *   startsAt: starts_at, or now when unknown;
 *   endsAt: firing: now + 3 x o->resend_interval_s (rounded up to whole seconds); resolved:
 *     ends_at, or now when unknown; never before startsAt, which Alertmanager would refuse;
 *   generatorURL: when o->generator_url is set.
 * Times are RFC 3339 UTC seconds. Strings are JSON-escaped with invalid UTF-8 as U+FFFD. Pure:
 * no I/O and no state, so any thread may call it. Only labels, resend_interval_s and
 * generator_url of o are read. Returns 0; SLIC_EINVAL for an alert breaking the rules of struct
 * agg_alertpush_alert or a time outside the RFC 3339 range (out is then unchanged);
 * SLIC_ENOMEM (out may hold part of the array: discard it). */
int agg_alertpush_render(struct agg__buf *out, const struct agg_alertpush_options *o,
                         const struct agg_alertpush_alert *alerts, size_t n, int64_t now);

/* 0 if a follows the rules of struct agg_alertpush_alert, else SLIC_EINVAL. */
int agg_alertpush_alert_check(const struct agg_alertpush_alert *a);

#endif
