/* void protect_call_on_stack(uintptr_t top, void (*fn)(int, siginfo_t *, void *),
 *                            int sig, siginfo_t *si, void *ctx)
 * Runs an application's signal handler on the stack whose top is TOP (16-byte
 * aligned): where the kernel would have run it, rather than on libprotect's
 * alternate stack (see deliver in signals.c).  The frame pointer keeps the
 * way back, and the CFI tells unwinders (backtrace() in a handler) how. */
    .text
    .globl protect_call_on_stack
    .hidden protect_call_on_stack
    .type protect_call_on_stack, @function
protect_call_on_stack:
    .cfi_startproc
    push %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    mov %rsp, %rbp
    .cfi_def_cfa_register %rbp
    mov %rdi, %rsp
    mov %rsi, %rax
    mov %edx, %edi
    mov %rcx, %rsi
    mov %r8, %rdx
    call *%rax
    mov %rbp, %rsp
    .cfi_def_cfa_register %rsp
    pop %rbp
    .cfi_def_cfa_offset 8
    ret
    .cfi_endproc
    .size protect_call_on_stack, . - protect_call_on_stack
    .section .note.GNU-stack,"",@progbits
