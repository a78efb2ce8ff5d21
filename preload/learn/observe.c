/* What a learning run watches: for each gated entry the application makes,
 * its calls and the arguments that point at the start of an application
 * function (callback candidates: each is replaced by a stub of ours, an
 * int3 in front of a jump to the callback stub, so that the callback runs
 * with the application's rights, its accesses are seen, and whether the
 * library calls it back is counted); for each heap block a library hands
 * out, the gated function it was made in; the register arguments that point
 * into the application's memory (pointers = candidates) or a library's. */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include "learn/learn.h"

#include "base/trusted_syscall.h"
#include "base/pku.h"
#include "gates/callbacks.h"
#include "log.h"
#include "memory/interpose.h"
#include "signals/faults.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_ARGS 12 /* six in registers, six on the stack */
#define MAX_CANDIDATES 4096
#define ALLOC_SLOTS (1u << 20)

struct candidate {
    int slot;
    size_t func;
    int argpos;
    uintptr_t fn;
    unsigned long count;  /* entries that passed it */
    unsigned long called; /* times the library called it back */
};

/* The stubs, one per candidate, 16 bytes each in code pages written once:
 *   int3                          cc
 *   jmp [rip + PAGE - 7]          ff 25 f9 0f 00 00   (the callback stub, in the data page) */
#define PAGE 4096
#define STUB_SIZE 16
static const uint8_t stub_code[STUB_SIZE] = {0xcc, 0xff, 0x25, 0xf9, 0x0f, 0x00, 0x00, 0x90,
                                             0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90};
static uint8_t *stubs; /* MAX_CANDIDATES stubs, then as many data slots */
#define STUB_PAGES ((MAX_CANDIDATES * STUB_SIZE + PAGE - 1) / PAGE)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long *calls[MAX_DOMAINS]; /* per gated function */
static unsigned long *released[MAX_DOMAINS]; /* blocks allocated in it that the application freed */
/* Per gated function and register argument: calls in which it pointed into
 * the application's memory, and into a library's (a handle). */
struct pointer_seen {
    unsigned long app[6], lib[6];
};
static struct pointer_seen *pointers_seen[MAX_DOMAINS];
static size_t calls_n[MAX_DOMAINS];
static struct candidate candidates[MAX_CANDIDATES];
static size_t n_candidates;
/* block -> slot << 32 | function + 1, open addressing; 0: empty */
static uintptr_t *alloc_keys;
static uint64_t *alloc_vals;

/* Whether V is the first instruction of a function outside D and libprotect
 * (its unwind information starts there): a return address or a pointer
 * into data is not. */
static bool application_function(const struct domain *d, uintptr_t v)
{
    if (v < 4096 || (v >= d->text_lo && v < d->text_hi) || (v >= d->near_lo && v < d->near_lo + d->near_size))
        return false;
    unw_proc_info_t pi;
    if (unw_get_proc_info_by_ip(unw_local_addr_space, v, &pi, NULL) != 0 || pi.start_ip != v)
        return false;
    /* Not libprotect, and not the loader: nobody hands a library the loader's
     * internals (a leftover register pointing there is not an argument). */
    Dl_info self, info;
    return dladdr((void *)v, &info) && dladdr((void *)application_function, &self) &&
           info.dli_fbase != self.dli_fbase && info.dli_fname && !strstr(info.dli_fname, "/ld-linux");
}

/* The stubs' code (each page followed by its data page: code page I at
 * stubs + 2 I PAGE).  Lock held. */
static bool make_stubs(void)
{
    if (stubs)
        return true;
    uint8_t *p = trusted_mmap(NULL, 2 * STUB_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    for (size_t page = 0; page < STUB_PAGES; page++) {
        for (size_t i = 0; i < PAGE / STUB_SIZE; i++)
            memcpy(p + 2 * page * PAGE + i * STUB_SIZE, stub_code, STUB_SIZE);
        trusted_mprotect(p + 2 * page * PAGE, PAGE, PROT_READ | PROT_EXEC);
    }
    stubs = p;
    return true;
}

static uint8_t *stub_of(size_t i)
{
    return stubs + 2 * (i / (PAGE / STUB_SIZE)) * PAGE + (i % (PAGE / STUB_SIZE)) * STUB_SIZE;
}

/* Per-function counts of domain SLOT for N functions.  Lock held. */
static void grow_counts(int slot, size_t n)
{
    if (calls[slot] && calls_n[slot] >= n)
        return;
    unsigned long *c = calloc(n, sizeof *c), *r = calloc(n, sizeof *r);
    struct pointer_seen *p = calloc(n, sizeof *p);
    if (!c || !r || !p) {
        free(c);
        free(r);
        free(p);
        return;
    }
    if (calls[slot]) {
        memcpy(c, calls[slot], calls_n[slot] * sizeof *c);
        memcpy(r, released[slot], calls_n[slot] * sizeof *r);
        memcpy(p, pointers_seen[slot], calls_n[slot] * sizeof *p);
    }
    free(calls[slot]);
    free(released[slot]);
    free(pointers_seen[slot]);
    calls[slot] = c, released[slot] = r, pointers_seen[slot] = p, calls_n[slot] = n;
}

bool observe_release(const struct domain *d, uintptr_t block)
{
    uint64_t func = observed_alloc_func(d, block);
    pthread_mutex_lock(&lock);
    grow_counts(d->slot, d->n_funcs);
    if (func < calls_n[d->slot])
        released[d->slot][func]++;
    pthread_mutex_unlock(&lock);
    return true; /* audit: let it through */
}

bool observe_trap(const siginfo_t *si, ucontext_t *uc)
{
    uintptr_t at = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP] - 1; /* past the int3 */
    if (!stubs || at - (uintptr_t)stubs >= 2 * STUB_PAGES * PAGE || (at - (uintptr_t)stubs) / PAGE % 2)
        return false;
    size_t i = (at - (uintptr_t)stubs) / PAGE / 2 * (PAGE / STUB_SIZE) + (at - (uintptr_t)stubs) % PAGE / STUB_SIZE;
    if (i < n_candidates)
        __atomic_fetch_add(&candidates[i].called, 1, __ATOMIC_RELAXED);
    return true; /* on to the jump */
}

/* Whether V is an address of mapped memory (a pointer, not a number). */
static bool mapped_address(uint64_t v)
{
    if (v < 0x10000 || v >= 0x800000000000ull)
        return false;
    return msync((void *)(uintptr_t)(v & ~4095ull), 1, MS_ASYNC) == 0;
}

static bool in_any_domain(uint64_t v)
{
    for (int i = 0; i < protect_n_domains; i++) {
        const struct domain *d = &protect_domains[i];
        if ((v >= d->image_lo && v < d->image_hi) || (v >= d->heap_lo && v < d->heap_hi) ||
            (v >= d->maps_lo && v < d->maps_hi))
            return true;
    }
    return false;
}

/* Register arguments that point into memory: the application's (a
 * pointers = candidate) or a library's (a handle it handed out). */
static void note_pointers(int slot, size_t func, const uint64_t *reg_args)
{
    if (!pointers_seen[slot] || func >= calls_n[slot])
        return;
    for (int n = 0; n < 6; n++) {
        if (!mapped_address(reg_args[n]))
            continue;
        if (in_any_domain(reg_args[n]))
            pointers_seen[slot][func].lib[n]++;
        else
            pointers_seen[slot][func].app[n]++;
    }
}

void observe_entry(int slot, size_t func, struct saved_regs *regs, uint64_t *sp)
{
    const struct domain *d = &protect_domains[slot];
    uint64_t *reg_args = &regs->rdi;
    if (pku_read() == protect_gate_page.t.domain[slot].pkru)
        return; /* the library calling its own export: not the application's use */
    pthread_mutex_lock(&lock);
    grow_counts(slot, d->n_funcs);
    if (calls[slot] && func < calls_n[slot])
        calls[slot][func]++;
    note_pointers(slot, func, reg_args);
    for (int n = 1; n <= MAX_ARGS && make_stubs(); n++) {
        uint64_t *arg = n <= 6 ? &reg_args[n - 1] : &sp[n - 6];
        if (!application_function(d, *arg))
            continue;
        size_t i = 0;
        while (i < n_candidates && !(candidates[i].slot == slot && candidates[i].func == func &&
                                     candidates[i].argpos == n && candidates[i].fn == *arg))
            i++;
        if (i == n_candidates && n_candidates < MAX_CANDIDATES) {
            uintptr_t target = callback_stub_for(&protect_domains[slot], *arg, false);
            memcpy(stub_of(i) + PAGE, &target, sizeof target);
            candidates[n_candidates++] = (struct candidate){slot, func, n, *arg, 0, 0};
        }
        if (i < n_candidates) {
            candidates[i].count++;
            *arg = (uint64_t)(uintptr_t)stub_of(i);
        }
    }
    pthread_mutex_unlock(&lock);
}

static size_t alloc_hash(uintptr_t block)
{
    return (size_t)((block * 0x9e3779b97f4a7c15ull) >> 44) & (ALLOC_SLOTS - 1);
}

void observe_alloc(const struct domain *d, uintptr_t block, uint64_t func)
{
    pthread_mutex_lock(&lock);
    if (!alloc_keys) {
        /* (called inside the domain: the interposed mmap would tag it) */
        alloc_keys = trusted_mmap(NULL, ALLOC_SLOTS * sizeof *alloc_keys, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        alloc_vals = trusted_mmap(NULL, ALLOC_SLOTS * sizeof *alloc_vals, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (alloc_keys == MAP_FAILED || alloc_vals == MAP_FAILED) {
            alloc_keys = NULL;
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    /* A full table keeps what it has: learning is a sample. */
    for (size_t i = alloc_hash(block), probes = 0; probes < 64; i = (i + 1) & (ALLOC_SLOTS - 1), probes++)
        if (!alloc_keys[i] || alloc_keys[i] == block) {
            alloc_keys[i] = block;
            alloc_vals[i] = (uint64_t)d->slot << 32 | (func == UINT64_MAX ? 0 : func + 1);
            break;
        }
    pthread_mutex_unlock(&lock);
}

uint64_t observed_alloc_func(const struct domain *d, uintptr_t addr)
{
    if (!alloc_keys || addr - d->heap_lo >= d->heap_hi - d->heap_lo)
        return UINT64_MAX;
    uintptr_t block = domain_heap_block_at(d, addr); /* the heap's map is the domain's */
    if (!block)
        return UINT64_MAX;
    for (size_t i = alloc_hash(block), probes = 0; probes < 64 && alloc_keys[i]; i = (i + 1) & (ALLOC_SLOTS - 1), probes++)
        if (alloc_keys[i] == block && (alloc_vals[i] >> 32) == (uint64_t)d->slot)
            return (alloc_vals[i] & 0xffffffffu) ? (alloc_vals[i] & 0xffffffffu) - 1 : UINT64_MAX;
    return UINT64_MAX;
}

long observed_callback_in(ucontext_t *uc)
{
    unw_cursor_t cursor;
    if (unw_init_local2(&cursor, uc, UNW_INIT_SIGNAL_FRAME) != 0)
        return -1;
    for (int depth = 0; depth < 16; depth++) {
        unw_proc_info_t pi;
        if (unw_get_proc_info(&cursor, &pi) == 0)
            for (size_t i = 0; i < n_candidates; i++)
                if (candidates[i].fn == pi.start_ip)
                    return (long)i;
        if (unw_step(&cursor) <= 0)
            break;
    }
    return -1;
}

bool observed_callback(long i, int *slot, size_t *func, int *argpos)
{
    if (i < 0 || (size_t)i >= n_candidates)
        return false;
    *slot = candidates[i].slot, *func = candidates[i].func, *argpos = candidates[i].argpos;
    return true;
}

void observe_write(FILE *f)
{
    pthread_mutex_lock(&lock);
    for (int s = 0; s < protect_n_domains; s++) {
        const struct domain *d = &protect_domains[s];
        if (d->key <= 0)
            continue;
        fprintf(f, "library %s\n", d->name);
        for (size_t i = 0; i < calls_n[s] && i < d->n_funcs; i++) {
            if (calls[s][i])
                fprintf(f, "calls %s %lu\n", d->funcs[i].name, calls[s][i]);
            if (released[s][i])
                fprintf(f, "freed %s %lu\n", d->funcs[i].name, released[s][i]);
            for (int n = 0; calls[s][i] && n < 6; n++)
                if (pointers_seen[s][i].app[n] || pointers_seen[s][i].lib[n])
                    fprintf(f, "pointer %s %d %lu %lu\n", d->funcs[i].name, n + 1, pointers_seen[s][i].app[n],
                            pointers_seen[s][i].lib[n]);
        }
        for (size_t i = 0; i < n_candidates; i++) {
            if (candidates[i].slot != s || candidates[i].func >= d->n_funcs)
                continue;
            char where[320];
            fault_describe_ip(candidates[i].fn, where, sizeof where);
            fprintf(f, "callback %s %d %lu %lu %s\n", d->funcs[candidates[i].func].name, candidates[i].argpos,
                    candidates[i].count, candidates[i].called, where);
        }
    }
    pthread_mutex_unlock(&lock);
}
