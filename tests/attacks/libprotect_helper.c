/* Code reuse into libprotect itself: the parts of its runtime that work
 * with a library's rights, found in its symbol table and called as the
 * attacker likes.  (1) pku_write_checked, the one WRPKRU of libprotect's
 * C code, asked for the library's rights; (2) every service of the service
 * gate (protect_service), the library's and libprotect's runtime domain's
 * (slot 15), with requests full of the addresses of the library's secret
 * and counter: does an answer hold the secret, does the
 * caller come back with the library's key open, did the counter change?
 * (The helper it replaced, with_domain_open, ran the attacker's function
 * with the key open: if a libprotect still has it, it is called too.)
 * Each call in a child: most end the process. */
#define _GNU_SOURCE
#include "attack.h"

#include "libprotect_symbols.h"

#include <stdint.h>

#define IO_BYTES 128
#define SERVICES 24
#define RT_SLOT 15 /* gate_layout.h: libprotect's runtime domain */

static struct vault_cell *cell;
static uint8_t stolen[VAULT_SECRET_LEN];

/* What a child sends back: the answer, then what it read where the secret lies. */
struct report {
    uint8_t io[IO_BYTES];
    uint64_t counter;
    uint8_t direct[VAULT_SECRET_LEN]; /* sent last, apart */
};

static uintptr_t steal(void *arg)
{
    memcpy(stolen, (const void *)cell->secret, sizeof stolen);
    return 0;
}

struct helper_call {
    void (*call)(void *, uint8_t *);
    void *arg;
};

/* In the child: the call, with a request full of the secret's and the
 * counter's addresses; then the answer and the counter, then (if the key
 * was left open: else the child dies here) the secret read directly. */
static void call_and_send(void *hc, int fd)
{
    struct helper_call *c = hc;
    struct report r;
    for (int i = 0; i < IO_BYTES / 8; i++)
        ((uint64_t *)r.io)[i] = i % 2 ? (uint64_t)(uintptr_t)&cell->counter : (uint64_t)(uintptr_t)cell->secret;
    c->call(c->arg, r.io);
    r.counter = vault_counter(VAULT_DATA);
    if (write(fd, &r, offsetof(struct report, direct)) != (ssize_t)offsetof(struct report, direct))
        _exit(3);
    memcpy(r.direct, (const void *)cell->secret, sizeof r.direct);
    _exit(write(fd, r.direct, sizeof r.direct) == (ssize_t)sizeof r.direct ? 0 : 3);
}

/* Runs CALL(ARG, io) in a child; true if the child got the secret, from the
 * answer or straight from the library's memory after the call. */
static int try_in_child(void (*call)(void *, uint8_t *), void *arg, int *stopped)
{
    struct report r;
    memset(&r, 0, sizeof r);
    int how;
    size_t got = run_in_child(call_and_send, &(struct helper_call){call, arg}, &r,
                              offsetof(struct report, direct) + sizeof r.direct, &how);
    *stopped += !(WIFEXITED(how) && WEXITSTATUS(how) == 0);
    int key = got == offsetof(struct report, direct) + sizeof r.direct && vault_matches(VAULT_DATA, r.direct), answer = 0, counter = 0;
    if (got >= offsetof(struct report, direct)) {
        for (int k = 0; k + VAULT_SECRET_LEN <= IO_BYTES; k++)
            answer |= vault_matches(VAULT_DATA, r.io + k);
        counter = r.counter != vault_counter(VAULT_DATA);
    }
    printf("%s%s%s%s\n", key ? " the key was left open;" : "", answer ? " the answer held the secret;" : "",
           counter ? " the counter changed;" : "", key || answer || counter ? "" : " nothing");
    return key || answer || counter;
}

static void call_write_checked(void *fn, uint8_t *io)
{
    const uint32_t *rights = libprotect_symbol("protect_gate_page"); /* domain 0's rights first */
    ((void (*)(uint32_t))fn)(rights[0]);
}

struct service_call {
    void *gate;
    int slot;
    unsigned svc;
};

static void call_service(void *arg, uint8_t *io)
{
    struct service_call *c = arg;
    ((uintptr_t(*)(int, unsigned, void *))c->gate)(c->slot, c->svc, io);
}

static void call_with_domain_open(void *fn, uint8_t *io)
{
    ((uintptr_t(*)(int, uintptr_t (*)(void *), void *))fn)(0, steal, NULL);
    memcpy(io, stolen, sizeof stolen);
}

int main(void)
{
    vault_open();
    cell = vault_address(VAULT_DATA);
    int tried = 0, stopped = 0, got = 0;
    void *f = libprotect_symbol("pku_write_checked");
    if (f) {
        tried++;
        printf("pku_write_checked:");
        got += try_in_child(call_write_checked, f, &stopped);
    }
    f = libprotect_symbol("with_domain_open");
    if (f) {
        tried++;
        printf("with_domain_open:");
        got += try_in_child(call_with_domain_open, f, &stopped);
    }
    const char *gates[] = {"protect_service", "protect_service_dry"};
    for (int g = 0; g < 2; g++) {
        void *gate = libprotect_symbol(gates[g]);
        for (int slot = 0; slot <= RT_SLOT; slot += RT_SLOT)
            for (unsigned svc = 0; gate && svc < SERVICES; svc++) {
                tried++;
                printf("%s(%d, %u):", gates[g], slot, svc);
                got += try_in_child(call_service, &(struct service_call){gate, slot, svc}, &stopped);
            }
    }
    char msg[160];
    snprintf(msg, sizeof msg, "%d of %d calls of libprotect's helpers and services gave the secret or the key (%d "
             "stopped the process)", got, tried, stopped);
    if (got)
        breached(msg);
    if (!tried)
        blocked("none of libprotect's helpers found (a stripped libprotect only hides them)");
    blocked(msg);
}
