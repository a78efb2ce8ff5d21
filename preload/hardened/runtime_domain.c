#define _GNU_SOURCE
#include "hardened/runtime_domain.h"

#include "hardened/syscall_filter.h"
#include "hardened/syscall_trap.h"
#include "gates/domains.h"
#include "gates/gate_table.h"
#include "gates/services.h"
#include "log.h"
#include "base/far_map.h"
#include "base/pku.h"
#include "base/proc_maps.h"
#include "base/sealed.h"
#include "base/trusted_syscall.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/syscall.h>

/* Read-only after start (sealed). */
static SEALED union {
    struct {
        bool on;
        int key;
        uintptr_t cookie_page;
    } v;
    char pages[4096];
} rt;

/* Until the filter's first program is built, before the application's
 * code runs; then wiped. */
static uint64_t cookie_for_filter;

bool runtime_domain_on(void)
{
    return rt.v.on;
}

int runtime_key(void)
{
    return rt.v.on ? rt.v.key : -1;
}

uint32_t runtime_rights(void)
{
    return protect_gate_page.t.domain[RT_SLOT].pkru;
}

uint64_t runtime_cookie_for_filter(void)
{
    uint64_t c = cookie_for_filter;
    explicit_bzero(&cookie_for_filter, sizeof cookie_for_filter);
    return c;
}

void runtime_domain_region(int i, uintptr_t *lo, uintptr_t *hi)
{
    *lo = *hi = 0;
    if (!rt.v.on)
        return;
    struct gate_regions g;
    gate_regions(RT_SLOT, &g);
    if (i == 0)
        *lo = rt.v.cookie_page, *hi = rt.v.cookie_page + 4096;
    else if (i == 1)
        *lo = g.blocks_lo, *hi = g.blocks_lo + g.blocks_size;
    else if (i == 2)
        *lo = g.stacks_lo, *hi = g.stacks_lo + g.stacks_size;
}

/* ---- RT_MEMORY: a memory call of libprotect's code that runs with the
 * application's rights, allowed as far as the application's own would be ---- */

static long refuse(long nr, uintptr_t lo, uintptr_t len, const char *why)
{

    protect_log("blocked %s(%#lx, %#lx) asked of libprotect's runtime with the application's rights: %s",
                trap_call_name(nr), (unsigned long)lo, (unsigned long)len, why);
    return -EPERM;
}

static long over_protected(long nr, uintptr_t lo, uintptr_t len)
{
    const char *owner = protected_owner(lo, lo + (len ? len : 1));
    if (!owner)
        return 0;
    char why[128];
    snprintf(why, sizeof why, "protected memory of %s", owner);
    return refuse(nr, lo, len, why);
}

static int executable_in(const struct map_entry *m, void *arg)
{
    const uintptr_t *r = arg;
    return m->exec && m->start < r[1] && m->end > r[0];
}

static long memory_decision(long nr, const long *a)
{
    uintptr_t lo = (uintptr_t)a[0], len = (uintptr_t)a[1];
    long r;
    switch (nr) {
    case SYS_mprotect:
    case SYS_pkey_mprotect:
        if (a[2] & PROT_EXEC)
            return refuse(nr, lo, len, "executable memory (the application's goes through the scan)");
        if (nr == SYS_pkey_mprotect && a[3] != 0)
            return refuse(nr, lo, len, "a protection key");
        return over_protected(nr, lo, len);
    case SYS_munmap:
    case SYS_madvise:
        return over_protected(nr, lo, len);
    case SYS_mremap: {
        if ((r = over_protected(nr, lo, len)) || ((a[3] & MREMAP_FIXED) && (r = over_protected(nr, (uintptr_t)a[4], (uintptr_t)a[2]))))
            return r;
        uintptr_t range[2] = {lo, lo + len};
        return proc_maps_each(executable_in, range) != 0 ? refuse(nr, lo, len, "moving executable memory") : 0;
    }
    case SYS_mmap:
        if (a[2] & PROT_EXEC)
            return refuse(nr, lo, len, "executable memory (the application's goes through the scan)");
        return (a[3] & MAP_FIXED) && !(a[3] & MAP_FIXED_NOREPLACE) ? over_protected(nr, lo, len) : 0;
    case SYS_shmat:
        return a[2] & (SHM_REMAP | SHM_EXEC) ? refuse(nr, (uintptr_t)a[1], 0, "SHM_REMAP or SHM_EXEC") : 0;
    case SYS_shmdt:
        return over_protected(nr, lo, 1);
    default: /* pkey_alloc, pkey_free, remap_file_pages, process_madvise */
        return refuse(nr, lo, len, "not the application's to make");
    }
}

/* io: w[0] the call, w[1..6] its arguments. */
static uintptr_t memory_service(int slot, void *io)
{
    const union service_io *q = io;
    long nr = (long)q->w[0], a[6];
    memcpy(a, &q->w[1], sizeof a);
    if (slot != RT_SLOT || !trusted_memory_call(nr))
        return (uintptr_t)refuse(nr, (uintptr_t)a[0], (uintptr_t)a[1], "not a memory call");
    long r = memory_decision(nr, a);
    return (uintptr_t)(r ? r : trusted_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]));
}

/* trusted_syscall's forward for a thread that may not read the cookie. */
static long forward_memory_call(long nr, const long *a)
{
    union service_io io = {.w = {(uint64_t)nr}};
    memcpy(&io.w[1], a, 6 * sizeof *a);
    return (long)runtime_service(RT_MEMORY, &io);
}

/* ---- set-up ---- */

void runtime_domain_setup(void)
{
    gate_table_set_rt_service(RT_MEMORY, memory_service);
    if (pku_dry_run())
        return;
    if (protect_n_domains >= RT_SLOT) {
        protect_log("libprotect's runtime has no protection key of its own (%d libraries take every one): its "
                    "trusted system calls stay open to code reuse, and signal frames to change",
                    protect_n_domains);
        return;
    }
    int key = (int)trusted_syscall(SYS_pkey_alloc, 0, PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE, 0, 0, 0, 0);
    if (key < 0) {
        protect_log("libprotect's runtime has no protection key of its own (none left)");
        return;
    }
    uint64_t cookie = 0;
    uint8_t *page = far_mmap(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    /* Both halves nonzero: mmap carries the low one. */
    do {
        if (getrandom(&cookie, sizeof cookie, 0) != sizeof cookie)
            protect_refuse("hardened mode: no random cookie for libprotect's runtime (%s)", strerror(errno));
    } while (!(uint32_t)cookie || !(cookie >> 32));
    /* Written before the page gets the key: nothing opens it here. */
    if (page == MAP_FAILED || (memcpy(page, &cookie, sizeof cookie), pku_mprotect(page, 4096, PROT_READ, key)) != 0)
        protect_refuse("hardened mode: cannot set up libprotect's runtime domain (%s)", strerror(errno));
    cookie_for_filter = cookie;
    explicit_bzero(&cookie, sizeof cookie);
    sealed_open();
    protect_domains[RT_SLOT] = (struct domain){.slot = RT_SLOT, .key = key, .name = "libprotect's runtime"};
    rt.v.key = key;
    rt.v.cookie_page = (uintptr_t)page;
    int blocks = gate_blocks_init(RT_SLOT, key);
    sealed_close();
    struct gate_regions g;
    gate_regions(RT_SLOT, &g);
    /* Every thread's stacks keyed at once: the runtime cannot ask itself to
     * key the stack it would run on. */
    if (blocks != 0 || pku_mprotect((void *)g.stacks_lo, g.stacks_size, PROT_READ | PROT_WRITE, key) != 0)
        protect_refuse("hardened mode: cannot reserve libprotect's runtime domain (%s)", strerror(errno));
    gate_table_unlock();
    struct gate_table *t = &protect_gate_page.t;
    t->app_pkru |= pku_key_mask(key);
    t->lib_keys |= pku_key_mask(key);
    t->domain[RT_SLOT].pkru = t->app_pkru & ~pku_key_mask(key);
    t->domain[RT_SLOT].index = RT_SLOT;
    gate_table_lock();
    struct trusted_routes routes = {.memory = forward_memory_call};
    syscall_trap_routes(&routes);
    trusted_page_use_cookie((const uint64_t *)page, key, &routes);
    gate_table_add_runtime_region((uintptr_t)page, (uintptr_t)page + 4096);
    gate_table_add_runtime_region(g.blocks_lo, g.blocks_lo + g.blocks_size);
    gate_table_add_runtime_region(g.stacks_lo, g.stacks_lo + g.stacks_size);
    sealed_open();
    rt.v.on = true;
    sealed_close();
    protect_info("libprotect's runtime domain: key %d", key);
}

bool in_runtime_domain(void)
{
    return rt.v.on && !pku_dry_run() && rights_of_runtime(pku_read());
}
