/* Error codes shared by every part of slic.
 * Functions return 0 on success and a negative code on failure: -errno for system errors, or
 * one of the SLIC_E* codes below, which live in their own range so the two never collide. */
#ifndef SLIC_ERR_H
#define SLIC_ERR_H

/* X(name, value, message). Values stay stable: they may appear in logs and on the wire. */
#define SLIC_ERR_TABLE(X)                                                                          \
    X(SLIC_EVALUE, -10001, "value is NaN, negative or infinite")                                   \
    X(SLIC_ERANGE, -10002, "value is outside the range the sketch can index")                      \
    X(SLIC_EALPHA, -10003, "sketches have different relative accuracy (alpha) and cannot merge")   \
    X(SLIC_EINVAL, -10004, "invalid argument")                                                     \
    X(SLIC_EDECODE, -10005, "malformed or truncated message")                                      \
    X(SLIC_ETOOBIG, -10006, "message or field exceeds its size limit")                             \
    X(SLIC_EVERSION, -10007, "unsupported schema version")                                         \
    X(SLIC_EOVERFLOW, -10008, "a count would overflow")                                            \
    X(SLIC_EMISSING, -10009, "a required field is missing")                                        \
    X(SLIC_EINCONSISTENT, -10010, "fields contradict each other")                                  \
    X(SLIC_ENOMEM, -10011, "out of memory")                                                        \
    X(SLIC_ECONFIG, -10012, "invalid configuration")                                               \
    X(SLIC_ESTORE, -10013, "storage error")                                                        \
    X(SLIC_ERETRY, -10014, "temporarily unable; retry later")                                      \
    X(SLIC_ENOTFOUND, -10015, "not found")

enum slic_err {
#define SLIC_ERR_ENUM(name, value, msg) name = value,
    SLIC_ERR_TABLE(SLIC_ERR_ENUM)
#undef SLIC_ERR_ENUM
};

/* A message for any code this project returns: a SLIC_E* code, or -errno. Never NULL; the
 * string is static. */
const char *slic_strerror(int code);

/* The symbolic name ("SLIC_EVALUE", "ENOENT"), for logs and metrics labels. Never NULL. */
const char *slic_errname(int code);

/* A human-readable reason to go with an error code, naming the thing at fault: file, line,
 * field, value and what was expected ("slic.yaml:12: key 'listen': expected tcp://HOST:PORT").
 * Functions that take one accept NULL when the caller wants only the code. */
struct slic_errmsg {
    char text[320];
};

/* Formats into e (if not NULL) and returns code, so a failure path can be one line:
 *     return slic_errmsg_set(err, SLIC_EINVAL, "field 'alpha': %g is out of range", a); */
int slic_errmsg_set(struct slic_errmsg *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
