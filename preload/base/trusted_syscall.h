/* libprotect's own system calls that the filter would refuse to anyone
 * else (changes to protected memory, pkey_mprotect, sigreturn), made from
 * a page of code that the filter does not watch. */
#ifndef LIBPROTECT_TRUSTED_SYSCALL_H
#define LIBPROTECT_TRUSTED_SYSCALL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Maps the page (once).  Returns 0, or -1 if it cannot be mapped. */
int trusted_page_init(void);
/* The page's range, for the filter (0, 0 before trusted_page_init). */
void trusted_page_range(uintptr_t *lo, uintptr_t *hi);
/* The sa_restorer for handlers (NULL before trusted_page_init). */
void *trusted_restorer(void);

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
