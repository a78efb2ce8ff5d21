/* Memory within rel32 reach (+-2 GB) of a library, for its stubs and
 * relocated prologues. */
#ifndef LIBPROTECT_NEAR_MAP_H
#define LIBPROTECT_NEAR_MAP_H

#include <stddef.h>
#include <stdint.h>

/* Maps SIZE bytes read-write so that every byte is within 1.5 GB of every
 * byte of [LO, HI).  Returns NULL when no such room is free. */
void *near_map(uintptr_t lo, uintptr_t hi, size_t size);

#endif
