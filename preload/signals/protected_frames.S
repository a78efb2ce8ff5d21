/* The handler and the way back of protected signal frames (protected_frames.h).
 *
 * Each WRPKRU here writes a fixed value read from libprotect's read-only
 * data and compares it after: a jump to one with a chosen value stops the
 * process.  What runs with the runtime key open trusts only the stack
 * pointer's place in the region (checked before any use of the stack: the
 * kernel chose it, on this thread's stacks), on the way back this thread's
 * record (its tid against gettid) and the read-only configuration. */
#include "gates/gate_layout.h"

#define CFG_RIGHTS 0
#define CFG_ON 4
#define CFG_SLICES 8
#define CFG_SLICES_SIZE 16
#define CFG_GLOBAL 32
#define CFG_RESTORER 40
#define G_COOKIE 0
#define G_TAKEN 64
#define R_TID 0
#define R_PID 8
#define R_LIVE 16
#define UC_SIZE 304             /* the kernel's struct ucontext */
#define PF_SLICE_SHIFT 18
#define PF_CSTACK_TOP 0x8000
#define PF_RECORD 0x8000
#define PF_LEVELS 8

    .intel_syntax noprefix
    .section .note.GNU-stack, "", @progbits
    .text

/* PKRU = the sealed word at \rights, checked after the WRPKRU. */
.macro WRPKRU_CHECKED rights
    mov eax, [rip + \rights]
    xor ecx, ecx
    xor edx, edx
    wrpkru
    cmp eax, [rip + \rights]
    jne protect_gate_broken
.endm

.macro RUNTIME_RIGHTS
    cmp dword ptr [rip + protect_pf_config + CFG_ON], 0
    je protect_gate_broken
    WRPKRU_CHECKED protect_pf_config + CFG_RIGHTS
    cmp dword ptr [rip + protect_pf_config + CFG_ON], 0
    je protect_gate_broken
.endm

.macro APP_RIGHTS
    WRPKRU_CHECKED protect_gate_page + GT_APP_PKRU
.endm

/* \reg = this thread's slice from TLS (the application's to write: checked
 * to be a slice of the region, else \outside or \misaligned); clobbers rcx. */
.macro TLS_SLICE reg, outside, misaligned
    mov \reg, [rip + protect_pf_slice@GOTTPOFF]
    mov \reg, fs:[\reg]
    mov rcx, \reg
    sub rcx, [rip + protect_pf_config + CFG_SLICES]
    cmp rcx, [rip + protect_pf_config + CFG_SLICES_SIZE]
    jae \outside
    test ecx, (1 << PF_SLICE_SHIFT) - 1
    jnz \misaligned
.endm

/* rdi = a free slice, taken for this thread (its tid and pid), or 0.
 * Runtime rights; clobbers rax, rcx, rdx, r8, r11. */
.macro CLAIM
    mov r8, [rip + protect_pf_config + CFG_GLOBAL]
    mov r11, [rip + protect_pf_config + CFG_SLICES_SIZE]
    shr r11, PF_SLICE_SHIFT
    xor ecx, ecx
1:  cmp rcx, r11
    jae 3f
    lock bts qword ptr [r8 + G_TAKEN], rcx
    jnc 2f
    inc ecx
    jmp 1b
2:  mov rdi, rcx
    shl rdi, PF_SLICE_SHIFT
    add rdi, [rip + protect_pf_config + CFG_SLICES]
    mov eax, 186                        /* gettid */
    syscall
    mov [rdi + PF_RECORD + R_TID], rax
    mov eax, 39                         /* getpid */
    syscall
    mov [rdi + PF_RECORD + R_PID], rax
    xor eax, eax
    mov ecx, PF_LEVELS
4:  mov [rdi + PF_RECORD + R_LIVE + rcx * 8 - 8], rax
    loop 4b
    jmp 5f
3:  xor edi, edi
5:
.endm

/* void protect_pf_signal_entry(int sig, siginfo_t *si, void *uc): every
 * action's handler.  The kernel starts it with key 0 only and the frame at
 * rsp; nothing touches the stack before the runtime key is open. */
    .globl protect_pf_signal_entry
    .hidden protect_pf_signal_entry
    .type protect_pf_signal_entry, @function
protect_pf_signal_entry:
    mov r12d, edi
    mov r13, rsi
    mov r14, rdx
    RUNTIME_RIGHTS
    mov rax, rsp
    sub rax, [rip + protect_pf_config + CFG_SLICES]
    cmp rax, [rip + protect_pf_config + CFG_SLICES_SIZE]
    jae .Lin_place
    /* A frame on a protected stack: checked, copied for the C handler. */
    mov rdi, rsp
    shr rax, PF_SLICE_SHIFT
    shl rax, PF_SLICE_SHIFT
    add rax, [rip + protect_pf_config + CFG_SLICES]
    lea rsp, [rax + PF_CSTACK_TOP]
    mov esi, r12d
    call protect_pf_enter               /* rax: the copy (where its return address goes) */
    mov rbx, rax
    APP_RIGHTS
    lea rsp, [rbx + 8]
    mov edi, r12d
    lea rsi, [rbx + 8 + UC_SIZE]
    lea rdx, [rbx + 8]
    call protect_on_signal
    jmp protect_pf_return
.Lin_place:
    /* A frame elsewhere (no protected stack was armed: the kernel wrote it
     * where the stack pointer was): handled where it is, and returned to
     * with no more than the application's rights. */
    APP_RIGHTS
    mov rbx, rsp                        /* the frame (its return address slot) */
    and rsp, -16                        /* (the kernel leaves rsp 8 past that: a caller's may not) */
    mov edi, r12d
    mov rsi, r13
    mov rdx, r14
    call protect_on_signal
    lea rsp, [rbx + 8]
    jmp protect_pf_return
    .size protect_pf_signal_entry, . - protect_pf_signal_entry

/* The way back: rsp = the ucontext of the frame to return to (as after a
 * handler's ret).  protect_pf_leave decides which frame is restored: the
 * real one with what may change merged in, or a copy with no more than the
 * application's rights; rt_sigreturn then carries the cookie. */
    .globl protect_pf_return
    .hidden protect_pf_return
    .type protect_pf_return, @function
protect_pf_return:
    mov rbx, rsp
    RUNTIME_RIGHTS
    mov eax, 186                        /* gettid */
    syscall
    mov r13, rax
    TLS_SLICE rdi, .Lret_claim, protect_gate_broken
    /* This thread's (or a vfork child's, on its parent's stacks)?  A thread
     * cloned without TLS of its own sees its parent's: its own is found. */
    cmp r13, [rdi + PF_RECORD + R_TID]
    je .Lret_slice
    mov eax, 39                         /* getpid (not this thread's: a child's?) */
    syscall
    cmp rax, [rdi + PF_RECORD + R_PID]
    jne .Lret_slice
    mov rdi, [rip + protect_pf_config + CFG_SLICES]
    mov r10, rdi
    add r10, [rip + protect_pf_config + CFG_SLICES_SIZE]
.Lret_find:
    cmp rdi, r10
    jae .Lret_claim_apart
    cmp r13, [rdi + PF_RECORD + R_TID]
    je .Lret_slice
    add rdi, 1 << PF_SLICE_SHIFT
    jmp .Lret_find
.Lret_slice:
    lea rsp, [rdi + PF_CSTACK_TOP]
    mov rsi, rbx
    call protect_pf_leave               /* rax: the ucontext to return from, in the region */
    mov rsp, rax
    mov rdi, [rip + protect_pf_config + CFG_GLOBAL]
    mov rdi, [rdi + G_COOKIE]
    mov eax, 15
    jmp [rip + protect_pf_config + CFG_RESTORER]
.Lret_claim:
    /* A thread with no slice yet (one libprotect did not start): one now. */
    CLAIM
    test rdi, rdi
    jz protect_gate_broken
    mov rax, [rip + protect_pf_slice@GOTTPOFF]
    mov fs:[rax], rdi
    jmp .Lret_slice
.Lret_claim_apart:
    /* ... and one whose TLS is another thread's: found by its tid next time. */
    CLAIM
    test rdi, rdi
    jz protect_gate_broken
    jmp .Lret_slice
    .size protect_pf_return, . - protect_pf_return

/* uintptr_t protect_pf_claim(void): a slice for the calling thread; back
 * with the application's rights (it is called with them). */
    .globl protect_pf_claim
    .hidden protect_pf_claim
    .type protect_pf_claim, @function
protect_pf_claim:
    push rbx
    RUNTIME_RIGHTS
    CLAIM
    mov rax, [rip + protect_pf_slice@GOTTPOFF]
    mov fs:[rax], rdi
    mov rbx, rdi
    APP_RIGHTS
    mov rax, rbx
    pop rbx
    ret
    .size protect_pf_claim, . - protect_pf_claim

/* void protect_pf_rebind(void): in a fork child, the forking thread's slice
 * (its record names the parent) becomes this thread's.  Nothing for a
 * slice of this process: another thread's cannot be taken so. */
    .globl protect_pf_rebind
    .hidden protect_pf_rebind
    .type protect_pf_rebind, @function
protect_pf_rebind:
    push rbx
    RUNTIME_RIGHTS
    TLS_SLICE rbx, .Lrebind_done, .Lrebind_done
    mov eax, 39                         /* getpid */
    syscall
    cmp rax, [rbx + PF_RECORD + R_PID]
    je .Lrebind_done
    mov [rbx + PF_RECORD + R_PID], rax
    mov eax, 186                        /* gettid */
    syscall
    mov [rbx + PF_RECORD + R_TID], rax
.Lrebind_done:
    APP_RIGHTS
    pop rbx
    ret
    .size protect_pf_rebind, . - protect_pf_rebind

/* long protect_pf_reap(void): the slices of threads that have ended (their
 * tid no longer in this process: tgkill with signal 0 says ESRCH) taken
 * back; how many.  A live thread's is never taken: the question is the
 * kernel's. */
    .globl protect_pf_reap
    .hidden protect_pf_reap
    .type protect_pf_reap, @function
protect_pf_reap:
    push rbx
    push r12
    push r13
    push r14
    RUNTIME_RIGHTS
    mov eax, 39                         /* getpid */
    syscall
    mov r13, rax
    xor r14d, r14d                      /* taken back */
    xor ebx, ebx                        /* the slice's number */
.Lreap_next:
    mov rax, [rip + protect_pf_config + CFG_SLICES_SIZE]
    shr rax, PF_SLICE_SHIFT
    cmp rbx, rax
    jae .Lreap_done
    mov r12, rbx
    shl r12, PF_SLICE_SHIFT
    add r12, [rip + protect_pf_config + CFG_SLICES]
    mov rsi, [r12 + PF_RECORD + R_TID]
    test rsi, rsi
    jz .Lreap_skip
    mov rdi, r13
    xor edx, edx
    mov eax, 234                        /* tgkill(pid, tid, 0) */
    syscall
    cmp rax, -3                         /* -ESRCH: gone */
    jne .Lreap_skip
    mov qword ptr [r12 + PF_RECORD + R_TID], 0
    mov qword ptr [r12 + PF_RECORD + R_PID], 0
    mov r8, [rip + protect_pf_config + CFG_GLOBAL]
    lock btr qword ptr [r8 + G_TAKEN], rbx
    inc r14
.Lreap_skip:
    inc rbx
    jmp .Lreap_next
.Lreap_done:
    APP_RIGHTS
    mov rax, r14
    pop r14
    pop r13
    pop r12
    pop rbx
    ret
    .size protect_pf_reap, . - protect_pf_reap

/* The start-up probe's handler (in a child): where the kernel put the
 * frame, then exit.  No stack: the child's alternate stack has a key the
 * handler cannot open. */
    .globl protect_pf_probe_handler
    .hidden protect_pf_probe_handler
    .type protect_pf_probe_handler, @function
protect_pf_probe_handler:
    mov rax, [rip + protect_pf_probe_out]
    mov [rax], rsp
    mov eax, 231                        /* exit_group(0) */
    xor edi, edi
    syscall
    ud2
    .size protect_pf_probe_handler, . - protect_pf_probe_handler
