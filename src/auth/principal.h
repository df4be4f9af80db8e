/*
 * principal.h - who a caller is: a user and their roles per school.
 *
 * Plain data with no HTTP in it, so the domain layer (access control) can use
 * it without depending on the HTTP glue. Built from a verified access token
 * by auth.c or loaded from the store.
 */
#ifndef DN_AUTH_PRINCIPAL_H
#define DN_AUTH_PRINCIPAL_H

#include <stdint.h>

typedef enum {
    DN_ROLE_STUDENT = 1,
    DN_ROLE_PARENT = 2,
    DN_ROLE_TEACHER = 3,
    DN_ROLE_ADMIN = 4,    /* school admin */
    DN_ROLE_SYSADMIN = 5, /* school_id 0: every school */
} dn_role_t;

#define DN_MAX_PRINCIPAL_ROLES 16

typedef struct dn_principal {
    int64_t user_id;
    int64_t token_version; /* users.token_version when the token was issued ("tv"); bumped by block/password change */
    int nroles;
    struct {
        int64_t school_id;
        dn_role_t role;
    } roles[DN_MAX_PRINCIPAL_ROLES];
} dn_principal_t;

/** Role name <-> enum ("student", ...); 0 / NULL when unknown. */
dn_role_t dn_role_parse(const char *name);
const char *dn_role_name(dn_role_t role);
/** True when p holds role in school_id (sysadmin holds every role nowhere: check it separately). */
int dn_principal_has(const dn_principal_t *p, dn_role_t role, int64_t school_id);
int dn_principal_is_sysadmin(const dn_principal_t *p);

#endif
