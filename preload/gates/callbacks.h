/* Callback arguments: function pointers the application hands a library
 * are replaced by stubs that run them with the application's rights (and
 * bring the library's rights back when they return).  Stubs are never
 * freed, so a library may keep and call them long after the entry returned. */
#ifndef LIBPROTECT_CALLBACKS_H
#define LIBPROTECT_CALLBACKS_H

#include "gates/domains.h"
#include "gates/gate_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The pointer to give the library of domain D in place of FN (an open
 * callback's with OPEN: gate_layout.h).  Null, -1, small integers
 * (SQLITE_STATIC, SQLITE_TRANSIENT), the library's own code and existing
 * stubs are passed through unchanged. */
uintptr_t callback_stub_for(struct domain *d, uintptr_t fn, bool open);

/* The application function behind callback stub STUB of domain SLOT, or
 * 0 when STUB is not one. */
uintptr_t callback_target_of(int slot, uintptr_t stub);

/* Reserves the region of domain SLOT's callback stubs (at its first
 * attach, so that the system-call filter knows it).  0 on success. */
int callbacks_reserve(int slot);
void callbacks_region(int slot, uintptr_t *lo, size_t *size);

/* Called before the gate for exports with "callbacks =": rewrites the
 * marked arguments in REGS, or on the caller's stack SP (SP[0] is the
 * return address).  (The learning observer sees every entry here too.) */
void protect_wrap_callback_args(struct saved_regs *regs, uint64_t *sp);

/* Called by the gate, the domain open and on its stack, for exports with
 * callbacks or pointers (bit 63 of their target): the arguments as the
 * library gets them (REGS, and WINDOW: stack arguments 7 to 14) must hold
 * no application function without its stub and no pointer into the
 * library's memory; else a report and the end of the process.  FUNC: the
 * function's index in the domain open now. */
void protect_check_entry_args(const struct saved_regs *regs, const uint64_t *window, uint64_t func);

/* The runtime domain's service RT_CALLBACK (services.h). */
uintptr_t callbacks_rt_service(int rt_slot, void *io);

#endif
