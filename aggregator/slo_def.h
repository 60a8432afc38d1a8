/* An SLO as slic evaluates it: what aggregator/openslo.c makes of OpenSLO v1 YAML, and what
 * aggregator/slo.c evaluates. Plain data, owned strings, no store or loop dependency. */
#ifndef SLIC_AGG_SLO_DEF_H
#define SLIC_AGG_SLO_DEF_H

#include "batch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGG_SLO_SITES_MAX 32
#define AGG_SLO_TIERS_MAX 8

/* How good events are counted. */
enum agg_slo_indicator {
    AGG_SLO_RATIO_GOOD = 1, /* ratioMetric good/total: good = events with a good outcome */
    AGG_SLO_RATIO_BAD = 2,  /* ratioMetric bad/total: bad = events with a bad outcome */
    AGG_SLO_THRESHOLD = 3,  /* thresholdMetric: good = events with latency op threshold */
};

enum agg_slo_op { AGG_SLO_OP_LTE = 1, AGG_SLO_OP_LT = 2 };

enum agg_slo_budgeting {
    AGG_SLO_OCCURRENCES = 1,      /* good events / all events over the window */
    AGG_SLO_TIMESLICES = 2,       /* good slices / all slices; a slice is good when its ratio
                                   * meets timeslice_target */
    AGG_SLO_RATIO_TIMESLICES = 3, /* mean of the slices' ratios */
};

enum agg_slo_window_kind { AGG_SLO_ROLLING = 1, AGG_SLO_CALENDAR = 2 };

enum agg_slo_calendar_unit {
    AGG_SLO_CAL_DAY = 1,
    AGG_SLO_CAL_WEEK = 2, /* ISO weeks, starting Monday */
    AGG_SLO_CAL_MONTH = 3,
    AGG_SLO_CAL_QUARTER = 4,
    AGG_SLO_CAL_YEAR = 5,
};

/* The slic stream an indicator reads: `metricSource: {type: slic, spec: {...}}`. */
struct agg_slo_source {
    char *sli;
    /* Site patterns ("eu-zrh", "us-*"); none = every site. */
    char *sites[AGG_SLO_SITES_MAX];
    size_t n_sites;
    /* Label matchers: series must carry each key with exactly this value. */
    struct slic_label *labels;
    size_t n_labels;
};

/* One multi-window, multi-burn-rate alert: fires when the burn rate over both the long and the
 * short window is above burn_rate; resolves when the short window drops below it. */
struct agg_slo_tier {
    char severity[16]; /* "page" or "ticket" */
    double long_window_s;
    double short_window_s;
    double burn_rate;
    double alert_after_s; /* the condition must hold this long before the alert fires; 0 = at
                           * once (OpenSLO AlertCondition alertAfter) */
};

struct agg_slo_def {
    char *name; /* metadata.name: [a-z0-9-]... as OpenSLO names go */
    char *display_name;
    char *description;
    char *service;
    char *file; /* where it was defined, for messages */
    unsigned line;

    enum agg_slo_indicator indicator;
    struct agg_slo_source source;
    enum agg_slo_op op; /* THRESHOLD only */
    double threshold_s; /* THRESHOLD only: the latency bound, seconds */

    double target; /* objective, in (0, 1): e.g. 0.999 */
    enum agg_slo_budgeting budgeting;
    double timeslice_target;   /* TIMESLICES: a slice is good when its ratio >= this */
    double timeslice_window_s; /* TIMESLICES / RATIO_TIMESLICES: slice length, seconds */

    enum agg_slo_window_kind window;
    double rolling_s;                    /* ROLLING: e.g. 28 days */
    enum agg_slo_calendar_unit cal_unit; /* CALENDAR */
    unsigned cal_count;                  /* CALENDAR: e.g. 1 month */
    char *time_zone;                     /* CALENDAR: IANA name; NULL = UTC */
    int64_t cal_start; /* CALENDAR: Unix time at which a period starts (calendar.startTime, a
                        * unit boundary in time_zone); periods of cal_count units follow each
                        * other from it, forwards and backwards */

    /* Alert tiers: from an AlertPolicy, else the defaults of DESIGN.md scaled to the window. */
    struct agg_slo_tier tiers[AGG_SLO_TIERS_MAX];
    size_t n_tiers;
    uint64_t min_events; /* below this many events in a window, no alert fires */
    char *runbook_url;
};

/* Frees what a definition owns and zeroes it. NULL allowed. */
void agg_slo_def_fini(struct agg_slo_def *d);

#endif
