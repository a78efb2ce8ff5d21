/* Exit 0 when this machine can give out a memory protection key (PKU). */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    long key = syscall(SYS_pkey_alloc, 0, 0);
    if (key < 0) {
        puts("no PKU");
        return 1;
    }
    syscall(SYS_pkey_free, key);
    puts("PKU");
    return 0;
}
