/* Internals of the alert pusher shared by alertpush.c (the alert set, options, lifecycle) and
 * alertpush_send.c (the delivery thread). One mutex (agg_alertpush.mu) guards the entries and
 * every target's delivery state; the thread holds it only between network calls. */
#ifndef SLIC_AGG_ALERTPUSH_INT_H
#define SLIC_AGG_ALERTPUSH_INT_H

#include "alertpush.h"
#include "record.h"

#include <curl/curl.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Bytes of a refusal kept for the log: Alertmanager explains a 400 in its body. */
#define AGG__ALERTPUSH_REPLY_KEEP 200

/* An alert as last handed over, with its delivery state. Strings are owned. */
struct agg__alertpush_entry {
    struct agg_alertpush_alert a;
    bool seen;                 /* in the latest update */
    bool done;                 /* resolved and delivered (or too old to matter): no longer posted */
    uint64_t resolved_gen;     /* the generation it resolved in */
    uint64_t resolved_mono_ns; /* when it resolved */
    uint8_t sends[AGG_ALERTPUSH_TARGETS_MAX]; /* resolved: 2xx posts per target since */
};

/* One receiver and its delivery state. */
struct agg__alertpush_target {
    size_t index;
    enum agg_alertpush_kind kind;
    char *url;   /* what is posted to */
    char *shown; /* url without credentials, for logs and stats */
    CURL *easy;
    struct curl_slist *headers;
    struct agg__buf body; /* the post in flight (curl reads it in place) */
    char reply[AGG__ALERTPUSH_REPLY_KEEP + 1];
    size_t reply_len;
    char curl_err[CURL_ERROR_SIZE];
    bool in_flight;
    uint64_t gen_rendered;   /* generation of the body in flight */
    uint64_t gen_sent;       /* generation of the latest body accepted */
    uint64_t resend_mono_ns; /* next re-send of firing alerts; 0 = at once */
    uint64_t retry_mono_ns;  /* after a failure, no post before this */
    uint64_t backoff_ns;
    struct agg_alertpush_stats stats;
};

struct agg_alertpush {
    struct agg_alertpush_options opts; /* deep copy; targets[i].url is the configured URL */
    uint64_t resend_ns;
    pthread_t thread;
    pthread_mutex_t mu;
    CURLM *multi;
    bool stopping;
    /* Bumped by every update that changes a state: targets behind it are due at once. */
    uint64_t gen;
    struct agg__alertpush_entry *entries; /* sorted by identity (the labels) */
    size_t n_entries;
    size_t cap_entries;
    struct agg_alertpush_alert *scratch; /* the alerts of one body */
    struct agg__alertpush_target targets[AGG_ALERTPUSH_TARGETS_MAX];
};

/* alertpush.c: marks delivered resolved alerts done and forgets done ones the engine no longer
 * reports. Caller holds the mutex; now is slic_now_mono_ns(). */
void agg__alertpush_sweep(agg_alertpush *p, uint64_t now);

/* alertpush_send.c: sets up target i's curl handle from p->opts (0 or SLIC_ENOMEM; undone by
 * agg__alertpush_target_fini, also after a failure), and the thread's body. */
int agg__alertpush_target_init(agg_alertpush *p, size_t i);
void agg__alertpush_target_fini(agg_alertpush *p, size_t i);
void *agg__alertpush_main(void *arg);

#endif
