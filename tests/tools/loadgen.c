/* slic-loadgen: sends StatsD timers to an agent's UDP or unix socket at a steady rate, for a
 * bounded time, the way a service instrumented with a StatsD client would: lognormal
 * latencies, a share of errors (status:5xx), a route tag. For `make demo`, end-to-end tests and
 * the agent benchmark. Prints a progress line once a second with --progress, and at the end the
 * exact number of events and errors sent. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

struct opts {
    const char *udp, *unix_path, *sli, *expect;
    double rate, seconds, error_rate, median_ms, burst_at, burst_seconds;
    unsigned lines_per_datagram;
    int progress;
    uint64_t seed;
};

static uint64_t rng_state;

static double uniform01(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545f4914f6cdd1dull) >> 11) * 0x1p-53;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int open_socket(const struct opts *o, struct sockaddr_storage *to, socklen_t *to_len)
{
    memset(to, 0, sizeof *to);
    if (o->unix_path) {
        struct sockaddr_un *sun = (struct sockaddr_un *)to;
        sun->sun_family = AF_UNIX;
        snprintf(sun->sun_path, sizeof sun->sun_path, "%s", o->unix_path);
        *to_len = sizeof *sun;
        return socket(AF_UNIX, SOCK_DGRAM, 0);
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)to;
    char host[64];
    const char *colon = strrchr(o->udp, ':');
    if (!colon || (size_t)(colon - o->udp) >= sizeof host)
        return -1;
    memcpy(host, o->udp, (size_t)(colon - o->udp));
    host[colon - o->udp] = '\0';
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return -1;
    *to_len = sizeof *sin;
    return socket(AF_INET, SOCK_DGRAM, 0);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void write_expect(const char *path, double *v, uint64_t n, uint64_t good)
{
    FILE *f = fopen(path, "w");
    if (!f || n == 0) {
        fprintf(stderr, "slic-loadgen: cannot write %s\n", path);
        if (f)
            fclose(f);
        return;
    }
    qsort(v, n, sizeof *v, cmp_double);
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    fprintf(f, "{\"count\": %llu, \"good\": %llu, \"quantiles\": {", (unsigned long long)n,
            (unsigned long long)good);
    for (int i = 0; i < 4; i++)
        fprintf(f, "%s\"%g\": %.17g", i ? ", " : "", qs[i],
                v[(size_t)floor(qs[i] * (double)(n - 1))]);
    fprintf(f, "}}\n");
    fclose(f);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: slic-loadgen (--udp HOST:PORT | --unix PATH) [options]\n"
                "  --sli NAME          SLI name (default checkout)\n"
                "  --rate N            events per second (default 1000)\n"
                "  --seconds S         how long (default 10; the run always ends)\n"
                "  --error-rate F      share of events with status:500 (default 0.01)\n"
                "  --median-ms M       median latency (default 50)\n"
                "  --burst-at S --burst-seconds D   all events fail from S for D seconds\n"
                "  --lines N           timers per datagram (default 1)\n"
                "  --expect FILE       write the exact count, good and quantiles sent, as JSON\n"
                "  --seed N --progress\n");
}

int main(int argc, char **argv)
{
    struct opts o = {.sli = "checkout",
                     .rate = 1000,
                     .seconds = 10,
                     .error_rate = 0.01,
                     .median_ms = 50,
                     .burst_at = -1,
                     .lines_per_datagram = 1,
                     .seed = 1};
    static const struct option longopts[] = {
        {"udp", 1, 0, 'u'},       {"unix", 1, 0, 'x'},     {"sli", 1, 0, 's'},
        {"rate", 1, 0, 'r'},      {"seconds", 1, 0, 't'},  {"error-rate", 1, 0, 'e'},
        {"median-ms", 1, 0, 'm'}, {"burst-at", 1, 0, 'b'}, {"burst-seconds", 1, 0, 'B'},
        {"lines", 1, 0, 'l'},     {"seed", 1, 0, 'S'},     {"progress", 0, 0, 'p'},
        {"help", 0, 0, 'h'},      {"expect", 1, 0, 'E'},   {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'u':
            o.udp = optarg;
            break;
        case 'x':
            o.unix_path = optarg;
            break;
        case 's':
            o.sli = optarg;
            break;
        case 'r':
            o.rate = atof(optarg);
            break;
        case 't':
            o.seconds = atof(optarg);
            break;
        case 'e':
            o.error_rate = atof(optarg);
            break;
        case 'm':
            o.median_ms = atof(optarg);
            break;
        case 'b':
            o.burst_at = atof(optarg);
            break;
        case 'B':
            o.burst_seconds = atof(optarg);
            break;
        case 'l':
            o.lines_per_datagram = (unsigned)atoi(optarg);
            break;
        case 'S':
            o.seed = strtoull(optarg, NULL, 10);
            break;
        case 'p':
            o.progress = 1;
            break;
        case 'E':
            o.expect = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if ((!o.udp == !o.unix_path) || o.rate <= 0 || o.seconds <= 0 || o.seconds > 86400 ||
        o.lines_per_datagram == 0 || o.lines_per_datagram > 64) {
        usage(stderr);
        return 2;
    }
    rng_state = o.seed * 0x9e3779b97f4a7c15ull + 1;
    struct sockaddr_storage to;
    socklen_t to_len;
    int fd = open_socket(&o, &to, &to_len);
    if (fd < 0) {
        fprintf(stderr, "slic-loadgen: bad address %s\n", o.udp ? o.udp : o.unix_path);
        return 2;
    }
    static const char *routes[] = {"/pay", "/cart", "/search"};
    uint64_t sent = 0, errors = 0, send_failures = 0;
    uint64_t total = (uint64_t)(o.rate * o.seconds);
    /* With --expect every latency sent is kept (as the agent will read it back from the text),
     * to compute exact quantiles; bounded by the run's length. */
    double *sent_values = o.expect && total <= 20000000 ? malloc(total * sizeof(double)) : NULL;
    double t0 = now_s(), next_progress = t0 + 1;
    char buf[65536];
    while (sent < total) {
        /* Pace: never ahead of rate x elapsed. */
        double due = t0 + (double)sent / o.rate;
        double now = now_s();
        if (due > now)
            nanosleep(&(struct timespec){0, (long)((due - now) * 1e9)}, NULL);
        size_t len = 0;
        for (unsigned i = 0; i < o.lines_per_datagram && sent < total; i++, sent++) {
            double elapsed = now_s() - t0;
            int burst =
                o.burst_at >= 0 && elapsed >= o.burst_at && elapsed < o.burst_at + o.burst_seconds;
            int bad = burst || uniform01() < o.error_rate;
            double u1 = uniform01() + 1e-12, u2 = uniform01();
            double ms = o.median_ms * exp(0.6 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
            errors += (uint64_t)bad;
            char text[32];
            snprintf(text, sizeof text, "%.3f", ms);
            if (sent_values)
                sent_values[sent] = atof(text) / 1000.0;
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s:%s|ms|#status:%d,route:%s",
                                    i ? "\n" : "", o.sli, text, bad ? 500 : 200, routes[sent % 3]);
        }
        if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, to_len) < 0)
            send_failures++;
        if (o.progress && now_s() >= next_progress) {
            next_progress += 1;
            fprintf(stderr, "\r  %s: %llu/%llu events sent (%.0f%%), %llu errors   ", o.sli,
                    (unsigned long long)sent, (unsigned long long)total,
                    100.0 * (double)sent / (double)total, (unsigned long long)errors);
        }
    }
    if (o.progress)
        fprintf(stderr, "\n");
    printf("sent %llu events, %llu errors, %llu datagrams failed\n", (unsigned long long)sent,
           (unsigned long long)errors, (unsigned long long)send_failures);
    close(fd);
    if (sent_values) {
        write_expect(o.expect, sent_values, sent, sent - errors);
        free(sent_values);
    }
    return send_failures ? 1 : 0;
}
