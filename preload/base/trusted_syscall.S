/* The code of the trusted system-call page (see trusted_syscall.c): copied
 * into a page of its own, outside every range the system-call filter
 * watches, so that the filter lets libprotect's own calls through.  The
 * copy must stay position-independent. */
    .text
    .globl protect_trusted_code_start
    .hidden protect_trusted_code_start
    .globl protect_trusted_code_end
    .hidden protect_trusted_code_end
    .globl protect_trusted_syscall_offset
    .hidden protect_trusted_syscall_offset
    .globl protect_trusted_restorer_offset
    .hidden protect_trusted_restorer_offset

protect_trusted_code_start:
/* long fn(long nr, long a0, long a1, long a2, long a3, long a4, long a5) */
.Lsyscall:
    mov %rdi, %rax
    mov %rsi, %rdi
    mov %rdx, %rsi
    mov %rcx, %rdx
    mov %r8, %r10
    mov %r9, %r8
    mov 8(%rsp), %r9
    syscall
    ret
    int3
/* sa_restorer of every handler libprotect installs: the only rt_sigreturn
 * the filter lets through (a frame forged elsewhere cannot be restored). */
.Lrestorer:
    mov $15, %eax
    syscall
    ud2
protect_trusted_code_end:

    .section .rodata
    .p2align 3
protect_trusted_syscall_offset:
    .quad .Lsyscall - protect_trusted_code_start
protect_trusted_restorer_offset:
    .quad .Lrestorer - protect_trusted_code_start
    .section .note.GNU-stack,"",@progbits
