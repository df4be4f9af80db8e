/* Access tokens: round trip, expiry, tampering, unknown key id, password hashing. */
#include <criterion/criterion.h>
#include <sodium.h>
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
