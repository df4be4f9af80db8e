/*
 * db_pg.c - the PostgreSQL backend (libpq, blocking: a worker thread owns
 * its connection, so waiting on the socket blocks only that worker).
 *
 * Each statement is rewritten from `?` to `$n` once, PQprepare'd once per
 * server session as "s<n>", and run with text parameters; all rows come
 * back in one PGresult that dn_stmt_step walks. A lost connection is
 * PQreset on the next call; the reset bumps `gen`, and a statement whose
 * `gen` differs is prepared again before it runs (server-side prepared
 * statements die with the session). A reset never happens inside an open
 * transaction: that would silently continue in autocommit mode. Before each
 * request pg_check notices a session the server ended while it sat idle
 * (restart, failover) and reconnects, so the request does not fail on it.
 * begin_write serialises writers with a transaction-scoped advisory lock so
 * that it means what SQLite's BEGIN IMMEDIATE means; begin_write_in takes
 * that lock shared plus one lock of its scope (see pg_begin).
 */
#include "store/db_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/error.h"

/* Advisory lock keys (pg_advisory_xact_lock(int, int)): 25710 is 'dn'. */
#define PG_LOCK_NS "25710"
#define PG_WRITER_LOCK "SELECT pg_advisory_xact_lock(" PG_LOCK_NS ", 1)"
#define PG_SCOPED_WRITER_LOCK "SELECT pg_advisory_xact_lock_shared(" PG_LOCK_NS ", 1)"
/* A scope's own lock uses the single-bigint key space, which PostgreSQL
 * keeps apart from the (int, int) keys above. */
#define PG_SCOPE_LOCK "SELECT pg_advisory_xact_lock(%lld)"
/* Same wait bound as SQLite's busy_timeout before DN_EBUSY. */
#define PG_LOCK_TIMEOUT "SET LOCAL lock_timeout = '5s'"
#define PG_MAX_PARAMS 65535 /* protocol limit; also bounds the rewrite buffer */

typedef struct {
    dn_db_t base;
    PGconn *conn;
    unsigned gen;   /* session number, bumped by every successful reset */
    unsigned nstmt; /* statement names s1, s2, ... within this connection */
    int timed_out;  /* the last call was abandoned by await_result (for fail's message) */
} pg_db_t;

typedef struct {
    char *val; /* NULL = SQL NULL; points at num or at a heap copy */
    char num[32];
} pg_param_t;

typedef struct {
    dn_stmt_t base;
    char name[16];
    char *sql; /* with $n placeholders */
    int nparams;
    pg_param_t *params;
    const char **values; /* scratch for PQexecPrepared */
    unsigned gen;        /* session it was prepared in; 0 = none yet */
    PGresult *res;       /* NULL until executed */
    int row, nrows;
} pg_stmt_t;

static pg_db_t *pgdb(dn_db_t *db)
{
    return (pg_db_t *)db;
}

/*
 * The bound on one round trip (dn_db_set_wait_limit; 0 = none). libpq's
 * blocking calls wait forever, and a session through HAProxy to a primary
 * that was cut off (network partition, not a crash) never gets an answer nor
 * an error: HAProxy keeps both halves open. So every statement is sent with
 * the asynchronous API and awaited with poll() up to the limit; on timeout
 * the socket is shut down, which libpq sees as a lost session (the next
 * use reconnects), and the call fails with DN_EBUSY. Found by the topology
 * test (tests/suites/50-cluster.sh): without it a site cut stalled every
 * store worker of the surviving site.
 */
static atomic_int wait_limit_ms;

void dn_db_set_wait_limit(int ms)
{
    atomic_store(&wait_limit_ms, ms > 0 ? ms : 0);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Collect the results of what was just sent, like PQexec: the first error
 * if there was one, else the last result. NULL on a timeout or a lost
 * session (the connection's error message says which). */
static PGresult *await_result(pg_db_t *p)
{
    PGresult *keep = NULL, *r;
    int limit = atomic_load(&wait_limit_ms);
    int64_t deadline = limit > 0 ? mono_ms() + limit : 0;
    for (;;) {
        while (PQisBusy(p->conn)) {
            int timeout = -1;
            if (deadline != 0 && (timeout = (int)(deadline - mono_ms())) <= 0)
                goto timed_out;
            struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
            int n = poll(&pfd, 1, timeout);
            if (n < 0 && errno == EINTR)
                continue;
            if (n == 0)
                goto timed_out;
            if (n < 0 || !PQconsumeInput(p->conn))
                break; /* the session is gone: PQgetResult reports it */
        }
        if ((r = PQgetResult(p->conn)) == NULL)
            break;
        if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);
        } else {
            PQclear(keep);
            keep = r;
        }
    }
    return keep;
timed_out:
    PQclear(keep);
    shutdown(PQsocket(p->conn), SHUT_RDWR);
    (void)PQconsumeInput(p->conn); /* reads EOF: libpq marks the session lost */
    p->timed_out = limit;
    return NULL;
}

static PGresult *exec_bounded(pg_db_t *p, const char *sql)
{
    return PQsendQuery(p->conn, sql) ? await_result(p) : NULL;
}

static int is_busy_state(const char *s)
{
    /* 25006: a write on a session that landed on a standby (a demoted primary
     * right after a failover): transient, like the connection class 08. */
    static const char *const busy[] = {"25006", "40001", "40P01", "55P03", "57P01", "57P02", "57P03", "57014"};
    if (strncmp(s, "08", 2) == 0) /* connection exception class */
        return 1;
    for (size_t i = 0; i < sizeof busy / sizeof *busy; i++)
        if (strcmp(s, busy[i]) == 0)
            return 1;
    return 0;
}

/* Map a failed result (or a connection-level failure when res is NULL),
 * record the message, free res. */
static int fail(dn_db_t *db, PGresult *res)
{
    PGconn *c = pgdb(db)->conn;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int code;
    if (PQstatus(c) != CONNECTION_OK)
        code = DN_EBUSY;
    else if (!state)
        code = DN_EDB;
    else if (strncmp(state, "23", 2) == 0)
        code = DN_ECONFLICT;
    else if (is_busy_state(state))
        code = DN_EBUSY;
    else
        code = DN_EDB;
    if (pgdb(db)->timed_out) {
        dn_db_set_error(db, DN_EBUSY, "no answer from PostgreSQL within %d ms; the session was closed",
                        pgdb(db)->timed_out);
        pgdb(db)->timed_out = 0;
        code = DN_EBUSY;
    } else if (msg)
        dn_db_set_error(db, code, "%s (SQLSTATE %s)", msg, state ? state : "?");
    else
        dn_db_set_error(db, code, "%s", PQerrorMessage(c));
    PQclear(res);
    return code;
}

static int ok_result(dn_db_t *db, PGresult *res)
{
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY) {
        PQclear(res);
        return 0;
    }
    return fail(db, res);
}

/* Make sure the session is alive, resetting it once if it is not. */
static int ensure_conn(dn_db_t *db)
{
    pg_db_t *p = pgdb(db);
    if (PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    if (db->in_tx) {
        dn_db_set_error(db, DN_EBUSY, "connection lost inside a transaction");
        return DN_EBUSY;
    }
    PQreset(p->conn);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        dn_db_set_error(db, DN_EBUSY, "reconnect failed: %s", PQerrorMessage(p->conn));
        return DN_EBUSY;
    }
    p->gen++;
    return 0;
}

/* Before a request (outside a transaction): an idle session has nothing to
 * read, so data or EOF on its socket now means the server is ending it
 * (FATAL 57P01 on a fast shutdown, a closed socket after a failover or when
 * HAProxy shuts sessions of a demoted primary). Reconnect before the request
 * runs instead of failing its first statement. */
static int pg_check(dn_db_t *db)
{
    pg_db_t *p = pgdb(db);
    if (PQstatus(p->conn) == CONNECTION_OK) {
        struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
        if (pfd.fd >= 0 && poll(&pfd, 1, 0) == 0)
            return 0;
        /* Read what came (the server's goodbye), then start a new session. */
        (void)PQconsumeInput(p->conn);
    }
    PQreset(p->conn);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        dn_db_set_error(db, DN_EBUSY, "reconnect failed: %s", PQerrorMessage(p->conn));
        return DN_EBUSY;
    }
    p->gen++;
    return 0;
}

static int pg_lost(dn_db_t *db)
{
    return PQstatus(pgdb(db)->conn) != CONNECTION_OK;
}

static void quiet_notices(void *arg, const char *message)
{
    /* NOTICEs ("relation already exists, skipping") are not errors and
     * libpq would print them on stderr. */
    (void)arg;
    (void)message;
}

static int pg_url_valid(const char *url)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    PQfreemem(err);
    if (!opts)
        return 0;
    PQconninfoFree(opts);
    return 1;
}

static int pg_open(const char *url, dn_db_t **out, char *err, size_t errlen)
{
    pg_db_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return DN_ENOMEM;
    }
    /* Later keywords win over the URL's; earlier ones are defaults it may
     * override. The text protocol relies on UTF-8 both ways. */
    const char *const keys[] = {"connect_timeout", "dbname", "client_encoding", "fallback_application_name", NULL};
    const char *const vals[] = {"10", url, "UTF8", "dnevnik", NULL};
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn) {
        snprintf(err, errlen, "out of memory");
        free(p);
        return DN_ENOMEM;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        snprintf(err, errlen, "postgresql connect: %s", PQerrorMessage(p->conn));
        size_t n = strlen(err);
        if (n > 0 && err[n - 1] == '\n')
            err[n - 1] = '\0';
        PQfinish(p->conn);
        free(p);
        return DN_EBUSY;
    }
    PQsetNoticeProcessor(p->conn, quiet_notices, NULL);
    p->gen = 1;
    *out = &p->base;
    return 0;
}

static void pg_close(dn_db_t *db)
{
    PQfinish(pgdb(db)->conn);
    free(db);
}

static int pg_exec(dn_db_t *db, const char *sql)
{
    int rc = ensure_conn(db);
    if (rc)
        return rc;
    return ok_result(db, exec_bounded(pgdb(db), sql));
}

/*
 * PostgreSQL has no database write lock; without one, a read-then-write
 * transaction under READ COMMITTED may act on rows another writer changes
 * meanwhile. An advisory lock taken by every write transaction gives the
 * single-writer semantics SQLite has, across all nodes, and waits at most
 * the lock timeout (55P03 -> DN_EBUSY) like SQLite's busy_timeout.
 * A scoped writer (one school's journal) takes that lock shared plus its
 * scope's lock exclusive: writers of different schools run at once, those
 * of one school and every whole-store writer (which needs the lock
 * exclusive) still one at a time. The order is always store lock, then
 * scope lock, so they cannot deadlock. With one store-wide lock the mix
 * benchmark on PostgreSQL spent most of its time queued on it (1,451 req/s
 * with the lock, 3,019 without any, BENCHMARKS.md).
 */
static int pg_begin(dn_db_t *db, int write, int64_t scope)
{
    if (!write)
        return pg_exec(db, "BEGIN");
    if (scope <= 0)
        return pg_exec(db, "BEGIN; " PG_LOCK_TIMEOUT "; " PG_WRITER_LOCK);
    char sql[192];
    snprintf(sql, sizeof sql, "BEGIN; " PG_LOCK_TIMEOUT "; " PG_SCOPED_WRITER_LOCK "; " PG_SCOPE_LOCK,
             (long long)scope);
    return pg_exec(db, sql);
}

static int pg_commit(dn_db_t *db)
{
    int rc = ensure_conn(db);
    if (rc)
        return rc;
    PGresult *res = exec_bounded(pgdb(db), "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return fail(db, res);
    /* COMMIT of an aborted transaction "succeeds" as a ROLLBACK. */
    int rolled_back = strcmp(PQcmdStatus(res), "ROLLBACK") == 0;
    PQclear(res);
    if (rolled_back) {
        dn_db_set_error(db, DN_EDB, "transaction was aborted; rolled back instead of committed");
        return DN_EDB;
    }
    return 0;
}

static int pg_rollback(dn_db_t *db)
{
    pg_db_t *p = pgdb(db);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        /* The transaction died with the session: nothing to roll back. */
        PQreset(p->conn);
        if (PQstatus(p->conn) != CONNECTION_OK) {
            dn_db_set_error(db, DN_EBUSY, "reconnect failed: %s", PQerrorMessage(p->conn));
            return DN_EBUSY;
        }
        p->gen++;
        return 0;
    }
    return ok_result(db, exec_bounded(p, "ROLLBACK"));
}

/*
 * `?` and SQLite's `?NNN` to `$n`, numbered as SQLite numbers them (a bare ?
 * is one more than the largest number so far). Quoted strings, quoted
 * identifiers and comments are copied untouched. Returns a malloc'd string.
 */
static char *rewrite_placeholders(const char *sql, int *nparams)
{
    size_t len = strlen(sql);
    /* Worst case every byte is a bare `?` becoming "$65535". */
    *nparams = 0;
    char *out = malloc(len * 6 + 1);
    if (!out)
        return NULL;
    char *o = out;
    int max = 0;
    const char *s = sql;
    while (*s) {
        if (*s == '\'' || *s == '"') {
            char q = *s;
            const char *end = strchr(s + 1, q);
            size_t n = end ? (size_t)(end - s) + 1 : strlen(s);
            memcpy(o, s, n);
            o += n;
            s += n;
        } else if (s[0] == '-' && s[1] == '-') {
            size_t n = strcspn(s, "\n");
            memcpy(o, s, n);
            o += n;
            s += n;
        } else if (s[0] == '/' && s[1] == '*') {
            const char *end = strstr(s + 2, "*/");
            size_t n = end ? (size_t)(end - s) + 2 : strlen(s);
            memcpy(o, s, n);
            o += n;
            s += n;
        } else if (*s == '?') {
            char *end = (char *)s + 1;
            long num = max + 1;
            if (s[1] >= '0' && s[1] <= '9') /* not strtol's spaces and signs */
                num = strtol(s + 1, &end, 10);
            if (num < 1 || num > PG_MAX_PARAMS) {
                free(out);
                *nparams = -1;
                return NULL;
            }
            s = end;
            if (num > max)
                max = (int)num;
            o += sprintf(o, "$%ld", num);
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    *nparams = max;
    char *shrunk = realloc(out, (size_t)(o - out) + 1);
    return shrunk ? shrunk : out;
}

static int prepare(pg_stmt_t *st)
{
    pg_db_t *p = pgdb(st->base.db);
    int rc = ensure_conn(&p->base);
    if (rc)
        return rc;
    PGresult *res = PQsendPrepare(p->conn, st->name, st->sql, 0, NULL) ? await_result(p) : NULL;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return fail(&p->base, res);
    PQclear(res);
    st->gen = p->gen;
    return 0;
}

static void clear_params(pg_stmt_t *st)
{
    for (int i = 0; i < st->nparams; i++) {
        if (st->params[i].val != st->params[i].num)
            free(st->params[i].val);
        st->params[i].val = NULL;
    }
}

static void pg_stmt_free(dn_stmt_t *base)
{
    pg_stmt_t *st = (pg_stmt_t *)base;
    if (st->params)
        clear_params(st);
    PQclear(st->res);
    free(st->params);
    free(st->values);
    free(st->sql);
    free(st);
}

static dn_stmt_t *pg_stmt_new(dn_db_t *db, const char *sql)
{
    pg_db_t *p = pgdb(db);
    pg_stmt_t *st = calloc(1, sizeof *st);
    if (!st)
        goto oom;
    st->base.db = db;
    st->sql = rewrite_placeholders(sql, &st->nparams);
    if (!st->sql && st->nparams < 0) {
        dn_db_set_error(db, DN_EDB, "placeholder number out of range (1..%d)", PG_MAX_PARAMS);
        goto fail;
    }
    if (!st->sql)
        goto oom;
    if (st->nparams > 0) {
        st->params = calloc((size_t)st->nparams, sizeof *st->params);
        st->values = calloc((size_t)st->nparams, sizeof *st->values);
        if (!st->params || !st->values)
            goto oom;
    }
    snprintf(st->name, sizeof st->name, "s%u", ++p->nstmt);
    if (prepare(st) != 0)
        goto fail;
    return &st->base;
oom:
    dn_db_set_error(db, DN_ENOMEM, "out of memory");
fail:
    if (st)
        pg_stmt_free(&st->base);
    return NULL;
}

static int pg_stmt_reset(dn_stmt_t *base)
{
    pg_stmt_t *st = (pg_stmt_t *)base;
    PQclear(st->res);
    st->res = NULL;
    clear_params(st);
    /* No I/O here: a lost session is noticed, and reported, by the step. */
    return 0;
}

static pg_param_t *param(dn_stmt_t *base, int idx)
{
    pg_stmt_t *st = (pg_stmt_t *)base;
    if (idx < 1 || idx > st->nparams) {
        dn_db_set_error(base->db, DN_EINVAL, "bind index %d out of range (1..%d)", idx, st->nparams);
        return NULL;
    }
    pg_param_t *pp = &st->params[idx - 1];
    if (pp->val != pp->num)
        free(pp->val);
    pp->val = NULL;
    return pp;
}

static int pg_bind_int64(dn_stmt_t *st, int idx, int64_t v)
{
    pg_param_t *pp = param(st, idx);
    if (!pp)
        return DN_EINVAL;
    snprintf(pp->num, sizeof pp->num, "%" PRId64, v);
    pp->val = pp->num;
    return 0;
}

static int pg_bind_double(dn_stmt_t *st, int idx, double v)
{
    pg_param_t *pp = param(st, idx);
    if (!pp)
        return DN_EINVAL;
    if (isnan(v))
        snprintf(pp->num, sizeof pp->num, "NaN");
    else if (isinf(v))
        snprintf(pp->num, sizeof pp->num, "%sInfinity", v < 0 ? "-" : "");
    else
        snprintf(pp->num, sizeof pp->num, "%.17g", v); /* round-trips */
    pp->val = pp->num;
    return 0;
}

static int pg_bind_text(dn_stmt_t *st, int idx, const char *s, size_t len)
{
    pg_param_t *pp = param(st, idx);
    if (!pp)
        return DN_EINVAL;
    /* Text-format parameters are NUL-terminated: an embedded NUL ends it. */
    pp->val = malloc(len + 1);
    if (!pp->val) {
        dn_db_set_error(st->db, DN_ENOMEM, "out of memory");
        return DN_ENOMEM;
    }
    memcpy(pp->val, s, len);
    pp->val[len] = '\0';
    return 0;
}

static int pg_bind_null(dn_stmt_t *st, int idx)
{
    return param(st, idx) ? 0 : DN_EINVAL;
}

static int pg_step(dn_stmt_t *base)
{
    pg_stmt_t *st = (pg_stmt_t *)base;
    pg_db_t *p = pgdb(base->db);
    if (!st->res) {
        int rc = ensure_conn(base->db);
        if (rc == 0 && st->gen != p->gen)
            rc = prepare(st);
        if (rc)
            return rc;
        for (int i = 0; i < st->nparams; i++)
            st->values[i] = st->params[i].val;
        PGresult *res = PQsendQueryPrepared(p->conn, st->name, st->nparams, st->values, NULL, NULL, 0)
                            ? await_result(p)
                            : NULL;
        ExecStatusType s = PQresultStatus(res);
        if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK)
            return fail(base->db, res);
        st->res = res;
        st->nrows = PQntuples(res);
        st->row = -1;
    }
    if (st->row + 1 < st->nrows) {
        st->row++;
        return DN_DB_ROW;
    }
    return DN_DB_DONE;
}

static int pg_column_count(dn_stmt_t *st)
{
    PGresult *res = ((pg_stmt_t *)st)->res;
    return res ? PQnfields(res) : 0;
}

static int pg_is_null(dn_stmt_t *base, int col)
{
    pg_stmt_t *st = (pg_stmt_t *)base;
    return PQgetisnull(st->res, st->row, col);
}

static const char *value(dn_stmt_t *base, int col)
{
    pg_stmt_t *st = (pg_stmt_t *)base;
    return PQgetisnull(st->res, st->row, col) ? NULL : PQgetvalue(st->res, st->row, col);
}

static int64_t pg_column_int64(dn_stmt_t *st, int col)
{
    const char *v = value(st, col);
    if (!v)
        return 0;
    if (strcmp(v, "t") == 0) /* boolean */
        return 1;
    if (strcmp(v, "f") == 0)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    /* numeric/float text ("4.50", "1e3") truncates like SQLite's cast */
    if (*end == '.' || *end == 'e' || *end == 'E')
        return (int64_t)strtod(v, NULL);
    return n;
}

static double pg_column_double(dn_stmt_t *st, int col)
{
    const char *v = value(st, col);
    if (!v)
        return 0.0;
    if (strcmp(v, "t") == 0)
        return 1.0;
    return strtod(v, NULL);
}

static const char *pg_column_text(dn_stmt_t *base, int col, size_t *len)
{
    pg_stmt_t *st = (pg_stmt_t *)base;
    const char *v = value(base, col);
    if (len)
        *len = v ? (size_t)PQgetlength(st->res, st->row, col) : 0;
    return v;
}

static int64_t pg_changes(dn_stmt_t *base)
{
    pg_stmt_t *st = (pg_stmt_t *)base;
    /* "" for commands without a count (SELECT counts rows: not a change) */
    if (!st->res || strncmp(PQcmdStatus(st->res), "SELECT", 6) == 0)
        return 0;
    return strtoll(PQcmdTuples(st->res), NULL, 10);
}

const struct dn_db_ops dn_db_pg_ops = {
    .backend = DN_DB_POSTGRES,
    .url_valid = pg_url_valid,
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .stmt_new = pg_stmt_new,
    .stmt_free = pg_stmt_free,
    .stmt_reset = pg_stmt_reset,
    .bind_int64 = pg_bind_int64,
    .bind_double = pg_bind_double,
    .bind_text = pg_bind_text,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .column_count = pg_column_count,
    .is_null = pg_is_null,
    .column_int64 = pg_column_int64,
    .column_double = pg_column_double,
    .column_text = pg_column_text,
    .changes = pg_changes,
    .check = pg_check,
    .lost = pg_lost,
};
