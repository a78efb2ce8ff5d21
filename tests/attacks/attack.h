/* What every attack program shares: the vault, opened, and one line of
 * outcome.  An attack prints BREACHED only after checking through the
 * library's own gates that it really read the secret or changed a
 * counter; BLOCKED when a defence answered (an error, unchanged data).
 * Stopped by a signal or refused at start, it prints nothing: the suite
 * then looks for libprotect's report. */
#ifndef ATTACK_H
#define ATTACK_H

#include "vault.h"

#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noreturn)) static inline void breached(const char *what)
{
    printf("BREACHED: %s\n", what);
    fflush(stdout);
    exit(0);
}

__attribute__((noreturn)) static inline void blocked(const char *how)
{
    printf("BLOCKED: %s\n", how);
    fflush(stdout);
    exit(0);
}

/* BLOCKED with a call's failure: the printf-style WHAT, then errno's text. */
__attribute__((noreturn, format(printf, 1, 2))) static inline void blocked_errno(const char *what, ...)
{
    int err = errno;
    char msg[160];
    va_list ap;
    va_start(ap, what);
    vsnprintf(msg, sizeof msg, what, ap);
    va_end(ap);
    printf("BLOCKED: %s failed: %s\n", msg, strerror(err));
    fflush(stdout);
    exit(0);
}

/* Copies PLACE's secret from P (by whatever means got P readable). */
__attribute__((noreturn)) static inline void read_secret_at(enum vault_place place, const volatile uint8_t *p)
{
    uint8_t copy[VAULT_SECRET_LEN];
    for (int i = 0; i < VAULT_SECRET_LEN; i++)
        copy[i] = p[i];
    if (vault_matches(place, copy))
        breached("read the library's secret");
    blocked("what was read is not the secret");
}

/* Every key open (PKRU 0) in a signal frame's XSAVE area: the PKRU
 * component marked present and zeroed where CPUID says it lies. */
static inline void xsave_open_every_key(uint8_t *xsave)
{
    unsigned eax, ebx, ecx, edx;
    __cpuid_count(0xd, 9, eax, ebx, ecx, edx);
    uint64_t bv;
    memcpy(&bv, xsave + 512, 8);
    bv |= 1ull << 9;
    memcpy(xsave + 512, &bv, 8);
    memset(xsave + ebx, 0, 4);
}

#define FORGED_COUNTER 0x5eedull

__attribute__((noreturn)) static inline void write_counter_at(enum vault_place place, volatile uint64_t *p)
{
    *p = FORGED_COUNTER;
    if (vault_counter(place) == FORGED_COUNTER)
        breached("changed the library's counter");
    blocked("the counter did not change");
}

/* Runs CHILD(ARG, FD) in a child process, which writes what it found to FD
 * (and may die on the way).  Returns how many bytes came, at most LEN, into
 * OUT; *HOW says how the child ended.  The parent's rights stay intact, so
 * that the library itself can then judge the bytes. */
static inline size_t run_in_child(void (*child)(void *arg, int fd), void *arg, void *out, size_t len, int *how)
{
    int fd[2];
    if (pipe(fd) != 0)
        exit(2);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        child(arg, fd[1]);
        _exit(0);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t n;
    while (got < len && (n = read(fd[0], (uint8_t *)out + got, len - got)) > 0)
        got += (size_t)n;
    close(fd[0]);
    waitpid(pid, how, 0);
    return got;
}

struct steal_call {
    const volatile uint8_t *(*steal)(void *);
    void *arg;
};

static inline void steal_and_send(void *call, int fd)
{
    struct steal_call *c = call;
    const volatile uint8_t *p = c->steal(c->arg);
    uint8_t copy[VAULT_SECRET_LEN];
    for (int i = 0; i < VAULT_SECRET_LEN; i++)
        copy[i] = p[i];
    _exit(write(fd, copy, sizeof copy) == (ssize_t)sizeof copy ? 0 : 3);
}

/* Runs STEAL(ARG) in a child process: it returns where it reads the secret
 * (after whatever it did to its own rights); the bytes come back through a
 * pipe.  Returns 1 with OUT filled if they came, else 0 and *HOW says how
 * the child ended. */
static inline int read_in_child(const volatile uint8_t *(*steal)(void *), void *arg, uint8_t *out, int *how)
{
    return run_in_child(steal_and_send, &(struct steal_call){steal, arg}, out, VAULT_SECRET_LEN, how) ==
           VAULT_SECRET_LEN;
}

__attribute__((noreturn)) static inline void steal_in_child(const volatile uint8_t *(*steal)(void *), void *arg)
{
    uint8_t got[VAULT_SECRET_LEN];
    int how;
    if (read_in_child(steal, arg, got, &how)) {
        if (vault_matches(VAULT_DATA, got))
            breached("read the library's secret");
        blocked("what was read is not the secret");
    }
    char msg[96];
    if (WIFSIGNALED(how))
        snprintf(msg, sizeof msg, "the attacking process was stopped by %s", strsignal(WTERMSIG(how)));
    else
        snprintf(msg, sizeof msg, "the attacking process exited with %d", WEXITSTATUS(how));
    blocked(msg);
}

static inline enum vault_place place_named(const char *name)
{
    static const char *names[] = {"data", "bss", "heap", "mmap"};
    for (int i = 0; i < VAULT_PLACES; i++)
        if (name && strcmp(name, names[i]) == 0)
            return (enum vault_place)i;
    fprintf(stderr, "unknown place '%s' (data, bss, heap, mmap)\n", name ? name : "");
    exit(2);
}

#endif
