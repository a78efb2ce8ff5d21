/* Gate table, per-thread blocks and domain stacks. */
#define _GNU_SOURCE
#include "gates/gate_table.h"

#include "gates/domains.h"
#include "log.h"
#include "base/pku.h"
#include "base/trusted_syscall.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

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
_Static_assert(offsetof(struct gate_table, app_pkru) == GT_APP_PKRU, "GT_APP_PKRU");
_Static_assert(sizeof(struct gate_block) == 1 << GB_SHIFT, "gate_block size");
_Static_assert(offsetof(struct gate_block, sp) == GB_SP, "GB_SP");
_Static_assert(offsetof(struct gate_block, cb_lib_sp) == GB_CB_LIB_SP, "GB_CB_LIB_SP");
_Static_assert(offsetof(struct gate_block, cb_depth) == GB_CB_DEPTH, "GB_CB_DEPTH");
_Static_assert(offsetof(struct gate_block, entries) == GB_ENTRIES, "GB_ENTRIES");
_Static_assert(offsetof(struct gate_block, callbacks) == GB_CALLBACKS, "GB_CALLBACKS");
_Static_assert(offsetof(struct gate_block, out_calls) == GB_OUT_CALLS, "GB_OUT_CALLS");
_Static_assert(offsetof(struct gate_block, nested) == GB_NESTED, "GB_NESTED");
_Static_assert(offsetof(struct saved_regs, rdx) == SAVED_RDX, "SAVED_RDX");
_Static_assert(offsetof(struct saved_regs, r11) == SAVED_R11, "SAVED_R11");
_Static_assert(offsetof(struct saved_regs, xmm) == SAVED_XMM, "SAVED_XMM");
_Static_assert(sizeof(struct saved_regs) == SAVED_SIZE, "SAVED_SIZE");

#define PAGE 4096ul
#define BLOCKS_PER_DOMAIN 8192
#define DOMAIN_STACK_SIZE (8ul << 20)

__attribute__((aligned(PAGE), visibility("hidden"))) union gate_page protect_gate_page = {
    .t = {.domain = {[0 ... MAX_DOMAINS - 1] = {.pkru = GATE_UNUSED_PKRU, .open_pkru = GATE_UNUSED_PKRU}}},
};
#define table (protect_gate_page.t)

__thread struct gate_block *protect_blocks[MAX_DOMAINS] __attribute__((tls_model("initial-exec")));

/* Which block slots are taken, per domain (a hint only: the owner field in
 * the block itself is what the gate checks). */
static uint64_t slot_used[MAX_DOMAINS][BLOCKS_PER_DOMAIN / 64];
/* How many a domain has: BLOCKS_PER_DOMAIN, or fewer where address space
 * is scarce (RLIMIT_AS): each has a stack of DOMAIN_STACK_SIZE reserved. */
static size_t blocks_n[MAX_DOMAINS];

/* Each domain's stacks lie in one reserved region, a stack (with its guard
 * page below) per block slot: one range for the system-call filter to
 * watch, however many threads come and go. */
#define STACK_MAP_SIZE (DOMAIN_STACK_SIZE + PAGE)
#define stacks_lo(slot) (protect_domains[slot].stacks_lo)
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t thread_exit_key;
static pthread_once_t thread_exit_once = PTHREAD_ONCE_INIT;

/* Access a PKRU value gives to KEY: 0 none, 1 read, 2 read and write. */
static int key_level(uint32_t pkru, int key)
{
    uint32_t bits = (pkru >> (2 * key)) & 3;
    return bits & 1 ? 0 : bits & 2 ? 1 : 2;
}

/* Rights libprotect's C code may set: beyond what the application has, at
 * most two protected libraries' keys opened (a domain's rights, or one
 * domain reaching into another's heap), and never a key no library owns.
 * (A jump to the WRPKRU with every register zero opens every key.) */
static bool rights_allowed(uint32_t pkru)
{
    int opened = 0;
    for (int key = 1; key < 16; key++) {
        if (key_level(pkru, key) <= key_level(table.app_pkru, key))
            continue;
        if (!domain_of_key(key))
            return false;
        opened++;
    }
    return opened <= 2;
}

void pku_write_checked(uint32_t value)
{
    if (pku_dry_run())
        protect_emulated_pkru = value;
    else
        __asm__ volatile("wrpkru" ::"a"(value), "c"(0), "d"(0) : "memory");
    /* Checked on what PKRU now holds, not on a register: jumping to the
     * WRPKRU with chosen registers cannot open every key. */
    uint32_t now = pku_read();
    if (now != value || !rights_allowed(now))
        protect_gate_broken();
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

void gate_table_set_thread_hooks(void (*started)(void), void (*exiting)(void))
{
    gate_table_unlock();
    table.thread_started = started;
    table.thread_exiting = exiting;
    gate_table_lock();
}

int gate_blocks_init(int slot, int key)
{
    for (size_t n = BLOCKS_PER_DOMAIN; n >= 64; n /= 4) {
        size_t size = n << GB_SHIFT, stacks_size = n * STACK_MAP_SIZE;
        void *region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        void *stacks = mmap(NULL, stacks_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
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
        gate_table_lock();
        return 0;
    }
    return -1;
}

uintptr_t with_domain_open(int slot, uintptr_t (*fn)(void *), void *arg)
{
    uint32_t saved = pku_read();
    pku_write_checked(saved & ~pku_key_mask(domain_key(slot)));
    uintptr_t r = fn(arg);
    pku_write_checked(saved);
    return r;
}

static uint64_t fs_base(void)
{
    uint64_t v;
    __asm__ volatile("rdfsbase %0" : "=r"(v));
    return v;
}

/* This thread's block of SLOT (gate_block_checked, with the domain open),
 * or the end of the process: the TLS pointer, like the caller's stack, is
 * the application's to change. */
static struct gate_block *checked_own_block(int slot)
{
    struct gate_block *b = gate_block_checked(slot);
    if (!b)
        protect_fatal("gate check failed: this thread's gate block pointer for %s (%p) is not its block (changed by "
                      "the application?)",
                      domain_name(slot), (void *)protect_blocks[slot]);
    return b;
}

struct sp_change {
    int slot;
    uint64_t sp;
};

static uintptr_t lower_sp(void *arg)
{
    struct sp_change m = *(volatile struct sp_change *)arg; /* read once */
    struct gate_block *b = checked_own_block(m.slot & (MAX_DOMAINS - 1));
    uint64_t sp = m.sp & ~15ull, n = b->n_sp_moves;
    /* The old value keeps GB_SP_INSIDE (put back by raise_sp); the new one
     * has it clear, for the entries of the handler. */
    if (n >= sizeof b->sp_moves / sizeof *b->sp_moves || sp >= (b->sp & ~(uint64_t)GB_SP_INSIDE) ||
        sp < b->stack_map + 2 * PAGE)
        return 0;
    b->sp_moves[n] = b->sp;
    b->n_sp_moves = n + 1;
    b->sp = sp;
    return 1;
}

static uintptr_t raise_sp(void *arg)
{
    struct gate_block *b = checked_own_block(*(volatile int *)arg & (MAX_DOMAINS - 1));
    if (b->n_sp_moves)
        b->sp = b->sp_moves[--b->n_sp_moves];
    return 0;
}

static uintptr_t read_sp(void *arg)
{
    return checked_own_block(*(volatile int *)arg & (MAX_DOMAINS - 1))->sp & ~(uint64_t)GB_SP_INSIDE;
}

bool gate_block_lower_sp(int slot, uint64_t sp)
{
    return protect_blocks[slot] && with_domain_open(slot, lower_sp, &(struct sp_change){slot, sp});
}

void gate_block_raise_sp(int slot)
{
    if (protect_blocks[slot])
        with_domain_open(slot, raise_sp, &slot);
}

uint64_t gate_block_sp(int slot)
{
    return protect_blocks[slot] ? with_domain_open(slot, read_sp, &slot) : 0;
}

struct block_init {
    struct gate_block *block;
    uint64_t owner, stack_map, stack_map_size;
};

/* The gate's own fields: what a block's next owner starts without (the
 * heap cache after them stays with the slot). */
#define GATE_FIELDS offsetof(struct gate_block, pad)

static uintptr_t init_block(void *arg)
{
    struct block_init *bi = arg;
    memset(bi->block, 0, GATE_FIELDS);
    bi->block->owner = bi->owner;
    bi->block->sp = (bi->stack_map + bi->stack_map_size) & ~15ul;
    bi->block->stack_map = bi->stack_map;
    bi->block->stack_map_size = bi->stack_map_size;
    return 0;
}

struct block_release {
    struct gate_block *block, *retired;
};

static uintptr_t clear_block(void *arg)
{
    struct block_release *r = arg;
    struct gate_block *b = r->block, *retired = r->retired, copy = *b;
    __atomic_fetch_add(&retired->entries, copy.entries, __ATOMIC_RELAXED);
    __atomic_fetch_add(&retired->callbacks, copy.callbacks, __ATOMIC_RELAXED);
    __atomic_fetch_add(&retired->nested, copy.nested, __ATOMIC_RELAXED);
    for (int i = 0; i < GC_N; i++)
        __atomic_fetch_add(&retired->counter[i], copy.counter[i], __ATOMIC_RELAXED);
    uint64_t longest = __atomic_load_n(&retired->longest_deferral_ns, __ATOMIC_RELAXED);
    while (copy.longest_deferral_ns > longest &&
           !__atomic_compare_exchange_n(&retired->longest_deferral_ns, &longest, copy.longest_deferral_ns, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    memset(b, 0, GATE_FIELDS);
    /* Back to a reserved, untagged hole until another thread takes the slot. */
    trusted_mmap((void *)copy.stack_map, copy.stack_map_size, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
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

/* Block 0 of each domain belongs to no thread: it keeps the counts of the
 * threads that have exited (in the domain's memory, like every block). */
#define RETIRED_BLOCK 0

static long claim_slot(unsigned slot)
{
    long found = -1;
    pthread_mutex_lock(&slot_lock);
    slot_used[slot][0] |= 1ull << RETIRED_BLOCK;
    for (size_t w = 0; w < blocks_n[slot] / 64 && found < 0; w++)
        if (~slot_used[slot][w]) {
            int bit = __builtin_ctzll(~slot_used[slot][w]);
            slot_used[slot][w] |= 1ull << bit;
            found = (long)(w * 64 + (size_t)bit);
        }
    pthread_mutex_unlock(&slot_lock);
    return found;
}

static void release_slot(unsigned slot, size_t i)
{
    pthread_mutex_lock(&slot_lock);
    slot_used[slot][i / 64] &= ~(1ull << (i % 64));
    pthread_mutex_unlock(&slot_lock);
}

void protect_thread_first_entry(unsigned slot)
{
    const struct domain_gate *dg = &table.domain[slot];
    if (pku_dry_run() && !protect_emulated_pkru)
        protect_emulated_pkru = pku_read(); /* the dry gate reads the word itself */
    if (dg->pkru == GATE_UNUSED_PKRU)
        protect_fatal("gate of an unknown domain %u called", slot);
    size_t map_size = STACK_MAP_SIZE;
    long i = claim_slot(slot);
    void *map = i < 0 ? NULL : (void *)(stacks_lo(slot) + (uintptr_t)i * STACK_MAP_SIZE);
    if (!map ||
        pku_mprotect((char *)map + PAGE, DOMAIN_STACK_SIZE, PROT_READ | PROT_WRITE, domain_key((int)slot)) != 0)
        protect_fatal("%s: cannot make a domain stack for this thread", domain_name((int)slot));
    struct block_init bi = {
        .block = (struct gate_block *)(dg->blocks_lo + ((uint64_t)i << GB_SHIFT)),
        .owner = fs_base(), .stack_map = (uint64_t)map, .stack_map_size = map_size,
    };
    with_domain_open((int)slot, init_block, &bi);
    protect_blocks[slot] = bi.block;
    if (table.thread_started)
        table.thread_started(); /* signals may now come while on a domain stack */
    pthread_once(&thread_exit_once, make_exit_key);
    pthread_setspecific(thread_exit_key, (void *)1);
}

void gate_blocks_release_thread(void)
{
    if (table.thread_exiting)
        table.thread_exiting();
    for (unsigned slot = 0; slot < MAX_DOMAINS; slot++) {
        struct gate_block *b = protect_blocks[slot];
        if (!b)
            continue;
        protect_blocks[slot] = NULL;
        struct block_release r = {b, (struct gate_block *)table.domain[slot].blocks_lo + RETIRED_BLOCK};
        with_domain_open((int)slot, clear_block, &r);
        release_slot(slot, ((uint64_t)b - table.domain[slot].blocks_lo) >> GB_SHIFT);
    }
}

void gate_regions(int slot, struct gate_regions *r)
{
    r->blocks_lo = table.domain[slot].blocks_lo;
    r->blocks_size = table.domain[slot].blocks_size;
    r->stacks_lo = stacks_lo(slot);
    r->stacks_size = stacks_lo(slot) ? blocks_n[slot] * STACK_MAP_SIZE : 0;
}

struct counts_read {
    const struct domain_gate *dg;
    struct gate_counts *c;
};

static uintptr_t sum_counts(void *arg)
{
    struct counts_read *r = arg;
    const struct gate_block *b = (const struct gate_block *)r->dg->blocks_lo;
    for (size_t i = 0; i < BLOCKS_PER_DOMAIN; i++)
        if (slot_used[r->dg->index][i / 64] & (1ull << (i % 64))) {
            r->c->entries += __atomic_load_n(&b[i].entries, __ATOMIC_RELAXED);
            r->c->callbacks += __atomic_load_n(&b[i].callbacks, __ATOMIC_RELAXED);
            r->c->nested += __atomic_load_n(&b[i].nested, __ATOMIC_RELAXED);
            for (int k = 0; k < GC_N; k++)
                r->c->counter[k] += __atomic_load_n(&b[i].counter[k], __ATOMIC_RELAXED);
            uint64_t l = __atomic_load_n(&b[i].longest_deferral_ns, __ATOMIC_RELAXED);
            if (l > r->c->longest_deferral_ns)
                r->c->longest_deferral_ns = l;
        }
    return 0;
}

void gate_counts(int slot, struct gate_counts *c)
{
    *c = (struct gate_counts){0};
    if (table.domain[slot].blocks_lo)
        with_domain_open(slot, sum_counts, &(struct counts_read){&table.domain[slot], c});
}

struct count_add {
    int slot;
    int which; /* -1: a deferral of NS */
    uint64_t n;
};

static uintptr_t add_count(void *arg)
{
    struct count_add *a = arg;
    struct gate_block *b = gate_block_checked(a->slot);
    if (!b) /* not a thread of this domain: the shared block, atomically */
        b = (struct gate_block *)table.domain[a->slot].blocks_lo + RETIRED_BLOCK;
    if (a->which >= 0) {
        __atomic_fetch_add(&b->counter[a->which], a->n, __ATOMIC_RELAXED);
        return 0;
    }
    uint64_t longest = __atomic_load_n(&b->longest_deferral_ns, __ATOMIC_RELAXED);
    while (a->n > longest && !__atomic_compare_exchange_n(&b->longest_deferral_ns, &longest, a->n, false,
                                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    return 0;
}

void gate_count(int slot, enum gate_counter which, uint64_t n)
{
    if (slot >= 0 && slot < MAX_DOMAINS && table.domain[slot].blocks_lo)
        with_domain_open(slot, add_count, &(struct count_add){slot, (int)which, n});
}

void gate_count_deferral(int slot, uint64_t ns)
{
    if (slot >= 0 && slot < MAX_DOMAINS && table.domain[slot].blocks_lo)
        with_domain_open(slot, add_count, &(struct count_add){slot, -1, ns});
}
