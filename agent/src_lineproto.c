/* UDP and unix datagram sockets feeding the line-protocol parser (see src_lineproto.h). The UDP
 * socket uses recvmmsg (UV_UDP_RECVMMSG), so one wake-up drains many datagrams; both share one
 * receive buffer, which is safe because the loop runs one callback at a time and the parser is
 * done with a datagram before its callback returns. */
#include "src_lineproto.h"

#include "alloc.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* libuv hands recvmmsg 64 KiB per datagram; 16 of them per wake-up. */
#define DGRAM_MAX (64 * 1024)
#define RECV_BUF_SIZE (16 * DGRAM_MAX)
#define REJECT_LOG_PERIOD_MS 60000

struct agent_lineproto {
    uv_udp_t udp;
    uv_udp_t unix_sock;
    bool has_udp, has_unix;
    int open_handles;
    char *unix_path;
    struct agent_sink sink;
    struct slic_lineproto_opts parse;
    struct slic_lineproto_counters counters;
    int64_t last_reject_log_ms[SLIC_LINEPROTO_REASON_COUNT];
    uint64_t rejects_since_log[SLIC_LINEPROTO_REASON_COUNT];
    void (*closed)(void *arg);
    void *closed_arg;
    char buf[RECV_BUF_SIZE];
};

static void on_event(void *ctx, const struct slic_event *ev)
{
    agent_lineproto *s = ctx;
    agent_sink_emit(&s->sink, ev);
}

/* Logs one malformed line per reason per minute, printable characters only. */
static void on_reject(void *ctx, enum slic_lineproto_reason r, const char *line, size_t len)
{
    agent_lineproto *s = ctx;
    int64_t now = slic_now_unix_ms();
    s->rejects_since_log[r]++;
    if (now - s->last_reject_log_ms[r] < REJECT_LOG_PERIOD_MS)
        return;
    char shown[161];
    size_t n = len < sizeof shown - 1 ? len : sizeof shown - 1;
    for (size_t i = 0; i < n; i++)
        shown[i] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
    shown[n] = '\0';
    SLIC_WARN("lineproto",
              "malformed line (%s): \"%s\"%s; %llu such lines since the last report (one is "
              "logged per reason per minute)",
              slic_lineproto_reason_name(r), shown, len > n ? "..." : "",
              (unsigned long long)s->rejects_since_log[r]);
    s->last_reject_log_ms[r] = now;
    s->rejects_since_log[r] = 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    agent_lineproto *s = h->data;
    (void)suggested;
    *buf = uv_buf_init(s->buf, sizeof s->buf);
}

static void recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
    agent_lineproto *s = h->data;
    (void)addr;
    (void)flags; /* the buffer is ours and static: nothing to free for UV_UDP_MMSG_FREE */
    if (nread < 0) {
        SLIC_WARN("lineproto", "receive error: %s", uv_strerror((int)nread));
        return;
    }
    if (nread == 0)
        return; /* nothing more, or an empty datagram: neither carries a line */
    struct slic_lineproto_sink sink = {on_event, on_reject, s};
    slic_lineproto_parse(&s->parse, buf->base, (size_t)nread, &sink, &s->counters);
}

static int parse_udp_addr(const char *spec, struct sockaddr_storage *out)
{
    char host[128];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof host)
        return SLIC_EINVAL;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535)
        return SLIC_EINVAL;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)out) ? SLIC_EINVAL : 0;
    }
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) ? SLIC_EINVAL : 0;
}

/* Asks for the receive buffer and says so when the kernel grants less (it caps SO_RCVBUF at
 * net.core.rmem_max, 208 KiB on a stock host, and reports double what it keeps): a short
 * buffer is where datagrams are lost when the loop is busy. */
static void set_recv_buffer(uv_handle_t *h, size_t want, const char *what)
{
    int size = (int)want;
    if (size <= 0 || uv_recv_buffer_size(h, &size) != 0)
        return;
    int got = 0;
    if (uv_recv_buffer_size(h, &got) != 0)
        return;
    if ((size_t)got < want)
        SLIC_WARN("lineproto",
                  "%s: receive buffer is %d bytes, %zu asked for (the kernel caps it at "
                  "net.core.rmem_max); bursts may be dropped by the kernel: raise "
                  "net.core.rmem_max to at least %zu",
                  what, got, want, want);
}

static int start_udp(uv_loop_t *loop, agent_lineproto *s, const struct agent_lineproto_options *o,
                     struct slic_errmsg *err)
{
    struct sockaddr_storage addr;
    if (parse_udp_addr(o->udp, &addr) != 0)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "line protocol UDP address \"%s\": expected HOST:PORT such as "
                               "127.0.0.1:8125 or [::1]:8125",
                               o->udp);
    int rc = uv_udp_init_ex(loop, &s->udp, addr.ss_family | UV_UDP_RECVMMSG);
    if (rc)
        return slic_errmsg_set(err, SLIC_ENOMEM, "cannot create a UDP socket: %s", uv_strerror(rc));
    s->udp.data = s;
    s->has_udp = true;
    s->open_handles++;
    if ((rc = uv_udp_bind(&s->udp, (const struct sockaddr *)&addr, 0)) != 0)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "cannot bind the line protocol UDP socket to "
                               "%s: %s",
                               o->udp, uv_strerror(rc));
    set_recv_buffer((uv_handle_t *)&s->udp, o->recv_buffer, o->udp);
    if ((rc = uv_udp_recv_start(&s->udp, alloc_cb, recv_cb)) != 0)
        return slic_errmsg_set(err, SLIC_ECONFIG, "cannot receive on %s: %s", o->udp,
                               uv_strerror(rc));
    return 0;
}

/* A unix datagram socket the agent binds itself and hands to libuv, which treats any datagram
 * socket like a UDP one. */
static int bind_unix(const char *path, struct slic_errmsg *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "unix socket path \"%s\" is longer than %zu "
                               "bytes",
                               path, sizeof sun.sun_path - 1);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return slic_errmsg_set(err, -errno, "cannot create a unix socket: %s", strerror(errno));
    /* A socket file left by a previous run would make bind fail; it is ours to replace. */
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        int e = errno;
        close(fd);
        return slic_errmsg_set(err, SLIC_ECONFIG, "cannot bind the unix socket %s: %s", path,
                               strerror(e));
    }
    return fd;
}

static int start_unix(uv_loop_t *loop, agent_lineproto *s, const struct agent_lineproto_options *o,
                      struct slic_errmsg *err)
{
    int fd = bind_unix(o->unix_path, err);
    if (fd < 0)
        return fd;
    size_t n = strlen(o->unix_path) + 1;
    if (!(s->unix_path = slic_malloc(n))) {
        close(fd);
        return SLIC_ENOMEM;
    }
    memcpy(s->unix_path, o->unix_path, n);
    int rc = uv_udp_init(loop, &s->unix_sock);
    if (rc == 0)
        rc = uv_udp_open(&s->unix_sock, fd);
    if (rc) {
        close(fd);
        return slic_errmsg_set(err, SLIC_ENOMEM, "cannot use the unix socket %s: %s", o->unix_path,
                               uv_strerror(rc));
    }
    s->unix_sock.data = s;
    s->has_unix = true;
    s->open_handles++;
    set_recv_buffer((uv_handle_t *)&s->unix_sock, o->recv_buffer, o->unix_path);
    if ((rc = uv_udp_recv_start(&s->unix_sock, alloc_cb, recv_cb)) != 0)
        return slic_errmsg_set(err, SLIC_ECONFIG, "cannot receive on %s: %s", o->unix_path,
                               uv_strerror(rc));
    return 0;
}

static void free_now(agent_lineproto *s)
{
    void (*closed)(void *) = s->closed;
    void *arg = s->closed_arg;
    slic_free(s->unix_path);
    slic_free(s);
    if (closed)
        closed(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    agent_lineproto *s = h->data;
    if (--s->open_handles == 0)
        free_now(s);
}

void agent_lineproto_close(agent_lineproto *s, void (*closed)(void *arg), void *arg)
{
    if (!s)
        return;
    s->closed = closed;
    s->closed_arg = arg;
    if (s->unix_path)
        unlink(s->unix_path);
    if (s->open_handles == 0) {
        free_now(s);
        return;
    }
    if (s->has_udp)
        uv_close((uv_handle_t *)&s->udp, on_handle_closed);
    if (s->has_unix)
        uv_close((uv_handle_t *)&s->unix_sock, on_handle_closed);
}

int agent_lineproto_create(uv_loop_t *loop, const struct agent_lineproto_options *o,
                           const struct agent_sink *sink, agent_lineproto **out,
                           struct slic_errmsg *err)
{
    agent_lineproto *s = slic_calloc(1, sizeof *s);
    if (!s)
        return SLIC_ENOMEM;
    s->sink = *sink;
    s->parse = o->parse;
    int rc = 0;
    if (o->udp && o->udp[0])
        rc = start_udp(loop, s, o, err);
    if (rc == 0 && o->unix_path && o->unix_path[0])
        rc = start_unix(loop, s, o, err);
    if (rc) {
        /* Handles already initialised must be closed through the loop; the caller runs it. */
        agent_lineproto_close(s, NULL, NULL);
        return rc;
    }
    SLIC_INFO("lineproto", "receiving StatsD timers on%s%s%s%s", s->has_udp ? " udp " : "",
              s->has_udp ? o->udp : "", s->has_unix ? " unix " : "",
              s->has_unix ? o->unix_path : "");
    *out = s;
    return 0;
}

void agent_lineproto_counters(const agent_lineproto *s, struct slic_lineproto_counters *out)
{
    *out = s->counters;
}
