/* Four threads use SQLite at once, each with its own connection, through
 * callbacks the library calls (exec rows, an SQL function, a collation, a
 * bind destructor).  Prints one line per thread, in thread order. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4

struct result {
    int id;
    char line[256];
    long rows_seen;
};

static void twice(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sqlite3_result_int64(ctx, 2 * sqlite3_value_int64(argv[0]));
}

static int reverse_order(void *arg, int na, const void *a, int nb, const void *b)
{
    int n = na < nb ? na : nb, c = memcmp(b, a, (size_t)n);
    return c ? c : nb - na;
}

static int count_row(void *arg, int ncol, char **values, char **names)
{
    ((struct result *)arg)->rows_seen++;
    return 0;
}

static void *run(void *arg)
{
    struct result *r = arg;
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return (void *)1;
    sqlite3_create_function_v2(db, "twice", 1, SQLITE_UTF8, NULL, twice, NULL, NULL, NULL);
    sqlite3_create_collation(db, "backwards", SQLITE_UTF8, NULL, reverse_order);
    sqlite3_exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT, w INTEGER)", NULL, NULL, NULL);
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO t(v, w) VALUES (?, ?)", -1, &st, NULL);
    for (int i = 0; i < 3000; i++) {
        char *text = sqlite3_mprintf("row-%d-%d", r->id, i);
        sqlite3_bind_text(st, 1, text, -1, sqlite3_free); /* the library frees it later */
        sqlite3_bind_int(st, 2, i * (r->id + 1));
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_exec(db, "SELECT * FROM t WHERE w % 7 = 0", count_row, r, NULL);
    sqlite3_prepare_v2(db,
                       "SELECT count(*), sum(twice(w)), (SELECT v FROM t ORDER BY v COLLATE backwards LIMIT 1),"
                       " printf('%08.3f', avg(w)) FROM t", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(r->line, sizeof r->line, "thread %d: %d rows, sum %lld, last %s, avg %s, exec saw %ld", r->id,
                 sqlite3_column_int(st, 0), sqlite3_column_int64(st, 1),
                 (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
                 r->rows_seen);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    struct result r[THREADS];
    for (int i = 0; i < THREADS; i++) {
        r[i] = (struct result){.id = i};
        pthread_create(&t[i], NULL, run, &r[i]);
    }
    int bad = 0;
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        bad |= rc != NULL;
        printf("%s\n", r[i].line);
    }
    return bad;
}
