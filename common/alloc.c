/* Allocation wrapper with failure injection for tests (see alloc.h). */
#include "alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* Remaining allocations before injected failures start; negative means never fail. This is the
 * one piece of process-wide mutable state, deliberately: tests set it, production never does. */
static _Atomic long allocs_left = -1;

static bool alloc_should_fail(void)
{
    long left = atomic_load_explicit(&allocs_left, memory_order_relaxed);
    if (left < 0)
        return false;
    while (left > 0) {
        if (atomic_compare_exchange_weak(&allocs_left, &left, left - 1))
            return false;
    }
    return left == 0;
}

void slic_alloc_fail_after(long n)
{
    atomic_store(&allocs_left, n);
}

void *slic_malloc(size_t size)
{
    return alloc_should_fail() ? NULL : malloc(size);
}

void *slic_calloc(size_t n, size_t size)
{
    return alloc_should_fail() ? NULL : calloc(n, size);
}

void *slic_realloc(void *p, size_t size)
{
    return alloc_should_fail() ? NULL : realloc(p, size);
}

void slic_free(void *p)
{
    free(p);
}
