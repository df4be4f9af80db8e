/*
 * common.h - the HTTP helpers every API area uses: ids from the path and
 * query, access checks that answer the request on refusal, field errors,
 * and turning a domain result into a response.
 *
 * A helper that reports failure has already set the response: the handler
 * just returns.
 */
#ifndef DN_API_COMMON_H
#define DN_API_COMMON_H

#include <stdint.h>
#include <jansson.h>

#include "auth/auth.h"
#include "domain/access.h"
#include "http/request.h"

/** A positive decimal id (at most 18 digits), 0 when s is anything else. */
int64_t dn_api_parse_id(const char *s);
/** Positive integer path parameter; 0 after answering 404 when malformed. */
int64_t dn_api_path_id(dn_req_t *req, const char *name);
/** Optional positive integer query parameter: 0 ok (*out 0 when absent), -1 answered 422. */
int dn_api_query_id(dn_req_t *req, const char *name, int64_t *out);
/** Optional date query parameter: 0 ok (*out NULL when absent), -1 answered 422. */
int dn_api_query_date(dn_req_t *req, const char *name, const char **out);
/** dn_access_check; 0 when allowed, else answers 401/403 (or 5xx) and returns the code. */
int dn_api_allow(dn_req_t *req, const dn_principal_t *p, dn_action_t act, int64_t school, int64_t class_id,
                 int64_t subject, int64_t student);
/** Quiet check: 1 when allowed, 0 when not (store errors count as not). */
int dn_api_can(dn_req_t *req, const dn_principal_t *p, dn_action_t act, int64_t school, int64_t class_id,
               int64_t subject, int64_t student);
/**
 * A Range header of a download of size bytes (files_api.c; public for the fuzz
 * harness): 1 with [*start, *end] set for one satisfiable bytes range, 0 when
 * absent or not a single bytes range (serve it all), -1 unsatisfiable (416).
 */
int dn_api_parse_range(const char *h, int64_t size, int64_t *start, int64_t *end);
/** 422 for one field. */
void dn_api_invalid(dn_req_t *req, const char *field, const char *message);
/** Optional string member copied into the pool: 0 ok (*out NULL when absent/null), -1 answered 422. */
int dn_api_opt_string(dn_req_t *req, json_t *body, const char *field, const char **out);

/**
 * Answer a domain result. rc 0: status with *outp (GET 200 goes through the
 * ETag helper, so If-None-Match gives 304); DN_EVALIDATION: 422 with errors;
 * DN_ECONFLICT with errors: 409 with them (conflict_title); otherwise the
 * code's status, with exists_detail for DN_EEXIST. outp is read only after
 * the call's arguments are evaluated, so `dn_api_reply(req, f(&out), 201,
 * &out, ...)` works. Takes ownership of *outp and errors.
 */
void dn_api_reply(dn_req_t *req, int rc, int status, json_t **outp, json_t *errors, const char *conflict_title,
                  const char *exists_detail);

#endif
