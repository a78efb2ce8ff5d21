/* Threads a protected library starts (pthread_create or thrd_create called
 * inside its domain).
 *
 * A thread whose start routine is the library's own code (lwIP's
 * tcpip_thread) is a domain thread: it enters the library through a gate
 * of its own, so it runs on a domain stack with the library's rights, its
 * faults are the library's, and its calls back into the application go
 * through callback gates.  It is born with asynchronous signals blocked:
 * it lives inside the library, where no handler may run, so process-wide
 * signals go to the application's threads.  A thread whose start routine
 * is the application's (a callback passed in) starts with the
 * application's rights. */
#ifndef LIBPROTECT_THREADS_H
#define LIBPROTECT_THREADS_H

#include "gates/domains.h"

#include <stddef.h>

/* A start routine the library handed to pthread_create, waiting for its
 * thread; kept in the domain's memory (the application cannot forge one). */
struct thread_token {
    uint32_t state;
    uint32_t unused;
    void *(*start)(void *);
    void *arg;
};
#define THREAD_TOKENS 1024
#define THREAD_TOKENS_BYTES (THREAD_TOKENS * sizeof(struct thread_token))

/* The target of each domain's thread gate: runs a pending token's start
 * routine, inside the domain.  Anything but a pending token of the domain
 * it runs in is refused. */
void *domain_thread_runner(void *token);

#endif
