/* The libc mapping calls, interposed so that what a library maps after
 * start is as protected as its segments.
 *
 * Inside a domain: mmap, mremap and shmat place the mapping in the
 * domain's map region (map_region.h) and give it the domain's key before
 * anything can be read or written through it (mapped PROT_NONE first, then
 * opened with the key), so a file a library maps shared carries its key in
 * every process that runs it under libprotect.  munmap, mprotect, madvise
 * and shmdt of the region keep it reserved and tagged.
 *
 * From the application: the same calls over a library's map region are
 * refused and reported (a buggy program unmapping a buffer the library
 * still uses, or mapping its own page over it).  In hardened mode the
 * filter refuses the raw system calls over the region as well. */
#define _GNU_SOURCE
#include "base/far_map.h"
#include "memory/interpose.h"
#include "memory/map_region.h"
#include "memory/library_files.h"
#include "gates/domains.h"
#include "gates/gate_table.h"
#include "log.h"
#include "base/pku.h"
#include "base/proc_maps.h"
#include "base/trusted_syscall.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096ul
#define HUGE_PAGE (2ul << 20)
#define MAP_REGION (64ul << 30)
#define MAP_REGION_MIN (64ul << 20)

int domain_maps_reserve(struct domain *d)
{
    /* Smaller where address space is scarce (RLIMIT_AS): a region is
     * address space only, but it counts. */
    size_t size = MAP_REGION;
    void *p = MAP_FAILED;
    while (p == MAP_FAILED && size >= MAP_REGION_MIN) {
        p = far_mmap(size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
        if (p == MAP_FAILED)
            size /= 4;
    }
    if (p == MAP_FAILED)
        return -1;
    size_t header = map_region_header_size();
    if (pku_mprotect(p, header, PROT_READ | PROT_WRITE, d->key) != 0 ||
        pku_mprotect((char *)p + header, size - header, PROT_NONE, d->key) != 0) {
        trusted_munmap(p, size);
        return -1;
    }
    d->maps_lo = (uintptr_t)p;
    d->maps_hi = d->maps_lo + size;
    /* Written with the key open: attach runs with it open for this thread. */
    d->maps = map_region_init(p, d->maps_lo + header, d->maps_hi);
    return 0;
}

static size_t page_round(size_t len)
{
    return (len + PAGE - 1) & ~(PAGE - 1);
}

/* The domain whose rights the calling thread has, or NULL. */
static struct domain *calling_domain(void)
{
    uint32_t rights = pku_read();
    if (rights == app_rights())
        return NULL;
    return domain_for_rights(rights);
}

/* The domain whose map region [LO, LO+LEN) touches, or NULL. */
static struct domain *region_owner(uintptr_t lo, size_t len)
{
    uintptr_t hi = lo + (len ? len : 1);
    for (int i = 0; i < protect_n_domains; i++) {
        struct domain *d = &protect_domains[i];
        if (d->maps && lo < d->maps_hi && hi > d->maps_lo)
            return d;
    }
    return NULL;
}

static bool inside_region(const struct domain *d, uintptr_t lo, size_t len)
{
    return lo >= d->maps_lo + map_region_header_size() && lo + len >= lo && lo + len <= d->maps_hi;
}

static int refuse(const struct domain *d, const char *call, uintptr_t lo, size_t len)
{
    gate_count(d->slot, GC_BLOCKED, 1);
    protect_log("blocked %s(%#lx, %#lx) by the application: memory %s mapped", call, (unsigned long)lo,
                (unsigned long)len, d->name);
    errno = EPERM;
    return -1;
}

/* Puts [LO, LO+LEN) of D's region back to reserved: no access, D's key. */
static void reserve_again(struct domain *d, uintptr_t lo, size_t len)
{
    void *p = trusted_mmap((void *)lo, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED || pku_mprotect(p, len, PROT_NONE, d->key) != 0)
        protect_fatal("%s: cannot keep its map region reserved (%m)", d->name);
}

static void *map_in_region(struct domain *d, void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    len = page_round(len);
    if (!len) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
    uintptr_t at = (uintptr_t)addr;
    bool ours = false;
    if (!d->maps) /* no region (no address space for one): tagged where it lands */
        goto map;
    map_region_lock(d->maps);
    if (fixed && inside_region(d, at, len)) {
        map_region_claim(d->maps, at, len); /* the library over its own mapping */
        ours = true;
    } else if (!fixed) {
        at = map_region_take(d->maps, len, flags & MAP_HUGETLB ? HUGE_PAGE : PAGE);
        ours = at != 0;
        if (!ours) {
            static bool said;
            if (!said)
                protect_log("%s: its map region is full; later mappings are tagged but not covered by the filter",
                            d->name);
            said = true;
        }
    }
    map_region_unlock(d->maps);
map:;
    int how = ours ? (flags & ~MAP_FIXED_NOREPLACE) | MAP_FIXED : flags;
    /* No access until the key is on it: another thread must never reach
     * a library's shared file through a mapping without its key. */
    void *p = trusted_mmap(ours ? (void *)at : addr, len, PROT_NONE, how, fd, off);
    if (p != MAP_FAILED && pku_mprotect(p, len, prot, d->key) == 0) {
        if ((flags & MAP_TYPE) != MAP_PRIVATE && fd >= 0)
            library_files_note(d->slot, fd);
        return p;
    }
    int err = errno;
    if (p != MAP_FAILED && !ours)
        trusted_munmap(p, len);
    if (ours) {
        reserve_again(d, at, len);
        map_region_lock(d->maps);
        map_region_give_back(d->maps, at, len);
        map_region_unlock(d->maps);
    }
    errno = err;
    return MAP_FAILED;
}

static long raw(long r)
{
    if ((unsigned long)r > -4096ul) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (__builtin_expect(protect_active, 0) && !(prot & PROT_EXEC)) {
        struct domain *d = calling_domain();
        if (d)
            return map_in_region(d, addr, len, prot, flags, fd, off);
        struct domain *o = (flags & MAP_FIXED) ? region_owner((uintptr_t)addr, len) : NULL;
        if (o)
            return refuse(o, "mmap", (uintptr_t)addr, len), MAP_FAILED;
    }
    long r = raw(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
    return r == -1 ? MAP_FAILED : (void *)r;
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) __attribute__((alias("mmap")));

/* Unmaps [LO, LO+LEN) of D's region by reserving it again. */
static void release_in_region(struct domain *d, uintptr_t lo, size_t len)
{
    reserve_again(d, lo, len);
    map_region_lock(d->maps);
    map_region_give_back(d->maps, lo, len);
    map_region_unlock(d->maps);
}

int munmap(void *addr, size_t len)
{
    struct domain *o = __builtin_expect(protect_active, 0) ? region_owner((uintptr_t)addr, len) : NULL;
    if (!o)
        return (int)raw(syscall(SYS_munmap, addr, len));
    if (calling_domain() != o)
        return refuse(o, "munmap", (uintptr_t)addr, len);
    len = page_round(len);
    if (((uintptr_t)addr & (PAGE - 1)) || !inside_region(o, (uintptr_t)addr, len)) {
        errno = EINVAL;
        return -1;
    }
    release_in_region(o, (uintptr_t)addr, len);
    return 0;
}

int mprotect(void *addr, size_t len, int prot)
{
    struct domain *o = __builtin_expect(protect_active, 0) ? region_owner((uintptr_t)addr, len) : NULL;
    if (!o || (prot & PROT_EXEC))
        return (int)raw(syscall(SYS_mprotect, addr, len, prot));
    if (calling_domain() != o)
        return refuse(o, "mprotect", (uintptr_t)addr, len);
    if (!inside_region(o, (uintptr_t)addr, page_round(len))) {
        errno = EINVAL;
        return -1;
    }
    return pku_mprotect(addr, len, prot, o->key);
}

int madvise(void *addr, size_t len, int advice)
{
    struct domain *o = __builtin_expect(protect_active, 0) ? region_owner((uintptr_t)addr, len) : NULL;
    if (!o)
        return (int)raw(syscall(SYS_madvise, addr, len, advice));
    if (calling_domain() != o)
        return refuse(o, "madvise", (uintptr_t)addr, len);
    return trusted_madvise(addr, len, advice);
}

int posix_madvise(void *addr, size_t len, int advice)
{
    if (advice == POSIX_MADV_DONTNEED)
        return 0; /* as glibc: it must not discard data */
    return madvise(addr, len, advice) == 0 ? 0 : errno;
}

static void *remap_in_region(struct domain *d, uintptr_t old, size_t old_len, size_t new_len, int flags)
{
    old_len = page_round(old_len);
    new_len = page_round(new_len);
    if ((old & (PAGE - 1)) || !new_len || !inside_region(d, old, old_len) || (flags & ~MREMAP_MAYMOVE)) {
        errno = EINVAL; /* MREMAP_FIXED and DONTUNMAP inside a region: not supported */
        return MAP_FAILED;
    }
    if (new_len <= old_len) {
        if (new_len < old_len)
            release_in_region(d, old + new_len, old_len - new_len);
        return (void *)old;
    }
    if (!(flags & MREMAP_MAYMOVE)) {
        errno = ENOMEM; /* the reservation is in the way: as the kernel says */
        return MAP_FAILED;
    }
    map_region_lock(d->maps);
    uintptr_t to = map_region_take(d->maps, new_len, PAGE);
    map_region_unlock(d->maps);
    if (!to) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    long r = trusted_syscall(SYS_mremap, (long)old, (long)old_len, (long)new_len, MREMAP_MAYMOVE | MREMAP_FIXED,
                             (long)to, 0);
    if (r < 0) {
        map_region_lock(d->maps);
        map_region_give_back(d->maps, to, new_len);
        map_region_unlock(d->maps);
        errno = (int)-r;
        return MAP_FAILED;
    }
    /* The moved pages keep their key; the grown tail is tagged like them. */
    release_in_region(d, old, old_len);
    return (void *)r;
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *to = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        to = va_arg(ap, void *);
        va_end(ap);
    }
    if (__builtin_expect(protect_active, 0)) {
        struct domain *o = region_owner((uintptr_t)old, old_len);
        struct domain *t = (flags & MREMAP_FIXED) ? region_owner((uintptr_t)to, new_len) : NULL;
        struct domain *d = calling_domain();
        if (o && o == d) /* its own mapping (moved to a place of its choosing: EINVAL there) */
            return remap_in_region(d, (uintptr_t)old, old_len, new_len, flags);
        if ((o || t) && !d)
            return refuse(o ? o : t, "mremap", (uintptr_t)(o ? old : to), o ? old_len : new_len), MAP_FAILED;
        if (o || t) { /* a library moving memory into a map region, or out of another's */
            errno = EINVAL;
            return MAP_FAILED;
        }
    }
    long r = raw(syscall(SYS_mremap, old, old_len, new_len, flags, to));
    return r == -1 ? MAP_FAILED : (void *)r;
}

void *shmat(int id, const void *addr, int flags)
{
    struct domain *d = __builtin_expect(protect_active, 0) ? calling_domain() : NULL;
    if (!d || (flags & SHM_EXEC)) {
        struct domain *o = (protect_active && addr) ? region_owner((uintptr_t)addr, 1) : NULL;
        if (o && !d)
            return refuse(o, "shmat", (uintptr_t)addr, 0), (void *)-1;
        return (void *)raw(syscall(SYS_shmat, id, addr, flags));
    }
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) != 0)
        return (void *)-1;
    size_t len = page_round(ds.shm_segsz);
    map_region_lock(d->maps);
    uintptr_t at = map_region_take(d->maps, len, SHMLBA);
    map_region_unlock(d->maps);
    if (!at)
        return (void *)raw(syscall(SYS_shmat, id, addr, flags));
    /* A segment cannot be attached without access: it carries key 0 until
     * the next call, visible to the library's own process only. */
    long r = trusted_syscall(SYS_shmat, id, (long)at, (flags & ~SHM_RND) | SHM_REMAP, 0, 0, 0);
    int prot = PROT_READ | (flags & SHM_RDONLY ? 0 : PROT_WRITE);
    if (r >= 0 && pku_mprotect((void *)r, len, prot, d->key) == 0)
        return (void *)r;
    int err = r < 0 ? (int)-r : errno;
    if (r >= 0)
        trusted_syscall(SYS_shmdt, r, 0, 0, 0, 0, 0);
    release_in_region(d, at, len);
    errno = err;
    return (void *)-1;
}

struct segment_query {
    uintptr_t start, end;
};

/* The end of the run of mappings that starts at q->start with the same file. */
static int segment_end(const struct map_entry *m, void *arg)
{
    struct segment_query *q = arg;
    if (m->start == q->start || (q->end && m->start == q->end && m->shared))
        q->end = m->end;
    return 0;
}

int shmdt(const void *addr)
{
    struct domain *o = __builtin_expect(protect_active, 0) ? region_owner((uintptr_t)addr, 1) : NULL;
    if (!o)
        return (int)raw(syscall(SYS_shmdt, addr));
    if (calling_domain() != o)
        return refuse(o, "shmdt", (uintptr_t)addr, 0);
    struct segment_query q = {(uintptr_t)addr, 0};
    proc_maps_each(segment_end, &q);
    long r = trusted_syscall(SYS_shmdt, (long)addr, 0, 0, 0, 0, 0);
    if (r < 0 || !q.end)
        return (int)raw(r);
    release_in_region(o, q.start, q.end - q.start);
    return 0;
}
