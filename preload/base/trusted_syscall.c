#define _GNU_SOURCE
#include "base/trusted_syscall.h"

#include "base/sealed.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern const uint8_t protect_trusted_code_start[], protect_trusted_code_end[];
extern const uint64_t protect_trusted_syscall_offset, protect_trusted_restorer_offset;

typedef long (*raw_syscall_fn)(long, long, long, long, long, long, long);
/* Where the page is, sealed: a pointer to it in writable memory was one
 * the application could point at its own function, which libprotect then
 * called inside a service with a library's rights (attack page_pointer). */
static SEALED union {
    struct {
        raw_syscall_fn call;
        uintptr_t lo;
    } v;
    char pages[4096];
} page;
#define page_syscall (page.v.call)
#define page_lo (page.v.lo)

static long direct_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    long r = syscall(nr, a0, a1, a2, a3, a4, a5);
    return r == -1 ? -errno : r;
}

int trusted_page_init(void)
{
    if (page_lo)
        return 0;
    uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    memset(p, 0xcc, 4096);
    memcpy(p, protect_trusted_code_start, (size_t)(protect_trusted_code_end - protect_trusted_code_start));
    if (mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
        return -1;
    sealed_open();
    page_lo = (uintptr_t)p;
    page_syscall = (raw_syscall_fn)(p + protect_trusted_syscall_offset);
    sealed_close();
    return 0;
}

void trusted_page_range(uintptr_t *lo, uintptr_t *hi)
{
    *lo = page_lo;
    *hi = page_lo ? page_lo + 4096 : 0;
}

void *trusted_restorer(void)
{
    return page_lo ? (void *)(page_lo + protect_trusted_restorer_offset) : NULL;
}

long trusted_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    return page_syscall ? page_syscall(nr, a0, a1, a2, a3, a4, a5) : direct_syscall(nr, a0, a1, a2, a3, a4, a5);
}

static long as_libc(long r)
{
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

int trusted_mprotect(void *addr, size_t len, int prot)
{
    return (int)as_libc(trusted_syscall(SYS_mprotect, (long)addr, (long)len, prot, 0, 0, 0));
}

int trusted_pkey_mprotect(void *addr, size_t len, int prot, int key)
{
    return (int)as_libc(trusted_syscall(SYS_pkey_mprotect, (long)addr, (long)len, prot, key, 0, 0));
}

int trusted_munmap(void *addr, size_t len)
{
    return (int)as_libc(trusted_syscall(SYS_munmap, (long)addr, (long)len, 0, 0, 0, 0));
}

int trusted_madvise(void *addr, size_t len, int advice)
{
    return (int)as_libc(trusted_syscall(SYS_madvise, (long)addr, (long)len, advice, 0, 0, 0));
}

void *trusted_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    long r = trusted_syscall(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
    return r < 0 && r > -4096 ? (errno = (int)-r, MAP_FAILED) : (void *)r;
}
