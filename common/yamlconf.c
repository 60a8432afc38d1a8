/* slic's YAML document tree (see yamlconf.h). Loading: libyaml's event parser drives a
 * builder that keeps a stack of open collections, so the caps on depth and node count are
 * checked before anything is allocated for the offending node. Then navigation; the messages,
 * typed getters and unknown-key checks are in yamlconf_get.c.
 * Every allocation goes through slic_malloc so tests can fail each one in turn. */
#include "yamlconf_int.h"

#include "alloc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* The deepest nesting any caller may ask for: freeing and path building recurse or keep a
 * frame per level, so this bounds their stack use whatever the limits say. */
#define YAML_DEPTH_CEILING 1024u

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
void slic__yaml_path_append(char *buf, size_t size, size_t *len, const char *s)
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
                slic__yaml_path_append(buf, size, &len, ".");
            slic__yaml_path_append(buf, size, &len, x->parent->kids[2 * x->index]->text);
        } else {
            char item[32];
            snprintf(item, sizeof item, "[%zu]", x->index);
            slic__yaml_path_append(buf, size, &len, item);
        }
    }
}
