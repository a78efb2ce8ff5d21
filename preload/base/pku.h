/* PKU primitives: PKRU access and the pkey system calls, or their dry-run
 * stand-ins.
 *
 * Dry run (PROTECT_DRY_RUN=1): everything of a protected run but the keys.
 * PKRU is then a per-thread word (protect_emulated_pkru) that the gates and
 * this header read and write instead of the register; keys are numbers
 * handed out in order, and key-tagging is a plain mprotect.  The gate has a
 * build of its own for it (gate_dry.S), chosen once at start. */
#ifndef LIBPROTECT_PKU_H
#define LIBPROTECT_PKU_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/trusted_syscall.h"

/* Decided once at start, then sealed (base/sealed.h). */
struct pku_mode {
    bool dry_run;
    int next_key;          /* dry run: the next key number to hand out */
    uint32_t thread_start; /* dry run: the rights of a thread whose word is unset */
};
extern const struct pku_mode *const protect_pku_mode;

/* Dry run: this thread's PKRU; 0 until it is first set (then thread_start). */
extern __thread uint32_t protect_emulated_pkru __attribute__((tls_model("initial-exec")));

/* Chooses dry run (before anything else here is used). */
void pku_choose_dry_run(bool on);
/* Dry run: the rights threads start with (follow the application's). */
void pku_set_thread_start(uint32_t rights);

static inline bool pku_dry_run(void)
{
    return protect_pku_mode->dry_run;
}

static inline uint32_t pku_read(void)
{
    if (__builtin_expect(pku_dry_run(), 0))
        return protect_emulated_pkru ? protect_emulated_pkru : protect_pku_mode->thread_start;
    uint32_t eax, edx;
    __asm__ volatile("rdpkru" : "=a"(eax), "=d"(edx) : "c"(0));
    return eax;
}

/* PKRU bits of KEY: access-disable (2k) and write-disable (2k+1). */
static inline uint32_t pku_key_bits(int key, bool no_read)
{
    return (no_read ? 3u : 2u) << (2 * key);
}

static inline uint32_t pku_key_mask(int key)
{
    return 3u << (2 * key);
}

int pku_alloc(void);
int pku_mprotect(void *addr, size_t len, int prot, int key);

/* Sets PKRU to VALUE and checks that it took; every WRPKRU in libprotect's
 * C code goes through here (the gates have their own, equally checked). */
void pku_write_checked(uint32_t value);

#endif
