/*
 * privacy_api.c - 152-FZ personal data over HTTP (docs/privacy.md):
 *   GET  /api/v1/users/{user_id}/personal-data  everything held about a person
 *   POST /api/v1/users/{user_id}/anonymise      {"left_on"?: "YYYY-MM-DD"}
 * Order of both: path id (404 when malformed) -> token (401) -> the person
 * exists (404) -> dn_access_check EXPORT_PERSON / ANONYMISE_PERSON (403) ->
 * input (400/422) -> domain. The export is never cached by clients
 * (Cache-Control: no-store): it is a copy of a person's whole file.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "core/date.h"
#include "core/error.h"
#include "domain/privacy.h"

static dn_blobstore_t *store; /* opened at registration, lives as long as the process */

/* Token, existence and access for the person in the path: the principal, or NULL after answering. */
static const dn_principal_t *person_allowed(dn_req_t *req, dn_action_t act, int64_t *user_id)
{
    int64_t uid = dn_api_path_id(req, "user_id");
    if (uid == 0)
        return NULL;
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return NULL;
    int rc = dn_privacy_user_exists(req->db, uid);
    if (rc != 0) {
        dn_res_error(req, rc, rc == DN_ENOTFOUND ? "no such user" : NULL);
        return NULL;
    }
    dn_resource_t res = {.user_id = uid};
    rc = dn_access_check(req->db, p, act, &res);
    if (rc != 0) {
        dn_res_error(req, rc, rc == DN_EFORBIDDEN ? "you may not do this for this person" : NULL);
        return NULL;
    }
    *user_id = uid;
    return p;
}

static void personal_data(dn_req_t *req)
{
    int64_t uid = 0;
    if (person_allowed(req, DN_ACT_EXPORT_PERSON, &uid) == NULL)
        return;
    json_t *doc = NULL;
    int rc = dn_privacy_export(req->db, uid, &doc);
    if (rc != 0) {
        dn_api_reply(req, rc, 200, NULL, NULL, NULL, NULL);
        return;
    }
    dn_res_header(req, "cache-control", "no-store");
    dn_res_json(req, 200, doc);
}

static void anonymise(dn_req_t *req)
{
    int64_t uid = 0;
    const dn_principal_t *p = person_allowed(req, DN_ACT_ANONYMISE_PERSON, &uid);
    if (p == NULL)
        return;
    const char *left_on = NULL;
    if (req->body.base != NULL && req->body.len > 0) {
        json_t *body = dn_req_json_body(req);
        if (body == NULL)
            return;
        json_t *v = json_object_get(body, "left_on");
        if (v != NULL && !json_is_null(v)) {
            if (!json_is_string(v) || !dn_date_valid(json_string_value(v))) {
                json_decref(body);
                dn_api_invalid(req, "left_on", "must be a date YYYY-MM-DD (the day the student left)");
                return;
            }
            left_on = dn_req_strdup(req, json_string_value(v), json_string_length(v));
        }
        json_decref(body);
    }
    json_t *errors = json_array(), *out = NULL;
    int rc = dn_privacy_anonymise(req->db, store, uid, p->user_id, left_on, errors, &out);
    dn_api_reply(req, rc, 200, &out, errors, "the person cannot be anonymised in this state", NULL);
}

int dn_api_register_privacy(dn_app_t *app)
{
    char err[512] = "";
    if (store == NULL && (store = dn_blobstore_open(&app->config, err, sizeof err)) == NULL) {
        fprintf(stderr, "dnevnik: file store (privacy): %s\n", err);
        return DN_EINVAL;
    }
    const dn_route_t routes[] = {
        {DN_GET, "/api/v1/users/{user_id}/personal-data", personal_data, DN_RUN_WORKER},
        {DN_POST, "/api/v1/users/{user_id}/anonymise", anonymise, DN_RUN_WORKER, 16 * 1024},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = dn_router_add(app->router, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
