/* Tests of the aggregator's clock and limit checks on batches (aggregator/validate.c) and of the
 * log rate limiter that keeps rejections from flooding the log (aggregator/ratelimit.c). */
#include "harness.h"

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
              HARNESS_CASE(test_label_set_cardinality),
              HARNESS_CASE(test_ratelimit_once_per_period));

HARNESS_MAIN()
