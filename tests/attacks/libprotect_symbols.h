/* Finding libprotect in this process, as an attacker would. */
#ifndef LIBPROTECT_SYMBOLS_H
#define LIBPROTECT_SYMBOLS_H

/* Where a symbol of libprotect.so lies, from its symbol table (what any
 * attacker with the same binary knows); NULL if absent. */
void *libprotect_symbol(const char *name);
/* Where the calling thread's copy of libprotect's thread-local NAME lies. */
void *libprotect_thread_local(const char *name);

/* libprotect.so's mappings as /proc/self/maps lists them, and the anonymous
 * rest of its .bss right after them: at most MAX,
 * with their permissions ("r-xp"); returns how many. */
struct mapping {
    unsigned long lo, hi;
    char perms[5];
};
int libprotect_mappings(struct mapping *out, int max);

/* libprotect's trusted system-call page, found from the restorer of any
 * handler it installed; 0 if there is none.  Its first entry is
 * long fn(long nr, long a0, ..., long a5). */
unsigned long libprotect_trusted_page(void);
typedef long (*trusted_page_call)(long, long, long, long, long, long, long);

#endif
