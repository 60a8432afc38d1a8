/* Tests of common/lineproto.c: every accepted form of a StatsD/DogStatsD timer line (types,
 * rates and the weights they give, tags, packed values, skipped DogStatsD fields), the outcome
 * rules and their precedence, every malformed form with its reason, the limits (line length,
 * labels, one day, name length), datagram splitting, and the counters. */
#include "harness.h"

#include "batch.h"
#include "err.h"
#include "lineproto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOT_MAX 64

/* A copy of what a parse delivered; events' labels flattened to "k=v;k=v". */
struct got_event {
    char name[SLIC_NAME_MAX + 1];
    double latency;
    uint64_t weight;
    bool good;
    char labels[2048];
    const char *name_ptr; /* where the view pointed, to prove it is a view */
};

struct got {
    struct got_event ev[GOT_MAX];
    size_t n_ev;
    enum slic_lineproto_reason rej[GOT_MAX];
    size_t rej_len[GOT_MAX];
    size_t n_rej;
};

static void labels_format(const struct slic_event *ev, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ev->n_labels; i++) {
        const struct slic_event_label *l = &ev->labels[i];
        int n = snprintf(out + used, size - used, "%s%.*s=%.*s", i ? ";" : "", (int)l->key_len,
                         l->key, (int)l->value_len, l->value);
        CHECK(n > 0 && (size_t)n < size - used);
        used += (size_t)n;
    }
}

static void on_event(void *ctx, const struct slic_event *ev)
{
    struct got *g = ctx;
    CHECK(g->n_ev < GOT_MAX);
    struct got_event *e = &g->ev[g->n_ev++];
    CHECK(ev->name_len <= SLIC_NAME_MAX);
    memcpy(e->name, ev->name, ev->name_len);
    e->name[ev->name_len] = '\0';
    e->name_ptr = ev->name;
    e->latency = ev->latency;
    e->weight = ev->weight;
    e->good = ev->good;
    CHECK(ev->n_labels <= SLIC_EVENT_LABELS_MAX);
    labels_format(ev, e->labels, sizeof e->labels);
}

static void on_reject(void *ctx, enum slic_lineproto_reason r, const char *line, size_t len)
{
    struct got *g = ctx;
    CHECK(g->n_rej < GOT_MAX);
    CHECK(r != SLIC_LINEPROTO_OK && r < SLIC_LINEPROTO_REASON_COUNT);
    CHECK(line != NULL);
    g->rej_len[g->n_rej] = len;
    g->rej[g->n_rej++] = r;
}

static struct slic_lineproto_opts opts_default(void)
{
    struct slic_lineproto_opts o;
    slic_lineproto_opts_init(&o);
    CHECK_OK(slic_lineproto_opts_check(&o, NULL));
    return o;
}

static uint64_t rejected_total(const struct slic_lineproto_counters *c)
{
    uint64_t n = 0;
    for (int r = 0; r < SLIC_LINEPROTO_REASON_COUNT; r++)
        n += c->rejected[r];
    return n;
}

/* ---- one line at a time ---- */

struct line_case {
    const char *in;
    enum slic_lineproto_reason want;
    const char *name;
    double ms;
    uint64_t weight;
    bool good;
    const char *labels;
    unsigned dropped;
};

#define OK_(in, ms, w, good, labels, dropped)                                                      \
    {                                                                                              \
        in, SLIC_LINEPROTO_OK, NULL, ms, w, good, labels, dropped                                  \
    }
#define BAD_(in, reason)                                                                           \
    {                                                                                              \
        in, SLIC_LINEPROTO_##reason, NULL, 0, 0, false, NULL, 0                                    \
    }

static const struct line_case line_cases[] = {
    /* Types: all three are milliseconds. */
    {"checkout:123.4|ms", SLIC_LINEPROTO_OK, "checkout", 123.4, 1, true, "", 0},
    {"checkout:123.4|h", SLIC_LINEPROTO_OK, "checkout", 123.4, 1, true, "", 0},
    {"checkout:123.4|d", SLIC_LINEPROTO_OK, "checkout", 123.4, 1, true, "", 0},
    {"api.v2_get-user:7|ms", SLIC_LINEPROTO_OK, "api.v2_get-user", 7, 1, true, "", 0},
    /* Values. */
    OK_("a:0|ms", 0, 1, true, "", 0),
    OK_("a:1e3|ms", 1000, 1, true, "", 0),
    OK_("a:1E3|ms", 1000, 1, true, "", 0),
    OK_("a:1.5e-3|ms", 0.0015, 1, true, "", 0),
    OK_("a:2.5E+2|ms", 250, 1, true, "", 0),
    OK_("a:.5|ms", 0.5, 1, true, "", 0),
    OK_("a:5.|ms", 5, 1, true, "", 0),
    OK_("a:007|ms", 7, 1, true, "", 0),
    OK_("a:1e-400|ms", 0, 1, true, "", 0),
    OK_("a:86400000|ms", 86400000, 1, true, "", 0),
    OK_("a:8.64e7|ms", 86400000, 1, true, "", 0),
    OK_("a:1|ms\r", 1, 1, true, "", 0),
    /* Sample rates: weight = round(1 / rate). */
    OK_("a:1|ms|@1", 1, 1, true, "", 0),
    OK_("a:1|ms|@1.0", 1, 1, true, "", 0),
    OK_("a:1|ms|@0.5", 1, 2, true, "", 0),
    OK_("a:1|ms|@0.25", 1, 4, true, "", 0),
    OK_("a:1|ms|@0.3", 1, 3, true, "", 0),
    OK_("a:1|ms|@0.1", 1, 10, true, "", 0),
    OK_("a:1|ms|@0.6", 1, 2, true, "", 0),
    OK_("a:1|ms|@0.7", 1, 1, true, "", 0),
    OK_("a:1|ms|@.01", 1, 100, true, "", 0),
    OK_("a:1|ms|@1e-9", 1, 1000000000, true, "", 0),
    OK_("a:1|h|@0.5|#x:y", 1, 2, true, "x=y", 0),
    OK_("a:1|d|#x:y|@0.25", 1, 4, true, "x=y", 0),
    /* Tags. */
    OK_("a:1|ms|#route:/pay,region:eu-1", 1, 1, true, "route=/pay;region=eu-1", 0),
    OK_("a:1|ms|#canary", 1, 1, true, "canary=", 0),
    OK_("a:1|ms|#empty:", 1, 1, true, "empty=", 0),
    OK_("a:1|ms|#url:http://x:8080/y", 1, 1, true, "url=http://x:8080/y", 0),
    OK_("a:1|ms|#v:a b~!", 1, 1, true, "v=a b~!", 0),
    OK_("a:1|ms|#_k:1", 1, 1, true, "_k=1", 0),
    /* Tags dropped, event kept. */
    OK_("a:1|ms|#http.status_code:200,ok:1", 1, 1, true, "ok=1", 1),
    OK_("a:1|ms|#kube-ns:x", 1, 1, true, "", 1),
    OK_("a:1|ms|#1abc:x", 1, 1, true, "", 1),
    OK_("a:1|ms|#:x", 1, 1, true, "", 1),
    OK_("a:1|ms|#k:\x01", 1, 1, true, "", 1),
    OK_("a:1|ms|#k:caf\xc3\xa9", 1, 1, true, "", 1),
    OK_("a:1|ms|#a,,b", 1, 1, true, "a=;b=", 1),
    OK_("a:1|ms|#a,", 1, 1, true, "a=", 1),
    OK_("a:1|ms|#", 1, 1, true, "", 1),
    OK_("a:1|ms|#route:/a,route:/b", 1, 1, true, "route=/a", 1),
    /* Outcome: the outcome tag, else status, else code, else good. None of them is a label. */
    OK_("a:1|ms|#outcome:bad", 1, 1, false, "", 0),
    OK_("a:1|ms|#outcome:good", 1, 1, true, "", 0),
    OK_("a:1|ms|#route:/pay,outcome:bad", 1, 1, false, "route=/pay", 0),
    OK_("a:1|ms|#status:500", 1, 1, false, "", 0),
    OK_("a:1|ms|#status:503", 1, 1, false, "", 0),
    OK_("a:1|ms|#status:499", 1, 1, true, "", 0),
    OK_("a:1|ms|#status:200", 1, 1, true, "", 0),
    OK_("a:1|ms|#status:0", 1, 1, true, "", 0),
    OK_("a:1|ms|#status:999999999", 1, 1, false, "", 0),
    OK_("a:1|ms|#code:503", 1, 1, false, "", 0),
    OK_("a:1|ms|#code:200", 1, 1, true, "", 0),
    OK_("a:1|ms|#status:500,outcome:good", 1, 1, true, "", 0),
    OK_("a:1|ms|#outcome:bad,status:200", 1, 1, false, "", 0),
    OK_("a:1|ms|#code:500,status:200", 1, 1, true, "", 0),
    OK_("a:1|ms|#status:200,code:500", 1, 1, true, "", 0),
    OK_("a:1|ms|#outcome:good,status:abc", 1, 1, true, "", 0),
    OK_("a:1|ms|#status:200,code:x", 1, 1, true, "", 0),
    OK_("a:1|ms|#outcome:bad,outcome:good", 1, 1, false, "", 1),
    OK_("a:1|ms|#status:200,status:500", 1, 1, true, "", 1),
    OK_("a:1|ms|#code:x,status:200,code:500", 1, 1, true, "", 1),
    /* Fields of newer DogStatsD versions are skipped. */
    OK_("a:1|ms|c:1a2b3c", 1, 1, true, "", 0),
    OK_("a:1|ms|T1700000000", 1, 1, true, "", 0),
    OK_("a:1|ms|e:it-false,cn-x", 1, 1, true, "", 0),
    OK_("a:1|ms|@0.5|#x:y|c:ctr|T123", 1, 2, true, "x=y", 0),
    /* Malformed. */
    BAD_("", E_EMPTY),
    BAD_("\r", E_EMPTY),
    BAD_("a", E_NO_COLON),
    BAD_("a|ms", E_NO_COLON),
    BAD_("a|ms:1", E_NO_COLON),
    BAD_("a:1", E_BAD_TYPE),
    BAD_("a:1|", E_BAD_TYPE),
    BAD_("a:1|MS", E_BAD_TYPE),
    BAD_("a:1|msx", E_BAD_TYPE),
    BAD_("a:1|x", E_BAD_TYPE),
    BAD_("a:1|ms ", E_BAD_TYPE),
    BAD_("a:1||ms", E_BAD_TYPE),
    BAD_("a:1|c", E_NOT_TIMER),
    BAD_("a:1|g", E_NOT_TIMER),
    BAD_("a:1|s", E_NOT_TIMER),
    BAD_("a:-1|c|@0.5", E_NOT_TIMER),
    BAD_("_e{5,4}:title|text|#x:y", E_NOT_TIMER),
    BAD_("_sc|db.up|0|#x:y", E_NOT_TIMER),
    BAD_(":1|ms", E_BAD_NAME),
    BAD_("a b:1|ms", E_BAD_NAME),
    BAD_("a/b:1|ms", E_BAD_NAME),
    BAD_("caf\xc3\xa9:1|ms", E_BAD_NAME),
    BAD_("a:|ms", E_BAD_VALUE),
    BAD_("a:-1|ms", E_BAD_VALUE),
    BAD_("a:+1|ms", E_BAD_VALUE),
    BAD_("a:-0|ms", E_BAD_VALUE),
    BAD_("a:nan|ms", E_BAD_VALUE),
    BAD_("a:NaN|ms", E_BAD_VALUE),
    BAD_("a:inf|ms", E_BAD_VALUE),
    BAD_("a:Infinity|ms", E_BAD_VALUE),
    BAD_("a:0x10|ms", E_BAD_VALUE),
    BAD_("a:1,5|ms", E_BAD_VALUE),
    BAD_("a: 1|ms", E_BAD_VALUE),
    BAD_("a:1 |ms", E_BAD_VALUE),
    BAD_("a:.|ms", E_BAD_VALUE),
    BAD_("a:1e|ms", E_BAD_VALUE),
    BAD_("a:1e+|ms", E_BAD_VALUE),
    BAD_("a:e3|ms", E_BAD_VALUE),
    BAD_("a:1.2.3|ms", E_BAD_VALUE),
    BAD_("a:1:|ms", E_BAD_VALUE),
    BAD_("a:1::2|ms", E_BAD_VALUE),
    BAD_("a:1:x|ms", E_BAD_VALUE),
    BAD_("a:86400000.001|ms", E_TOO_LARGE),
    BAD_("a:86400001|ms", E_TOO_LARGE),
    BAD_("a:1e999|ms", E_TOO_LARGE),
    BAD_("a:1:1e9|ms", E_TOO_LARGE),
    BAD_("a:1|ms|@0", E_BAD_RATE),
    BAD_("a:1|ms|@0.0", E_BAD_RATE),
    BAD_("a:1|ms|@1.5", E_BAD_RATE),
    BAD_("a:1|ms|@1.0000001", E_BAD_RATE),
    BAD_("a:1|ms|@-0.5", E_BAD_RATE),
    BAD_("a:1|ms|@nan", E_BAD_RATE),
    BAD_("a:1|ms|@inf", E_BAD_RATE),
    BAD_("a:1|ms|@", E_BAD_RATE),
    BAD_("a:1|ms|@0.5x", E_BAD_RATE),
    BAD_("a:1|ms|@9e-10", E_BAD_RATE),
    BAD_("a:1|ms|@1e-400", E_BAD_RATE),
    BAD_("a:1|ms|@0.5|@0.5", E_BAD_RATE),
    BAD_("a:1|ms|", E_BAD_FIELD),
    BAD_("a:1|ms||@0.5", E_BAD_FIELD),
    BAD_("a:1|ms|1", E_BAD_FIELD),
    BAD_("a:1|ms| c:x", E_BAD_FIELD),
    BAD_("a:1|ms|#a|#b", E_BAD_TAGS),
    BAD_("a:1|ms|#outcome:maybe", E_BAD_OUTCOME),
    BAD_("a:1|ms|#outcome:BAD", E_BAD_OUTCOME),
    BAD_("a:1|ms|#outcome", E_BAD_OUTCOME),
    BAD_("a:1|ms|#outcome:", E_BAD_OUTCOME),
    BAD_("a:1|ms|#status:abc", E_BAD_STATUS),
    BAD_("a:1|ms|#status:", E_BAD_STATUS),
    BAD_("a:1|ms|#status", E_BAD_STATUS),
    BAD_("a:1|ms|#status:-1", E_BAD_STATUS),
    BAD_("a:1|ms|#status:5xx", E_BAD_STATUS),
    BAD_("a:1|ms|#status:1234567890", E_BAD_STATUS),
    BAD_("a:1|ms|#code:ok", E_BAD_STATUS),
};

static void check_line_case(const struct slic_lineproto_opts *o, const struct line_case *lc,
                            size_t i)
{
    struct got g = {0};
    struct slic_lineproto_counters c = {0};
    struct slic_lineproto_sink sink = {on_event, on_reject, &g};
    size_t len = strlen(lc->in);
    enum slic_lineproto_reason r = slic_lineproto_parse_line(o, lc->in, len, &sink, &c);
    if (r != lc->want)
        harness_fail(__FILE__, __LINE__, "case %zu \"%s\": got %s, want %s", i, lc->in,
                     slic_lineproto_reason_name(r), slic_lineproto_reason_name(lc->want));
    CHECK_U64_EQ(c.lines, 1);
    if (r != SLIC_LINEPROTO_OK) {
        CHECK_U64_EQ(g.n_ev, 0);
        CHECK_U64_EQ(c.events, 0);
        CHECK_U64_EQ(c.tags_dropped, 0);
        CHECK_U64_EQ(g.n_rej, 1);
        CHECK_INT_EQ(g.rej[0], r);
        CHECK_U64_EQ(c.rejected[r], 1);
        return;
    }
    CHECK_U64_EQ(g.n_ev, 1);
    CHECK_U64_EQ(g.n_rej, 0);
    CHECK_U64_EQ(c.events, 1);
    CHECK_U64_EQ(rejected_total(&c), 0);
    const struct got_event *e = &g.ev[0];
    if (lc->name)
        CHECK_STR_EQ(e->name, lc->name);
    CHECK(e->name_ptr == lc->in);
    CHECK_DBL_EQ(e->latency, lc->ms / 1000.0);
    CHECK_U64_EQ(e->weight, lc->weight);
    if (e->good != lc->good)
        harness_fail(__FILE__, __LINE__, "case %zu \"%s\": good %d", i, lc->in, e->good);
    if (!harness_str_eq(e->labels, lc->labels))
        harness_fail(__FILE__, __LINE__, "case %zu \"%s\": labels \"%s\", want \"%s\"", i, lc->in,
                     e->labels, lc->labels);
    CHECK_U64_EQ(c.tags_dropped, lc->dropped);
}

static void test_line_table(void)
{
    struct slic_lineproto_opts o = opts_default();
    for (size_t i = 0; i < sizeof line_cases / sizeof line_cases[0]; i++)
        check_line_case(&o, &line_cases[i], i);
}

/* With the status rule off, status and code are ordinary labels and never decide. */
static void test_status_rule_off(void)
{
    static const struct line_case cases[] = {
        OK_("a:1|ms|#status:500", 1, 1, true, "status=500", 0),
        OK_("a:1|ms|#code:abc,status:503", 1, 1, true, "code=abc;status=503", 0),
        OK_("a:1|ms|#status:503,outcome:bad", 1, 1, false, "status=503", 0),
        BAD_("a:1|ms|#status:503,outcome:x", E_BAD_OUTCOME),
    };
    struct slic_lineproto_opts o = opts_default();
    o.status_bad_min = 0;
    CHECK_OK(slic_lineproto_opts_check(&o, NULL));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_line_case(&o, &cases[i], i);
}

static void test_status_threshold(void)
{
    static const struct line_case cases[] = {
        OK_("a:1|ms|#status:399", 1, 1, true, "", 0),
        OK_("a:1|ms|#status:400", 1, 1, false, "", 0),
        OK_("a:1|ms|#status:429", 1, 1, false, "", 0),
        OK_("a:1|ms|#code:14", 1, 1, true, "", 0),
    };
    struct slic_lineproto_opts o = opts_default();
    o.status_bad_min = 400;
    CHECK_OK(slic_lineproto_opts_check(&o, NULL));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_line_case(&o, &cases[i], i);
}

static void test_opts_check(void)
{
    struct slic_lineproto_opts o = opts_default();
    struct slic_errmsg err = {{0}};
    CHECK_INT_EQ(o.status_bad_min, 500);
    o.status_bad_min = 999;
    CHECK_OK(slic_lineproto_opts_check(&o, &err));
    o.status_bad_min = 1000;
    CHECK_ERR(slic_lineproto_opts_check(&o, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "status_bad_min") != NULL);
    CHECK(strstr(err.text, "1000") != NULL);
}

/* A value list packs several events into one line; all share rate, tags and outcome. */
static void test_packed_values(void)
{
    struct slic_lineproto_opts o = opts_default();
    struct got g = {0};
    struct slic_lineproto_counters c = {0};
    struct slic_lineproto_sink sink = {on_event, on_reject, &g};
    const char *line = "db.query:1:2.5:1e2|d|@0.5|#outcome:bad,table:users";
    CHECK_INT_EQ(slic_lineproto_parse_line(&o, line, strlen(line), &sink, &c), SLIC_LINEPROTO_OK);
    CHECK_U64_EQ(g.n_ev, 3);
    CHECK_U64_EQ(c.events, 3);
    CHECK_U64_EQ(c.lines, 1);
    const double want[] = {0.001, 0.0025, 0.1};
    for (size_t i = 0; i < 3; i++) {
        CHECK_STR_EQ(g.ev[i].name, "db.query");
        CHECK_DBL_EQ(g.ev[i].latency, want[i]);
        CHECK_U64_EQ(g.ev[i].weight, 2);
        CHECK(!g.ev[i].good);
        CHECK_STR_EQ(g.ev[i].labels, "table=users");
    }
    /* One bad value refuses the whole line, even after good ones. */
    memset(&g, 0, sizeof g);
    line = "db.query:1:2:-3|d";
    CHECK_INT_EQ(slic_lineproto_parse_line(&o, line, strlen(line), &sink, &c),
                 SLIC_LINEPROTO_E_BAD_VALUE);
    CHECK_U64_EQ(g.n_ev, 0);
}

/* Bytes the table cannot hold: NULs, and lines sized to the limits. */
static void check_one(const char *line, size_t len, enum slic_lineproto_reason want)
{
    struct slic_lineproto_opts o = opts_default();
    struct got g = {0};
    struct slic_lineproto_counters c = {0};
    struct slic_lineproto_sink sink = {on_event, NULL, &g};
    enum slic_lineproto_reason r = slic_lineproto_parse_line(&o, line, len, &sink, &c);
    if (r != want)
        harness_fail(__FILE__, __LINE__, "%zu-byte line \"%.40s...\": got %s, want %s", len, line,
                     slic_lineproto_reason_name(r), slic_lineproto_reason_name(want));
    CHECK_U64_EQ(g.n_ev, r == SLIC_LINEPROTO_OK ? 1 : 0);
}

static void test_nul_bytes(void)
{
    check_one("a\0b:1|ms", 8, SLIC_LINEPROTO_E_BAD_NAME);
    check_one("a:1\0|ms", 7, SLIC_LINEPROTO_E_BAD_VALUE);
    check_one("a:1|ms\0", 7, SLIC_LINEPROTO_E_BAD_TYPE);
    check_one("a:1|ms|@0.5\0", 12, SLIC_LINEPROTO_E_BAD_RATE);
    check_one("\0", 1, SLIC_LINEPROTO_E_NO_COLON);

    /* A NUL in a tag drops the tag (and would otherwise hide the bytes after it). */
    struct slic_lineproto_opts o = opts_default();
    struct got g = {0};
    struct slic_lineproto_counters c = {0};
    struct slic_lineproto_sink sink = {on_event, NULL, &g};
    const char line[] = "a:1|ms|#k\0x:v,ok:v\0\x01";
    CHECK_INT_EQ(slic_lineproto_parse_line(&o, line, sizeof line - 1, &sink, &c),
                 SLIC_LINEPROTO_OK);
    CHECK_STR_EQ(g.ev[0].labels, "");
    CHECK_U64_EQ(c.tags_dropped, 2);
}

/* "a:1|ms|x" padded with letters to exactly `len` bytes: a valid line of any length. */
static char *padded_line(size_t len)
{
    char *s = malloc(len + 1);
    CHECK(s != NULL && len >= 8);
    memcpy(s, "a:1|ms|x", 8);
    memset(s + 8, 'x', len - 8);
    s[len] = '\0';
    return s;
}

static void test_line_length_limit(void)
{
    char *s = padded_line(SLIC_LINEPROTO_LINE_MAX);
    check_one(s, SLIC_LINEPROTO_LINE_MAX, SLIC_LINEPROTO_OK);
    free(s);
    s = padded_line(SLIC_LINEPROTO_LINE_MAX + 1);
    check_one(s, SLIC_LINEPROTO_LINE_MAX + 1, SLIC_LINEPROTO_E_TOO_LONG);
    free(s);
    /* The limit excludes the line ending. */
    s = padded_line(SLIC_LINEPROTO_LINE_MAX + 1);
    s[SLIC_LINEPROTO_LINE_MAX] = '\r';
    check_one(s, SLIC_LINEPROTO_LINE_MAX + 1, SLIC_LINEPROTO_OK);
    free(s);
}

static void test_name_length_limit(void)
{
    char line[SLIC_NAME_MAX + 16];
    memset(line, 'n', SLIC_NAME_MAX);
    memcpy(line + SLIC_NAME_MAX, ":1|ms", 6);
    check_one(line, strlen(line), SLIC_LINEPROTO_OK);
    memset(line, 'n', SLIC_NAME_MAX + 1);
    memcpy(line + SLIC_NAME_MAX + 1, ":1|ms", 6);
    check_one(line, strlen(line), SLIC_LINEPROTO_E_BAD_NAME);
}

static void test_number_length_limit(void)
{
    /* "a:", then NUMBER_MAX bytes "000...5", then "|ms"; then one zero more. */
    char line[SLIC_LINEPROTO_NUMBER_MAX + 16];
    for (size_t n = SLIC_LINEPROTO_NUMBER_MAX; n <= SLIC_LINEPROTO_NUMBER_MAX + 1; n++) {
        memcpy(line, "a:", 2);
        memset(line + 2, '0', n);
        line[n + 1] = '5';
        memcpy(line + 2 + n, "|ms", 4);
        check_one(line, strlen(line),
                  n == SLIC_LINEPROTO_NUMBER_MAX ? SLIC_LINEPROTO_OK : SLIC_LINEPROTO_E_BAD_VALUE);
    }
}

/* Label key and value lengths at and beyond batch.h's limits. */
static void test_tag_length_limits(void)
{
    struct slic_lineproto_opts o = opts_default();
    char line[512];
    char key[SLIC_LABEL_KEY_MAX + 2], value[SLIC_LABEL_VALUE_MAX + 2];
    const size_t key_lens[] = {SLIC_LABEL_KEY_MAX, SLIC_LABEL_KEY_MAX + 1};
    const size_t value_lens[] = {SLIC_LABEL_VALUE_MAX, SLIC_LABEL_VALUE_MAX + 1};
    for (int k = 0; k < 2; k++) {
        for (int v = 0; v < 2; v++) {
            memset(key, 'k', key_lens[k]);
            key[key_lens[k]] = '\0';
            memset(value, 'v', value_lens[v]);
            value[value_lens[v]] = '\0';
            snprintf(line, sizeof line, "a:1|ms|#%s:%s", key, value);
            struct got g = {0};
            struct slic_lineproto_counters c = {0};
            struct slic_lineproto_sink sink = {on_event, NULL, &g};
            CHECK_INT_EQ(slic_lineproto_parse_line(&o, line, strlen(line), &sink, &c),
                         SLIC_LINEPROTO_OK);
            bool kept = k == 0 && v == 0;
            CHECK_U64_EQ(c.tags_dropped, kept ? 0 : 1);
            CHECK_INT_EQ(strlen(g.ev[0].labels), kept ? key_lens[0] + 1 + value_lens[0] : 0);
        }
    }
}

/* Sixteen labels are kept, the rest dropped, and deciding tags count however late they come. */
static void test_many_tags(void)
{
    struct slic_lineproto_opts o = opts_default();
    char line[SLIC_LINEPROTO_LINE_MAX + 1];
    size_t n = (size_t)snprintf(line, sizeof line, "a:1|ms|#");
    for (int i = 0; i < 500; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "k%d:%d,", i, i);
    n += (size_t)snprintf(line + n, sizeof line - n, "outcome:bad");
    CHECK(n <= SLIC_LINEPROTO_LINE_MAX);
    struct got g = {0};
    struct slic_lineproto_counters c = {0};
    struct slic_lineproto_sink sink = {on_event, NULL, &g};
    CHECK_INT_EQ(slic_lineproto_parse_line(&o, line, n, &sink, &c), SLIC_LINEPROTO_OK);
    CHECK_U64_EQ(c.tags_dropped, 500 - SLIC_EVENT_LABELS_MAX);
    CHECK(!g.ev[0].good);
    char want[512];
    size_t w = 0;
    for (int i = 0; i < SLIC_EVENT_LABELS_MAX; i++)
        w += (size_t)snprintf(want + w, sizeof want - w, "%sk%d=%d", i ? ";" : "", i, i);
    CHECK_STR_EQ(g.ev[0].labels, want);
}

/* Views point into the caller's buffer: no copy is made. */
static void event_views_cb(void *ctx, const struct slic_event *ev)
{
    const char *buf = ctx;
    CHECK(ev->name == buf + 3);
    CHECK_INT_EQ(ev->name_len, 8);
    CHECK_INT_EQ(ev->n_labels, 1);
    CHECK(ev->labels[0].key == buf + 24);
    CHECK(ev->labels[0].value == buf + 30);
    CHECK_INT_EQ(ev->labels[0].value_len, 4);
}

static void test_event_is_a_view(void)
{
    struct slic_lineproto_opts o = opts_default();
    const char buf[] = "x\r\ncheckout:12|ms|@0.5|#route:/pay";
    struct slic_lineproto_counters c = {0};
    struct slic_lineproto_sink sink = {event_views_cb, NULL, (void *)buf};
    slic_lineproto_parse(&o, buf, sizeof buf - 1, &sink, &c);
    CHECK_U64_EQ(c.events, 1);
    CHECK_U64_EQ(c.rejected[SLIC_LINEPROTO_E_NO_COLON], 1);
}

/* ---- datagrams ---- */

struct dgram_case {
    const char *in;
    size_t events;
    size_t rejects;
    enum slic_lineproto_reason first_reject;
};

static const struct dgram_case dgram_cases[] = {
    {"a:1|ms", 1, 0, SLIC_LINEPROTO_OK},
    {"a:1|ms\n", 1, 0, SLIC_LINEPROTO_OK},
    {"a:1|ms\r\n", 1, 0, SLIC_LINEPROTO_OK},
    {"a:1|ms\nb:2|h", 2, 0, SLIC_LINEPROTO_OK},
    {"a:1|ms\nb:2|h\n", 2, 0, SLIC_LINEPROTO_OK},
    {"a:1|ms\r\nb:2|d\r\n", 2, 0, SLIC_LINEPROTO_OK},
    {"a:1|ms\r\nb:2|d", 2, 0, SLIC_LINEPROTO_OK},
    {"a:1|ms\n\nb:2|ms\n\n", 2, 0, SLIC_LINEPROTO_OK},
    {"\na:1|ms", 1, 0, SLIC_LINEPROTO_OK},
    {"a:1|ms\r\n\r\nb:2|ms", 2, 0, SLIC_LINEPROTO_OK},
    {"a:1|ms\nbad\nb:2|ms", 2, 1, SLIC_LINEPROTO_E_NO_COLON},
    {"a:1|c\nb:2|ms|#outcome:x\nc:3|ms", 1, 2, SLIC_LINEPROTO_E_NOT_TIMER},
    {"a:1:2|ms\nb:3|ms", 3, 0, SLIC_LINEPROTO_OK},
    {"", 0, 1, SLIC_LINEPROTO_E_EMPTY},
    {"\n", 0, 1, SLIC_LINEPROTO_E_EMPTY},
    {"\r\n\n\r\n", 0, 1, SLIC_LINEPROTO_E_EMPTY},
    {"a:1|ms\r\r\n", 0, 1, SLIC_LINEPROTO_E_BAD_TYPE},
    {" \n", 0, 1, SLIC_LINEPROTO_E_NO_COLON},
};

static void test_datagrams(void)
{
    struct slic_lineproto_opts o = opts_default();
    for (size_t i = 0; i < sizeof dgram_cases / sizeof dgram_cases[0]; i++) {
        const struct dgram_case *dc = &dgram_cases[i];
        struct got g = {0};
        struct slic_lineproto_counters c = {0};
        struct slic_lineproto_sink sink = {on_event, on_reject, &g};
        slic_lineproto_parse(&o, dc->in, strlen(dc->in), &sink, &c);
        if (g.n_ev != dc->events || g.n_rej != dc->rejects)
            harness_fail(__FILE__, __LINE__, "case %zu: %zu events, %zu rejects; want %zu, %zu", i,
                         g.n_ev, g.n_rej, dc->events, dc->rejects);
        if (dc->rejects)
            CHECK_INT_EQ(g.rej[0], dc->first_reject);
        CHECK_U64_EQ(c.datagrams, 1);
        CHECK_U64_EQ(c.events, dc->events);
        CHECK_U64_EQ(rejected_total(&c), dc->rejects);
    }
}

/* A line cut by the datagram's end is still bounded by the length given, not by a NUL. */
static void test_datagram_not_nul_terminated(void)
{
    struct slic_lineproto_opts o = opts_default();
    char *buf = malloc(13);
    CHECK(buf != NULL);
    memcpy(buf, "a:1|ms\nb:2|ms", 13);
    struct got g = {0};
    struct slic_lineproto_counters c = {0};
    struct slic_lineproto_sink sink = {on_event, on_reject, &g};
    slic_lineproto_parse(&o, buf, 13, &sink, &c);
    CHECK_U64_EQ(g.n_ev, 2);
    CHECK_STR_EQ(g.ev[1].name, "b");
    slic_lineproto_parse(&o, buf, 8, &sink, &c);
    CHECK_U64_EQ(g.n_ev, 3);
    CHECK_U64_EQ(g.n_rej, 1);
    CHECK_INT_EQ(g.rej[0], SLIC_LINEPROTO_E_NO_COLON);
    CHECK_INT_EQ(g.rej_len[0], 1);
    free(buf);
}

/* Counters add up across datagrams: lines = accepted lines + rejected lines. */
static void test_counters_accumulate(void)
{
    struct slic_lineproto_opts o = opts_default();
    struct got g = {0};
    struct slic_lineproto_counters c = {0};
    struct slic_lineproto_sink sink = {on_event, NULL, &g};
    const char *d1 = "a:1|ms|#x.y:1\nb:2:3|ms\nc|ms\n";
    const char *d2 = "\n";
    const char *d3 = "d:1|ms|@0.5|#k:v,k:w\ne:1e9|ms";
    slic_lineproto_parse(&o, d1, strlen(d1), &sink, &c);
    slic_lineproto_parse(&o, d2, strlen(d2), &sink, &c);
    slic_lineproto_parse(&o, d3, strlen(d3), &sink, &c);
    CHECK_U64_EQ(c.datagrams, 3);
    CHECK_U64_EQ(c.lines, 6);
    CHECK_U64_EQ(c.events, 4);
    CHECK_U64_EQ(c.tags_dropped, 2);
    CHECK_U64_EQ(c.rejected[SLIC_LINEPROTO_E_NO_COLON], 1);
    CHECK_U64_EQ(c.rejected[SLIC_LINEPROTO_E_EMPTY], 1);
    CHECK_U64_EQ(c.rejected[SLIC_LINEPROTO_E_TOO_LARGE], 1);
    CHECK_U64_EQ(c.rejected[SLIC_LINEPROTO_OK], 0);
    CHECK_U64_EQ(rejected_total(&c), 3);
}

/* ---- helpers ---- */

static void test_reason_names(void)
{
    for (int i = 0; i < SLIC_LINEPROTO_REASON_COUNT; i++) {
        const char *n = slic_lineproto_reason_name((enum slic_lineproto_reason)i);
        CHECK(n != NULL && n[0] != '\0' && strcmp(n, "unknown") != 0);
        /* Metrics label values: lower case and '_' only. */
        CHECK(strspn(n, "abcdefghijklmnopqrstuvwxyz_") == strlen(n));
        for (int j = 0; j < i; j++)
            CHECK(strcmp(n, slic_lineproto_reason_name((enum slic_lineproto_reason)j)) != 0);
    }
    CHECK_STR_EQ(slic_lineproto_reason_name(SLIC_LINEPROTO_OK), "ok");
    CHECK_STR_EQ(slic_lineproto_reason_name(SLIC_LINEPROTO_E_TOO_LARGE), "latency_too_large");
    CHECK_STR_EQ(slic_lineproto_reason_name(SLIC_LINEPROTO_REASON_COUNT), "unknown");
}

struct dec_case {
    const char *in;
    int rc;
    double v;
};

static void test_decimal(void)
{
    static const struct dec_case cases[] = {
        {"0", 0, 0},
        {"1", 0, 1},
        {"0.1", 0, 0.1},
        {"123.456", 0, 123.456},
        {".5", 0, 0.5},
        {"5.", 0, 5},
        {"1e3", 0, 1000},
        {"1E-3", 0, 0.001},
        {"2.5e+2", 0, 250},
        {"1.7976931348623157e308", 0, 1.7976931348623157e308},
        {"1e-400", 0, 0},
        {"1e309", SLIC_ERANGE, 0},
        {"", SLIC_EINVAL, 0},
        {".", SLIC_EINVAL, 0},
        {"e5", SLIC_EINVAL, 0},
        {".e5", SLIC_EINVAL, 0},
        {"-1", SLIC_EINVAL, 0},
        {"+1", SLIC_EINVAL, 0},
        {" 1", SLIC_EINVAL, 0},
        {"1 ", SLIC_EINVAL, 0},
        {"0x1p3", SLIC_EINVAL, 0},
        {"inf", SLIC_EINVAL, 0},
        {"nan", SLIC_EINVAL, 0},
        {"1e", SLIC_EINVAL, 0},
        {"1e-", SLIC_EINVAL, 0},
        {"1..2", SLIC_EINVAL, 0},
        {"1e2.5", SLIC_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -1;
        int rc = slic_lineproto_decimal(cases[i].in, strlen(cases[i].in), &v);
        if (rc != cases[i].rc)
            harness_fail(__FILE__, __LINE__, "\"%s\": rc %s, want %s", cases[i].in,
                         slic_errname(rc), slic_errname(cases[i].rc));
        CHECK_DBL_EQ(v, rc == 0 ? cases[i].v : -1);
    }
    /* Reads only the bytes given. */
    double v = 0;
    CHECK_OK(slic_lineproto_decimal("12345", 2, &v));
    CHECK_DBL_EQ(v, 12);
}

/* A random plain decimal: up to 20 integer digits, an optional fraction of up to 20 digits and
 * an optional exponent, biased towards the shapes latencies take. */
static size_t random_decimal(struct harness_rng *r, char *buf)
{
    size_t n = 0, int_digits = harness_rng_next(r) % 21, frac_digits = harness_rng_next(r) % 21;
    bool dot = harness_rng_next(r) % 4 != 0;
    if (int_digits + (dot ? frac_digits : 0) == 0)
        int_digits = 1;
    for (size_t i = 0; i < int_digits; i++)
        buf[n++] = (char)('0' + harness_rng_next(r) % 10);
    if (dot) {
        buf[n++] = '.';
        for (size_t i = 0; i < frac_digits; i++)
            buf[n++] = (char)('0' + harness_rng_next(r) % 10);
    }
    if (harness_rng_next(r) % 3 == 0) {
        static const char *const signs[] = {"e", "E", "e-", "e+", "E-"};
        n += (size_t)sprintf(buf + n, "%s%u", signs[harness_rng_next(r) % 5],
                             (unsigned)(harness_rng_next(r) % 340));
    }
    buf[n] = '\0';
    return n;
}

/* The fast path must give the very double strtod gives, bit for bit, on every input. */
static void test_decimal_matches_strtod(void)
{
    struct harness_rng r;
    harness_rng_seed(&r, 20251126);
    char buf[SLIC_LINEPROTO_NUMBER_MAX + 1];
    for (int i = 0; i < 500000; i++) {
        size_t n = random_decimal(&r, buf);
        CHECK(n <= SLIC_LINEPROTO_NUMBER_MAX);
        double want = strtod(buf, NULL), got = -1;
        int rc = slic_lineproto_decimal(buf, n, &got);
        if (!isfinite(want)) {
            CHECK_ERR(rc, SLIC_ERANGE);
            continue;
        }
        if (rc != 0 || memcmp(&got, &want, sizeof got) != 0)
            harness_fail(__FILE__, __LINE__, "\"%s\": got %.17g (rc %d), strtod %.17g", buf, got,
                         rc, want);
    }
}

HARNESS_CASES(HARNESS_CASE(test_line_table), HARNESS_CASE(test_status_rule_off),
              HARNESS_CASE(test_status_threshold), HARNESS_CASE(test_opts_check),
              HARNESS_CASE(test_packed_values), HARNESS_CASE(test_nul_bytes),
              HARNESS_CASE(test_line_length_limit), HARNESS_CASE(test_name_length_limit),
              HARNESS_CASE(test_number_length_limit), HARNESS_CASE(test_tag_length_limits),
              HARNESS_CASE(test_many_tags), HARNESS_CASE(test_event_is_a_view),
              HARNESS_CASE(test_datagrams), HARNESS_CASE(test_datagram_not_nul_terminated),
              HARNESS_CASE(test_counters_accumulate), HARNESS_CASE(test_reason_names),
              HARNESS_CASE(test_decimal), HARNESS_CASE(test_decimal_matches_strtod));
HARNESS_MAIN()
