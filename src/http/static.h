/*
 * static.h - the web UI's files, served from memory.
 *
 * tools/build-web.mjs writes index.html and content-hashed assets (with .gz
 * and .br variants next to each) into a directory; dn_static_load reads all
 * of it once at start-up, after which the set is immutable and shared by
 * every loop thread without locks. Responses pick the brotli or gzip variant
 * by Accept-Encoding, carry a strong ETag per representation and answer
 * If-None-Match with 304. Hashed assets are cached for a year (immutable);
 * HTML is revalidated on every load (no-cache) and carries a strict CSP.
 */
#ifndef DN_HTTP_STATIC_H
#define DN_HTTP_STATIC_H

#include <stddef.h>

#include "http/request.h"

typedef struct dn_static dn_static_t;
typedef struct dn_static_file dn_static_file_t;

/**
 * Load every file under dir (index.html at the top, assets/ below it).
 * Returns 0, DN_ENOTFOUND when dir has no index.html, or another negative code.
 */
int dn_static_load(const char *dir, dn_static_t **out);
void dn_static_free(dn_static_t *s);

/** Number of servable files and the URL path of the i-th ("/assets/app.1a2b3c4d.js", "/index.html"). */
size_t dn_static_count(const dn_static_t *s);
const char *dn_static_url(const dn_static_t *s, size_t i);

/** The file for a URL path, NULL when none. */
const dn_static_file_t *dn_static_find(const dn_static_t *s, const char *path);

/** Answer req with f (200 or 304), choosing the encoding from req->accept_encoding. */
void dn_static_respond(dn_req_t *req, const dn_static_file_t *f);

/** 0 when the Accept-Encoding value accepts coding ("br", "gzip"), by token and q>0. Exposed for tests. */
int dn_static_accepts(const char *accept_encoding, const char *coding);

#endif
