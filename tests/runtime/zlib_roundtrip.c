/* Compresses and decompresses a large buffer through zlib, one-shot,
 * streaming and through inflateBack's callbacks (as pigz -d does); prints
 * sizes and checksums (identical protected or not). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIZE (8u << 20)

/* inflateBack's callbacks: in() stores its buffer's address through a
 * pointer zlib hands it; out() copies each piece into memory it allocates
 * (memory of the application's, which main then writes). */
struct back_input {
    unsigned char *data;
    size_t left;
};
struct back_output {
    unsigned char *pieces[4096];
    size_t lens[4096], n, total;
};

static unsigned back_in(void *desc, z_const unsigned char **next)
{
    struct back_input *b = desc;
    unsigned n = b->left < 16384 ? (unsigned)b->left : 16384;
    *next = b->data;
    b->data += n;
    b->left -= n;
    return n;
}

static int back_out(void *desc, unsigned char *buf, unsigned len)
{
    struct back_output *o = desc;
    if (o->n == 4096 || !(o->pieces[o->n] = malloc(len)))
        return 1;
    memcpy(o->pieces[o->n], buf, len);
    o->lens[o->n++] = len;
    o->total += len;
    return 0;
}

/* Raw deflate data is what inflateBack reads. */
static int back_round_trip(const unsigned char *in, unsigned char *zdata, unsigned long zlen)
{
    static unsigned char window[32768];
    static struct back_output o;
    struct back_input b = {zdata, zlen};
    z_stream bs = {0};
    if (inflateBackInit(&bs, 15, window) != Z_OK)
        return printf("inflateBackInit FAILED\n"), 1;
    int rc = inflateBack(&bs, back_in, &b, back_out, &o);
    inflateBackEnd(&bs);
    size_t at = 0;
    int same = rc == Z_STREAM_END && o.total == SIZE;
    for (size_t i = 0; i < o.n; i++) {
        if (same && memcmp(in + at, o.pieces[i], o.lens[i]) != 0)
            same = 0;
        at += o.lens[i];
        o.pieces[i][0] ^= 1; /* the application writes what its callback allocated */
        free(o.pieces[i]);
    }
    printf("inflateBack through callbacks: %s, %zu pieces\n", same ? "identical" : "DIFFERENT", o.n);
    return !same;
}

int main(void)
{
    unsigned char *in = malloc(SIZE), *back = malloc(SIZE);
    uLongf bound = compressBound(SIZE), clen = bound, blen = SIZE;
    unsigned char *out = malloc(bound);
    unsigned x = 12345;
    for (unsigned i = 0; i < SIZE; i++) { /* compressible, not trivial */
        x = x * 1103515245u + 12345u;
        in[i] = (unsigned char)("abcdefgh"[(x >> 16) & 7] + (i % 4096 == 0));
    }
    if (compress2(out, &clen, in, SIZE, 6) != Z_OK || uncompress(back, &blen, out, clen) != Z_OK ||
        blen != SIZE || memcmp(in, back, SIZE) != 0) {
        printf("one-shot round trip FAILED\n");
        return 1;
    }
    printf("one-shot: %u -> %lu bytes, crc %08lx, adler %08lx\n", SIZE, clen, crc32(0, out, (uInt)clen),
           adler32(1, in, SIZE));
    z_stream zs = {0};
    deflateInit2(&zs, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY); /* gzip framing */
    zs.next_in = in;
    zs.avail_in = SIZE;
    zs.next_out = out;
    zs.avail_out = (uInt)bound;
    while (deflate(&zs, Z_FINISH) == Z_OK)
        ;
    unsigned long slen = zs.total_out;
    deflateEnd(&zs);
    z_stream is = {0};
    inflateInit2(&is, 31);
    is.next_in = out;
    is.avail_in = (uInt)slen;
    memset(back, 0, SIZE);
    unsigned char chunk[65536];
    size_t at = 0;
    int rc;
    do {
        is.next_out = chunk;
        is.avail_out = sizeof chunk;
        rc = inflate(&is, Z_NO_FLUSH);
        size_t got = sizeof chunk - is.avail_out;
        if (at + got <= SIZE)
            memcpy(back + at, chunk, got);
        at += got;
    } while (rc == Z_OK);
    inflateEnd(&is);
    if (rc != Z_STREAM_END || at != SIZE || memcmp(in, back, SIZE) != 0) {
        printf("streaming round trip FAILED\n");
        return 1;
    }
    printf("streaming gzip: %u -> %lu bytes, crc %08lx\n", SIZE, slen, crc32(0, out, (uInt)slen));
    return back_round_trip(in, out + 10, slen - 18); /* the gzip stream less its header and trailer */
}
