/* The libc calls of domain memory that libprotect interposes.
 *
 * The malloc family: an allocation made while a thread runs inside a domain
 * comes from that domain's heap (unless the entry it came through says
 * heap = app); free and realloc go to whichever heap owns the pointer,
 * opening the domain for the application when needed.  Outside every
 * domain this is one load and a compare before glibc's malloc.
 *
 * The mapping calls are in map_interpose.c. */
#define _GNU_SOURCE
#include "base/next_functions.h"
#include "memory/domain_heap.h"
#include "gates/domains.h"
#include "gates/gate_table.h"
#include "gates/services.h"
#include "log.h"
#include "base/sealed.h"
#include "memory/interpose.h"
#include "base/pku.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

_Static_assert(sizeof(struct heap_cache) <= sizeof(((struct gate_block *)0)->heap_cache), "heap cache fits");

/* The calling thread's heap cache in D (in its gate block, checked: the
 * pointer to the block is the application's to write), or NULL.  Only
 * with D open. */
static struct heap_cache *cache_of(const struct domain *d)
{
    struct gate_block *b = gate_block_checked(d->slot);
    return b ? (struct heap_cache *)b->heap_cache : NULL;
}

/* Where new memory goes: a domain's heap (with the thread's cache there),
 * or the application's (d == NULL). */
struct allocator {
    struct domain *d;
    struct heap_cache *cache;
    uint64_t func; /* the innermost gated function, or UINT64_MAX */
};

/* Learning (learn/): told of every domain allocation and the function it
 * was made in, and asked about every release the application attempts of
 * a library's block.  Sealed: set once at start. */
struct memory_observers {
    void (*alloc)(const struct domain *d, uintptr_t block, uint64_t func);
    bool (*release)(const struct domain *d, uintptr_t block);
};
static SEALED union {
    struct memory_observers v;
    char pages[4096];
} observers;
#define alloc_observer observers.v.alloc

void memory_set_observers(void (*alloc)(const struct domain *d, uintptr_t block, uint64_t func),
                          bool (*release)(const struct domain *d, uintptr_t block))
{
    sealed_open();
    observers.v = (struct memory_observers){alloc, release};
    sealed_close();
}

static inline struct allocator allocating_domain(void)
{
    struct allocator a = {0};
    if (__builtin_expect(!protect_active, 1))
        return a;
    uint32_t rights = pku_read();
    if (rights == app_rights())
        return a;
    struct domain *d = domain_for_rights(rights);
    if (!d)
        return a;
    struct gate_block *b = gate_block_checked(d->slot);
    uint64_t func = b && (d->any_heap_app || alloc_observer) ? gate_block_func(b) : UINT64_MAX;
    if (func < d->n_funcs && d->funcs[func].heap_app)
        return a;
    return (struct allocator){d, b ? (struct heap_cache *)b->heap_cache : NULL, func};
}

static inline struct domain *owner(const void *p)
{
    return __builtin_expect(!protect_active, 1) ? NULL : domain_of_heap((uintptr_t)p);
}

/* Whether the running code may write D's memory without help. */
static bool is_open(const struct domain *d)
{
    return !(pku_read() & pku_key_mask(d->key));
}

static void *domain_alloc(const struct allocator *a, size_t size, size_t align)
{
    void *p = domain_heap_alloc(a->d->heap, a->cache, size, align);
    if (!p)
        errno = ENOMEM;
    else if (__builtin_expect(alloc_observer != NULL, 0))
        alloc_observer(a->d, (uintptr_t)p, a->func);
    return p;
}

void *malloc(size_t size)
{
    struct allocator a = allocating_domain();
    return a.d ? domain_alloc(&a, size, 0) : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    struct allocator a = allocating_domain();
    if (!a.d)
        return __libc_calloc(n, size);
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = domain_alloc(&a, total, 0);
    if (p)
        memset(p, 0, total);
    return p;
}

/* Whether the running code is D's own (its rights): only the library frees
 * or resizes the blocks of its heap. */
static bool inside(const struct domain *d)
{
    return pku_read() == protect_gate_page.t.domain[d->slot].pkru;
}

/* The application handing back a block of D's heap that the policy did not
 * give it (blocks an entry with heap = app allocates are the application's
 * from the start): a stray or double free of a library object, whose block
 * the library would reuse under its own objects.  Refused and reported,
 * unless audit mode lets it through (and learns heap = app from it).  In
 * the service, where a caller cannot skip it. */
static bool application_may_release(const struct domain *d, void *p, const char *call)
{
    if (observers.v.release && observers.v.release(d, (uintptr_t)p))
        return true;
    gate_count(d->slot, GC_BLOCKED, 1);
    protect_log("blocked %s(%p) by the application: a block of %s's heap that the policy did not give it "
                "(heap = app, for an entry that returns memory its caller frees)",
                call, p, d->name);
    return false;
}

/* SVC_HEAP_FREE: w[0] the block, w[1] 1 if for realloc.  1 if freed. */
static uintptr_t release_service(int slot, void *io)
{
    const union service_io *r = io;
    struct domain *d = &protect_domains[slot];
    void *p = (void *)r->w[0];
    if (!d->heap || !application_may_release(d, p, r->w[1] ? "realloc" : "free"))
        return 0;
    domain_heap_free(d->heap, cache_of(d), p);
    return 1;
}

void free(void *p)
{
    if (!p)
        return;
    struct domain *d = owner(p);
    if (!d)
        __libc_free(p);
    else if (inside(d))
        domain_heap_free(d->heap, cache_of(d), p);
    else
        domain_service(d->slot, SVC_HEAP_FREE, &(union service_io){.w = {(uintptr_t)p, 0}});
}

/* SVC_HEAP_USABLE: w[0] the block. */
static uintptr_t usable_service(int slot, void *io)
{
    const struct domain *d = &protect_domains[slot];
    return d->heap ? domain_heap_usable_size(d->heap, (void *)((union service_io *)io)->w[0]) : 0;
}

size_t malloc_usable_size(void *p)
{
    size_t (*real)(void *) = next_function(NEXT_MALLOC_USABLE_SIZE);
    struct domain *d = p ? owner(p) : NULL;
    if (d)
        return is_open(d) ? domain_heap_usable_size(d->heap, p)
                          : domain_service(d->slot, SVC_HEAP_USABLE, &(union service_io){.w = {(uintptr_t)p}});
    return real ? real(p) : 0;
}

void *realloc(void *p, size_t size)
{
    if (!p)
        return malloc(size);
    if (size == 0) {
        free(p);
        return NULL;
    }
    struct allocator a = allocating_domain();
    struct domain *from = owner(p), *to = a.d;
    if (from == to)
        return from ? domain_heap_realloc(from->heap, a.cache, p, size) : __libc_realloc(p, size);
    /* Memory changes hands: a block made before the library was protected,
     * or a library block the application now resizes: only one the policy
     * gave it (see free), and a confidential library's never (the copy
     * would be a read).  The copy is a plain read: whoever is not inside
     * may read an integrity library's memory. */
    if (from && !inside(from) && from->policy.mode == POLICY_CONFIDENTIAL) {
        protect_log("blocked realloc of %s's memory (confidential) from outside it: the copy would read it",
                    from->name);
        errno = EPERM;
        return NULL;
    }
    size_t have = malloc_usable_size(p);
    void *q = to ? domain_alloc(&a, size, 0) : __libc_malloc(size);
    if (!q)
        return NULL;
    memcpy(q, p, have < size ? have : size);
    if (!from)
        __libc_free(p);
    else if (inside(from))
        domain_heap_free(from->heap, cache_of(from), p);
    else if (!domain_service(from->slot, SVC_HEAP_FREE, &(union service_io){.w = {(uintptr_t)p, 1}})) {
        free(q);
        errno = EPERM;
        return NULL;
    }
    return q;
}

void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

void *memalign(size_t align, size_t size)
{
    struct allocator a = allocating_domain();
    if (!a.d)
        return __libc_memalign(align, size);
    if (align & (align - 1)) {
        errno = EINVAL;
        return NULL;
    }
    return domain_alloc(&a, size, align);
}

void *aligned_alloc(size_t align, size_t size)
{
    return memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    int saved = errno;
    void *p = memalign(align, size);
    if (!p)
        return ENOMEM;
    errno = saved;
    *out = p;
    return 0;
}

void *valloc(size_t size)
{
    return memalign(4096, size);
}

void *pvalloc(size_t size)
{
    return memalign(4096, (size + 4095) & ~(size_t)4095);
}

/* SVC_HEAP_USAGE: the answer's w[0] and w[1]. */
static uintptr_t usage_service(int slot, void *io)
{
    union service_io *r = io;
    size_t in_use = 0, peak = 0;
    if (protect_domains[slot].heap)
        domain_heap_usage(protect_domains[slot].heap, &in_use, &peak);
    r->w[0] = in_use;
    r->w[1] = peak;
    return 0;
}

void domain_heap_usage_of(const struct domain *d, size_t *in_use, size_t *peak)
{
    union service_io io = {0};
    if (d->heap)
        domain_service(d->slot, SVC_HEAP_USAGE, &io);
    *in_use = io.w[0];
    *peak = io.w[1];
}

/* SVC_HEAP_BLOCK: w[0] an address; the block holding it, or 0. */
static uintptr_t block_service(int slot, void *io)
{
    const struct domain *d = &protect_domains[slot];
    return d->heap ? domain_heap_block_of(d->heap, ((union service_io *)io)->w[0]) : 0;
}

uintptr_t domain_heap_block_at(const struct domain *d, uintptr_t addr)
{
    if (is_open(d))
        return d->heap ? domain_heap_block_of(d->heap, addr) : 0;
    return domain_service(d->slot, SVC_HEAP_BLOCK, &(union service_io){.w = {addr}});
}

void memory_register_services(void)
{
    gate_table_set_service(SVC_HEAP_FREE, release_service);
    gate_table_set_service(SVC_HEAP_USABLE, usable_service);
    gate_table_set_service(SVC_HEAP_USAGE, usage_service);
    gate_table_set_service(SVC_HEAP_BLOCK, block_service);
}
