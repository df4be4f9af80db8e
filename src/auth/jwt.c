/*
 * jwt.c - HS256 access tokens through libjwt (see jwt.h).
 *
 * Verification reads the header first (base64url + JSON) only to choose the
 * key named by "kid" and to refuse any alg but HS256 before libjwt checks
 * the signature; after libjwt accepts the signature the alg is checked
 * again, so a token can never select "none" or another algorithm. Claims
 * that do not have the expected types make the token invalid.
 */
#include "auth/jwt.h"

#include <errno.h>
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

/* The key the token's header names, or NULL (bad header, alg not HS256, unknown kid). */
static const dn_jwt_key_t *header_key(const dn_jwt_keys_t *ks, const char *token)
{
    const char *dot = strchr(token, '.');
    unsigned char buf[512];
    size_t len = 0;
    const dn_jwt_key_t *found = NULL;
    if (dot == NULL || dot == token || (size_t)(dot - token) > sizeof(buf) * 4 / 3)
        return NULL;
    if (sodium_base642bin(buf, sizeof(buf), token, (size_t)(dot - token), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return NULL;
    json_t *h = json_loadb((const char *)buf, len, 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *kid = json_string_value(json_object_get(h, "kid"));
    if (alg != NULL && kid != NULL && strcmp(alg, "HS256") == 0)
        for (int i = 0; i < ks->n; i++)
            if (strcmp(ks->keys[i].kid, kid) == 0)
                found = &ks->keys[i];
    json_decref(h);
    return found;
}

static int parse_roles(jwt_t *jwt, dn_principal_t *p)
{
    char *s = jwt_get_grants_json(jwt, "roles");
    json_t *arr = s ? json_loads(s, 0, NULL) : NULL;
    int rc = DN_EUNAUTH;
    size_t i;
    json_t *it;
    free(s);
    if (!json_is_array(arr) || json_array_size(arr) > DN_MAX_PRINCIPAL_ROLES)
        goto cleanup;
    p->nroles = 0;
    json_array_foreach(arr, i, it) {
        json_t *school = json_array_get(it, 0);
        dn_role_t role = dn_role_parse(json_string_value(json_array_get(it, 1)));
        if (!json_is_integer(school) || role == 0)
            goto cleanup;
        p->roles[p->nroles].school_id = json_integer_value(school);
        p->roles[p->nroles].role = role;
        p->nroles++;
    }
    rc = 0;
cleanup:
    json_decref(arr);
    return rc;
}

int dn_jwt_verify(const dn_jwt_keys_t *ks, const char *token, int64_t now_s, dn_principal_t *p)
{
    jwt_t *jwt = NULL;
    int rc = DN_EUNAUTH;
    const dn_jwt_key_t *k = token ? header_key(ks, token) : NULL;
    if (k == NULL)
        return DN_EUNAUTH;
    if (jwt_decode(&jwt, token, k->key, (int)k->len) != 0 || jwt == NULL)
        goto cleanup;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        goto cleanup;
    errno = 0;
    long exp = jwt_get_grant_int(jwt, "exp");
    if (errno != 0 || exp <= now_s)
        goto cleanup;
    const char *sub = jwt_get_grant(jwt, "sub");
    char *end = NULL;
    long long uid = sub ? strtoll(sub, &end, 10) : 0;
    if (sub == NULL || *sub == '\0' || *end != '\0' || uid <= 0)
        goto cleanup;
    memset(p, 0, sizeof(*p));
    p->user_id = uid;
    /* "tv" is absent from tokens issued before it existed: version 0 */
    errno = 0;
    long tv = jwt_get_grant_int(jwt, "tv");
    if ((errno != 0 && errno != ENOENT) || (errno == 0 && tv < 0))
        goto cleanup;
    p->token_version = errno == 0 ? tv : 0;
    rc = parse_roles(jwt, p);
cleanup:
    jwt_free(jwt);
    return rc;
}
