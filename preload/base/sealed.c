#define _GNU_SOURCE
#include "base/sealed.h"

#include "log.h"
#include "base/trusted_syscall.h"

#include <pthread.h>
#include <sys/mman.h>

extern char __start_protect_sealed[], __stop_protect_sealed[];

/* The nesting count lives in the sealed pages too: only an open update can
 * change it, so nobody can keep the pages open by faking it. */
static SEALED union {
    int depth;
    char pages[4096];
} opened;

static pthread_mutex_t sealed_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static void set_prot(int prot)
{
    if (trusted_mprotect(__start_protect_sealed, (size_t)(__stop_protect_sealed - __start_protect_sealed), prot) != 0)
        protect_fatal("cannot change the protection of libprotect's own state");
}

void sealed_open(void)
{
    pthread_mutex_lock(&sealed_lock);
    if (opened.depth == 0)
        set_prot(PROT_READ | PROT_WRITE);
    opened.depth++;
}

void sealed_close(void)
{
    if (--opened.depth == 0)
        set_prot(PROT_READ);
    pthread_mutex_unlock(&sealed_lock);
}
