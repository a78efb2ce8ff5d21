/* Policy parsing: a full valid policy, the shipped ones, and every error
 * case with its FILE:LINE message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"

static char path[64];

/* Loads TEXT as a policy file; returns the error count, errors in *OUT. */
static int load(const char *text, struct policy *p, char **out)
{
    strcpy(path, "/tmp/policy-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    size_t len;
    FILE *errors = open_memstream(out, &len);
    int n = policy_load(path, p, errors);
    fclose(errors);
    unlink(path);
    return n;
}

/* TEXT fails with exactly the errors WANT (NULL-terminated), each a part of its line. */
static void expect_errors(const char *text, const char *const *want)
{
    struct policy p;
    char *errors = NULL;
    int n = 0;
    while (want[n])
        n++;
    assert_int_equal(load(text, &p, &errors), n);
    for (int i = 0; i < n; i++)
        assert_non_null(strstr(errors, want[i]));
    free(errors);
}

/* Expects exactly one error, on LINE, containing WANT. */
static void expect_error(const char *text, int line, const char *want)
{
    struct policy p;
    char *errors = NULL;
    int n = load(text, &p, &errors);
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    if (n != 1 || strncmp(errors, prefix, strlen(prefix)) != 0 || !strstr(errors, want) ||
        strchr(errors, '\n') != errors + strlen(errors) - 1)
        fail_msg("policy:\n%s\nwant one error '%s%s...', got %d:\n%s", text, prefix, want, n, errors);
    free(errors);
}

static void full_policy(void **state)
{
    struct policy p;
    char *errors = NULL;
    int n = load("; comment\n"
                 "[library]\n"
                 "path = libz.so.1   ; inline comment\n"
                 "mode = confidential\n"
                 "[entries]\n"
                 "export = deflate*, inflate* compress\n"
                 "   uncompress\n"
                 "deny = deflateSetDictionary\n"
                 "[entry compress]\n"
                 "heap = app\n"
                 "callbacks = 1, 3\n",
                 &p, &errors);
    if (n)
        fail_msg("%s", errors);
    free(errors);
    assert_string_equal(p.library, "libz.so.1");
    assert_non_null(strstr(p.library_path, "libz.so.1"));
    assert_int_equal(p.mode, POLICY_CONFIDENTIAL);
    assert_int_equal(p.n_export_globs, 4);
    assert_string_equal(p.export_globs[3], "uncompress");
    assert_true(policy_exports(&p, "deflateInit_"));
    assert_false(policy_exports(&p, "crc32"));
    assert_true(policy_denies(&p, "deflateSetDictionary"));
    const struct policy_entry *e = policy_entry_for(&p, "compress");
    assert_non_null(e);
    assert_int_equal(e->heap, HEAP_APP);
    assert_int_equal(e->callbacks, 0x5);
    assert_int_equal(e->line, 9);
    policy_free(&p);
}

static void signals_and_faults(void **state)
{
    struct policy p;
    char *errors = NULL;
    int n = load("[library]\npath = libz.so.1\non_fault = contain\nfault_value = 0x10\nfault_errno = EFAULT\n"
                 "[signals]\nno_defer = SIGUSR1, HUP 12\nmax_deferral = 250ms\n",
                 &p, &errors);
    if (n)
        fail_msg("%s", errors);
    free(errors);
    assert_true(p.contain_faults);
    assert_int_equal(p.fault_value, 16);
    assert_int_equal(p.fault_errno, EFAULT);
    assert_int_equal(p.no_defer, 1ull << SIGUSR1 | 1ull << SIGHUP | 1ull << 12);
    assert_int_equal(p.max_deferral_ms, 250);
    policy_free(&p);
}

static void defaults(void **state)
{
    struct policy p;
    char *errors = NULL;
    assert_int_equal(load("[library]\npath = libz.so.1\n", &p, &errors), 0);
    free(errors);
    assert_int_equal(p.mode, POLICY_INTEGRITY);
    assert_true(policy_exports(&p, "anything"));
    assert_false(p.contain_faults);
    assert_int_equal(p.fault_value, -1);
    assert_int_equal(p.fault_errno, EIO);
    assert_int_equal(p.max_deferral_ms, 0);
    policy_free(&p);
}

static void shipped_policies_are_valid(void **state)
{
    static const char *const shipped[] = {"sqlite3", "lmdb", "zlib", "lwip"};
    for (size_t i = 0; i < sizeof shipped / sizeof *shipped; i++) {
        char file[512];
        snprintf(file, sizeof file, "%s/%s.policy", POLICY_DIR, shipped[i]);
        struct policy p;
        assert_int_equal(policy_load(file, &p, stderr), 0);
        policy_free(&p);
    }
    struct policy p;
    assert_int_equal(policy_load(POLICY_DIR "/sqlite3.policy", &p, stderr), 0);
    assert_int_equal(policy_entry_for(&p, "sqlite3_exec")->callbacks, 1u << 2);
    assert_true(policy_denies(&p, "sqlite3_test_control"));
    policy_free(&p);
    assert_int_equal(policy_load(POLICY_DIR "/lwip.policy", &p, stderr), 0);
    assert_int_equal(policy_entry_for(&p, "netif_add")->callbacks, 1u << 5 | 1u << 6);
    assert_int_equal(policy_entry_for(&p, "sys_thread_new")->callbacks, 1u << 1);
    policy_free(&p);
}

/* Pointer arguments: a fixed size, a size from another argument, a byte. */
static void pointer_arguments(void **state)
{
    struct policy p;
    char *errors = NULL;
    assert_int_equal(load("[library]\npath = libz.so.1\n[entry f]\npointers = 1:112, 2:arg3, 4\n", &p, &errors), 0);
    const struct policy_entry *e = policy_entry_for(&p, "f");
    assert_int_equal(e->n_pointers, 3);
    assert_int_equal(e->pointers[0].arg, 1);
    assert_int_equal(e->pointers[0].size_bytes, 112);
    assert_int_equal(e->pointers[1].size_arg, 3);
    assert_int_equal(e->pointers[2].size_bytes, 1);
    policy_free(&p);
    free(errors);
    expect_errors("[library]\npath = libz.so.1\n[entry f]\npointers = 15, 1:arg1, 2:0\n",
                  (const char *[]){"pointer '15' must be a position from 1 to 14", "pointer size 'arg1' must be",
                                   "pointer size '0' must be", NULL});
}

/* A bare name the default path does not find is valid: the program may
 * find it through its RUNPATH.  It stays unresolved until then. */
static void open_callbacks_are_callbacks_too(void **state)
{
    struct policy p;
    char *errors = NULL;
    assert_int_equal(load("[library]\npath = libz.so.1\n[entry deflate]\ncallbacks = 1\nopen_callbacks = 3\n", &p, &errors),
                     0);
    const struct policy_entry *e = policy_entry_for(&p, "deflate");
    assert_int_equal(e->callbacks, 1u | 1u << 2);
    assert_int_equal(e->open_callbacks, 1u << 2);
    policy_free(&p);
    free(errors);
}

static void bare_names_wait_for_the_loader(void **state)
{
    struct policy p;
    char *errors = NULL;
    assert_int_equal(load("[library]\npath = libonly-in-runpath.so\n", &p, &errors), 0);
    assert_string_equal(p.library, "libonly-in-runpath.so");
    assert_null(p.library_path);
    policy_free(&p);
    free(errors);
}

static void errors_name_file_and_line(void **state)
{
    const char *lib = "[library]\npath = libz.so.1\n";
    char text[512];
#define WITH(extra) (snprintf(text, sizeof text, "%s%s", lib, extra), text)
    expect_error("[library]\npath = /nowhere/libnothere.so.9\n", 2, "library '/nowhere/libnothere.so.9' not found");
    expect_error("[library]\nmode = integrity\n", 1, "[library] has no 'path'");
    expect_error("[entries]\nexport = *\n", 1, "missing section [library]");
    expect_error(WITH("[librari]\n"), 3, "unknown section [librari]");
    expect_error(WITH("[entries]\nexprot = *\n"), 4, "unknown key 'exprot' in [entries]");
    expect_error(WITH("mode = secret\n"), 3, "mode must be 'integrity' or 'confidential'");
    expect_error(WITH("on_fault = ignore\n"), 3, "on_fault must be 'abort' or 'contain'");
    expect_error(WITH("fault_value = minus one\n"), 3, "fault_value must be an integer");
    expect_error(WITH("fault_errno = EWHATEVER\n"), 3, "fault_errno must be one of");
    expect_error(WITH("[signals]\nno_defer = SIGKILL\n"), 4, "cannot be deferred");
    expect_error(WITH("[entry deflate]\ncallbacks = 2\nopen_callbacks = 3, 2\n"), 5, "callback position 2 listed twice");
    expect_error(WITH("[entry deflate]\nopen_callbacks = 0\n"), 4, "callback position '0' must be a number");
    expect_error(WITH("[signals]\nno_defer = SIGSEGV\n"), 4, "never deferred");
    expect_error(WITH("[signals]\nno_defer = SIGNOPE\n"), 4, "'SIGNOPE' is not a signal");
    expect_error(WITH("[signals]\nmax_deferral = soon\n"), 4, "max_deferral must be a duration");
    expect_error(WITH("[signals]\ncolour = red\n"), 4, "unknown key 'colour' in [signals]");
    expect_error(WITH("path = libz.so.1\n"), 3, "duplicate key 'path' (first at line 2)");
    expect_error(WITH("[library]\n"), 3, "duplicate section [library] (first at line 1)");
    expect_error(WITH("[entries]\nexport = foo(\n"), 4, "'foo(' is not a symbol glob");
    expect_error(WITH("[entries]\nexport =\n"), 4, "empty list");
    expect_error(WITH("[entries]\nexport = deflate\ndeny = deflate\n"), 5,
                 "'deflate' is both exported and denied");
    expect_error(WITH("[entry compress]\nheap = stack\n"), 4, "heap must be 'app' or 'domain'");
    expect_error(WITH("[entry compress]\ncallbacks = 0\n"), 4, "from 1 to 14");
    expect_error(WITH("[entry compress]\ncallbacks = 2, x\n"), 4, "'x' must be a number");
    expect_error(WITH("[entry compress]\ncallbacks = 2, 2\n"), 4, "listed twice");
    expect_error(WITH("[entry compress]\ncolor = red\n"), 4, "unknown key 'color' in [entry compress]");
    expect_error(WITH("[entry compress]\nheap = app\n[entry compress]\n"), 5,
                 "duplicate section [entry compress] (first at line 3)");
    expect_error(WITH("[entry comp*]\n"), 3, "not a symbol name");
    expect_error(WITH("[entries]\nexport = inflate*\n[entry compress]\n"), 5,
                 "[entry compress] is not selected by [entries] export");
    expect_error(WITH("[entries]\ndeny = compress\n[entry compress]\n"), 5,
                 "[entry compress] is denied");
    expect_error(WITH("this is not ini\n"), 3, "expected 'key = value' or '[section]'");
    expect_error(WITH("[entries\n"), 3, "unterminated section header");
    expect_error(WITH("[entry compress]\nheap = app\n  domain\n"), 5, "'heap' takes one value");
    expect_error("path = libz.so.1\n[library]\npath = libz.so.1\n", 1, "key outside any section");
    char longline[400];
    snprintf(longline, sizeof longline, "%s[entries]\nexport = %0300d\n", lib, 7);
    expect_error(longline, 4, "line too long");
#undef WITH
}

static void several_errors_all_reported(void **state)
{
    expect_errors("[library]\npath = libz.so.1\nmode = x\n[entries]\nfoo = 1\nbar\n",
                  (const char *[]){":3: mode must be", ":5: unknown key 'foo'", ":6: expected 'key = value'", NULL});
}

static void missing_file(void **state)
{
    struct policy p;
    char *errors = NULL;
    size_t len;
    FILE *f = open_memstream(&errors, &len);
    assert_int_equal(policy_load("/nonexistent/x.policy", &p, f), 1);
    fclose(f);
    assert_string_equal(errors, "/nonexistent/x.policy: cannot open: No such file or directory\n");
    free(errors);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_policy),
        cmocka_unit_test(defaults),
        cmocka_unit_test(signals_and_faults),
        cmocka_unit_test(shipped_policies_are_valid),
        cmocka_unit_test(pointer_arguments),
        cmocka_unit_test(errors_name_file_and_line),
        cmocka_unit_test(bare_names_wait_for_the_loader),
        cmocka_unit_test(open_callbacks_are_callbacks_too),
        cmocka_unit_test(several_errors_all_reported),
        cmocka_unit_test(missing_file),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
