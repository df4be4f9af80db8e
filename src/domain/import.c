/*
 * import.c - CSV import of a school (see import.h).
 *
 * File format (UTF-8, optional BOM, ',' or ';' separated, header row first;
 * columns in any order, only `type` is mandatory, unknown columns are an
 * error; values are trimmed of surrounding spaces):
 *
 *   type,last_name,first_name,middle_name,login,class,subject,parent_of
 *   class,,,,,5Б,,                     a class named grade+letter this academic year
 *   student,Иванов,Иван,Иванович,ivanov,5Б,,   a student, enrolled in class from 1 September
 *   parent,Иванова,Мария,,ivanova,,,ivanov     a parent of student login `ivanov`
 *   teacher,Петрова,Анна,Сергеевна,petrova,,,  a teacher
 *   assignment,,,,petrova,5Б,Математика,       teacher login teaches subject in class
 *
 * - login may be empty for people: one is generated (s/p/t + 8 characters).
 *   A parent of several children repeats the parent row with the same login
 *   and another parent_of; the first row's names win.
 * - class (for student, assignment) and parent_of / assignment teacher login
 *   may refer to rows of the same file or to what the school already has.
 *   An existing class named in a `class` row is reused, not an error.
 * - subject is created when the school does not have it yet.
 * All rows are checked before anything is written; any bad row makes the
 * whole import fail with {line, field, message} per problem. Imported people
 * get no password: each gets a one-time invite code (returned once) to set it
 * through POST /api/v1/invites/accept, so the import needs no argon2 work.
 */
#include "domain/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "domain/school.h"

/* ------------------------------------------------------------------ */
/* CSV                                                                */

void dn_csv_free(dn_csv_t *csv)
{
    free(csv->rows);
    free(csv->text);
    free(csv->fieldv);
    memset(csv, 0, sizeof(*csv));
}

static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
            k = 1;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2;
        } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
            k = 3;
        } else {
            return 0;
        }
        for (size_t j = 1; j <= k; j++)
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
                return 0;
        i += k + 1;
    }
    return 1;
}

static char detect_sep(const char *p, const char *end)
{
    int commas = 0, semis = 0, quoted = 0;
    for (; p < end; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && (*p == '\n' || *p == '\r'))
            break;
        else if (!quoted && *p == ',')
            commas++;
        else if (!quoted && *p == ';')
            semis++;
    }
    return semis > commas ? ';' : ',';
}

int dn_csv_parse(const char *buf, size_t len, dn_csv_t *csv, int *err_line, char *err, size_t errlen)
{
    memset(csv, 0, sizeof(*csv));
    *err_line = 0;
    const char *p = buf, *end = buf + len;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    if (!utf8_valid((const unsigned char *)p, (size_t)(end - p))) {
        *err_line = 1;
        snprintf(err, errlen, "the file is not valid UTF-8");
        return DN_EVALIDATION;
    }
    csv->sep = detect_sep(p, end);
    size_t fcap = 64, rcap = 16, nf = 0;
    /* every field ends with one NUL and holds at most the bytes it came from */
    csv->text = malloc(len * 2 + 2);
    csv->fieldv = malloc(sizeof(char *) * fcap);
    csv->rows = malloc(sizeof(dn_csv_row_t) * rcap);
    if (!csv->text || !csv->fieldv || !csv->rows)
        goto nomem;
    char *w = csv->text;
    /* rows store the index of their first field until the end (fieldv moves on realloc) */
    size_t *first = malloc(sizeof(size_t) * rcap);
    if (first == NULL)
        goto nomem;
    int line = 1;
    while (p < end) {
        /* skip blank lines */
        if (*p == '\n' || *p == '\r') {
            if (*p == '\r' && p + 1 < end && p[1] == '\n')
                p++;
            p++;
            line++;
            continue;
        }
        if ((size_t)csv->nrows == rcap) {
            rcap *= 2;
            dn_csv_row_t *r2 = realloc(csv->rows, sizeof(*r2) * rcap);
            size_t *f2 = r2 ? realloc(first, sizeof(*f2) * rcap) : NULL;
            if (r2)
                csv->rows = r2;
            if (!f2) {
                free(first);
                goto nomem;
            }
            first = f2;
        }
        if (csv->nrows > DN_CSV_MAX_ROWS) {
            free(first);
            *err_line = line;
            snprintf(err, errlen, "too many rows (at most %d)", DN_CSV_MAX_ROWS);
            goto fail;
        }
        dn_csv_row_t *row = &csv->rows[csv->nrows];
        row->line = line;
        row->nfields = 0;
        first[csv->nrows] = nf;
        csv->nrows++;
        for (;;) { /* one field */
            if (row->nfields == DN_CSV_MAX_FIELDS) {
                free(first);
                *err_line = row->line;
                snprintf(err, errlen, "too many fields (at most %d)", DN_CSV_MAX_FIELDS);
                goto fail;
            }
            if (nf == fcap) {
                fcap *= 2;
                char **f2 = realloc(csv->fieldv, sizeof(char *) * fcap);
                if (!f2) {
                    free(first);
                    goto nomem;
                }
                csv->fieldv = f2;
            }
            csv->fieldv[nf++] = w;
            row->nfields++;
            if (p < end && *p == '"') {
                int start = line;
                p++;
                for (;;) {
                    if (p == end) {
                        free(first);
                        *err_line = start;
                        snprintf(err, errlen, "unterminated quoted field");
                        goto fail;
                    }
                    if (*p == '"') {
                        if (p + 1 < end && p[1] == '"') {
                            *w++ = '"';
                            p += 2;
                            continue;
                        }
                        p++;
                        break;
                    }
                    if (*p == '\n' || (*p == '\r' && !(p + 1 < end && p[1] == '\n')))
                        line++;
                    *w++ = *p++;
                }
                if (p < end && *p != csv->sep && *p != '\n' && *p != '\r') {
                    free(first);
                    *err_line = line;
                    snprintf(err, errlen, "unexpected character after a closing quote");
                    goto fail;
                }
            } else {
                while (p < end && *p != csv->sep && *p != '\n' && *p != '\r') {
                    if (*p == '"') {
                        free(first);
                        *err_line = line;
                        snprintf(err, errlen, "a quote inside an unquoted field (quote the whole field)");
                        goto fail;
                    }
                    *w++ = *p++;
                }
            }
            *w++ = '\0';
            if (p < end && *p == csv->sep) {
                p++;
                continue;
            }
            break; /* end of record */
        }
        if (p < end) { /* a newline */
            if (*p == '\r' && p + 1 < end && p[1] == '\n')
                p++;
            p++;
            line++;
        }
    }
    for (int i = 0; i < csv->nrows; i++)
        csv->rows[i].fields = csv->fieldv + first[i];
    free(first);
    return 0;
nomem:
    dn_csv_free(csv);
    return DN_ENOMEM;
fail:
    dn_csv_free(csv);
    return DN_EVALIDATION;
}

/* ------------------------------------------------------------------ */
/* a small string -> int map (open addressing), for logins and class names */

typedef struct smap {
    const char **keys;
    int *vals;
    size_t cap;
} smap_t;

static int smap_init(smap_t *m, size_t n)
{
    m->cap = 64;
    while (m->cap < n * 2 + 1)
        m->cap *= 2;
    m->keys = calloc(m->cap, sizeof(char *));
    m->vals = calloc(m->cap, sizeof(int));
    return m->keys && m->vals ? 0 : DN_ENOMEM;
}

static void smap_free(smap_t *m)
{
    free(m->keys);
    free(m->vals);
}

static size_t smap_slot(const smap_t *m, const char *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *s = (const unsigned char *)k; *s; s++)
        h = (h ^ *s) * 1099511628211ULL;
    size_t i = (size_t)h & (m->cap - 1);
    while (m->keys[i] != NULL && strcmp(m->keys[i], k) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* -1 when absent */
static int smap_get(const smap_t *m, const char *k)
{
    size_t i = smap_slot(m, k);
    return m->keys[i] ? m->vals[i] : -1;
}

static void smap_put(smap_t *m, const char *k, int v)
{
    size_t i = smap_slot(m, k);
    m->keys[i] = k;
    m->vals[i] = v;
}

/* ------------------------------------------------------------------ */
/* planning                                                           */

enum { COL_TYPE, COL_LAST, COL_FIRST, COL_MIDDLE, COL_LOGIN, COL_CLASS, COL_SUBJECT, COL_PARENT_OF, NCOLS };
static const char *const col_names[NCOLS] = {"type",  "last_name", "first_name", "middle_name",
                                             "login", "class",     "subject",    "parent_of"};

enum { T_CLASS, T_STUDENT, T_PARENT, T_TEACHER, T_ASSIGNMENT };

typedef struct prow {
    int line;
    int type;
    const char *v[NCOLS];
    char login[72];     /* people: the login to create (given or generated) */
    int person;         /* people: creates a user (0 for a repeated parent row) */
    int grade;          /* class rows: parsed name */
    char letter[16];
    char canon[24];     /* class name as "5Б": key of the class map */
    int64_t class_id;   /* existing class, or the class created from the file */
    int64_t ref_user;   /* parent_of / assignment teacher existing in the store (0 = from file) */
    int64_t user_id;    /* set while writing */
    int64_t subject_id; /* assignment: set while writing */
} prow_t;

static dn_query_t q_login_id = {"SELECT id FROM users WHERE login = ?"};
static dn_query_t q_membership = {"INSERT INTO class_students (class_id, student_id, from_date) VALUES (?, ?, ?)"};
static dn_query_t q_link = {
    "INSERT INTO parent_links (parent_id, student_id) VALUES (?, ?) ON CONFLICT (parent_id, student_id) DO NOTHING"};
static dn_query_t q_assign = {
    "INSERT INTO assignments (school_id, teacher_id, class_id, subject_id, subgroup) VALUES (?, ?, ?, ?, '') "
    "ON CONFLICT (class_id, subject_id, subgroup, teacher_id) DO NOTHING"};
static dn_query_t q_class_ins = {
    "INSERT INTO classes (school_id, start_year, letter) VALUES (?, ?, ?) RETURNING id"};
static dn_query_t q_subject_ins = {"INSERT INTO subjects (school_id, name) VALUES (?, ?) RETURNING id"};

typedef struct plan {
    dn_db_t *db;
    int64_t school_id;
    int year;
    json_t *errors;
    prow_t *rows;
    int n;
    smap_t logins;   /* login -> row index of the person row */
    smap_t classes;  /* canonical class name "5Б" -> row index of the class row */
    smap_t subjects; /* subject name -> row index of first use */
} plan_t;

static void row_error(plan_t *pl, int line, const char *field, const char *msg)
{
    json_t *e = json_pack("{s:i,s:s,s:s}", "line", line, "field", field, "message", msg);
    /* jansson refuses strings that are not UTF-8, and field/msg may quote the
     * file: the error must still be recorded, or the caller would go on with
     * a row it believes valid (found by fuzzing, tests/fuzz/csv_import). */
    if (e == NULL)
        e = json_pack("{s:i,s:s,s:s}", "line", line, "field", "row", "message",
                      "this line is not valid UTF-8 text");
    json_array_append_new(pl->errors, e);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* existing user id by login; 0 when none */
static int login_lookup(plan_t *pl, const char *login, int64_t *id)
{
    int rc = dn_db_scalar(pl->db, &q_login_id, id, "s", login);
    if (rc == DN_ENOTFOUND) {
        *id = 0;
        return 0;
    }
    return rc;
}

/* Resolve the class of a student/assignment row: in the file or in the store. -1 when bad (reported). */
static int resolve_class(plan_t *pl, prow_t *r)
{
    if (dn_school_class_parse_name(r->v[COL_CLASS], &r->grade, r->letter, sizeof(r->letter)) < 0) {
        row_error(pl, r->line, "class", "class must be a grade 1-11 and a letter, e.g. 5Б");
        return -1;
    }
    snprintf(r->canon, sizeof(r->canon), "%d%s", r->grade, r->letter);
    if (smap_get(&pl->classes, r->canon) >= 0)
        return 0;
    int rc = dn_school_class_find(pl->db, pl->school_id, dn_class_start_year(r->grade, pl->year), r->letter,
                                  &r->class_id);
    if (rc < 0)
        return rc;
    if (r->class_id > 0)
        return 0;
    row_error(pl, r->line, "class", "no such class in this school or in the file");
    return -1;
}

static int plan_rows(plan_t *pl)
{
    int rc;
    /* pass 1: classes and people, so later rows may refer to earlier or later ones */
    for (int i = 0; i < pl->n; i++) {
        prow_t *r = &pl->rows[i];
        if (r->type == T_CLASS) {
            if (dn_school_class_parse_name(r->v[COL_CLASS], &r->grade, r->letter, sizeof(r->letter)) < 0) {
                row_error(pl, r->line, "class", "class must be a grade 1-11 and a letter, e.g. 5Б");
                continue;
            }
            snprintf(r->canon, sizeof(r->canon), "%d%s", r->grade, r->letter);
            if (smap_get(&pl->classes, r->canon) >= 0) {
                row_error(pl, r->line, "class", "the class is listed twice");
                continue;
            }
            rc = dn_school_class_find(pl->db, pl->school_id, dn_class_start_year(r->grade, pl->year), r->letter,
                                      &r->class_id);
            if (rc < 0)
                return rc;
            smap_put(&pl->classes, r->canon, i);
        } else if (r->type == T_STUDENT || r->type == T_PARENT || r->type == T_TEACHER) {
            dn_person_t p = {r->v[COL_LOGIN], r->v[COL_LAST], r->v[COL_FIRST], r->v[COL_MIDDLE]};
            json_t *errs = json_array();
            int bad = dn_school_person_validate(&p, 0, errs) < 0;
            size_t k;
            json_t *e;
            json_array_foreach(errs, k, e)
                row_error(pl, r->line, json_string_value(json_object_get(e, "field")),
                          json_string_value(json_object_get(e, "message")));
            json_decref(errs);
            if (bad)
                continue;
            if (r->v[COL_LOGIN][0]) {
                snprintf(r->login, sizeof(r->login), "%s", r->v[COL_LOGIN]);
                int prev = smap_get(&pl->logins, r->login);
                if (prev >= 0) {
                    if (r->type == T_PARENT && pl->rows[prev].type == T_PARENT) {
                        r->person = 0; /* another child of the same parent */
                        continue;
                    }
                    row_error(pl, r->line, "login", "the login is used twice in the file");
                    continue;
                }
                int64_t id;
                rc = login_lookup(pl, r->login, &id);
                if (rc < 0)
                    return rc;
                if (id > 0) {
                    row_error(pl, r->line, "login", "the login is already taken");
                    continue;
                }
            } else {
                const char *prefix = r->type == T_STUDENT ? "s" : r->type == T_PARENT ? "p" : "t";
                do
                    dn_school_random_login(prefix, r->login, sizeof(r->login));
                while (smap_get(&pl->logins, r->login) >= 0);
            }
            r->person = 1;
            smap_put(&pl->logins, r->login, i);
        }
    }
    /* pass 2: references */
    for (int i = 0; i < pl->n; i++) {
        prow_t *r = &pl->rows[i];
        if (r->type == T_STUDENT) {
            if (!r->v[COL_CLASS][0]) {
                row_error(pl, r->line, "class", "a student needs a class");
                continue;
            }
            rc = resolve_class(pl, r);
            if (rc < -1)
                return rc;
        } else if (r->type == T_PARENT) {
            const char *child = r->v[COL_PARENT_OF];
            if (!child[0]) {
                row_error(pl, r->line, "parent_of", "a parent needs parent_of: the login of a student");
                continue;
            }
            int idx = smap_get(&pl->logins, child);
            if (idx >= 0) {
                if (pl->rows[idx].type != T_STUDENT)
                    row_error(pl, r->line, "parent_of", "parent_of must be the login of a student");
                continue;
            }
            rc = login_lookup(pl, child, &r->ref_user);
            if (rc < 0)
                return rc;
            rc = r->ref_user > 0 ? dn_school_user_has_role(pl->db, r->ref_user, pl->school_id, "student") : 0;
            if (rc < 0)
                return rc;
            if (rc == 0)
                row_error(pl, r->line, "parent_of", "no student with this login in the file or the school");
        } else if (r->type == T_ASSIGNMENT) {
            const char *login = r->v[COL_LOGIN];
            int idx = login[0] ? smap_get(&pl->logins, login) : -1;
            if (!login[0]) {
                row_error(pl, r->line, "login", "an assignment needs the teacher's login");
            } else if (idx >= 0) {
                if (pl->rows[idx].type != T_TEACHER)
                    row_error(pl, r->line, "login", "login must be a teacher's");
            } else {
                rc = login_lookup(pl, login, &r->ref_user);
                if (rc < 0)
                    return rc;
                rc = r->ref_user > 0 ? dn_school_user_has_role(pl->db, r->ref_user, pl->school_id, "teacher") : 0;
                if (rc < 0)
                    return rc;
                if (rc == 0)
                    row_error(pl, r->line, "login", "no teacher with this login in the file or the school");
            }
            if (!r->v[COL_CLASS][0]) {
                row_error(pl, r->line, "class", "an assignment needs a class");
            } else {
                rc = resolve_class(pl, r);
                if (rc < -1)
                    return rc;
            }
            if (!r->v[COL_SUBJECT][0] || strlen(r->v[COL_SUBJECT]) > 100)
                row_error(pl, r->line, "subject", "an assignment needs a subject name (at most 100 bytes)");
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* header and rows                                                    */

static const char *const type_names[] = {"class", "student", "parent", "teacher", "assignment"};

static int build_rows(plan_t *pl, dn_csv_t *csv)
{
    int colmap[DN_CSV_MAX_FIELDS];
    int have[NCOLS] = {0};
    int header_bad = 0;
    dn_csv_row_t *h = &csv->rows[0];
    for (int f = 0; f < h->nfields; f++) {
        char *name = trim(h->fields[f]);
        for (char *c = name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        colmap[f] = -1;
        for (int c = 0; c < NCOLS; c++)
            if (strcmp(name, col_names[c]) == 0)
                colmap[f] = c;
        if (colmap[f] < 0) {
            char msg[160];
            /* quote at most 60 bytes, cut on a UTF-8 character boundary */
            int quoted = (int)strnlen(name, 61);
            if (quoted > 60)
                for (quoted = 60; quoted > 0 && ((unsigned char)name[quoted] & 0xC0) == 0x80; quoted--)
                    ;
            snprintf(msg, sizeof(msg), "unknown column \"%.*s\"; columns: type,last_name,first_name,middle_name,"
                                       "login,class,subject,parent_of", quoted, name);
            row_error(pl, h->line, "header", msg);
            header_bad = 1;
        } else if (have[colmap[f]]++) {
            row_error(pl, h->line, name, "the column is listed twice");
            header_bad = 1;
        }
    }
    if (!have[COL_TYPE]) {
        row_error(pl, h->line, "type", "the header must have a \"type\" column");
        header_bad = 1;
    }
    if (header_bad || json_array_size(pl->errors) > 0)
        return 0;
    pl->n = csv->nrows - 1;
    pl->rows = calloc((size_t)(pl->n > 0 ? pl->n : 1), sizeof(prow_t));
    if (pl->rows == NULL)
        return DN_ENOMEM;
    for (int i = 0; i < pl->n; i++) {
        dn_csv_row_t *cr = &csv->rows[i + 1];
        prow_t *r = &pl->rows[i];
        r->line = cr->line;
        for (int c = 0; c < NCOLS; c++)
            r->v[c] = "";
        if (cr->nfields > h->nfields) {
            row_error(pl, r->line, "row", "more fields than columns in the header");
            r->type = -1;
            continue;
        }
        for (int f = 0; f < cr->nfields; f++)
            r->v[colmap[f]] = trim(cr->fields[f]);
        r->type = -1;
        for (int t = 0; t < 5; t++)
            if (strcmp(r->v[COL_TYPE], type_names[t]) == 0)
                r->type = t;
        if (r->type < 0)
            row_error(pl, r->line, "type", "type must be class, student, parent, teacher or assignment");
        else if (r->type == T_CLASS && !r->v[COL_CLASS][0])
            row_error(pl, r->line, "class", "a class row needs the class name, e.g. 5Б");
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* writing                                                            */

static int64_t class_of(plan_t *pl, const prow_t *r)
{
    if (r->class_id > 0)
        return r->class_id;
    int idx = smap_get(&pl->classes, r->canon);
    return idx >= 0 ? pl->rows[idx].class_id : 0;
}

static int64_t user_of(plan_t *pl, const char *login, int64_t existing)
{
    if (existing > 0)
        return existing;
    int idx = smap_get(&pl->logins, login);
    return idx >= 0 ? pl->rows[idx].user_id : 0;
}

static int write_all(plan_t *pl, json_t *users, int counts[8])
{
    dn_db_t *db = pl->db;
    char from[16];
    snprintf(from, sizeof(from), "%04d-09-01", pl->year % 10000);
    int rc = 0;
    for (int i = 0; rc == 0 && i < pl->n; i++) {
        prow_t *r = &pl->rows[i];
        if (r->type != T_CLASS || r->class_id > 0)
            continue;
        rc = dn_db_scalar(db, &q_class_ins, &r->class_id, "iis", pl->school_id,
                           (int64_t)dn_class_start_year(r->grade, pl->year), r->letter);
        counts[0]++;
    }
    static const unsigned role_of[] = {0, DN_SROLE_STUDENT, DN_SROLE_PARENT, DN_SROLE_TEACHER, 0};
    for (int i = 0; rc == 0 && i < pl->n; i++) {
        prow_t *r = &pl->rows[i];
        if (!r->person)
            continue;
        dn_person_t p = {r->login, r->v[COL_LAST], r->v[COL_FIRST], r->v[COL_MIDDLE]};
        /* "!" is no argon2 hash: nobody can sign in until the invite sets a password */
        rc = dn_school_user_insert(db, pl->school_id, &p, role_of[r->type], "!invite", &r->user_id);
        char code[16];
        if (rc == 0)
            rc = dn_school_invite_create(db, r->user_id, code, sizeof(code));
        if (rc < 0)
            break;
        json_array_append_new(users, json_pack("{s:i,s:s,s:I,s:s,s:s,s:s,s:s,s:s}", "line", r->line, "type",
                                               type_names[r->type], "id", (json_int_t)r->user_id, "login", r->login,
                                               "last_name", r->v[COL_LAST], "first_name", r->v[COL_FIRST],
                                               "middle_name", r->v[COL_MIDDLE], "invite_code", code));
        counts[r->type]++;
    }
    for (int i = 0; rc == 0 && i < pl->n; i++) {
        prow_t *r = &pl->rows[i];
        if (r->type == T_STUDENT) {
            rc = dn_db_run(db, &q_membership, "iis", class_of(pl, r), r->user_id, from);
        } else if (r->type == T_PARENT) {
            int64_t parent = r->person ? r->user_id : user_of(pl, r->login, 0);
            int64_t child = user_of(pl, r->v[COL_PARENT_OF], r->ref_user);
            rc = dn_db_run(db, &q_link, "ii", parent, child);
            counts[5]++;
        } else if (r->type == T_ASSIGNMENT) {
            int idx = smap_get(&pl->subjects, r->v[COL_SUBJECT]);
            if (idx >= 0) {
                r->subject_id = pl->rows[idx].subject_id;
            } else {
                rc = dn_school_subject_find(db, pl->school_id, r->v[COL_SUBJECT], &r->subject_id);
                if (rc == 0 && r->subject_id == 0) {
                    rc = dn_db_scalar(db, &q_subject_ins, &r->subject_id, "is", pl->school_id, r->v[COL_SUBJECT]);
                    counts[6]++;
                }
                smap_put(&pl->subjects, r->v[COL_SUBJECT], i);
            }
            if (rc == 0)
                rc = dn_db_run(db, &q_assign, "iiii", pl->school_id, user_of(pl, r->v[COL_LOGIN], r->ref_user),
                                    class_of(pl, r), r->subject_id);
            counts[T_ASSIGNMENT]++;
        }
    }
    return rc;
}

static json_t *preview(plan_t *pl)
{
    json_t *rows = json_array();
    for (int i = 0; i < pl->n; i++) {
        prow_t *r = &pl->rows[i];
        json_t *o = json_pack("{s:i,s:s}", "line", r->line, "type", type_names[r->type]);
        if (r->type == T_CLASS)
            json_object_set_new(o, "exists", json_boolean(r->class_id > 0));
        if (r->login[0] || r->v[COL_LOGIN][0])
            json_object_set_new(o, "login", json_string(r->login[0] ? r->login : r->v[COL_LOGIN]));
        for (int c = COL_LAST; c < NCOLS; c++)
            if (c != COL_LOGIN && r->v[c][0])
                json_object_set_new(o, col_names[c], json_string(r->v[c]));
        json_array_append_new(rows, o);
    }
    return rows;
}

int dn_import_run(dn_db_t *db, int64_t school_id, const char *buf, size_t len, int dry_run, json_t *errors,
                  json_t **out)
{
    dn_csv_t csv;
    char msg[160];
    int line = 0;
    int rc = dn_csv_parse(buf, len, &csv, &line, msg, sizeof(msg));
    if (rc == DN_EVALIDATION) {
        json_array_append_new(errors, json_pack("{s:i,s:s,s:s}", "line", line, "field", "csv", "message", msg));
        return rc;
    }
    if (rc < 0)
        return rc;
    plan_t pl;
    memset(&pl, 0, sizeof(pl));
    pl.db = db;
    pl.school_id = school_id;
    pl.year = dn_school_current_year();
    pl.errors = errors;
    if (csv.nrows < 2) {
        row_error(&pl, csv.nrows == 1 ? csv.rows[0].line : 1, "csv", "the file needs a header row and data rows");
        rc = DN_EVALIDATION;
        goto done;
    }
    if ((rc = smap_init(&pl.logins, (size_t)csv.nrows)) < 0 || (rc = smap_init(&pl.classes, (size_t)csv.nrows)) < 0 ||
        (rc = smap_init(&pl.subjects, (size_t)csv.nrows)) < 0)
        goto done;
    rc = build_rows(&pl, &csv);
    if (rc == 0 && pl.rows != NULL) /* header fine: check every row, report all problems */
        rc = plan_rows(&pl);
    if (rc < 0)
        goto done;
    if (json_array_size(errors) > 0) {
        rc = DN_EVALIDATION;
        goto done;
    }
    /* counts by type: class, student, parent, teacher, assignment, links, new subjects */
    int counts[8] = {0};
    json_t *users = json_array();
    if (!dry_run) {
        rc = dn_db_begin_write(db);
        if (rc == 0)
            rc = write_all(&pl, users, counts);
        if (rc == 0)
            rc = dn_db_commit(db);
        if (rc < 0) {
            dn_db_rollback(db);
            json_decref(users);
            /* a login taken between the check and the write */
            if (rc == DN_ECONFLICT || rc == DN_EEXIST)
                rc = DN_ECONFLICT;
            goto done;
        }
    } else {
        for (int i = 0; i < pl.n; i++) {
            prow_t *r = &pl.rows[i];
            if (r->type == T_CLASS && r->class_id == 0)
                counts[0]++;
            else if (r->type == T_PARENT) {
                counts[5]++;
                counts[T_PARENT] += r->person;
            } else if (r->type != T_CLASS)
                counts[r->type]++;
        }
    }
    *out = json_pack("{s:b,s:{s:i,s:i,s:i,s:i,s:i,s:i,s:i},s:o,s:o}", "dry_run", dry_run, "counts", "classes",
                     counts[0], "students", counts[T_STUDENT], "parents", counts[T_PARENT], "teachers",
                     counts[T_TEACHER], "assignments", counts[T_ASSIGNMENT], "parent_links", counts[5], "subjects",
                     counts[6], "rows", preview(&pl), "users", users);
done:
    smap_free(&pl.logins);
    smap_free(&pl.classes);
    smap_free(&pl.subjects);
    free(pl.rows);
    dn_csv_free(&csv);
    return rc;
}
