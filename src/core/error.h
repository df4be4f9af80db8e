/*
 * error.h - the one table of dnevnik error codes.
 *
 * Every internal function returns int: 0 on success, a negative DN_E* code on
 * failure (libuv's convention). The X-macro generates both the enum and the
 * text, so a new code cannot be added without a description. Only src/http
 * maps codes to HTTP statuses (dn_error_http_status).
 */
#ifndef DN_CORE_ERROR_H
#define DN_CORE_ERROR_H

#define DN_ERRNO_MAP(XX)                                                        \
    XX(EINVAL, "invalid argument", 400)                                         \
    XX(ENOMEM, "out of memory", 500)                                            \
    XX(ENOTFOUND, "not found", 404)                                             \
    XX(EEXIST, "already exists", 409)                                           \
    XX(ECONFLICT, "conflicts with the current state", 409)                      \
    XX(EFORBIDDEN, "forbidden", 403)                                            \
    XX(EUNAUTH, "authentication required", 401)                                 \
    XX(EVALIDATION, "validation failed", 422)                                   \
    XX(ETOOBIG, "too large", 413)                                               \
    XX(ERATELIMIT, "too many requests", 429)                                    \
    XX(EBUSY, "store busy, retry", 503)                                         \
    XX(EUNAVAIL, "service unavailable", 503)                                    \
    XX(EDB, "database error", 500)                                              \
    XX(EIO, "i/o error", 500)                                                   \
    XX(ESCHEMA, "database schema is newer than this binary", 500)               \
    XX(EINTERNAL, "internal error", 500)

typedef enum {
    DN_OK = 0,
#define DN__ERR_ENUM(name, text, status) DN_##name,
    DN__ERR_FIRST = -100,
    DN_ERRNO_MAP(DN__ERR_ENUM)
#undef DN__ERR_ENUM
    DN__ERR_LAST
} dn_err_t;

/** Human-readable text of an error code (static storage). */
const char *dn_strerror(int err);
/** HTTP status that an error code maps to when it reaches a client. */
int dn_error_http_status(int err);

#endif
