/* protect-wrap --learn: runs a program with one library protected and
 * watched (libprotect's audit mode, or a dry run where the CPU has no PKU),
 * then writes a policy for that library from what the run showed: callback
 * arguments, entries whose memory the application writes (heap = app), the
 * writes that need a decision, and the exports never called.  Every learned
 * line carries its evidence as a comment; the result validates. */
#define _GNU_SOURCE
#include "learn.h"

#include "gen_policy.h"
#include "launch.h"
#include "lib_analysis.h"
#include "policy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 16

struct learned_entry {
    char *name;
    unsigned long calls;
    unsigned long arg_calls[MAX_ARGS + 1]; /* calls in which argument N was an application function */
    unsigned long arg_called[MAX_ARGS + 1]; /* times the library called such an argument back */
    char *arg_where[MAX_ARGS + 1];         /* one such function */
    unsigned long heap_writes;             /* writes into blocks allocated inside this entry */
    unsigned long heap_frees;              /* such blocks the application freed or resized */
    char *heap_where;
    unsigned long cb_writes[MAX_ARGS + 1]; /* writes by the callback passed as argument N */
    char *cb_where[MAX_ARGS + 1];
    unsigned long ptr_app[7], ptr_lib[7]; /* calls in which register argument N pointed into the
                                           * application's memory, or a library's */
};

struct learned {
    bool seen, keys;
    struct learned_entry *e;
    size_t n, cap;
    unsigned long other_writes;
    char *other_where;
};

static struct learned_entry *entry(struct learned *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].name, name) == 0)
            return &l->e[i];
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->e = realloc(l->e, l->cap * sizeof *l->e);
    }
    memset(&l->e[l->n], 0, sizeof *l->e);
    l->e[l->n].name = strdup(name);
    return &l->e[l->n++];
}

static void keep_where(char **slot, const char *where)
{
    if (!*slot)
        *slot = strdup(where);
}

/* Reads what libprotect wrote at the program's exit (preload/learn/). */
static int read_learned(const char *file, struct learned *l)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    char line[1024], a[256], b[256], where[512], kind[16];
    unsigned long count, called;
    int arg;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "keys %15s", kind) == 1)
            l->seen = true, l->keys = strcmp(kind, "yes") == 0;
        else if (sscanf(line, "calls %255s %lu", a, &count) == 2)
            entry(l, a)->calls += count;
        else if (sscanf(line, "pointer %255s %d %lu %lu", a, &arg, &count, &called) == 4 && arg >= 1 && arg <= 6) {
            entry(l, a)->ptr_app[arg] += count;
            entry(l, a)->ptr_lib[arg] += called;
        } else if (sscanf(line, "freed %255s %lu", a, &count) == 2)
            entry(l, a)->heap_frees += count;
        else if (sscanf(line, "callback %255s %d %lu %lu %511[^\n]", a, &arg, &count, &called, where) == 5 &&
                 arg >= 1 && arg <= MAX_ARGS) {
            struct learned_entry *e = entry(l, a);
            e->arg_calls[arg] += count;
            e->arg_called[arg] += called;
            keep_where(&e->arg_where[arg], where);
        } else if (sscanf(line, "%15s %255s %255s %d %lu %511[^\n]", kind, a, b, &arg, &count, where) == 6 &&
                   strcmp(kind, "write") == 0) {
            if (strcmp(b, "-") != 0 && arg >= 1 && arg <= MAX_ARGS) { /* by a callback */
                struct learned_entry *e = entry(l, b);
                e->cb_writes[arg] += count;
                keep_where(&e->cb_where[arg], where);
            } else if (strcmp(a, "-") != 0) { /* into a block allocated inside an entry */
                struct learned_entry *e = entry(l, a);
                e->heap_writes += count;
                keep_where(&e->heap_where, where);
            } else {
                l->other_writes += count;
                keep_where(&l->other_where, where);
            }
        }
    }
    fclose(f);
    return 0;
}

static void write_list(FILE *out, const unsigned long *counts)
{
    bool first = true;
    for (int n = 1; n <= MAX_ARGS; n++)
        if (counts[n]) {
            fprintf(out, "%s%d", first ? "" : ", ", n);
            first = false;
        }
    fprintf(out, "\n");
}

static bool any(const unsigned long *counts)
{
    for (int n = 1; n <= MAX_ARGS; n++)
        if (counts[n])
            return true;
    return false;
}

/* A register argument that pointed into the application's memory (never a
 * library's: that would be a handle it handed out), and is no callback. */
static bool pointer_argument(const struct learned_entry *e, int n)
{
    return e->ptr_app[n] && !e->ptr_lib[n] && !e->arg_calls[n];
}

static void write_policy(FILE *out, const char *lib, const struct lib_analysis *a, const struct learned *l,
                         char **argv)
{
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", localtime(&now));
    fprintf(out, "; Policy for %s, learned by protect-wrap --learn on %s from one run of:\n;  ", lib, date);
    for (char **p = argv; *p; p++)
        fprintf(out, " %s", *p);
    fprintf(out, "\n; A starting point: every learned line says what it was learned from.  A run\n"
                 "; shows only what that run did: review it, and run the program's other paths too.\n");
    if (!l->keys)
        fprintf(out, "; The run was a dry run (no protection keys), so writes into the library's memory\n"
                     "; (heap = app, open_callbacks) could not be seen.  Learn again where PKU exists.\n");
    fprintf(out, "\n[library]\npath = %s\nmode = integrity\n\n[entries]\nexport = *\n",
            strchr(lib, '/') || !a->img.soname ? lib : a->img.soname);
    size_t called = 0;
    for (size_t g = 0; g < a->n_groups; g++) {
        const char *name = a->img.exports[a->groups[g].members[0]].name;
        for (size_t i = 0; i < l->n; i++)
            if (l->e[i].calls && strcmp(l->e[i].name, name) == 0)
                called++;
    }
    fprintf(out, "; %zu of %zu exported functions were called in this run; to gate only those:\n; export =", called,
            a->n_groups);
    for (size_t i = 0, col = 10; i < l->n; i++)
        if (l->e[i].calls) {
            size_t len = strlen(l->e[i].name) + 1;
            if (col + len > 98) {
                fprintf(out, "\n;   ");
                col = 4;
            }
            fprintf(out, " %s", l->e[i].name);
            col += len;
        }
    fprintf(out, "\n");
    if (l->other_writes)
        fprintf(out, "; The application wrote the library's memory %lu times where no entry explains it\n"
                     "; (first: %s): a bug, or memory the library hands out some other way.\n",
                l->other_writes, l->other_where);
    for (size_t i = 0; i < l->n; i++) {
        const struct learned_entry *e = &l->e[i];
        bool maybe = false, pointers = false;
        for (int n = 1; n <= 6; n++) {
            maybe |= e->arg_calls[n] != 0;
            pointers |= pointer_argument(e, n);
        }
        if (!any(e->arg_called) && !maybe && !e->heap_writes && !e->heap_frees && !any(e->cb_writes) && !pointers)
            continue;
        fprintf(out, "\n[entry %s]\n", e->name);
        for (int n = 1; n <= MAX_ARGS; n++) {
            if (e->arg_called[n])
                fprintf(out, "; learned: argument %d was an application function (%s) in %lu of %lu calls,\n"
                             ";   and the library called it back %lu times\n",
                        n, e->arg_where[n], e->arg_calls[n], e->calls, e->arg_called[n]);
            else if (e->arg_calls[n] && n <= 6)
                fprintf(out, "; maybe: argument %d was an application function (%s) in %lu of %lu calls, but\n"
                             ";   the library never called it back in this run: add it to callbacks if it may\n",
                        n, e->arg_where[n], e->arg_calls[n], e->calls);
        }
        if (any(e->arg_called)) {
            fprintf(out, "callbacks = ");
            write_list(out, e->arg_called);
        }
        for (int n = 1; n <= MAX_ARGS; n++)
            if (e->cb_writes[n])
                fprintf(out, "; decide: the callback passed as argument %d wrote the library's memory %lu times\n"
                             ";   (%s): if it must (memory the library hands it, like\n"
                             ";   sqlite3_aggregate_context), move it to open_callbacks, which lets it write\n"
                             ";   all of the library's memory while it runs\n",
                        n, e->cb_writes[n], e->cb_where[n]);
        if (any(e->cb_writes)) {
            fprintf(out, "; open_callbacks = ");
            write_list(out, e->cb_writes);
        }
        if (e->heap_writes)
            fprintf(out, "; learned: the application wrote %lu times into memory allocated inside %s\n"
                         ";   (first: %s): that memory is the application's\n",
                    e->heap_writes, e->name, e->heap_where);
        if (e->heap_frees)
            fprintf(out, "; learned: the application freed or resized %lu blocks allocated inside %s\n", e->heap_frees,
                    e->name);
        if (e->heap_writes || e->heap_frees)
            fprintf(out, "heap = app\n");
        if (pointers) {
            /* A proposal only: a register past the function's real arguments
             * holds a leftover, which may well be a pointer. */
            for (int n = 1; n <= 6; n++)
                if (pointer_argument(e, n))
                    fprintf(out, "; maybe: register argument %d pointed into the application's memory in %lu of %lu\n"
                                 ";   calls, never into the library's: if the prototype says it is a pointer the\n"
                                 ";   library reads or writes through, declare it (with its size, N:SIZE or N:argM)\n",
                            n, e->ptr_app[n], e->calls);
            fprintf(out, "; pointers =");
            for (int n = 1, first = 1; n <= 6; n++)
                if (pointer_argument(e, n)) {
                    fprintf(out, "%s %d", first ? "" : ",", n);
                    first = 0;
                }
            fprintf(out, "\n");
        }
    }
}

/* Whether this CPU and kernel give out protection keys. */
static bool pku_available(void)
{
    long key = syscall(SYS_pkey_alloc, 0, 0);
    if (key < 0)
        return false;
    syscall(SYS_pkey_free, key);
    return true;
}

int learn_policy(const char *lib, const char *output, const struct launch_options *opts, char **argv)
{
    char *path;
    struct lib_analysis a;
    if (analyze_library(lib, &a, &path) != 0)
        return 2;
    char pol[] = "/tmp/protect-learn-XXXXXX.policy", obs[] = "/tmp/protect-learn-XXXXXX.observed";
    int pfd = mkstemps(pol, 7), ofd = mkstemps(obs, 9);
    if (pfd < 0 || ofd < 0) {
        fprintf(stderr, "protect-wrap: cannot make a temporary file: %s\n", strerror(errno));
        lib_analysis_free(&a);
        free(path);
        return 2;
    }
    dprintf(pfd, "[library]\npath = %s\nmode = integrity\n", path);
    close(pfd);
    close(ofd);
    /* Audit mode where keys exist (writes are seen and let through), a
     * dry run where they do not. */
    struct launch_options run = *opts;
    run.dry_run = run.dry_run || !pku_available();
    char *policies[] = {pol};
    setenv("PROTECT_LEARN", obs, 1);
    if (!run.dry_run)
        setenv("PROTECT_AUDIT", "1", 1);
    pid_t pid = fork();
    if (pid == 0)
        _exit(launch(policies, 1, &run, argv));
    int status = 0;
    waitpid(pid, &status, 0);
    unsetenv("PROTECT_LEARN");
    struct learned l = {0};
    int rc = read_learned(obs, &l);
    unlink(pol);
    unlink(obs);
    if (rc != 0 || !l.seen) {
        fprintf(stderr, "protect-wrap: %s: the program left no observations (did it load %s?)\n", argv[0], lib);
        lib_analysis_free(&a);
        free(path);
        return 1;
    }
    FILE *out = strcmp(output, "-") == 0 ? stdout : fopen(output, "w");
    if (!out) {
        fprintf(stderr, "protect-wrap: %s: %s\n", output, strerror(errno));
        lib_analysis_free(&a);
        free(path);
        return 2;
    }
    write_policy(out, lib, &a, &l, argv);
    if (out != stdout)
        fclose(out);
    fprintf(stderr, "protect-wrap: learned a policy for %s from %s (exit %d)%s%s\n", lib, argv[0],
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out != stdout ? ": " : "",
            out != stdout ? output : "");
    lib_analysis_free(&a);
    free(path);
    return 0;
}
