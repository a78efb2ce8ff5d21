/* Moves the first instructions of a function to another address (the
 * trampoline), re-encoding everything that depends on where it runs. */
#ifndef LIBPROTECT_X86_RELOCATE_H
#define LIBPROTECT_X86_RELOCATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELOC_MAX_INSNS 16
#define RELOC_MAX_CODE 256

struct reloc_output {
    uint8_t code[RELOC_MAX_CODE]; /* runs at the destination address */
    size_t len;                   /* bytes of code, jump back included */
    size_t copied;                /* source bytes the code replaces */
    size_t n_insns;               /* source instructions relocated */
};

/* Relocates whole instructions from SRC (address SRC_ADDR, AVAIL readable
 * bytes: never decodes past them) until at least MIN_BYTES are covered, into
 * code meant to run at DST_ADDR that ends with a jump back to
 * SRC_ADDR + copied.  Handled: rel8/rel32 jmp, jcc and call, jrcxz/loop
 * (no rel32 form: rewritten as a short hop over a long jump), RIP-relative
 * operands (also with a trailing immediate), branches between copied
 * instructions.  Targets beyond +-2 GB of DST_ADDR get an absolute 64-bit
 * jump or call; a RIP-relative operand beyond that range cannot be moved and
 * is refused.  Returns 0, or -1 with one line in WHY. */
int x86_relocate(const uint8_t *src, size_t avail, uint64_t src_addr, size_t min_bytes,
                 uint64_t dst_addr, struct reloc_output *out, char *why, size_t whylen);

/* Linear sweep of [SRC, SRC+LEN) (code at ADDR): true when a direct
 * jmp/jcc/call/loop targets [LO, HI); *FROM is that branch's address. */
bool x86_branches_into(const uint8_t *src, size_t len, uint64_t addr, uint64_t lo, uint64_t hi,
                       uint64_t *from);

#endif
