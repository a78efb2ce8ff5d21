/* One-line messages on stderr, prefixed "libprotect: ". */
#ifndef LIBPROTECT_LOG_H
#define LIBPROTECT_LOG_H

#include <stdbool.h>

extern bool protect_verbose;

__attribute__((format(printf, 1, 2))) void protect_log(const char *fmt, ...);
/* Verbose-only message. */
__attribute__((format(printf, 1, 2))) void protect_info(const char *fmt, ...);
/* A broken invariant at run time: the message, then abort(). */
__attribute__((format(printf, 1, 2), noreturn)) void protect_fatal(const char *fmt, ...);
/* The program cannot be run protected (bad policy, no PKU...): the message,
 * then exit status 1 before the program's own code runs. */
__attribute__((format(printf, 1, 2), noreturn)) void protect_refuse(const char *fmt, ...);

#endif
