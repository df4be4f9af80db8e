/*
 * backup.c - online snapshots of the SQLite store (see backup.h).
 *
 * Why the backup API in one step (-1): the whole copy happens inside one
 * read transaction of the source, so it is the state of one commit even
 * while store workers keep committing (WAL readers do not block writers and
 * a checkpoint cannot pass our read mark). Stepping in chunks would restart
 * on every concurrent write and might never finish under load.
 * Durability of the result: the copy is written to DEST.tmp-PID, fsynced,
 * renamed over DEST, and the directory fsynced; dn_store_seal() later turns
 * it into one self-contained file (journal_mode=DELETE).
 */
#include "store/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

const char *dn_store_sqlite_path(const char *url)
{
    if (url == NULL || strncmp(url, "postgres", 8) == 0 || strstr(url, "://") != NULL)
        return NULL;
    if (strncmp(url, "sqlite:", 7) == 0)
        return url[7] ? url + 7 : NULL;
    return url[0] ? url : NULL;
}

static int fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return DN_EIO;
    int rc = fsync(fd) == 0 ? 0 : DN_EIO;
    close(fd);
    return rc;
}

/* fsync the directory that holds path (so a rename or a new file survives a power cut). */
static int fsync_parent(const char *path)
{
    char buf[1100];
    snprintf(buf, sizeof buf, "%s", path);
    return fsync_path(dirname(buf), 1);
}

static int sq_error(sqlite3 *h, int rc, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? DN_EBUSY : DN_EDB;
}

/* Copy every page of src's main database into dst's, in one step. */
static int copy_db(sqlite3 *dst, sqlite3 *src, char *err, size_t errlen)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (b == NULL)
        return sq_error(dst, SQLITE_ERROR, "backup init", err, errlen);
    int rc = sqlite3_backup_step(b, -1);
    int frc = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        return sq_error(dst, rc, "backup", err, errlen);
    if (frc != SQLITE_OK)
        return sq_error(dst, frc, "backup finish", err, errlen);
    return 0;
}

static int open_db(const char *path, int flags, sqlite3 **out, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(path, out, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
        sqlite3_close(*out);
        *out = NULL;
        return DN_EDB;
    }
    sqlite3_busy_timeout(*out, 10000);
    return 0;
}

int dn_store_snapshot(const char *url, const char *dest, char *err, size_t errlen)
{
    const char *path = dn_store_sqlite_path(url);
    sqlite3 *src = NULL, *dst = NULL;
    char tmp[1100];
    int rc;
    if (path == NULL) {
        snprintf(err, errlen, "only the embedded SQLite store can be snapshotted");
        return DN_EINVAL;
    }
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "no database at %s: %s", path, strerror(errno));
        return DN_ENOTFOUND;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dest, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "destination path too long");
        return DN_EINVAL;
    }
    unlink(tmp);
    /* read-write: reading a WAL database may need to create its -shm index */
    if ((rc = open_db(path, SQLITE_OPEN_READWRITE, &src, err, errlen)) != 0 ||
        (rc = open_db(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &dst, err, errlen)) != 0)
        goto fail;
    if ((rc = copy_db(dst, src, err, errlen)) != 0)
        goto fail;
    sqlite3_close(src);
    src = NULL;
    if (sqlite3_close(dst) != SQLITE_OK) {
        dst = NULL;
        snprintf(err, errlen, "cannot close %s", tmp);
        rc = DN_EIO;
        goto fail;
    }
    dst = NULL;
    if (fsync_path(tmp, 0) != 0 || rename(tmp, dest) != 0 || fsync_parent(dest) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", dest, strerror(errno));
        rc = DN_EIO;
        goto fail;
    }
    return 0;

fail:
    sqlite3_close(src);
    sqlite3_close(dst);
    unlink(tmp);
    return rc;
}

int dn_store_seal(const char *path, char *err, size_t errlen)
{
    sqlite3 *h = NULL;
    int rc = open_db(path, SQLITE_OPEN_READWRITE, &h, err, errlen);
    if (rc != 0)
        return rc;
    if ((rc = sqlite3_exec(h, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL)) != SQLITE_OK)
        rc = sq_error(h, rc, "journal_mode", err, errlen);
    if (sqlite3_close(h) != SQLITE_OK && rc == 0) {
        snprintf(err, errlen, "cannot close %s", path);
        rc = DN_EIO;
    }
    if (rc == 0 && (fsync_path(path, 0) != 0 || fsync_parent(path) != 0)) {
        snprintf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
        rc = DN_EIO;
    }
    return rc;
}

int dn_store_restore(const char *src_path, const char *url, char *err, size_t errlen)
{
    const char *path = dn_store_sqlite_path(url);
    sqlite3 *src = NULL, *dst = NULL;
    int rc;
    if (path == NULL) {
        snprintf(err, errlen, "a backup of the embedded store restores into SQLite only");
        return DN_EINVAL;
    }
    if ((rc = open_db(src_path, SQLITE_OPEN_READONLY, &src, err, errlen)) != 0 ||
        (rc = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &dst, err, errlen)) != 0)
        goto done;
    /* Copy with a rollback journal (leaving WAL checkpoints an old -wal into the
     * file first): pages go straight into the file instead of through the WAL
     * and a checkpoint, half the writes. Then back to WAL, like every database
     * the server opens. */
    if ((rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL", NULL, NULL, NULL)) !=
        SQLITE_OK) {
        rc = sq_error(dst, rc, "journal_mode", err, errlen);
        goto done;
    }
    if ((rc = copy_db(dst, src, err, errlen)) != 0)
        goto done;
    if ((rc = sqlite3_exec(dst, "PRAGMA journal_mode=WAL", NULL, NULL, NULL)) != SQLITE_OK) {
        rc = sq_error(dst, rc, "journal_mode", err, errlen);
        goto done;
    }
    rc = 0;

done:
    sqlite3_close(src);
    if (sqlite3_close(dst) != SQLITE_OK && rc == 0) {
        snprintf(err, errlen, "cannot close %s", path);
        rc = DN_EIO;
    }
    if (rc == 0 && (fsync_path(path, 0) != 0 || fsync_parent(path) != 0)) {
        snprintf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
        rc = DN_EIO;
    }
    return rc == 0 ? dn_store_integrity(path, err, errlen) : rc;
}

int dn_store_integrity(const char *path, char *err, size_t errlen)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    /* read-write: a WAL database may need its -shm index created to be read */
    int rc = open_db(path, SQLITE_OPEN_READWRITE, &h, err, errlen);
    if (rc != 0)
        return rc;
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check(10)", -1, &st, NULL) != SQLITE_OK) {
        rc = sq_error(h, SQLITE_ERROR, "integrity_check", err, errlen);
        goto done;
    }
    size_t used = 0;
    err[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line && strcmp(line, "ok") == 0)
            continue;
        rc = DN_EDB;
        if (used < errlen)
            used += (size_t)snprintf(err + used, errlen - used, "%s%s", used ? "; " : "integrity_check: ",
                                     line ? line : "?");
    }
done:
    sqlite3_finalize(st);
    sqlite3_close(h);
    return rc;
}

int dn_store_has_tables(const char *url, char *err, size_t errlen)
{
    const char *path = dn_store_sqlite_path(url);
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    if (path == NULL) {
        snprintf(err, errlen, "not an SQLite store");
        return DN_EINVAL;
    }
    if (access(path, F_OK) != 0)
        return 0;
    int rc = open_db(path, SQLITE_OPEN_READWRITE, &h, err, errlen);
    if (rc != 0)
        return rc;
    if (sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        rc = sq_error(h, SQLITE_ERROR, "cannot read the target database", err, errlen);
    else
        rc = sqlite3_column_int64(st, 0) > 0 ? 1 : 0;
    sqlite3_finalize(st);
    sqlite3_close(h);
    return rc;
}
