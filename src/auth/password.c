/*
 * password.c - argon2id password hashes (libsodium).
 *
 * Parameters are at least OWASP's minimum for argon2id (19 MiB, t=2, p=1);
 * the encoded string carries them, so raising them later keeps old hashes
 * verifiable. Both calls are deliberately slow: run them on the CPU pool.
 */
#include <sodium.h>
#include <string.h>

#include "auth/auth.h"
#include "core/error.h"

#define DN_PW_OPSLIMIT 2ULL
#define DN_PW_MEMLIMIT ((size_t)19 * 1024 * 1024)

int dn_password_hash(const char *password, char *out, size_t outlen)
{
    if (password == NULL || outlen < crypto_pwhash_STRBYTES)
        return DN_EINVAL;
    if (sodium_init() < 0)
        return DN_EINTERNAL;
    if (crypto_pwhash_str_alg(out, password, strlen(password), DN_PW_OPSLIMIT, DN_PW_MEMLIMIT,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return DN_ENOMEM; /* libsodium fails only when it cannot get the memory */
    return 0;
}

int dn_password_verify(const char *hash, const char *password)
{
    if (hash == NULL || password == NULL)
        return DN_EUNAUTH;
    if (sodium_init() < 0)
        return DN_EINTERNAL;
    if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
        return DN_EUNAUTH;
    return 0;
}

int dn_password_needs_rehash(const char *hash)
{
    return crypto_pwhash_str_needs_rehash(hash, DN_PW_OPSLIMIT, DN_PW_MEMLIMIT) != 0;
}
