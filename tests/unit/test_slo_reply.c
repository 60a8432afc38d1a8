/* Tests of the JSON of SLO replies (aggregator/reply_json_slo.c) on hand-built SloInfo messages,
 * without an engine: the exact bytes of a full SLO (key order, number and time formats, what is
 * null), of a message with every field absent, and of hostile values a Reply off the network
 * may hold; a reply that went through the wire renders as before it; damaged wire bytes never
 * crash the decoder or the renderer; allocation failures are SLIC_ENOMEM. The engine's own
 * replies are tested in test_slo_engine.c, the CLI's tables end to end in tests/e2e/cli_slo.sh.
 *
 * Cases:
 *   json_full          an evaluated threshold SLO with one site: exact bytes
 *   json_absent        every field absent: nulls, empty containers, "burn_rates": null
 *   json_one_scope     with_sites false: no "sites"; lists of none and of two
 *   json_hostile       NaN and infinities, a label without key, control characters, invalid
 *                      UTF-8, an unknown window kind, a burn rate without window
 *   json_wire          pack + unpack keeps the bytes the renderer prints
 *   json_damaged_wire  flipped and cut bytes: decode fails cleanly or renders
 *   json_enomem        every allocation failing in turn */
#include "harness.h"

#include "alloc.h"
#include "codec.h"
#include "codec_batch.h"
#include "err.h"
#include "reply_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a full SLO: latency <= 300ms, 99%, rolling 28d; evaluated across sites, site eu not ---- */

struct sample {
    Slic__SloInfo info;
    Slic__Label label, *labels[1];
    char *patterns[1];
    Slic__SloWindow window;
    Slic__SloScope all, eu, *sites[1];
    Slic__SloBurnRate burn[2], *burn_ptrs[2];
    Slic__SloAlert alert, *alerts[1], eu_alert, *eu_alerts[1];
};

static void sample_alert(Slic__SloAlert *a)
{
    slic__slo_alert__init(a);
    a->severity = "page";
    a->has_long_window_seconds = a->has_short_window_seconds = a->has_burn_rate_threshold = 1;
    a->long_window_seconds = 3600;
    a->short_window_seconds = 300;
    a->burn_rate_threshold = 14.4;
    a->state = "inactive";
    a->has_firings = 1;
}

static void sample_init(struct sample *s)
{
    memset(s, 0, sizeof *s);
    Slic__SloInfo *i = &s->info;
    slic__slo_info__init(i);
    i->name = "checkout-latency";
    i->display_name = "Checkout latency";
    i->service = "checkout";
    i->sli = "checkout";
    slic__label__init(&s->label);
    s->label.key = "route";
    s->label.value = "/pay";
    s->labels[0] = &s->label;
    i->n_labels = 1;
    i->labels = s->labels;
    s->patterns[0] = "eu-*";
    i->n_site_patterns = 1;
    i->site_patterns = s->patterns;
    i->indicator = "threshold";
    i->op = "lte";
    i->has_threshold_seconds = i->has_target = i->has_min_events = i->has_line = 1;
    i->threshold_seconds = 0.3;
    i->target = 0.99;
    i->budgeting = "occurrences";
    i->min_events = 10;
    i->file = "slo.yaml";
    i->line = 31;

    slic__slo_window__init(&s->window);
    s->window.kind = "rolling";
    s->window.has_length_seconds = s->window.has_from = s->window.has_to = 1;
    s->window.has_period_start = s->window.has_period_end = 1;
    s->window.length_seconds = 28 * 86400.0;
    s->window.from = s->window.period_start = 1700000000 - 28 * 86400;
    s->window.to = s->window.period_end = 1700000000;
    i->window = &s->window;

    Slic__SloScope *a = &s->all;
    slic__slo_scope__init(a);
    a->site = "*";
    a->has_evaluated = a->evaluated = a->has_evaluated_at = a->has_exact = 1;
    a->evaluated_at = 1700000003;
    a->has_value = a->has_value_upper = 1;
    a->value = 0.995;
    a->value_upper = 0.996;
    a->has_events_total = a->has_events_good_lower = a->has_events_good_upper = 1;
    a->events_total = 1000;
    a->events_good_lower = 995;
    a->events_good_upper = 996;
    a->has_consumed = a->has_consumed_lower = a->has_remaining = 1;
    a->consumed = 0.5;
    a->consumed_lower = 0.4;
    a->remaining = 0.5;
    a->has_time_to_exhaustion_seconds = 1;
    a->time_to_exhaustion_seconds = 86400;
    static const uint32_t windows[] = {300, 3600};
    for (size_t k = 0; k < 2; k++) {
        slic__slo_burn_rate__init(&s->burn[k]);
        s->burn[k].has_window_seconds = s->burn[k].has_rate = 1;
        s->burn[k].window_seconds = windows[k];
        s->burn[k].rate = k ? 0.25 : 2;
        s->burn_ptrs[k] = &s->burn[k];
    }
    a->n_burn_rates = 2;
    a->burn_rates = s->burn_ptrs;
    sample_alert(&s->alert);
    s->alert.state = "firing";
    s->alert.has_since = s->alert.has_burn_long = s->alert.has_burn_short = 1;
    s->alert.since = 1699999000;
    s->alert.burn_long = 15;
    s->alert.burn_short = 16;
    s->alert.firings = 1;
    s->alerts[0] = &s->alert;
    a->n_alerts = 1;
    a->alerts = s->alerts;
    i->scope = a;

    slic__slo_scope__init(&s->eu);
    s->eu.site = "eu-zrh";
    s->eu.has_evaluated = s->eu.has_exact = 1;
    s->eu.has_events_total = s->eu.has_events_good_lower = s->eu.has_events_good_upper = 1;
    s->eu.error = "store: no space";
    sample_alert(&s->eu_alert);
    s->eu_alerts[0] = &s->eu_alert;
    s->eu.n_alerts = 1;
    s->eu.alerts = s->eu_alerts;
    s->sites[0] = &s->eu;
    i->n_sites = 1;
    i->sites = s->sites;
}

static const char full_json[] =
    "{\"name\":\"checkout-latency\",\"display_name\":\"Checkout latency\",\"description\":null,"
    "\"service\":\"checkout\",\"sli\":\"checkout\",\"labels\":{\"route\":\"/pay\"},"
    "\"site_patterns\":[\"eu-*\"],\"indicator\":\"threshold\",\"op\":\"lte\","
    "\"threshold_seconds\":0.3,\"target\":0.99,\"budgeting\":\"occurrences\","
    "\"timeslice_target\":null,\"timeslice_window_seconds\":null,\"min_events\":10,"
    "\"runbook_url\":null,\"file\":\"slo.yaml\",\"line\":31,"
    "\"window\":{\"kind\":\"rolling\",\"length\":\"4w\",\"from\":\"2023-10-17T22:13:20Z\","
    "\"to\":\"2023-11-14T22:13:20Z\",\"period_start\":\"2023-10-17T22:13:20Z\","
    "\"period_end\":\"2023-11-14T22:13:20Z\"},"
    "\"site\":\"*\",\"evaluated\":true,\"evaluated_at\":\"2023-11-14T22:13:23Z\",\"error\":null,"
    "\"value\":0.995,\"value_upper\":0.996,\"exact\":false,"
    "\"events\":{\"total\":1000,\"good_lower\":995,\"good_upper\":996},"
    "\"error_budget\":0.010000000000000009,\"consumed\":0.5,\"consumed_lower\":0.4,"
    "\"remaining\":0.5,\"time_to_exhaustion_seconds\":86400,"
    "\"burn_rates\":{\"5m\":2,\"1h\":0.25},"
    "\"alerts\":[{\"severity\":\"page\",\"long_window\":\"1h\",\"short_window\":\"5m\","
    "\"burn_rate_threshold\":14.4,\"state\":\"firing\",\"since\":\"2023-11-14T21:56:40Z\","
    "\"burn_long\":15,\"burn_short\":16,\"firings\":1}],"
    "\"sites\":[{\"site\":\"eu-zrh\",\"evaluated\":false,\"evaluated_at\":null,"
    "\"error\":\"store: no space\",\"value\":null,\"value_upper\":null,\"exact\":false,"
    "\"events\":{\"total\":0,\"good_lower\":0,\"good_upper\":0},"
    "\"error_budget\":0.010000000000000009,\"consumed\":null,\"consumed_lower\":null,"
    "\"remaining\":null,\"time_to_exhaustion_seconds\":null,\"burn_rates\":null,"
    "\"alerts\":[{\"severity\":\"page\",\"long_window\":\"1h\",\"short_window\":\"5m\","
    "\"burn_rate_threshold\":14.4,\"state\":\"inactive\",\"since\":null,\"burn_long\":null,"
    "\"burn_short\":null,\"firings\":0}]}]}\n";

/* The renderer's output as a string (valid until the next call). */
static const char *render(const Slic__SloInfo *s, bool with_sites)
{
    static struct agg__buf b;
    agg__buf_fini(&b);
    memset(&b, 0, sizeof b);
    CHECK_OK(agg_reply_json_slo(&b, s, with_sites));
    return (const char *)b.p;
}

static void json_full(void)
{
    struct sample s;
    sample_init(&s);
    CHECK_STR_EQ(render(&s.info, true), full_json);
}

static void json_absent(void)
{
    Slic__SloInfo none = SLIC__SLO_INFO__INIT;
    CHECK_STR_EQ(render(&none, true),
                 "{\"name\":null,\"display_name\":null,\"description\":null,\"service\":null,"
                 "\"sli\":null,\"labels\":{},\"site_patterns\":[],\"indicator\":null,\"op\":null,"
                 "\"threshold_seconds\":null,\"target\":null,\"budgeting\":null,"
                 "\"timeslice_target\":null,\"timeslice_window_seconds\":null,"
                 "\"min_events\":null,\"runbook_url\":null,\"file\":null,\"line\":null,"
                 "\"window\":{\"kind\":null,\"length\":null,\"from\":null,\"to\":null,"
                 "\"period_start\":null,\"period_end\":null},"
                 "\"site\":null,\"evaluated\":false,\"evaluated_at\":null,\"error\":null,"
                 "\"value\":null,\"value_upper\":null,\"exact\":false,"
                 "\"events\":{\"total\":null,\"good_lower\":null,\"good_upper\":null},"
                 "\"error_budget\":null,\"consumed\":null,\"consumed_lower\":null,"
                 "\"remaining\":null,\"time_to_exhaustion_seconds\":null,\"burn_rates\":null,"
                 "\"alerts\":[],\"sites\":[]}\n");
}

static void json_one_scope(void)
{
    struct sample s;
    sample_init(&s);
    const char *one = render(&s.info, false);
    CHECK(strstr(one, "\"sites\"") == NULL);
    /* The same document up to where "sites" began. */
    const char *cut = strstr(full_json, ",\"sites\":");
    CHECK(cut != NULL);
    CHECK_INT_EQ(strlen(one), (size_t)(cut - full_json) + 2);
    CHECK(strncmp(one, full_json, (size_t)(cut - full_json)) == 0);
    CHECK_STR_EQ(one + (cut - full_json), "}\n");

    struct agg__buf b = {0};
    CHECK_OK(agg_reply_json_slos(&b, NULL, 0, true));
    CHECK_STR_EQ((char *)b.p, "[]\n");
    agg__buf_fini(&b);
    memset(&b, 0, sizeof b);
    Slic__SloInfo *two[] = {&s.info, &s.info};
    CHECK_OK(agg_reply_json_slos(&b, two, 2, true));
    size_t n = strlen(full_json) - 1; /* without its newline */
    CHECK_INT_EQ(b.len, 2 * n + 3 + 1);
    CHECK(b.p[0] == '[' && b.p[n + 1] == ',' && b.p[2 * n + 2] == ']');
    CHECK(memcmp(b.p + 1, full_json, n) == 0 && memcmp(b.p + n + 2, full_json, n) == 0);
    agg__buf_fini(&b);
}

static void json_hostile(void)
{
    struct sample s;
    sample_init(&s);
    s.label.key = NULL; /* an object member needs a name: left out */
    s.info.name = "a\"b\\c\n\x01\xff";
    s.info.has_target = 1;
    s.info.target = NAN;
    s.info.has_threshold_seconds = 1;
    s.info.threshold_seconds = INFINITY;
    s.window.kind = "calendar"; /* without count and unit: no length */
    s.window.time_zone = NULL;
    s.burn[0].has_window_seconds = 0; /* no key to file it under: left out */
    s.all.value = -INFINITY;
    s.alert.has_long_window_seconds = 1;
    s.alert.long_window_seconds = -1; /* no duration */
    const char *js = render(&s.info, true);
    CHECK(strstr(js, "\"name\":\"a\\\"b\\\\c\\n\\u0001\\ufffd\"") != NULL);
    CHECK(strstr(js, "\"labels\":{}") != NULL);
    CHECK(strstr(js, "\"threshold_seconds\":null,\"target\":null") != NULL);
    CHECK(strstr(js, "\"window\":{\"kind\":\"calendar\",\"length\":null,\"time_zone\":null,") !=
          NULL);
    CHECK(strstr(js, "\"burn_rates\":{\"1h\":0.25}") != NULL);
    CHECK(strstr(js, "\"value\":null") != NULL);
    CHECK(strstr(js, "\"long_window\":null") != NULL);
    CHECK(strstr(js, "\"error_budget\":null") != NULL);

    s.window.has_calendar_count = 1;
    s.window.calendar_count = 2;
    s.window.calendar_unit = "week";
    s.window.time_zone = "Europe/Zurich";
    CHECK(strstr(render(&s.info, true), "\"kind\":\"calendar\",\"length\":\"2 weeks\","
                                        "\"time_zone\":\"Europe/Zurich\",") != NULL);
    s.window.kind = "lunar"; /* a kind from a newer aggregator: shown as it is */
    CHECK(strstr(render(&s.info, true), "\"kind\":\"lunar\",\"length\":\"4w\",\"from\"") != NULL);
}

/* Packs a Response around a reply with `info` and unpacks it as slic does. */
static Slic__Reply *through_wire(Slic__SloInfo *info)
{
    Slic__Reply r = SLIC__REPLY__INIT;
    Slic__SloInfo *slos[] = {info};
    r.has_schema_version = r.has_status = 1;
    r.schema_version = CODEC_SCHEMA_VERSION;
    r.status = SLIC__REPLY__STATUS__OK;
    r.n_slos = 1;
    r.slos = slos;
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(codec_response_pack(NULL, &r, &buf, &len));
    Slic__Reply *got = NULL;
    CHECK_OK(codec_response_unpack(buf, len, NULL, &got, NULL));
    slic_free(buf);
    CHECK_U64_EQ(got->n_slos, 1);
    return got;
}

static void json_wire(void)
{
    struct sample s;
    sample_init(&s);
    Slic__Reply *got = through_wire(&s.info);
    CHECK_STR_EQ(render(got->slos[0], true), full_json);
    codec_reply_free(got);
    Slic__SloInfo none = SLIC__SLO_INFO__INIT;
    char *want = strdup(render(&none, true));
    CHECK(want != NULL);
    got = through_wire(&none);
    CHECK_STR_EQ(render(got->slos[0], true), want);
    codec_reply_free(got);
    free(want);
}

/* Damaged bytes of a real reply: a decode that succeeds must render, one that fails must say
 * why. ASan and UBSan watch both. */
static void json_damaged_wire(void)
{
    struct sample s;
    sample_init(&s);
    Slic__Reply r = SLIC__REPLY__INIT;
    Slic__SloInfo *slos[] = {&s.info};
    r.n_slos = 1;
    r.slos = slos;
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(codec_response_pack(NULL, &r, &buf, &len));
    uint8_t *copy = malloc(len);
    CHECK(copy != NULL);
    struct harness_rng rng;
    harness_rng_seed(&rng, 7);
    size_t decoded = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(copy, buf, len);
        size_t cut = round % 3 == 0 ? harness_rng_next(&rng) % (len + 1) : len;
        for (int k = 0; k < 1 + round % 4; k++)
            copy[harness_rng_next(&rng) % len] ^= (uint8_t)(1u << (harness_rng_next(&rng) % 8));
        Slic__Reply *got = NULL;
        struct codec_error err = {0};
        int rc = codec_response_unpack(copy, cut, NULL, &got, &err);
        if (rc) {
            CHECK(err.code == rc && err.msg[0] != '\0');
            continue;
        }
        decoded++;
        struct agg__buf b = {0};
        CHECK_OK(agg_reply_json_slos(&b, got->slos, got->n_slos, true));
        CHECK(b.len > 0 && b.p[b.len - 1] == '\n');
        for (size_t i = 0; i < got->n_slos; i++)
            CHECK_OK(agg_reply_json_slo(&b, got->slos[i], false));
        agg__buf_fini(&b);
        codec_reply_free(got);
    }
    CHECK(decoded > 100);
    free(copy);
    slic_free(buf);
}

static void json_enomem(void)
{
    struct sample s;
    sample_init(&s);
    for (long n = 0;; n++) {
        CHECK(n < 1000);
        struct agg__buf b = {0};
        slic_alloc_fail_after(n);
        int rc = agg_reply_json_slo(&b, &s.info, true);
        slic_alloc_fail_after(-1);
        agg__buf_fini(&b);
        if (rc == 0)
            break;
        CHECK_ERR(rc, SLIC_ENOMEM);
    }
}

HARNESS_CASES(HARNESS_CASE(json_full), HARNESS_CASE(json_absent), HARNESS_CASE(json_one_scope),
              HARNESS_CASE(json_hostile), HARNESS_CASE(json_wire), HARNESS_CASE(json_damaged_wire),
              HARNESS_CASE(json_enomem));
HARNESS_MAIN()
