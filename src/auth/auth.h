/*
 * auth.h - who is calling: access tokens, sign-in, refresh, rate limits.
 *
 * Access tokens are short-lived JWTs (HS256, a "kid" naming the key) that
 * carry the user id, the user's roles per school and token_version; the
 * signature is checked without the store, the account's state with one
 * cached lookup (see dn_auth_require). Keys rotate without signing anyone
 * out: dn_auth_reload_keys swaps the keyset (signing key + verify-only older
 * keys) on SIGHUP. Refresh
 * tokens are random, stored hashed (SHA-256) and revocable. Passwords are
 * argon2id (libsodium) hashed only on the CPU pool, never on a loop thread
 * nor while holding a store worker.
 */
#ifndef DN_AUTH_AUTH_H
#define DN_AUTH_AUTH_H

#include <stdint.h>

#include "app.h"
#include "http/request.h"
#include "auth/password.h"
#include "auth/principal.h"

/**
 * Authenticate the request from its "Authorization: Bearer <jwt>" header.
 * On success returns the principal (pool memory, also stored in req->auth).
 * On failure answers 401 problem+json (with WWW-Authenticate) and returns
 * NULL: the handler just returns. On a store worker it also refuses tokens
 * of blocked or anonymised accounts and tokens whose "tv" is not the
 * account's token_version (password changed, account blocked): writes check
 * the store every time, reads trust a per-process cache for up to 5 s.
 */
const dn_principal_t *dn_auth_require(dn_req_t *req);

/**
 * Process-wide auth state (keys, limiters); built once by main. Keys come
 * from --jwt-keys-file, else DNEVNIK_JWT_KEY, else <data-dir>/jwt.key. On
 * success err holds a line naming the kids in use (no key material) to log.
 */
int dn_auth_init(dn_app_t *app, char *err, size_t errlen);
/**
 * Re-read the keys from the same source and swap them in atomically (safe
 * while requests run). On failure the old keys stay. msg gets the kids in
 * use or the reason. 0 or a negative code.
 */
int dn_auth_reload_keys(dn_app_t *app, char *msg, size_t msglen);
void dn_auth_free(dn_app_t *app);

/**
 * First start: when env DNEVNIK_BOOTSTRAP_ADMIN="login:password" is set and
 * the users table is empty, create that user as sysadmin (school_id 0).
 * Call after migrations, with a migrated connection. 0 (also when nothing to
 * do) or a negative code with err.
 */
int dn_auth_bootstrap(dn_db_t *db, char *err, size_t errlen);

/** The principal dn_auth_require stored on req, or NULL. */
const dn_principal_t *dn_auth_principal(const dn_req_t *req);

/**
 * The user id of req's bearer token when its signature and lifetime are
 * valid, else 0. Answers nothing, takes no rate-limit budget and reads no
 * store (the Idempotency-Key glue keys stored results by it; the handler
 * still calls dn_auth_require).
 */
int64_t dn_auth_token_user(const dn_req_t *req);

/** Load a user's roles and token_version from the store into p (p->user_id = user_id). 0 or negative code. */
int dn_auth_load_principal(dn_db_t *db, int64_t user_id, dn_principal_t *p);

/**
 * Per-address limit for requests that carry no identity (sign-in, refresh).
 * 0 when allowed; otherwise answers 429 with Retry-After and returns
 * DN_ERATELIMIT: the handler just returns.
 */
int dn_auth_throttle_address(dn_req_t *req);

/**
 * Sign-in throttling by login and by address: _check answers 429 (returns
 * DN_ERATELIMIT) when too many recent failures; _failed records one failure;
 * _succeeded clears the login's failures.
 */
int dn_auth_login_check(dn_req_t *req, const char *login);
void dn_auth_login_failed(dn_req_t *req, const char *login);
void dn_auth_login_succeeded(dn_req_t *req, const char *login);

/** A hash that matches no password, to verify against for unknown logins (equal timing). */
const char *dn_auth_dummy_hash(const dn_app_t *app);

/** Sign an access token for p; *out malloc'd, *expires_in seconds. 0 or negative code. */
int dn_auth_issue_access(const dn_app_t *app, const dn_principal_t *p, char **out, int *expires_in);

/* Refresh tokens: 32 random bytes base64url, stored as SHA-256 hex, 30 days, rotated on use. */
#define DN_REFRESH_TOKEN_LEN 44 /* base64url of 32 bytes (43) + NUL */

/** Start a new token family for user_id: token written to out. 0 or negative code. */
int dn_auth_refresh_create(dn_db_t *db, int64_t user_id, char out[DN_REFRESH_TOKEN_LEN]);
/**
 * Rotate token: on success marks it used, writes the successor (same family)
 * to out and the user to *user_id. A used token (reuse) revokes its whole
 * family. DN_EUNAUTH when unknown, used, revoked, expired or the user is
 * blocked; other negative codes on store errors.
 */
int dn_auth_refresh_rotate(dn_db_t *db, const char *token, int64_t *user_id, char out[DN_REFRESH_TOKEN_LEN]);
/** Revoke the family of token (unknown tokens are ignored). 0 or negative code. */
int dn_auth_refresh_revoke(dn_db_t *db, const char *token);
/** Revoke every refresh token of user_id. 0 or negative code. */
int dn_auth_refresh_revoke_user(dn_db_t *db, int64_t user_id);

#endif
