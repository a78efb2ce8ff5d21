/* The application's own WRPKRU, a whole instruction: open every key. */
#include "attack.h"

__attribute__((noinline)) static void set_pkru(unsigned value)
{
    __asm__ volatile("wrpkru" ::"a"(value), "c"(0), "d"(0) : "memory");
}

static const volatile uint8_t *steal(void *cell)
{
    set_pkru(0);
    return ((struct vault_cell *)cell)->secret;
}

int main(void)
{
    vault_open();
    steal_in_child(steal, vault_address(VAULT_DATA));
}
