#define _GNU_SOURCE
#include "base/trusted_syscall.h"

#include "base/sealed.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern const uint8_t protect_trusted_code_start[], protect_trusted_code_end[];
extern const uint64_t protect_trusted_syscall_offset, protect_trusted_restorer_offset,
    protect_trusted_cookie_call_offset;

typedef long (*raw_syscall_fn)(long, long, long, long, long, long, long);
typedef long (*cookie_call_fn)(long, long, long, long, long, long, long, const uint64_t *, long);
/* Where the page is, sealed: a pointer to it in writable memory was one
 * the application could point at its own function, which libprotect then
 * called inside a service with a library's rights (attack page_pointer).
 * The cookie's place and the forward, likewise. */
static SEALED union {
    struct {
        raw_syscall_fn call;
        uintptr_t lo;
        cookie_call_fn cookie_call;
        const uint64_t *cookie_at;
        long (*forward)(long nr, const long *a);
        int (*traps)(long nr, const long *a);
        long (*carry)(long nr, int reason, const long *a);
        int key;
        bool required, block_signals;
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
    page.v.cookie_call = (cookie_call_fn)(p + protect_trusted_cookie_call_offset);
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

bool trusted_memory_call(long nr)
{
    switch (nr) {
    case SYS_mmap:
    case SYS_mprotect:
    case SYS_pkey_mprotect:
    case SYS_munmap:
    case SYS_madvise:
    case SYS_mremap:
    case SYS_pkey_alloc:
    case SYS_pkey_free:
    case SYS_shmat:
    case SYS_shmdt:
    case SYS_remap_file_pages:
    case SYS_process_madvise:
        return true;
    default:
        return false;
    }
}

/* Calls of six arguments whose first is a descriptor (an int to the
 * kernel): the cookie's low half goes in its high half. */
static const long first_arg_calls[] = {SYS_sendto, SYS_recvfrom, SYS_preadv2, SYS_pwritev2,
                                       SYS_splice, SYS_copy_file_range, SYS_epoll_pwait};

int trusted_cookie_slot(long nr)
{
    if (nr == SYS_mmap)
        return TRUSTED_SLOT_ARG4_HIGH;
    for (size_t i = 0; i < sizeof first_arg_calls / sizeof *first_arg_calls; i++)
        if (first_arg_calls[i] == nr)
            return TRUSTED_SLOT_ARG0_HIGH;
    return TRUSTED_SLOT_ARG5;
}

const long *trusted_first_arg_calls(size_t *n)
{
    *n = sizeof first_arg_calls / sizeof *first_arg_calls;
    return first_arg_calls;
}

void trusted_page_use_cookie(const uint64_t *cookie_at, int key, const struct trusted_routes *routes)
{
    sealed_open();
    page.v.cookie_at = cookie_at;
    page.v.key = key;
    page.v.forward = routes->memory;
    page.v.traps = routes->traps;
    page.v.carry = routes->carry;
    sealed_close();
}

void trusted_page_require_cookie(bool block_signals)
{
    sealed_open();
    page.v.required = page.v.cookie_at != NULL;
    page.v.block_signals = block_signals;
    sealed_close();
}

bool trusted_cookie_readable(void)
{
    if (!page.v.cookie_at)
        return false;
    uint32_t pkru;
    __asm__ volatile("rdpkru" : "=a"(pkru) : "c"(0) : "rdx");
    return !((pkru >> (2 * page.v.key)) & 1);
}

bool trusted_cookie_required(void)
{
    return page.v.required;
}

bool trusted_page_needs_runtime(void)
{
    return page.v.required && !trusted_cookie_readable();
}

/* A call with the cookie, every signal blocked around it where a frame
 * written meanwhile (the cookie in it) would lie where the application
 * reads. */
static long cookie_call(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    uint64_t all = ~0ull, saved;
    if (page.v.block_signals)
        page_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&saved, sizeof all, 0, 0);
    long r = page.v.cookie_call(nr, a0, a1, a2, a3, a4, a5, page.v.cookie_at, trusted_cookie_slot(nr));
    if (page.v.block_signals)
        page_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&saved, 0, sizeof saved, 0, 0);
    return r;
}

/* Once the cookie is required, the page's calls without it are judged as
 * the application's: a call the page wants the cookie with carries it
 * where this thread can read it, else goes to the runtime domain (a
 * memory call to RT_MEMORY, the rest to the application's trapped-call
 * service); the rest (what the filter lets the application make, and the
 * signal and thread calls the page lets through) goes out plainly. */
long trusted_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    if (page.v.required) {
        const long a[6] = {a0, a1, a2, a3, a4, a5};
        bool memory = trusted_memory_call(nr);
        int reason = memory ? 0 : page.v.traps(nr, a);
        if (memory || reason) {
            if (trusted_cookie_readable())
                return cookie_call(nr, a0, a1, a2, a3, a4, a5);
            return memory ? page.v.forward(nr, a) : page.v.carry(nr, reason, a);
        }
    }
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
