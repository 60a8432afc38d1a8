/* Tests of slic-agent's configuration loading (agent/config.c, agent/config_sources.c):
 * defaults, the shipped example, and mistakes reported with file, line and key. */
#include "harness.h"

#include "alloc.h"
#include "agent/config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
    CHECK_OK(
        agent_config_load(harness_write_file("b.yaml", "node: web-17\nagent_id: a1\n"), &c, NULL));
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
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\" or \"%s\"", i, err.text,
                         where, bad_files[i].want);
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

/* ---- tls: and auth: ------------------------------------------------------------------------ */

#define KEY_HEX "0668c3ad84c86cbeb2387b6a6be7f8aa386c38f8ce5acdbadec328f9c7940620"

static const char *file_at(char *buf, size_t size, const char *name, const char *text, mode_t mode)
{
    const char *p = harness_write_file(name, text);
    CHECK_OK(chmod(p, mode));
    snprintf(buf, size, "%s", p);
    return buf;
}

struct agent_files {
    char ca[512], cert[512], key[512], agent_key[512];
};

/* The load checks only that the files can be read (keys privately); PEM is parsed when the
 * sender starts. */
static void agent_files_make(struct agent_files *f, mode_t key_mode, const char *agent_key,
                             mode_t agent_key_mode)
{
    file_at(f->ca, sizeof f->ca, "ca.crt", "CA\n", 0644);
    file_at(f->cert, sizeof f->cert, "agent.crt", "CERT\n", 0644);
    file_at(f->key, sizeof f->key, "agent.key", "KEY\n", key_mode);
    file_at(f->agent_key, sizeof f->agent_key, "batch.key", agent_key, agent_key_mode);
}

static int load_text(const char *text, struct agent_config *c, struct slic_errmsg *err)
{
    return agent_config_load(harness_write_file("sec.yaml", text), c, err);
}

static void test_tls_and_auth(void)
{
    struct agent_files f;
    agent_files_make(&f, 0600, KEY_HEX "\n", 0600);
    char text[4096];
    snprintf(text, sizeof text,
             "aggregator: tls+tcp://agg.example:7710\n"
             "tls:\n  ca_file: %s\n  cert_file: %s\n  key_file: %s\n  server_name: agg\n"
             "auth:\n  key_file: %s\n",
             f.ca, f.cert, f.key, f.agent_key);
    struct agent_config c;
    struct slic_errmsg err = {{0}};
    if (load_text(text, &c, &err) != 0)
        harness_fail(__FILE__, __LINE__, "rejected: %s", err.text);
    CHECK_STR_EQ(c.tls_ca_file, f.ca);
    CHECK_STR_EQ(c.tls_cert_file, f.cert);
    CHECK_STR_EQ(c.tls_key_file, f.key);
    CHECK_STR_EQ(c.tls_server_name, "agg");
    CHECK_STR_EQ(c.auth_key_file, f.agent_key);
    CHECK(c.auth_key_set);
    CHECK(c.auth_key[0] == 0x06 && c.auth_key[1] == 0x68 && c.auth_key[31] == 0x20);
    agent_config_fini(&c);
    /* CA only (an agent without a client certificate), and a key on a plain connection. */
    snprintf(text, sizeof text, "aggregator: tls+tcp://agg:7710\ntls:\n  ca_file: %s\n", f.ca);
    CHECK_OK(load_text(text, &c, &err));
    CHECK(c.tls_ca_file && !c.tls_cert_file && !c.tls_server_name && !c.auth_key_set);
    agent_config_fini(&c);
    snprintf(text, sizeof text, "auth:\n  key_file: %s\n", f.agent_key);
    CHECK_OK(load_text(text, &c, &err));
    CHECK(c.auth_key_set && !c.tls_ca_file);
    agent_config_fini(&c);
}

static void test_tls_and_auth_mistakes(void)
{
    struct agent_files f;
    agent_files_make(&f, 0600, KEY_HEX, 0600);
    char text[4096], tls[2048];
    struct agent_config c;
    struct slic_errmsg err = {{0}};
    snprintf(tls, sizeof tls, "tls:\n  ca_file: %s\n", f.ca);
    static const struct {
        const char *head, *want;
        bool with_tls;
    } cases[] = {
        {"aggregator: tls+tcp://agg:7710\n", "needs a tls: section", false},
        {"aggregator: tcp://agg:7710\n", "not a tls+tcp:// URL", true},
        {"", "not a tls+tcp:// URL", true},
        {"aggregator: tls+tcp://agg:7710\ntls:\n  cert_file: /x\n  key_file: /y\n", "ca_file",
         false},
        {"aggregator: tls+tcp://agg:7710\ntls:\n  ca_file: /x\n  cert_file: /y\n", "go together",
         false},
        {"aggregator: tls+tcp://agg:7710\ntls:\n  ca_file: /nonexistent/ca.pem\n",
         "/nonexistent/ca.pem", false},
        {"auth: {}\n", "key_file", false},
        {"auth:\n  key_file: /nonexistent/k\n", "/nonexistent/k", false},
        {"auth:\n  keyfile: /k\n", "did you mean 'key_file'", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s", cases[i].head, cases[i].with_tls ? tls : "");
        if (load_text(text, &c, &err) == 0)
            harness_fail(__FILE__, __LINE__, "case %zu accepted", i);
        if (!strstr(err.text, cases[i].want) || !strstr(err.text, "sec.yaml:"))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, err.text,
                         cases[i].want);
    }
    /* Keys others may read, and a key file that is not a key: refused, never quoted. */
    static const struct {
        mode_t key_mode, agent_key_mode;
        const char *agent_key, *want;
    } files[] = {
        {0644, 0600, KEY_HEX, "chmod 600"},
        {0600, 0640, KEY_HEX, "chmod 600"},
        {0600, 0600, "0668c3ad84c86cbeb2387b6a6be7f8aa\n", "--agent-key"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        agent_files_make(&f, files[i].key_mode, files[i].agent_key, files[i].agent_key_mode);
        snprintf(text, sizeof text,
                 "aggregator: tls+tcp://agg:7710\n"
                 "tls:\n  ca_file: %s\n  cert_file: %s\n  key_file: %s\n"
                 "auth:\n  key_file: %s\n",
                 f.ca, f.cert, f.key, f.agent_key);
        CHECK_ERR(load_text(text, &c, &err), SLIC_ECONFIG);
        if (!strstr(err.text, files[i].want) || strstr(err.text, "0668c3ad"))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\"", i, err.text);
    }
    /* The URL changed after loading (--aggregator): the caller's check catches it. */
    CHECK_OK(agent_config_defaults(&c));
    CHECK_OK(agent_config_set_string(&c.aggregator, "tls+tcp://agg:1"));
    CHECK_ERR(agent_config_check_tls(&c, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "tls+tcp://agg:1") != NULL);
    agent_config_fini(&c);
}

HARNESS_CASES(HARNESS_CASE(test_defaults), HARNESS_CASE(test_example_loads),
              HARNESS_CASE(test_agent_id_follows_node_unless_set),
              HARNESS_CASE(test_bad_files_name_line_and_key),
              HARNESS_CASE(test_allocation_failures), HARNESS_CASE(test_tls_and_auth),
              HARNESS_CASE(test_tls_and_auth_mistakes));

HARNESS_MAIN()
