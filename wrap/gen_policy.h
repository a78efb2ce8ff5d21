/* protect-wrap --gen-policy: a commented starting policy for a library. */
#ifndef LIBPROTECT_GEN_POLICY_H
#define LIBPROTECT_GEN_POLICY_H

/* Prints the policy for LIB to stdout; returns 0, or 2 after one error line. */
int gen_policy(const char *lib);

#endif
