/*
 * request.c - request accessors and response builders for handlers.
 *
 * Everything lives in req->pool. Responses are stored in the dn_req_t and
 * turned into an h2o response by the glue (server.c) on the loop thread, so
 * these functions are safe to call from worker threads.
 */
#include "http/request.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

const char *dn_req_param(const dn_req_t *req, const char *name)
{
    for (int i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode a query component ('+' is a space); a bad escape is kept literally. */
static char *decode_component(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    char *out = h2o_mem_alloc_pool(pool, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0 &&
                   (hi | lo) != 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

const char *dn_req_query(dn_req_t *req, const char *name)
{
    size_t name_len = strlen(name);
    const char *p = req->query;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t key_len = eq ? (size_t)(eq - p) : len;
        if (key_len == name_len && memcmp(p, name, name_len) == 0) {
            if (eq == NULL)
                return "";
            return decode_component(&req->pool, eq + 1, len - key_len - 1);
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

char *dn_req_strdup(dn_req_t *req, const char *s, size_t len)
{
    char *out = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

json_t *dn_req_json_body(dn_req_t *req)
{
    json_error_t jerr;
    json_t *root;
    if (req->content_type != NULL && strncasecmp(req->content_type, "application/json", 16) != 0) {
        dn_res_problem(req, 415, NULL, "the request body must be application/json");
        return NULL;
    }
    if (req->body.base == NULL || req->body.len == 0) {
        dn_res_problem(req, 400, NULL, "a JSON object is required in the request body");
        return NULL;
    }
    root = json_loadb(req->body.base, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char detail[256];
        snprintf(detail, sizeof(detail), "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        dn_res_problem(req, 400, NULL, detail);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        dn_res_problem(req, 400, NULL, "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

void dn_res_header(dn_req_t *req, const char *name, const char *value)
{
    if (req->nres_headers == DN_MAX_RES_HEADERS)
        return;
    size_t vlen = strlen(value);
    dn_header_t *h = &req->res_headers[req->nres_headers++];
    h->name = dn_req_strdup(req, name, strlen(name));
    h->value = dn_req_strdup(req, value, vlen);
    h->value_len = vlen;
}

void dn_res_body(dn_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    req->status = status;
    req->res_content_type = content_type;
    req->res_body.base = body;
    req->res_body.len = len;
}

void dn_res_json(dn_req_t *req, int status, json_t *body)
{
    if (body == NULL) {
        dn_res_body(req, status, NULL, NULL, 0);
        return;
    }
    /* 15 significant digits: 3.67 prints as 3.67, not 3.6699999999999999 */
    size_t len = json_dumpb(body, NULL, 0, JSON_COMPACT | JSON_REAL_PRECISION(15));
    char *buf = h2o_mem_alloc_pool(&req->pool, len + 1);
    json_dumpb(body, buf, len, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(body);
    dn_res_body(req, status, "application/json; charset=utf-8", buf, len);
}

const char *dn_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    }
    return "Unknown";
}

static json_t *problem_object(int status, const char *title, const char *detail)
{
    json_t *p = json_object();
    json_object_set_new(p, "type", json_string(status == 422 ? "/problems/validation-error" : "about:blank"));
    json_object_set_new(p, "title", json_string(title != NULL ? title : dn_http_reason(status)));
    json_object_set_new(p, "status", json_integer(status));
    if (detail != NULL)
        json_object_set_new(p, "detail", json_string(detail));
    return p;
}

static void respond_problem(dn_req_t *req, int status, json_t *p)
{
    dn_res_json(req, status, p);
    req->res_content_type = "application/problem+json; charset=utf-8";
}

void dn_res_problem(dn_req_t *req, int status, const char *title, const char *detail)
{
    respond_problem(req, status, problem_object(status, title, detail));
}

void dn_res_problem_fields(dn_req_t *req, int status, const char *detail, json_t *errors)
{
    json_t *p = problem_object(status, NULL, detail);
    json_object_set_new(p, "errors", errors != NULL ? errors : json_array());
    respond_problem(req, status, p);
}

void dn_res_error(dn_req_t *req, int err, const char *detail)
{
    int status = dn_error_http_status(err);
    dn_res_problem(req, status, NULL, detail != NULL ? detail : dn_strerror(err));
}
