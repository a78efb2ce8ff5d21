#define _GNU_SOURCE
#include "hardened/bpf_program.h"

#include <linux/seccomp.h>


void bpf_emit(struct bpf_program_buf *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
    if (p->n == BPF_MAXINSNS) {
        p->overflow = true;
        return;
    }
    p->insn[p->n++] = (struct sock_filter){code, jt, jf, k};
}

size_t bpf_jump_placeholder(struct bpf_program_buf *p)
{
    bpf_emit(p, BPF_JMP | BPF_JA, 0, 0, 0);
    return p->n - 1;
}

void bpf_jump_to_here(struct bpf_program_buf *p, size_t placeholder)
{
    if (placeholder < p->n)
        p->insn[placeholder].k = (uint32_t)(p->n - placeholder - 1);
}

void bpf_load64(struct bpf_program_buf *p, uint32_t offset, int m_lo, int m_hi)
{
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offset);
    bpf_emit(p, BPF_ST, 0, 0, (uint32_t)m_lo);
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offset + 4);
    bpf_emit(p, BPF_ST, 0, 0, (uint32_t)m_hi);
}

void bpf_load_ip(struct bpf_program_buf *p)
{
    /* The kernel's checker wants every scratch word written on every path
     * into the shared range tests, the unreachable fall-through included. */
    bpf_emit(p, BPF_LD | BPF_IMM, 0, 0, 0);
    for (int m = M_ADDR_LO; m <= M_END_HI; m++)
        bpf_emit(p, BPF_ST, 0, 0, (uint32_t)m);
    bpf_load64(p, offsetof(struct seccomp_data, instruction_pointer), M_IP_LO, M_IP_HI);
}

void bpf_end_from_len(struct bpf_program_buf *p, uint32_t len_offset)
{
    if (!len_offset) { /* end = addr + 1 */
        bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, M_ADDR_LO);
        bpf_emit(p, BPF_ALU | BPF_ADD | BPF_K, 0, 0, 1);
        bpf_emit(p, BPF_ST, 0, 0, M_END_LO);
        bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, M_ADDR_HI);
        bpf_emit(p, BPF_ST, 0, 0, M_END_HI);
        bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, M_END_LO);
        bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 0); /* the low word wrapped: carry */
        bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, M_ADDR_HI);
        bpf_emit(p, BPF_ALU | BPF_ADD | BPF_K, 0, 0, 1);
        bpf_emit(p, BPF_ST, 0, 0, M_END_HI);
        return;
    }
    /* end.lo = addr.lo + len.lo; carry when end.lo < addr.lo */
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, len_offset);
    bpf_emit(p, BPF_LDX | BPF_MEM, 0, 0, M_ADDR_LO);
    bpf_emit(p, BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0);
    bpf_emit(p, BPF_ST, 0, 0, M_END_LO);
    bpf_emit(p, BPF_JMP | BPF_JGE | BPF_X, 3, 0, 0);          /* no carry: skip 3 */
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, len_offset + 4);
    bpf_emit(p, BPF_ALU | BPF_ADD | BPF_K, 0, 0, 1);
    bpf_emit(p, BPF_JMP | BPF_JA, 0, 0, 1);
    bpf_emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, len_offset + 4);
    bpf_emit(p, BPF_LDX | BPF_MEM, 0, 0, M_ADDR_HI);
    bpf_emit(p, BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0);
    bpf_emit(p, BPF_ST, 0, 0, M_END_HI);
}

/*
 * The two tests below are straight-line blocks whose jumps all land inside
 * the block: "fail" is the instruction after the block's final ret.
 */

size_t bpf_goto_if_in(struct bpf_program_buf *p, int m_lo, int m_hi, uint64_t lo, uint64_t hi)
{
    uint32_t lo_hi = (uint32_t)(lo >> 32), lo_lo = (uint32_t)lo;
    uint32_t hi_hi = (uint32_t)(hi >> 32), hi_lo = (uint32_t)hi;
    /* 0 */ bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, (uint32_t)m_hi);
    /* 1 */ bpf_emit(p, BPF_JMP | BPF_JGT | BPF_K, 3, 0, lo_hi);   /* v.hi > lo.hi: >= lo, to 5 */
    /* 2 */ bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 8, lo_hi);   /* v.hi < lo.hi: fail (11) */
    /* 3 */ bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, (uint32_t)m_lo);
    /* 4 */ bpf_emit(p, BPF_JMP | BPF_JGE | BPF_K, 0, 6, lo_lo);   /* v.lo < lo.lo: fail */
    /* 5 */ bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, (uint32_t)m_hi);
    /* 6 */ bpf_emit(p, BPF_JMP | BPF_JGT | BPF_K, 4, 0, hi_hi);   /* v.hi > hi.hi: fail */
    /* 7 */ bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, hi_hi);   /* v.hi < hi.hi: in, to 10 */
    /* 8 */ bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, (uint32_t)m_lo);
    /* 9 */ bpf_emit(p, BPF_JMP | BPF_JGE | BPF_K, 1, 0, hi_lo);   /* v.lo >= hi.lo: fail */
    /* 10 */ return bpf_jump_placeholder(p);
    /* 11: fail lands here, the next block */
}

void bpf_ret_if_overlap(struct bpf_program_buf *p, uint64_t lo, uint64_t hi, uint32_t action)
{
    uint32_t lo_hi = (uint32_t)(lo >> 32), lo_lo = (uint32_t)lo;
    uint32_t hi_hi = (uint32_t)(hi >> 32), hi_lo = (uint32_t)hi;
    /* addr < hi */
    /* 0 */ bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, M_ADDR_HI);
    /* 1 */ bpf_emit(p, BPF_JMP | BPF_JGT | BPF_K, 9, 0, hi_hi);   /* addr.hi > hi.hi: fail (11) */
    /* 2 */ bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, hi_hi);   /* addr.hi < hi.hi: ok, to 5 */
    /* 3 */ bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, M_ADDR_LO);
    /* 4 */ bpf_emit(p, BPF_JMP | BPF_JGE | BPF_K, 6, 0, hi_lo);   /* addr.lo >= hi.lo: fail */
    /* end > lo */
    /* 5 */ bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, M_END_HI);
    /* 6 */ bpf_emit(p, BPF_JMP | BPF_JGT | BPF_K, 3, 0, lo_hi);   /* end.hi > lo.hi: match (10) */
    /* 7 */ bpf_emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, lo_hi);   /* end.hi < lo.hi: fail */
    /* 8 */ bpf_emit(p, BPF_LD | BPF_MEM, 0, 0, M_END_LO);
    /* 9 */ bpf_emit(p, BPF_JMP | BPF_JGT | BPF_K, 0, 1, lo_lo);   /* end.lo <= lo.lo: fail */
    /* 10 */ bpf_emit(p, BPF_RET | BPF_K, 0, 0, action);
    /* 11: fail lands here, the next block */
}
