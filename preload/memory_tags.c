#define _GNU_SOURCE
#include "memory_tags.h"

#include "pku.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* /proc/self/maps read with raw syscalls into a stack buffer: no stdio, no
 * malloc, while the caller's rights are in flux. */
long tag_writable_mappings(uintptr_t lo, uintptr_t hi, int key)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[8192];
    size_t have = 0;
    long tagged = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            unsigned long start, end;
            char perms[5];
            if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 && perms[1] == 'w' &&
                end > lo && start < hi) {
                uintptr_t s = start > lo ? start : lo, e = end < hi ? end : hi;
                int prot = (perms[0] == 'r' ? PROT_READ : 0) | PROT_WRITE | (perms[2] == 'x' ? PROT_EXEC : 0);
                if (pku_mprotect((void *)s, e - s, prot, key) != 0) {
                    close(fd);
                    return -1;
                }
                tagged += (long)(e - s);
            }
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have);
    }
    close(fd);
    return tagged;
}

void *map_tagged(size_t size, int key)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (pku_mprotect(p, size, PROT_READ | PROT_WRITE, key) != 0) {
        munmap(p, size);
        return NULL;
    }
    return p;
}
