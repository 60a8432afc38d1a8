/* One line per notable event on stderr: time, level, component, message.
 * Lines are written with a single write(2) so lines from several threads never interleave. */
#ifndef SLIC_LOG_H
#define SLIC_LOG_H

enum slic_log_level {
    SLIC_LOG_DEBUG = 0,
    SLIC_LOG_INFO = 1,
    SLIC_LOG_WARN = 2,
    SLIC_LOG_ERROR = 3,
};

/* Lines below `level` are dropped. Default SLIC_LOG_INFO. */
void slic_log_set_level(enum slic_log_level level);

/* Parses "debug", "info", "warn" or "error". 0, or SLIC_EINVAL for anything else. */
int slic_log_level_parse(const char *name, enum slic_log_level *out);

/* Writes one line, e.g. `2026-11-26T10:00:00.123Z warn  spool: spool 91% full (...)`. The
 * message is truncated at 1 KiB; a trailing newline is added. */
void slic_log(enum slic_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SLIC_DEBUG(comp, ...) slic_log(SLIC_LOG_DEBUG, comp, __VA_ARGS__)
#define SLIC_INFO(comp, ...) slic_log(SLIC_LOG_INFO, comp, __VA_ARGS__)
#define SLIC_WARN(comp, ...) slic_log(SLIC_LOG_WARN, comp, __VA_ARGS__)
#define SLIC_ERROR(comp, ...) slic_log(SLIC_LOG_ERROR, comp, __VA_ARGS__)

#endif
