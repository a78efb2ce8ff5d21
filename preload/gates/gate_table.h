/* The data the gates trust: a read-only table of domains, and one block and
 * domain stack per thread and domain, kept in the domain's own memory. */
#ifndef LIBPROTECT_GATE_TABLE_H
#define LIBPROTECT_GATE_TABLE_H

#include "gates/gate_layout.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* General-purpose registers as the gate's slow paths save them. */
struct saved_regs {
    uint64_t rdi, rsi, rdx, rcx, r8, r9, rax, r11;
    uint8_t xmm[8][16];
};

struct domain_gate {
    uint32_t pkru;
    uint32_t index;
    uint64_t n_funcs;
    const uint64_t *targets;
    uint64_t blocks_lo;
    uint64_t blocks_size;
    const uint64_t *cb_targets; /* application functions behind callback stubs */
    uint64_t cb_count;
    uint32_t open_pkru;         /* rights of an open callback (gate_layout.h) */
    uint32_t cb_stack_slots;    /* stack-argument slots a callback gets copied (0-8) */
    const uint64_t *open_cb_targets;
    uint64_t open_cb_count;
    uint64_t stacks_lo;         /* the per-thread stacks, for the block's claim */
    uint64_t stack_stride;      /* bytes of them per thread */
    uint8_t pad[(1 << DG_SHIFT) - 96];
};

struct gate_table {
    struct domain_gate domain[MAX_DOMAINS];
    uint32_t app_pkru;
    uint32_t lib_keys; /* both PKRU bits of every key a domain owns */
    /* libprotect's services (gate_layout.h, services.h), by number. */
    uintptr_t (*services[N_SERVICES])(int slot, void *io);
    /* What a thread's first entry and its exit also need from the layers
     * above (signals: the key-0 alternate stack), passed in at start; here,
     * in the read-only page, so that nobody can redirect them. */
    void (*thread_started)(void);
    void (*thread_exiting)(void);
    /* Learning (learn/): sees every entry's arguments before they are
     * wrapped, and may replace some (with its own stubs in front of
     * callback stubs). */
    void (*observe_entry)(int slot, size_t func, struct saved_regs *regs, uint64_t *sp);
    /* The runtime domain's services (RT_SLOT), by number. */
    uintptr_t (*rt_services[N_SERVICES])(int slot, void *io);
    /* Memory of the runtime key (its cookie, stacks, signal frames): no
     * library reads it for the application (check_pointers). */
    uint64_t runtime_regions[4][2];
};

/* The table sits alone in its page, so that it can be made read-only. */
union gate_page {
    struct gate_table t;
    uint8_t bytes[4096];
};
extern union gate_page protect_gate_page;

static inline uint32_t app_rights(void)
{
    return protect_gate_page.t.app_pkru;
}

/* Whether PKRU opens no protected library's key more than the
 * application's rights do. */
bool rights_within_app(uint32_t pkru);

/* Whether rights PKRU may write the runtime domain's memory (RT_SLOT, when
 * libprotect's runtime has a key): only the runtime domain's own do. */
bool rights_of_runtime(uint32_t pkru);

struct gate_block {
    uint64_t owner;      /* fs base of the owning thread, 0 when free */
    uint64_t sp;         /* the innermost entry's frame lies just below; bit 0: GB_SP_INSIDE (gate_layout.h) */
    uint64_t cb_lib_sp;
    uint64_t cb_depth;
    uint64_t stack_map;  /* the domain stack mapping, guard page included */
    uint64_t stack_map_size;
    uint64_t entries;    /* this thread's gate entries and callbacks: the */
    uint64_t callbacks;  /* gate's plain increments, summed by readers */
    uint64_t out_calls;  /* calls of this library into another under way: the way back needs one, to its stack */
    uint64_t counter[GB_N_COUNTERS]; /* enum gate_counter: rarer events (gate_count) */
    uint64_t longest_deferral_ns;
    uint64_t nested;     /* entries that took the nesting path (the gate's increments) */
    uint64_t sp_moves[8]; /* sp before each lowering for a signal delivered inside (gate_block_lower_sp) */
    uint64_t n_sp_moves;
    uint64_t svc_depth;  /* services of this thread now running in this domain (gate.S) */
    uint64_t out_sp[GB_OUT_SP_N]; /* the stack each call out (out_calls) left from: the way back returns there */
    /* memory/'s per-thread cache of free heap blocks (opaque here): kept
     * with the block slot, so a thread that takes the slot later reuses it. */
    uint8_t heap_cache[512];
    uint8_t pad2[(1 << GB_SHIFT) - 256 - 512];
};


extern __thread struct gate_block *protect_blocks[MAX_DOMAINS]
    __attribute__((tls_model("initial-exec")));

/* The gate's assembly entry points. */
void protect_gate_entry(void);
void protect_gate_entry_callbacks(void);
void protect_gate_denied(void);
void protect_callback_gate(void);
void protect_gate_broken(void);
void protect_gate_broken_trap(void); /* the ud2 where failed checks stop */
void protect_gate_busy_trap(void);   /* ... and an entry into a block already inside */
void protect_gate_bad_block_trap(void); /* ... and a service asked for with a forged block pointer */
void protect_gate_contained(void);   /* the gate's way out after a contained fault */
void protect_gate_exit_ret(void);    /* the final ret: where deferred signals go out */

/* The same gates built for dry run (gate_dry.S: PKRU is a per-thread word). */
void protect_gate_entry_dry(void);
void protect_gate_entry_callbacks_dry(void);
void protect_callback_gate_dry(void);
void protect_gate_contained_dry(void);
void protect_gate_exit_ret_dry(void);

/* The build of the gates this run uses, chosen once at start (base/pku.h). */
struct gate_code {
    void (*entry)(void);
    void (*entry_callbacks)(void);
    void (*callback)(void);
    void (*contained)(void); /* the way out after a contained fault */
    void (*exit_ret)(void);  /* the final ret, where deferred signals go out */
};
const struct gate_code *gate_code(void);

/* Makes the table writable for an update, then read-only again. */
void gate_table_unlock(void);
void gate_table_lock(void);

/* Reserves the per-thread block region of domain SLOT (tagged with KEY) and
 * records it in the table.  0 on success. */
int gate_blocks_init(int slot, int key);

/* Where domain SLOT's per-thread blocks and stacks lie (for the filter). */
struct gate_regions {
    uintptr_t blocks_lo, blocks_size, stacks_lo, stacks_size;
};
void gate_regions(int slot, struct gate_regions *r);

/* Sets the table's observe_entry (once, at start, when learning): every
 * gated entry then takes the slow path that wraps callback arguments. */
void gate_table_set_entry_observer(void (*observe)(int, size_t, struct saved_regs *, uint64_t *));

/* Records [LO, HI) as memory of the runtime key (at start). */
void gate_table_add_runtime_region(uintptr_t lo, uintptr_t hi);
/* Whether [LO, HI) touches it. */
bool in_runtime_region(uintptr_t lo, uintptr_t hi);

/* Sets the table's thread_started and thread_exiting (once, at start). */
void gate_table_set_thread_hooks(void (*started)(void), void (*exiting)(void));

/* Called by the gate the first time a thread enters domain SLOT. */
void protect_thread_first_entry(unsigned slot);

/* The function index of B's innermost entry (read with the domain open). */
static inline uint64_t gate_block_func(const struct gate_block *b)
{
    return *(const uint64_t *)((b->sp & ~(uint64_t)GB_SP_INSIDE) - FRAME_FUNC);
}

/* The calling thread's block of domain SLOT, checked as the gate checks it
 * (in the domain's block region, aligned, owned by this thread), or NULL.
 * Only with the domain open.  (Inline: malloc and free ask it each time.) */
static inline struct gate_block *gate_block_checked(int slot)
{
    struct gate_block *b = protect_blocks[slot];
    const struct domain_gate *dg = &protect_gate_page.t.domain[slot];
    uintptr_t off = (uintptr_t)b - dg->blocks_lo;
    if (!b || off >= dg->blocks_size || (off & ((1u << GB_SHIFT) - 1)))
        return NULL;
    uint64_t fs;
    __asm__ volatile("rdfsbase %0" : "=r"(fs));
    return b->owner == fs ? b : NULL;
}

/* Domain SLOT's gate entries and callbacks so far, every thread's (those
 * that have exited included). */
enum gate_counter {
    GC_TRAP_ENTRIES, /* entries through an int3 */
    GC_DENIED,       /* calls of a denied export */
    GC_DEFERRED,     /* signals that waited for the thread to leave the library */
    GC_BOUND_HITS,   /* deferrals that ran out of time */
    GC_FAULTS,       /* the library's own crashes */
    GC_CONTAINED,    /* ... of which contained */
    GC_BLOCKED,      /* accesses of the application that the key stopped */
    GC_N
};
struct gate_counts {
    uint64_t entries, nested, callbacks, counter[GC_N], longest_deferral_ns;
};
void gate_counts(int slot, struct gate_counts *c);

/* Counts N events of kind WHICH for domain SLOT in this thread's block (or,
 * if it has none, the domain's block of exited threads), and keeps the
 * longest deferral.  For slow paths (faults, signals): opens the domain. */
void gate_count(int slot, enum gate_counter which, uint64_t n);
void gate_count_deferral(int slot, uint64_t ns);

/* Frees the calling thread's blocks and domain stacks (thread exit). */
void gate_blocks_release_thread(void);
/* Has gate_blocks_release_thread (thread_exiting, then the blocks) run
 * when the calling thread ends. */
void gate_table_watch_thread_exit(void);

/* Registers the gates' own services (services.h), once, at start. */
void gate_table_init_services(void);

/* A signal delivered while this thread is inside domain SLOT: entries from
 * its handler must put their frames below SP (the interrupted library's
 * stack pointer, less a margin), not over the library's frames.  Only ever
 * lowers, within this thread's own domain stack, and remembers the old
 * place in the block (the domain's memory); false if it did not move.
 * gate_block_raise_sp puts back the last lowering. */
bool gate_block_lower_sp(int slot, uint64_t sp);
void gate_block_raise_sp(int slot);
/* Where this thread's innermost entry into SLOT left its frame (0: none). */
uint64_t gate_block_sp(int slot);

#endif
