/* Freeing the batch structs, and the name and label syntax every part of slic agrees on. */
#include "batch.h"

#include "alloc.h"

#include <string.h>

void slic_series_fini(struct slic_series *s)
{
    if (!s)
        return;
    slic_free(s->sli);
    for (size_t i = 0; i < s->n_labels; i++) {
        slic_free(s->labels[i].key);
        slic_free(s->labels[i].value);
    }
    slic_free(s->labels);
    slic_sketch_destroy(s->latency);
    slic_free(s->thresholds);
    memset(s, 0, sizeof *s);
}

void slic_batch_fini(struct slic_batch *b)
{
    if (!b)
        return;
    slic_free(b->agent_id);
    slic_free(b->site);
    slic_free(b->node);
    for (size_t i = 0; i < b->n_series; i++)
        slic_series_fini(&b->series[i]);
    slic_free(b->series);
    memset(b, 0, sizeof *b);
}

void slic_ack_fini(struct slic_ack *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_wanted; i++) {
        slic_free(a->wanted[i].sli);
        slic_free(a->wanted[i].thresholds);
    }
    slic_free(a->wanted);
    memset(a, 0, sizeof *a);
}

const char *slic_ack_status_name(enum slic_ack_status s)
{
    switch (s) {
    case SLIC_ACK_ACCEPTED:
        return "accepted";
    case SLIC_ACK_DUPLICATE:
        return "duplicate";
    case SLIC_ACK_REJECTED:
        return "rejected";
    case SLIC_ACK_RETRY:
        return "retry";
    }
    return "unknown";
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool slic_name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!is_alnum(c) && c != '_' && c != '.' && c != ':' && c != '-')
            return false;
        if (n >= SLIC_NAME_MAX)
            return false;
    }
    return n > 0;
}

bool slic_label_key_valid(const char *s)
{
    size_t n = 0;
    if (s[0] >= '0' && s[0] <= '9')
        return false;
    for (; s[n]; n++) {
        if (!is_alnum(s[n]) && s[n] != '_')
            return false;
        if (n >= SLIC_LABEL_KEY_MAX)
            return false;
    }
    return n > 0;
}

bool slic_label_value_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (s[n] < 0x20 || s[n] > 0x7e)
            return false;
        if (n >= SLIC_LABEL_VALUE_MAX)
            return false;
    }
    return true;
}
