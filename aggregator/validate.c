/* Signature, clock and limit checks of incoming batches (see validate.h). */
#include "validate.h"

#include "alloc.h"
#include "codec_batch.h"
#include "hmac.h"
#include "labels.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int window_check(const struct slic_series *s, size_t i, int64_t now,
                        const struct agg_batch_limits *lim, struct slic_errmsg *err)
{
    int64_t end = s->window_start + (int64_t)s->window_seconds;
    if (end > now + lim->max_future_seconds)
        return slic_errmsg_set(
            err, SLIC_EINVAL,
            "series[%zu] (%s): window %" PRId64 "+%" PRIu32 " s ends %" PRId64
            " s in the future; at most %" PRId64 " s allowed (is the agent's clock right?)",
            i, s->sli, s->window_start, s->window_seconds, end - now, lim->max_future_seconds);
    if (s->window_start < now - lim->max_age_seconds)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "series[%zu] (%s): window %" PRId64 " is %" PRId64
                               " s old; the oldest accepted is %" PRId64 " s (coarsest retention)",
                               i, s->sli, s->window_start, now - s->window_start,
                               lim->max_age_seconds);
    return 0;
}

/* Orders series by SLI, then by label set, so equal label sets of one SLI sit together. */
static int label_set_cmp(const struct slic_series *a, const struct slic_series *b)
{
    int c = strcmp(a->sli, b->sli);
    return c ? c : slic_series_labels_cmp(a, b);
}

static int series_ptr_cmp(const void *x, const void *y)
{
    return label_set_cmp(*(const struct slic_series *const *)x,
                         *(const struct slic_series *const *)y);
}

/* Counts distinct label sets per SLI by sorting pointers to the series. */
static int cardinality_check(const struct slic_batch *b, unsigned max, struct slic_errmsg *err)
{
    if (b->n_series <= max)
        return 0; /* cannot exceed: skip the sort */
    const struct slic_series **v = slic_malloc(b->n_series * sizeof *v);
    if (!v)
        return SLIC_ENOMEM;
    for (size_t i = 0; i < b->n_series; i++)
        v[i] = &b->series[i];
    qsort(v, b->n_series, sizeof *v, series_ptr_cmp);
    int rc = 0;
    unsigned sets = 1;
    for (size_t i = 1; i < b->n_series && rc == 0; i++) {
        if (strcmp(v[i]->sli, v[i - 1]->sli) != 0)
            sets = 1;
        else if (label_set_cmp(v[i], v[i - 1]) != 0 && ++sets > max)
            rc = slic_errmsg_set(err, SLIC_EINVAL,
                                 "SLI %s carries more than %u distinct label sets in one batch; "
                                 "keep fewer label keys on the agent (labels: in its config)",
                                 v[i]->sli, max);
    }
    slic_free(v);
    return rc;
}

int agg_batch_check(const struct slic_batch *b, int64_t now, const struct agg_batch_limits *lim,
                    struct slic_errmsg *err)
{
    for (size_t i = 0; i < b->n_series; i++) {
        int rc = window_check(&b->series[i], i, now, lim, err);
        if (rc)
            return rc;
    }
    return cardinality_check(b, lim->max_label_sets_per_sli, err);
}

/* ---- who may send batches ------------------------------------------------------------------ */

struct agg_auth {
    struct agg_auth_tls tls;
    bool has_tls;
    uint8_t *secret;
    size_t secret_len;
    bool require_signed;
};

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = slic_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int auth_tls_copy(agg_auth *a, const struct agg_auth_options *o, struct slic_errmsg *err)
{
    int given = !!o->tls_cert_file + !!o->tls_key_file + !!o->tls_client_ca_file;
    if (given == 0)
        return 0;
    if (given != 3)
        return slic_errmsg_set(err, SLIC_EINVAL,
                               "tls: cert_file, key_file and client_ca_file are all needed "
                               "(client certificates are always required)");
    a->has_tls = true;
    char *cert = copy_string(o->tls_cert_file), *key = copy_string(o->tls_key_file);
    char *ca = copy_string(o->tls_client_ca_file);
    a->tls = (struct agg_auth_tls){cert, key, ca};
    return cert && key && ca ? 0 : SLIC_ENOMEM;
}

int agg_auth_create(const struct agg_auth_options *o, agg_auth **out, struct slic_errmsg *err)
{
    if (o->secret && o->secret_len < SLIC_SECRET_MIN)
        return slic_errmsg_set(err, SLIC_EINVAL, "auth: a secret of %zu bytes; at least %d needed",
                               o->secret_len, SLIC_SECRET_MIN);
    agg_auth *a = slic_calloc(1, sizeof *a);
    if (!a)
        return SLIC_ENOMEM;
    a->require_signed = o->secret && o->require_signed;
    int rc = auth_tls_copy(a, o, err);
    if (rc == 0 && o->secret) {
        a->secret_len = o->secret_len;
        if ((a->secret = slic_malloc(o->secret_len)) != NULL)
            memcpy(a->secret, o->secret, o->secret_len);
        else
            rc = SLIC_ENOMEM;
    }
    if (rc) {
        agg_auth_destroy(a);
        return rc;
    }
    *out = a;
    return 0;
}

void agg_auth_destroy(agg_auth *a)
{
    if (!a)
        return;
    slic_free((char *)a->tls.cert_file);
    slic_free((char *)a->tls.key_file);
    slic_free((char *)a->tls.client_ca_file);
    slic_wipe(a->secret, a->secret_len);
    slic_free(a->secret);
    slic_free(a);
}

const struct agg_auth_tls *agg_auth_tls(const agg_auth *a)
{
    return a && a->has_tls ? &a->tls : NULL;
}

bool agg_auth_signs(const agg_auth *a)
{
    return a && a->secret;
}

bool agg_auth_requires_signed(const agg_auth *a)
{
    return a && a->require_signed;
}

/* The verdict on a batch whose agent_id could be read. */
static enum agg_auth_verdict auth_verify(const agg_auth *a, const uint8_t *batch, size_t len,
                                         const uint8_t *hmac, size_t hmac_len, const char *claimed,
                                         struct slic_errmsg *why)
{
    if (!hmac && !a->require_signed)
        return AGG_AUTH_UNCHECKED;
    if (!hmac) {
        slic_errmsg_set(why, 0,
                        "signature: missing; this aggregator accepts only batches signed with "
                        "the key of the agent_id they carry (auth.key_file)");
        return AGG_AUTH_UNSIGNED;
    }
    uint8_t key[SLIC_HMAC_LEN];
    bool ok = slic_agent_key_derive(a->secret, a->secret_len, claimed, key) == 0 &&
              slic_hmac_sha256_verify(key, sizeof key, batch, len, hmac, hmac_len);
    slic_wipe(key, sizeof key);
    if (ok)
        return AGG_AUTH_OK;
    slic_errmsg_set(why, 0, "signature: not this batch's HMAC under the key of agent_id %s",
                    claimed);
    return AGG_AUTH_FORGED;
}

enum agg_auth_verdict agg_auth_check(const agg_auth *a, const uint8_t *batch, size_t len,
                                     const uint8_t *hmac, size_t hmac_len,
                                     char claimed[SLIC_NAME_MAX + 1], struct slic_errmsg *why)
{
    snprintf(claimed, SLIC_NAME_MAX + 1, "?");
    if (!agg_auth_signs(a))
        return AGG_AUTH_UNCHECKED;
    struct codec_error cerr = {0};
    if (codec_batch_agent_id(batch, len, claimed, &cerr) != 0) {
        char text[CODEC_ERROR_FIELD_LEN + CODEC_ERROR_MSG_LEN + 8];
        slic_errmsg_set(why, 0, "%s", codec_error_format(&cerr, text, sizeof text));
        return AGG_AUTH_MALFORMED;
    }
    return auth_verify(a, batch, len, hmac, hmac_len, claimed, why);
}
