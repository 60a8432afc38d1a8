/* What every measuring source of the agent (line protocol sockets, HTTP/TCP probes, access-log
 * tails) hands its events to. Sources live on the agent's one libuv loop and call the sink on
 * that loop's thread only; the sink copies what it keeps, so an event may point into a buffer
 * the source reuses as soon as the call returns. */
#ifndef SLIC_AGENT_SOURCE_H
#define SLIC_AGENT_SOURCE_H

#include "event.h"

struct agent_sink {
    /* Records one event at the current wall-clock time. Never fails from the source's point of
     * view: drops are counted by the sink. */
    void (*event)(void *ctx, const struct slic_event *ev);
    void *ctx;
};

static inline void agent_sink_emit(const struct agent_sink *s, const struct slic_event *ev)
{
    s->event(s->ctx, ev);
}

#endif
