/* Tests of slic-aggregator's configuration loading (aggregator/config.c): defaults, a full file,
 * and every mistake an operator can make, each reported with file, line and key. */
#include "harness.h"

#include "alloc.h"
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

/* ---- tls: and auth: ------------------------------------------------------------------------ */

#define SECRET "0123456789abcdef0123456789abcdef"

/* Writes name in the case's directory with mode and returns its path in buf. */
static const char *file_at(char *buf, size_t size, const char *name, const char *text, mode_t mode)
{
    const char *p = harness_write_file(name, text);
    CHECK_OK(chmod(p, mode));
    snprintf(buf, size, "%s", p);
    return buf;
}

/* The load only checks that the files can be read (the key privately): PEM is parsed when the
 * listener starts. */
struct tls_files {
    char cert[512], key[512], ca[512], secret[512];
};

static void tls_files_make(struct tls_files *t, mode_t key_mode, mode_t secret_mode,
                           const char *secret)
{
    file_at(t->cert, sizeof t->cert, "server.crt", "CERT\n", 0644);
    file_at(t->key, sizeof t->key, "server.key", "KEY\n", key_mode);
    file_at(t->ca, sizeof t->ca, "ca.crt", "CA\n", 0644);
    file_at(t->secret, sizeof t->secret, "secret", secret, secret_mode);
}

static int load_text(const char *text, struct agg_config *c, struct slic_errmsg *err)
{
    return agg_config_load(harness_write_file("sec.yaml", text), c, err);
}

static void test_tls_and_auth(void)
{
    struct tls_files t;
    tls_files_make(&t, 0600, 0600, SECRET "\n");
    char text[4096];
    snprintf(text, sizeof text,
             "listen: tls+tcp://0.0.0.0:7710\n"
             "tls:\n  cert_file: %s\n  key_file: %s\n  client_ca_file: %s\n"
             "auth:\n  secret_file: %s\n",
             t.cert, t.key, t.ca, t.secret);
    struct agg_config c;
    struct slic_errmsg err = {{0}};
    if (load_text(text, &c, &err) != 0)
        harness_fail(__FILE__, __LINE__, "rejected: %s", err.text);
    CHECK_STR_EQ(c.tls_cert_file, t.cert);
    CHECK_STR_EQ(c.tls_key_file, t.key);
    CHECK_STR_EQ(c.tls_client_ca_file, t.ca);
    CHECK_STR_EQ(c.auth_secret_file, t.secret);
    CHECK_U64_EQ(c.auth_secret_len, strlen(SECRET)); /* the newline is not part of it */
    CHECK(memcmp(c.auth_secret, SECRET, strlen(SECRET)) == 0);
    CHECK(c.auth_require_signed);
    CHECK_OK(agg_config_check_tls(&c, &err));
    agg_config_fini(&c);
    /* A secret on a plain listener, and the rollout switch. */
    snprintf(text, sizeof text, "auth:\n  secret_file: %s\n  require_signed_batches: false\n",
             t.secret);
    CHECK_OK(load_text(text, &c, &err));
    CHECK(!c.auth_require_signed && c.auth_secret && !c.tls_cert_file);
    agg_config_fini(&c);
    /* Defaults: neither. */
    CHECK_OK(agg_config_defaults(&c));
    CHECK(!c.tls_cert_file && !c.auth_secret && c.auth_require_signed);
    agg_config_fini(&c);
}

static void test_tls_and_auth_mistakes(void)
{
    struct tls_files t;
    char text[4096], tls[2048];
    struct agg_config c;
    struct slic_errmsg err = {{0}};
    tls_files_make(&t, 0600, 0600, SECRET);
    snprintf(tls, sizeof tls, "tls:\n  cert_file: %s\n  key_file: %s\n  client_ca_file: %s\n",
             t.cert, t.key, t.ca);
    static const struct {
        const char *head, *want;
        bool with_tls;
    } cases[] = {
        {"listen: tls+tcp://127.0.0.1:7710\n", "needs a tls: section", false},
        {"listen: tcp://127.0.0.1:7710\n", "not a tls+tcp:// URL", true},
        {"", "not a tls+tcp:// URL", true}, /* the default listen is tcp:// */
        {"listen: tls+tcp://127.0.0.1:7710\ntls:\n  cert_file: /x\n", "key_file", false},
        {"tls:\n  cert_file: /x\n  key_file: /y\n  client_ca_file: /z\n  client_ca: 1\n",
         "unknown key 'tls.client_ca'", false},
        {"listen: tls+tcp://127.0.0.1:7710\ntls:\n  cert_file: /nonexistent/c.pem\n"
         "  key_file: /x\n  client_ca_file: /y\n",
         "/nonexistent/c.pem", false},
        {"auth:\n  require_signed_batches: true\n", "secret_file", false},
        {"auth:\n  secret_file: /nonexistent/secret\n", "/nonexistent/secret", false},
        {"auth:\n  secret_fil: x\n", "did you mean 'secret_file'", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s", cases[i].head, cases[i].with_tls ? tls : "");
        if (load_text(text, &c, &err) == 0)
            harness_fail(__FILE__, __LINE__, "case %zu accepted", i);
        if (!strstr(err.text, cases[i].want) || !strstr(err.text, "sec.yaml:"))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, err.text,
                         cases[i].want);
    }
    /* A key file or secret others may read; a secret too short. Never the contents. */
    static const struct {
        mode_t key_mode, secret_mode;
        const char *secret, *want;
    } files[] = {
        {0640, 0600, SECRET, "chmod 600"},
        {0600, 0604, SECRET, "chmod 600"},
        {0600, 0600, "too short\n", "openssl rand"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        tls_files_make(&t, files[i].key_mode, files[i].secret_mode, files[i].secret);
        snprintf(text, sizeof text,
                 "listen: tls+tcp://127.0.0.1:7710\n"
                 "tls:\n  cert_file: %s\n  key_file: %s\n  client_ca_file: %s\n"
                 "auth:\n  secret_file: %s\n",
                 t.cert, t.key, t.ca, t.secret);
        CHECK_ERR(load_text(text, &c, &err), SLIC_ECONFIG);
        if (!strstr(err.text, files[i].want) || strstr(err.text, "0123456789") ||
            strstr(err.text, "too short"))
            harness_fail(__FILE__, __LINE__, "case %zu: \"%s\"", i, err.text);
    }
    /* The listen URL changed after loading (--listen): the caller's check catches it. */
    CHECK_OK(agg_config_defaults(&c));
    slic_free(c.listen);
    c.listen = slic_malloc(32);
    CHECK(c.listen != NULL);
    snprintf(c.listen, 32, "tls+tcp://127.0.0.1:1");
    CHECK_ERR(agg_config_check_tls(&c, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "tls+tcp://127.0.0.1:1") != NULL);
    agg_config_fini(&c);
}

static void test_read_secret(void)
{
    struct tls_files t;
    tls_files_make(&t, 0600, 0600, SECRET);
    struct agg_config c;
    struct slic_errmsg err = {{0}};
    CHECK_OK(agg_config_defaults(&c));
    CHECK_OK(agg_config_read_secret(&c, t.secret, "--secret-file", &err));
    CHECK_U64_EQ(c.auth_secret_len, strlen(SECRET));
    CHECK_STR_EQ(c.auth_secret_file, t.secret);
    CHECK_OK(chmod(t.secret, 0644));
    CHECK_ERR(agg_config_read_secret(&c, t.secret, "--secret-file", &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "--secret-file") != NULL);
    CHECK_U64_EQ(c.auth_secret_len, strlen(SECRET)); /* the one read before stays */
    agg_config_fini(&c);
}

/* ---- upstream: ------------------------------------------------------------------------------ */

static void test_upstream(void)
{
    struct agg_config c;
    struct slic_errmsg err = {{0}};
    CHECK_OK(agg_config_defaults(&c));
    CHECK(c.upstream_url == NULL); /* no upstream unless configured */
    agg_config_fini(&c);

    char key[512], text[2048];
    file_at(key, sizeof key, "up.key",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600);
    snprintf(text, sizeof text,
             "upstream:\n  url: tcp://global:7710\n  id: eu-west\n  max_queue: 64MiB\n"
             "  ack_timeout: 2s\n  backoff_max: 10s\n  auth:\n    key_file: %s\n",
             key);
    if (load_text(text, &c, &err) != 0)
        harness_fail(__FILE__, __LINE__, "rejected: %s", err.text);
    CHECK_STR_EQ(c.upstream_url, "tcp://global:7710");
    CHECK_STR_EQ(c.upstream_id, "eu-west");
    CHECK_U64_EQ(c.upstream_max_queue, 64u << 20);
    CHECK_DBL_EQ(c.upstream_ack_timeout, 2);
    CHECK_DBL_EQ(c.upstream_backoff_max, 10);
    CHECK_STR_EQ(c.upstream_key_file, key);
    agg_config_fini(&c);

    /* The id defaults to the host name, made a valid name. */
    CHECK_OK(load_text("upstream:\n  url: tcp://global:7710\n", &c, &err));
    CHECK(c.upstream_id != NULL && c.upstream_id[0] != '\0' && !strchr(c.upstream_id, '.'));
    CHECK_U64_EQ(c.upstream_max_queue, 1u << 30);
    agg_config_fini(&c);
}

static void test_upstream_mistakes(void)
{
    char key[512], open_key[1024];
    file_at(key, sizeof key, "open.key", "00", 0644);
    snprintf(open_key, sizeof open_key, "upstream:\n  url: tcp://g:1\n  auth:\n    key_file: %s\n",
             key);
    static const struct {
        const char *yaml, *key;
    } bad[] = {
        {"upstream:\n  id: x\n", "url"},
        {"upstream:\n  url: http://g:1\n", "url"},
        {"upstream:\n  url: tls+tcp://g:1\n", "url"},
        {"upstream:\n  url: tcp://g:1\n  id: 'no spaces'\n", "id"},
        {"upstream:\n  url: tcp://g:1\n  tls:\n    ca_file: x\n", "tls"},
        {"upstream:\n  url: tcp://g:1\n  max_queue: 10\n", "max_queue"},
        {"upstream:\n  url: tcp://g:1\n  colour: red\n", "colour"},
        {NULL, "key_file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct agg_config c;
        struct slic_errmsg err = {{0}};
        const char *yaml = bad[i].yaml ? bad[i].yaml : open_key;
        if (load_text(yaml, &c, &err) == 0)
            harness_fail(__FILE__, __LINE__, "accepted: %s", yaml);
        if (!strstr(err.text, bad[i].key) || !strstr(err.text, "sec.yaml"))
            harness_fail(__FILE__, __LINE__, "'%s' does not name %s and the file", err.text,
                         bad[i].key);
    }
}

HARNESS_CASES(HARNESS_CASE(test_defaults), HARNESS_CASE(test_full_file),
              HARNESS_CASE(test_empty_file_is_defaults),
              HARNESS_CASE(test_bad_files_name_line_and_key), HARNESS_CASE(test_example_file_loads),
              HARNESS_CASE(test_http_listen), HARNESS_CASE(test_slo_section),
              HARNESS_CASE(test_missing_file), HARNESS_CASE(test_allocation_failures),
              HARNESS_CASE(test_tls_and_auth), HARNESS_CASE(test_tls_and_auth_mistakes),
              HARNESS_CASE(test_read_secret), HARNESS_CASE(test_upstream),
              HARNESS_CASE(test_upstream_mistakes));

HARNESS_MAIN()
