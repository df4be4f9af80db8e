/*
 * etag.h - conditional GET for read-heavy JSON pages.
 *
 * The ETag is a strong validator computed from the exact bytes of the
 * compact JSON body (XXH3 64), so two identical answers always carry the
 * same tag and any change in the data changes it. Responses are marked
 * "private, no-cache": browsers may keep them but must revalidate, which is
 * what makes a 304 cheap for the everyday diary pages.
 */
#ifndef DN_API_ETAG_H
#define DN_API_ETAG_H

#include <jansson.h>

#include "http/request.h"

/** Respond 200 with body (stolen) plus ETag and Cache-Control, or 304 with
 *  no body when the request's If-None-Match names the same tag (or "*"). */
void dn_res_json_etag(dn_req_t *req, json_t *body);

/** The same for a compact JSON body already in pool (or static) memory, e.g.
 *  written with core/jsonw.h; brotli or gzip when large and the client accepts it. */
void dn_res_body_etag(dn_req_t *req, const char *buf, size_t len);

/** Respond status with body (stolen), reals printed with 15 significant
 *  digits (as dn_res_json_etag does) so 2-decimal averages read "3.67". */
void dn_res_json_fixed(dn_req_t *req, int status, json_t *body);

/** True when an If-None-Match header value matches tag (quoted, e.g. "\"ab\""). */
int dn_etag_matches(const char *if_none_match, const char *tag);

#endif
