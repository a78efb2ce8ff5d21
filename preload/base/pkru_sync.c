#define _GNU_SOURCE
#include "base/pkru_sync.h"

#include "log.h"
#include "base/pku.h"
#include "base/sealed.h"

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

static atomic_int acked;

/* Where the PKRU component lies in an XSAVE area: CPUID asked once at
 * start (in a VM every CPUID is an exit to the hypervisor: it was most of
 * a signal's cost), kept sealed, since every check of a frame's rights
 * reads the slot it names. */
static SEALED union {
    uint32_t offset;
    char pages[SEALED_PAGES(uint32_t)];
} pkru_at;

void frame_pkru_init(void)
{
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(0xd, XFEATURE_PKRU, eax, ebx, ecx, edx);
    sealed_open();
    pkru_at.offset = ebx;
    sealed_close();
}

static uint32_t pkru_offset(void)
{
    if (__builtin_expect(pkru_at.offset != 0, 1))
        return pkru_at.offset;
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(0xd, XFEATURE_PKRU, eax, ebx, ecx, edx);
    return ebx;
}

/* The PKRU slot of a signal frame's XSAVE area, made explicit if the
 * kernel saved it in its init state (everything open).  In a dry run the
 * kernel knows nothing of the rights: the handler runs on the interrupted
 * thread with its word unchanged, so the word is the slot. */
uint32_t *frame_pkru_slot(ucontext_t *uc)
{
    if (pku_dry_run()) {
        if (!protect_emulated_pkru)
            protect_emulated_pkru = pku_read();
        return &protect_emulated_pkru;
    }
    uint8_t *xsave = (uint8_t *)uc->uc_mcontext.fpregs;
    uint64_t *xstate_bv = (uint64_t *)(xsave + XSAVE_HEADER_OFFSET);
    uint32_t *pkru = (uint32_t *)(xsave + pkru_offset());
    if (!(*xstate_bv & (1ull << XFEATURE_PKRU))) {
        *pkru = 0;
        *xstate_bv |= 1ull << XFEATURE_PKRU;
    }
    return pkru;
}

uint32_t frame_rights(ucontext_t *uc)
{
    return pku_dry_run() ? pku_read() : *frame_pkru_slot(uc);
}

/* How much a key's two PKRU bits let through: 0 nothing, 1 reads, 2 all. */
static int key_access(uint32_t bits)
{
    return (bits & 1) ? 0 : (bits & 2) ? 1 : 2;
}

uint32_t pkru_synced(uint32_t pkru, uint32_t app, uint32_t lib_keys)
{
    for (int key = 1; key < 16; key++) {
        uint32_t mask = pku_key_mask(key);
        if ((lib_keys & mask) && key_access(pkru >> (2 * key)) <= key_access(app >> (2 * key)))
            pkru = (pkru & ~mask) | (app & mask);
    }
    return pkru;
}

void pkru_sync_apply(ucontext_t *uc, uint32_t app, uint32_t lib_keys)
{
    if (pku_dry_run() && !protect_emulated_pkru) { /* starts from thread_start, already updated */
        atomic_fetch_add(&acked, 1);
        return;
    }
    uint32_t *pkru = frame_pkru_slot(uc);
    *pkru = pkru_synced(*pkru, app, lib_keys);
    atomic_fetch_add(&acked, 1);
}

int pkru_sync_threads(void)
{
    pid_t self = gettid(), pid = getpid();
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return -1;
    atomic_store(&acked, 0);
    int sent = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid > 0 && tid != self && tgkill(pid, tid, PROTECT_SIGNAL) == 0)
            sent++;
    }
    closedir(dir);
    for (int waited = 0; atomic_load(&acked) < sent && waited < 2000; waited++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    int missed = sent - atomic_load(&acked);
    if (missed > 0)
        protect_log("%d thread(s) did not take the new protection key in time (signal %d blocked?)",
                    missed, PROTECT_SIGNAL);
    return missed;
}
