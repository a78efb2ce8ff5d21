/* libprotect.so start-up: read the policies, check for PKU, attach every
 * protected library already loaded, and watch dlopen/dlclose for the rest. */
#define _GNU_SOURCE
#include "attach.h"
#include "gates/domains.h"
#include "gates/gate_table.h"
#include "log.h"
#include "telemetry/telemetry.h"
#include "base/pku.h"
#include "hardened/process_lockdown.h"
#include "base/next_functions.h"
#include "base/caller_search.h"
#include "base/sealed.h"
#include "signals/protected_frames.h"
#include "signals/signals.h"
#include "signals/faults.h"
#include "hardened/syscall_filter.h"
#include "base/trusted_syscall.h"
#include "hardened/stray_pkru_guard.h"
#include "base/pkru_sync.h"
#include "hardened/syscall_trap.h"
#include "hardened/runtime_domain.h"
#include "gates/services.h"
#include "learn/learn.h"
#include "memory/interpose.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;

static void load_policies(const char *list)
{
    sealed_open();
    char *copy = strdup(list), *save = NULL;
    int bad = 0;
    for (char *f = strtok_r(copy, ":", &save); f; f = strtok_r(NULL, ":", &save)) {
        if (protect_n_domains == MAX_DOMAINS - 1)
            protect_refuse("too many policies: at most %d protected libraries (one key each)", MAX_DOMAINS - 1);
        struct domain *d = &protect_domains[protect_n_domains];
        if (policy_load(f, &d->policy, stderr) != 0) {
            bad++;
            continue;
        }
        struct stat st;
        if (d->policy.library_path && stat(d->policy.library_path, &st) != 0) {
            protect_log("%s: %s: cannot stat", f, d->policy.library_path);
            bad++;
            continue;
        }
        if (d->policy.library_path) {
            d->dev = st.st_dev;
            d->ino = st.st_ino;
        }
        d->slot = protect_n_domains++;
        const char *slash = strrchr(d->policy.library, '/');
        d->name = slash ? slash + 1 : d->policy.library;
    }
    free(copy);
    sealed_close();
    if (bad)
        protect_refuse("invalid policy, not running the program unprotected");
}

static bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static void check_hardware(void)
{
    if (!pku_dry_run()) { /* a dry run needs no keys: never chosen for want of them */
        /* Allocated closed: pkey_alloc sets the key's rights in the calling
         * thread's PKRU, and every thread made later inherits them; one that
         * then missed a library's key (its signal blocked) would have kept
         * that library's memory open. */
        int key = (int)trusted_syscall(SYS_pkey_alloc, 0, PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE, 0, 0, 0, 0);
        if (key < 0)
            protect_refuse("this CPU or kernel has no memory protection keys (PKU): "
                           "cannot run the program protected (protect-wrap --dry-run, or PROTECT_DRY_RUN=1, gates it without "
                           "protecting it)");
        trusted_syscall(SYS_pkey_free, key, 0, 0, 0, 0, 0);
    }
    if (!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE))
        protect_refuse("this kernel does not let programs read the FS base (FSGSBASE): "
                       "the gates need it to check their per-thread state");
}

/* The soname a loaded object declares (its dynamic section), or NULL. */
static const char *loaded_soname(const struct dl_phdr_info *info)
{
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    uintptr_t strtab = 0, soname = 0;
    bool has_soname = false;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_STRTAB)
            strtab = dyn->d_un.d_ptr;
        else if (dyn->d_tag == DT_SONAME)
            soname = dyn->d_un.d_val, has_soname = true;
    }
    if (!strtab || !has_soname)
        return NULL;
    if (strtab < info->dlpi_addr) /* the loader relocates DT_STRTAB in place, or not */
        strtab += info->dlpi_addr;
    return (const char *)(strtab + soname);
}

/* The domain whose policy names this loaded object: the same file, or, for
 * a bare name the default path did not find, the same file name or soname
 * wherever the loader found it (the program's RUNPATH, $ORIGIN). */
static struct domain *domain_for_object(const struct dl_phdr_info *info)
{
    const char *path = info->dlpi_name;
    struct stat st;
    if (!path || !*path || stat(path, &st) != 0)
        return NULL;
    for (int i = 0; i < protect_n_domains; i++)
        if (protect_domains[i].policy.library_path && protect_domains[i].dev == st.st_dev &&
            protect_domains[i].ino == st.st_ino)
            return &protect_domains[i];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path, *soname = loaded_soname(info);
    for (int i = 0; i < protect_n_domains; i++) {
        struct domain *d = &protect_domains[i];
        if (d->policy.library_path ||
            (strcmp(d->policy.library, base) != 0 && !(soname && strcmp(d->policy.library, soname) == 0)))
            continue;
        d->policy.library_path = realpath(path, NULL); /* found: from now on, this file */
        d->dev = st.st_dev;
        d->ino = st.st_ino;
        return d->policy.library_path ? d : NULL;
    }
    return NULL;
}

static int attach_loaded(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct domain *d = domain_for_object(info);
    if (d && !d->attached && domain_attach(d, info) != 0)
        protect_refuse("%s: cannot protect it, not running the program unprotected", d->name);
    if (d && d->attached)
        d->base = info->dlpi_addr, d->seen = true;
    return 0;
}

static int count_attached(void)
{
    int n = 0;
    for (int i = 0; i < protect_n_domains; i++)
        n += protect_domains[i].attached;
    return n;
}

/* Attaches every protected library now loaded, detaches those now gone;
 * whether it attached one. */
static bool rescan_here(void)
{
    static __thread bool busy; /* attaching dlopens the library itself (RTLD_NOLOAD) */
    if (busy)
        return false;
    busy = true;
    pthread_mutex_lock(&attach_lock);
    sealed_open();
    for (int i = 0; i < protect_n_domains; i++)
        protect_domains[i].seen = false;
    int attached_before = count_attached();
    dl_iterate_phdr(attach_loaded, NULL);
    for (int i = 0; i < protect_n_domains; i++)
        if (protect_domains[i].attached && !protect_domains[i].seen)
            domain_detach(&protect_domains[i]);
    if (protect_active || hardened_mode())
        stray_pkru_guard_scan(); /* new code may carry WRPKRUs of its own */
    sealed_close();
    bool attached = count_attached() > attached_before;
    if (attached)
        syscall_filter_refresh(); /* the filter learns the new library's memory */
    pthread_mutex_unlock(&attach_lock);
    busy = false;
    return attached;
}

/* RT_RESCAN: anyone may ask; it does what the policies say. */
static uintptr_t rescan_service(int slot, void *io)
{
    (void)io;
    return slot == RT_SLOT && rescan_here();
}

/* Once the runtime has its own domain, a library loaded later is attached
 * there (keying its memory, writing the tables): this thread then takes
 * the rights the new tables give the application.  Telemetry reads the
 * libraries' counters through their services: with those rights. */
static bool started; /* libprotect_init is over */

static void rescan(void)
{
    bool attached;
    if (!trusted_page_needs_runtime()) {
        attached = rescan_here();
    } else {
        attached = runtime_service(RT_RESCAN, &(union service_io){0}) != 0;
        pku_write_checked(pkru_synced(pku_read(), app_rights(), protect_gate_page.t.lib_keys));
    }
    if (attached && started)
        telemetry_start(); /* (once) */
}

/* The end of the start.  Telemetry's thread only now: made during it, its
 * first library call (its stacks keyed) could race the filter's install,
 * after which its memory calls need the runtime domain. */
static void start_done(void)
{
    started = true;
    for (int i = 0; i < protect_n_domains; i++)
        if (protect_domains[i].attached) {
            telemetry_start(); /* (once) */
            break;
        }
}

__attribute__((constructor)) static void libprotect_init(void)
{
    const char *list = getenv("PROTECT_POLICY");
    if (!list || !*list)
        return;
    protect_verbose = env_flag("PROTECT_VERBOSE");
    load_policies(list);
    if (protect_n_domains == 0)
        return;
    pku_choose_dry_run(env_flag("PROTECT_DRY_RUN"));
    check_hardware();
    bool hardened = hardened_mode_decide();
    if (hardened && !getenv("LD_BIND_NOW"))
        protect_refuse("hardened mode needs LD_BIND_NOW=1 (the loader's lazy binding runs XRSTOR, which "
                       "libprotect must forbid); protect-wrap sets it");
    if (trusted_page_init() != 0)
        protect_refuse("cannot map the trusted system-call page");
    next_functions_resolve();
    frame_pkru_init();
    /* The layers below learn what the layers above add (they never call up). */
    bool auditing = learn_start();
    signals_set_hooks(&(struct signal_hooks){.sigsys = syscall_trap, .trap = stray_pkru_guard_trap,
                                             .audit = auditing ? audit_access : NULL,
                                             .keep_sigsys_unblocked = hardened,
                                             .protected_memory = hardened ? in_protected_memory : NULL});
    gate_table_set_thread_hooks(signals_thread_altstack, signals_thread_exit);
    gate_table_init_services();
    memory_register_services();
    syscall_trap_register_service();
    gate_table_set_rt_service(RT_RESCAN, rescan_service);
    faults_register_rt_service();
    gate_table_unlock();
    protect_gate_page.t.app_pkru = pku_read();
    gate_table_lock();
    /* Audit and learn modes let a stopped access through by handing the
     * interrupted code more rights (in its frame): no runtime domain, no
     * protected frames then. */
    if (hardened && !auditing) {
        runtime_domain_setup();   /* before any library is attached */
        protected_frames_setup(); /* before any alternate stack, handler or filter */
    }
    rescan();
    for (int i = 0; i < protect_n_domains; i++)
        if (!protect_domains[i].attached)
            protect_info("%s is not loaded (yet): it will be protected if it is", protect_domains[i].name);
    if (!hardened) {
        protect_log("WARNING: hardened mode is off (PROTECT_HARDENED=0): the program can still change "
                    "PKRU and the protected memory's mappings itself; for debugging only");
        start_done();
        return;
    }
    if (program_runs_code_before_us())
        protect_refuse("hardened mode: the program has .preinit_array functions, which ran before libprotect could "
                       "install its filter (they could keep /proc/self/mem open, or start a tracer)");
    signals_take_over(); /* the filter's SIGSYS comes even with no library attached yet */
    if (lock_process_from_outside() != 0)
        protect_refuse("hardened mode: cannot make the process unreachable from others (%s)", strerror(errno));
    syscall_filter_install();
    start_done();
}

/* dlopen and dlclose are interposed so that a library loaded later is
 * protected before the caller gets its handle.  (The loader then sees
 * libprotect.so as the caller: a bare name is searched for the real one.) */
void *dlopen(const char *file, int mode)
{
    void *(*real)(const char *, int) = next_function(NEXT_DLOPEN);
    void *h = dlopen_for_caller(file, mode, __builtin_return_address(0), real);
    if (h && protect_n_domains)
        rescan();
    return h;
}

int dlclose(void *handle)
{
    int (*real)(void *) = next_function(NEXT_DLCLOSE);
    int rc = real(handle);
    if (protect_n_domains)
        rescan();
    return rc;
}
