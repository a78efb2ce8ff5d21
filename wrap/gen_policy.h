/* protect-wrap --gen-policy: a commented starting policy for a library. */
#ifndef LIBPROTECT_GEN_POLICY_H
#define LIBPROTECT_GEN_POLICY_H

#include "lib_analysis.h"

/* Prints the policy for LIB to stdout; returns 0, or 2 after one error line. */
int gen_policy(const char *lib);

/* Finds LIB as the loader would and analyses it into *A; the path found
 * in *PATH (free both).  0, or 2 after one error line "protect-wrap: ...". */
int analyze_library(const char *lib, struct lib_analysis *a, char **path);

#endif
