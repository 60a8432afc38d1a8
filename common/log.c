/* The logger behind log.h: formats into a stack buffer, then one write(2) to stderr. */
#include "log.h"

#include "err.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int min_level = SLIC_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void slic_log_set_level(enum slic_log_level level)
{
    atomic_store(&min_level, (int)level);
}

int slic_log_level_parse(const char *name, enum slic_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum slic_log_level)i;
            return 0;
        }
    }
    return SLIC_EINVAL;
}

void slic_log(enum slic_log_level level, const char *component, const char *fmt, ...)
{
    if ((int)level < atomic_load(&min_level))
        return;
    char line[1200];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], component);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    /* Best effort: a logger has nowhere to report its own write failure. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
