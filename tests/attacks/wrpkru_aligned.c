/* The application's own WRPKRU, a whole instruction: open every key. */
#include "attack.h"

__attribute__((noinline)) static void set_pkru(unsigned value)
{
    __asm__ volatile("wrpkru" ::"a"(value), "c"(0), "d"(0) : "memory");
}

int main(void)
{
    vault_open();
    set_pkru(0);
    read_secret_at(VAULT_DATA, vault_address(VAULT_DATA)->secret);
}
