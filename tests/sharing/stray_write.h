/* Shared by the sharing tests' scribblers: a write through a stray pointer
 * into the mapping of a file whose name ends with SUFFIX, as a buggy peer
 * process would make it. */
#ifndef SHARING_STRAY_WRITE_H
#define SHARING_STRAY_WRITE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The start and end of the first mapping of a file named *SUFFIX. */
static int find_mapping(const char *suffix, uintptr_t *lo, uintptr_t *hi)
{
    char line[512];
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps)
        return -1;
    int rc = -1;
    while (rc && fgets(line, sizeof line, maps)) {
        line[strcspn(line, "\n")] = 0;
        size_t n = strlen(line), s = strlen(suffix);
        unsigned long a, b;
        if (n > s && strcmp(line + n - s, suffix) == 0 && sscanf(line, "%lx-%lx", &a, &b) == 2) {
            *lo = a;
            *hi = b;
            rc = 0;
        }
    }
    fclose(maps);
    return rc;
}

/* Writes garbage over the mapping's first words; returns only if nothing stopped it. */
static void scribble_over(const char *suffix)
{
    uintptr_t lo, hi;
    if (find_mapping(suffix, &lo, &hi) != 0) {
        printf("no mapping of *%s\n", suffix);
        return;
    }
    printf("writing into %s at %#lx\n", suffix, (unsigned long)lo);
    fflush(stdout);
    for (uintptr_t p = lo; p < lo + 512 && p < hi; p += 8)
        *(volatile uint64_t *)p = 0x5c5c5c5c5c5c5c5cull;
    printf("wrote 512 bytes into %s\n", suffix);
}

#endif
