/* The macro benchmarks: real work through a data-plane library, timed
 * inside the program (start-up excluded).  bench/run starts it plain and
 * under protect-wrap and compares.  Prints "WORKLOAD NS_PER_OP OPS
 * CROSSINGS" (gate crossings while timed, from libprotect; 0 unprotected).
 * Usage: macrobench WORKLOAD [OPS] [THREADS]
 *   kvstore          kv_put/kv_get/kv_delete on libkvstore (THREADS threads)
 *   sqlite-insert    INSERTs of prepared statements into an in-memory table
 *   sqlite-select    point SELECTs by primary key
 *   sqlite-join      a two-table join, one query per op
 *   lmdb-load        puts in one write transaction per 1000 (liblmdb)
 *   lmdb-read        gets in a read transaction
 *   zlib             deflate + inflate of a 4 KiB block (streams reset per block)
 *   malloc           malloc/free inside one gated call (THREADS threads) */
#define _GNU_SOURCE
#include "echo_stack.h"
#include "kvstore.h"

#include <dlfcn.h>
#include <lmdb.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

long bench_malloc_free(long n, unsigned long size);

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Gate crossings so far, when libprotect is there. */
static unsigned long long crossings(void)
{
    static unsigned long long (*counter)(void);
    static int looked;
    if (!looked++)
        counter = (unsigned long long (*)(void))dlsym(RTLD_DEFAULT, "libprotect_gate_crossings");
    return counter ? counter() : 0;
}

/* The timed part of a workload: its time, and the crossings within it. */
static double t0;
static unsigned long long c0, crossed;

static void clock_start(void)
{
    c0 = crossings();
    t0 = now_ns();
}

static double clock_stop(void)
{
    double t = now_ns() - t0;
    crossed = crossings() - c0;
    return t;
}


static void die(const char *what)
{
    fprintf(stderr, "macrobench: %s\n", what);
    exit(1);
}

/* --- threads: each runs fn(arg, ops), the clock runs from the start line --- */

struct worker {
    void (*fn)(void *, long, int);
    void *arg;
    long ops;
    int id;
    pthread_barrier_t *start;
};

static void *worker_main(void *p)
{
    struct worker *w = p;
    pthread_barrier_wait(w->start);
    w->fn(w->arg, w->ops, w->id);
    return NULL;
}

static double run_threads(void (*fn)(void *, long, int), void *arg, long ops, int threads)
{
    pthread_t t[64];
    struct worker w[64];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){fn, arg, ops / threads, i, &start};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    pthread_barrier_wait(&start);
    clock_start();
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return clock_stop();
}

static void kv_work(void *arg, long ops, int id)
{
    struct kv_store *s = arg;
    char key[32], value[32], buf[64];
    for (long i = 0; i < ops; i++) {
        snprintf(key, sizeof key, "t%d-%ld", id, i & 4095);
        switch (i % 3) {
        case 0:
            snprintf(value, sizeof value, "v%ld", i);
            kv_put(s, key, value);
            break;
        case 1: kv_get_copy(s, key, buf, sizeof buf); break;
        default: kv_delete(s, key); break;
        }
    }
}

static void malloc_work(void *arg, long ops, int id)
{
    if (bench_malloc_free(ops, 64) != ops)
        die("malloc failed");
}

static sqlite3 *sql_open(void)
{
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        die("sqlite3_open");
    sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER);"
                     "CREATE TABLE g(id INTEGER PRIMARY KEY, label TEXT);", NULL, NULL, NULL);
    return db;
}

static void sql_fill(sqlite3 *db, long rows)
{
    sqlite3_stmt *st;
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO t(id, name, grp) VALUES(?, ?, ?)", -1, &st, NULL);
    for (long i = 0; i < rows; i++) {
        char name[32];
        snprintf(name, sizeof name, "name-%ld", i);
        sqlite3_bind_int64(st, 1, i);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, i % 100);
        if (sqlite3_step(st) != SQLITE_DONE)
            die("insert");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    for (int i = 0; i < 100; i++) {
        char q[96];
        snprintf(q, sizeof q, "INSERT INTO g VALUES(%d, 'group-%d')", i, i);
        sqlite3_exec(db, q, NULL, NULL, NULL);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

static double sqlite_bench(const char *what, long ops)
{
    sqlite3 *db = sql_open();
    double t;
    if (strcmp(what, "sqlite-insert") == 0) {
        clock_start();
        sql_fill(db, ops);
        t = clock_stop();
    } else {
        sql_fill(db, 10000);
        sqlite3_stmt *st;
        const char *q = strcmp(what, "sqlite-select") == 0
                            ? "SELECT name FROM t WHERE id = ?"
                            : "SELECT count(*), max(length(g.label)) FROM t JOIN g ON g.id = t.grp WHERE t.id BETWEEN ? AND ? + 20";
        sqlite3_prepare_v2(db, q, -1, &st, NULL);
        long sum = 0;
        clock_start();
        for (long i = 0; i < ops; i++) {
            sqlite3_bind_int64(st, 1, (i * 7919) % 9970);
            if (sqlite3_bind_parameter_count(st) > 1)
                sqlite3_bind_int64(st, 2, (i * 7919) % 9970);
            while (sqlite3_step(st) == SQLITE_ROW)
                sum += sqlite3_column_bytes(st, 0);
            sqlite3_reset(st);
        }
        t = clock_stop();
        sqlite3_finalize(st);
        if (sum == 0)
            die("no rows");
    }
    sqlite3_close(db);
    return t;
}

static double lmdb_bench(const char *what, long ops)
{
    char dir[] = "/tmp/macrobench-lmdb-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp");
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    mdb_env_create(&env);
    mdb_env_set_mapsize(env, 1ul << 30);
    if (mdb_env_open(env, dir, MDB_NOSYNC, 0644) != 0)
        die("mdb_env_open");
    char key[32], val[64];
    long load = strcmp(what, "lmdb-load") == 0 ? ops : 100000;
    clock_start();
    for (long i = 0; i < load; i += 1000) {
        mdb_txn_begin(env, NULL, 0, &txn);
        mdb_dbi_open(txn, NULL, 0, &dbi);
        for (long j = i; j < i + 1000 && j < load; j++) {
            MDB_val k = {(size_t)snprintf(key, sizeof key, "key%09ld", j), key};
            MDB_val v = {(size_t)snprintf(val, sizeof val, "value-%ld", j * 31), val};
            if (mdb_put(txn, dbi, &k, &v, 0) != 0)
                die("mdb_put");
        }
        mdb_txn_commit(txn);
    }
    double t = clock_stop();
    if (strcmp(what, "lmdb-read") == 0) {
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
        mdb_dbi_open(txn, NULL, 0, &dbi);
        size_t sum = 0;
        clock_start();
        for (long i = 0; i < ops; i++) {
            MDB_val k = {(size_t)snprintf(key, sizeof key, "key%09ld", (i * 7919) % load), key}, v;
            if (mdb_get(txn, dbi, &k, &v) != 0)
                die("mdb_get");
            sum += v.mv_size;
        }
        t = clock_stop();
        mdb_txn_abort(txn);
        if (!sum)
            die("no values");
    }
    mdb_env_close(env);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        die("cleanup");
    return t;
}

/* One stream each way, reset per block: what a packet or record compressor
 * does (compress2 would time the allocation of a fresh window per call). */
static double zlib_bench(long ops)
{
    enum { BLOCK = 4096 };
    unsigned char in[BLOCK], out[BLOCK * 2], back[BLOCK];
    unsigned x = 1;
    for (int i = 0; i < BLOCK; i++) {
        x = x * 1103515245u + 12345u;
        in[i] = (unsigned char)("abcdefgh"[(x >> 16) & 7]);
    }
    z_stream d = {0}, f = {0};
    if (deflateInit(&d, 6) != Z_OK || inflateInit(&f) != Z_OK)
        die("zlib init");
    clock_start();
    for (long i = 0; i < ops; i++) {
        in[i % BLOCK] ^= 1;
        deflateReset(&d);
        d.next_in = in, d.avail_in = BLOCK, d.next_out = out, d.avail_out = sizeof out;
        if (deflate(&d, Z_FINISH) != Z_STREAM_END)
            die("deflate");
        inflateReset(&f);
        f.next_in = out, f.avail_in = (uInt)(sizeof out - d.avail_out), f.next_out = back, f.avail_out = BLOCK;
        if (inflate(&f, Z_FINISH) != Z_STREAM_END || memcmp(in, back, BLOCK) != 0)
            die("inflate");
    }
    double t = clock_stop();
    deflateEnd(&d);
    inflateEnd(&f);
    return t;
}

/* Round trips of 64 bytes through lwIP's loopback: the client here, the
 * echo server in a thread of its own, lwIP's tcpip_thread in between. */
static double lwip_bench(long ops)
{
    echo_start_stack(0);
    if (echo_start_server() != 0)
        die("lwip listen");
    struct sockaddr_in a = echo_server_address();
    int s = lwip_socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || lwip_connect(s, (struct sockaddr *)&a, sizeof a) != 0)
        die("lwip connect");
    char out[64], in[64];
    memset(out, 'x', sizeof out);
    clock_start();
    for (long i = 0; i < ops; i++) {
        if (echo_send_all(s, out, sizeof out) != 0)
            die("lwip send");
        for (int got = 0, m; got < (int)sizeof in; got += m)
            if ((m = lwip_recv(s, in + got, sizeof in - (size_t)got, 0)) <= 0)
                die("lwip recv");
    }
    double t = clock_stop();
    lwip_close(s);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: macrobench WORKLOAD [OPS] [THREADS]\n");
        return 2;
    }
    const char *what = argv[1];
    long ops = argc > 2 ? atol(argv[2]) : 100000;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    if (ops <= 0 || threads < 1 || threads > 64) {
        fprintf(stderr, "macrobench: OPS must be positive, THREADS 1 to 64\n");
        return 2;
    }
    double t;
    if (strcmp(what, "kvstore") == 0) {
        struct kv_store *s = kv_open(1 << 16);
        t = run_threads(kv_work, s, ops, threads);
        kv_close(s);
    } else if (strcmp(what, "malloc") == 0) {
        t = run_threads(malloc_work, NULL, ops, threads);
    } else if (strncmp(what, "sqlite-", 7) == 0) {
        t = sqlite_bench(what, ops);
    } else if (strncmp(what, "lmdb-", 5) == 0) {
        t = lmdb_bench(what, ops);
    } else if (strcmp(what, "zlib") == 0) {
        t = zlib_bench(ops);
    } else if (strcmp(what, "lwip-echo") == 0) {
        t = lwip_bench(ops);
    } else {
        fprintf(stderr, "macrobench: unknown workload '%s'\n", what);
        return 2;
    }
    printf("%s %.1f %ld %llu\n", what, t / (double)ops, ops, crossed);
    return 0;
}
