/* libFuzzer target for the YAML loader, which reads every config and OpenSLO file operators
 * (or an API) hand to slic. Whatever slic_yaml_load_string accepts must form a consistent tree
 * every accessor and typed getter can walk without fault; whatever it refuses must come back
 * as one of its documented codes with a message naming the input. Scalars are also fed to the
 * time parsers, whose results must survive format + parse unchanged. Any breach abort()s. */
#include "alloc.h"
#include "err.h"
#include "timeutil.h"
#include "yamlconf.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz.yaml"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
    if (!ok)
        abort();
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A failed conversion is a config error with a message naming the file; never anything else. */
static void require_conversion(int rc, const struct slic_errmsg *err)
{
    require(rc == 0 || (rc == SLIC_ECONFIG && starts_with(err->text, FUZZ_NAME ":")));
}

static void exercise_time_parsers(const char *text)
{
    int64_t ns = 0, t = 0, back = 0;
    char buf[SLIC_DURATION_FMT_LEN];
    if (slic_duration_parse_ns(text, &ns) == 0) {
        require(ns >= 0);
        require(slic_duration_format_ns(ns, buf, sizeof buf) == 0);
        require(slic_duration_parse_ns(buf, &back) == 0 && back == ns);
    }
    char ts[SLIC_RFC3339_LEN];
    if (slic_rfc3339_parse(text, &t) == 0) {
        require(t >= SLIC_TIME_MIN && t <= SLIC_TIME_MAX);
        require(slic_rfc3339_format(t, ts, sizeof ts) == 0);
        require(slic_rfc3339_parse(ts, &back) == 0 && back == t);
    }
    if (slic_time_parse(text, 1795687200, &t) == 0)
        require(t >= SLIC_TIME_MIN && t <= SLIC_TIME_MAX);
    uint64_t bytes = 0;
    int rc = slic_size_parse(text, &bytes);
    require(rc == 0 || rc == SLIC_EINVAL || rc == SLIC_ERANGE);
}

static void exercise_scalar(const slic_yaml_node *n)
{
    const char *text = slic_yaml_text(n);
    require(text != NULL);
    struct slic_errmsg err;
    const char *s = NULL;
    bool b = false;
    int64_t i64 = 0;
    uint64_t u64 = 0;
    double d = 0;
    require_conversion(slic_yaml_as_string(n, &s, &err), &err);
    require_conversion(slic_yaml_as_bool(n, &b, &err), &err);
    require_conversion(slic_yaml_as_int64(n, -5, 1000, &i64, &err), &err);
    require(i64 >= -5 && i64 <= 1000);
    require_conversion(slic_yaml_as_uint64(n, 0, UINT64_MAX, &u64, &err), &err);
    require_conversion(slic_yaml_as_double(n, 0, 1, &d, &err), &err);
    require(d >= 0 && d <= 1);
    require_conversion(slic_yaml_as_duration(n, 0.001, 86400, &d, &err), &err);
    require_conversion(slic_yaml_as_size(n, 0, UINT64_MAX, &u64, &err), &err);
    require(slic_yaml_as_mapping(n, &err) == SLIC_ECONFIG);
    exercise_time_parsers(text);
}

static void walk(const slic_yaml_node *n, unsigned depth);

static void walk_mapping(const slic_yaml_node *n, unsigned depth)
{
    static const char *const allowed[] = {"apiVersion", "kind", "metadata", "spec", NULL};
    struct slic_errmsg err;
    int rc = slic_yaml_check_keys(n, allowed, &err);
    require(rc == 0 || (rc == SLIC_ECONFIG && starts_with(err.text, FUZZ_NAME ":")));
    const char *s = NULL;
    rc = slic_yaml_get_string(n, "kind", SLIC_YAML_REQUIRED, &s, &err);
    require(rc == 0 || rc == SLIC_ECONFIG || rc == SLIC_EMISSING);
    for (size_t i = 0; i < slic_yaml_len(n); i++) {
        const slic_yaml_node *k = slic_yaml_pair_key(n, i), *v = slic_yaml_pair_value(n, i);
        require(k && v && slic_yaml_kind(k) == SLIC_YAML_SCALAR);
        /* Keys are unique, so a lookup finds exactly this pair's value. */
        require(slic_yaml_get(n, slic_yaml_text(k)) == v);
        walk(v, depth + 1);
    }
    require(slic_yaml_pair_key(n, slic_yaml_len(n)) == NULL);
}

static void walk_sequence(const slic_yaml_node *n, unsigned depth)
{
    struct slic_errmsg err;
    const char **list = NULL;
    size_t count = 0;
    int rc = slic_yaml_as_strings(n, &list, &count, &err);
    require(rc == 0 || (rc == SLIC_ECONFIG && starts_with(err.text, FUZZ_NAME ":")));
    if (rc == 0) {
        require(count == slic_yaml_len(n));
        slic_free(list);
    }
    for (size_t i = 0; i < slic_yaml_len(n); i++)
        walk(slic_yaml_item(n, i), depth + 1);
    require(slic_yaml_item(n, slic_yaml_len(n)) == NULL);
}

static void walk(const slic_yaml_node *n, unsigned depth)
{
    /* Collections nest at most max_depth deep; a scalar may sit one level below. */
    require(n != NULL && depth <= SLIC_YAML_DEFAULT_MAX_DEPTH + 1);
    require(slic_yaml_line(n) >= 1 && slic_yaml_column(n) >= 1);
    require(strcmp(slic_yaml_file(n), FUZZ_NAME) == 0);
    char path[64];
    slic_yaml_path(n, path, sizeof path);
    require(strlen(path) < sizeof path);
    switch (slic_yaml_kind(n)) {
    case SLIC_YAML_SCALAR:
        exercise_scalar(n);
        break;
    case SLIC_YAML_MAPPING:
        walk_mapping(n, depth);
        break;
    case SLIC_YAML_SEQUENCE:
        walk_sequence(n, depth);
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    slic_yaml_stream *s = NULL;
    struct slic_errmsg err;
    int rc = slic_yaml_load_string(FUZZ_NAME, (const char *)data, size, NULL, &s, &err);
    if (rc != 0) {
        require(s == NULL);
        require(rc == SLIC_ECONFIG || rc == SLIC_ETOOBIG || rc == SLIC_ENOMEM);
        require(starts_with(err.text, FUZZ_NAME ":"));
        return 0;
    }
    for (size_t i = 0; i < slic_yaml_doc_count(s); i++)
        walk(slic_yaml_doc(s, i), 1);
    require(slic_yaml_doc(s, slic_yaml_doc_count(s)) == NULL);
    slic_yaml_destroy(s);
    return 0;
}
