#define _GNU_SOURCE
#include "pkru_sync.h"

#include "log.h"
#include "pku.h"

#include <cpuid.h>
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define XFEATURE_PKRU 9
#define XSAVE_HEADER_OFFSET 512
#define SYNC_SIGNAL (SIGRTMAX)

static uint32_t sync_mask, sync_bits;
static atomic_int acked;

static uint32_t pkru_offset(void)
{
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(0xd, XFEATURE_PKRU, eax, ebx, ecx, edx);
    return ebx;
}

static void on_sync(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    uint8_t *xsave = (uint8_t *)uc->uc_mcontext.fpregs;
    uint64_t *xstate_bv = (uint64_t *)(xsave + XSAVE_HEADER_OFFSET);
    uint32_t *pkru = (uint32_t *)(xsave + pkru_offset());
    if (!(*xstate_bv & (1ull << XFEATURE_PKRU))) {
        *pkru = 0; /* init state: everything open */
        *xstate_bv |= 1ull << XFEATURE_PKRU;
    }
    *pkru = (*pkru & ~sync_mask) | sync_bits;
    atomic_fetch_add(&acked, 1);
}

int pkru_sync_threads(int key, uint32_t bits)
{
    pid_t self = gettid(), pid = getpid();
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return -1;
    sync_mask = pku_key_mask(key);
    sync_bits = bits;
    atomic_store(&acked, 0);
    struct sigaction sa = {.sa_sigaction = on_sync, .sa_flags = SA_SIGINFO | SA_RESTART}, old;
    sigfillset(&sa.sa_mask);
    sigaction(SYNC_SIGNAL, &sa, &old);
    int sent = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid > 0 && tid != self && tgkill(pid, tid, SYNC_SIGNAL) == 0)
            sent++;
    }
    closedir(dir);
    for (int waited = 0; atomic_load(&acked) < sent && waited < 2000; waited++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    sigaction(SYNC_SIGNAL, &old, NULL);
    int missed = sent - atomic_load(&acked);
    if (missed > 0)
        protect_log("%d thread(s) did not take the new protection key in time (signal %d blocked?)",
                    missed, SYNC_SIGNAL);
    return missed;
}
