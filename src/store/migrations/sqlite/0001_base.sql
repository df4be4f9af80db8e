-- 0001_base: the first migration. app_meta holds small key/value facts about
-- the installation (e.g. when it was set up); the domain schema comes in 0002+.
-- NOT NULL on the key: SQLite, unlike PostgreSQL, lets a non-INTEGER
-- PRIMARY KEY column hold NULL unless told otherwise.
CREATE TABLE app_meta (
    key TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
