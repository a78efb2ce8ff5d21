/* The protected libraries of this process: one domain each, with its key,
 * its policy, its heap and its gated functions. */
#ifndef LIBPROTECT_DOMAINS_H
#define LIBPROTECT_DOMAINS_H

#include "gates/gate_layout.h"
#include "gates/gate_table.h"
#include "policy.h"
#include "base/sealed.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct domain_heap;
struct map_region;
struct thread_token;

/* One gated function: an export (or a destructor the loader calls). */
struct gated_func {
    const char *name;       /* for reports */
    uintptr_t entry;        /* the patched address (after ENDBR64) */
    uintptr_t stub;         /* where the entry jumps */
    bool heap_app;          /* allocations inside belong to the application */
    unsigned callbacks;     /* bit N-1: argument N is a callback */
    unsigned open_callbacks; /* ... of those, the open ones (gate_layout.h) */
    struct policy_pointer pointers[POLICY_MAX_POINTERS]; /* checked outside its memory */
    unsigned n_pointers;
};

struct domain {
    int slot, key;
    bool attached;
    bool seen;              /* found loaded by the current rescan */
    struct policy policy;
    const char *name;       /* soname or file name, for messages */
    dev_t dev;
    ino_t ino;
    uintptr_t base;         /* load bias of the attached object */
    uintptr_t text_lo, text_hi; /* its executable segment(s) */
    uintptr_t image_lo, image_hi; /* all its segments */
    struct domain_heap *heap;
    uintptr_t heap_lo, heap_hi;
    struct map_region *maps; /* where it maps memory after start (memory/map_region.h) */
    uintptr_t maps_lo, maps_hi;
    long tagged_bytes;        /* of its segments, at the last attach (telemetry) */
    struct gated_func *funcs;
    size_t n_funcs, cap_funcs;
    uint64_t *targets;      /* read-only after attach; | TARGET_CHECK_ARGS (below) */
    bool any_heap_app;      /* some gated function has heap = app (malloc asks which, else not) */
    uintptr_t stacks_lo;    /* the reserved region of its per-thread stacks */
    uintptr_t near_lo, near_size, near_used; /* stubs and trampolines */
    struct thread_token *thread_tokens; /* threads it starts (gates/threads.h), in its memory */
    uintptr_t thread_stub;  /* its thread gate: how they enter it */
};

/* The registry, sealed (sealed.h): written only between sealed_open() and
 * sealed_close(). */
struct domain_registry {
    struct domain domains[MAX_DOMAINS];
    int n_domains;
    bool active;            /* PKU in use: at least one domain attached */
};
union sealed_domain_registry {
    struct domain_registry v;
    char pages[SEALED_PAGES(struct domain_registry)];
};
extern union sealed_domain_registry protect_registry;
#define protect_domains (protect_registry.v.domains)
#define protect_n_domains (protect_registry.v.n_domains)
#define protect_active (protect_registry.v.active)

int domain_key(int slot);
const char *domain_name(int slot);

/* The domain whose rights RIGHTS are (the innermost library running on
 * this thread), or NULL for the application's rights.  (Inline, like the
 * next: malloc and free ask them each time.) */
static inline struct domain *domain_for_rights(uint32_t rights)
{
    for (int i = 0; i < protect_n_domains; i++)
        if (protect_domains[i].attached && protect_gate_page.t.domain[i].pkru == rights)
            return &protect_domains[i];
    return NULL;
}

/* The domain whose heap holds ADDR, or NULL. */
static inline struct domain *domain_of_heap(uintptr_t addr)
{
    for (int i = 0; i < protect_n_domains; i++)
        if (addr - protect_domains[i].heap_lo < protect_domains[i].heap_hi - protect_domains[i].heap_lo)
            return &protect_domains[i];
    return NULL;
}
/* The domain whose writable memory or heap holds ADDR (for reports), or NULL. */
struct domain *domain_of_key(int key);

#endif
