/* Loading OpenSLO files (see openslo.h). Three passes: read every path into YAML streams and
 * index each document of a known kind (so references resolve across files in any order);
 * check every document in load order, turning each SLO into definitions; then sort the
 * definitions and derive the latency thresholds agents should count. The streams live until
 * the load ends; the returned set owns copies of everything it holds. */
#include "openslo.h"

#include "alloc.h"
#include "log.h"
#include "openslo_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define API_VERSION "openslo/v1"

/* Everything one load holds until it hands over the set. */
struct load {
    slic_yaml_stream **streams;
    size_t n_streams, cap_streams;
    struct agg__os_index ix;
    size_t cap_docs;
    struct agg__os_defs defs;
    struct agg_openslo_report rep;
};

/* ---- small shared helpers ---- */

char *agg__openslo_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = slic_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

bool agg__openslo_rfc1123(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

void agg__openslo_skip(struct agg__os_skip *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
}

/* Room for one more element: arr itself while it has room, else arr reallocated to twice the
 * capacity (cap updated); NULL when out of memory, with arr untouched. */
static void *grow(void *arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = slic_realloc(arr, c * elem);
    if (p)
        *cap = c;
    return p;
}

/* ---- metadata and inline objects ---- */

static int check_annotations(const slic_yaml_node *meta, struct slic_errmsg *err)
{
    const slic_yaml_node *ann = NULL;
    const char *v = NULL;
    int rc = slic_yaml_get_mapping(meta, "annotations", 0, &ann, err);
    for (size_t i = 0; rc == 0 && ann && i < slic_yaml_len(ann); i++)
        rc = slic_yaml_as_string(slic_yaml_pair_value(ann, i), &v, err);
    return rc;
}

int agg__openslo_metadata(const slic_yaml_node *meta, bool rfc1123, const char **name,
                          struct slic_errmsg *err)
{
    static const char *const keys[] = {"name", "displayName", "labels", "annotations", NULL};
    const slic_yaml_node *labels = NULL;
    const char *display = NULL;
    int rc;
    if ((rc = slic_yaml_check_keys(meta, keys, err)) ||
        (rc = slic_yaml_get_string(meta, "name", SLIC_YAML_REQUIRED, name, err)) ||
        (rc = slic_yaml_get_string(meta, "displayName", 0, &display, err)) ||
        (rc = slic_yaml_get_mapping(meta, "labels", 0, &labels, err)) ||
        (rc = check_annotations(meta, err)))
        return rc;
    /* SLO names become slic's identities (API paths, metric labels, "<slo>.<objective>"), so
     * they keep to the RFC 1123 names every OpenSLO tool must accept. */
    if (rfc1123 && !agg__openslo_rfc1123(*name))
        return slic_yaml_error(slic_yaml_get(meta, "name"), err, SLIC_ECONFIG,
                               "expected a name of at most 63 characters [a-z0-9-], starting "
                               "and ending with a letter or digit, got \"%s\"",
                               *name);
    if (!rfc1123 && !slic_name_valid(*name))
        return slic_yaml_error(slic_yaml_get(meta, "name"), err, SLIC_ECONFIG,
                               "expected a name of [A-Za-z0-9_.:-], got \"%s\"", *name);
    return 0;
}

int agg__openslo_inline(const slic_yaml_node *obj, const char *kind, const char **name,
                        const slic_yaml_node **spec, struct slic_errmsg *err)
{
    static const char *const keys[] = {"apiVersion", "kind", "metadata", "spec", NULL};
    const char *k = NULL, *api = NULL;
    const slic_yaml_node *meta = NULL;
    int rc;
    *name = NULL;
    if ((rc = slic_yaml_check_keys(obj, keys, err)) ||
        (rc = slic_yaml_get_string(obj, "kind", SLIC_YAML_REQUIRED, &k, err)) ||
        (rc = slic_yaml_get_string(obj, "apiVersion", 0, &api, err)) ||
        (rc = slic_yaml_get_mapping(obj, "metadata", 0, &meta, err)) ||
        (meta && (rc = agg__openslo_metadata(meta, false, name, err))) ||
        (rc = slic_yaml_get_mapping(obj, "spec", SLIC_YAML_REQUIRED, spec, err)))
        return rc;
    if (strcmp(k, kind) != 0)
        return slic_yaml_error(slic_yaml_get(obj, "kind"), err, SLIC_ECONFIG,
                               "expected kind %s here, got \"%s\"", kind, k);
    if (api && strcmp(api, API_VERSION) != 0)
        return slic_yaml_error(slic_yaml_get(obj, "apiVersion"), err, SLIC_ECONFIG,
                               "expected %s, got \"%s\"", API_VERSION, api);
    return 0;
}

/* ---- the report ---- */

static int report_add(struct agg_openslo_report *r, const slic_yaml_node *at, const char *kind,
                      const char *name, const char *reason)
{
    struct agg_openslo_skipped *v = slic_realloc(r->skipped, (r->n_skipped + 1) * sizeof *v);
    if (!v)
        return SLIC_ENOMEM;
    r->skipped = v;
    struct agg_openslo_skipped *s = &v[r->n_skipped++];
    memset(s, 0, sizeof *s);
    s->line = slic_yaml_line(at);
    s->file = agg__openslo_strdup(slic_yaml_file(at));
    s->kind = agg__openslo_strdup(kind);
    s->name = agg__openslo_strdup(name ? name : "");
    s->reason = agg__openslo_strdup(reason);
    return s->file && s->kind && s->name && s->reason ? 0 : SLIC_ENOMEM;
}

void agg_openslo_report_fini(struct agg_openslo_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_skipped; i++) {
        slic_free(r->skipped[i].file);
        slic_free(r->skipped[i].kind);
        slic_free(r->skipped[i].name);
        slic_free(r->skipped[i].reason);
    }
    slic_free(r->skipped);
    memset(r, 0, sizeof *r);
}

void agg_openslo_skipped_format(const struct agg_openslo_skipped *s, char *buf, size_t size)
{
    if (s->name[0])
        snprintf(buf, size, "%s:%u: %s '%s' skipped: %s", s->file, s->line, s->kind, s->name,
                 s->reason);
    else
        snprintf(buf, size, "%s:%u: %s skipped: %s", s->file, s->line, s->kind, s->reason);
}

void agg_openslo_report_log(const struct agg_openslo_report *r)
{
    char line[1024];
    for (size_t i = 0; i < r->n_skipped; i++) {
        agg_openslo_skipped_format(&r->skipped[i], line, sizeof line);
        SLIC_WARN("openslo", "%s", line);
    }
}

/* ---- indexing documents ---- */

static const struct {
    const char *name;
    enum agg__os_kind kind;
    bool spec_required;
} kinds[] = {
    {"SLO", AGG__OS_SLO, true},
    {"SLI", AGG__OS_SLI, true},
    {"AlertPolicy", AGG__OS_ALERT_POLICY, true},
    {"AlertCondition", AGG__OS_ALERT_CONDITION, true},
    {"DataSource", AGG__OS_DATA_SOURCE, true},
    {"Service", AGG__OS_SERVICE, false},
    {"AlertNotificationTarget", AGG__OS_NOTIFICATION_TARGET, false},
};

static const char *kind_name(enum agg__os_kind k)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (kinds[i].kind == k)
            return kinds[i].name;
    }
    return "?";
}

/* metadata.name if the document has a readable one, for report lines about skipped ones. */
static const char *name_if_any(const slic_yaml_node *root)
{
    const slic_yaml_node *n = slic_yaml_get(slic_yaml_get(root, "metadata"), "name");
    return n && slic_yaml_kind(n) == SLIC_YAML_SCALAR ? slic_yaml_text(n) : NULL;
}

/* Finds the document's row in kinds[]. A document of another apiVersion or kind gets row -1
 * and a line in the report. */
static int classify(struct load *l, const slic_yaml_node *root, const char *api, const char *kind,
                    int *row)
{
    char why[240];
    int found = -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].name, kind) == 0)
            found = (int)i;
    }
    *row = -1;
    if (strcmp(api, API_VERSION) != 0)
        snprintf(why, sizeof why, "apiVersion '%s' is not %s, the version slic reads", api,
                 API_VERSION);
    else if (found < 0)
        snprintf(why, sizeof why,
                 "kind '%s' is not an OpenSLO v1 kind slic reads (SLO, SLI, AlertPolicy, "
                 "AlertCondition, DataSource, Service, AlertNotificationTarget)",
                 kind);
    else {
        *row = found;
        return 0;
    }
    return report_add(&l->rep, root, kind, name_if_any(root), why);
}

static int check_doc_shape(const slic_yaml_node *root, int k, struct agg__os_doc *d,
                           struct slic_errmsg *err)
{
    static const char *const keys[] = {"apiVersion", "kind", "metadata", "spec", NULL};
    const char *type = NULL;
    int rc;
    d->root = root;
    d->kind = kinds[k].kind;
    if ((rc = slic_yaml_check_keys(root, keys, err)) ||
        (rc = slic_yaml_get_mapping(root, "metadata", SLIC_YAML_REQUIRED, &d->metadata, err)) ||
        (rc = agg__openslo_metadata(d->metadata, d->kind == AGG__OS_SLO, &d->name, err)) ||
        (rc = slic_yaml_get_mapping(root, "spec", kinds[k].spec_required ? SLIC_YAML_REQUIRED : 0,
                                    &d->spec, err)))
        return rc;
    /* An SLI may name a DataSource instead of a type; its type must then be there. */
    if (d->kind == AGG__OS_DATA_SOURCE)
        return slic_yaml_get_string(d->spec, "type", SLIC_YAML_REQUIRED, &type, err);
    return 0;
}

static int index_doc(struct load *l, const slic_yaml_node *root, struct slic_errmsg *err)
{
    const char *api = NULL, *kind = NULL;
    int k = -1, rc;
    /* An empty document ("---" at the end of a file) holds nothing to read. */
    if (slic_yaml_kind(root) == SLIC_YAML_SCALAR && slic_yaml_is_null(root))
        return 0;
    if ((rc = slic_yaml_as_mapping(root, err)))
        return rc;
    l->rep.n_documents++;
    if ((rc = slic_yaml_get_string(root, "apiVersion", SLIC_YAML_REQUIRED, &api, err)) ||
        (rc = slic_yaml_get_string(root, "kind", SLIC_YAML_REQUIRED, &kind, err)) ||
        (rc = classify(l, root, api, kind, &k)) || k < 0)
        return rc;
    struct agg__os_doc *docs = grow(l->ix.docs, l->ix.n, &l->cap_docs, sizeof *docs);
    if (!docs)
        return SLIC_ENOMEM;
    l->ix.docs = docs;
    struct agg__os_doc *d = &docs[l->ix.n];
    memset(d, 0, sizeof *d);
    if ((rc = check_doc_shape(root, k, d, err)))
        return rc;
    l->ix.n++;
    return 0;
}

/* ---- reading paths ---- */

static int load_file(struct load *l, const char *path, struct slic_errmsg *err)
{
    slic_yaml_stream *y = NULL;
    slic_yaml_stream **streams = grow(l->streams, l->n_streams, &l->cap_streams, sizeof *streams);
    if (!streams)
        return SLIC_ENOMEM;
    l->streams = streams;
    int rc = slic_yaml_load_file(path, NULL, &y, err);
    if (rc) {
        if (rc > -4096 && rc < 0)
            slic_errmsg_set(err, rc, "%s: cannot read: %s", path, slic_strerror(rc));
        return rc;
    }
    l->streams[l->n_streams++] = y;
    l->rep.n_files++;
    for (size_t i = 0; i < slic_yaml_doc_count(y); i++) {
        if ((rc = index_doc(l, slic_yaml_doc(y, i), err)))
            return rc;
    }
    return 0;
}

static bool yaml_name(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.')
        return false;
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        slic_free(names[i]);
    slic_free(names);
}

/* Appends dir/name to names when it is a regular file (symlinks followed). */
static int add_entry(const char *dir, const char *name, char ***names, size_t *n, size_t *cap)
{
    struct stat st;
    size_t len = strlen(dir) + strlen(name) + 2;
    char *path = slic_malloc(len);
    char **v = grow(*names, *n, cap, sizeof **names);
    if (v)
        *names = v;
    if (!path || !v) {
        slic_free(path);
        return SLIC_ENOMEM;
    }
    snprintf(path, len, "%s/%s", dir, name);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        v[(*n)++] = path;
    else
        slic_free(path);
    return 0;
}

/* The regular *.yaml / *.yml files directly in dir, as paths sorted by name. */
static int list_dir(const char *dir, char ***out, size_t *out_n, struct slic_errmsg *err)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, e;
    DIR *d = opendir(dir);
    if (!d) {
        e = errno;
        return slic_errmsg_set(err, -e, "%s: cannot open directory: %s", dir, strerror(e));
    }
    while (rc == 0) {
        errno = 0;
        struct dirent *ent = readdir(d);
        if (!ent) {
            if ((e = errno) != 0)
                rc = slic_errmsg_set(err, -e, "%s: cannot list directory: %s", dir, strerror(e));
            break;
        }
        if (yaml_name(ent->d_name))
            rc = add_entry(dir, ent->d_name, &names, &n, &cap);
    }
    closedir(d);
    if (rc) {
        free_names(names, n);
        return rc;
    }
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    *out_n = n;
    return 0;
}

static int load_path(struct load *l, const char *path, struct slic_errmsg *err)
{
    struct stat st;
    char **names = NULL;
    size_t n = 0;
    if (stat(path, &st) != 0) {
        int e = errno;
        return slic_errmsg_set(err, -e, "%s: cannot read: %s", path, strerror(e));
    }
    if (!S_ISDIR(st.st_mode))
        return load_file(l, path, err);
    int rc = list_dir(path, &names, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = load_file(l, names[i], err);
    free_names(names, n);
    return rc;
}

/* ---- lookups ---- */

static int doc_cmp(const struct agg__os_doc *a, const struct agg__os_doc *b)
{
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Ties break by position in docs (one array, so pointers compare), which puts the first
 * definition in load order first. */
static int by_name_cmp(const void *a, const void *b)
{
    const struct agg__os_doc *da = *(const struct agg__os_doc *const *)a;
    const struct agg__os_doc *db = *(const struct agg__os_doc *const *)b;
    int c = doc_cmp(da, db);
    return c ? c : (da < db ? -1 : da > db);
}

static int key_cmp(const void *key, const void *elem)
{
    return doc_cmp(key, *(const struct agg__os_doc *const *)elem);
}

const struct agg__os_doc *agg__openslo_find(const struct agg__os_index *ix, enum agg__os_kind kind,
                                            const char *name)
{
    if (ix->n == 0)
        return NULL;
    struct agg__os_doc key = {.kind = kind, .name = name};
    const struct agg__os_doc *const *hit =
        bsearch(&key, ix->by_name, ix->n, sizeof *ix->by_name, key_cmp);
    /* With duplicates the load fails before any lookup, so any hit is the only one. */
    return hit ? *hit : NULL;
}

/* Sorts the index and rejects a name defined twice for one kind, naming both places. */
static int index_finish(struct agg__os_index *ix, struct slic_errmsg *err)
{
    if (ix->n == 0)
        return 0;
    ix->by_name = slic_calloc(ix->n, sizeof *ix->by_name);
    if (!ix->by_name)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < ix->n; i++)
        ix->by_name[i] = &ix->docs[i];
    qsort(ix->by_name, ix->n, sizeof *ix->by_name, by_name_cmp);
    const struct agg__os_doc *dup = NULL, *first = NULL;
    for (size_t i = 1; i < ix->n; i++) {
        const struct agg__os_doc *a = ix->by_name[i - 1], *b = ix->by_name[i];
        /* Report the duplicate that comes first in load order. */
        if (doc_cmp(a, b) == 0 && (!dup || b < dup)) {
            dup = b;
            first = a;
        }
    }
    if (!dup)
        return 0;
    return slic_yaml_error(slic_yaml_get(dup->metadata, "name"), err, SLIC_ECONFIG,
                           "%s '%s' is already defined at %s:%u", kind_name(dup->kind), dup->name,
                           slic_yaml_file(first->root), slic_yaml_line(first->root));
}

/* ---- checking documents and building definitions ---- */

static int check_doc(struct load *l, const struct agg__os_doc *d, struct slic_errmsg *err)
{
    struct agg__os_skip skip = {{0}};
    struct agg__os_indicator ind;
    int rc = 0;
    switch (d->kind) {
    case AGG__OS_SLI:
        /* Checked even when no SLO names it; whether slic can read it matters only then. */
        return agg__openslo_indicator(&l->ix, d->spec, &ind, &skip, err);
    case AGG__OS_ALERT_POLICY:
        return agg__openslo_check_policy(&l->ix, d, err);
    case AGG__OS_ALERT_CONDITION:
        return agg__openslo_check_condition(d, err);
    case AGG__OS_SLO:
        rc = agg__openslo_slo(&l->ix, d, &l->defs, &skip, err);
        if (rc == 0 && skip.why[0])
            rc = report_add(&l->rep, d->root, "SLO", d->name, skip.why);
        return rc;
    case AGG__OS_DATA_SOURCE:
    case AGG__OS_SERVICE:
    case AGG__OS_NOTIFICATION_TARGET:
        return 0;
    }
    return 0;
}

static void load_fini(struct load *l)
{
    for (size_t i = 0; i < l->defs.n; i++)
        agg_slo_def_fini(&l->defs.v[i]);
    slic_free(l->defs.v);
    slic_free(l->ix.by_name);
    slic_free(l->ix.docs);
    for (size_t i = 0; i < l->n_streams; i++)
        slic_yaml_destroy(l->streams[i]);
    slic_free(l->streams);
    agg_openslo_report_fini(&l->rep);
}

int agg_openslo_load(const char *const paths[], size_t n, struct agg_slo_set **out,
                     struct agg_openslo_report *report, struct slic_errmsg *err)
{
    struct load l;
    int rc = 0;
    memset(&l, 0, sizeof l);
    if (report)
        memset(report, 0, sizeof *report);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = load_path(&l, paths[i], err);
    if (rc == 0)
        rc = index_finish(&l.ix, err);
    for (size_t i = 0; rc == 0 && i < l.ix.n; i++)
        rc = check_doc(&l, &l.ix.docs[i], err);
    if (rc == 0)
        rc = agg__openslo_set_build(&l.defs, out, err);
    if (rc == 0 && report) {
        *report = l.rep;
        memset(&l.rep, 0, sizeof l.rep);
    }
    load_fini(&l);
    return rc;
}
