/* The access-log tail (see src_tail.h for the rotation and truncation semantics). One
 * non-repeating uv_timer drives everything: each tick is one poll, re-armed after it, so a poll
 * never overlaps another. State is the open file (fd, device, inode), `read_off` (next byte to
 * read), `line_off` (first byte not handed over: the saved position) and the partial line in
 * `buf`, which always holds the file bytes just before read_off. Reads use pread at read_off, so
 * the file's own offset is never relied on. */
#include "src_tail.h"

#include "alloc.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)64 << 10)
#define LINE_MAX_MIN 256u
#define POS_VERSION 1u
#define REJECT_LOG_PERIOD_MS 60000
#define COMP "tail"

struct agent_tail {
    uv_timer_t timer;
    char *path;
    char *rotated_path; /* NULL: none */
    unsigned poll_ms, rotate_idle_polls, rotate_max_polls;
    size_t line_max, poll_bytes_max;
    agent_tail_line_fn *line;
    void *line_ctx;

    int fd; /* -1: waiting for the path to appear (or become readable) */
    uint64_t dev, ino;
    uint64_t read_off, line_off;
    bool skipping;       /* inside a line being dropped (overlong, or begun before us) */
    bool start_at_end;   /* the file seen at create (dev, ino) starts at its end when opened */
    bool resume_pending; /* `resume` could not be applied yet (the file was unreadable) */
    struct agent_tail_pos resume;
    unsigned rot_polls;  /* polls since the path was seen naming another file */
    unsigned idle_polls; /* consecutive such polls in which the old file gave nothing */
    int last_err;        /* the error last logged, so a lasting one is logged once */
    uint64_t overlong_log_ms;
    uint32_t mark_len;
    uint8_t mark[AGENT_TAIL_MARK_MAX]; /* the bytes just before line_off */
    struct agent_tail_counters c;

    void (*closed)(void *arg);
    void *closed_arg;
    size_t buf_len, buf_cap;
    char *buf;
};

/* ---- files ---- */

static bool same_file(const agent_tail *t, const struct stat *st)
{
    return (uint64_t)st->st_dev == t->dev && (uint64_t)st->st_ino == t->ino;
}

/* Logs a failure once until it changes or something succeeds, so a lasting condition (no
 * permission, a missing file) does not flood the log at every poll. */
static void note_error(agent_tail *t, int e, const char *what, const char *file)
{
    if (e == t->last_err)
        return;
    t->last_err = e;
    if (e == -ENOENT) {
        SLIC_INFO(COMP, "%s does not exist (yet); waiting for it to appear", file);
        return;
    }
    t->c.errors++;
    SLIC_WARN(COMP, "cannot %s %s: %s; retrying every poll", what, file,
              e == -EINVAL ? "not a regular file" : strerror(-e));
}

/* Opens a regular file for reading. The fd, or -errno (-EINVAL: not a regular file). O_NONBLOCK
 * so that a FIFO put at the path cannot block the loop in open(2). */
static int open_regular(const char *file, struct stat *st)
{
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int e = fstat(fd, st) != 0 ? -errno : S_ISREG(st->st_mode) ? 0 : -EINVAL;
    if (e) {
        close(fd);
        return e;
    }
    return fd;
}

/* pread of exactly n bytes (fewer only at end of file). Bytes read, or -errno. */
static ssize_t pread_full(int fd, void *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Do the bytes before `off` equal `mark`? 1 yes, 0 no, -errno when they cannot be read: a read
 * error must never pass for a truncation, which would re-read the file from 0. */
static int mark_check(int fd, uint64_t off, const uint8_t *mark, uint32_t len)
{
    uint8_t got[AGENT_TAIL_MARK_MAX];
    if (len == 0)
        return 1;
    if (off < len)
        return 0;
    ssize_t n = pread_full(fd, got, len, off - len);
    if (n < 0)
        return (int)n;
    return (size_t)n == len && memcmp(got, mark, len) == 0;
}

/* Opens `file` if it is a regular file at least `off` long whose bytes before `off` match the
 * mark. The fd (with *st), or -1. */
static int open_matching(const char *file, uint64_t off, const uint8_t *mark, uint32_t mark_len,
                         struct stat *st)
{
    if (!file)
        return -1;
    int fd = open_regular(file, st);
    if (fd < 0)
        return -1;
    if ((uint64_t)st->st_size < off || mark_check(fd, off, mark, mark_len) != 1) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- position within the followed file ---- */

/* Appends the n bytes that precede the new line_off to the mark. `contiguous`: they directly
 * follow the bytes already in the mark. */
static void mark_advance(agent_tail *t, const char *seg, size_t n, bool contiguous)
{
    if (!contiguous)
        t->mark_len = 0;
    if (n >= AGENT_TAIL_MARK_MAX) {
        memcpy(t->mark, seg + n - AGENT_TAIL_MARK_MAX, AGENT_TAIL_MARK_MAX);
        t->mark_len = AGENT_TAIL_MARK_MAX;
        return;
    }
    uint32_t keep =
        t->mark_len < AGENT_TAIL_MARK_MAX - n ? t->mark_len : (uint32_t)(AGENT_TAIL_MARK_MAX - n);
    memmove(t->mark, t->mark + t->mark_len - keep, keep);
    memcpy(t->mark + keep, seg, n);
    t->mark_len = keep + (uint32_t)n;
}

/* Forgets any partial line and continues reading at `off` of the open file; the mark is read
 * back from the file. An offset that is not a line start (the byte before it is not '\n')
 * starts by dropping the rest of that line, so no torn line is ever handed over. */
static void restart_at(agent_tail *t, uint64_t off)
{
    t->read_off = t->line_off = off;
    t->buf_len = 0;
    uint32_t n = off < AGENT_TAIL_MARK_MAX ? (uint32_t)off : AGENT_TAIL_MARK_MAX;
    ssize_t got = pread_full(t->fd, t->mark, n, off - n);
    t->mark_len = got == (ssize_t)n ? n : 0;
    t->skipping = off > 0 && (t->mark_len == 0 || t->mark[t->mark_len - 1] != '\n');
}

/* Makes fd (described by st) the followed file at line start `off`, closing the previous one. */
static void adopt(agent_tail *t, int fd, const struct stat *st, uint64_t off)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = fd;
    t->dev = (uint64_t)st->st_dev;
    t->ino = (uint64_t)st->st_ino;
    t->rot_polls = t->idle_polls = 0;
    t->last_err = 0;
    restart_at(t, off);
}

/* Starting at the end of a file that is being written: back up to just after its last '\n',
 * so the line in progress is read whole. Without a '\n' in the last line_max bytes that line is
 * too long anyway, and restart_at drops it. */
static void start_at_last_line(agent_tail *t, uint64_t size)
{
    uint64_t from = size > t->line_max ? size - t->line_max : 0;
    ssize_t n = pread_full(t->fd, t->buf, (size_t)(size - from), from);
    for (ssize_t i = n; i > 0; i--) {
        if (t->buf[i - 1] == '\n') {
            restart_at(t, from + (uint64_t)i);
            return;
        }
    }
    restart_at(t, n >= 0 ? from : size);
}

/* Opens whatever is at the path now. True when it is open. */
static bool open_path(agent_tail *t)
{
    struct stat st;
    int fd = open_regular(t->path, &st);
    if (fd < 0) {
        note_error(t, fd, "open", t->path);
        return false;
    }
    /* Only the file that held history at create starts at its end: one that replaced it since
     * is all new. */
    bool at_end = t->start_at_end && same_file(t, &st);
    t->start_at_end = false;
    adopt(t, fd, &st, 0);
    if (at_end)
        start_at_last_line(t, (uint64_t)st.st_size);
    SLIC_INFO(COMP, "following %s (inode %llu) from offset %llu", t->path,
              (unsigned long long)t->ino, (unsigned long long)t->line_off);
    return true;
}

/* ---- lines ---- */

static void overlong(agent_tail *t, size_t len)
{
    t->c.overlong++;
    uint64_t now = uv_now(t->timer.loop);
    if (t->c.overlong > 1 && now - t->overlong_log_ms < REJECT_LOG_PERIOD_MS)
        return;
    t->overlong_log_ms = now;
    SLIC_WARN(COMP,
              "%s: line at offset %llu is longer than %zu bytes (%zu seen); skipped "
              "(%llu such lines so far)",
              t->path, (unsigned long long)t->line_off, t->line_max, len,
              (unsigned long long)t->c.overlong);
}

/* Hands over the complete lines among the n bytes just read into buf after buf_len, and keeps
 * the unfinished rest. buf[0] is at file offset read_off - buf_len - n, and at line_off unless
 * skipping. */
static void consume(agent_tail *t, size_t n)
{
    char *start = t->buf, *scan = t->buf + t->buf_len, *end = scan + n;
    char *done = NULL; /* one past the last '\n' handled */
    bool contiguous = !t->skipping;
    char *nl;
    while ((nl = memchr(scan, '\n', (size_t)(end - scan))) != NULL) {
        size_t len = (size_t)(nl - start);
        if (!t->skipping && len > t->line_max)
            overlong(t, len);
        else if (!t->skipping) {
            t->line(t->line_ctx, start, len);
            t->c.lines++;
        }
        t->skipping = false;
        done = start = scan = nl + 1;
        t->line_off = t->read_off - (uint64_t)(end - done);
    }
    if (done)
        mark_advance(t, t->buf, (size_t)(done - t->buf), contiguous);
    size_t rest = (size_t)(end - start);
    if (!t->skipping && rest > t->line_max) {
        overlong(t, rest);
        t->skipping = true;
    }
    t->buf_len = t->skipping ? 0 : rest;
    if (t->buf_len && start != t->buf)
        memmove(t->buf, start, t->buf_len);
}

/* Reads until end of file or `budget` bytes. Bytes read, or -errno. *eof when the end was seen. */
static int64_t read_available(agent_tail *t, size_t budget, bool *eof)
{
    int64_t total = 0;
    *eof = false;
    while ((size_t)total < budget) {
        ssize_t n = pread(t->fd, t->buf + t->buf_len, t->buf_cap - t->buf_len, (off_t)t->read_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0) {
            *eof = true;
            break;
        }
        t->read_off += (uint64_t)n;
        t->c.bytes += (uint64_t)n;
        total += n;
        consume(t, (size_t)n);
    }
    return total;
}

/* Leaves the open file for good: an unterminated last line is dropped. */
static void drop_partial(agent_tail *t, const char *why)
{
    if (t->buf_len == 0 && !t->skipping)
        return;
    t->c.partial_dropped++;
    SLIC_WARN(COMP, "%s: dropping an unterminated line of %zu bytes at offset %llu (%s)", t->path,
              t->buf_len, (unsigned long long)t->line_off, why);
}

/* ---- truncation ---- */

/* copytruncate copies the file to rotated_path and then truncates it. If that copy holds what
 * we read (its bytes before line_off match our mark) it also holds the lines written after our
 * last read and before the copy: finish it from line_off, then take the path from 0 as after a
 * rename. With no mark (not one full line read yet) a copy cannot be told from an older
 * rotated file, so none is trusted. */
static bool recover_from_copy(agent_tail *t)
{
    struct stat st;
    if (t->line_off == 0 || t->mark_len == 0)
        return false;
    int fd = open_matching(t->rotated_path, t->line_off, t->mark, t->mark_len, &st);
    if (fd < 0)
        return false;
    if (same_file(t, &st)) {
        close(fd);
        return false;
    }
    adopt(t, fd, &st, t->line_off);
    return true;
}

static void on_truncated(agent_tail *t, uint64_t size)
{
    t->c.truncations++;
    bool cut = t->buf_len > 0 || t->skipping;
    uint64_t was = t->read_off;
    if (recover_from_copy(t)) {
        t->c.truncations_recovered++;
        SLIC_INFO(COMP,
                  "%s was truncated or rewritten (copytruncate?) at offset %llu; reading the "
                  "rest from its copy %s, then the file from its start",
                  t->path, (unsigned long long)was, t->rotated_path);
        return;
    }
    t->c.truncations_unrecovered++;
    t->c.lost_lines_min += cut;
    SLIC_WARN(COMP,
              "%s was truncated or rewritten (copytruncate?): %llu bytes now, %llu read; no "
              "matching copy at %s, so lines written between the last read and the "
              "truncation are lost; reading from the start",
              t->path, (unsigned long long)size, (unsigned long long)was,
              t->rotated_path ? t->rotated_path : "(none configured)");
    restart_at(t, 0);
}

/* 1 when the open file no longer holds what we read (shorter, or other bytes before line_off),
 * 0 when it does, -errno when that cannot be told this time. */
static int check_truncated(agent_tail *t, uint64_t *size)
{
    struct stat st;
    if (fstat(t->fd, &st) != 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    if (*size < t->read_off)
        return 1;
    int m = mark_check(t->fd, t->line_off, t->mark, t->mark_len);
    return m < 0 ? m : !m;
}

/* ---- rotation ---- */

static void switch_to_path(agent_tail *t, bool old_growing)
{
    if (old_growing)
        SLIC_WARN(COMP,
                  "%s: the rotated file (inode %llu) was still growing %u polls after the "
                  "new one appeared; leaving it (was the writer told to reopen its log?)",
                  t->path, (unsigned long long)t->ino, t->rot_polls);
    drop_partial(t, "rotated away");
    close(t->fd);
    t->fd = -1;
    t->c.rotations++;
    open_path(t);
}

/* Called at end of file. The path naming another file means a rotation: keep draining the old
 * file until its writer moved on (see src_tail.h). True when reading should go on at once. */
static bool check_rotation(agent_tail *t, int64_t got)
{
    struct stat st;
    if (stat(t->path, &st) != 0 || !S_ISREG(st.st_mode)) {
        /* Renamed or deleted, and no new file yet: writers may still append to the old one. */
        t->rot_polls = t->idle_polls = 0;
        return false;
    }
    if (same_file(t, &st)) {
        t->rot_polls = t->idle_polls = 0;
        return false;
    }
    if (t->rot_polls++ == 0)
        SLIC_INFO(COMP,
                  "%s now names another file (inode %llu -> %llu); finishing the old "
                  "one first",
                  t->path, (unsigned long long)t->ino, (unsigned long long)st.st_ino);
    t->idle_polls = got > 0 ? 0 : t->idle_polls + 1;
    bool writer_moved = t->idle_polls >= t->rotate_idle_polls && st.st_size > 0;
    if (!writer_moved && t->rot_polls < t->rotate_max_polls)
        return false;
    switch_to_path(t, got > 0);
    return t->fd >= 0;
}

/* ---- resuming ---- */

/* The saved file was truncated while the agent was down: its copy may hold the rest. */
static void resume_truncated(agent_tail *t, int fd, const struct stat *st)
{
    const struct agent_tail_pos *r = &t->resume;
    adopt(t, fd, st, 0);
    t->line_off = t->read_off = r->offset;
    t->mark_len = r->mark_len;
    memcpy(t->mark, r->mark, r->mark_len);
    on_truncated(t, (uint64_t)st->st_size);
}

/* The saved file was rotated while the agent was down: finish it if it is at rotated_path. */
static bool resume_rotated(agent_tail *t)
{
    const struct agent_tail_pos *r = &t->resume;
    struct stat st;
    int fd = open_matching(t->rotated_path, r->offset, r->mark, r->mark_len, &st);
    if (fd < 0)
        return false;
    if ((uint64_t)st.st_dev != r->dev || (uint64_t)st.st_ino != r->ino) {
        close(fd);
        return false;
    }
    adopt(t, fd, &st, r->offset);
    SLIC_INFO(COMP, "%s was rotated while the agent was down; finishing %s from offset %llu first",
              t->path, t->rotated_path, (unsigned long long)r->offset);
    return true;
}

/* Applies the saved position (see agent_tail_create). False when that cannot be decided yet
 * because the file at the path exists but cannot be read: guessing then could re-read it from
 * 0, so the position is kept (and reported) and tried again at the next poll. */
static bool try_resume(agent_tail *t)
{
    const struct agent_tail_pos *r = &t->resume;
    if (r->dev == 0 && r->ino == 0) {
        open_path(t);
        return true;
    }
    struct stat st;
    int fd = open_regular(t->path, &st);
    if (fd < 0 && fd != -ENOENT && fd != -EINVAL) {
        note_error(t, fd, "open", t->path);
        return false;
    }
    if (fd >= 0 && (uint64_t)st.st_dev == r->dev && (uint64_t)st.st_ino == r->ino) {
        int m =
            (uint64_t)st.st_size < r->offset ? 0 : mark_check(fd, r->offset, r->mark, r->mark_len);
        if (m < 0) {
            close(fd);
            note_error(t, m, "read", t->path);
            return false;
        }
        if (m == 0) {
            resume_truncated(t, fd, &st);
            return true;
        }
        adopt(t, fd, &st, r->offset);
        SLIC_INFO(COMP, "resuming %s at offset %llu", t->path, (unsigned long long)r->offset);
        return true;
    }
    if (resume_rotated(t)) {
        if (fd >= 0)
            close(fd);
        return true;
    }
    SLIC_WARN(COMP,
              "%s: the file last read (inode %llu, offset %llu) is neither at the path nor "
              "at %s; lines written to it after that offset are lost",
              t->path, (unsigned long long)r->ino, (unsigned long long)r->offset,
              t->rotated_path ? t->rotated_path : "a rotated path (none configured)");
    if (fd < 0) {
        note_error(t, fd, "open", t->path);
        return true;
    }
    adopt(t, fd, &st, 0);
    SLIC_INFO(COMP, "following %s from its start", t->path);
    return true;
}

/* Makes sure a file is open, applying a pending saved position first. True when one is. */
static bool ensure_open(agent_tail *t)
{
    if (t->fd >= 0)
        return true;
    if (!t->resume_pending)
        return open_path(t);
    t->resume_pending = !try_resume(t);
    return t->fd >= 0;
}

/* ---- polling ---- */

bool agent_tail_poll(agent_tail *t)
{
    if (!ensure_open(t))
        return false;
    uint64_t size = 0;
    int rc = check_truncated(t, &size);
    if (rc < 0) {
        note_error(t, rc, "check", t->path);
        return false;
    }
    if (rc > 0)
        on_truncated(t, size);
    bool eof;
    int64_t got = read_available(t, t->poll_bytes_max, &eof);
    if (got < 0) {
        note_error(t, (int)got, "read", t->path);
        return false;
    }
    t->last_err = 0;
    return eof ? check_rotation(t, got) : true;
}

static void on_timer(uv_timer_t *h)
{
    agent_tail *t = h->data;
    bool more = agent_tail_poll(t);
    /* 1 ms, not 0: libuv 1.44 runs a timer re-armed with 0 from its own callback again in the
     * same pass, which would starve every other handle while a backlog is read. */
    uv_timer_start(&t->timer, on_timer, more ? 1 : t->poll_ms, 0);
}

/* ---- lifecycle ---- */

void agent_tail_options_init(struct agent_tail_options *o, const char *path,
                             agent_tail_line_fn *line, void *line_ctx)
{
    *o = (struct agent_tail_options){.path = path, .line = line, .line_ctx = line_ctx};
}

static char *dup_str(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    char *p = slic_malloc(a + b + 1);
    if (p) {
        memcpy(p, s, a);
        memcpy(p + a, suffix, b + 1);
    }
    return p;
}

static void tail_free(agent_tail *t)
{
    slic_free(t->path);
    slic_free(t->rotated_path);
    slic_free(t->buf);
    slic_free(t);
}

static int tail_configure(agent_tail *t, const struct agent_tail_options *o)
{
    t->poll_ms = o->poll_ms ? o->poll_ms : AGENT_TAIL_POLL_MS_DEFAULT;
    t->rotate_idle_polls =
        o->rotate_idle_polls ? o->rotate_idle_polls : AGENT_TAIL_ROTATE_IDLE_POLLS_DEFAULT;
    t->rotate_max_polls =
        o->rotate_max_polls ? o->rotate_max_polls : AGENT_TAIL_ROTATE_MAX_POLLS_DEFAULT;
    t->line_max = o->line_max ? o->line_max : AGENT_TAIL_LINE_MAX_DEFAULT;
    t->poll_bytes_max = o->poll_bytes_max ? o->poll_bytes_max : AGENT_TAIL_POLL_BYTES_DEFAULT;
    if (t->rotate_max_polls < t->rotate_idle_polls || t->line_max < LINE_MAX_MIN ||
        t->line_max > ((size_t)1 << 30))
        return SLIC_EINVAL;
    t->line = o->line;
    t->line_ctx = o->line_ctx;
    t->fd = -1;
    /* Room for a whole line plus one read: consume() never keeps more than line_max bytes. */
    t->buf_cap = t->line_max + READ_CHUNK;
    if (!(t->buf = slic_malloc(t->buf_cap)) || !(t->path = dup_str(o->path, "")))
        return SLIC_ENOMEM;
    if (o->rotated_path && !o->rotated_path[0])
        return 0;
    t->rotated_path = o->rotated_path ? dup_str(o->rotated_path, "") : dup_str(o->path, ".1");
    return t->rotated_path ? 0 : SLIC_ENOMEM;
}

int agent_tail_create(uv_loop_t *loop, const struct agent_tail_options *o,
                      const struct agent_tail_pos *resume_pos, agent_tail **out,
                      struct slic_errmsg *err)
{
    if (!o->path || !o->path[0] || !o->line)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "access-log tail: a path and a line function "
                               "are required");
    struct stat st;
    int exists = stat(o->path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode))
        return slic_errmsg_set(err, SLIC_ECONFIG, "access log %s is not a regular file", o->path);
    if (resume_pos && resume_pos->mark_len > AGENT_TAIL_MARK_MAX)
        return slic_errmsg_set(err, SLIC_EINVAL, "access log %s: bad saved position", o->path);
    agent_tail *t = slic_calloc(1, sizeof *t);
    if (!t)
        return SLIC_ENOMEM;
    int rc = tail_configure(t, o);
    if (rc) {
        tail_free(t);
        return slic_errmsg_set(err, rc, "access log %s: %s", o->path,
                               rc == SLIC_EINVAL ? "line_max or rotate_max_polls out of range"
                                                 : "out of memory");
    }
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    if (resume_pos) {
        t->resume = *resume_pos;
        t->resume_pending = true;
    } else if (exists && !o->from_start) {
        /* A file that exists now holds history; one that appears later is all new. */
        t->start_at_end = true;
        t->dev = (uint64_t)st.st_dev;
        t->ino = (uint64_t)st.st_ino;
    }
    ensure_open(t);
    uv_timer_start(&t->timer, on_timer, 1, 0);
    *out = t;
    return 0;
}

void agent_tail_position(const agent_tail *t, struct agent_tail_pos *out)
{
    if (t->resume_pending) {
        *out = t->resume;
        return;
    }
    *out = (struct agent_tail_pos){0};
    if (t->fd < 0)
        return;
    out->dev = t->dev;
    out->ino = t->ino;
    out->offset = t->line_off;
    out->mark_len = t->mark_len;
    memcpy(out->mark, t->mark, t->mark_len);
}

void agent_tail_counters(const agent_tail *t, struct agent_tail_counters *out)
{
    *out = t->c;
}

static void on_closed(uv_handle_t *h)
{
    agent_tail *t = h->data;
    void (*closed)(void *) = t->closed;
    void *arg = t->closed_arg;
    tail_free(t);
    if (closed)
        closed(arg);
}

void agent_tail_close(agent_tail *t, void (*closed)(void *arg), void *arg)
{
    if (!t)
        return;
    t->closed = closed;
    t->closed_arg = arg;
    uv_timer_stop(&t->timer);
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    uv_close((uv_handle_t *)&t->timer, on_closed);
}

/* ---- saved positions ---- */

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int agent_tail_pos_encode(const struct agent_tail_pos *p, uint8_t *buf, size_t cap, size_t *len)
{
    size_t n = 1 + 3 * 8 + 1 + p->mark_len;
    if (p->mark_len > AGENT_TAIL_MARK_MAX || cap < n)
        return SLIC_ETOOBIG;
    buf[0] = POS_VERSION;
    put_u64(buf + 1, p->dev);
    put_u64(buf + 9, p->ino);
    put_u64(buf + 17, p->offset);
    buf[25] = (uint8_t)p->mark_len;
    memcpy(buf + 26, p->mark, p->mark_len);
    *len = n;
    return 0;
}

int agent_tail_pos_decode(const uint8_t *buf, size_t len, struct agent_tail_pos *out)
{
    if (len < 1)
        return SLIC_EDECODE;
    if (buf[0] != POS_VERSION)
        return SLIC_EVERSION;
    if (len < 26 || buf[25] > AGENT_TAIL_MARK_MAX || len != 26u + buf[25])
        return SLIC_EDECODE;
    struct agent_tail_pos p = {
        .dev = get_u64(buf + 1),
        .ino = get_u64(buf + 9),
        .offset = get_u64(buf + 17),
        .mark_len = buf[25],
    };
    if (p.mark_len > p.offset)
        return SLIC_EDECODE; /* a mark is made of bytes before the offset */
    memcpy(p.mark, buf + 26, p.mark_len);
    *out = p;
    return 0;
}

/* ---- access-log lines ---- */

static void log_reject(struct agent_tail_accesslog *a, enum slic_accesslog_reason r,
                       const char *line, size_t len)
{
    int64_t now = slic_now_unix_ms();
    a->since_log_[r]++;
    if (r == SLIC_ACCESSLOG_E_EMPTY || now - a->last_log_ms_[r] < REJECT_LOG_PERIOD_MS)
        return;
    char shown[161];
    size_t n = len < sizeof shown - 1 ? len : sizeof shown - 1;
    for (size_t i = 0; i < n; i++)
        shown[i] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
    shown[n] = '\0';
    SLIC_WARN(COMP,
              "%s: line refused (%s): \"%s\"%s; %llu such lines since the last report "
              "(one is logged per reason per minute)",
              a->name ? a->name : "access log", slic_accesslog_reason_name(r), shown,
              len > n ? "..." : "", (unsigned long long)a->since_log_[r]);
    a->last_log_ms_[r] = now;
    a->since_log_[r] = 0;
}

void agent_tail_accesslog_line(void *ctx, const char *line, size_t len)
{
    struct agent_tail_accesslog *a = ctx;
    enum slic_accesslog_reason r = slic_accesslog_parse(&a->opts, line, len, &a->rec_);
    if (r != SLIC_ACCESSLOG_OK) {
        a->rejected[r]++;
        log_reject(a, r, line, len);
        return;
    }
    a->events++;
    agent_sink_emit(&a->sink, &a->rec_.event);
}
