/* Following one access-log file on the agent's libuv loop, as `tail -F` would, but exactly:
 * every complete line the writer appends is handed to a line function once, across rename
 * rotation, copytruncate and agent restarts. A timer polls the file (fstat on the open file,
 * stat on the path) and reads what was appended with pread(2), which is fine on the loop for
 * local files and bounded per tick. The file is assumed append-only between rotations.
 *
 * Semantics (what "exactly" means, and where it cannot hold):
 * - Start. With no saved position a file that exists is read from its end (old history is not
 *   re-counted; a line being written at that moment is read whole) unless `from_start`; a file
 *   that does not exist yet is read from its start when it appears.
 * - Rename rotation (logrotate `create`, nginx USR1). When the path names another file than the
 *   one open, the open one is read to its end on every poll until its writer has moved on: the
 *   new file holds data and the old one gave nothing for `rotate_idle_polls` polls, or
 *   `rotate_max_polls` polls passed (then a warning if it was still growing). Only then is the
 *   new file read, from offset 0, so nothing written to either file is lost or read twice. While
 *   the path does not exist the old file is followed indefinitely (a writer may keep appending
 *   to a deleted or renamed file until told to reopen).
 * - Truncation (copytruncate). Detected when the file is shorter than what was read, or when the
 *   bytes just before the position no longer match what was read there (truncated and regrown
 *   between two polls). If the copy sits at `rotated_path` (its bytes before our position match),
 *   the lines we missed are read from the copy first, then the file from offset 0. Without the
 *   copy, lines written between our last read and the truncation are lost: an inherent limit of
 *   copytruncate, at most one poll interval of writes, counted (truncations_unrecovered,
 *   lost_lines_min) and logged. Writes between the copy and the truncation are lost either way.
 * - A different file with the same size replacing the path is told apart by (device, inode).
 * - Restart. agent_tail_position() names the file and the offset of the first byte not handed
 *   over; see agent_tail_create() for how it is resumed.
 * Two rotations between two polls (or while the agent is down, beyond `rotated_path`) lose the
 * middle file's unread lines: the tail knows only the path and `rotated_path`. */
#ifndef SLIC_AGENT_SRC_TAIL_H
#define SLIC_AGENT_SRC_TAIL_H

#include "accesslog.h"
#include "err.h"
#include "source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct agent_tail agent_tail;

#define AGENT_TAIL_POLL_MS_DEFAULT 200u
#define AGENT_TAIL_ROTATE_IDLE_POLLS_DEFAULT 2u
#define AGENT_TAIL_ROTATE_MAX_POLLS_DEFAULT 50u
#define AGENT_TAIL_LINE_MAX_DEFAULT ((size_t)64 << 10)
#define AGENT_TAIL_POLL_BYTES_DEFAULT ((size_t)4 << 20)
/* Bytes before the position remembered to recognise the same content later. */
#define AGENT_TAIL_MARK_MAX 64u
/* Size of an encoded position (agent_tail_pos_encode). */
#define AGENT_TAIL_POS_ENCODED_MAX (1u + 3u * 8u + 1u + AGENT_TAIL_MARK_MAX)

/* Called once per complete line, without its '\n' (a '\r' before it is kept). The line is valid
 * only during the call. Must not close the tail. */
typedef void agent_tail_line_fn(void *ctx, const char *line, size_t len);

/* Zero means "the default" for every numeric field. Strings are copied. */
struct agent_tail_options {
    const char *path;         /* the file to follow; required */
    const char *rotated_path; /* where rotation moves it; NULL: path + ".1"; "": nowhere */
    unsigned poll_ms;
    unsigned rotate_idle_polls;
    unsigned rotate_max_polls; /* >= rotate_idle_polls */
    size_t line_max;           /* longer lines are skipped and counted; >= 256 */
    size_t poll_bytes_max;     /* read per poll; more waits for the next turn of the loop */
    bool from_start;           /* a file never seen before is read from its start */
    agent_tail_line_fn *line;  /* required */
    void *line_ctx;
};

/* Where a tail stands: the file (device, inode), the offset of the first byte NOT yet handed
 * to the line function (a partial last line is not included), and the up to
 * AGENT_TAIL_MARK_MAX bytes before that offset, which tell the same file from another that
 * reuses its inode number. All zero: no file was being followed; the next one that appears
 * is read from its start. */
struct agent_tail_pos {
    uint64_t dev;
    uint64_t ino;
    uint64_t offset;
    uint32_t mark_len;
    uint8_t mark[AGENT_TAIL_MARK_MAX];
};

/* Counts since create. */
struct agent_tail_counters {
    uint64_t lines;                   /* handed to the line function */
    uint64_t bytes;                   /* read, skipped lines and newlines included */
    uint64_t rotations;               /* switches to a new file at the path */
    uint64_t truncations;             /* the followed file shrank or was rewritten */
    uint64_t truncations_recovered;   /* ... and the missed lines were read from the copy */
    uint64_t truncations_unrecovered; /* ... and lines since the last read may be lost */
    uint64_t lost_lines_min;          /* lines certainly lost (cut by a truncation) */
    uint64_t overlong;                /* lines over line_max, skipped */
    uint64_t partial_dropped;         /* unterminated last lines of files left behind */
    uint64_t errors;                  /* open/stat/read failures (each logged once) */
};

/* Fills o with the defaults for following `path` with line function `line`. */
void agent_tail_options_init(struct agent_tail_options *o, const char *path,
                             agent_tail_line_fn *line, void *line_ctx);

/* Starts following o->path on `loop` (first poll on the next turn of the loop). `resume` is a
 * position saved earlier, or NULL for a file never seen before:
 * - the file at the path is resume's file (same device, inode and mark) and not shorter than
 *   resume's offset: reading continues at the offset;
 * - the same inode but shorter or with other bytes before the offset (truncated while the agent
 *   was down): the copy at rotated_path is finished from the offset if it matches, else the
 *   file is read from 0 and the loss logged;
 * - another file at the path (rotated while down): if resume's file is at rotated_path it is
 *   finished from the offset first; otherwise the rest of it is lost (logged) and the new file
 *   is read from 0. A missing file is read from 0 when it appears.
 * Returns 0; SLIC_EINVAL (options out of range); SLIC_ECONFIG when the path exists and is not a
 * regular file (err names it); SLIC_ENOMEM. A missing or unreadable file is not an error: it is
 * logged and retried each poll. *out only on success. Loop thread only. */
int agent_tail_create(uv_loop_t *loop, const struct agent_tail_options *o,
                      const struct agent_tail_pos *resume, agent_tail **out,
                      struct slic_errmsg *err);

/* One poll now, as the timer does: checks for truncation, reads up to poll_bytes_max and hands
 * over the complete lines, then checks for rotation. True when more is readable right away
 * (the caller draining before shutdown calls it again). */
bool agent_tail_poll(agent_tail *t);

/* The position to save with the window that consumed every line handed over so far: take it
 * in the same loop turn as the window closes, so no line falls between the two. While a saved
 * position could not be applied yet (its file exists but is unreadable), that position. */
void agent_tail_position(const agent_tail *t, struct agent_tail_pos *out);

void agent_tail_counters(const agent_tail *t, struct agent_tail_counters *out);

/* Stops polling and closes the file at once (no line is handed over after this returns);
 * `closed` runs from the loop once the tail is freed. NULL t calls nothing. */
void agent_tail_close(agent_tail *t, void (*closed)(void *arg), void *arg);

/* A position as bytes for the spool's state records (version 1, little-endian): writes *len
 * <= AGENT_TAIL_POS_ENCODED_MAX bytes into buf. Returns 0 or SLIC_ETOOBIG when cap is short. */
int agent_tail_pos_encode(const struct agent_tail_pos *p, uint8_t *buf, size_t cap, size_t *len);

/* The reverse. Returns 0, SLIC_EVERSION, or SLIC_EDECODE for a wrong length or mark size;
 * *out only on success. */
int agent_tail_pos_decode(const uint8_t *buf, size_t len, struct agent_tail_pos *out);

/* A ready-made line function: parses each line with common/accesslog.c and emits its event to
 * the sink. Fill opts (checked by slic_accesslog_opts_check), sink and name (the file, for
 * logs; borrowed), zero the rest, and pass the struct as line_ctx. One refused line per reason
 * per minute is logged, blank lines never. */
struct agent_tail_accesslog {
    struct slic_accesslog_opts opts;
    struct agent_sink sink;
    const char *name;
    uint64_t events;
    uint64_t rejected[SLIC_ACCESSLOG_REASON_COUNT]; /* [OK] stays 0 */
    int64_t last_log_ms_[SLIC_ACCESSLOG_REASON_COUNT];
    uint64_t since_log_[SLIC_ACCESSLOG_REASON_COUNT];
    struct slic_accesslog_record rec_; /* scratch, so no 2 KiB record lands on the stack */
};

agent_tail_line_fn agent_tail_accesslog_line;

#endif
