/* Code that runs before libprotect's constructor: a .preinit_array
 * function opens /proc/self/mem while no filter exists yet, and the
 * program later writes the library's counter through it. */
#define _GNU_SOURCE
#include "attack.h"

#include <fcntl.h>

static int mem = -1;

static void early(int argc, char **argv, char **envp)
{
    (void)argc, (void)argv, (void)envp;
    mem = open("/proc/self/mem", O_RDWR);
}
__attribute__((section(".preinit_array"), used)) static void (*const run_early)(int, char **, char **) = early;

int main(void)
{
    vault_open();
    if (mem < 0)
        blocked_errno("open /proc/self/mem before main");
    struct vault_cell *cell = vault_address(VAULT_DATA);
    uint64_t forged = FORGED_COUNTER;
    if (pwrite(mem, &forged, sizeof forged, (off_t)(uintptr_t)&cell->counter) != (ssize_t)sizeof forged)
        blocked_errno("pwrite /proc/self/mem");
    if (vault_counter(VAULT_DATA) == FORGED_COUNTER)
        breached("changed the library's counter through /proc/self/mem opened before libprotect started");
    blocked("the counter did not change");
}
