/*
 * files.h - the rules of uploaded files: what a file is (type by its magic
 * bytes, never by its name), the daily quota, who may read it, what it is
 * attached to, and which files retention purges.
 *
 * Invariant: a files row with purged_at NULL always has its blob (key =
 * sha256) in the blob store: the API writes the blob durably first and
 * records the row after; purge marks the row first and deletes the blob
 * after; the orphan sweep deletes only blobs no live row names.
 */
#ifndef DN_DOMAIN_FILES_H
#define DN_DOMAIN_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "auth/principal.h"
#include "files/files.h"
#include "store/db.h"

typedef struct dn_file {
    int64_t id, uploader_id, size, created_at, purged_at; /* purged_at 0 = live */
    char sha256[65];
    char content_type[96];
    char name[512];
} dn_file_t;

/**
 * The content type of data by its leading bytes: PDF, PNG, JPEG, GIF, WebP,
 * DOCX/XLSX/PPTX (OOXML zips), ODT/ODS/ODP, other ZIP, UTF-8 plain text.
 * NULL when it is none of those (the API answers 415).
 */
const char *dn_files_detect_type(const void *data, size_t len);

/** A file name: 1..255 bytes of valid UTF-8, no control characters, no '/' or '\\'. */
int dn_files_name_valid(const char *name);

/**
 * Content-Disposition value keeping non-ASCII names (RFC 6266 / RFC 5987):
 * attachment; filename="ASCII fallback"; filename*=UTF-8''percent-encoded.
 * Returns the length, or -1 when cap is too small.
 */
int dn_files_disposition(const char *name, char *out, size_t cap);

/** Lowercase hex SHA-256 of data into hex[65]. */
void dn_files_sha256_hex(const void *data, size_t len, char hex[65]);

/** Bytes uploaded by user since since_ms (purged files count: the quota is about uploads). */
int dn_files_uploaded_since(dn_db_t *db, int64_t user_id, int64_t since_ms, int64_t *bytes);

/** Start of the current UTC day in ms, the quota window. */
int64_t dn_files_day_start(int64_t now_ms);

/**
 * Record an uploaded file whose blob is already durable. quota > 0: the
 * user's bytes of the day plus size must fit, checked in the same write
 * transaction as the insert (DN_ERATELIMIT otherwise).
 */
int dn_files_record(dn_db_t *db, int64_t uploader_id, const char *sha256, int64_t size, const char *content_type,
                    const char *name, int64_t quota, int64_t *id);

/** Load a file row: 0 or DN_ENOTFOUND. */
int dn_files_load(dn_db_t *db, int64_t id, dn_file_t *out);
/** {id, name, size, content_type, sha256, created_at, purged, purged_at}. */
json_t *dn_files_json(const dn_file_t *f);

/**
 * May p read (download) file f: its uploader; whoever may read a work it is
 * attached to (the student, their parents, the class teacher, teachers of the
 * class and subject, admins); whoever may read the class of a lesson it is
 * attached to. Decided with dn_access_check. 0, DN_EFORBIDDEN or a store code.
 */
int dn_files_may_read(dn_db_t *db, const dn_principal_t *p, const dn_file_t *f);

/**
 * Check file references of a work submission: every integer element of refs
 * must be a live file uploaded by user. Strings are free-form references
 * and are left alone. 0, or DN_EVALIDATION with *bad the offending id.
 */
int dn_files_check_refs(dn_db_t *db, int64_t user_id, json_t *refs, int64_t *bad);
/** Link the integer file ids of refs to work_id; call inside the caller's write transaction. */
int dn_files_link_work(dn_db_t *db, int64_t work_id, json_t *refs);

/** Attach a file to a lesson (own transaction): DN_EEXIST when already attached. */
int dn_files_attach_lesson(dn_db_t *db, int64_t lesson_id, int64_t file_id);
/** Files attached to a lesson, oldest first: JSON array of dn_files_json objects. */
json_t *dn_files_lesson_list(dn_db_t *db, int64_t lesson_id);

/**
 * Retention: files created before cutoff_ms and not yet purged. Unless
 * dry_run, each is marked purged (its row and links stay, so works keep
 * the metadata) and its blob deleted once no live row uses it. Every file is
 * listed on out (may be NULL). *count = files affected.
 */
int dn_files_purge(dn_db_t *db, dn_blobstore_t *bs, int64_t cutoff_ms, int dry_run, FILE *out, int *count);

/**
 * Purge every live file uploaded by uploader_id (anonymisation, 152-FZ):
 * the same steps as dn_files_purge - each row marked purged first (metadata
 * and links stay), then its blob deleted once no live row uses it. Runs its
 * own statements: call it outside a transaction. *count = files purged now
 * (may be NULL); a second call finds nothing and returns 0 with *count 0.
 */
int dn_files_purge_uploader(dn_db_t *db, dn_blobstore_t *bs, int64_t uploader_id, int *count);

/**
 * Remove temp files of interrupted uploads and blobs that no live row names
 * and that are at least min_age_s old (0 at start-up of a single node; an
 * hour when servers may be uploading meanwhile). *removed may be NULL.
 */
int dn_files_clean_orphans(dn_db_t *db, dn_blobstore_t *bs, int64_t min_age_s, int *removed);

#endif
