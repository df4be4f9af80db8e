/*
 * access.h - who may see or change what: the one place access is decided.
 *
 * Deny by default. Every API handler asks dn_access_check() before it reads
 * or writes anything that belongs to a school; no handler decides access on
 * its own. The rules (see docs/access.md and the matrix test):
 *   - sysadmin: everything; school admin: everything inside their school;
 *     except handing in work, which only the student themself does;
 *   - teacher: reads a class's timetable and list if they teach it or are its
 *     class teacher; reads the journal of (class, subject) if assigned to it or
 *     class teacher of the class; writes marks, attendance, homework and
 *     checkpoints only for a (class, subject) they are assigned to;
 *     reads a student's diary only as class teacher of the student's class;
 *   - student: reads their own diary and their current class's timetable;
 *     submits work for themselves to checkpoints of their class;
 *   - parent: reads the diaries of their linked children and their classes'
 *     timetables;
 *   - nobody sees anything of a school where they hold no role;
 *   - personal data (152-FZ, see docs/privacy.md): EXPORT_PERSON for the
 *     person themself, a parent linked to them, an admin of a school where
 *     they hold a role, the sysadmin - never a teacher as such;
 *     ANONYMISE_PERSON for the sysadmin, or a school admin who is admin of
 *     EVERY school where the person holds a role (the account is global);
 *     never for oneself.
 */
#ifndef DN_DOMAIN_ACCESS_H
#define DN_DOMAIN_ACCESS_H

#include <stdint.h>

#include "auth/principal.h"
#include "store/db.h"

typedef enum {
    DN_ACT_READ_SCHOOL = 1,   /* school-wide reference data: subjects, terms (any member) */
    DN_ACT_ADMIN_SCHOOL,      /* set-up: classes, subjects, people, timetable, import */
    DN_ACT_READ_CLASS,        /* class list and timetable (class_id) */
    DN_ACT_READ_JOURNAL,      /* class journal of (class_id, subject_id) */
    DN_ACT_WRITE_JOURNAL,     /* marks, attendance, topic/homework, checkpoints (class_id, subject_id) */
    DN_ACT_READ_STUDENT,      /* a student's diary, marks, attendance, works (student_id) */
    DN_ACT_SUBMIT_WORK,       /* hand in work (student_id = caller, class_id of the checkpoint) */
    DN_ACT_OVERRIDE_CLOSED,   /* change marks of a closed term (school admin) */
    DN_ACT_SYSADMIN,          /* regions, schools, first admins */
    DN_ACT_EXPORT_PERSON,     /* 152-FZ export of everything held about a person (user_id) */
    DN_ACT_ANONYMISE_PERSON,  /* 152-FZ anonymisation of a person who left (user_id) */
} dn_action_t;

typedef struct dn_resource {
    int64_t school_id;  /* required for every action but SYSADMIN */
    int64_t class_id;   /* READ_CLASS, READ/WRITE_JOURNAL, SUBMIT_WORK */
    int64_t subject_id; /* READ/WRITE_JOURNAL */
    int64_t student_id; /* READ_STUDENT, SUBMIT_WORK */
    int64_t user_id;    /* EXPORT/ANONYMISE_PERSON: the person (any role); school_id is not used */
} dn_resource_t;

/**
 * 0 when p may do act on res; DN_EFORBIDDEN otherwise (DN_EUNAUTH when p is
 * NULL, a negative store code when a lookup failed). Looks up assignments,
 * class membership and parent links in db as needed.
 */
int dn_access_check(dn_db_t *db, const dn_principal_t *p, dn_action_t act, const dn_resource_t *res);

/** The school a class / student (current class) / lesson belongs to, for building a dn_resource_t. */
int dn_access_class_school(dn_db_t *db, int64_t class_id, int64_t *school_id);

#endif
