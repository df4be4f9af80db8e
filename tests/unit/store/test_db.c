/*
 * test_db.c - the store interface (store/db.h), on SQLite always and on
 * PostgreSQL when DN_TEST_PG_URL is set (fixture.h). Every behaviour the
 * rest of the server relies on is checked on both backends with the same
 * SQL, which is the point: code tested on SQLite must behave the same on
 * PostgreSQL.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fixture.h"

/* Portable table used by most tests. */
static void make_people(void)
{
    fx_exec(fx_db, "CREATE TABLE people (id BIGINT PRIMARY KEY, name TEXT, score DOUBLE PRECISION, "
                   "email TEXT UNIQUE)");
}

static dn_query_t q_count_people = {"SELECT count(*) FROM people"};

Test(db, url_parsing)
{
    cr_assert(dn_db_url_valid("sqlite:/tmp/x.db"));
    cr_assert(dn_db_url_valid("sqlite:relative/file"));
    cr_assert(dn_db_url_valid("dnevnik.db"));
    cr_assert(dn_db_url_valid("/var/lib/dnevnik/data.sqlite"));
    cr_assert(dn_db_url_valid("data.sqlite3"));
    cr_assert(dn_db_url_valid("postgresql://user:pw@localhost:5432/dnevnik?sslmode=disable"));
    cr_assert(dn_db_url_valid("postgres://localhost/dnevnik"));
    cr_assert_not(dn_db_url_valid(NULL));
    cr_assert_not(dn_db_url_valid(""));
    cr_assert_not(dn_db_url_valid("sqlite:"));
    cr_assert_not(dn_db_url_valid("mysql://localhost/x"));
    cr_assert_not(dn_db_url_valid("notes.txt"));
    cr_assert_not(dn_db_url_valid("http://x/y.db"));
    cr_assert_not(dn_db_url_valid("postgresql://localhost/x?nosuchoption=1"));
}

Test(db, bad_url)
{
    char err[256] = "";
    dn_db_t *db = (dn_db_t *)1;
    cr_assert_eq(dn_db_open("mysql://secret@localhost/x", &db, err, sizeof err), DN_EINVAL);
    cr_assert_null(db);
    cr_assert(err[0]);
    cr_assert_null(strstr(err, "secret"), "the URL (and its password) must not be echoed: %s", err);
    cr_assert_eq(dn_db_open("sqlite:/nonexistent-dir/x/y.db", &db, err, sizeof err), DN_EDB);
    cr_assert_null(db);
    /* Nothing listens on port 1: a refused connection is "retry later". */
    err[0] = '\0';
    cr_assert_eq(dn_db_open("postgresql://127.0.0.1:1/x?connect_timeout=2", &db, err, sizeof err), DN_EBUSY);
    cr_assert_null(db);
    cr_assert(err[0]);
    dn_db_close(NULL);
}

Test(db, sqlite_url_forms)
{
    char dir[] = "/tmp/dn-store-url.XXXXXX", url[256];
    cr_assert_not_null(mkdtemp(dir));
    const char *forms[] = {"sqlite:%s/a.db", "%s/b.db", "%s/c.sqlite"};
    for (size_t i = 0; i < 3; i++) {
        char err[256];
        dn_db_t *db;
        snprintf(url, sizeof url, forms[i], dir);
        cr_assert_eq(dn_db_open(url, &db, err, sizeof err), 0, "%s: %s", url, err);
        cr_assert_eq(dn_db_backend(db), DN_DB_SQLITE);
        cr_assert_eq(dn_db_ping(db), 0);
        cr_assert_str_eq(dn_db_errmsg(db), "");
        dn_db_close(db);
    }
    const char *files[] = {"a.db", "a.db-wal", "a.db-shm", "b.db", "b.db-wal", "b.db-shm",
                           "c.sqlite", "c.sqlite-wal", "c.sqlite-shm"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(url, sizeof url, "%s/%s", dir, files[i]);
        unlink(url);
    }
    rmdir(dir);
}

STORE_TEST(db, open_ping_close)
{
    cr_assert_eq(dn_db_ping(fx_db), 0);
    cr_assert_eq(dn_db_backend(fx_db), fx_schema[0] ? DN_DB_POSTGRES : DN_DB_SQLITE);
    cr_assert_eq(dn_db_errcode(fx_db), 0);
}

STORE_TEST(db, bind_step_columns_nulls)
{
    static dn_query_t ins = {"INSERT INTO people (id, name, score, email) VALUES (?, ?, ?, ?)"};
    static dn_query_t sel = {"SELECT id, name, score, email FROM people ORDER BY id"};
    make_people();

    dn_stmt_t *st = dn_db_prepare(fx_db, &ins);
    cr_assert_not_null(st, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_stmt_bind_int64(st, 1, 1), 0);
    cr_assert_eq(dn_stmt_bind_text(st, 2, "Anna", -1), 0);
    cr_assert_eq(dn_stmt_bind_double(st, 3, 4.75), 0);
    cr_assert_eq(dn_stmt_bind_text(st, 4, "anna@example.org trailing", 16), 0); /* len counts */
    cr_assert_eq(dn_stmt_exec(st), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_stmt_changes(st), 1);

    st = dn_db_prepare(fx_db, &ins);
    cr_assert_eq(dn_stmt_bind_int64(st, 1, 2), 0);
    cr_assert_eq(dn_stmt_bind_null(st, 2), 0);
    cr_assert_eq(dn_stmt_bind_text(st, 3, NULL, -1), 0); /* NULL text is SQL NULL */
    /* parameter 4 left unbound: NULL on both backends */
    cr_assert_eq(dn_stmt_exec(st), 0, "%s", dn_db_errmsg(fx_db));

    st = dn_db_prepare(fx_db, &sel);
    cr_assert_not_null(st);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    cr_assert_eq(dn_stmt_column_count(st), 4);
    cr_assert_eq(dn_stmt_int64(st, 0), 1);
    size_t len = 0;
    cr_assert_str_eq(dn_stmt_text(st, 1, &len), "Anna");
    cr_assert_eq(len, 4);
    cr_assert_float_eq(dn_stmt_double(st, 2), 4.75, 1e-12);
    cr_assert_str_eq(dn_stmt_text(st, 3, NULL), "anna@example.org");
    cr_assert_not(dn_stmt_is_null(st, 1));

    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    cr_assert_eq(dn_stmt_int64(st, 0), 2);
    for (int c = 1; c < 4; c++) {
        cr_assert(dn_stmt_is_null(st, c), "column %d", c);
        cr_assert_null(dn_stmt_text(st, c, &len));
        cr_assert_eq(len, 0);
        cr_assert_eq(dn_stmt_int64(st, c), 0);
        cr_assert_float_eq(dn_stmt_double(st, c), 0.0, 0.0);
    }
    /* out of range columns read as NULL rather than crash */
    cr_assert(dn_stmt_is_null(st, 4));
    cr_assert(dn_stmt_is_null(st, -1));
    cr_assert_eq(dn_stmt_step(st), DN_DB_DONE);
    cr_assert_eq(dn_stmt_changes(st), 0);
    /* a finished statement stays finished (SQLite would silently rerun) */
    cr_assert_eq(dn_stmt_step(st), DN_DB_DONE);
    cr_assert_null(dn_stmt_text(st, 1, NULL));
}

STORE_TEST(db, bind_errors)
{
    static dn_query_t q = {"SELECT ? + 1"};
    dn_stmt_t *st = dn_db_prepare(fx_db, &q);
    cr_assert_not_null(st, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_stmt_bind_int64(st, 0, 1), DN_EINVAL);
    cr_assert_eq(dn_stmt_bind_int64(st, 2, 1), DN_EINVAL);
    cr_assert_eq(dn_stmt_bind_int64(st, 1, 41), 0);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    cr_assert_eq(dn_stmt_int64(st, 0), 42);
    cr_assert_eq(dn_stmt_bind_int64(st, 1, 1), DN_EINVAL, "binding after a step needs a new prepare");
}

STORE_TEST(db, prepare_errors)
{
    static dn_query_t bad = {"SELEKT 1"};
    static dn_query_t missing = {"SELECT * FROM no_such_table"};
    static dn_query_t two = {"SELECT 1; SELECT 2"};
    cr_assert_null(dn_db_prepare(fx_db, &bad));
    cr_assert_eq(dn_db_errcode(fx_db), DN_EDB);
    cr_assert(dn_db_errmsg(fx_db)[0]);
    cr_assert_null(dn_db_prepare(fx_db, &missing));
    cr_assert_null(dn_db_prepare(fx_db, &two));
    /* the connection is still fine */
    cr_assert_eq(dn_db_ping(fx_db), 0);
    cr_assert_eq(dn_db_exec(fx_db, "SELEKT"), DN_EDB);
}

STORE_TEST(db, utf8_text)
{
    static dn_query_t ins = {"INSERT INTO people (id, name) VALUES (?, ?)"};
    static dn_query_t sel = {"SELECT name, length(name) FROM people WHERE name = ?"};
    const char *name = "Ёлкина Софья — «отличница» ✓";
    make_people();
    dn_stmt_t *st = dn_db_prepare(fx_db, &ins);
    dn_stmt_bind_int64(st, 1, 1);
    dn_stmt_bind_text(st, 2, name, -1);
    cr_assert_eq(dn_stmt_exec(st), 0, "%s", dn_db_errmsg(fx_db));

    st = dn_db_prepare(fx_db, &sel);
    dn_stmt_bind_text(st, 1, name, -1);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW, "%s", dn_db_errmsg(fx_db));
    size_t len;
    const char *got = dn_stmt_text(st, 0, &len);
    cr_assert_str_eq(got, name);
    cr_assert_eq(len, strlen(name));
    cr_assert_eq(dn_stmt_int64(st, 1), 28, "length() counts characters on both backends");
}

STORE_TEST(db, int64_and_double_extremes)
{
    static dn_query_t ins = {"INSERT INTO people (id, score) VALUES (?, ?)"};
    static dn_query_t sel = {"SELECT id, score FROM people WHERE id = ?"};
    static dn_query_t echo = {"SELECT ?"};
    const int64_t ids[] = {INT64_MIN, INT64_MAX, 0, -1, 1700000000000};
    const double scores[] = {-1e300, 1e300, 0.1, -2.5, 3.0};
    make_people();
    for (int i = 0; i < 5; i++) {
        dn_stmt_t *st = dn_db_prepare(fx_db, &ins);
        dn_stmt_bind_int64(st, 1, ids[i]);
        dn_stmt_bind_double(st, 2, scores[i]);
        cr_assert_eq(dn_stmt_exec(st), 0, "%s", dn_db_errmsg(fx_db));
    }
    for (int i = 0; i < 5; i++) {
        dn_stmt_t *st = dn_db_prepare(fx_db, &sel);
        dn_stmt_bind_int64(st, 1, ids[i]);
        cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
        cr_assert_eq(dn_stmt_int64(st, 0), ids[i]);
        cr_assert_eq(dn_stmt_double(st, 1), scores[i], "exact round trip of %.17g", scores[i]);
    }
    dn_stmt_t *st = dn_db_prepare(fx_db, &echo);
    dn_stmt_bind_int64(st, 1, INT64_MIN);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    cr_assert_eq(dn_stmt_int64(st, 0), INT64_MIN);
}

STORE_TEST(db, returning)
{
    static dn_query_t ins = {"INSERT INTO people (id, name) VALUES (?, ?) RETURNING id, name"};
    static dn_query_t upd = {"UPDATE people SET score = ? WHERE id >= ? RETURNING id"};
    make_people();
    dn_stmt_t *st = dn_db_prepare(fx_db, &ins);
    dn_stmt_bind_int64(st, 1, 7);
    dn_stmt_bind_text(st, 2, "Boris", -1);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_stmt_int64(st, 0), 7);
    cr_assert_str_eq(dn_stmt_text(st, 1, NULL), "Boris");
    cr_assert_eq(dn_stmt_step(st), DN_DB_DONE);
    cr_assert_eq(dn_stmt_changes(st), 1);

    st = dn_db_prepare(fx_db, &ins);
    dn_stmt_bind_int64(st, 1, 8);
    dn_stmt_bind_text(st, 2, "Vera", -1);
    cr_assert_eq(dn_stmt_exec(st), 0);

    st = dn_db_prepare(fx_db, &upd);
    dn_stmt_bind_double(st, 1, 5.0);
    dn_stmt_bind_int64(st, 2, 0);
    int rows = 0;
    int rc;
    while ((rc = dn_stmt_step(st)) == DN_DB_ROW)
        rows++;
    cr_assert_eq(rc, DN_DB_DONE);
    cr_assert_eq(rows, 2);
    cr_assert_eq(dn_stmt_changes(st), 2);
}

STORE_TEST(db, on_conflict)
{
    static dn_query_t upsert = {"INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"};
    static dn_query_t insert_ignore = {"INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING"};
    static dn_query_t get = {"SELECT v FROM kv WHERE k = ?"};
    fx_exec(fx_db, "CREATE TABLE kv (k TEXT NOT NULL PRIMARY KEY, v TEXT NOT NULL)");
    const char *vals[] = {"one", "two"};
    for (int i = 0; i < 2; i++) {
        dn_stmt_t *st = dn_db_prepare(fx_db, &upsert);
        dn_stmt_bind_text(st, 1, "key", -1);
        dn_stmt_bind_text(st, 2, vals[i], -1);
        cr_assert_eq(dn_stmt_exec(st), 0, "%s", dn_db_errmsg(fx_db));
        cr_assert_eq(dn_stmt_changes(st), 1);
    }
    dn_stmt_t *st = dn_db_prepare(fx_db, &insert_ignore);
    dn_stmt_bind_text(st, 1, "key", -1);
    dn_stmt_bind_text(st, 2, "three", -1);
    cr_assert_eq(dn_stmt_exec(st), 0);
    cr_assert_eq(dn_stmt_changes(st), 0);

    st = dn_db_prepare(fx_db, &get);
    dn_stmt_bind_text(st, 1, "key", -1);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    cr_assert_str_eq(dn_stmt_text(st, 0, NULL), "two");
}

STORE_TEST(db, constraint_violations_conflict)
{
    static dn_query_t ins = {"INSERT INTO people (id, email) VALUES (?, ?)"};
    static dn_query_t child = {"INSERT INTO marks (person_id, mark) VALUES (?, ?)"};
    make_people();
    fx_exec(fx_db, "CREATE TABLE marks (person_id BIGINT NOT NULL REFERENCES people (id), "
                   "mark INTEGER NOT NULL CHECK (mark BETWEEN 1 AND 5))");
    dn_stmt_t *st = dn_db_prepare(fx_db, &ins);
    dn_stmt_bind_int64(st, 1, 1);
    dn_stmt_bind_text(st, 2, "a@b.c", -1);
    cr_assert_eq(dn_stmt_exec(st), 0);

    /* primary key, unique */
    int64_t ids[] = {1, 2};
    for (int i = 0; i < 2; i++) {
        st = dn_db_prepare(fx_db, &ins);
        dn_stmt_bind_int64(st, 1, ids[i]);
        dn_stmt_bind_text(st, 2, "a@b.c", -1);
        cr_assert_eq(dn_stmt_exec(st), DN_ECONFLICT, "id %d: %s", (int)ids[i], dn_db_errmsg(fx_db));
        cr_assert_eq(dn_db_errcode(fx_db), DN_ECONFLICT);
        cr_assert(dn_db_errmsg(fx_db)[0]);
        cr_assert_eq(dn_stmt_step(st), DN_ECONFLICT, "a failed statement keeps its error");
    }
    /* foreign key (SQLite enforces it only with foreign_keys=ON), check, not null */
    struct { int64_t person; int64_t mark; int null_mark; } bad[] = {{99, 5, 0}, {1, 7, 0}, {1, 0, 1}};
    for (int i = 0; i < 3; i++) {
        st = dn_db_prepare(fx_db, &child);
        dn_stmt_bind_int64(st, 1, bad[i].person);
        if (bad[i].null_mark)
            dn_stmt_bind_null(st, 2);
        else
            dn_stmt_bind_int64(st, 2, bad[i].mark);
        cr_assert_eq(dn_stmt_exec(st), DN_ECONFLICT, "case %d: %s", i, dn_db_errmsg(fx_db));
    }
    cr_assert_eq(fx_int(fx_db, &q_count_people), 1);
}

STORE_TEST(db, transactions)
{
    static dn_query_t ins = {"INSERT INTO people (id, name) VALUES (?, ?)"};
    make_people();

    cr_assert_eq(dn_db_rollback(fx_db), 0, "rollback without a transaction is harmless");
    cr_assert_eq(dn_db_commit(fx_db), DN_EINVAL);

    cr_assert_eq(dn_db_begin_write(fx_db), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_db_begin(fx_db), 0, "nesting is a savepoint (test_txnest.c)");
    cr_assert_eq(dn_db_rollback(fx_db), 0);
    dn_stmt_t *st = dn_db_prepare(fx_db, &ins);
    dn_stmt_bind_int64(st, 1, 1);
    dn_stmt_bind_text(st, 2, "rolled back", -1);
    cr_assert_eq(dn_stmt_exec(st), 0);
    cr_assert_eq(fx_int(fx_db, &q_count_people), 1, "a transaction sees its own writes");
    cr_assert_eq(dn_db_rollback(fx_db), 0);
    cr_assert_eq(fx_int(fx_db, &q_count_people), 0);

    cr_assert_eq(dn_db_begin(fx_db), 0);
    st = dn_db_prepare(fx_db, &ins);
    dn_stmt_bind_int64(st, 1, 2);
    dn_stmt_bind_text(st, 2, "committed", -1);
    cr_assert_eq(dn_stmt_exec(st), 0);
    cr_assert_eq(dn_db_commit(fx_db), 0, "%s", dn_db_errmsg(fx_db));

    dn_db_close(fx_db);
    fx_db = fx_open();
    cr_assert_eq(fx_int(fx_db, &q_count_people), 1, "commit persists across reopen");
}

STORE_TEST(db, error_aborts_transaction)
{
    static dn_query_t ins = {"INSERT INTO people (id, name) VALUES (?, ?)"};
    make_people();
    cr_assert_eq(dn_db_begin_write(fx_db), 0);
    for (int i = 0; i < 2; i++) {
        dn_stmt_t *st = dn_db_prepare(fx_db, &ins);
        dn_stmt_bind_int64(st, 1, 1);
        dn_stmt_bind_text(st, 2, "x", -1);
        cr_assert_eq(dn_stmt_exec(st), i == 0 ? 0 : DN_ECONFLICT);
    }
    /* PostgreSQL's rule, enforced on SQLite as well: only rollback now */
    cr_assert_null(dn_db_prepare(fx_db, &ins));
    cr_assert_eq(dn_db_exec(fx_db, "SELECT 1"), DN_EDB);
    cr_assert_eq(dn_db_commit(fx_db), DN_ECONFLICT, "commit reports why nothing was committed");
    cr_assert_eq(fx_int(fx_db, &q_count_people), 0, "the first insert was rolled back too");
    /* the connection is usable again */
    cr_assert_eq(dn_db_begin(fx_db), 0);
    cr_assert_eq(dn_db_rollback(fx_db), 0);
}

STORE_TEST(db, placeholders_in_literals)
{
    static dn_query_t q = {"SELECT '?', ?, 'it''s ?' , \"v?\" /* ? */ -- trailing ?\n FROM (SELECT 1 AS \"v?\") t"};
    static dn_query_t numbered = {"SELECT ?2 || ?1, ?1, ?"};
    dn_stmt_t *st = dn_db_prepare(fx_db, &q);
    cr_assert_not_null(st, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_stmt_bind_text(st, 1, "x", -1), 0);
    cr_assert_eq(dn_stmt_bind_text(st, 2, "y", -1), DN_EINVAL, "only one real placeholder");
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW, "%s", dn_db_errmsg(fx_db));
    cr_assert_str_eq(dn_stmt_text(st, 0, NULL), "?");
    cr_assert_str_eq(dn_stmt_text(st, 1, NULL), "x");
    cr_assert_str_eq(dn_stmt_text(st, 2, NULL), "it's ?");
    cr_assert_eq(dn_stmt_int64(st, 3), 1);

    /* SQLite's ?NNN; a bare ? after them is the next number (3) */
    st = dn_db_prepare(fx_db, &numbered);
    cr_assert_not_null(st, "%s", dn_db_errmsg(fx_db));
    dn_stmt_bind_text(st, 1, "a", -1);
    dn_stmt_bind_text(st, 2, "b", -1);
    dn_stmt_bind_text(st, 3, "c", -1);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW, "%s", dn_db_errmsg(fx_db));
    cr_assert_str_eq(dn_stmt_text(st, 0, NULL), "ba");
    cr_assert_str_eq(dn_stmt_text(st, 1, NULL), "a");
    cr_assert_str_eq(dn_stmt_text(st, 2, NULL), "c");
}

STORE_TEST(db, statement_cache)
{
    static dn_query_t sel = {"SELECT id FROM people WHERE id >= ? ORDER BY id"};
    static dn_query_t ins = {"INSERT INTO people (id) VALUES (?)"};
    static dn_query_t many[40];
    make_people();
    for (int i = 1; i <= 3; i++) {
        dn_stmt_t *st = dn_db_prepare(fx_db, &ins);
        dn_stmt_bind_int64(st, 1, i);
        cr_assert_eq(dn_stmt_exec(st), 0);
    }
    dn_stmt_t *a = dn_db_prepare(fx_db, &sel);
    int id = sel._id;
    cr_assert_gt(id, 0, "an id is assigned on first use");
    dn_stmt_bind_int64(a, 1, 1);
    cr_assert_eq(dn_stmt_step(a), DN_DB_ROW);
    cr_assert_eq(dn_stmt_int64(a, 0), 1);
    /* abandon the iteration; the next prepare resets it */
    dn_stmt_t *b = dn_db_prepare(fx_db, &sel);
    cr_assert_eq(a, b, "same descriptor, same cached statement");
    cr_assert_eq(sel._id, id, "the id never changes");
    dn_stmt_bind_int64(b, 1, 2);
    cr_assert_eq(dn_stmt_step(b), DN_DB_ROW);
    cr_assert_eq(dn_stmt_int64(b, 0), 2, "new bindings, new execution");
    cr_assert_eq(dn_stmt_step(b), DN_DB_ROW);
    cr_assert_eq(dn_stmt_int64(b, 0), 3);
    cr_assert_eq(dn_stmt_step(b), DN_DB_DONE);

    /* the cache grows past its first size; every descriptor is its own */
    dn_stmt_t *stmts[40];
    for (int i = 0; i < 40; i++) {
        many[i].sql = "SELECT ? * 2";
        stmts[i] = dn_db_prepare(fx_db, &many[i]);
        cr_assert_not_null(stmts[i], "%s", dn_db_errmsg(fx_db));
        for (int j = 0; j < i; j++)
            cr_assert_neq(stmts[i], stmts[j]);
    }
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(dn_db_prepare(fx_db, &many[i]), stmts[i]);
        dn_stmt_bind_int64(stmts[i], 1, i);
        cr_assert_eq(dn_stmt_step(stmts[i]), DN_DB_ROW);
        cr_assert_eq(dn_stmt_int64(stmts[i], 0), 2 * i);
    }
    /* the same descriptor works on a second connection */
    dn_db_t *other = fx_open();
    dn_stmt_t *c = dn_db_prepare(other, &sel);
    cr_assert_not_null(c);
    cr_assert_neq(c, a);
    dn_stmt_bind_int64(c, 1, 3);
    cr_assert_eq(dn_stmt_step(c), DN_DB_ROW);
    cr_assert_eq(dn_stmt_int64(c, 0), 3);
    dn_db_close(other);
}

static int observed, observed_failed;
static void observer(uint64_t ns, int failed)
{
    (void)ns;
    observed++;
    observed_failed += failed;
}

STORE_TEST(db, observer_and_stats)
{
    static dn_query_t q = {"SELECT 1 UNION ALL SELECT 2"};
    static dn_query_t ins = {"INSERT INTO people (id) VALUES (1)"};
    make_people();
    dn_db_stats_t before, after;
    dn_db_stats(&before);
    dn_db_set_observer(observer);
    dn_stmt_t *st = dn_db_prepare(fx_db, &q);
    cr_assert_eq(dn_stmt_exec(st), 0);
    cr_assert_eq(observed, 1, "one execution, however many rows");
    st = dn_db_prepare(fx_db, &ins);
    cr_assert_eq(dn_stmt_exec(st), 0);
    st = dn_db_prepare(fx_db, &ins);
    cr_assert_eq(dn_stmt_exec(st), DN_ECONFLICT);
    cr_assert_eq(observed, 3);
    cr_assert_eq(observed_failed, 0, "a conflict is not a store failure");
    cr_assert_eq(dn_db_exec(fx_db, "SELEKT"), DN_EDB);
    cr_assert_eq(observed, 4);
    cr_assert_eq(observed_failed, 1);
    dn_db_set_observer(NULL);
    cr_assert_eq(dn_db_ping(fx_db), 0);
    cr_assert_eq(observed, 4);
    dn_db_stats(&after);
    cr_assert_eq(after.queries - before.queries, 5);
    cr_assert_eq(after.errors - before.errors, 1);
}

/* A second writer waits for the first (SQLite: the database lock; PG: the
 * writer advisory lock) instead of interleaving with it. */
struct writer {
    const char *url;
    int rc;
    double waited;
    int64_t scope; /* 0: dn_db_begin_write, else dn_db_begin_write_in(scope) */
    int64_t id;    /* the row it inserts (2 when 0) */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *second_writer(void *arg)
{
    struct writer *w = arg;
    char err[256];
    dn_db_t *db;
    w->rc = dn_db_open(w->url, &db, err, sizeof err);
    if (w->rc)
        return NULL;
    double t0 = now_s();
    w->rc = w->scope ? dn_db_begin_write_in(db, w->scope) : dn_db_begin_write(db);
    w->waited = now_s() - t0;
    char sql[64];
    snprintf(sql, sizeof sql, "INSERT INTO people (id) VALUES (%lld)", (long long)(w->id ? w->id : 2));
    if (w->rc == 0)
        w->rc = dn_db_exec(db, sql);
    if (w->rc == 0)
        w->rc = dn_db_commit(db);
    dn_db_close(db);
    return NULL;
}

/* The first writer holds first_scope (0: the whole store) for 300 ms while
 * a second connection begins second_scope: the second must wait for it. */
static void assert_second_writer_waits(int64_t first_scope, int64_t second_scope)
{
    make_people();
    int rc = first_scope ? dn_db_begin_write_in(fx_db, first_scope) : dn_db_begin_write(fx_db);
    cr_assert_eq(rc, 0, "%s", dn_db_errmsg(fx_db));
    fx_exec(fx_db, "INSERT INTO people (id) VALUES (1)");
    struct writer w = {fx_url, -1, 0, second_scope, 2};
    pthread_t t;
    pthread_create(&t, NULL, second_writer, &w);
    usleep(300 * 1000);
    cr_assert_eq(dn_db_commit(fx_db), 0);
    pthread_join(t, NULL);
    cr_assert_eq(w.rc, 0, "%d", w.rc);
    cr_assert_geq(w.waited, 0.2, "waited %.3f s", w.waited);
    cr_assert_eq(fx_int(fx_db, &q_count_people), 2);
}

STORE_TEST(db, writers_are_serialised)
{
    assert_second_writer_waits(0, 0);
}

/* The store lock is shared by every test process on the PostgreSQL cluster,
 * so the scopes below are unlikely numbers; a test that another one holds
 * up only waits, it does not fail. */
#define SCOPE_A 7700000001LL
#define SCOPE_B 7700000002LL

/* Writers of one scope (a school) queue like whole-store writers. */
STORE_TEST(db, scoped_writers_of_one_scope_are_serialised)
{
    assert_second_writer_waits(SCOPE_A, SCOPE_A);
}

/* A whole-store writer (admin changes, term closing) waits for a scoped
 * one, so a school's journal never sees half of a store-wide change... */
STORE_TEST(db, store_writer_waits_for_a_scoped_writer)
{
    assert_second_writer_waits(SCOPE_A, 0);
}

/* ... and a scoped writer waits for a whole-store writer. */
STORE_TEST(db, scoped_writer_waits_for_a_store_writer)
{
    assert_second_writer_waits(0, SCOPE_B);
}

/* Two writers of different scopes on two connections and two threads:
 * a holds SCOPE_A and waits (at most 3 s) for b to report that it holds
 * SCOPE_B as well. Never one thread driving both connections: PostgreSQL
 * queues a new shared lock behind a waiting exclusive one, so a whole-store
 * writer of another test between a's and b's begin would wedge such a
 * thread until a lock timeout (it failed the txnest tests that way). */
struct overlap {
    const char *url;
    atomic_int a_state; /* 0 starting, 1 holds SCOPE_A, -1 failed */
    atomic_int b_held;
    int saw_b; /* b held SCOPE_B while a held SCOPE_A */
};

static void *hold_scope_a(void *arg)
{
    struct overlap *o = arg;
    char err[256];
    dn_db_t *db = NULL;
    if (dn_db_open(o->url, &db, err, sizeof err) != 0 || dn_db_begin_write_in(db, SCOPE_A) != 0) {
        atomic_store(&o->a_state, -1);
        dn_db_close(db);
        return NULL;
    }
    atomic_store(&o->a_state, 1);
    for (int i = 0; i < 300 && !atomic_load(&o->b_held); i++)
        usleep(10 * 1000);
    o->saw_b = atomic_load(&o->b_held);
    dn_db_commit(db);
    dn_db_close(db);
    return NULL;
}

/* On PostgreSQL writers of two schools run at once: the second begins while
 * the first still holds its school (with one store-wide lock it waits for
 * the first's commit; the test then fails after 3 tries of 3 s). A try can
 * lose to another test's whole-store writer queued between the two begins,
 * hence the tries. */
Test(db_pg, scoped_writers_of_two_scopes_run_at_once, .init = fx_pg_init, .fini = fx_fini, .timeout = 60)
{
    int saw_b = 0;
    for (int attempt = 0; attempt < 3 && !saw_b; attempt++) {
        struct overlap o = {.url = fx_url};
        pthread_t t;
        pthread_create(&t, NULL, hold_scope_a, &o);
        while (atomic_load(&o.a_state) == 0)
            usleep(1000);
        cr_assert_eq(atomic_load(&o.a_state), 1, "the first writer could not begin");
        dn_db_t *db = fx_open();
        cr_assert_eq(dn_db_begin_write_in(db, SCOPE_B), 0, "%s", dn_db_errmsg(db));
        atomic_store(&o.b_held, 1);
        cr_assert_eq(dn_db_commit(db), 0, "%s", dn_db_errmsg(db));
        dn_db_close(db);
        pthread_join(t, NULL);
        saw_b = o.saw_b;
    }
    cr_assert(saw_b, "a writer of another school waited for the first school's commit");
}

/* Nesting: a scope inside the whole store or the same scope is a savepoint;
 * a second scope, or the whole store inside a scope, is refused (it would
 * take a second lock while holding one) and the outer transaction goes on. */
STORE_TEST(db, scoped_nesting_rules)
{
    make_people();
    cr_assert_eq(dn_db_begin_write_in(fx_db, 0), DN_EINVAL);
    cr_assert_eq(dn_db_begin_write_in(fx_db, -3), DN_EINVAL);
    cr_assert_eq(dn_db_tx_depth(fx_db), 0);

    cr_assert_eq(dn_db_begin_write(fx_db), 0);
    cr_assert_eq(dn_db_begin_write_in(fx_db, SCOPE_A), 0, "%s", dn_db_errmsg(fx_db));
    fx_exec(fx_db, "INSERT INTO people (id) VALUES (1)");
    cr_assert_eq(dn_db_commit(fx_db), 0);
    cr_assert_eq(dn_db_commit(fx_db), 0);

    cr_assert_eq(dn_db_begin_write_in(fx_db, SCOPE_A), 0);
    cr_assert_eq(dn_db_begin_write_in(fx_db, SCOPE_A), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_db_commit(fx_db), 0);
    cr_assert_eq(dn_db_begin_write_in(fx_db, SCOPE_B), DN_EINVAL);
    cr_assert_eq(dn_db_begin_write(fx_db), DN_EINVAL);
    cr_assert_eq(dn_db_tx_depth(fx_db), 1);
    fx_exec(fx_db, "INSERT INTO people (id) VALUES (2)");
    cr_assert_eq(dn_db_commit(fx_db), 0);
    cr_assert_eq(fx_int(fx_db, &q_count_people), 2);
}

Test(db_sqlite, busy_after_timeout, .init = fx_sqlite_init, .fini = fx_fini, .timeout = 30)
{
    char err[256];
    dn_db_t *other;
    make_people();
    cr_assert_eq(dn_db_open(fx_url, &other, err, sizeof err), 0);
    cr_assert_eq(dn_db_begin_write(fx_db), 0);
    double t0 = now_s();
    cr_assert_eq(dn_db_begin_write(other), DN_EBUSY, "%s", dn_db_errmsg(other));
    cr_assert_geq(now_s() - t0, 4.0, "busy_timeout waits before giving up");
    cr_assert_eq(dn_db_exec(other, "SELECT count(*) FROM people"), 0, "readers are not blocked (WAL)");
    dn_db_close(other);
}

/* lock_timeout on any lock maps to DN_EBUSY; a private key so that other
 * tests running at the same time are not held up. */
Test(db_pg, lock_timeout_is_busy, .init = fx_pg_init, .fini = fx_fini)
{
    dn_db_t *other = fx_open();
    fx_exec(fx_db, "SELECT pg_advisory_lock(25710, 900)");
    cr_assert_eq(dn_db_begin(other), 0);
    fx_exec(other, "SET LOCAL lock_timeout = '100ms'");
    cr_assert_eq(dn_db_exec(other, "SELECT pg_advisory_xact_lock(25710, 900)"), DN_EBUSY, "%s",
                 dn_db_errmsg(other));
    cr_assert_eq(dn_db_rollback(other), 0);
    dn_db_close(other);
}

/* Regression (topology test): right after a failover a session can land on
 * the demoted primary, now a standby, and a write fails with SQLSTATE 25006
 * (read-only transaction). That is "retry elsewhere shortly" (503), not a
 * server bug (500): clients retry with their Idempotency-Key. */
Test(db_pg, read_only_session_is_busy, .init = fx_pg_init, .fini = fx_fini)
{
    fx_exec(fx_db, "CREATE TABLE ro_probe (x INTEGER)");
    fx_exec(fx_db, "SET default_transaction_read_only = on");
    cr_assert_eq(dn_db_exec(fx_db, "INSERT INTO ro_probe VALUES (1)"), DN_EBUSY, "%s", dn_db_errmsg(fx_db));
    fx_exec(fx_db, "SET default_transaction_read_only = off");
    fx_exec(fx_db, "DROP TABLE ro_probe");
}

static int64_t backend_pid(dn_db_t *db)
{
    static dn_query_t q = {"SELECT pg_backend_pid()"};
    return fx_int(db, &q);
}

static void kill_session(int64_t pid)
{
    static dn_query_t q = {"SELECT pg_terminate_backend(CAST(? AS INTEGER))"};
    dn_db_t *admin = fx_pg_admin();
    dn_stmt_t *st = dn_db_prepare(admin, &q);
    dn_stmt_bind_int64(st, 1, pid);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW, "%s", dn_db_errmsg(admin));
    cr_assert_eq(dn_stmt_int64(st, 0), 1, "terminated (boolean read as 1)");
    dn_db_close(admin);
    usleep(100 * 1000);
}

Test(db_pg, reconnect_and_reprepare, .init = fx_pg_init, .fini = fx_fini)
{
    static dn_query_t q = {"SELECT ? + 1"};
    make_people();
    dn_stmt_t *st = dn_db_prepare(fx_db, &q);
    dn_stmt_bind_int64(st, 1, 1);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    int64_t pid = backend_pid(fx_db);

    kill_session(pid);
    st = dn_db_prepare(fx_db, &q);
    cr_assert_not_null(st, "prepare of a cached statement does no I/O");
    dn_stmt_bind_int64(st, 1, 2);
    cr_assert_eq(dn_stmt_step(st), DN_EBUSY, "the lost session is noticed: %s", dn_db_errmsg(fx_db));

    /* next call: reset once, prepare again on the new session, run */
    st = dn_db_prepare(fx_db, &q);
    dn_stmt_bind_int64(st, 1, 3);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_stmt_int64(st, 0), 4);
    cr_assert_neq(backend_pid(fx_db), pid);
    cr_assert_eq(fx_int(fx_db, &q_count_people), 0, "search_path survives the reconnect");

    /* inside a transaction a lost session must not turn into autocommit */
    cr_assert_eq(dn_db_begin_write(fx_db), 0);
    fx_exec(fx_db, "INSERT INTO people (id) VALUES (1)");
    kill_session(backend_pid(fx_db));
    cr_assert_eq(dn_db_exec(fx_db, "INSERT INTO people (id) VALUES (2)"), DN_EBUSY);
    cr_assert_eq(dn_db_exec(fx_db, "INSERT INTO people (id) VALUES (3)"), DN_EDB, "transaction is dead");
    cr_assert_eq(dn_db_commit(fx_db), DN_EBUSY);
    cr_assert_eq(fx_int(fx_db, &q_count_people), 0, "%s", dn_db_errmsg(fx_db));
}

/* A cursor abandoned mid-iteration must not keep an INSERT ... RETURNING
 * uncommitted: dn_db_release (called after every request) ends it. */
static dn_query_t q_rel_create = {"CREATE TABLE rel_t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"};
static dn_query_t q_rel_insert = {"INSERT INTO rel_t (v) VALUES (?) RETURNING id"};
static dn_query_t q_rel_count = {"SELECT COUNT(*) FROM rel_t"};

static int64_t rel_count(dn_db_t *db)
{
    dn_stmt_t *st = dn_db_prepare(db, &q_rel_count);
    cr_assert_not_null(st, "%s", dn_db_errmsg(db));
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    int64_t n = dn_stmt_int64(st, 0);
    cr_assert_eq(dn_stmt_step(st), DN_DB_DONE);
    return n;
}

Test(db_sqlite, release_ends_abandoned_statements, .init = fx_sqlite_init, .fini = fx_fini)
{
    cr_assert_eq(dn_stmt_exec(dn_db_prepare(fx_db, &q_rel_create)), 0);
    dn_db_t *other = fx_open();
    dn_stmt_t *st = dn_db_prepare(fx_db, &q_rel_insert);
    dn_stmt_bind_text(st, 1, "x", -1);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW); /* the row id, and then abandoned */
    cr_assert_eq(rel_count(other), 0, "not yet committed while the cursor is open");
    dn_db_release(fx_db);
    cr_assert_eq(rel_count(other), 1, "committed once released");
    dn_db_close(other);
}

/* A read cursor left on its first row pins an old snapshot; BEGIN IMMEDIATE
 * on that snapshot after another connection wrote used to fail with BUSY.
 * Starting a transaction now ends the connection's open statements first. */
static dn_query_t q_rel_all = {"SELECT id FROM rel_t ORDER BY id"};

Test(db_sqlite, begin_write_after_abandoned_read, .init = fx_sqlite_init, .fini = fx_fini)
{
    cr_assert_eq(dn_stmt_exec(dn_db_prepare(fx_db, &q_rel_create)), 0);
    for (int i = 0; i < 2; i++) {
        dn_stmt_t *ins = dn_db_prepare(fx_db, &q_rel_insert);
        dn_stmt_bind_text(ins, 1, "a", -1);
        cr_assert_eq(dn_stmt_step(ins), DN_DB_ROW);
        dn_stmt_finish(ins);
    }
    dn_stmt_t *rd = dn_db_prepare(fx_db, &q_rel_all);
    cr_assert_eq(dn_stmt_step(rd), DN_DB_ROW); /* abandoned on its first row */

    dn_db_t *other = fx_open();
    dn_stmt_t *ins = dn_db_prepare(other, &q_rel_insert);
    dn_stmt_bind_text(ins, 1, "b", -1);
    cr_assert_eq(dn_stmt_step(ins), DN_DB_ROW);
    dn_stmt_finish(ins);

    cr_assert_eq(dn_db_begin_write(fx_db), 0, "%s", dn_db_errmsg(fx_db));
    cr_assert_eq(dn_db_commit(fx_db), 0);
    cr_assert_eq(rel_count(fx_db), 3);
    dn_db_close(other);
}

Test(db, stmt_str_reads_null_as_empty, .init = fx_sqlite_init, .fini = fx_fini)
{
    static dn_query_t q = {"SELECT NULL, 'т'"};
    dn_stmt_t *st = dn_db_prepare(fx_db, &q);
    cr_assert_eq(dn_stmt_step(st), DN_DB_ROW);
    cr_assert_str_eq(dn_stmt_str(st, 0), "");
    cr_assert_str_eq(dn_stmt_str(st, 1), "т");
    dn_stmt_finish(st);
}
