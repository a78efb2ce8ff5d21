/* Where a symbol of libprotect.so lies in this process, from its symbol
 * table (what any attacker with the same binary knows); NULL if absent. */
#ifndef LIBPROTECT_SYMBOLS_H
#define LIBPROTECT_SYMBOLS_H

void *libprotect_symbol(const char *name);

#endif
