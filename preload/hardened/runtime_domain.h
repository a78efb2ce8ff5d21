/* libprotect's runtime as a domain of its own (hardened mode with keys).
 *
 * The trusted system-call page is code anyone can jump to; what makes its
 * memory calls (mprotect, mmap, pkey_*: what memory is and who may touch
 * it) libprotect's alone is a cookie the filter wants with each, which
 * lies in memory of the runtime key: the application's rights never read
 * it, the libraries' domains may (a library's own memory calls), and the
 * runtime domain does.  That domain is the gate table's last slot
 * (RT_SLOT): entered only through the service gate (a WRPKRU to the table's
 * value, checked; a service by number; this thread's stack in memory of
 * the key), with every signal but SIGSYS blocked while it runs.
 *
 * libprotect's code that runs with the application's rights asks it:
 * a memory call goes to RT_MEMORY, which holds it to what the application
 * may do itself (nothing over protected memory, nothing executable, no
 * keys); what needs more (attaching a library loaded later, a callback
 * stub, scanned code made executable, a thread's library stacks) is a
 * service of its own that checks its request as a system call checks its
 * arguments.  So the helpers that make libprotect's tables writable, or
 * the page itself, called by the application, change nothing. */
#ifndef LIBPROTECT_RUNTIME_DOMAIN_H
#define LIBPROTECT_RUNTIME_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

/* Sets it up, before any library is attached: a key (unless 15 policies
 * take them all), the cookie, the slot, its blocks and stacks. */
void runtime_domain_setup(void);
bool runtime_domain_on(void);
int runtime_key(void);
/* The runtime domain's rights: the application's with the key open. */
uint32_t runtime_rights(void);
/* The cookie for the filter's first program (once: then forgotten here). */
uint64_t runtime_cookie_for_filter(void);
/* Whether this thread runs in the runtime domain now (the key writable:
 * no library's rights open it so). */
bool in_runtime_domain(void);
/* Where the runtime's own memory lies (protected memory for the filter). */
void runtime_domain_region(int i, uintptr_t *lo, uintptr_t *hi);

#endif
