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
    .globl protect_trusted_cookie_call_offset
    .hidden protect_trusted_cookie_call_offset

/* fn(nr, a0, ..., a4, ...) in the C convention -> the kernel's registers
 * (a5, on the stack, is each entry's own business). */
.macro SYSCALL_ARGS
    mov %rdi, %rax
    mov %rsi, %rdi
    mov %rdx, %rsi
    mov %rcx, %rdx
    mov %r8, %r10
    mov %r9, %r8
.endm

protect_trusted_code_start:
/* long fn(long nr, long a0, long a1, long a2, long a3, long a4, long a5) */
.Lsyscall:
    SYSCALL_ARGS
    mov 8(%rsp), %r9
    syscall
    ret
    int3
/* long fn(long nr, long a0, ..., long a5, const uint64_t *cookie, long slot):
 * a call the filter lets out of the page only with the runtime's cookie
 * (trusted_syscall.c): slot 0, all of it in r9 (a call of five arguments or
 * fewer); slot 1, its low half in the high half of the first argument, slot
 * 2 in that of the fifth (a call of six whose descriptor argument the
 * kernel reads as an int: the high half is not read).  The cookie is read
 * here, last: only a thread that holds the runtime key's read right gets
 * past this load (anyone else takes a protection-key fault), and it leaves
 * no register holding it. */
.Lcookie_call:
    SYSCALL_ARGS
    mov 8(%rsp), %r9
    mov 16(%rsp), %r11
    mov (%r11), %r11
    mov 24(%rsp), %rcx
    test %rcx, %rcx
    jnz 1f
    mov %r11, %r9
    jmp 3f
1:  shl $32, %r11
    cmp $1, %rcx
    jne 2f
    mov %edi, %edi
    or %r11, %rdi
    jmp 3f
2:  mov %r8d, %r8d
    or %r11, %r8
3:  syscall
    xor %edi, %edi
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r11d, %r11d
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
protect_trusted_cookie_call_offset:
    .quad .Lcookie_call - protect_trusted_code_start
    .section .note.GNU-stack,"",@progbits
