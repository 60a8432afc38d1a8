/* libFuzzer target for the line protocol parser, which reads datagrams anyone who can reach the
 * agent's UDP port may send. Every event it delivers must satisfy event.h's contract (a valid
 * name, a latency in range, a weight >= 1, unique valid labels, every view inside the datagram,
 * no deciding tag among the labels), and the counters must agree with the callbacks. The input
 * is parsed with the status rule on and off, and, when short enough, read as one number, which
 * must equal strtod's reading bit for bit (the decimal fast path). Any breach abort()s. */
#include "batch.h"
#include "event.h"
#include "lineproto.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
    const char *buf;
    size_t size;
    bool status_rule;
    uint64_t events;
    uint64_t rejects;
};

static void require(bool ok)
{
    if (!ok)
        abort();
}

static bool inside(const struct fuzz_ctx *f, const char *p, size_t n)
{
    return p >= f->buf && n <= f->size && (size_t)(p - f->buf) <= f->size - n;
}

/* A view is valid under `valid` once NUL-terminated, and holds no NUL itself. */
static bool view_valid(const char *p, size_t n, size_t max, bool (*valid)(const char *))
{
    char buf[SLIC_LABEL_VALUE_MAX + 1];
    if (n > max || (n > 0 && memchr(p, '\0', n)))
        return false;
    if (n > 0)
        memcpy(buf, p, n);
    buf[n] = '\0';
    return valid(buf);
}

static bool key_is(const struct slic_event_label *l, const char *s)
{
    return l->key_len == strlen(s) && memcmp(l->key, s, l->key_len) == 0;
}

static void check_labels(const struct fuzz_ctx *f, const struct slic_event *ev)
{
    require(ev->n_labels <= SLIC_EVENT_LABELS_MAX);
    for (size_t i = 0; i < ev->n_labels; i++) {
        const struct slic_event_label *l = &ev->labels[i];
        require(inside(f, l->key, l->key_len) && inside(f, l->value, l->value_len));
        require(view_valid(l->key, l->key_len, SLIC_LABEL_KEY_MAX, slic_label_key_valid));
        require(view_valid(l->value, l->value_len, SLIC_LABEL_VALUE_MAX, slic_label_value_valid));
        require(!key_is(l, "outcome"));
        require(!f->status_rule || (!key_is(l, "status") && !key_is(l, "code")));
        for (size_t j = 0; j < i; j++)
            require(!(l->key_len == ev->labels[j].key_len &&
                      memcmp(l->key, ev->labels[j].key, l->key_len) == 0));
    }
}

static void on_event(void *ctx, const struct slic_event *ev)
{
    struct fuzz_ctx *f = ctx;
    require(inside(f, ev->name, ev->name_len));
    require(view_valid(ev->name, ev->name_len, SLIC_NAME_MAX, slic_name_valid));
    require(!memchr(ev->name, ':', ev->name_len));
    require(isfinite(ev->latency) && ev->latency >= 0 && ev->latency <= SLIC_EVENT_LATENCY_MAX);
    require(ev->weight >= 1 && ev->weight <= SLIC_LINEPROTO_WEIGHT_MAX);
    check_labels(f, ev);
    f->events++;
}

static void on_reject(void *ctx, enum slic_lineproto_reason r, const char *line, size_t len)
{
    struct fuzz_ctx *f = ctx;
    require(r > SLIC_LINEPROTO_OK && r < SLIC_LINEPROTO_REASON_COUNT);
    require(slic_lineproto_reason_name(r)[0] != '\0');
    require(len == 0 || inside(f, line, len));
    require(!memchr(line, '\n', len));
    f->rejects++;
}

static void run(const char *buf, size_t size, bool status_rule)
{
    struct slic_lineproto_opts o;
    slic_lineproto_opts_init(&o);
    if (!status_rule)
        o.status_bad_min = 0;
    require(slic_lineproto_opts_check(&o, NULL) == 0);
    struct fuzz_ctx f = {.buf = buf, .size = size, .status_rule = status_rule};
    struct slic_lineproto_sink sink = {on_event, on_reject, &f};
    struct slic_lineproto_counters c = {0};
    slic_lineproto_parse(&o, buf, size, &sink, &c);

    uint64_t rejected = 0;
    for (int r = 0; r < SLIC_LINEPROTO_REASON_COUNT; r++)
        rejected += c.rejected[r];
    require(c.datagrams == 1 && c.rejected[SLIC_LINEPROTO_OK] == 0);
    require(c.events == f.events && rejected == f.rejects);
    require(c.lines >= 1 && rejected <= c.lines);
    /* Every accepted line delivers at least one event. */
    require(c.events >= c.lines - rejected);
    require(c.lines <= size + 1);
}

static void check_decimal(const char *s, size_t n)
{
    char buf[SLIC_LINEPROTO_NUMBER_MAX + 1];
    double v = -1;
    int rc = slic_lineproto_decimal(s, n, &v);
    require(rc == 0 || rc == SLIC_EINVAL || rc == SLIC_ERANGE);
    if (rc == SLIC_EINVAL)
        return;
    require(n <= SLIC_LINEPROTO_NUMBER_MAX && !memchr(s, '\0', n));
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end = NULL;
    double want = strtod(buf, &end);
    require(end == buf + n);
    require(rc == SLIC_ERANGE ? !isfinite(want) : memcmp(&v, &want, sizeof v) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decimal((const char *)data, size);
    run((const char *)data, size, true);
    run((const char *)data, size, false);
    return 0;
}
