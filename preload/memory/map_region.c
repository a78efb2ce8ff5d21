#include "memory/map_region.h"

#include <pthread.h>
#include <string.h>

/* Free extents, sorted and disjoint.  A library makes few long-lived
 * mappings (a map, a lock file, a ring or two), so a sorted array with
 * first fit is plenty, and it never allocates. */
#define MAX_EXTENTS 4000

struct extent {
    uintptr_t lo, hi;
};

struct map_region {
    pthread_mutex_t lock;
    size_t n;
    struct extent free[MAX_EXTENTS];
};

size_t map_region_header_size(void)
{
    return (sizeof(struct map_region) + 4095) & ~(size_t)4095;
}

struct map_region *map_region_init(void *header, uintptr_t lo, uintptr_t hi)
{
    struct map_region *r = header;
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    if (lo < hi)
        r->free[r->n++] = (struct extent){lo, hi};
    return r;
}

static void remove_at(struct map_region *r, size_t i)
{
    memmove(&r->free[i], &r->free[i + 1], (r->n - i - 1) * sizeof *r->free);
    r->n--;
}

static bool insert_at(struct map_region *r, size_t i, struct extent e)
{
    if (r->n == MAX_EXTENTS)
        return false;
    memmove(&r->free[i + 1], &r->free[i], (r->n - i) * sizeof *r->free);
    r->free[i] = e;
    r->n++;
    return true;
}

/* Cuts [LO, HI) out of the free extents. */
static void cut(struct map_region *r, uintptr_t lo, uintptr_t hi)
{
    for (size_t i = 0; i < r->n;) {
        struct extent *e = &r->free[i];
        if (e->hi <= lo || e->lo >= hi) {
            i++;
            continue;
        }
        struct extent before = {e->lo, lo}, after = {hi, e->hi};
        remove_at(r, i);
        if (before.lo < before.hi)
            insert_at(r, i++, before); /* never fails: one was just removed */
        if (after.lo < after.hi && !insert_at(r, i++, after))
            return; /* full: the tail is lost, which only wastes space */
    }
}

uintptr_t map_region_take(struct map_region *r, size_t len, size_t align)
{
    for (size_t i = 0; i < r->n; i++) {
        uintptr_t lo = (r->free[i].lo + align - 1) & ~(uintptr_t)(align - 1);
        if (lo >= r->free[i].lo && lo + len > lo && lo + len <= r->free[i].hi) {
            cut(r, lo, lo + len);
            return lo;
        }
    }
    return 0;
}

void map_region_claim(struct map_region *r, uintptr_t lo, size_t len)
{
    cut(r, lo, lo + len);
}

bool map_region_give_back(struct map_region *r, uintptr_t lo, size_t len)
{
    uintptr_t hi = lo + len;
    /* Swallow every extent that touches or overlaps [lo, hi). */
    size_t i = 0;
    while (i < r->n && r->free[i].hi < lo)
        i++;
    while (i < r->n && r->free[i].lo <= hi) {
        if (r->free[i].lo < lo)
            lo = r->free[i].lo;
        if (r->free[i].hi > hi)
            hi = r->free[i].hi;
        remove_at(r, i);
    }
    return insert_at(r, i, (struct extent){lo, hi});
}

void map_region_free_space(struct map_region *r, size_t *bytes, size_t *extents)
{
    size_t b = 0;
    for (size_t i = 0; i < r->n; i++)
        b += r->free[i].hi - r->free[i].lo;
    *bytes = b;
    *extents = r->n;
}

void map_region_lock(struct map_region *r)
{
    pthread_mutex_lock(&r->lock);
}

void map_region_unlock(struct map_region *r)
{
    pthread_mutex_unlock(&r->lock);
}
