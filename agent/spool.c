/* The spool's lifecycle: opening the LMDB environment with an explicit map size, the dir lock,
 * the meta record and the epoch decision, clean closing, and the encodings of the meta record
 * and of batch headers. Take, ack, reject and the reads live in spool_ops.c, appending and the
 * cap in spool_reclaim.c. One writer process per dir, on one thread (spool.h); every write
 * transaction is durable (fsync), because each records something another party relies on: a
 * window no longer held in memory, a batch possibly on the wire. */
#include "spool_int.h"

#include "alloc.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COMPONENT "spool"
#define MAX_DBS 8
#define META_KEY "meta"
#define META_FIXED_LEN 89u
#define LOCK_NAME "agent.lock"

/* ---- small helpers ---- */

void agent__be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t agent__be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void agent__le_put(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t agent__le_get(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int64_t clock_real_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t agent__spool_now_ms(const agent_spool *sp)
{
    return sp->clock_ms(sp->clock_ctx);
}

const char *agent__time_str(int64_t t, char buf[AGENT__TIME_STR_LEN])
{
    if (slic_rfc3339_format(t, buf, AGENT__TIME_STR_LEN) != 0)
        snprintf(buf, AGENT__TIME_STR_LEN, "%lld", (long long)t);
    return buf;
}

int agent__spool_mdb_err(const agent_spool *sp, int rc, const char *what, struct slic_errmsg *err)
{
    if (rc == 0)
        return 0;
    if (rc == MDB_MAP_FULL)
        return slic_errmsg_set(err, SLIC_ERETRY, "spool %s: %s: LMDB map full", sp->dir, what);
    if (rc == ENOMEM)
        return slic_errmsg_set(err, SLIC_ENOMEM, "spool %s: %s: out of memory", sp->dir, what);
    return slic_errmsg_set(err, SLIC_ESTORE, "spool %s: %s: %s", sp->dir, what, mdb_strerror(rc));
}

int agent__spool_txn_begin(agent_spool *sp, bool read_only, MDB_txn **txn, struct slic_errmsg *err)
{
    int rc = mdb_txn_begin(sp->env, NULL, read_only ? MDB_RDONLY : 0, txn);
    /* A reader whose writer restarted with a larger cap adopts the new map size. */
    if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(sp->env, 0)) == 0)
        rc = mdb_txn_begin(sp->env, NULL, read_only ? MDB_RDONLY : 0, txn);
    return agent__spool_mdb_err(sp, rc, "beginning a transaction", err);
}

/* ---- headers and values ---- */

void agent__spool_hdr_encode(const struct agent__spool_hdr *h, uint8_t *out)
{
    memset(out, 0, AGENT__SPOOL_HDR_LEN);
    out[0] = 1; /* header format */
    agent__le_put(out + 4, h->n_series, 4);
    agent__le_put(out + 8, h->window_lcm, 4);
    agent__le_put(out + 16, (uint64_t)h->window_start, 8);
    agent__le_put(out + 24, (uint64_t)h->window_end, 8);
    agent__le_put(out + 32, h->events, 8);
}

int agent__spool_hdr_decode(const agent_spool *sp, uint64_t seq, const MDB_val *v,
                            struct agent__spool_hdr *h, struct slic_errmsg *err)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < AGENT__SPOOL_HDR_LEN || p[0] != 1)
        return slic_errmsg_set(err, SLIC_ESTORE,
                               "spool %s: batch seq %llu is corrupt (%zu bytes, header format "
                               "%d): move the spool dir aside",
                               sp->dir, (unsigned long long)seq, v->mv_size,
                               v->mv_size ? p[0] : -1);
    h->n_series = (uint32_t)agent__le_get(p + 4, 4);
    h->window_lcm = (uint32_t)agent__le_get(p + 8, 4);
    h->window_start = (int64_t)agent__le_get(p + 16, 8);
    h->window_end = (int64_t)agent__le_get(p + 24, 8);
    h->events = agent__le_get(p + 32, 8);
    return 0;
}

int agent__spool_value_put(agent_spool *sp, MDB_txn *txn, uint64_t seq,
                           const struct agent__spool_hdr *h, const uint8_t *bytes, size_t len,
                           struct slic_errmsg *err)
{
    uint8_t kb[8];
    agent__be64_put(kb, seq);
    MDB_val k = {8, kb}, v = {AGENT__SPOOL_HDR_LEN + len, NULL};
    int rc = mdb_put(txn, sp->dbi_pending, &k, &v, MDB_RESERVE);
    if (rc)
        return agent__spool_mdb_err(sp, rc, "storing a batch", err);
    agent__spool_hdr_encode(h, v.mv_data);
    memcpy((uint8_t *)v.mv_data + AGENT__SPOOL_HDR_LEN, bytes, len);
    return 0;
}

int agent__spool_is_sent(agent_spool *sp, MDB_txn *txn, uint64_t seq, bool *sent,
                         struct slic_errmsg *err)
{
    uint8_t kb[8];
    agent__be64_put(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(txn, sp->dbi_sent, &k, &v);
    *sent = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : agent__spool_mdb_err(sp, rc, "reading a sent mark", err);
}

/* ---- the meta record: u32 schema version, u32 flags, u64 epoch, next_seq, i64 last closed
 * window end, u64 cap, pending_bytes, coarsened, dropped, dropped_events, rejected_total,
 * rejected_deleted (all little-endian), u8 agent id length, agent id. ---- */

int agent__spool_meta_put(agent_spool *sp, MDB_txn *txn, const struct agent__spool_meta *m,
                          struct slic_errmsg *err)
{
    size_t idlen = strlen(m->agent_id);
    uint8_t b[META_FIXED_LEN + SLIC_NAME_MAX];
    agent__le_put(b, AGENT_SPOOL_SCHEMA_VERSION, 4);
    agent__le_put(b + 4, m->flags, 4);
    const uint64_t f[] = {m->epoch,
                          m->next_seq,
                          (uint64_t)m->last_closed_end,
                          m->cap,
                          m->pending_bytes,
                          m->coarsened,
                          m->dropped,
                          m->dropped_events,
                          m->rejected_total,
                          m->rejected_deleted};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        agent__le_put(b + 8 + 8 * i, f[i], 8);
    b[META_FIXED_LEN - 1] = (uint8_t)idlen;
    memcpy(b + META_FIXED_LEN, m->agent_id, idlen);
    MDB_val k = {sizeof META_KEY - 1, META_KEY}, v = {META_FIXED_LEN + idlen, b};
    return agent__spool_mdb_err(sp, mdb_put(txn, sp->dbi_meta, &k, &v, 0), "writing meta", err);
}

int agent__spool_meta_get(agent_spool *sp, MDB_txn *txn, struct agent__spool_meta *m, bool *found,
                          struct slic_errmsg *err)
{
    memset(m, 0, sizeof *m);
    MDB_val k = {sizeof META_KEY - 1, META_KEY}, v;
    int rc = mdb_get(txn, sp->dbi_meta, &k, &v);
    *found = rc == 0;
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : agent__spool_mdb_err(sp, rc, "reading meta", err);
    const uint8_t *b = v.mv_data;
    uint32_t version = v.mv_size >= 4 ? (uint32_t)agent__le_get(b, 4) : 0;
    if (version != AGENT_SPOOL_SCHEMA_VERSION)
        return slic_errmsg_set(err, SLIC_EVERSION,
                               "spool %s has schema version %u; this slic-agent reads version "
                               "%u only: run the release that wrote it until its batches are "
                               "delivered, or move the dir aside",
                               sp->dir, version, AGENT_SPOOL_SCHEMA_VERSION);
    size_t idlen = v.mv_size >= META_FIXED_LEN ? b[META_FIXED_LEN - 1] : 0;
    if (v.mv_size < META_FIXED_LEN || idlen > SLIC_NAME_MAX || v.mv_size != META_FIXED_LEN + idlen)
        return slic_errmsg_set(err, SLIC_ESTORE, "spool %s: meta record of %zu bytes is corrupt",
                               sp->dir, v.mv_size);
    m->flags = (uint32_t)agent__le_get(b + 4, 4);
    uint64_t *f[] = {&m->epoch,
                     &m->next_seq,
                     (uint64_t *)&m->last_closed_end,
                     &m->cap,
                     &m->pending_bytes,
                     &m->coarsened,
                     &m->dropped,
                     &m->dropped_events,
                     &m->rejected_total,
                     &m->rejected_deleted};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        *f[i] = agent__le_get(b + 8 + 8 * i, 8);
    memcpy(m->agent_id, b + META_FIXED_LEN, idlen);
    m->agent_id[idlen] = '\0';
    return 0;
}

int agent__spool_oldest(agent_spool *sp, MDB_txn *txn, struct agent__spool_hdr *h, bool *found,
                        struct slic_errmsg *err)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, sp->dbi_pending, &cur);
    if (rc)
        return agent__spool_mdb_err(sp, rc, "opening a cursor", err);
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    mdb_cursor_close(cur);
    *found = rc == 0;
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : agent__spool_mdb_err(sp, rc, "reading a batch", err);
    return agent__spool_hdr_decode(sp, k.mv_size == 8 ? agent__be64_get(k.mv_data) : 0, &v, h, err);
}

/* ---- opening ---- */

static int options_resolve(const struct agent_spool_options *in, struct agent_spool_options *o,
                           struct slic_errmsg *err)
{
    *o = in ? *in : (struct agent_spool_options){0};
    o->cap_bytes = o->cap_bytes ? o->cap_bytes : AGENT_SPOOL_DEFAULT_CAP;
    o->map_size = o->map_size ? o->map_size : o->cap_bytes + o->cap_bytes / 4 + (1u << 20);
    o->rejected_max = o->rejected_max ? o->rejected_max : AGENT_SPOOL_DEFAULT_REJECTED_MAX;
    o->clock_ms = o->clock_ms ? o->clock_ms : clock_real_ms;
    if (o->cap_bytes < AGENT_SPOOL_MIN_CAP || o->cap_bytes > ((uint64_t)1 << 46))
        return slic_errmsg_set(err, SLIC_EINVAL, "spool cap of %llu bytes: expected %llu to 2^46",
                               (unsigned long long)o->cap_bytes,
                               (unsigned long long)AGENT_SPOOL_MIN_CAP);
    if (!o->read_only && (!o->agent_id || !slic_name_valid(o->agent_id)))
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "spool: agent id '%s' is missing or invalid (1 to %d bytes of "
                               "[A-Za-z0-9_.:-])",
                               o->agent_id ? o->agent_id : "", SLIC_NAME_MAX);
    return 0;
}

/* mkdir -p: the spool dir and any missing parent. */
static int mkdir_p(const char *path, struct slic_errmsg *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return slic_errmsg_set(err, SLIC_EINVAL, "spool dir path of %zu bytes: expected 1..%zu", n,
                               sizeof buf - 1);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
            int e = errno;
            return slic_errmsg_set(err, -e, "cannot create spool dir %s: %s", buf, strerror(e));
        }
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return slic_errmsg_set(err, -ENOTDIR, "spool dir %s is not a directory", path);
    return 0;
}

/* One writer per dir: two agents appending would hand out the same seqs. flock, unlike LMDB's
 * fcntl locks, is released by the kernel when the holder dies, even by kill -9. */
static int lock_take(agent_spool *sp, struct slic_errmsg *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", sp->dir, LOCK_NAME);
    sp->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (sp->lock_fd < 0) {
        int e = errno;
        return slic_errmsg_set(err, -e, "spool %s: cannot open lock file %s: %s", sp->dir, path,
                               strerror(e));
    }
    if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            return slic_errmsg_set(err, -EBUSY,
                                   "spool %s is in use by another slic-agent (%s is locked)",
                                   sp->dir, path);
        return slic_errmsg_set(err, -e, "spool %s: cannot lock %s: %s", sp->dir, path, strerror(e));
    }
    return 0;
}

static int env_open(agent_spool *sp, const struct agent_spool_options *o, struct slic_errmsg *err)
{
    int rc = mdb_env_create(&sp->env);
    if (rc) {
        sp->env = NULL;
        return agent__spool_mdb_err(sp, rc, "mdb_env_create", err);
    }
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    size_t map = (size_t)((o->map_size + page - 1) / page * page);
    if ((rc = mdb_env_set_maxdbs(sp->env, MAX_DBS)) ||
        (!o->read_only && (rc = mdb_env_set_mapsize(sp->env, map))))
        return agent__spool_mdb_err(sp, rc, "configuring the LMDB environment", err);
    rc = mdb_env_open(sp->env, sp->dir, MDB_NOTLS | (o->read_only ? MDB_RDONLY : 0), 0640);
    if (rc == ENOENT && o->read_only)
        return slic_errmsg_set(err, SLIC_ENOTFOUND, "no spool in %s", sp->dir);
    if (rc)
        return agent__spool_mdb_err(sp, rc, "opening the LMDB environment", err);
    MDB_stat ms;
    MDB_envinfo info;
    if ((rc = mdb_env_stat(sp->env, &ms)) || (rc = mdb_env_info(sp->env, &info)))
        return agent__spool_mdb_err(sp, rc, "mdb_env_stat", err);
    sp->page_size = ms.ms_psize;
    /* LMDB never maps less than the data file already holds, whatever was asked. */
    sp->map_size = info.me_mapsize;
    return 0;
}

static int dbis_open(agent_spool *sp, MDB_txn *txn, unsigned flags, struct slic_errmsg *err)
{
    const char *names[] = {"meta", "pending", "sent", "rejected", "state"};
    MDB_dbi *dbis[] = {&sp->dbi_meta, &sp->dbi_pending, &sp->dbi_sent, &sp->dbi_rejected,
                       &sp->dbi_state};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rc = mdb_dbi_open(txn, names[i], flags, dbis[i]);
        if (rc == MDB_NOTFOUND)
            return slic_errmsg_set(err, SLIC_ENOTFOUND,
                                   "spool %s has not been initialized by slic-agent", sp->dir);
        if (rc)
            return agent__spool_mdb_err(sp, rc, "opening the databases", err);
    }
    return 0;
}

/* Logs what the writer found: a new spool or epoch, or what it resumes. */
static void open_log(agent_spool *sp, MDB_txn *txn, bool fresh, uint64_t pending,
                     uint64_t old_epoch)
{
    const struct agent__spool_meta *m = &sp->meta;
    char t1[AGENT__TIME_STR_LEN], t2[AGENT__TIME_STR_LEN];
    struct agent__spool_hdr h;
    bool found = false;
    if (pending && agent__spool_oldest(sp, txn, &h, &found, NULL) != 0)
        found = false;
    if (pending)
        SLIC_INFO(COMPONENT,
                  "spool %s: resuming epoch %llu with %llu batches (%llu bytes) pending, oldest "
                  "window %s; next seq %llu",
                  sp->dir, (unsigned long long)m->epoch, (unsigned long long)pending,
                  (unsigned long long)m->pending_bytes,
                  found ? agent__time_str(h.window_start, t1) : "?",
                  (unsigned long long)m->next_seq);
    else
        SLIC_INFO(COMPONENT, "spool %s: %s, epoch %llu (previous %llu), cap %llu bytes", sp->dir,
                  fresh ? "created" : "empty", (unsigned long long)m->epoch,
                  (unsigned long long)old_epoch, (unsigned long long)sp->cap);
    if (sp->unclean_start && m->last_closed_end > 0) {
        int64_t now = agent__spool_now_ms(sp) / 1000;
        SLIC_WARN(COMPONENT,
                  "spool %s: the previous slic-agent run never closed the spool (killed or "
                  "crashed). Its last closed window ended at %s (%lld s before %s): the events it "
                  "still held in memory, at most those of the window that began then, were "
                  "never spooled and are lost; everything spooled is kept",
                  sp->dir, agent__time_str(m->last_closed_end, t1),
                  (long long)(now - m->last_closed_end), agent__time_str(now, t2));
    } else if (sp->unclean_start) {
        SLIC_WARN(COMPONENT,
                  "spool %s: the previous slic-agent run never closed the spool and never "
                  "closed a window: whatever it measured was lost with it",
                  sp->dir);
    }
}

/* Decides the epoch: kept while batches are pending, new otherwise (spool.h). */
static int writer_meta_init(agent_spool *sp, MDB_txn *txn, const char *agent_id,
                            struct slic_errmsg *err)
{
    struct agent__spool_meta m;
    bool found;
    MDB_stat st;
    int rc = agent__spool_meta_get(sp, txn, &m, &found, err);
    if (rc)
        return rc;
    if ((rc = mdb_stat(txn, sp->dbi_pending, &st)))
        return agent__spool_mdb_err(sp, rc, "mdb_stat", err);
    uint64_t old_epoch = m.epoch, pending = st.ms_entries;
    if (!found && pending)
        return slic_errmsg_set(err, SLIC_EVERSION,
                               "spool %s holds batches but no meta record: it was not written "
                               "by slic-agent; move it aside",
                               sp->dir);
    sp->unclean_start = found && (m.flags & AGENT__SPOOL_OPEN);
    if (pending && strcmp(m.agent_id, agent_id) != 0)
        return slic_errmsg_set(err, SLIC_ECONFIG,
                               "spool %s holds %llu undelivered batches of agent '%s', but this "
                               "agent is '%s': run it as '%s' until they are delivered, or move "
                               "the dir aside (its data is then lost)",
                               sp->dir, (unsigned long long)pending, m.agent_id, agent_id,
                               m.agent_id);
    if (!pending) {
        uint64_t now = (uint64_t)agent__spool_now_ms(sp);
        m.epoch = now > m.epoch ? now : m.epoch + 1;
        m.next_seq = 1;
        m.pending_bytes = 0;
        snprintf(m.agent_id, sizeof m.agent_id, "%s", agent_id);
        /* Sent marks of the old epoch mean nothing now (normally there are none left). */
        if ((rc = mdb_drop(txn, sp->dbi_sent, 0)))
            return agent__spool_mdb_err(sp, rc, "clearing sent marks", err);
    }
    m.flags |= AGENT__SPOOL_OPEN;
    m.cap = sp->cap;
    if ((rc = agent__spool_meta_put(sp, txn, &m, err)))
        return rc;
    sp->meta = m;
    open_log(sp, txn, !found, pending, old_epoch);
    return 0;
}

static int writer_init(agent_spool *sp, const char *agent_id, struct slic_errmsg *err)
{
    int dead = 0;
    if (mdb_reader_check(sp->env, &dead) == 0 && dead > 0)
        SLIC_INFO(COMPONENT, "spool %s: cleared %d reader slots of dead processes", sp->dir, dead);
    MDB_txn *txn;
    int rc = agent__spool_txn_begin(sp, false, &txn, err);
    if (rc)
        return rc;
    if ((rc = dbis_open(sp, txn, MDB_CREATE, err)) ||
        (rc = writer_meta_init(sp, txn, agent_id, err))) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)))
        return agent__spool_mdb_err(sp, rc, "committing the meta record", err);
    return 0;
}

static int reader_init(agent_spool *sp, struct slic_errmsg *err)
{
    MDB_txn *txn;
    struct agent__spool_meta m;
    bool found;
    int rc = agent__spool_txn_begin(sp, true, &txn, err);
    if (rc)
        return rc;
    if ((rc = dbis_open(sp, txn, 0, err)) ||
        (rc = agent__spool_meta_get(sp, txn, &m, &found, err))) {
        mdb_txn_abort(txn);
        return rc;
    }
    if (!found) {
        mdb_txn_abort(txn);
        return slic_errmsg_set(err, SLIC_ENOTFOUND,
                               "spool %s has not been initialized by slic-agent", sp->dir);
    }
    sp->cap = m.cap;
    /* Committing, not aborting, keeps the database handles opened in a read transaction. */
    return agent__spool_mdb_err(sp, mdb_txn_commit(txn), "opening the databases", err);
}

static void handle_free(agent_spool *sp)
{
    if (sp->env)
        mdb_env_close(sp->env);
    if (sp->lock_fd >= 0)
        close(sp->lock_fd);
    slic_free(sp->dir);
    slic_free(sp);
}

int agent_spool_open(const char *dir, const struct agent_spool_options *opt, agent_spool **out,
                     struct slic_errmsg *err)
{
    struct agent_spool_options o;
    if (!dir || !*dir)
        return slic_errmsg_set(err, SLIC_EINVAL, "no spool dir given");
    int rc = options_resolve(opt, &o, err);
    if (rc || (!o.read_only && (rc = mkdir_p(dir, err))))
        return rc;
    agent_spool *sp = slic_calloc(1, sizeof *sp);
    size_t n = strlen(dir);
    char *p = slic_malloc(n + 1);
    if (!sp || !p) {
        slic_free(sp);
        slic_free(p);
        return slic_errmsg_set(err, SLIC_ENOMEM, "out of memory opening spool %s", dir);
    }
    sp->dir = memcpy(p, dir, n + 1);
    sp->lock_fd = -1;
    sp->read_only = o.read_only;
    sp->cap = o.cap_bytes;
    sp->rejected_max = o.rejected_max;
    sp->clock_ms = o.clock_ms;
    sp->clock_ctx = o.clock_ctx;
    if ((!o.read_only && (rc = lock_take(sp, err))) || (rc = env_open(sp, &o, err)) ||
        (rc = o.read_only ? reader_init(sp, err) : writer_init(sp, o.agent_id, err))) {
        sp->meta.epoch = 0; /* not marked open: nothing to unmark at close */
        handle_free(sp);
        return rc;
    }
    *out = sp;
    return 0;
}

void agent_spool_close(agent_spool *sp)
{
    if (!sp)
        return;
    if (!sp->read_only && sp->meta.epoch) {
        struct agent__spool_meta m = sp->meta;
        m.flags &= ~AGENT__SPOOL_OPEN;
        MDB_txn *txn;
        struct slic_errmsg e;
        int rc = agent__spool_txn_begin(sp, false, &txn, &e);
        if (rc == 0 && (rc = agent__spool_meta_put(sp, txn, &m, &e)) != 0)
            mdb_txn_abort(txn);
        else if (rc == 0)
            rc = agent__spool_mdb_err(sp, mdb_txn_commit(txn), "closing", &e);
        if (rc)
            SLIC_WARN(COMPONENT, "%s; the next start will think this run was killed", e.text);
        else
            SLIC_INFO(COMPONENT, "spool %s closed: epoch %llu, next seq %llu", sp->dir,
                      (unsigned long long)m.epoch, (unsigned long long)m.next_seq);
    }
    handle_free(sp);
}

uint64_t agent_spool_epoch(const agent_spool *sp)
{
    return sp->read_only ? 0 : sp->meta.epoch;
}

int agent__spool_writer_only(const agent_spool *sp, const char *what, struct slic_errmsg *err)
{
    if (sp->read_only)
        return slic_errmsg_set(err, SLIC_EINVAL, "spool %s is open read-only: cannot %s", sp->dir,
                               what);
    return 0;
}
