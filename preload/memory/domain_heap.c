/* Size-class slabs for small blocks, chunk extents for large ones, one
 * mutex per domain behind per-thread caches of small blocks.  A byte map in
 * the region says what each 64 KiB chunk is (a slab's byte, its size class
 * too), so that free() can tell a slab from a large block, and a block's
 * start from its inside, from one byte, without trusting anything outside
 * the region. */
#define _GNU_SOURCE
#include "memory/domain_heap.h"

#include "log.h"
#include "base/trusted_syscall.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK DOMAIN_HEAP_CHUNK
#define SMALL_MAX 16384
#define LARGE_BINS 64
#define RELEASE_CHUNKS 16 /* freed extents this large go back to the kernel */

/* The size classes, once: the tables below are made from this list. */
#define SIZE_CLASSES(X)                                                                                       \
    X(16) X(32) X(48) X(64) X(80) X(96) X(112) X(128) X(160) X(192) X(224) X(256) X(320) X(384) X(448)     \
    X(512) X(640) X(768) X(896) X(1024) X(1280) X(1536) X(1792) X(2048) X(2560) X(3072) X(3584) X(4096)    \
    X(5120) X(6144) X(7168) X(8192) X(10240) X(12288) X(14336) X(16384)
#define SIZE(size) size,
static const uint32_t class_size[] = {SIZE_CLASSES(SIZE)};
#define N_CLASSES (sizeof class_size / sizeof *class_size)

/* off / class_size[c] == off * class_magic[c] >> 32 for every offset in a
 * slab: the magic exceeds 2^32/size by at most 1, which adds less than
 * 2^16/2^32 to the quotient, while a non-integer off/size is at least
 * 1/16384 from the next integer.  free() tells a block's start from its
 * inside without a division. */
#define MAGIC(size) (uint32_t)(0xffffffffu / (size) + 1),
static const uint32_t class_magic[] = {SIZE_CLASSES(MAGIC)};
_Static_assert(sizeof class_magic / sizeof *class_magic == sizeof class_size / sizeof *class_size, "one magic per class");
_Static_assert(N_CLASSES == HEAP_CACHE_CLASSES, "one cache list per class");

/* A slab's chunk: CHUNK_SLAB + its size class.  (A header in the slab
 * instead cost free() a second dependent load, on a line every slab puts
 * in the same cache set: 45% of a malloc/free loop's time was there.) */
enum chunk_kind { CHUNK_FREE, CHUNK_LARGE, CHUNK_LARGE_MORE, CHUNK_SLAB };
_Static_assert(CHUNK_SLAB + N_CLASSES <= 256, "a slab's class fits its byte");

struct large_header {
    size_t chunks;
    size_t data_offset;
    struct large_header *next_free;
};

struct free_block {
    struct free_block *next;
};

/* What every free reads (written when a chunk is first handed out, at
 * most) on a line of its own, away from the lock and the lists that each
 * thread's cache refill writes. */
struct domain_heap {
    uintptr_t lo, hi, bump; /* the heap starts on a chunk boundary: lo is a line's start */
    uint8_t *kind;          /* one byte per chunk */
    _Alignas(64) pthread_mutex_t lock;
    struct free_block *free_list[N_CLASSES];
    uintptr_t carve[N_CLASSES], carve_end[N_CLASSES];
    struct large_header *free_large[LARGE_BINS]; /* by chunk count; the last bin: any larger */
    size_t chunks_used, chunks_peak; /* chunks handed to slabs and large blocks (telemetry) */
};

/* The size class of the slab chunk I, or -1 when it is not a slab. */
static long slab_class(const struct domain_heap *h, size_t i)
{
    unsigned k = (unsigned)h->kind[i] - CHUNK_SLAB;
    return k < N_CLASSES ? (long)k : -1;
}

static size_t class_of(size_t size)
{
    if (size <= 128) /* the first eight classes are 16 bytes apart */
        return (size - 1) / 16;
    size_t lo = 8, hi = N_CLASSES - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (class_size[mid] < size)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t chunk_index(const struct domain_heap *h, uintptr_t p)
{
    return (p - h->lo) / CHUNK;
}

struct domain_heap *domain_heap_create(void *region, size_t size)
{
    /* Chunks are found by masking addresses: start on a chunk boundary. */
    uintptr_t lo = ((uintptr_t)region + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1);
    uintptr_t hi = ((uintptr_t)region + size) & ~(uintptr_t)(CHUNK - 1);
    struct domain_heap *h = (void *)lo;
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    h->lo = lo;
    h->hi = hi;
    size = hi - lo;
    h->kind = (uint8_t *)(h + 1);
    uintptr_t used = (uintptr_t)(h->kind + size / CHUNK);
    h->bump = (used + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1);
    for (uintptr_t c = h->lo; c < h->bump; c += CHUNK)
        h->kind[chunk_index(h, c)] = CHUNK_LARGE_MORE; /* never handed out */
    return h;
}

static void bin_push(struct domain_heap *h, struct large_header *x)
{
    size_t bin = x->chunks < LARGE_BINS ? x->chunks : LARGE_BINS - 1;
    x->next_free = h->free_large[bin];
    h->free_large[bin] = x;
}

static void mark(struct domain_heap *h, uintptr_t start, size_t chunks, enum chunk_kind first)
{
    size_t i = chunk_index(h, start);
    h->kind[i] = (uint8_t)first;
    memset(h->kind + i + 1, first == CHUNK_FREE ? CHUNK_FREE : CHUNK_LARGE_MORE, chunks - 1);
}

/* CHUNKS contiguous chunks: a freed extent (split when larger) or new ones. */
static uintptr_t take_chunks_from_bins(struct domain_heap *h, size_t chunks);

static uintptr_t take_chunks(struct domain_heap *h, size_t chunks)
{
    uintptr_t start = take_chunks_from_bins(h, chunks);
    if (start) {
        h->chunks_used += chunks;
        if (h->chunks_used > h->chunks_peak)
            h->chunks_peak = h->chunks_used;
    }
    return start;
}

static uintptr_t take_chunks_from_bins(struct domain_heap *h, size_t chunks)
{
    for (size_t bin = chunks < LARGE_BINS ? chunks : LARGE_BINS - 1; bin < LARGE_BINS; bin++) {
        for (struct large_header **pp = &h->free_large[bin]; *pp; pp = &(*pp)->next_free) {
            struct large_header *x = *pp;
            if (x->chunks < chunks)
                continue;
            *pp = x->next_free;
            if (x->chunks > chunks) {
                struct large_header *rest = (void *)((uintptr_t)x + chunks * CHUNK);
                rest->chunks = x->chunks - chunks;
                bin_push(h, rest);
            }
            return (uintptr_t)x;
        }
    }
    if (chunks > (h->hi - h->bump) / CHUNK)
        return 0;
    uintptr_t start = h->bump;
    h->bump += chunks * CHUNK;
    return start;
}

static void *alloc_large(struct domain_heap *h, size_t size, size_t align)
{
    size_t offset = (sizeof(struct large_header) + align - 1) & ~(align - 1);
    if (size > h->hi - h->lo)
        return NULL;
    size_t chunks = (offset + size + CHUNK - 1) / CHUNK;
    uintptr_t start = take_chunks(h, chunks);
    if (!start)
        return NULL;
    struct large_header *x = (void *)start;
    x->chunks = chunks;
    x->data_offset = offset;
    mark(h, start, chunks, CHUNK_LARGE);
    return (void *)(start + offset);
}

static void *alloc_small(struct domain_heap *h, size_t cls)
{
    struct free_block *b = h->free_list[cls];
    if (b) {
        h->free_list[cls] = b->next;
        return b;
    }
    if (h->carve[cls] + class_size[cls] > h->carve_end[cls]) {
        uintptr_t slab = take_chunks(h, 1);
        if (!slab)
            return NULL;
        h->kind[chunk_index(h, slab)] = (uint8_t)(CHUNK_SLAB + cls);
        h->carve[cls] = slab;
        h->carve_end[cls] = slab + CHUNK;
    }
    void *p = (void *)h->carve[cls];
    h->carve[cls] += class_size[cls];
    return p;
}

/* How many free blocks of a class a thread's cache holds at most: about
 * 64 KiB of them, between 4 and 64 (a table: no division on the fast path). */
#define LIMIT(size) (65536 / (size) > 64 ? 64 : 65536 / (size) < 4 ? 4 : 65536 / (size)),
static const uint8_t class_limit[] = {SIZE_CLASSES(LIMIT)};
_Static_assert(sizeof class_limit == N_CLASSES, "one limit per class");

static unsigned cache_limit(size_t cls)
{
    return class_limit[cls];
}

static void *pop(struct heap_cache *c, size_t cls)
{
    struct free_block *b = c->head[cls];
    if (b) {
        c->head[cls] = b->next;
        c->count[cls]--;
    }
    return b;
}

static void push(struct heap_cache *c, size_t cls, void *p)
{
    struct free_block *b = p;
    b->next = c->head[cls];
    c->head[cls] = b;
    c->count[cls]++;
}

void *domain_heap_alloc(struct domain_heap *h, struct heap_cache *cache, size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    if (size == 0)
        size = 1;
    if (align == 16 && size <= SMALL_MAX) {
        size_t cls = class_of(size);
        if (cache) {
            void *p = pop(cache, cls);
            if (__builtin_expect(p != NULL, 1))
                return p;
            /* Empty: take half a cache's worth in one go. */
            pthread_mutex_lock(&h->lock);
            for (unsigned n = cache_limit(cls) / 2; n > 0 && (p = alloc_small(h, cls)); n--)
                push(cache, cls, p);
            pthread_mutex_unlock(&h->lock);
            return pop(cache, cls);
        }
        pthread_mutex_lock(&h->lock);
        void *p = alloc_small(h, cls);
        pthread_mutex_unlock(&h->lock);
        return p;
    }
    pthread_mutex_lock(&h->lock);
    void *p = alloc_large(h, size, align);
    pthread_mutex_unlock(&h->lock);
    return p;
}

/* The large block that P belongs to, or NULL. */
static struct large_header *large_of(const struct domain_heap *h, uintptr_t p)
{
    size_t i = chunk_index(h, p);
    while (i > 0 && h->kind[i] == CHUNK_LARGE_MORE)
        i--;
    if (h->kind[i] != CHUNK_LARGE)
        return NULL;
    struct large_header *x = (void *)(h->lo + i * CHUNK);
    return (uintptr_t)x + x->data_offset == p ? x : NULL;
}

static bool in_region(const struct domain_heap *h, uintptr_t p)
{
    return p >= h->lo && p < h->bump;
}

/* P's size class if it is the start of a small block, else -1.  Read
 * without the lock: a chunk holding a live small block stays a slab. */
static long small_class(const struct domain_heap *h, uintptr_t p)
{
    if (!in_region(h, p))
        return -1;
    size_t i = chunk_index(h, p);
    long cls = slab_class(h, i);
    if (cls < 0)
        return -1;
    uint64_t off = p & (CHUNK - 1);
    if ((off * class_magic[cls] >> 32) * class_size[cls] != off)
        return -1;
    return cls;
}

static void free_small_locked(struct domain_heap *h, size_t cls, void *p)
{
    struct free_block *b = p;
    b->next = h->free_list[cls];
    h->free_list[cls] = b;
}

void domain_heap_free(struct domain_heap *h, struct heap_cache *cache, void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    if (!ptr)
        return;
    long cls = small_class(h, p);
    if (cls >= 0 && cache) {
        push(cache, (size_t)cls, ptr);
        if (__builtin_expect(cache->count[cls] <= cache_limit((size_t)cls), 1))
            return;
        /* Full: half of it back to the heap in one go. */
        pthread_mutex_lock(&h->lock);
        for (unsigned n = cache_limit((size_t)cls) / 2; n > 0; n--)
            free_small_locked(h, (size_t)cls, pop(cache, (size_t)cls));
        pthread_mutex_unlock(&h->lock);
        return;
    }
    pthread_mutex_lock(&h->lock);
    struct large_header *x;
    if (cls >= 0) {
        free_small_locked(h, (size_t)cls, ptr);
    } else if (in_region(h, p) && (x = large_of(h, p))) {
        mark(h, (uintptr_t)x, x->chunks, CHUNK_FREE);
        h->chunks_used -= x->chunks;
        if (x->chunks >= RELEASE_CHUNKS)
            trusted_madvise((char *)x + CHUNK, (x->chunks - 1) * CHUNK, MADV_DONTNEED);
        bin_push(h, x);
    } else {
        pthread_mutex_unlock(&h->lock);
        protect_fatal("free(%p): not a block of this domain's heap", ptr);
    }
    pthread_mutex_unlock(&h->lock);
}

size_t domain_heap_usable_size(struct domain_heap *h, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    size_t n = 0;
    if (!in_region(h, p))
        return 0;
    pthread_mutex_lock(&h->lock);
    size_t i = chunk_index(h, p);
    long cls = slab_class(h, i);
    if (cls >= 0) {
        n = class_size[cls];
    } else {
        const struct large_header *x = large_of(h, p);
        if (x)
            n = x->chunks * CHUNK - x->data_offset;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

void *domain_heap_realloc(struct domain_heap *h, struct heap_cache *cache, void *p, size_t size)
{
    if (!p)
        return domain_heap_alloc(h, cache, size, 0);
    size_t have = domain_heap_usable_size(h, p);
    if (size <= have && size >= have / 2)
        return p;
    void *q = domain_heap_alloc(h, cache, size, 0);
    if (!q)
        return NULL;
    memcpy(q, p, have < size ? have : size);
    domain_heap_free(h, cache, p);
    return q;
}

void domain_heap_lock(struct domain_heap *h)
{
    pthread_mutex_lock(&h->lock);
}

void domain_heap_unlock(struct domain_heap *h)
{
    pthread_mutex_unlock(&h->lock);
}

uintptr_t domain_heap_block_of(const struct domain_heap *h, uintptr_t addr)
{
    if (!in_region(h, addr))
        return 0;
    size_t i = chunk_index(h, addr);
    long cls = slab_class(h, i);
    if (cls >= 0) {
        uint64_t off = addr & (CHUNK - 1);
        return (addr - off) + (off * class_magic[cls] >> 32) * class_size[cls];
    }
    while (i > 0 && h->kind[i] == CHUNK_LARGE_MORE)
        i--;
    if (h->kind[i] != CHUNK_LARGE)
        return 0;
    const struct large_header *x = (const void *)(h->lo + i * CHUNK);
    return (uintptr_t)x + x->data_offset;
}

void domain_heap_usage(const struct domain_heap *h, size_t *in_use, size_t *peak)
{
    *in_use = __atomic_load_n(&h->chunks_used, __ATOMIC_RELAXED) * CHUNK;
    *peak = __atomic_load_n(&h->chunks_peak, __ATOMIC_RELAXED) * CHUNK;
}
