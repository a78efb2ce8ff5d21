/* Finds the instructions that can change PKRU outside a gate: WRPKRU and
 * XRSTOR (which loads PKRU from memory), at every byte offset.  Not
 * XRSTORS: it would load PKRU too, but only at CPL 0 (#GP in user mode),
 * and its bytes are common inside other instructions (a large library such
 * as LLVM's has more of them than there are hardware breakpoints). */
#ifndef LIBPROTECT_INSN_SCAN_H
#define LIBPROTECT_INSN_SCAN_H

#include <stddef.h>
#include <stdint.h>

enum danger_kind { DANGER_WRPKRU, DANGER_XRSTOR };

struct danger_hit {
    enum danger_kind kind;
    size_t offset; /* of the 0F opcode byte, from the start of the buffer */
    size_t len;    /* bytes of the pattern matched */
};

/* Calls FN for every match in BUF, aligned or not; returns the count. */
size_t insn_scan(const uint8_t *buf, size_t len,
                 void (*fn)(const struct danger_hit *hit, void *arg), void *arg);

const char *danger_kind_name(enum danger_kind kind);

#endif
