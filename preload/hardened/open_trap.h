/* The SIGSYS handler's opens (open, openat, openat2, creat,
 * open_by_handle_at, memfd_create) and truncate(path): what they yield is
 * judged before any descriptor of it exists where the application could
 * use it, so that no other thread can write through a refused
 * /proc/<pid>/mem in the moment before it is closed. */
#ifndef LIBPROTECT_OPEN_TRAP_H
#define LIBPROTECT_OPEN_TRAP_H

#include <stdint.h>

/* The call NR with arguments A, made for a caller with RIGHTS; returns the
 * descriptor or -errno. */
long open_request(long nr, const long *a, uint32_t rights);
long truncate_request(const long *a, uint32_t rights);

/* At start, before the filter: closes every /proc/<pid>/mem descriptor
 * the process already has (inherited, or opened by code that ran before
 * libprotect), saying so. */
void close_early_proc_mem(void);

#endif
