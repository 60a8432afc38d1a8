/* libFuzzer target for the access-log parser, which reads lines any client of the web server can
 * shape. The first byte picks the options (bit 0: JSON; bits 1-2: unit; bit 3: method label;
 * bit 4: route label; bit 5: status rule off; bit 7: JSON without a status key), the second the
 * combined latency field (-4..4); the rest is the line. An accepted line must give a record
 * that keeps accesslog.h's promises; a refused one must leave the record untouched. Any breach
 * abort()s. */
#include "accesslog.h"
#include "batch.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SENTINEL 0xa5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
    if (!ok)
        abort();
}

static bool inside(const char *base, size_t size, const char *p, size_t n)
{
    return p >= base && n <= size && (size_t)(p - base) <= size - n;
}

static void options(uint8_t b0, uint8_t b1, struct slic_accesslog_opts *o)
{
    static const enum slic_accesslog_unit units[] = {SLIC_ACCESSLOG_S, SLIC_ACCESSLOG_MS,
                                                     SLIC_ACCESSLOG_US, SLIC_ACCESSLOG_S};
    slic_accesslog_opts_init(o, b0 & 1 ? SLIC_ACCESSLOG_JSON : SLIC_ACCESSLOG_COMBINED, "fuzz");
    o->unit = units[(b0 >> 1) & 3];
    o->label_method = b0 & 8;
    o->label_route = b0 & 16;
    if (b0 & 32)
        o->status_bad_min = 0;
    o->latency_field = (int)(b1 % 9) - 4;
    o->path_key = "request_uri";
    o->method_key = "request_method";
    if (b0 & 128)
        o->status_key = NULL;
    require(slic_accesslog_opts_check(o, NULL) == 0);
}

/* A string of the record lies in the line or in the record's scratch. */
static void check_text(const struct slic_accesslog_record *rec, const char *line, size_t len,
                       const char *p, size_t n)
{
    require(p != NULL);
    require(n == 0 || inside(line, len, p, n) || inside(rec->scratch_, sizeof rec->scratch_, p, n));
}

static bool label_is(const struct slic_event_label *l, const char *key)
{
    return l->key_len == strlen(key) && memcmp(l->key, key, l->key_len) == 0;
}

/* Method first when asked for (an upper-case method or "_OTHER"), then the route when asked for
 * and the path makes a valid label value; a missing route is counted as dropped. */
static void check_labels(const struct slic_accesslog_opts *o,
                         const struct slic_accesslog_record *rec)
{
    const struct slic_event *ev = &rec->event;
    size_t i = 0;
    if (o->label_method) {
        const struct slic_event_label *l = &ev->labels[i++];
        require(ev->n_labels >= 1 && label_is(l, "method"));
        require(l->value_len >= 3 && l->value_len <= 7);
        for (size_t k = 0; k < l->value_len; k++)
            require((l->value[k] >= 'A' && l->value[k] <= 'Z') || l->value[k] == '_');
    }
    bool route = o->label_route && i < ev->n_labels;
    if (route) {
        const struct slic_event_label *l = &ev->labels[i++];
        require(label_is(l, "route"));
        require(l->value == rec->path && l->value_len == rec->path_len);
        require(l->value_len > 0 && l->value_len <= SLIC_LABEL_VALUE_MAX);
        for (size_t k = 0; k < l->value_len; k++)
            require(l->value[k] >= 0x20 && l->value[k] <= 0x7e);
    }
    require(i == ev->n_labels);
    require(rec->labels_dropped == (o->label_route && !route ? 1u : 0u));
}

static void check_ok(const struct slic_accesslog_opts *o, const struct slic_accesslog_record *rec,
                     const char *line, size_t len)
{
    const struct slic_event *ev = &rec->event;
    require(ev->name == o->sli && ev->name_len == strlen(o->sli));
    require(isfinite(ev->latency) && ev->latency >= 0 && ev->latency <= SLIC_EVENT_LATENCY_MAX);
    require(ev->weight == 1);
    require(rec->status <= 999);
    bool rule = o->status_bad_min > 0 && (o->format == SLIC_ACCESSLOG_COMBINED || o->status_key);
    require(ev->good == (!rule || rec->status < o->status_bad_min));
    require(rule || o->format == SLIC_ACCESSLOG_COMBINED || o->status_key || rec->status == 0);
    check_text(rec, line, len, rec->method, rec->method_len);
    check_text(rec, line, len, rec->path, rec->path_len);
    require(!memchr(rec->path, '?', rec->path_len));
    require(rec->path_len <= SLIC_ACCESSLOG_LINE_MAX);
    check_labels(o, rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct slic_accesslog_opts o;
    options(data[0], data[1], &o);
    const char *line = (const char *)data + 2;
    size_t len = size - 2;
    static struct slic_accesslog_record rec;
    memset(&rec, SENTINEL, sizeof rec);
    enum slic_accesslog_reason r = slic_accesslog_parse(&o, line, len, &rec);
    require(r < SLIC_ACCESSLOG_REASON_COUNT);
    require(slic_accesslog_reason_name(r)[0] != '\0');
    if (r == SLIC_ACCESSLOG_OK) {
        check_ok(&o, &rec, line, len);
        return 0;
    }
    for (size_t i = 0; i < sizeof rec; i++)
        require(((const unsigned char *)&rec)[i] == SENTINEL);
    return 0;
}
