/* slic-alertpush-drive: plays the SLO engine against the alert pusher (aggregator/alertpush.h)
 * for end-to-end tests. It hands over one page alert, firing, and repeats the same set every
 * --update-every as the engine does each cycle; after --hold, and once the --resolve-after file
 * exists, it hands the alert over resolved (burn rates 0.8 / 0.5, so receivers can tell the
 * bodies apart), keeps repeating that set for --linger, then destroys the pusher. It prints one
 * line per phase and the counters of every target, and exits 1 if a wait times out.
 * Every wait is bounded by --max-wait. */
#include "aggregator/alertpush.h"
#include "log.h"
#include "timeutil.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct agg_alertpush_target targets[AGG_ALERTPUSH_TARGETS_MAX];
static struct slic_label labels[AGG_ALERTPUSH_LABELS_MAX];
static struct agg_alertpush_options opts;
static struct agg_alertpush_alert alert = {
    .slo = "checkout-availability",
    .site = "eu-zrh",
    .severity = "page",
    .long_window_s = 3600,
    .short_window_s = 300,
    .long_rate = 15.2,
    .short_rate = 16.1,
    .threshold = 14.4,
    .budget_remaining = 0.42,
    .state = AGG_ALERTPUSH_FIRING,
};
static double hold_s, linger_s, update_every_s = 0.2, max_wait_s = 30;
static const char *resolve_after;

static void usage(FILE *f)
{
    fprintf(f, "usage: slic-alertpush-drive [--alertmanager URL]... [--webhook URL]...\n"
               "    [--resend DUR] [--timeout DUR] [--label K=V]... [--generator-url URL]\n"
               "    [--slo NAME] [--site NAME] [--severity S] [--runbook URL]\n"
               "    [--hold DUR] [--resolve-after FILE] [--linger DUR] [--update-every DUR]\n"
               "    [--max-wait DUR]\n");
}

static double duration(const char *s, const char *what)
{
    double v;
    if (slic_duration_parse(s, &v)) {
        fprintf(stderr, "slic-alertpush-drive: %s: '%s' is not a duration\n", what, s);
        exit(2);
    }
    return v;
}

static void add_target(enum agg_alertpush_kind kind, const char *url)
{
    if (opts.n_targets == AGG_ALERTPUSH_TARGETS_MAX) {
        fprintf(stderr, "slic-alertpush-drive: too many targets\n");
        exit(2);
    }
    targets[opts.n_targets++] = (struct agg_alertpush_target){kind, url};
}

static void add_label(char *kv)
{
    char *eq = strchr(kv, '=');
    if (!eq || opts.n_labels == AGG_ALERTPUSH_LABELS_MAX) {
        fprintf(stderr, "slic-alertpush-drive: --label expects K=V (at most %d)\n",
                AGG_ALERTPUSH_LABELS_MAX);
        exit(2);
    }
    *eq = '\0';
    labels[opts.n_labels++] = (struct slic_label){kv, eq + 1};
}

static void parse_args(int argc, char **argv)
{
    static const struct option longs[] = {{"alertmanager", 1, 0, 'a'},
                                          {"webhook", 1, 0, 'w'},
                                          {"resend", 1, 0, 'r'},
                                          {"timeout", 1, 0, 't'},
                                          {"label", 1, 0, 'l'},
                                          {"generator-url", 1, 0, 'g'},
                                          {"slo", 1, 0, 's'},
                                          {"site", 1, 0, 'S'},
                                          {"severity", 1, 0, 'v'},
                                          {"runbook", 1, 0, 'b'},
                                          {"hold", 1, 0, 'H'},
                                          {"resolve-after", 1, 0, 'f'},
                                          {"linger", 1, 0, 'L'},
                                          {"update-every", 1, 0, 'u'},
                                          {"max-wait", 1, 0, 'm'},
                                          {"help", 0, 0, 'h'},
                                          {0, 0, 0, 0}};
    agg_alertpush_options_default(&opts);
    opts.targets = targets;
    opts.labels = labels;
    opts.resend_interval_s = 1;
    opts.timeout_s = 2;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'a':
            add_target(AGG_ALERTPUSH_ALERTMANAGER, optarg);
            break;
        case 'w':
            add_target(AGG_ALERTPUSH_WEBHOOK, optarg);
            break;
        case 'r':
            opts.resend_interval_s = duration(optarg, "--resend");
            break;
        case 't':
            opts.timeout_s = duration(optarg, "--timeout");
            break;
        case 'l':
            add_label(optarg);
            break;
        case 'g':
            opts.generator_url = optarg;
            break;
        case 's':
            alert.slo = optarg;
            break;
        case 'S':
            alert.site = optarg;
            break;
        case 'v':
            alert.severity = optarg;
            break;
        case 'b':
            alert.runbook_url = optarg;
            break;
        case 'H':
            hold_s = duration(optarg, "--hold");
            break;
        case 'f':
            resolve_after = optarg;
            break;
        case 'L':
            linger_s = duration(optarg, "--linger");
            break;
        case 'u':
            update_every_s = duration(optarg, "--update-every");
            break;
        case 'm':
            max_wait_s = duration(optarg, "--max-wait");
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind != argc || opts.n_targets == 0) {
        usage(stderr);
        exit(2);
    }
}

static double mono_s(void)
{
    return (double)slic_now_mono_ns() / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void update(agg_alertpush *p)
{
    int rc = agg_alertpush_update(p, &alert, 1);
    if (rc) {
        fprintf(stderr, "slic-alertpush-drive: update: %s\n", slic_strerror(rc));
        exit(1);
    }
}

/* Posts that ended, either way, at target i: a wait asks for more attempts, so a target that
 * is down on purpose does not hold the run up. */
static uint64_t attempts(agg_alertpush *p, size_t i)
{
    struct agg_alertpush_stats st;
    agg_alertpush_stats(p, i, &st);
    return st.sent + st.failed;
}

/* Repeats the current set every update_every_s until every target has ended `more` further
 * posts, or fails the run. */
static void wait_posts(agg_alertpush *p, uint64_t more, const char *phase)
{
    uint64_t base[AGG_ALERTPUSH_TARGETS_MAX];
    for (size_t i = 0; i < opts.n_targets; i++)
        base[i] = attempts(p, i);
    double deadline = mono_s() + max_wait_s;
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < opts.n_targets; i++)
            all = all && attempts(p, i) >= base[i] + more;
        if (all)
            return;
        if (mono_s() > deadline) {
            fprintf(stderr, "slic-alertpush-drive: %s: not delivered within %g s\n", phase,
                    max_wait_s);
            exit(1);
        }
        update(p);
        sleep_s(update_every_s);
    }
}

/* Keeps handing over the same set, as the engine does, for at least `secs` and until the
 * resolve-after file exists (when one is given). */
static void repeat(agg_alertpush *p, double secs, bool wait_file)
{
    double until = mono_s() + secs, deadline = mono_s() + max_wait_s;
    while (mono_s() < until || (wait_file && access(resolve_after, F_OK) != 0)) {
        if (mono_s() > deadline) {
            fprintf(stderr, "slic-alertpush-drive: %s did not appear within %g s\n", resolve_after,
                    max_wait_s);
            exit(1);
        }
        update(p);
        sleep_s(update_every_s);
    }
}

static void print_stats(agg_alertpush *p)
{
    for (size_t i = 0; i < agg_alertpush_target_count(p); i++) {
        struct agg_alertpush_stats st;
        agg_alertpush_stats(p, i, &st);
        printf("target %s sent=%" PRIu64 " failed=%" PRIu64 " failing=%d last_success_ms=%" PRId64
               "\n",
               st.url, st.sent, st.failed, (int)st.failing, st.last_success_ms);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    slic_log_set_level(SLIC_LOG_DEBUG);
    struct slic_errmsg err = {{0}};
    agg_alertpush *p = NULL;
    int rc = agg_alertpush_create(&opts, &p, &err);
    if (rc) {
        fprintf(stderr, "slic-alertpush-drive: %s\n", err.text);
        return 1;
    }
    int64_t now = slic_now_unix_ms() / 1000;
    alert.starts_at = now - 120;
    update(p);
    wait_posts(p, 1, "firing");
    printf("firing delivered\n");
    fflush(stdout);
    repeat(p, hold_s, resolve_after != NULL);

    alert.state = AGG_ALERTPUSH_RESOLVED;
    alert.ends_at = slic_now_unix_ms() / 1000;
    alert.long_rate = 0.8;
    alert.short_rate = 0.5;
    update(p);
    /* A firing re-send in flight at the change may end first: wait for one more. */
    wait_posts(p, 2, "resolved");
    printf("resolved delivered ends_at=%" PRId64 "\n", alert.ends_at);
    fflush(stdout);
    repeat(p, linger_s, false);

    print_stats(p);
    double t0 = mono_s();
    agg_alertpush_destroy(p);
    printf("destroy_ms=%.0f\n", (mono_s() - t0) * 1000);
    return 0;
}
