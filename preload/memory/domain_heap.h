/* A domain's heap: every byte of it, bookkeeping included, lives inside one
 * key-tagged region, so the application can neither change what the library
 * allocated nor steer where its next allocation lands.  Every call must be
 * made with the domain open. */
#ifndef LIBPROTECT_DOMAIN_HEAP_H
#define LIBPROTECT_DOMAIN_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct domain_heap;

/* A thread's cache of free small blocks, kept inside the domain's memory
 * (in the thread's gate block): allocations and frees of small blocks take
 * no lock while it has what they need.  Zeroed means empty. */
#define HEAP_CACHE_CLASSES 36
struct heap_cache {
    void *head[HEAP_CACHE_CLASSES];
    uint16_t count[HEAP_CACHE_CLASSES];
};

/* Sets up a heap over [REGION, REGION+SIZE) (already mapped read-write and
 * tagged); it uses the 64 KiB-aligned part of it. */
struct domain_heap *domain_heap_create(void *region, size_t size);

#define DOMAIN_HEAP_CHUNK (64 * 1024)

/* ALIGN is a power of two; 0 means the default (16).  NULL when full.
 * CACHE: the calling thread's cache, or NULL to go straight to the heap. */
void *domain_heap_alloc(struct domain_heap *h, struct heap_cache *cache, size_t size, size_t align);
/* Frees P, a block of this heap (anything else stops the process). */
void domain_heap_free(struct domain_heap *h, struct heap_cache *cache, void *p);

/* Grows or shrinks in place when it can, else allocates, copies, frees. */
void *domain_heap_realloc(struct domain_heap *h, struct heap_cache *cache, void *p, size_t size);
size_t domain_heap_usable_size(struct domain_heap *h, const void *p);
/* Bytes of the region the heap has handed to slabs and large blocks, now
 * and at most (read without the lock: telemetry). */
void domain_heap_usage(const struct domain_heap *h, size_t *in_use, size_t *peak);

/* The start of the live-or-free block holding ADDR, or 0 when ADDR is not
 * in a block of this heap (read without the lock: for reports only). */
uintptr_t domain_heap_block_of(const struct domain_heap *h, uintptr_t addr);

/* Fork safety: hold the heap's lock across fork(). */
void domain_heap_lock(struct domain_heap *h);
void domain_heap_unlock(struct domain_heap *h);

#endif
