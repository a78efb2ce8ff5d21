/* Finds which implementation each IFUNC export of a library resolves to on
 * this machine, so that the gate is planned for the code that really runs. */
#ifndef LIBPROTECT_IFUNC_RESOLVE_H
#define LIBPROTECT_IFUNC_RESOLVE_H

#include "elf_image.h"

/* Loads IMG's file in a child process (its constructors run there, never
 * here) and asks the dynamic loader for every IFUNC export.  RESOLVED must
 * hold img->n_exports entries: each gets the link-time address chosen for
 * that export, or 0 when it is not an IFUNC or could not be resolved.
 * Returns 0, or -1 with one line in ERR. */
int ifunc_resolve(const struct elf_image *img, uint64_t *resolved, char *err, size_t errlen);

#endif
