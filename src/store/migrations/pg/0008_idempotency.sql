-- Idempotency-Key results (src/http/idempotency.c): what the first request
-- answered, replayed to retries. content_type and the response headers
-- (name TAB value, one a line) make the replay byte-for-byte the same;
-- created_at is indexed for the 24-hour expiry sweep.
ALTER TABLE idempotency_keys ADD COLUMN content_type TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN headers TEXT NOT NULL DEFAULT '';
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
