/*
 * jwt.c - HS256 access tokens (see jwt.h): signed through libjwt, verified
 * here on libsodium and jansson.
 *
 * Verification reads the header (base64url + JSON) only to choose the key
 * named by "kid" and to refuse any alg but HS256, so a token can never
 * select "none" or another algorithm; then it computes HMAC-SHA256 of
 * "header.claims" with that key and compares it with the signature in
 * constant time; only then are the claims decoded, once. Claims that do
 * not have the expected types make the token invalid.
 *
 * Why not libjwt's jwt_decode, which signing still uses: it parsed the
 * header and the claims into JSON trees, our roles had to be asked for as
 * JSON text and parsed again, and the cluster layer parsed the claims a
 * third time for "iat": 11.9 us per request against ~4 us here, about a
 * tenth of the server's CPU on the student marks page (BENCHMARKS.md).
 */
#include "auth/jwt.h"

#include <inttypes.h>
#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int dn_jwt_keys_add(dn_jwt_keys_t *ks, const unsigned char *key, size_t len)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    char kid[17];
    if (len < 16 || len > DN_JWT_KEY_MAX)
        return DN_EINVAL;
    /* The kid is a hash of the key: stable across restarts, reveals nothing usable. */
    crypto_hash_sha256(digest, key, len);
    sodium_bin2hex(kid, sizeof(kid), digest, 8);
    return dn_jwt_keys_add_kid(ks, kid, key, len);
}

int dn_jwt_keys_add_kid(dn_jwt_keys_t *ks, const char *kid, const unsigned char *key, size_t len)
{
    size_t klen = kid ? strlen(kid) : 0;
    if (ks->n >= DN_JWT_MAX_KEYS || len < 16 || len > DN_JWT_KEY_MAX || klen < 1 || klen > DN_JWT_KID_MAX ||
        strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != klen)
        return DN_EINVAL;
    for (int i = 0; i < ks->n; i++)
        if (strcmp(ks->keys[i].kid, kid) == 0)
            return DN_EINVAL; /* a kid must name one key, or verification would be ambiguous */
    dn_jwt_key_t *k = &ks->keys[ks->n];
    memcpy(k->kid, kid, klen + 1);
    memcpy(k->key, key, len);
    k->len = len;
    ks->n++;
    return 0;
}

int dn_jwt_key_decode(const char *v, unsigned char key[DN_JWT_KEY_MAX], size_t *len)
{
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                                   sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    size_t n = strlen(v);
    if (n % 2 == 0 && strspn(v, "0123456789abcdefABCDEF") == n &&
        sodium_hex2bin(key, DN_JWT_KEY_MAX, v, n, NULL, len, NULL) == 0 && *len >= 16)
        return 0;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
        if (sodium_base642bin(key, DN_JWT_KEY_MAX, v, n, NULL, len, NULL, variants[i]) == 0 && *len >= 16)
            return 0;
    return DN_EINVAL;
}

int dn_jwt_sign(const dn_jwt_keys_t *ks, const dn_principal_t *p, int64_t now_s, int ttl_s, char **out)
{
    jwt_t *jwt = NULL;
    json_t *roles = NULL;
    char *roles_json = NULL, *tok = NULL;
    char sub[24];
    int rc = DN_ENOMEM;

    *out = NULL;
    if (ks->n < 1 || p == NULL)
        return DN_EINVAL;
    roles = json_object();
    json_t *arr = json_array();
    if (roles == NULL || arr == NULL || json_object_set_new(roles, "roles", arr) != 0)
        goto cleanup;
    for (int i = 0; i < p->nroles; i++) {
        const char *name = dn_role_name(p->roles[i].role);
        if (name == NULL)
            continue;
        if (json_array_append_new(arr, json_pack("[Is]", (json_int_t)p->roles[i].school_id, name)) != 0)
            goto cleanup;
    }
    roles_json = json_dumps(roles, JSON_COMPACT);
    snprintf(sub, sizeof(sub), "%" PRId64, p->user_id);
    if (roles_json == NULL || jwt_new(&jwt) != 0)
        goto cleanup;
    if (jwt_set_alg(jwt, JWT_ALG_HS256, ks->keys[0].key, (int)ks->keys[0].len) != 0 ||
        jwt_add_header(jwt, "kid", ks->keys[0].kid) != 0 || jwt_add_grant(jwt, "sub", sub) != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)now_s) != 0 || jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) != 0 ||
        jwt_add_grant_int(jwt, "tv", (long)p->token_version) != 0 ||
        jwt_add_grants_json(jwt, roles_json) != 0)
        goto cleanup;
    tok = jwt_encode_str(jwt);
    if (tok == NULL)
        goto cleanup;
    *out = tok;
    rc = 0;
cleanup:
    jwt_free(jwt);
    free(roles_json);
    json_decref(roles);
    return rc;
}

/* base64url (no padding) of src[0..n) into buf; the length or -1. */
static long b64url_decode(unsigned char *buf, size_t cap, const char *src, size_t n)
{
    size_t len = 0;
    if (n == 0 || n > cap * 4 / 3 ||
        sodium_base642bin(buf, cap, src, n, NULL, &len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    return (long)len;
}

/* The key the token's header names, or NULL (bad header, alg not HS256, unknown kid). */
static const dn_jwt_key_t *header_key(const dn_jwt_keys_t *ks, const char *header, size_t n)
{
    unsigned char buf[512];
    long len = b64url_decode(buf, sizeof(buf), header, n);
    if (len < 0)
        return NULL;
    const dn_jwt_key_t *found = NULL;
    json_t *h = json_loadb((const char *)buf, (size_t)len, 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *kid = json_string_value(json_object_get(h, "kid"));
    if (alg != NULL && kid != NULL && strcmp(alg, "HS256") == 0)
        for (int i = 0; i < ks->n; i++)
            if (strcmp(ks->keys[i].kid, kid) == 0)
                found = &ks->keys[i];
    json_decref(h);
    return found;
}

static int parse_roles(json_t *arr, dn_principal_t *p)
{
    size_t i;
    json_t *it;
    if (!json_is_array(arr) || json_array_size(arr) > DN_MAX_PRINCIPAL_ROLES)
        return DN_EUNAUTH;
    p->nroles = 0;
    json_array_foreach(arr, i, it) {
        json_t *school = json_array_get(it, 0);
        dn_role_t role = dn_role_parse(json_string_value(json_array_get(it, 1)));
        if (!json_is_integer(school) || role == 0)
            return DN_EUNAUTH;
        p->roles[p->nroles].school_id = json_integer_value(school);
        p->roles[p->nroles].role = role;
        p->nroles++;
    }
    return 0;
}

/* Claims into *p; exp must be after now_s. */
static int parse_claims(json_t *c, int64_t now_s, dn_principal_t *p, int64_t *iat_s)
{
    json_t *exp = json_object_get(c, "exp"), *tv = json_object_get(c, "tv"), *iat = json_object_get(c, "iat");
    const char *sub = json_string_value(json_object_get(c, "sub"));
    if (!json_is_integer(exp) || json_integer_value(exp) <= now_s)
        return DN_EUNAUTH;
    char *end = NULL;
    long long uid = sub ? strtoll(sub, &end, 10) : 0;
    if (sub == NULL || *sub == '\0' || *end != '\0' || uid <= 0)
        return DN_EUNAUTH;
    /* "tv" is absent from tokens issued before it existed: version 0 */
    if (tv != NULL && (!json_is_integer(tv) || json_integer_value(tv) < 0))
        return DN_EUNAUTH;
    if (iat != NULL && !json_is_integer(iat))
        return DN_EUNAUTH;
    memset(p, 0, sizeof(*p));
    p->user_id = uid;
    p->token_version = tv ? json_integer_value(tv) : 0;
    if (iat_s)
        *iat_s = iat ? json_integer_value(iat) : 0;
    return parse_roles(json_object_get(c, "roles"), p);
}

int dn_jwt_verify_claims(const dn_jwt_keys_t *ks, const char *token, int64_t now_s, dn_principal_t *p,
                         int64_t *iat_s)
{
    if (token == NULL)
        return DN_EUNAUTH;
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
        return DN_EUNAUTH;
    const dn_jwt_key_t *k = header_key(ks, token, (size_t)(dot1 - token));
    if (k == NULL)
        return DN_EUNAUTH;
    /* The signature first: nothing of the claims is looked at unless it holds. */
    unsigned char sig[64], mac[crypto_auth_hmacsha256_BYTES];
    if (b64url_decode(sig, sizeof(sig), dot2 + 1, strlen(dot2 + 1)) != (long)sizeof(mac))
        return DN_EUNAUTH;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, k->key, k->len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, (unsigned long long)(dot2 - token));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
    if (crypto_verify_32(sig, mac) != 0)
        return DN_EUNAUTH;
    unsigned char buf[2048];
    long len = b64url_decode(buf, sizeof(buf), dot1 + 1, (size_t)(dot2 - dot1 - 1));
    json_t *claims = len < 0 ? NULL : json_loadb((const char *)buf, (size_t)len, 0, NULL);
    int rc = json_is_object(claims) ? parse_claims(claims, now_s, p, iat_s) : DN_EUNAUTH;
    json_decref(claims);
    return rc;
}

int dn_jwt_verify(const dn_jwt_keys_t *ks, const char *token, int64_t now_s, dn_principal_t *p)
{
    return dn_jwt_verify_claims(ks, token, now_s, p, NULL);
}
