/* The library the attacks go after: a secret and a counter in each kind of
 * memory a library has (.data, .bss, heap, its own mmap, its stack). */
#ifndef VAULT_H
#define VAULT_H

#include <stddef.h>
#include <stdint.h>

#define VAULT_SECRET_LEN 32

enum vault_place { VAULT_DATA, VAULT_BSS, VAULT_HEAP, VAULT_MMAP, VAULT_PLACES };

struct vault_cell {
    uint64_t counter;
    uint8_t secret[VAULT_SECRET_LEN];
};

/* Fills every place with a fresh random secret; counters start at 1. */
void vault_open(void);
/* Where PLACE lives (an attacker is assumed to know every address). */
struct vault_cell *vault_address(enum vault_place place);
/* Read through the gate. */
uint64_t vault_counter(enum vault_place place);
void vault_bump(void);
/* 1 if GUESS is PLACE's secret. */
int vault_matches(enum vault_place place, const uint8_t *guess);
/* Keeps a copy of the .data secret on the library's stack for MS
 * milliseconds (a long library call). */
void vault_hold(unsigned ms);
/* The same, with the .data secret in two vector registers all along (as
 * AES-NI code keeps its round keys in them while it works). */
void vault_hold_in_registers(unsigned ms);
/* Calls CB with a cell on the library's own stack holding the .data secret. */
void vault_visit(void (*cb)(struct vault_cell *on_stack, void *arg), void *arg);

/* Calls FN(ARG) with the vault's rights: FN another protected library's
 * export (out_call). */
void vault_through(void (*fn)(void *), void *arg);
/* Stores a hash of PLACE's secret at *OUT (a pointer argument: the policy
 * declares it, pointers = 2:8). */
void vault_secret_hash(enum vault_place place, uint64_t *out);

/* The vault's file (its "database"): opened for writing by the library
 * and kept open; it holds the .data secret.  -1 on failure. */
int vault_file_open(const char *path);
/* The file's descriptor (an attacker can guess any number). */
int vault_file_fd(void);
/* 1 if the file still holds the secret, as the library wrote it. */
int vault_file_intact(void);

/* What a library does with libc beyond memory and files: starts a thread
 * of its own and waits for it, loads libm and unloads it.  0 if all went. */
int vault_use_libc(void);

#endif
