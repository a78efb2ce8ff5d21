#define _GNU_SOURCE
#include "gates/callbacks.h"
#include "gates/services.h"
#include "gates/gate_table.h"

#include "log.h"
#include "base/pku.h"
#include "base/sealed.h"
#include "base/trusted_syscall.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

_Static_assert(POLICY_MAX_ARGS == 6 + GATE_STACK_WINDOW / 8, "the gate checks what it copies");

#define STUBS_PER_BATCH 1024
#define CALLBACK_STUB_SIZE 32
#define MAX_BATCHES 256
#define SET_REGION ((size_t)MAX_BATCHES * STUBS_PER_BATCH * CALLBACK_STUB_SIZE)
#define CALLBACK_REGION (2 * SET_REGION) /* plain callbacks, then open ones */

/* One kind of callback of one domain: plain (application rights) or open
 * (application rights plus write access to the library: gate_layout.h). */
struct callback_set {
    uint8_t *region;                   /* reserved for all batches: one range to watch */
    uint64_t *targets;                 /* read-only except while adding */
    size_t count, capacity;
    uint8_t *batch[MAX_BATCHES];       /* executable stubs, STUBS_PER_BATCH each */
    struct stub_hash *hash;            /* fn -> index; read without the lock (below) */
};

/* Application function -> stub index, open addressing.  Read without the
 * lock: a slot's value is written before its key (release), a grown table
 * is published whole, and an old one is never unmapped (a reader may
 * still be in it). */
struct stub_hash {
    size_t cap;
    uint32_t *vals;
    uint64_t keys[];
};

/* Sealed (sealed.h): a forged set could pass the application's function
 * to the library unwrapped. */
static SEALED union {
    struct callback_set v[MAX_DOMAINS][2]; /* [slot][open] */
    char pages[SEALED_PAGES(struct callback_set[MAX_DOMAINS][2])];
} sealed_sets;
#define sets (sealed_sets.v)
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint8_t *stub_address(const struct callback_set *s, size_t i)
{
    return s->batch[i / STUBS_PER_BATCH] + (i % STUBS_PER_BATCH) * CALLBACK_STUB_SIZE;
}

/* Which set and stub index P is in domain SLOT's stub region: the plain
 * set's batches, then the open set's, each laid out in order. */
static bool stub_index(int slot, uintptr_t p, int *open, size_t *index)
{
    uintptr_t off = p - (uintptr_t)sets[slot][0].region;
    if (!sets[slot][0].region || off >= CALLBACK_REGION || off % CALLBACK_STUB_SIZE)
        return false;
    *open = off >= SET_REGION;
    *index = (off % SET_REGION) / CALLBACK_STUB_SIZE;
    return true;
}

/* A new page of stubs: written, then made executable before first use. */
static bool add_batch(struct callback_set *s, int slot, bool open)
{
    size_t b = s->capacity / STUBS_PER_BATCH, size = STUBS_PER_BATCH * CALLBACK_STUB_SIZE;
    if (b >= MAX_BATCHES)
        return false;
    uint8_t *page = s->region ? s->region + b * size : NULL;
    if (!page || trusted_mprotect(page, size, PROT_READ | PROT_WRITE) != 0)
        return false;
    static const uint8_t code[] = {
        0x41, 0xba, 0, 0, 0, 0, /* mov r10d, slot */
        0x41, 0xbb, 0, 0, 0, 0, /* mov r11d, index */
        0xff, 0x25, 0, 0, 0, 0, /* jmp *0(%rip) */
    };
    uint64_t gate = (uint64_t)(uintptr_t)gate_code()->callback;
    for (uint32_t i = 0; i < STUBS_PER_BATCH; i++) {
        uint8_t *p = page + i * CALLBACK_STUB_SIZE;
        uint32_t index = (uint32_t)(b * STUBS_PER_BATCH + i), dom = (uint32_t)slot | (open ? CB_OPEN : 0);
        memset(p, 0xcc, CALLBACK_STUB_SIZE);
        memcpy(p, code, sizeof code);
        memcpy(p + 2, &dom, 4);
        memcpy(p + 8, &index, 4);
        memcpy(p + sizeof code, &gate, 8);
    }
    trusted_mprotect(page, size, PROT_READ | PROT_EXEC);
    s->batch[b] = page;
    return true;
}

/* Grows the read-only target table; the old one stays mapped for gates
 * that read it concurrently. */
static bool grow(struct callback_set *s, int slot, bool open)
{
    size_t cap = s->capacity + STUBS_PER_BATCH;
    /* libprotect's own memory (trusted_mmap), whichever library's rights
     * run now: the interposed mmap would give it that library's key. */
    uint64_t *t = trusted_mmap(NULL, cap * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED || !add_batch(s, slot, open))
        return false;
    if (s->count)
        memcpy(t, s->targets, s->count * 8);
    trusted_mprotect(t, cap * 8, PROT_READ);
    s->targets = t;
    s->capacity = cap;
    gate_table_unlock();
    if (open)
        protect_gate_page.t.domain[slot].open_cb_targets = t;
    else
        protect_gate_page.t.domain[slot].cb_targets = t;
    gate_table_lock();
    return true;
}

int callbacks_reserve(int slot)
{
    if (sets[slot][0].region)
        return 0;
    uint8_t *r = trusted_mmap(NULL, CALLBACK_REGION, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return -1;
    sets[slot][0].region = r;
    sets[slot][1].region = r + SET_REGION;
    return 0;
}

void callbacks_region(int slot, uintptr_t *lo, size_t *size)
{
    *lo = (uintptr_t)sets[slot][0].region;
    *size = sets[slot][0].region ? CALLBACK_REGION : 0;
}

uintptr_t callback_target_of(int slot, uintptr_t stub)
{
    int open;
    size_t i;
    if (!stub_index(slot, stub, &open, &i))
        return 0;
    const struct callback_set *s = &sets[slot][open];
    return i < __atomic_load_n(&s->count, __ATOMIC_ACQUIRE) ? (uintptr_t)s->targets[i] : 0;
}

static size_t hash_slot(const struct stub_hash *t, uint64_t fn)
{
    return (size_t)((fn * 0x9e3779b97f4a7c15ull) >> 20) & (t->cap - 1);
}

static void hash_put(struct stub_hash *t, uint64_t fn, uint32_t index)
{
    size_t i = hash_slot(t, fn);
    while (t->keys[i])
        i = (i + 1) & (t->cap - 1);
    t->vals[i] = index;
    __atomic_store_n(&t->keys[i], fn, __ATOMIC_RELEASE);
}

/* A table twice the size (lock held), published once filled. */
static bool hash_grow(struct callback_set *s)
{
    const struct stub_hash *old = s->hash;
    size_t cap = old ? old->cap * 2 : 1024, bytes = sizeof *old + cap * (8 + 4);
    struct stub_hash *t = trusted_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED)
        return false;
    t->cap = cap;
    t->vals = (uint32_t *)&t->keys[cap];
    for (size_t i = 0; old && i < old->cap; i++)
        if (old->keys[i])
            hash_put(t, old->keys[i], old->vals[i]);
    __atomic_store_n(&s->hash, t, __ATOMIC_RELEASE);
    return true;
}

static long hash_get(const struct callback_set *s, uint64_t fn)
{
    const struct stub_hash *t = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);
    if (!t)
        return -1;
    uint64_t k;
    for (size_t i = hash_slot(t, fn); (k = __atomic_load_n(&t->keys[i], __ATOMIC_ACQUIRE)); i = (i + 1) & (t->cap - 1))
        if (k == fn)
            return t->vals[i];
    return -1;
}

/* Null, -1, small integers and the library's own code. */
static bool needs_no_stub(const struct domain *d, uintptr_t fn)
{
    return fn < 4096 || fn == (uintptr_t)-1 || (fn >= d->text_lo && fn < d->text_hi);
}

uintptr_t callback_stub_for(struct domain *d, uintptr_t fn, bool open)
{
    if (open && protect_gate_page.t.domain[d->slot].open_pkru == GATE_UNUSED_PKRU) {
        static bool warned;
        if (!warned)
            protect_log("%s: no free protection key to mark open callbacks with (15 libraries protected): "
                        "they run with the application's rights only", d->name);
        warned = true;
        open = false;
    }
    struct callback_set *s = &sets[d->slot][open];
    int stub_open;
    size_t stub_i;
    if (needs_no_stub(d, fn) || stub_index(d->slot, fn, &stub_open, &stub_i))
        return fn;
    long index = hash_get(s, fn); /* the common case: known, no lock */
    if (index >= 0)
        return (uintptr_t)stub_address(s, (size_t)index);
    /* A new stub writes the tables: the runtime domain's to do. */
    if (trusted_page_needs_runtime())
        return runtime_service(RT_CALLBACK, &(union service_io){.w = {(uint64_t)d->slot, fn, open}});
    pthread_mutex_lock(&lock);
    index = hash_get(s, fn);
    if (index < 0) {
        sealed_open();
        if ((s->count == s->capacity && !grow(s, d->slot, open)) ||
            ((s->count + 1) * 2 > (s->hash ? s->hash->cap : 0) && !hash_grow(s))) {
            sealed_close();
            pthread_mutex_unlock(&lock);
            protect_fatal("%s: out of callback stubs", d->name);
        }
        index = (long)s->count;
        uintptr_t page = (uintptr_t)&s->targets[index] & ~4095ul;
        trusted_mprotect((void *)page, 4096, PROT_READ | PROT_WRITE);
        s->targets[index] = fn;
        trusted_mprotect((void *)page, 4096, PROT_READ);
        __atomic_store_n(&s->count, s->count + 1, __ATOMIC_RELEASE);
        gate_table_unlock();
        if (open)
            protect_gate_page.t.domain[d->slot].open_cb_count = s->count;
        else
            protect_gate_page.t.domain[d->slot].cb_count = s->count;
        gate_table_lock();
        /* Last: readers take it without the lock, and the callback gate
         * refuses an index beyond the gate table's count (published in the
         * hash first, another thread's library called the new stub before the
         * count covered it: "gate check failed", seen with 4 SQLite threads). */
        hash_put(s->hash, fn, (uint32_t)index);
        sealed_close();
    }
    uintptr_t stub = (uintptr_t)stub_address(s, (size_t)index);
    pthread_mutex_unlock(&lock);
    return stub;
}

/* RT_CALLBACK: w[0] an attached library's slot, w[1] the function, w[2]
 * open.  Anyone may ask: a stub calls the function with the rights the
 * library would call it with anyway. */
uintptr_t callbacks_rt_service(int rt_slot, void *io)
{
    const union service_io *q = io;
    uint64_t slot = q->w[0];
    if (rt_slot != RT_SLOT || slot >= (uint64_t)protect_n_domains || !protect_domains[slot].attached)
        return q->w[1];
    return callback_stub_for(&protect_domains[slot], q->w[1], q->w[2] != 0);
}

static bool overlaps(uintptr_t lo, uintptr_t hi, uintptr_t a, uintptr_t b)
{
    return lo < b && hi > a;
}

/* Whether [LO, HI) touches memory of D's: its segments, heap, later
 * mappings, stacks and gate blocks; or of the runtime key, which every
 * library may read (its cookie above all). */
static bool in_domain_memory(const struct domain *d, uintptr_t lo, uintptr_t hi)
{
    struct gate_regions g;
    gate_regions(d->slot, &g);
    return in_runtime_region(lo, hi) || overlaps(lo, hi, d->image_lo, d->image_hi) ||
           overlaps(lo, hi, d->heap_lo, d->heap_hi) ||
           overlaps(lo, hi, d->maps_lo, d->maps_hi) || overlaps(lo, hi, g.stacks_lo, g.stacks_lo + g.stacks_size) ||
           overlaps(lo, hi, g.blocks_lo, g.blocks_lo + g.blocks_size);
}

/* The policy's pointer arguments of F (pointers =) must not point into the
 * library's memory: it reads and writes through them with its own rights,
 * for a caller who has not those rights (a confused deputy). */
static void check_pointers(const struct domain *d, const struct gated_func *f, const uint64_t *args)
{
    for (unsigned i = 0; i < f->n_pointers; i++) {
        const struct policy_pointer *p = &f->pointers[i];
        uintptr_t at = (uintptr_t)args[p->arg - 1];
        uint64_t size = p->size_arg ? args[p->size_arg - 1] : p->size_bytes;
        if (!at || !size)
            continue;
        uintptr_t end = at + size < at ? UINTPTR_MAX : at + size;
        if (!in_domain_memory(d, at, end))
            continue;
        gate_count(d->slot, GC_BLOCKED, 1);
        protect_fatal("blocked %s(argument %u = %#lx, %lu bytes): a pointer into %s's own memory, which it would "
                      "read or write for the application",
                      f->name, p->arg, (unsigned long)at, (unsigned long)size,
                      in_runtime_region(at, end) ? "libprotect's runtime" : d->name);
    }
}

void protect_wrap_callback_args(struct saved_regs *regs, uint64_t *sp)
{
    unsigned id = (unsigned)regs->r11, slot = id >> GATE_ID_DOMAIN_SHIFT, f = id & GATE_ID_FUNC_MASK;
    if (slot >= MAX_DOMAINS)
        protect_gate_broken();
    struct domain *d = &protect_domains[slot];
    if (f >= d->n_funcs)
        protect_gate_broken();
    unsigned mask = d->funcs[f].callbacks, open = d->funcs[f].open_callbacks;
    if (protect_gate_page.t.observe_entry)
        protect_gate_page.t.observe_entry((int)slot, f, regs, sp);
    uint64_t *reg_args = &regs->rdi; /* rdi, rsi, rdx, rcx, r8, r9 in order */
    for (int n = 1; mask; n++, mask >>= 1, open >>= 1) {
        if (!(mask & 1))
            continue;
        uint64_t *arg = n <= 6 ? &reg_args[n - 1] : &sp[n - 6];
        *arg = callback_stub_for(d, *arg, open & 1);
    }
}

void protect_check_entry_args(const struct saved_regs *regs, const uint64_t *window, uint64_t func)
{
    struct domain *d = domain_for_rights(pku_read()); /* the one the gate has just opened */
    if (!d || func >= d->n_funcs)
        protect_gate_broken();
    const struct gated_func *f = &d->funcs[func];
    uint64_t args[POLICY_MAX_ARGS];
    memcpy(args, &regs->rdi, 6 * sizeof *args); /* rdi, rsi, rdx, rcx, r8, r9 in order */
    memcpy(args + 6, window, GATE_STACK_WINDOW);
    check_pointers(d, f, args);
    if (protect_gate_page.t.observe_entry)
        return; /* learning: the arguments are the observer's stubs */
    for (unsigned mask = f->callbacks, n = 1; mask; n++, mask >>= 1) {
        uintptr_t v = (uintptr_t)args[n - 1];
        if (!(mask & 1) || needs_no_stub(d, v) || callback_target_of(d->slot, v))
            continue;
        gate_count(d->slot, GC_BLOCKED, 1);
        protect_fatal("blocked %s(argument %u = %#lx): a function that did not get a callback stub, which %s "
                      "would run with its own rights",
                      f->name, n, (unsigned long)v, d->name);
    }
}
