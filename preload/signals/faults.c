/* What the synchronous faults mean: an int3 gate entry, an application
 * access that PKU stopped, a failed gate check, or the library's own crash.
 * Called from the signal handler of signals.c, which then delivers the
 * signal as the application asked (its own handler still runs after the
 * report). */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include "signals/faults.h"

#include "gates/domains.h"
#include "gates/gate_table.h"
#include "log.h"
#include "gates/patcher.h"
#include "base/pku.h"
#include "signals/signals.h"
#include "base/pkru_sync.h"
#include "base/trusted_syscall.h"
#include "gates/services.h"

#include <dlfcn.h>
#include <errno.h>
#include <libunwind.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
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
        uintptr_t best_at = 0;
        for (size_t f = 0; f < d->n_funcs; f++) {
            uintptr_t at = d->targets[f] & ~TARGET_CHECK_ARGS;
            if (at <= ip && (best == SIZE_MAX || at > best_at) && at >= d->near_lo && at < d->near_lo + d->near_size)
                best = f, best_at = at;
        }
        if (best == SIZE_MAX)
            return false;
        snprintf(out, len, "%s!%s+%#lx (moved prologue)", d->name, d->funcs[best].name, (unsigned long)(ip - best_at));
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

void fault_describe_ip(uintptr_t ip, char *out, size_t len)
{
    char name[256];
    unw_word_t off = 0;
    Dl_info info = {0};
    if (describe_trampoline(ip, out, len))
        return;
    /* A cursor of this thread moved to IP: libunwind then names it from the
     * object's full symbol table (static functions too). */
    unw_context_t ctx;
    unw_cursor_t cursor;
    /* (moved one byte on: libunwind takes the IP of a frame that is not a
     * signal frame for a return address, and looks up the byte before it) */
    if (unw_getcontext(&ctx) == 0 && unw_init_local(&cursor, &ctx) == 0 &&
        unw_set_reg(&cursor, UNW_REG_IP, (unw_word_t)ip + 1) == 0 &&
        unw_get_proc_name(&cursor, name, sizeof name, &off) == 0 && off > 0 && dladdr((void *)ip, &info) &&
        info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/'), *object = slash ? slash + 1 : info.dli_fname;
        snprintf(out, len, "%s!%s+%#lx", *object ? object : program_invocation_short_name, name,
                 (unsigned long)off - 1);
        return;
    }
    describe(ip, NULL, out, len);
}

static void first_frame(ucontext_t *uc, char *out, size_t len)
{
    unw_cursor_t cursor;
    uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    describe(ip, unw_init_local2(&cursor, uc, UNW_INIT_SIGNAL_FRAME) == 0 ? &cursor : NULL, out, len);
}

/* What a library whose fault was contained answers from then on: one
 * function per domain slot (the gate calls targets with no argument that
 * says which domain it is). */
#define FAILED_CALL(n)                                        \
    static long failed_call_##n(void)                         \
    {                                                         \
        errno = protect_domains[n].policy.fault_errno;        \
        return protect_domains[n].policy.fault_value;         \
    }
FAILED_CALL(0) FAILED_CALL(1) FAILED_CALL(2) FAILED_CALL(3) FAILED_CALL(4) FAILED_CALL(5) FAILED_CALL(6)
FAILED_CALL(7) FAILED_CALL(8) FAILED_CALL(9) FAILED_CALL(10) FAILED_CALL(11) FAILED_CALL(12) FAILED_CALL(13)
FAILED_CALL(14) FAILED_CALL(15)
static long (*const failed_call[MAX_DOMAINS])(void) = {
    failed_call_0, failed_call_1, failed_call_2, failed_call_3, failed_call_4, failed_call_5,
    failed_call_6, failed_call_7, failed_call_8, failed_call_9, failed_call_10, failed_call_11,
    failed_call_12, failed_call_13, failed_call_14, failed_call_15,
};

/* D's gated functions from now on (its targets table, read-only else). */
static void fail_every_call(struct domain *d)
{
    size_t tsize = (d->n_funcs * sizeof *d->targets + 4095) & ~4095ul;
    trusted_mprotect(d->targets, tsize, PROT_READ | PROT_WRITE);
    for (size_t i = 0; i < d->n_funcs; i++)
        d->targets[i] = (uint64_t)(uintptr_t)failed_call[d->slot];
    trusted_mprotect(d->targets, tsize, PROT_READ);
}

/* RT_CONTAIN: w[0] an attached library whose policy says on_fault =
 * contain.  Anyone may ask: it only stops the library being called. */
static uintptr_t contain_service(int rt_slot, void *io)
{
    uint64_t slot = ((const union service_io *)io)->w[0];
    if (rt_slot != RT_SLOT || slot >= (uint64_t)protect_n_domains || !protect_domains[slot].attached ||
        !protect_domains[slot].policy.contain_faults)
        return 1;
    fail_every_call(&protect_domains[slot]);
    return 0;
}

void faults_register_rt_service(void)
{
    gate_table_set_rt_service(RT_CONTAIN, contain_service);
}

/* on_fault = contain: the innermost gated call returns the policy's value
 * (through the gate's own way out, which restores the caller's stack and
 * rights), and every later call of the library fails fast. */
static void contain(struct domain *d, ucontext_t *uc, int *errno_out)
{
    if (!protect_blocks[d->slot])
        return;
    if (trusted_page_needs_runtime())
        runtime_service(RT_CONTAIN, &(union service_io){.w = {(uint64_t)d->slot}});
    else
        fail_every_call(d);
    /* The frame the entry left, then the argument window (gate_layout.h). */
    greg_t *g = uc->uc_mcontext.gregs;
    uint64_t sp = gate_block_sp(d->slot);
    g[REG_RSP] = (greg_t)(sp - GATE_FRAME - GATE_STACK_WINDOW);
    g[REG_RIP] = (greg_t)(uintptr_t)gate_code()->contained;
    g[REG_RAX] = d->policy.fault_value;
    g[REG_RDX] = 0;
    *errno_out = d->policy.fault_errno;
    protect_log("%s: on_fault = contain: this call and every later one return %ld (errno %d)", d->name,
                d->policy.fault_value, d->policy.fault_errno);
}

bool fault_handled(int sig, siginfo_t *si, ucontext_t *uc, int *errno_out)
{
    uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    const struct signal_hooks *hooks = signals_hooks();
    if (hooks->audit && hooks->audit(sig, si, uc))
        return true;
    if (sig == SIGTRAP && hooks->trap && hooks->trap(si, uc))
        return true;
    if (sig == SIGTRAP) {
        /* An int3 gate entry: the thread stands at the function's entry. */
        uintptr_t stub = patch_trap_target(ip - 1);
        if (stub && *(const uint8_t *)(ip - 1) == 0xcc) {
            uc->uc_mcontext.gregs[REG_RIP] = (greg_t)stub;
            for (int i = 0; i < protect_n_domains; i++)
                if (ip - 1 - protect_domains[i].text_lo < protect_domains[i].text_hi - protect_domains[i].text_lo)
                    gate_count(protect_domains[i].slot, GC_TRAP_ENTRIES, 1);
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
            gate_count(d->slot, GC_BLOCKED, 1);
            protect_log("blocked %s of %s (%s) at %p by %s", write ? "write" : "read", d->name,
                        policy_mode_name(d->policy.mode), si->si_addr, where);
            backtrace_from(uc);
        } else if (protect_gate_page.t.domain[RT_SLOT].pkru != GATE_UNUSED_PKRU && (int)si->si_pkey == domain_key(RT_SLOT)) {
            first_frame(uc, where, sizeof where);
            protect_log("blocked %s of libprotect's runtime domain at %p by %s",
                        uc->uc_mcontext.gregs[REG_ERR] & 2 ? "write" : "read", si->si_addr, where);
            backtrace_from(uc);
        }
    } else if (sig == SIGILL && ip == (uintptr_t)protect_gate_broken_trap && !again) {
        first_frame(uc, where, sizeof where);
        protect_log("gate check failed (a forged gate entry or corrupted gate state)");
        backtrace_from(uc);
    } else if (sig == SIGILL && ip == (uintptr_t)protect_gate_bad_block_trap && !again) {
        int slot = (int)(uc->uc_mcontext.gregs[REG_RBX] & (MAX_DOMAINS - 1));
        protect_log("gate check failed: this thread's gate block pointer for %s (%p) is not its block (changed by the "
                    "application?)",
                    domain_name(slot), (void *)protect_blocks[slot]);
    } else if (sig == SIGILL && ip == (uintptr_t)protect_gate_busy_trap && !again) {
        protect_log("gate check failed: this thread's domain stack is in use by another entry (a second thread "
                    "with this thread's FS base, or a library calling back into one that called it)");
    } else if (!again && frame_rights(uc) != app_rights()) {
        struct domain *d = domain_for_rights(frame_rights(uc));
        if (d) {
            first_frame(uc, where, sizeof where);
            gate_count(d->slot, GC_FAULTS, 1);
            protect_log("%s failed: %s at %p in %s", d->name, strsignal(sig), si->si_addr, where);
            backtrace_from(uc);
            if (d->policy.contain_faults && sig != SIGTRAP) {
                gate_count(d->slot, GC_CONTAINED, 1);
                contain(d, uc, errno_out);
                return true;
            }
        }
    }
    return false;
}

