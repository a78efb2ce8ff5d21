/* Where a thread cloned through thread_start.c starts: the system call's
 * ret pops this address from the child's stack, which then points at the
 * record thread_start_clone wrote below the caller's stack (struct
 * thread_record).  Gives the thread its alternate stack and signal mask
 * (thread_start_born), then the caller's registers, stack and the
 * instruction after its syscall, with rax 0 as a child has it. */
    .text
    .globl protect_thread_trampoline
    .hidden protect_thread_trampoline
    .type protect_thread_trampoline, @function
protect_thread_trampoline:
    mov %rsp, %rbx
    and $-16, %rsp
    mov 112(%rbx), %rdi             /* the signal mask */
    mov 128(%rbx), %esi             /* own TLS */
    call thread_start_born
    ldmxcsr 120(%rbx)
    fldcw 124(%rbx)
    mov %rbx, %rax
    mov 8(%rax), %rbp
    mov 16(%rax), %r12
    mov 24(%rax), %r13
    mov 32(%rax), %r14
    mov 40(%rax), %r15
    mov 48(%rax), %rdi
    mov 56(%rax), %rsi
    mov 64(%rax), %rdx
    mov 72(%rax), %r8
    mov 80(%rax), %r9
    mov 88(%rax), %r10
    mov 96(%rax), %r11
    mov 104(%rax), %rsp
    mov 0(%rax), %rbx
    xor %eax, %eax
    jmp *%r11
    .size protect_thread_trampoline, .-protect_thread_trampoline
    .section .note.GNU-stack,"",@progbits
