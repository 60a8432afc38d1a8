/* Active probes: the agent measures a service from the outside, on an interval, the way a user
 * would reach it. HTTP(S) probes run through libcurl's multi-socket API driven by the agent's
 * libuv loop; TCP probes are a libuv connect. Nothing here blocks the loop: DNS runs on curl's
 * resolver thread or libuv's thread pool, everything else is non-blocking sockets.
 *
 * Events. Each completed run emits, through the set's agent_sink, first one event per phase
 * that completed, then the probe's own event:
 *   <sli>.dns      name resolution (HTTP always; TCP only when the target is a host name)
 *   <sli>.connect  TCP handshake, after resolution
 *   <sli>.tls      TLS handshake, after connect (https only)
 *   <sli>.ttfb     waiting for the first response byte after the request was sent: the
 *                  server's think time plus one round trip (as browsers report "TTFB")
 *   <sli>          the whole run, start to last byte (TCP: resolution + connect)
 * Phase latencies are each phase's own duration, not cumulative, so they add up to at most the
 * total. Every event of a run carries the run's overall outcome as `good`: a phase SLI counts
 * how long that phase took on runs that reached it, and how many of those runs succeeded. A
 * failed run (timeout, refused, DNS, TLS, status, body) is a bad <sli> event whose latency is
 * the time the run took until it failed; phases it did not complete emit nothing (nor do
 * phases curl does not time on failure: curl 7.88 reports no connect time when the TLS
 * handshake fails).
 *
 * Logging. One line per probe per state change, not per run: WARN when a probe goes down (the
 * first run, or the first failure after success) with the reason in curl's or libuv's words, INFO
 * when it comes back up. A probe that keeps failing for a different reason logs nothing more;
 * the counters tell. Logs show a URL without its user, password and query, which may carry
 * secrets. */
#ifndef SLIC_AGENT_PROBE_H
#define SLIC_AGENT_PROBE_H

#include "err.h"
#include "source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define AGENT_PROBE_INTERVAL_DEFAULT 10.0 /* seconds */
#define AGENT_PROBE_TIMEOUT_DEFAULT 5.0   /* seconds */
#define AGENT_PROBE_INTERVAL_MIN 0.1      /* seconds */
#define AGENT_PROBE_INTERVAL_MAX 86400.0  /* seconds */

/* The body match is searched in at most this many leading bytes of the response body; bytes
 * beyond are read (so the total time is the whole response) and discarded. */
#define AGENT_PROBE_BODY_SCAN_MAX (64 * 1024)
#define AGENT_PROBE_BODY_MATCH_MAX 1024 /* bytes of the substring itself */

/* The longest suffix a probe adds to its SLI name (".connect"): the SLI name may be at most
 * SLIC_NAME_MAX minus this long, so every phase name stays a valid name. */
#define AGENT_PROBE_SUFFIX_MAX 8

#define AGENT_PROBE_STATUS_RANGES_MAX 16

enum agent_probe_kind {
    AGENT_PROBE_HTTP = 1, /* target is an http:// or https:// URL */
    AGENT_PROBE_TCP = 2,  /* target is host:port, or [v6-address]:port */
};

/* Inclusive range of HTTP status codes, 100..599. */
struct agent_probe_status_range {
    int lo, hi;
};

/* Status codes that count as success. n == 0 means the default, 200-399. */
struct agent_probe_status {
    size_t n;
    struct agent_probe_status_range r[AGENT_PROBE_STATUS_RANGES_MAX];
};

/* One probe, as configuration gives it. Strings are borrowed: agent_probe_set_add copies them. */
struct agent_probe_config {
    const char *sli; /* event name; see AGENT_PROBE_SUFFIX_MAX */
    enum agent_probe_kind kind;
    const char *target; /* URL (http) or host:port (tcp) */
    double interval;    /* seconds; 0 means AGENT_PROBE_INTERVAL_DEFAULT */
    double timeout;     /* seconds, 0 < timeout < interval; 0 means
                         * min(AGENT_PROBE_TIMEOUT_DEFAULT, interval / 2) */
    /* HTTP only. */
    struct agent_probe_status status;
    const char *body_match; /* NULL or "": no body check */
    const char *ca_file;    /* PEM bundle to verify the server with instead of the system's */
    bool insecure;          /* do not verify the server's certificate or name (https) */
};

/* Why a run failed; AGENT_PROBE_OK for success. Values index agent_probe_counters.results. */
enum agent_probe_result {
    AGENT_PROBE_OK = 0,
    AGENT_PROBE_FAIL_TIMEOUT = 1, /* no complete answer within the timeout */
    AGENT_PROBE_FAIL_CONNECT = 2, /* connection refused or network/host unreachable */
    AGENT_PROBE_FAIL_DNS = 3,     /* the name did not resolve */
    AGENT_PROBE_FAIL_TLS = 4,     /* handshake failed or the certificate did not verify */
    AGENT_PROBE_FAIL_STATUS = 5,  /* an HTTP status outside the expected codes */
    AGENT_PROBE_FAIL_BODY = 6,    /* the body did not contain the expected substring */
    AGENT_PROBE_FAIL_OTHER = 7,   /* reset, malformed response, local error */
};
#define AGENT_PROBE_RESULT_COUNT 8

/* "ok", "timeout", "connect", "dns", "tls", "status", "body", "other": metric label values. */
const char *agent_probe_result_name(enum agent_probe_result r);

enum agent_probe_state {
    AGENT_PROBE_UNKNOWN = 0, /* no run has completed yet */
    AGENT_PROBE_UP = 1,
    AGENT_PROBE_DOWN = 2,
};

/* A probe's own health, for the agent's self-metrics. */
struct agent_probe_counters {
    uint64_t started; /* runs begun */
    uint64_t runs;    /* runs completed (each emitted its events) */
    uint64_t skipped; /* ticks not run: the previous run was still going, or it could not
                       * start (out of memory, no file descriptors) */
    uint64_t results[AGENT_PROBE_RESULT_COUNT]; /* completed runs by result; [0] = good */
    enum agent_probe_state state;
    enum agent_probe_result last; /* result of the latest completed run */
};

/* ---- configuration (no loop needed: the config loader validates before touching a set) ---- */

/* Parses expected status codes: a comma-separated list of codes ("200"), classes ("2xx") and
 * inclusive ranges ("200-299"), each within 100..599, spaces allowed around items
 * ("2xx, 301"). Returns 0 and fills *out; SLIC_EINVAL (err names the item) for anything else,
 * or for more than AGENT_PROBE_STATUS_RANGES_MAX items. */
int agent_probe_status_parse(const char *spec, struct agent_probe_status *out,
                             struct slic_errmsg *err);

/* True when code is one of the expected codes (the default 200-399 when s->n == 0). */
bool agent_probe_status_match(const struct agent_probe_status *s, long code);

/* Checks a probe's configuration as agent_probe_set_add will: valid SLI name (short enough for
 * its phase names), a parseable target of the right kind (http/https URL; host:port with port
 * 1..65535), 0.1 s <= interval <= 1 day, 0 < timeout < interval, body match at most
 * AGENT_PROBE_BODY_MATCH_MAX bytes, a readable CA file; HTTP-only settings rejected on TCP
 * probes. Returns 0; SLIC_ECONFIG with err naming the probe and field. */
int agent_probe_config_validate(const struct agent_probe_config *cfg, struct slic_errmsg *err);

/* ---- scheduling (pure functions; exposed so they can be tested) ---- */

/* The probe's deterministic offset within its interval, in ms: a hash of jitter_key (usually
 * the node name; NULL is ""), the SLI name and the target, in [0, min(interval / 10,
 * interval - timeout)). Different agents thus spread the same probe instead of hitting the
 * target in the same millisecond, while a run that starts in its slot still ends within the
 * same interval-aligned window. interval/timeout are the effective ones, in ms. */
uint64_t agent_probe_jitter_ms(const char *jitter_key, const char *sli, const char *target,
                               uint64_t interval_ms, uint64_t timeout_ms);

/* The first slot strictly after `after_ms` (Unix ms) for a probe that fires at every
 * k * interval_ms + offset_ms. offset_ms < interval_ms. */
int64_t agent_probe_next_slot_ms(int64_t after_ms, uint64_t interval_ms, uint64_t offset_ms);

/* ---- the probe set: all probes of one agent configuration, on one loop ---- */

typedef struct agent_probe_set agent_probe_set;

/* Creates an empty set on `loop` (not yet running). Events go to *sink: the struct is copied,
 * its ctx must stay valid until the set has closed, and its callback must not close the set.
 * jitter_key may be NULL (copied). Returns 0 and *out; SLIC_ENOMEM, or SLIC_EINVAL (err says why)
 * when libcurl cannot be initialised. Loop thread only, like every call below. */
int agent_probe_set_create(uv_loop_t *loop, const struct agent_sink *sink, const char *jitter_key,
                           agent_probe_set **out, struct slic_errmsg *err);

/* Adds a probe (configuration copied) before start. Returns 0; SLIC_ECONFIG as
 * agent_probe_config_validate; SLIC_EINVAL if the set was already started or is closing;
 * SLIC_ENOMEM. The probe's index (for counters) is the number of probes added before it. */
int agent_probe_set_add(agent_probe_set *s, const struct agent_probe_config *cfg,
                        struct slic_errmsg *err);

/* Schedules every probe: each first fires at its next aligned slot (see
 * agent_probe_next_slot_ms), then once per interval. Returns 0; SLIC_EINVAL if already started
 * or closing. */
int agent_probe_set_start(agent_probe_set *s);

size_t agent_probe_set_count(const agent_probe_set *s);

/* Copies the counters of probe `index`. Returns 0, or SLIC_EINVAL for an index out of range. */
int agent_probe_set_counters(const agent_probe_set *s, size_t index,
                             struct agent_probe_counters *out);

/* Stops every probe (runs in progress are abandoned without emitting), closes every handle and
 * frees the set. `closed` (may be NULL) is called from the loop once everything is freed; only
 * then may the loop be closed. s must not be used after this call. NULL s is allowed (closed
 * is then not called). */
void agent_probe_set_close(agent_probe_set *s, void (*closed)(void *arg), void *arg);

/* ---- internal to src_probe_http.c and src_probe_tcp.c ---- */

/* The effective interval and timeout of cfg in ms (defaults applied); 0 for a value that is
 * negative, not finite or absurdly large, which validation then rejects. */
void agent__probe_durations_ms(const struct agent_probe_config *cfg, uint64_t *interval_ms,
                               uint64_t *timeout_ms);

/* 0 and *https for an http:// or https:// URL curl can parse; SLIC_EINVAL otherwise;
 * SLIC_ENOMEM. */
int agent__probe_http_url_check(const char *url, bool *https);

/* Writes the expected codes as "200-299,404" (the default as "200-399"), truncated to size. */
void agent__probe_status_format(const struct agent_probe_status *s, char *buf, size_t size);

/* Splits "host:port" or "[v6]:port" into host (NUL-terminated, brackets removed) and port.
 * Returns 0; SLIC_EINVAL for a missing or empty host, a host longer than host_size - 1 or with
 * characters no host name or address has, or a port outside 1..65535. */
int agent__probe_tcp_target_parse(const char *target, char *host, size_t host_size, int *port);

/* Phase durations of one run in seconds; a negative value means "not reached / not applicable". */
struct agent__probe_timing {
    double dns, connect, tls, ttfb;
    double total; /* always >= 0 */
};

/* How a run ends, whatever its kind: the result, its phases, and a reason for the log ("" on
 * success). */
typedef void (*agent__probe_done)(void *arg, enum agent_probe_result r,
                                  const struct agent__probe_timing *t, const char *why);

/* What turning results into events needs of a probe. sink, sli and target are borrowed. */
struct agent__probe_results {
    const struct agent_sink *sink;
    const char *sli;
    const char *target;
    struct agent_probe_counters c;
};

/* Counts a completed run, emits its events (phases, then <sli>) and logs a state change. */
void agent__probe_results_report(struct agent__probe_results *pr, enum agent_probe_result r,
                                 const struct agent__probe_timing *t, const char *why);

/* The TCP prober of one probe: each run is one independent connect attempt (resolve if the
 * host is a name, connect to the first address, close). */
struct agent__probe_tcp;

/* Parses the target; no uv handles exist until a run. 0, SLIC_EINVAL or SLIC_ENOMEM. */
int agent__probe_tcp_create(uv_loop_t *loop, const char *target, struct agent__probe_tcp **out);

/* Starts one attempt bounded by timeout_ms; `done` is called exactly once, from the loop, never
 * from inside this call. Returns 0, or a negative libuv/slic code when the attempt could not
 * start (done is then not called). Not after agent__probe_tcp_close. */
int agent__probe_tcp_run(struct agent__probe_tcp *t, uint64_t timeout_ms, agent__probe_done done,
                         void *arg);

/* Abandons attempts in progress (their done is not called) and frees t once every handle has
 * closed; `closed` (may be NULL) runs then, possibly from inside this call when nothing was in
 * flight. */
void agent__probe_tcp_close(struct agent__probe_tcp *t, void (*closed)(void *arg), void *arg);

#endif
