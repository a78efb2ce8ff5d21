/* A signal delivered while the thread is inside the library (the policy's
 * no_defer = SIGUSR2): the application's handler points the interrupted
 * context's instruction pointer at its own code, which would then run
 * with the library's rights.  handler_inside */
#define _GNU_SOURCE
#include "attack.h"

#include "signal_inside.h"

int main(void)
{
    vault_open();
    signal_inside(SIGUSR2, redirect_to_stealer, vault_hold, 1000);
    blocked(redirect_ran ? "the handler ran, and the library went on as it was" : "the handler did not run");
}
