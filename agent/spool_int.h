/* Internals shared by the spool's files: spool.c (lifecycle, the meta record, headers),
 * spool_ops.c (take, ack, reject and the reads), spool_reclaim.c (append, coarsening and dropping
 * under the cap) and spool_merge.c (merging two decoded batches into coarser windows, without
 * LMDB). Not for use outside them.
 *
 * Databases of the environment, all keys big-endian so cursor order is numeric order:
 *   meta      "meta" -> the meta record (layout in spool.c), schema version first
 *   pending   seq (8) -> header (AGENT__SPOOL_HDR_LEN) + serialized Batch
 *   sent      seq (8) -> empty: present once agent_spool_take handed the batch out
 *   rejected  epoch (8) + seq (8) -> time (8), reason length (2), reason, pending value
 *   state     the agent's key -> its value */
#ifndef SLIC_AGENT_SPOOL_INT_H
#define SLIC_AGENT_SPOOL_INT_H

#include "spool.h"

#include <lmdb.h>

/* Bit in meta.flags: a writer has the spool open (cleared by a clean close). */
#define AGENT__SPOOL_OPEN 1u

struct agent__spool_meta {
    uint32_t flags;
    uint64_t epoch;
    uint64_t next_seq;
    int64_t last_closed_end;
    uint64_t cap;
    uint64_t pending_bytes;
    uint64_t coarsened;
    uint64_t dropped;
    uint64_t dropped_events;
    uint64_t rejected_total;
    uint64_t rejected_deleted;
    char agent_id[SLIC_NAME_MAX + 1];
};

/* What the spool needs to know of a batch without decoding it. */
#define AGENT__SPOOL_HDR_LEN 40u
struct agent__spool_hdr {
    uint32_t n_series;    /* 0: a tombstone or an empty window */
    uint32_t window_lcm;  /* lcm of the series' window lengths; 0 when some length does not
                           * divide an hour, which rules out coarsening */
    int64_t window_start; /* a tombstone keeps those of the batch it replaced */
    int64_t window_end;
    uint64_t events;
};

struct agent_spool {
    char *dir;
    MDB_env *env;
    MDB_dbi dbi_meta;
    MDB_dbi dbi_pending;
    MDB_dbi dbi_sent;
    MDB_dbi dbi_rejected;
    MDB_dbi dbi_state;
    bool read_only;
    bool unclean_start;
    int lock_fd;
    unsigned page_size;
    uint64_t cap;
    uint64_t map_size; /* as mapped at open */
    uint32_t rejected_max;
    int64_t (*clock_ms)(void *ctx);
    void *clock_ctx;
    /* Writer only: the stored meta record as last committed (the lock makes it the truth). */
    struct agent__spool_meta meta;
    /* Writer only, in memory: every pending seq below these is known to be no merge candidate
     * (coarsen_from) or already a tombstone (drop_from), so scans do not restart at the front;
     * both only grow, since neither property is ever undone. */
    uint64_t coarsen_from;
    uint64_t drop_from;
};

void agent__be64_put(uint8_t *p, uint64_t v);
uint64_t agent__be64_get(const uint8_t *p);
void agent__le_put(uint8_t *p, uint64_t v, int bytes);
uint64_t agent__le_get(const uint8_t *p, int bytes);

int64_t agent__spool_now_ms(const agent_spool *sp);

/* Converts an LMDB result from operation `what`: MDB_MAP_FULL becomes SLIC_ERETRY, ENOMEM
 * SLIC_ENOMEM, anything else SLIC_ESTORE, each with a message naming the spool dir. */
int agent__spool_mdb_err(const agent_spool *sp, int rc, const char *what, struct slic_errmsg *err);

int agent__spool_txn_begin(agent_spool *sp, bool read_only, MDB_txn **txn, struct slic_errmsg *err);
int agent__spool_meta_put(agent_spool *sp, MDB_txn *txn, const struct agent__spool_meta *m,
                          struct slic_errmsg *err);
/* Reads the meta record; *found false (and *m zeroed) when there is none yet. SLIC_EVERSION for
 * a record of another schema version. */
int agent__spool_meta_get(agent_spool *sp, MDB_txn *txn, struct agent__spool_meta *m, bool *found,
                          struct slic_errmsg *err);
/* The oldest pending batch's header; *found false when none. */
int agent__spool_oldest(agent_spool *sp, MDB_txn *txn, struct agent__spool_hdr *h, bool *found,
                        struct slic_errmsg *err);
/* SLIC_EINVAL naming `what` for a read-only handle, else 0. */
int agent__spool_writer_only(const agent_spool *sp, const char *what, struct slic_errmsg *err);
/* Formats Unix seconds as RFC 3339 (or a number out of its range) into buf. */
#define AGENT__TIME_STR_LEN 32
const char *agent__time_str(int64_t t, char buf[AGENT__TIME_STR_LEN]);

void agent__spool_hdr_encode(const struct agent__spool_hdr *h, uint8_t *out);
/* Decodes the header of pending value v (seq names it in the message); SLIC_ESTORE if short. */
int agent__spool_hdr_decode(const agent_spool *sp, uint64_t seq, const MDB_val *v,
                            struct agent__spool_hdr *h, struct slic_errmsg *err);

/* Stores header + bytes under seq in `dbi`, writing straight into LMDB's buffer. */
int agent__spool_value_put(agent_spool *sp, MDB_txn *txn, uint64_t seq,
                           const struct agent__spool_hdr *h, const uint8_t *bytes, size_t len,
                           struct slic_errmsg *err);

/* Whether seq carries a sent mark. 0 or an LMDB error through agent__spool_mdb_err. */
int agent__spool_is_sent(agent_spool *sp, MDB_txn *txn, uint64_t seq, bool *sent,
                         struct slic_errmsg *err);

/* ---- spool_merge.c ---- */

/* The header of a batch: its series' window span, total events and window_lcm. */
void agent__spool_hdr_of(const struct slic_batch *b, struct agent__spool_hdr *h);

/* The finest window length (a multiple of both batches' window_lcm that divides an hour) whose
 * one aligned window holds both batches' windows and has ended by `now` (Unix s). 0 when there
 * is none; then *later tells whether one will exist once time passes. */
uint32_t agent__spool_coarse_window(const struct agent__spool_hdr *a,
                                    const struct agent__spool_hdr *b, int64_t now, bool *later);

/* Moves every series of src into dst, re-windowed to `window` seconds (a multiple of each
 * series' length), merging series of equal SLI, labels and window: totals and goods add,
 * sketches merge, and the threshold counts both carry add (a threshold only one side counted
 * is left out: its exact count for the other side does not exist). Returns 0; SLIC_EOVERFLOW,
 * SLIC_EALPHA (sketch settings differ) or SLIC_ETOOBIG (too many series, or label sets per
 * SLI) when the two cannot be merged; SLIC_ENOMEM. On error both are left fini-able, their
 * content unspecified. */
int agent__spool_merge(struct slic_batch *dst, struct slic_batch *src, uint32_t window);

/* ---- spool_reclaim.c ---- */

/* Bytes of pages a value of `len` bytes is likely to take. */
uint64_t agent__spool_cost(const agent_spool *sp, size_t len);

/* Pages holding live data, x page size, as `txn` sees them. */
int agent__spool_used(agent_spool *sp, MDB_txn *txn, uint64_t *used, struct slic_errmsg *err);

#endif
