/*
 * files.h - the blob store: where uploaded file contents live.
 *
 * Store-agnostic: a blob is bytes under a key (the hex SHA-256 of its
 * content, so identical content is stored once and a key always names the
 * same bytes). Backends: the local disk (embedded default, durable: temp
 * file + fsync + rename + directory fsync) and S3-compatible object storage
 * (AWS SigV4 through libcurl). Every call blocks: run them on a worker.
 * put() returns only once the blob is durable, so a database row that
 * points at a key may be committed right after it.
 */
#ifndef DN_FILES_FILES_H
#define DN_FILES_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

typedef struct dn_blobstore dn_blobstore_t;

/** Called by list() for every stored key with its age in seconds; return non-zero to stop. */
typedef int (*dn_blob_visit_fn)(const char *key, int64_t age_s, void *arg);

typedef struct dn_blobstore_ops {
    /** Store len bytes under key, durably. DN_EUNAVAIL on a backend outage (retry later). */
    int (*put)(dn_blobstore_t *bs, const char *key, const void *data, size_t len);
    /** Read len bytes from offset into buf (the caller checked the range against the size). */
    int (*get)(dn_blobstore_t *bs, const char *key, uint64_t offset, size_t len, void *buf);
    /** Remove; a missing key is not an error. */
    int (*del)(dn_blobstore_t *bs, const char *key);
    /** 1 when present, 0 when not, negative on error. */
    int (*exists)(dn_blobstore_t *bs, const char *key);
    /** Visit every key (for orphan clean-up). */
    int (*list)(dn_blobstore_t *bs, dn_blob_visit_fn fn, void *arg);
    /** Remove leftovers of interrupted puts (temp files); returns how many. */
    int (*clean_tmp)(dn_blobstore_t *bs);
    void (*close)(dn_blobstore_t *bs);
} dn_blobstore_ops_t;

struct dn_blobstore {
    const dn_blobstore_ops_t *ops;
    const char *kind; /* "local" or "s3" */
};

/** Open the backend cfg->files_backend names. NULL with a message in err. */
dn_blobstore_t *dn_blobstore_open(const dn_config_t *cfg, char *err, size_t errlen);
dn_blobstore_t *dn_blob_local_open(const char *dir, char *err, size_t errlen);
/** S3: credentials come from DNEVNIK_S3_ACCESS_KEY / DNEVNIK_S3_SECRET_KEY only. */
dn_blobstore_t *dn_blob_s3_open(const char *endpoint, const char *bucket, const char *region, char *err,
                                size_t errlen);
void dn_blobstore_close(dn_blobstore_t *bs);

/** A key is exactly 64 lowercase hex digits (keeps keys out of path tricks). */
int dn_blob_key_valid(const char *key);

/* Local-backend helpers, exposed for unit tests. */
/** Write data to dir/name via a temp file in tmpdir (same filesystem): write, fsync, rename, fsync dir. */
int dn_blob_local_write_durable(const char *tmpdir, const char *dir, const char *name, const void *data, size_t len);

#endif
