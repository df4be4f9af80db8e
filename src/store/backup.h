/*
 * backup.h - online copies of the embedded (SQLite) store.
 *
 * A snapshot is taken with SQLite's online backup API in one step, inside
 * one read transaction of the source: it is the database as of one commit,
 * while the server keeps writing (WAL readers do not block writers). The copy
 * goes to a temporary file beside the destination, is fsynced and renamed
 * into place, so a destination path either holds a complete copy or nothing;
 * dn_store_seal() then makes it one self-contained file.
 * PostgreSQL is backed up by its own tools (pg_basebackup / pgBackRest with
 * WAL archiving): these functions refuse a postgresql:// URL with DN_EINVAL.
 */
#ifndef DN_STORE_BACKUP_H
#define DN_STORE_BACKUP_H

#include <stddef.h>

/** The SQLite file path of a store URL ("sqlite:PATH" or a bare *.db path); NULL for PostgreSQL. */
const char *dn_store_sqlite_path(const char *url);

/**
 * Copy the live database of url into dest (a new file; an existing one is
 * replaced only once the copy is complete). 0, or a negative DN_E* with a
 * message in err.
 */
int dn_store_snapshot(const char *url, const char *dest, char *err, size_t errlen);

/** Switch a copy to journal_mode=DELETE (no -wal beside it) and fsync it. */
int dn_store_seal(const char *path, char *err, size_t errlen);

/**
 * Write the database file src into the store at url, replacing its content
 * (through SQLite, so the target's WAL and locks are honoured), then check it.
 * The caller decides whether the target may be overwritten.
 */
int dn_store_restore(const char *src, const char *url, char *err, size_t errlen);

/** PRAGMA integrity_check of a database file: 0 when "ok", DN_EDB with the first problems in err. */
int dn_store_integrity(const char *path, char *err, size_t errlen);

/** 1 when the SQLite database at url holds any table, 0 when it is absent or empty, negative on error. */
int dn_store_has_tables(const char *url, char *err, size_t errlen);

#endif
