/* A validating JSON scanner, internal to slic's line parsers (today accesslog.c's JSON format):
 * it checks one object against RFC 8259's grammar, collects the members of the outermost object
 * whose keys the caller asks for, and unescapes strings on demand. Spans point into the caller's
 * text, which need not be NUL-terminated; nothing allocates and nothing is kept between calls,
 * so any thread may scan. Bytes >= 0x80 in strings are not checked for UTF-8 validity.
 * Not a public API: its names carry slic__ and it may change with its callers. */
#ifndef SLIC_JSONSCAN_H
#define SLIC_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Deepest nesting of objects and arrays accepted, the outermost object included. */
#define SLIC__JSON_DEPTH_MAX 32
/* Longest key, in bytes once unescaped, that a slot can match; longer keys never match. */
#define SLIC__JSON_KEY_MAX 64

/* Part of the text. */
struct slic__span {
    const char *p;
    size_t n;
};

/* A scan position: the next byte, and the end of the text. */
struct slic__cursor {
    const char *p;
    const char *end;
};

/* SLIC__JSON_NONE first, so a slot never filled reads as nothing rather than as a string. */
enum slic__json_kind {
    SLIC__JSON_NONE,
    SLIC__JSON_STRING,
    SLIC__JSON_NUMBER,
    SLIC__JSON_LITERAL,
    SLIC__JSON_NESTED
};

struct slic__json_val {
    enum slic__json_kind kind;
    struct slic__span raw; /* string body (escapes intact) or number text */
    bool escaped;
};

struct slic__json_slot {
    const char *key; /* NULL: not wanted */
    struct slic__json_val val;
    bool present;
};

/* Advances c past JSON whitespace (space, tab, CR, LF). */
void slic__json_ws(struct slic__cursor *c);

/* Scans the object at c->p, which must be '{', at nesting `depth` (1 for the outermost) and
 * advances c past it. True when it is valid JSON, nested values included, and nests no deeper
 * than SLIC__JSON_DEPTH_MAX; false otherwise, with c left anywhere up to c->end. With slots
 * (n_slots of them; NULL and 0 for none), each member of this object whose key, once unescaped,
 * equals a slot's key (a NULL key matches nothing) is stored in that slot and marks it present;
 * when a key repeats, the last one wins. Slots keep what they had for keys that do not occur. */
bool slic__json_object(struct slic__cursor *c, int depth, struct slic__json_slot *slots,
                       size_t n_slots);

/* Unescapes the body of a string slic__json_object validated (a slot's val.raw) into buf, as
 * UTF-8 (a lone surrogate becomes U+FFFD), stopping before the first '?' when stop_at_query.
 * True with *out = {buf, length}; false, with *out untouched, when it does not fit in cap
 * bytes. buf gets no NUL. */
bool slic__json_unescape(struct slic__span raw, bool stop_at_query, char *buf, size_t cap,
                         struct slic__span *out);

#endif
