/*
 * files.c - rules of uploaded files: type by magic bytes, names and
 * Content-Disposition, quota, attachments, read access, retention and the
 * orphan sweep. See files.h for the blob/row ordering invariant.
 */
#include "domain/files.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "domain/access.h"
#include "domain/journal.h"
#include "domain/works.h"

/* ---- type detection ---- */

static int starts(const unsigned char *d, size_t len, const void *magic, size_t n)
{
    return len >= n && memcmp(d, magic, n) == 0;
}

/* Strict UTF-8 without NUL or control characters other than tab, CR, LF, FF. */
static int utf8_text(const unsigned char *s, size_t len, int allow_ctl_ws)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && !(allow_ctl_ws && (c == '\t' || c == '\n' || c == '\r' || c == '\f')))
                return 0;
            if (c == 0x7f)
                return 0;
            i++;
            continue;
        }
        size_t n;
        unsigned min;
        unsigned cp;
        if ((c & 0xe0) == 0xc0)
            n = 1, min = 0x80, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            n = 2, min = 0x800, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            n = 3, min = 0x10000, cp = c & 0x07;
        else
            return 0;
        if (i + n >= len)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

const char *dn_files_detect_type(const void *data, size_t len)
{
    const unsigned char *d = data;
    if (len == 0)
        return NULL;
    if (starts(d, len, "%PDF-", 5))
        return "application/pdf";
    if (starts(d, len, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (starts(d, len, "\xff\xd8\xff", 3))
        return "image/jpeg";
    if (starts(d, len, "GIF87a", 6) || starts(d, len, "GIF89a", 6))
        return "image/gif";
    if (len >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (starts(d, len, "PK\x03\x04", 4) || starts(d, len, "PK\x05\x06", 4)) {
        /* OpenDocument: the first entry is an uncompressed "mimetype" naming the kind. */
        if (len >= 38 + 39 && memcmp(d + 30, "mimetype", 8) == 0) {
            if (memcmp(d + 38, "application/vnd.oasis.opendocument.text", 39) == 0)
                return "application/vnd.oasis.opendocument.text";
            if (len >= 38 + 46 && memcmp(d + 38, "application/vnd.oasis.opendocument.spreadsheet", 46) == 0)
                return "application/vnd.oasis.opendocument.spreadsheet";
            if (len >= 38 + 47 && memcmp(d + 38, "application/vnd.oasis.opendocument.presentation", 47) == 0)
                return "application/vnd.oasis.opendocument.presentation";
        }
        /* OOXML: entry names are stored in clear in the local headers and the central directory. */
        if (memmem(d, len, "[Content_Types].xml", 19) != NULL) {
            if (memmem(d, len, "word/", 5) != NULL)
                return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
            if (memmem(d, len, "xl/", 3) != NULL)
                return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
            if (memmem(d, len, "ppt/", 4) != NULL)
                return "application/vnd.openxmlformats-officedocument.presentationml.presentation";
        }
        return "application/zip";
    }
    size_t off = starts(d, len, "\xef\xbb\xbf", 3) ? 3 : 0; /* a UTF-8 BOM */
    if (utf8_text(d + off, len - off, 1))
        return "text/plain; charset=utf-8";
    return NULL;
}

int dn_files_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    if (strpbrk(name, "/\\") != NULL)
        return 0;
    return utf8_text((const unsigned char *)name, len, 0);
}

int dn_files_disposition(const char *name, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0, len = strlen(name);
#define PUT(c)                                                                                                        \
    do {                                                                                                              \
        if (n + 1 >= cap)                                                                                             \
            return -1;                                                                                                \
        out[n++] = (char)(c);                                                                                         \
    } while (0)
    const char *pre = "attachment; filename=\"";
    for (const char *p = pre; *p; p++)
        PUT(*p);
    /* the quoted fallback for old clients: ASCII only, no quote or backslash */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 0x80) {
            while (i + 1 < len && ((unsigned char)name[i + 1] & 0xc0) == 0x80)
                i++; /* one '_' per non-ASCII character */
            PUT('_');
        } else {
            PUT(c < 0x20 || c == '"' || c == '\\' || c == 0x7f ? '_' : c);
        }
    }
    const char *mid = "\"; filename*=UTF-8''";
    for (const char *p = mid; *p; p++)
        PUT(*p);
    /* RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else %XX */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c)) {
            PUT(c);
        } else {
            PUT('%');
            PUT(hex[c >> 4]);
            PUT(hex[c & 15]);
        }
    }
#undef PUT
    out[n] = '\0';
    return (int)n;
}

void dn_files_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, data, len);
    sodium_bin2hex(hex, 65, d, sizeof d);
}

int64_t dn_files_day_start(int64_t now_ms)
{
    const int64_t day = 86400000;
    return now_ms - ((now_ms % day) + day) % day;
}

/* ---- rows ---- */

static dn_query_t q_uploaded = {"SELECT COALESCE(SUM(size), 0) FROM files WHERE uploader_id = ? AND created_at >= ?"};
static dn_query_t q_insert = {"INSERT INTO files (uploader_id, sha256, size, content_type, name, created_at) "
                              "VALUES (?, ?, ?, ?, ?, ?) RETURNING id"};
static dn_query_t q_load = {"SELECT id, uploader_id, sha256, size, content_type, name, created_at, "
                            "COALESCE(purged_at, 0) FROM files WHERE id = ?"};

int dn_files_uploaded_since(dn_db_t *db, int64_t user_id, int64_t since_ms, int64_t *bytes)
{
    return dn_db_scalar(db, &q_uploaded, bytes, "ii", user_id, since_ms);
}

int dn_files_record(dn_db_t *db, int64_t uploader_id, const char *sha256, int64_t size, const char *content_type,
                    const char *name, int64_t quota, int64_t *id)
{
    int64_t now = dn_now_ms(), used = 0;
    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    if (quota > 0) {
        if ((rc = dn_files_uploaded_since(db, uploader_id, dn_files_day_start(now), &used)) != 0)
            goto fail;
        if (used + size > quota) {
            rc = DN_ERATELIMIT;
            goto fail;
        }
    }
    rc = dn_db_scalar(db, &q_insert, id, "isissi", uploader_id, sha256, size, content_type, name, now);
    if (rc != 0)
        goto fail;
    return dn_db_commit(db);
fail:
    dn_db_rollback(db);
    return rc;
}

int dn_files_load(dn_db_t *db, int64_t id, dn_file_t *out)
{
    dn_stmt_t *st = dn_db_query(db, &q_load, "i", id);
    if (st == NULL)
        return dn_db_failure(db);
    int rc = dn_stmt_step_one(st);
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        out->id = dn_stmt_int64(st, 0);
        out->uploader_id = dn_stmt_int64(st, 1);
        snprintf(out->sha256, sizeof out->sha256, "%s", dn_stmt_str(st, 2));
        out->size = dn_stmt_int64(st, 3);
        snprintf(out->content_type, sizeof out->content_type, "%s", dn_stmt_str(st, 4));
        snprintf(out->name, sizeof out->name, "%s", dn_stmt_str(st, 5));
        out->created_at = dn_stmt_int64(st, 6);
        out->purged_at = dn_stmt_int64(st, 7);
    }
    dn_stmt_finish(st);
    return rc;
}

json_t *dn_files_json(const dn_file_t *f)
{
    json_t *o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:I, s:I, s:b}", "id", (json_int_t)f->id, "name", f->name, "size",
                          (json_int_t)f->size, "content_type", f->content_type, "sha256", f->sha256, "uploader_id",
                          (json_int_t)f->uploader_id, "created_at", (json_int_t)f->created_at, "purged",
                          f->purged_at != 0);
    if (o != NULL)
        json_object_set_new(o, "purged_at", f->purged_at ? json_integer(f->purged_at) : json_null());
    return o;
}

/* ---- access ---- */

static dn_query_t q_links = {"SELECT COALESCE(work_id, 0), COALESCE(lesson_id, 0) FROM file_links WHERE file_id = ? "
                             "ORDER BY id"};

int dn_files_may_read(dn_db_t *db, const dn_principal_t *p, const dn_file_t *f)
{
    if (p == NULL)
        return DN_EUNAUTH;
    if (p->user_id == f->uploader_id)
        return 0;
    enum { MAXL = 64 };
    int64_t works[MAXL], lessons[MAXL];
    int n = 0;
    dn_stmt_t *st = dn_db_query(db, &q_links, "i", f->id);
    if (st == NULL)
        return dn_db_failure(db);
    int rc;
    while (n < MAXL && (rc = dn_stmt_step(st)) == DN_DB_ROW) {
        works[n] = dn_stmt_int64(st, 0);
        lessons[n] = dn_stmt_int64(st, 1);
        n++;
    }
    dn_stmt_finish(st);
    for (int i = 0; i < n; i++) {
        if (works[i] > 0) {
            dn_work_ctx_t w;
            if (dn_works_load(db, works[i], &w) != 0)
                continue;
            /* the same rule as reading the work itself (works_api) */
            dn_resource_t rs = {.school_id = w.school_id, .student_id = w.student_id};
            dn_resource_t rj = {.school_id = w.school_id, .class_id = w.class_id, .subject_id = w.subject_id};
            if (dn_access_check(db, p, DN_ACT_READ_STUDENT, &rs) == 0 ||
                dn_access_check(db, p, DN_ACT_READ_JOURNAL, &rj) == 0)
                return 0;
        } else if (lessons[i] > 0) {
            dn_lesson_ctx_t l;
            if (dn_journal_lesson_load(db, lessons[i], &l) != 0)
                continue;
            dn_resource_t rc_ = {.school_id = l.school_id, .class_id = l.class_id};
            if (dn_access_check(db, p, DN_ACT_READ_CLASS, &rc_) == 0)
                return 0;
        }
    }
    return DN_EFORBIDDEN;
}

/* ---- attachments ---- */

static dn_query_t q_owned = {"SELECT COUNT(*) FROM files WHERE id = ? AND uploader_id = ? AND purged_at IS NULL"};
static dn_query_t q_link_work = {"INSERT INTO file_links (file_id, work_id, created_at) VALUES (?, ?, ?)"};
static dn_query_t q_link_lesson = {"INSERT INTO file_links (file_id, lesson_id, created_at) VALUES (?, ?, ?)"};
static dn_query_t q_linked_lesson = {"SELECT COUNT(*) FROM file_links WHERE lesson_id = ? AND file_id = ?"};
static dn_query_t q_lesson_files = {"SELECT f.id FROM file_links l JOIN files f ON f.id = l.file_id "
                                    "WHERE l.lesson_id = ? ORDER BY l.id"};

int dn_files_check_refs(dn_db_t *db, int64_t user_id, json_t *refs, int64_t *bad)
{
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r)
    {
        if (!json_is_integer(r))
            continue;
        int64_t n = 0;
        int rc = dn_db_scalar(db, &q_owned, &n, "ii", (int64_t)json_integer_value(r), user_id);
        if (rc != 0)
            return rc;
        if (n == 0) {
            *bad = (int64_t)json_integer_value(r);
            return DN_EVALIDATION;
        }
    }
    return 0;
}

int dn_files_link_work(dn_db_t *db, int64_t work_id, json_t *refs)
{
    size_t i;
    json_t *r;
    int64_t now = dn_now_ms();
    json_array_foreach(refs, i, r)
    {
        if (!json_is_integer(r))
            continue;
        int rc = dn_db_run(db, &q_link_work, "iii", (int64_t)json_integer_value(r), work_id, now);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int dn_files_attach_lesson(dn_db_t *db, int64_t lesson_id, int64_t file_id)
{
    int64_t n = 0;
    int rc = dn_db_begin_write(db);
    if (rc < 0)
        return rc;
    if ((rc = dn_db_scalar(db, &q_linked_lesson, &n, "ii", lesson_id, file_id)) != 0)
        goto fail;
    if (n > 0) {
        rc = DN_EEXIST;
        goto fail;
    }
    if ((rc = dn_db_run(db, &q_link_lesson, "iii", file_id, lesson_id, dn_now_ms())) != 0)
        goto fail;
    return dn_db_commit(db);
fail:
    dn_db_rollback(db);
    return rc;
}

json_t *dn_files_lesson_list(dn_db_t *db, int64_t lesson_id)
{
    enum { MAXF = 200 };
    int64_t ids[MAXF];
    int n = 0, rc;
    dn_stmt_t *st = dn_db_query(db, &q_lesson_files, "i", lesson_id);
    if (st == NULL)
        return NULL;
    while (n < MAXF && (rc = dn_stmt_step(st)) == DN_DB_ROW)
        ids[n++] = dn_stmt_int64(st, 0);
    dn_stmt_finish(st);
    json_t *items = json_array();
    for (int i = 0; items && i < n; i++) {
        dn_file_t f;
        if (dn_files_load(db, ids[i], &f) == 0)
            json_array_append_new(items, dn_files_json(&f));
    }
    return items;
}

/* ---- retention and orphans ---- */

static dn_query_t q_purge_candidates = {"SELECT id, sha256, size, name, created_at FROM files "
                                        "WHERE purged_at IS NULL AND created_at < ? AND id > ? ORDER BY id LIMIT 500"};
static dn_query_t q_mark_purged = {"UPDATE files SET purged_at = ? WHERE id = ? AND purged_at IS NULL"};
static dn_query_t q_live_sha = {"SELECT COUNT(*) FROM files WHERE sha256 = ? AND purged_at IS NULL"};

typedef struct cand {
    int64_t id, size, created_at;
    char sha[65];
    char name[256];
} cand_t;

/* Purge one file: the row first, so from then on no live row points at the
 * blob; then the blob, unless another live row still names the same content.
 * A failed delete leaves an orphan blob for the start-up sweep. */
static int purge_one(dn_db_t *db, dn_blobstore_t *bs, int64_t id, const char *sha)
{
    int64_t live = 0;
    int rc = dn_db_run(db, &q_mark_purged, "ii", dn_now_ms(), id);
    if (rc == 0)
        rc = dn_db_scalar(db, &q_live_sha, &live, "s", sha);
    if (rc == 0 && live == 0)
        rc = bs->ops->del(bs, sha);
    return rc;
}

int dn_files_purge(dn_db_t *db, dn_blobstore_t *bs, int64_t cutoff_ms, int dry_run, FILE *out, int *count)
{
    enum { BATCH = 500 };
    cand_t *c = malloc(sizeof(cand_t) * BATCH);
    int rc = 0, total = 0;
    int64_t last_id = 0;
    if (c == NULL)
        return DN_ENOMEM;
    for (;;) {
        int n = 0;
        dn_stmt_t *st = dn_db_query(db, &q_purge_candidates, "ii", cutoff_ms, last_id);
        if (st == NULL) {
            rc = dn_db_failure(db);
            break;
        }
        while (n < BATCH && (rc = dn_stmt_step(st)) == DN_DB_ROW) {
            c[n].id = dn_stmt_int64(st, 0);
            snprintf(c[n].sha, sizeof c[n].sha, "%s", dn_stmt_str(st, 1));
            c[n].size = dn_stmt_int64(st, 2);
            snprintf(c[n].name, sizeof c[n].name, "%s", dn_stmt_str(st, 3));
            c[n].created_at = dn_stmt_int64(st, 4);
            n++;
        }
        dn_stmt_finish(st);
        if (rc < 0)
            break;
        rc = 0;
        for (int i = 0; i < n; i++) {
            if (out)
                fprintf(out, "%s file %lld (%lld bytes, uploaded %lld): %s\n", dry_run ? "would purge" : "purged",
                        (long long)c[i].id, (long long)c[i].size, (long long)c[i].created_at, c[i].name);
            total++;
            last_id = c[i].id;
            if (!dry_run && (rc = purge_one(db, bs, c[i].id, c[i].sha)) != 0)
                goto done;
        }
        if (n < BATCH)
            break;
    }
done:
    free(c);
    if (count)
        *count = total;
    return rc;
}

/* purge_one for every live file of one uploader (anonymisation). */
static dn_query_t q_uploader_live = {"SELECT id, sha256 FROM files WHERE uploader_id = ? AND purged_at IS NULL "
                                     "AND id > ? ORDER BY id LIMIT 100"};

int dn_files_purge_uploader(dn_db_t *db, dn_blobstore_t *bs, int64_t uploader_id, int *count)
{
    enum { BATCH = 100 };
    struct {
        int64_t id;
        char sha[65];
    } c[BATCH];
    int rc = 0, total = 0;
    int64_t last_id = 0;
    for (;;) {
        int n = 0;
        dn_stmt_t *st = dn_db_query(db, &q_uploader_live, "ii", uploader_id, last_id);
        if (st == NULL) {
            rc = dn_db_failure(db);
            break;
        }
        while (n < BATCH && (rc = dn_stmt_step(st)) == DN_DB_ROW) {
            c[n].id = dn_stmt_int64(st, 0);
            snprintf(c[n].sha, sizeof c[n].sha, "%s", dn_stmt_str(st, 1));
            n++;
        }
        dn_stmt_finish(st);
        if (rc < 0)
            break;
        rc = 0;
        for (int i = 0; i < n; i++) {
            last_id = c[i].id;
            if ((rc = purge_one(db, bs, c[i].id, c[i].sha)) != 0)
                goto done;
            total++;
        }
        if (n < BATCH)
            break;
    }
done:
    if (count)
        *count = total;
    return rc;
}

typedef struct sweep {
    dn_db_t *db;
    dn_blobstore_t *bs;
    int64_t min_age;
    int removed, rc;
} sweep_t;

static int sweep_one(const char *key, int64_t age_s, void *arg)
{
    sweep_t *s = arg;
    if (age_s < s->min_age)
        return 0;
    int64_t live = 0;
    if ((s->rc = dn_db_scalar(s->db, &q_live_sha, &live, "s", key)) != 0)
        return 1;
    if (live == 0) {
        if ((s->rc = s->bs->ops->del(s->bs, key)) != 0)
            return 1;
        s->removed++;
    }
    return 0;
}

int dn_files_clean_orphans(dn_db_t *db, dn_blobstore_t *bs, int64_t min_age_s, int *removed)
{
    sweep_t s = {.db = db, .bs = bs, .min_age = min_age_s};
    int tmp = bs->ops->clean_tmp(bs);
    int rc = bs->ops->list(bs, sweep_one, &s);
    if (removed)
        *removed = s.removed + (tmp > 0 ? tmp : 0);
    return rc != 0 ? rc : s.rc;
}
