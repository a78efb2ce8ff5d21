/* libffi closures (functions made at run time, as ctypes and cffi make
 * them) of several signatures, called from C and handed to a protected
 * library as a callback.  Prints the results (identical protected or not). */
#include "gatetest.h"

#include <ffi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_ints(ffi_cif *cif, void *ret, void **args, void *user)
{
    *(ffi_arg *)ret = *(int *)args[0] + *(int *)args[1] + (int)(long)user;
}

static void mix(ffi_cif *cif, void *ret, void **args, void *user)
{
    *(double *)ret = *(double *)args[0] * *(float *)args[1] + *(int *)args[2];
}

/* Twelve arguments: six in registers, six on the stack. */
static void twelve(ffi_cif *cif, void *ret, void **args, void *user)
{
    long sum = 0;
    for (int i = 0; i < 12; i++)
        sum += (i + 1) * *(long *)args[i];
    *(long *)ret = sum;
}

static void shout(ffi_cif *cif, void *ret, void **args, void *user)
{
    const char *s = *(const char **)args[0];
    char buf[64];
    size_t i;
    for (i = 0; s[i] && i < sizeof buf - 1; i++)
        buf[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    buf[i] = 0;
    printf("shout: %s\n", buf);
}

/* gt_apply's callback type: long (*)(long, void *) */
static void twice(ffi_cif *cif, void *ret, void **args, void *user)
{
    *(long *)ret = 2 * *(long *)args[0] + (long)user;
}

static void *make(ffi_cif *cif, ffi_type *rtype, ffi_type **atypes, unsigned n,
                  void (*fun)(ffi_cif *, void *, void **, void *), void *user, ffi_closure **out)
{
    void *code;
    if (ffi_prep_cif(cif, FFI_DEFAULT_ABI, n, rtype, atypes) != FFI_OK)
        return NULL;
    *out = ffi_closure_alloc(sizeof(ffi_closure), &code);
    if (!*out || ffi_prep_closure_loc(*out, cif, fun, user, code) != FFI_OK)
        return NULL;
    return code;
}

int main(void)
{
    ffi_cif c1, c2, c3, c4, c5;
    ffi_closure *k1, *k2, *k3, *k4, *k5;
    ffi_type *ii[2] = {&ffi_type_sint, &ffi_type_sint};
    ffi_type *dfi[3] = {&ffi_type_double, &ffi_type_float, &ffi_type_sint};
    ffi_type *l12[12], *p1[1] = {&ffi_type_pointer}, *l1[2] = {&ffi_type_slong, &ffi_type_pointer};
    for (int i = 0; i < 12; i++)
        l12[i] = &ffi_type_slong;
    int (*f1)(int, int) = (int (*)(int, int))make(&c1, &ffi_type_sint, ii, 2, add_ints, (void *)100, &k1);
    double (*f2)(double, float, int) =
        (double (*)(double, float, int))make(&c2, &ffi_type_double, dfi, 3, mix, NULL, &k2);
    long (*f3)(long, long, long, long, long, long, long, long, long, long, long, long) =
        (long (*)(long, long, long, long, long, long, long, long, long, long, long, long))make(
            &c3, &ffi_type_slong, l12, 12, twelve, NULL, &k3);
    void (*f4)(const char *) = (void (*)(const char *))make(&c4, &ffi_type_void, p1, 1, shout, NULL, &k4);
    long (*f5)(long, void *) = (long (*)(long, void *))make(&c5, &ffi_type_slong, l1, 2, twice, (void *)1000, &k5);
    if (!f1 || !f2 || !f3 || !f4 || !f5) {
        printf("closures: could not make them\n");
        return 1;
    }
    printf("add_ints: %d\n", f1(2, 3));
    printf("mix: %.3f\n", f2(1.5, 2.0f, 7));
    printf("twelve: %ld\n", f3(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12));
    f4("a closure made at run time");
    printf("through the library's callback: %ld\n", gt_apply(f5, 21, NULL));
    /* Many at once, then freed and made again. */
    long total = 0;
    ffi_closure *many[600];
    ffi_cif cifs[600];
    for (int i = 0; i < 600; i++) {
        long (*f)(long, void *) =
            (long (*)(long, void *))make(&cifs[i], &ffi_type_slong, l1, 2, twice, (void *)(long)i, &many[i]);
        total += f ? f(i, NULL) : -1000000;
    }
    for (int i = 0; i < 600; i++)
        ffi_closure_free(many[i]);
    printf("600 closures: %ld\n", total);
    ffi_closure_free(k1);
    ffi_closure_free(k2);
    ffi_closure_free(k3);
    ffi_closure_free(k4);
    ffi_closure_free(k5);
    return 0;
}
