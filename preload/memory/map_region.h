/* The address range reserved for a domain's later mappings.
 *
 * Every mapping a protected library makes after start (a file it maps
 * shared, SQLite's -shm, LMDB's map and lock file, a SysV segment, its own
 * arenas) is placed inside one range reserved at attach.  The filter knows
 * the range from the start, so one range test keeps the application's
 * munmap, mmap(MAP_FIXED), mremap, madvise and mprotect off all of them.
 *
 * This file is the bookkeeping only: which parts of the range are free.
 * It lives inside the range itself (its first pages, tagged with the
 * domain's key), so the application cannot steer where the next mapping
 * lands; every call must be made with the domain open. */
#ifndef LIBPROTECT_MAP_REGION_H
#define LIBPROTECT_MAP_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct map_region;

/* The bytes at the start of a range that the bookkeeping takes. */
size_t map_region_header_size(void);

/* Sets up the bookkeeping in HEADER (map_region_header_size() bytes,
 * writable) for the free range [LO, HI); returns it. */
struct map_region *map_region_init(void *header, uintptr_t lo, uintptr_t hi);

/* Takes LEN bytes (a multiple of the page size) aligned to ALIGN (a power
 * of two, at least a page) from the free part; 0 when none is left. */
uintptr_t map_region_take(struct map_region *r, size_t len, size_t align);

/* Marks [LO, LO+LEN) as in use, whether it was free or not (a library
 * mapping MAP_FIXED over its own memory). */
void map_region_claim(struct map_region *r, uintptr_t lo, size_t len);

/* Returns [LO, LO+LEN) to the free part (merged with its neighbours).  A
 * range already free is fine.  Returns false if the bookkeeping is full
 * and the range is lost to later mappings. */
bool map_region_give_back(struct map_region *r, uintptr_t lo, size_t len);

/* Free bytes and free extents, for reports and tests. */
void map_region_free_space(struct map_region *r, size_t *bytes, size_t *extents);

void map_region_lock(struct map_region *r);
void map_region_unlock(struct map_region *r);

#endif
