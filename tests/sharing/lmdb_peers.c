/* Processes sharing one LMDB environment: writers that each commit N
 * transactions (every transaction raises a generation and writes it into
 * 32 slots), readers that check every snapshot holds one generation, and
 * a buggy peer that writes through a pointer into the map or the lock
 * table.  Usage:
 *   lmdb_peers DIR writer N        commits N transactions
 *   lmdb_peers DIR reader SECONDS  prints "snapshots S, inconsistent I"
 *   lmdb_peers DIR scribble map|lock
 *   lmdb_peers DIR check           prints the generation */
#include "stray_write.h"

#include <lmdb.h>
#include <stdlib.h>
#include <time.h>

#define SLOTS 32

static void die(const char *what, int rc)
{
    printf("%s: %s\n", what, mdb_strerror(rc));
    exit(1);
}
#define CHECK(call)                                                                                  \
    do {                                                                                             \
        int rc_ = (call);                                                                            \
        if (rc_)                                                                                     \
            die(#call, rc_);                                                                         \
    } while (0)

static unsigned long get_num(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        die("mdb_get", rc);
    char buf[32] = {0};
    memcpy(buf, v.mv_data, v.mv_size < 31 ? v.mv_size : 31);
    return strtoul(buf, NULL, 10);
}

static void put_num(MDB_txn *txn, MDB_dbi dbi, const char *key, unsigned long n)
{
    char buf[32];
    MDB_val k = {strlen(key), (void *)key}, v = {(size_t)snprintf(buf, sizeof buf, "%lu", n), buf};
    CHECK(mdb_put(txn, dbi, &k, &v, 0));
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: lmdb_peers DIR writer N | reader SECONDS | scribble map|lock | check\n");
        return 2;
    }
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_mapsize(env, 64ul << 20));
    CHECK(mdb_env_set_maxreaders(env, 64));
    CHECK(mdb_env_open(env, argv[1], 0, 0644));
    const char *role = argv[2];
    if (strcmp(role, "writer") == 0 && argc == 4) {
        int n = atoi(argv[3]);
        for (int t = 0; t < n; t++) {
            CHECK(mdb_txn_begin(env, NULL, 0, &txn));
            CHECK(mdb_dbi_open(txn, NULL, 0, &dbi));
            unsigned long gen = get_num(txn, dbi, "gen") + 1;
            put_num(txn, dbi, "gen", gen);
            for (int s = 0; s < SLOTS; s++) {
                char key[16];
                snprintf(key, sizeof key, "slot-%02d", s);
                put_num(txn, dbi, key, gen);
            }
            CHECK(mdb_txn_commit(txn));
        }
        printf("writer: %d transactions\n", n);
    } else if (strcmp(role, "reader") == 0 && argc == 4) {
        time_t until = time(NULL) + atoi(argv[3]);
        unsigned long snapshots = 0, inconsistent = 0;
        while (time(NULL) < until) {
            CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
            CHECK(mdb_dbi_open(txn, NULL, 0, &dbi));
            unsigned long gen = get_num(txn, dbi, "gen");
            for (int s = 0; s < SLOTS && gen; s++) {
                char key[16];
                snprintf(key, sizeof key, "slot-%02d", s);
                if (get_num(txn, dbi, key) != gen) {
                    inconsistent++;
                    break;
                }
            }
            mdb_txn_abort(txn);
            snapshots++;
        }
        printf("reader: snapshots %s, inconsistent %lu\n", snapshots > 10 ? "many" : "FEW", inconsistent);
    } else if (strcmp(role, "scribble") == 0 && argc == 4) {
        CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)); /* a reader slot, as any peer has */
        scribble_over(strcmp(argv[3], "lock") == 0 ? "/lock.mdb" : "/data.mdb");
        mdb_txn_abort(txn);
    } else if (strcmp(role, "check") == 0) {
        CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
        CHECK(mdb_dbi_open(txn, NULL, 0, &dbi));
        printf("generation %lu\n", get_num(txn, dbi, "gen"));
        mdb_txn_abort(txn);
    } else {
        fprintf(stderr, "lmdb_peers: unknown role %s\n", role);
        return 2;
    }
    mdb_env_close(env);
    return 0;
}
