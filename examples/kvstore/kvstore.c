/* Chained hash table; every node and string is malloc'd inside the library,
 * so under libprotect all of it lives on the domain's heap. */
#include "kvstore.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *next;
    uint64_t hash;
    char *key, *value;
};

struct kv_store {
    pthread_mutex_t lock;
    size_t buckets, count;
    struct node **table;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct kv_store *kv_open(size_t buckets)
{
    struct kv_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->buckets = buckets ? buckets : 1024;
    s->table = calloc(s->buckets, sizeof *s->table);
    if (!s->table) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void kv_close(struct kv_store *s)
{
    for (size_t b = 0; b < s->buckets; b++)
        for (struct node *n = s->table[b], *next; n; n = next) {
            next = n->next;
            free(n->key);
            free(n->value);
            free(n);
        }
    free(s->table);
    free(s);
}

static struct node **find(struct kv_store *s, const char *key, uint64_t h)
{
    struct node **pp = &s->table[h % s->buckets];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

int kv_put(struct kv_store *s, const char *key, const char *value)
{
    uint64_t h = hash(key);
    char *v = strdup(value);
    if (!v)
        return -1;
    pthread_mutex_lock(&s->lock);
    struct node **pp = find(s, key, h);
    if (*pp) {
        free((*pp)->value);
        (*pp)->value = v;
    } else {
        struct node *n = malloc(sizeof *n);
        char *k = strdup(key);
        if (!n || !k) {
            pthread_mutex_unlock(&s->lock);
            free(n);
            free(k);
            free(v);
            return -1;
        }
        *n = (struct node){.next = NULL, .hash = h, .key = k, .value = v};
        *pp = n;
        s->count++;
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

const char *kv_get(struct kv_store *s, const char *key)
{
    pthread_mutex_lock(&s->lock);
    struct node *n = *find(s, key, hash(key));
    pthread_mutex_unlock(&s->lock);
    return n ? n->value : NULL;
}

long kv_get_copy(struct kv_store *s, const char *key, char *buf, size_t len)
{
    long n = -1;
    pthread_mutex_lock(&s->lock);
    struct node *node = *find(s, key, hash(key));
    if (node && len) {
        n = (long)strlen(node->value);
        snprintf(buf, len, "%s", node->value);
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

int kv_delete(struct kv_store *s, const char *key)
{
    pthread_mutex_lock(&s->lock);
    struct node **pp = find(s, key, hash(key)), *n = *pp;
    if (n) {
        *pp = n->next;
        s->count--;
    }
    pthread_mutex_unlock(&s->lock);
    if (!n)
        return -1;
    free(n->key);
    free(n->value);
    free(n);
    return 0;
}

size_t kv_count(struct kv_store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t c = s->count;
    pthread_mutex_unlock(&s->lock);
    return c;
}

uint64_t kv_checksum(struct kv_store *s)
{
    uint64_t sum = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t b = 0; b < s->buckets; b++)
        for (struct node *n = s->table[b]; n; n = n->next)
            sum += n->hash * 31 + hash(n->value);
    pthread_mutex_unlock(&s->lock);
    return sum;
}

void kv_foreach(struct kv_store *s, void (*fn)(size_t, size_t, void *), void *arg)
{
    pthread_mutex_lock(&s->lock);
    for (size_t b = 0; b < s->buckets; b++)
        for (struct node *n = s->table[b]; n; n = n->next)
            fn(strlen(n->key), strlen(n->value), arg);
    pthread_mutex_unlock(&s->lock);
}
