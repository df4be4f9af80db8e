/*
 * test_seed.c - the demo school and the generator produce consistent data.
 *
 * Each test runs on a fresh migrated store (SQLite, and PostgreSQL when
 * DN_TEST_PG_URL is set). Beyond row counts in plausible ranges, the checks
 * are the invariants other modules rely on: no teacher in two places at
 * once, one current class per student, marks only for students of the
 * lesson's class, weights matching the kind, working demo logins.
 */
#include "../store/fixture.h"

#include "auth/auth.h"
#include "domain/seed.h"
#include "store/migrate.h"

static void migrate(void)
{
    char err[512] = "";
    int rc = dn_migrate_up(fx_db, NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "migrate: %d %s", rc, err);
}

static int64_t count_of(const char *sql)
{
    dn_query_t q = {sql}; /* one use per query text: a fresh descriptor is fine */
    return fx_int(fx_db, &q);
}

static void assert_range(const char *sql, int64_t lo, int64_t hi)
{
    int64_t v = count_of(sql);
    cr_assert(v >= lo && v <= hi, "%s = %lld, expected %lld..%lld", sql, (long long)v, (long long)lo, (long long)hi);
}

static void assert_zero(const char *sql)
{
    assert_range(sql, 0, 0);
}

/* Every reference of the seeded tables points at a row. On PostgreSQL the
 * generator loads with the foreign key triggers off when the role may, so
 * this anti-join check is what holds it to the schema's references. */
static void check_references(void)
{
    static const char *const fk[][3] = {
        {"schools", "region_id", "regions"},          {"terms", "school_id", "schools"},
        {"holidays", "school_id", "schools"},         {"user_roles", "user_id", "users"},
        {"classes", "school_id", "schools"},          {"classes", "class_teacher_id", "users"},
        {"class_students", "class_id", "classes"},    {"class_students", "student_id", "users"},
        {"parent_links", "parent_id", "users"},       {"parent_links", "student_id", "users"},
        {"subjects", "school_id", "schools"},         {"assignments", "school_id", "schools"},
        {"assignments", "teacher_id", "users"},       {"assignments", "class_id", "classes"},
        {"assignments", "subject_id", "subjects"},    {"timetable_slots", "school_id", "schools"},
        {"timetable_slots", "class_id", "classes"},   {"timetable_slots", "subject_id", "subjects"},
        {"timetable_slots", "teacher_id", "users"},   {"lessons", "school_id", "schools"},
        {"lessons", "class_id", "classes"},           {"lessons", "subject_id", "subjects"},
        {"lessons", "teacher_id", "users"},           {"checkpoints", "school_id", "schools"},
        {"checkpoints", "class_id", "classes"},       {"checkpoints", "subject_id", "subjects"},
        {"checkpoints", "teacher_id", "users"},       {"checkpoints", "lesson_id", "lessons"},
        {"marks", "school_id", "schools"},            {"marks", "student_id", "users"},
        {"marks", "class_id", "classes"},             {"marks", "subject_id", "subjects"},
        {"marks", "term_id", "terms"},                {"marks", "lesson_id", "lessons"},
        {"marks", "checkpoint_id", "checkpoints"},    {"marks", "created_by", "users"},
        {"attendance", "lesson_id", "lessons"},       {"attendance", "student_id", "users"},
        {"attendance", "updated_by", "users"},        {"works", "school_id", "schools"},
        {"works", "checkpoint_id", "checkpoints"},    {"works", "student_id", "users"},
        {"works", "mark_id", "marks"},
    };
    char sql[256];
    for (size_t i = 0; i < sizeof fk / sizeof fk[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s x WHERE x.%s IS NOT NULL AND NOT EXISTS "
                 "(SELECT 1 FROM %s r WHERE r.id = x.%s)", fk[i][0], fk[i][1], fk[i][2], fk[i][1]);
        assert_zero(sql);
    }
}

/* The invariants every seeded data set must keep. */
static void check_consistency(void)
{
    check_references();
    /* no teacher teaches two lessons at once, neither in the template nor in dated lessons */
    assert_zero("SELECT COUNT(*) FROM (SELECT teacher_id, date, lesson_no FROM lessons "
                "GROUP BY teacher_id, date, lesson_no HAVING COUNT(*) > 1) x");
    assert_zero("SELECT COUNT(*) FROM (SELECT teacher_id, weekday, lesson_no FROM timetable_slots "
                "GROUP BY teacher_id, weekday, lesson_no HAVING COUNT(*) > 1) x");
    /* each student is in exactly one current class */
    assert_zero("SELECT COUNT(*) FROM user_roles r WHERE r.role = 'student' AND "
                "(SELECT COUNT(*) FROM class_students cs WHERE cs.student_id = r.user_id AND cs.to_date IS NULL) <> 1");
    /* every mark's student belongs to the lesson's (and the mark's) class */
    assert_zero("SELECT COUNT(*) FROM marks m JOIN lessons l ON l.id = m.lesson_id WHERE l.class_id <> m.class_id OR "
                "NOT EXISTS (SELECT 1 FROM class_students cs WHERE cs.class_id = l.class_id AND cs.student_id = m.student_id)");
    assert_zero("SELECT COUNT(*) FROM marks m WHERE NOT EXISTS "
                "(SELECT 1 FROM class_students cs WHERE cs.class_id = m.class_id AND cs.student_id = m.student_id)");
    /* weights by kind: lesson/homework 1, test 2, control 3 */
    assert_zero("SELECT COUNT(*) FROM marks WHERE NOT ((kind IN ('lesson', 'homework') AND weight = 1) OR "
                "(kind = 'test' AND weight = 2) OR (kind = 'control' AND weight = 3))");
    /* a mark's term holds its date; marks and attendance only for lessons in the past of the data set */
    assert_zero("SELECT COUNT(*) FROM marks m JOIN terms t ON t.id = m.term_id WHERE m.date < t.starts_on OR m.date > t.ends_on");
    assert_zero("SELECT COUNT(*) FROM attendance a JOIN lessons l ON l.id = a.lesson_id WHERE NOT EXISTS "
                "(SELECT 1 FROM class_students cs WHERE cs.class_id = l.class_id AND cs.student_id = a.student_id)");
    /* attendance stores only what the teacher marked: no 'present' rows */
    assert_zero("SELECT COUNT(*) FROM attendance WHERE status = 'present'");
    /* lessons match an assignment of their teacher */
    assert_zero("SELECT COUNT(*) FROM lessons l WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE "
                "a.class_id = l.class_id AND a.subject_id = l.subject_id AND a.teacher_id = l.teacher_id)");
    /* every student has a parent */
    assert_zero("SELECT COUNT(*) FROM user_roles r WHERE r.role = 'student' AND NOT EXISTS "
                "(SELECT 1 FROM parent_links p WHERE p.student_id = r.user_id)");
    /* ids handed back by the multi-row inserts went to the right rows: a
     * checkpoint's lesson is of its class, subject and (tests) date; a
     * checkpoint mark hangs on that lesson; a graded work's mark is the
     * mark of that student for that checkpoint */
    assert_zero("SELECT COUNT(*) FROM checkpoints c JOIN lessons l ON l.id = c.lesson_id WHERE "
                "l.class_id <> c.class_id OR l.subject_id <> c.subject_id OR l.teacher_id <> c.teacher_id OR "
                "(c.kind <> 'homework' AND l.date <> c.due_date)");
    assert_zero("SELECT COUNT(*) FROM checkpoints WHERE lesson_id IS NULL");
    assert_zero("SELECT COUNT(*) FROM marks m JOIN checkpoints c ON c.id = m.checkpoint_id WHERE "
                "c.class_id <> m.class_id OR c.subject_id <> m.subject_id OR c.kind <> m.kind OR "
                "(m.lesson_id IS NOT NULL AND m.lesson_id <> c.lesson_id)");
    assert_zero("SELECT COUNT(*) FROM marks m JOIN lessons l ON l.id = m.lesson_id WHERE l.date <> m.date OR "
                "l.subject_id <> m.subject_id");
    assert_zero("SELECT COUNT(*) FROM works w WHERE (w.status = 'graded') <> (w.mark_id IS NOT NULL)");
    assert_zero("SELECT COUNT(*) FROM works w JOIN marks m ON m.id = w.mark_id WHERE "
                "m.student_id <> w.student_id OR m.checkpoint_id <> w.checkpoint_id");
    assert_zero("SELECT COUNT(*) FROM attendance a JOIN lessons l ON l.id = a.lesson_id WHERE "
                "a.updated_by <> l.teacher_id");
}

static int64_t text_query(const char *sql, const char *arg, char *out, size_t outlen)
{
    dn_query_t q = {sql};
    dn_stmt_t *st = dn_db_prepare(fx_db, &q);
    cr_assert_not_null(st, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_stmt_bind_text(st, 1, arg, -1), 0);
    int rc = dn_stmt_step(st);
    cr_assert_eq(rc, DN_DB_ROW, "%s [%s]: %d %s", sql, arg, rc, dn_db_errmsg(fx_db));
    int64_t v = dn_stmt_int64(st, 0);
    if (out)
        snprintf(out, outlen, "%s", dn_stmt_text(st, 1, NULL));
    while (dn_stmt_step(st) == DN_DB_ROW) {
    }
    return v;
}

STORE_TEST(seed, demo_school)
{
    migrate();
    cr_assert_not(dn_seed_has_data(fx_db));
    char buf[4096] = "";
    FILE *out = fmemopen(buf, sizeof buf, "w");
    cr_assert_not_null(out);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = dn_seed_demo_on(fx_db, out, "2026-11-20");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fclose(out);
    cr_assert_eq(rc, 0, "demo: %d %s", rc, dn_db_errmsg(fx_db));
    cr_assert(dn_seed_has_data(fx_db));
    cr_log_info("demo seeded in %.2f s", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    /* the login table names every fixed login */
    for (const char *w = "sysadmin\0admin\0teacher\0student\0parent\0demo1234\0"; *w; w += strlen(w) + 1)
        cr_assert(strstr(buf, w), "output lacks %s:\n%s", w, buf);

    assert_range("SELECT COUNT(*) FROM schools", 1, 1);
    assert_range("SELECT COUNT(*) FROM terms", 4, 4);
    assert_range("SELECT COUNT(*) FROM classes", 33, 33);
    assert_range("SELECT COUNT(*) FROM user_roles WHERE role = 'student'", 700, 900);
    assert_range("SELECT COUNT(*) FROM user_roles WHERE role = 'teacher'", 35, 60);
    assert_range("SELECT COUNT(*) FROM user_roles WHERE role = 'parent'", 700, 1700);
    /* 1 Sep - 28 Dec: ~15 weeks x 33 classes x ~27 lessons */
    assert_range("SELECT COUNT(*) FROM lessons", 9000, 16000);
    assert_range("SELECT COUNT(*) FROM lessons WHERE date < '2026-11-20' AND topic = ''", 0, 0);
    assert_range("SELECT COUNT(*) FROM lessons WHERE date >= '2026-11-20' AND topic <> ''", 0, 0);
    /* ~1 mark per student per 3 lessons of a subject, grade 1 unmarked */
    assert_range("SELECT COUNT(*) FROM marks", 40000, 130000);
    assert_range("SELECT COUNT(*) FROM marks WHERE date >= '2026-11-20'", 0, 0);
    assert_range("SELECT COUNT(*) FROM marks m JOIN classes c ON c.id = m.class_id WHERE c.start_year = 2026", 0, 0);
    assert_range("SELECT COUNT(*) FROM marks WHERE kind = 'control'", 1000, 20000);
    assert_range("SELECT COUNT(*) FROM marks WHERE value = 5", 5000, 60000);
    assert_range("SELECT COUNT(*) FROM marks WHERE value = 2", 500, 20000);
    assert_range("SELECT COUNT(*) FROM attendance", 2000, 30000);
    assert_range("SELECT COUNT(*) FROM works", 50, 5000);
    assert_range("SELECT COUNT(*) FROM works WHERE comments <> '[]'", 10, 5000);
    /* 5-7 lessons a day in grades 5-11, never past the 8th */
    assert_range("SELECT MAX(lesson_no) FROM timetable_slots", 5, 8);
    assert_range("SELECT COUNT(*) FROM (SELECT class_id, weekday FROM timetable_slots GROUP BY class_id, weekday) x",
                 165, 165);
    check_consistency();

    /* fixed logins: roles, class teacher, the parent of two children in two classes */
    char hash[256];
    int64_t student = text_query("SELECT id, password_hash FROM users WHERE login = ?", "student", hash, sizeof hash);
    cr_assert_eq(dn_password_verify(hash, "demo1234"), 0);
    cr_assert_eq(text_query("SELECT COUNT(*), '' FROM users WHERE login = ? AND must_change_password = 0", "parent",
                            NULL, 0), 1);
    const char *roles[][2] = {{"sysadmin", "sysadmin"}, {"admin", "admin"}, {"teacher", "teacher"},
                              {"student", "student"}, {"parent", "parent"}};
    for (int i = 0; i < 5; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT COUNT(*), '' FROM users u JOIN user_roles r ON r.user_id = u.id "
                                  "WHERE u.login = ? AND r.role = '%s'", roles[i][1]);
        cr_assert_eq(text_query(sql, roles[i][0], NULL, 0), 1, "%s", roles[i][0]);
    }
    cr_assert_eq(text_query("SELECT COUNT(*), '' FROM classes c JOIN users t ON t.id = c.class_teacher_id "
                            "JOIN class_students cs ON cs.class_id = c.id JOIN users s ON s.id = cs.student_id "
                            "WHERE t.login = ? AND s.login = 'student'", "teacher", NULL, 0), 1);
    cr_assert_eq(text_query("SELECT COUNT(*), '' FROM assignments a JOIN users t ON t.id = a.teacher_id "
                            "JOIN classes c ON c.id = a.class_id WHERE t.login = ? AND c.class_teacher_id = t.id",
                            "teacher", NULL, 0) >= 1, 1);
    cr_assert_eq(text_query("SELECT COUNT(DISTINCT cs.class_id), '' FROM parent_links p JOIN users u ON u.id = p.parent_id "
                            "JOIN class_students cs ON cs.student_id = p.student_id WHERE u.login = ?", "parent", NULL, 0), 2);
    cr_assert_eq(text_query("SELECT COUNT(*), '' FROM parent_links p JOIN users u ON u.id = p.parent_id "
                            "WHERE u.login = ?", "parent", NULL, 0), 2);
    cr_assert_gt(student, 0);
    /* names agree in gender: a surname in -ов has a patronymic in -вич */
    assert_zero("SELECT COUNT(*) FROM users WHERE last_name LIKE '%ова' AND middle_name LIKE '%вич'");
    assert_zero("SELECT COUNT(*) FROM users WHERE last_name LIKE '%ов' AND middle_name LIKE '%вна'");
}

STORE_TEST(seed, generate_small)
{
    migrate();
    char csv[] = "/tmp/dn-seed-logins.XXXXXX";
    int fd = mkstemp(csv);
    cr_assert(fd >= 0);
    close(fd);
    dn_seed_options_t opt = {.schools = 2, .students = 200, .year_start = 2024, .seed = 7, .logins_out = csv};
    int rc = dn_seed_generate(fx_db, &opt);
    cr_assert_eq(rc, 0, "gen: %d %s", rc, dn_db_errmsg(fx_db));

    assert_range("SELECT COUNT(*) FROM schools", 2, 2);
    assert_range("SELECT COUNT(*) FROM user_roles WHERE role = 'student'", 200, 200);
    assert_range("SELECT COUNT(*) FROM classes", 8, 8);
    assert_range("SELECT COUNT(*) FROM user_roles WHERE role = 'admin'", 2, 2);
    assert_range("SELECT COUNT(*) FROM user_roles WHERE role = 'sysadmin'", 1, 1);
    assert_range("SELECT COUNT(*) FROM user_roles WHERE role = 'parent'", 150, 200);
    /* a whole year, all of it in the past: 8 classes x ~23 lessons x ~33 weeks */
    assert_range("SELECT COUNT(*) FROM lessons", 4000, 9000);
    assert_range("SELECT COUNT(*) FROM lessons WHERE date < '2024-09-01' OR date > '2025-05-31'", 0, 0);
    assert_range("SELECT COUNT(*) FROM marks", 5000, 60000);
    assert_range("SELECT COUNT(*) FROM attendance", 500, 20000);
    assert_range("SELECT COUNT(*) FROM checkpoints", 50, 2000);
    check_consistency();

    /* the CSV lists every user once with the shared password */
    FILE *f = fopen(csv, "r");
    cr_assert_not_null(f);
    char line[512];
    int lines = 0, bad = 0;
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_str_eq(line, "login,password,role,user_id,school_id,class_id\n");
    static dn_query_t q_login = {"SELECT COUNT(*) FROM users u JOIN user_roles r ON r.user_id = u.id "
                                 "WHERE u.login = ? AND u.id = ? AND r.role = ?"};
    while (fgets(line, sizeof line, f)) {
        lines++;
        if (!strstr(line, "," DN_SEED_GEN_PASSWORD ","))
            bad++;
        /* the id and role written next to a login are that user's */
        char login[64], role[16];
        long long uid;
        cr_assert_eq(sscanf(line, "%63[^,],%*[^,],%15[^,],%lld,", login, role, &uid), 3, "%s", line);
        dn_stmt_t *st = dn_db_prepare(fx_db, &q_login);
        cr_assert_not_null(st);
        dn_stmt_bind_text(st, 1, login, -1);
        dn_stmt_bind_int64(st, 2, uid);
        dn_stmt_bind_text(st, 3, role, -1);
        cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
        cr_assert_eq(dn_stmt_int64(st, 0), 1, "%s", line);
        while (dn_stmt_step(st) == DN_DB_ROW) {
        }
    }
    fclose(f);
    unlink(csv);
    cr_assert_eq(bad, 0);
    cr_assert_eq(lines, count_of("SELECT COUNT(*) FROM users"));

    /* same seed, same data: a second region run adds schools without login clashes */
    /* (and with the foreign key triggers kept on: the checked path loads too) */
    rc = dn_seed_generate(fx_db, &(dn_seed_options_t){.schools = 1, .students = 30, .year_start = 2024, .seed = 7,
                                                      .fk_checks = 1});
    cr_assert_eq(rc, 0, "second gen: %d", rc);
    assert_range("SELECT COUNT(*) FROM schools", 3, 3);
    check_consistency();
}

Test(seed, bad_options)
{
    cr_assert_eq(dn_seed_generate(NULL, NULL), DN_EINVAL);
    dn_seed_options_t opt = {.schools = 0, .students = 10};
    cr_assert_eq(dn_seed_generate(NULL, &opt), DN_EINVAL);
    cr_assert_eq(dn_seed_demo_on(NULL, NULL, "2026-13-01"), DN_EINVAL);
}

STORE_TEST(seed, has_data_sees_any_school)
{
    migrate();
    cr_assert_not(dn_seed_has_data(fx_db));
    fx_exec(fx_db, "INSERT INTO regions (name) VALUES ('R')");
    cr_assert_not(dn_seed_has_data(fx_db), "a region alone is not data");
    fx_exec(fx_db, "INSERT INTO schools (region_id, name, created_at) SELECT id, 'S', 0 FROM regions");
    cr_assert(dn_seed_has_data(fx_db));
}
