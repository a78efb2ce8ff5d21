/* Relocated code compared byte for byte, with both sides printed on a
 * mismatch (shared by the relocator and planner tests). */
#ifndef LIBPROTECT_TEST_RELOC_ASSERT_H
#define LIBPROTECT_TEST_RELOC_ASSERT_H

#include <stdio.h>
#include <string.h>

#include "x86_relocate.h"

static void expect_code(const struct reloc_output *out, const uint8_t *want, size_t want_len)
{
    if (out->len != want_len || memcmp(out->code, want, want_len) != 0) {
        fprintf(stderr, "got: ");
        for (size_t i = 0; i < out->len; i++)
            fprintf(stderr, "%02x ", out->code[i]);
        fprintf(stderr, "\nwant:");
        for (size_t i = 0; i < want_len; i++)
            fprintf(stderr, " %02x", want[i]);
        fprintf(stderr, "\n");
        fail_msg("relocated bytes differ");
    }
}

#endif
