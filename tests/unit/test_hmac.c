/* Tests of common/hmac.c: HMAC-SHA256 against the RFC 4231 vectors, per-agent key derivation
 * against a vector computed with the openssl CLI (an independent implementation), hex, and the
 * checks on key and secret files: private, bounded, regular, newline-tolerant, and never quoted
 * in an error message. */
#include "harness.h"

#include "alloc.h"
#include "batch.h"
#include "hmac.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    slic_hex_encode(b, n, out);
}

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    CHECK_OK(slic_hex_decode(hex, strlen(hex), out, n));
    return n;
}

/* ---- HMAC-SHA256 --------------------------------------------------------------------------- */

/* RFC 4231 section 4: test cases 1-7 (case 5's output is truncated to 128 bits there). */
static void rfc4231_vectors(void)
{
    static const struct {
        const char *key_hex;
        size_t key_repeat; /* key_hex is one byte repeated this often; 0: key_hex as is */
        const char *data;
        size_t data_repeat_byte; /* data is this many bytes of data[0]; 0: data as text */
        const char *mac_hex;
    } cases[] = {
        {"0b", 20, "Hi There", 0,
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"4a656665", 0, "what do ya want for nothing?", 0,
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"aa", 20, "\xdd", 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {"0102030405060708090a0b0c0d0e0f10111213141516171819", 0, "\xcd", 50,
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {"0c", 20, "Test With Truncation", 0, "a3b6167473100ee06e0c796c2955552b"},
        {"aa", 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0,
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {"aa", 131,
         "This is a test using a larger than block-size key and a larger than block-size data. "
         "The key needs to be hashed before being used by the HMAC algorithm.",
         0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t key[256], data[256], mac[SLIC_HMAC_LEN], want[SLIC_HMAC_LEN];
        size_t key_len = unhex(cases[i].key_hex, key);
        for (size_t k = 1; k < cases[i].key_repeat; k++)
            key[k] = key[0];
        if (cases[i].key_repeat)
            key_len = cases[i].key_repeat;
        size_t data_len = strlen(cases[i].data);
        memcpy(data, cases[i].data, data_len);
        if (cases[i].data_repeat_byte) {
            data_len = cases[i].data_repeat_byte;
            memset(data, cases[i].data[0], data_len);
        }
        size_t want_len = unhex(cases[i].mac_hex, want);
        CHECK_OK(slic_hmac_sha256(key, key_len, data, data_len, mac));
        if (memcmp(mac, want, want_len) != 0) {
            char got[2 * SLIC_HMAC_LEN + 1];
            hex_of(mac, want_len, got);
            harness_fail(__FILE__, __LINE__, "RFC 4231 case %zu: %s, expected %s", i + 1, got,
                         cases[i].mac_hex);
        }
        /* Case 5 gives only the truncated MAC, which a full-length check must refuse. */
        CHECK(slic_hmac_sha256_verify(key, key_len, data, data_len, mac, SLIC_HMAC_LEN));
        CHECK(!slic_hmac_sha256_verify(key, key_len, data, data_len, want, want_len) ||
              want_len == SLIC_HMAC_LEN);
    }
}

static void verify_refuses_near_misses(void)
{
    const uint8_t key[] = "a key of some length";
    const uint8_t msg[] = "the exact bytes of a batch";
    uint8_t mac[SLIC_HMAC_LEN];
    CHECK_OK(slic_hmac_sha256(key, sizeof key, msg, sizeof msg, mac));
    CHECK(slic_hmac_sha256_verify(key, sizeof key, msg, sizeof msg, mac, sizeof mac));
    /* Every single-bit flip of the MAC, of the message and of the key is refused. */
    for (size_t i = 0; i < sizeof mac * 8; i++) {
        mac[i / 8] ^= (uint8_t)(1u << (i % 8));
        CHECK(!slic_hmac_sha256_verify(key, sizeof key, msg, sizeof msg, mac, sizeof mac));
        mac[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    uint8_t m2[sizeof msg], k2[sizeof key];
    memcpy(m2, msg, sizeof msg);
    m2[3] ^= 0x20;
    memcpy(k2, key, sizeof key);
    k2[0] ^= 1;
    CHECK(!slic_hmac_sha256_verify(key, sizeof key, m2, sizeof m2, mac, sizeof mac));
    CHECK(!slic_hmac_sha256_verify(k2, sizeof k2, msg, sizeof msg, mac, sizeof mac));
    /* Truncated or extended MACs, a missing MAC, one byte less of message. */
    CHECK(!slic_hmac_sha256_verify(key, sizeof key, msg, sizeof msg, mac, sizeof mac - 1));
    CHECK(!slic_hmac_sha256_verify(key, sizeof key, msg, sizeof msg, mac, 16));
    CHECK(!slic_hmac_sha256_verify(key, sizeof key, msg, sizeof msg, NULL, 0));
    CHECK(!slic_hmac_sha256_verify(key, sizeof key, msg, sizeof msg - 1, mac, sizeof mac));
    uint8_t longer[SLIC_HMAC_LEN + 1];
    memcpy(longer, mac, sizeof mac);
    longer[SLIC_HMAC_LEN] = 0;
    CHECK(!slic_hmac_sha256_verify(key, sizeof key, msg, sizeof msg, longer, sizeof longer));
}

static void equal_ct(void)
{
    CHECK(slic_equal_ct("abcdef", "abcdef", 6));
    CHECK(!slic_equal_ct("abcdef", "abcdeg", 6));
    CHECK(!slic_equal_ct("xbcdef", "abcdef", 6));
    CHECK(slic_equal_ct("a", "b", 0));
}

/* ---- key derivation ------------------------------------------------------------------------ */

#define SECRET "0123456789abcdef0123456789abcdef"

/* The vector: printf 'slic-agent-key-v1\0agent-1' |
 *   openssl dgst -sha256 -mac HMAC -macopt hexkey:$(printf SECRET | xxd -p -c 64) */
static void derive_known_answer(void)
{
    uint8_t key[SLIC_HMAC_LEN];
    char hex[SLIC_AGENT_KEY_HEX_LEN + 1];
    CHECK_OK(slic_agent_key_derive((const uint8_t *)SECRET, strlen(SECRET), "agent-1", key));
    hex_of(key, sizeof key, hex);
    CHECK_STR_EQ(hex, "0668c3ad84c86cbeb2387b6a6be7f8aa386c38f8ce5acdbadec328f9c7940620");
}

static void derive_separates_agents_and_secrets(void)
{
    const uint8_t *s = (const uint8_t *)SECRET;
    uint8_t a[SLIC_HMAC_LEN], b[SLIC_HMAC_LEN], c[SLIC_HMAC_LEN], d[SLIC_HMAC_LEN];
    CHECK_OK(slic_agent_key_derive(s, strlen(SECRET), "agent-1", a));
    CHECK_OK(slic_agent_key_derive(s, strlen(SECRET), "agent-2", b));
    CHECK_OK(slic_agent_key_derive(s, strlen(SECRET), "agent-10", c));
    CHECK(memcmp(a, b, sizeof a) != 0 && memcmp(a, c, sizeof a) != 0);
    /* The same id under another secret (one more byte) gives another key. */
    const char longer[] = SECRET "!";
    CHECK_OK(slic_agent_key_derive((const uint8_t *)longer, strlen(longer), "agent-1", d));
    CHECK(memcmp(a, d, sizeof a) != 0);
    /* Deterministic: provisioning and verification must agree. */
    CHECK_OK(slic_agent_key_derive(s, strlen(SECRET), "agent-1", d));
    CHECK(memcmp(a, d, sizeof a) == 0);
    /* A derived key is not the HMAC of the bare id: the label and separator are in the input. */
    CHECK_OK(slic_hmac_sha256(s, strlen(SECRET), (const uint8_t *)"agent-1", 7, d));
    CHECK(memcmp(a, d, sizeof a) != 0);
}

static void derive_refuses_bad_input(void)
{
    uint8_t key[SLIC_HMAC_LEN];
    const uint8_t *s = (const uint8_t *)SECRET;
    CHECK_ERR(slic_agent_key_derive(s, SLIC_SECRET_MIN - 1, "agent-1", key), SLIC_EINVAL);
    CHECK_ERR(slic_agent_key_derive(s, strlen(SECRET), "", key), SLIC_EINVAL);
    CHECK_ERR(slic_agent_key_derive(s, strlen(SECRET), "agent 1", key), SLIC_EINVAL);
    CHECK_ERR(slic_agent_key_derive(s, strlen(SECRET), NULL, key), SLIC_EINVAL);
    char id[SLIC_NAME_MAX + 2];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    CHECK_ERR(slic_agent_key_derive(s, strlen(SECRET), id, key), SLIC_EINVAL);
    id[SLIC_NAME_MAX] = '\0'; /* exactly the longest name */
    CHECK_OK(slic_agent_key_derive(s, strlen(SECRET), id, key));
}

/* ---- hex ----------------------------------------------------------------------------------- */

static void hex_round_trip(void)
{
    uint8_t in[256], out[256];
    char hex[2 * sizeof in + 1];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)i;
    slic_hex_encode(in, sizeof in, hex);
    CHECK_INT_EQ(strlen(hex), 2 * sizeof in);
    CHECK(strncmp(hex, "000102", 6) == 0 && strcmp(hex + 2 * 255, "ff") == 0);
    CHECK_OK(slic_hex_decode(hex, strlen(hex), out, sizeof out));
    CHECK(memcmp(in, out, sizeof in) == 0);
    CHECK_OK(slic_hex_decode("ABcdEf", 6, out, 3));
    CHECK(out[0] == 0xab && out[1] == 0xcd && out[2] == 0xef);
}

static void hex_refuses_bad_input(void)
{
    uint8_t out[3] = {1, 2, 3};
    CHECK_ERR(slic_hex_decode("abcd", 4, out, 3), SLIC_EINVAL);     /* too short */
    CHECK_ERR(slic_hex_decode("abcdef00", 8, out, 3), SLIC_EINVAL); /* too long */
    CHECK_ERR(slic_hex_decode("abcdeg", 6, out, 3), SLIC_EINVAL);
    CHECK(out[0] == 0 && out[1] == 0 && out[2] == 0); /* wiped, not half-written */
    CHECK_ERR(slic_hex_decode("ab cd ", 6, out, 3), SLIC_EINVAL);
    CHECK_ERR(slic_hex_decode("0xabcd", 6, out, 3), SLIC_EINVAL);
}

/* ---- files --------------------------------------------------------------------------------- */

static const char *write_mode(const char *name, const char *text, mode_t mode)
{
    const char *path = harness_write_file(name, text);
    CHECK_OK(chmod(path, mode));
    return path;
}

#define KEY_HEX "0668c3ad84c86cbeb2387b6a6be7f8aa386c38f8ce5acdbadec328f9c7940620"

static void key_file_read(void)
{
    uint8_t key[SLIC_HMAC_LEN], want[SLIC_HMAC_LEN];
    struct slic_errmsg err = {{0}};
    unhex(KEY_HEX, want);
    static const char *const forms[] = {KEY_HEX, KEY_HEX "\n", KEY_HEX "\r\n"};
    for (size_t i = 0; i < 3; i++) {
        const char *p = write_mode("agent.key", forms[i], 0600);
        CHECK_OK(slic_agent_key_file_read(p, "auth.key_file", key, &err));
        CHECK(memcmp(key, want, sizeof key) == 0);
    }
    CHECK_OK(slic_agent_key_file_read(write_mode("agent.key", KEY_HEX, 0400), "k", key, &err));
}

/* Refused: open to group or others in any way, with the chmod that fixes it. */
static void key_file_must_be_private(void)
{
    uint8_t key[SLIC_HMAC_LEN];
    static const mode_t modes[] = {0640, 0604, 0644, 0660, 0606, 0610, 0601, 0666};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        struct slic_errmsg err = {{0}};
        const char *p = write_mode("agent.key", KEY_HEX "\n", modes[i]);
        CHECK_ERR(slic_agent_key_file_read(p, "auth.key_file", key, &err), SLIC_ECONFIG);
        CHECK(strstr(err.text, "auth.key_file") && strstr(err.text, p));
        CHECK(strstr(err.text, "chmod 600"));
        CHECK(!strstr(err.text, "0668c3ad")); /* never the contents */
    }
}

static void key_file_contents_checked_not_quoted(void)
{
    uint8_t key[SLIC_HMAC_LEN];
    static const char *const bad[] = {
        "0668c3ad84c86cbeb2387b6a6be7f8aa386c38f8ce5acdbadec328f9c79406",     /* short */
        "0668c3ad84c86cbeb2387b6a6be7f8aa386c38f8ce5acdbadec328f9c7940620aa", /* long */
        "0668c3ad84c86cbeb2387b6a6be7f8aa386c38f8ce5acdbadec328f9c794062z",   /* not hex */
        " 0668c3ad84c86cbeb2387b6a6be7f8aa386c38f8ce5acdbadec328f9c7940620",  /* space */
        KEY_HEX "\n\n",                                                       /* two newlines */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct slic_errmsg err = {{0}};
        const char *p = write_mode("agent.key", bad[i], 0600);
        CHECK_ERR(slic_agent_key_file_read(p, "auth.key_file", key, &err), SLIC_ECONFIG);
        CHECK(strstr(err.text, "--agent-key"));
        CHECK(!strstr(err.text, "0668c3ad"));
    }
}

static void secret_file_read(void)
{
    uint8_t *s = NULL;
    size_t n = 0;
    struct slic_errmsg err = {{0}};
    const char *p = write_mode("secret", SECRET "\n", 0600);
    CHECK_OK(slic_secret_file_read(p, "auth.secret_file", &s, &n, &err));
    CHECK_INT_EQ(n, strlen(SECRET));
    CHECK(memcmp(s, SECRET, n) == 0);
    slic_file_free((char *)s, n);
    /* Too short: 31 bytes, even with a newline making the file 32. */
    p = write_mode("secret", "0123456789abcdef0123456789abcde\n", 0600);
    CHECK_ERR(slic_secret_file_read(p, "auth.secret_file", &s, &n, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "31 bytes") && strstr(err.text, "openssl rand"));
    CHECK(!strstr(err.text, "0123456789"));
    p = write_mode("secret", SECRET, 0644);
    CHECK_ERR(slic_secret_file_read(p, "--secret-file", &s, &n, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "--secret-file") && strstr(err.text, "chmod 600"));
}

static void secret_file_bounded(void)
{
    char big[SLIC_SECRET_MAX + 64];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    uint8_t *s = NULL;
    size_t n = 0;
    struct slic_errmsg err = {{0}};
    const char *p = write_mode("secret", big, 0600);
    CHECK_ERR(slic_secret_file_read(p, "auth.secret_file", &s, &n, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "right file"));
    big[SLIC_SECRET_MAX] = '\0'; /* exactly the largest */
    p = write_mode("secret", big, 0600);
    CHECK_OK(slic_secret_file_read(p, "auth.secret_file", &s, &n, &err));
    CHECK_INT_EQ(n, SLIC_SECRET_MAX);
    slic_file_free((char *)s, n);
}

static void files_that_are_not_files(void)
{
    uint8_t key[SLIC_HMAC_LEN];
    struct slic_errmsg err = {{0}};
    char path[512];
    snprintf(path, sizeof path, "%s/missing.key", harness_tmpdir());
    CHECK_ERR(slic_agent_key_file_read(path, "auth.key_file", key, &err), -ENOENT);
    CHECK(strstr(err.text, path) && strstr(err.text, "auth.key_file"));
    CHECK_ERR(slic_agent_key_file_read(harness_tmpdir(), "auth.key_file", key, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, "not a regular file"));
    CHECK_ERR(slic_agent_key_file_read("/dev/null", "auth.key_file", key, &err), SLIC_ECONFIG);
    CHECK_ERR(slic_agent_key_file_read(write_mode("empty", "", 0600), "k", key, &err),
              SLIC_ECONFIG);
    CHECK(strstr(err.text, "empty"));
    /* A FIFO where a key should be: refused at once, not waited on. */
    snprintf(path, sizeof path, "%s/fifo", harness_tmpdir());
    CHECK_OK(mkfifo(path, 0600));
    CHECK_ERR(slic_agent_key_file_read(path, "auth.key_file", key, &err), SLIC_ECONFIG);
}

/* PEM text for TLS: public files need not be private, and keep their newlines. */
static void file_read_text(void)
{
    char *buf = NULL;
    size_t n = 0;
    struct slic_errmsg err = {{0}};
    const char *p = write_mode("ca.pem", "-----BEGIN X-----\nabc\n-----END X-----\n", 0644);
    CHECK_OK(slic_file_read(p, 1 << 20, 0, "tls.ca_file", &buf, &n, &err));
    CHECK_STR_EQ(buf, "-----BEGIN X-----\nabc\n-----END X-----\n");
    CHECK_INT_EQ(n, strlen(buf));
    slic_file_free(buf, n);
    CHECK_ERR(slic_file_read(p, 16, 0, "tls.ca_file", &buf, &n, &err), SLIC_ECONFIG);
    CHECK_ERR(slic_file_read(p, 1 << 20, SLIC_FILE_PRIVATE, "tls.key_file", &buf, &n, &err),
              SLIC_ECONFIG);
}

static void out_of_memory(void)
{
    uint8_t key[SLIC_HMAC_LEN];
    struct slic_errmsg err = {{0}};
    const char *p = write_mode("agent.key", KEY_HEX, 0600);
    slic_alloc_fail_after(0);
    int rc = slic_agent_key_file_read(p, "auth.key_file", key, &err);
    slic_alloc_fail_after(-1);
    CHECK_ERR(rc, SLIC_ENOMEM);
}

HARNESS_CASES(HARNESS_CASE(rfc4231_vectors), HARNESS_CASE(verify_refuses_near_misses),
              HARNESS_CASE(equal_ct), HARNESS_CASE(derive_known_answer),
              HARNESS_CASE(derive_separates_agents_and_secrets),
              HARNESS_CASE(derive_refuses_bad_input), HARNESS_CASE(hex_round_trip),
              HARNESS_CASE(hex_refuses_bad_input), HARNESS_CASE(key_file_read),
              HARNESS_CASE(key_file_must_be_private),
              HARNESS_CASE(key_file_contents_checked_not_quoted), HARNESS_CASE(secret_file_read),
              HARNESS_CASE(secret_file_bounded), HARNESS_CASE(files_that_are_not_files),
              HARNESS_CASE(file_read_text), HARNESS_CASE(out_of_memory));
HARNESS_MAIN()
