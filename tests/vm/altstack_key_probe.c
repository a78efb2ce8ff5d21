/* Does the kernel deliver a signal onto an alternate stack tagged with a key
 * the thread may not touch, and start the handler so that it can open it?
 * (What libprotect's signal frames need to be out of the application's
 * reach.)  Linux 6.1, Debian 12's and the guest's default: no, the thread
 * dies of SIGSEGV.  Linux 6.12 (bookworm-backports), booted in the guest
 * with PKU_VM_KERNEL=.../vmlinuz-6.12...: yes, the handler starts with
 * key 0 only (0x55555554) and the interrupted rights come back on return.
 * With CLOSE_BEFORE_RETURN=1 the handler closes the key again before it
 * returns: rt_sigreturn reads the frame with the rights then in force, and
 * the thread dies of SIGSEGV (Linux 6.18, natively): a restorer of such
 * frames must open the key itself.
 *   gcc -O2 -o build/altkey tests/vm/altstack_key_probe.c
 *   tests/vm/pku-vm build/altkey */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
uint32_t open_pkru, entry_pkru;
static volatile int ran;
static char *alt;
static int probe_key;
void c_handler(int sig, siginfo_t *si, void *uc)
{
    char here;
    ran = (&here > alt && &here < alt + 65536) ? 1 : 2;
    if (getenv("CLOSE_BEFORE_RETURN")) {
        uint32_t pkru, edx;
        __asm__ volatile("rdpkru" : "=a"(pkru), "=d"(edx) : "c"(0));
        pkru |= 3u << (2 * probe_key);
        __asm__ volatile("wrpkru" ::"a"(pkru), "c"(0), "d"(0));
    }
}
__asm__(".text\n.globl entry\nentry:\n"
        "  mov %rdx, %r11\n  xor %ecx, %ecx\n  rdpkru\n  mov %eax, entry_pkru(%rip)\n"
        "  xor %ecx, %ecx\n  xor %edx, %edx\n  mov open_pkru(%rip), %eax\n  wrpkru\n"
        "  mov %r11, %rdx\n  jmp c_handler\n");
void entry(int, siginfo_t *, void *);
int main(void)
{
    int key = (int)syscall(SYS_pkey_alloc, 0, 0);
    if (key < 0) { perror("pkey_alloc"); return 2; }
    probe_key = key;
    alt = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (syscall(SYS_pkey_mprotect, alt, 65536, PROT_READ | PROT_WRITE, key)) { perror("pkey_mprotect"); return 2; }
    stack_t ss = {.ss_sp = alt, .ss_size = 65536};
    sigaltstack(&ss, NULL);
    struct sigaction sa = {.sa_sigaction = entry, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigaction(SIGUSR1, &sa, NULL);
    uint32_t pkru, edx;
    __asm__ volatile("rdpkru" : "=a"(pkru), "=d"(edx) : "c"(0));
    open_pkru = pkru & ~(3u << (2 * key));
    uint32_t closed = pkru | (3u << (2 * key));
    __asm__ volatile("wrpkru" ::"a"(closed), "c"(0), "d"(0));
    raise(SIGUSR1);
    __asm__ volatile("rdpkru" : "=a"(pkru), "=d"(edx) : "c"(0));
    printf("handler ran %s; handler started with PKRU %#x; after: PKRU %#x (closed %#x)\n",
           ran == 1 ? "on the tagged alternate stack" : ran ? "elsewhere" : "not", entry_pkru, pkru, closed);
    return ran == 1 && pkru == closed ? 0 : 1;
}
