/* protect-wrap's run mode: validate policies, preload the shim, exec. */
#ifndef LIBPROTECT_LAUNCH_H
#define LIBPROTECT_LAUNCH_H

#include <stdbool.h>
#include <stdio.h>

/* Validates FILES; prints each error as FILE:LINE: message to ERRORS (and,
 * with WARNINGS, what is valid but worth knowing).  Returns the number of
 * files with errors. */
int validate_policies(char **files, int n, FILE *errors, bool warnings);

struct launch_options {
    bool verbose;  /* PROTECT_VERBOSE=1 */
    bool hardened; /* false: PROTECT_HARDENED=0 */
    bool dry_run;  /* PROTECT_DRY_RUN=1: gated, no keys */
    const char *audit; /* PROTECT_AUDIT: NULL off, "1" a summary, else a JSON file */
    const char *stats; /* PROTECT_STATS: NULL off, "1" a table at exit, else a JSON file */
};

/* Runs ARGV with libprotect.so preloaded and the policies in PROTECT_POLICY,
 * as OPTS say.  Returns only on failure: 1 (invalid policy), 2 (shim not
 * found), 126/127 (program not executable / not found). */
int launch(char **policies, int n_policies, const struct launch_options *opts, char **argv);

/* The libprotect.so that belongs to this protect-wrap, found relative to
 * its own executable (build tree or installed tree).  Malloc'd, or NULL. */
char *find_shim(void);

#endif
