/* PKRU is per thread: when a key is given out, every other thread of the
 * process must learn the application's rights for it. */
#ifndef LIBPROTECT_PKRU_SYNC_H
#define LIBPROTECT_PKRU_SYNC_H

#include <signal.h>
#include <stdint.h>
#include <ucontext.h>

/* libprotect's own signal: PKRU updates of other threads (here), deferral
 * bounds (signals/).  signals/ routes it back to pkru_sync_apply. */
#define PROTECT_SIGNAL (SIGRTMAX)

/* In every other thread, replaces the bits of KEY in PKRU by BITS (whatever
 * rights the thread runs with: application or a library's).  Done by a
 * signal whose handler edits the PKRU saved in its signal frame, which the
 * kernel restores on return.  Returns the threads not reached in time. */
int pkru_sync_threads(int key, uint32_t bits);

/* In the signal handler: applies the pending update to the frame's PKRU. */
void pkru_sync_apply(ucontext_t *uc);

/* The PKRU saved in a signal frame: what the thread will run with again. */
uint32_t frame_rights(ucontext_t *uc);
uint32_t *frame_pkru_slot(ucontext_t *uc);

#endif
