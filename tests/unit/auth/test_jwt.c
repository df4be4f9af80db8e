/* Access tokens: round trip, expiry, tampering, unknown key id, password hashing. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/jwt.h"
#include "core/error.h"

static dn_jwt_keys_t keys_with(unsigned char fill)
{
    dn_jwt_keys_t ks = {0};
    unsigned char k[32];
    memset(k, fill, sizeof(k));
    cr_assert_eq(dn_jwt_keys_add(&ks, k, sizeof(k)), 0);
    return ks;
}

static dn_principal_t sample(void)
{
    dn_principal_t p = {.user_id = 42, .nroles = 2};
    p.roles[0].school_id = 7;
    p.roles[0].role = DN_ROLE_TEACHER;
    p.roles[1].school_id = 9;
    p.roles[1].role = DN_ROLE_PARENT;
    return p;
}

Test(jwt, sign_verify_roundtrip)
{
    dn_jwt_keys_t ks = keys_with(1);
    dn_principal_t p = sample(), out;
    char *tok = NULL;
    cr_assert_eq(dn_jwt_sign(&ks, &p, 1000, 900, &tok), 0);
    cr_assert_eq(dn_jwt_verify(&ks, tok, 1000, &out), 0);
    cr_assert_eq(out.user_id, 42);
    cr_assert_eq(out.nroles, 2);
    cr_assert(dn_principal_has(&out, DN_ROLE_TEACHER, 7));
    cr_assert(dn_principal_has(&out, DN_ROLE_PARENT, 9));
    cr_assert_not(dn_principal_has(&out, DN_ROLE_TEACHER, 9));
    free(tok);
}

Test(jwt, expired_token_is_rejected)
{
    dn_jwt_keys_t ks = keys_with(1);
    dn_principal_t p = sample(), out;
    char *tok = NULL;
    cr_assert_eq(dn_jwt_sign(&ks, &p, 1000, 900, &tok), 0);
    cr_assert_eq(dn_jwt_verify(&ks, tok, 1899, &out), 0);
    cr_assert_eq(dn_jwt_verify(&ks, tok, 1900, &out), DN_EUNAUTH);
    free(tok);
}

Test(jwt, tampered_payload_or_signature_is_rejected)
{
    dn_jwt_keys_t ks = keys_with(1);
    dn_principal_t p = sample(), out;
    char *tok = NULL;
    cr_assert_eq(dn_jwt_sign(&ks, &p, 1000, 900, &tok), 0);
    char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    /* Swap the payload for one claiming sysadmin, keep the signature. */
    dn_principal_t evil = {.user_id = 1, .nroles = 1};
    evil.roles[0].role = DN_ROLE_SYSADMIN;
    char *etok = NULL;
    dn_jwt_keys_t other = keys_with(2);
    cr_assert_eq(dn_jwt_sign(&other, &evil, 1000, 900, &etok), 0);
    char forged[4096];
    char *edot1 = strchr(etok, '.'), *edot2 = strrchr(etok, '.');
    snprintf(forged, sizeof(forged), "%.*s%.*s%s", (int)(dot1 - tok), tok, (int)(edot2 - edot1), edot1, dot2);
    cr_assert_eq(dn_jwt_verify(&ks, forged, 1000, &out), DN_EUNAUTH);
    /* Flip one signature character. */
    char *t2 = strdup(tok);
    size_t n = strlen(t2);
    t2[n - 2] = t2[n - 2] == 'A' ? 'B' : 'A';
    cr_assert_eq(dn_jwt_verify(&ks, t2, 1000, &out), DN_EUNAUTH);
    /* alg none with the signature stripped. */
    char none[4096];
    const char *hdr = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; /* {"alg":"none","typ":"JWT"} */
    snprintf(none, sizeof(none), "%s%.*s.", hdr, (int)(dot2 - dot1), dot1);
    cr_assert_eq(dn_jwt_verify(&ks, none, 1000, &out), DN_EUNAUTH);
    cr_assert_eq(dn_jwt_verify(&ks, "garbage", 1000, &out), DN_EUNAUTH);
    cr_assert_eq(dn_jwt_verify(&ks, "", 1000, &out), DN_EUNAUTH);
    free(t2);
    free(etok);
    free(tok);
}

/* "header.claims" (JSON texts) signed with ks's signing key by hand, so the
 * claim checks behind the signature can be reached with odd claims. */
static char *hand_signed(const dn_jwt_keys_t *ks, const char *claims_json, const char *sig_suffix)
{
    char header[256], h64[512], c64[2048], s64[128], *out = malloc(4096);
    snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", ks->keys[0].kid);
    sodium_bin2base64(h64, sizeof h64, (const unsigned char *)header, strlen(header),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_bin2base64(c64, sizeof c64, (const unsigned char *)claims_json, strlen(claims_json),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, 4096, "%s.%s", h64, c64);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, ks->keys[0].key, ks->keys[0].len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)out, strlen(out));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(s64, sizeof s64, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out + strlen(out), 4096 - strlen(out), ".%s%s", s64, sig_suffix);
    return out;
}

/* The hand-written verification (jwt.c) against what libjwt used to check. */
Test(jwt, hand_signed_claims_are_checked)
{
    cr_assert_geq(sodium_init(), 0);
    dn_jwt_keys_t ks = keys_with(3);
    dn_principal_t out;
    int64_t iat = -1;
    struct {
        const char *claims, *suffix;
        int rc;
    } cases[] = {
        {"{\"sub\":\"42\",\"exp\":2000,\"iat\":900,\"tv\":3,\"roles\":[[7,\"teacher\"]]}", "", 0},
        {"{\"sub\":\"42\",\"exp\":2000,\"roles\":[]}", "", 0},                       /* no tv, no iat */
        {"{\"sub\":\"42\",\"exp\":2000,\"roles\":[]}", ".x", DN_EUNAUTH},            /* a fourth part */
        {"{\"sub\":\"42\",\"exp\":2000,\"roles\":[]}", "AA", DN_EUNAUTH},            /* signature too long */
        {"{\"sub\":\"42\",\"exp\":\"2000\",\"roles\":[]}", "", DN_EUNAUTH},         /* exp a string */
        {"{\"sub\":\"42\",\"roles\":[]}", "", DN_EUNAUTH},                             /* no exp */
        {"{\"sub\":\"42\",\"exp\":1000,\"roles\":[]}", "", DN_EUNAUTH},              /* exp == now */
        {"{\"sub\":42,\"exp\":2000,\"roles\":[]}", "", DN_EUNAUTH},                    /* sub a number */
        {"{\"sub\":\"42x\",\"exp\":2000,\"roles\":[]}", "", DN_EUNAUTH},
        {"{\"sub\":\"0\",\"exp\":2000,\"roles\":[]}", "", DN_EUNAUTH},
        {"{\"sub\":\"42\",\"exp\":2000,\"tv\":-1,\"roles\":[]}", "", DN_EUNAUTH},
        {"{\"sub\":\"42\",\"exp\":2000,\"tv\":\"1\",\"roles\":[]}", "", DN_EUNAUTH},
        {"{\"sub\":\"42\",\"exp\":2000,\"iat\":\"x\",\"roles\":[]}", "", DN_EUNAUTH},
        {"{\"sub\":\"42\",\"exp\":2000}", "", DN_EUNAUTH},                             /* no roles */
        {"{\"sub\":\"42\",\"exp\":2000,\"roles\":[[7,\"king\"]]}", "", DN_EUNAUTH},
        {"{\"sub\":\"42\",\"exp\":2000,\"roles\":[[\"7\",\"admin\"]]}", "", DN_EUNAUTH},
        {"[1,2]", "", DN_EUNAUTH},
        {"not json", "", DN_EUNAUTH},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *tok = hand_signed(&ks, cases[i].claims, cases[i].suffix);
        cr_assert_eq(dn_jwt_verify_claims(&ks, tok, 1000, &out, &iat), cases[i].rc, "case %zu: %s", i, cases[i].claims);
        free(tok);
    }
    char *tok = hand_signed(&ks, cases[0].claims, "");
    cr_assert_eq(dn_jwt_verify_claims(&ks, tok, 1000, &out, &iat), 0);
    cr_assert_eq(out.user_id, 42);
    cr_assert_eq(out.token_version, 3);
    cr_assert_eq(iat, 900);
    cr_assert(dn_principal_has(&out, DN_ROLE_TEACHER, 7));
    dn_jwt_keys_t other = keys_with(4);
    cr_assert_eq(dn_jwt_verify(&other, tok, 1000, &out), DN_EUNAUTH, "another key set");
    free(tok);
}

Test(jwt, wrong_kid_is_rejected_and_rotation_keeps_old_keys)
{
    dn_jwt_keys_t a = keys_with(1), b = keys_with(2);
    dn_principal_t p = sample(), out;
    char *tok = NULL;
    cr_assert_str_neq(a.keys[0].kid, b.keys[0].kid);
    cr_assert_eq(dn_jwt_sign(&a, &p, 1000, 900, &tok), 0);
    cr_assert_eq(dn_jwt_verify(&b, tok, 1000, &out), DN_EUNAUTH);
    /* A keyset that signs with b but still knows a accepts the old token. */
    unsigned char ka[32];
    memset(ka, 1, sizeof(ka));
    cr_assert_eq(dn_jwt_keys_add(&b, ka, sizeof(ka)), 0);
    cr_assert_eq(dn_jwt_verify(&b, tok, 1000, &out), 0);
    free(tok);
}

Test(jwt, named_kids_rotate_and_retire)
{
    unsigned char a[32], b[32];
    memset(a, 3, sizeof(a));
    memset(b, 4, sizeof(b));
    dn_jwt_keys_t old = {0}, rotated = {0}, retired = {0};
    cr_assert_eq(dn_jwt_keys_add_kid(&old, "2025-09", a, sizeof(a)), 0);
    cr_assert_eq(dn_jwt_keys_add_kid(&rotated, "2026-01", b, sizeof(b)), 0);
    cr_assert_eq(dn_jwt_keys_add_kid(&rotated, "2025-09", a, sizeof(a)), 0);
    cr_assert_eq(dn_jwt_keys_add_kid(&retired, "2026-01", b, sizeof(b)), 0);
    dn_principal_t p = sample(), out;
    char *t_old = NULL, *t_new = NULL;
    cr_assert_eq(dn_jwt_sign(&old, &p, 1000, 900, &t_old), 0);
    cr_assert_eq(dn_jwt_sign(&rotated, &p, 1000, 900, &t_new), 0);
    cr_assert_eq(dn_jwt_verify(&rotated, t_old, 1001, &out), 0, "old token verifies after rotation");
    cr_assert_eq(dn_jwt_verify(&rotated, t_old, 1900, &out), DN_EUNAUTH, "but not after it expired");
    cr_assert_eq(dn_jwt_verify(&retired, t_old, 1001, &out), DN_EUNAUTH, "retired key: unknown kid");
    cr_assert_eq(dn_jwt_verify(&old, t_new, 1001, &out), DN_EUNAUTH, "new kid unknown to the old set");
    cr_assert_eq(dn_jwt_verify(&retired, t_new, 1001, &out), 0);
    cr_assert(strstr(t_new, ".") != NULL);
    free(t_old);
    free(t_new);
}

Test(jwt, token_version_claim_round_trips)
{
    dn_jwt_keys_t ks = keys_with(5);
    dn_principal_t p = sample(), out;
    p.token_version = 7;
    char *tok = NULL;
    cr_assert_eq(dn_jwt_sign(&ks, &p, 1000, 900, &tok), 0);
    cr_assert_eq(dn_jwt_verify(&ks, tok, 1001, &out), 0);
    cr_assert_eq(out.token_version, 7);
    free(tok);
}

Test(jwt, kid_and_key_validation)
{
    unsigned char k[DN_JWT_KEY_MAX], a[32] = {0};
    size_t len = 0;
    dn_jwt_keys_t ks = {0};
    cr_assert_eq(dn_jwt_keys_add_kid(&ks, "", a, sizeof(a)), DN_EINVAL);
    cr_assert_eq(dn_jwt_keys_add_kid(&ks, "bad kid", a, sizeof(a)), DN_EINVAL);
    cr_assert_eq(dn_jwt_keys_add_kid(&ks, "k\"1", a, sizeof(a)), DN_EINVAL);
    cr_assert_eq(dn_jwt_keys_add_kid(&ks, "0123456789012345678901234567890123", a, sizeof(a)), DN_EINVAL);
    cr_assert_eq(dn_jwt_keys_add_kid(&ks, "ok", a, 15), DN_EINVAL);
    cr_assert_eq(dn_jwt_keys_add_kid(&ks, "ok", a, sizeof(a)), 0);
    cr_assert_eq(dn_jwt_keys_add_kid(&ks, "ok", a, sizeof(a)), DN_EINVAL, "a kid names one key");
    for (int i = 1; i < DN_JWT_MAX_KEYS; i++) {
        char kid[8];
        snprintf(kid, sizeof(kid), "k%d", i);
        cr_assert_eq(dn_jwt_keys_add_kid(&ks, kid, a, sizeof(a)), 0);
    }
    cr_assert_eq(dn_jwt_keys_add_kid(&ks, "full", a, sizeof(a)), DN_EINVAL);
    cr_assert_eq(dn_jwt_key_decode("00112233445566778899aabbccddeeff", k, &len), 0);
    cr_assert_eq(len, 16);
    cr_assert_eq(dn_jwt_key_decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", k, &len), 0);
    cr_assert_eq(len, 32);
    cr_assert_eq(k[31], 31);
    cr_assert_eq(dn_jwt_key_decode("short", k, &len), DN_EINVAL);
    cr_assert_eq(dn_jwt_key_decode("00112233", k, &len), DN_EINVAL);
}

Test(password, hash_and_verify)
{
    char h[256];
    cr_assert_eq(dn_password_hash("correct horse", h, sizeof(h)), 0);
    cr_assert(strncmp(h, "$argon2id$", 10) == 0, "%s", h);
    cr_assert(strstr(h, "m=19456,t=2,p=1") != NULL, "OWASP minimum parameters: %s", h);
    cr_assert_eq(dn_password_verify(h, "correct horse"), 0);
    cr_assert_eq(dn_password_verify(h, "correct horsf"), DN_EUNAUTH);
    cr_assert_eq(dn_password_verify("not a hash", "x"), DN_EUNAUTH);
    cr_assert_eq(dn_password_needs_rehash(h), 0);
    char h2[256];
    cr_assert_eq(dn_password_hash("correct horse", h2, sizeof(h2)), 0);
    cr_assert_str_neq(h, h2, "salted: equal passwords give different hashes");
    cr_assert_eq(dn_password_hash("x", h2, 10), DN_EINVAL);
}
