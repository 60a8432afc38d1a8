/* The test harness behind harness.h: forks a child per case, enforces a time limit, counts. */
#include "harness.h"

#include "err.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned case_timeout = 120;
static char case_tmpdir[256];

void harness_set_timeout(unsigned seconds)
{
    case_timeout = seconds;
}

const char *harness_errname(int code)
{
    return slic_errname(code);
}

bool harness_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

_Noreturn void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    exit(1);
}

const char *harness_tmpdir(void)
{
    if (case_tmpdir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(case_tmpdir, sizeof case_tmpdir, "%s/slic-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(case_tmpdir))
            harness_fail(__FILE__, __LINE__, "mkdtemp %s: %s", case_tmpdir, strerror(errno));
    }
    return case_tmpdir;
}

const char *harness_write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", harness_tmpdir(), name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        harness_fail(__FILE__, __LINE__, "cannot write %s: %s", path, strerror(errno));
    return path;
}

static void tmpdir_remove(void)
{
    if (case_tmpdir[0] == '\0')
        return;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", case_tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "  warning: could not remove %s\n", case_tmpdir);
    case_tmpdir[0] = '\0';
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one case in a child; true when it exited 0 within the time limit. */
static bool run_case(const struct harness_case *c)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "  fork: %s\n", strerror(errno));
        return false;
    }
    if (pid == 0) {
        alarm(case_timeout);
        c->fn();
        tmpdir_remove();
        fflush(NULL);
        exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        fprintf(stderr, "  killed by signal %d (%s)%s\n", sig, strsignal(sig),
                sig == SIGALRM ? ": time limit exceeded" : "");
        return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int harness_main(const struct harness_case *cases, int n, int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 0; i < n; i++) {
            if (strcmp(cases[i].name, argv[1]) == 0) {
                cases[i].fn();
                tmpdir_remove();
                printf("ok %s\n", cases[i].name);
                return 0;
            }
        }
        fprintf(stderr, "no case named %s\n", argv[1]);
        return 2;
    }
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        double t0 = now_seconds();
        bool ok = run_case(&cases[i]);
        printf("%s %s (%.2fs)\n", ok ? "ok  " : "FAIL", cases[i].name, now_seconds() - t0);
        fflush(stdout);
        ok ? passed++ : failed++;
    }
    printf("harness: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

void harness_rng_seed(struct harness_rng *r, uint64_t seed)
{
    /* splitmix64 spreads a small seed over the whole state. */
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        r->s[i] = z ^ (z >> 31);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t harness_rng_next(struct harness_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double harness_rng_uniform(struct harness_rng *r)
{
    return (double)(harness_rng_next(r) >> 11) * 0x1p-53;
}

double harness_rng_normal(struct harness_rng *r)
{
    double u1 = harness_rng_uniform(r), u2 = harness_rng_uniform(r);
    if (u1 <= 0)
        u1 = 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
