/* Tests of slic-aggregator's configuration loading (aggregator/config.c): defaults, a full file,
 * and every mistake an operator can make, each reported with file, line and key. */
#include "harness.h"

#include "alloc.h"
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void test_defaults(void)
{
    struct agg_config c;
    CHECK_OK(agg_config_defaults(&c));
    CHECK_STR_EQ(c.listen, "tcp://127.0.0.1:7710");
    CHECK_STR_EQ(c.data_dir, "./slic-data");
    CHECK_STR_EQ(c.http_listen, "127.0.0.1:7711");
    CHECK(c.durable);
    CHECK_INT_EQ(c.retention[0], 2 * 86400);
    CHECK_INT_EQ(c.retention[1], 30 * 86400);
    CHECK_INT_EQ(c.retention[2], 400 * 86400);
    CHECK_U64_EQ(c.max_request_bytes, 4u << 20);
    CHECK_INT_EQ(c.max_future_seconds, 600);
    agg_config_fini(&c);
}

static void test_full_file(void)
{
    const char *path = harness_write_file("agg.yaml", "listen: tcp://127.0.0.1:9999\n"
                                              "data_dir: /var/lib/slic\n"
                                              "durable: false\n"
                                              "log_level: debug\n"
                                              "http:\n"
                                              "  listen: \"[::1]:9090\"\n"
                                              "store:\n"
                                              "  map_size: 64MiB\n"
                                              "  map_size_max: 1GiB\n"
                                              "retention:\n"
                                              "  10s: 1d\n"
                                              "  1m: 7d\n"
                                              "  1h: 90d\n"
                                              "limits:\n"
                                              "  max_request: 1MiB\n"
                                              "  contexts: 16\n"
                                              "  max_future: 5m\n"
                                              "  label_sets_per_sli: 50\n");
    struct agg_config c;
    struct slic_errmsg err = {{0}};
    CHECK_OK(agg_config_load(path, &c, &err));
    CHECK_STR_EQ(c.source, path);
    CHECK_STR_EQ(c.listen, "tcp://127.0.0.1:9999");
    CHECK_STR_EQ(c.data_dir, "/var/lib/slic");
    CHECK(!c.durable);
    CHECK_INT_EQ(c.log_level, SLIC_LOG_DEBUG);
    CHECK_STR_EQ(c.http_listen, "[::1]:9090");
    CHECK_U64_EQ(c.map_size, 64u << 20);
    CHECK_U64_EQ(c.map_size_max, 1u << 30);
    CHECK_INT_EQ(c.retention[0], 86400);
    CHECK_INT_EQ(c.retention[2], 90 * 86400);
    CHECK_U64_EQ(c.max_request_bytes, 1u << 20);
    CHECK_INT_EQ(c.contexts, 16);
    CHECK_INT_EQ(c.max_future_seconds, 300);
    CHECK_INT_EQ(c.max_label_sets_per_sli, 50);
    agg_config_fini(&c);
}

static void test_empty_file_is_defaults(void)
{
    const char *path = harness_write_file("empty.yaml", "");
    struct agg_config c;
    CHECK_OK(agg_config_load(path, &c, NULL));
    CHECK_STR_EQ(c.listen, "tcp://127.0.0.1:7710");
    agg_config_fini(&c);
}

/* Each bad file must fail with a message naming the file, the line and this text. */
static const struct {
    const char *text;
    int line;
    const char *want;
} bad_files[] = {
    {"listen: 127.0.0.1:7710\n", 1, "tcp://"},
    {"lisen: tcp://127.0.0.1:1\n", 1, "did you mean 'listen'"},
    {"durable: maybe\n", 1, "durable"},
    {"log_level: loud\n", 1, "debug, info, warn or error"},
    {"store:\n  map_size: 2GiB\n  map_size_max: 1GiB\n", 3, "map_size_max"},
    {"store:\n  map_size: lots\n", 2, "map_size"},
    {"retention:\n  10s: 40d\n", 2, "coarser rollups"},
    {"retention:\n  1h: forever\n", 2, "retention.1h"},
    {"limits:\n  contexts: 0\n", 2, "contexts"},
    {"limits:\n  max_future: -5m\n", 2, "max_future"},
    {"limits: [1, 2]\n", 1, "limits"},
    {"listen: tcp://a:1\n---\nlisten: tcp://b:2\n", 3, "one YAML document"},
    {"http:\n  listen: localhost:7711\n", 2, "host names are not resolved"},
    {"http:\n  listen: 127.0.0.1:65536\n", 2, "http.listen"},
    {"http:\n  listen: 127.0.0.1\n", 2, "127.0.0.1:7711"},
    {"http:\n  listen: \"[::1:7711\"\n", 2, "[::1]:7711"},
    {"http:\n  listen:\n", 2, "http.listen"},
    {"http:\n  lisen: 127.0.0.1:1\n", 2, "did you mean 'listen'"},
    {"http: 127.0.0.1:7711\n", 1, "http"},
    {"listen: \"tcp://unclosed\n", 2, "quoted scalar"},
};

static void test_bad_files_name_line_and_key(void)
{
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.yaml", i);
        const char *path = harness_write_file(name, bad_files[i].text);
        struct agg_config c;
        struct slic_errmsg err = {{0}};
        int rc = agg_config_load(path, &c, &err);
        if (rc == 0)
            harness_fail(__FILE__, __LINE__, "case %zu accepted: %s", i, bad_files[i].text);
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, bad_files[i].line);
        if (!strstr(err.text, where) || !strstr(err.text, bad_files[i].want))
            harness_fail(__FILE__, __LINE__, "case %zu: message \"%s\" lacks \"%s\" or \"%s\"", i,
                         err.text, where, bad_files[i].want);
    }
}

/* The example shipped for operators must load, and spell out the defaults. */
static void test_example_file_loads(void)
{
    struct agg_config c, d;
    struct slic_errmsg err = {{0}};
    if (agg_config_load("examples/slic-aggregator.yaml", &c, &err) != 0)
        harness_fail(__FILE__, __LINE__, "example config: %s", err.text);
    CHECK_OK(agg_config_defaults(&d));
    CHECK_STR_EQ(c.listen, d.listen);
    CHECK_STR_EQ(c.data_dir, d.data_dir);
    CHECK_STR_EQ(c.http_listen, d.http_listen);
    CHECK_U64_EQ(c.map_size, d.map_size);
    CHECK_U64_EQ(c.map_size_max, d.map_size_max);
    for (int i = 0; i < 3; i++)
        CHECK_INT_EQ(c.retention[i], d.retention[i]);
    CHECK_INT_EQ(c.contexts, d.contexts);
    CHECK_INT_EQ(c.max_future_seconds, d.max_future_seconds);
    CHECK_INT_EQ(c.expire_interval_seconds, d.expire_interval_seconds);
    CHECK_DBL_EQ(c.slo_evaluate_interval, d.slo_evaluate_interval);
    CHECK_U64_EQ(c.n_slo_paths, 0);
    agg_config_fini(&c);
    agg_config_fini(&d);
}

/* "" turns the HTTP side off; any numeric address and port, IPv6 in brackets, is taken. */
static void test_http_listen(void)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"http:\n  listen: \"\"\n", ""},
        {"http:\n  listen: 0.0.0.0:80\n", "0.0.0.0:80"},
        {"http:\n  listen: \"[::]:7711\"\n", "[::]:7711"},
        {"http:\n  listen: 127.0.0.1:0\n", "127.0.0.1:0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = harness_write_file("http.yaml", cases[i].yaml);
        struct agg_config c;
        struct slic_errmsg err = {{0}};
        if (agg_config_load(path, &c, &err) != 0)
            harness_fail(__FILE__, __LINE__, "case %zu rejected: %s", i, err.text);
        CHECK_STR_EQ(c.http_listen, cases[i].want);
        agg_config_fini(&c);
    }
}

/* slo: paths are kept in order, the interval is a duration; mistakes name line and key. */
static void test_slo_section(void)
{
    const char *path = harness_write_file("slo.yaml", "slo:\n"
                                              "  paths: [/etc/slic/slo.d, extra.yaml]\n"
                                              "  evaluate_interval: 30s\n");
    struct agg_config c;
    struct slic_errmsg err = {{0}};
    if (agg_config_load(path, &c, &err) != 0)
        harness_fail(__FILE__, __LINE__, "rejected: %s", err.text);
    CHECK_U64_EQ(c.n_slo_paths, 2);
    CHECK_STR_EQ(c.slo_paths[0], "/etc/slic/slo.d");
    CHECK_STR_EQ(c.slo_paths[1], "extra.yaml");
    CHECK_DBL_EQ(c.slo_evaluate_interval, 30);
    agg_config_fini(&c);
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"slo:\n  evaluate_interval: 500ms\n", "slo.yaml:2"},
        {"slo:\n  paths: /etc/slic\n", "slo.yaml:2"},
        {"slo:\n  path: [a]\n", "did you mean 'paths'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = harness_write_file("slo.yaml", bad[i].yaml);
        CHECK_ERR(agg_config_load(path, &c, &err), SLIC_ECONFIG);
        if (!strstr(err.text, bad[i].want))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, err.text,
                         bad[i].want);
    }
    /* Every allocation failing in turn leaves nothing behind. */
    path = harness_write_file("slo.yaml", "slo:\n  paths: [a, b, c]\n");
    for (long n = 0;; n++) {
        slic_alloc_fail_after(n);
        int rc = agg_config_load(path, &c, NULL);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            CHECK_STR_EQ(c.slo_paths[2], "c");
            agg_config_fini(&c);
            break;
        }
        CHECK_ERR(rc, SLIC_ENOMEM);
        CHECK(n < 10000);
    }
}

static void test_missing_file(void)
{
    struct agg_config c;
    struct slic_errmsg err = {{0}};
    CHECK_ERR(agg_config_load("/nonexistent/slic.yaml", &c, &err), -ENOENT);
    CHECK(strstr(err.text, "/nonexistent/slic.yaml") != NULL);
}

static void test_allocation_failures(void)
{
    const char *path = harness_write_file("agg.yaml", "listen: tcp://127.0.0.1:9999\n"
                                              "data_dir: /tmp/x\n");
    for (long n = 0;; n++) {
        struct agg_config c;
        slic_alloc_fail_after(n);
        int rc = agg_config_load(path, &c, NULL);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            CHECK_STR_EQ(c.data_dir, "/tmp/x");
            agg_config_fini(&c);
            break;
        }
        CHECK_ERR(rc, SLIC_ENOMEM);
        CHECK(n < 10000);
    }
}

HARNESS_CASES(HARNESS_CASE(test_defaults), HARNESS_CASE(test_full_file),
              HARNESS_CASE(test_empty_file_is_defaults),
              HARNESS_CASE(test_bad_files_name_line_and_key), HARNESS_CASE(test_example_file_loads),
              HARNESS_CASE(test_http_listen), HARNESS_CASE(test_slo_section),
              HARNESS_CASE(test_missing_file),
              HARNESS_CASE(test_allocation_failures));

HARNESS_MAIN()
