/* A protected library's files, known by device and inode: those it maps
 * shared (a ring, a wal-index, a lock table) and, in hardened mode, those it
 * opens for writing (its database).  Hardened mode's open handler refuses
 * the application a writable open of them (any open, for a confidential
 * library), whatever the name: a hard link, /proc/self/fd/N,
 * /proc/self/map_files. */
#ifndef LIBPROTECT_LIBRARY_FILES_H
#define LIBPROTECT_LIBRARY_FILES_H

#include <sys/types.h>

/* Notes that domain SLOT holds FD's file (a regular file; others are not
 * noted). */
void library_files_note(int slot, int fd);

/* The slot of the domain that holds the file (DEV, INO), or -1. */
int library_file_owner(dev_t dev, ino_t ino);

#endif
