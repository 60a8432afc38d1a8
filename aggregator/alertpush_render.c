/* The JSON the alert pusher posts (alertpush.h): Alertmanager v2 postable alerts, the same array
 * for webhooks. Pure functions over the alerts given: no I/O, no state. Everything a receiver
 * cannot take is caught before the first byte is written: Alertmanager refuses a whole post when
 * one alert in it is invalid, so one bad alert must not silence the others. */
#include "alertpush.h"

#include "reply_json.h"
#include "timeutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool empty(const char *s)
{
    return !s || !*s;
}

/* A window must print as a duration label ("1h"), which also bounds it. */
static bool window_ok(double s)
{
    char buf[SLIC_DURATION_FMT_LEN];
    return isfinite(s) && s > 0 && slic_duration_format(s, buf, sizeof buf) == 0;
}

int agg_alertpush_alert_check(const struct agg_alertpush_alert *a)
{
    if (empty(a->slo) || empty(a->severity))
        return SLIC_EINVAL;
    if (a->state != AGG_ALERTPUSH_FIRING && a->state != AGG_ALERTPUSH_RESOLVED)
        return SLIC_EINVAL;
    if (!window_ok(a->long_window_s) || !window_ok(a->short_window_s))
        return SLIC_EINVAL;
    if (a->starts_at > SLIC_TIME_MAX || a->ends_at > SLIC_TIME_MAX)
        return SLIC_EINVAL;
    return 0;
}

/* Human text for a number in an annotation: "14.4", "0.5"; "unknown" rather than "nan" or
 * "inf" for a rate over a window without events. */
static void fmt_num(double v, const char *suffix, char *buf, size_t n)
{
    if (isfinite(v))
        snprintf(buf, n, "%.4g%s", v, suffix);
    else
        snprintf(buf, n, "unknown");
}

/* ---- a small JSON object writer: the first error sticks, later calls do nothing ----------- */

struct jw {
    struct agg__buf *out;
    struct agg__buf *scratch; /* for text composed before escaping */
    int rc;
    bool comma;
};

static void jw_raw(struct jw *w, const char *s)
{
    if (w->rc == 0)
        w->rc = agg__buf_puts(w->out, s);
}

static void jw_key(struct jw *w, const char *key)
{
    jw_raw(w, w->comma ? "," : "");
    if (w->rc == 0)
        w->rc = agg_json_string(w->out, key);
    jw_raw(w, ":");
    w->comma = true;
}

static void jw_str(struct jw *w, const char *key, const char *value)
{
    jw_key(w, key);
    if (w->rc == 0)
        w->rc = agg_json_string(w->out, value);
}

static void jw_open(struct jw *w, const char *key)
{
    if (key)
        jw_key(w, key);
    jw_raw(w, "{");
    w->comma = false;
}

static void jw_close(struct jw *w)
{
    jw_raw(w, "}");
    w->comma = true;
}

/* Starts composing a string value in the scratch buffer (then jw_append and agg__buf_printf on
 * w->scratch, then jw_scratch). */
static void jw_compose(struct jw *w)
{
    w->scratch->len = 0;
    if (w->rc == 0)
        w->rc = agg__buf_puts(w->scratch, "");
}

static void jw_append(struct jw *w, const char *s)
{
    if (w->rc == 0)
        w->rc = agg__buf_puts(w->scratch, s);
}

static void jw_scratch(struct jw *w, const char *key)
{
    if (w->rc == 0)
        jw_str(w, key, (const char *)w->scratch->p);
}

/* ---- one alert ----------------------------------------------------------------------------- */

static void put_time(struct jw *w, const char *key, int64_t t)
{
    char buf[SLIC_RFC3339_LEN];
    /* The range was checked before anything was written. */
    if (slic_rfc3339_format(t, buf, sizeof buf) == 0)
        jw_str(w, key, buf);
    else if (w->rc == 0)
        w->rc = SLIC_EINVAL;
}

static void put_labels(struct jw *w, const struct agg_alertpush_options *o,
                       const struct agg_alertpush_alert *a)
{
    char lw[SLIC_DURATION_FMT_LEN], sw[SLIC_DURATION_FMT_LEN];
    slic_duration_format(a->long_window_s, lw, sizeof lw);
    slic_duration_format(a->short_window_s, sw, sizeof sw);
    jw_open(w, "labels");
    jw_str(w, "alertname", "SLOBurnRate");
    jw_str(w, "slo", a->slo);
    /* Alertmanager treats an empty label as an absent one: leave it out rather than send it. */
    if (!empty(a->site))
        jw_str(w, "site", a->site);
    jw_str(w, "severity", a->severity);
    jw_str(w, "long_window", lw);
    jw_str(w, "short_window", sw);
    for (size_t i = 0; i < o->n_labels; i++)
        jw_str(w, o->labels[i].key, o->labels[i].value);
    jw_close(w);
}

static void put_annotations(struct jw *w, const struct agg_alertpush_alert *a)
{
    char lr[32], sr[32], thr[32], budget[32], lw[SLIC_DURATION_FMT_LEN], sw[SLIC_DURATION_FMT_LEN];
    fmt_num(a->long_rate, "", lr, sizeof lr);
    fmt_num(a->short_rate, "", sr, sizeof sr);
    fmt_num(a->threshold, "", thr, sizeof thr);
    fmt_num(a->budget_remaining * 100, "%", budget, sizeof budget);
    slic_duration_format(a->long_window_s, lw, sizeof lw);
    slic_duration_format(a->short_window_s, sw, sizeof sw);

    jw_open(w, "annotations");
    jw_compose(w);
    jw_append(w, "SLO ");
    jw_append(w, a->slo);
    if (!empty(a->site)) {
        jw_append(w, " at ");
        jw_append(w, a->site);
    }
    if (w->rc == 0)
        w->rc = agg__buf_printf(w->scratch, " is burning its error budget %sx too fast (%s)", lr,
                                a->severity);
    jw_scratch(w, "summary");

    jw_compose(w);
    if (w->rc == 0)
        w->rc =
            agg__buf_printf(w->scratch,
                            "Burn rate %sx over %s and %sx over %s, against a threshold of %sx; "
                            "%s of the error budget remains.",
                            lr, lw, sr, sw, thr, budget);
    jw_scratch(w, "description");

    jw_str(w, "burn_rate", lr);
    jw_str(w, "burn_rate_short", sr);
    jw_str(w, "threshold", thr);
    jw_str(w, "budget_remaining", budget);
    if (!empty(a->runbook_url))
        jw_str(w, "runbook_url", a->runbook_url);
    jw_close(w);
}

/* RFC 3986 unreserved characters stay, every other byte becomes %XX: an SLO name may hold
 * anything, and Alertmanager refuses a generatorURL that does not parse as a URI. */
static void put_generator_url(struct jw *w, const char *prefix, const char *slo)
{
    static const char hex[] = "0123456789ABCDEF";
    jw_compose(w);
    jw_append(w, prefix);
    for (const unsigned char *s = (const unsigned char *)slo; *s && w->rc == 0; s++) {
        char enc[4] = {(char)*s, 0, 0, 0};
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              strchr("-._~", *s))) {
            enc[0] = '%';
            enc[1] = hex[*s >> 4];
            enc[2] = hex[*s & 15];
        }
        jw_append(w, enc);
    }
    jw_scratch(w, "generatorURL");
}

/* The endsAt rules of alertpush.h. */
static void alert_times(const struct agg_alertpush_options *o, const struct agg_alertpush_alert *a,
                        int64_t now, int64_t *starts, int64_t *ends)
{
    *starts = a->starts_at > 0 ? a->starts_at : now;
    if (a->state == AGG_ALERTPUSH_FIRING)
        *ends = now + (int64_t)ceil(3 * o->resend_interval_s);
    else
        *ends = a->ends_at > 0 ? a->ends_at : now;
    if (*ends < *starts)
        *ends = *starts;
}

static void put_alert(struct jw *w, const struct agg_alertpush_options *o,
                      const struct agg_alertpush_alert *a, int64_t now)
{
    int64_t starts, ends;
    alert_times(o, a, now, &starts, &ends);
    jw_open(w, NULL);
    put_labels(w, o, a);
    put_annotations(w, a);
    put_time(w, "startsAt", starts);
    put_time(w, "endsAt", ends);
    if (!empty(o->generator_url))
        put_generator_url(w, o->generator_url, a->slo);
    jw_close(w);
}

/* Everything that could make put_alert fail for a reason other than memory. */
static int render_check(const struct agg_alertpush_options *o,
                        const struct agg_alertpush_alert *alerts, size_t n, int64_t now)
{
    double ttl = 3 * o->resend_interval_s;
    if (!isfinite(ttl) || ttl < 0 || now < 0 || (double)now + ttl > (double)SLIC_TIME_MAX)
        return SLIC_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (agg_alertpush_alert_check(&alerts[i]))
            return SLIC_EINVAL;
    return 0;
}

int agg_alertpush_render(struct agg__buf *out, const struct agg_alertpush_options *o,
                         const struct agg_alertpush_alert *alerts, size_t n, int64_t now)
{
    int rc = render_check(o, alerts, n, now);
    if (rc)
        return rc;
    struct agg__buf scratch = {0};
    struct jw w = {.out = out, .scratch = &scratch};
    jw_raw(&w, "[");
    for (size_t i = 0; i < n; i++) {
        jw_raw(&w, i > 0 ? "," : "");
        put_alert(&w, o, &alerts[i], now);
    }
    jw_raw(&w, "]");
    agg__buf_fini(&scratch);
    return w.rc;
}
