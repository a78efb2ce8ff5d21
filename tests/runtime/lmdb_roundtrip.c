/* Puts, reads, walks, deletes and reports statistics through liblmdb.so
 * (Debian's lmdb-utils link LMDB statically, so they cannot show a
 * protected shared library).  Values are read in place, inside the map.
 * Output is identical protected or not.  With "stray", it then writes into
 * a value inside the map (LMDB's own bug class: MDB_WRITEMAP aside, the map
 * is the database).  Usage: lmdb_roundtrip DIR [stray] */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                             \
    do {                                                                        \
        int rc_ = (call);                                                       \
        if (rc_) {                                                              \
            printf("%s: %s\n", #call, mdb_strerror(rc_));                       \
            return 1;                                                           \
        }                                                                       \
    } while (0)

static unsigned long hash(const void *p, size_t n, unsigned long h)
{
    for (const unsigned char *c = p; n--; c++)
        h = (h ^ *c) * 1099511628211ul;
    return h;
}

int main(int argc, char **argv)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi main_db, names;
    MDB_stat st;
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: lmdb_roundtrip DIR [stray]\n");
        return 2;
    }
    CHECK(mdb_env_create(&env));
    CHECK(mdb_env_set_maxdbs(env, 4));
    CHECK(mdb_env_set_mapsize(env, 64ul << 20));
    CHECK(mdb_env_open(env, argv[1], 0, 0644));
    for (int batch = 0; batch < 4; batch++) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        CHECK(mdb_dbi_open(txn, NULL, 0, &main_db));
        CHECK(mdb_dbi_open(txn, "names", MDB_CREATE, &names));
        for (int i = batch * 5000; i < (batch + 1) * 5000; i++) {
            char k[32], v[128];
            int kn = snprintf(k, sizeof k, "key-%06d", i);
            int vn = snprintf(v, sizeof v, "value %d %.*s", i * 37, i % 80, "abcdefghijklmnopqrstuvwxyz"
                              "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
            MDB_val key = {(size_t)kn, k}, val = {(size_t)vn, v};
            CHECK(mdb_put(txn, main_db, &key, &val, 0));
            if (i % 10 == 0)
                CHECK(mdb_put(txn, names, &val, &key, 0));
        }
        CHECK(mdb_txn_commit(txn));
    }
    CHECK(mdb_txn_begin(env, NULL, 0, &txn));
    for (int i = 0; i < 20000; i += 3) {
        char k[32];
        MDB_val key = {(size_t)snprintf(k, sizeof k, "key-%06d", i), k};
        if (i % 9 == 0)
            CHECK(mdb_del(txn, main_db, &key, NULL));
    }
    CHECK(mdb_txn_commit(txn));
    CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    MDB_val key = {10, "key-000101"}, val;
    CHECK(mdb_get(txn, main_db, &key, &val));
    printf("get key-000101: %.*s\n", (int)val.mv_size, (const char *)val.mv_data); /* read in the map */
    MDB_cursor *cur;
    CHECK(mdb_cursor_open(txn, main_db, &cur));
    unsigned long h = 14695981039346656037ul, n = 0;
    while (mdb_cursor_get(cur, &key, &val, n ? MDB_NEXT : MDB_FIRST) == 0) {
        h = hash(key.mv_data, key.mv_size, h);
        h = hash(val.mv_data, val.mv_size, h);
        n++;
    }
    mdb_cursor_close(cur);
    printf("walked %lu entries, digest %016lx\n", n, h);
    CHECK(mdb_stat(txn, main_db, &st));
    printf("main: entries %zu depth %u leaf pages %zu overflow %zu\n", st.ms_entries, st.ms_depth,
           st.ms_leaf_pages, st.ms_overflow_pages);
    CHECK(mdb_stat(txn, names, &st));
    printf("names: entries %zu depth %u\n", st.ms_entries, st.ms_depth);
    if (argc == 3 && strcmp(argv[2], "stray") == 0) {
        fflush(stdout);
        key = (MDB_val){10, "key-000101"};
        CHECK(mdb_get(txn, main_db, &key, &val));
        ((char *)val.mv_data)[0] = 'X'; /* the bug: a write into the map */
        printf("stray write into the map went through\n");
    }
    if (argc == 3 && strcmp(argv[2], "deputy") == 0) {
        fflush(stdout);
        /* the bug: LMDB asked to write its statistics over its own
         * environment (memory it allocated) */
        CHECK(mdb_env_stat(env, (MDB_stat *)(void *)env));
        printf("LMDB wrote over its own environment for the application\n");
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}
