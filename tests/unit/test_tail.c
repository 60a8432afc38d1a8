/* Tests of agent/src_tail.c on a real libuv loop and real files in the case's temp dir. Every
 * line written carries a sequence number, and a counting line function records how often each
 * was handed over, so "exactly once" is checked line by line: nothing lost, nothing twice,
 * nothing torn. Writers behave like nginx workers: O_APPEND fds that keep writing to a renamed
 * file until they "reopen". The loop is driven with UV_RUN_NOWAIT under wall-clock deadlines. */
#include "harness.h"

#include "alloc.h"
#include "src_tail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEQ_MAX 40000u
#define LINE_LEN 43 /* without '\n' */
#define DEADLINE_MS 10000

/* ---- lines with sequence numbers ---- */

struct seen {
    uint8_t count[SEQ_MAX];
    uint64_t lines; /* well-formed sequence lines */
    uint64_t dups;  /* sequence lines handed over more than once */
    uint64_t other; /* anything else (the overlong test's long lines) */
    size_t other_len;
};

/* "L00000042 payload-00000042-abcdefghijkl end": the sequence appears twice so that lines at
 * the same offset of two files differ in more than a few bytes. */
static void format_line(char *out, unsigned seq)
{
    seq %= 100000000u; /* eight digits */
    snprintf(out, LINE_LEN + 2, "L%08u payload-%08u-abcdefghijkl end\n", seq, seq);
}

static void count_line(void *ctx, const char *line, size_t len)
{
    struct seen *s = ctx;
    char want[LINE_LEN + 2];
    unsigned seq = 0;
    if (len == LINE_LEN && line[0] == 'L' && sscanf(line + 1, "%8u", &seq) == 1 && seq < SEQ_MAX) {
        format_line(want, seq);
        if (memcmp(want, line, LINE_LEN) == 0) {
            if (s->count[seq]++)
                s->dups++;
            s->lines++;
            return;
        }
    }
    s->other++;
    s->other_len = len;
}

static struct seen *seen_new(void)
{
    struct seen *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    return s;
}

/* Every seq in [from, to) was seen exactly `times` times. */
static void check_range(const struct seen *s, unsigned from, unsigned to, unsigned times)
{
    for (unsigned i = from; i < to; i++)
        if (s->count[i] != times)
            harness_fail(__FILE__, __LINE__, "line %u seen %u times, expected %u", i, s->count[i],
                         times);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static void write_lines(int fd, unsigned from, unsigned to)
{
    char buf[256 * (LINE_LEN + 2)];
    while (from < to) {
        size_t n = 0;
        for (; from < to && n + LINE_LEN + 2 <= sizeof buf; from++, n += LINE_LEN + 1)
            format_line(buf + n, from);
        write_all(fd, buf, n);
    }
}

static int open_append(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        harness_fail(__FILE__, __LINE__, "open %s: %s", path, strerror(errno));
    return fd;
}

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(in >= 0 && out >= 0);
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        write_all(out, buf, (size_t)n);
    CHECK(n == 0);
    close(in);
    close(out);
}

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", harness_tmpdir(), name);
}

/* ---- driving the loop ---- */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void turn(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_NOWAIT);
    nanosleep(&(struct timespec){0, 500000}, NULL);
}

static void run_ms(uv_loop_t *loop, unsigned ms)
{
    uint64_t end = mono_ms() + ms;
    while (mono_ms() < end)
        turn(loop);
}

/* Runs until s has seen `want` lines, then a little longer so that extra (duplicate) lines
 * would show. */
static void run_until_lines(uv_loop_t *loop, const struct seen *s, uint64_t want)
{
    uint64_t end = mono_ms() + DEADLINE_MS;
    while (s->lines < want && mono_ms() < end)
        turn(loop);
    if (s->lines < want)
        harness_fail(__FILE__, __LINE__, "saw %llu lines within %d ms, expected %llu",
                     (unsigned long long)s->lines, DEADLINE_MS, (unsigned long long)want);
    run_ms(loop, 30);
}

static void on_closed(void *arg)
{
    *(bool *)arg = true;
}

static void close_tail(uv_loop_t *loop, agent_tail *t)
{
    bool closed = false;
    agent_tail_close(t, on_closed, &closed);
    uint64_t end = mono_ms() + DEADLINE_MS;
    while (!closed && mono_ms() < end)
        turn(loop);
    CHECK(closed);
}

static void finish(uv_loop_t *loop, agent_tail *t)
{
    close_tail(loop, t);
    CHECK_INT_EQ(uv_loop_close(loop), 0);
}

static void test_opts(struct agent_tail_options *o, const char *path, struct seen *s)
{
    agent_tail_options_init(o, path, count_line, s);
    o->poll_ms = 5;
    o->rotate_idle_polls = 2;
    o->rotate_max_polls = 40;
}

static agent_tail *start(uv_loop_t *loop, const struct agent_tail_options *o,
                         const struct agent_tail_pos *resume)
{
    agent_tail *t = NULL;
    struct slic_errmsg err = {{0}};
    int rc = agent_tail_create(loop, o, resume, &t, &err);
    if (rc != 0)
        harness_fail(__FILE__, __LINE__, "agent_tail_create: %s (%s)", slic_strerror(rc), err.text);
    return t;
}

static struct agent_tail_counters counters(const agent_tail *t)
{
    struct agent_tail_counters c;
    agent_tail_counters(t, &c);
    return c;
}

/* ---- reading ---- */

static void from_start_exact(void)
{
    uv_loop_t loop;
    char path[256];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    int fd = open_append(path);
    write_lines(fd, 0, 1000);
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    o.from_start = true;
    agent_tail *t = start(&loop, &o, NULL);
    run_until_lines(&loop, s, 1000);
    write_lines(fd, 1000, 1500);
    run_until_lines(&loop, s, 1500);
    check_range(s, 0, 1500, 1);
    CHECK_INT_EQ(s->other, 0);
    struct agent_tail_counters c = counters(t);
    CHECK_U64_EQ(c.lines, 1500);
    CHECK_U64_EQ(c.bytes, 1500 * (LINE_LEN + 1));
    struct agent_tail_pos pos;
    agent_tail_position(t, &pos);
    CHECK_U64_EQ(pos.offset, 1500 * (LINE_LEN + 1));
    CHECK_INT_EQ(pos.mark_len, AGENT_TAIL_MARK_MAX);
    close(fd);
    finish(&loop, t);
    free(s);
}

/* Without from_start, history is skipped, but a line being written is read whole. */
static void starts_at_end(void)
{
    uv_loop_t loop;
    char path[256], line[LINE_LEN + 2];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    int fd = open_append(path);
    write_lines(fd, 0, 100);
    format_line(line, 100);
    write_all(fd, line, 20);
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    agent_tail *t = start(&loop, &o, NULL);
    run_ms(&loop, 30);
    CHECK_U64_EQ(s->lines, 0);
    write_all(fd, line + 20, LINE_LEN + 1 - 20);
    write_lines(fd, 101, 150);
    run_until_lines(&loop, s, 50);
    check_range(s, 0, 100, 0);
    check_range(s, 100, 150, 1);
    close(fd);
    finish(&loop, t);
    free(s);
}

/* Starting at the end inside a line longer than line_max: that line is dropped whole (not
 * counted as overlong: its start was never seen), the next ones are read. */
static void starts_at_end_inside_long_line(void)
{
    uv_loop_t loop;
    char path[256], junk[3000];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    int fd = open_append(path);
    write_lines(fd, 0, 10);
    memset(junk, 'x', sizeof junk);
    write_all(fd, junk, sizeof junk);
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    o.line_max = 1024;
    agent_tail *t = start(&loop, &o, NULL);
    run_ms(&loop, 30);
    write_all(fd, "end of the long line\n", 21);
    write_lines(fd, 10, 20);
    run_until_lines(&loop, s, 10);
    check_range(s, 0, 10, 0);
    check_range(s, 10, 20, 1);
    CHECK_U64_EQ(s->other, 0);
    CHECK_U64_EQ(counters(t).overlong, 0);
    close(fd);
    finish(&loop, t);
    free(s);
}

static void partial_line_completed_later(void)
{
    uv_loop_t loop;
    char path[256], line[LINE_LEN + 2];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    int fd = open_append(path);
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    agent_tail *t = start(&loop, &o, NULL);
    format_line(line, 7);
    for (size_t i = 0; i < LINE_LEN; i += 10) {
        write_all(fd, line + i, i + 10 < LINE_LEN ? 10 : LINE_LEN - i);
        run_ms(&loop, 12);
        CHECK_U64_EQ(s->lines + s->other, 0);
    }
    struct agent_tail_pos pos;
    agent_tail_position(t, &pos);
    CHECK_U64_EQ(pos.offset, 0); /* a partial line is not handed over, so not saved */
    write_all(fd, "\n", 1);
    run_until_lines(&loop, s, 1);
    CHECK_INT_EQ(s->count[7], 1);
    agent_tail_position(t, &pos);
    CHECK_U64_EQ(pos.offset, LINE_LEN + 1);
    close(fd);
    finish(&loop, t);
    free(s);
}

/* A backlog is read in bounded polls, each leaving the loop free between them. */
static void backlog_in_bounded_polls(void)
{
    uv_loop_t loop;
    char path[256];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    int fd = open_append(path);
    write_lines(fd, 0, SEQ_MAX);
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    o.from_start = true;
    o.poll_bytes_max = 64 << 10;
    agent_tail *t = start(&loop, &o, NULL);
    CHECK(agent_tail_poll(t));
    CHECK(s->lines > 0 && s->lines < SEQ_MAX / 4);
    run_until_lines(&loop, s, SEQ_MAX);
    check_range(s, 0, SEQ_MAX, 1);
    CHECK(!agent_tail_poll(t));
    close(fd);
    finish(&loop, t);
    free(s);
}

static void overlong_lines_skipped(void)
{
    uv_loop_t loop;
    char path[256];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    int fd = open_append(path);
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    o.line_max = 1024;
    agent_tail *t = start(&loop, &o, NULL);
    char *big = malloc(300000);
    CHECK(big != NULL);
    memset(big, 'x', 300000);
    write_lines(fd, 0, 5);
    /* A long line arriving over several polls. */
    for (int i = 0; i < 3; i++) {
        write_all(fd, big, 40000);
        run_ms(&loop, 12);
    }
    write_all(fd, "\n", 1);
    write_lines(fd, 5, 10);
    /* One arriving at once, longer than the read buffer. */
    write_all(fd, big, 300000);
    write_all(fd, "\n", 1);
    write_lines(fd, 10, 15);
    /* Exactly line_max is fine; one more byte is not. */
    write_all(fd, big, 1024);
    write_all(fd, "\n", 1);
    write_all(fd, big, 1025);
    write_all(fd, "\n", 1);
    write_lines(fd, 15, 20);
    run_until_lines(&loop, s, 20);
    check_range(s, 0, 20, 1);
    CHECK_U64_EQ(s->other, 1);
    CHECK_U64_EQ(s->other_len, 1024);
    CHECK_U64_EQ(counters(t).overlong, 3);
    struct stat st;
    CHECK_OK(stat(path, &st));
    struct agent_tail_pos pos;
    agent_tail_position(t, &pos);
    CHECK_U64_EQ(pos.offset, (uint64_t)st.st_size);
    free(big);
    close(fd);
    finish(&loop, t);
    free(s);
}

static void missing_then_appears(void)
{
    uv_loop_t loop;
    char path[256];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    agent_tail *t = start(&loop, &o, NULL);
    run_ms(&loop, 30);
    struct agent_tail_pos pos;
    agent_tail_position(t, &pos);
    CHECK_U64_EQ(pos.ino, 0);
    /* Not there at start: all of it is new, read from the start although from_start is off. */
    int fd = open_append(path);
    write_lines(fd, 0, 100);
    run_until_lines(&loop, s, 100);
    check_range(s, 0, 100, 1);
    close(fd);
    finish(&loop, t);
    free(s);
}

/* ---- rotation ---- */

/* nginx: rename, then USR1 makes the workers reopen one by one, so for a while lines go to both
 * files; before the new file exists they all still go to the old one. */
static void rename_rotation_exactly_once(void)
{
    uv_loop_t loop;
    char path[256], rotated[256];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    path_in(rotated, sizeof rotated, "access.log.1");
    int old_fd = open_append(path);
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    o.rotate_idle_polls = 3;
    o.rotate_max_polls = 1000;
    agent_tail *t = start(&loop, &o, NULL);
    write_lines(old_fd, 0, 1000);
    run_until_lines(&loop, s, 1000);
    CHECK_OK(rename(path, rotated));
    write_lines(old_fd, 1000, 1100);
    run_until_lines(&loop, s, 1100);
    int new_fd = open_append(path);
    unsigned seq = 1100;
    for (int i = 0; i < 10; i++, seq += 20) {
        write_lines(old_fd, seq, seq + 10);
        write_lines(new_fd, seq + 10, seq + 20);
        run_ms(&loop, 5);
    }
    close(old_fd);
    write_lines(new_fd, seq, 2000);
    run_until_lines(&loop, s, 2000);
    check_range(s, 0, 2000, 1);
    CHECK_U64_EQ(s->dups, 0);
    struct agent_tail_counters c = counters(t);
    CHECK_U64_EQ(c.rotations, 1);
    CHECK_U64_EQ(c.partial_dropped, 0);
    close(new_fd);
    finish(&loop, t);
    free(s);
}

/* No traffic after the rotation: the new file stays empty, so the switch waits for
 * rotate_max_polls; lines the old file gets meanwhile still count. */
static void rename_rotation_quiet(void)
{
    uv_loop_t loop;
    char path[256], rotated[256];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    path_in(rotated, sizeof rotated, "access.log.1");
    int old_fd = open_append(path);
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    agent_tail *t = start(&loop, &o, NULL);
    write_lines(old_fd, 0, 10);
    run_until_lines(&loop, s, 10);
    CHECK_OK(rename(path, rotated));
    int new_fd = open_append(path);
    run_ms(&loop, 20);
    CHECK_U64_EQ(counters(t).rotations, 0);
    write_lines(old_fd, 10, 20);
    run_until_lines(&loop, s, 20);
    uint64_t end = mono_ms() + DEADLINE_MS;
    while (counters(t).rotations == 0 && mono_ms() < end)
        turn(&loop);
    CHECK_U64_EQ(counters(t).rotations, 1);
    write_lines(new_fd, 20, 30);
    run_until_lines(&loop, s, 30);
    check_range(s, 0, 30, 1);
    close(old_fd);
    close(new_fd);
    finish(&loop, t);
    free(s);
}

/* The log deleted while its writer keeps appending: the tail keeps reading the open file until
 * a new one appears at the path. */
static void deleted_then_recreated(void)
{
    uv_loop_t loop;
    char path[256];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    int old_fd = open_append(path);
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    agent_tail *t = start(&loop, &o, NULL);
    write_lines(old_fd, 0, 10);
    run_until_lines(&loop, s, 10);
    CHECK_OK(unlink(path));
    write_lines(old_fd, 10, 20);
    run_until_lines(&loop, s, 20);
    run_ms(&loop, 300); /* longer than rotate_max_polls: no new file, nothing to switch to */
    write_lines(old_fd, 20, 30);
    run_until_lines(&loop, s, 30);
    close(old_fd);
    int new_fd = open_append(path);
    write_lines(new_fd, 30, 40);
    run_until_lines(&loop, s, 40);
    check_range(s, 0, 40, 1);
    CHECK_U64_EQ(counters(t).rotations, 1);
    close(new_fd);
    finish(&loop, t);
    free(s);
}

/* A different file of the same size renamed over the path: told apart by inode. */
static void replaced_by_same_size_file(void)
{
    uv_loop_t loop;
    char path[256], tmp[256];
    struct seen *s = seen_new();
    path_in(path, sizeof path, "access.log");
    path_in(tmp, sizeof tmp, "access.log.tmp");
    int fd = open_append(path);
    write_lines(fd, 0, 100);
    close(fd);
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    o.from_start = true;
    agent_tail *t = start(&loop, &o, NULL);
    run_until_lines(&loop, s, 100);
    fd = open_append(tmp);
    write_lines(fd, 100, 200);
    close(fd);
    CHECK_OK(rename(tmp, path));
    run_until_lines(&loop, s, 200);
    check_range(s, 0, 200, 1);
    struct agent_tail_counters c = counters(t);
    CHECK_U64_EQ(c.rotations, 1);
    CHECK_U64_EQ(c.truncations, 0);
    finish(&loop, t);
    free(s);
}

/* ---- copytruncate ---- */

/* Reads 0..999, then (with no poll in between) the writer adds 1000..1099, the file is copied
 * and truncated, and the writer goes on from offset 0 with 1100..end. */
static agent_tail *copytruncate_run(uv_loop_t *loop, struct seen *s, bool with_copy, unsigned end)
{
    char path[256], rotated[256];
    path_in(path, sizeof path, "access.log");
    path_in(rotated, sizeof rotated, "access.log.1");
    int fd = open_append(path);
    CHECK_OK(uv_loop_init(loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    agent_tail *t = start(loop, &o, NULL);
    write_lines(fd, 0, 1000);
    run_until_lines(loop, s, 1000);
    write_lines(fd, 1000, 1100);
    if (with_copy)
        copy_file(path, rotated);
    CHECK_OK(truncate(path, 0));
    write_lines(fd, 1100, end);
    close(fd);
    return t;
}

static void copytruncate_recovered_from_copy(void)
{
    uv_loop_t loop;
    struct seen *s = seen_new();
    agent_tail *t = copytruncate_run(&loop, s, true, 2000);
    run_until_lines(&loop, s, 2000);
    check_range(s, 0, 2000, 1);
    struct agent_tail_counters c = counters(t);
    CHECK_U64_EQ(c.truncations, 1);
    CHECK_U64_EQ(c.truncations_recovered, 1);
    CHECK_U64_EQ(c.rotations, 1); /* from the copy back to the path */
    finish(&loop, t);
    free(s);
}

/* No copy to recover from: lines written between the last read and the truncation are lost
 * (the documented limit), nothing is read twice. */
static void copytruncate_without_copy(void)
{
    uv_loop_t loop;
    struct seen *s = seen_new();
    agent_tail *t = copytruncate_run(&loop, s, false, 2000);
    run_until_lines(&loop, s, 1900);
    check_range(s, 0, 1000, 1);
    check_range(s, 1000, 1100, 0);
    check_range(s, 1100, 2000, 1);
    struct agent_tail_counters c = counters(t);
    CHECK_U64_EQ(c.truncations, 1);
    CHECK_U64_EQ(c.truncations_unrecovered, 1);
    finish(&loop, t);
    free(s);
}

/* Truncated and regrown past the old offset before the next poll: the size alone cannot show
 * it, the bytes before the position do. */
static void copytruncate_regrown(void)
{
    uv_loop_t loop;
    struct seen *s = seen_new();
    agent_tail *t = copytruncate_run(&loop, s, false, 3500);
    run_until_lines(&loop, s, 3400);
    check_range(s, 0, 1000, 1);
    check_range(s, 1000, 1100, 0);
    check_range(s, 1100, 3500, 1);
    CHECK_U64_EQ(counters(t).truncations_unrecovered, 1);
    finish(&loop, t);
    free(s);
}

/* ---- restart ---- */

/* First run: reads 0..499 and half of line 500, saves the position, closes. */
static struct agent_tail_pos first_run(const char *path, struct seen *s, int fd)
{
    uv_loop_t loop;
    char line[LINE_LEN + 2];
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    agent_tail *t = start(&loop, &o, NULL);
    write_lines(fd, 0, 500);
    format_line(line, 500);
    write_all(fd, line, 20);
    run_until_lines(&loop, s, 500);
    struct agent_tail_pos pos, decoded;
    agent_tail_position(t, &pos);
    CHECK_U64_EQ(pos.offset, 500 * (LINE_LEN + 1));
    finish(&loop, t);
    /* Through the spool's encoding, as the agent keeps it. */
    uint8_t buf[AGENT_TAIL_POS_ENCODED_MAX];
    size_t len = 0;
    CHECK_OK(agent_tail_pos_encode(&pos, buf, sizeof buf, &len));
    CHECK_OK(agent_tail_pos_decode(buf, len, &decoded));
    write_all(fd, line + 20, LINE_LEN + 1 - 20);
    return decoded;
}

static void second_run(const char *path, struct seen *s, const struct agent_tail_pos *pos,
                       unsigned want, struct agent_tail_counters *c)
{
    uv_loop_t loop;
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    test_opts(&o, path, s);
    agent_tail *t = start(&loop, &o, pos);
    run_until_lines(&loop, s, want);
    *c = counters(t);
    finish(&loop, t);
}

static void restart_same_file(void)
{
    char path[256];
    struct seen *s = seen_new();
    struct agent_tail_counters c;
    path_in(path, sizeof path, "access.log");
    int fd = open_append(path);
    struct agent_tail_pos pos = first_run(path, s, fd);
    write_lines(fd, 501, 800);
    close(fd);
    second_run(path, s, &pos, 800, &c);
    check_range(s, 0, 800, 1);
    CHECK_U64_EQ(c.lines, 300);
    free(s);
}

static void restart_after_rename(void)
{
    char path[256], rotated[256];
    struct seen *s = seen_new();
    struct agent_tail_counters c;
    path_in(path, sizeof path, "access.log");
    path_in(rotated, sizeof rotated, "access.log.1");
    int fd = open_append(path);
    struct agent_tail_pos pos = first_run(path, s, fd);
    write_lines(fd, 501, 600);
    CHECK_OK(rename(path, rotated));
    write_lines(fd, 600, 650); /* before the writer reopened */
    close(fd);
    fd = open_append(path);
    write_lines(fd, 650, 800);
    close(fd);
    second_run(path, s, &pos, 800, &c);
    check_range(s, 0, 800, 1);
    CHECK_U64_EQ(c.rotations, 1);
    free(s);
}

static void restart_after_copytruncate(void)
{
    char path[256], rotated[256];
    struct seen *s = seen_new();
    struct agent_tail_counters c;
    path_in(path, sizeof path, "access.log");
    path_in(rotated, sizeof rotated, "access.log.1");
    int fd = open_append(path);
    struct agent_tail_pos pos = first_run(path, s, fd);
    write_lines(fd, 501, 600);
    copy_file(path, rotated);
    CHECK_OK(truncate(path, 0));
    write_lines(fd, 600, 800);
    close(fd);
    second_run(path, s, &pos, 800, &c);
    check_range(s, 0, 800, 1);
    CHECK_U64_EQ(c.truncations_recovered, 1);
    free(s);
}

/* The saved file is gone for good (another file renamed over it): its unread rest is lost, and
 * the new file is read from 0. */
static void restart_file_gone(void)
{
    char path[256], tmp[256];
    struct seen *s = seen_new();
    struct agent_tail_counters c;
    path_in(path, sizeof path, "access.log");
    path_in(tmp, sizeof tmp, "access.log.new");
    int fd = open_append(path);
    struct agent_tail_pos pos = first_run(path, s, fd);
    close(fd);
    fd = open_append(tmp);
    write_lines(fd, 501, 800);
    close(fd);
    CHECK_OK(rename(tmp, path));
    second_run(path, s, &pos, 799, &c);
    check_range(s, 0, 500, 1);
    check_range(s, 500, 501, 0); /* went with the old file */
    check_range(s, 501, 800, 1);
    CHECK_U64_EQ(c.lines, 299);
    free(s);
}

/* Deleted and recreated while the agent was down: the new file may well get the old inode
 * number; the bytes before the saved offset tell it apart. */
static void restart_inode_reused(void)
{
    char path[256];
    struct seen *s = seen_new();
    struct agent_tail_counters c;
    path_in(path, sizeof path, "access.log");
    int fd = open_append(path);
    struct agent_tail_pos pos = first_run(path, s, fd);
    close(fd);
    CHECK_OK(unlink(path));
    fd = open_append(path);
    write_lines(fd, 501, 1500); /* longer than the old file: the size alone would not tell */
    close(fd);
    second_run(path, s, &pos, 1499, &c);
    check_range(s, 0, 500, 1);
    check_range(s, 500, 501, 0);
    check_range(s, 501, 1500, 1);
    CHECK_U64_EQ(c.lines, 999);
    free(s);
}

/* ---- the rest of the API ---- */

static void position_encoding(void)
{
    struct agent_tail_pos p = {.dev = 0x0102030405060708u,
                               .ino = 42,
                               .offset = UINT64_C(1) << 40,
                               .mark_len = 3,
                               .mark = {'a', 'b', '\n'}};
    struct agent_tail_pos q;
    uint8_t buf[AGENT_TAIL_POS_ENCODED_MAX];
    size_t len = 0;
    CHECK_OK(agent_tail_pos_encode(&p, buf, sizeof buf, &len));
    CHECK_U64_EQ(len, 29);
    CHECK_OK(agent_tail_pos_decode(buf, len, &q));
    CHECK_U64_EQ(q.dev, p.dev);
    CHECK_U64_EQ(q.ino, 42);
    CHECK_U64_EQ(q.offset, p.offset);
    CHECK_INT_EQ(q.mark_len, 3);
    CHECK(memcmp(q.mark, "ab\n", 3) == 0);
    CHECK_ERR(agent_tail_pos_encode(&p, buf, 28, &len), SLIC_ETOOBIG);
    CHECK_ERR(agent_tail_pos_decode(buf, len - 1, &q), SLIC_EDECODE);
    CHECK_ERR(agent_tail_pos_decode(buf, 0, &q), SLIC_EDECODE);
    buf[25] = AGENT_TAIL_MARK_MAX + 1;
    CHECK_ERR(agent_tail_pos_decode(buf, len, &q), SLIC_EDECODE);
    buf[0] = 2;
    CHECK_ERR(agent_tail_pos_decode(buf, len, &q), SLIC_EVERSION);
}

static void create_errors(void)
{
    uv_loop_t loop;
    struct seen *s = seen_new();
    struct agent_tail_options o;
    agent_tail *t = NULL;
    struct slic_errmsg err = {{0}};
    CHECK_OK(uv_loop_init(&loop));
    test_opts(&o, harness_tmpdir(), s);
    CHECK_ERR(agent_tail_create(&loop, &o, NULL, &t, &err), SLIC_ECONFIG);
    CHECK(strstr(err.text, harness_tmpdir()) != NULL);
    o.path = "";
    CHECK_ERR(agent_tail_create(&loop, &o, NULL, &t, &err), SLIC_EINVAL);
    test_opts(&o, "/nonexistent/x.log", s);
    o.line_max = 10;
    CHECK_ERR(agent_tail_create(&loop, &o, NULL, &t, &err), SLIC_EINVAL);
    for (long n = 0; n < 4; n++) {
        test_opts(&o, "/nonexistent/x.log", s);
        slic_alloc_fail_after(n);
        CHECK_ERR(agent_tail_create(&loop, &o, NULL, &t, &err), SLIC_ENOMEM);
        slic_alloc_fail_after(-1);
    }
    CHECK(t == NULL);
    agent_tail_close(NULL, NULL, NULL);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    free(s);
}

struct sink_counts {
    uint64_t good, bad;
    double latency_sum;
};

static void sink_event(void *ctx, const struct slic_event *ev)
{
    struct sink_counts *c = ctx;
    CHECK(ev->name_len == 3 && memcmp(ev->name, "web", 3) == 0);
    *(ev->good ? &c->good : &c->bad) += ev->weight;
    c->latency_sum += ev->latency;
}

/* The tail wired to the real access-log parser. */
static void accesslog_lines_to_events(void)
{
    uv_loop_t loop;
    char path[256];
    path_in(path, sizeof path, "access.log");
    struct sink_counts sc = {0};
    static struct agent_tail_accesslog a;
    slic_accesslog_opts_init(&a.opts, SLIC_ACCESSLOG_COMBINED, "web");
    CHECK_OK(slic_accesslog_opts_check(&a.opts, NULL));
    a.sink = (struct agent_sink){sink_event, &sc};
    a.name = path;
    CHECK_OK(uv_loop_init(&loop));
    struct agent_tail_options o;
    agent_tail_options_init(&o, path, agent_tail_accesslog_line, &a);
    o.poll_ms = 5;
    agent_tail *t = start(&loop, &o, NULL);
    int fd = open_append(path);
    static const char lines[] =
        "10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] \"GET /a HTTP/1.1\" 200 12 \"-\" \"curl/8\" "
        "0.125\n"
        "10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] \"GET /b HTTP/1.1\" 503 12 \"-\" \"curl/8\" "
        "0.250\n"
        "\n"
        "garbage\r\n"
        "10.0.0.1 - - [10/Oct/2026:13:55:37 +0000] \"POST /c HTTP/1.1\" 201 0 \"-\" \"x\" "
        "0.500\r\n";
    write_all(fd, lines, sizeof lines - 1);
    close(fd);
    uint64_t end = mono_ms() + DEADLINE_MS;
    while (counters(t).lines < 5 && mono_ms() < end)
        turn(&loop);
    CHECK_U64_EQ(a.events, 3);
    CHECK_U64_EQ(sc.good, 2);
    CHECK_U64_EQ(sc.bad, 1);
    CHECK_DBL_EQ(sc.latency_sum, 0.875);
    CHECK_U64_EQ(a.rejected[SLIC_ACCESSLOG_E_EMPTY], 1);
    uint64_t refused = 0;
    for (int r = 0; r < SLIC_ACCESSLOG_REASON_COUNT; r++)
        refused += a.rejected[r];
    CHECK_U64_EQ(refused, 2);
    finish(&loop, t);
}

HARNESS_CASES(HARNESS_CASE(from_start_exact), HARNESS_CASE(starts_at_end),
              HARNESS_CASE(starts_at_end_inside_long_line),
              HARNESS_CASE(partial_line_completed_later), HARNESS_CASE(backlog_in_bounded_polls),
              HARNESS_CASE(overlong_lines_skipped), HARNESS_CASE(missing_then_appears),
              HARNESS_CASE(rename_rotation_exactly_once), HARNESS_CASE(rename_rotation_quiet),
              HARNESS_CASE(deleted_then_recreated), HARNESS_CASE(replaced_by_same_size_file),
              HARNESS_CASE(copytruncate_recovered_from_copy),
              HARNESS_CASE(copytruncate_without_copy), HARNESS_CASE(copytruncate_regrown),
              HARNESS_CASE(restart_same_file), HARNESS_CASE(restart_after_rename),
              HARNESS_CASE(restart_after_copytruncate), HARNESS_CASE(restart_file_gone),
              HARNESS_CASE(restart_inode_reused), HARNESS_CASE(position_encoding),
              HARNESS_CASE(create_errors), HARNESS_CASE(accesslog_lines_to_events));
HARNESS_MAIN()
