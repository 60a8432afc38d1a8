/* libFuzzer target for codec_batch_agent_id, the scan of a serialized Batch that an aggregator
 * runs on unauthenticated bytes, before the signature check, to learn whose key to check it
 * with. It must read nothing out of bounds (ASan), write its result only on success, and fail
 * with a real code and message. Above all, whenever the full decoder accepts bytes the scan
 * accepted, both name the same agent_id: otherwise a batch signed by one agent could count for
 * another. The scan may refuse what the decoder would take (an agent_id twice, of which
 * protobuf-c keeps the last, or with a NUL in it, at which protobuf-c cuts it; encodings no slic
 * agent produces), but never a batch as codec_batch_pack writes it. Any breach abort()s. Besides
 * the raw input, the input is appended to, prepended to and written over a valid batch, so the
 * fuzzer reaches bytes the decoder accepts without having to discover a whole Batch first. */
#include "codec_batch.h"

#include "alloc.h"
#include "batch.h"
#include "err.h"
#include "sketch.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the scan leaves in its output on failure: untouched. */
#define UNTOUCHED 0x5a

static void require(bool ok)
{
    if (!ok)
        abort();
}

static bool untouched(const char id[SLIC_NAME_MAX + 1])
{
    for (size_t i = 0; i < SLIC_NAME_MAX + 1; i++)
        if ((unsigned char)id[i] != UNTOUCHED)
            return false;
    return true;
}

/* A batch as an agent sends it, to build inputs around: one series with labels, a sketch and a
 * threshold. Packed once; the buffer lives as long as the process. */
static const uint8_t *valid_batch(size_t *len)
{
    static uint8_t *bytes;
    static size_t bytes_len;
    if (bytes) {
        *len = bytes_len;
        return bytes;
    }
    static struct slic_label labels[] = {{"method", "POST"}, {"route", "/pay"}};
    static struct slic_threshold_count thresholds[] = {{0.25, 3, 2}};
    struct slic_series s = {.sli = "checkout",
                            .labels = labels,
                            .n_labels = 2,
                            .window_start = 1800000000,
                            .window_seconds = 10,
                            .total = 4,
                            .good = 3,
                            .thresholds = thresholds,
                            .n_thresholds = 1};
    require(slic_sketch_create(SLIC_SKETCH_DEFAULT_ALPHA, SLIC_SKETCH_DEFAULT_MAX_BUCKETS,
                               &s.latency) == 0);
    static const double latencies[] = {0.012, 0.1, 0.2, 0.9};
    for (size_t i = 0; i < sizeof latencies / sizeof latencies[0]; i++)
        require(slic_sketch_add(s.latency, latencies[i]) == 0);
    struct slic_batch b = {.agent_id = "agent-7f3a.eu_1:x",
                           .site = "eu-zrh",
                           .node = "node-042",
                           .epoch = 1700000000123,
                           .seq = 42,
                           .created_unix_ms = 1800000005123,
                           .series = &s,
                           .n_series = 1};
    require(codec_batch_pack(&b, &bytes, &bytes_len) == 0);
    slic_sketch_destroy(s.latency);
    *len = bytes_len;
    return bytes;
}

/* The scan of a batch's canonical encoding names the batch's own agent_id. */
static void check_canonical(const struct slic_batch *b)
{
    uint8_t *packed = NULL;
    size_t len = 0;
    char id[SLIC_NAME_MAX + 1];
    require(codec_batch_pack(b, &packed, &len) == 0);
    require(codec_batch_agent_id(packed, len, id, NULL) == 0);
    require(strcmp(id, b->agent_id) == 0);
    slic_free(packed);
}

static void check(const uint8_t *buf, size_t len)
{
    char id[SLIC_NAME_MAX + 1];
    memset(id, UNTOUCHED, sizeof id);
    struct codec_error err;
    memset(&err, 0, sizeof err);
    int scan = codec_batch_agent_id(buf, len, id, &err);
    if (scan == 0) {
        require(memchr(id, '\0', sizeof id) != NULL && slic_name_valid(id));
    } else {
        require(scan < 0 && err.code == scan && err.msg[0] != '\0');
        require(memchr(err.field, '\0', sizeof err.field) != NULL);
        require(untouched(id));
    }
    struct slic_batch b;
    if (codec_batch_unpack(buf, len, &b, NULL) != 0)
        return;
    if (scan == 0) {
        require(strcmp(id, b.agent_id) == 0);
    } else {
        /* The decoder found an agent_id, so the scan saw one too and refused it, or refused the
         * wire format around it; it cannot have missed it, nor found the input too large. */
        require(scan == SLIC_EDECODE || scan == SLIC_EINVAL);
    }
    check_canonical(&b);
    slic_batch_fini(&b);
}

/* base with data written over it from the offset data's first two bytes choose. */
static void check_overwritten(const uint8_t *base, size_t base_len, const uint8_t *data,
                              size_t size)
{
    if (size < 3)
        return;
    uint8_t *buf = slic_malloc(base_len);
    require(buf != NULL);
    memcpy(buf, base, base_len);
    size_t at = (((size_t)data[0] << 8) | data[1]) % base_len;
    size_t n = size - 2 < base_len - at ? size - 2 : base_len - at;
    memcpy(buf + at, data + 2, n);
    check(buf, base_len);
    slic_free(buf);
}

/* first then second, in one buffer: protobuf merges concatenated messages field by field. */
static void check_concatenated(const uint8_t *first, size_t first_len, const uint8_t *second,
                               size_t second_len)
{
    uint8_t *buf = slic_malloc(first_len + second_len + 1);
    require(buf != NULL);
    if (first_len)
        memcpy(buf, first, first_len);
    if (second_len)
        memcpy(buf + first_len, second, second_len);
    check(buf, first_len + second_len);
    slic_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t base_len = 0;
    const uint8_t *base = valid_batch(&base_len);
    check(data, size);
    if (size > CODEC_MAX_MESSAGE_BYTES - base_len)
        return 0;
    check_concatenated(base, base_len, data, size);
    check_concatenated(data, size, base, base_len);
    check_overwritten(base, base_len, data, size);
    return 0;
}
