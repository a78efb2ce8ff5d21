/* libprotect's own code and read-only tables (gate table, function
 * targets) made writable, to redirect a gate. */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <errno.h>
#include <sys/mman.h>

int main(void)
{
    vault_open();
    struct mapping m[32];
    int n = libprotect_mappings(m, 32), tried = 0, opened = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].perms[1] == 'w')
            continue;
        tried++;
        if (mprotect((void *)m[i].lo, m[i].hi - m[i].lo, PROT_READ | PROT_WRITE) == 0)
            opened++;
        else
            fprintf(stderr, "mprotect %lx-%lx: %s\n", m[i].lo, m[i].hi, strerror(errno));
    }
    if (!tried)
        blocked("libprotect is not loaded");
    if (opened)
        breached("made libprotect's code or read-only tables writable");
    blocked("every mprotect of libprotect's read-only memory failed");
}
