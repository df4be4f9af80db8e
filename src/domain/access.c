/*
 * access.c - the one place that decides who may do what (see access.h).
 *
 * Deny by default: every branch that is not an explicit grant ends in
 * DN_EFORBIDDEN. A grant needs (1) a role of the caller in the resource's
 * school and (2) every id in the resource to belong to that same school, so a
 * caller can never reach into another school by mixing ids. Sysadmin is the
 * only role that is school-independent. Store failures are returned as their
 * own negative codes, never turned into a grant.
 */
#include "domain/access.h"

#include "core/error.h"

static dn_query_t q_class_school = {"SELECT school_id FROM classes WHERE id = ?"};
static dn_query_t q_subject_school = {"SELECT school_id FROM subjects WHERE id = ?"};
static dn_query_t q_student_role = {
    "SELECT 1 FROM user_roles WHERE user_id = ? AND school_id = ? AND role = 'student'"};
static dn_query_t q_student_class_in_school = {
    "SELECT 1 FROM class_students cs JOIN classes c ON c.id = cs.class_id "
    "WHERE cs.student_id = ? AND c.school_id = ? AND cs.to_date IS NULL LIMIT 1"};
static dn_query_t q_teaches_class = {"SELECT 1 FROM assignments WHERE teacher_id = ? AND class_id = ? LIMIT 1"};
static dn_query_t q_class_teacher = {"SELECT 1 FROM classes WHERE id = ? AND class_teacher_id = ?"};
static dn_query_t q_assigned = {
    "SELECT 1 FROM assignments WHERE teacher_id = ? AND class_id = ? AND subject_id = ? LIMIT 1"};
static dn_query_t q_in_class = {
    "SELECT 1 FROM class_students WHERE student_id = ? AND class_id = ? AND to_date IS NULL LIMIT 1"};
static dn_query_t q_child_in_class = {
    "SELECT 1 FROM parent_links pl JOIN class_students cs ON cs.student_id = pl.student_id "
    "WHERE pl.parent_id = ? AND cs.class_id = ? AND cs.to_date IS NULL LIMIT 1"};
static dn_query_t q_parent_of = {"SELECT 1 FROM parent_links WHERE parent_id = ? AND student_id = ?"};
static dn_query_t q_class_teacher_of_student = {
    "SELECT 1 FROM class_students cs JOIN classes c ON c.id = cs.class_id "
    "WHERE cs.student_id = ? AND cs.to_date IS NULL AND c.class_teacher_id = ? AND c.school_id = ? LIMIT 1"};

static dn_query_t q_person_roles = {"SELECT school_id FROM user_roles WHERE user_id = ?"};

/* Step st past its last row: SQLite holds a read transaction while a
 * statement is unfinished, which would make a later write on this
 * connection fail with "busy". */
static void finish(dn_stmt_t *st)
{
    while (dn_stmt_step(st) == DN_DB_ROW)
        ;
}

/* Run q with n int64 parameters: 1 when it yields a row, 0 when not, <0 on error. */
static int exists(dn_db_t *db, dn_query_t *q, int n, const int64_t *args)
{
    dn_stmt_t *st = dn_db_prepare(db, q);
    if (st == NULL) {
        int code = dn_db_errcode(db);
        return code < 0 ? code : DN_EDB;
    }
    for (int i = 0; i < n; i++)
        if (dn_stmt_bind_int64(st, i + 1, args[i]) != 0)
            return DN_EDB;
    int rc = dn_stmt_step(st);
    if (rc < 0)
        return rc;
    if (rc == DN_DB_ROW)
        finish(st);
    return rc == DN_DB_ROW;
}

#define EXISTS(db, q, ...) exists((db), (q), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
                                  (int64_t[]){__VA_ARGS__})

/* The school of a row looked up by id: 0 and *school_id, or DN_ENOTFOUND. */
static int school_of(dn_db_t *db, dn_query_t *q, int64_t id, int64_t *school_id)
{
    dn_stmt_t *st = dn_db_prepare(db, q);
    if (st == NULL) {
        int code = dn_db_errcode(db);
        return code < 0 ? code : DN_EDB;
    }
    if (dn_stmt_bind_int64(st, 1, id) != 0)
        return DN_EDB;
    int rc = dn_stmt_step_one(st);
    if (rc != 0)
        return rc;
    *school_id = dn_stmt_int64(st, 0);
    finish(st);
    return 0;
}

int dn_access_class_school(dn_db_t *db, int64_t class_id, int64_t *school_id)
{
    return school_of(db, &q_class_school, class_id, school_id);
}

/* 1 when the row id (class or subject) belongs to school, 0 when not or absent. */
static int belongs(dn_db_t *db, dn_query_t *q, int64_t id, int64_t school)
{
    int64_t s = 0;
    int rc = school_of(db, q, id, &s);
    if (rc == DN_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    return s == school;
}

/* A student belongs to a school by role there or by a current class there. */
static int student_in_school(dn_db_t *db, int64_t student, int64_t school)
{
    int rc = EXISTS(db, &q_student_role, student, school);
    if (rc != 0)
        return rc;
    return EXISTS(db, &q_student_class_in_school, student, school);
}

/* Check that every id act uses is present and lies in res->school_id. 1 ok, 0 deny, <0 error. */
static int resource_consistent(dn_db_t *db, dn_action_t act, const dn_resource_t *res)
{
    int rc;
    int need_class = act == DN_ACT_READ_CLASS || act == DN_ACT_READ_JOURNAL || act == DN_ACT_WRITE_JOURNAL ||
                     act == DN_ACT_SUBMIT_WORK;
    int need_subject = act == DN_ACT_READ_JOURNAL || act == DN_ACT_WRITE_JOURNAL;
    int need_student = act == DN_ACT_READ_STUDENT || act == DN_ACT_SUBMIT_WORK;

    if (need_class && res->class_id <= 0)
        return 0;
    if (need_subject && res->subject_id <= 0)
        return 0;
    if (need_student && res->student_id <= 0)
        return 0;
    /* Ids given even where the action does not need them must still be in the school. */
    if (res->class_id > 0 && (rc = belongs(db, &q_class_school, res->class_id, res->school_id)) != 1)
        return rc;
    if (res->subject_id > 0 && (rc = belongs(db, &q_subject_school, res->subject_id, res->school_id)) != 1)
        return rc;
    if (res->student_id > 0 && (rc = student_in_school(db, res->student_id, res->school_id)) != 1)
        return rc;
    return 1;
}

/* Grants of the non-admin roles; 1 granted, 0 not, <0 error. */
static int member_grants(dn_db_t *db, const dn_principal_t *p, dn_action_t act, const dn_resource_t *res)
{
    int64_t me = p->user_id, school = res->school_id;
    int teacher = dn_principal_has(p, DN_ROLE_TEACHER, school);
    int student = dn_principal_has(p, DN_ROLE_STUDENT, school);
    int parent = dn_principal_has(p, DN_ROLE_PARENT, school);
    int rc;

    switch (act) {
    case DN_ACT_READ_SCHOOL:
        return teacher || student || parent;
    case DN_ACT_READ_CLASS:
        if (teacher) {
            if ((rc = EXISTS(db, &q_teaches_class, me, res->class_id)) != 0)
                return rc;
            if ((rc = EXISTS(db, &q_class_teacher, res->class_id, me)) != 0)
                return rc;
        }
        if (student && (rc = EXISTS(db, &q_in_class, me, res->class_id)) != 0)
            return rc;
        if (parent && (rc = EXISTS(db, &q_child_in_class, me, res->class_id)) != 0)
            return rc;
        return 0;
    case DN_ACT_READ_JOURNAL:
        if (!teacher)
            return 0;
        if ((rc = EXISTS(db, &q_assigned, me, res->class_id, res->subject_id)) != 0)
            return rc;
        return EXISTS(db, &q_class_teacher, res->class_id, me);
    case DN_ACT_WRITE_JOURNAL:
        return teacher ? EXISTS(db, &q_assigned, me, res->class_id, res->subject_id) : 0;
    case DN_ACT_READ_STUDENT:
        if (student && res->student_id == me)
            return 1;
        if (parent && (rc = EXISTS(db, &q_parent_of, me, res->student_id)) != 0)
            return rc;
        if (teacher)
            return EXISTS(db, &q_class_teacher_of_student, res->student_id, me, school);
        return 0;
    case DN_ACT_SUBMIT_WORK:
        if (!student || res->student_id != me)
            return 0;
        return EXISTS(db, &q_in_class, me, res->class_id);
    default: /* ADMIN_SCHOOL, OVERRIDE_CLOSED, SYSADMIN, unknown: not for members */
        return 0;
    }
}

/*
 * Personal-data actions are about a person, not a school: the person's
 * schools come from their roles. A school admin's reach is the schools they
 * administer: export needs one school of the person among them; anonymise
 * (which changes the one global account) needs all of them, so an admin of
 * one school cannot erase a person another school still serves. A teacher
 * role grants nothing here: the journal already shows teachers what they
 * need. 0 granted, DN_EFORBIDDEN, or a store code.
 */
static int person_check(dn_db_t *db, const dn_principal_t *p, dn_action_t act, const dn_resource_t *res)
{
    int64_t me = p->user_id, target = res == NULL ? 0 : res->user_id;
    int rc;
    if (target <= 0)
        return DN_EFORBIDDEN;
    if (act == DN_ACT_ANONYMISE_PERSON && target == me)
        return DN_EFORBIDDEN; /* nobody erases their own account through the API */
    if (dn_principal_is_sysadmin(p))
        return 0;
    if (act == DN_ACT_EXPORT_PERSON) {
        if (target == me)
            return 0;
        if ((rc = EXISTS(db, &q_parent_of, me, target)) != 0)
            return rc < 0 ? rc : 0;
    }
    dn_stmt_t *st = dn_db_prepare(db, &q_person_roles);
    if (st == NULL) {
        int code = dn_db_errcode(db);
        return code < 0 ? code : DN_EDB;
    }
    if (dn_stmt_bind_int64(st, 1, target) != 0)
        return DN_EDB;
    int any = 0, admin_of_one = 0, admin_of_all = 1;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW) {
        int64_t school = dn_stmt_int64(st, 0);
        any = 1;
        if (school > 0 && dn_principal_has(p, DN_ROLE_ADMIN, school))
            admin_of_one = 1;
        else
            admin_of_all = 0;
    }
    if (rc < 0)
        return rc;
    if (act == DN_ACT_EXPORT_PERSON)
        return admin_of_one ? 0 : DN_EFORBIDDEN;
    return any && admin_of_all ? 0 : DN_EFORBIDDEN;
}

int dn_access_check(dn_db_t *db, const dn_principal_t *p, dn_action_t act, const dn_resource_t *res)
{
    if (p == NULL)
        return DN_EUNAUTH;
    if (act == DN_ACT_EXPORT_PERSON || act == DN_ACT_ANONYMISE_PERSON)
        return person_check(db, p, act, res);
    /* Handing in work is personal: no administrative role does it for a student. */
    int personal = act == DN_ACT_SUBMIT_WORK;
    if (dn_principal_is_sysadmin(p) && !personal)
        return 0;
    if (act == DN_ACT_SYSADMIN || res == NULL || res->school_id <= 0)
        return DN_EFORBIDDEN;
    if (act < DN_ACT_READ_SCHOOL || act > DN_ACT_SYSADMIN)
        return DN_EFORBIDDEN;

    int admin = dn_principal_has(p, DN_ROLE_ADMIN, res->school_id);
    if (!admin && !dn_principal_has(p, DN_ROLE_TEACHER, res->school_id) &&
        !dn_principal_has(p, DN_ROLE_STUDENT, res->school_id) && !dn_principal_has(p, DN_ROLE_PARENT, res->school_id))
        return DN_EFORBIDDEN; /* no role in this school: nothing to see, no lookups needed */

    int rc = resource_consistent(db, act, res);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return DN_EFORBIDDEN;
    if (admin && !personal)
        return 0;
    rc = member_grants(db, p, act, res);
    if (rc < 0)
        return rc;
    return rc ? 0 : DN_EFORBIDDEN;
}
