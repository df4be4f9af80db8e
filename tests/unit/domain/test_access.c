/*
 * The access matrix: every role against every action on a small fixture of
 * two schools, inserted with SQL into a fresh migrated SQLite store (and a
 * PostgreSQL database when DN_TEST_PG_URL is set).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/error.h"
#include "domain/access.h"
#include "store/migrate.h"

static dn_db_t *db;
static char path[64];

static const char *fixture =
    "INSERT INTO regions (id, name) VALUES (1, 'R');"
    "INSERT INTO schools (id, region_id, name, created_at) VALUES (1, 1, 'S1', 0), (2, 1, 'S2', 0);"
    "INSERT INTO users (id, login, password_hash, last_name, first_name, created_at) VALUES"
    " (1,'sys','x','a','b',0),(2,'adm1','x','a','b',0),(3,'teach','x','a','b',0),(4,'ct','x','a','b',0),"
    " (5,'stud','x','a','b',0),(6,'par','x','a','b',0),(7,'stud2','x','a','b',0),(8,'adm2','x','a','b',0),"
    " (9,'stud3','x','a','b',0),(10,'teach2','x','a','b',0),(11,'moved','x','a','b',0);"
    "INSERT INTO user_roles (user_id, school_id, role) VALUES (1,0,'sysadmin'),(2,1,'admin'),(3,1,'teacher'),"
    " (4,1,'teacher'),(5,1,'student'),(6,1,'parent'),(7,1,'student'),(8,2,'admin'),(9,2,'student'),"
    " (10,2,'teacher'),(11,1,'student');"
    "INSERT INTO classes (id, school_id, start_year, letter, class_teacher_id) VALUES"
    " (10,1,2020,'A',4),(11,1,2020,'B',NULL),(20,2,2020,'A',NULL);"
    "INSERT INTO class_students (class_id, student_id, from_date, to_date) VALUES"
    " (10,5,'2025-09-01',NULL),(11,7,'2025-09-01',NULL),(20,9,'2025-09-01',NULL),"
    " (10,11,'2025-09-01','2025-12-31'),(11,11,'2026-01-01',NULL);"
    "INSERT INTO parent_links (parent_id, student_id) VALUES (6,5);"
    "INSERT INTO subjects (id, school_id, name) VALUES (100,1,'Math'),(101,1,'Art'),(200,2,'Math');"
    "INSERT INTO assignments (school_id, teacher_id, class_id, subject_id) VALUES (1,3,10,100),(2,10,20,200);";

static void setup(void)
{
    char err[256] = "";
    int applied = 0;
    snprintf(path, sizeof(path), "/tmp/dn-access-%d.db", (int)getpid());
    unlink(path);
    char url[96];
    snprintf(url, sizeof(url), "sqlite:%s", path);
    cr_assert_eq(dn_db_open(url, &db, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(dn_migrate_up(db, &applied, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(dn_db_exec(db, fixture), 0, "%s", dn_db_errmsg(db));
}

static void teardown(void)
{
    dn_db_close(db);
    db = NULL;
    char p2[96];
    unlink(path);
    snprintf(p2, sizeof(p2), "%s-wal", path);
    unlink(p2);
    snprintf(p2, sizeof(p2), "%s-shm", path);
    unlink(p2);
}

static dn_principal_t who(int64_t uid, dn_role_t role, int64_t school)
{
    dn_principal_t p = {.user_id = uid, .nroles = 1};
    p.roles[0].role = role;
    p.roles[0].school_id = school;
    return p;
}

typedef struct {
    int line;
    int64_t uid;
    dn_role_t role;
    int64_t role_school;
    dn_action_t act;
    dn_resource_t res;
    int want; /* 0 or DN_EFORBIDDEN */
} row_t;

#define OK 0
#define NO DN_EFORBIDDEN
#define R(school, cls, subj, stud) {school, cls, subj, stud}

static const row_t matrix[] = {
    /* sysadmin: everything, everywhere */
    {__LINE__, 1, DN_ROLE_SYSADMIN, 0, DN_ACT_SYSADMIN, R(0, 0, 0, 0), OK},
    {__LINE__, 1, DN_ROLE_SYSADMIN, 0, DN_ACT_ADMIN_SCHOOL, R(2, 0, 0, 0), OK},
    {__LINE__, 1, DN_ROLE_SYSADMIN, 0, DN_ACT_OVERRIDE_CLOSED, R(1, 10, 100, 0), OK},
    /* handing in work is personal: not even the sysadmin or a school admin does it */
    {__LINE__, 1, DN_ROLE_SYSADMIN, 0, DN_ACT_SUBMIT_WORK, R(1, 10, 0, 1), NO},
    {__LINE__, 1, DN_ROLE_SYSADMIN, 0, DN_ACT_SUBMIT_WORK, R(1, 10, 0, 5), NO},
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_SUBMIT_WORK, R(1, 10, 0, 5), NO},
    /* school admin: all of their school, nothing of another */
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_READ_SCHOOL, R(1, 0, 0, 0), OK},
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_ADMIN_SCHOOL, R(1, 0, 0, 0), OK},
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_READ_CLASS, R(1, 11, 0, 0), OK},
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_READ_JOURNAL, R(1, 10, 101, 0), OK},
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_WRITE_JOURNAL, R(1, 10, 101, 0), OK},
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_READ_STUDENT, R(1, 0, 0, 7), OK},
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_OVERRIDE_CLOSED, R(1, 10, 100, 0), OK},
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_SYSADMIN, R(1, 0, 0, 0), NO},
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_ADMIN_SCHOOL, R(2, 0, 0, 0), NO},
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_READ_CLASS, R(1, 20, 0, 0), NO},      /* class of school 2 */
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_READ_JOURNAL, R(1, 10, 200, 0), NO},  /* subject of school 2 */
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_READ_STUDENT, R(1, 0, 0, 9), NO},     /* student of school 2 */
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_READ_CLASS, R(1, 999, 0, 0), NO},     /* no such class */
    {__LINE__, 2, DN_ROLE_ADMIN, 1, DN_ACT_READ_CLASS, R(0, 10, 0, 0), NO},      /* school missing */
    /* subject teacher of (10, Math) */
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_READ_SCHOOL, R(1, 0, 0, 0), OK},
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_ADMIN_SCHOOL, R(1, 0, 0, 0), NO},
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_READ_CLASS, R(1, 10, 0, 0), OK},
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_READ_CLASS, R(1, 11, 0, 0), NO},
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_READ_JOURNAL, R(1, 10, 100, 0), OK},
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_READ_JOURNAL, R(1, 10, 101, 0), NO},
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_WRITE_JOURNAL, R(1, 10, 100, 0), OK},
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_WRITE_JOURNAL, R(1, 10, 101, 0), NO},
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_WRITE_JOURNAL, R(1, 10, 0, 0), NO}, /* subject required */
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_READ_STUDENT, R(1, 0, 0, 5), NO},   /* not class teacher */
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_OVERRIDE_CLOSED, R(1, 10, 100, 0), NO},
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_SUBMIT_WORK, R(1, 10, 0, 5), NO},
    {__LINE__, 3, DN_ROLE_TEACHER, 1, DN_ACT_READ_CLASS, R(2, 20, 0, 0), NO},    /* other school */
    /* class teacher of 10, teaches nothing */
    {__LINE__, 4, DN_ROLE_TEACHER, 1, DN_ACT_READ_CLASS, R(1, 10, 0, 0), OK},
    {__LINE__, 4, DN_ROLE_TEACHER, 1, DN_ACT_READ_JOURNAL, R(1, 10, 101, 0), OK},
    {__LINE__, 4, DN_ROLE_TEACHER, 1, DN_ACT_WRITE_JOURNAL, R(1, 10, 100, 0), NO},
    {__LINE__, 4, DN_ROLE_TEACHER, 1, DN_ACT_READ_STUDENT, R(1, 0, 0, 5), OK},
    {__LINE__, 4, DN_ROLE_TEACHER, 1, DN_ACT_READ_STUDENT, R(1, 0, 0, 7), NO},
    {__LINE__, 4, DN_ROLE_TEACHER, 1, DN_ACT_READ_STUDENT, R(1, 0, 0, 11), NO},  /* left the class */
    {__LINE__, 4, DN_ROLE_TEACHER, 1, DN_ACT_READ_CLASS, R(1, 11, 0, 0), NO},
    /* student 5 of class 10 */
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_READ_SCHOOL, R(1, 0, 0, 0), OK},
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_READ_CLASS, R(1, 10, 0, 0), OK},
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_READ_CLASS, R(1, 11, 0, 0), NO},
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_READ_STUDENT, R(1, 0, 0, 5), OK},
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_READ_STUDENT, R(1, 0, 0, 7), NO},
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_SUBMIT_WORK, R(1, 10, 0, 5), OK},
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_SUBMIT_WORK, R(1, 11, 0, 5), NO},
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_SUBMIT_WORK, R(1, 10, 0, 7), NO},   /* for someone else */
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_READ_JOURNAL, R(1, 10, 100, 0), NO},
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_WRITE_JOURNAL, R(1, 10, 100, 0), NO},
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_ADMIN_SCHOOL, R(1, 0, 0, 0), NO},
    {__LINE__, 5, DN_ROLE_STUDENT, 1, DN_ACT_READ_SCHOOL, R(2, 0, 0, 0), NO},
    /* student 11 moved from 10 to 11 */
    {__LINE__, 11, DN_ROLE_STUDENT, 1, DN_ACT_READ_CLASS, R(1, 10, 0, 0), NO},
    {__LINE__, 11, DN_ROLE_STUDENT, 1, DN_ACT_READ_CLASS, R(1, 11, 0, 0), OK},
    {__LINE__, 11, DN_ROLE_STUDENT, 1, DN_ACT_SUBMIT_WORK, R(1, 10, 0, 11), NO},
    /* parent of 5 */
    {__LINE__, 6, DN_ROLE_PARENT, 1, DN_ACT_READ_SCHOOL, R(1, 0, 0, 0), OK},
    {__LINE__, 6, DN_ROLE_PARENT, 1, DN_ACT_READ_STUDENT, R(1, 0, 0, 5), OK},
    {__LINE__, 6, DN_ROLE_PARENT, 1, DN_ACT_READ_STUDENT, R(1, 0, 0, 7), NO},
    {__LINE__, 6, DN_ROLE_PARENT, 1, DN_ACT_READ_CLASS, R(1, 10, 0, 0), OK},
    {__LINE__, 6, DN_ROLE_PARENT, 1, DN_ACT_READ_CLASS, R(1, 11, 0, 0), NO},
    {__LINE__, 6, DN_ROLE_PARENT, 1, DN_ACT_SUBMIT_WORK, R(1, 10, 0, 5), NO},
    {__LINE__, 6, DN_ROLE_PARENT, 1, DN_ACT_READ_JOURNAL, R(1, 10, 100, 0), NO},
    {__LINE__, 6, DN_ROLE_PARENT, 1, DN_ACT_READ_STUDENT, R(2, 0, 0, 5), NO},    /* wrong school */
    /* school 2 people stay in school 2 */
    {__LINE__, 10, DN_ROLE_TEACHER, 2, DN_ACT_WRITE_JOURNAL, R(2, 20, 200, 0), OK},
    {__LINE__, 10, DN_ROLE_TEACHER, 2, DN_ACT_READ_CLASS, R(1, 10, 0, 0), NO},
    {__LINE__, 9, DN_ROLE_STUDENT, 2, DN_ACT_READ_STUDENT, R(1, 0, 0, 9), NO},
    {__LINE__, 8, DN_ROLE_ADMIN, 2, DN_ACT_READ_CLASS, R(2, 20, 0, 0), OK},
    {__LINE__, 8, DN_ROLE_ADMIN, 2, DN_ACT_READ_CLASS, R(2, 10, 0, 0), NO},
};

Test(access, matrix, .init = setup, .fini = teardown)
{
    for (size_t i = 0; i < sizeof(matrix) / sizeof(matrix[0]); i++) {
        const row_t *r = &matrix[i];
        dn_principal_t p = who(r->uid, r->role, r->role_school);
        int got = dn_access_check(db, &p, r->act, &r->res);
        cr_expect_eq(got, r->want, "matrix row at line %d: got %d, want %d", r->line, got, r->want);
    }
}

Test(access, no_principal_and_no_roles, .init = setup, .fini = teardown)
{
    dn_resource_t res = {.school_id = 1};
    dn_principal_t nobody = {.user_id = 5, .nroles = 0};
    cr_assert_eq(dn_access_check(db, NULL, DN_ACT_READ_SCHOOL, &res), DN_EUNAUTH);
    cr_assert_eq(dn_access_check(db, &nobody, DN_ACT_READ_SCHOOL, &res), DN_EFORBIDDEN);
    dn_principal_t p = who(2, DN_ROLE_ADMIN, 1);
    cr_assert_eq(dn_access_check(db, &p, (dn_action_t)99, &res), DN_EFORBIDDEN);
    cr_assert_eq(dn_access_check(db, &p, DN_ACT_READ_SCHOOL, NULL), DN_EFORBIDDEN);
}

Test(access, class_school, .init = setup, .fini = teardown)
{
    int64_t s = 0;
    cr_assert_eq(dn_access_class_school(db, 20, &s), 0);
    cr_assert_eq(s, 2);
    cr_assert_eq(dn_access_class_school(db, 999, &s), DN_ENOTFOUND);
}
