/* Threads born with libprotect's alternate signal stack.  A thread that has
 * none gets its signal frames written where its stack pointer points, and
 * Linux 6.12 writes them with every key open: into a library's memory, if
 * the application put its stack pointer there.  The filter sends every
 * clone of a thread (CLONE_VM without CLONE_VFORK; clone3 answers ENOSYS,
 * and glibc falls back to clone) here: the child starts on a few
 * instructions of libprotect's that give it its alternate stack and the
 * signal mask it would have had, then goes on where the caller's child
 * would have, with the caller's registers. */
#ifndef LIBPROTECT_THREAD_START_H
#define LIBPROTECT_THREAD_START_H

#include <ucontext.h>

#include <stdbool.h>
#include <stdint.h>

/* What the child needs of its caller besides the call's arguments (which
 * are its registers rdi, rsi, rdx, r10, r8, r9 too).  The first
 * THREAD_CONTEXT_SENT words go through a service's request (a library's
 * clone, made in its domain); r14 and r15 are zero then. */
struct thread_context {
    uint64_t rip, sp, mask, fp_control, rbx, rbp, r12, r13, r14, r15;
};
#define THREAD_CONTEXT_SENT 8

/* The context of the trapped clone in UC, with arguments A. */
void thread_context_of(const ucontext_t *uc, const long *a, struct thread_context *c);
/* Carries out clone A for a caller with context C, with the rights this
 * runs with (which the child inherits): the child's id, or -errno.  The
 * child's first words go below its stack, which must not be protected
 * memory unless LIBRARY_STACK (a library's clone, in its domain). */
long thread_start_clone(const long *a, const struct thread_context *c, bool library_stack);

#endif
