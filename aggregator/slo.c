/* SLO evaluation: reads an SLO's events through the data callbacks and turns them into the SLI
 * value, error budget and burn rates of slo.h. Every window ends on the same 10 s boundary, so
 * the evaluator cuts each window into pieces aligned to the stored resolutions (10 s, 1 min,
 * 1 h) and asks for each piece once: the recent pieces are shared by all windows, and the long
 * middles come from hourly rollups, which keeps an evaluation to a few dozen range queries
 * whatever the window lengths. Slices are read in chunks of consecutive slices, one call each. */
#include "slo_int.h"

#include "alloc.h"

#include <math.h>
#include <string.h>

const int64_t agg_slo_burn_window_s[AGG_SLO_BURN_WINDOWS] = {
    300, 1800, 3600, 7200, 21600, 86400, 259200,
};

/* The stored resolutions, finest first. */
static const uint32_t resolutions[] = {10, 60, 3600};
#define N_RESOLUTIONS (sizeof resolutions / sizeof resolutions[0])

/* Distinct pieces one evaluation can ask for: 7 fixed windows, 2 x 8 tier windows and the SLO
 * window, at most 5 pieces each, so every piece is asked once. */
#define PIECE_CACHE_MAX 128

/* ---- counts ---- */

static const struct agg_slo_counts counts_zero = {.exact = true};

/* A source's answer keeps its contract, or the evaluation stops: a good count above total
 * would make an SLI above 1 and a negative burn rate. */
static bool counts_valid(const struct agg_slo_counts *c)
{
    return c->good_lower <= c->good_upper && c->good_upper <= c->total &&
           (!c->exact || c->good_lower == c->good_upper);
}

static int counts_add(struct agg_slo_counts *acc, const struct agg_slo_counts *c)
{
    /* good <= total on both sides, so only total can overflow. */
    if (acc->total > UINT64_MAX - c->total)
        return SLIC_EOVERFLOW;
    acc->total += c->total;
    acc->good_lower += c->good_lower;
    acc->good_upper += c->good_upper;
    acc->exact = acc->exact && c->exact;
    return 0;
}

/* The events at or below x: exactly from a counter at x, else bounded by the sketch's rank and
 * by counters on either side of x. */
static int threshold_good(uint64_t total, const slic_sketch *latency, double x,
                          const struct slic_threshold_count *thr, size_t n_thr,
                          struct agg_slo_counts *out)
{
    uint64_t lower = 0, upper = total;
    for (size_t i = 0; i < n_thr; i++) {
        if (thr[i].count_le > total)
            return SLIC_EINCONSISTENT;
        if (thr[i].threshold == x) {
            *out = (struct agg_slo_counts){total, thr[i].count_le, thr[i].count_le, true};
            return 0;
        }
    }
    if (latency != NULL) {
        struct slic_sketch_rank r;
        if (slic_sketch_count(latency) != total || slic_sketch_rank(latency, x, &r) != 0)
            return SLIC_EINCONSISTENT;
        lower = r.lower;
        upper = r.upper;
    }
    for (size_t i = 0; i < n_thr; i++) {
        if (thr[i].threshold < x && thr[i].count_le > lower)
            lower = thr[i].count_le;
        if (thr[i].threshold > x && thr[i].count_le < upper)
            upper = thr[i].count_le;
    }
    if (lower > upper)
        return SLIC_EINCONSISTENT;
    *out = (struct agg_slo_counts){total, lower, upper, lower == upper && latency == NULL};
    return 0;
}

int agg_slo_counts_from_sli(const struct agg_slo_def *d, uint64_t total, uint64_t good,
                            const slic_sketch *latency, const struct slic_threshold_count *thr,
                            size_t n_thr, struct agg_slo_counts *out)
{
    if (good > total)
        return SLIC_EINCONSISTENT;
    if (d->indicator != AGG_SLO_THRESHOLD) {
        *out = (struct agg_slo_counts){total, good, good, true};
        return 0;
    }
    if (total == 0) {
        *out = counts_zero;
        return 0;
    }
    if (latency == NULL && n_thr == 0)
        return SLIC_EINCONSISTENT;
    /* `< t` over values is `<= the largest double below t`. */
    double x = d->op == AGG_SLO_OP_LT ? nextafter(d->threshold_s, 0.0) : d->threshold_s;
    struct agg_slo_counts c;
    int rc = threshold_good(total, latency, x, thr, n_thr, &c);
    if (rc != 0)
        return rc;
    *out = c;
    return 0;
}

/* ---- fetching windows in aligned pieces ---- */

struct piece {
    int64_t from;
    int64_t to;
    uint32_t res;
    struct agg_slo_counts c;
};

struct fetch {
    const struct agg_slo_def *d;
    const struct agg_slo_data *src;
    struct slic_errmsg *err;
    size_t n;
    struct piece cache[PIECE_CACHE_MAX];
};

static int source_failed(struct fetch *f, int rc, const char *what, int64_t from, int64_t to,
                         uint32_t res)
{
    return slic_errmsg_set(f->err, rc, "SLO '%s': %s for [%lld, %lld) at %u s: %s",
                           agg__slo_name(f->d), what, (long long)from, (long long)to, res,
                           slic_strerror(rc));
}

static int fetch_piece(struct fetch *f, int64_t from, int64_t to, uint32_t res,
                       struct agg_slo_counts *acc)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct piece *p = &f->cache[i];
        if (p->from == from && p->to == to && p->res == res)
            return counts_add(acc, &p->c);
    }
    struct agg_slo_counts c = counts_zero;
    int rc = f->src->counts(f->src->ctx, f->d, from, to, res, &c);
    if (rc != 0)
        return source_failed(f, rc, "counts failed", from, to, res);
    if (!counts_valid(&c))
        return source_failed(f, SLIC_EINCONSISTENT, "counts out of order", from, to, res);
    if (f->n < PIECE_CACHE_MAX)
        f->cache[f->n++] = (struct piece){from, to, res, c};
    return counts_add(acc, &c);
}

/* Adds [from, to) (multiples of resolutions[level]) as the fewest aligned pieces: the part on
 * the next coarser grid recursively, the ends at this resolution. */
static int fetch_aligned(struct fetch *f, int64_t from, int64_t to, size_t level,
                         struct agg_slo_counts *acc)
{
    uint32_t res = resolutions[level];
    if (level + 1 == N_RESOLUTIONS)
        return fetch_piece(f, from, to, res, acc);
    int64_t next = resolutions[level + 1];
    int64_t a = agg__slo_ceil(from, next), b = agg__slo_floor(to, next);
    if (a >= b)
        return fetch_piece(f, from, to, res, acc);
    int rc = 0;
    if (from < a)
        rc = fetch_piece(f, from, a, res, acc);
    if (rc == 0)
        rc = fetch_aligned(f, a, b, level + 1, acc);
    if (rc == 0 && b < to)
        rc = fetch_piece(f, b, to, res, acc);
    return rc;
}

/* The counts over [from, to), both on the 10 s grid. */
static int fetch_window(struct fetch *f, int64_t from, int64_t to, struct agg_slo_counts *out)
{
    struct agg_slo_counts acc = counts_zero;
    int rc = from < to ? fetch_aligned(f, from, to, 0, &acc) : 0;
    if (rc == SLIC_EOVERFLOW)
        return slic_errmsg_set(f->err, rc, "SLO '%s': more than 2^64 events in [%lld, %lld)",
                               agg__slo_name(f->d), (long long)from, (long long)to);
    if (rc == 0)
        *out = acc;
    return rc;
}

/* ---- slices ---- */

struct slice_tally {
    struct agg_slo_counts events;
    uint64_t slices;
    uint64_t empty;
    uint64_t nonempty;
    uint64_t bad_lower;
    uint64_t bad_upper;
    double ratio_lower_sum;
    double ratio_upper_sum;
};

static void tally_slice(const struct agg_slo_def *d, const struct agg_slo_counts *c,
                        struct slice_tally *t)
{
    t->slices++;
    if (c->total == 0) {
        t->empty++;
        return;
    }
    double lo = (double)c->good_lower / (double)c->total;
    double hi = (double)c->good_upper / (double)c->total;
    t->nonempty++;
    t->ratio_lower_sum += lo;
    t->ratio_upper_sum += hi;
    if (d->budgeting != AGG_SLO_TIMESLICES)
        return;
    /* Bad unless surely good (upper bound of bad slices), bad when surely bad (lower). */
    if (!(lo >= d->timeslice_target))
        t->bad_upper++;
    if (!(hi >= d->timeslice_target))
        t->bad_lower++;
}

/* The coarsest stored resolution whole slices starting at `from` are made of. */
static uint32_t slice_resolution(int64_t from, int64_t slice)
{
    uint32_t best = resolutions[0];
    for (size_t i = 0; i < N_RESOLUTIONS; i++) {
        if (slice % resolutions[i] == 0 && agg__slo_floor(from, resolutions[i]) == from)
            best = resolutions[i];
    }
    return best;
}

static int tally_chunk(struct fetch *f, const struct agg_slo_counts *c, size_t n,
                       struct slice_tally *t, int64_t from, int64_t slice, uint32_t res)
{
    for (size_t i = 0; i < n; i++) {
        int64_t s = from + (int64_t)i * slice;
        if (!counts_valid(&c[i]))
            return source_failed(f, SLIC_EINCONSISTENT, "slice counts out of order", s, s + slice,
                                 res);
        if (counts_add(&t->events, &c[i]) != 0)
            return source_failed(f, SLIC_EOVERFLOW, "more than 2^64 events", s, s + slice, res);
        tally_slice(f->d, &c[i], t);
    }
    return 0;
}

/* Tallies the n slices of `slice` seconds from `from`, AGG_SLO_SLICES_CHUNK per call. */
static int fetch_slices(struct fetch *f, int64_t from, int64_t slice, uint64_t n,
                        struct slice_tally *t)
{
    *t = (struct slice_tally){.events = counts_zero};
    if (n == 0)
        return 0;
    if (f->src->slices == NULL)
        return slic_errmsg_set(f->err, SLIC_EINVAL,
                               "SLO '%s': budgeting by slices needs a slices data source",
                               agg__slo_name(f->d));
    uint32_t res = slice_resolution(from, slice);
    size_t cap = n < AGG_SLO_SLICES_CHUNK ? (size_t)n : AGG_SLO_SLICES_CHUNK;
    struct agg_slo_counts *buf = slic_malloc(cap * sizeof *buf);
    if (buf == NULL)
        return slic_errmsg_set(f->err, SLIC_ENOMEM, "SLO '%s': no memory for %zu slices",
                               agg__slo_name(f->d), cap);
    int rc = 0;
    for (uint64_t done = 0; done < n && rc == 0;) {
        size_t k = n - done < cap ? (size_t)(n - done) : cap;
        int64_t at = from + (int64_t)done * slice;
        for (size_t i = 0; i < k; i++)
            buf[i] = counts_zero;
        rc = f->src->slices(f->src->ctx, f->d, at, (uint32_t)slice, res, k, buf);
        if (rc != 0)
            rc = source_failed(f, rc, "slices failed", at, at + (int64_t)k * slice, res);
        else
            rc = tally_chunk(f, buf, k, t, at, slice, res);
        done += k;
    }
    slic_free(buf);
    return rc;
}

/* ---- the SLO window ---- */

static void set_events(struct agg_slo_status *st, const struct agg_slo_counts *c)
{
    st->total = c->total;
    st->good_lower = c->good_lower;
    st->good_upper = c->good_upper;
    st->exact = c->exact;
    st->has_data = c->total > 0;
}

/* SLI and budget spent when nothing is known to have failed. */
static void set_untouched(struct agg_slo_status *st)
{
    st->sli = st->sli_upper = 1.0;
    st->consumed = st->consumed_lower = 0.0;
}

static int eval_occurrences(struct fetch *f, struct agg_slo_status *st)
{
    struct agg_slo_counts c;
    int rc = fetch_window(f, st->window.from, st->window.to, &c);
    if (rc != 0)
        return rc;
    set_events(st, &c);
    if (c.total == 0) {
        set_untouched(st);
        return 0;
    }
    double total = (double)c.total;
    st->sli = (double)c.good_lower / total;
    st->sli_upper = (double)c.good_upper / total;
    /* (1 - sli) / budget, from the counts so no precision is lost in 1 - sli. */
    st->consumed = (double)(c.total - c.good_lower) / (st->budget * total);
    st->consumed_lower = (double)(c.total - c.good_upper) / (st->budget * total);
    return 0;
}

static int eval_slices(struct fetch *f, struct agg_slo_status *st)
{
    const struct agg_slo_def *d = f->d;
    int64_t slice = agg__slo_slice_s(d);
    const struct agg_slo_window *w = &st->window;
    struct slice_tally t;
    int rc = fetch_slices(f, w->from, slice, (uint64_t)((w->to - w->from) / slice), &t);
    if (rc != 0)
        return rc;
    set_events(st, &t.events);
    st->slices = t.slices;
    /* agg_slo_def_check keeps slices no longer than the period; at least one keeps the
     * division below defined even for a period cut short by rounding to the grid. */
    uint64_t period = (uint64_t)((w->period_end - w->from) / slice);
    st->slices_period = period > 0 ? period : 1;
    st->slices_empty = t.empty;
    st->slices_bad_lower = t.bad_lower;
    st->slices_bad_upper = t.bad_upper;
    set_untouched(st);
    if (d->budgeting == AGG_SLO_TIMESLICES && t.slices > 0) {
        double n = (double)t.slices, budget_slices = st->budget * (double)st->slices_period;
        st->sli = (n - (double)t.bad_upper) / n;
        st->sli_upper = (n - (double)t.bad_lower) / n;
        st->consumed = (double)t.bad_upper / budget_slices;
        st->consumed_lower = (double)t.bad_lower / budget_slices;
    } else if (d->budgeting == AGG_SLO_RATIO_TIMESLICES && t.nonempty > 0) {
        st->sli = t.ratio_lower_sum / (double)t.nonempty;
        st->sli_upper = t.ratio_upper_sum / (double)t.nonempty;
        st->consumed = (1.0 - st->sli) / st->budget;
        st->consumed_lower = (1.0 - st->sli_upper) / st->budget;
    }
    return 0;
}

/* ---- burn rates ---- */

static int eval_burn(struct fetch *f, int64_t to, int64_t window_s, double budget,
                     struct agg_slo_burn *out)
{
    struct agg_slo_counts c;
    int rc = fetch_window(f, to - window_s, to, &c);
    if (rc != 0)
        return rc;
    *out = (struct agg_slo_burn){
        .window_s = window_s,
        .total = c.total,
        .bad_lower = c.total - c.good_upper,
        .bad_upper = c.total - c.good_lower,
    };
    if (c.total > 0) {
        out->rate = (double)out->bad_upper / (double)c.total / budget;
        out->rate_lower = (double)out->bad_lower / (double)c.total / budget;
    }
    return 0;
}

static int eval_burns(struct fetch *f, struct agg_slo_status *st)
{
    int64_t to = agg__slo_floor(st->now, AGG_SLO_GRID_S);
    int rc = 0;
    for (size_t i = 0; i < AGG_SLO_BURN_WINDOWS && rc == 0; i++)
        rc = eval_burn(f, to, agg_slo_burn_window_s[i], st->budget, &st->burn[i]);
    st->n_tiers = f->d->n_tiers;
    for (size_t i = 0; i < st->n_tiers && rc == 0; i++) {
        const struct agg_slo_tier *t = &f->d->tiers[i];
        rc = eval_burn(f, to, agg__slo_grid_round(t->long_window_s), st->budget, &st->tier_long[i]);
        if (rc == 0)
            rc = eval_burn(f, to, agg__slo_grid_round(t->short_window_s), st->budget,
                           &st->tier_short[i]);
    }
    return rc;
}

static void set_exhaustion(struct agg_slo_status *st)
{
    double rate = st->burn[AGG_SLO_BURN_1H].rate;
    double period = (double)(st->window.period_end - st->window.period_start);
    st->exhausts = true;
    if (st->remaining <= 0) {
        st->exhaustion_s = 0;
    } else if (rate > 0) {
        st->exhaustion_s = st->remaining * period / rate;
    } else {
        st->exhausts = false;
        st->exhaustion_s = INFINITY;
    }
}

int agg_slo_evaluate(const struct agg_slo_def *d, const slic_tz *tz, int64_t now,
                     const struct agg_slo_data *src, struct agg_slo_status *out,
                     struct slic_errmsg *err)
{
    struct agg_slo_status st;
    memset(&st, 0, sizeof st);
    int rc = agg__slo_window_range(d, tz, now, &st.window, err);
    if (rc != 0)
        return rc;
    if (src == NULL || src->counts == NULL)
        return slic_errmsg_set(err, SLIC_EINVAL, "SLO '%s': no data source", agg__slo_name(d));
    st.now = now;
    st.budget = 1.0 - d->target;
    struct fetch f = {.d = d, .src = src, .err = err};
    rc = agg__slo_sliced(d) ? eval_slices(&f, &st) : eval_occurrences(&f, &st);
    if (rc == 0)
        rc = eval_burns(&f, &st);
    if (rc != 0)
        return rc;
    st.remaining = 1.0 - st.consumed;
    set_exhaustion(&st);
    *out = st;
    return 0;
}
