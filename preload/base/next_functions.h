/* The functions of the libraries after libprotect (RTLD_NEXT) that its
 * interposed ones call: dlopen, pthread_create...  Found once and kept in
 * the sealed pages.  A pointer to them in writable memory would be one the
 * application could point at its own code, which libprotect would then
 * call where it runs with a library's rights (the library's pthread_create
 * or dlopen goes through libprotect's). */
#ifndef LIBPROTECT_NEXT_FUNCTIONS_H
#define LIBPROTECT_NEXT_FUNCTIONS_H

enum next_function {
    NEXT_DLOPEN,
    NEXT_DLCLOSE,
    NEXT_PTHREAD_CREATE,
    NEXT_MALLOC_USABLE_SIZE,
    NEXT_SIGACTION,
    NEXT_FFI_PREP_CLOSURE_LOC, /* libffi may come later, or locally: see next_function_keep */
    NEXT_N
};

/* Finds every one there is now (at start, before anything can run in a
 * signal handler or a library). */
void next_functions_resolve(void);

/* F's address, found now if it was not (NULL if there is none). */
void *next_function(enum next_function f);

/* Keeps ADDR as F's, found otherwise (libffi loaded RTLD_LOCAL). */
void next_function_keep(enum next_function f, void *addr);

#endif
