/* A signal delivered while the thread is inside the library (no_defer =
 * SIGUSR2): the application's handler reads the library's registers in the
 * context it is shown (the vault keeps its secret in two vector registers
 * while it works, as AES-NI code keeps its round keys), then tries every
 * 32 bytes of them as the secret.  handler_registers */
#define _GNU_SOURCE
#include "attack.h"

#include "signal_inside.h"

static uint8_t seen[4096 + sizeof(gregset_t)];
static size_t n_seen;
static volatile int handled;

static void look(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    memcpy(seen, uc->uc_mcontext.gregs, sizeof(gregset_t));
    n_seen = sizeof(gregset_t);
    if (uc->uc_mcontext.fpregs) {
        memcpy(seen + n_seen, uc->uc_mcontext.fpregs, 4096);
        n_seen += 4096;
    }
    handled = 1;
}

int main(void)
{
    vault_open();
    signal_inside(SIGUSR2, look, vault_hold_in_registers, 600); /* the secret in two vector registers */
    if (!handled)
        blocked("the handler did not run");
    for (size_t i = 0; i + VAULT_SECRET_LEN <= n_seen; i += 8)
        if (vault_matches(VAULT_DATA, seen + i))
            breached("read the library's secret in the registers its handler was shown");
    blocked("the context the handler was shown holds no copy of the secret");
}
