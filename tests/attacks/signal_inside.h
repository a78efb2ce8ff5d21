/* What the attacks on signals delivered inside the library share: the
 * thread held inside the vault while another thread signals it, and the
 * application code a handler points a context at. */
#ifndef SIGNAL_INSIDE_H
#define SIGNAL_INSIDE_H

#include <signal.h>
#include <ucontext.h>

/* Installs HANDLER (SA_SIGINFO) for SIG, then calls HOLD(MS), a vault call
 * that keeps this thread inside the library, while another thread sends it
 * SIG 200 ms in; returns when both are done. */
void signal_inside(int sig, void (*handler)(int, siginfo_t *, void *), void (*hold)(unsigned), unsigned ms);

/* Points the context whose registers are GREGS at application code that
 * reads the vault's secret (and exits), on a stack of its own: with the
 * library's rights, if the context comes back with them. */
void point_at_stealer(greg_t *gregs);

/* A handler that points its context at that code, and whether it ran. */
void redirect_to_stealer(int sig, siginfo_t *si, void *ctx);
extern volatile int redirect_ran;

#endif
