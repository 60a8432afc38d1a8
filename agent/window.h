/* The agent's windowing: events go into aligned wall-clock windows (default 10 s) and each closed
 * window becomes one struct slic_batch, with per SLI + kept labels a total, a good count, a
 * latency sketch and exact counts under latency thresholds. Memory is bounded by caps fixed at
 * create and reused from window to window, so a steady stream allocates nothing per event. Each
 * series costs about 0.4 KiB plus 8 bytes per sketch bucket its latencies span (about 230 per
 * decade at alpha 1%); two windows overlap during the grace, and a batch holds a copy of its
 * window's sketches until the caller frees it.
 *
 * Not thread-safe: one agent_window belongs to the agent's loop thread, which both records and
 * closes. libc only; the caller supplies every clock reading.
 *
 * Decisions the operator sees (the agent's docs repeat them):
 * - Time. The caller stamps each event with its receive time (`now_ms`, Unix ms, wall clock) and
 *   the event counts in the window containing it. A window [start, end) closes once
 *   now >= end + grace (default 1 s), so events stamped before a boundary but recorded just
 *   after it still count where they belong. An event whose window has already closed (the clock
 *   stepped back, or a flush closed it early) is counted in the window after the last closed one
 *   and in the `events_late` counter: moved a little in time, never lost.
 * - Labels. Only the configured label keys are kept (others are dropped), sorted by key. Each SLI
 *   may have at most `max_labelsets_per_sli` distinct label sets per window; events of further
 *   sets count in that SLI's overflow series, whose only label is
 *   AGENT_WINDOW_OVERFLOW_KEY=AGENT_WINDOW_OVERFLOW_VALUE ("slic_overflow"="true"), and in the
 *   `events_overflowed` counter. Counts stay exact; only the label detail is lost.
 * - Caps. At most `max_slis` SLIs and `max_series` series (overflow series included) per window.
 *   Each SLI in a window keeps one series slot for its overflow series, so once an SLI has a
 *   series in a window none of its events is dropped for a cap; only events of a new SLI that
 *   does not fit are dropped, and counted by reason. Caps count afresh each window.
 * - Empty windows produce no batch. A caller that wants a heartbeat sends one itself.
 * - Self-metrics count records (events as parsed), not their sampling weights. */
#ifndef SLIC_AGENT_WINDOW_H
#define SLIC_AGENT_WINDOW_H

#include "batch.h"
#include "err.h"
#include "event.h"

#include <stddef.h>
#include <stdint.h>

typedef struct agent_window agent_window;

#define AGENT_WINDOW_OVERFLOW_KEY "slic_overflow"
#define AGENT_WINDOW_OVERFLOW_VALUE "true"

/* Windows open at once: the current one, the previous one during its grace, and one spare for a
 * caller whose close timer runs late. Records that would need a fourth fail with SLIC_ERETRY. */
#define AGENT_WINDOW_OPEN_MAX 3

/* Longest window accepted, in seconds (one day). */
#define AGENT_WINDOW_SECONDS_MAX 86400u

struct agent_window_options {
    uint32_t window_seconds; /* > 0, a multiple of 10; default 10 */
    uint32_t grace_ms;       /* < the window length; default 1000 */
    /* Label keys kept on series (copied; at most SLIC_SERIES_LABELS_MAX, unique, valid keys,
     * never AGENT_WINDOW_OVERFLOW_KEY). Default none: one series per SLI. */
    const char *const *label_keys;
    size_t n_label_keys;
    uint32_t max_labelsets_per_sli; /* default 100 */
    uint32_t max_slis;              /* default 1000 */
    uint32_t max_series;            /* per window, in [2, SLIC_BATCH_SERIES_MAX]; default 10000 */
    /* Configured exact-count thresholds (copied): each SLI once, valid name, at most
     * SLIC_SERIES_THRESHOLDS_MAX thresholds, finite, >= 0 and strictly ascending. */
    const struct slic_sli_thresholds *thresholds;
    size_t n_thresholds;
    double sketch_alpha;         /* default SLIC_SKETCH_DEFAULT_ALPHA */
    uint32_t sketch_max_buckets; /* default SLIC_SKETCH_DEFAULT_MAX_BUCKETS */
};

/* Why a record was dropped; indexes agent_window_stats.events_dropped. */
enum agent_window_drop {
    AGENT_WINDOW_DROP_INVALID,    /* event breaks event.h's contract, or now_ms < 0 */
    AGENT_WINDOW_DROP_SLI_CAP,    /* a new SLI beyond max_slis */
    AGENT_WINDOW_DROP_SERIES_CAP, /* a new SLI, with max_series too full for it */
    AGENT_WINDOW_DROP_BACKLOG,    /* AGENT_WINDOW_OPEN_MAX windows open: close_due not called */
    AGENT_WINDOW_DROP_OVERFLOW,   /* a count would pass 2^64 - 1 */
    AGENT_WINDOW_DROP_NOMEM,      /* out of memory */
    AGENT_WINDOW_DROP_COUNT
};

struct agent_window_stats {
    uint64_t events_accepted;   /* records counted (including late and overflowed ones) */
    uint64_t events_late;       /* accepted into a later window because theirs had closed */
    uint64_t events_overflowed; /* accepted into an SLI's overflow series */
    uint64_t events_dropped[AGENT_WINDOW_DROP_COUNT];
    uint64_t windows_closed; /* windows that became a batch */
    uint64_t windows_empty;  /* windows closed with nothing to send */
    /* Of the last wanted set: thresholds not counted because their SLI already had
     * SLIC_SERIES_THRESHOLDS_MAX, and entries ignored for a bad name or threshold. */
    uint64_t thresholds_dropped;
    uint64_t wanted_ignored;
    uint32_t windows_open;
    uint32_t slis_open;     /* SLIs in the open windows */
    uint32_t series_open;   /* series in the open windows */
    uint32_t series_pooled; /* idle series kept for reuse */
    size_t memory_bytes;    /* estimate of the heap held here (batches handed out excluded) */
};

/* Fills o with the defaults above. */
void agent_window_options_init(struct agent_window_options *o);

/* Creates a windowing object. Returns 0, SLIC_ECONFIG (err names the option and value) or
 * SLIC_ENOMEM; *out is written only on success. */
int agent_window_create(const struct agent_window_options *o, agent_window **out,
                        struct slic_errmsg *err);

/* Frees everything, open windows included (their events are discarded: flush first). NULL ok. */
void agent_window_destroy(agent_window *w);

/* Counts one event (the view need not outlive the call) received at now_ms (Unix ms). Returns 0
 * when counted, else the record is dropped, counted under its reason, and the code says why:
 * SLIC_EINVAL or SLIC_EVALUE (INVALID), SLIC_ETOOBIG (SLI_CAP or SERIES_CAP), SLIC_ERETRY
 * (BACKLOG), SLIC_EOVERFLOW or SLIC_ENOMEM. */
int agent_window_record(agent_window *w, const struct slic_event *ev, int64_t now_ms);

/* Replaces the thresholds wanted by the aggregator (from an Ack: the full set its SLOs use). Each
 * SLI then counts the union of its configured and wanted thresholds, configured ones first,
 * wanted ones in the order given while fewer than SLIC_SERIES_THRESHOLDS_MAX; an empty list
 * leaves only the configured ones. Takes effect for windows opened after the call, never for
 * one already open, so a window's counts all use one threshold set. Invalid entries are skipped
 * and counted. Returns 0, or SLIC_ENOMEM with the previous set kept. */
int agent_window_set_wanted_thresholds(agent_window *w, const struct slic_sli_thresholds *list,
                                       size_t n);

/* Closes the oldest open window whose end + grace <= now_ms. Returns 1 with *out filled (series
 * sorted by SLI then labels; agent_id, site, node, epoch and seq left zero for the caller;
 * created_unix_ms = now_ms; the caller slic_batch_fini()s it) and *window_start (Unix seconds;
 * NULL allowed) set; 0 when no window with events is due (empty due windows are closed on the
 * way); SLIC_ENOMEM with the window left open, to retry later. Call until it returns 0, at least
 * once a second. */
int agent_window_close_due(agent_window *w, int64_t now_ms, struct slic_batch *out,
                           int64_t *window_start);

/* As agent_window_close_due, but closes the oldest open window whatever the time: for draining
 * on shutdown. Call until it returns 0. Events recorded afterwards for the flushed windows count
 * as late, in the window after them. */
int agent_window_flush(agent_window *w, int64_t now_ms, struct slic_batch *out,
                       int64_t *window_start);

void agent_window_stats_get(const agent_window *w, struct agent_window_stats *out);

/* "invalid", "sli_cap", "series_cap", "backlog", "overflow", "nomem": metric label values. */
const char *agent_window_drop_name(enum agent_window_drop reason);

#endif
