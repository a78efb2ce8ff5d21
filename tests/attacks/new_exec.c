/* New code after the start-up scan:
 * new_exec anon: WRPKRU written into fresh memory, then made executable;
 * new_exec file: a file mapped executable while harmless (ret), then
 * rewritten to wrpkru; ret (a private mapping shows the file's new bytes
 * on pages it has not copied);
 * new_exec split: a WRPKRU across two pages made executable one after the
 * other, each clean alone (0f 01 at the end of one, ef at the start of
 * the next). */
#define _GNU_SOURCE
#include "attack.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

static const uint8_t gadget[] = {0x31, 0xc0, 0x31, 0xc9, 0x31, 0xd2, 0x0f, 0x01, 0xef, 0xc3}; /* xor*3; wrpkru; ret */
static const uint8_t harmless[] = {0xc3};

static void run(void *code)
{
    ((void (*)(void))code)();
    read_secret_at(VAULT_DATA, vault_address(VAULT_DATA)->secret);
}

int main(int argc, char **argv)
{
    vault_open();
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
