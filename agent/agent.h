/* slic-agent's core: one libuv loop that owns the sources, the windows, the spool and the
 * sender, and moves every event along: source -> window -> (window closes) -> spool -> sender ->
 * (ack) -> spool deletes it. Signals arrive on the loop too: SIGHUP reloads what can change
 * live, SIGTERM closes the open window, spools it, tries a last delivery for a bounded time and
 * exits, leaving the rest in the spool. */
#ifndef SLIC_AGENT_AGENT_H
#define SLIC_AGENT_AGENT_H

#include "config.h"
#include "err.h"

typedef struct agent agent;

/* Builds the agent from a loaded configuration, which it takes over (*cfg is zeroed; the caller
 * must not fini it): opens the spool (taking its lock),
 * binds the sockets, starts probes and tails, and the sender. config_path (NULL: none) is what
 * SIGHUP reloads. Returns 0; SLIC_ECONFIG, -EBUSY (spool in use), SLIC_ESTORE... with err saying
 * what to do; SLIC_ENOMEM. */
int agent_create(struct agent_config *cfg, const char *config_path, agent **out,
                 struct slic_errmsg *err);

/* Runs until SIGTERM/SIGINT and the drain that follows; 0 on a clean stop. */
int agent_run(agent *a);

/* Frees everything; NULL allowed. Call after agent_run returned (or instead of it). */
void agent_destroy(agent *a);

#endif
