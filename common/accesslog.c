/* Access-log lines (combined + latency, or JSON) into events; accesslog.h gives the formats and
 * the choices made. Lines come from files anyone able to make a request can write into, so they
 * are untrusted: every scan is bounded by the line's length, JSON nesting by a depth limit, and
 * nothing allocates. Each format's scanner only locates the fields (struct raw); one shared step
 * then reads latency and status and fills the record, so both formats judge values alike. */
#include "accesslog.h"

#include "batch.h"
#include "lineproto.h"

#include <string.h>

/* Part of the line. */
struct span {
    const char *p;
    size_t n;
};

struct cursor {
    const char *p;
    const char *end;
};

/* Where a scanner found the fields. Spans of JSON strings are still escaped when `*_esc`. */
struct raw {
    struct span latency, status, method, path;
    bool has_latency, want_status, has_status;
    bool method_esc, path_esc;
};

/* ---- JSON: a validating scanner for one object, collecting the configured members ---- */

/* J_NONE first, so a slot never filled reads as nothing rather than as a string. */
enum jkind { J_NONE, J_STRING, J_NUMBER, J_LITERAL, J_NESTED };

struct jval {
    enum jkind kind;
    struct span raw; /* string body (escapes intact) or number text */
    bool escaped;
};

enum { SLOT_LATENCY, SLOT_STATUS, SLOT_PATH, SLOT_METHOD, SLOT_COUNT };

struct jslot {
    const char *key; /* NULL: not wanted */
    struct jval val;
    bool present;
};

static bool json_value(struct cursor *c, int depth, struct jval *v);

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

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool span_eq(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* slic_label_value_valid on a span; a NUL inside would hide the rest, so it fails here. */
static bool span_label_value_valid(struct span s)
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
static struct span path_strip_query(struct span path)
{
    const char *q = path.n > 0 ? memchr(path.p, '?', path.n) : NULL;
    if (q)
        path.n = (size_t)(q - path.p);
    return path;
}

/* ---- JSON string unescaping ---- */

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (unsigned)(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t utf8_put(unsigned cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A \u escape at p (already validated), joining a surrogate pair when one follows. A lone
 * surrogate becomes U+FFFD, as most decoders do, rather than failing the whole line. */
static unsigned unicode_escape(const char *p, const char *end, size_t *used)
{
    unsigned cp = hex4(p + 2);
    *used = 6;
    if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 12 && p[6] == '\\' && p[7] == 'u') {
        unsigned lo = hex4(p + 8);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
            *used = 12;
            return 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
    }
    return cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp;
}

/* One character of a validated string body at p: its bytes into out, its length in *used. */
static size_t json_char(const char *p, const char *end, char out[4], size_t *used)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    *used = 1;
    if (*p != '\\') {
        out[0] = *p;
        return 1;
    }
    if (p[1] == 'u')
        return utf8_put(unicode_escape(p, end, used), out);
    *used = 2;
    out[0] = to[(const char *)memchr(from, p[1], sizeof from - 1) - from];
    return 1;
}

/* Unescapes a validated string body into buf, stopping before the first '?' when asked;
 * false when it does not fit in cap bytes. */
static bool json_unescape(struct span raw, bool stop_at_query, char *buf, size_t cap,
                          struct span *out)
{
    const char *p = raw.p, *end = raw.p + raw.n;
    size_t n = 0;
    while (p < end) {
        char ch[4];
        size_t used, k = json_char(p, end, ch, &used);
        if (stop_at_query && k == 1 && ch[0] == '?')
            break;
        if (k > cap - n)
            return false;
        memcpy(buf + n, ch, k);
        n += k;
        p += used;
    }
    *out = (struct span){buf, n};
    return true;
}

/* ---- JSON scanning ---- */

static void json_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool json_take(struct cursor *c, char ch)
{
    json_ws(c);
    if (c->p == c->end || *c->p != ch)
        return false;
    c->p++;
    return true;
}

static bool json_escape_skip(struct cursor *c)
{
    if (c->end - c->p < 2)
        return false;
    if (c->p[1] != 'u') {
        if (!memchr("\"\\/bfnrt", c->p[1], 8))
            return false;
        c->p += 2;
        return true;
    }
    if (c->end - c->p < 6)
        return false;
    for (int i = 2; i < 6; i++)
        if (!is_hex(c->p[i]))
            return false;
    c->p += 6;
    return true;
}

/* A string at c->p ('"'): its body, escapes validated but left in place. */
static bool json_string(struct cursor *c, struct span *raw, bool *escaped)
{
    const char *start = ++c->p;
    *escaped = false;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            *raw = (struct span){start, (size_t)(c->p - start)};
            c->p++;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            *escaped = true;
            if (!json_escape_skip(c))
                return false;
        } else {
            c->p++;
        }
    }
    return false;
}

static size_t json_digits(struct cursor *c)
{
    const char *s = c->p;
    while (c->p < c->end && is_digit(*c->p))
        c->p++;
    return (size_t)(c->p - s);
}

/* RFC 8259 number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(struct cursor *c, struct span *raw)
{
    const char *s = c->p;
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (json_digits(c) == 0)
        return false;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (json_digits(c) == 0)
            return false;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (json_digits(c) == 0)
            return false;
    }
    *raw = (struct span){s, (size_t)(c->p - s)};
    return true;
}

static bool json_literal(struct cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* A key equals a configured name once unescaped; keys too long to be configured never do. */
static bool json_key_is(struct span key, bool escaped, const char *want)
{
    if (!escaped)
        return span_eq(key, want);
    char buf[SLIC_ACCESSLOG_KEY_MAX];
    struct span k;
    return json_unescape(key, false, buf, sizeof buf, &k) && span_eq(k, want);
}

/* One member's value goes to every slot whose key it has; the last duplicate wins. */
static void json_collect(struct jslot *slots, struct span key, bool escaped, const struct jval *v)
{
    for (int i = 0; i < SLOT_COUNT; i++) {
        if (slots[i].key && json_key_is(key, escaped, slots[i].key)) {
            slots[i].val = *v;
            slots[i].present = true;
        }
    }
}

/* An object at c->p ('{'). Only the line's own object (depth 1) collects into slots. */
static bool json_object(struct cursor *c, int depth, struct jslot *slots)
{
    if (depth > SLIC_ACCESSLOG_JSON_DEPTH)
        return false;
    c->p++;
    if (json_take(c, '}'))
        return true;
    do {
        struct span key;
        bool escaped;
        struct jval v;
        json_ws(c);
        if (c->p == c->end || *c->p != '"' || !json_string(c, &key, &escaped))
            return false;
        if (!json_take(c, ':'))
            return false;
        json_ws(c);
        if (!json_value(c, depth, &v))
            return false;
        if (slots)
            json_collect(slots, key, escaped, &v);
    } while (json_take(c, ','));
    return json_take(c, '}');
}

static bool json_array(struct cursor *c, int depth)
{
    if (depth > SLIC_ACCESSLOG_JSON_DEPTH)
        return false;
    c->p++;
    if (json_take(c, ']'))
        return true;
    do {
        struct jval v;
        json_ws(c);
        if (!json_value(c, depth, &v))
            return false;
    } while (json_take(c, ','));
    return json_take(c, ']');
}

/* A value at c->p, inside a container at `depth`. */
static bool json_value(struct cursor *c, int depth, struct jval *v)
{
    *v = (struct jval){.kind = J_LITERAL};
    if (c->p == c->end)
        return false;
    switch (*c->p) {
    case '"':
        v->kind = J_STRING;
        return json_string(c, &v->raw, &v->escaped);
    case '{':
        v->kind = J_NESTED;
        return json_object(c, depth + 1, NULL);
    case '[':
        v->kind = J_NESTED;
        return json_array(c, depth + 1);
    case 't':
        return json_literal(c, "true");
    case 'f':
        return json_literal(c, "false");
    case 'n':
        return json_literal(c, "null");
    default:
        v->kind = J_NUMBER;
        return json_number(c, &v->raw);
    }
}

/* Latency and status may be numbers or strings; anything else is kept as an empty span, which
 * the shared step refuses as a bad value. */
static struct span json_scalar(const struct jslot *s)
{
    if (s->val.kind == J_NUMBER || s->val.kind == J_STRING)
        return s->val.raw;
    return (struct span){"", 0};
}

static void json_text(const struct jslot *s, struct span *out, bool *esc)
{
    if (s->present && s->val.kind == J_STRING) {
        *out = s->val.raw;
        *esc = s->val.escaped;
    }
}

static enum slic_accesslog_reason json_scan(const struct slic_accesslog_opts *o, struct span line,
                                            struct raw *raw)
{
    struct jslot slots[SLOT_COUNT] = {
        [SLOT_LATENCY] = {.key = o->latency_key},
        [SLOT_STATUS] = {.key = o->status_key},
        [SLOT_PATH] = {.key = o->path_key},
        [SLOT_METHOD] = {.key = o->method_key},
    };
    struct cursor c = {line.p, line.p + line.n};
    json_ws(&c);
    if (c.p == c.end || *c.p != '{' || !json_object(&c, 1, slots))
        return SLIC_ACCESSLOG_E_SYNTAX;
    json_ws(&c);
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

static void skip_spaces(struct cursor *c)
{
    while (c->p < c->end && *c->p == ' ')
        c->p++;
}

static bool field_ends(const struct cursor *c, const char *q)
{
    return q + 1 == c->end || q[1] == ' ';
}

static bool field_bare(struct cursor *c, struct span *out)
{
    skip_spaces(c);
    const char *s = c->p;
    while (c->p < c->end && *c->p != ' ')
        c->p++;
    *out = (struct span){s, (size_t)(c->p - s)};
    return out->n > 0;
}

/* "[10/Oct/2000:13:55:36 -0700]": up to a ']' that ends the field. */
static bool field_bracket(struct cursor *c, struct span *out)
{
    skip_spaces(c);
    if (c->p == c->end || *c->p != '[')
        return false;
    for (const char *q = c->p + 1; q < c->end; q++) {
        if (*q == ']' && field_ends(c, q)) {
            *out = (struct span){c->p + 1, (size_t)(q - c->p - 1)};
            c->p = q + 1;
            return true;
        }
    }
    return false;
}

/* A quoted field's body. A backslash escapes the next byte; a quote closes the field only when
 * the field ends there, which tolerates unescaped quotes inside user agents. */
static bool field_quoted(struct cursor *c, struct span *out)
{
    skip_spaces(c);
    if (c->p == c->end || *c->p != '"')
        return false;
    for (const char *q = c->p + 1; q < c->end; q++) {
        if (*q == '\\' && q + 1 < c->end) {
            q++;
        } else if (*q == '"' && field_ends(c, q)) {
            *out = (struct span){c->p + 1, (size_t)(q - c->p - 1)};
            c->p = q + 1;
            return true;
        }
    }
    return false;
}

static bool field_any(struct cursor *c, struct span *out)
{
    skip_spaces(c);
    if (c->p < c->end && *c->p == '"')
        return field_quoted(c, out);
    if (c->p < c->end && *c->p == '[')
        return field_bracket(c, out);
    return field_bare(c, out);
}

/* The k-th space-separated token before `end` (k >= 1), not reaching back past `start`. */
static bool field_from_end(const char *start, const char *end, int k, struct span *out)
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
        *out = (struct span){q, (size_t)(tok_end - q)};
    }
    return true;
}

/* The extra field holding the latency, with the cursor just past the user agent. */
static enum slic_accesslog_reason combined_latency(int field, struct cursor *c, struct span *out)
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
static void request_split(struct span req, struct span *method, struct span *path)
{
    const char *sp = req.n > 0 ? memchr(req.p, ' ', req.n) : NULL;
    if (!sp)
        return;
    *method = (struct span){req.p, (size_t)(sp - req.p)};
    const char *t = sp + 1, *end = req.p + req.n;
    const char *t_end = memchr(t, ' ', (size_t)(end - t));
    *path = (struct span){t, (size_t)((t_end ? t_end : end) - t)};
}

static enum slic_accesslog_reason combined_scan(const struct slic_accesslog_opts *o,
                                                struct span line, struct raw *raw)
{
    struct cursor c = {line.p, line.p + line.n};
    struct span addr, ident, user, when, request, bytes, referer, agent;
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

static enum slic_accesslog_reason latency_read(enum slic_accesslog_unit unit, struct span s,
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

static bool status_read(struct span s, unsigned *out)
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
static const char *method_label(struct span m)
{
    static const char *const known[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                        "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (span_eq(m, known[i]))
            return known[i];
    return "_OTHER";
}

static void label_add(struct slic_event *ev, const char *key, struct span value)
{
    ev->labels[ev->n_labels++] = (struct slic_event_label){key, strlen(key), value.p, value.n};
}

/* Path and method as the record keeps them: JSON strings with escapes are unescaped into the
 * record's scratch; one that does not fit counts as absent. */
static void record_texts(const struct raw *raw, struct slic_accesslog_record *rec)
{
    struct span path = {"", 0}, method = {"", 0};
    if (!raw->path_esc)
        path = path_strip_query(raw->path);
    else if (!json_unescape(raw->path, true, rec->scratch_, SLIC_ACCESSLOG_PATH_MAX, &path))
        path = (struct span){"", 0};
    if (!raw->method_esc)
        method = raw->method;
    else if (!json_unescape(raw->method, false, rec->scratch_ + SLIC_ACCESSLOG_PATH_MAX,
                            SLIC_ACCESSLOG_METHOD_MAX, &method))
        method = (struct span){"", 0};
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
    struct span path = {rec->path, rec->path_len};
    if (o->label_method) {
        const char *m = method_label((struct span){rec->method, rec->method_len});
        label_add(ev, "method", (struct span){m, strlen(m)});
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
    struct span s = {line, len};
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
