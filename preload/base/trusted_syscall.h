/* libprotect's own system calls that the filter would refuse to anyone
 * else (changes to protected memory, pkey_mprotect, sigreturn), made from
 * a page of code that the filter does not watch. */
#ifndef LIBPROTECT_TRUSTED_SYSCALL_H
#define LIBPROTECT_TRUSTED_SYSCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Maps the page (once).  Returns 0, or -1 if it cannot be mapped. */
int trusted_page_init(void);
/* The page's range, for the filter (0, 0 before trusted_page_init). */
void trusted_page_range(uintptr_t *lo, uintptr_t *hi);
/* The sa_restorer for handlers (NULL before trusted_page_init). */
void *trusted_restorer(void);

/* The memory calls (mprotect, mmap, pkey_alloc...: those that change what
 * memory is and who may touch it) that the filter lets out of the trusted
 * page only with the runtime domain's cookie, once it is required. */
bool trusted_memory_call(long nr);
/* Where a call carries the cookie (the trusted page's cookie entry and
 * the filter agree on it, by call): */
enum {
    TRUSTED_SLOT_ARG5,      /* all of it in the sixth argument (calls of five or fewer) */
    TRUSTED_SLOT_ARG0_HIGH, /* its low half in the high half of the first (a descriptor) */
    TRUSTED_SLOT_ARG4_HIGH, /* ... of the fifth (mmap's descriptor) */
};
int trusted_cookie_slot(long nr);
/* The calls of TRUSTED_SLOT_ARG0_HIGH (N of them). */
const long *trusted_first_arg_calls(size_t *n);

/* What answers trusted_syscall for a thread that may not read the cookie
 * (hardened/runtime_domain.c, hardened/syscall_trap.c):
 *  - memory: a memory call, made by the runtime domain's RT_MEMORY, which
 *    holds it to the application's rules;
 *  - traps: the reason the filter would stop call NR with arguments A if
 *    the application made it, when the page wants the cookie with it (0:
 *    the filter lets it through, or it is a signal or thread call, which
 *    the page still lets through without the cookie);
 *  - carry: such a call carried out by the runtime domain by the
 *    application's rules. */
struct trusted_routes {
    long (*memory)(long nr, const long *a);
    int (*traps)(long nr, const long *a);
    long (*carry)(long nr, int reason, const long *a);
};
/* Where the cookie lies (memory of KEY, which only the runtime domain and
 * the libraries' domains may read) and the routes above.  At start. */
void trusted_page_use_cookie(const uint64_t *cookie_at, int key, const struct trusted_routes *routes);
/* From now on (the filter installed) the page's calls carry the cookie; with
 * BLOCK_SIGNALS every signal is blocked while one is made (where the kernel
 * writes signal frames in memory the application can read). */
void trusted_page_require_cookie(bool block_signals);
bool trusted_cookie_required(void);
/* Whether this thread may read the cookie now (RDPKRU: not forgeable). */
bool trusted_cookie_readable(void);
/* Whether a memory call of this thread's must be asked of the runtime
 * domain (the cookie required, and not readable here). */
bool trusted_page_needs_runtime(void);

/* A raw system call, from the trusted page once it exists; returns the
 * kernel's result (-errno on failure). */
long trusted_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);

/* libc-style wrappers: -1 with errno set on failure. */
int trusted_mprotect(void *addr, size_t len, int prot);
int trusted_pkey_mprotect(void *addr, size_t len, int prot, int key);
int trusted_munmap(void *addr, size_t len);
int trusted_madvise(void *addr, size_t len, int advice);
void *trusted_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

#endif
