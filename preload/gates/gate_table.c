/* Gate table, per-thread blocks and domain stacks. */
#define _GNU_SOURCE
#include "gates/gate_table.h"

#include "base/far_map.h"
#include "gates/callbacks.h"
#include "gates/domains.h"
#include "gates/services.h"
#include "log.h"
#include "base/pku.h"
#include "base/trusted_syscall.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

_Static_assert(sizeof(struct domain_gate) == 1 << DG_SHIFT, "domain_gate size");
_Static_assert(offsetof(struct domain_gate, pkru) == DG_PKRU, "DG_PKRU");
_Static_assert(offsetof(struct domain_gate, index) == DG_INDEX, "DG_INDEX");
_Static_assert(offsetof(struct domain_gate, n_funcs) == DG_NFUNCS, "DG_NFUNCS");
_Static_assert(offsetof(struct domain_gate, targets) == DG_TARGETS, "DG_TARGETS");
_Static_assert(offsetof(struct domain_gate, blocks_lo) == DG_BLOCKS_LO, "DG_BLOCKS_LO");
_Static_assert(offsetof(struct domain_gate, blocks_size) == DG_BLOCKS_SIZE, "DG_BLOCKS_SIZE");
_Static_assert(offsetof(struct domain_gate, cb_targets) == DG_CB_TARGETS, "DG_CB_TARGETS");
_Static_assert(offsetof(struct domain_gate, cb_count) == DG_CB_COUNT, "DG_CB_COUNT");
_Static_assert(offsetof(struct domain_gate, open_pkru) == DG_OPEN_PKRU, "DG_OPEN_PKRU");
_Static_assert(offsetof(struct domain_gate, cb_stack_slots) == DG_CB_STACK_SLOTS, "DG_CB_STACK_SLOTS");
_Static_assert(offsetof(struct domain_gate, open_cb_targets) == DG_OPEN_CB_TARGETS, "DG_OPEN_CB_TARGETS");
_Static_assert(offsetof(struct domain_gate, open_cb_count) == DG_OPEN_CB_COUNT, "DG_OPEN_CB_COUNT");
_Static_assert(DG_OPEN_CB_TARGETS - DG_CB_TARGETS == DG_OPEN_DELTA && DG_OPEN_CB_COUNT - DG_CB_COUNT == DG_OPEN_DELTA,
               "DG_OPEN_DELTA");
_Static_assert(sizeof(struct gate_table) <= 4096, "the gate table fits its page");
_Static_assert(offsetof(struct domain_gate, stacks_lo) == DG_STACKS_LO, "DG_STACKS_LO");
_Static_assert(offsetof(struct domain_gate, stack_stride) == DG_STACK_STRIDE, "DG_STACK_STRIDE");
_Static_assert(offsetof(struct gate_table, app_pkru) == GT_APP_PKRU, "GT_APP_PKRU");
_Static_assert(offsetof(struct gate_table, lib_keys) == GT_LIB_KEYS, "GT_LIB_KEYS");
_Static_assert(offsetof(struct gate_table, services) == GT_SERVICES, "GT_SERVICES");
_Static_assert(offsetof(struct gate_table, rt_services) == GT_RT_SERVICES, "GT_RT_SERVICES");
_Static_assert(sizeof(struct gate_block) == 1 << GB_SHIFT, "gate_block size");
_Static_assert(offsetof(struct gate_block, sp) == GB_SP, "GB_SP");
_Static_assert(offsetof(struct gate_block, cb_lib_sp) == GB_CB_LIB_SP, "GB_CB_LIB_SP");
_Static_assert(offsetof(struct gate_block, cb_depth) == GB_CB_DEPTH, "GB_CB_DEPTH");
_Static_assert(offsetof(struct gate_block, entries) == GB_ENTRIES, "GB_ENTRIES");
_Static_assert(offsetof(struct gate_block, callbacks) == GB_CALLBACKS, "GB_CALLBACKS");
_Static_assert(offsetof(struct gate_block, out_calls) == GB_OUT_CALLS, "GB_OUT_CALLS");
_Static_assert(offsetof(struct gate_block, nested) == GB_NESTED, "GB_NESTED");
_Static_assert(offsetof(struct gate_block, stack_map) == GB_STACK_MAP, "GB_STACK_MAP");
_Static_assert(offsetof(struct gate_block, stack_map_size) == GB_STACK_MAP_SIZE, "GB_STACK_MAP_SIZE");
_Static_assert(offsetof(struct gate_block, counter) == GB_COUNTER, "GB_COUNTER");
_Static_assert(offsetof(struct gate_block, longest_deferral_ns) == GB_COUNTER + 8 * GB_N_COUNTERS, "GB_COUNTER");
_Static_assert(offsetof(struct gate_block, svc_depth) == GB_SVC_DEPTH, "GB_SVC_DEPTH");
_Static_assert(offsetof(struct gate_block, out_sp) == GB_OUT_SP, "GB_OUT_SP");
_Static_assert(offsetof(struct gate_block, heap_cache) == GB_GATE_FIELDS, "GB_GATE_FIELDS");
_Static_assert(GC_N == GB_N_COUNTERS, "GB_N_COUNTERS");
_Static_assert(offsetof(struct saved_regs, rdx) == SAVED_RDX, "SAVED_RDX");
_Static_assert(offsetof(struct saved_regs, r11) == SAVED_R11, "SAVED_R11");
_Static_assert(offsetof(struct saved_regs, xmm) == SAVED_XMM, "SAVED_XMM");
_Static_assert(sizeof(struct saved_regs) == SAVED_SIZE, "SAVED_SIZE");

#define PAGE 4096ul
#define BLOCKS_PER_DOMAIN 8192
_Static_assert(PAGE == STACK_PAGE, "STACK_PAGE");

__attribute__((aligned(PAGE), visibility("hidden"))) union gate_page protect_gate_page = {
    .t = {.domain = {[0 ... MAX_DOMAINS - 1] = {.pkru = GATE_UNUSED_PKRU, .open_pkru = GATE_UNUSED_PKRU}}},
};
#define table (protect_gate_page.t)

__thread struct gate_block *protect_blocks[MAX_DOMAINS] __attribute__((tls_model("initial-exec")));

/* How many a domain has: BLOCKS_PER_DOMAIN, or fewer where address space
 * is scarce (RLIMIT_AS): each has a stack of DOMAIN_STACK_SIZE reserved. */
static size_t blocks_n[MAX_DOMAINS];

/* Each domain's stacks lie in one reserved region, a mapping per block
 * (STACK_MAP_SIZE: guard page, service stacks, guard page, domain stack):
 * one range for the system-call filter to watch, however many threads
 * come and go. */
#define stacks_lo(slot) (protect_domains[slot].stacks_lo)
static pthread_key_t thread_exit_key;
static pthread_once_t thread_exit_once = PTHREAD_ONCE_INIT;

/* Whether PKRU opens no protected library's key more than the
 * application's rights do (as gate.S's NOT_MORE_OPEN_THAN_APP). */
bool rights_within_app(uint32_t pkru)
{
    uint32_t a = table.app_pkru, even = 0x55555555u;
    uint32_t wider = ~pkru & (a | (~a & (a >> 1) & ~(pkru >> 1)));
    return !(wider & table.lib_keys & even);
}

bool rights_of_runtime(uint32_t pkru)
{
    uint32_t rt = table.domain[RT_SLOT].pkru;
    if (rt == GATE_UNUSED_PKRU)
        return false;
    uint32_t write_disable = 2u << (2 * domain_key(RT_SLOT));
    return !(pkru & write_disable);
}

/* libprotect's C code only ever lowers the rights: anything that needs a
 * library's goes through a service (services.h).  Checked on what PKRU
 * now holds, not on a register: a jump to this WRPKRU with a library's
 * rights in every register stops here.  (Dry run: nothing is protected,
 * and a handler puts back the interrupted library's word.) */
void pku_write_checked(uint32_t value)
{
    if (pku_dry_run()) {
        protect_emulated_pkru = value;
        return;
    }
    __asm__ volatile("wrpkru" ::"a"(value), "c"(0), "d"(0) : "memory");
    uint32_t now = pku_read();
    if (now != value || !rights_within_app(now))
        protect_gate_broken();
}

uintptr_t domain_service(int slot, unsigned svc, union service_io *io)
{
    /* A service runs on this thread's service stack in the domain: a thread
     * that never entered it makes its block first (as its first entry). */
    slot &= MAX_DOMAINS - 1;
    if (svc < N_SERVICES && !protect_blocks[slot])
        protect_thread_first_entry((unsigned)slot);
    /* The gate checks the block pointer again, and its owner (with the
     * domain open); this says why, where a ud2 in a signal handler of ours
     * (SIGILL blocked) could not. */
    uint64_t off = (uint64_t)protect_blocks[slot] - table.domain[slot].blocks_lo;
    if ((svc < N_SERVICES || svc == SVC_RELEASE) &&
        (off >= table.domain[slot].blocks_size || (off & ((1u << GB_SHIFT) - 1))))
        protect_fatal("gate check failed: this thread's gate block pointer for %s (%p) is not its block (changed by "
                      "the application?)",
                      domain_name(slot), (void *)protect_blocks[slot]);
    if (pku_dry_run()) {
        if (!protect_emulated_pkru)
            protect_emulated_pkru = pku_read(); /* the dry gate reads the word itself */
        return protect_service_dry(slot, svc, io);
    }
    return protect_service(slot, svc, io);
}

#define SIGBIT(sig) (1ull << ((sig) - 1))

uintptr_t runtime_service(unsigned svc, union service_io *io)
{
    /* Nothing of the application's runs on this thread meanwhile: a
     * handler would see, and could change, a context with the runtime key
     * open.  (SIGSYS stays, the filter's traps need it, and the synchronous
     * ones, which blocked would only kill: signals.c never gives the
     * application one that comes while the runtime runs.) */
    uint64_t async = ~(SIGBIT(SIGSYS) | SIGBIT(SIGSEGV) | SIGBIT(SIGBUS) | SIGBIT(SIGILL) | SIGBIT(SIGFPE) |
                       SIGBIT(SIGTRAP)),
             saved;
    trusted_syscall(SYS_rt_sigprocmask, SIG_BLOCK, (long)&async, (long)&saved, sizeof saved, 0, 0);
    uintptr_t r = domain_service(RT_SLOT, svc, io);
    trusted_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&saved, 0, sizeof saved, 0, 0);
    return r;
}

uintptr_t runtime_service_masked(unsigned svc, union service_io *io)
{
    return domain_service(RT_SLOT, svc, io);
}

typedef uintptr_t (*service_fn)(int slot, void *io);

/* Puts FN in TABLE_OF_SERVICES (one of the gate table's) as number SVC. */
static void set_service_in(service_fn *table_of_services, unsigned svc, service_fn fn)
{
    if (svc >= N_SERVICES)
        protect_fatal("service %u: no such service", svc);
    gate_table_unlock();
    table_of_services[svc] = fn;
    gate_table_lock();
}

void gate_table_set_service(unsigned svc, service_fn fn)
{
    set_service_in(table.services, svc, fn);
}

void gate_table_set_rt_service(unsigned svc, service_fn fn)
{
    set_service_in(table.rt_services, svc, fn);
}

void gate_table_unlock(void)
{
    trusted_mprotect(&protect_gate_page, PAGE, PROT_READ | PROT_WRITE);
}

void gate_table_lock(void)
{
    trusted_mprotect(&protect_gate_page, PAGE, PROT_READ);
}

const struct gate_code *gate_code(void)
{
    static const struct gate_code builds[2] = {
        {protect_gate_entry, protect_gate_entry_callbacks, protect_callback_gate, protect_gate_contained,
         protect_gate_exit_ret},
        {protect_gate_entry_dry, protect_gate_entry_callbacks_dry, protect_callback_gate_dry,
         protect_gate_contained_dry, protect_gate_exit_ret_dry},
    };
    return &builds[pku_dry_run()];
}

void gate_table_set_entry_observer(void (*observe)(int, size_t, struct saved_regs *, uint64_t *))
{
    gate_table_unlock();
    table.observe_entry = observe;
    gate_table_lock();
}

void gate_table_add_runtime_region(uintptr_t lo, uintptr_t hi)
{
    for (int i = 0; i < 4; i++)
        if (!table.runtime_regions[i][1]) {
            gate_table_unlock();
            table.runtime_regions[i][0] = lo;
            table.runtime_regions[i][1] = hi;
            gate_table_lock();
            return;
        }
    protect_fatal("more runtime regions than the gate table keeps");
}

bool in_runtime_region(uintptr_t lo, uintptr_t hi)
{
    for (int i = 0; i < 4; i++)
        if (lo < table.runtime_regions[i][1] && hi > table.runtime_regions[i][0])
            return true;
    return false;
}

void gate_table_set_thread_hooks(void (*started)(void), void (*exiting)(void))
{
    gate_table_unlock();
    table.thread_started = started;
    table.thread_exiting = exiting;
    gate_table_lock();
}

int gate_blocks_init(int slot, int key)
{
    /* The runtime's threads use only its service stacks. */
    size_t stride = slot == RT_SLOT ? STACK_MAIN_LO : STACK_MAP_SIZE, first = BLOCKS_PER_DOMAIN;
    /* ... and at most a 32nd of the address space, where it is limited:
     * the libraries need the rest. */
    struct rlimit as;
    if (slot == RT_SLOT && getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY)
        while (first > 64 && first * stride > as.rlim_cur / 32)
            first /= 2;
    for (size_t n = first; n >= 64; n /= 4) {
        size_t size = n << GB_SHIFT, stacks_size = n * stride;
        void *region = far_mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
        void *stacks = far_mmap(stacks_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
        if (region == MAP_FAILED || stacks == MAP_FAILED || pku_mprotect(region, size, PROT_READ | PROT_WRITE, key) != 0) {
            if (region != MAP_FAILED)
                trusted_munmap(region, size);
            if (stacks != MAP_FAILED)
                trusted_munmap(stacks, stacks_size);
            continue;
        }
        if (n < BLOCKS_PER_DOMAIN)
            protect_log("%s: address space for %zu threads inside it at once, not %d (RLIMIT_AS)", domain_name(slot),
                        n, BLOCKS_PER_DOMAIN);
        blocks_n[slot] = n;
        stacks_lo(slot) = (uintptr_t)stacks;
        gate_table_unlock();
        table.domain[slot].blocks_lo = (uint64_t)region;
        table.domain[slot].blocks_size = size;
        table.domain[slot].stacks_lo = (uint64_t)stacks;
        table.domain[slot].stack_stride = stride;
        gate_table_lock();
        return 0;
    }
    return -1;
}

/* This thread's block of SLOT (gate_block_checked), or the end of the
 * process: the TLS pointer, like the caller's stack, is the application's
 * to change.  In a service (the domain open). */
static struct gate_block *checked_own_block(int slot)
{
    struct gate_block *b = gate_block_checked(slot);
    if (!b)
        protect_fatal("gate check failed: this thread's gate block pointer for %s (%p) is not its block (changed by "
                      "the application?)",
                      domain_name(slot), (void *)protect_blocks[slot]);
    return b;
}

/* SVC_LOWER_SP: w[0] the new place (below the interrupted frames). */
static uintptr_t lower_sp(int slot, void *io)
{
    struct gate_block *b = checked_own_block(slot);
    uint64_t sp = ((union service_io *)io)->w[0] & ~15ull, n = b->n_sp_moves;
    /* The old value keeps GB_SP_INSIDE (put back by raise_sp); the new one
     * has it clear, for the entries of the handler.  Only within the
     * domain stack proper: the service stacks below it are not for entries. */
    if (n >= sizeof b->sp_moves / sizeof *b->sp_moves || sp >= (b->sp & ~(uint64_t)GB_SP_INSIDE) ||
        sp < b->stack_map + STACK_MAIN_LO + 2 * PAGE)
        return 0;
    b->sp_moves[n] = b->sp;
    b->n_sp_moves = n + 1;
    b->sp = sp;
    return 1;
}

static uintptr_t raise_sp(int slot, void *io)
{
    struct gate_block *b = checked_own_block(slot);
    if (b->n_sp_moves)
        b->sp = b->sp_moves[--b->n_sp_moves];
    return 0;
}

static uintptr_t read_sp(int slot, void *io)
{
    return checked_own_block(slot)->sp & ~(uint64_t)GB_SP_INSIDE;
}

bool gate_block_lower_sp(int slot, uint64_t sp)
{
    return protect_blocks[slot] && domain_service(slot, SVC_LOWER_SP, &(union service_io){.w = {sp}});
}

void gate_block_raise_sp(int slot)
{
    if (protect_blocks[slot])
        domain_service(slot, SVC_RAISE_SP, &(union service_io){0});
}

uint64_t gate_block_sp(int slot)
{
    return protect_blocks[slot] ? domain_service(slot, SVC_READ_SP, &(union service_io){0}) : 0;
}

/* Block 0 of each domain belongs to no thread: it keeps the counts of the
 * threads that have exited (in the domain's memory, like every block). */
#define RETIRED_BLOCK 0

static void add_max(uint64_t *to, uint64_t v)
{
    uint64_t old = __atomic_load_n(to, __ATOMIC_RELAXED);
    while (v > old && !__atomic_compare_exchange_n(to, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* SVC_RETIRE: this thread's counts go to the exited threads' block, and
 * its domain stack's pages back to the kernel (the mapping and its key stay
 * with the block, for the next thread that takes it). */
static uintptr_t retire(int slot, void *io)
{
    struct gate_block *b = checked_own_block(slot);
    struct gate_block *retired = (struct gate_block *)table.domain[slot].blocks_lo + RETIRED_BLOCK;
    __atomic_fetch_add(&retired->entries, b->entries, __ATOMIC_RELAXED);
    __atomic_fetch_add(&retired->callbacks, b->callbacks, __ATOMIC_RELAXED);
    __atomic_fetch_add(&retired->nested, b->nested, __ATOMIC_RELAXED);
    for (int i = 0; i < GC_N; i++)
        __atomic_fetch_add(&retired->counter[i], b->counter[i], __ATOMIC_RELAXED);
    add_max(&retired->longest_deferral_ns, b->longest_deferral_ns);
    b->entries = b->callbacks = b->nested = b->longest_deferral_ns = 0;
    memset(b->counter, 0, sizeof b->counter);
    if (!(b->sp & GB_SP_INSIDE))
        trusted_madvise((void *)(b->stack_map + STACK_MAIN_LO), DOMAIN_STACK_SIZE, MADV_DONTNEED);
    return 0;
}

/* Whether block I of SLOT is taken (the bitmap in the domain's memory). */
static bool claimed(int slot, size_t i)
{
    const uint64_t *map = (const uint64_t *)(table.domain[slot].blocks_lo + GB_CLAIM_MAP);
    return i >= GB_FIRST_FREE && i < GB_CLAIM_BITS && (__atomic_load_n(&map[i / 64], __ATOMIC_RELAXED) >> (i % 64)) & 1;
}

/* SVC_SUM_COUNTS: every thread's counts (the exited ones' included), as
 * struct gate_counts in the answer. */
static uintptr_t sum_counts(int slot, void *io)
{
    _Static_assert(sizeof(struct gate_counts) <= SVC_IO, "the counts fit the answer");
    struct gate_counts c = {0};
    const struct gate_block *b = (const struct gate_block *)table.domain[slot].blocks_lo;
    for (size_t i = 0; i < table.domain[slot].blocks_size >> GB_SHIFT; i++)
        if (i == RETIRED_BLOCK || claimed(slot, i)) {
            c.entries += __atomic_load_n(&b[i].entries, __ATOMIC_RELAXED);
            c.callbacks += __atomic_load_n(&b[i].callbacks, __ATOMIC_RELAXED);
            c.nested += __atomic_load_n(&b[i].nested, __ATOMIC_RELAXED);
            for (int k = 0; k < GC_N; k++)
                c.counter[k] += __atomic_load_n(&b[i].counter[k], __ATOMIC_RELAXED);
            uint64_t l = __atomic_load_n(&b[i].longest_deferral_ns, __ATOMIC_RELAXED);
            if (l > c.longest_deferral_ns)
                c.longest_deferral_ns = l;
        }
    memcpy(io, &c, sizeof c);
    return 0;
}

static void thread_exit(void *unused)
{
    gate_blocks_release_thread();
}

static void make_exit_key(void)
{
    pthread_key_create(&thread_exit_key, thread_exit);
}

/* Keys block I's stacks in SLOT (a tagging that is already there changes
 * nothing): a memory call over a library's memory, which libprotect's code
 * with the application's rights asks of the runtime domain. */
static int key_stacks(unsigned slot, size_t i)
{
    if (trusted_page_needs_runtime())
        return (int)runtime_service(RT_STACKS, &(union service_io){.w = {slot, i}});
    char *map = (char *)(stacks_lo(slot) + i * STACK_MAP_SIZE);
    int key = domain_key((int)slot);
    return pku_mprotect(map + PAGE, SVC_AREA, PROT_READ | PROT_WRITE, key) != 0 ||
                   pku_mprotect(map + STACK_MAIN_LO, DOMAIN_STACK_SIZE, PROT_READ | PROT_WRITE, key) != 0
               ? -1
               : 0;
}

/* RT_STACKS: w[0] a library's slot, w[1] a block of it.  Anyone may ask:
 * it makes no memory anybody but the library can reach. */
static uintptr_t stacks_service(int rt_slot, void *io)
{
    const union service_io *q = io;
    unsigned slot = (unsigned)q->w[0];
    if (rt_slot != RT_SLOT || slot >= (unsigned)protect_n_domains || !table.domain[slot].blocks_lo ||
        q->w[1] >= blocks_n[slot])
        return (uintptr_t)-1;
    return (uintptr_t)key_stacks(slot, (size_t)q->w[1]);
}

static void register_services(void)
{
    gate_table_set_service(SVC_LOWER_SP, lower_sp);
    gate_table_set_service(SVC_RAISE_SP, raise_sp);
    gate_table_set_service(SVC_READ_SP, read_sp);
    gate_table_set_service(SVC_RETIRE, retire);
    gate_table_set_service(SVC_SUM_COUNTS, sum_counts);
    gate_table_set_rt_service(RT_STACKS, stacks_service);
    gate_table_set_rt_service(RT_CALLBACK, callbacks_rt_service);
}

void gate_table_init_services(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_services);
}

void protect_thread_first_entry(unsigned slot)
{
    const struct domain_gate *dg = &table.domain[slot];
    if (pku_dry_run() && !protect_emulated_pkru)
        protect_emulated_pkru = pku_read(); /* the dry gate reads the word itself */
    if (dg->pkru == GATE_UNUSED_PKRU)
        protect_fatal("gate of an unknown domain %u called", slot);
    /* The block is taken and made by the service gate itself (the domain's
     * bitmap and blocks are the domain's memory); its stacks get their key
     * here, from outside, the first time and again after nothing (a
     * tagging that is already there changes nothing). */
    struct gate_block *b = (struct gate_block *)domain_service((int)slot, SVC_CLAIM, &(union service_io){0});
    if (!b)
        protect_fatal("%s: no gate block left for this thread (%zu threads inside it at once)", domain_name((int)slot),
                      blocks_n[slot]);
    size_t i = ((uint64_t)b - dg->blocks_lo) >> GB_SHIFT;
    if (slot != RT_SLOT && key_stacks(slot, i) != 0) /* (the runtime's are keyed at start) */
        protect_fatal("%s: cannot make a domain stack for this thread", domain_name((int)slot));
    protect_blocks[slot] = b;
    if (table.thread_started)
        table.thread_started(); /* signals may now come while on a domain stack */
    gate_table_watch_thread_exit();
}

void gate_table_watch_thread_exit(void)
{
    pthread_once(&thread_exit_once, make_exit_key);
    pthread_setspecific(thread_exit_key, (void *)1);
}

void gate_blocks_release_thread(void)
{
    if (table.thread_exiting)
        table.thread_exiting();
    for (unsigned slot = 0; slot < MAX_DOMAINS; slot++) {
        if (!protect_blocks[slot])
            continue;
        if (slot != RT_SLOT) /* (the runtime keeps no counts) */
            domain_service((int)slot, SVC_RETIRE, &(union service_io){0});
        domain_service((int)slot, SVC_RELEASE, &(union service_io){0});
        protect_blocks[slot] = NULL;
    }
}

void gate_regions(int slot, struct gate_regions *r)
{
    r->blocks_lo = table.domain[slot].blocks_lo;
    r->blocks_size = table.domain[slot].blocks_size;
    r->stacks_lo = stacks_lo(slot);
    r->stacks_size = stacks_lo(slot) ? blocks_n[slot] * table.domain[slot].stack_stride : 0;
}

void gate_counts(int slot, struct gate_counts *c)
{
    *c = (struct gate_counts){0};
    if (!table.domain[slot].blocks_lo || table.domain[slot].pkru == GATE_UNUSED_PKRU) /* (not published yet) */
        return;
    union service_io io = {0};
    domain_service(slot, SVC_SUM_COUNTS, &io);
    memcpy(c, &io, sizeof *c);
}

void gate_count(int slot, enum gate_counter which, uint64_t n)
{
    if (slot >= 0 && slot < MAX_DOMAINS && table.domain[slot].blocks_lo)
        domain_service(slot, SVC_COUNT, &(union service_io){.w = {(uint64_t)which, 0, n}});
}

void gate_count_deferral(int slot, uint64_t ns)
{
    if (slot >= 0 && slot < MAX_DOMAINS && table.domain[slot].blocks_lo)
        domain_service(slot, SVC_COUNT, &(union service_io){.w = {GB_N_COUNTERS, 0, ns}});
}
