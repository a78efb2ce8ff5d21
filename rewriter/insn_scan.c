/* Byte-pattern scan: an attacker jumps to any offset, so decoding in
 * instruction order would miss the unaligned occurrences. */
#include "insn_scan.h"

#include <string.h>

/* ModRM with a memory operand (mod != 11) and the given /reg field. */
static int modrm_mem_reg(uint8_t modrm, int reg)
{
    return (modrm >> 6) != 3 && ((modrm >> 3) & 7) == reg;
}

size_t insn_scan(const uint8_t *buf, size_t len,
                 void (*fn)(const struct danger_hit *hit, void *arg), void *arg)
{
    size_t count = 0;
    if (len < 3)
        return 0;
    const uint8_t *p = buf, *end = buf + len - 2;
    while ((p = memchr(p, 0x0f, (size_t)(end - p)))) {
        struct danger_hit hit = {.offset = (size_t)(p - buf), .len = 3};
        int found = 1;
        if (p[1] == 0x01 && p[2] == 0xef)
            hit.kind = DANGER_WRPKRU;
        else if (p[1] == 0xae && modrm_mem_reg(p[2], 5))
            hit.kind = DANGER_XRSTOR;
        else
            found = 0;
        if (found) {
            count++;
            if (fn)
                fn(&hit, arg);
        }
        if (++p >= end)
            break;
    }
    return count;
}

const char *danger_kind_name(enum danger_kind kind)
{
    switch (kind) {
    case DANGER_WRPKRU: return "wrpkru";
    case DANGER_XRSTOR: return "xrstor";
    }
    return "?";
}
