/* PKU primitives: PKRU access and the pkey system calls. */
#ifndef LIBPROTECT_PKU_H
#define LIBPROTECT_PKU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/trusted_syscall.h"

static inline uint32_t pku_read(void)
{
    uint32_t eax, edx;
    __asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
    return eax;
}

/* PKRU bits of KEY: access-disable (2k) and write-disable (2k+1). */
static inline uint32_t pku_key_bits(int key, bool no_read)
{
    return (no_read ? 3u : 2u) << (2 * key);
}

static inline uint32_t pku_key_mask(int key)
{
    return 3u << (2 * key);
}

static inline int pku_alloc(void)
{
    return (int)trusted_syscall(SYS_pkey_alloc, 0, 0, 0, 0, 0, 0);
}

static inline int pku_mprotect(void *addr, size_t len, int prot, int key)
{
    return trusted_pkey_mprotect(addr, len, prot, key);
}

/* Sets PKRU to VALUE and checks that it took; every WRPKRU in libprotect's
 * C code goes through here (the gates have their own, equally checked). */
void pku_write_checked(uint32_t value);

#endif
