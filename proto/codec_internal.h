/* Helpers shared by the codec's files (codec.c, codec_batch.c, codec_query.c) and nothing else:
 * error reporting with field paths, the protobuf-c allocator that routes through slic_malloc,
 * and the path-aware sketch decoder. */
#ifndef SLIC_PROTO_CODEC_INTERNAL_H
#define SLIC_PROTO_CODEC_INTERNAL_H

#include "codec.h"

#include <stdbool.h>

/* Records why a decode failed and returns code. path is where the message being decoded sits
 * ("series[3].latency", "" at the top), field the name inside it ("" for the whole message).
 * err may be NULL. */
int codec__err_set(struct codec_error *err, int code, const char *path, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* protobuf-c returns NULL for malformed input and failed allocations alike; the state tells the
 * two apart. One state per call, so concurrent decoders never see each other's failures. */
struct codec__pb_alloc_state {
    bool failed;
};
ProtobufCAllocator codec__pb_allocator(struct codec__pb_alloc_state *state);

/* codec_sketch_from_msg() for a sketch nested at `path`, so errors name the full field path. */
int codec__sketch_from_msg_at(const Slic__Sketch *m, uint32_t max_buckets, const char *path,
                              slic_sketch **out, struct codec_error *err);

#endif
