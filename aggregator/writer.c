/* The writer thread (see writer.h): a mutex-protected FIFO of items, drained in groups into one
 * store transaction each. Ingest comes first: a retention pass deletes one bounded transaction
 * at a time and yields to any batch that is waiting. */
#include "writer.h"

#include "alloc.h"
#include "err.h"
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define GROUP_MAX 1024u

struct agg_writer {
    agg_store *store;
    struct agg_writer_options opts;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct agg_write_item *head;
    struct agg_write_item *tail;
    unsigned pending;
    bool stopping;
    int64_t next_expire_ms;
    bool expire_unfinished;
    /* The store's reason per batch of the group being written (GROUP_MAX entries). */
    struct slic_errmsg *reasons;
};

void agg_writer_options_default(struct agg_writer_options *o)
{
    o->max_group_batches = 256;
    o->max_group_series = 20000;
    o->expire_interval_seconds = 60;
    o->expire_batch_rows = 5000;
    /* The store splits a group further by its own dirty-page budget. */
}

/* Takes up to the group limits off the queue; caller holds the mutex. */
static unsigned take_group(agg_writer *w, struct agg_write_item **group)
{
    unsigned n = 0;
    size_t series = 0;
    unsigned max = w->opts.max_group_batches < GROUP_MAX ? w->opts.max_group_batches : GROUP_MAX;
    while (w->head && n < max) {
        size_t s = w->head->batch->n_series;
        /* Always take at least one, however large, or it would wait forever. */
        if (n > 0 && series + s > w->opts.max_group_series)
            break;
        series += s;
        group[n++] = w->head;
        w->head = w->head->next;
        w->pending--;
    }
    if (!w->head)
        w->tail = NULL;
    return n;
}

static void write_group(agg_writer *w, struct agg_write_item **group, unsigned n)
{
    const struct slic_batch *batches[GROUP_MAX];
    enum agg_ingest_result results[GROUP_MAX];
    for (unsigned i = 0; i < n; i++) {
        batches[i] = group[i]->batch;
        w->reasons[i].text[0] = '\0';
    }
    struct slic_errmsg err = {{0}};
    /* Every result is written whatever the return: batches not committed come back RETRY. */
    int rc = agg_store_write_batches(w->store, batches, n, results, w->reasons, &err);
    if (rc)
        SLIC_ERROR("writer", "could not commit all of %u batches: %s (%s); agents will retry", n,
                   err.text[0] ? err.text : slic_strerror(rc), slic_errname(rc));
    for (unsigned i = 0; i < n; i++) {
        group[i]->result = results[i];
        group[i]->reason = w->reasons[i].text;
        group[i]->done(group[i]); /* may reuse the item */
    }
}

/* One bounded retention transaction, when one is due. */
static void expire_step(agg_writer *w)
{
    int64_t now_ms = slic_now_unix_ms();
    if (!w->expire_unfinished && now_ms < w->next_expire_ms)
        return;
    size_t deleted = 0;
    bool more = false;
    struct slic_errmsg err = {{0}};
    int rc =
        agg_store_expire(w->store, now_ms / 1000, w->opts.expire_batch_rows, &deleted, &more, &err);
    if (rc)
        SLIC_WARN("writer", "retention pass failed: %s; will try again in %u s",
                  err.text[0] ? err.text : slic_strerror(rc), w->opts.expire_interval_seconds);
    else if (deleted > 0)
        SLIC_DEBUG("writer", "retention: deleted %zu expired windows", deleted);
    /* Until the pass is through, come back at once, after any waiting batch. */
    w->expire_unfinished = rc == 0 && more;
    if (!w->expire_unfinished)
        w->next_expire_ms = now_ms + (int64_t)w->opts.expire_interval_seconds * 1000;
}

static void wait_for_work(agg_writer *w)
{
    if (w->head || w->stopping || w->expire_unfinished)
        return;
    int64_t wake_ms = w->next_expire_ms;
    struct timespec ts = {.tv_sec = wake_ms / 1000, .tv_nsec = (wake_ms % 1000) * 1000000};
    /* The condition variable uses CLOCK_REALTIME, like slic_now_unix_ms. */
    pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

static void *writer_main(void *arg)
{
    agg_writer *w = arg;
    struct agg_write_item *group[GROUP_MAX];
    for (;;) {
        pthread_mutex_lock(&w->mu);
        wait_for_work(w);
        unsigned n = take_group(w, group);
        bool stop = n == 0 && w->stopping;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
        if (n > 0)
            write_group(w, group, n);
        else
            expire_step(w);
    }
    return NULL;
}

int agg_writer_create(agg_store *store, const struct agg_writer_options *opts, agg_writer **out)
{
    agg_writer *w = slic_calloc(1, sizeof *w);
    if (!w)
        return SLIC_ENOMEM;
    w->store = store;
    w->opts = *opts;
    if (w->opts.max_group_batches == 0)
        w->opts.max_group_batches = 1;
    if (w->opts.expire_batch_rows == 0)
        w->opts.expire_batch_rows = 1;
    w->next_expire_ms = slic_now_unix_ms() + 1000;
    w->reasons = slic_calloc(GROUP_MAX, sizeof *w->reasons);
    if (!w->reasons) {
        slic_free(w);
        return SLIC_ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        slic_free(w->reasons);
        slic_free(w);
        return -rc;
    }
    *out = w;
    return 0;
}

void agg_writer_submit(agg_writer *w, struct agg_write_item *item)
{
    item->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        item->result = AGG_INGEST_RETRY;
        item->reason = "the aggregator is shutting down";
        item->done(item);
        return;
    }
    if (w->tail)
        w->tail->next = item;
    else
        w->head = item;
    w->tail = item;
    w->pending++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

unsigned agg_writer_pending(agg_writer *w)
{
    pthread_mutex_lock(&w->mu);
    unsigned n = w->pending;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void agg_writer_destroy(agg_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    slic_free(w->reasons);
    slic_free(w);
}
