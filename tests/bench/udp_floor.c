/* udp_floor: the floor for the agent's UDP ingest benchmark (tests/bench/bench_agent.sh, which
 * compiles it with `cc -O2` at run time; it is not a bench_*.c, so `make bench` does not run it
 * on its own). Binds a UDP socket on 127.0.0.1:PORT with the same SO_RCVBUF request the agent
 * makes (capped by the kernel at net.core.rmem_max, as the agent's is), then only counts: a
 * recvmmsg loop, 64 datagrams per call, no parsing. Stops after N datagrams, or when nothing
 * arrived for the idle timeout once traffic started, or after the start timeout without any.
 *
 *   udp_floor PORT N [IDLE_MS [RCVBUF_BYTES [START_TIMEOUT_MS]]]
 *
 * Prints "listening PORT rcvbuf BYTES" once bound (the caller waits for it), and at the end
 * "received D datagrams B bytes in S s" (S from the first datagram to the last). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define DGRAM_MAX 65536

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char bufs[BATCH][DGRAM_MAX];

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: udp_floor PORT N [IDLE_MS [RCVBUF_BYTES [START_TIMEOUT_MS]]]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    uint64_t want = strtoull(argv[2], NULL, 10);
    double idle = (argc > 3 ? atof(argv[3]) : 500) / 1000.0;
    int rcvbuf = argc > 4 ? atoi(argv[4]) : 8 << 20;
    double start_timeout = (argc > 5 ? atof(argv[5]) : 30000) / 1000.0;
    if (port <= 0 || port > 65535 || want == 0 || idle <= 0) {
        fprintf(stderr, "udp_floor: bad arguments\n");
        return 2;
    }

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("udp_floor: socket");
        return 1;
    }
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0)
        perror("udp_floor: SO_RCVBUF");
    /* Wake up now and then even without traffic, to notice the idle timeout. */
    struct timeval tv = {0, 50000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        perror("udp_floor: bind");
        return 1;
    }
    int eff = 0;
    socklen_t elen = sizeof eff;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &eff, &elen);
    printf("listening %d rcvbuf %d\n", port, eff);
    fflush(stdout);

    static struct mmsghdr msgs[BATCH];
    static struct iovec iov[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){bufs[i], DGRAM_MAX};
        msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    uint64_t got = 0, bytes = 0;
    double t_start = now_s(), t_first = 0, t_last = 0;
    while (got < want) {
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n > 0) {
            t_last = now_s();
            if (got == 0)
                t_first = t_last;
            got += (uint64_t)n;
            for (int i = 0; i < n; i++)
                bytes += msgs[i].msg_len;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            perror("udp_floor: recvmmsg");
            return 1;
        }
        double t = now_s();
        if (got > 0 ? t - t_last >= idle : t - t_start >= start_timeout)
            break;
    }
    printf("received %llu datagrams %llu bytes in %.6f s\n", (unsigned long long)got,
           (unsigned long long)bytes, got ? t_last - t_first : 0.0);
    close(fd);
    return 0;
}
