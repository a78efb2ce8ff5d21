/* Audit mode and policy learning: what a run shows about how a program uses
 * a protected library.  observe.c watches entries (which arguments point at
 * application functions), allocations (which gated function a heap block
 * was made in) and callbacks; audit.c lets an access that a key stopped go
 * through, once, and records it.  At exit: a summary, JSON records
 * (PROTECT_AUDIT=FILE) and the observations protect-wrap --learn turns
 * into a policy (PROTECT_LEARN=FILE). */
#ifndef LIBPROTECT_LEARN_H
#define LIBPROTECT_LEARN_H

#include "gates/domains.h"
#include "gates/gate_table.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <ucontext.h>

/* From PROTECT_AUDIT and PROTECT_LEARN: sets the hooks of the layers below
 * (at start, before any library is attached).  Returns whether any is on. */
bool learn_start(void);

/* observe.c */
void observe_entry(int slot, size_t func, struct saved_regs *regs, uint64_t *sp);
/* For SIGTRAP: true when it was one of observe.c's stubs (a callback
 * candidate called back: counted, the thread goes on to the callback). */
bool observe_trap(const siginfo_t *si, ucontext_t *uc);
void observe_alloc(const struct domain *d, uintptr_t block, uint64_t func);
/* The application freeing a library's block (audit: let it, and count it
 * for the entry that allocated it). */
bool observe_release(const struct domain *d, uintptr_t block);
/* The gated function ADDR's heap block was allocated in (with D open), or UINT64_MAX. */
uint64_t observed_alloc_func(const struct domain *d, uintptr_t addr);
/* The callback candidate (an index for observed_callback) whose function
 * runs at one of the frames from UC outwards, or -1. */
long observed_callback_in(ucontext_t *uc);
/* What callback candidate I was: its domain, gated function and argument position. */
bool observed_callback(long i, int *slot, size_t *func, int *argpos);
/* Writes the observations, one per line (learn file format, wrap/learn.c). */
void observe_write(FILE *f);

/* audit.c */
bool audit_access(int sig, siginfo_t *si, ucontext_t *uc);
/* The audit records, in the learn file's format. */
void audit_write_learned(FILE *f);

#endif
