/* Tests of common/yamlconf.c: the tree (kinds, positions, key paths), multi-document streams,
 * every typed getter's values and its exact operator-facing error message, unknown-key
 * suggestions, malformed YAML reported at file:line:column, the constructs refused (anchors,
 * aliases, tags, duplicate and complex keys), the caps on size, depth and nodes, and clean
 * failure at every allocation. */
#include "harness.h"

#include "alloc.h"
#include "err.h"
#include "yamlconf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static slic_yaml_stream *load(const char *text)
{
    slic_yaml_stream *s = NULL;
    struct slic_errmsg err = {{0}};
    int rc = slic_yaml_load_string("agent.yaml", text, strlen(text), NULL, &s, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "load failed: %s: %s", slic_errname(rc), err.text);
    return s;
}

/* Loads text expecting failure rc; returns the message. */
static const char *load_fail(const char *text, size_t len, const struct slic_yaml_limits *lim,
                             int want)
{
    static struct slic_errmsg err;
    slic_yaml_stream *s = (slic_yaml_stream *)&err; /* must stay untouched */
    memset(&err, 0, sizeof err);
    int rc = slic_yaml_load_string("agent.yaml", text, len, lim, &s, &err);
    if (rc != want)
        harness_fail(__FILE__, __LINE__, "\"%.60s\": %s, want %s (%s)", text, slic_errname(rc),
                     slic_errname(want), err.text);
    CHECK(s == (slic_yaml_stream *)&err);
    return err.text;
}

static void check_contains(const char *msg, const char *part, const char *what)
{
    if (!strstr(msg, part))
        harness_fail(__FILE__, __LINE__, "%s: message \"%s\" lacks \"%s\"", what, msg, part);
}

static const char *path_of(const slic_yaml_node *n)
{
    static char buf[256];
    slic_yaml_path(n, buf, sizeof buf);
    return buf;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

/* ---- the tree ---- */

static const char agent_yaml[] = "# slic agent\n"                     /* 1 */
                                 "listen: udp://0.0.0.0:8125\n"       /* 2 */
                                 "site: zrh1\n"                       /* 3 */
                                 "spool:\n"                           /* 4 */
                                 "  max_size: 512MiB\n"               /* 5 */
                                 "  path: \"/var/lib/slic\"\n"        /* 6 */
                                 "windows: {length: 10s, slots: 6}\n" /* 7 */
                                 "sources:\n"                         /* 8 */
                                 "  - udp\n"                          /* 9 */
                                 "  - name: probe\n"                  /* 10 */
                                 "    targets: [a, b]\n"              /* 11 */
                                 "empty:\n"                           /* 12 */
                                 "quoted: ''\n";                      /* 13 */

static void test_tree(void)
{
    slic_yaml_stream *s = load(agent_yaml);
    CHECK_INT_EQ(slic_yaml_doc_count(s), 1);
    CHECK(slic_yaml_doc(s, 1) == NULL);
    const slic_yaml_node *root = slic_yaml_doc(s, 0);
    CHECK_INT_EQ(slic_yaml_kind(root), SLIC_YAML_MAPPING);
    CHECK_INT_EQ(slic_yaml_len(root), 7);
    CHECK_STR_EQ(path_of(root), "");
    CHECK_STR_EQ(slic_yaml_file(root), "agent.yaml");
    CHECK_INT_EQ(slic_yaml_line(root), 2);
    CHECK_STR_EQ(slic_yaml_text(root), NULL);

    /* Pairs in document order, keys are scalars with their own positions. */
    CHECK_STR_EQ(slic_yaml_text(slic_yaml_pair_key(root, 0)), "listen");
    CHECK_STR_EQ(slic_yaml_text(slic_yaml_pair_value(root, 0)), "udp://0.0.0.0:8125");
    CHECK_INT_EQ(slic_yaml_column(slic_yaml_pair_value(root, 0)), 9);
    CHECK_STR_EQ(slic_yaml_text(slic_yaml_pair_key(root, 6)), "quoted");
    CHECK(slic_yaml_pair_key(root, 7) == NULL);
    CHECK(slic_yaml_pair_value(root, 7) == NULL);
    CHECK_STR_EQ(path_of(slic_yaml_pair_key(root, 1)), "site");

    const slic_yaml_node *spool = slic_yaml_get(root, "spool");
    CHECK_INT_EQ(slic_yaml_kind(spool), SLIC_YAML_MAPPING);
    const slic_yaml_node *path = slic_yaml_get(spool, "path");
    CHECK_STR_EQ(slic_yaml_text(path), "/var/lib/slic");
    CHECK_INT_EQ(slic_yaml_line(path), 6);
    CHECK_INT_EQ(slic_yaml_column(path), 9);
    CHECK_STR_EQ(path_of(path), "spool.path");
    CHECK(!slic_yaml_is_null(path));

    const slic_yaml_node *windows = slic_yaml_get(root, "windows");
    CHECK_STR_EQ(path_of(slic_yaml_get(windows, "slots")), "windows.slots");
    CHECK_INT_EQ(slic_yaml_line(slic_yaml_get(windows, "slots")), 7);

    const slic_yaml_node *sources = slic_yaml_get(root, "sources");
    CHECK_INT_EQ(slic_yaml_kind(sources), SLIC_YAML_SEQUENCE);
    CHECK_INT_EQ(slic_yaml_len(sources), 2);
    CHECK_STR_EQ(slic_yaml_text(slic_yaml_item(sources, 0)), "udp");
    CHECK(slic_yaml_item(sources, 2) == NULL);
    const slic_yaml_node *targets = slic_yaml_get(slic_yaml_item(sources, 1), "targets");
    CHECK_STR_EQ(path_of(slic_yaml_item(targets, 1)), "sources[1].targets[1]");
    CHECK_INT_EQ(slic_yaml_line(slic_yaml_item(targets, 1)), 11);
    CHECK_INT_EQ(slic_yaml_column(slic_yaml_item(targets, 1)), 18);

    /* Null: only plain empty, ~ and null; a quoted empty string is a value. */
    CHECK(slic_yaml_is_null(slic_yaml_get(root, "empty")));
    CHECK_STR_EQ(slic_yaml_text(slic_yaml_get(root, "empty")), "");
    CHECK(!slic_yaml_is_null(slic_yaml_get(root, "quoted")));
    CHECK(!slic_yaml_is_null(root));

    /* Lookups that find nothing. */
    CHECK(slic_yaml_get(root, "nope") == NULL);
    CHECK(slic_yaml_get(sources, "udp") == NULL);
    CHECK(slic_yaml_get(NULL, "x") == NULL);
    CHECK(slic_yaml_item(root, 0) == NULL);
    CHECK(slic_yaml_pair_key(sources, 0) == NULL);
    CHECK_INT_EQ(slic_yaml_len(path), 0);
    slic_yaml_destroy(s);
    slic_yaml_destroy(NULL);
}

static void test_null_spellings(void)
{
    slic_yaml_stream *s = load("a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nULL\ng: \"null\"\n"
                               "h: '~'\n");
    const slic_yaml_node *root = slic_yaml_doc(s, 0);
    static const char *const nulls[] = {"a", "b", "c", "d", "e"};
    static const char *const values[] = {"f", "g", "h"};
    for (size_t i = 0; i < 5; i++)
        CHECK(slic_yaml_is_null(slic_yaml_get(root, nulls[i])));
    for (size_t i = 0; i < 3; i++)
        CHECK(!slic_yaml_is_null(slic_yaml_get(root, values[i])));
    slic_yaml_destroy(s);
}

/* ---- documents ---- */

static const char openslo_yaml[] = "apiVersion: openslo/v1\n"
                                   "kind: SLI\n"
                                   "metadata: {name: checkout-latency}\n"
                                   "---\n"
                                   "apiVersion: openslo/v1\n"
                                   "kind: SLO\n"
                                   "metadata:\n"
                                   "  name: checkout\n"
                                   "spec:\n"
                                   "  objectives:\n"
                                   "    - target: 0.999\n"
                                   "    - target: 0.99\n"
                                   "...\n"
                                   "--- # a third, empty document\n";

static void test_multi_document(void)
{
    slic_yaml_stream *s = load(openslo_yaml);
    CHECK_INT_EQ(slic_yaml_doc_count(s), 3);
    CHECK_STR_EQ(slic_yaml_text(slic_yaml_get(slic_yaml_doc(s, 0), "kind")), "SLI");
    const slic_yaml_node *slo = slic_yaml_doc(s, 1);
    CHECK_STR_EQ(slic_yaml_text(slic_yaml_get(slo, "kind")), "SLO");
    CHECK_INT_EQ(slic_yaml_line(slo), 5);
    const slic_yaml_node *obj = slic_yaml_get(slic_yaml_get(slo, "spec"), "objectives");
    const slic_yaml_node *t1 = slic_yaml_get(slic_yaml_item(obj, 1), "target");
    CHECK_STR_EQ(path_of(t1), "spec.objectives[1].target");
    CHECK_INT_EQ(slic_yaml_line(t1), 12);
    const slic_yaml_node *third = slic_yaml_doc(s, 2);
    CHECK_INT_EQ(slic_yaml_kind(third), SLIC_YAML_SCALAR);
    CHECK(slic_yaml_is_null(third));
    slic_yaml_destroy(s);

    static const struct {
        const char *text;
        size_t docs;
    } counts[] = {
        {"", 0},
        {"# only a comment\n", 0},
        {"---\n", 1},
        {"a\n", 1},
        {"---\n---\n", 2},
        {"a: 1\n---\nb: 2\n", 2},
        {"- 1\n...\n", 1},
        {"\xef\xbb\xbf"
         "a: 1\n",
         1},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        s = load(counts[i].text);
        if (slic_yaml_doc_count(s) != counts[i].docs)
            harness_fail(__FILE__, __LINE__, "\"%s\": %zu documents, want %zu", counts[i].text,
                         slic_yaml_doc_count(s), counts[i].docs);
        slic_yaml_destroy(s);
    }
}

static void test_load_file(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/checkout.slo.yaml", harness_tmpdir());
    write_file(path, openslo_yaml, strlen(openslo_yaml));
    slic_yaml_stream *s = NULL;
    struct slic_errmsg err = {{0}};
    CHECK_OK(slic_yaml_load_file(path, NULL, &s, &err));
    CHECK_INT_EQ(slic_yaml_doc_count(s), 3);
    CHECK_STR_EQ(slic_yaml_file(slic_yaml_doc(s, 1)), path);
    slic_yaml_destroy(s);

    /* Errors name the file. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope.yaml", harness_tmpdir());
    s = NULL;
    CHECK_ERR(slic_yaml_load_file(missing, NULL, &s, &err), -ENOENT);
    CHECK(s == NULL);
    check_contains(err.text, missing, "missing file");
    check_contains(err.text, "No such file", "missing file");
    CHECK_ERR(slic_yaml_load_file(harness_tmpdir(), NULL, &s, &err), -EISDIR);
    check_contains(err.text, harness_tmpdir(), "directory");

    /* A syntax error names the path with line and column. */
    snprintf(path, sizeof path, "%s/bad.yaml", harness_tmpdir());
    write_file(path, "a: 1\nb: [\n", 10);
    CHECK_ERR(slic_yaml_load_file(path, NULL, &s, &err), SLIC_ECONFIG);
    char where[600];
    snprintf(where, sizeof where, "%s:3:1: ", path);
    check_contains(err.text, where, "syntax error in file");
}

/* ---- typed getters: values ---- */

static void test_getters_values(void)
{
    slic_yaml_stream *s = load("name: checkout\n"
                               "port: 8125\n"
                               "neg: -9223372036854775808\n"
                               "big: 18446744073709551615\n"
                               "ratio: 0.999\n"
                               "tiny: 1e-3\n"
                               "window: 28d\n"
                               "timeout: 250ms\n"
                               "spool: 1.5GiB\n"
                               "on: yes\n"
                               "off: FALSE\n"
                               "quoted_bool: \"true\"\n"
                               "number_as_string: 8125\n"
                               "list: [a, 'b c', \"\"]\n"
                               "empty_list: []\n"
                               "map: {k: v}\n");
    const slic_yaml_node *r = slic_yaml_doc(s, 0);
    struct slic_errmsg err = {{0}};
    const char *str = NULL;
    CHECK_OK(slic_yaml_get_string(r, "name", 0, &str, &err));
    CHECK_STR_EQ(str, "checkout");
    CHECK_OK(slic_yaml_get_string(r, "number_as_string", 0, &str, &err));
    CHECK_STR_EQ(str, "8125");
    int64_t i64 = 0;
    CHECK_OK(slic_yaml_get_int64(r, "port", 0, 1, 65535, &i64, &err));
    CHECK_INT_EQ(i64, 8125);
    CHECK_OK(slic_yaml_get_int64(r, "neg", 0, INT64_MIN, INT64_MAX, &i64, &err));
    CHECK(i64 == INT64_MIN);
    uint64_t u64 = 0;
    CHECK_OK(slic_yaml_get_uint64(r, "big", 0, 0, UINT64_MAX, &u64, &err));
    CHECK_U64_EQ(u64, UINT64_MAX);
    double d = 0;
    CHECK_OK(slic_yaml_get_double(r, "ratio", 0, 0, 1, &d, &err));
    CHECK_DBL_EQ(d, 0.999);
    CHECK_OK(slic_yaml_get_double(r, "tiny", 0, -INFINITY, INFINITY, &d, &err));
    CHECK_DBL_EQ(d, 0.001);
    CHECK_OK(slic_yaml_get_duration(r, "window", 0, 1, INFINITY, &d, &err));
    CHECK_DBL_EQ(d, 2419200);
    CHECK_OK(slic_yaml_get_duration(r, "timeout", 0, 0, 60, &d, &err));
    CHECK_DBL_EQ(d, 0.25);
    CHECK_OK(slic_yaml_get_size(r, "spool", 0, 0, UINT64_MAX, &u64, &err));
    CHECK_U64_EQ(u64, 1610612736);
    bool b = false;
    CHECK_OK(slic_yaml_get_bool(r, "on", 0, &b, &err));
    CHECK(b);
    CHECK_OK(slic_yaml_get_bool(r, "off", 0, &b, &err));
    CHECK(!b);
    CHECK_OK(slic_yaml_get_bool(r, "quoted_bool", 0, &b, &err));
    CHECK(b);
    const char **list = NULL;
    size_t n = 0;
    CHECK_OK(slic_yaml_get_strings(r, "list", 0, &list, &n, &err));
    CHECK_INT_EQ(n, 3);
    CHECK_STR_EQ(list[0], "a");
    CHECK_STR_EQ(list[1], "b c");
    CHECK_STR_EQ(list[2], "");
    slic_free(list);
    list = (const char **)&n;
    CHECK_OK(slic_yaml_get_strings(r, "empty_list", 0, &list, &n, &err));
    CHECK_INT_EQ(n, 0);
    CHECK(list == NULL);
    const slic_yaml_node *node = NULL;
    CHECK_OK(slic_yaml_get_mapping(r, "map", 0, &node, &err));
    CHECK(node == slic_yaml_get(r, "map"));
    CHECK_OK(slic_yaml_get_sequence(r, "list", 0, &node, &err));
    CHECK(node == slic_yaml_get(r, "list"));

    /* Optional and absent: 0, and the default stays. */
    i64 = 77;
    CHECK_OK(slic_yaml_get_int64(r, "absent", 0, 0, 100, &i64, &err));
    CHECK_INT_EQ(i64, 77);
    d = 1.25;
    CHECK_OK(slic_yaml_get_duration(r, "absent", 0, 0, 100, &d, &err));
    CHECK_DBL_EQ(d, 1.25);
    str = "default";
    CHECK_OK(slic_yaml_get_string(r, "absent", 0, &str, &err));
    CHECK_STR_EQ(str, "default");
    node = NULL;
    CHECK_OK(slic_yaml_get_mapping(r, "absent", 0, &node, &err));
    CHECK(node == NULL);
    slic_yaml_destroy(s);
}

/* ---- typed getters: errors ---- */

enum getter {
    G_STRING,
    G_BOOL,
    G_INT,
    G_UINT,
    G_DOUBLE,
    G_DURATION,
    G_SIZE,
    G_STRINGS,
    G_MAP,
    G_SEQ
};

struct err_case {
    const char *yaml;
    const char *key; /* dotted: every part but the last names a mapping */
    enum getter g;
    double lo, hi; /* range, for the numeric getters */
    int rc;
    const char *want; /* the whole message */
};

#define NOLIM -INFINITY, INFINITY

static const struct err_case err_cases[] = {
    {"# agent\nsite: zrh1\nwindows:\n  slots: 6\n\n  # how long\n  length: ten\n", "windows.length",
     G_DURATION, NOLIM, SLIC_ECONFIG,
     "agent.yaml:7: key 'windows.length': expected a duration like 10s or 1m, got \"ten\""},
    {"windows:\n  length: 2h\n", "windows.length", G_DURATION, 1, 3600, SLIC_ECONFIG,
     "agent.yaml:2: key 'windows.length': expected a duration from 1s to 1h, got \"2h\""},
    {"length: 0s\n", "length", G_DURATION, 0.001, INFINITY, SLIC_ECONFIG,
     "agent.yaml:1: key 'length': expected a duration of at least 1ms, got \"0s\""},
    {"length: 2h\n", "length", G_DURATION, 0, 60, SLIC_ECONFIG,
     "agent.yaml:1: key 'length': expected a duration of at most 1m, got \"2h\""},
    {"length: -5m\n", "length", G_DURATION, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'length': expected a duration like 10s or 1m, got \"-5m\""},
    {"debug: maybe\n", "debug", G_BOOL, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'debug': expected true or false, got \"maybe\""},
    {"debug: 1\n", "debug", G_BOOL, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'debug': expected true or false, got \"1\""},
    {"http:\n  port: 70000\n", "http.port", G_INT, 1, 65535, SLIC_ECONFIG,
     "agent.yaml:2: key 'http.port': expected an integer from 1 to 65535, got \"70000\""},
    {"port: 80x\n", "port", G_INT, 1, 65535, SLIC_ECONFIG,
     "agent.yaml:1: key 'port': expected an integer from 1 to 65535, got \"80x\""},
    {"port: 8.0\n", "port", G_INT, 1, 65535, SLIC_ECONFIG,
     "agent.yaml:1: key 'port': expected an integer from 1 to 65535, got \"8.0\""},
    {"n: 9223372036854775808\n", "n", G_INT, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'n': expected an integer, got \"9223372036854775808\""},
    {"n: -1\n", "n", G_INT, 0, INFINITY, SLIC_ECONFIG,
     "agent.yaml:1: key 'n': expected an integer of at least 0, got \"-1\""},
    {"n: -1\n", "n", G_UINT, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'n': expected a non-negative integer, got \"-1\""},
    {"n: 18446744073709551616\n", "n", G_UINT, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'n': expected a non-negative integer, got \"18446744073709551616\""},
    {"n: 0\n", "n", G_UINT, 1, 10, SLIC_ECONFIG,
     "agent.yaml:1: key 'n': expected an integer from 1 to 10, got \"0\""},
    {"objective:\n  target: 1.5\n", "objective.target", G_DOUBLE, 0, 1, SLIC_ECONFIG,
     "agent.yaml:2: key 'objective.target': expected a number from 0 to 1, got \"1.5\""},
    {"target: .inf\n", "target", G_DOUBLE, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'target': expected a number, got \".inf\""},
    {"target: nan\n", "target", G_DOUBLE, 0, INFINITY, SLIC_ECONFIG,
     "agent.yaml:1: key 'target': expected a number of at least 0, got \"nan\""},
    {"target: 0x1p3\n", "target", G_DOUBLE, -INFINITY, 0.999, SLIC_ECONFIG,
     "agent.yaml:1: key 'target': expected a number of at most 0.999, got \"0x1p3\""},
    {"target: 1e999\n", "target", G_DOUBLE, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'target': expected a number, got \"1e999\""},
    {"spool:\n  max_size: 10 MB\n", "spool.max_size", G_SIZE, NOLIM, SLIC_ECONFIG,
     "agent.yaml:2: key 'spool.max_size': expected a size like 512MiB or 10MB, got \"10 MB\""},
    {"max_size: 1KiB\n", "max_size", G_SIZE, 1048576, 1073741824, SLIC_ECONFIG,
     "agent.yaml:1: key 'max_size': expected a size from 1MiB to 1GiB, got \"1KiB\""},
    {"max_size: 1KiB\n", "max_size", G_SIZE, 10000000, INFINITY, SLIC_ECONFIG,
     "agent.yaml:1: key 'max_size': expected a size of at least 10MB, got \"1KiB\""},
    {"site:\n", "site", G_STRING, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'site': expected a string, got an empty value"},
    {"site: ~\n", "site", G_STRING, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'site': expected a string, got null"},
    {"site: [zrh1]\n", "site", G_STRING, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'site': expected a string, got a list"},
    {"site:\n  name: zrh1\n", "site", G_STRING, NOLIM, SLIC_ECONFIG,
     "agent.yaml:2: key 'site': expected a string, got a mapping"},
    {"sources: udp\n", "sources", G_STRINGS, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'sources': expected a list of strings, got \"udp\""},
    {"sources:\n  - udp\n  - [unix]\n", "sources", G_STRINGS, NOLIM, SLIC_ECONFIG,
     "agent.yaml:3: key 'sources[1]': expected a string, got a list"},
    {"spool: 5\n", "spool", G_MAP, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'spool': expected a mapping of key: value, got \"5\""},
    {"sources: {udp: 1}\n", "sources", G_SEQ, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'sources': expected a list, got a mapping"},
    /* Values are quoted with escapes and cut, so a message stays one line. */
    {"site: \"a\\\"b\\\\c\\td\\ne\"\n", "site", G_BOOL, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'site': expected true or false, got \"a\\\"b\\\\c\\x09d\\x0ae\""},
    {"site: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", "site",
     G_BOOL, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: key 'site': expected true or false, got "
     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\""},
    /* Deep in an OpenSLO file: the path names list positions. */
    {"spec:\n  objectives:\n    - target: 0.99\n    - target: 2\n", "spec.objectives.1.target",
     G_DOUBLE, 0, 1, SLIC_ECONFIG,
     "agent.yaml:4: key 'spec.objectives[1].target': expected a number from 0 to 1, got \"2\""},
    /* Missing required keys are named with their full path and the mapping's line. */
    {"windows:\n  slots: 6\n", "windows.length", G_DURATION, NOLIM, SLIC_EMISSING,
     "agent.yaml:2: missing required key 'windows.length'"},
    {"site: x\n", "listen", G_STRING, NOLIM, SLIC_EMISSING,
     "agent.yaml:1: missing required key 'listen'"},
    /* Asking a non-mapping for a key. */
    {"- a\n- b\n", "x", G_STRING, NOLIM, SLIC_ECONFIG,
     "agent.yaml:1: document: expected a mapping of key: value, got a list"},
};

/* Finds the mapping that holds the last part of a dotted key; numeric parts index lists. */
static const slic_yaml_node *walk_to_parent(const slic_yaml_node *n, const char *dotted,
                                            const char **last)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", dotted);
    char *part = buf, *dot;
    while ((dot = strchr(part, '.')) != NULL) {
        *dot = '\0';
        if (slic_yaml_kind(n) == SLIC_YAML_SEQUENCE)
            n = slic_yaml_item(n, (size_t)atoi(part));
        else
            n = slic_yaml_get(n, part);
        CHECK(n != NULL);
        part = dot + 1;
    }
    *last = dotted + (part - buf);
    return n;
}

static int run_getter(const struct err_case *c, const slic_yaml_node *map, const char *key,
                      unsigned flags, struct slic_errmsg *err)
{
    const char *str = NULL, **list = NULL;
    const slic_yaml_node *node = NULL;
    bool b = false;
    int64_t i64 = 0;
    uint64_t u64 = 0;
    double d = 0;
    size_t n = 0;
    int64_t ilo = isinf(c->lo) ? INT64_MIN : (int64_t)c->lo;
    int64_t ihi = isinf(c->hi) ? INT64_MAX : (int64_t)c->hi;
    uint64_t ulo = isinf(c->lo) ? 0 : (uint64_t)c->lo;
    uint64_t uhi = isinf(c->hi) ? UINT64_MAX : (uint64_t)c->hi;
    switch (c->g) {
    case G_STRING:
        return slic_yaml_get_string(map, key, flags, &str, err);
    case G_BOOL:
        return slic_yaml_get_bool(map, key, flags, &b, err);
    case G_INT:
        return slic_yaml_get_int64(map, key, flags, ilo, ihi, &i64, err);
    case G_UINT:
        return slic_yaml_get_uint64(map, key, flags, ulo, uhi, &u64, err);
    case G_DOUBLE:
        return slic_yaml_get_double(map, key, flags, c->lo, c->hi, &d, err);
    case G_DURATION:
        return slic_yaml_get_duration(map, key, flags, c->lo, c->hi, &d, err);
    case G_SIZE:
        return slic_yaml_get_size(map, key, flags, ulo, uhi, &u64, err);
    case G_STRINGS:
        return slic_yaml_get_strings(map, key, flags, &list, &n, err);
    case G_MAP:
        return slic_yaml_get_mapping(map, key, flags, &node, err);
    case G_SEQ:
        return slic_yaml_get_sequence(map, key, flags, &node, err);
    }
    return -1;
}

static void test_getter_errors(void)
{
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
        const struct err_case *c = &err_cases[i];
        slic_yaml_stream *s = load(c->yaml);
        const char *key = NULL;
        const slic_yaml_node *map = walk_to_parent(slic_yaml_doc(s, 0), c->key, &key);
        struct slic_errmsg err = {{0}};
        int rc = run_getter(c, map, key, SLIC_YAML_REQUIRED, &err);
        if (rc != c->rc || strcmp(err.text, c->want) != 0)
            harness_fail(__FILE__, __LINE__, "case %zu (%s): %s \"%s\"\n    want %s \"%s\"", i,
                         c->key, slic_errname(rc), err.text, slic_errname(c->rc), c->want);
        /* The same failure without a message buffer. */
        CHECK_ERR(run_getter(c, map, key, SLIC_YAML_REQUIRED, NULL), c->rc);
        slic_yaml_destroy(s);
    }
}

/* Node-level conversions for list items, and slic_yaml_error for the caller's own checks. */
static void test_item_conversions_and_custom_errors(void)
{
    slic_yaml_stream *s = load("probe:\n  expect_status: [200, 204, 99]\n");
    const slic_yaml_node *codes =
        slic_yaml_get(slic_yaml_get(slic_yaml_doc(s, 0), "probe"), "expect_status");
    struct slic_errmsg err = {{0}};
    int64_t v = 0;
    CHECK_OK(slic_yaml_as_int64(slic_yaml_item(codes, 1), 100, 599, &v, &err));
    CHECK_INT_EQ(v, 204);
    CHECK_ERR(slic_yaml_as_int64(slic_yaml_item(codes, 2), 100, 599, &v, &err), SLIC_ECONFIG);
    CHECK_STR_EQ(err.text, "agent.yaml:2: key 'probe.expect_status[2]': expected an integer from "
                           "100 to 599, got \"99\"");
    CHECK_INT_EQ(v, 204);
    CHECK_ERR(slic_yaml_error(codes, &err, SLIC_EINCONSISTENT, "%d codes, but %s", 3, "why"),
              SLIC_EINCONSISTENT);
    CHECK_STR_EQ(err.text, "agent.yaml:2: key 'probe.expect_status': 3 codes, but why");
    CHECK_ERR(slic_yaml_error(slic_yaml_doc(s, 0), &err, SLIC_ECONFIG, "no agent section"),
              SLIC_ECONFIG);
    CHECK_STR_EQ(err.text, "agent.yaml:1: document: no agent section");
    CHECK_ERR(slic_yaml_error(codes, NULL, SLIC_ECONFIG, "x"), SLIC_ECONFIG);
    slic_yaml_destroy(s);
}

/* Paths longer than the buffer are cut with "...", never overflowing. */
static void test_path_truncation(void)
{
    char text[2048];
    size_t n = 0;
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%*sabcdefghijklmnopqrstuvwxyz%d:\n",
                              2 * i, "", i);
    n += (size_t)snprintf(text + n, sizeof text - n, "%*s- oops\n", 40, "");
    slic_yaml_stream *s = load(text);
    const slic_yaml_node *node = slic_yaml_doc(s, 0);
    for (int i = 0; i < 20; i++)
        node = slic_yaml_pair_value(node, 0);
    node = slic_yaml_item(node, 0);
    char full[2048], small[16], tiny[3];
    slic_yaml_path(node, full, sizeof full);
    CHECK(strncmp(full, "abcdefghijklmnopqrstuvwxyz0.abcdefghijklmnopqrstuvwxyz1.", 56) == 0);
    CHECK(strstr(full, "abcdefghijklmnopqrstuvwxyz19[0]") != NULL);
    slic_yaml_path(node, small, sizeof small);
    CHECK_STR_EQ(small, "abcdefghijkl...");
    slic_yaml_path(node, tiny, sizeof tiny);
    CHECK_INT_EQ(strlen(tiny), 2);
    struct slic_errmsg err = {{0}};
    bool b = false;
    CHECK_ERR(slic_yaml_as_bool(node, &b, &err), SLIC_ECONFIG);
    check_contains(err.text, "agent.yaml:21: key 'abcdefghijklmnopqrstuvwxyz0.", "long path");
    check_contains(err.text, "...': expected true or false, got \"oops\"", "long path");
    slic_yaml_destroy(s);
}

/* ---- unknown keys ---- */

struct keys_case {
    const char *yaml;
    const char *section; /* NULL: the root */
    const char *const *allowed;
    int rc;
    const char *want;
};

static const char *const agent_keys[] = {"listen", "site", "debug", "spool", NULL};
static const char *const window_keys[] = {"length", "slots", NULL};
static const char *const short_keys[] = {"op", "value", NULL};
static const char *const no_keys[] = {NULL};

static void test_check_keys(void)
{
    static const struct keys_case cases[] = {
        {"listen: a\nsite: b\n", NULL, agent_keys, 0, ""},
        {"listen: a\nsite: b\nlisen: c\n", NULL, agent_keys, SLIC_ECONFIG,
         "agent.yaml:3: unknown key 'lisen'; did you mean 'listen'?"},
        {"Listen: a\n", NULL, agent_keys, SLIC_ECONFIG,
         "agent.yaml:1: unknown key 'Listen'; did you mean 'listen'?"},
        {"stie: a\n", NULL, agent_keys, SLIC_ECONFIG,
         "agent.yaml:1: unknown key 'stie'; did you mean 'site'?"},
        {"windows:\n  slots: 6\n  lenght: 10s\n", "windows", window_keys, SLIC_ECONFIG,
         "agent.yaml:3: unknown key 'windows.lenght'; did you mean 'length'?"},
        {"colour: red\n", NULL, agent_keys, SLIC_ECONFIG,
         "agent.yaml:1: unknown key 'colour'; allowed here: listen, site, debug, spool"},
        /* Short keys need a closer match: "xy" is two edits from "op", too far. */
        {"xy: 1\n", NULL, short_keys, SLIC_ECONFIG,
         "agent.yaml:1: unknown key 'xy'; allowed here: op, value"},
        {"on: 1\n", NULL, short_keys, SLIC_ECONFIG,
         "agent.yaml:1: unknown key 'on'; did you mean 'op'?"},
        {"a: 1\n", NULL, no_keys, SLIC_ECONFIG,
         "agent.yaml:1: unknown key 'a'; allowed here: (none)"},
        {"- a\n", NULL, agent_keys, SLIC_ECONFIG,
         "agent.yaml:1: document: expected a mapping of key: value, got a list"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct keys_case *c = &cases[i];
        slic_yaml_stream *s = load(c->yaml);
        const slic_yaml_node *map = slic_yaml_doc(s, 0);
        if (c->section)
            map = slic_yaml_get(map, c->section);
        struct slic_errmsg err = {{0}};
        int rc = slic_yaml_check_keys(map, c->allowed, &err);
        if (rc != c->rc || strcmp(err.text, c->want) != 0)
            harness_fail(__FILE__, __LINE__, "case %zu: %s \"%s\", want %s \"%s\"", i,
                         slic_errname(rc), err.text, slic_errname(c->rc), c->want);
        slic_yaml_destroy(s);
    }
    /* A key too long to compare still gets the list. */
    char text[200];
    snprintf(text, sizeof text, "%0100d: 1\n", 7);
    slic_yaml_stream *s = load(text);
    struct slic_errmsg err = {{0}};
    CHECK_ERR(slic_yaml_check_keys(slic_yaml_doc(s, 0), agent_keys, &err), SLIC_ECONFIG);
    check_contains(err.text, "allowed here: listen", "long key");
    slic_yaml_destroy(s);
}

/* ---- malformed and refused input ---- */

struct bad_case {
    const char *yaml;
    const char *where; /* "agent.yaml:LINE:COLUMN: " */
    const char *what;
};

static void test_malformed_yaml(void)
{
    static const struct bad_case cases[] = {
        {"a: 1\nb: \"unclosed\nc: 2\n", "agent.yaml:4:1: ",
         "found unexpected end of stream, while scanning a quoted scalar at line 2 column 4"},
        {"a: 1\nb: 'unclosed\n", "agent.yaml:3:1: ", "while scanning a quoted scalar"},
        {"a:\n  b: 1\n c: 2\n", "agent.yaml:3:2: ",
         "did not find expected key, while parsing a block mapping at line 1 column 1"},
        {"a:\n\tb: 1\n", "agent.yaml:2:1: ",
         "found character that cannot start any token (a tab; YAML indents with spaces only)"},
        {"a:\n  b: 1\n\tc: 2\n", "agent.yaml:3:1: ", "tab"},
        {"key: value\n  bad: 1\n",
         "agent.yaml:2:6: ", "mapping values are not allowed in this context"},
        {"a: [1, 2\nb: 3\n", "agent.yaml:2:2: ", "did not find expected ',' or ']'"},
        {"{a: 1\n", "agent.yaml:2:1: ", "did not find expected ',' or '}'"},
        {"- a\nb: 1\n", "agent.yaml:2:1: ", "did not find expected '-' indicator"},
        {"a: 1\nb: \xff\n", "agent.yaml:2:4: ", "invalid leading UTF-8 octet"},
        {"a: 1\nb: \"\x01\"\n", "agent.yaml:2:5: ", "control characters are not allowed"},
        {"a: b: c\n", "agent.yaml:1:5: ", "mapping values are not allowed in this context"},
        {"%YAML 2.0\n--- a\n", "agent.yaml:1:1: ", "found incompatible YAML document"},
        {"a: 1\n--- [\n", "agent.yaml:3:1: ", "did not find expected node content"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *msg = load_fail(cases[i].yaml, strlen(cases[i].yaml), NULL, SLIC_ECONFIG);
        if (strncmp(msg, cases[i].where, strlen(cases[i].where)) != 0 ||
            !strstr(msg, cases[i].what))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\", want \"%s...%s\"", i, msg,
                         cases[i].where, cases[i].what);
    }
}

static void test_refused_constructs(void)
{
    static const struct bad_case cases[] = {
        {"a: &x 1\nb: *x\n",
         "agent.yaml:1:4: ", "anchors (&x) are not supported; write the value out"},
        {"a: !!str 1\n", "agent.yaml:1:4: ", "tags (tag:yaml.org,2002:str) are not supported"},
        {"a: !custom {b: 1}\n", "agent.yaml:1:4: ", "tags (!custom) are not supported"},
        {"a: &m {b: 1}\n", "agent.yaml:1:4: ", "anchors (&m)"},
        {"- &s [1]\n", "agent.yaml:1:3: ", "anchors (&s)"},
        {"a: 1\nb: 2\na: 3\n", "agent.yaml:3:1: ", "duplicate key 'a' (first at line 1)"},
        {"x:\n  y: 1\n  y: 2\n", "agent.yaml:3:3: ", "duplicate key 'y' (first at line 2)"},
        {"[a]: 1\n", "agent.yaml:1:1: ", "a mapping key must be a plain value"},
        {"? {a: 1}\n: 2\n", "agent.yaml:1:3: ", "a mapping key must be a plain value"},
        {"a: \"x\\0y\"\n", "agent.yaml:1:4: ", "value contains a NUL character"},
        /* The billion laughs stop at the first anchor. */
        {"a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a]\nc: [*b,*b]\n", "agent.yaml:1:4: ", "anchors"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *msg = load_fail(cases[i].yaml, strlen(cases[i].yaml), NULL, SLIC_ECONFIG);
        if (strncmp(msg, cases[i].where, strlen(cases[i].where)) != 0 ||
            !strstr(msg, cases[i].what))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\", want \"%s...%s\"", i, msg,
                         cases[i].where, cases[i].what);
    }
    /* An alias without an anchor is reported as an alias (libyaml accepts it as an event). */
    const char *msg = load_fail("a: *nowhere\n", 12, NULL, SLIC_ECONFIG);
    check_contains(msg, "aliases (*nowhere) are not supported", "alias");
}

/* Mappings beyond 16 keys take the sorting path of the duplicate check. */
static void test_duplicate_keys_large_mapping(void)
{
    char text[4096];
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "k%03d: %d\n", (i * 37) % 200, i);
    slic_yaml_stream *s = load(text);
    CHECK_INT_EQ(slic_yaml_len(slic_yaml_doc(s, 0)), 200);
    slic_yaml_destroy(s);
    /* Keys are k(37 i mod 200) on line i + 1, so k185 first appears on line 6 (i = 5). */
    n += (size_t)snprintf(text + n, sizeof text - n, "k%03d: again\n", (5 * 37) % 200);
    const char *msg = load_fail(text, n, NULL, SLIC_ECONFIG);
    CHECK_STR_EQ(msg, "agent.yaml:201:1: duplicate key 'k185' (first at line 6)");
}

/* ---- caps ---- */

static char *repeat(const char *open, int n, const char *mid, const char *close)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *s = malloc((size_t)n * (lo + lc) + lm + 1);
    CHECK(s != NULL);
    size_t k = 0;
    for (int i = 0; i < n; i++, k += lo)
        memcpy(s + k, open, lo);
    memcpy(s + k, mid, lm);
    k += lm;
    for (int i = 0; i < n; i++, k += lc)
        memcpy(s + k, close, lc);
    s[k] = '\0';
    return s;
}

static void test_depth_cap(void)
{
    char *ok = repeat("[", 64, "1", "]");
    slic_yaml_stream *s = load(ok);
    slic_yaml_destroy(s);
    free(ok);
    char *deep = repeat("[", 65, "1", "]");
    const char *msg = load_fail(deep, strlen(deep), NULL, SLIC_ETOOBIG);
    CHECK_STR_EQ(msg, "agent.yaml:1:65: nested deeper than 64 levels");
    free(deep);
    /* Block style counts the same. */
    char block[8192];
    size_t n = 0;
    for (int i = 0; i < 70; i++)
        n += (size_t)snprintf(block + n, sizeof block - n, "%*sk:\n", i, "");
    msg = load_fail(block, n, NULL, SLIC_ETOOBIG);
    CHECK_STR_EQ(msg, "agent.yaml:65:65: nested deeper than 64 levels");
    /* A million brackets fail fast and in bounded memory. */
    char *huge = repeat("[", 1000000, "", "");
    load_fail(huge, strlen(huge), NULL, SLIC_ETOOBIG);
    /* A caller's own depth applies, up to a hard ceiling of 1024. */
    struct slic_yaml_limits lim = {.max_depth = 3};
    msg = load_fail("a: {b: {c: [1]}}\n", 17, &lim, SLIC_ETOOBIG);
    CHECK_STR_EQ(msg, "agent.yaml:1:12: nested deeper than 3 levels");
    lim.max_depth = 100000;
    msg = load_fail(huge, strlen(huge), &lim, SLIC_ETOOBIG);
    CHECK_STR_EQ(msg, "agent.yaml:1:1025: nested deeper than 1024 levels");
    free(huge);
}

static void test_node_and_size_caps(void)
{
    struct slic_yaml_limits lim = {.max_nodes = 10};
    slic_yaml_stream *s = NULL;
    CHECK_OK(slic_yaml_load_string("agent.yaml", "[1,2,3,4,5,6,7,8,9]", 19, &lim, &s, NULL));
    slic_yaml_destroy(s);
    const char *msg = load_fail("[1,2,3,4,5,6,7,8,9,10]", 22, &lim, SLIC_ETOOBIG);
    CHECK_STR_EQ(msg, "agent.yaml:1:20: more than 10 YAML nodes");
    /* Keys count: the mapping, three keys and three values make seven. */
    lim.max_nodes = 6;
    msg = load_fail("{a: 1, b: 2, c: 3}", 18, &lim, SLIC_ETOOBIG);
    CHECK_STR_EQ(msg, "agent.yaml:1:17: more than 6 YAML nodes");

    /* The default node cap holds against a flat list of many tiny items. */
    size_t items = SLIC_YAML_DEFAULT_MAX_NODES + 1;
    char *many = malloc(items * 2 + 3);
    CHECK(many != NULL);
    many[0] = '[';
    for (size_t i = 0; i < items; i++) {
        many[1 + 2 * i] = '1';
        many[2 + 2 * i] = ',';
    }
    many[items * 2] = ']';
    many[items * 2 + 1] = '\0';
    msg = load_fail(many, items * 2 + 1, NULL, SLIC_ETOOBIG);
    check_contains(msg, "more than 262144 YAML nodes", "default node cap");
    free(many);

    lim = (struct slic_yaml_limits){.max_bytes = 100};
    char text[101];
    memset(text, 'a', sizeof text);
    msg = load_fail(text, 101, &lim, SLIC_ETOOBIG);
    CHECK_STR_EQ(msg, "agent.yaml: 101 bytes is over the 100-byte limit");
    CHECK_OK(slic_yaml_load_string("agent.yaml", text, 100, &lim, &s, NULL));
    CHECK_INT_EQ(strlen(slic_yaml_text(slic_yaml_doc(s, 0))), 100);
    CHECK_INT_EQ(strspn(slic_yaml_text(slic_yaml_doc(s, 0)), "a"), 100);
    slic_yaml_destroy(s);
}

static void test_file_size_cap(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/huge.yaml", harness_tmpdir());
    size_t len = SLIC_YAML_DEFAULT_MAX_BYTES + 1;
    char *big = malloc(len);
    CHECK(big != NULL);
    memset(big, '#', len); /* one long comment: valid YAML if it were allowed */
    write_file(path, big, len);
    slic_yaml_stream *s = NULL;
    struct slic_errmsg err = {{0}};
    CHECK_ERR(slic_yaml_load_file(path, NULL, &s, &err), SLIC_ETOOBIG);
    CHECK(s == NULL);
    check_contains(err.text, path, "huge file");
    check_contains(err.text, "over the 4194304-byte limit", "huge file");
    /* Exactly at the cap loads. */
    write_file(path, big, len - 1);
    CHECK_OK(slic_yaml_load_file(path, NULL, &s, &err));
    CHECK_INT_EQ(slic_yaml_doc_count(s), 0);
    slic_yaml_destroy(s);
    free(big);
}

/* ---- allocation failures ---- */

static const char alloc_yaml[] = "a: 1\nb: [x, y, {c: d}]\n---\n"
                                 "k00: 0\nk01: 1\nk02: 2\nk03: 3\nk04: 4\nk05: 5\nk06: 6\n"
                                 "k07: 7\nk08: 8\nk09: 9\nk10: 10\nk11: 11\nk12: 12\n"
                                 "k13: 13\nk14: 14\nk15: 15\nk16: 16\nk17: 17\n---\n- 1\n";

/* Fails the first, second, ... allocation of a load until it succeeds: every failure must
 * report SLIC_ENOMEM and leak nothing (ASan's leak check runs at exit). */
static void test_alloc_failures(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/alloc.yaml", harness_tmpdir());
    write_file(path, alloc_yaml, strlen(alloc_yaml));
    for (int from_file = 0; from_file < 2; from_file++) {
        long n = 0;
        for (;; n++) {
            slic_yaml_stream *s = NULL;
            struct slic_errmsg err = {{0}};
            slic_alloc_fail_after(n);
            int rc = from_file ? slic_yaml_load_file(path, NULL, &s, &err)
                               : slic_yaml_load_string("agent.yaml", alloc_yaml, strlen(alloc_yaml),
                                                       NULL, &s, &err);
            slic_alloc_fail_after(-1);
            if (rc == 0) {
                CHECK_INT_EQ(slic_yaml_doc_count(s), 3);
                CHECK_INT_EQ(slic_yaml_len(slic_yaml_doc(s, 1)), 18);
                slic_yaml_destroy(s);
                break;
            }
            if (rc != SLIC_ENOMEM)
                harness_fail(__FILE__, __LINE__, "failing allocation %ld: %s (%s)", n,
                             slic_errname(rc), err.text);
            CHECK(s == NULL);
            check_contains(err.text, "out of memory", "ENOMEM message");
        }
        CHECK(n > 20); /* every node, array and the duplicate check were exercised */
    }

    slic_yaml_stream *s = load("l: [a, b, c]\n");
    const char **list = NULL;
    size_t count = 0;
    struct slic_errmsg err = {{0}};
    slic_alloc_fail_after(0);
    int rc = slic_yaml_get_strings(slic_yaml_doc(s, 0), "l", 0, &list, &count, &err);
    slic_alloc_fail_after(-1);
    CHECK_ERR(rc, SLIC_ENOMEM);
    CHECK(list == NULL);
    CHECK_STR_EQ(err.text, "agent.yaml:1: key 'l': out of memory");
    slic_yaml_destroy(s);
}

/* ---- sizes ---- */

static void test_size_parse(void)
{
    static const struct {
        const char *in;
        int rc;
        uint64_t want;
    } cases[] = {
        {"4096", 0, 4096},
        {"4096B", 0, 4096},
        {"1GiB", 0, UINT64_C(1073741824)},
        {"512MiB", 0, UINT64_C(536870912)},
        {"10MB", 0, UINT64_C(10000000)},
        {"10mb", 0, UINT64_C(10000000)},
        {"1kB", 0, 1000},
        {"1KB", 0, 1000},
        {"1KiB", 0, 1024},
        {"2TiB", 0, UINT64_C(2199023255552)},
        {"1PB", 0, UINT64_C(1000000000000000)},
        {"1.5GiB", 0, UINT64_C(1610612736)},
        {"0.5KiB", 0, 512},
        {"1.5", 0, 2}, /* rounded to the nearest byte */
        {"1.4", 0, 1},
        {"0.0001KiB", 0, 0},
        {"0", 0, 0},
        {"18446744073709551615", 0, UINT64_MAX},
        {"15.999999999999999999PiB", 0, UINT64_C(18014398509481984)},
        {"18446744073709551616", SLIC_ERANGE, 0},
        {"16384PiB", SLIC_ERANGE, 0},
        {"18446744073709551615.5", SLIC_ERANGE, 0},
        {"", SLIC_EINVAL, 0},
        {"-1", SLIC_EINVAL, 0},
        {"+1", SLIC_EINVAL, 0},
        {"1 GiB", SLIC_EINVAL, 0},
        {"GiB", SLIC_EINVAL, 0},
        {"1.GiB", SLIC_EINVAL, 0},
        {".5GiB", SLIC_EINVAL, 0},
        {"1EiB", SLIC_EINVAL, 0},
        {"1Gi", SLIC_EINVAL, 0},
        {"1.0000000000000000001KiB", SLIC_EINVAL, 0},
        {"0x10", SLIC_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = 99;
        int rc = slic_size_parse(cases[i].in, &v);
        if (rc != cases[i].rc || (rc == 0 && v != cases[i].want) || (rc != 0 && v != 99))
            harness_fail(__FILE__, __LINE__, "\"%s\": %s %llu, want %s %llu", cases[i].in,
                         slic_errname(rc), (unsigned long long)v, slic_errname(cases[i].rc),
                         (unsigned long long)cases[i].want);
    }
}

HARNESS_CASES(HARNESS_CASE(test_tree), HARNESS_CASE(test_null_spellings),
              HARNESS_CASE(test_multi_document), HARNESS_CASE(test_load_file),
              HARNESS_CASE(test_getters_values), HARNESS_CASE(test_getter_errors),
              HARNESS_CASE(test_item_conversions_and_custom_errors),
              HARNESS_CASE(test_path_truncation), HARNESS_CASE(test_check_keys),
              HARNESS_CASE(test_malformed_yaml), HARNESS_CASE(test_refused_constructs),
              HARNESS_CASE(test_duplicate_keys_large_mapping), HARNESS_CASE(test_depth_cap),
              HARNESS_CASE(test_node_and_size_caps), HARNESS_CASE(test_file_size_cap),
              HARNESS_CASE(test_alloc_failures), HARNESS_CASE(test_size_parse));

HARNESS_MAIN()
