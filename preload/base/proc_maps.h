/* /proc/self/maps, read with raw system calls into a stack buffer: no stdio
 * and no malloc, so that it also serves signal handlers and code running
 * while the caller's rights are in flux. */
#ifndef LIBPROTECT_PROC_MAPS_H
#define LIBPROTECT_PROC_MAPS_H

#include <stdbool.h>
#include <stdint.h>

struct map_entry {
    uintptr_t start, end;
    bool read, write, exec, shared;
    bool anonymous;         /* no file (heap, stack, anonymous memory) */
};

/* Calls FN for each mapping in address order until it returns nonzero;
 * returns that value, 0 at the end, or -1 if the file cannot be read. */
int proc_maps_each(int (*fn)(const struct map_entry *m, void *arg), void *arg);

#endif
