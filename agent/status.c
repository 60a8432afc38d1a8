/* slic-agent --status (see status.h). */
#include "status.h"

#include "agent_int.h"
#include "alloc.h"
#include "spool.h"
#include "timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define REJECTED_SHOWN 10

static void print_json(const struct agent_spool_stats *st, const char *daemon,
                       const struct agent_spool_rejected *rej, size_t n_rej)
{
    printf("{\"epoch\":%" PRIu64 ",\"next_seq\":%" PRIu64 ",\"writer_open\":%s,"
           "\"last_closed_window_end\":%" PRId64 ",\"pending\":%" PRIu64
           ",\"pending_bytes\":%" PRIu64 ",\"oldest_unacked_age_seconds\":%" PRId64
           ",\"used_bytes\":%" PRIu64 ",\"cap_bytes\":%" PRIu64 ",\"coarsened\":%" PRIu64
           ",\"dropped\":%" PRIu64 ",\"dropped_events\":%" PRIu64 ",\"rejected_kept\":%" PRIu64
           ",\"rejected_total\":%" PRIu64 ",\"daemon\":%s,\"rejected\":[",
           st->epoch, st->next_seq, st->writer_open ? "true" : "false", st->last_closed_window_end,
           st->pending, st->pending_bytes, st->oldest_age_seconds, st->used_bytes, st->cap_bytes,
           st->coarsened, st->dropped, st->dropped_events, st->rejected_kept, st->rejected_total,
           daemon ? daemon : "null");
    for (size_t i = 0; i < n_rej; i++) {
        printf("%s{\"seq\":%" PRIu64 ",\"window_start\":%" PRId64 ",\"events\":%" PRIu64
               ",\"reason\":\"",
               i ? "," : "", rej[i].seq, rej[i].window_start, rej[i].events);
        for (const char *p = rej[i].reason; *p; p++) {
            if (*p == '"' || *p == '\\')
                printf("\\%c", *p);
            else if ((unsigned char)*p < 0x20)
                printf("\\u%04x", (unsigned char)*p);
            else
                putchar(*p);
        }
        printf("\"}");
    }
    printf("]}\n");
}

static void print_table(const char *dir, const struct agent_spool_stats *st, const char *daemon,
                        const struct agent_spool_rejected *rej, size_t n_rej)
{
    char when[40] = "never";
    if (st->last_closed_window_end > 0)
        slic_rfc3339_format(st->last_closed_window_end, when, sizeof when);
    printf("spool               %s (%s)\n"
           "epoch / next seq    %" PRIu64 " / %" PRIu64 "\n"
           "last window closed  %s\n"
           "pending windows     %" PRIu64 " (%" PRIu64 " bytes), oldest %" PRId64 " s old\n"
           "space               %" PRIu64 " of %" PRIu64 " bytes\n"
           "coarsened / dropped %" PRIu64 " / %" PRIu64 " (%" PRIu64 " events dropped)\n"
           "rejected            %" PRIu64 " kept, %" PRIu64 " ever\n",
           dir, st->writer_open ? "an agent has it open" : "no agent running", st->epoch,
           st->next_seq, when, st->pending, st->pending_bytes, st->oldest_age_seconds,
           st->used_bytes, st->cap_bytes, st->coarsened, st->dropped, st->dropped_events,
           st->rejected_kept, st->rejected_total);
    if (daemon)
        printf("daemon counters     %s\n", daemon);
    for (size_t i = 0; i < n_rej; i++)
        printf("  rejected seq %" PRIu64 " (window %" PRId64 ", %" PRIu64 " events): %s\n",
               rej[i].seq, rej[i].window_start, rej[i].events, rej[i].reason);
}

int agent_status_print(const char *spool_dir, bool json)
{
    struct agent_spool_options o = {.read_only = true};
    agent_spool *sp = NULL;
    struct slic_errmsg err = {{0}};
    int rc = agent_spool_open(spool_dir, &o, &sp, &err);
    if (rc) {
        fprintf(stderr, "slic-agent: cannot read the spool %s: %s\n", spool_dir,
                err.text[0] ? err.text : slic_strerror(rc));
        return 1;
    }
    struct agent_spool_stats st;
    struct agent_spool_rejected rej[REJECTED_SHOWN];
    size_t n_rej = 0;
    void *daemon = NULL;
    size_t daemon_len = 0;
    if ((rc = agent_spool_stats_get(sp, &st, &err)) != 0 ||
        (rc = agent_spool_rejected_list(sp, rej, REJECTED_SHOWN, &n_rej, &err)) != 0) {
        fprintf(stderr, "slic-agent: %s\n", err.text[0] ? err.text : slic_strerror(rc));
        agent_spool_close(sp);
        return 1;
    }
    /* The daemon's counters as of its last window; absent before the first one. */
    char *status = NULL;
    if (agent_spool_state_get(sp, AGENT_STATUS_KEY, &daemon, &daemon_len, NULL) == 0 &&
        (status = slic_malloc(daemon_len + 1)) != NULL) {
        memcpy(status, daemon, daemon_len);
        status[daemon_len] = '\0';
    }
    if (json)
        print_json(&st, status, rej, n_rej);
    else
        print_table(spool_dir, &st, status, rej, n_rej);
    slic_free(status);
    slic_free(daemon);
    agent_spool_close(sp);
    return 0;
}
