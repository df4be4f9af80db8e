-- 0004_school: one-time invite codes for accounts created by CSV import.
-- Only the SHA-256 of a code is stored; a code sets the first password once.
CREATE TABLE invites (
    id INTEGER PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX invites_user ON invites(user_id);
