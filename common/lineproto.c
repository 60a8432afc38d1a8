/* StatsD / DogStatsD timer lines into events; lineproto.h gives the syntax and the choices made.
 * The buffer is untrusted and not NUL-terminated: every scan is bounded by a length, every line
 * by SLIC_LINEPROTO_LINE_MAX, and nothing allocates, so a flood of garbage costs only CPU.
 * A line is checked whole before its first event is delivered, so a rejected line has no
 * effect but its count. */
#include "lineproto.h"

#include "batch.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LATENCY_MAX_MS (SLIC_EVENT_LATENCY_MAX * 1000.0)

/* Digits of a status or code tag: up to 999,999,999, beyond any status scheme. */
#define STATUS_DIGITS_MAX 9

_Static_assert(SLIC_NAME_MAX <= SLIC_LABEL_VALUE_MAX && SLIC_LABEL_KEY_MAX <= SLIC_LABEL_VALUE_MAX,
               "span_valid's buffer holds the longest name, key and value");

/* Part of the line being parsed. */
struct span {
    const char *p;
    size_t n;
};

/* Walks the parts of a span between separators. An empty span holds one empty part, so "a|"
 * yields "a" and "", which lets callers refuse empty fields. */
struct splitter {
    const char *p;
    const char *end;
    bool done;
};

/* The tags that decide the outcome, when present: the first of each key. */
struct outcome_tags {
    struct span outcome, status, code;
    bool has_outcome, has_status, has_code;
};

/* A plain decimal as value = mant * 10^exp10, while mant is exact. */
struct decimal {
    uint64_t mant;
    bool exact; /* false once the digits exceed 2^53: then strtod decides */
    int exp10;
};

/* What the fields after the type set. */
struct fields {
    uint64_t weight;
    struct span tags;
    bool has_rate, has_tags;
};

const char *slic_lineproto_reason_name(enum slic_lineproto_reason r)
{
    switch (r) {
#define SLIC_LINEPROTO_REASON_NAME(suffix, name)                                                   \
    case SLIC_LINEPROTO_##suffix:                                                                  \
        return name;
        SLIC_LINEPROTO_REASON_TABLE(SLIC_LINEPROTO_REASON_NAME)
#undef SLIC_LINEPROTO_REASON_NAME
    case SLIC_LINEPROTO_REASON_COUNT:
        break;
    }
    return "unknown";
}

void slic_lineproto_opts_init(struct slic_lineproto_opts *o)
{
    o->status_bad_min = SLIC_LINEPROTO_STATUS_BAD_MIN;
}

int slic_lineproto_opts_check(const struct slic_lineproto_opts *o, struct slic_errmsg *err)
{
    if (o->status_bad_min > 999)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "line protocol: status_bad_min %u: expected 0 (off) to 999",
                               o->status_bad_min);
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool span_eq(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_same(struct span a, struct span b)
{
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static bool span_starts(struct span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n >= n && memcmp(s.p, lit, n) == 0;
}

/* Runs one of batch.h's validators, which read NUL-terminated strings, on a span. A NUL byte
 * inside the span would hide the rest of it from the validator, so it fails here first. */
static bool span_valid(struct span s, size_t max, bool (*valid)(const char *))
{
    char buf[SLIC_LABEL_VALUE_MAX + 1];
    if (s.n > max || (s.n > 0 && memchr(s.p, '\0', s.n)))
        return false;
    if (s.n > 0)
        memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    return valid(buf);
}

static struct splitter splitter_of(struct span s)
{
    return (struct splitter){s.p, s.p + s.n, false};
}

static bool split_next(struct splitter *sp, char sep, struct span *part)
{
    if (sp->done)
        return false;
    size_t left = (size_t)(sp->end - sp->p);
    const char *hit = left > 0 ? memchr(sp->p, sep, left) : NULL;
    if (!hit) {
        *part = (struct span){sp->p, left};
        sp->done = true;
        return true;
    }
    *part = (struct span){sp->p, (size_t)(hit - sp->p)};
    sp->p = hit + 1;
    return true;
}

/* Adds one digit while the digits still form an integer of at most 2^53, exact as a double. */
static void decimal_digit(struct decimal *d, char c)
{
    uint64_t limit = UINT64_C(1) << 53;
    if (!d->exact || d->mant > limit / 10 || d->mant * 10 + (uint64_t)(c - '0') > limit) {
        d->exact = false;
        return;
    }
    d->mant = d->mant * 10 + (uint64_t)(c - '0');
}

/* Checks the syntax and, in the same pass, splits the number into digits and a power of ten. */
static bool decimal_scan(const char *s, size_t n, struct decimal *d)
{
    size_t i = 0, digits = 0;
    long exp = 0, frac = 0;
    *d = (struct decimal){0, true, 0};
    for (; i < n && is_digit(s[i]); i++, digits++)
        decimal_digit(d, s[i]);
    if (i < n && s[i] == '.')
        for (i++; i < n && is_digit(s[i]); i++, digits++, frac++)
            decimal_digit(d, s[i]);
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        bool neg = false;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            neg = s[i++] == '-';
        size_t first = i;
        /* Exponents past 10^5 only matter to strtod, which reads them itself. */
        for (; i < n && is_digit(s[i]); i++)
            if (exp < 100000)
                exp = exp * 10 + (s[i] - '0');
        if (i == first)
            return false;
        exp = neg ? -exp : exp;
    }
    d->exp10 = (int)(exp - frac);
    return i == n;
}

/* Clinger's fast path: when the digits form an integer m <= 2^53 and |e| <= 22, both m and 10^|e|
 * are exact doubles, so the one IEEE multiplication or division rounds m * 10^e correctly: the
 * very double strtod returns, at a fraction of its cost. Needs arithmetic in double precision
 * itself (FLT_EVAL_METHOD 0, as on x86-64 and arm64); elsewhere strtod does all the work. */
static bool decimal_fast(const struct decimal *d, double *out)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#if FLT_EVAL_METHOD == 0
    if (d->exact && d->exp10 >= -22 && d->exp10 <= 22) {
        double m = (double)d->mant;
        *out = d->exp10 < 0 ? m / pow10[-d->exp10] : m * pow10[d->exp10];
        return true;
    }
#else
    (void)d;
    (void)out;
    (void)pow10;
#endif
    return false;
}

int slic_lineproto_decimal(const char *s, size_t n, double *out)
{
    struct decimal d;
    if (n == 0 || n > SLIC_LINEPROTO_NUMBER_MAX || !decimal_scan(s, n, &d))
        return SLIC_EINVAL;
    double v = 0;
    if (!decimal_fast(&d, &v)) {
        /* The syntax is a subset of what strtod reads, so its correct rounding can be used
         * without its extras (hex, inf, nan, signs, leading spaces). */
        char buf[SLIC_LINEPROTO_NUMBER_MAX + 1];
        memcpy(buf, s, n);
        buf[n] = '\0';
        v = strtod(buf, NULL);
    }
    if (!isfinite(v))
        return SLIC_ERANGE;
    *out = v;
    return 0;
}

/* One latency value in milliseconds, into seconds. */
static enum slic_lineproto_reason value_parse(struct span s, double *seconds)
{
    double ms = 0;
    int rc = slic_lineproto_decimal(s.p, s.n, &ms);
    if (rc == SLIC_ERANGE || (rc == 0 && ms > LATENCY_MAX_MS))
        return SLIC_LINEPROTO_E_TOO_LARGE;
    if (rc != 0)
        return SLIC_LINEPROTO_E_BAD_VALUE;
    /* Division by 1000 is correctly rounded; multiplying by the inexact 0.001 would not be. */
    *seconds = ms / 1000.0;
    return SLIC_LINEPROTO_OK;
}

/* Every value of a packed line must be good before any event goes out. */
static enum slic_lineproto_reason values_check(struct span values)
{
    struct splitter sp = splitter_of(values);
    struct span v;
    while (split_next(&sp, ':', &v)) {
        double seconds;
        enum slic_lineproto_reason r = value_parse(v, &seconds);
        if (r != SLIC_LINEPROTO_OK)
            return r;
    }
    return SLIC_LINEPROTO_OK;
}

static enum slic_lineproto_reason type_check(struct span type)
{
    if (span_eq(type, "ms") || span_eq(type, "h") || span_eq(type, "d"))
        return SLIC_LINEPROTO_OK;
    if (span_eq(type, "c") || span_eq(type, "g") || span_eq(type, "s"))
        return SLIC_LINEPROTO_E_NOT_TIMER;
    return SLIC_LINEPROTO_E_BAD_TYPE;
}

/* "@rate" without the '@': weight = round(1 / rate). */
static enum slic_lineproto_reason rate_parse(struct span s, uint64_t *weight)
{
    double rate = 0;
    if (slic_lineproto_decimal(s.p, s.n, &rate) != 0 || !(rate > 0.0 && rate <= 1.0))
        return SLIC_LINEPROTO_E_BAD_RATE;
    double inv = 1.0 / rate;
    if (!(inv + 0.5 < (double)SLIC_LINEPROTO_WEIGHT_MAX + 1.0))
        return SLIC_LINEPROTO_E_BAD_RATE;
    *weight = (uint64_t)(inv + 0.5);
    return SLIC_LINEPROTO_OK;
}

/* The fields after the type: "@rate" and "#tags" at most once each; other fields that start
 * with a letter belong to newer DogStatsD versions and are skipped. */
static enum slic_lineproto_reason fields_parse(struct splitter *sp, struct fields *f)
{
    struct span field;
    while (split_next(sp, '|', &field)) {
        if (field.n == 0)
            return SLIC_LINEPROTO_E_BAD_FIELD;
        struct span body = {field.p + 1, field.n - 1};
        if (field.p[0] == '@') {
            if (f->has_rate)
                return SLIC_LINEPROTO_E_BAD_RATE;
            enum slic_lineproto_reason r = rate_parse(body, &f->weight);
            if (r != SLIC_LINEPROTO_OK)
                return r;
            f->has_rate = true;
        } else if (field.p[0] == '#') {
            if (f->has_tags)
                return SLIC_LINEPROTO_E_BAD_TAGS;
            f->tags = body;
            f->has_tags = true;
        } else if (!is_letter(field.p[0])) {
            return SLIC_LINEPROTO_E_BAD_FIELD;
        }
    }
    return SLIC_LINEPROTO_OK;
}

static bool label_has(const struct slic_event *ev, struct span key)
{
    for (size_t i = 0; i < ev->n_labels; i++)
        if (span_same((struct span){ev->labels[i].key, ev->labels[i].key_len}, key))
            return true;
    return false;
}

static void label_add(struct slic_event *ev, struct span key, struct span value, uint64_t *dropped)
{
    if (!span_valid(key, SLIC_LABEL_KEY_MAX, slic_label_key_valid) ||
        !span_valid(value, SLIC_LABEL_VALUE_MAX, slic_label_value_valid) || label_has(ev, key) ||
        ev->n_labels == SLIC_EVENT_LABELS_MAX) {
        (*dropped)++;
        return;
    }
    ev->labels[ev->n_labels++] = (struct slic_event_label){key.p, key.n, value.p, value.n};
}

/* Remembers the first tag of a deciding key; later ones are dropped like duplicate labels. */
static void outcome_tag_keep(struct span *slot, bool *has, struct span value, uint64_t *dropped)
{
    if (*has) {
        (*dropped)++;
        return;
    }
    *slot = value;
    *has = true;
}

/* Splits the tags into labels and the tags that decide the outcome. */
static void tags_parse(struct span tags, bool status_rule, struct slic_event *ev,
                       struct outcome_tags *ot, uint64_t *dropped)
{
    struct splitter sp = splitter_of(tags);
    struct span tag;
    while (split_next(&sp, ',', &tag)) {
        struct splitter kv = splitter_of(tag);
        struct span key, value = {tag.p + tag.n, 0};
        split_next(&kv, ':', &key);
        if (!kv.done)
            value = (struct span){kv.p, (size_t)(kv.end - kv.p)};
        if (span_eq(key, "outcome"))
            outcome_tag_keep(&ot->outcome, &ot->has_outcome, value, dropped);
        else if (status_rule && span_eq(key, "status"))
            outcome_tag_keep(&ot->status, &ot->has_status, value, dropped);
        else if (status_rule && span_eq(key, "code"))
            outcome_tag_keep(&ot->code, &ot->has_code, value, dropped);
        else
            label_add(ev, key, value, dropped);
    }
}

static bool status_parse(struct span s, unsigned long *out)
{
    unsigned long v = 0;
    if (s.n == 0 || s.n > STATUS_DIGITS_MAX)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (!is_digit(s.p[i]))
            return false;
        v = v * 10 + (unsigned long)(s.p[i] - '0');
    }
    *out = v;
    return true;
}

/* Precedence: outcome tag, then status, then code; an event with none of them is good. */
static enum slic_lineproto_reason outcome_decide(const struct outcome_tags *ot, unsigned bad_min,
                                                 bool *good)
{
    if (ot->has_outcome) {
        if (span_eq(ot->outcome, "good") || span_eq(ot->outcome, "bad")) {
            *good = span_eq(ot->outcome, "good");
            return SLIC_LINEPROTO_OK;
        }
        return SLIC_LINEPROTO_E_BAD_OUTCOME;
    }
    if (ot->has_status || ot->has_code) {
        unsigned long status = 0;
        if (!status_parse(ot->has_status ? ot->status : ot->code, &status))
            return SLIC_LINEPROTO_E_BAD_STATUS;
        *good = status < bad_min;
        return SLIC_LINEPROTO_OK;
    }
    *good = true;
    return SLIC_LINEPROTO_OK;
}

/* The line's structure: name before the first ':', values up to the first '|', and the type as
 * the first field. Leaves `sp` on the fields after the type. */
static enum slic_lineproto_reason head_parse(struct span line, struct span *name,
                                             struct span *values, struct splitter *sp)
{
    /* DogStatsD events and service checks share the port with metrics; name them for what
     * they are rather than as broken timers. */
    if (span_starts(line, "_e{") || span_starts(line, "_sc|"))
        return SLIC_LINEPROTO_E_NOT_TIMER;
    const char *colon = memchr(line.p, ':', line.n);
    const char *pipe = memchr(line.p, '|', line.n);
    if (!colon || (pipe && pipe < colon))
        return SLIC_LINEPROTO_E_NO_COLON;
    if (!pipe)
        return SLIC_LINEPROTO_E_BAD_TYPE;
    *name = (struct span){line.p, (size_t)(colon - line.p)};
    *values = (struct span){colon + 1, (size_t)(pipe - colon - 1)};
    *sp = splitter_of((struct span){pipe + 1, (size_t)(line.p + line.n - pipe - 1)});
    struct span type;
    split_next(sp, '|', &type);
    enum slic_lineproto_reason r = type_check(type);
    if (r != SLIC_LINEPROTO_OK)
        return r;
    if (!span_valid(*name, SLIC_NAME_MAX, slic_name_valid))
        return SLIC_LINEPROTO_E_BAD_NAME;
    return SLIC_LINEPROTO_OK;
}

/* Checks a line whole and fills `ev` but its latency; `values` is left for emit(). */
static enum slic_lineproto_reason line_check(const struct slic_lineproto_opts *o, struct span line,
                                             struct span *values, struct slic_event *ev,
                                             uint64_t *dropped)
{
    if (line.n == 0)
        return SLIC_LINEPROTO_E_EMPTY;
    if (line.n > SLIC_LINEPROTO_LINE_MAX)
        return SLIC_LINEPROTO_E_TOO_LONG;
    struct span name;
    struct splitter sp;
    enum slic_lineproto_reason r = head_parse(line, &name, values, &sp);
    if (r != SLIC_LINEPROTO_OK)
        return r;
    struct fields f = {.weight = 1};
    if ((r = fields_parse(&sp, &f)) != SLIC_LINEPROTO_OK)
        return r;
    if ((r = values_check(*values)) != SLIC_LINEPROTO_OK)
        return r;
    struct outcome_tags ot = {0};
    ev->name = name.p;
    ev->name_len = name.n;
    ev->weight = f.weight;
    ev->n_labels = 0;
    if (f.has_tags)
        tags_parse(f.tags, o->status_bad_min > 0, ev, &ot, dropped);
    return outcome_decide(&ot, o->status_bad_min, &ev->good);
}

/* One event per value; all were checked by line_check. */
static uint64_t emit(struct span values, struct slic_event *ev,
                     const struct slic_lineproto_sink *sink)
{
    struct splitter sp = splitter_of(values);
    struct span v;
    uint64_t n = 0;
    while (split_next(&sp, ':', &v)) {
        value_parse(v, &ev->latency);
        sink->on_event(sink->ctx, ev);
        n++;
    }
    return n;
}

enum slic_lineproto_reason slic_lineproto_parse_line(const struct slic_lineproto_opts *o,
                                                     const char *line, size_t len,
                                                     const struct slic_lineproto_sink *sink,
                                                     struct slic_lineproto_counters *c)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    struct span s = {len > 0 ? line : "", len};
    struct span values;
    struct slic_event ev;
    uint64_t dropped = 0;
    c->lines++;
    enum slic_lineproto_reason r = line_check(o, s, &values, &ev, &dropped);
    if (r != SLIC_LINEPROTO_OK) {
        c->rejected[r]++;
        if (sink->on_reject)
            sink->on_reject(sink->ctx, r, s.p, s.n);
        return r;
    }
    c->tags_dropped += dropped;
    c->events += emit(values, &ev, sink);
    return SLIC_LINEPROTO_OK;
}

void slic_lineproto_parse(const struct slic_lineproto_opts *o, const char *buf, size_t len,
                          const struct slic_lineproto_sink *sink, struct slic_lineproto_counters *c)
{
    size_t pos = 0;
    bool any = false;
    c->datagrams++;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        /* Clients join lines with '\n' and often end with one; blank lines carry nothing. */
        bool blank = n == 0 || (n == 1 && buf[pos] == '\r');
        if (!blank) {
            slic_lineproto_parse_line(o, buf + pos, n, sink, c);
            any = true;
        }
        pos += n + 1;
    }
    if (!any)
        slic_lineproto_parse_line(o, "", 0, sink, c);
}
