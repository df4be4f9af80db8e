/* migrations.h - the SQL migrations compiled into the binary (generated data). */
#ifndef DN_STORE_MIGRATIONS_H
#define DN_STORE_MIGRATIONS_H

#include <stddef.h>

typedef struct dn_migration {
    int version;
    const char *name;
    const char *sql;
} dn_migration_t;

extern const dn_migration_t dn_migrations_sqlite[];
extern const int dn_migrations_sqlite_count;
extern const dn_migration_t dn_migrations_pg[];
extern const int dn_migrations_pg_count;

#endif
