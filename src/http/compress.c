/*
 * compress.c - brotli / gzip of dynamic responses (contract in compress.h).
 *
 * The deflate state (~270 KB at windowBits 15, memLevel 8) is made once per
 * thread and deflateReset between bodies: creating it per response would
 * mmap and fault in those pages every time. Brotli's one-shot encoder at
 * quality 1 keeps its small state internally for the one call.
 */
#include <brotli/encode.h>
#include <pthread.h>
#include <stdlib.h>
#include <zlib.h>

#include "core/error.h"
#include "http/compress.h"
#include "http/static.h"

#define GZIP_LEVEL 1  /* level 6 cost ~3x the CPU for ~15 % fewer bytes */
#define BR_QUALITY 1
#define BR_WINDOW 18  /* 256 KB: more than any page */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t key;

static void stream_free(void *p)
{
    z_stream *zs = p;
    deflateEnd(zs);
    free(zs);
}

static void make_key(void)
{
    pthread_key_create(&key, stream_free);
}

static z_stream *thread_stream(void)
{
    pthread_once(&once, make_key);
    z_stream *zs = pthread_getspecific(key);
    if (zs != NULL)
        return deflateReset(zs) == Z_OK ? zs : NULL;
    zs = calloc(1, sizeof(*zs));
    if (zs == NULL)
        return NULL;
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
    if (deflateInit2(zs, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(zs);
        return NULL;
    }
    pthread_setspecific(key, zs);
    return zs;
}

dn_coding_t dn_compress_choose(const char *accept_encoding)
{
    if (accept_encoding == NULL)
        return DN_CODING_IDENTITY;
    if (dn_static_accepts(accept_encoding, "br"))
        return DN_CODING_BR;
    if (dn_static_accepts(accept_encoding, "gzip"))
        return DN_CODING_GZIP;
    return DN_CODING_IDENTITY;
}

const char *dn_compress_name(dn_coding_t coding)
{
    return coding == DN_CODING_BR ? "br" : coding == DN_CODING_GZIP ? "gzip" : "";
}

static int gzip(h2o_mem_pool_t *pool, const void *in, size_t len, char **out, size_t *outlen)
{
    z_stream *zs = thread_stream();
    if (zs == NULL)
        return DN_ENOMEM;
    uLong cap = deflateBound(zs, (uLong)len);
    char *buf = h2o_mem_alloc_pool(pool, cap);
    zs->next_in = (Bytef *)in;
    zs->avail_in = (uInt)len;
    zs->next_out = (Bytef *)buf;
    zs->avail_out = (uInt)cap;
    if (deflate(zs, Z_FINISH) != Z_STREAM_END)
        return DN_EINVAL;
    *out = buf;
    *outlen = cap - zs->avail_out;
    return 0;
}

static int brotli(h2o_mem_pool_t *pool, const void *in, size_t len, char **out, size_t *outlen)
{
    size_t cap = BrotliEncoderMaxCompressedSize(len);
    if (cap == 0)
        return DN_EINVAL;
    char *buf = h2o_mem_alloc_pool(pool, cap);
    if (!BrotliEncoderCompress(BR_QUALITY, BR_WINDOW, BROTLI_MODE_TEXT, len, in, &cap, (uint8_t *)buf))
        return DN_EINVAL;
    *out = buf;
    *outlen = cap;
    return 0;
}

int dn_compress(h2o_mem_pool_t *pool, dn_coding_t coding, const void *in, size_t len, char **out, size_t *outlen)
{
    switch (coding) {
    case DN_CODING_GZIP:
        return gzip(pool, in, len, out, outlen);
    case DN_CODING_BR:
        return brotli(pool, in, len, out, outlen);
    default:
        return DN_EINVAL;
    }
}
