/* Hardened mode watches every executable mapping made after start (one more
 * seccomp filter each).  Makes small ones until the kernel's limit on
 * filters is reached: each must work, and the one refused must be refused
 * with EPERM and a report, not kill the program.  Prints the count. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
    int made = 0;
    for (; made < 2000; made++) {
        unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 2;
        static const unsigned char ret_42[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov $42, %eax; ret */
        memcpy(p, ret_42, sizeof ret_42);
        if (mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0) {
            printf("executable mappings: %d made, then refused (%s)\n", made, strerror(errno));
            return errno == EPERM ? 0 : 1;
        }
        if (((int (*)(void))p)() != 42)
            return 3;
    }
    printf("executable mappings: %d made, none refused\n", made);
    return 0;
}
