/* libffi closures that hardened mode accepts.
 *
 * libffi makes a closure (a function created at run time: ctypes' CFUNCTYPE,
 * cffi, GObject bindings) by writing a small trampoline into memory that is
 * both writable and executable, or mapped twice (one view writable, one
 * executable): both are what hardened mode refuses, since the program could
 * change executable bytes after they were scanned.  So libprotect serves
 * closures as libffi's own static trampolines do: fixed code pages, written
 * once by libprotect and never writable again, each trampoline loading its
 * closure and its target from the data page that follows its code page.
 * The closure itself (cif, function, user data, libffi's unused trampoline
 * bytes) lives in ordinary writable memory, as data.
 *
 * Interposed: ffi_closure_alloc, ffi_closure_free, ffi_prep_closure_loc
 * (which learns, from the trampoline libffi writes into the closure, where
 * libffi's closure entry is for this signature). */
#define _GNU_SOURCE
#include "base/next_functions.h"
#include "base/trusted_syscall.h"
#include "log.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096
#define TRAMP_SIZE 16
#define SLOTS_PER_PAGE (PAGE / TRAMP_SIZE)
#define MAX_PAGES 1024 /* 262144 closures at once */

/* One trampoline, at slot offset o of a code page; its data at o + PAGE:
 *   mov r10, [rip + PAGE - 7]     ; the closure        4c 8b 15 f9 0f 00 00
 *   jmp [rip + PAGE - 5]          ; libffi's entry     ff 25 fb 0f 00 00
 *   3 x nop                                            90 90 90
 * (libffi's closure entries take the closure in r10.) */
static const uint8_t tramp_code[TRAMP_SIZE] = {0x4c, 0x8b, 0x15, 0xf9, 0x0f, 0x00, 0x00, 0xff,
                                               0x25, 0xfb, 0x0f, 0x00, 0x00, 0x90, 0x90, 0x90};

struct tramp_data {
    void *closure;
    void *target;
};

/* libffi 3.4's x86-64 trampoline, as ffi_prep_closure_loc writes it at the
 * start of the closure: endbr64; lea r10, [rip - 11]; jmp [rip + 7]; nop;
 * then the entry's address (ffi_closure_unix64 or its SSE twin). */
static const uint8_t libffi_tramp[24] = {0xf3, 0x0f, 0x1e, 0xfa, 0x4c, 0x8d, 0x15, 0xf5, 0xff, 0xff, 0xff, 0xff,
                                         0x25, 0x07, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *pages[MAX_PAGES]; /* code page, its data page after it */
static size_t n_pages;
static uint32_t *free_slots; /* a stack of free slot numbers */
static size_t n_free, cap_free;

/* Header in front of each closure's memory: which slot serves it. */
struct closure_header {
    uint64_t slot;
    uint64_t pad;
};

static uint8_t *slot_code(size_t slot)
{
    return pages[slot / SLOTS_PER_PAGE] + (slot % SLOTS_PER_PAGE) * TRAMP_SIZE;
}

static struct tramp_data *slot_data(size_t slot)
{
    return (struct tramp_data *)(slot_code(slot) + PAGE);
}

/* The slot whose trampoline is at CODE, or -1. */
static long slot_at(const void *code)
{
    uintptr_t c = (uintptr_t)code;
    for (size_t p = 0; p < n_pages; p++)
        if (c >= (uintptr_t)pages[p] && c < (uintptr_t)pages[p] + PAGE && (c - (uintptr_t)pages[p]) % TRAMP_SIZE == 0)
            return (long)(p * SLOTS_PER_PAGE + (c - (uintptr_t)pages[p]) / TRAMP_SIZE);
    return -1;
}

/* A new code page (written, then executable and never writable again) and
 * its data page.  Lock held. */
static bool add_page(void)
{
    if (n_pages == MAX_PAGES)
        return false;
    if (n_free + SLOTS_PER_PAGE > cap_free) {
        size_t cap = cap_free ? cap_free * 2 : 1024;
        uint32_t *grown = realloc(free_slots, cap * sizeof *grown);
        if (!grown)
            return false;
        free_slots = grown, cap_free = cap;
    }
    uint8_t *p = trusted_mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    for (size_t i = 0; i < SLOTS_PER_PAGE; i++)
        memcpy(p + i * TRAMP_SIZE, tramp_code, TRAMP_SIZE);
    /* The way the application's own code would: the filter sends it through
     * the scan, which leaves a sealed copy in place. */
    if (mprotect(p, PAGE, PROT_READ | PROT_EXEC) != 0) {
        trusted_munmap(p, 2 * PAGE);
        return false;
    }
    pages[n_pages] = p;
    for (size_t i = SLOTS_PER_PAGE; i-- > 0;)
        free_slots[n_free++] = (uint32_t)(n_pages * SLOTS_PER_PAGE + i);
    n_pages++;
    return true;
}

void *ffi_closure_alloc(size_t size, void **code)
{
    pthread_mutex_lock(&lock);
    if (!n_free && !add_page()) {
        pthread_mutex_unlock(&lock);
        protect_log("libffi closure: no memory for another trampoline");
        return NULL;
    }
    size_t slot = free_slots[--n_free];
    pthread_mutex_unlock(&lock);
    struct closure_header *h = calloc(1, sizeof *h + size);
    if (!h) {
        pthread_mutex_lock(&lock);
        free_slots[n_free++] = (uint32_t)slot;
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    h->slot = slot;
    *slot_data(slot) = (struct tramp_data){.closure = h + 1}; /* no target until prepared */
    *code = slot_code(slot);
    return h + 1;
}

void ffi_closure_free(void *closure)
{
    if (!closure)
        return;
    struct closure_header *h = (struct closure_header *)closure - 1;
    pthread_mutex_lock(&lock);
    size_t slot = h->slot;
    if (slot >= n_pages * SLOTS_PER_PAGE || slot_data(slot)->closure != closure) {
        pthread_mutex_unlock(&lock);
        protect_fatal("ffi_closure_free(%p): not a closure from ffi_closure_alloc", closure);
    }
    *slot_data(slot) = (struct tramp_data){0};
    free_slots[n_free++] = (uint32_t)slot;
    pthread_mutex_unlock(&lock);
    free(h);
}

typedef int (*prep_fn)(void *, void *, void *, void *, void *);
int ffi_prep_closure_loc(void *closure, void *cif, void *fun, void *user_data, void *codeloc);

static int find_in_libffi(struct dl_phdr_info *info, size_t size, void *out)
{
    if (!strstr(info->dlpi_name, "libffi"))
        return 0;
    void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
    void *sym = h ? dlsym(h, "ffi_prep_closure_loc") : NULL;
    if (h)
        dlclose(h);
    *(void **)out = sym != (void *)ffi_prep_closure_loc ? sym : NULL;
    return sym != NULL;
}

/* libffi's own ffi_prep_closure_loc: after libprotect in the global scope,
 * or in a libffi loaded locally (Python loads _ctypes, and with it libffi,
 * RTLD_LOCAL). */
static prep_fn real_prep(void)
{
    prep_fn real = (prep_fn)next_function(NEXT_FFI_PREP_CLOSURE_LOC);
    if (!real) {
        void *found = NULL;
        dl_iterate_phdr(find_in_libffi, &found);
        next_function_keep(NEXT_FFI_PREP_CLOSURE_LOC, found);
        real = (prep_fn)found;
    }
    return real;
}

/* ffi_status ffi_prep_closure_loc(ffi_closure *, ffi_cif *, fun, user_data, codeloc) */
int ffi_prep_closure_loc(void *closure, void *cif, void *fun, void *user_data, void *codeloc)
{
    prep_fn real = real_prep();
    if (!real)
        return 2; /* FFI_BAD_ABI */
    long slot = slot_at(codeloc);
    /* libffi writes its trampoline into the closure (never run: we run ours)
     * and would aim it at CODELOC; tell it the closure is its own code. */
    int status = real(closure, cif, fun, user_data, slot >= 0 ? closure : codeloc);
    if (status != 0 || slot < 0)
        return status;
    if (memcmp(closure, libffi_tramp, sizeof libffi_tramp) != 0) {
        protect_log("libffi closure: this libffi writes a trampoline libprotect does not know; refusing the closure");
        return 2;
    }
    void *target;
    memcpy(&target, (const uint8_t *)closure + sizeof libffi_tramp, sizeof target);
    pthread_mutex_lock(&lock);
    *slot_data((size_t)slot) = (struct tramp_data){closure, target};
    pthread_mutex_unlock(&lock);
    return 0;
}
