/* `slic-agent --status`: what the agent that owns a spool dir is doing, read from the spool with
 * a read-only LMDB transaction, so it works whether the agent runs or not and never disturbs
 * it. */
#ifndef SLIC_AGENT_STATUS_H
#define SLIC_AGENT_STATUS_H

#include <stdbool.h>

/* Prints the status (a table, or one JSON object) to stdout. Returns the process exit code: 0,
 * or 1 with a message on stderr when the spool cannot be read. */
int agent_status_print(const char *spool_dir, bool json);

#endif
