/* libprotect's state that decides where a library's memory and calls go
 * (the domain table, the callback tables, the filter's view of memory):
 * in pages of their own, read-only except while libprotect updates them.
 * The pages are part of libprotect's image, which the system-call filter
 * protects: the application can neither write them nor mprotect them.
 * (While an update is under way another thread could write them: the
 * updates are few and short, at attach time and per new callback.) */
#ifndef LIBPROTECT_SEALED_H
#define LIBPROTECT_SEALED_H

#include <stddef.h>
#include <stdint.h>

/* A variable in the sealed pages: page-aligned, whole pages (declare it as
 * a union of the value and SEALED_PAGES(type) bytes). */
#define SEALED __attribute__((section("protect_sealed"), aligned(4096)))
#define SEALED_PAGES(type) (((sizeof(type)) + 4095) & ~(size_t)4095)

/* Make the sealed pages writable for an update, and read-only again
 * (nested calls are counted; the outermost close seals). */
void sealed_open(void);
void sealed_close(void);

#endif
