/* Internals shared by the YAML tree's files: yamlconf.c (loading and navigation) and
 * yamlconf_get.c (messages, typed getters, unknown-key checks and slic_size_parse). The node's
 * layout is here so the getters read a scalar's text and a mapping's pairs directly. Not for
 * use outside them. */
#ifndef SLIC_YAMLCONF_INT_H
#define SLIC_YAMLCONF_INT_H

#include "yamlconf.h"

#include <stdbool.h>
#include <stddef.h>

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

/* Appends s to buf (size bytes, holding a string of *len bytes) and advances *len; if it does
 * not fit, what fits is kept and the end becomes "...", so a truncated text says so. */
void slic__yaml_path_append(char *buf, size_t size, size_t *len, const char *s);

#endif
