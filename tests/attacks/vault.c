#define _GNU_SOURCE
#include "vault.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

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

void vault_visit(void (*cb)(struct vault_cell *on_stack, void *arg), void *arg)
{
    struct vault_cell local = data_cell;
    cb(&local, arg);
    explicit_bzero(&local, sizeof local);
}
