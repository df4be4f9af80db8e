-- 0003_auth: expired refresh tokens are purged at sign-in (auth.c), which
-- looks them up by expiry; without this index every sign-in would scan the
-- whole table.
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);
