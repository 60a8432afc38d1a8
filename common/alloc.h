/* The one allocator every part of slic calls, so tests can make the N-th allocation fail and
 * prove that each error path frees what it took and reports SLIC_ENOMEM instead of crashing. */
#ifndef SLIC_ALLOC_H
#define SLIC_ALLOC_H

#include <stddef.h>

/* Same contracts as malloc/calloc/realloc/free; NULL on failure (or injected failure). */
void *slic_malloc(size_t size);
void *slic_calloc(size_t n, size_t size);
void *slic_realloc(void *p, size_t size);
void slic_free(void *p);

/* Tests only: the next `n` allocations succeed and every one after fails, until reset with
 * n < 0 (the default: never fail). Thread-safe. */
void slic_alloc_fail_after(long n);

#endif
