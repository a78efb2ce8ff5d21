/* IFUNC resolution in a throw-away child process. */
#define _GNU_SOURCE
#include "ifunc_resolve.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RESOLVE_TIMEOUT_S 10

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n <= 0)
            _exit(3);
        p += n;
        len -= (size_t)n;
    }
}

static _Noreturn void child(const struct elf_image *img, int out)
{
    alarm(RESOLVE_TIMEOUT_S);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    dup2(null, 2);
    void *h = dlopen(img->path, RTLD_LAZY | RTLD_LOCAL);
    struct link_map *lm = NULL;
    if (!h || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0)
        _exit(1);
    /* The loader reuses an already loaded object with the same soname:
     * its addresses only mean something if it is this very file. */
    if (!same_file(lm->l_name, img->path))
        _exit(2);
    for (size_t i = 0; i < img->n_exports; i++) {
        const struct elf_export *e = &img->exports[i];
        uint64_t v = 0;
        if (e->ifunc) {
            void *p = e->version ? dlvsym(h, e->name, e->version) : dlsym(h, e->name);
            if (p)
                v = (uint64_t)(uintptr_t)p - lm->l_addr;
        }
        write_all(out, &v, sizeof v);
    }
    _exit(0);
}

int ifunc_resolve(const struct elf_image *img, uint64_t *resolved, char *err, size_t errlen)
{
    memset(resolved, 0, img->n_exports * sizeof *resolved);
    bool any = false;
    for (size_t i = 0; i < img->n_exports; i++)
        any |= img->exports[i].ifunc;
    if (!any)
        return 0;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot resolve IFUNCs: pipe failed");
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(img, fds[1]);
    }
    close(fds[1]);
    size_t want = img->n_exports * sizeof *resolved, got = 0;
    while (pid > 0 && got < want) {
        ssize_t n = read(fds[0], (char *)resolved + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (pid > 0 && got == want && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    memset(resolved, 0, want);
    if (pid < 0)
        snprintf(err, errlen, "cannot resolve IFUNCs: fork failed");
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
        snprintf(err, errlen, "cannot resolve IFUNCs: another file with this soname is loaded");
    else if (WIFSIGNALED(status))
        snprintf(err, errlen, "cannot resolve IFUNCs: loading the library died with signal %d",
                 WTERMSIG(status));
    else
        snprintf(err, errlen, "cannot resolve IFUNCs: the library does not load (dlopen failed)");
    return -1;
}
