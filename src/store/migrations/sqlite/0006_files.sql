-- 0006_files: uploaded files and what they are attached to.
-- A files row is written only after its blob (key = sha256) is durable, so
-- a row with purged_at NULL always has its bytes. Identical content shares
-- one blob; purge sets purged_at (metadata stays) and drops the blob when no
-- live row uses it any more.
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    uploader_id INTEGER NOT NULL REFERENCES users(id),
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    purged_at INTEGER
);
CREATE INDEX files_uploader_created ON files(uploader_id, created_at);
CREATE INDEX files_sha ON files(sha256);
CREATE INDEX files_created ON files(created_at);
CREATE TABLE file_links (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id),
    work_id INTEGER REFERENCES works(id),
    lesson_id INTEGER REFERENCES lessons(id),
    created_at INTEGER NOT NULL,
    CHECK ((work_id IS NULL) <> (lesson_id IS NULL))
);
CREATE INDEX file_links_file ON file_links(file_id);
CREATE UNIQUE INDEX file_links_lesson_file ON file_links(lesson_id, file_id);
