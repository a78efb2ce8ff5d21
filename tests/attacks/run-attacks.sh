#!/usr/bin/env bash
# The attack suite: each attack runs against libvault protected by
# protect-wrap (hardened mode), in its own process.  An attack counts as
# blocked when it printed BLOCKED, or ended by a signal or a refusal to
# start, and libprotect's report (or the program's own line) says what
# stopped it: the pattern given here.  Anything else is a failure of the
# suite, so that a crash for another reason never passes for a defence.
# Known breaches (KNOWN_OPEN) are run too: each must still breach, so that
# the list, and the README that explains it, stays true.
# Usage: run-attacks.sh BUILD_DIR SOURCE_DIR
set -u
build=$1 src=$2
wrap=$build/bin/protect-wrap
policy=$build/attacks/vault.policy
export LD_LIBRARY_PATH=$build/attacks${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name | program and arguments | what must stop it (extended regex, stdout+stderr)
attacks=(
  "write .data|direct data write|blocked write of libvault.so"
  "read .data|direct data read|blocked read of libvault.so"
  "write .bss|direct bss write|blocked write of libvault.so"
  "read .bss|direct bss read|blocked read of libvault.so"
  "write heap|direct heap write|blocked write of libvault.so"
  "read heap|direct heap read|blocked read of libvault.so"
  "write mmap memory|direct mmap write|blocked write of libvault.so"
  "read mmap memory|direct mmap read|blocked read of libvault.so"
  "callback reads the library's stack|callback read-stack|blocked read of libvault.so"
  "callback writes the library's stack|callback write-stack|blocked write of libvault.so"
  "callback writes the library's memory|callback write-data|blocked write of libvault.so"
  "a gated function writing through a pointer into the library's own memory (confused deputy)|deputy|blocked vault_secret_hash\\(argument 2 = 0x[0-9a-f]+, 8 bytes\\): a pointer into libvault.so's own memory"
  "... handed a pointer into libprotect's runtime domain's stacks (which every library may read)|deputy runtime|blocked vault_secret_hash\\(argument 2 = 0x[0-9a-f]+, 8 bytes\\): a pointer into libprotect's runtime's own memory"
  "callback finds the library's stack in the gate's copy of its stack-argument window|callback window|no copy of the library's stack"
  "the gate called directly with an application function for a callback argument (past the wrapping)|gate_skip callback|blocked vault_visit\\(argument 1 = 0x[0-9a-f]+\\): a function that did not get a callback stub"
  "the gate called directly with a pointer into the library's memory (past the pointer check)|gate_skip pointer|blocked vault_secret_hash\\(argument 2 = 0x[0-9a-f]+, 8 bytes\\): a pointer into libvault.so's own memory"
  "the gate entered at its call of the target, past its checks and its WRPKRU|gate_skip past-check|blocked read of libvault.so \\(confidential\\) at 0x[0-9a-f]+ by libvault.so!vault_visit"
  "a second thread rewrites the wrapped callback argument on the caller's stack before the gate reloads it|gate_skip race|blocked vault_visit\\(argument 1 = 0x[0-9a-f]+\\): a function that did not get a callback stub|the race was not won in 10 s"
  "WRPKRU gadget in application code (aligned)|wrpkru_aligned|blocked a WRPKRU that would change"
  "WRPKRU gadget in application code (unaligned bytes)|wrpkru_unaligned|blocked a WRPKRU that would change"
  "the same, from a thread started later|wrpkru_unaligned thread|blocked a WRPKRU that would change"
  "the same, after disabling and closing the breakpoints' perf descriptors|wrpkru_unaligned disable|blocked a WRPKRU that would change"
  "four hidden WRPKRUs, one more than the breakpoints|wrpkru_hidden_many|wrpkru bytes inside another instruction.*beyond the 3 hardware breakpoints"
  "libc's pkey_set|pkey_set|blocked a WRPKRU that would change"
  "jump onto a gate's WRPKRU with every key open|gate_jump onto|gate check failed"
  "jump into a gate past its WRPKRU|gate_jump past|gate check failed"
  "jump onto a gate's way out with the library's rights|gate_jump exit|gate check failed"
  "jump into the service gate past its WRPKRU, with the library's rights in eax|gate_jump service|blocked read of libvault.so"
  "... with libprotect's runtime domain's rights in eax, its slot and its memory-call service|gate_jump service-runtime|(blocked read of libprotect's runtime domain|gate check failed)"
  "XRSTOR with a crafted buffer|xrstor|blocked an xrstor"
  "pkey_mprotect library memory to key 0|mem_calls pkey_mprotect|blocked pkey_mprotect"
  "pkey_alloc a key of its own|mem_calls pkey_alloc|blocked pkey_alloc"
  "free of a live object of the library's heap (a stray free)|heap_free|blocked free\\(0x[0-9a-f]+\\) by the application: a block of libvault.so's heap"
  "the same freed twice (a double free)|heap_free twice|blocked free\\(0x[0-9a-f]+\\) by the application: a block of libvault.so's heap"
  "realloc of the library's heap block (a copy out)|mem_calls realloc|blocked realloc of libvault.so's memory"
  "mprotect library data|mem_calls mprotect-data|blocked mprotect.*libvault.so"
  "mprotect library code writable|mem_calls mprotect-text|blocked mprotect"
  "madvise(MADV_DONTNEED) over library heap|mem_calls madvise|blocked madvise.*libvault.so"
  "munmap + mmap over library data|mem_calls munmap|blocked munmap.*libvault.so"
  "mmap(MAP_FIXED) over library heap|mem_calls mmap-fixed|blocked mmap.*libvault.so"
  "munmap + mmap over the library's own mapping|mem_calls munmap-mapped|blocked munmap.*libvault.so"
  "... through the bare system call|mem_calls munmap-mapped-raw|blocked munmap.*libvault.so"
  "mmap(MAP_FIXED) over the library's own mapping|mem_calls mmap-fixed-mapped|blocked mmap.*libvault.so"
  "... through the bare system call|mem_calls mmap-fixed-mapped-raw|blocked mmap.*libvault.so"
  "madvise(MADV_DONTNEED) over the library's own mapping|mem_calls madvise-mapped-raw|blocked madvise.*libvault.so"
  "mremap of the library's own mapping|mem_calls mremap-mapped-raw|blocked mremap.*libvault.so"
  "mremap library data elsewhere|mem_calls mremap-move|blocked mremap.*libvault.so"
  "shared alias of library data (mremap old_size 0)|mem_calls mremap-alias|blocked mremap.*libvault.so"
  "alias of library data through /proc/self/map_files|mem_calls map-files-alias|what was read is not the secret"
  "write through /proc/self/mem|proc_mem write|blocked open.*proc/<pid>/mem"
  "read through /proc/self/mem|proc_mem read|blocked open.*proc/<pid>/mem"
  "write through /proc/self/mem opened by creat()|proc_mem creat|blocked creat: /proc/<pid>/mem"
  "a second thread writes through the refused /proc/self/mem before libprotect closes it|proc_mem race|blocked openat: /proc/<pid>/mem"
  "write through /proc/self/mem opened after a chroot, where its name cannot be read|proc_mem chroot|blocked openat: /proc/<pid>/mem|chroot failed"
  "a userfaultfd through /dev/userfaultfd|mem_calls uffd-device|blocked open.*/dev/userfaultfd gives|open /dev/userfaultfd failed: No such file"
  "the vDSO mapped anew outside the filter's scope (arch_prctl)|mem_calls vdso-remap|blocked arch_prctl\\(ARCH_MAP_VDSO\\)"
  "the vDSO moved outside the filter's scope (mremap)|mem_calls vdso-move|blocked mremap: moving executable memory"
  "write through the library's descriptor|library_fds write|blocked pwrite64\\([0-9]+\\): a descriptor of a protected library"
  "dup2 of the application's file over the library's descriptor|library_fds dup2|blocked dup2\\([0-9]+\\): a descriptor"
  "close-on-exec cleared on the library's descriptor|library_fds cloexec|blocked fcntl\\([0-9]+\\): a descriptor"
  "close of the library's descriptor|library_fds close|blocked close\\([0-9]+\\): a descriptor"
  "mmap of the library's descriptor, written|library_fds mmap|blocked mmap\\([0-9]+\\): a descriptor"
  "copy_file_range into the library's file|library_fds copy|blocked copy_file_range\\([0-9]+\\): a descriptor"
  "the library's file opened anew through /proc/self/fd|library_fds reopen-fd|blocked openat: a file of libvault.so"
  "the library's file opened anew through a hard link|library_fds reopen-link|blocked openat: a file of libvault.so"
  "the library's descriptor sent to another process (SCM_RIGHTS)|library_fds scm-rights|blocked sendmsg: a descriptor of a protected library sent away"
  "a write to the library's file through Linux AIO (io_submit)|library_fds aio|blocked io_submit"
  "/proc/self/mem opened by a .preinit_array function, before libprotect starts|preinit|the program has .preinit_array functions"
  "a child writes the parent through /proc/<ppid>/mem|proc_mem child|open /proc/[0-9]+/mem failed: (Permission denied|Operation not permitted)"
  "process_vm_writev|vm_writev|process_vm_writev failed: Operation not permitted"
  "/proc/self/environ moved onto the library's memory (prctl PR_SET_MM)|proc_environ|blocked prctl\\(PR_SET_MM\\)"
  "perf samples of a thread's stack while it is inside the library|perf_sample|blocked perf_event_open"
  "new executable mapping containing WRPKRU|new_exec anon|blocked mprotect.*WRPKRU/XRSTOR in the new code"
  "file-backed executable mapping rewritten after the scan|new_exec file|blocked read of libvault.so"
  "WRPKRU split across two pages made executable one at a time|new_exec split|WRPKRU/XRSTOR across the edge"
  "WRPKRU written into the copy being scanned, by a racing thread|new_exec race|the code made executable was the code scanned"
  "the application's signal handler sets PKRU 0 in its frame|handler_pkru|blocked a change of the rights signal [0-9]+'s frame returns with"
  "... in a copy of the XSAVE area, the frame's fpregs pointed at it|handler_pkru fpregs|blocked a change of the rights signal [0-9]+'s frame returns with"
  "a handler run inside the library points the interrupted context at application code|handler_inside|the handler ran, and the library went on as it was"
  "a signal delivered inside the library, the thread's block pointer and libprotect's record of the stack move rewritten|deliver_block|gate check failed: this thread's gate block pointer for libvault.so"
  "a second thread takes the FS base of a thread that is inside the library, then calls the library (two threads on one domain stack)|fs_base|gate check failed: this thread's domain stack is in use by another entry"
  "a SIGSYS made up as a filter trap asking for pkey_mprotect of the library's page (every reason code)|forged_sigsys|a SIGSYS made up to look like the system-call filter's \\(pkey_mprotect, reason 5\\): not acted on"
  "while the vault's call into another protected library is under way, a handler of a signal delivered inside it jumps to the entry gate's way out with the vault's rights and its own stack|out_call gate|gate check failed \\(a forged gate entry"
  "... to the service gate's way out|out_call service|gate check failed \\(a forged gate entry"
  "the stack pointer moved into the library's heap, then a signal (its handler installed with the bare rt_sigaction): the kernel writes the frame there, since Linux 6.12 with every key open|signal_frame stack|the counter did not change"
  "... an alternate stack declared there with the bare sigaltstack|signal_frame altstack|the counter did not change"
  "... declared there by a handler that rewrites the alternate stack its frame returns with|signal_frame uc_stack|blocked a change of the alternate stack signal [0-9]+'s frame returns with"
  "forged sigreturn frame|sigreturn own|blocked rt_sigreturn"
  "libprotect's record of a key update rewritten to every key open, then libprotect's own signal sent to itself|pkru_sync|blocked read of libvault.so"
  "libprotect's record of its own process id rewritten (so that it takes itself for a vfork child and gives the application's handler to the kernel), then a signal inside the library whose handler points the context at application code|our_pid|blocked read of libvault.so"
  "every pointer to libprotect's trusted page in its writable memory pointed at the attacker's function, then a system call of the library that libprotect carries out in its domain|page_pointer|no pointer to libprotect's trusted page in its writable memory"
  "every pointer into libc's code in libprotect's writable memory pointed at a trampoline of the attacker's, then the vault starts a thread and loads a library (libprotect's pthread_create and dlopen run with its rights)|next_pointers|none followed with the library's rights"
  "a signal delivered inside the library: its handler reads the registers it is shown (the vault keeps its secret in two vector registers)|handler_registers|holds no copy of the secret"
  "libprotect's record of a thread's alternate stacks pointed at the vault's heap, the thread ended (libprotect unmaps them), then a page of the attacker's mapped there|altstack_unmap|blocked the unmapping of a thread's alternate stack"
  "the vault's program headers in the loader's record forged by a constructor that runs before libprotect attaches it (its writable segment marked read-only, so as to stay untagged)|forged_layout|its program headers in memory differ from its file"
  "a signal delivered inside the library: its handler finds the library's frame on libprotect's stacks of key 0 (the real one before Linux 6.12, else the copy the C handler works on) and points it at application code|handler_frame|blocked a change of a library's interrupted context"
  "... handed to a racing thread that keeps rewriting it (and its rights) while libprotect takes the handler's changes back|handler_frame race|the frame was rewritten, and the library went on as it was"
  "libprotect's code and read-only tables made writable|libprotect_state|blocked mprotect.*libprotect"
  "libprotect's domain table rewritten (the library's key set to 0)|libprotect_tables|libprotect's domain table faulted"
  "libprotect's own WRPKRUs called directly|libprotect_wrpkru|opened the library's key"
  "libprotect's own WRPKRUs called directly with the library's rights in every register|libprotect_wrpkru rights|opened the library's key"
  "forged sigreturn frame through libprotect's restorer|sigreturn restorer|\\(killed by signal 31\\)"
  "libprotect's signal handler entered with a forged frame at the stack pointer (every key, resuming in the attacker's code)|signal_gates entry|(blocked read of libvault.so|gate check failed)"
  "libprotect's signal handler entered where the kernel put a frame it already handled (a replay)|signal_gates replay|(handled already|where the kernel puts no frame|no alternate stack was named|no protected frames here|gate check failed)"
  "libprotect's way back from a signal entered with a forged frame|signal_gates return|(blocked read of libvault.so|no protected frames here|gate check failed)"
  "libprotect's slice claim and fork rebind called directly, then the secret read|signal_gates claim|(blocked read of libvault.so|no protected frames here|gate check failed)"
  "libprotect's gate table made writable through its own helper (gate_table_unlock), the application's rights there set to every key open, then pku_write_checked asked for them|libprotect_unlock|blocked mprotect\\(0x[0-9a-f]+, 0x[0-9a-f]+\\) asked of libprotect's runtime with the application's rights: protected memory of libprotect"
  "libprotect's sealed state made writable through its own helper (sealed_open), then written|libprotect_unlock sealed|blocked mprotect\\(0x[0-9a-f]+, 0x[0-9a-f]+\\) asked of libprotect's runtime with the application's rights: protected memory of libprotect"
  "libprotect's runtime helpers and services called with the attacker's requests (the library's rights asked of pku_write_checked, every service with the secret's address)|libprotect_helper|0 of [0-9]+ calls of libprotect's helpers and services gave"
  "libprotect's trusted system-call page called directly (pkey_mprotect of the library's data to key 0)|trusted_page|\\(killed by signal 31\\)"
  "... its cookie entry, with a cookie of the attacker's making|trusted_page guess|\\(killed by signal 31\\)"
  "... its cookie entry, with the runtime's own cookie page (found in libprotect's sealed state)|trusted_page cookie|blocked read of libprotect's runtime domain"
  "... the runtime domain's service for memory calls asked for the same (protect_service, slot 15)|trusted_page runtime|blocked pkey_mprotect\\(0x[0-9a-f]+, 0x1000\\) asked of libprotect's runtime with the application's rights: protected memory of libvault.so"
  "... its plain entry for a call that is not a memory call (/proc/self/mem opened, the secret read there)|trusted_page proc-mem|blocked openat: /proc/<pid>/mem reaches memory past PKU"
  "... its plain entry for memfd_create named by the runtime's cookie page (carried out in the runtime domain, whose rights read it)|trusted_page name|memfd_create named by the cookie page refused \\(-14\\)"
  "... its plain entry for sendmsg of the runtime's cookie page (the same)|trusted_page sendmsg|sendmsg of the cookie page refused \\(-14\\)"
  "... its plain entry for an alternate stack and a SIGSEGV action of the attacker's (past libprotect's handler), then a fault inside the library|trusted_page sigaction|got a context in libvault.so with 0 registers shown"
  "... its plain entry for a mask that blocks libprotect's own signal (no cookie for mask calls), then a protected library loaded and its memory read by that thread, which missed the new key|late_key|blocked read of libhop.so"
)
# Breaches known and documented (README, "Hardened mode: what remains open").
KNOWN_OPEN=()
SKIP=()
# Signal frames stay on key-0 alternate stacks where the kernel cannot write
# them to memory the interrupted thread may not write (before Linux 6.12):
# there a frame can be rewritten before it is restored.
protected_frames=0 kernel_can=0
PROTECT_VERBOSE=1 "$wrap" -p "$policy" -- "$build/tests/pku_probe" 2>&1 | grep -q "signal frames on protected stacks" && protected_frames=1
("$build/tests/altstack_key_probe" >/dev/null 2>&1) 2>/dev/null && kernel_can=1 # (before 6.12 it dies of SIGSEGV)
if [ "$protected_frames" != "$kernel_can" ]; then
    echo "FAIL     libprotect's protected signal frames are $([ $protected_frames = 1 ] && echo on || echo off) on a kernel that $([ $kernel_can = 1 ] && echo can || echo cannot) write frames where the thread may not (tests/vm/altstack_key_probe.c)"
    exit 1
fi
if [ "$protected_frames" = 0 ]; then
    echo "# this kernel cannot protect signal frames: the frame attacks are known to breach here"
    # (and the library's registers at a fault, in the frame the application's
    # handler is given: the kernel's own, on a stack of key 0, is readable anyway)
    KNOWN_OPEN+=("forged sigreturn frame through libprotect's restorer"
                 "... its plain entry for an alternate stack and a SIGSEGV action of the attacker's (past libprotect's handler), then a fault inside the library"
                 "a signal delivered inside the library: its handler finds the library's frame on libprotect's stacks of key 0 (the real one before Linux 6.12, else the copy the C handler works on) and points it at application code")
    # (the same breach as the one before it, won only when the race is)
    SKIP=("... handed to a racing thread that keeps rewriting it (and its rights) while libprotect takes the handler's changes back")
fi

blocked=0 breached=0 known=0 failed=0
is_known() { local k; for k in "${KNOWN_OPEN[@]}"; do [ "$k" = "$1" ] && return 0; done; return 1; }
for entry in "${attacks[@]}"; do
    IFS='|' read -r name cmd pattern <<<"$entry"
    skip=0
    for k in "${SKIP[@]}"; do [ "$k" = "$name" ] && skip=1; done
    [ "$skip" = 1 ] && { echo "SKIPPED  $name"; continue; }
    read -r prog args <<<"$cmd"
    # An attack that needs a second protected library has its policy beside it.
    extra=()
    [ -f "$build/attacks/$prog.policy" ] && extra=(-p "$build/attacks/$prog.policy")
    # shellcheck disable=SC2086
    { timeout 120 "$wrap" -p "$policy" "${extra[@]}" -- "$build/attacks/attack_$prog" $args >"$tmp/out" 2>"$tmp/err"; } 2>/dev/null
    status=$?
    cat "$tmp/out" "$tmp/err" >"$tmp/all"
    how="exit $status"
    [ "$status" -gt 128 ] && how="killed by signal $((status - 128))" && echo "($how)" >>"$tmp/all"
    if grep -q '^BREACHED' "$tmp/out"; then
        breached=$((breached + 1))
        if is_known "$name"; then
            known=$((known + 1))
            echo "OPEN     $name (known: $(grep -m1 '^BREACHED' "$tmp/out" | cut -c11-))"
        else
            failed=$((failed + 1))
            echo "BREACHED $name"; sed 's/^/     | /' "$tmp/all" | head -20
        fi
    elif is_known "$name"; then
        failed=$((failed + 1))
        echo "FAIL     $name: listed as known open but did not breach ($how): update KNOWN_OPEN and the README"
        sed 's/^/     | /' "$tmp/all" | head -20
    elif { grep -q '^BLOCKED' "$tmp/out" || [ "$status" -ne 0 ]; } && grep -Eq -- "$pattern" "$tmp/all"; then
        blocked=$((blocked + 1))
        echo "BLOCKED  $name ($how: $(grep -Em1 -- "$pattern" "$tmp/all" | cut -c1-110))"
    else
        failed=$((failed + 1))
        echo "FAIL     $name: neither breached nor stopped for the expected reason /$pattern/ ($how)"
        sed 's/^/     | /' "$tmp/all" | head -20
    fi
done
echo "attacks: $blocked blocked, $breached breached ($known of them known and documented)"
[ "$failed" = 0 ]
