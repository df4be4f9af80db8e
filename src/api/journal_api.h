/*
 * journal_api.h - small HTTP helpers shared by the journal, diary and works
 * route files (all owned by the journal area): path ids, access checks that
 * answer the request on refusal, and mapping of domain failures to problems.
 * Each helper that returns non-zero has already set the response.
 */
#ifndef DN_API_JOURNAL_API_H
#define DN_API_JOURNAL_API_H

#include <stdint.h>
#include <jansson.h>

#include "auth/auth.h"
#include "domain/access.h"
#include "domain/journal.h"
#include "http/request.h"

/** Positive integer path parameter; 0 after answering 404 when malformed. */
int64_t dn_japi_path_id(dn_req_t *req, const char *name);
/** Optional positive integer query parameter: 0 ok (*out 0 when absent), -1 answered 422. */
int dn_japi_query_id(dn_req_t *req, const char *name, int64_t *out);
/** Optional date query parameter: 0 ok (*out NULL when absent), -1 answered 422. */
int dn_japi_query_date(dn_req_t *req, const char *name, const char **out);
/** dn_access_check; on refusal answers 401/403 (or 5xx) and returns non-zero. */
int dn_japi_allow(dn_req_t *req, const dn_principal_t *p, dn_action_t act, int64_t school, int64_t class_id,
                  int64_t subject, int64_t student);
/** Quiet check: 1 when allowed, 0 when not (store errors count as not). */
int dn_japi_can(dn_req_t *req, const dn_principal_t *p, dn_action_t act, int64_t school, int64_t class_id,
                int64_t subject, int64_t student);
/** Answer a domain error: 422 with the failing field, 409 with its message, or the code's status. */
void dn_japi_fail(dn_req_t *req, int rc, const dn_jfail_t *fail, const char *what);
/** 422 for one field. */
void dn_japi_invalid(dn_req_t *req, const char *field, const char *message);
/** Optional string member: 0 ok (*out NULL when absent/null), -1 answered 422. */
int dn_japi_opt_string(dn_req_t *req, json_t *body, const char *field, const char **out);

#endif
