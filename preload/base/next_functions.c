#define _GNU_SOURCE
#include "base/next_functions.h"

#include "base/sealed.h"
#include "base/trusted_syscall.h"

#include <dlfcn.h>

static const char *const names[NEXT_N] = {
    [NEXT_DLOPEN] = "dlopen",
    [NEXT_DLCLOSE] = "dlclose",
    [NEXT_PTHREAD_CREATE] = "pthread_create",
    [NEXT_MALLOC_USABLE_SIZE] = "malloc_usable_size",
    [NEXT_SIGACTION] = "sigaction",
    [NEXT_FFI_PREP_CLOSURE_LOC] = "ffi_prep_closure_loc",
};

static SEALED union {
    void *v[NEXT_N];
    char pages[SEALED_PAGES(void *[NEXT_N])];
} found;

void next_function_keep(enum next_function f, void *addr)
{
    /* Found once the application runs (a libffi loaded later): not kept,
     * looked up again next time; an address the application's side hands
     * in is none the sealed table may take. */
    if ((unsigned)f >= NEXT_N || !addr || found.v[f] == addr || trusted_page_needs_runtime())
        return;
    sealed_open();
    found.v[f] = addr;
    sealed_close();
}

void *next_function(enum next_function f)
{
    if ((unsigned)f >= NEXT_N)
        return NULL;
    void *addr = found.v[f];
    if (!addr) {
        addr = dlsym(RTLD_NEXT, names[f]);
        next_function_keep(f, addr);
    }
    return addr;
}

void next_functions_resolve(void)
{
    for (int f = 0; f < NEXT_N; f++)
        next_function((enum next_function)f);
}
