/*
 * compress.h - brotli / gzip of dynamic responses (the big JSON pages), on
 * the worker thread that built them, into the request's pool.
 *
 * h2o 2.2.5's compress filter (h2o_compress_register) only runs for handlers
 * inside h2o's own pathconf chain; the glue answers with h2o_send_inline from
 * the loop thread after a worker built the body, so the filter never sees
 * these responses and compressing on the loop would stall it. Compressing
 * here keeps the CPU on the workers and lets the ETag helper give each
 * representation its own validator.
 *
 * Brotli is preferred when accepted: at quality 1 it took 20-50 % less CPU
 * than gzip level 1 for the same size on the week and journal pages
 * (docs/performance.md). gzip keeps one deflate stream per thread (reset
 * per body, freed at thread exit) so it allocates only its output.
 */
#ifndef DN_HTTP_COMPRESS_H
#define DN_HTTP_COMPRESS_H

#include <stddef.h>
#include <h2o/memory.h>

/** Bodies below this many bytes are sent as they are: one TCP segment
 *  either way, and compressing costs as much CPU as building a page. */
#define DN_COMPRESS_MIN_BYTES 1400

typedef enum { DN_CODING_IDENTITY = 0, DN_CODING_GZIP, DN_CODING_BR } dn_coding_t;

/** The coding for an Accept-Encoding value (NULL: absent): br, else gzip
 *  (each only with q > 0), else identity. */
dn_coding_t dn_compress_choose(const char *accept_encoding);

/** Content-Encoding token of a coding ("br", "gzip"; "" for identity). */
const char *dn_compress_name(dn_coding_t coding);

/** Compress len bytes of in with coding into pool memory: 0 with out and
 *  outlen set, or a negative DN_E* code (then send the body as it is). */
int dn_compress(h2o_mem_pool_t *pool, dn_coding_t coding, const void *in, size_t len, char **out, size_t *outlen);

#endif
