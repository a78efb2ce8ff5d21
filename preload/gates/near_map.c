/* Tries page-aligned candidates outward from the library, without ever
 * replacing an existing mapping (MAP_FIXED_NOREPLACE). */
#define _GNU_SOURCE
#include "gates/near_map.h"

#include <sys/mman.h>

#define REACH (1536ul << 20)
#define STEP (1ul << 20)

static void *try_at(uintptr_t at, size_t size)
{
    void *p = mmap((void *)at, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *near_map(uintptr_t lo, uintptr_t hi, size_t size)
{
    size = (size + 4095) & ~(size_t)4095;
    if (hi - lo + size > REACH)
        return NULL;
    uintptr_t above = (hi + STEP - 1) & ~(STEP - 1), below = (lo & ~(STEP - 1));
    for (uintptr_t d = 0; d < REACH - (hi - lo) - size; d += STEP) {
        void *p = try_at(above + d, size);
        if (p)
            return p;
        if (below > d + size && (p = try_at((below - d - size) & ~(uintptr_t)4095, size)))
            return p;
    }
    return NULL;
}
