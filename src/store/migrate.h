/*
 * migrate.h - versioned schema migrations.
 *
 * Migrations are SQL files compiled into the binary, one directory per
 * backend (store/migrations/sqlite, store/migrations/pg) with the same
 * numbers: NNNN_name.sql. The table schema_migrations(version, name,
 * applied_at) records what ran; each migration runs in its own transaction.
 */
#ifndef DN_STORE_MIGRATE_H
#define DN_STORE_MIGRATE_H

#include "store/db.h"

/** Highest migration version this binary knows. */
int dn_migrate_latest(dn_db_backend_t backend);
/** Current version of the database (0 for an empty one). */
int dn_migrate_current(dn_db_t *db, int *version);
/**
 * Apply every missing migration. Returns DN_ESCHEMA (and changes nothing)
 * when the database is newer than the binary. applied (may be NULL) gets the
 * number of migrations run. err gets a message on failure.
 */
int dn_migrate_up(dn_db_t *db, int *applied, char *err, size_t errlen);
/** 0 when the schema is exactly at dn_migrate_latest(), else DN_ESCHEMA/DN_EDB. */
int dn_migrate_check(dn_db_t *db);

#endif
