/* Faults: PKU violations by the application get a report; int3 gate
 * entries are sent to their stubs; failed gate checks are named. */
#ifndef LIBPROTECT_FAULTS_H
#define LIBPROTECT_FAULTS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

/* For a synchronous SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGTRAP: true when it was
 * taken care of (an int3 gate entry: the thread goes to its gate; a library
 * fault contained by its policy: the call returns, *ERRNO_OUT is the errno
 * to leave); otherwise reports what it was, once, and returns false
 * (deliver it as usual). */
bool fault_handled(int sig, siginfo_t *si, ucontext_t *uc, int *errno_out);

/* "object!function+0xoff" for a code address, as the reports name it. */
void fault_describe_ip(uintptr_t ip, char *out, size_t len);

/* Registers the runtime domain's RT_CONTAIN (at start). */
void faults_register_rt_service(void);

#endif
