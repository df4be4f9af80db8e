/*
 * backup.c - online backup and restore of the embedded deployment (see backup.h).
 *
 * The order is what makes it consistent: snapshot the store first (one
 * commit's state), then copy exactly the blobs that snapshot's live files
 * rows name. Every blob is read whole (uploads are bounded by
 * --file-max-size), checked against its SHA-256 key and written durably
 * through the blob store interface, so this file never knows where a blob
 * lives. Restore verifies everything before it touches the target, then
 * writes blobs before the database, so the restored store never names a
 * blob it does not have.
 */
#include "domain/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <libgen.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/date.h"
#include "core/error.h"
#include "domain/files.h"
#include "files/files.h"
#include "store/backup.h"
#include "store/db.h"
#include "store/migrate.h"

#define FORMAT "dnevnik-backup"
#define FORMAT_VERSION 1
#define DB_NAME "dnevnik.db"

/* Tables counted into the manifest: what an operator checks after a restore. */
static dn_query_t q_counts[] = {
    {"SELECT COUNT(*) FROM schools"},   {"SELECT COUNT(*) FROM users"},      {"SELECT COUNT(*) FROM classes"},
    {"SELECT COUNT(*) FROM lessons"},   {"SELECT COUNT(*) FROM marks"},      {"SELECT COUNT(*) FROM attendance"},
    {"SELECT COUNT(*) FROM term_marks"}, {"SELECT COUNT(*) FROM works"},     {"SELECT COUNT(*) FROM files"},
    {"SELECT COUNT(*) FROM audit_log"},
};
static const char *const count_names[] = {"schools", "users",      "classes", "lessons", "marks",
                                          "attendance", "term_marks", "works",   "files",   "audit_log"};

/* A database of an older schema (before 0006_files) has no files to copy; the backup keeps its schema. */
static dn_query_t q_has_table = {"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"};
static dn_query_t q_live_blobs = {"SELECT sha256, MAX(size) FROM files WHERE purged_at IS NULL GROUP BY sha256 "
                                  "ORDER BY sha256"};
static dn_query_t q_live_sha = {"SELECT COUNT(*) FROM files WHERE sha256 = ? AND purged_at IS NULL"};
static dn_query_t q_mark_purged = {"UPDATE files SET purged_at = ? WHERE sha256 = ? AND purged_at IS NULL"};

static double since(uint64_t t0)
{
    return (double)(dn_now_mono_ns() - t0) / 1e9;
}

/* Lowercase hex SHA-256 of a file's whole content and its size. */
static int file_sha256(const char *path, char hex[65], int64_t *size)
{
    crypto_hash_sha256_state s;
    unsigned char d[crypto_hash_sha256_BYTES];
    static const char digits[] = "0123456789abcdef";
    char buf[1 << 16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return DN_EIO;
    crypto_hash_sha256_init(&s);
    *size = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return DN_EIO;
        }
        if (n == 0)
            break;
        crypto_hash_sha256_update(&s, (const unsigned char *)buf, (unsigned long long)n);
        *size += n;
    }
    close(fd);
    crypto_hash_sha256_final(&s, d);
    for (size_t i = 0; i < sizeof d; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return DN_EIO;
    int rc = fsync(fd) == 0 ? 0 : DN_EIO;
    close(fd);
    return rc;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Remove a partial backup directory (ours: OUT.partial-PID), deepest entries first. */
static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Read the whole blob key (size bytes) from bs, check its SHA-256: 0, DN_ENOTFOUND, DN_EIO. */
static int read_blob(dn_blobstore_t *bs, const char *key, int64_t size, unsigned char **out, char *err,
                     size_t errlen)
{
    char hex[65];
    unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
    *out = NULL;
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory for file %s (%lld bytes)", key, (long long)size);
        return DN_ENOMEM;
    }
    int rc = size > 0 ? bs->ops->get(bs, key, 0, (size_t)size, buf) : (bs->ops->exists(bs, key) == 1 ? 0 : DN_ENOTFOUND);
    if (rc != 0) {
        free(buf);
        if (rc != DN_ENOTFOUND)
            snprintf(err, errlen, "cannot read file %s: %s", key, dn_strerror(rc));
        return rc;
    }
    dn_files_sha256_hex(buf, (size_t)size, hex);
    if (strcmp(hex, key) != 0) {
        free(buf);
        snprintf(err, errlen, "file %s is damaged: its content hashes to %s", key, hex);
        return DN_EIO;
    }
    *out = buf;
    return 0;
}

static int write_manifest(const char *dir, json_t *m, char *err, size_t errlen)
{
    char tmp[1200], path[1200];
    snprintf(tmp, sizeof tmp, "%s/manifest.json.tmp", dir);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if (json_dump_file(m, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        snprintf(err, errlen, "cannot write %s", tmp);
        return DN_EIO;
    }
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : DN_EIO;
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = DN_EIO;
    if (rc != 0)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return rc;
}

/* Copy the blobs the snapshot names; rows whose blob a purge removed meanwhile are marked purged in the copy. */
static int copy_blobs(const dn_config_t *cfg, dn_db_t *snap, const char *files_dir, json_t *list,
                      dn_backup_report_t *rep, char *err, size_t errlen)
{
    dn_blobstore_t *src = NULL, *dst = NULL;
    dn_db_t *live = NULL;
    int64_t n = 0, cap = 256;
    struct blob {
        char key[65];
        int64_t size;
    } *blobs = malloc((size_t)cap * sizeof *blobs);
    int64_t has_files = 0;
    int rc = 0;
    if (blobs == NULL)
        return DN_ENOMEM;
    if ((rc = dn_db_scalar(snap, &q_has_table, &has_files, "s", "files")) != 0) {
        snprintf(err, errlen, "cannot read the schema: %s", dn_db_errmsg(snap));
        goto done;
    }
    dn_stmt_t *st = has_files ? dn_db_query(snap, &q_live_blobs, "") : NULL;
    if (has_files && st == NULL) {
        snprintf(err, errlen, "cannot list files: %s", dn_db_errmsg(snap));
        rc = DN_EDB;
        goto done;
    }
    while (st != NULL && (rc = dn_stmt_step(st)) == DN_DB_ROW) {
        if (n == cap) {
            void *p = realloc(blobs, (size_t)(cap *= 2) * sizeof *blobs);
            if (p == NULL) {
                rc = DN_ENOMEM;
                goto done;
            }
            blobs = p;
        }
        snprintf(blobs[n].key, sizeof blobs[n].key, "%s", dn_stmt_str(st, 0));
        blobs[n].size = dn_stmt_int64(st, 1);
        n++;
    }
    if (rc < 0) {
        snprintf(err, errlen, "cannot list files: %s", dn_db_errmsg(snap));
        goto done;
    }
    if ((src = dn_blobstore_open(cfg, err, errlen)) == NULL || (dst = dn_blob_local_open(files_dir, err, errlen)) == NULL) {
        rc = DN_EIO;
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        unsigned char *buf = NULL;
        const char *key = blobs[i].key;
        rc = read_blob(src, key, blobs[i].size, &buf, err, errlen);
        if (rc == DN_ENOTFOUND) {
            /* gone since the snapshot: only a purge may do that, and it marks the row first */
            int64_t still = 0;
            char oerr[256] = "";
            if (live == NULL && dn_db_open(cfg->db_url, &live, oerr, sizeof oerr) != 0) {
                snprintf(err, errlen, "cannot open the store: %s", oerr);
                rc = DN_EDB;
                goto done;
            }
            if ((rc = dn_db_scalar(live, &q_live_sha, &still, "s", key)) != 0) {
                snprintf(err, errlen, "cannot check file %s: %s", key, dn_db_errmsg(live));
                goto done;
            }
            if (still > 0) {
                snprintf(err, errlen, "file %s is named by a live row but missing from the file store", key);
                rc = DN_EIO;
                goto done;
            }
            if ((rc = dn_db_run(snap, &q_mark_purged, "is", dn_now_ms(), key)) != 0) {
                snprintf(err, errlen, "cannot mark %s purged in the copy: %s", key, dn_db_errmsg(snap));
                goto done;
            }
            rep->purged_during++;
            continue;
        }
        if (rc != 0)
            goto done;
        rc = dst->ops->put(dst, key, buf, (size_t)blobs[i].size);
        free(buf);
        if (rc != 0) {
            snprintf(err, errlen, "cannot write file %s into the backup: %s", key, dn_strerror(rc));
            goto done;
        }
        json_array_append_new(list, json_pack("{s:s, s:I}", "sha256", key, "size", (json_int_t)blobs[i].size));
        rep->files++;
        rep->file_bytes += blobs[i].size;
    }
    rc = 0;

done:
    free(blobs);
    dn_db_close(live);
    dn_blobstore_close(src);
    dn_blobstore_close(dst);
    return rc;
}

int dn_backup_create(const dn_config_t *cfg, const char *out, dn_backup_hook_fn after_snapshot, void *arg,
                     dn_backup_report_t *rep, char *err, size_t errlen)
{
    char work[1100], dbpath[1200], files_dir[1200], hex[65], url[1300], when[32];
    uint64_t t0 = dn_now_mono_ns();
    int64_t created = dn_now_ms();
    dn_db_t *snap = NULL;
    json_t *m = NULL, *list = NULL, *counts = NULL;
    int rc;
    memset(rep, 0, sizeof *rep);
    if (dn_store_sqlite_path(cfg->db_url) == NULL) {
        snprintf(err, errlen, "the PostgreSQL store is backed up with pg_basebackup or pgBackRest and WAL archiving "
                              "(see docs/backup.md); `dnevnik backup` covers the embedded SQLite store");
        return DN_EINVAL;
    }
    if (access(out, F_OK) == 0) {
        snprintf(err, errlen, "%s already exists; a backup goes into a new directory", out);
        return DN_EEXIST;
    }
    snprintf(work, sizeof work, "%s.partial-%ld", out, (long)getpid());
    snprintf(dbpath, sizeof dbpath, "%s/" DB_NAME, work);
    snprintf(files_dir, sizeof files_dir, "%s/files", work);
    snprintf(url, sizeof url, "sqlite:%s", dbpath);
    if (mkdir(work, 0700) != 0) { /* backups hold personal data: owner only */
        snprintf(err, errlen, "cannot create %s: %s", work, strerror(errno));
        return DN_EIO;
    }
    if ((list = json_array()) == NULL || (counts = json_object()) == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = DN_ENOMEM;
        goto fail;
    }
    if ((rc = dn_store_snapshot(cfg->db_url, dbpath, err, errlen)) != 0)
        goto fail;
    if (after_snapshot != NULL)
        after_snapshot(arg);
    if ((rc = dn_db_open(url, &snap, err, errlen)) != 0)
        goto fail;
    if ((rc = dn_migrate_current(snap, &rep->schema_version)) != 0) {
        snprintf(err, errlen, "cannot read the schema version: %s", dn_db_errmsg(snap));
        goto fail;
    }
    if ((rc = copy_blobs(cfg, snap, files_dir, list, rep, err, errlen)) != 0)
        goto fail;
    if (fsync_dir(files_dir) != 0) { /* the fan-out directories' entries */
        snprintf(err, errlen, "cannot sync %s: %s", files_dir, strerror(errno));
        rc = DN_EIO;
        goto fail;
    }
    for (size_t i = 0; i < sizeof q_counts / sizeof q_counts[0]; i++) {
        int64_t v = 0, exists = 0;
        if ((rc = dn_db_scalar(snap, &q_has_table, &exists, "s", count_names[i])) == 0 && !exists)
            continue; /* an older schema */
        if (rc != 0 || (rc = dn_db_scalar(snap, &q_counts[i], &v, "")) != 0) {
            snprintf(err, errlen, "cannot count %s: %s", count_names[i], dn_db_errmsg(snap));
            goto fail;
        }
        json_object_set_new(counts, count_names[i], json_integer(v));
    }
    dn_db_close(snap);
    snap = NULL;
    if ((rc = dn_store_seal(dbpath, err, errlen)) != 0 || (rc = dn_store_integrity(dbpath, err, errlen)) != 0)
        goto fail;
    if ((rc = file_sha256(dbpath, hex, &rep->db_bytes)) != 0) {
        snprintf(err, errlen, "cannot read %s", dbpath);
        goto fail;
    }
    time_t secs = (time_t)(created / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    m = json_pack("{s:s, s:i, s:s, s:I, s:s, s:i, s:s, s:{s:s, s:I, s:s}, s:O, s:o, s:I}", "format", FORMAT,
                  "format_version", FORMAT_VERSION, "created_at", when, "created_at_ms", (json_int_t)created,
                  "dnevnik_version", DN_VERSION, "schema_version", rep->schema_version, "backend", "sqlite",
                  "database", "file", DB_NAME, "size", (json_int_t)rep->db_bytes, "sha256", hex, "counts", counts,
                  "files", list, "files_bytes", (json_int_t)rep->file_bytes);
    list = NULL; /* owned by m now */
    if (m == NULL) {
        rc = DN_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if ((rc = write_manifest(work, m, err, errlen)) != 0)
        goto fail;
    if (fsync_dir(work) != 0 || rename(work, out) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", work, out, strerror(errno));
        rc = DN_EIO;
        goto fail;
    }
    char parent[1100];
    snprintf(parent, sizeof parent, "%s", out);
    fsync_dir(dirname(parent)); /* the rename itself survives a power cut */
    json_decref(m);
    json_decref(counts);
    rep->seconds = since(t0);
    return 0;

fail:
    dn_db_close(snap);
    json_decref(m);
    json_decref(list);
    json_decref(counts);
    remove_tree(work);
    return rc;
}

/* 1 when the blob store has any blob. */
static int stop_at_first(const char *key, int64_t age_s, void *arg)
{
    (void)key;
    (void)age_s;
    *(int *)arg = 1;
    return 1;
}

int dn_backup_restore(const dn_config_t *cfg, const char *dir, int force, int verify_only, dn_backup_report_t *rep,
                      char *err, size_t errlen)
{
    char path[1200], files_dir[1200], hex[65];
    uint64_t t0 = dn_now_mono_ns();
    json_error_t jerr;
    json_t *m = NULL;
    dn_blobstore_t *src = NULL, *dst = NULL;
    int rc = 0;
    memset(rep, 0, sizeof *rep);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    snprintf(files_dir, sizeof files_dir, "%s/files", dir);
    if (!verify_only && dn_store_sqlite_path(cfg->db_url) == NULL) {
        snprintf(err, errlen, "a backup of the embedded store restores into SQLite only; a PostgreSQL store is "
                              "restored with its own tools (pg_basebackup or pgBackRest, see docs/backup.md)");
        return DN_EINVAL;
    }
    if ((m = json_load_file(path, 0, &jerr)) == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, jerr.text);
        return DN_EINVAL;
    }
    const char *format = json_string_value(json_object_get(m, "format"));
    json_t *db = json_object_get(m, "database"), *files = json_object_get(m, "files");
    rep->schema_version = (int)json_integer_value(json_object_get(m, "schema_version"));
    if (format == NULL || strcmp(format, FORMAT) != 0 ||
        json_integer_value(json_object_get(m, "format_version")) != FORMAT_VERSION || !json_is_object(db) ||
        !json_is_array(files) || rep->schema_version <= 0) {
        snprintf(err, errlen, "%s is not a dnevnik backup manifest (format %s version %d)", path, FORMAT,
                 FORMAT_VERSION);
        rc = DN_EINVAL;
        goto done;
    }
    if (rep->schema_version > dn_migrate_latest(DN_DB_SQLITE)) {
        snprintf(err, errlen, "the backup's schema version %d is newer than this binary's %d", rep->schema_version,
                 dn_migrate_latest(DN_DB_SQLITE));
        rc = DN_ESCHEMA;
        goto done;
    }
    /* 1. verify everything before touching the target */
    snprintf(path, sizeof path, "%s/" DB_NAME, dir);
    const char *want = json_string_value(json_object_get(db, "sha256"));
    if ((rc = file_sha256(path, hex, &rep->db_bytes)) != 0 || want == NULL || strcmp(hex, want) != 0 ||
        rep->db_bytes != json_integer_value(json_object_get(db, "size"))) {
        snprintf(err, errlen, "%s does not match the manifest (size or sha256)", path);
        rc = DN_EIO;
        goto done;
    }
    /* the database matches its SHA-256, and it passed integrity_check when the backup was made;
     * the restored copy is checked again at the end */
    if ((src = dn_blob_local_open(files_dir, err, errlen)) == NULL) {
        rc = DN_EIO;
        goto done;
    }
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const char *key = json_string_value(json_object_get(f, "sha256"));
        int64_t size = json_integer_value(json_object_get(f, "size"));
        unsigned char *buf = NULL;
        if (key == NULL || !dn_blob_key_valid(key) || size < 0) {
            snprintf(err, errlen, "manifest entry %zu of files is malformed", i);
            rc = DN_EINVAL;
            goto done;
        }
        if ((rc = read_blob(src, key, size, &buf, err, errlen)) != 0) {
            if (rc == DN_ENOTFOUND)
                snprintf(err, errlen, "file %s listed in the manifest is missing from the backup", key);
            goto done;
        }
        free(buf);
        rep->files++;
        rep->file_bytes += size;
    }
    if (verify_only) {
        rc = dn_store_integrity(path, err, errlen); /* a full check of the copy, as at backup time */
        goto done;
    }

    /* 2. the target must be empty unless --force */
    if ((rc = dn_store_has_tables(cfg->db_url, err, errlen)) < 0)
        goto done;
    if (rc == 1 && !force) {
        snprintf(err, errlen, "the target store already holds data; restore into an empty one, or pass --force to "
                              "overwrite it");
        rc = DN_EEXIST;
        goto done;
    }
    if ((dst = dn_blobstore_open(cfg, err, errlen)) == NULL) {
        rc = DN_EIO;
        goto done;
    }
    int any = 0;
    if ((rc = dst->ops->list(dst, stop_at_first, &any)) != 0) {
        snprintf(err, errlen, "cannot list the target file store: %s", dn_strerror(rc));
        goto done;
    }
    if (any && !force) {
        snprintf(err, errlen, "the target file store already holds files; pass --force to restore over it");
        rc = DN_EEXIST;
        goto done;
    }
    /* 3. blobs first, then the database that names them */
    json_array_foreach(files, i, f)
    {
        const char *key = json_string_value(json_object_get(f, "sha256"));
        int64_t size = json_integer_value(json_object_get(f, "size"));
        unsigned char *buf = NULL;
        if ((rc = read_blob(src, key, size, &buf, err, errlen)) != 0)
            goto done;
        rc = dst->ops->put(dst, key, buf, (size_t)size);
        free(buf);
        if (rc != 0) {
            snprintf(err, errlen, "cannot write file %s: %s", key, dn_strerror(rc));
            goto done;
        }
    }
    rc = dn_store_restore(path, cfg->db_url, err, errlen);

done:
    dn_blobstore_close(src);
    dn_blobstore_close(dst);
    json_decref(m);
    rep->seconds = since(t0);
    return rc;
}
