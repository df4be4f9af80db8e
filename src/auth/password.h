/*
 * password.h - argon2id password hashing (libsodium).
 *
 * Slow on purpose (tens of milliseconds): call it only on the CPU pool or
 * from command-line tools, never on an event loop or while a store worker
 * waits.
 */
#ifndef DN_AUTH_PASSWORD_H
#define DN_AUTH_PASSWORD_H

#include <stddef.h>

/** Hash a password with argon2id (slow: CPU pool or CLI only). 0 or DN_ENOMEM. out >= 128 bytes. */
int dn_password_hash(const char *password, char *out, size_t outlen);
/** 0 when password matches hash, DN_EUNAUTH otherwise. Slow, as above. */
int dn_password_verify(const char *hash, const char *password);

/** True when hash was made with weaker parameters than today's (rehash after a successful login). */
int dn_password_needs_rehash(const char *hash);

#endif
