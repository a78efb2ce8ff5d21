/* The library as a confused deputy: a gated function that writes through
 * its pointer argument, handed a pointer into the library's own memory
 * (the heap cell's counter), writes there with the library's rights.
 * With "runtime": a pointer into libprotect's runtime domain's stacks
 * (found in its gate table), which every library may read. */
#include "attack.h"
#include "libprotect_symbols.h"

#include <stdint.h>

#define RT_STACKS_LO (15 * 128 + 80) /* gate_layout.h: RT_SLOT << DG_SHIFT, DG_STACKS_LO */

int main(int argc, char **argv)
{
    vault_open();
    if (argc > 1 && !strcmp(argv[1], "runtime")) {
        const uint8_t *table = libprotect_symbol("protect_gate_page");
        uint64_t stacks = table ? *(const uint64_t *)(table + RT_STACKS_LO) : 0;
        if (!stacks)
            blocked("no runtime domain's stacks found");
        uint64_t *at = (uint64_t *)(uintptr_t)(stacks + 4096 + 256);
        vault_secret_hash(VAULT_DATA, at);
        breached("the library wrote into libprotect's runtime domain's stack for the application");
    }
    struct vault_cell *heap = vault_address(VAULT_HEAP);
    vault_secret_hash(VAULT_DATA, &heap->counter);
    if (vault_counter(VAULT_HEAP) != 1)
        breached("changed the library's counter through its own pointer argument");
    blocked("the counter did not change");
}
