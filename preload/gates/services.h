/* libprotect's services: what its runtime does with a domain's rights,
 * run by the service gate (gate.S, protect_service) on the calling
 * thread's service stack in that domain.  A service is a number, its C
 * function is in the read-only gate table, and it takes a private copy of
 * its request (SVC_IO bytes), which it may overwrite with its answer: so
 * that no C function of libprotect opens a domain itself, and none takes a
 * function or a target from its caller.  A service checks its request as a
 * system call checks its arguments: the application may make any. */
#ifndef LIBPROTECT_SERVICES_H
#define LIBPROTECT_SERVICES_H

#include "gates/gate_layout.h"

#include <stdint.h>

union service_io {
    uint64_t w[SVC_IO / 8];
    uint8_t bytes[SVC_IO];
};

/* The services that run C code (numbers below N_SERVICES).  SVC_CLAIM,
 * SVC_RELEASE and SVC_COUNT (gate_layout.h) are the gate's own. */
enum service {
    SVC_LOWER_SP,    /* gates/: a signal delivered inside moves the entries' place down */
    SVC_RAISE_SP,    /* ... and back */
    SVC_READ_SP,     /* ... where it is */
    SVC_RETIRE,      /* gates/: an exiting thread's counts to the exited threads' block */
    SVC_SUM_COUNTS,  /* gates/: every thread's counts */
    SVC_TRAP,        /* hardened/: a system call the library made, carried out for it */
    SVC_HEAP_BLOCK,  /* learn/: the heap block holding an address */
    SVC_HEAP_USAGE,  /* telemetry/: the heap's bytes in use and peak */
    /* the application's own requests (SVC_FIRST_LOUD) */
    SVC_HEAP_FREE,   /* memory/: the application hands back a block of the domain's heap */
    SVC_HEAP_USABLE, /* memory/: a block's usable size */
    SVC_N_C
};
_Static_assert(SVC_HEAP_FREE == SVC_FIRST_LOUD, "the application's requests last");
_Static_assert(SVC_N_C <= N_SERVICES, "services fit the table");

/* The runtime domain's services (RT_SLOT; hardened/runtime_domain.h):
 * what libprotect's code with the application's rights may ask of it. */
enum rt_service {
    RT_MEMORY,   /* a memory call of the trusted page, held to the application's rules */
    RT_RESCAN,   /* attach the protected libraries loaded since, detach those gone */
    RT_CALLBACK, /* a callback stub for an application function */
    RT_EXEC,     /* make application code executable once scanned */
    RT_STACKS,   /* key a thread's stacks in a library's domain */
    RT_START_DONE, /* the trusted page's filter program, at the end of the start */
    RT_CONTAIN,  /* a library's contained fault: its later calls fail fast */
    RT_EXIT_PATCH, /* the gates' final ret made an int3 and back (no hardware breakpoints) */
    RT_TRAP,     /* a call the filter stops for the application, by the application's rules */
    RT_EXIT_BREAKPOINT, /* this thread's hardware breakpoint on the gates' final ret */
    RT_SIGACTION, /* a signal's action in the kernel: libprotect's handler, SIG_DFL or SIG_IGN */
    RT_ALTSTACK, /* this thread's alternate stack in the kernel: libprotect's */
    RT_N
};
_Static_assert(RT_N <= N_SERVICES, "runtime services fit the table");

/* Runs service SVC in domain SLOT with request IO (answer written back). */
uintptr_t domain_service(int slot, unsigned svc, union service_io *io);

/* Runs runtime service SVC (enum rt_service) in libprotect's runtime
 * domain, every signal but SIGSYS blocked meanwhile. */
uintptr_t runtime_service(unsigned svc, union service_io *io);
/* The same for a caller that has every asynchronous signal blocked
 * already (libprotect's signal handler): two system calls fewer. */
uintptr_t runtime_service_masked(unsigned svc, union service_io *io);

/* Puts FN in the table as service SVC (at start, before anything runs). */
void gate_table_set_service(unsigned svc, uintptr_t (*fn)(int slot, void *io));
void gate_table_set_rt_service(unsigned svc, uintptr_t (*fn)(int slot, void *io));

/* The service gate's two builds (gate.S, gate_dry.S). */
uintptr_t protect_service(int slot, unsigned svc, union service_io *io);
uintptr_t protect_service_dry(int slot, unsigned svc, union service_io *io);

#endif
