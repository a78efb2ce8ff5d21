/* Faults: PKU violations by the application get a report; int3 gate
 * entries are sent to their stubs; failed gate checks are named. */
#ifndef LIBPROTECT_FAULTS_H
#define LIBPROTECT_FAULTS_H

/* Installs the SIGSEGV, SIGTRAP and SIGILL handlers (once). */
void faults_install(void);

#endif
