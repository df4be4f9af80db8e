/*
 * import.c: the CSV parser (quotes, BOM, CRLF, separators, line numbers,
 * malformed input) and the all-or-nothing import on a store.
 */
/* the shared store fixture offers helpers not every file uses */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../store/fixture.h"

#include "domain/import.h"
#include "domain/school.h"
#include "store/migrate.h"

static int parse(const char *s, dn_csv_t *csv, int *line, char *err)
{
    return dn_csv_parse(s, strlen(s), csv, line, err, 160);
}

Test(csv, quotes_separators_newlines)
{
    dn_csv_t csv;
    int line;
    char err[160];
    const char *s = "a,b,c\n"
                    "\"x, y\",\"he said \"\"hi\"\"\",\"multi\nline\"\n"
                    "1,,3\n";
    cr_assert_eq(parse(s, &csv, &line, err), 0, "%s", err);
    cr_assert_eq(csv.sep, ',');
    cr_assert_eq(csv.nrows, 3);
    cr_assert_str_eq(csv.rows[1].fields[0], "x, y");
    cr_assert_str_eq(csv.rows[1].fields[1], "he said \"hi\"");
    cr_assert_str_eq(csv.rows[1].fields[2], "multi\nline");
    cr_assert_eq(csv.rows[2].line, 4, "the quoted newline counts as a line");
    cr_assert_str_eq(csv.rows[2].fields[1], "");
    cr_assert_eq(csv.rows[2].nfields, 3);
    dn_csv_free(&csv);
}

Test(csv, bom_crlf_semicolon_blank_lines)
{
    dn_csv_t csv;
    int line;
    char err[160];
    const char *s = "\xEF\xBB\xBFtype;class\r\n\r\nclass;5Б\r\nclass;\"6;А\"\r\n";
    cr_assert_eq(parse(s, &csv, &line, err), 0, "%s", err);
    cr_assert_eq(csv.sep, ';');
    cr_assert_eq(csv.nrows, 3);
    cr_assert_str_eq(csv.rows[0].fields[0], "type", "BOM stripped");
    cr_assert_str_eq(csv.rows[1].fields[1], "5Б", "no CR left");
    cr_assert_eq(csv.rows[1].line, 3, "blank line counted");
    cr_assert_str_eq(csv.rows[2].fields[1], "6;А");
    dn_csv_free(&csv);
    /* no final newline, empty last field */
    cr_assert_eq(parse("a,b\n1,", &csv, &line, err), 0);
    cr_assert_eq(csv.rows[1].nfields, 2);
    dn_csv_free(&csv);
}

Test(csv, malformed)
{
    dn_csv_t csv;
    int line;
    char err[160];
    cr_assert_eq(parse("a,b\n1,2\n3,\"open\n4,5\n", &csv, &line, err), DN_EVALIDATION);
    cr_assert_eq(line, 3, "the unterminated field starts on line 3");
    cr_assert_eq(csv.nrows, 0);
    cr_assert_eq(parse("a,b\n1,x\"y\n", &csv, &line, err), DN_EVALIDATION);
    cr_assert_eq(line, 2);
    cr_assert_eq(parse("a,b\n\"q\"x,1\n", &csv, &line, err), DN_EVALIDATION);
    cr_assert_eq(line, 2);
    cr_assert_eq(parse("a,b\n\xff\xfe,1\n", &csv, &line, err), DN_EVALIDATION);
    cr_assert(strstr(err, "UTF-8") != NULL);
    cr_assert_eq(parse("", &csv, &line, err), 0);
    cr_assert_eq(csv.nrows, 0);
    dn_csv_free(&csv);
}

/* Random inputs from CSV's special characters: never crash (run under
 * ASan in the sanitizer build), and a success always has sane rows. */
Test(csv, random_inputs_hold_invariants)
{
    static const char alphabet[] = {'"', ',', ';', '\n', '\r', 'a', ' ', '\xD0', '\x91', '\xEF', '\xBB', '\xBF'};
    unsigned seed = 12345;
    char buf[96], err[160];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(iter % 95);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = alphabet[(seed >> 16) % sizeof(alphabet)];
        }
        dn_csv_t csv;
        int line = 0;
        int rc = dn_csv_parse(buf, n, &csv, &line, err, sizeof(err));
        if (rc == 0) {
            int prev = 0;
            for (int r = 0; r < csv.nrows; r++) {
                cr_assert_geq(csv.rows[r].nfields, 1);
                cr_assert_gt(csv.rows[r].line, prev);
                prev = csv.rows[r].line;
                for (int f = 0; f < csv.rows[r].nfields; f++)
                    cr_assert_leq(strlen(csv.rows[r].fields[f]), n);
            }
            dn_csv_free(&csv);
        } else {
            cr_assert_eq(rc, DN_EVALIDATION);
            cr_assert_geq(line, 1);
            cr_assert_eq(csv.nrows, 0);
        }
    }
}

/* ---- store ----------------------------------------------------------- */

static int64_t school_id;
static dn_query_t q_users = {"SELECT COUNT(*) FROM users"};
static dn_query_t q_links = {"SELECT COUNT(*) FROM parent_links"};
static dn_query_t q_members = {"SELECT COUNT(*) FROM class_students"};
static dn_query_t q_assignments = {"SELECT COUNT(*) FROM assignments"};
static dn_query_t q_invites = {"SELECT COUNT(*) FROM invites"};

static void setup(void)
{
    char err[256] = "";
    cr_assert_eq(dn_migrate_up(fx_db, NULL, err, sizeof err), 0, "migrate: %s", err);
    json_t *o = NULL;
    cr_assert_eq(dn_school_region_create(fx_db, "R", &o), 0);
    int64_t region = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
    cr_assert_eq(dn_school_create(fx_db, region, "S", "quarter", &o), 0);
    school_id = json_integer_value(json_object_get(o, "id"));
    json_decref(o);
}

static const char good[] = "type,last_name,first_name,middle_name,login,class,subject,parent_of\n"
                           "class,,,,,5Б,,\n"
                           "student,Иванов,Иван,Иванович,ivanov,5Б,,\n"
                           "student,Петрова,Анна,,,5Б,,\n"
                           "parent,Иванова,Мария,,ivanova,,,ivanov\n"
                           "teacher,Сидорова,Ольга,Павловна,sidorova,,,\n"
                           "assignment,,,,sidorova,5Б,Математика,\n"
                           "assignment,,,,sidorova,5Б,Физика,\n";

STORE_TEST(import_store, good_file_then_dry_run_and_repeat)
{
    setup();
    json_t *errors = json_array(), *o = NULL;
    /* dry run: preview only */
    cr_assert_eq(dn_import_run(fx_db, school_id, good, sizeof(good) - 1, 1, errors, &o), 0, "%s",
                 json_dumps(errors, 0));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(o, "counts"), "students")), 2);
    cr_assert_eq(json_array_size(json_object_get(o, "rows")), 7);
    json_decref(o);
    cr_assert_eq(fx_int(fx_db, &q_users), 0, "a dry run writes nothing");

    cr_assert_eq(dn_import_run(fx_db, school_id, good, sizeof(good) - 1, 0, errors, &o), 0, "%s",
                 json_dumps(errors, 0));
    json_t *counts = json_object_get(o, "counts");
    cr_assert_eq(json_integer_value(json_object_get(counts, "classes")), 1);
    cr_assert_eq(json_integer_value(json_object_get(counts, "subjects")), 2);
    json_t *users = json_object_get(o, "users");
    cr_assert_eq(json_array_size(users), 4);
    cr_assert_eq(strlen(json_string_value(json_object_get(json_array_get(users, 0), "invite_code"))), 10);
    /* the generated login of the second student */
    cr_assert_eq(json_string_value(json_object_get(json_array_get(users, 1), "login"))[0], 's');
    json_decref(o);
    cr_assert_eq(fx_int(fx_db, &q_users), 4);
    cr_assert_eq(fx_int(fx_db, &q_links), 1);
    cr_assert_eq(fx_int(fx_db, &q_members), 2);
    cr_assert_eq(fx_int(fx_db, &q_assignments), 2);
    cr_assert_eq(fx_int(fx_db, &q_invites), 4);

    /* the same file again: every given login is now taken -> all rejected, nothing written */
    cr_assert_eq(dn_import_run(fx_db, school_id, good, sizeof(good) - 1, 0, errors, &o), DN_EVALIDATION);
    cr_assert_eq(json_array_size(errors), 3, "%s", json_dumps(errors, 0));
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(errors, 0), "line")), 3);
    cr_assert_eq(fx_int(fx_db, &q_users), 4);

    /* later files may refer to what the school has */
    static const char more[] = "type;login;class;subject;parent_of;last_name;first_name\n"
                               "parent;ivanova2;;;ivanov;Иванов;Пётр\n"
                               "assignment;sidorova;5Б;Математика;;;\n";
    json_array_clear(errors);
    cr_assert_eq(dn_import_run(fx_db, school_id, more, sizeof(more) - 1, 0, errors, &o), 0, "%s",
                 json_dumps(errors, 0));
    json_decref(o);
    cr_assert_eq(fx_int(fx_db, &q_links), 2);
    cr_assert_eq(fx_int(fx_db, &q_assignments), 2, "the same assignment is not duplicated");
    json_decref(errors);
}

STORE_TEST(import_store, bad_rows_reported_by_line_nothing_written)
{
    setup();
    static const char bad[] = "type,last_name,first_name,login,class,subject,parent_of\n"
                              "class,,,,5Б,,\n"
                              "student,Иванов,Иван,ivanov,7В,,\n"    /* 3: unknown class */
                              "pupil,Иванов,Иван,,5Б,,\n"            /* 4: bad type */
                              "student,,Иван,x1x,5Б,,\n"             /* 5: no last name */
                              "parent,Иванова,Мария,,,,nobody\n"     /* 6: unknown child */
                              "teacher,Сидорова,Ольга,ivanov,,,\n"   /* 7: login twice */
                              "assignment,,,ivanov,5Б,Математика,\n" /* 8: not a teacher */
                              "student,Петров,Пётр,petrov,5Б,,,extra\n"; /* 9: too many fields */
    json_t *errors = json_array(), *o = NULL;
    cr_assert_eq(dn_import_run(fx_db, school_id, bad, sizeof(bad) - 1, 0, errors, &o), DN_EVALIDATION);
    int lines[16] = {0};
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        int l = (int)json_integer_value(json_object_get(e, "line"));
        cr_assert(l >= 1 && l < 16);
        lines[l]++;
        cr_assert(json_is_string(json_object_get(e, "field")));
        cr_assert(json_is_string(json_object_get(e, "message")));
    }
    for (int l = 3; l <= 9; l++)
        cr_assert_geq(lines[l], 1, "line %d must be reported: %s", l, json_dumps(errors, 0));
    cr_assert_eq(lines[2], 0, "line 2 is fine");
    cr_assert_eq(fx_int(fx_db, &q_users), 0);
    static dn_query_t q_classes = {"SELECT COUNT(*) FROM classes"};
    cr_assert_eq(fx_int(fx_db, &q_classes), 0);

    /* header problems */
    static const char hdr[] = "kind,last_name\nstudent,X\n";
    json_array_clear(errors);
    cr_assert_eq(dn_import_run(fx_db, school_id, hdr, sizeof(hdr) - 1, 0, errors, &o), DN_EVALIDATION);
    cr_assert_geq(json_array_size(errors), 2, "unknown column and no type column");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(errors, 0), "line")), 1);
    /* a CSV syntax error */
    static const char syn[] = "type,class\nclass,\"5Б\n";
    json_array_clear(errors);
    cr_assert_eq(dn_import_run(fx_db, school_id, syn, sizeof(syn) - 1, 0, errors, &o), DN_EVALIDATION);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(errors, 0), "line")), 2);
    /* Regression (fuzzing): an unknown column whose quoted name was cut inside
     * a UTF-8 character made the error unrecordable, and the rows were then
     * mapped through column -1. Same for a non-UTF-8 column listed twice. */
    char cut[160];
    snprintf(cut, sizeof(cut), "type,%.59sЖ\nstudent,x\n",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    static const char twice[] = "type,\xff\xfe,\xff\xfe\nstudent,x,y\n";
    const char *headers[] = {cut, twice};
    for (int k = 0; k < 2; k++) {
        json_array_clear(errors);
        cr_assert_eq(dn_import_run(fx_db, school_id, headers[k], strlen(headers[k]), 1, errors, &o), DN_EVALIDATION,
                     "header %d", k);
        cr_assert_geq(json_array_size(errors), 1, "header %d: the header error is reported", k);
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(errors, 0), "line")), 1);
    }
    json_decref(errors);
}
