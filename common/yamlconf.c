/* slic's YAML document tree (see yamlconf.h). Loading: libyaml's event parser drives a
 * builder that keeps a stack of open collections, so the caps on depth and node count are
 * checked before anything is allocated for the offending node. Then navigation, the typed
 * getters with their operator-facing messages, and unknown-key checks.
 * Every allocation goes through slic_malloc so tests can fail each one in turn. */
#include "yamlconf.h"

#include "alloc.h"
#include "timeutil.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* The deepest nesting any caller may ask for: freeing and path building recurse or keep a
 * frame per level, so this bounds their stack use whatever the limits say. */
#define YAML_DEPTH_CEILING 1024u

struct slic_yaml_node {
    enum slic_yaml_kind kind;
    bool plain; /* a scalar written without quotes, so it may be YAML's null */
    unsigned line, column;
    const struct slic_yaml_node *parent;
    size_t index; /* item number in a sequence parent, pair number in a mapping parent */
    const char *file;
    /* Children: sequence items, or mapping keys and values interleaved (k0, v0, k1, v1...). */
    struct slic_yaml_node **kids;
    size_t n, cap;
    char text[]; /* scalars only: the value, NUL-terminated */
};

struct slic_yaml_stream {
    char *name;
    struct slic_yaml_node **docs;
    size_t ndocs, cap;
};

struct builder {
    size_t max_nodes;
    unsigned max_depth;
    slic_yaml_stream *s;
    struct slic_yaml_node *root;   /* the document being built, owned here until it ends */
    struct slic_yaml_node **stack; /* open collections, innermost last */
    unsigned depth;
    size_t nodes;
    struct slic_errmsg *err;
};

static void node_free(struct slic_yaml_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->kids[i]);
    slic_free(n->kids);
    slic_free(n);
}

void slic_yaml_destroy(slic_yaml_stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ndocs; i++)
        node_free(s->docs[i]);
    slic_free(s->docs);
    slic_free(s->name);
    slic_free(s);
}

/* Makes room for one more node pointer in *arr, doubling when full. */
static int grow(struct slic_yaml_node ***arr, size_t n, size_t *cap)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    struct slic_yaml_node **p = slic_realloc(*arr, ncap * sizeof *p);
    if (!p)
        return SLIC_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int build_fail(struct builder *b, int code, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats `name:line:column: ...` into the builder's errmsg. */
static int build_fail(struct builder *b, int code, const yaml_mark_t *m, const char *fmt, ...)
{
    if (!b->err)
        return code;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return slic_errmsg_set(b->err, code, "%s:%zu:%zu: %s", b->s->name, m->line + 1, m->column + 1,
                           what);
}

static int node_new(struct builder *b, enum slic_yaml_kind kind, const yaml_event_t *ev,
                    struct slic_yaml_node **out)
{
    if (b->nodes >= b->max_nodes)
        return build_fail(b, SLIC_ETOOBIG, &ev->start_mark, "more than %zu YAML nodes",
                          b->max_nodes);
    size_t tlen = kind == SLIC_YAML_SCALAR ? ev->data.scalar.length : 0;
    struct slic_yaml_node *n = slic_calloc(1, sizeof *n + tlen + 1);
    if (!n)
        return build_fail(b, SLIC_ENOMEM, &ev->start_mark, "out of memory");
    n->kind = kind;
    n->line = (unsigned)ev->start_mark.line + 1;
    n->column = (unsigned)ev->start_mark.column + 1;
    n->file = b->s->name;
    if (kind == SLIC_YAML_SCALAR) {
        memcpy(n->text, ev->data.scalar.value, tlen);
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    }
    b->nodes++;
    *out = n;
    return 0;
}

/* Hands n to its parent (or makes it the document root). On failure n is freed. */
static int node_attach(struct builder *b, struct slic_yaml_node *n, const yaml_event_t *ev)
{
    if (b->depth == 0) {
        assert(!b->root);
        b->root = n;
        return 0;
    }
    struct slic_yaml_node *p = b->stack[b->depth - 1];
    if (p->kind == SLIC_YAML_MAPPING && p->n % 2 == 0 && n->kind != SLIC_YAML_SCALAR) {
        node_free(n);
        return build_fail(b, SLIC_ECONFIG, &ev->start_mark,
                          "a mapping key must be a plain value, not a list or mapping");
    }
    if (grow(&p->kids, p->n, &p->cap) < 0) {
        node_free(n);
        return build_fail(b, SLIC_ENOMEM, &ev->start_mark, "out of memory");
    }
    n->parent = p;
    n->index = p->kind == SLIC_YAML_MAPPING ? p->n / 2 : p->n;
    p->kids[p->n++] = n;
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const struct slic_yaml_node *x = *(const struct slic_yaml_node *const *)a;
    const struct slic_yaml_node *y = *(const struct slic_yaml_node *const *)b;
    int c = strcmp(x->text, y->text);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int dup_key_fail(struct builder *b, const struct slic_yaml_node *first,
                        const struct slic_yaml_node *again)
{
    yaml_mark_t m = {0, again->line - 1, again->column - 1};
    return build_fail(b, SLIC_ECONFIG, &m, "duplicate key '%.64s' (first at line %u)", again->text,
                      first->line);
}

/* Rejects a mapping that repeats a key: YAML forbids it, and silently keeping the last value
 * would hide an operator's mistake. Small mappings compare pairwise; large ones are sorted,
 * so a hostile mapping of many keys costs n log n, not n squared. */
static int mapping_check_dups(struct builder *b, const struct slic_yaml_node *map)
{
    size_t pairs = map->n / 2;
    if (pairs <= 16) {
        for (size_t i = 1; i < pairs; i++) {
            for (size_t j = 0; j < i; j++) {
                if (strcmp(map->kids[2 * i]->text, map->kids[2 * j]->text) == 0)
                    return dup_key_fail(b, map->kids[2 * j], map->kids[2 * i]);
            }
        }
        return 0;
    }
    const struct slic_yaml_node **keys = slic_malloc(pairs * sizeof *keys);
    if (!keys) {
        yaml_mark_t m = {0, map->line - 1, map->column - 1};
        return build_fail(b, SLIC_ENOMEM, &m, "out of memory");
    }
    for (size_t i = 0; i < pairs; i++)
        keys[i] = map->kids[2 * i];
    qsort(keys, pairs, sizeof *keys, key_cmp);
    int rc = 0;
    for (size_t i = 1; i < pairs && rc == 0; i++) {
        if (strcmp(keys[i]->text, keys[i - 1]->text) == 0) {
            /* Sorted by (key, position): the first of a run is the earliest occurrence. */
            size_t first = i - 1;
            while (first > 0 && strcmp(keys[first - 1]->text, keys[i]->text) == 0)
                first--;
            rc = dup_key_fail(b, keys[first], keys[i]);
        }
    }
    slic_free(keys);
    return rc;
}

/* Anchors and aliases could resolve safely, but configs never need them and refusing them
 * removes every expansion attack (billion laughs) at the root. Tags would change a scalar's
 * type behind the schema's back. */
static int check_plain_node(struct builder *b, const yaml_event_t *ev, const yaml_char_t *anchor,
                            const yaml_char_t *tag)
{
    if (anchor)
        return build_fail(b, SLIC_ECONFIG, &ev->start_mark,
                          "anchors (&%.40s) are not supported; write the value out", anchor);
    if (tag)
        return build_fail(b, SLIC_ECONFIG, &ev->start_mark, "tags (%.40s) are not supported", tag);
    return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
    int rc = check_plain_node(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
    if (rc < 0)
        return rc;
    if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
        return build_fail(b, SLIC_ECONFIG, &ev->start_mark, "value contains a NUL character");
    struct slic_yaml_node *n = NULL;
    rc = node_new(b, SLIC_YAML_SCALAR, ev, &n);
    return rc < 0 ? rc : node_attach(b, n, ev);
}

static int on_collection_start(struct builder *b, const yaml_event_t *ev, enum slic_yaml_kind k)
{
    const yaml_char_t *anchor =
        k == SLIC_YAML_MAPPING ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    const yaml_char_t *tag =
        k == SLIC_YAML_MAPPING ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
    int rc = check_plain_node(b, ev, anchor, tag);
    if (rc < 0)
        return rc;
    if (b->depth >= b->max_depth)
        return build_fail(b, SLIC_ETOOBIG, &ev->start_mark, "nested deeper than %u levels",
                          b->max_depth);
    struct slic_yaml_node *n = NULL;
    rc = node_new(b, k, ev, &n);
    if (rc < 0)
        return rc;
    rc = node_attach(b, n, ev);
    if (rc < 0)
        return rc;
    b->stack[b->depth++] = n;
    return 0;
}

static int on_collection_end(struct builder *b)
{
    assert(b->depth > 0);
    struct slic_yaml_node *n = b->stack[--b->depth];
    return n->kind == SLIC_YAML_MAPPING ? mapping_check_dups(b, n) : 0;
}

static int on_document_end(struct builder *b, const yaml_event_t *ev)
{
    slic_yaml_stream *s = b->s;
    assert(b->root && b->depth == 0);
    if (grow(&s->docs, s->ndocs, &s->cap) < 0)
        return build_fail(b, SLIC_ENOMEM, &ev->start_mark, "out of memory");
    s->docs[s->ndocs++] = b->root;
    b->root = NULL;
    return 0;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_collection_start(b, ev, SLIC_YAML_SEQUENCE);
    case YAML_MAPPING_START_EVENT:
        return on_collection_start(b, ev, SLIC_YAML_MAPPING);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_collection_end(b);
    case YAML_DOCUMENT_END_EVENT:
        return on_document_end(b, ev);
    case YAML_ALIAS_EVENT:
        return build_fail(b, SLIC_ECONFIG, &ev->start_mark,
                          "aliases (*%.40s) are not supported; write the value out",
                          ev->data.alias.anchor);
    default:
        return 0;
    }
}

/* libyaml reports a reader error (bad UTF-8, control characters) as a byte offset only:
 * turn it into a line and column for the operator. */
static void offset_to_mark(const char *text, size_t len, size_t off, yaml_mark_t *m)
{
    m->index = off;
    m->line = 0;
    m->column = 0;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            m->line++;
            m->column = 0;
        } else {
            m->column++;
        }
    }
}

/* libyaml's complaint about a tab is "found character that cannot start any token", which
 * does not say "tab": check the character at the mark (line, then column in characters). */
static bool tab_at(const char *text, size_t len, const yaml_mark_t *m)
{
    size_t i = 0;
    for (size_t line = 0; line < m->line && i < len; i++)
        line += text[i] == '\n';
    for (size_t col = 0; i < len; i++) {
        if (((unsigned char)text[i] & 0xc0) == 0x80)
            continue; /* a UTF-8 continuation byte: same character */
        if (col++ == m->column)
            break;
    }
    return i < len && text[i] == '\t';
}

static int parser_fail(struct builder *b, const yaml_parser_t *p, const char *text, size_t len)
{
    const char *problem = p->problem ? p->problem : "syntax error";
    if (p->error == YAML_MEMORY_ERROR) {
        yaml_mark_t m = {0, 0, 0};
        return build_fail(b, SLIC_ENOMEM, &m, "out of memory");
    }
    if (p->error == YAML_READER_ERROR) {
        yaml_mark_t m;
        offset_to_mark(text, len, p->problem_offset, &m);
        return build_fail(b, SLIC_ECONFIG, &m, "%s", problem);
    }
    if (!strstr(problem, "tab") && tab_at(text, len, &p->problem_mark))
        return build_fail(b, SLIC_ECONFIG, &p->problem_mark,
                          "%s (a tab; YAML indents with spaces only)", problem);
    if (p->context) {
        return build_fail(b, SLIC_ECONFIG, &p->problem_mark, "%s, %s at line %zu column %zu",
                          problem, p->context, p->context_mark.line + 1,
                          p->context_mark.column + 1);
    }
    return build_fail(b, SLIC_ECONFIG, &p->problem_mark, "%s", problem);
}

static int run_parser(struct builder *b, const char *text, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        yaml_mark_t m = {0, 0, 0};
        return build_fail(b, SLIC_ENOMEM, &m, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    for (bool done = false; !done && rc == 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_fail(b, &parser, text, len);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static char *str_dup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *d = slic_malloc(len);
    if (d)
        memcpy(d, s, len);
    return d;
}

static size_t limit_or(size_t v, size_t dflt)
{
    return v ? v : dflt;
}

int slic_yaml_load_string(const char *name, const char *text, size_t len,
                          const struct slic_yaml_limits *limits, slic_yaml_stream **out,
                          struct slic_errmsg *err)
{
    struct slic_yaml_limits none = {0, 0, 0};
    const struct slic_yaml_limits *lim = limits ? limits : &none;
    if (!name)
        name = "(input)";
    size_t max_bytes = limit_or(lim->max_bytes, SLIC_YAML_DEFAULT_MAX_BYTES);
    if (len > max_bytes)
        return slic_errmsg_set(err, SLIC_ETOOBIG, "%s: %zu bytes is over the %zu-byte limit", name,
                               len, max_bytes);
    struct builder b = {
        .max_nodes = limit_or(lim->max_nodes, SLIC_YAML_DEFAULT_MAX_NODES),
        .max_depth = lim->max_depth ? lim->max_depth : SLIC_YAML_DEFAULT_MAX_DEPTH,
        .err = err,
    };
    if (b.max_depth > YAML_DEPTH_CEILING)
        b.max_depth = YAML_DEPTH_CEILING;

    int rc = SLIC_ENOMEM;
    b.s = slic_calloc(1, sizeof *b.s);
    if (!b.s)
        goto fail_nomem;
    b.s->name = str_dup(name);
    b.stack = slic_malloc(b.max_depth * sizeof *b.stack);
    if (!b.s->name || !b.stack)
        goto fail_nomem;
    rc = run_parser(&b, text, len);
    if (rc < 0)
        goto free_all;
    slic_free(b.stack);
    *out = b.s;
    return 0;

fail_nomem:
    slic_errmsg_set(err, SLIC_ENOMEM, "%s: out of memory", name);
free_all:
    node_free(b.root);
    slic_free(b.stack);
    slic_yaml_destroy(b.s);
    return rc;
}

/* Reads at most max+1 bytes, so an oversized file (or a pipe that never ends) is caught
 * without reading it all. */
static int file_read_capped(int fd, size_t max, char **out, size_t *out_len)
{
    size_t cap = 4096, len = 0;
    char *buf = slic_malloc(cap);
    if (!buf)
        return SLIC_ENOMEM;
    for (;;) {
        if (len == cap) {
            if (cap > max)
                break;
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nbuf = slic_realloc(buf, ncap);
            if (!nbuf) {
                slic_free(buf);
                return SLIC_ENOMEM;
            }
            buf = nbuf;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = -errno;
            slic_free(buf);
            return rc;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int slic_yaml_load_file(const char *path, const struct slic_yaml_limits *limits,
                        slic_yaml_stream **out, struct slic_errmsg *err)
{
    size_t max = limits && limits->max_bytes ? limits->max_bytes : SLIC_YAML_DEFAULT_MAX_BYTES;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        return slic_errmsg_set(err, rc, "%s: cannot open: %s", path, slic_strerror(rc));
    }
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    size_t len = 0;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (S_ISDIR(st.st_mode))
        rc = -EISDIR;
    if (rc < 0) {
        slic_errmsg_set(err, rc, "%s: cannot read: %s", path, slic_strerror(rc));
        goto close_fd;
    }
    rc = file_read_capped(fd, max, &buf, &len);
    if (rc < 0) {
        slic_errmsg_set(err, rc, "%s: cannot read: %s", path, slic_strerror(rc));
        goto close_fd;
    }
    if (len > max) {
        rc = slic_errmsg_set(err, SLIC_ETOOBIG, "%s: file is over the %zu-byte limit", path, max);
        goto free_buf;
    }
    rc = slic_yaml_load_string(path, buf, len, limits, out, err);
free_buf:
    slic_free(buf);
close_fd:
    close(fd);
    return rc;
}

size_t slic_yaml_doc_count(const slic_yaml_stream *s)
{
    return s->ndocs;
}

const slic_yaml_node *slic_yaml_doc(const slic_yaml_stream *s, size_t i)
{
    return i < s->ndocs ? s->docs[i] : NULL;
}

/* ---- navigating ---- */

enum slic_yaml_kind slic_yaml_kind(const slic_yaml_node *n)
{
    return n->kind;
}

const char *slic_yaml_file(const slic_yaml_node *n)
{
    return n->file;
}

unsigned slic_yaml_line(const slic_yaml_node *n)
{
    return n->line;
}

unsigned slic_yaml_column(const slic_yaml_node *n)
{
    return n->column;
}

const char *slic_yaml_text(const slic_yaml_node *n)
{
    return n->kind == SLIC_YAML_SCALAR ? n->text : NULL;
}

bool slic_yaml_is_null(const slic_yaml_node *n)
{
    if (n->kind != SLIC_YAML_SCALAR || !n->plain)
        return false;
    return n->text[0] == '\0' || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

size_t slic_yaml_len(const slic_yaml_node *n)
{
    if (n->kind == SLIC_YAML_MAPPING)
        return n->n / 2;
    return n->kind == SLIC_YAML_SEQUENCE ? n->n : 0;
}

const slic_yaml_node *slic_yaml_item(const slic_yaml_node *seq, size_t i)
{
    return seq->kind == SLIC_YAML_SEQUENCE && i < seq->n ? seq->kids[i] : NULL;
}

const slic_yaml_node *slic_yaml_pair_key(const slic_yaml_node *map, size_t i)
{
    return map->kind == SLIC_YAML_MAPPING && i < map->n / 2 ? map->kids[2 * i] : NULL;
}

const slic_yaml_node *slic_yaml_pair_value(const slic_yaml_node *map, size_t i)
{
    return map->kind == SLIC_YAML_MAPPING && i < map->n / 2 ? map->kids[2 * i + 1] : NULL;
}

const slic_yaml_node *slic_yaml_get(const slic_yaml_node *map, const char *key)
{
    if (!map || map->kind != SLIC_YAML_MAPPING)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        if (strcmp(map->kids[i]->text, key) == 0)
            return map->kids[i + 1];
    }
    return NULL;
}

/* Appends s to buf at *len; if it does not fit, what fits is kept and the end becomes "...",
 * so a truncated path says so. */
static void path_append(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s), room = size - 1 - *len, k = n < room ? n : room;
    memcpy(buf + *len, s, k);
    *len += k;
    buf[*len] = '\0';
    if (k < n && size >= 4)
        memcpy(buf + size - 4, "...", 3);
}

void slic_yaml_path(const slic_yaml_node *n, char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = '\0';
    const struct slic_yaml_node *chain[YAML_DEPTH_CEILING + 1];
    size_t depth = 0;
    for (const struct slic_yaml_node *x = n; x->parent && depth < YAML_DEPTH_CEILING; x = x->parent)
        chain[depth++] = x;
    size_t len = 0;
    while (depth > 0 && len < size - 1) {
        const struct slic_yaml_node *x = chain[--depth];
        if (x->parent->kind == SLIC_YAML_MAPPING) {
            if (len > 0)
                path_append(buf, size, &len, ".");
            path_append(buf, size, &len, x->parent->kids[2 * x->index]->text);
        } else {
            char item[32];
            snprintf(item, sizeof item, "[%zu]", x->index);
            path_append(buf, size, &len, item);
        }
    }
}

/* ---- messages ---- */

int slic_yaml_error(const slic_yaml_node *n, struct slic_errmsg *err, int code, const char *fmt,
                    ...)
{
    if (!err)
        return code;
    char path[128], what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    slic_yaml_path(n, path, sizeof path);
    if (path[0] == '\0')
        return slic_errmsg_set(err, code, "%s:%u: document: %s", n->file, n->line, what);
    return slic_errmsg_set(err, code, "%s:%u: key '%s': %s", n->file, n->line, path, what);
}

/* What a node holds, for "got ...": a scalar quoted with control characters escaped and cut
 * at 48 bytes, so a message stays one readable line whatever the input. */
static void value_describe(const slic_yaml_node *n, char *buf, size_t size)
{
    if (n->kind != SLIC_YAML_SCALAR) {
        snprintf(buf, size, "%s", n->kind == SLIC_YAML_MAPPING ? "a mapping" : "a list");
        return;
    }
    if (slic_yaml_is_null(n)) {
        snprintf(buf, size, "%s", n->text[0] ? "null" : "an empty value");
        return;
    }
    size_t len = 0;
    buf[len++] = '"';
    const unsigned char *p = (const unsigned char *)n->text;
    for (size_t i = 0; p[i] && len + 8 < size; i++) {
        if (i == 48) {
            memcpy(buf + len, "...", 3);
            len += 3;
            break;
        }
        if (p[i] == '"' || p[i] == '\\')
            len += (size_t)snprintf(buf + len, size - len, "\\%c", p[i]);
        else if (p[i] < 0x20 || p[i] == 0x7f)
            len += (size_t)snprintf(buf + len, size - len, "\\x%02x", p[i]);
        else
            buf[len++] = (char)p[i];
    }
    buf[len++] = '"';
    buf[len] = '\0';
}

static int type_fail(const slic_yaml_node *n, struct slic_errmsg *err, const char *expected)
{
    char got[256];
    value_describe(n, got, sizeof got);
    return slic_yaml_error(n, err, SLIC_ECONFIG, "expected %s, got %s", expected, got);
}

/* ---- typed values ---- */

int slic_yaml_as_string(const slic_yaml_node *n, const char **out, struct slic_errmsg *err)
{
    if (n->kind != SLIC_YAML_SCALAR || slic_yaml_is_null(n))
        return type_fail(n, err, "a string");
    *out = n->text;
    return 0;
}

int slic_yaml_as_bool(const slic_yaml_node *n, bool *out, struct slic_errmsg *err)
{
    if (n->kind == SLIC_YAML_SCALAR) {
        if (strcasecmp(n->text, "true") == 0 || strcasecmp(n->text, "yes") == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(n->text, "false") == 0 || strcasecmp(n->text, "no") == 0) {
            *out = false;
            return 0;
        }
    }
    return type_fail(n, err, "true or false");
}

/* Decimal digits (with a sign if allowed) into a magnitude; false on anything else or on
 * overflow of uint64. */
static bool uint_parse(const char *s, bool allow_sign, bool *neg, uint64_t *mag)
{
    *neg = false;
    if (allow_sign && (*s == '+' || *s == '-'))
        *neg = *s++ == '-';
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *mag = v;
    return true;
}

static void int_range_describe(char *buf, size_t size, int64_t min, int64_t max)
{
    if (min == INT64_MIN && max == INT64_MAX)
        snprintf(buf, size, "an integer");
    else if (max == INT64_MAX)
        snprintf(buf, size, "an integer of at least %lld", (long long)min);
    else if (min == INT64_MIN)
        snprintf(buf, size, "an integer of at most %lld", (long long)max);
    else
        snprintf(buf, size, "an integer from %lld to %lld", (long long)min, (long long)max);
}

int slic_yaml_as_int64(const slic_yaml_node *n, int64_t min, int64_t max, int64_t *out,
                       struct slic_errmsg *err)
{
    char expected[96];
    bool neg = false;
    uint64_t mag = 0;
    if (n->kind == SLIC_YAML_SCALAR && uint_parse(n->text, true, &neg, &mag) &&
        mag <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
        /* Negating in uint64 and converting back is exact for all of int64, INT64_MIN too. */
        int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        if (v >= min && v <= max) {
            *out = v;
            return 0;
        }
    }
    int_range_describe(expected, sizeof expected, min, max);
    return type_fail(n, err, expected);
}

int slic_yaml_as_uint64(const slic_yaml_node *n, uint64_t min, uint64_t max, uint64_t *out,
                        struct slic_errmsg *err)
{
    char expected[96];
    bool neg = false;
    uint64_t v = 0;
    if (n->kind == SLIC_YAML_SCALAR && uint_parse(n->text, false, &neg, &v) && v >= min &&
        v <= max) {
        *out = v;
        return 0;
    }
    if (min == 0 && max == UINT64_MAX)
        snprintf(expected, sizeof expected, "a non-negative integer");
    else if (max == UINT64_MAX)
        snprintf(expected, sizeof expected, "an integer of at least %llu", (unsigned long long)min);
    else
        snprintf(expected, sizeof expected, "an integer from %llu to %llu", (unsigned long long)min,
                 (unsigned long long)max);
    return type_fail(n, err, expected);
}

/* The shortest of %.15g and %.17g that reads back as the same double. */
static void double_format(char *buf, size_t size, double v)
{
    snprintf(buf, size, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, size, "%.17g", v);
}

/* strtod also takes hex floats, "inf" and "nan", and leading spaces; a config number is
 * plain decimal, so anything else is refused before strtod sees it. */
static bool double_parse(const char *s, double *out)
{
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

int slic_yaml_as_double(const slic_yaml_node *n, double min, double max, double *out,
                        struct slic_errmsg *err)
{
    double v = 0;
    if (n->kind == SLIC_YAML_SCALAR && double_parse(n->text, &v) && v >= min && v <= max) {
        *out = v;
        return 0;
    }
    char expected[128], lo[32], hi[32];
    double_format(lo, sizeof lo, min);
    double_format(hi, sizeof hi, max);
    bool has_lo = isfinite(min) && min > -DBL_MAX, has_hi = isfinite(max) && max < DBL_MAX;
    if (has_lo && has_hi)
        snprintf(expected, sizeof expected, "a number from %s to %s", lo, hi);
    else if (has_lo)
        snprintf(expected, sizeof expected, "a number of at least %s", lo);
    else if (has_hi)
        snprintf(expected, sizeof expected, "a number of at most %s", hi);
    else
        snprintf(expected, sizeof expected, "a number");
    return type_fail(n, err, expected);
}

int slic_yaml_as_duration(const slic_yaml_node *n, double min_s, double max_s, double *out,
                          struct slic_errmsg *err)
{
    double v = 0;
    if (n->kind != SLIC_YAML_SCALAR || slic_duration_parse(n->text, &v) < 0)
        return type_fail(n, err, "a duration like 10s or 1m");
    if (v >= min_s && v <= max_s) {
        *out = v;
        return 0;
    }
    char expected[96], lo[SLIC_DURATION_FMT_LEN], hi[SLIC_DURATION_FMT_LEN];
    bool has_lo = min_s > 0 && slic_duration_format(min_s, lo, sizeof lo) == 0;
    bool has_hi = slic_duration_format(max_s, hi, sizeof hi) == 0;
    if (has_lo && has_hi)
        snprintf(expected, sizeof expected, "a duration from %s to %s", lo, hi);
    else if (has_hi)
        snprintf(expected, sizeof expected, "a duration of at most %s", hi);
    else
        snprintf(expected, sizeof expected, "a duration of at least %s", has_lo ? lo : "0s");
    return type_fail(n, err, expected);
}

struct size_unit {
    const char *name;
    uint64_t mult;
};

static const struct size_unit size_units[] = {
    {"pib", UINT64_C(1) << 50},
    {"tib", UINT64_C(1) << 40},
    {"gib", UINT64_C(1) << 30},
    {"mib", UINT64_C(1) << 20},
    {"kib", UINT64_C(1) << 10},
    {"pb", UINT64_C(1000000000000000)},
    {"tb", UINT64_C(1000000000000)},
    {"gb", UINT64_C(1000000000)},
    {"mb", UINT64_C(1000000)},
    {"kb", UINT64_C(1000)},
    {"b", 1},
    {"", 1},
};

/* A size in the largest binary, then decimal, unit that divides it exactly: "512MiB". */
static void size_format(char *buf, size_t size, uint64_t v)
{
    static const char *const names[] = {"PiB", "TiB", "GiB", "MiB", "KiB",
                                        "PB",  "TB",  "GB",  "MB",  "kB"};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && v != 0; i++) {
        if (v % size_units[i].mult == 0) {
            snprintf(buf, size, "%llu%s", (unsigned long long)(v / size_units[i].mult), names[i]);
            return;
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)v);
}

int slic_size_parse(const char *s, uint64_t *out)
{
    const char *p = s;
    uint64_t whole = 0, frac = 0, frac_scale = 1;
    bool overflow = false;
    if (!s || *p < '0' || *p > '9')
        return SLIC_EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        overflow |= whole > (UINT64_MAX - d) / 10;
        whole = whole * 10 + d;
    }
    if (*p == '.') {
        /* Up to 18 fraction digits keep frac and frac_scale within uint64. */
        if (*++p < '0' || *p > '9')
            return SLIC_EINVAL;
        for (; *p >= '0' && *p <= '9'; p++, frac_scale *= 10) {
            if (frac_scale == UINT64_C(1000000000000000000))
                return SLIC_EINVAL;
            frac = frac * 10 + (uint64_t)(*p - '0');
        }
    }
    const struct size_unit *u = NULL;
    for (size_t i = 0; i < sizeof size_units / sizeof size_units[0] && !u; i++) {
        if (strcasecmp(p, size_units[i].name) == 0)
            u = &size_units[i];
    }
    if (!u)
        return SLIC_EINVAL;
    if (overflow || (u->mult > 1 && whole > UINT64_MAX / u->mult))
        return SLIC_ERANGE;
    /* frac < 10^18 and mult <= 2^50: the product needs 128 bits; rounded to nearest. */
    __extension__ typedef unsigned __int128 u128;
    uint64_t frac_bytes = (uint64_t)(((u128)frac * u->mult + frac_scale / 2) / frac_scale);
    uint64_t bytes = whole * u->mult;
    if (bytes > UINT64_MAX - frac_bytes)
        return SLIC_ERANGE;
    *out = bytes + frac_bytes;
    return 0;
}

int slic_yaml_as_size(const slic_yaml_node *n, uint64_t min, uint64_t max, uint64_t *out,
                      struct slic_errmsg *err)
{
    uint64_t v = 0;
    if (n->kind != SLIC_YAML_SCALAR || slic_size_parse(n->text, &v) < 0)
        return type_fail(n, err, "a size like 512MiB or 10MB");
    if (v >= min && v <= max) {
        *out = v;
        return 0;
    }
    char expected[96], lo[32], hi[32];
    size_format(lo, sizeof lo, min);
    size_format(hi, sizeof hi, max);
    if (max == UINT64_MAX)
        snprintf(expected, sizeof expected, "a size of at least %s", lo);
    else
        snprintf(expected, sizeof expected, "a size from %s to %s", lo, hi);
    return type_fail(n, err, expected);
}

int slic_yaml_as_strings(const slic_yaml_node *n, const char ***out, size_t *out_n,
                         struct slic_errmsg *err)
{
    if (n->kind != SLIC_YAML_SEQUENCE)
        return type_fail(n, err, "a list of strings");
    const char **v = NULL;
    if (n->n > 0) {
        v = slic_malloc(n->n * sizeof *v);
        if (!v)
            return slic_yaml_error(n, err, SLIC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n->n; i++) {
        int rc = slic_yaml_as_string(n->kids[i], &v[i], err);
        if (rc < 0) {
            slic_free(v);
            return rc;
        }
    }
    *out = v;
    *out_n = n->n;
    return 0;
}

int slic_yaml_as_mapping(const slic_yaml_node *n, struct slic_errmsg *err)
{
    return n->kind == SLIC_YAML_MAPPING ? 0 : type_fail(n, err, "a mapping of key: value");
}

int slic_yaml_as_sequence(const slic_yaml_node *n, struct slic_errmsg *err)
{
    return n->kind == SLIC_YAML_SEQUENCE ? 0 : type_fail(n, err, "a list");
}

/* ---- keyed getters ---- */

/* Finds key's value in map: 0 with *out NULL when absent and optional. */
static int lookup(const slic_yaml_node *map, const char *key, unsigned flags,
                  const slic_yaml_node **out, struct slic_errmsg *err)
{
    int rc = slic_yaml_as_mapping(map, err);
    if (rc < 0)
        return rc;
    const slic_yaml_node *v = slic_yaml_get(map, key);
    if (!v && (flags & SLIC_YAML_REQUIRED)) {
        char path[128];
        slic_yaml_path(map, path, sizeof path);
        return slic_errmsg_set(err, SLIC_EMISSING, "%s:%u: missing required key '%s%s%s'",
                               map->file, map->line, path, path[0] ? "." : "", key);
    }
    *out = v;
    return 0;
}

int slic_yaml_get_string(const slic_yaml_node *map, const char *key, unsigned flags,
                         const char **out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_string(v, out, err);
}

int slic_yaml_get_bool(const slic_yaml_node *map, const char *key, unsigned flags, bool *out,
                       struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_bool(v, out, err);
}

int slic_yaml_get_int64(const slic_yaml_node *map, const char *key, unsigned flags, int64_t min,
                        int64_t max, int64_t *out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_int64(v, min, max, out, err);
}

int slic_yaml_get_uint64(const slic_yaml_node *map, const char *key, unsigned flags, uint64_t min,
                         uint64_t max, uint64_t *out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_uint64(v, min, max, out, err);
}

int slic_yaml_get_double(const slic_yaml_node *map, const char *key, unsigned flags, double min,
                         double max, double *out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_double(v, min, max, out, err);
}

int slic_yaml_get_duration(const slic_yaml_node *map, const char *key, unsigned flags, double min_s,
                           double max_s, double *out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_duration(v, min_s, max_s, out, err);
}

int slic_yaml_get_size(const slic_yaml_node *map, const char *key, unsigned flags, uint64_t min,
                       uint64_t max, uint64_t *out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_size(v, min, max, out, err);
}

int slic_yaml_get_strings(const slic_yaml_node *map, const char *key, unsigned flags,
                          const char ***out, size_t *out_n, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    return rc < 0 || !v ? rc : slic_yaml_as_strings(v, out, out_n, err);
}

int slic_yaml_get_mapping(const slic_yaml_node *map, const char *key, unsigned flags,
                          const slic_yaml_node **out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    if (rc < 0 || !v)
        return rc;
    rc = slic_yaml_as_mapping(v, err);
    if (rc == 0)
        *out = v;
    return rc;
}

int slic_yaml_get_sequence(const slic_yaml_node *map, const char *key, unsigned flags,
                           const slic_yaml_node **out, struct slic_errmsg *err)
{
    const slic_yaml_node *v = NULL;
    int rc = lookup(map, key, flags, &v, err);
    if (rc < 0 || !v)
        return rc;
    rc = slic_yaml_as_sequence(v, err);
    if (rc == 0)
        *out = v;
    return rc;
}

/* ---- unknown keys ---- */

#define EDIT_MAX 64

/* Case-insensitive optimal-string-alignment distance (edits: insert, delete, substitute,
 * swap two neighbours), so "Listen", "lisen" and "lsiten" are all near "listen". Keys longer
 * than EDIT_MAX - 1 get SIZE_MAX: no suggestion. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la >= EDIT_MAX || lb >= EDIT_MAX)
        return SIZE_MAX;
    size_t rows[3][EDIT_MAX];
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t v = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
        }
    }
    return rows[la % 3][lb];
}

/* The allowed key nearest to key, if near enough to be a likely typo: at most 1 edit for keys
 * up to 5 characters, 2 for longer ones. */
static const char *closest_key(const char *key, const char *const allowed[])
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; allowed[i]; i++) {
        size_t d = edit_distance(key, allowed[i]);
        size_t limit = strlen(allowed[i]) <= 5 ? 1 : 2;
        if (d <= limit && d < best_d) {
            best = allowed[i];
            best_d = d;
        }
    }
    return best;
}

static int unknown_key_fail(const slic_yaml_node *key, const char *const allowed[],
                            struct slic_errmsg *err)
{
    char path[128];
    slic_yaml_path(key, path, sizeof path);
    const char *near = closest_key(key->text, allowed);
    if (near)
        return slic_errmsg_set(err, SLIC_ECONFIG, "%s:%u: unknown key '%s'; did you mean '%s'?",
                               key->file, key->line, path, near);
    char list[200];
    size_t len = 0;
    list[0] = '\0';
    for (size_t i = 0; allowed[i]; i++) {
        path_append(list, sizeof list, &len, i ? ", " : "");
        path_append(list, sizeof list, &len, allowed[i]);
    }
    return slic_errmsg_set(err, SLIC_ECONFIG, "%s:%u: unknown key '%s'; allowed here: %s",
                           key->file, key->line, path, len ? list : "(none)");
}

int slic_yaml_check_keys(const slic_yaml_node *map, const char *const allowed[],
                         struct slic_errmsg *err)
{
    int rc = slic_yaml_as_mapping(map, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const char *k = map->kids[i]->text;
        bool known = false;
        for (size_t j = 0; allowed[j] && !known; j++)
            known = strcmp(k, allowed[j]) == 0;
        if (!known)
            return unknown_key_fail(map->kids[i], allowed, err);
    }
    return 0;
}
