/* A small assembler for classic BPF seccomp programs: 64-bit range tests
 * on the instruction pointer and on (address, length) arguments, which
 * libseccomp cannot express (it compares one argument with a constant). */
#ifndef LIBPROTECT_BPF_PROGRAM_H
#define LIBPROTECT_BPF_PROGRAM_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fixed size, no allocation: programs are also built in a SIGSYS handler. */
struct bpf_program_buf {
    struct sock_filter insn[BPF_MAXINSNS];
    size_t n;
    bool overflow;  /* more than BPF_MAXINSNS: the program must not be used */
};

/* Scratch words used by the range tests. */
enum { M_ADDR_LO, M_ADDR_HI, M_END_LO, M_END_HI, M_IP_LO, M_IP_HI };

void bpf_emit(struct bpf_program_buf *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k);
/* A forward "ja" to fill in later, and filling it in (to the next
 * instruction emitted). */
size_t bpf_jump_placeholder(struct bpf_program_buf *p);
void bpf_jump_to_here(struct bpf_program_buf *p, size_t placeholder);

/* Loads the 64-bit seccomp_data word at OFFSET into scratch LO/HI. */
void bpf_load64(struct bpf_program_buf *p, uint32_t offset, int m_lo, int m_hi);
/* The instruction pointer into M_IP_LO/HI, every other scratch word
 * zeroed first (as the kernel's checker wants them). */
void bpf_load_ip(struct bpf_program_buf *p);
/* M_END = M_ADDR + the 64-bit argument at LEN_OFFSET (or + 1 if 0). */
void bpf_end_from_len(struct bpf_program_buf *p, uint32_t len_offset);

/* If scratch value (M_LO, M_HI) lies in [LO, HI): a forward jump, whose
 * index is returned for bpf_jump_to_here. */
size_t bpf_goto_if_in(struct bpf_program_buf *p, int m_lo, int m_hi, uint64_t lo, uint64_t hi);
/* Returns ACTION if [M_ADDR, M_END) overlaps [LO, HI). */
void bpf_ret_if_overlap(struct bpf_program_buf *p, uint64_t lo, uint64_t hi, uint32_t action);

#endif
