/*
 * test_privacy.c - 152-FZ rules against a real store: who may export or
 * anonymise a person (dn_access_check EXPORT/ANONYMISE_PERSON), what
 * anonymisation refuses (a current class member without left_on, a staff
 * account, a future left_on), what it changes and keeps, that a blob shared
 * with another user's live file survives the purge, and that the export's
 * audit patterns do not confuse student 4 with student 41.
 * SQLite always; PostgreSQL in a fresh database when DN_TEST_PG_URL is set.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/date.h"
#include "core/error.h"
#include "domain/access.h"
#include "domain/files.h"
#include "domain/privacy.h"
#include "store/db.h"
#include "store/migrate.h"

#define SHA_X "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA_Y "2222222222222222222222222222222222222222222222222222222222222222"

static const char *FIXTURE =
    "INSERT INTO regions (id, name) VALUES (1, 'R');"
    "INSERT INTO schools (id, region_id, name, created_at) VALUES (1, 1, 'S1', 0), (2, 1, 'S2', 0);"
    "INSERT INTO terms (id, school_id, year_start, number, starts_on, ends_on) VALUES "
    " (1, 1, 2025, 1, '2025-09-01', '2025-10-31');"
    "INSERT INTO users (id, login, password_hash, last_name, first_name, created_at) VALUES "
    " (1,'sys','x','Сис','А',0),(2,'adm1','x','Адм','А',0),(3,'teach','x','Учитель','А',0),"
    " (4,'stud','x','Иванов','Иван',0),(5,'par','x','Иванова','Мария',0),"
    " (6,'par2','x','Петрова','Анна',0),(8,'adm2','x','Адм','Б',0),(9,'both','x','Двойной','Д',0),"
    " (41,'stud41','x','Петров','Пётр',0);"
    "INSERT INTO user_roles (user_id, school_id, role) VALUES (1,0,'sysadmin'),(2,1,'admin'),(3,1,'teacher'),"
    " (4,1,'student'),(5,1,'parent'),(6,1,'parent'),(8,2,'admin'),(9,1,'parent'),(9,2,'parent'),(41,1,'student');"
    "INSERT INTO classes (id, school_id, start_year, letter, class_teacher_id) VALUES (10,1,2020,'А',3);"
    "INSERT INTO class_students (id, class_id, student_id, from_date, to_date) VALUES "
    " (1,10,4,'2025-09-01',NULL),(2,10,41,'2025-09-01',NULL);"
    "INSERT INTO parent_links (parent_id, student_id) VALUES (5,4),(6,41);"
    "INSERT INTO subjects (id, school_id, name) VALUES (1,1,'Математика');"
    "INSERT INTO lessons (id, school_id, class_id, subject_id, teacher_id, date, lesson_no) VALUES "
    " (1,1,10,1,3,'2025-09-10',1);"
    "INSERT INTO marks (school_id, student_id, class_id, subject_id, term_id, lesson_id, date, value, weight, "
    " created_by, created_at, updated_at) VALUES (1,4,10,1,1,1,'2025-09-10',5,1,3,0,0),"
    " (1,41,10,1,1,1,'2025-09-10',2,1,3,0,0);"
    "INSERT INTO attendance (lesson_id, student_id, status, updated_by, updated_at) VALUES (1,4,'absent',3,0);"
    "INSERT INTO checkpoints (id, school_id, class_id, subject_id, teacher_id, kind, title, due_date, weight, "
    " created_at) VALUES (1,1,10,1,3,'homework','ДЗ','2025-09-12',1,0);"
    "INSERT INTO works (id, school_id, checkpoint_id, student_id, versions, comments, submitted_at, updated_at) "
    " VALUES (1,1,1,4,'[{\"n\":1,\"text\":\"моё решение\",\"files\":[1],\"at\":0}]',"
    " '[{\"n\":1,\"author_id\":3,\"author\":\"Учитель А\",\"text\":\"хорошо\",\"at\":0},"
    "   {\"n\":2,\"author_id\":4,\"author\":\"Иванов Иван\",\"text\":\"спасибо\",\"at\":0}]',0,0);"
    "INSERT INTO files (id, uploader_id, sha256, size, content_type, name, created_at) VALUES "
    " (1,4,'" SHA_X "',1,'text/plain','x.txt',0),(2,4,'" SHA_Y "',1,'text/plain','y.txt',0),"
    " (3,41,'" SHA_Y "',1,'text/plain','y41.txt',0);"
    "INSERT INTO file_links (file_id, work_id, created_at) VALUES (1,1,0);"
    "INSERT INTO audit_log (school_id, entity, entity_key, actor_id, at) VALUES "
    " (1,'mark','lesson:1:student:4:kind:lesson',3,0),(1,'mark','lesson:1:student:41:kind:lesson',3,0),"
    " (1,'attendance','lesson:1:student:4',3,0),(1,'term_mark','student:41:subject:1:year:2025:period:1',3,0),"
    " (1,'term_mark','student:4:subject:1:year:2025:period:1',3,0);";

#define FX_TAG "privacy"
#include "store_fixture.h"

static dn_principal_t who(int64_t id, int64_t school, dn_role_t role)
{
    dn_principal_t p = {.user_id = id, .nroles = 1};
    p.roles[0].school_id = school;
    p.roles[0].role = role;
    return p;
}

static int check(dn_db_t *db, dn_principal_t p, dn_action_t act, int64_t target)
{
    dn_resource_t r = {.user_id = target};
    return dn_access_check(db, &p, act, &r);
}

static void access_rules(dn_db_t *db)
{
    const dn_action_t E = DN_ACT_EXPORT_PERSON, A = DN_ACT_ANONYMISE_PERSON;
    dn_principal_t sys = who(1, 0, DN_ROLE_SYSADMIN), adm1 = who(2, 1, DN_ROLE_ADMIN), adm2 = who(8, 2, DN_ROLE_ADMIN),
                   teach = who(3, 1, DN_ROLE_TEACHER), stud = who(4, 1, DN_ROLE_STUDENT),
                   par = who(5, 1, DN_ROLE_PARENT), par2 = who(6, 1, DN_ROLE_PARENT),
                   stud41 = who(41, 1, DN_ROLE_STUDENT);
    /* export */
    cr_expect_eq(check(db, stud, E, 4), 0, "self");
    cr_expect_eq(check(db, par, E, 4), 0, "own parent");
    cr_expect_eq(check(db, par, E, 5), 0, "the parent themself");
    cr_expect_eq(check(db, par2, E, 4), DN_EFORBIDDEN, "another child's parent");
    cr_expect_eq(check(db, teach, E, 4), DN_EFORBIDDEN, "the class teacher is still a teacher");
    cr_expect_eq(check(db, stud41, E, 4), DN_EFORBIDDEN, "a classmate");
    cr_expect_eq(check(db, adm1, E, 4), 0, "admin of the school");
    cr_expect_eq(check(db, adm2, E, 4), DN_EFORBIDDEN, "admin of another school");
    cr_expect_eq(check(db, adm2, E, 9), 0, "admin of one of the person's schools");
    cr_expect_eq(check(db, sys, E, 4), 0, "sysadmin");
    cr_expect_eq(check(db, adm1, E, 1), DN_EFORBIDDEN, "a school admin never exports the sysadmin");
    cr_expect_eq(check(db, adm1, E, 0), DN_EFORBIDDEN, "no target");
    cr_expect_eq(dn_access_check(db, NULL, E, &(dn_resource_t){.user_id = 4}), DN_EUNAUTH);
    /* anonymise */
    cr_expect_eq(check(db, adm1, A, 4), 0);
    cr_expect_eq(check(db, sys, A, 4), 0);
    cr_expect_eq(check(db, stud, A, 4), DN_EFORBIDDEN, "not oneself");
    cr_expect_eq(check(db, par, A, 4), DN_EFORBIDDEN, "not a parent");
    cr_expect_eq(check(db, teach, A, 4), DN_EFORBIDDEN, "not a teacher");
    cr_expect_eq(check(db, adm2, A, 4), DN_EFORBIDDEN, "not another school's admin");
    cr_expect_eq(check(db, adm1, A, 9), DN_EFORBIDDEN, "a person of two schools needs admin of both");
    cr_expect_eq(check(db, adm2, A, 9), DN_EFORBIDDEN);
    cr_expect_eq(check(db, sys, A, 9), 0);
    cr_expect_eq(check(db, sys, A, 1), DN_EFORBIDDEN, "the sysadmin does not anonymise their own account");
    cr_expect_eq(check(db, adm1, A, 2), DN_EFORBIDDEN, "an admin does not anonymise themself");
    /* the new actions never open the school actions */
    dn_resource_t r = {.school_id = 1, .student_id = 4};
    cr_expect_eq(dn_access_check(db, &teach, DN_ACT_ADMIN_SCHOOL, &r), DN_EFORBIDDEN);
}

static int64_t scalar(dn_db_t *db, const char *sql)
{
    static dn_query_t q[8];
    static const char *sqls[8];
    int i = 0;
    while (i < 8 && sqls[i] != NULL && sqls[i] != sql)
        i++;
    cr_assert(i < 8);
    if (sqls[i] == NULL) {
        sqls[i] = sql;
        q[i].sql = sql;
    }
    int64_t v = -1;
    cr_assert_eq(dn_db_scalar(db, &q[i], &v, ""), 0, "%s: %s", sql, dn_db_errmsg(db));
    return v;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static const char *Q_MARKS = "SELECT COUNT(*) FROM marks WHERE student_id = 4 AND value = 5";
static const char *Q_ATT = "SELECT COUNT(*) FROM attendance WHERE student_id = 4";
static const char *Q_OPEN = "SELECT COUNT(*) FROM class_students WHERE student_id = 4 AND to_date IS NULL";
static const char *Q_LINKS = "SELECT COUNT(*) FROM parent_links WHERE student_id = 4";
static const char *Q_LIVE = "SELECT COUNT(*) FROM files WHERE uploader_id = 4 AND purged_at IS NULL";
static const char *Q_AUDIT = "SELECT COUNT(*) FROM audit_log WHERE entity = 'user' AND entity_key = 'user:4'";

static void anonymise_rules(dn_db_t *db)
{
    char dir[] = "/tmp/dn-privacy-blobs-XXXXXX", err[256];
    cr_assert_not_null(mkdtemp(dir));
    dn_blobstore_t *bs = dn_blob_local_open(dir, err, sizeof err);
    cr_assert_not_null(bs, "%s", err);
    cr_assert_eq(bs->ops->put(bs, SHA_X, "x", 1), 0);
    cr_assert_eq(bs->ops->put(bs, SHA_Y, "y", 1), 0);
    json_t *errors = json_array(), *out = NULL;

    /* still in class 10 and no left_on: 409, nothing changes */
    cr_expect_eq(dn_privacy_anonymise(db, bs, 4, 2, NULL, errors, &out), DN_ECONFLICT);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "left_on");
    json_array_clear(errors);
    char tomorrow[11], today[11];
    dn_date_format(dn_date_today_days() + 1, tomorrow);
    dn_date_format(dn_date_today_days(), today);
    cr_expect_eq(dn_privacy_anonymise(db, bs, 4, 2, tomorrow, errors, &out), DN_EVALIDATION);
    json_array_clear(errors);
    cr_expect_eq(dn_privacy_anonymise(db, bs, 4, 2, "2025-09-01", errors, &out), DN_EVALIDATION, "not after from_date");
    json_array_clear(errors);
    cr_expect_eq(dn_privacy_anonymise(db, bs, 3, 2, NULL, errors, &out), DN_ECONFLICT, "a teacher");
    json_array_clear(errors);
    cr_expect_eq(dn_privacy_anonymise(db, bs, 999, 2, NULL, errors, &out), DN_ENOTFOUND);
    cr_expect_eq(scalar(db, Q_OPEN), 1);
    cr_expect_eq(scalar(db, Q_LINKS), 1);
    cr_expect_eq(scalar(db, Q_LIVE), 2);
    cr_expect_eq(bs->ops->exists(bs, SHA_X), 1);

    /* with left_on: done */
    cr_assert_eq(dn_privacy_anonymise(db, bs, 4, 2, today, errors, &out), 0, "%s", json_dumps(errors, 0));
    cr_expect_str_eq(json_string_value(json_object_get(out, "display_name")), "Ученик #4");
    cr_expect_str_eq(json_string_value(json_object_get(out, "login")), "anon#4");
    cr_expect_eq(json_integer_value(json_object_get(out, "files_purged")), 2);
    cr_expect_eq(scalar(db, Q_MARKS), 1, "the mark is kept");
    cr_expect_eq(scalar(db, Q_ATT), 1, "attendance is kept");
    cr_expect_eq(scalar(db, Q_OPEN), 0, "the membership ended");
    cr_expect_eq(scalar(db, Q_LINKS), 0, "the parent link is gone");
    cr_expect_eq(scalar(db, Q_LIVE), 0);
    cr_expect_eq(scalar(db, Q_AUDIT), 1);
    cr_expect_eq(bs->ops->exists(bs, SHA_X), 0, "a blob only S used is deleted");
    cr_expect_eq(bs->ops->exists(bs, SHA_Y), 1, "a blob another live file uses stays");

    /* the export shows the pseudonym, blanked texts, the kept mark; the audit is S's own */
    json_t *doc = NULL;
    cr_assert_eq(dn_privacy_export(db, 4, &doc), 0);
    char *text = json_dumps(doc, 0);
    cr_expect_null(strstr(text, "Иванов"), "%s", text);
    cr_expect_null(strstr(text, "моё решение"));
    cr_expect_null(strstr(text, "спасибо"));
    cr_expect_not_null(strstr(text, "хорошо"), "the teacher's comment stays");
    free(text);
    cr_expect_eq(json_array_size(json_object_get(doc, "marks")), 1);
    json_t *audit = json_object_get(doc, "audit");
    cr_expect_eq(json_array_size(audit), 4, "mark, attendance, term mark of 4, the anonymisation; none of 41");
    json_decref(doc);

    /* again: the same answer, nothing new */
    json_t *again = NULL;
    cr_assert_eq(dn_privacy_anonymise(db, bs, 4, 1, NULL, errors, &again), 0);
    cr_expect(json_equal(out, again));
    cr_expect_eq(scalar(db, Q_AUDIT), 1);
    json_decref(again);
    json_decref(out);
    json_decref(errors);

    /* student 41's export is untouched and sees only their own audit rows */
    cr_assert_eq(dn_privacy_export(db, 41, &doc), 0);
    cr_expect_eq(json_array_size(json_object_get(doc, "audit")), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(doc, "user"), "last_name")), "Петров");
    json_decref(doc);
    cr_expect_eq(dn_privacy_export(db, 999, &doc), DN_ENOTFOUND);

    dn_blobstore_close(bs);
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#define BOTH(name, fn)                                                                                                 \
    Test(privacy_sqlite, name)                                                                                         \
    {                                                                                                                  \
        dn_db_t *db = open_sqlite();                                                                                   \
        fn(db);                                                                                                        \
        close_db(db);                                                                                                  \
    }                                                                                                                  \
    Test(privacy_pg, name)                                                                                             \
    {                                                                                                                  \
        dn_db_t *db = open_pg();                                                                                       \
        if (db == NULL)                                                                                                \
            cr_skip_test("DN_TEST_PG_URL not set");                                                                    \
        fn(db);                                                                                                        \
        close_db(db);                                                                                                  \
    }

BOTH(access, access_rules)
BOTH(anonymise_and_export, anonymise_rules)
