/* libc's own WRPKRU, through its public pkey_set: every key opened. */
#define _GNU_SOURCE
#include "attack.h"

#include <sys/mman.h>

int main(void)
{
    vault_open();
    for (int key = 1; key < 16; key++)
        pkey_set(key, 0);
    read_secret_at(VAULT_DATA, vault_address(VAULT_DATA)->secret);
}
