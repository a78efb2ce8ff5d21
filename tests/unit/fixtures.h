/* Access to the hand-written assembly fixtures in fixtures/prologues.S. */
#ifndef LIBPROTECT_TEST_FIXTURES_H
#define LIBPROTECT_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#define FIXTURE_DECL(name) extern const uint8_t fixture_##name[], fixture_##name##_end[]
#define FIXTURE_LEN(name) ((size_t)(fixture_##name##_end - fixture_##name))

/* The address the fixtures pretend to live at, and trampolines near and far. */
#define SRC 0x10000000ull
#define DST_NEAR (SRC + 0x100000ull)
#define DST_FAR (SRC + 0xc0000000ull)

FIXTURE_DECL(endbr_frame);
FIXTURE_DECL(jcc_rel8);
FIXTURE_DECL(jmp_rel32);
FIXTURE_DECL(call_first);
FIXTURE_DECL(rip_load);
FIXTURE_DECL(rip_imm8);
FIXTURE_DECL(rip_imm32);
FIXTURE_DECL(jrcxz_first);
FIXTURE_DECL(loop_addr32);
FIXTURE_DECL(internal_jmp);
FIXTURE_DECL(short_ret);
FIXTURE_DECL(endbr_ret);
FIXTURE_DECL(endbr_only);
FIXTURE_DECL(loop_into_window);
FIXTURE_DECL(ret_in_window);
FIXTURE_DECL(loop_to_entry);
FIXTURE_DECL(xbegin_first);

#endif
