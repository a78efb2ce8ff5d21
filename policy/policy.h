/* Policy files: one INI file per protected library, parsed with libinih
 * into a validated structure.  Every problem is reported as FILE:LINE. */
#ifndef LIBPROTECT_POLICY_H
#define LIBPROTECT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum policy_mode {
    POLICY_INTEGRITY,    /* the application may read the library's memory, not write it */
    POLICY_CONFIDENTIAL, /* the application may neither read nor write it */
};

enum policy_heap {
    HEAP_DOMAIN, /* allocations made inside the entry belong to the library */
    HEAP_APP,    /* ... to the application (e.g. sqlite3_malloc) */
};

#define POLICY_MAX_ARGS 14 /* callback and pointer positions: 6 registers, 8 stack slots the gate copies */

/* A pointer argument the gate checks lies outside the library's memory
 * (the library reads or writes through it for its caller). */
#define POLICY_MAX_POINTERS 4
struct policy_pointer {
    unsigned char arg;       /* 1-based position, at most 6 (a register argument) */
    unsigned char size_arg;  /* the size is this argument's value (0: size_bytes) */
    unsigned size_bytes;     /* a fixed size */
};

struct policy_entry {
    char *name;
    int line;
    enum policy_heap heap;
    unsigned callbacks; /* bit (N-1) set: argument N is a callback */
    /* ... and, of those, the ones that run with write access to the library's
     * memory too (the library hands them its memory to write) */
    unsigned open_callbacks;
    struct policy_pointer pointers[POLICY_MAX_POINTERS];
    unsigned n_pointers;
};

struct policy {
    char *file;
    char *library;      /* as written */
    char *library_path; /* resolved absolute path; NULL for a bare name not on the
                         * default path (matched by file name or soname once loaded) */
    int library_line;
    enum policy_mode mode;
    char **export_globs;
    size_t n_export_globs;
    char **deny_globs;
    size_t n_deny_globs;
    struct policy_entry *entries;
    size_t n_entries;
    bool contain_faults;           /* on_fault = contain (else abort) */
    long fault_value;              /* what a contained call returns (default -1) */
    int fault_errno;               /* and errno (default EIO) */
    unsigned callback_stack_args;  /* 8-byte stack slots a callback's arguments take beyond the
                                    * registers (0, the default: the gate copies none of the
                                    * library's stack to the application's) */
    /* [signals] */
    unsigned long long no_defer;   /* bit N: signal N is delivered even inside the library */
    unsigned max_deferral_ms;      /* 0: the default (10 s) */
};

/* Parses and validates FILE.  Every error is one line "FILE:LINE: message"
 * written to ERRORS (which may be NULL); returns the number of errors, and
 * on 0 fills *P (free it with policy_free). */
int policy_load(const char *file, struct policy *p, FILE *errors);
void policy_free(struct policy *p);

/* Whether export NAME (without version) is gated / denied by P. */
bool policy_exports(const struct policy *p, const char *name);
bool policy_denies(const struct policy *p, const char *name);
const struct policy_entry *policy_entry_for(const struct policy *p, const char *name);

const char *policy_mode_name(enum policy_mode mode);

/* Finds a library as the dynamic loader would (absolute path, or a file name
 * searched in LD_LIBRARY_PATH, /etc/ld.so.conf directories and the default
 * ones).  Returns a malloc'd path or NULL. */
char *policy_find_library(const char *name);

#endif
