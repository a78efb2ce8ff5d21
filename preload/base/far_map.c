/* A domain's stacks and regions and the protected signal stacks are tens of
 * GiB of address space each.  Placed where the kernel puts mappings (just
 * below the libraries), they took the room within 2 GB of the next library
 * loaded that its gates need: Python loading SQLite after zlib failed so in
 * about 1 run in 20 ("no free memory within 2 GB of the library").  So they
 * go to a random place in the lower half of the address space, below the
 * program and its heap, where nothing is loaded. */
#define _GNU_SOURCE
#include "base/far_map.h"

#include "base/trusted_syscall.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>

#define FAR_LO 0x100000000000ull /* 16 TiB */
#define FAR_SPAN 0x300000000000ull /* to 64 TiB: the program lies above, at 0x55.. */
#define FAR_ALIGN (2ull << 20)

void *far_mmap(size_t size, int prot, int flags)
{
    for (int tries = 0; tries < 4; tries++) {
        uint64_t r;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
            break;
        uintptr_t at = (uintptr_t)((FAR_LO + r % FAR_SPAN) & ~(FAR_ALIGN - 1));
        /* (A kernel before 4.17 takes FIXED_NOREPLACE as a hint: wherever it lands.) */
        void *p = trusted_mmap((void *)at, size, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED)
            return p;
    }
    return trusted_mmap(NULL, size, prot, flags, -1, 0);
}
