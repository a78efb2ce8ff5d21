/* What the memory subsystem's interposed calls let a layer above see. */
#ifndef LIBPROTECT_MEMORY_INTERPOSE_H
#define LIBPROTECT_MEMORY_INTERPOSE_H

#include "gates/domains.h"

#include <stdbool.h>
#include <stdint.h>

/* Calls ALLOC for every block a domain's heap hands out, with the index of
 * the gated function it was allocated in (UINT64_MAX if unknown), and asks
 * RELEASE whether the application may free or resize a block of a library's
 * heap that the policy did not give it (true: let it).  Once, at start,
 * before any library is attached. */
void memory_set_observers(void (*alloc)(const struct domain *d, uintptr_t block, uint64_t func),
                          bool (*release)(const struct domain *d, uintptr_t block));

/* Puts memory's services (gates/services.h) in the gate table, at start. */
void memory_register_services(void);

/* D's heap: bytes in use and the peak (telemetry). */
void domain_heap_usage_of(const struct domain *d, size_t *in_use, size_t *peak);
/* The block of D's heap that holds ADDR, or 0 (learning). */
uintptr_t domain_heap_block_at(const struct domain *d, uintptr_t addr);

/* Reserves D's map region (map_interpose.c), with D's key open for the
 * calling thread.  Returns 0, or -1. */
int domain_maps_reserve(struct domain *d);

#endif
