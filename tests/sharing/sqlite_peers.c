/* Processes sharing one SQLite database in WAL mode: workers that each
 * insert N rows in N transactions (checking their own count as they go),
 * and a buggy peer that writes through a pointer into the wal-index (the
 * -shm file every process maps shared) and tries to open it anew.
 * Usage:
 *   sqlite_peers DB init
 *   sqlite_peers DB worker ID N
 *   sqlite_peers DB scribble
 *   sqlite_peers DB summary     per worker: rows and a sum; integrity_check */
#define _GNU_SOURCE
#include "stray_write.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

static sqlite3 *db;

static void exec(const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        printf("%s: %s\n", sql, err);
        exit(1);
    }
}

static int print_row(void *arg, int n, char **values, char **names)
{
    (void)arg;
    (void)names;
    for (int i = 0; i < n; i++)
        printf("%s%s", values[i] ? values[i] : "NULL", i + 1 < n ? " " : "\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sqlite_peers DB init | worker ID N | scribble | summary\n");
        return 2;
    }
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        printf("open: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_busy_timeout(db, 20000);
    const char *role = argv[2];
    if (strcmp(role, "init") == 0) {
        exec("PRAGMA journal_mode=WAL; CREATE TABLE t(worker INTEGER, i INTEGER, v INTEGER)");
    } else if (strcmp(role, "worker") == 0 && argc == 5) {
        int id = atoi(argv[3]), n = atoi(argv[4]);
        for (int i = 1; i <= n; i++) {
            char sql[200];
            snprintf(sql, sizeof sql, "BEGIN IMMEDIATE; INSERT INTO t VALUES(%d, %d, %d * %d); COMMIT", id, i, i, id);
            exec(sql);
            sqlite3_stmt *st;
            snprintf(sql, sizeof sql, "SELECT count(*) FROM t WHERE worker = %d", id);
            sqlite3_prepare_v2(db, sql, -1, &st, NULL);
            if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int(st, 0) != i) {
                printf("worker %d: after %d inserts the table holds %d of its rows\n", id, i, sqlite3_column_int(st, 0));
                return 1;
            }
            sqlite3_finalize(st);
        }
        printf("worker %d: %d rows\n", id, n);
    } else if (strcmp(role, "scribble") == 0) {
        exec("SELECT count(*) FROM t"); /* maps the wal-index */
        char shm[4096];
        snprintf(shm, sizeof shm, "%s-shm", argv[1]);
        int fd = open(shm, O_RDWR);
        printf("open of the -shm file anew: %s\n", fd < 0 ? strerror(errno) : "opened");
        if (fd >= 0) {
            pwrite(fd, "scribble", 8, 0);
            close(fd);
        }
        scribble_over("-shm");
    } else if (strcmp(role, "summary") == 0) {
        exec("PRAGMA wal_checkpoint");
        if (sqlite3_exec(db, "SELECT worker, count(*), sum(i), sum(v) FROM t GROUP BY worker ORDER BY worker; "
                             "PRAGMA integrity_check", print_row, NULL, NULL) != SQLITE_OK) {
            printf("summary: %s\n", sqlite3_errmsg(db));
            return 1;
        }
    } else {
        fprintf(stderr, "sqlite_peers: unknown role %s\n", role);
        return 2;
    }
    sqlite3_close(db);
    return 0;
}
