/* What the synchronous faults mean: an int3 gate entry, an application
 * access that PKU stopped, a failed gate check, or the library's own crash.
 * Called from the signal handler of signals.c, which then delivers the
 * signal as the application asked (its own handler still runs after the
 * report). */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include "faults.h"

#include "domains.h"
#include "gate_table.h"
#include "log.h"
#include "patcher.h"
#include "pku.h"
#include "pkru_sync.h"

#include <dlfcn.h>
#include <errno.h>
#include <libunwind.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif

/* "object!symbol+0xoff" for an address (symbol from libunwind's view of
 * the symbol tables, object from the loader). */
/* IP inside a relocated prologue: "library!function+off (moved prologue)". */
static bool describe_trampoline(uintptr_t ip, char *out, size_t len)
{
    for (int i = 0; i < protect_n_domains; i++) {
        const struct domain *d = &protect_domains[i];
        if (!d->attached || ip - d->near_lo >= d->near_size)
            continue;
        size_t best = SIZE_MAX;
        for (size_t f = 0; f < d->n_funcs; f++)
            if (d->targets[f] <= ip && (best == SIZE_MAX || d->targets[f] > d->targets[best]) &&
                d->targets[f] >= d->near_lo && d->targets[f] < d->near_lo + d->near_size)
                best = f;
        if (best == SIZE_MAX)
            return false;
        snprintf(out, len, "%s!%s+%#lx (moved prologue)", d->name, d->funcs[best].name,
                 (unsigned long)(ip - d->targets[best]));
        return true;
    }
    return false;
}

static void describe(uintptr_t ip, unw_cursor_t *cursor, char *out, size_t len)
{
    Dl_info info = {0};
    const char *object = "?";
    if (describe_trampoline(ip, out, len))
        return;
    if (dladdr((void *)ip, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        object = slash ? slash + 1 : info.dli_fname;
        if (!*object)
            object = program_invocation_short_name;
    }
    char name[256];
    unw_word_t off = 0;
    if (cursor && unw_get_proc_name(cursor, name, sizeof name, &off) == 0)
        snprintf(out, len, "%s!%s+%#lx", object, name, (unsigned long)off);
    else if (info.dli_sname)
        snprintf(out, len, "%s!%s+%#lx", object, info.dli_sname, (unsigned long)(ip - (uintptr_t)info.dli_saddr));
    else if (info.dli_fbase)
        snprintf(out, len, "%s+%#lx", object, (unsigned long)(ip - (uintptr_t)info.dli_fbase));
    else
        snprintf(out, len, "%#lx", (unsigned long)ip);
}

static void backtrace_from(ucontext_t *uc)
{
    unw_cursor_t cursor;
    if (unw_init_local2(&cursor, uc, UNW_INIT_SIGNAL_FRAME) != 0)
        return;
    for (int depth = 0; depth < 32; depth++) {
        unw_word_t ip;
        unw_get_reg(&cursor, UNW_REG_IP, &ip);
        char where[320];
        describe((uintptr_t)ip, &cursor, where, sizeof where);
        protect_log("  #%d %s", depth, where);
        if (unw_step(&cursor) <= 0)
            break;
    }
}

static void first_frame(ucontext_t *uc, char *out, size_t len)
{
    unw_cursor_t cursor;
    uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    describe(ip, unw_init_local2(&cursor, uc, UNW_INIT_SIGNAL_FRAME) == 0 ? &cursor : NULL, out, len);
}

bool fault_handled(int sig, siginfo_t *si, ucontext_t *uc)
{
    uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (sig == SIGTRAP) {
        /* An int3 gate entry: the thread stands at the function's entry. */
        uintptr_t stub = patch_trap_target(ip - 1);
        if (stub && *(const uint8_t *)(ip - 1) == 0xcc) {
            uc->uc_mcontext.gregs[REG_RIP] = (greg_t)stub;
            return true;
        }
    }
    char where[320];
    /* The same fault again (the application's handler returned, or the
     * default action is about to run): reported already. */
    static __thread uintptr_t last_ip, last_addr;
    bool again = ip == last_ip && (uintptr_t)si->si_addr == last_addr;
    last_ip = ip;
    last_addr = (uintptr_t)si->si_addr;
    if (sig == SIGSEGV && si->si_code == SEGV_PKUERR && !again) {
        struct domain *d = domain_of_key(si->si_pkey);
        if (d) {
            bool write = uc->uc_mcontext.gregs[REG_ERR] & 2;
            first_frame(uc, where, sizeof where);
            protect_log("blocked %s of %s (%s) at %p by %s", write ? "write" : "read", d->name,
                        policy_mode_name(d->policy.mode), si->si_addr, where);
            backtrace_from(uc);
        }
    } else if (sig == SIGILL && ip == (uintptr_t)protect_gate_broken_trap && !again) {
        first_frame(uc, where, sizeof where);
        protect_log("gate check failed (a forged gate entry or corrupted gate state)");
        backtrace_from(uc);
    } else if (!again && frame_rights(uc) != app_rights()) {
        struct domain *d = domain_for_rights(frame_rights(uc));
        if (d) {
            first_frame(uc, where, sizeof where);
            protect_log("%s failed: %s at %p in %s", d->name, strsignal(sig), si->si_addr, where);
            backtrace_from(uc);
        }
    }
    return false;
}

