/* The aggregator store's lifecycle and plumbing: opening the LMDB environment with an explicit
 * map size, checking the data dir's schema version and sketch settings, transactions under the
 * map lock, growing the map when it fills, stats, and the retention pass. Ingest lives in
 * store_write.c, queries in store_query.c. Assumes one process owns the data dir (LMDB would
 * allow more; a second one is tolerated, see MDB_MAP_RESIZED below). */

/* For pthread_rwlockattr_setkind_np: glibc's default rwlock lets a steady stream of readers
 * starve a writer, and the writer here is the thread that must grow the map. */
#define _GNU_SOURCE

#include "store_int.h"

#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COMPONENT "store"
#define MAX_DBS 8
/* Series the retention pass may look at per record it may delete, so a pass over millions of
 * series with nothing to delete still ends each transaction quickly. */
#define EXPIRE_VISITS_PER_DELETE 4

static int64_t clock_wall(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

int64_t agg__store_now(const agg_store *st)
{
    return st->clock(st->clock_ctx);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int agg__store_mdb_err(const agg_store *st, int rc, const char *what, struct slic_errmsg *err)
{
    if (rc == 0)
        return 0;
    if (rc == MDB_MAP_FULL)
        return slic_errmsg_set(err, SLIC_ERETRY, "data dir %s: %s: map full", st->path, what);
    if (rc == ENOMEM)
        return slic_errmsg_set(err, SLIC_ENOMEM, "data dir %s: %s: out of memory", st->path, what);
    return slic_errmsg_set(err, SLIC_ESTORE, "data dir %s: %s: %s", st->path, what,
                           mdb_strerror(rc));
}

void agg__store_stats_commit(agg_store *st, const struct agg_store_stats *d)
{
    pthread_mutex_lock(&st->stats_lock);
    struct agg_store_stats *s = &st->stats;
    for (size_t i = 0; i < sizeof s->batches / sizeof s->batches[0]; i++)
        s->batches[i] += d->batches[i];
    s->series_merged += d->series_merged;
    s->records_written += d->records_written;
    s->series_too_old += d->series_too_old;
    s->records_expired += d->records_expired;
    s->stale_readers_cleared += d->stale_readers_cleared;
    pthread_mutex_unlock(&st->stats_lock);
}

/* Another process grew the map past ours: take its size, with every transaction closed. */
static int map_adopt(agg_store *st, struct slic_errmsg *err)
{
    pthread_rwlock_wrlock(&st->map_lock);
    int rc = mdb_env_set_mapsize(st->env, 0);
    MDB_envinfo info;
    if (rc == 0 && (rc = mdb_env_info(st->env, &info)) == 0)
        st->map_size = info.me_mapsize;
    pthread_rwlock_unlock(&st->map_lock);
    return agg__store_mdb_err(st, rc, "adopting a map grown by another process", err);
}

int agg__store_txn_begin(agg_store *st, bool read_only, MDB_txn **txn, struct slic_errmsg *err)
{
    for (int attempt = 0;; attempt++) {
        pthread_rwlock_rdlock(&st->map_lock);
        int rc = mdb_txn_begin(st->env, NULL, read_only ? MDB_RDONLY : 0, txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&st->map_lock);
        if (rc != MDB_MAP_RESIZED || attempt > 0)
            return agg__store_mdb_err(st, rc, "mdb_txn_begin", err);
        if ((rc = map_adopt(st, err)))
            return rc;
    }
}

void agg__store_txn_abort(agg_store *st, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&st->map_lock);
}

int agg__store_txn_commit(agg_store *st, MDB_txn *txn, struct slic_errmsg *err)
{
    uint64_t t0 = mono_ns();
    int rc = mdb_txn_commit(txn);
    uint64_t took = mono_ns() - t0;
    pthread_rwlock_unlock(&st->map_lock);
    if (rc == 0) {
        pthread_mutex_lock(&st->stats_lock);
        st->stats.commits++;
        st->stats.last_commit_ns = took;
        pthread_mutex_unlock(&st->stats_lock);
    }
    return agg__store_mdb_err(st, rc, "mdb_txn_commit", err);
}

static size_t round_up(size_t v, size_t to)
{
    return (v + to - 1) / to * to;
}

int agg__store_grow(agg_store *st, struct slic_errmsg *err)
{
    /* map_size is read under the lock too: a reader adopting another process's resize (see
     * map_adopt) may write it. */
    pthread_rwlock_wrlock(&st->map_lock);
    size_t cur = st->map_size, max = st->map_size_max;
    int rc = 0;
    if (cur < max) {
        size_t next = cur <= max / 2 ? round_up(cur * 2, st->page_size) : max;
        MDB_envinfo info;
        if ((rc = mdb_env_set_mapsize(st->env, next)) == 0 &&
            (rc = mdb_env_info(st->env, &info)) == 0)
            st->map_size = info.me_mapsize;
    }
    size_t now = st->map_size;
    pthread_rwlock_unlock(&st->map_lock);
    if (cur >= max) {
        SLIC_WARN(COMPONENT,
                  "data dir %s: map full at %zu bytes, its configured maximum: writes "
                  "are refused (retry) until retention frees space or map_size_max is raised",
                  st->path, cur);
        return slic_errmsg_set(err, SLIC_ERETRY,
                               "data dir %s: map full at its maximum of %zu "
                               "bytes",
                               st->path, cur);
    }
    if (rc)
        return agg__store_mdb_err(st, rc, "growing the map", err);
    pthread_mutex_lock(&st->stats_lock);
    st->stats.map_growths++;
    pthread_mutex_unlock(&st->stats_lock);
    SLIC_INFO(COMPONENT, "data dir %s: map grown from %zu to %zu bytes (maximum %zu)", st->path,
              cur, now, max);
    return 0;
}

int agg__store_record_get(const agg_store *st, const MDB_val *key, const MDB_val *val,
                          struct agg__record *out, struct agg__buf *scratch,
                          struct slic_errmsg *err)
{
    struct slic_errmsg why;
    int rc = agg__record_decode(val->mv_data, val->mv_size, out, scratch, &why);
    if (rc == 0 || rc == SLIC_ENOMEM)
        return rc == 0 ? 0 : slic_errmsg_set(err, rc, "%s", why.text);
    char desc[256];
    agg__key_describe(key->mv_data, key->mv_size, desc, sizeof desc);
    return slic_errmsg_set(err, SLIC_ESTORE, "data dir %s: record %s is corrupt: %s", st->path,
                           desc, why.text);
}

static void readers_check(agg_store *st)
{
    int dead = 0;
    if (mdb_reader_check(st->env, &dead) == 0 && dead > 0) {
        SLIC_WARN(COMPONENT, "data dir %s: cleared %d reader slots of dead processes", st->path,
                  dead);
        struct agg_store_stats d = {.stale_readers_cleared = (uint64_t)dead};
        agg__store_stats_commit(st, &d);
    }
}

/* Defaults for zero fields, then the checks that make later code simpler. */
static int options_resolve(const struct agg_store_options *in, struct agg_store_options *o,
                           struct slic_errmsg *err)
{
    *o = in ? *in : (struct agg_store_options){0};
    o->map_size_initial = o->map_size_initial ? o->map_size_initial : AGG_STORE_DEFAULT_MAP_INITIAL;
    o->map_size_max = o->map_size_max ? o->map_size_max : AGG_STORE_DEFAULT_MAP_MAX;
    o->retention_10s = o->retention_10s ? o->retention_10s : AGG_STORE_DEFAULT_RETENTION_10S;
    o->retention_1m = o->retention_1m ? o->retention_1m : AGG_STORE_DEFAULT_RETENTION_1M;
    o->retention_1h = o->retention_1h ? o->retention_1h : AGG_STORE_DEFAULT_RETENTION_1H;
    o->alpha = o->alpha != 0 ? o->alpha : SLIC_SKETCH_DEFAULT_ALPHA;
    o->mapping = o->mapping ? o->mapping : SLIC_SKETCH_MAPPING_CUBIC;
    o->max_buckets = o->max_buckets ? o->max_buckets : SLIC_SKETCH_DEFAULT_MAX_BUCKETS;
    o->txn_pages = o->txn_pages ? o->txn_pages : AGG_STORE_DEFAULT_TXN_PAGES;
    o->clock = o->clock ? o->clock : clock_wall;
    if (o->map_size_initial > o->map_size_max)
        return slic_errmsg_set(err, SLIC_EINVAL, "map_size_initial %zu exceeds map_size_max %zu",
                               o->map_size_initial, o->map_size_max);
    if (o->retention_10s < 0 || o->retention_10s > o->retention_1m ||
        o->retention_1m > o->retention_1h)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "retention 10s=%lld 1m=%lld 1h=%lld: expected "
                               "positive seconds, finer resolutions kept no longer than coarser",
                               (long long)o->retention_10s, (long long)o->retention_1m,
                               (long long)o->retention_1h);
    slic_sketch *probe = NULL;
    if (slic_sketch_create_mapped(o->alpha, o->max_buckets, o->mapping, &probe))
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "sketch alpha %g, mapping %d, max_buckets %u: "
                               "not a valid sketch configuration",
                               o->alpha, (int)o->mapping, o->max_buckets);
    slic_sketch_destroy(probe);
    return 0;
}

/* mkdir -p: the data dir and any missing parent. */
static int mkdir_p(const char *path, struct slic_errmsg *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return slic_errmsg_set(err, SLIC_EINVAL, "data dir path of %zu bytes: expected 1..%zu", n,
                               sizeof buf - 1);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
            int e = errno;
            return slic_errmsg_set(err, -e, "cannot create data dir %s: %s", buf, strerror(e));
        }
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return slic_errmsg_set(err, -ENOTDIR, "data dir %s is not a directory", path);
    return 0;
}

static size_t os_page_size(void)
{
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (size_t)n : 4096;
}

static int env_open(agg_store *st, const struct agg_store_options *o, struct slic_errmsg *err)
{
    int rc = mdb_env_create(&st->env);
    if (rc)
        return agg__store_mdb_err(st, rc, "mdb_env_create", err);
    unsigned flags = MDB_NOTLS | (o->nosync ? MDB_NOSYNC : 0);
    if ((rc = mdb_env_set_maxdbs(st->env, MAX_DBS)) ||
        (rc = mdb_env_set_mapsize(st->env, round_up(o->map_size_initial, os_page_size()))) ||
        (rc = mdb_env_open(st->env, st->path, flags, 0640)))
        return agg__store_mdb_err(st, rc, "opening the LMDB environment", err);
    MDB_envinfo info;
    MDB_stat ms;
    if ((rc = mdb_env_info(st->env, &info)) || (rc = mdb_env_stat(st->env, &ms)))
        return agg__store_mdb_err(st, rc, "mdb_env_info", err);
    st->page_size = ms.ms_psize;
    st->map_size = info.me_mapsize;
    st->map_size_max = round_up(o->map_size_max, ms.ms_psize);
    size_t used = (info.me_last_pgno + 1) * (size_t)ms.ms_psize;
    if (st->map_size > st->map_size_max) {
        SLIC_WARN(COMPONENT,
                  "data dir %s already holds %zu bytes (map %zu), more than "
                  "map_size_max %zu: writes will be refused until map_size_max is raised",
                  st->path, used, st->map_size, st->map_size_max);
        st->map_size_max = st->map_size;
    }
    readers_check(st);
    return 0;
}

/* The sketch settings a data dir was created with, as text so mdb_dump shows them. */
static int sketch_settings(const agg_store *st, char *buf, size_t cap)
{
    return snprintf(buf, cap, "alpha=%.17g mapping=%d max_buckets=%u", st->sketch.alpha,
                    (int)st->sketch.mapping, st->sketch.max_buckets);
}

static int meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const void *v, size_t n)
{
    MDB_val k = {strlen(key), (void *)key}, val = {n, (void *)v};
    return mdb_put(txn, dbi, &k, &val, 0);
}

/* A fresh data dir gets our version and settings; an existing one must match them. */
static int meta_check(agg_store *st, MDB_txn *txn, struct slic_errmsg *err)
{
    char want[128];
    int want_len = sketch_settings(st, want, sizeof want);
    MDB_val k = {strlen(AGG_STORE_META_VERSION_KEY), AGG_STORE_META_VERSION_KEY}, v;
    int rc = mdb_get(txn, st->dbi_meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        MDB_dbi probe;
        if (mdb_dbi_open(txn, "data", 0, &probe) == 0)
            return slic_errmsg_set(err, SLIC_EVERSION,
                                   "data dir %s holds data but no schema "
                                   "version: it was not written by slic-aggregator; point the "
                                   "aggregator at an empty directory",
                                   st->path);
        uint8_t ver[4] = {AGG_STORE_SCHEMA_VERSION & 0xff, (AGG_STORE_SCHEMA_VERSION >> 8) & 0xff,
                          (AGG_STORE_SCHEMA_VERSION >> 16) & 0xff, AGG_STORE_SCHEMA_VERSION >> 24};
        if ((rc = meta_put(txn, st->dbi_meta, AGG_STORE_META_VERSION_KEY, ver, 4)) ||
            (rc = meta_put(txn, st->dbi_meta, "sketch", want, (size_t)want_len)))
            return agg__store_mdb_err(st, rc, "writing the schema version", err);
        return 0;
    }
    if (rc)
        return agg__store_mdb_err(st, rc, "reading the schema version", err);
    const uint8_t *b = v.mv_data;
    uint32_t have = v.mv_size == 4 ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                                         (uint32_t)b[3] << 24
                                   : 0;
    if (have != AGG_STORE_SCHEMA_VERSION)
        return slic_errmsg_set(err, SLIC_EVERSION,
                               "data dir %s has store schema version %u; this "
                               "slic-aggregator reads version %u only: run the slic release that "
                               "wrote it, or move the directory aside to start empty",
                               st->path, have, AGG_STORE_SCHEMA_VERSION);
    MDB_val sk = {6, "sketch"};
    if ((rc = mdb_get(txn, st->dbi_meta, &sk, &v)) && rc != MDB_NOTFOUND)
        return agg__store_mdb_err(st, rc, "reading the sketch settings", err);
    if (rc == MDB_NOTFOUND || v.mv_size != (size_t)want_len || memcmp(v.mv_data, want, v.mv_size))
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "data dir %s was created with sketch settings "
                               "'%.*s', the configuration says '%s': sketches of different "
                               "settings cannot merge; restore the old settings or use a new "
                               "data dir",
                               st->path, rc ? 0 : (int)v.mv_size, rc ? "" : (const char *)v.mv_data,
                               want);
    return 0;
}

/* Opens every named database once, in one transaction, as LMDB asks. */
static int schema_open(agg_store *st, struct slic_errmsg *err)
{
    MDB_txn *txn;
    int rc = agg__store_txn_begin(st, false, &txn, err);
    if (rc)
        return rc;
    if ((rc = mdb_dbi_open(txn, AGG_STORE_META_DB, MDB_CREATE, &st->dbi_meta))) {
        rc = agg__store_mdb_err(st, rc, "opening database meta", err);
        goto abort;
    }
    if ((rc = meta_check(st, txn, err)))
        goto abort;
    if ((rc = mdb_dbi_open(txn, "data", MDB_CREATE, &st->dbi_data)) ||
        (rc = mdb_dbi_open(txn, "labels", MDB_CREATE, &st->dbi_labels)) ||
        (rc = mdb_dbi_open(txn, "agents", MDB_CREATE, &st->dbi_agents)) ||
        (rc = mdb_dbi_open(txn, "seqs", MDB_CREATE, &st->dbi_seqs))) {
        rc = agg__store_mdb_err(st, rc, "opening the databases", err);
        goto abort;
    }
    /* The forward databases are new since schema version 1 but only added: an older slic
     * ignores them, so the version stays and existing data dirs open as they are. */
    if ((rc = agg__fwd_open(st, txn, err)))
        goto abort;
    return agg__store_txn_commit(st, txn, err);
abort:
    agg__store_txn_abort(st, txn);
    return rc;
}

static int locks_init(agg_store *st)
{
    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr))
        return SLIC_ENOMEM;
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&st->map_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc)
        return SLIC_ENOMEM;
    if (pthread_mutex_init(&st->stats_lock, NULL)) {
        pthread_rwlock_destroy(&st->map_lock);
        return SLIC_ENOMEM;
    }
    return 0;
}

int agg_store_open(const char *path, const struct agg_store_options *opt, agg_store **out,
                   struct slic_errmsg *err)
{
    struct agg_store_options o;
    if (!path)
        return slic_errmsg_set(err, SLIC_EINVAL, "no data dir given");
    int rc = options_resolve(opt, &o, err);
    if (rc || (rc = mkdir_p(path, err)))
        return rc;
    agg_store *st = slic_calloc(1, sizeof *st);
    size_t n = strlen(path);
    char *p = slic_malloc(n + 1);
    if (!st || !p || locks_init(st)) {
        slic_free(st);
        slic_free(p);
        return slic_errmsg_set(err, SLIC_ENOMEM, "out of memory opening data dir %s", path);
    }
    st->path = memcpy(p, path, n + 1);
    st->sketch = (struct agg__sketch_params){o.alpha, o.mapping, o.max_buckets};
    st->retention[AGG__RES_10S] = o.retention_10s;
    st->retention[AGG__RES_1M] = o.retention_1m;
    st->retention[AGG__RES_1H] = o.retention_1h;
    st->txn_pages = o.txn_pages;
    st->clock = o.clock;
    st->clock_ctx = o.clock_ctx;
    if ((rc = env_open(st, &o, err)) || (rc = schema_open(st, err))) {
        agg_store_close(st);
        return rc;
    }
    SLIC_INFO(COMPONENT, "data dir %s open: map %zu bytes (maximum %zu), %s commits", st->path,
              st->map_size, st->map_size_max, o.nosync ? "unsynced" : "durable");
    *out = st;
    return 0;
}

void agg_store_close(agg_store *st)
{
    if (!st)
        return;
    if (st->env) {
        unsigned flags = 0;
        /* Unsynced commits are flushed here, so a clean shutdown loses nothing either way.
         * page_size is set only once the environment opened. */
        if (st->page_size && mdb_env_get_flags(st->env, &flags) == 0 && (flags & MDB_NOSYNC))
            mdb_env_sync(st->env, 1);
        mdb_env_close(st->env);
    }
    pthread_rwlock_destroy(&st->map_lock);
    pthread_mutex_destroy(&st->stats_lock);
    agg__buf_fini(&st->value);
    agg__buf_fini(&st->scratch);
    slic_free(st->path);
    slic_free(st);
}

void agg_store_stats_get(agg_store *st, struct agg_store_stats *out)
{
    pthread_mutex_lock(&st->stats_lock);
    *out = st->stats;
    pthread_mutex_unlock(&st->stats_lock);
    MDB_envinfo info;
    pthread_rwlock_rdlock(&st->map_lock);
    out->map_size = st->map_size;
    out->map_size_max = st->map_size_max;
    if (mdb_env_info(st->env, &info) == 0)
        out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * st->page_size;
    pthread_rwlock_unlock(&st->map_lock);
}

int agg__store_seek_past(MDB_cursor *cur, struct agg__key *series, size_t len, MDB_val *k,
                         MDB_val *v)
{
    agg__key_set_time(series, len, INT64_MAX);
    *k = (MDB_val){series->len, series->b};
    int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    /* Only a corrupt key carries the largest time; stepping over it keeps scans finite. */
    if (rc == 0 && k->mv_size == series->len && memcmp(k->mv_data, series->b, series->len) == 0)
        rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
    return rc;
}

static bool same_series(const MDB_val *k, const struct agg__key *series)
{
    return k->mv_size == series->len + AGG__KEY_TIME_LEN &&
           memcmp(k->mv_data, series->b, series->len) == 0;
}

/* Deletes the expired records at the front of the series the cursor is in. */
static int expire_series(MDB_cursor *cur, const struct agg__key *series, int64_t cutoff,
                         size_t budget, size_t *deleted)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
    while (rc == 0 && *deleted < budget && same_series(&k, series) &&
           agg__key_time(k.mv_data, k.mv_size) <= cutoff) {
        if ((rc = mdb_cursor_del(cur, 0)))
            return rc;
        (*deleted)++;
        /* After a delete LMDB leaves the cursor on the next record; MDB_NEXT returns it. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One transaction of the retention pass, starting at st->expire_from; *resume says where the
 * next one starts (len 0: the pass is complete). */
static int expire_txn(agg_store *st, int64_t now, size_t budget, size_t *deleted,
                      struct agg__key *resume, struct slic_errmsg *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = agg__store_txn_begin(st, false, &txn, err);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(txn, st->dbi_data, &cur))) {
        agg__store_txn_abort(st, txn);
        return agg__store_mdb_err(st, rc, "mdb_cursor_open", err);
    }
    MDB_val k = {st->expire_from.len, st->expire_from.b}, v;
    rc = mdb_cursor_get(cur, &k, &v, st->expire_from.len ? MDB_SET_RANGE : MDB_FIRST);
    size_t visits = 0;
    resume->len = 0;
    while (rc == 0) {
        struct agg__key series;
        const uint8_t *kb = k.mv_data;
        if (k.mv_size <= AGG__KEY_TIME_LEN || k.mv_size > AGG__KEY_MAX || kb[0] >= AGG__RES_COUNT) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* not ours to judge; not ours to delete */
            continue;
        }
        enum agg__res res = (enum agg__res)kb[0];
        series.len = k.mv_size - AGG__KEY_TIME_LEN;
        memcpy(series.b, kb, series.len);
        int64_t cutoff = now - st->retention[res] - (int64_t)agg__res_seconds(res);
        if ((rc = expire_series(cur, &series, cutoff, budget, deleted)))
            break;
        bool full = *deleted >= budget, tired = ++visits >= budget * EXPIRE_VISITS_PER_DELETE;
        if (full || tired) {
            /* Resume in this series when the budget ran out inside it, else after it. */
            *resume = series;
            agg__key_set_time(resume, series.len, full ? INT64_MIN : INT64_MAX);
            break;
        }
        rc = agg__store_seek_past(cur, &series, series.len, &k, &v);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        agg__store_txn_abort(st, txn);
        return agg__store_mdb_err(st, rc, "deleting expired records", err);
    }
    return agg__store_txn_commit(st, txn, err);
}

int agg_store_expire(agg_store *st, int64_t now, size_t max_deletes_per_txn, size_t *deleted,
                     bool *more, struct slic_errmsg *err)
{
    if (max_deletes_per_txn == 0)
        return slic_errmsg_set(err, SLIC_EINVAL, "max_deletes_per_txn must be at least 1");
    if (max_deletes_per_txn > AGG_STORE_EXPIRE_TXN_MAX)
        max_deletes_per_txn = AGG_STORE_EXPIRE_TXN_MAX;
    readers_check(st);
    for (;;) {
        size_t n = 0;
        struct agg__key resume;
        int rc = expire_txn(st, now, max_deletes_per_txn, &n, &resume, err);
        /* Deleting copies pages too, so even this can fill the map. */
        if (rc == SLIC_ERETRY && (rc = agg__store_grow(st, err)) == 0)
            continue;
        if (rc)
            return rc;
        st->expire_from = resume;
        struct agg_store_stats d = {.records_expired = n};
        agg__store_stats_commit(st, &d);
        *deleted = n;
        *more = resume.len > 0;
        return 0;
    }
}
