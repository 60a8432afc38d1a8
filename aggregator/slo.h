/* SLO evaluation: for one agg_slo_def (slo_def.h), the SLI value, error budget, burn rates and
 * the multi-window, multi-burn-rate alert states. Data comes through callbacks (struct
 * agg_slo_data) shaped like the store's range query (store.h), so the math runs on synthetic
 * data in tests and on the store in the aggregator. Nothing here does I/O, keeps global state or
 * blocks beyond the callbacks: evaluations of different SLOs may run on different threads.
 *
 * Times are Unix seconds. Every window ends on the 10 s grid agents align their windows to: an
 * evaluation at `now` covers data up to floor(now / 10 s) * 10 s. A caller that knows its agents
 * report late passes `now` minus that delay.
 *
 * Latency thresholds: an event's latency is known only through exact threshold counters, where
 * agents had one for the SLO's threshold, or else through the stored sketch, which bounds the
 * number of events under the threshold ([lower, upper], the uncertainty confined to the one
 * bucket holding the threshold). Everything derived from a bounded good count is reported
 * CONSERVATIVELY: SLI value, budget consumed, burn rates and alerts use the lower bound of good
 * events (the upper bound of bad ones), so an SLO reported as met is met whatever the true count
 * in that bucket; the optimistic counterpart is reported beside it (sli_upper, consumed_lower,
 * rate_lower) so the width of the uncertainty is visible. The midpoint was rejected because it
 * can report an SLO as met, or an alert as quiet, when the data cannot show it. */
#ifndef SLIC_AGG_SLO_H
#define SLIC_AGG_SLO_H

#include "batch.h"
#include "err.h"
#include "sketch.h"
#include "slo_def.h"
#include "timeutil.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The grid every evaluated window starts and ends on: the agents' window length. Window
 * lengths of a definition (rolling duration, alert windows) are rounded to it. */
#define AGG_SLO_GRID_S 10

/* The fixed burn-rate windows: 5m 30m 1h 2h 6h 1d 3d. */
#define AGG_SLO_BURN_WINDOWS 7
enum agg_slo_burn_index {
    AGG_SLO_BURN_5M = 0,
    AGG_SLO_BURN_30M = 1,
    AGG_SLO_BURN_1H = 2,
    AGG_SLO_BURN_2H = 3,
    AGG_SLO_BURN_6H = 4,
    AGG_SLO_BURN_1D = 5,
    AGG_SLO_BURN_3D = 6,
};
extern const int64_t agg_slo_burn_window_s[AGG_SLO_BURN_WINDOWS];

/* At most this many slices are asked for in one agg_slo_data.slices call: bounds the memory an
 * evaluation holds (32 bytes a slice) whatever the window and slice length. */
#define AGG_SLO_SLICES_CHUNK 2048u

/* ---- data ---------------------------------------------------------------------------------- */

/* Events of an SLO's indicator over a range: all of them, and how many were good. good is a
 * range: lower == upper when known exactly; exact is true when it came from outcome counts or
 * exact threshold counters throughout (never from a sketch). */
struct agg_slo_counts {
    uint64_t total;
    uint64_t good_lower;
    uint64_t good_upper;
    bool exact;
};

/* Where an evaluation reads its data. Both callbacks read the indicator of d (its SLI stream,
 * sites and labels; which site, if any, is the source's business through ctx), count events in
 * 10 s windows starting in the range, write *out (all of it) and return 0, or return a negative
 * code that ends the evaluation with that code. A range without data is all zeros and 0, not
 * an error. Counts must satisfy good_lower <= good_upper <= total.
 *
 * resolution_s is a stored resolution (10, 60 or 3600) and every range boundary asked for is a
 * multiple of it, so a store answers from whole records. A source that no longer keeps that
 * resolution for the range (retention) may answer from a coarser one covering a slightly larger
 * range; the evaluator asks coarse resolutions for the old parts of long windows, so this
 * happens only at the oldest edge of a window, by less than that coarser step. */
struct agg_slo_data {
    /* Counts over [from, to), from < to. An evaluation asks for a handful of ranges (windows
     * are cut into pieces aligned to 10 s, 1 min and 1 h, and shared pieces asked once). */
    int (*counts)(void *ctx, const struct agg_slo_def *d, int64_t from, int64_t to,
                  uint32_t resolution_s, struct agg_slo_counts *out);
    /* Timeslices and RatioTimeslices only: the counts of n consecutive slices, out[i] covering
     * [from + i * slice_s, from + (i + 1) * slice_s). slice_s is a multiple of resolution_s;
     * 1 <= n <= AGG_SLO_SLICES_CHUNK. One call answers what would otherwise be n range
     * queries: a 28-day SLO of 5-minute slices is 4 calls. */
    int (*slices)(void *ctx, const struct agg_slo_def *d, int64_t from, uint32_t slice_s,
                  uint32_t resolution_s, size_t n, struct agg_slo_counts *out);
    void *ctx;
};

/* Turns what a store query returns for one SLI over a range (store.h: agg_query_result's total,
 * good, latency and thresholds) into the counts of d's indicator. Ratio indicators: good events
 * are those with a good outcome (a bad/total ratio counts the same events from the other side).
 * Threshold indicators: good events are those whose latency is <= (or <) the threshold,
 * whatever their outcome, as the sketch knows only latencies; an exact counter at the
 * threshold gives the count exactly, otherwise the sketch's rank bounds it, narrowed further by
 * counters at nearby thresholds (a counter below the threshold is a lower bound, one above an
 * upper bound). For `<` the threshold is the largest double below it. latency may be NULL when
 * total is 0; thresholds are ascending (batch.h). Returns 0, or SLIC_EINCONSISTENT when the
 * parts contradict each other (good > total, a counter above total, a sketch count != total);
 * *out only on success. */
int agg_slo_counts_from_sli(const struct agg_slo_def *d, uint64_t total, uint64_t good,
                            const slic_sketch *latency, const struct slic_threshold_count *thr,
                            size_t n_thr, struct agg_slo_counts *out);

/* ---- definitions and windows --------------------------------------------------------------- */

/* Checks that d can be evaluated: an indicator, op and threshold that fit together; target in
 * (0, 1); slices of whole multiples of 10 s no longer than the window; a rolling duration of at
 * least 10 s or a calendar unit and count; alert tiers with positive windows and rates; at most
 * AGG_SLO_TIERS_MAX tiers. The OpenSLO loader calls it so a definition it accepts evaluates.
 * Returns 0 or SLIC_EINVAL with a message naming the file, line, SLO and field. */
int agg_slo_def_check(const struct agg_slo_def *d, struct slic_errmsg *err);

/* Loads the time zone a calendar window is counted in: *out is NULL (UTC) for rolling windows
 * and for no or "UTC" zone, else a zone to free with slic_tz_destroy once the SLO is dropped.
 * Returns as slic_tz_load does. Do it when the definition is loaded, not per evaluation: it
 * reads a file. */
int agg_slo_tz_load(const struct agg_slo_def *d, slic_tz **out, struct slic_errmsg *err);

/* The range an evaluation at `now` covers. */
struct agg_slo_window {
    /* The data evaluated: [from, to). */
    int64_t from;
    int64_t to;
    /* The whole SLO window, which the budget is spread over: for rolling windows the same as
     * [from, to); for calendar windows the current period, which continues past `to`. */
    int64_t period_start;
    int64_t period_end;
};

/* The window of d at `now`, in tz (from agg_slo_tz_load; NULL = UTC).
 * Occurrences: rolling = [to - duration, to) with to = now aligned down to 10 s; calendar = [the
 * start of the current period in tz, to).
 * Timeslices and RatioTimeslices judge a slice only once it is complete, so `to` is the end of
 * the last complete slice: rolling windows hold floor(duration / slice) slices on a grid of the
 * slice length counted from the Unix epoch (so 5-minute slices are 5-minute wall-clock
 * periods); calendar windows count slices from the period start.
 * Calendar periods of cal_count units follow each other, forwards and backwards, from the one
 * starting at d->cal_start (OpenSLO's calendar.startTime), counted in whole local units: a
 * 2-month window starting 2024-01-01 pairs January with February, March with April.
 * Returns 0, SLIC_EINVAL (a definition agg_slo_def_check rejects, or a zone other than the
 * definition's), SLIC_ERANGE (now outside SLIC_TIME_MIN..MAX); *out only on success. */
int agg_slo_window_range(const struct agg_slo_def *d, const slic_tz *tz, int64_t now,
                         struct agg_slo_window *out);

/* ---- evaluation ---------------------------------------------------------------------------- */

/* The burn rate over one window ending at the evaluation's 10 s boundary. Burn rates are always
 * counted in events, whatever the budgeting: (bad / total) / (1 - target), 0 without events. */
struct agg_slo_burn {
    int64_t window_s;
    uint64_t total;
    uint64_t bad_lower;
    uint64_t bad_upper;
    double rate;       /* from bad_upper: what alerts use */
    double rate_lower; /* from bad_lower */
};

struct agg_slo_status {
    int64_t now;
    struct agg_slo_window window;

    /* Events over the window (for slices: over its complete slices). */
    uint64_t total;
    uint64_t good_lower;
    uint64_t good_upper;
    bool exact;    /* good came from exact counts throughout (else bounded by sketches) */
    bool has_data; /* total > 0; without data the SLI reads 1 and nothing is consumed */

    /* Timeslices and RatioTimeslices: complete slices in [from, to), slices in the whole
     * period, slices without events (good for Timeslices: nothing failed; left out of
     * RatioTimeslices' mean: a ratio of 0/0 is no ratio), and bad slices (Timeslices: those
     * whose ratio is below timeslice_target; lower/upper as the good counts allow). */
    uint64_t slices;
    uint64_t slices_period;
    uint64_t slices_empty;
    uint64_t slices_bad_lower;
    uint64_t slices_bad_upper;

    /* SLI value: Occurrences good / total; Timeslices good slices / complete slices;
     * RatioTimeslices the mean ratio of non-empty slices. sli from the lower bound of good,
     * sli_upper from the upper. */
    double sli;
    double sli_upper;
    /* Error budget, 1 - target, and the share of it spent: Occurrences and RatioTimeslices
     * (1 - sli) / budget; Timeslices bad slices / (budget x slices in the whole period), so a
     * calendar month's budget is its whole month of slices from the first day. consumed is
     * conservative (from sli), consumed_lower optimistic (from sli_upper); remaining is
     * 1 - consumed and negative once the budget is overspent. */
    double budget;
    double consumed;
    double consumed_lower;
    double remaining;

    struct agg_slo_burn burn[AGG_SLO_BURN_WINDOWS];
    /* The windows of each alert tier of the definition, rounded to 10 s. */
    size_t n_tiers;
    struct agg_slo_burn tier_long[AGG_SLO_TIERS_MAX];
    struct agg_slo_burn tier_short[AGG_SLO_TIERS_MAX];

    /* Time until remaining reaches 0 at the 1 h burn rate, a burn rate of 1 spending the whole
     * budget over one period (period_end - period_start): remaining x period / rate. 0 once the
     * budget is spent. exhausts is false (and exhaustion_s infinite) while the 1 h window burns
     * nothing. */
    bool exhausts;
    double exhaustion_s;
};

/* Evaluates d at `now` (tz as for agg_slo_window_range) from src. src->slices is needed for
 * Timeslices and RatioTimeslices only. Returns 0; SLIC_EINVAL (see agg_slo_window_range);
 * SLIC_EINCONSISTENT (a source answer breaks its contract) or SLIC_EOVERFLOW (counts past
 * 2^64); SLIC_ENOMEM; or a callback's own code. err names the SLO and, for a source failure,
 * the range asked. *out only on success. */
int agg_slo_evaluate(const struct agg_slo_def *d, const slic_tz *tz, int64_t now,
                     const struct agg_slo_data *src, struct agg_slo_status *out,
                     struct slic_errmsg *err);

/* ---- alerts -------------------------------------------------------------------------------- */

enum agg_slo_alert_state {
    AGG_SLO_ALERT_INACTIVE = 0, /* never fired */
    AGG_SLO_ALERT_FIRING = 1,
    AGG_SLO_ALERT_RESOLVED = 2, /* fired, then the short window cooled */
};

/* "inactive", "firing", "resolved". */
const char *agg_slo_alert_state_name(enum agg_slo_alert_state s);

/* One tier's alert. */
struct agg_slo_alert {
    enum agg_slo_alert_state state;
    int64_t since;         /* when the current state began; 0 while inactive */
    int64_t pending_since; /* not firing: since when the firing condition has held at every
                            * update (the tier's alert_after_s runs from here); 0 if not */
    int64_t fired_at;      /* start of the latest firing; 0 if never */
    int64_t resolved_at;   /* end of the latest firing; 0 if never or firing now */
    /* The evaluation that caused the current state: burn rates of the long and short windows
     * and the long window's events. */
    double long_rate;
    double short_rate;
    uint64_t long_total;
    uint64_t firings; /* times fired since init */
    bool changed;     /* the state changed in the latest update */
};

/* The alert states of one SLO (per scope evaluated: site or all sites). Zeroed, or from
 * agg_slo_alerts_init, every tier is inactive. After a reload that changes a definition's
 * tiers, start from a fresh struct: states follow tiers by position. */
struct agg_slo_alerts {
    size_t n_tiers;
    struct agg_slo_alert tier[AGG_SLO_TIERS_MAX];
};

void agg_slo_alerts_init(struct agg_slo_alerts *a);

/* Moves each tier's state on from an evaluation of d (status from agg_slo_evaluate of the same
 * definition) at `now`. A tier's firing condition: the burn rates of both its windows are above
 * its rate and its long window holds at least d->min_events events (so a handful of requests
 * cannot page). It fires once the condition has held at every update for the tier's
 * alert_after_s (at once when 0); a firing tier resolves when its short window's rate drops
 * below the rate; a resolved tier fires again as an inactive one does. Rates are the
 * conservative ones (see the top of this file). Call it after every successful evaluation,
 * with non-decreasing `now`; when an evaluation fails, skip the update and the states hold.
 * Returns how many tiers changed state (their `changed` is set). */
int agg_slo_alerts_update(struct agg_slo_alerts *a, const struct agg_slo_def *d,
                          const struct agg_slo_status *status, int64_t now);

#endif
