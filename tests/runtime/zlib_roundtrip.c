/* Compresses and decompresses a large buffer through zlib, one-shot and
 * streaming; prints sizes and checksums (identical protected or not). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIZE (8u << 20)

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
    return 0;
}
