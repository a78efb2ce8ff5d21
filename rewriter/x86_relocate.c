/* Prologue relocation for x86-64, decoding with capstone.
 *
 * Two passes: the first decodes and classifies every instruction and fixes
 * the size of its new encoding (so branches between copied instructions
 * know where their targets land); the second writes the code. */
#include "x86_relocate.h"

#include <capstone/capstone.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum insn_kind {
    K_COPY,     /* position independent: copied as is */
    K_RIPREL,   /* copied, 32-bit displacement re-aimed */
    K_JMP,      /* jmp rel8/rel32 */
    K_JCC,      /* jcc rel8/rel32 */
    K_CALL,     /* call rel32 */
    K_LOOPLIKE, /* jrcxz/jecxz/loop/loope/loopne: rel8 only */
};

struct decoded {
    enum insn_kind kind;
    size_t src_off, len;
    uint64_t target;        /* branch target or RIP-relative address */
    uint8_t cond;           /* jcc condition (low nibble of the opcode) */
    size_t op_off;          /* loop-like: offset of the opcode byte */
    size_t disp_off;        /* RIP-relative: offset of the disp32 */
    bool internal;          /* branch target among the copied instructions */
    size_t new_off, new_len;
};

/* Signed distance from the end of an instruction at WHERE of length LEN to
 * TARGET, or false when it does not fit in 32 bits. */
static bool rel32(uint64_t where, size_t len, uint64_t target, int32_t *out)
{
    int64_t d = (int64_t)(target - (where + len));
    if (d < INT32_MIN || d > INT32_MAX)
        return false;
    *out = (int32_t)d;
    return true;
}

/* Conservative reachability, decided before the final layout is known:
 * the relocated code is at most RELOC_MAX_CODE bytes long. */
static bool near(uint64_t dst_addr, uint64_t target)
{
    int64_t d = (int64_t)(target - dst_addr);
    return d > INT32_MIN + 2 * RELOC_MAX_CODE && d < INT32_MAX - 2 * RELOC_MAX_CODE;
}

/* One capstone handle per thread and mode: with operand details for
 * relocation, without them for fast sweeps over whole functions. */
static csh decoder(bool detail)
{
    static __thread csh handle[2];
    static __thread bool ready[2];
    if (!ready[detail]) {
        if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle[detail]) != CS_ERR_OK)
            return 0;
        cs_option(handle[detail], CS_OPT_DETAIL, detail ? CS_OPT_ON : CS_OPT_OFF);
        ready[detail] = true;
    }
    return handle[detail];
}

static size_t skip_prefixes(const uint8_t *b, size_t len)
{
    size_t i = 0;
    while (i < len && (b[i] == 0x2e || b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x36 ||
                       b[i] == 0x64 || b[i] == 0x65 || b[i] == 0x66 || b[i] == 0x67 ||
                       b[i] == 0xf0 || b[i] == 0xf2 || b[i] == 0xf3))
        i++;
    if (i < len && (b[i] & 0xf0) == 0x40) /* REX */
        i++;
    return i;
}

static bool has_prefix(const uint8_t *b, size_t op_off, uint8_t p)
{
    for (size_t i = 0; i < op_off; i++)
        if (b[i] == p)
            return true;
    return false;
}

/* Direct branches (jmp, jcc, call, jrcxz, loop; rel8 or rel32) whose
 * opcode starts at B[OP]: true, with the displacement in *REL. */
static bool direct_branch(const uint8_t *b, size_t len, size_t op, int64_t *rel)
{
    if (op >= len)
        return false;
    uint8_t o0 = b[op], o1 = op + 1 < len ? b[op + 1] : 0;
    if (o0 == 0xeb || (o0 >= 0x70 && o0 <= 0x7f) || (o0 >= 0xe0 && o0 <= 0xe3)) {
        *rel = (int8_t)b[len - 1];
        return true;
    }
    if (o0 == 0xe9 || o0 == 0xe8 || (o0 == 0x0f && o1 >= 0x80 && o1 <= 0x8f)) {
        *rel = (int32_t)(b[len - 4] | b[len - 3] << 8 | b[len - 2] << 16 | (uint32_t)b[len - 1] << 24);
        return true;
    }
    return false;
}

/* Decodes one instruction into D.  Returns false with WHY set when it
 * cannot be relocated. */
static bool classify(const cs_insn *insn, const uint8_t *b, struct decoded *d, char *why,
                     size_t whylen)
{
    size_t len = insn->size, op = skip_prefixes(b, len);
    const cs_x86 *x = &insn->detail->x86;
    d->len = len;
    d->kind = K_COPY;
    if (op >= len)
        return true;
    uint8_t o0 = b[op], o1 = op + 1 < len ? b[op + 1] : 0;
    int64_t rel;
    if (direct_branch(b, len, op, &rel)) {
        if (has_prefix(b, op, 0x66)) {
            snprintf(why, whylen, "16-bit branch '%s %s'", insn->mnemonic, insn->op_str);
            return false;
        }
        d->target = insn->address + len + (uint64_t)rel;
        if (o0 == 0xeb || o0 == 0xe9)
            d->kind = K_JMP;
        else if (o0 == 0xe8)
            d->kind = K_CALL;
        else if (o0 >= 0xe0)
            d->kind = K_LOOPLIKE, d->op_off = op;
        else
            d->kind = K_JCC, d->cond = (o0 == 0x0f ? o1 : o0) & 0x0f;
        return true;
    }
    if (o0 == 0xc7 && o1 == 0xf8) {
        snprintf(why, whylen, "xbegin cannot be moved (its abort target is relative)");
        return false;
    }
    for (int i = 0; i < x->op_count; i++) {
        const cs_x86_op *o = &x->operands[i];
        if (o->type != X86_OP_MEM || o->mem.base != X86_REG_RIP)
            continue;
        /* capstone reports where disp32 sits; verify it against the bytes. */
        size_t off = x->encoding.disp_offset;
        int32_t want = (int32_t)o->mem.disp, have = 0;
        if (off == 0 || off + 4 > len || (memcpy(&have, b + off, 4), have != want)) {
            snprintf(why, whylen, "cannot locate the displacement of '%s %s'", insn->mnemonic,
                     insn->op_str);
            return false;
        }
        d->kind = K_RIPREL;
        d->disp_off = off;
        d->target = insn->address + len + (uint64_t)(int64_t)want;
        return true;
    }
    return true;
}

/* Size of the new encoding of D (pass one). */
static size_t new_length(const struct decoded *d, uint64_t dst_addr)
{
    bool far = !d->internal && !near(dst_addr, d->target);
    switch (d->kind) {
    case K_COPY:
    case K_RIPREL: return d->len;
    case K_JMP: return far ? 14 : 5;              /* jmp [rip+0]; .quad | jmp rel32 */
    case K_CALL: return far ? 16 : 5;             /* call [rip+2]; jmp +8; .quad | call rel32 */
    case K_JCC: return far ? 2 + 14 : 6;          /* j!cc +14; abs jmp | jcc rel32 */
    case K_LOOPLIKE: return d->op_off + 2 + 2 + (far ? 14 : 5); /* op +2; jmp +N; jmp target */
    }
    return 0;
}

static void put32(uint8_t *p, int32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Writes a jump to TARGET at P (code address AT): rel32 when it fits in
 * SPACE == 5, the absolute form when SPACE == 14. */
static void emit_jmp(uint8_t *p, uint64_t at, uint64_t target, size_t space)
{
    int32_t r;
    if (space == 5 && rel32(at, 5, target, &r)) {
        p[0] = 0xe9;
        put32(p + 1, r);
        return;
    }
    static const uint8_t abs_jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
    memcpy(p, abs_jmp, 6);
    put64(p + 6, target);
}

int x86_relocate(const uint8_t *src, size_t avail, uint64_t src_addr, size_t min_bytes,
                 uint64_t dst_addr, struct reloc_output *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    csh h = decoder(true);
    if (!h) {
        snprintf(why, whylen, "capstone is unavailable");
        return -1;
    }
    struct decoded ins[RELOC_MAX_INSNS];
    size_t n = 0, copied = 0;
    cs_insn *insn = cs_malloc(h);
    int rc = -1;
    while (copied < min_bytes) {
        if (n == RELOC_MAX_INSNS) {
            snprintf(why, whylen, "too many instructions in %zu bytes", min_bytes);
            goto done;
        }
        const uint8_t *code = src + copied;
        size_t left = avail - copied;
        uint64_t addr = src_addr + copied;
        if (left == 0) {
            snprintf(why, whylen, "function ends after %zu bytes, %zu needed", copied, min_bytes);
            goto done;
        }
        if (!cs_disasm_iter(h, &code, &left, &addr, insn)) {
            snprintf(why, whylen, "undecodable instruction at +%zu", copied);
            goto done;
        }
        struct decoded *d = &ins[n];
        memset(d, 0, sizeof *d);
        d->src_off = copied;
        if (!classify(insn, src + copied, d, why, whylen))
            goto done;
        copied += d->len;
        n++;
    }
    /* Branch targets inside the copied bytes must be instruction starts. */
    for (size_t i = 0; i < n; i++) {
        struct decoded *d = &ins[i];
        if (d->kind < K_JMP || d->target < src_addr || d->target >= src_addr + copied)
            continue;
        bool at_start = false;
        for (size_t j = 0; j < n; j++)
            at_start |= src_addr + ins[j].src_off == d->target;
        if (!at_start) {
            snprintf(why, whylen, "branch at +%zu into the middle of an instruction", d->src_off);
            goto done;
        }
        d->internal = true;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        ins[i].new_off = at;
        ins[i].new_len = new_length(&ins[i], dst_addr);
        at += ins[i].new_len;
    }
    size_t back_len = near(dst_addr, src_addr + copied) ? 5 : 14;
    if (at + back_len > RELOC_MAX_CODE) {
        snprintf(why, whylen, "relocated code too long (%zu bytes)", at + back_len);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const struct decoded *d = &ins[i];
        const uint8_t *s = src + d->src_off;
        uint8_t *p = out->code + d->new_off;
        uint64_t here = dst_addr + d->new_off;
        uint64_t target = d->target;
        if (d->internal)
            for (size_t j = 0; j < n; j++)
                if (src_addr + ins[j].src_off == d->target)
                    target = dst_addr + ins[j].new_off;
        int32_t r;
        switch (d->kind) {
        case K_COPY:
            memcpy(p, s, d->len);
            break;
        case K_RIPREL:
            memcpy(p, s, d->len);
            if (!rel32(here, d->len, d->target, &r)) {
                snprintf(why, whylen, "RIP-relative operand at +%zu is out of +-2 GB of the trampoline",
                         d->src_off);
                goto done;
            }
            put32(p + d->disp_off, r);
            break;
        case K_JMP:
            emit_jmp(p, here, target, d->new_len);
            break;
        case K_CALL:
            if (d->new_len == 5 && rel32(here, 5, target, &r)) {
                p[0] = 0xe8;
                put32(p + 1, r);
            } else {
                static const uint8_t abs_call[8] = {0xff, 0x15, 2, 0, 0, 0, 0xeb, 8};
                memcpy(p, abs_call, 8);
                put64(p + 8, target);
            }
            break;
        case K_JCC:
            if (d->new_len == 6 && rel32(here, 6, target, &r)) {
                p[0] = 0x0f;
                p[1] = 0x80 | d->cond;
                put32(p + 2, r);
            } else {
                p[0] = 0x70 | (d->cond ^ 1); /* inverted condition hops over the long jump */
                p[1] = 14;
                emit_jmp(p + 2, here + 2, target, 14);
            }
            break;
        case K_LOOPLIKE: {
            size_t far_len = d->new_len - d->op_off - 4;
            memcpy(p, s, d->op_off + 1); /* prefixes (0x67 selects ecx) and opcode */
            p[d->op_off + 1] = 2;        /* taken: skip the short jump below */
            p[d->op_off + 2] = 0xeb;     /* not taken: hop over the long jump */
            p[d->op_off + 3] = (uint8_t)far_len;
            emit_jmp(p + d->op_off + 4, here + d->op_off + 4, target, far_len);
            break;
        }
        }
    }
    emit_jmp(out->code + at, dst_addr + at, src_addr + copied, back_len);
    out->len = at + back_len;
    out->copied = copied;
    out->n_insns = n;
    rc = 0;
done:
    cs_free(insn, 1);
    return rc;
}

bool x86_branches_into(const uint8_t *src, size_t len, uint64_t addr, uint64_t lo, uint64_t hi,
                       uint64_t *from)
{
    csh h = decoder(false);
    if (!h)
        return false;
    cs_insn *insn = cs_malloc(h);
    bool found = false;
    size_t off = 0;
    while (off < len && !found) {
        const uint8_t *code = src + off;
        size_t left = len - off;
        uint64_t a = addr + off;
        if (!cs_disasm_iter(h, &code, &left, &a, insn)) {
            off++; /* data or padding inside the function: resynchronise */
            continue;
        }
        const uint8_t *b = src + off;
        size_t n = insn->size, op = skip_prefixes(b, n);
        int64_t rel;
        if (direct_branch(b, n, op, &rel)) {
            uint64_t target = addr + off + n + (uint64_t)rel;
            if (target >= lo && target < hi) {
                *from = addr + off;
                found = true;
            }
        }
        off += n;
    }
    cs_free(insn, 1);
    return found;
}
