/* protect-wrap --learn: a policy from a run. */
#ifndef LIBPROTECT_LEARN_H
#define LIBPROTECT_LEARN_H

#include "launch.h"

/* Runs ARGV with LIB protected and watched, then writes a policy for LIB
 * to OUTPUT ("-": standard output).  0, or 1 (the run showed nothing),
 * 2 (LIB not found or unreadable, OUTPUT not writable). */
int learn_policy(const char *lib, const char *output, const struct launch_options *opts, char **argv);

#endif
