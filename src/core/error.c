/* error.c - text and HTTP status of the codes in error.h. */
#include "core/error.h"

const char *dn_strerror(int err)
{
    switch (err) {
    case DN_OK:
        return "ok";
#define DN__ERR_TEXT(name, text, status) case DN_##name: return text;
        DN_ERRNO_MAP(DN__ERR_TEXT)
#undef DN__ERR_TEXT
    default:
        return "unknown error";
    }
}

int dn_error_http_status(int err)
{
    switch (err) {
    case DN_OK:
        return 200;
#define DN__ERR_STATUS(name, text, status) case DN_##name: return status;
        DN_ERRNO_MAP(DN__ERR_STATUS)
#undef DN__ERR_STATUS
    default:
        return 500;
    }
}
