/*
 * backup.h - backups of the embedded deployment: the SQLite store and the
 * uploaded files it names, taken online, and their restore.
 *
 * A backup is one directory:
 *   dnevnik.db      a consistent snapshot of the store (store/backup.h)
 *   files/          every blob a live files row of that snapshot names, in the
 *                   local blob layout, each checked against its SHA-256 key
 *   manifest.json   format, created_at, dnevnik version, schema version,
 *                   row counts, size and SHA-256 of dnevnik.db, every file's
 *                   key and size
 * Consistency: the snapshot is taken first, the blobs it names are copied
 * after. Blobs are immutable (content-addressed), so the only race is a purge
 * deleting one meanwhile; the live store then says the row is purged and the
 * backup marks it purged too, as the purge did (files.h invariant: a live row
 * always has its blob). The directory is built as OUT.partial-PID and renamed
 * to OUT at the end: OUT exists only when complete. Keys (jwt.key) are not
 * backed up: they are secrets, kept apart from data copies.
 */
#ifndef DN_DOMAIN_BACKUP_H
#define DN_DOMAIN_BACKUP_H

#include <stdint.h>
#include <stdio.h>

#include "core/config.h"

typedef struct dn_backup_report {
    int64_t db_bytes;      /* size of dnevnik.db */
    int64_t files;         /* blobs copied */
    int64_t file_bytes;    /* their bytes */
    int64_t purged_during; /* blobs purged while the backup ran (rows marked purged in the copy) */
    int schema_version;
    double seconds;
} dn_backup_report_t;

/**
 * Back up the store cfg->db_url and the blob store cfg names into the new
 * directory out (must not exist). Refuses a PostgreSQL store (DN_EINVAL: it
 * is backed up with pg_basebackup / pgBackRest). 0 or a negative code with a
 * message in err.
 */
typedef void (*dn_backup_hook_fn)(void *arg);
/* after_snapshot (may be NULL) runs between the snapshot and the file copy:
 * tests widen that window with it to stage a purge racing the backup. */
int dn_backup_create(const dn_config_t *cfg, const char *out, dn_backup_hook_fn after_snapshot, void *arg,
                     dn_backup_report_t *rep, char *err, size_t errlen);

/**
 * Verify the backup in dir (manifest format, schema not newer than this
 * binary, size and SHA-256 of the database and of every file) and, unless
 * verify_only, restore it into cfg's store and blob store: the files first,
 * then the database. A target holding tables or blobs is refused (DN_EEXIST)
 * unless force. Stop the server of the target first.
 */
int dn_backup_restore(const dn_config_t *cfg, const char *dir, int force, int verify_only, dn_backup_report_t *rep,
                      char *err, size_t errlen);

#endif
