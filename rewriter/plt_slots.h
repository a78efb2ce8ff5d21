/* A library's PLT slots that call its own functions: the internal calls
 * that, once the library is gated, need not pass through a gate. */
#ifndef LIBPROTECT_PLT_SLOTS_H
#define LIBPROTECT_PLT_SLOTS_H

#include "elf_image.h"

struct plt_slot {
    uint64_t got;    /* link-time address of the GOT slot (R_X86_64_JUMP_SLOT) */
    uint64_t target; /* link-time address of the function it binds to, defined here */
};

/* The JUMP_SLOT relocations of IMG whose symbol IMG defines (functions,
 * not IFUNCs).  Malloc'd array in *SLOTS (free it); returns the count, or
 * -1 when the relocations cannot be read. */
long elf_image_own_plt_slots(const struct elf_image *img, struct plt_slot **slots);

#endif
