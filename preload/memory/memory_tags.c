#define _GNU_SOURCE
#include "memory/memory_tags.h"

#include "base/far_map.h"
#include "base/pku.h"
#include "base/proc_maps.h"
#include "base/trusted_syscall.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct tag_request {
    uintptr_t lo, hi;
    int key;
    long tagged;
};

static int tag_one(const struct map_entry *m, void *arg)
{
    struct tag_request *r = arg;
    if (!m->write || m->end <= r->lo || m->start >= r->hi)
        return 0;
    uintptr_t s = m->start > r->lo ? m->start : r->lo, e = m->end < r->hi ? m->end : r->hi;
    int prot = (m->read ? PROT_READ : 0) | PROT_WRITE | (m->exec ? PROT_EXEC : 0);
    if (pku_mprotect((void *)s, e - s, prot, r->key) != 0)
        return -1;
    r->tagged += (long)(e - s);
    return 0;
}

long tag_writable_mappings(uintptr_t lo, uintptr_t hi, int key)
{
    struct tag_request r = {lo, hi, key, 0};
    return proc_maps_each(tag_one, &r) != 0 ? -1 : r.tagged;
}

void *map_tagged(size_t size, int key)
{
    void *p = far_mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    if (p == MAP_FAILED)
        return NULL;
    if (pku_mprotect(p, size, PROT_READ | PROT_WRITE, key) != 0) {
        trusted_munmap(p, size);
        return NULL;
    }
    return p;
}
