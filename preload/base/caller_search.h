/* dlopen of a bare file name as the loader would search it for the real
 * caller: libprotect's interposed dlopen is the caller the loader sees, so
 * the calling object's DT_RPATH/DT_RUNPATH ($ORIGIN included) would not
 * apply. */
#ifndef LIBPROTECT_CALLER_SEARCH_H
#define LIBPROTECT_CALLER_SEARCH_H

/* REAL(FILE, MODE) as if called from CALLER (an address in the calling
 * object): an object already loaded under FILE is that one; else the
 * directories the loader lists for the caller before its cache and the
 * default ones (DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH: RTLD_DI_SERINFO),
 * first one holding FILE; else REAL(FILE, MODE) itself (the cache and the
 * default directories, searched from here as from anywhere). */
void *dlopen_for_caller(const char *file, int mode, const void *caller, void *(*real)(const char *, int));

#endif
