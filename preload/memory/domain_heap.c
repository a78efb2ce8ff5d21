/* Size-class slabs for small blocks, chunk extents for large ones, one
 * mutex per domain.  A byte map in the region says what each 64 KiB chunk
 * is, so that free() can tell a slab from a large block without trusting
 * anything outside the region. */
#define _GNU_SOURCE
#include "memory/domain_heap.h"

#include "log.h"
#include "base/trusted_syscall.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK DOMAIN_HEAP_CHUNK
#define SLAB_HEADER 16
#define SMALL_MAX 16384
#define LARGE_BINS 64
#define RELEASE_CHUNKS 16 /* freed extents this large go back to the kernel */

static const uint32_t class_size[] = {
    16,   32,   48,   64,   80,   96,   112,  128,  160,  192,  224,   256,   320,   384,   448,   512,   640,  768,
    896,  1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384,
};
#define N_CLASSES (sizeof class_size / sizeof *class_size)

enum chunk_kind { CHUNK_FREE, CHUNK_SLAB, CHUNK_LARGE, CHUNK_LARGE_MORE };

struct slab_header {
    uint32_t cls;
};

struct large_header {
    size_t chunks;
    size_t data_offset;
    struct large_header *next_free;
};

struct free_block {
    struct free_block *next;
};

struct domain_heap {
    pthread_mutex_t lock;
    uintptr_t lo, hi, bump;
    uint8_t *kind;                       /* one byte per chunk */
    struct free_block *free_list[N_CLASSES];
    uintptr_t carve[N_CLASSES], carve_end[N_CLASSES];
    struct large_header *free_large[LARGE_BINS]; /* by chunk count; the last bin: any larger */
};

static size_t class_of(size_t size)
{
    size_t lo = 0, hi = N_CLASSES - 1;
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
static uintptr_t take_chunks(struct domain_heap *h, size_t chunks)
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
        ((struct slab_header *)slab)->cls = (uint32_t)cls;
        h->kind[chunk_index(h, slab)] = CHUNK_SLAB;
        h->carve[cls] = slab + SLAB_HEADER;
        h->carve_end[cls] = slab + CHUNK;
    }
    void *p = (void *)h->carve[cls];
    h->carve[cls] += class_size[cls];
    return p;
}

void *domain_heap_alloc(struct domain_heap *h, size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    if (size == 0)
        size = 1;
    pthread_mutex_lock(&h->lock);
    void *p;
    if (align == 16 && size <= SMALL_MAX)
        p = alloc_small(h, class_of(size));
    else
        p = alloc_large(h, size, align);
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

void domain_heap_free(struct domain_heap *h, void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    if (!ptr)
        return;
    pthread_mutex_lock(&h->lock);
    size_t i = chunk_index(h, p);
    if (in_region(h, p) && h->kind[i] == CHUNK_SLAB) {
        size_t cls = ((struct slab_header *)(h->lo + i * CHUNK))->cls;
        struct free_block *b = ptr;
        b->next = h->free_list[cls];
        h->free_list[cls] = b;
    } else if (in_region(h, p) && large_of(h, p)) {
        struct large_header *x = large_of(h, p);
        mark(h, (uintptr_t)x, x->chunks, CHUNK_FREE);
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
    pthread_mutex_lock(&h->lock);
    size_t i = chunk_index(h, p);
    if (h->kind[i] == CHUNK_SLAB) {
        const struct slab_header *s = (void *)(h->lo + i * CHUNK);
        n = class_size[s->cls];
    } else {
        const struct large_header *x = large_of(h, p);
        if (x)
            n = x->chunks * CHUNK - x->data_offset;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

void *domain_heap_realloc(struct domain_heap *h, void *p, size_t size)
{
    if (!p)
        return domain_heap_alloc(h, size, 0);
    size_t have = domain_heap_usable_size(h, p);
    if (size <= have && size >= have / 2)
        return p;
    void *q = domain_heap_alloc(h, size, 0);
    if (!q)
        return NULL;
    memcpy(q, p, have < size ? have : size);
    domain_heap_free(h, p);
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
