/* A validating JSON scanner for one object per line, internal to the line parsers (see
 * jsonscan.h). Input is untrusted: every step is bounded by the cursor's end and nesting by
 * SLIC__JSON_DEPTH_MAX, and nothing allocates. Strings are validated but left escaped; the
 * caller unescapes only the values it keeps. */
#include "jsonscan.h"

#include <string.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool span_eq(struct slic__span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool json_value(struct slic__cursor *c, int depth, struct slic__json_val *v);

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
bool slic__json_unescape(struct slic__span raw, bool stop_at_query, char *buf, size_t cap,
                         struct slic__span *out)
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
    *out = (struct slic__span){buf, n};
    return true;
}

/* ---- JSON scanning ---- */

void slic__json_ws(struct slic__cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool json_take(struct slic__cursor *c, char ch)
{
    slic__json_ws(c);
    if (c->p == c->end || *c->p != ch)
        return false;
    c->p++;
    return true;
}

static bool json_escape_skip(struct slic__cursor *c)
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
static bool json_string(struct slic__cursor *c, struct slic__span *raw, bool *escaped)
{
    const char *start = ++c->p;
    *escaped = false;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            *raw = (struct slic__span){start, (size_t)(c->p - start)};
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

static size_t json_digits(struct slic__cursor *c)
{
    const char *s = c->p;
    while (c->p < c->end && is_digit(*c->p))
        c->p++;
    return (size_t)(c->p - s);
}

/* RFC 8259 number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(struct slic__cursor *c, struct slic__span *raw)
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
    *raw = (struct slic__span){s, (size_t)(c->p - s)};
    return true;
}

static bool json_literal(struct slic__cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return false;
    c->p += n;
    return true;
}

/* A key equals a configured name once unescaped; keys too long to be configured never do. */
static bool json_key_is(struct slic__span key, bool escaped, const char *want)
{
    if (!escaped)
        return span_eq(key, want);
    char buf[SLIC__JSON_KEY_MAX];
    struct slic__span k;
    return slic__json_unescape(key, false, buf, sizeof buf, &k) && span_eq(k, want);
}

/* One member's value goes to every slot whose key it has; the last duplicate wins. */
static void json_collect(struct slic__json_slot *slots, size_t n_slots, struct slic__span key,
                         bool escaped, const struct slic__json_val *v)
{
    for (size_t i = 0; i < n_slots; i++) {
        if (slots[i].key && json_key_is(key, escaped, slots[i].key)) {
            slots[i].val = *v;
            slots[i].present = true;
        }
    }
}

/* An object at c->p ('{'). Only the line's own object (depth 1) collects into slots: nested
 * ones are scanned with none. */
bool slic__json_object(struct slic__cursor *c, int depth, struct slic__json_slot *slots,
                       size_t n_slots)
{
    if (depth > SLIC__JSON_DEPTH_MAX)
        return false;
    c->p++;
    if (json_take(c, '}'))
        return true;
    do {
        struct slic__span key;
        bool escaped;
        struct slic__json_val v;
        slic__json_ws(c);
        if (c->p == c->end || *c->p != '"' || !json_string(c, &key, &escaped))
            return false;
        if (!json_take(c, ':'))
            return false;
        slic__json_ws(c);
        if (!json_value(c, depth, &v))
            return false;
        if (slots)
            json_collect(slots, n_slots, key, escaped, &v);
    } while (json_take(c, ','));
    return json_take(c, '}');
}

static bool json_array(struct slic__cursor *c, int depth)
{
    if (depth > SLIC__JSON_DEPTH_MAX)
        return false;
    c->p++;
    if (json_take(c, ']'))
        return true;
    do {
        struct slic__json_val v;
        slic__json_ws(c);
        if (!json_value(c, depth, &v))
            return false;
    } while (json_take(c, ','));
    return json_take(c, ']');
}

/* A value at c->p, inside a container at `depth`. */
static bool json_value(struct slic__cursor *c, int depth, struct slic__json_val *v)
{
    *v = (struct slic__json_val){.kind = SLIC__JSON_LITERAL};
    if (c->p == c->end)
        return false;
    switch (*c->p) {
    case '"':
        v->kind = SLIC__JSON_STRING;
        return json_string(c, &v->raw, &v->escaped);
    case '{':
        v->kind = SLIC__JSON_NESTED;
        return slic__json_object(c, depth + 1, NULL, 0);
    case '[':
        v->kind = SLIC__JSON_NESTED;
        return json_array(c, depth + 1);
    case 't':
        return json_literal(c, "true");
    case 'f':
        return json_literal(c, "false");
    case 'n':
        return json_literal(c, "null");
    default:
        v->kind = SLIC__JSON_NUMBER;
        return json_number(c, &v->raw);
    }
}
