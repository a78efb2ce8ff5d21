/* Policy parser and validator on top of libinih.
 *
 * inih's handler does not receive line numbers, so the parser feeds inih
 * through its own line reader: it counts lines, checks the shape of every
 * line (so that all syntax errors are reported, not only the first), and
 * sees section headers, which inih never reports for empty sections. */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <ini.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct parse {
    struct policy *p;
    FILE *in, *errors;
    int errors_count;
    int line;
    bool continuation;       /* the current line continues the previous value */
    char section[256];       /* as inih will report it */
    int section_line;
    struct policy_entry *entry; /* current [entry NAME], or NULL */
    int library_section_line, entries_section_line;
    int path_line, mode_line, export_line, deny_line, on_fault_line, fault_value_line, fault_errno_line;
    int callback_stack_line;
    int heap_line, callbacks_line, open_line, pointers_line; /* of the current [entry] */
    int signals_section_line, no_defer_line, max_deferral_line;
    bool prev_was_value;     /* a continuation line may follow */
    int *deny_glob_lines;    /* line of each deny glob, for contradiction errors */
    char *last_line;         /* getline buffer */
    size_t last_cap;
};

static void error_at(struct parse *ps, int line, const char *fmt, ...)
{
    ps->errors_count++;
    if (!ps->errors)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (line > 0)
        fprintf(ps->errors, "%s:%d: ", ps->p->file, line);
    else
        fprintf(ps->errors, "%s: ", ps->p->file);
    vfprintf(ps->errors, fmt, ap);
    fputc('\n', ps->errors);
    va_end(ap);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static bool is_symbol_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '$' || c == '@';
}

static bool valid_glob(const char *g)
{
    for (; *g; g++)
        if (!is_symbol_char((unsigned char)*g) && !strchr("*?[]!-", *g))
            return false;
    return true;
}

static bool valid_symbol(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!is_symbol_char((unsigned char)*s))
            return false;
    return true;
}

static void section_header(struct parse *ps, char *text)
{
    char *close = strchr(text, ']');
    if (!close) {
        error_at(ps, ps->line, "unterminated section header");
        return;
    }
    *close = 0;
    char *name = trim(text + 1);
    snprintf(ps->section, sizeof ps->section, "%s", name);
    ps->section_line = ps->line;
    ps->entry = NULL;
    ps->heap_line = ps->callbacks_line = ps->open_line = ps->pointers_line = 0;
    struct policy *p = ps->p;
    if (strcmp(name, "library") == 0 || strcmp(name, "entries") == 0 || strcmp(name, "signals") == 0) {
        int *seen = name[0] == 's' ? &ps->signals_section_line
                    : name[1] == 'i' ? &ps->library_section_line : &ps->entries_section_line;
        if (*seen)
            error_at(ps, ps->line, "duplicate section [%s] (first at line %d)", name, *seen);
        *seen = ps->line;
        return;
    }
    if (strncmp(name, "entry", 5) != 0 || !isspace((unsigned char)name[5])) {
        error_at(ps, ps->line, "unknown section [%s] (expected [library], [entries], [signals] or [entry NAME])",
                 name);
        return;
    }
    char *sym = trim(name + 5);
    if (!valid_symbol(sym)) {
        error_at(ps, ps->line, "[entry %s]: not a symbol name (entries name one function, no globs)", sym);
        return;
    }
    for (size_t i = 0; i < p->n_entries; i++)
        if (strcmp(p->entries[i].name, sym) == 0) {
            error_at(ps, ps->line, "duplicate section [entry %s] (first at line %d)", sym, p->entries[i].line);
            return;
        }
    p->entries = realloc(p->entries, (p->n_entries + 1) * sizeof *p->entries);
    ps->entry = &p->entries[p->n_entries++];
    *ps->entry = (struct policy_entry){.name = strdup(sym), .line = ps->line, .heap = HEAP_DOMAIN};
}

/* Checks the shape of one raw line before inih sees it. */
static void check_line(struct parse *ps, char *raw)
{
    bool indented = isspace((unsigned char)raw[0]);
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", raw);
    char *s = trim(copy);
    ps->continuation = false;
    if (!*s || *s == ';' || *s == '#')
        return;
    if (*s == '[') {
        section_header(ps, s);
        ps->prev_was_value = false;
        return;
    }
    if (indented && ps->prev_was_value) {
        ps->continuation = true;
        return;
    }
    if (!strpbrk(s, "=:")) {
        error_at(ps, ps->line, "expected 'key = value' or '[section]'");
        ps->prev_was_value = false;
        return;
    }
    if (!ps->section[0] && ps->section_line == 0)
        error_at(ps, ps->line, "key outside any section");
    ps->prev_was_value = true;
}

/* inih's line source: one line per call, counted and checked. */
static char *reader(char *str, int num, void *stream)
{
    struct parse *ps = stream;
    ssize_t n = getline(&ps->last_line, &ps->last_cap, ps->in);
    if (n < 0)
        return NULL;
    ps->line++;
    if (n >= num - 1) {
        error_at(ps, ps->line, "line too long (at most %d characters)", num - 2);
        ps->last_line[num - 2] = 0;
    }
    check_line(ps, ps->last_line);
    snprintf(str, (size_t)num, "%s", ps->last_line);
    return str;
}

static void add_globs(struct parse *ps, char *value, char ***list, size_t *n, bool deny)
{
    char *save = NULL;
    bool any = false;
    for (char *g = strtok_r(value, ", \t", &save); g; g = strtok_r(NULL, ", \t", &save)) {
        any = true;
        if (!valid_glob(g)) {
            error_at(ps, ps->line, "'%s' is not a symbol glob", g);
            continue;
        }
        *list = realloc(*list, (*n + 1) * sizeof **list);
        (*list)[(*n)++] = strdup(g);
        if (deny) {
            ps->deny_glob_lines = realloc(ps->deny_glob_lines, *n * sizeof *ps->deny_glob_lines);
            ps->deny_glob_lines[*n - 1] = ps->line;
        }
    }
    if (!any)
        error_at(ps, ps->line, "empty list");
}

/* A key may appear once per section; continuation lines extend lists only. */
static bool first_time(struct parse *ps, int *seen, const char *key, bool list)
{
    if (ps->continuation) {
        if (list)
            return true;
        error_at(ps, ps->line, "'%s' takes one value (continuation line)", key);
        return false;
    }
    if (*seen) {
        error_at(ps, ps->line, "duplicate key '%s' (first at line %d)", key, *seen);
        return false;
    }
    *seen = ps->line;
    return true;
}

static void library_key(struct parse *ps, const char *name, char *value)
{
    struct policy *p = ps->p;
    if (strcmp(name, "path") == 0) {
        if (!first_time(ps, &ps->path_line, name, false))
            return;
        if (!*value) {
            error_at(ps, ps->line, "path is empty");
            return;
        }
        p->library = strdup(value);
        p->library_line = ps->line;
        p->library_path = policy_find_library(value);
        /* A bare name may live where only the program's RUNPATH leads: it
         * is matched by file name or soname when the program loads it. */
        if (!p->library_path && strchr(value, '/'))
            error_at(ps, ps->line, "library '%s' not found", value);
    } else if (strcmp(name, "mode") == 0) {
        if (!first_time(ps, &ps->mode_line, name, false))
            return;
        if (strcmp(value, "integrity") == 0)
            p->mode = POLICY_INTEGRITY;
        else if (strcmp(value, "confidential") == 0)
            p->mode = POLICY_CONFIDENTIAL;
        else
            error_at(ps, ps->line, "mode must be 'integrity' or 'confidential', not '%s'", value);
    } else if (strcmp(name, "on_fault") == 0) {
        if (!first_time(ps, &ps->on_fault_line, name, false))
            return;
        if (strcmp(value, "contain") == 0 || strcmp(value, "abort") == 0)
            p->contain_faults = value[0] == 'c';
        else
            error_at(ps, ps->line, "on_fault must be 'abort' or 'contain', not '%s'", value);
    } else if (strcmp(name, "fault_value") == 0) {
        if (!first_time(ps, &ps->fault_value_line, name, false))
            return;
        char *end;
        p->fault_value = strtol(value, &end, 0);
        if (!*value || *end)
            error_at(ps, ps->line, "fault_value must be an integer, not '%s'", value);
    } else if (strcmp(name, "fault_errno") == 0) {
        if (!first_time(ps, &ps->fault_errno_line, name, false))
            return;
        static const struct { const char *name; int value; } names[] = {
            {"EIO", EIO}, {"EFAULT", EFAULT}, {"EINVAL", EINVAL}, {"ENOMEM", ENOMEM}, {"EPERM", EPERM},
            {"ENOTRECOVERABLE", ENOTRECOVERABLE}, {"ECANCELED", ECANCELED},
        };
        p->fault_errno = 0;
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            if (strcmp(value, names[i].name) == 0)
                p->fault_errno = names[i].value;
        if (!p->fault_errno)
            error_at(ps, ps->line, "fault_errno must be one of EIO, EFAULT, EINVAL, ENOMEM, EPERM, "
                                   "ENOTRECOVERABLE, ECANCELED, not '%s'", value);
    } else if (strcmp(name, "callback_stack_args") == 0) {
        if (!first_time(ps, &ps->callback_stack_line, name, false))
            return;
        char *end;
        long n = strtol(value, &end, 10);
        if (!*value || *end || n < 0 || n > 8)
            error_at(ps, ps->line, "callback_stack_args must be a number of 8-byte stack slots from 0 to 8, not '%s'",
                     value);
        else
            p->callback_stack_args = (unsigned)n;
    } else {
        error_at(ps, ps->line, "unknown key '%s' in [library] (expected path, mode, on_fault, fault_value, "
                               "fault_errno, callback_stack_args)", name);
    }
}

static void entries_key(struct parse *ps, const char *name, char *value)
{
    struct policy *p = ps->p;
    if (strcmp(name, "export") == 0) {
        if (first_time(ps, &ps->export_line, name, true))
            add_globs(ps, value, &p->export_globs, &p->n_export_globs, false);
    } else if (strcmp(name, "deny") == 0) {
        if (first_time(ps, &ps->deny_line, name, true))
            add_globs(ps, value, &p->deny_globs, &p->n_deny_globs, true);
    } else {
        error_at(ps, ps->line, "unknown key '%s' in [entries] (expected export, deny)", name);
    }
}

/* Calls ONE for each item of a list (commas or spaces); "empty list" if
 * there is none. */
static void each_item(struct parse *ps, char *value, void (*one)(struct parse *, char *, void *), void *ctx)
{
    char *save = NULL;
    bool any = false;
    for (char *t = strtok_r(value, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        any = true;
        one(ps, t, ctx);
    }
    if (!any)
        error_at(ps, ps->line, "empty list");
}

struct callback_list {
    struct policy_entry *e;
    unsigned *mask;
};

static void one_callback(struct parse *ps, char *t, void *ctx)
{
    struct callback_list *c = ctx;
    char *end;
    long n = strtol(t, &end, 10);
    if (*end || n < 1 || n > POLICY_MAX_ARGS) {
        error_at(ps, ps->line, "callback position '%s' must be a number from 1 to %d", t, POLICY_MAX_ARGS);
        return;
    }
    if (c->e->callbacks & (1u << (n - 1)))
        error_at(ps, ps->line, "callback position %ld listed twice", n);
    c->e->callbacks |= 1u << (n - 1);
    *c->mask |= 1u << (n - 1);
}

/* A list of argument positions into *MASK (and e->callbacks, where every
 * callback position is, whatever its kind). */
static void callbacks_value(struct parse *ps, struct policy_entry *e, unsigned *mask, char *value)
{
    each_item(ps, value, one_callback, &(struct callback_list){e, mask});
}

/* "N:SIZE" (bytes), "N:argM" (the size is argument M) or "N" (one byte). */
static void one_pointer(struct parse *ps, char *t, void *ctx)
{
    struct policy_entry *e = ctx;
    char *end;
    long n = strtol(t, &end, 10);
    struct policy_pointer ptr = {(unsigned char)n, 0, 1};
    if (end == t || n < 1 || n > POLICY_MAX_ARGS || (*end && *end != ':')) {
        error_at(ps, ps->line, "pointer '%s' must be a position from 1 to %d, then ':SIZE' or ':argM' if it is "
                               "more than a byte", t, POLICY_MAX_ARGS);
        return;
    }
    if (*end == ':') {
        const char *size = end + 1;
        bool from_arg = strncmp(size, "arg", 3) == 0;
        long v = strtol(size + (from_arg ? 3 : 0), &end, 10);
        if (*end || (from_arg && (v < 1 || v > POLICY_MAX_ARGS || v == n)) ||
            (!from_arg && (v < 1 || v > (1l << 30)))) {
            error_at(ps, ps->line, "pointer size '%s' must be a byte count from 1 to 2^30, or argM with M "
                                   "another argument (1 to %d)", size, POLICY_MAX_ARGS);
            return;
        }
        ptr.size_arg = from_arg ? (unsigned char)v : 0;
        ptr.size_bytes = from_arg ? 0 : (unsigned)v;
    }
    if (e->n_pointers == POLICY_MAX_POINTERS) {
        error_at(ps, ps->line, "at most %d pointer arguments per entry", POLICY_MAX_POINTERS);
        return;
    }
    e->pointers[e->n_pointers++] = ptr;
}

static void entry_key(struct parse *ps, const char *name, char *value)
{
    struct policy_entry *e = ps->entry;
    if (strcmp(name, "heap") == 0) {
        if (!first_time(ps, &ps->heap_line, name, false))
            return;
        if (strcmp(value, "app") == 0)
            e->heap = HEAP_APP;
        else if (strcmp(value, "domain") == 0)
            e->heap = HEAP_DOMAIN;
        else
            error_at(ps, ps->line, "heap must be 'app' or 'domain', not '%s'", value);
    } else if (strcmp(name, "callbacks") == 0) {
        unsigned plain = 0;
        if (first_time(ps, &ps->callbacks_line, name, false))
            callbacks_value(ps, e, &plain, value);
    } else if (strcmp(name, "open_callbacks") == 0) {
        if (first_time(ps, &ps->open_line, name, false))
            callbacks_value(ps, e, &e->open_callbacks, value);
    } else if (strcmp(name, "pointers") == 0) {
        if (first_time(ps, &ps->pointers_line, name, false))
            each_item(ps, value, one_pointer, e);
    } else {
        error_at(ps, ps->line, "unknown key '%s' in [entry %s] (expected heap, callbacks, open_callbacks, pointers)",
                 name, e->name);
    }
}

/* A signal by name (SIGUSR1, USR1) or number. */
static int signal_number(const char *s)
{
    static const struct { const char *name; int sig; } names[] = {
        {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL}, {"TRAP", SIGTRAP},
        {"ABRT", SIGABRT}, {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
        {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
        {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
        {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
        {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO}, {"PWR", SIGPWR}, {"SYS", SIGSYS},
    };
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].sig;
    if (strncmp(s, "RTMIN+", 6) == 0)
        return SIGRTMIN + atoi(s + 6);
    char *end;
    long n = strtol(s, &end, 10);
    return *s && !*end && n > 0 && n < 64 ? (int)n : -1;
}

static void signals_key(struct parse *ps, const char *name, char *value)
{
    struct policy *p = ps->p;
    if (strcmp(name, "no_defer") == 0) {
        if (!first_time(ps, &ps->no_defer_line, name, true))
            return;
        char *save = NULL;
        for (char *t = strtok_r(value, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
            int sig = signal_number(t);
            if (sig < 0 || sig >= 64)
                error_at(ps, ps->line, "'%s' is not a signal", t);
            else if (sig == SIGKILL || sig == SIGSTOP)
                error_at(ps, ps->line, "%s cannot be deferred in the first place", t);
            else if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGTRAP)
                error_at(ps, ps->line, "%s is never deferred when the fault is the library's own", t);
            else
                p->no_defer |= 1ull << sig;
        }
    } else if (strcmp(name, "max_deferral") == 0) {
        if (!first_time(ps, &ps->max_deferral_line, name, false))
            return;
        char *end;
        double v = strtod(value, &end);
        double ms = strcmp(end, "ms") == 0 ? v : strcmp(end, "s") == 0 ? v * 1000 : -1;
        if (ms < 1 || ms > 3600 * 1000)
            error_at(ps, ps->line, "max_deferral must be a duration from 1ms to 3600s, like 10s or 500ms");
        else
            p->max_deferral_ms = (unsigned)ms;
    } else {
        error_at(ps, ps->line, "unknown key '%s' in [signals] (expected no_defer, max_deferral)", name);
    }
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *ps = user;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", value);
    char *v = trim(buf);
    if (strcmp(section, "library") == 0)
        library_key(ps, name, v);
    else if (strcmp(section, "entries") == 0)
        entries_key(ps, name, v);
    else if (strcmp(section, "signals") == 0)
        signals_key(ps, name, v);
    else if (ps->entry)
        entry_key(ps, name, v);
    /* keys of unknown or invalid sections: the header was reported */
    return 1;
}

static void validate(struct parse *ps)
{
    struct policy *p = ps->p;
    if (!ps->library_section_line)
        error_at(ps, 1, "missing section [library]");
    else if (!ps->path_line)
        error_at(ps, ps->library_section_line, "[library] has no 'path'");
    for (size_t d = 0; d < p->n_deny_globs; d++)
        for (size_t x = 0; x < p->n_export_globs; x++)
            if (strcmp(p->deny_globs[d], p->export_globs[x]) == 0)
                error_at(ps, ps->deny_glob_lines[d], "'%s' is both exported and denied", p->deny_globs[d]);
    for (size_t i = 0; i < p->n_entries; i++) {
        const struct policy_entry *e = &p->entries[i];
        if (policy_denies(p, e->name))
            error_at(ps, e->line, "[entry %s] is denied by [entries] deny: its settings would never apply",
                     e->name);
        else if (!policy_exports(p, e->name))
            error_at(ps, e->line, "[entry %s] is not selected by [entries] export", e->name);
    }
}

int policy_load(const char *file, struct policy *p, FILE *errors)
{
    memset(p, 0, sizeof *p);
    p->file = strdup(file);
    p->mode = POLICY_INTEGRITY;
    p->fault_value = -1;
    p->fault_errno = EIO;
    struct parse ps = {.p = p, .errors = errors};
    ps.in = fopen(file, "r");
    if (!ps.in) {
        error_at(&ps, 0, "cannot open: %s", strerror(errno));
        policy_free(p);
        return ps.errors_count;
    }
    ini_parse_stream(reader, &ps, handler, &ps);
    fclose(ps.in);
    free(ps.last_line);
    if (p->n_export_globs == 0) { /* default: gate every export */
        p->export_globs = malloc(sizeof *p->export_globs);
        p->export_globs[p->n_export_globs++] = strdup("*");
    }
    if (ps.errors_count == 0)
        validate(&ps);
    free(ps.deny_glob_lines);
    if (ps.errors_count)
        policy_free(p);
    return ps.errors_count;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void policy_free(struct policy *p)
{
    free(p->file);
    free(p->library);
    free(p->library_path);
    free_list(p->export_globs, p->n_export_globs);
    free_list(p->deny_globs, p->n_deny_globs);
    for (size_t i = 0; i < p->n_entries; i++)
        free(p->entries[i].name);
    free(p->entries);
    memset(p, 0, sizeof *p);
}

static bool matches_any(char *const *globs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(globs[i], name, 0) == 0)
            return true;
    return false;
}

bool policy_exports(const struct policy *p, const char *name)
{
    return matches_any(p->export_globs, p->n_export_globs, name);
}

bool policy_denies(const struct policy *p, const char *name)
{
    return matches_any(p->deny_globs, p->n_deny_globs, name);
}

const struct policy_entry *policy_entry_for(const struct policy *p, const char *name)
{
    for (size_t i = 0; i < p->n_entries; i++)
        if (strcmp(p->entries[i].name, name) == 0)
            return &p->entries[i];
    return NULL;
}

const char *policy_mode_name(enum policy_mode mode)
{
    return mode == POLICY_CONFIDENTIAL ? "confidential" : "integrity";
}
