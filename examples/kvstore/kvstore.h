/* kvstore: a small in-memory key-value library (a hash table on its heap),
 * safe to use from several threads.  The data-plane library of the examples. */
#ifndef KVSTORE_H
#define KVSTORE_H

#include <stddef.h>
#include <stdint.h>

struct kv_store;

struct kv_store *kv_open(size_t buckets);
void kv_close(struct kv_store *s);
/* Copies KEY and VALUE into the store; 0, or -1 when out of memory. */
int kv_put(struct kv_store *s, const char *key, const char *value);
/* The stored value (inside the store: read it, never write it), or NULL. */
const char *kv_get(struct kv_store *s, const char *key);
/* Copies the value into BUF (at most LEN bytes, NUL included): the way to
 * read a confidential store.  Returns the value's length, or -1. */
long kv_get_copy(struct kv_store *s, const char *key, char *buf, size_t len);
int kv_delete(struct kv_store *s, const char *key);
size_t kv_count(struct kv_store *s);
/* Order-independent digest of every key and value. */
uint64_t kv_checksum(struct kv_store *s);
/* Calls FN with every entry's key and value lengths (a callback: under
 * libprotect it runs with the application's rights). */
void kv_foreach(struct kv_store *s, void (*fn)(size_t key_len, size_t value_len, void *arg), void *arg);

#endif
