/* Hardened mode's system-call filter (seccomp): what the application may no
 * longer ask the kernel, so that it cannot undo PKU behind the gates.
 *
 * Two filters, both installed before main:
 *  - libseccomp's: ptrace and process_vm_readv/writev fail with EPERM in
 *    this process and every process it starts (those reach into another
 *    process's memory past PKU); other architectures' entries (int 0x80,
 *    x32) kill the process.
 *  - a scoped one, built here, for calls made from this program's code
 *    (every executable mapping, exactly; children that exec another program
 *    have their code elsewhere and are left alone): memory calls over
 *    protected memory, pkey_alloc/free/mprotect, io_uring, userfaultfd and
 *    the like are refused; new executable memory, mremap, open and
 *    rt_sigreturn go to the SIGSYS handler (syscall_trap.c), which decides.
 * libprotect's own calls come from the trusted page (trusted_syscall.c),
 * which lies outside the scope and has a program of its own: with the
 * runtime domain's cookie a call goes through, without it the page's calls
 * are held to the same rules (install_cookie_filter).  A filter cannot be changed, only added to:
 * each new protected library or new executable mapping adds one. */
#ifndef LIBPROTECT_SYSCALL_FILTER_H
#define LIBPROTECT_SYSCALL_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SECCOMP_RET_DATA of a trap: why the scoped filter stopped the call. */
enum filter_reason {
    FILTER_FORBIDDEN = 1, /* never allowed to the application */
    FILTER_PROTECTED,     /* touches protected memory */
    FILTER_EXEC,          /* makes memory executable: scanned first */
    FILTER_REMAP,         /* mremap: both ranges checked */
    FILTER_OPEN,          /* open: /proc/<pid>/mem is refused */
    FILTER_SIGRETURN,     /* rt_sigreturn not from libprotect's restorer */
    FILTER_FD,            /* a descriptor of the libraries' range (library_fds.h) */
    FILTER_SENDMSG,       /* sendmsg: descriptors sent away (SCM_RIGHTS) are checked */
    FILTER_SIGNAL,        /* rt_sigaction, sigaltstack, rt_sigprocmask that set: libprotect keeps them */
    FILTER_THREAD,        /* clone of a thread: started with libprotect's alternate stack (thread_start.h) */
};

/* Whether the scoped filter sends call NR with arguments A to the handler
 * for REASON: what a SIGSYS claiming to be its trap must match (anyone can
 * send itself a SIGSYS with any siginfo). */
bool filter_sends(long nr, int reason, const long *a);

/* The reason the filter traps call NR with arguments A for when the
 * application makes it (enum filter_reason), or 0 when it lets it through. */
int app_trap_reason(long nr, const long *a);

/* Whether hardened mode is on (PROTECT_HARDENED unset or not "0"). */
bool hardened_mode(void);
/* Reads PROTECT_HARDENED once, at start; hardened_mode() answers the same from then on. */
bool hardened_mode_decide(void);

/* Installs both filters (once), after the protected libraries are
 * attached.  Refuses to run the program if it cannot. */
void syscall_filter_install(void);
/* Adds a filter that knows the current protected memory (after a dlopen
 * attached a library).  Nothing before syscall_filter_install. */
void syscall_filter_refresh(void);
/* Adds [LO, HI) to the watched code (new executable memory) and a filter
 * that knows it.  0, or -1 when no more filters can be added. */
int syscall_filter_add_code(uintptr_t lo, uintptr_t hi);

/* The owner of protected memory overlapping [LO, HI): a library's name,
 * "libprotect", or NULL if none. */
const char *protected_owner(uintptr_t lo, uintptr_t hi);
/* Whether [lo, hi) overlaps protected memory (protected_owner != NULL). */
bool in_protected_memory(uintptr_t lo, uintptr_t hi);
/* Whether [LO, HI) overlaps code the filter watches. */
bool watched_code(uintptr_t lo, uintptr_t hi);

#endif
