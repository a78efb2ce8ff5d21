/* A SQLite client's own aggregate and window functions, the way every
 * binding registers them: the state lives in sqlite3_aggregate_context(),
 * memory SQLite owns (often its lookaside buffer) that the application's
 * xStep/xFinal/xValue/xInverse write.  Prints results (identical protected
 * or not).  With "probe", it then writes into sqlite3_column_text() memory
 * afterwards (a stray write: must still be stopped). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct stats {
    long long n;
    double sum, sumsq;
    char longest[64];
    char *label; /* the application's memory, allocated in xStep (as Python's objects are) */
};

/* What xStep allocated, written again by main after the queries: it must be
 * the application's memory, not the library's. */
static char *kept[64];
static int n_kept;

static void stats_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct stats *s = sqlite3_aggregate_context(ctx, sizeof *s);
    if (!s || sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return;
    if (!s->label && n_kept < 64) {
        s->label = malloc(32);
        snprintf(s->label, 32, "group%d", n_kept);
        kept[n_kept++] = s->label;
    }
    double x = sqlite3_value_double(argv[0]);
    s->n++;
    s->sum += x;
    s->sumsq += x * x;
    const char *t = (const char *)sqlite3_value_text(argv[0]);
    if (t && strlen(t) > strlen(s->longest) && strlen(t) < sizeof s->longest)
        strcpy(s->longest, t);
}

static void stats_final(sqlite3_context *ctx)
{
    struct stats *s = sqlite3_aggregate_context(ctx, 0);
    if (!s || s->n == 0) {
        sqlite3_result_null(ctx);
        return;
    }
    double mean = s->sum / s->n;
    char *r = sqlite3_mprintf("%s n=%lld mean=%.3f var=%.3f longest=%s", s->label, s->n, mean,
                              s->sumsq / s->n - mean * mean, s->longest);
    sqlite3_result_text(ctx, r, -1, sqlite3_free);
}

/* A window sum of squares: xStep adds, xInverse takes away, xValue reads. */
static void sq_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    long long *acc = sqlite3_aggregate_context(ctx, sizeof *acc);
    long long v = sqlite3_value_int64(argv[0]);
    if (acc)
        *acc += v * v;
}

static void sq_inverse(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    long long *acc = sqlite3_aggregate_context(ctx, sizeof *acc);
    long long v = sqlite3_value_int64(argv[0]);
    if (acc)
        *acc -= v * v;
}

static void sq_value(sqlite3_context *ctx)
{
    long long *acc = sqlite3_aggregate_context(ctx, sizeof *acc);
    sqlite3_result_int64(ctx, acc ? *acc : 0);
}

static void sq_final(sqlite3_context *ctx)
{
    long long *acc = sqlite3_aggregate_context(ctx, 0);
    sqlite3_result_int64(ctx, acc ? *acc : 0);
}

static int destroyed;
static void on_destroy(void *p)
{
    destroyed++;
}

static int print_row(void *arg, int n, char **values, char **names)
{
    for (int i = 0; i < n; i++)
        printf("%s%s", i ? "|" : "", values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, print_row, NULL, &err) != SQLITE_OK) {
        printf("error: %s\n", err);
        sqlite3_free(err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return 1;
    if (sqlite3_create_function_v2(db, "stats", 1, SQLITE_UTF8, NULL, NULL, stats_step, stats_final, on_destroy) ||
        sqlite3_create_window_function(db, "sumsq", 1, SQLITE_UTF8, NULL, sq_step, sq_final, sq_value, sq_inverse,
                                       on_destroy))
        return printf("registration failed: %s\n", sqlite3_errmsg(db)), 1;
    int bad = exec(db, "CREATE TABLE t(g INTEGER, x REAL);"
                       "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)"
                       "  INSERT INTO t SELECT i % 7, (i * 37) % 1000 / 10.0 FROM c;");
    bad |= exec(db, "SELECT g, stats(x) FROM t GROUP BY g ORDER BY g;");
    bad |= exec(db, "SELECT stats(x) FROM t;");
    bad |= exec(db, "SELECT i, sumsq(i) OVER (ORDER BY i ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) "
                    "FROM (SELECT DISTINCT g AS i FROM t) ORDER BY i;");
    bad |= exec(db, "SELECT sumsq(g) FROM t;");
    if (argc > 1 && strcmp(argv[1], "probe") == 0) {
        sqlite3_stmt *st;
        sqlite3_prepare_v2(db, "SELECT 'probe'", -1, &st, NULL);
        sqlite3_step(st);
        char *text = (char *)sqlite3_column_text(st, 0);
        fflush(stdout);
        text[0] = 'P'; /* a stray write into SQLite's memory */
        printf("probe write went through: %s\n", text);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    for (int i = 0; i < n_kept; i++) { /* the application writes what its callbacks allocated */
        kept[i][0] = 'G';
        free(kept[i]);
    }
    printf("destructors: %d, labels written and freed: %d\n", destroyed, n_kept);
    return bad;
}
