/* protect-wrap --check: what can be gated in a library, and what in it
 * could change PKRU behind a gate's back. */
#ifndef LIBPROTECT_CHECK_REPORT_H
#define LIBPROTECT_CHECK_REPORT_H

#include <stdbool.h>

/* Checks every file in PATHS; prints a text report per library, or one JSON
 * document for the run.  Files that fail get one error line on stderr
 * ("protect-wrap: FILE: reason") and do not stop the others.
 * Returns 0 when every file was checked, 2 otherwise. */
int check_libraries(char **paths, int n, bool json);

#endif
