/* Tests of the aggregator's checks on batches (aggregator/validate.c): the signature check that
 * comes before decoding, the clock and limit checks after it; and of the log rate limiter that
 * keeps rejections from flooding the log (aggregator/ratelimit.c). */
#include "harness.h"

#include "alloc.h"
#include "codec_batch.h"
#include "hmac.h"
#include "ratelimit.h"
#include "validate.h"

#include <string.h>

#define NOW 1800000000 /* a multiple of 10 */

static struct slic_label route_labels[3][1] = {
    {{"route", "/a"}}, {{"route", "/b"}}, {{"route", "/c"}}};

static struct slic_batch batch_of(struct slic_series *s, size_t n)
{
    return (struct slic_batch){.agent_id = "a1",
                               .site = "eu",
                               .node = "n1",
                               .epoch = 1,
                               .seq = 1,
                               .series = s,
                               .n_series = n};
}

static const struct agg_batch_limits limits = {600, 400 * 86400, 2};

static void test_window_in_range_accepted(void)
{
    struct slic_series s[2] = {
        {.sli = "checkout", .window_start = NOW - 10, .window_seconds = 10},
        {.sli = "checkout", .window_start = NOW + 590, .window_seconds = 10}};
    struct slic_batch b = batch_of(s, 2);
    CHECK_OK(agg_batch_check(&b, NOW, &limits, NULL));
}

static void test_future_window_rejected(void)
{
    struct slic_series s = {.sli = "checkout", .window_start = NOW + 600, .window_seconds = 10};
    struct slic_batch b = batch_of(&s, 1);
    struct slic_errmsg err = {{0}};
    CHECK_ERR(agg_batch_check(&b, NOW, &limits, &err), SLIC_EINVAL);
    CHECK(strstr(err.text, "series[0] (checkout)") && strstr(err.text, "610 s in the future"));
}

static void test_too_old_window_rejected(void)
{
    struct slic_series s = {
        .sli = "checkout", .window_start = NOW - 401 * 86400, .window_seconds = 10};
    struct slic_batch b = batch_of(&s, 1);
    struct slic_errmsg err = {{0}};
    CHECK_ERR(agg_batch_check(&b, NOW, &limits, &err), SLIC_EINVAL);
    CHECK(strstr(err.text, "coarsest retention") != NULL);
    s.window_start = NOW - 399 * 86400;
    CHECK_OK(agg_batch_check(&b, NOW, &limits, NULL));
}

static void test_label_set_cardinality(void)
{
    struct slic_series s[4];
    for (int i = 0; i < 3; i++)
        s[i] = (struct slic_series){.sli = "checkout",
                                    .labels = route_labels[i],
                                    .n_labels = 1,
                                    .window_start = NOW - 10,
                                    .window_seconds = 10};
    /* A repeat of a label set in another window does not count twice. */
    s[3] = s[0];
    s[3].window_start = NOW - 20;
    struct slic_batch b = batch_of(s, 2);
    CHECK_OK(agg_batch_check(&b, NOW, &limits, NULL));
    b = batch_of(s, 4);
    struct slic_errmsg err = {{0}};
    CHECK_ERR(agg_batch_check(&b, NOW, &limits, &err), SLIC_EINVAL);
    CHECK(strstr(err.text, "more than 2 distinct label sets") != NULL);
    /* Another SLI has a budget of its own. */
    s[2].sli = "search";
    CHECK_OK(agg_batch_check(&b, NOW, &limits, NULL));
}

/* ---- signatures ---------------------------------------------------------------------------- */

#define SECRET "a secret of at least thirty-two bytes, for the tests"

static agg_auth *auth_of(bool require_signed)
{
    struct agg_auth_options o = {.secret = (const uint8_t *)SECRET,
                                 .secret_len = strlen(SECRET),
                                 .require_signed = require_signed};
    agg_auth *a = NULL;
    CHECK_OK(agg_auth_create(&o, &a, NULL));
    return a;
}

/* The serialized batch_of(NULL, 0) (which claims agent_id a1) with this seq, and its HMAC under
 * the key of agent_id key_of. */
static uint8_t *signed_batch(uint64_t seq, const char *key_of, size_t *len,
                             uint8_t mac[SLIC_HMAC_LEN])
{
    struct slic_batch b = batch_of(NULL, 0);
    b.seq = seq;
    uint8_t *bytes = NULL, key[SLIC_HMAC_LEN];
    CHECK_OK(codec_batch_pack(&b, &bytes, len));
    CHECK_OK(slic_agent_key_derive((const uint8_t *)SECRET, strlen(SECRET), key_of, key));
    CHECK_OK(slic_hmac_sha256(key, sizeof key, bytes, *len, mac));
    return bytes;
}

/* Every verdict, with the agent_id claimed and a reason for the Ack that names the fix. */
static void test_auth_verdicts(void)
{
    size_t len, other_len;
    uint8_t mac[SLIC_HMAC_LEN], other_agent[SLIC_HMAC_LEN], seq2_mac[SLIC_HMAC_LEN];
    uint8_t *bytes = signed_batch(1, "a1", &len, mac);
    slic_free(signed_batch(2, "a1", &other_len, seq2_mac));
    slic_free(signed_batch(1, "a2", &other_len, other_agent));
    agg_auth *required = auth_of(true), *rollout = auth_of(false);
    char claimed[SLIC_NAME_MAX + 1];
    struct slic_errmsg why = {{0}};
    CHECK_INT_EQ(agg_auth_check(required, bytes, len, mac, sizeof mac, claimed, &why), AGG_AUTH_OK);
    CHECK_STR_EQ(claimed, "a1");
    CHECK_INT_EQ(agg_auth_check(required, bytes, len, NULL, 0, claimed, &why), AGG_AUTH_UNSIGNED);
    CHECK(strstr(why.text, "signature: missing") != NULL);
    CHECK_INT_EQ(agg_auth_check(rollout, bytes, len, NULL, 0, claimed, NULL), AGG_AUTH_UNCHECKED);
    /* Signed by another agent's key, over other bytes, or cut short: wrong either way. */
    const struct {
        const uint8_t *mac;
        size_t len;
    } wrong[] = {{other_agent, sizeof other_agent}, {seq2_mac, sizeof seq2_mac}, {mac, 16}};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        memset(&why, 0, sizeof why);
        CHECK_INT_EQ(agg_auth_check(rollout, bytes, len, wrong[i].mac, wrong[i].len, claimed, &why),
                     AGG_AUTH_FORGED);
        CHECK_STR_EQ(claimed, "a1");
        CHECK(strstr(why.text, "key of agent_id a1") != NULL);
    }
    static const uint8_t junk[] = {0xff, 0xff};
    CHECK_INT_EQ(agg_auth_check(required, junk, sizeof junk, mac, sizeof mac, claimed, &why),
                 AGG_AUTH_MALFORMED);
    CHECK_STR_EQ(claimed, "?");
    agg_auth_destroy(required);
    agg_auth_destroy(rollout);
    slic_free(bytes);
}

/* No auth at all, or TLS files without a secret: nothing is checked, whatever the signature. */
static void test_auth_unchecked_without_secret(void)
{
    size_t len;
    uint8_t mac[SLIC_HMAC_LEN];
    uint8_t *bytes = signed_batch(1, "a1", &len, mac);
    char claimed[SLIC_NAME_MAX + 1];
    CHECK_INT_EQ(agg_auth_check(NULL, bytes, len, mac, sizeof mac, claimed, NULL),
                 AGG_AUTH_UNCHECKED);
    struct agg_auth_options o = {
        .tls_cert_file = "c.pem", .tls_key_file = "k.pem", .tls_client_ca_file = "ca.pem"};
    agg_auth *tls_only = NULL;
    CHECK_OK(agg_auth_create(&o, &tls_only, NULL));
    CHECK(!agg_auth_signs(tls_only));
    CHECK_STR_EQ(agg_auth_tls(tls_only)->client_ca_file, "ca.pem");
    CHECK_INT_EQ(agg_auth_check(tls_only, bytes, len, NULL, 0, claimed, NULL), AGG_AUTH_UNCHECKED);
    agg_auth_destroy(tls_only);
    struct slic_errmsg err = {{0}};
    agg_auth *a = NULL;
    CHECK_ERR(agg_auth_create(
                  &(struct agg_auth_options){.secret = (const uint8_t *)"short", .secret_len = 5},
                  &a, &err),
              SLIC_EINVAL);
    CHECK(a == NULL);
    slic_free(bytes);
}

static void test_ratelimit_once_per_period(void)
{
    agg_ratelimit *r = NULL;
    CHECK_OK(agg_ratelimit_create(64, 60000, &r));
    uint64_t held = 99;
    CHECK(agg_ratelimit_allow(r, "a1|bad sum", 1000, &held));
    CHECK_U64_EQ(held, 0);
    CHECK(!agg_ratelimit_allow(r, "a1|bad sum", 2000, &held));
    CHECK(!agg_ratelimit_allow(r, "a1|bad sum", 60999, &held));
    CHECK(agg_ratelimit_allow(r, "a2|bad sum", 3000, &held)); /* another agent */
    CHECK(agg_ratelimit_allow(r, "a1|bad sum", 61000, &held));
    CHECK_U64_EQ(held, 2);
    agg_ratelimit_destroy(r);
    agg_ratelimit_destroy(NULL);
}

HARNESS_CASES(HARNESS_CASE(test_window_in_range_accepted),
              HARNESS_CASE(test_future_window_rejected), HARNESS_CASE(test_too_old_window_rejected),
              HARNESS_CASE(test_label_set_cardinality), HARNESS_CASE(test_auth_verdicts),
              HARNESS_CASE(test_auth_unchecked_without_secret),
              HARNESS_CASE(test_ratelimit_once_per_period));

HARNESS_MAIN()
