/* Hardened mode: the descriptors a protected library opens live in a
 * reserved range, LIBRARY_FDS numbers below the process's RLIMIT_NOFILE
 * soft limit at start, or below FD_SETSIZE (1024) when the limit is higher
 * (a library may select() on them); numbers not in use hold placeholders,
 * so the application never gets one, however many descriptors it opens.  One range test in the filter then
 * keeps every call that takes a descriptor (write, pwrite, ftruncate,
 * fallocate, mmap, sendfile, copy_file_range, dup2 over it, fcntl, close,
 * ...) off them for the application; the library's own calls on them go
 * straight to the trusted page (fd_interpose.c), or through the SIGSYS
 * handler for the few libc makes internally.  The hardware breakpoints that
 * guard hidden WRPKRU bytes (stray_pkru_guard.c) live there too. */
#ifndef LIBPROTECT_LIBRARY_FDS_H
#define LIBPROTECT_LIBRARY_FDS_H

#include <stdbool.h>
#include <stdint.h>

#define LIBRARY_FDS 64

/* Chooses the range (once: the first call, before the filter is built or
 * the first breakpoint set); none when the limit is too low to spare one
 * (then nothing is moved). */
void library_fds_reserve(void);
/* The first number of the range, or 0 when there is none. */
int library_fd_base(void);

static inline bool in_library_fds(long fd, int base)
{
    return base && (unsigned long)(fd - base) < LIBRARY_FDS;
}

/* FD was just opened by a library: moves it into the range (close-on-exec)
 * and returns its new number, or FD itself when the range is full. */
long library_fd_adopt(long fd);

/* The library's close of FD: a number of the range gets its placeholder
 * back (it is never free); any other is closed.  0 or -errno. */
long library_fd_release(long fd);

/* A descriptor of /proc kept in the range (for reopening what the open
 * handler checked, also after a chroot), or -1. */
int library_fds_proc_root(void);

/* Whether FD is a number of the range that no library holds (a
 * placeholder, or libprotect's /proc). */
bool library_fd_is_placeholder(long fd);

#endif
