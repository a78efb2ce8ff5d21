/* Attaching a domain to a loaded library: plan its gates, give it a key,
 * tag its memory, write stubs and relocated prologues near it, publish it
 * to the gates, and patch its exports. */
#define _GNU_SOURCE
#include "attach.h"
#include "hardened/runtime_domain.h"

#include "gates/callbacks.h"

#include "memory/domain_heap.h"
#include "gates/gate_table.h"
#include "lib_analysis.h"
#include "plt_slots.h"
#include "log.h"
#include "memory/interpose.h"
#include "memory/memory_tags.h"
#include "gates/near_map.h"
#include "gates/patcher.h"
#include "gates/threads.h"
#include "base/pkru_sync.h"
#include "base/pku.h"
#include "signals/signals.h"
#include "base/trusted_syscall.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HEAP_REGION (16ul << 30)
#define MAX_FINI 64 /* destructors sent through gates */
#define NEAR_RESERVE_PER_GATE (RELOC_MAX_CODE + STUB_SIZE)

struct live_image {
    uintptr_t base;
    void *handle;
};

/* IFUNCs resolved by this process's own loader (dlsym runs the resolver). */
static int resolve_live(const struct elf_image *img, uint64_t *resolved, void *ctx, char *err, size_t errlen)
{
    const struct live_image *live = ctx;
    for (size_t i = 0; i < img->n_exports; i++) {
        const struct elf_export *e = &img->exports[i];
        resolved[i] = 0;
        if (!e->ifunc || !live->handle)
            continue;
        void *p = e->version ? dlvsym(live->handle, e->name, e->version) : dlsym(live->handle, e->name);
        if (p)
            resolved[i] = (uintptr_t)p - live->base;
    }
    return 0;
}

static void add_func(struct domain *d, const char *name, uintptr_t entry, uintptr_t target)
{
    if (d->n_funcs == d->cap_funcs)
        protect_fatal("%s: more gated functions than planned", d->name);
    d->funcs[d->n_funcs] = (struct gated_func){.name = strdup(name), .entry = entry};
    d->targets[d->n_funcs++] = target;
}

/* The function table is read by fault reports and callback wrapping: its
 * own pages, read-only once the library is attached (and watched by the
 * system-call filter). */
static size_t funcs_bytes(size_t n)
{
    return (n * sizeof(struct gated_func) + 4095) & ~4095ul;
}

/* The policy's view of an export group: gated, denied, or left alone. */
enum selection { LEAVE, GATE, DENY };

static enum selection select_group(const struct domain *d, const struct lib_analysis *a,
                                   const struct export_group *g, struct gated_func *f)
{
    enum selection s = LEAVE;
    for (size_t m = 0; m < g->n_members; m++) {
        const char *name = a->img.exports[g->members[m]].name;
        if (policy_denies(&d->policy, name))
            return DENY;
        if (!policy_exports(&d->policy, name))
            continue;
        s = GATE;
        const struct policy_entry *e = policy_entry_for(&d->policy, name);
        if (e) {
            f->heap_app |= e->heap == HEAP_APP;
            f->callbacks |= e->callbacks;
            f->open_callbacks |= e->open_callbacks;
            for (unsigned i = 0; i < e->n_pointers && f->n_pointers < POLICY_MAX_POINTERS; i++)
                f->pointers[f->n_pointers++] = e->pointers[i];
        }
    }
    return s;
}

/* Live code must still be what the plan was made from. */
static bool code_unchanged(const struct lib_analysis *a, const struct patch_plan *p, uintptr_t base)
{
    size_t len = p->patch_offset + p->reloc.copied;
    const uint8_t *file = elf_image_code_at(&a->img, p->addr - base, &len);
    return file && len == p->patch_offset + p->reloc.copied && memcmp(file, (void *)p->addr, len) == 0;
}

/* The loader calls a library's destructors with the application's rights:
 * send DT_FINI and every DT_FINI_ARRAY entry through gates too. */
static size_t gate_destructors(struct domain *d, uintptr_t base, const ElfW(Dyn) *dyn, uint8_t **stub_cursor,
                               ElfW(Addr) **fini_slots, size_t max_slots)
{
    ElfW(Addr) *array = NULL;
    size_t n_array = 0, n = 0;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_FINI_ARRAY)
            array = (ElfW(Addr) *)(base + dyn->d_un.d_ptr);
        else if (dyn->d_tag == DT_FINI_ARRAYSZ)
            n_array = dyn->d_un.d_val / sizeof(ElfW(Addr));
    }
    for (size_t i = 0; i < n_array && n < max_slots; i++) {
        if (array[i] == 0 || array[i] == (ElfW(Addr))-1)
            continue;
        uint32_t id = (uint32_t)d->slot << GATE_ID_DOMAIN_SHIFT | (uint32_t)d->n_funcs;
        add_func(d, "(destructor)", array[i], array[i]);
        write_entry_stub(*stub_cursor, id, gate_code()->entry);
        fini_slots[n++] = &array[i];
        *stub_cursor += STUB_SIZE;
    }
    return n;
}

/* A gated function the library's own PLT may call directly. */
struct direct_target {
    uintptr_t entry, original; /* the export's address; its relocated original */
};

static int by_entry(const void *a, const void *b)
{
    uintptr_t x = ((const struct direct_target *)a)->entry, y = ((const struct direct_target *)b)->entry;
    return x < y ? -1 : x > y;
}

/* The library's PLT slots bound to its own gated functions (a library
 * calling its own export is already inside its domain: the gate would only
 * take its nesting path) are pointed at the relocated originals.  Slots
 * bound elsewhere (interposed) are left alone, and so are address-taken
 * uses (GLOB_DAT): a function pointer must stay the gated export.  Returns
 * how many slots now call directly. */
static size_t call_own_functions_directly(const struct lib_analysis *a, const struct dl_phdr_info *info,
                                          struct direct_target *t, size_t n_targets)
{
    uintptr_t base = info->dlpi_addr, relro_lo = 0, relro_hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
            relro_lo = (base + info->dlpi_phdr[i].p_vaddr) & ~4095ul;
            relro_hi = (base + info->dlpi_phdr[i].p_vaddr + info->dlpi_phdr[i].p_memsz) & ~4095ul;
        }
    struct plt_slot *slots;
    long n = elf_image_own_plt_slots(&a->img, &slots);
    size_t done = 0;
    qsort(t, n_targets, sizeof *t, by_entry);
    for (long i = 0; i < n; i++) {
        struct direct_target key = {.entry = base + slots[i].target};
        const struct direct_target *hit = bsearch(&key, t, n_targets, sizeof *t, by_entry);
        uintptr_t *got = (uintptr_t *)(base + slots[i].got);
        if (!hit || __atomic_load_n(got, __ATOMIC_RELAXED) != hit->entry)
            continue;
        /* Read-only after relocation when in RELRO (whole pages of it);
         * otherwise plain data, not tagged yet. */
        uintptr_t page = (uintptr_t)got & ~4095ul;
        bool relro = page >= relro_lo && page < relro_hi;
        if (relro && trusted_mprotect((void *)page, 4096, PROT_READ | PROT_WRITE) != 0)
            continue;
        __atomic_store_n(got, hit->original, __ATOMIC_RELEASE);
        if (relro)
            trusted_mprotect((void *)page, 4096, PROT_READ);
        done++;
    }
    free(slots);
    return done;
}

static void rewrite_fini_slots(ElfW(Addr) **slots, size_t n, uintptr_t first_stub)
{
    for (size_t i = 0; i < n; i++) {
        uintptr_t page = (uintptr_t)slots[i] & ~4095ul;
        trusted_mprotect((void *)page, 4096, PROT_READ | PROT_WRITE);
        *slots[i] = first_stub + i * STUB_SIZE;
        trusted_mprotect((void *)page, 4096, PROT_READ);
    }
}

/* The executable range of the object loaded at BASE with these headers. */
/* The span of the loadable segments, executable ones only if EXEC. */
static void load_range(const ElfW(Phdr) *ph, int n, uintptr_t base, bool exec, uintptr_t *lo, uintptr_t *hi)
{
    *lo = UINTPTR_MAX;
    *hi = 0;
    for (int i = 0; i < n; i++) {
        if (ph[i].p_type != PT_LOAD || (exec && !(ph[i].p_flags & PF_X)))
            continue;
        if (base + ph[i].p_vaddr < *lo)
            *lo = base + ph[i].p_vaddr;
        if (base + ph[i].p_vaddr + ph[i].p_memsz > *hi)
            *hi = base + ph[i].p_vaddr + ph[i].p_memsz;
    }
}

static long tag_data(const ElfW(Phdr) *ph, int n, uintptr_t base, int key)
{
    long total = 0;
    for (int i = 0; i < n; i++) {
        if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_W))
            continue;
        uintptr_t lo = (base + ph[i].p_vaddr) & ~4095ul;
        uintptr_t hi = (base + ph[i].p_vaddr + ph[i].p_memsz + 4095) & ~4095ul;
        long t = tag_writable_mappings(lo, hi, key);
        if (t < 0)
            return -1;
        total += t;
    }
    return total;
}

/* The rights of every domain's open callbacks (gate_layout.h): the domain's,
 * with the write-disable bit of a key no domain owns and nobody may use
 * set, which changes no access but tells them apart.  Keys are given out
 * lowest first: the marker is the highest free one. */
static void open_callback_rights(struct gate_table *t)
{
    int rt_key = runtime_key();
    for (int s = 0; s < MAX_DOMAINS; s++) {
        uint32_t d = t->domain[s].pkru;
        t->domain[s].open_pkru = GATE_UNUSED_PKRU;
        if (s == RT_SLOT)
            continue;
        if (rt_key > 0 && d != GATE_UNUSED_PKRU) /* application code: the runtime key stays shut */
            d |= pku_key_mask(rt_key);
        for (int k = 15; k >= 1 && d != GATE_UNUSED_PKRU; k--)
            if (!domain_of_key(k) && ((d >> (2 * k)) & 3) == 1) { /* access-disabled, write allowed */
                t->domain[s].open_pkru = d | (2u << (2 * k));
                break;
            }
    }
}

/* Publishes the domain to the gates and moves every thread to the new rights. */
static void publish(struct domain *d, bool first_time)
{
    uint32_t app_bits = pku_key_bits(d->key, d->policy.mode == POLICY_CONFIDENTIAL);
    uint32_t app = (app_rights() & ~pku_key_mask(d->key)) | app_bits;
    gate_table_unlock();
    struct gate_table *t = &protect_gate_page.t;
    if (first_time)
        for (int s = 0; s < MAX_DOMAINS; s++)
            if (t->domain[s].pkru != GATE_UNUSED_PKRU)
                t->domain[s].pkru = (t->domain[s].pkru & ~pku_key_mask(d->key)) | app_bits;
    /* The library's rights: the application's, its key open, and the
     * runtime key readable (the cookie for its own memory calls). */
    int rt_key = runtime_key();
    t->domain[d->slot].pkru = (app & ~pku_key_mask(d->key)) & ~(rt_key > 0 ? 1u << (2 * rt_key) : 0);
    t->domain[d->slot].index = (uint32_t)d->slot;
    t->domain[d->slot].targets = d->targets;
    t->domain[d->slot].n_funcs = d->n_funcs;
    t->domain[d->slot].cb_stack_slots = d->policy.callback_stack_args;
    t->app_pkru = app;
    t->lib_keys |= pku_key_mask(d->key);
    open_callback_rights(t);
    gate_table_lock();
    pku_set_thread_start(app);
    /* (In the runtime domain, the service's way back gives the caller the
     * rights it had, then it takes the new ones: shim.c.) */
    if (!in_runtime_domain())
        pku_write_checked((pku_read() & ~pku_key_mask(d->key)) | app_bits);
    if (first_time)
        pkru_sync_threads();
}

static int first_attach(struct domain *d)
{
    d->key = pku_alloc(); /* open for this thread until publish() */
    if (d->key < 0) {
        protect_log("%s: no protection key left (at most 15 protected libraries)", d->name);
        return -1;
    }
    /* Smaller where address space is scarce (RLIMIT_AS). */
    size_t heap_size = HEAP_REGION;
    void *heap = map_tagged(heap_size, d->key);
    while (!heap && heap_size > (256ul << 20))
        heap = map_tagged(heap_size /= 4, d->key);
    d->thread_tokens = map_tagged(THREAD_TOKENS_BYTES, d->key);
    if (!heap || gate_blocks_init(d->slot, d->key) != 0 || callbacks_reserve(d->slot) != 0 || !d->thread_tokens) {
        protect_log("%s: cannot reserve the domain's memory", d->name);
        return -1;
    }
    if (domain_maps_reserve(d) != 0) /* its later mappings are tagged, wherever they land */
        protect_log("%s: no address space for its map region: what it maps later is tagged but not covered "
                    "by the system-call filter", d->name);
    d->heap = domain_heap_create(heap, heap_size);
    d->heap_lo = (uintptr_t)heap;
    d->heap_hi = d->heap_lo + heap_size;
    return 0;
}

/* Whether the program headers the loader reports (its link_map, memory the
 * application can write: a constructor of another library runs before
 * libprotect attaches) are the file's own.  Pointed at a forged copy whose
 * writable segment was marked read-only, they left the library's data
 * untagged (attack forged_layout). */
static bool phdrs_are_the_files(const struct elf_image *img, const struct dl_phdr_info *info)
{
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)img->file;
    size_t bytes = (size_t)info->dlpi_phnum * sizeof(ElfW(Phdr));
    return img->file_size >= sizeof *eh && eh->e_phnum == info->dlpi_phnum && eh->e_phoff <= img->file_size &&
           bytes <= img->file_size - eh->e_phoff && memcmp(img->file + eh->e_phoff, info->dlpi_phdr, bytes) == 0;
}

int domain_attach(struct domain *d, const struct dl_phdr_info *info)
{
    uintptr_t base = info->dlpi_addr;
    bool first_time = d->key <= 0;
    signals_take_over();
    signals_configure(&d->policy);
    if (first_time && first_attach(d) != 0)
        return -1;

    struct live_image live = {.base = base, .handle = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD)};
    load_range(info->dlpi_phdr, info->dlpi_phnum, base, true, &d->text_lo, &d->text_hi);
    load_range(info->dlpi_phdr, info->dlpi_phnum, base, false, &d->image_lo, &d->image_hi);
    struct lib_analysis a;
    char err[256];
    /* Size the near region from the export count, then plan into it. */
    struct elf_image probe;
    if (elf_image_open(d->policy.library_path, &probe, err, sizeof err) != 0) {
        protect_log("%s: %s", d->policy.library_path, err);
        return -1;
    }
    if (!phdrs_are_the_files(&probe, info)) {
        protect_log("%s: its program headers in memory differ from its file's (the loader's record of it is the "
                    "application's memory, and a constructor runs before this): not protecting a forged layout",
                    d->name);
        elf_image_close(&probe);
        return -1;
    }
    size_t near_size = (probe.n_exports + 64) * NEAR_RESERVE_PER_GATE;
    elf_image_close(&probe);
    uint8_t *near = near_map(d->text_lo, d->text_hi, near_size);
    if (!near) {
        protect_log("%s: no free memory within 2 GB of the library for its gates", d->name);
        return -1;
    }
    struct analysis_options opt = {.load_bias = base, .trampoline_base = (uintptr_t)near,
                                   .resolve_ifuncs = resolve_live, .ctx = &live};
    if (lib_analyze(d->policy.library_path, &opt, &a, err, sizeof err) != 0) {
        protect_log("%s: %s", d->policy.library_path, err);
        trusted_munmap(near, near_size);
        return -1;
    }
    if (live.handle)
        dlclose(live.handle);

    /* A reload starts a new function table; the old one stays mapped for
     * any gate still reading it. */
    d->n_funcs = 0;
    d->cap_funcs = a.n_groups + MAX_FINI + 1; /* + its thread gate */
    d->funcs = mmap(NULL, funcs_bytes(d->cap_funcs), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    d->targets = calloc(d->cap_funcs, sizeof *d->targets);
    if (d->funcs == MAP_FAILED || !d->targets)
        protect_fatal("%s: out of memory for its function table", d->name);
    d->base = base;
    uint8_t *stubs = near + ((a.trampoline_bytes + 63) & ~63ul), *cursor = stubs;
    struct patch_request *req = calloc(a.n_groups + 1, sizeof *req);
    struct direct_target *direct = calloc(a.n_groups + 1, sizeof *direct);
    size_t n_direct = 0;
    size_t n_req = 0, skipped = 0, not_gateable = 0;
    for (size_t g = 0; g < a.n_groups; g++) {
        const struct export_group *grp = &a.groups[g];
        const struct patch_plan *p = &grp->plan;
        struct gated_func f = {0};
        enum selection sel = select_group(d, &a, grp, &f);
        if (sel == LEAVE)
            continue;
        const char *name = a.img.exports[grp->members[0]].name;
        if (p->kind == PATCH_NONE || !code_unchanged(&a, p, base)) {
            protect_info("%s: %s is not gated: %s", d->name, name,
                         p->kind == PATCH_NONE ? p->reason : "its code differs from the file");
            not_gateable++;
            continue;
        }
        uint32_t id = (uint32_t)d->slot << GATE_ID_DOMAIN_SHIFT | (uint32_t)d->n_funcs;
        memcpy((void *)p->trampoline, p->reloc.code, p->reloc.len);
        add_func(d, name, p->addr + p->patch_offset, p->trampoline);
        d->funcs[d->n_funcs - 1].heap_app = f.heap_app;
        d->any_heap_app |= f.heap_app;
        d->funcs[d->n_funcs - 1].callbacks = f.callbacks;
        d->funcs[d->n_funcs - 1].open_callbacks = f.open_callbacks;
        memcpy(d->funcs[d->n_funcs - 1].pointers, f.pointers, sizeof f.pointers);
        d->funcs[d->n_funcs - 1].n_pointers = f.n_pointers;
        d->funcs[d->n_funcs - 1].stub = (uintptr_t)cursor;
        if (f.callbacks || f.n_pointers || protect_gate_page.t.observe_entry)
            d->targets[d->n_funcs - 1] |= TARGET_CHECK_ARGS; /* the gate checks them, the domain open */
        /* (callbacks are wrapped before the gate; pointers are only checked,
         * inside it: TARGET_CHECK_ARGS below) */
        write_entry_stub(cursor, id,
                         sel == DENY ? protect_gate_denied
                         : f.callbacks || protect_gate_page.t.observe_entry ? gate_code()->entry_callbacks
                                                                            : gate_code()->entry);
        req[n_req++] = (struct patch_request){p->addr + p->patch_offset, (uintptr_t)cursor, p->kind};
        /* (its own calls pass its own memory, rightly: declared pointers are
         * not checked on them, as on the gate's nesting path) */
        if (sel == GATE && !f.callbacks && !protect_gate_page.t.observe_entry)
            direct[n_direct++] = (struct direct_target){p->addr, p->trampoline};
        cursor += STUB_SIZE;
        skipped += sel == DENY;
    }
    ElfW(Addr) *fini_slots[MAX_FINI];
    uint8_t *fini_stubs = cursor;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(base + info->dlpi_phdr[i].p_vaddr);
    size_t n_fini = gate_destructors(d, base, dyn, &cursor, fini_slots, MAX_FINI);
    /* The thread gate: how threads it starts with its own code enter it. */
    uint32_t thread_id = (uint32_t)d->slot << GATE_ID_DOMAIN_SHIFT | (uint32_t)d->n_funcs;
    add_func(d, "(thread start)", (uintptr_t)domain_thread_runner, (uintptr_t)domain_thread_runner);
    write_entry_stub(cursor, thread_id, gate_code()->entry);
    d->thread_stub = (uintptr_t)cursor;
    cursor += STUB_SIZE;
    trusted_mprotect(near, near_size, PROT_READ | PROT_EXEC);
    size_t n_direct_calls = call_own_functions_directly(&a, info, direct, n_direct);
    free(direct);
    lib_analysis_free(&a);
    d->near_lo = (uintptr_t)near;
    d->near_size = near_size;
    /* The gates read the targets from read-only memory. */
    size_t tsize = (d->n_funcs * sizeof *d->targets + 4095) & ~4095ul;
    uint64_t *targets = mmap(NULL, tsize ? tsize : 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memcpy(targets, d->targets, d->n_funcs * sizeof *d->targets);
    trusted_mprotect(targets, tsize ? tsize : 4096, PROT_READ);
    free(d->targets);
    d->targets = targets;
    trusted_mprotect(d->funcs, funcs_bytes(d->cap_funcs), PROT_READ);

    long tagged = tag_data(info->dlpi_phdr, info->dlpi_phnum, base, d->key);
    d->tagged_bytes = tagged;
    if (tagged < 0) {
        protect_log("%s: cannot tag its memory with its protection key", d->name);
        free(req);
        return -1;
    }
    rewrite_fini_slots(fini_slots, n_fini, (uintptr_t)fini_stubs);
    publish(d, first_time);
    d->attached = true;
    protect_active = true;
    if (patch_entries(req, n_req, d->text_lo, d->text_hi) != 0)
        protect_fatal("%s: cannot write its gates", d->name);
    free(req);
    if (pku_dry_run())
        protect_log("DRY RUN: %s is gated but NOT protected (no protection keys)", d->name);
    if (n_direct_calls)
        protect_info("%s: %zu of its own PLT slots call its functions without a gate", d->name, n_direct_calls);
    protect_info("%s %s (%s, key %d): %zu gates, %zu denied, %zu not gateable, %ld bytes of data tagged", d->name,
                 pku_dry_run() ? "gated (dry run)" : "protected", policy_mode_name(d->policy.mode), d->key,
                 n_req - skipped, skipped, not_gateable, tagged);
    return 0;
}

void domain_detach(struct domain *d)
{
    patch_forget_range(d->text_lo, d->text_hi);
    gate_table_unlock();
    protect_gate_page.t.domain[d->slot].n_funcs = 0;
    gate_table_lock();
    d->attached = false;
    protect_info("%s unloaded: its gates are gone, its key and heap are kept for a reload", d->name);
}
