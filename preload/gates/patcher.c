#define _GNU_SOURCE
#include "gates/patcher.h"

#include "log.h"
#include "base/trusted_syscall.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Trap sites, sorted by address; replaced whole (never freed) so that the
 * signal handler can read them without a lock. */
struct trap_sites {
    size_t n;
    struct { uintptr_t at, stub; } site[];
};
static _Atomic(struct trap_sites *) trap_sites;
static pthread_mutex_t trap_lock = PTHREAD_MUTEX_INITIALIZER;

void write_entry_stub(uint8_t *stub, uint32_t id, void (*gate)(void))
{
    static const uint8_t code[] = {
        0x41, 0xbb, 0, 0, 0, 0,             /* mov r11d, id */
        0xff, 0x25, 0, 0, 0, 0,             /* jmp *0(%rip) */
    };
    memset(stub, 0xcc, STUB_SIZE);
    memcpy(stub, code, sizeof code);
    memcpy(stub + 2, &id, 4);
    uint64_t g = (uint64_t)(uintptr_t)gate;
    memcpy(stub + sizeof code, &g, 8);
}

static int site_order(const void *a, const void *b)
{
    const uintptr_t *x = a, *y = b;
    return *x < *y ? -1 : *x > *y;
}

static void add_trap_sites(const struct patch_request *req, size_t n)
{
    pthread_mutex_lock(&trap_lock);
    struct trap_sites *old = atomic_load(&trap_sites);
    size_t have = old ? old->n : 0;
    struct trap_sites *s = malloc(sizeof *s + (have + n) * sizeof s->site[0]);
    if (have)
        memcpy(s->site, old->site, have * sizeof s->site[0]);
    for (size_t i = 0; i < n; i++) {
        s->site[have + i].at = req[i].at;
        s->site[have + i].stub = req[i].stub;
    }
    s->n = have + n;
    qsort(s->site, s->n, sizeof s->site[0], site_order);
    atomic_store(&trap_sites, s); /* the old array stays: a handler may be reading it */
    pthread_mutex_unlock(&trap_lock);
}

void patch_forget_range(uintptr_t lo, uintptr_t hi)
{
    pthread_mutex_lock(&trap_lock);
    struct trap_sites *old = atomic_load(&trap_sites);
    if (old) {
        struct trap_sites *s = malloc(sizeof *s + old->n * sizeof s->site[0]);
        s->n = 0;
        for (size_t i = 0; i < old->n; i++)
            if (old->site[i].at < lo || old->site[i].at >= hi)
                s->site[s->n++] = old->site[i];
        atomic_store(&trap_sites, s);
    }
    pthread_mutex_unlock(&trap_lock);
}

uintptr_t patch_trap_target(uintptr_t at)
{
    struct trap_sites *s = atomic_load(&trap_sites);
    if (!s)
        return 0;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->site[mid].at < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->site[lo].at == at ? s->site[lo].stub : 0;
}

void sync_cores(void)
{
    static int registered;
    if (!registered)
        registered = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) == 0 ? 1 : -1;
    if (registered > 0)
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0);
}

int patch_entries(const struct patch_request *req, size_t n, uintptr_t text_lo, uintptr_t text_hi)
{
    uintptr_t lo = text_lo & ~4095ul, hi = (text_hi + 4095) & ~4095ul;
    if (trusted_mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        return -1;
    add_trap_sites(req, n);
    for (size_t i = 0; i < n; i++)
        *(volatile uint8_t *)req[i].at = 0xcc;
    sync_cores();
    for (size_t i = 0; i < n; i++) {
        if (req[i].kind != PATCH_JMP)
            continue;
        int32_t rel = (int32_t)(req[i].stub - (req[i].at + PATCH_JMP_LEN));
        memcpy((void *)(req[i].at + 1), &rel, 4);
    }
    sync_cores();
    for (size_t i = 0; i < n; i++)
        if (req[i].kind == PATCH_JMP)
            *(volatile uint8_t *)req[i].at = 0xe9;
    sync_cores();
    return trusted_mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC);
}
