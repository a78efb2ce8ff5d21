/* libc's own WRPKRU, through its public pkey_set: every key opened. */
#define _GNU_SOURCE
#include "attack.h"

#include <sys/mman.h>

static const volatile uint8_t *steal(void *cell)
{
    for (int key = 1; key < 16; key++)
        pkey_set(key, 0);
    return ((struct vault_cell *)cell)->secret;
}

int main(void)
{
    vault_open();
    steal_in_child(steal, vault_address(VAULT_DATA));
}
