/* Names and messages for slic's error codes, from the one table in err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *slic_strerror(int code)
{
    switch (code) {
#define SLIC_ERR_MSG(name, value, msg)                                                             \
    case name:                                                                                     \
        return msg;
        SLIC_ERR_TABLE(SLIC_ERR_MSG)
#undef SLIC_ERR_MSG
    case 0:
        return "success";
    default:
        break;
    }
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}

const char *slic_errname(int code)
{
    switch (code) {
#define SLIC_ERR_NAME(name, value, msg)                                                            \
    case name:                                                                                     \
        return #name;
        SLIC_ERR_TABLE(SLIC_ERR_NAME)
#undef SLIC_ERR_NAME
    case 0:
        return "OK";
    default:
        break;
    }
    if (code < 0 && code > -4096) {
        /* strerrorname_np is glibc 2.32+, which Debian 12 has. */
        extern const char *strerrorname_np(int);
        const char *n = strerrorname_np(-code);
        if (n)
            return n;
    }
    return "EUNKNOWN";
}

int slic_errmsg_set(struct slic_errmsg *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    va_end(ap);
    return code;
}
