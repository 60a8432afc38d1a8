/* slic-testhttp: a tiny HTTP server on 127.0.0.1 for probes to measure, in `make demo` and
 * end-to-end tests: GET /ok answers 200 "ok" (after --delay-ms), /fail answers 503, anything
 * else 404. With a HOOK_FILE, it is also a webhook receiver: POST /hook appends the request body
 * and a newline to that file, in one write, and answers 200. Runs until SIGTERM or SIGINT.
 * Built on libmicrohttpd, like the aggregator's API. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned delay_ms;
static const char *hook_file;

/* A POST body being received: MHD hands it over in pieces, a call per piece. */
struct upload {
    char *data;
    size_t len;
};

/* POST /hook: collects the body, then appends it whole so concurrent posts never interleave. */
static enum MHD_Result hook(struct MHD_Connection *conn, const char *upload, size_t *upload_size,
                            void **state)
{
    struct upload *u = *state;
    if (!u) {
        *state = u = calloc(1, sizeof *u);
        return u ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        char *d = realloc(u->data, u->len + *upload_size + 1);
        if (!d)
            return MHD_NO;
        memcpy(d + u->len, upload, *upload_size);
        u->data = d;
        u->len += *upload_size; /* the + 1 leaves room for the newline */
        *upload_size = 0;
        return MHD_YES;
    }
    int fd = open(hook_file, O_WRONLY | O_APPEND | O_CREAT, 0644);
    unsigned status = 500;
    if (fd >= 0 && u->data) {
        u->data[u->len] = '\n';
        status = write(fd, u->data, u->len + 1) == (ssize_t)(u->len + 1) ? 200 : 500;
    }
    if (fd >= 0)
        close(fd);
    free(u->data);
    free(u);
    *state = NULL;
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)cls, (void)version;
    if (hook_file && strcmp(method, "POST") == 0 && strcmp(url, "/hook") == 0)
        return hook(conn, upload, upload_size, state);
    unsigned status = strcmp(url, "/ok") == 0 ? 200 : strcmp(url, "/fail") == 0 ? 503 : 404;
    if (status == 200 && delay_ms)
        nanosleep(&(struct timespec){delay_ms / 1000, (long)(delay_ms % 1000) * 1000000}, NULL);
    const char *body = status == 200 ? "ok\n" : status == 503 ? "unavailable\n" : "not found\n";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout, "usage: slic-testhttp PORT [DELAY_MS [HOOK_FILE]]\n");
        return argc < 2 ? 2 : 0;
    }
    unsigned port = (unsigned)atoi(argv[1]);
    delay_ms = argc > 2 ? (unsigned)atoi(argv[2]) : 0;
    hook_file = argc > 3 ? argv[3] : NULL;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, (uint16_t)port, NULL, NULL,
        answer, NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "slic-testhttp: cannot listen on 127.0.0.1:%u\n", port);
        return 1;
    }
    int sig;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    return 0;
}
