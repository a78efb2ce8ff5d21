#define _GNU_SOURCE
#include "memory/library_files.h"
#include "base/trusted_syscall.h"

#include "log.h"
#include "base/sealed.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_LIBRARY_FILES 512

struct library_file {
    dev_t dev;
    ino_t ino;
    int slot;
};

/* Sealed: the open handler's decision reads it. */
struct library_file_table {
    struct library_file f[MAX_LIBRARY_FILES];
    int n;
    bool full_said;
};
static SEALED union {
    struct library_file_table v;
    char pages[SEALED_PAGES(struct library_file_table)];
} table;

void library_files_note(int slot, int fd)
{
    struct stat st;
    if (trusted_syscall(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) != 0 || !S_ISREG(st.st_mode))
        return;
    if (library_file_owner(st.st_dev, st.st_ino) >= 0)
        return;
    sealed_open();
    if (table.v.n < MAX_LIBRARY_FILES)
        table.v.f[table.v.n++] = (struct library_file){st.st_dev, st.st_ino, slot};
    else if (!table.v.full_said) {
        table.v.full_said = true;
        protect_log("more than %d files held by protected libraries: later ones are not guarded "
                    "against being opened anew", MAX_LIBRARY_FILES);
    }
    sealed_close();
}

int library_file_owner(dev_t dev, ino_t ino)
{
    for (int i = 0; i < table.v.n; i++)
        if (table.v.f[i].dev == dev && table.v.f[i].ino == ino)
            return table.v.f[i].slot;
    return -1;
}
