#define _GNU_SOURCE
#include "vault.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static struct vault_cell data_cell = {.counter = 1, .secret = "initial value in .data"};
static struct vault_cell bss_cell;
static struct vault_cell *heap_cell, *mmap_cell;

static void fill(struct vault_cell *c)
{
    c->counter = 1;
    if (getrandom(c->secret, sizeof c->secret, 0) != (ssize_t)sizeof c->secret)
        abort();
}

void vault_open(void)
{
    heap_cell = malloc(sizeof *heap_cell);
    mmap_cell = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!heap_cell || mmap_cell == MAP_FAILED)
        abort();
    fill(&data_cell);
    fill(&bss_cell);
    fill(heap_cell);
    fill(mmap_cell);
}

struct vault_cell *vault_address(enum vault_place place)
{
    switch (place) {
    case VAULT_DATA: return &data_cell;
    case VAULT_BSS: return &bss_cell;
    case VAULT_HEAP: return heap_cell;
    case VAULT_MMAP: return mmap_cell;
    default: return NULL;
    }
}

uint64_t vault_counter(enum vault_place place)
{
    return vault_address(place)->counter;
}

void vault_bump(void)
{
    for (int p = 0; p < VAULT_PLACES; p++)
        vault_address(p)->counter++;
}

int vault_matches(enum vault_place place, const uint8_t *guess)
{
    return memcmp(vault_address(place)->secret, guess, VAULT_SECRET_LEN) == 0;
}

void vault_hold(unsigned ms)
{
    volatile struct vault_cell local = data_cell;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        local.counter++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < (long)ms);
    explicit_bzero((void *)&local, sizeof local);
}

void vault_hold_in_registers(unsigned ms)
{
    __asm__ volatile("movdqu %0, %%xmm14\n movdqu %1, %%xmm15" ::"m"(data_cell.secret[0]), "m"(data_cell.secret[16])
                     : "xmm14", "xmm15");
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < (long)ms);
    __asm__ volatile("pxor %%xmm14, %%xmm14\n pxor %%xmm15, %%xmm15" ::: "xmm14", "xmm15");
}

void vault_visit(void (*cb)(struct vault_cell *on_stack, void *arg), void *arg)
{
    struct vault_cell local = data_cell;
    cb(&local, arg);
    explicit_bzero(&local, sizeof local);
}

static int file_fd = -1;

int vault_file_open(const char *path)
{
    file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (file_fd < 0 || pwrite(file_fd, data_cell.secret, VAULT_SECRET_LEN, 0) != VAULT_SECRET_LEN)
        return -1;
    return 0;
}

int vault_file_fd(void)
{
    return file_fd;
}

int vault_file_intact(void)
{
    uint8_t back[VAULT_SECRET_LEN];
    return pread(file_fd, back, sizeof back, 0) == VAULT_SECRET_LEN &&
           memcmp(back, data_cell.secret, VAULT_SECRET_LEN) == 0;
}

void vault_secret_hash(enum vault_place place, uint64_t *out)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < VAULT_SECRET_LEN; i++)
        h = (h ^ vault_address(place)->secret[i]) * 1099511628211ull;
    *out = h;
}

void vault_through(void (*fn)(void *), void *arg)
{
    fn(arg); /* not a declared callback: called with the vault's rights */
}

static void *vault_worker(void *arg)
{
    data_cell.counter += 0; /* runs with the vault's rights */
    return arg;
}

int vault_use_libc(void)
{
    pthread_t t;
    void *r = NULL;
    if (pthread_create(&t, NULL, vault_worker, &data_cell) != 0 || pthread_join(t, &r) != 0 || r != &data_cell)
        return -1;
    void *m = dlopen("libm.so.6", RTLD_NOW);
    if (!m)
        return -1;
    dlclose(m);
    return 0;
}
