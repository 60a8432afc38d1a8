/* Tests of slic-agent's configuration loading (agent/config.c, agent/config_sources.c):
 * defaults, the shipped example, and mistakes reported with file, line and key. */
#include "harness.h"

#include "alloc.h"
#include "agent/config.h"

#include <stdio.h>
#include <string.h>

static void test_defaults(void)
{
    struct agent_config c;
    CHECK_OK(agent_config_defaults(&c));
    CHECK_STR_EQ(c.site, "local");
    CHECK_STR_EQ(c.aggregator, "tcp://127.0.0.1:7710");
    CHECK_STR_EQ(c.udp, "127.0.0.1:8125");
    CHECK_STR_EQ(c.unix_path, "./slic-agent.sock");
    CHECK_STR_EQ(c.spool_dir, "./slic-spool");
    CHECK_U64_EQ(c.spool_max_bytes, 1ull << 30);
    CHECK_INT_EQ(c.window_seconds, 10);
    CHECK(slic_name_valid(c.node));
    CHECK_STR_EQ(c.agent_id, c.node);
    agent_config_fini(&c);
}

static void test_example_loads(void)
{
    struct agent_config c;
    struct slic_errmsg err = {{0}};
    if (agent_config_load("examples/slic-agent.yaml", &c, &err) != 0)
        harness_fail(__FILE__, __LINE__, "example: %s", err.text);
    CHECK_INT_EQ(c.n_probes, 2);
    CHECK_INT_EQ(c.probes[0].kind, AGENT_PROBE_HTTP);
    CHECK_INT_EQ(c.probes[1].kind, AGENT_PROBE_TCP);
    CHECK_INT_EQ(c.n_tails, 2);
    CHECK_INT_EQ(c.tails[1].format, AGENT_TAIL_JSON);
    CHECK(c.tails[1].latency_unit_s == 1e-3);
    CHECK_INT_EQ(c.n_thresholds, 1);
    CHECK_INT_EQ(c.thresholds[0].n_thresholds, 2);
    CHECK(c.thresholds[0].thresholds[0] == 0.3);
    CHECK_INT_EQ(c.n_label_keys, 1);
    agent_config_fini(&c);
}

static void test_agent_id_follows_node_unless_set(void)
{
    struct agent_config c;
    CHECK_OK(agent_config_load(harness_write_file("a.yaml", "node: web-17\n"), &c, NULL));
    CHECK_STR_EQ(c.agent_id, "web-17");
    agent_config_fini(&c);
    CHECK_OK(agent_config_load(harness_write_file("b.yaml", "node: web-17\nagent_id: a1\n"), &c, NULL));
    CHECK_STR_EQ(c.agent_id, "a1");
    agent_config_fini(&c);
}

static const struct {
    const char *text;
    int line;
    const char *want;
} bad_files[] = {
    {"aggregator: 10.0.0.1:7710\n", 1, "nng URL"},
    {"window: 15s\n", 1, "multiple of 10s"},
    {"site: \"eu zrh\"\n", 1, "site"},
    {"labels: [route, \"bad key\"]\n", 1, "not a label key"},
    {"spool:\n  max_size: huge\n", 2, "max_size"},
    {"listen:\n  udpp: 1.2.3.4:1\n", 2, "did you mean 'udp'"},
    {"probes:\n  - sli: x\n    interval: 5s\n", 2, "exactly one of http"},
    {"probes:\n  - sli: x\n    http: ftp://h/\n", 3, "http:// or https://"},
    {"probes:\n  - sli: x\n    http: http://h/\n    expect_status: [700]\n", 4, "expect_status"},
    {"probes:\n  - sli: x\n    tcp: h:1\n    interval: 1s\n    timeout: 2s\n", 5, "shorter"},
    {"access_logs:\n  - sli: web\n", 2, "path"},
    {"access_logs:\n  - sli: web\n    path: /x\n    format: csv\n", 4, "combined or json"},
    {"slis:\n  checkout:\n    thresholds: [1s, 300ms]\n", 3, "ascend"},
};

static void test_bad_files_name_line_and_key(void)
{
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.yaml", i);
        const char *path = harness_write_file(name, bad_files[i].text);
        struct agent_config c;
        struct slic_errmsg err = {{0}};
        if (agent_config_load(path, &c, &err) == 0)
            harness_fail(__FILE__, __LINE__, "case %zu accepted: %s", i, bad_files[i].text);
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, bad_files[i].line);
        if (!strstr(err.text, where) || !strstr(err.text, bad_files[i].want))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\" or \"%s\"", i,
                         err.text, where, bad_files[i].want);
    }
}

static void test_allocation_failures(void)
{
    for (long n = 0;; n++) {
        struct agent_config c;
        slic_alloc_fail_after(n);
        int rc = agent_config_load("examples/slic-agent.yaml", &c, NULL);
        slic_alloc_fail_after(-1);
        if (rc == 0) {
            agent_config_fini(&c);
            break;
        }
        CHECK_ERR(rc, SLIC_ENOMEM);
        CHECK(n < 100000);
    }
}

HARNESS_CASES(HARNESS_CASE(test_defaults), HARNESS_CASE(test_example_loads),
              HARNESS_CASE(test_agent_id_follows_node_unless_set),
              HARNESS_CASE(test_bad_files_name_line_and_key),
              HARNESS_CASE(test_allocation_failures));

HARNESS_MAIN()
