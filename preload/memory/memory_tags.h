/* Tagging a library's memory with its key. */
#ifndef LIBPROTECT_MEMORY_TAGS_H
#define LIBPROTECT_MEMORY_TAGS_H

#include <stddef.h>
#include <stdint.h>

/* Gives KEY to every currently writable mapping inside [LO, HI), keeping
 * each mapping's protection (RELRO stays read-only and untagged: the loader
 * reads it on the application's behalf).  Returns the bytes tagged, or -1. */
long tag_writable_mappings(uintptr_t lo, uintptr_t hi, int key);

/* Reserves SIZE bytes of address space, read-write, tagged with KEY. */
void *map_tagged(size_t size, int key);

#endif
