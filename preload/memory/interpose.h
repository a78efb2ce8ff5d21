/* What the memory subsystem's interposed calls let a layer above see. */
#ifndef LIBPROTECT_MEMORY_INTERPOSE_H
#define LIBPROTECT_MEMORY_INTERPOSE_H

#include "gates/domains.h"

#include <stdint.h>

/* Calls OBSERVE for every block a domain's heap hands out, with the index
 * of the gated function it was allocated in (UINT64_MAX if unknown).
 * Once, at start, before any library is attached. */
void memory_set_alloc_observer(void (*observe)(const struct domain *d, uintptr_t block, uint64_t func));

#endif
