/* Decides how a gate is patched into one exported function. */
#ifndef LIBPROTECT_PATCH_PLAN_H
#define LIBPROTECT_PATCH_PLAN_H

#include "elf_image.h"
#include "x86_relocate.h"

enum patch_kind {
    PATCH_JMP,  /* a 5-byte jmp rel32 to the gate */
    PATCH_TRAP, /* a 1-byte int3 that the runtime turns into a gate entry (slow) */
    PATCH_NONE, /* not gateable: see reason */
};

#define PATCH_JMP_LEN 5
#define ENDBR64_LEN 4

struct patch_plan {
    enum patch_kind kind;
    uint64_t addr;          /* entry of the code that is patched */
    uint64_t size;          /* bytes that belong to the function */
    uint32_t patch_offset;  /* bytes left in place at the entry (ENDBR64) */
    uint32_t patch_len;     /* bytes overwritten after them */
    uint64_t trampoline;    /* where reloc.code is meant to run */
    struct reloc_output reloc; /* the original's first instructions, relocated */
    char reason[192];       /* why not PATCH_JMP, or why not gateable */
};

/* Plans a gate for the function at link-time address ADDR (SIZE bytes, 0 if
 * unknown) in IMG, loaded BIAS bytes above its link-time addresses, with its
 * relocated first instructions placed at TRAMPOLINE (within +-2 GB of the
 * library for rel32 re-encoding).  The plan's addresses are live (biased).
 * Never plans a write past the function.  Always fills PLAN; returns its kind. */
enum patch_kind patch_plan_make(const struct elf_image *img, uint64_t addr, uint64_t size,
                                uint64_t bias, uint64_t trampoline, struct patch_plan *plan);

/* Planning works on file bytes; the runtime plans against live memory.  This
 * variant takes the function's bytes directly (CODE, CODE_LEN readable) and
 * an optional predicate telling whether another symbol starts at an address. */
enum patch_kind patch_plan_bytes(const uint8_t *code, size_t code_len, uint64_t addr, uint64_t size,
                                 uint64_t trampoline,
                                 bool (*symbol_starts_in)(const void *ctx, uint64_t lo, uint64_t hi),
                                 const void *ctx, struct patch_plan *plan);

/* A trampoline address that the runtime could use for IMG: just past its
 * highest load segment, page aligned (so that --check plans as the runtime). */
uint64_t patch_plan_default_trampoline(const struct elf_image *img);

#endif
