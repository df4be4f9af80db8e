-- 0001_base: the first migration. app_meta holds small key/value facts about
-- the installation (e.g. when it was set up); the domain schema comes in 0002+.
CREATE TABLE app_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
