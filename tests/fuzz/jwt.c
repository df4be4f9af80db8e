/*
 * jwt.c - libFuzzer harness: access token parsing and verification
 * (src/auth/jwt.c) with a keyset of two keys (the signing one and an old one).
 *
 * Byte 0 picks the mode:
 *   0  the rest is a raw token (whatever a client sends after "Bearer ");
 *   1  the rest is "header-json\npayload-json": the harness signs them with
 *      the old key (HMAC-SHA256, libsodium), the literal KID0 / KID1 in the
 *      header becoming the real key ids, so the fuzzer reaches the claim
 *      checks behind the signature;
 *   2  the rest seeds a principal that is signed with dn_jwt_sign and must
 *      verify back to the same user and roles.
 * Invariant: an accepted token names a positive user and valid roles.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/error.h"

static dn_jwt_keys_t keys;
static const int64_t now = 1795000000; /* fixed: a crash reproduces at any date */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    if (dn_jwt_keys_add(&keys, (const unsigned char *)"fuzz-signing-key-0123456789", 27) != 0 ||
        dn_jwt_keys_add(&keys, (const unsigned char *)"an-older-fuzz-key-kept-to-verify", 32) != 0)
        abort();
    return 0;
}

static void check_principal(const dn_principal_t *p)
{
    if (p->user_id <= 0 || p->nroles < 0 || p->nroles > DN_MAX_PRINCIPAL_ROLES)
        abort();
    for (int i = 0; i < p->nroles; i++)
        if (dn_role_name(p->roles[i].role) == NULL)
            abort();
}

static void verify(const char *token)
{
    dn_principal_t p;
    memset(&p, 0, sizeof p);
    int rc = dn_jwt_verify(&keys, token, now, &p);
    if (rc == 0)
        check_principal(&p);
    else if (rc != DN_EUNAUTH)
        abort();
}

/* base64url without padding of n bytes appended at out (cap enough) */
static size_t b64(char *out, const void *in, size_t n)
{
    sodium_bin2base64(out, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING), in, n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

/* Replace every "KID0"/"KID1" by the key ids; out has room (kid is 16 chars). */
static size_t with_kids(char *out, const char *in, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 4 <= n && memcmp(in + i, "KID", 3) == 0 && (in[i + 3] == '0' || in[i + 3] == '1')) {
            const char *kid = keys.keys[in[i + 3] - '0'].kid;
            memcpy(out + o, kid, strlen(kid));
            o += strlen(kid);
            i += 4;
        } else {
            out[o++] = in[i++];
        }
    }
    return o;
}

static void signed_mode(const char *s, size_t n)
{
    const char *nl = memchr(s, '\n', n);
    size_t hn = nl ? (size_t)(nl - s) : n;
    const char *pl = nl ? nl + 1 : "";
    size_t pn = nl ? n - hn - 1 : 0;
    char *hdr = malloc(hn * 4 + 1);
    size_t hlen = with_kids(hdr, s, hn);
    size_t cap = (hlen + pn) * 2 + 128;
    char *tok = malloc(cap);
    size_t t = b64(tok, hdr, hlen);
    tok[t++] = '.';
    t += b64(tok + t, pl, pn);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, keys.keys[1].key, keys.keys[1].len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, t);
    crypto_auth_hmacsha256_final(&st, mac);
    tok[t++] = '.';
    t += b64(tok + t, mac, sizeof mac);
    tok[t] = '\0';
    verify(tok);
    free(tok);
    free(hdr);
}

static void roundtrip(const uint8_t *d, size_t n)
{
    dn_principal_t p, back;
    memset(&p, 0, sizeof p);
    uint64_t uid = 0;
    for (size_t i = 0; i < n && i < 8; i++)
        uid = (uid << 8) | d[i];
    p.user_id = (int64_t)(uid & 0x3fffffffffffffffULL); /* ids are positive int64 */
    if (p.user_id <= 0)
        p.user_id = 1;
    for (size_t i = 8; i + 1 < n && p.nroles < DN_MAX_PRINCIPAL_ROLES; i += 2) {
        p.roles[p.nroles].school_id = d[i];
        p.roles[p.nroles].role = (dn_role_t)(1 + d[i + 1] % 5);
        p.nroles++;
    }
    char *tok = NULL;
    if (dn_jwt_sign(&keys, &p, now, 60, &tok) != 0)
        abort();
    memset(&back, 0, sizeof back);
    if (dn_jwt_verify(&keys, tok, now, &back) != 0 || back.user_id != p.user_id || back.nroles != p.nroles)
        abort();
    for (int i = 0; i < p.nroles; i++)
        if (back.roles[i].role != p.roles[i].role || back.roles[i].school_id != p.roles[i].school_id)
            abort();
    if (dn_jwt_verify(&keys, tok, now + 61, &back) != DN_EUNAUTH) /* expired */
        abort();
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0: {
        char *tok = malloc(n + 1);
        memcpy(tok, rest, n);
        tok[n] = '\0';
        verify(tok);
        free(tok);
        break;
    }
    case 1:
        signed_mode(rest, n);
        break;
    default:
        roundtrip(data + 1, n);
    }
    return 0;
}
