/* libprotect's own code and read-only tables (gate table, function
 * targets) made writable, to redirect a gate. */
#define _GNU_SOURCE
#include "attack.h"

#include <errno.h>
#include <sys/mman.h>

int main(void)
{
    vault_open();
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int tried = 0, opened = 0;
    while (maps && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char perms[5];
        if (!strstr(line, "libprotect.so") || sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3 || perms[1] == 'w')
            continue;
        tried++;
        if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) == 0)
            opened++;
        else
            fprintf(stderr, "mprotect %lx-%lx: %s\n", lo, hi, strerror(errno));
    }
    if (!tried)
        blocked("libprotect is not loaded");
    if (opened)
        breached("made libprotect's code or read-only tables writable");
    blocked("every mprotect of libprotect's read-only memory failed");
}
