/* Big reservations away from the libraries. */
#ifndef LIBPROTECT_FAR_MAP_H
#define LIBPROTECT_FAR_MAP_H

#include <stddef.h>

/* mmap(NULL, SIZE, PROT, FLAGS) at a random place in the lower half of the
 * address space (through the trusted page), or wherever the kernel puts it
 * if none is free there; MAP_FAILED if neither. */
void *far_mmap(size_t size, int prot, int flags);

#endif
