/* Writing gates into a running library: entry stubs, and the jumps (or
 * int3s) at the patched exports. */
#ifndef LIBPROTECT_PATCHER_H
#define LIBPROTECT_PATCHER_H

#include "patch_plan.h"

#include <stddef.h>
#include <stdint.h>

#define STUB_SIZE 32

/* Writes at STUB: mov r11d, ID; jmp *GATE. */
void write_entry_stub(uint8_t *stub, uint32_t id, void (*gate)(void));

struct patch_request {
    uintptr_t at;           /* first byte to overwrite (after ENDBR64) */
    uintptr_t stub;
    enum patch_kind kind;   /* PATCH_JMP or PATCH_TRAP */
};

/* Patches every request into code in [TEXT_LO, TEXT_HI) (made writable
 * meanwhile, never non-executable), safely while other threads may run it:
 * int3s first (a thread that hits one is sent to the stub by the trap
 * handler), then each jump's displacement, then its opcode. */
int patch_entries(const struct patch_request *req, size_t n, uintptr_t text_lo, uintptr_t text_hi);

/* The code in [LO, HI) was unmapped: its int3 sites mean nothing now. */
void patch_forget_range(uintptr_t lo, uintptr_t hi);

/* After changing code that other threads may be running: makes every core
 * of the process serialise, so that none keeps executing the old bytes
 * (membarrier SYNC_CORE; nothing when the kernel lacks it). */
void sync_cores(void);

/* For the SIGTRAP handler: the stub for an int3 placed at AT, or 0. */
uintptr_t patch_trap_target(uintptr_t at);

#endif
