/* The line-protocol source: StatsD/DogStatsD timers arriving as datagrams on a UDP socket and
 * a unix datagram socket, parsed by common/lineproto.c and handed to the agent's sink. Both
 * sockets live on the agent's libuv loop; every datagram is parsed where it lands, with no
 * allocation. Malformed lines are counted per reason and a sample is logged (at most one line
 * per reason per minute), never fatal. */
#ifndef SLIC_AGENT_SRC_LINEPROTO_H
#define SLIC_AGENT_SRC_LINEPROTO_H

#include "err.h"
#include "lineproto.h"
#include "source.h"

#include <stddef.h>
#include <uv.h>

typedef struct agent_lineproto agent_lineproto;

struct agent_lineproto_options {
    /* "127.0.0.1:8125", "[::1]:8125"; NULL or "" for no UDP socket. */
    const char *udp;
    /* Path of the unix datagram socket the agent binds (an old socket file there is replaced);
     * NULL or "" for none. */
    const char *unix_path;
    /* SO_RCVBUF asked for each socket, bytes; the kernel may cap it (net.core.rmem_max). */
    size_t recv_buffer;
    struct slic_lineproto_opts parse;
};

/* Binds the sockets and starts receiving. 0; SLIC_ECONFIG (bad address, or cannot bind: err
 * names the address and the reason, e.g. "address in use"); SLIC_ENOMEM. */
int agent_lineproto_create(uv_loop_t *loop, const struct agent_lineproto_options *o,
                           const struct agent_sink *sink, agent_lineproto **out,
                           struct slic_errmsg *err);

/* Counts since start: datagrams, lines, events, rejects by reason. */
void agent_lineproto_counters(const agent_lineproto *s, struct slic_lineproto_counters *out);

/* Stops receiving and closes the sockets (removing the unix socket file); `closed` runs from
 * the loop once everything is freed. NULL s calls nothing. */
void agent_lineproto_close(agent_lineproto *s, void (*closed)(void *arg), void *arg);

#endif
