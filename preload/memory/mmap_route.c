/* mmap from inside a domain (LMDB's map, SQLite's mmap I/O, a library's own
 * arenas) gets the domain's key, like its heap. */
#define _GNU_SOURCE
#include "domains.h"
#include "gate_table.h"
#include "pku.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *tag_if_inside(void *p, size_t len, int prot)
{
    if (p == MAP_FAILED || !protect_active || (prot & PROT_EXEC))
        return p;
    uint32_t rights = pku_read();
    if (rights == app_rights())
        return p;
    struct domain *d = domain_for_rights(rights);
    if (d)
        pku_mprotect(p, len, prot, d->key);
    return p;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    if ((unsigned long)p > -4096ul) {
        errno = -(int)(long)p;
        return MAP_FAILED;
    }
    return tag_if_inside(p, len, prot);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));
