/* process_vm_writev on itself: a kernel copy that ignores PKU. */
#define _GNU_SOURCE
#include "attack.h"

#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

int main(void)
{
    vault_open();
    struct vault_cell *c = vault_address(VAULT_DATA);
    uint64_t forged = FORGED_COUNTER;
    struct iovec local = {&forged, 8}, remote = {&c->counter, 8};
    if (process_vm_writev(getpid(), &local, 1, &remote, 1, 0) != 8) 
        blocked_errno("process_vm_writev");
    if (vault_counter(VAULT_DATA) == FORGED_COUNTER)
        breached("changed the library's counter with process_vm_writev");
    blocked("the counter did not change");
}
