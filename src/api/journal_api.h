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

#include "api/common.h"
#include "auth/auth.h"
#include "domain/access.h"
#include "domain/journal.h"
#include "http/request.h"

/** Answer a domain error: 422 with the failing field, 409 with its message, or the code's status. */
void dn_japi_fail(dn_req_t *req, int rc, const dn_jfail_t *fail, const char *what);

#endif
