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
/* Its bit in a kernel signal mask.  No mask libprotect sets for a thread
 * blocks it (as none blocks the filter's SIGSYS in hardened mode): a thread
 * that did would miss a key given out later (glibc's timer thread blocks
 * everything: the threads it starts for SIGEV_THREAD timers, which inherit
 * its rights, failed in their first call of a library loaded after). */
#define PROTECT_SIGNAL_BIT (1ull << (PROTECT_SIGNAL - 1))

/* Moves every other thread to the application's rights for a key just
 * given out (whatever rights the thread runs with: the application's or a
 * library's).  Done by a signal whose handler edits the PKRU saved in its
 * signal frame, which the kernel restores on return.  Returns the threads
 * not reached in time. */
int pkru_sync_threads(void);

/* PKRU with each key of LIB_KEYS (both bits of every protected library's
 * key) at the application's rights APP, except a key PKRU opens more than
 * APP does (the library the thread is inside keeps its own): never more
 * open than the application, whatever the thread missed before.  Nothing
 * else goes in: the signal that asks for it is one any thread can send
 * itself, and a record of "the key to update" in memory the application
 * can write was a way to open every key (attack pkru_sync). */
/* Reads once where a frame's PKRU is (before any signal is handled). */
void frame_pkru_init(void);
uint32_t pkru_synced(uint32_t pkru, uint32_t app, uint32_t lib_keys);

/* In the signal handler: the frame's PKRU made pkru_synced. */
void pkru_sync_apply(ucontext_t *uc, uint32_t app, uint32_t lib_keys);

/* The PKRU saved in a signal frame: what the thread will run with again. */
uint32_t frame_rights(ucontext_t *uc);
uint32_t *frame_pkru_slot(ucontext_t *uc);

#endif
