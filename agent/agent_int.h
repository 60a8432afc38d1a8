/* The agent's insides, shared by agent.c (the loop and the flow of windows) and agent_sources.c
 * (starting, stopping and reading the sources). Nothing else includes this. */
#ifndef SLIC_AGENT_INT_H
#define SLIC_AGENT_INT_H

#include "agent.h"
#include "probe.h"
#include "sender.h"
#include "source.h"
#include "spool.h"
#include "src_lineproto.h"
#include "src_tail.h"
#include "window.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define AGENT_SIGNALS 3
/* State records committed with each window: one per access log, plus the status record. */
#define AGENT_STATE_MAX (AGENT_CONFIG_TAILS_MAX + 1)
/* Windows in flight remembered for the delivery SLI (more than the sender's limit). */
#define AGENT_INFLIGHT_RING 256
/* The spool state record `slic-agent --status` reads for the daemon's own counters. */
#define AGENT_STATUS_KEY "agent.status"

/* One followed access log and where it stood at the last window boundary. */
struct agent_tail_source {
    agent_tail *tail;
    struct agent_tail_accesslog al;
    char key[AGENT_SPOOL_STATE_KEY_MAX];
    struct agent_tail_pos boundary_pos;
    uint8_t pos_buf[AGENT_TAIL_POS_ENCODED_MAX];
};

struct agent {
    uv_loop_t loop;
    bool loop_open;
    struct agent_config cfg;
    char *config_path;
    struct agent_sink sink;
    agent_window *window;
    agent_spool *spool;
    agent_sender *sender;
    agent_lineproto *lineproto;
    agent_probe_set *probes;
    struct agent_tail_source *tails;
    size_t n_tails;
    uv_timer_t tick;
    uv_signal_t signals[AGENT_SIGNALS];
    bool stopping;
    bool had_wanted;
    /* Self-measurement. */
    uint64_t self_records;
    uint64_t reported_accepted;
    uint64_t reported_dropped;
    int64_t last_self_window;
    uint64_t windows_spooled;
    uint64_t windows_lost;
    struct {
        uint64_t seq;
        int64_t window_end;
    } inflight[AGENT_INFLIGHT_RING];
    /* Sources being closed, and who to tell when the last one is. */
    uint64_t malformed_closed; /* malformed lines of sources already closed */
    int sources_closing;
    bool sources_closed;
    void (*on_sources_closed)(void *arg);
    char status_json[1024];
};

/* Starts every configured source. 0 or a code with err saying which source failed and why. */
int agent__sources_start(agent *a, struct slic_errmsg *err);

/* Closes every source; done(a) runs on the loop once all are closed (NULL: nobody to tell).
 * A second call while closing only replaces nothing and returns. */
void agent__sources_close(agent *a, void (*done)(void *arg));

/* Fills up to max state records to commit with the next window: each access log's position and
 * the agent's status for --status. Returns how many. The values stay valid until the next call. */
size_t agent__sources_state(agent *a, struct agent_spool_state_kv *out, size_t max);

/* Notes where every access log stands: called as a window boundary passes, so that the
 * positions committed with that window cover exactly the lines read before it ended. */
void agent__sources_mark_boundary(agent *a);

/* Malformed lines seen by every source so far. */
uint64_t agent__malformed_total(const agent *a);

/* Remembers / recalls the window end of an in-flight seq (0 if forgotten). */
void agent__inflight_note(agent *a, uint64_t seq, int64_t window_end);
int64_t agent__inflight_take(agent *a, uint64_t seq);

#endif
