/* Access-log lines (combined + latency, or JSON) into events; accesslog.h gives the formats and
 * the choices made. Lines come from files anyone able to make a request can write into, so they
 * are untrusted: every scan is bounded by the line's length, JSON nesting by a depth limit, and
 * nothing allocates. Each format's scanner only locates the fields (struct raw); one shared step
 * then reads latency and status and fills the record, so both formats judge values alike. The
 * JSON grammar itself is jsonscan.c's. */
#include "accesslog.h"

#include "batch.h"
#include "jsonscan.h"
#include "lineproto.h"

#include <string.h>

/* The scanner's limits are the ones accesslog.h promises. */
_Static_assert(SLIC__JSON_DEPTH_MAX == SLIC_ACCESSLOG_JSON_DEPTH, "JSON depth limits differ");
_Static_assert(SLIC__JSON_KEY_MAX == SLIC_ACCESSLOG_KEY_MAX, "JSON key limits differ");

/* Where a scanner found the fields. Spans of JSON strings are still escaped when `*_esc`. */
struct raw {
    struct slic__span latency, status, method, path;
    bool has_latency, want_status, has_status;
    bool method_esc, path_esc;
};

/* The members json_scan asks the JSON scanner for. */
enum { SLOT_LATENCY, SLOT_STATUS, SLOT_PATH, SLOT_METHOD, SLOT_COUNT };

const char *slic_accesslog_reason_name(enum slic_accesslog_reason r)
{
    switch (r) {
#define SLIC_ACCESSLOG_REASON_NAME(suffix, name)                                                   \
    case SLIC_ACCESSLOG_##suffix:                                                                  \
        return name;
        SLIC_ACCESSLOG_REASON_TABLE(SLIC_ACCESSLOG_REASON_NAME)
#undef SLIC_ACCESSLOG_REASON_NAME
    case SLIC_ACCESSLOG_REASON_COUNT:
        break;
    }
    return "unknown";
}

void slic_accesslog_opts_init(struct slic_accesslog_opts *o, enum slic_accesslog_format format,
                              const char *sli)
{
    *o = (struct slic_accesslog_opts){
        .format = format,
        .sli = sli,
        .unit = SLIC_ACCESSLOG_S,
        .status_bad_min = SLIC_ACCESSLOG_STATUS_BAD_MIN,
        .latency_field = -1,
        .latency_key = "request_time",
        .status_key = "status",
    };
}

static int key_check(const char *key, const char *field, bool required, struct slic_errmsg *err)
{
    if (!key && !required)
        return 0;
    if (!key || key[0] == '\0' || strlen(key) > SLIC_ACCESSLOG_KEY_MAX)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "access log: %s: expected a JSON key of 1 to %d bytes", field,
                               SLIC_ACCESSLOG_KEY_MAX);
    return 0;
}

int slic_accesslog_opts_check(const struct slic_accesslog_opts *o, struct slic_errmsg *err)
{
    if (o->format != SLIC_ACCESSLOG_COMBINED && o->format != SLIC_ACCESSLOG_JSON)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "access log: format %d: expected combined or json", (int)o->format);
    if (!o->sli || !slic_name_valid(o->sli))
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "access log: sli '%s': expected 1 to %d bytes of [A-Za-z0-9_.:-]",
                               o->sli ? o->sli : "", SLIC_NAME_MAX);
    if (o->unit != SLIC_ACCESSLOG_S && o->unit != SLIC_ACCESSLOG_MS && o->unit != SLIC_ACCESSLOG_US)
        return slic_errmsg_set(err, SLIC_ECONFIG, "access log: unit %d: expected s, ms or us",
                               (int)o->unit);
    if (o->status_bad_min > 999)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "access log: status_bad_min %u: expected 0 (off) to 999",
                               o->status_bad_min);
    if (o->format == SLIC_ACCESSLOG_COMBINED) {
        if (o->latency_field < -SLIC_ACCESSLOG_FIELD_MAX ||
            o->latency_field > SLIC_ACCESSLOG_FIELD_MAX)
            return slic_errmsg_set(
                err, SLIC_ECONFIG, "access log: latency_field %d: expected %d to %d",
                o->latency_field, -SLIC_ACCESSLOG_FIELD_MAX, SLIC_ACCESSLOG_FIELD_MAX);
        return 0;
    }
    int rc = key_check(o->latency_key, "latency_key", true, err);
    if (rc == 0)
        rc = key_check(o->status_key, "status_key", false, err);
    if (rc == 0)
        rc = key_check(o->path_key, "path_key", false, err);
    if (rc == 0)
        rc = key_check(o->method_key, "method_key", false, err);
    return rc;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool span_eq(struct slic__span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* slic_label_value_valid on a span; a NUL inside would hide the rest, so it fails here. */
static bool span_label_value_valid(struct slic__span s)
{
    char buf[SLIC_LABEL_VALUE_MAX + 1];
    if (s.n > SLIC_LABEL_VALUE_MAX || (s.n > 0 && memchr(s.p, '\0', s.n)))
        return false;
    if (s.n > 0)
        memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    return slic_label_value_valid(buf);
}

/* Up to the first '?': the query string is per-request noise, never part of a route. */
static struct slic__span path_strip_query(struct slic__span path)
{
    const char *q = path.n > 0 ? memchr(path.p, '?', path.n) : NULL;
    if (q)
        path.n = (size_t)(q - path.p);
    return path;
}

/* ---- JSON: the configured members, from jsonscan.c's scanner ---- */

/* Latency and status may be numbers or strings; anything else is kept as an empty span, which
 * the shared step refuses as a bad value. */
static struct slic__span json_scalar(const struct slic__json_slot *s)
{
    if (s->val.kind == SLIC__JSON_NUMBER || s->val.kind == SLIC__JSON_STRING)
        return s->val.raw;
    return (struct slic__span){"", 0};
}

static void json_text(const struct slic__json_slot *s, struct slic__span *out, bool *esc)
{
    if (s->present && s->val.kind == SLIC__JSON_STRING) {
        *out = s->val.raw;
        *esc = s->val.escaped;
    }
}

static enum slic_accesslog_reason json_scan(const struct slic_accesslog_opts *o,
                                            struct slic__span line, struct raw *raw)
{
    struct slic__json_slot slots[SLOT_COUNT] = {
        [SLOT_LATENCY] = {.key = o->latency_key},
        [SLOT_STATUS] = {.key = o->status_key},
        [SLOT_PATH] = {.key = o->path_key},
        [SLOT_METHOD] = {.key = o->method_key},
    };
    struct slic__cursor c = {line.p, line.p + line.n};
    slic__json_ws(&c);
    if (c.p == c.end || *c.p != '{' || !slic__json_object(&c, 1, slots, SLOT_COUNT))
        return SLIC_ACCESSLOG_E_SYNTAX;
    slic__json_ws(&c);
    if (c.p != c.end)
        return SLIC_ACCESSLOG_E_SYNTAX;
    raw->has_latency = slots[SLOT_LATENCY].present;
    raw->latency = json_scalar(&slots[SLOT_LATENCY]);
    raw->want_status = o->status_key != NULL;
    raw->has_status = slots[SLOT_STATUS].present;
    raw->status = json_scalar(&slots[SLOT_STATUS]);
    json_text(&slots[SLOT_PATH], &raw->path, &raw->path_esc);
    json_text(&slots[SLOT_METHOD], &raw->method, &raw->method_esc);
    return SLIC_ACCESSLOG_OK;
}

/* ---- combined ---- */

static void skip_spaces(struct slic__cursor *c)
{
    while (c->p < c->end && *c->p == ' ')
        c->p++;
}

static bool field_ends(const struct slic__cursor *c, const char *q)
{
    return q + 1 == c->end || q[1] == ' ';
}

static bool field_bare(struct slic__cursor *c, struct slic__span *out)
{
    skip_spaces(c);
    const char *s = c->p;
    while (c->p < c->end && *c->p != ' ')
        c->p++;
    *out = (struct slic__span){s, (size_t)(c->p - s)};
    return out->n > 0;
}

/* "[10/Oct/2000:13:55:36 -0700]": up to a ']' that ends the field. */
static bool field_bracket(struct slic__cursor *c, struct slic__span *out)
{
    skip_spaces(c);
    if (c->p == c->end || *c->p != '[')
        return false;
    for (const char *q = c->p + 1; q < c->end; q++) {
        if (*q == ']' && field_ends(c, q)) {
            *out = (struct slic__span){c->p + 1, (size_t)(q - c->p - 1)};
            c->p = q + 1;
            return true;
        }
    }
    return false;
}

/* A quoted field's body. A backslash escapes the next byte; a quote closes the field only when
 * the field ends there, which tolerates unescaped quotes inside user agents. */
static bool field_quoted(struct slic__cursor *c, struct slic__span *out)
{
    skip_spaces(c);
    if (c->p == c->end || *c->p != '"')
        return false;
    for (const char *q = c->p + 1; q < c->end; q++) {
        if (*q == '\\' && q + 1 < c->end) {
            q++;
        } else if (*q == '"' && field_ends(c, q)) {
            *out = (struct slic__span){c->p + 1, (size_t)(q - c->p - 1)};
            c->p = q + 1;
            return true;
        }
    }
    return false;
}

static bool field_any(struct slic__cursor *c, struct slic__span *out)
{
    skip_spaces(c);
    if (c->p < c->end && *c->p == '"')
        return field_quoted(c, out);
    if (c->p < c->end && *c->p == '[')
        return field_bracket(c, out);
    return field_bare(c, out);
}

/* The k-th space-separated token before `end` (k >= 1), not reaching back past `start`. */
static bool field_from_end(const char *start, const char *end, int k, struct slic__span *out)
{
    const char *q = end;
    for (int i = 0; i < k; i++) {
        while (q > start && q[-1] == ' ')
            q--;
        const char *tok_end = q;
        while (q > start && q[-1] != ' ')
            q--;
        if (q == tok_end)
            return false;
        *out = (struct slic__span){q, (size_t)(tok_end - q)};
    }
    return true;
}

/* The extra field holding the latency, with the cursor just past the user agent. */
static enum slic_accesslog_reason combined_latency(int field, struct slic__cursor *c,
                                                   struct slic__span *out)
{
    if (field < 0)
        return field_from_end(c->p, c->end, -field, out) ? SLIC_ACCESSLOG_OK
                                                         : SLIC_ACCESSLOG_E_NO_LATENCY;
    for (int i = 0; i <= field; i++) {
        skip_spaces(c);
        if (c->p == c->end)
            return SLIC_ACCESSLOG_E_NO_LATENCY;
        if (!field_any(c, out))
            return SLIC_ACCESSLOG_E_SYNTAX;
    }
    return SLIC_ACCESSLOG_OK;
}

/* "GET /path?q HTTP/1.1" into method and target; a request without a space ("-", or bytes
 * of a TLS handshake sent to a plain-HTTP port) has neither. */
static void request_split(struct slic__span req, struct slic__span *method, struct slic__span *path)
{
    const char *sp = req.n > 0 ? memchr(req.p, ' ', req.n) : NULL;
    if (!sp)
        return;
    *method = (struct slic__span){req.p, (size_t)(sp - req.p)};
    const char *t = sp + 1, *end = req.p + req.n;
    const char *t_end = memchr(t, ' ', (size_t)(end - t));
    *path = (struct slic__span){t, (size_t)((t_end ? t_end : end) - t)};
}

static enum slic_accesslog_reason combined_scan(const struct slic_accesslog_opts *o,
                                                struct slic__span line, struct raw *raw)
{
    struct slic__cursor c = {line.p, line.p + line.n};
    struct slic__span addr, ident, user, when, request, bytes, referer, agent;
    if (!field_bare(&c, &addr) || !field_bare(&c, &ident) || !field_bare(&c, &user) ||
        !field_bracket(&c, &when) || !field_quoted(&c, &request) || !field_bare(&c, &raw->status) ||
        !field_bare(&c, &bytes) || !field_quoted(&c, &referer) || !field_quoted(&c, &agent))
        return SLIC_ACCESSLOG_E_SYNTAX;
    raw->want_status = raw->has_status = true;
    enum slic_accesslog_reason r = combined_latency(o->latency_field, &c, &raw->latency);
    if (r == SLIC_ACCESSLOG_E_SYNTAX)
        return r;
    raw->has_latency = r == SLIC_ACCESSLOG_OK;
    request_split(request, &raw->method, &raw->path);
    return SLIC_ACCESSLOG_OK;
}

/* ---- the shared step ---- */

static enum slic_accesslog_reason latency_read(enum slic_accesslog_unit unit, struct slic__span s,
                                               double *seconds)
{
    double v = 0;
    int rc = slic_lineproto_decimal(s.p, s.n, &v);
    if (rc == SLIC_ERANGE)
        return SLIC_ACCESSLOG_E_TOO_LARGE;
    if (rc != 0)
        return SLIC_ACCESSLOG_E_BAD_LATENCY;
    /* Division by a power of ten is correctly rounded; multiplying by 1e-3 would not be. */
    if (unit == SLIC_ACCESSLOG_MS)
        v /= 1e3;
    else if (unit == SLIC_ACCESSLOG_US)
        v /= 1e6;
    if (v > SLIC_EVENT_LATENCY_MAX)
        return SLIC_ACCESSLOG_E_TOO_LARGE;
    *seconds = v;
    return SLIC_ACCESSLOG_OK;
}

static bool status_read(struct slic__span s, unsigned *out)
{
    unsigned v = 0;
    if (s.n == 0 || s.n > 3)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (!is_digit(s.p[i]))
            return false;
        v = v * 10 + (unsigned)(s.p[i] - '0');
    }
    *out = v;
    return true;
}

/* The label value for a method: the method itself when RFC 9110 defines it, else "_OTHER"
 * (OpenTelemetry's convention), so that only ten values can ever appear. */
static const char *method_label(struct slic__span m)
{
    static const char *const known[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                        "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (span_eq(m, known[i]))
            return known[i];
    return "_OTHER";
}

static void label_add(struct slic_event *ev, const char *key, struct slic__span value)
{
    ev->labels[ev->n_labels++] = (struct slic_event_label){key, strlen(key), value.p, value.n};
}

/* Path and method as the record keeps them: JSON strings with escapes are unescaped into the
 * record's scratch; one that does not fit counts as absent. */
static void record_texts(const struct raw *raw, struct slic_accesslog_record *rec)
{
    struct slic__span path = {"", 0}, method = {"", 0};
    if (!raw->path_esc)
        path = path_strip_query(raw->path);
    else if (!slic__json_unescape(raw->path, true, rec->scratch_, SLIC_ACCESSLOG_PATH_MAX, &path))
        path = (struct slic__span){"", 0};
    if (!raw->method_esc)
        method = raw->method;
    else if (!slic__json_unescape(raw->method, false, rec->scratch_ + SLIC_ACCESSLOG_PATH_MAX,
                                  SLIC_ACCESSLOG_METHOD_MAX, &method))
        method = (struct slic__span){"", 0};
    rec->path = path.n > 0 ? path.p : "";
    rec->path_len = path.n;
    rec->method = method.n > 0 ? method.p : "";
    rec->method_len = method.n;
}

static void record_fill(const struct slic_accesslog_opts *o, const struct raw *raw, double seconds,
                        unsigned status, struct slic_accesslog_record *rec)
{
    struct slic_event *ev = &rec->event;
    ev->name = o->sli;
    ev->name_len = strlen(o->sli);
    ev->latency = seconds;
    ev->weight = 1;
    ev->good = o->status_bad_min == 0 || !raw->want_status || status < o->status_bad_min;
    ev->n_labels = 0;
    rec->status = status;
    rec->labels_dropped = 0;
    record_texts(raw, rec);
    struct slic__span path = {rec->path, rec->path_len};
    if (o->label_method) {
        const char *m = method_label((struct slic__span){rec->method, rec->method_len});
        label_add(ev, "method", (struct slic__span){m, strlen(m)});
    }
    if (o->label_route) {
        if (path.n > 0 && span_label_value_valid(path))
            label_add(ev, "route", path);
        else
            rec->labels_dropped++;
    }
}

enum slic_accesslog_reason slic_accesslog_parse(const struct slic_accesslog_opts *o,
                                                const char *line, size_t len,
                                                struct slic_accesslog_record *rec)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return SLIC_ACCESSLOG_E_EMPTY;
    if (len > SLIC_ACCESSLOG_LINE_MAX)
        return SLIC_ACCESSLOG_E_TOO_LONG;
    struct slic__span s = {line, len};
    struct raw raw = {.method = {"", 0}, .path = {"", 0}};
    enum slic_accesslog_reason r =
        o->format == SLIC_ACCESSLOG_JSON ? json_scan(o, s, &raw) : combined_scan(o, s, &raw);
    if (r != SLIC_ACCESSLOG_OK)
        return r;
    double seconds = 0;
    if (!raw.has_latency)
        return SLIC_ACCESSLOG_E_NO_LATENCY;
    if ((r = latency_read(o->unit, raw.latency, &seconds)) != SLIC_ACCESSLOG_OK)
        return r;
    unsigned status = 0;
    if (raw.want_status && !raw.has_status)
        return SLIC_ACCESSLOG_E_NO_STATUS;
    if (raw.want_status && !status_read(raw.status, &status))
        return SLIC_ACCESSLOG_E_BAD_STATUS;
    record_fill(o, &raw, seconds, status, rec);
    return SLIC_ACCESSLOG_OK;
}
