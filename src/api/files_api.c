/*
 * files_api.c - uploads and downloads of files, and lesson attachments.
 *
 * POST /api/v1/files?name=NAME takes the raw file as the body. Its route
 * limit is --file-max-size, so h2o refuses a larger Content-Length with 413
 * before reading the body. h2o 2.2.5 buffers a whole body before any handler
 * runs; the route's max_inflight (--upload-concurrency) makes the server
 * answer 503 + Retry-After, before copying the body for a handler, when that
 * many uploads are already queued or running, so at most that many 20 MB
 * copies exist at once (h2o's own receive buffers are per connection).
 * Order of an upload: validate (empty 422, name 422, type by magic bytes
 * 415, students' daily quota 429) -> blob put (durable on return) -> files row committed.
 * Downloads carry the stored type, an RFC 6266/5987 Content-Disposition, a
 * strong ETag (the SHA-256) and honour single byte ranges.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/common.h"
#include "api/etag.h"
#include "api/journal_api.h"
#include "core/date.h"
#include "core/error.h"
#include "domain/files.h"
#include "domain/journal.h"

static dn_blobstore_t *store; /* opened at registration, lives as long as the process */

static void unavailable(dn_req_t *req, const char *detail)
{
    dn_res_header(req, "retry-after", "2");
    dn_res_problem(req, 503, NULL, detail);
}

static void file_upload(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return;
    const char *name = dn_req_query(req, "name");
    if (name == NULL || !dn_files_name_valid(name)) {
        dn_api_invalid(req, "name", "?name= must be a file name of 1..255 bytes of UTF-8 without '/' or control characters");
        return;
    }
    if (req->body.base == NULL || req->body.len == 0) {
        dn_api_invalid(req, "body", "the file is empty");
        return;
    }
    const char *type = dn_files_detect_type(req->body.base, req->body.len);
    if (type == NULL) {
        dn_res_problem(req, 415, NULL,
                       "allowed files: PDF, PNG/JPEG/GIF/WebP images, DOCX/XLSX/PPTX, ODT/ODS/ODP, ZIP, UTF-8 text");
        return;
    }
    /* the daily quota is the students' (issue 5): staff upload lesson materials */
    int student = 0;
    for (int i = 0; i < p->nroles; i++)
        student |= p->roles[i].role == DN_ROLE_STUDENT;
    int64_t quota = student ? (int64_t)req->app->config.upload_quota : 0, used = 0;
    if (quota > 0) {
        int rc = dn_files_uploaded_since(req->db, p->user_id, dn_files_day_start(dn_now_ms()), &used);
        if (rc != 0) {
            dn_res_error(req, rc, NULL);
            return;
        }
        if (used + (int64_t)req->body.len > quota) {
            dn_res_header(req, "retry-after", "3600");
            dn_res_problem(req, 429, NULL, "the daily upload quota is used up");
            return;
        }
    }
    char sha[65];
    dn_files_sha256_hex(req->body.base, req->body.len, sha);
    int rc = store->ops->put(store, sha, req->body.base, req->body.len);
    if (rc != 0) {
        unavailable(req, "the file store is unavailable; nothing was recorded, retry later");
        return;
    }
    int64_t id = 0;
    rc = dn_files_record(req->db, p->user_id, sha, (int64_t)req->body.len, type, name, quota, &id);
    if (rc == DN_ERATELIMIT) {
        /* the blob stays as an orphan only if no other row uses it; the sweep handles it */
        dn_res_header(req, "retry-after", "3600");
        dn_res_problem(req, 429, NULL, "the daily upload quota is used up");
        return;
    }
    if (rc != 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    dn_file_t f;
    if ((rc = dn_files_load(req->db, id, &f)) != 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    char loc[64];
    snprintf(loc, sizeof loc, "/api/v1/files/%" PRId64, id);
    dn_res_header(req, "location", loc);
    dn_res_json(req, 201, dn_files_json(&f));
}

/* The file of the path, readable by the caller: 0, or answered. */
static int readable_file(dn_req_t *req, dn_file_t *f)
{
    const dn_principal_t *p = dn_auth_require(req);
    if (p == NULL)
        return -1;
    int64_t id = dn_api_path_id(req, "file_id");
    if (id == 0)
        return -1;
    int rc = dn_files_load(req->db, id, f);
    if (rc == 0)
        rc = dn_files_may_read(req->db, p, f);
    if (rc != 0) {
        dn_res_error(req, rc, rc == DN_ENOTFOUND ? "no such file" : NULL);
        return -1;
    }
    return 0;
}

/*
 * One byte range of size bytes: 1 with [*start, *end] set, 0 when the header
 * is absent or not a single bytes range (serve it all), -1 unsatisfiable.
 */
int dn_api_parse_range(const char *h, int64_t size, int64_t *start, int64_t *end)
{
    if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
        return 0;
    const char *s = h + 6;
    char *e;
    if (*s == '-') {
        long long n = strtoll(s + 1, &e, 10);
        if (e == s + 1 || *e || n < 0)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *start = n >= size ? 0 : size - n;
        *end = size - 1;
        return 1;
    }
    if (*s < '0' || *s > '9')
        return 0;
    long long a = strtoll(s, &e, 10), b;
    if (*e != '-')
        return 0;
    s = e + 1;
    if (*s == '\0') {
        b = size - 1;
    } else {
        if (*s < '0' || *s > '9')
            return 0;
        b = strtoll(s, &e, 10);
        if (*e)
            return 0;
        if (b < a)
            return 0; /* syntactically invalid: ignore the header */
    }
    if (a >= size)
        return -1;
    if (b >= size)
        b = size - 1;
    *start = a;
    *end = b;
    return 1;
}

static void file_download(dn_req_t *req)
{
    dn_file_t f;
    if (readable_file(req, &f) != 0)
        return;
    if (f.purged_at != 0) {
        dn_res_problem(req, 410, NULL, "the file was deleted by the retention policy; its record is kept");
        return;
    }
    char etag[70], disp[2048], buf[96];
    snprintf(etag, sizeof etag, "\"%s\"", f.sha256);
    if (dn_files_disposition(f.name, disp, sizeof disp) < 0)
        snprintf(disp, sizeof disp, "attachment");
    dn_res_header(req, "etag", etag);
    dn_res_header(req, "accept-ranges", "bytes");
    dn_res_header(req, "cache-control", "private, no-cache");
    if (req->if_none_match != NULL && dn_etag_matches(req->if_none_match, etag)) {
        dn_res_body(req, 304, NULL, NULL, 0);
        return;
    }
    int64_t start = 0, end = f.size - 1;
    int r = dn_api_parse_range(req->range, f.size, &start, &end);
    if (r < 0) {
        snprintf(buf, sizeof buf, "bytes */%" PRId64, f.size);
        dn_res_header(req, "content-range", buf);
        dn_res_problem(req, 416, NULL, "the range is outside the file");
        return;
    }
    size_t len = (size_t)(end - start + 1);
    char *data = h2o_mem_alloc_pool(&req->pool, len ? len : 1);
    int rc = store->ops->get(store, f.sha256, (uint64_t)start, len, data);
    if (rc == DN_EUNAVAIL) {
        unavailable(req, "the file store is unavailable; retry later");
        return;
    }
    if (rc != 0) {
        dn_res_error(req, rc == DN_ENOTFOUND ? DN_EIO : rc, "the stored file cannot be read");
        return;
    }
    dn_res_header(req, "content-disposition", disp);
    if (r == 1) {
        snprintf(buf, sizeof buf, "bytes %" PRId64 "-%" PRId64 "/%" PRId64, start, end, f.size);
        dn_res_header(req, "content-range", buf);
    }
    dn_res_body(req, r == 1 ? 206 : 200, dn_req_strdup(req, f.content_type, strlen(f.content_type)), data, len);
}

static void file_meta(dn_req_t *req)
{
    dn_file_t f;
    if (readable_file(req, &f) != 0)
        return;
    dn_res_json(req, 200, dn_files_json(&f));
}

/* The lesson of the path: 0, or answered. */
static int lesson_of(dn_req_t *req, dn_lesson_ctx_t *l)
{
    int64_t id = dn_api_path_id(req, "lesson_id");
    if (id == 0)
        return -1;
    int rc = dn_journal_lesson_load(req->db, id, l);
    if (rc != 0) {
        dn_res_error(req, rc, rc == DN_ENOTFOUND ? "no such lesson" : NULL);
        return -1;
    }
    return 0;
}

static void lesson_attach(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_lesson_ctx_t l;
    if (p == NULL || lesson_of(req, &l) != 0)
        return;
    if (dn_api_allow(req, p, DN_ACT_WRITE_JOURNAL, l.school_id, l.class_id, l.subject_id, 0) != 0)
        return;
    json_t *body = dn_req_json_body(req);
    if (body == NULL)
        return;
    json_t *fid = json_object_get(body, "file_id");
    int64_t file_id = json_is_integer(fid) ? (int64_t)json_integer_value(fid) : 0;
    json_decref(body);
    json_t *one = json_pack("[I]", (json_int_t)file_id);
    int64_t bad = 0;
    int rc = file_id > 0 ? dn_files_check_refs(req->db, p->user_id, one, &bad) : DN_EVALIDATION;
    json_decref(one);
    if (rc == DN_EVALIDATION) {
        dn_api_invalid(req, "file_id", "must be the id of a file you uploaded (and not purged)");
        return;
    }
    if (rc == 0)
        rc = dn_files_attach_lesson(req->db, l.id, file_id);
    if (rc == DN_EEXIST) {
        dn_res_problem(req, 409, NULL, "the file is already attached to this lesson");
        return;
    }
    dn_file_t f;
    if (rc == 0)
        rc = dn_files_load(req->db, file_id, &f);
    if (rc != 0) {
        dn_res_error(req, rc, NULL);
        return;
    }
    dn_res_json(req, 201, dn_files_json(&f));
}

static void lesson_attachments(dn_req_t *req)
{
    const dn_principal_t *p = dn_auth_require(req);
    dn_lesson_ctx_t l;
    if (p == NULL || lesson_of(req, &l) != 0)
        return;
    if (!dn_api_can(req, p, DN_ACT_READ_JOURNAL, l.school_id, l.class_id, l.subject_id, 0) &&
        dn_api_allow(req, p, DN_ACT_READ_CLASS, l.school_id, l.class_id, 0, 0) != 0)
        return;
    json_t *items = dn_files_lesson_list(req->db, l.id);
    if (items == NULL)
        dn_res_error(req, DN_EDB, NULL);
    else
        dn_res_json_etag(req, json_pack("{s:o}", "items", items));
}

int dn_api_register_files(dn_app_t *app)
{
    char err[512] = "";
    if (store == NULL && (store = dn_blobstore_open(&app->config, err, sizeof err)) == NULL) {
        fprintf(stderr, "dnevnik: file store: %s\n", err);
        return DN_EINVAL;
    }
    const dn_route_t routes[] = {
        {DN_POST, "/api/v1/files", file_upload, DN_RUN_WORKER, app->config.file_max_size, NULL, 0,
         app->config.upload_concurrency},
        {DN_GET, "/api/v1/files/{file_id}", file_download, DN_RUN_WORKER, 0, NULL, 0},
        {DN_GET, "/api/v1/files/{file_id}/meta", file_meta, DN_RUN_WORKER, 0, NULL, 0},
        {DN_POST, "/api/v1/lessons/{lesson_id}/attachments", lesson_attach, DN_RUN_WORKER, 0, NULL, 0},
        {DN_GET, "/api/v1/lessons/{lesson_id}/attachments", lesson_attachments, DN_RUN_WORKER, 0, NULL, 0},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = dn_router_add(app->router, &routes[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
