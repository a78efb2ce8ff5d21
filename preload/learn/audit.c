/* Audit mode: protection stays on, but an access a key stops is recorded
 * and then let through for that one instruction (the key opened in the
 * faulting thread's saved PKRU, the trap flag set; after the instruction,
 * the trap closes it again), and the program runs on.  At exit: one line
 * per place on stderr, and with PROTECT_AUDIT=FILE the records as JSON. */
#define _GNU_SOURCE
#include "learn/learn.h"

#include "base/pkru_sync.h"
#include "base/pku.h"
#include "base/sealed.h"
#include "log.h"
#include "memory/interpose.h"
#include "signals/faults.h"
#include "signals/signals.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifndef SEGV_PKUERR
#define SEGV_PKUERR 4
#endif
#ifndef TRAP_TRACE
#define TRAP_TRACE 2
#endif
#define EFLAGS_TF 0x100
#define MAX_RECORDS 4096

/* One place in the application's code that a key stopped, and what it touched. */
struct record {
    int slot;
    bool write;
    uintptr_t ip;
    uint64_t alloc_func; /* the gated function the heap block was made in, or UINT64_MAX */
    long callback;       /* the callback candidate that was running, or -1 */
    uintptr_t first_addr;
    unsigned long count;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct record records[MAX_RECORDS];
static size_t n_records;
static unsigned long dropped;

/* Per thread: the PKRU to put back after the single step. */
static __thread struct {
    bool active;
    uint32_t saved;
} step;

static void record(const struct domain *d, bool write, ucontext_t *uc, uintptr_t addr)
{
    uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    uint64_t alloc_func = observed_alloc_func(d, addr);
    long callback = observed_callback_in(uc);
    pthread_mutex_lock(&lock);
    size_t i = 0;
    while (i < n_records && !(records[i].slot == d->slot && records[i].write == write && records[i].ip == ip &&
                              records[i].alloc_func == alloc_func && records[i].callback == callback))
        i++;
    if (i == n_records && n_records < MAX_RECORDS)
        records[n_records++] = (struct record){d->slot, write, ip, alloc_func, callback, addr, 0};
    if (i < n_records)
        records[i].count++;
    else
        dropped++;
    pthread_mutex_unlock(&lock);
}

bool audit_access(int sig, siginfo_t *si, ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    if (sig == SIGTRAP && observe_trap(si, uc))
        return true;
    if (sig == SIGTRAP && si->si_code == TRAP_TRACE && step.active) {
        *frame_pkru_slot(uc) = step.saved; /* the instruction ran: close the key again */
        g[REG_EFL] &= ~(greg_t)EFLAGS_TF;
        step.active = false;
        return true;
    }
    if (sig != SIGSEGV || si->si_code != SEGV_PKUERR)
        return false;
    const struct domain *d = domain_of_key(si->si_pkey);
    if (!d)
        return false;
    record(d, g[REG_ERR] & 2, uc, (uintptr_t)si->si_addr);
    uint32_t *pkru = frame_pkru_slot(uc);
    if (!step.active) {
        step.saved = *pkru;
        step.active = true;
    }
    *pkru &= ~pku_key_mask(d->key); /* one instruction with the key open */
    g[REG_EFL] |= EFLAGS_TF;
    return true;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    fputc('"', f);
}

static const char *alloc_name(const struct record *r)
{
    const struct domain *d = &protect_domains[r->slot];
    return r->alloc_func < d->n_funcs ? d->funcs[r->alloc_func].name : NULL;
}

static void report(void)
{
    const char *file = getenv("PROTECT_AUDIT");
    bool json = file && *file && strcmp(file, "1") != 0;
    FILE *f = json ? fopen(file, "w") : NULL;
    if (json && !f)
        protect_log("audit: cannot write %s: %s", file, strerror(errno));
    unsigned long total = 0;
    for (size_t i = 0; i < n_records; i++)
        total += records[i].count;
    protect_log("audit: %lu accesses the keys stopped were let through, at %zu places%s", total, n_records,
                dropped ? " (more places than recorded)" : "");
    if (f)
        fprintf(f, "{\"records\":[");
    for (size_t i = 0; i < n_records; i++) {
        const struct record *r = &records[i];
        const struct domain *d = &protect_domains[r->slot];
        char where[320];
        fault_describe_ip(r->ip, where, sizeof where);
        const char *alloc = alloc_name(r);
        int cb_slot, cb_arg;
        size_t cb_func;
        bool cb = observed_callback(r->callback, &cb_slot, &cb_func, &cb_arg);
        protect_log("audit: %lu %s of %s (%s) by %s%s%s%s%s", r->count, r->write ? "writes" : "reads", d->name,
                    policy_mode_name(d->policy.mode), where, alloc ? ", in a block allocated in " : "",
                    alloc ? alloc : "", cb ? ", in a callback passed to " : "",
                    cb ? protect_domains[cb_slot].funcs[cb_func].name : "");
        if (!f)
            continue;
        fprintf(f, "%s{\"library\":", i ? "," : "");
        json_string(f, d->name);
        fprintf(f, ",\"access\":\"%s\",\"address\":\"%#lx\",\"code\":", r->write ? "write" : "read",
                (unsigned long)r->first_addr);
        json_string(f, where);
        fprintf(f, ",\"allocated_in\":");
        if (alloc)
            json_string(f, alloc);
        else
            fprintf(f, "null");
        fprintf(f, ",\"callback\":");
        if (cb) {
            fprintf(f, "{\"entry\":");
            json_string(f, protect_domains[cb_slot].funcs[cb_func].name);
            fprintf(f, ",\"argument\":%d}", cb_arg);
        } else {
            fprintf(f, "null");
        }
        fprintf(f, ",\"count\":%lu}", r->count);
    }
    if (f) {
        fprintf(f, "]}\n");
        fclose(f);
    }
}

void audit_write_learned(FILE *f)
{
    for (size_t i = 0; i < n_records; i++) {
        const struct record *r = &records[i];
        char where[320];
        fault_describe_ip(r->ip, where, sizeof where);
        const char *alloc = alloc_name(r);
        int cb_slot, cb_arg = 0;
        size_t cb_func;
        bool cb = observed_callback(r->callback, &cb_slot, &cb_func, &cb_arg);
        fprintf(f, "%s %s %s %d %lu %s\n", r->write ? "write" : "read", alloc ? alloc : "-",
                cb ? protect_domains[cb_slot].funcs[cb_func].name : "-", cb ? cb_arg : 0, r->count, where);
    }
}

static void write_learned(void)
{
    const char *file = getenv("PROTECT_LEARN");
    FILE *f = fopen(file, "w");
    if (!f) {
        protect_log("learn: cannot write %s: %s", file, strerror(errno));
        return;
    }
    fprintf(f, "keys %s\n", pku_dry_run() ? "no" : "yes");
    observe_write(f);
    audit_write_learned(f);
    fclose(f);
}

bool learn_start(void)
{
    const char *audit = getenv("PROTECT_AUDIT"), *learn = getenv("PROTECT_LEARN");
    bool auditing = (audit && *audit && strcmp(audit, "0") != 0) || (learn && *learn);
    if (!auditing)
        return false;
    if (learn && *learn) {
        gate_table_set_entry_observer(observe_entry);
        atexit(write_learned);
    }
    memory_set_observers(observe_alloc, observe_release);
    if (audit && *audit && strcmp(audit, "0") != 0)
        atexit(report);
    return true;
}
