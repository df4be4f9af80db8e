/*
 * jwt.h - HS256 access tokens (libjwt) with key ids for rotation.
 *
 * A token's header names its key ("kid"); a keyset holds the signing key
 * (first) and any older keys still accepted for verification. Claims: sub
 * (user id, as a string per RFC 7519), roles [[school_id,"role"],...], iat,
 * exp, tv (the user's token_version at issue). Keys never leave this module
 * in logs.
 */
#ifndef DN_AUTH_JWT_H
#define DN_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

#define DN_JWT_MAX_KEYS 8
#define DN_JWT_KEY_MAX 64
#define DN_JWT_KID_MAX 32 /* bytes of a kid, without the NUL */

typedef struct dn_jwt_key {
    char kid[DN_JWT_KID_MAX + 1];       /* named in a keys file, or hex of a SHA-256 prefix of the key */
    unsigned char key[DN_JWT_KEY_MAX];
    size_t len;
} dn_jwt_key_t;

typedef struct dn_jwt_keys {
    int n;                              /* keys[0] signs */
    dn_jwt_key_t keys[DN_JWT_MAX_KEYS];
} dn_jwt_keys_t;

/** Add a key (16..64 bytes) to the set; the first one added signs. 0 or DN_EINVAL. */
int dn_jwt_keys_add(dn_jwt_keys_t *ks, const unsigned char *key, size_t len);

/**
 * Add a key under an explicit kid (1..DN_JWT_KID_MAX of [A-Za-z0-9._-]).
 * DN_EINVAL on a bad kid, a bad key length, a kid already in the set or a
 * full set.
 */
int dn_jwt_keys_add_kid(dn_jwt_keys_t *ks, const char *kid, const unsigned char *key, size_t len);

/**
 * Decode a key written as hex or base64 (standard or URL-safe, padded or
 * not) into key[DN_JWT_KEY_MAX]. 0 with *len in 16..64, or DN_EINVAL.
 */
int dn_jwt_key_decode(const char *text, unsigned char key[DN_JWT_KEY_MAX], size_t *len);

/**
 * Sign an access token for p valid from now_s for ttl_s seconds. *out is
 * malloc'd (free()). 0, DN_EINVAL (no key) or DN_ENOMEM.
 */
int dn_jwt_sign(const dn_jwt_keys_t *ks, const dn_principal_t *p, int64_t now_s, int ttl_s, char **out);

/**
 * Verify token (signature with the key its kid names, alg HS256, exp > now_s)
 * and fill *p from its claims. 0 or DN_EUNAUTH.
 */
int dn_jwt_verify(const dn_jwt_keys_t *ks, const char *token, int64_t now_s, dn_principal_t *p);
/** dn_jwt_verify that also returns the token's "iat" (0 when absent). */
int dn_jwt_verify_claims(const dn_jwt_keys_t *ks, const char *token, int64_t now_s, dn_principal_t *p,
                         int64_t *iat_s);

#endif
