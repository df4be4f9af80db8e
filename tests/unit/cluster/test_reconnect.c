/* PostgreSQL sessions that die under a node (restart, failover, a killed
 * backend): the check before a request reconnects an idle one, a read that
 * loses its session mid-request runs once more on a fresh one, a write does
 * not. Needs DN_TEST_PG_URL (skipped without it). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "cluster/cluster.h"
#include "core/error.h"
#include "http/request.h"
#include "store/db.h"

static dn_query_t q_pid = {"SELECT pg_backend_pid()"};
static dn_query_t q_one = {"SELECT 1"};

static dn_db_t *open_pg(void)
{
    const char *url = getenv("DN_TEST_PG_URL");
    char err[256] = "";
    dn_db_t *db = NULL;
    if (url == NULL || !*url)
        cr_skip_test("DN_TEST_PG_URL is not set");
    cr_assert_eq(dn_db_open(url, &db, err, sizeof(err)), 0, "%s", err);
    return db;
}

static void kill_backend(dn_db_t *victim)
{
    int64_t pid = 0;
    cr_assert_eq(dn_db_scalar(victim, &q_pid, &pid, NULL), 0);
    dn_db_t *admin = open_pg();
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)", (long long)pid);
    cr_assert_eq(dn_db_exec(admin, sql), 0, "%s", dn_db_errmsg(admin));
    dn_db_close(admin);
    usleep(200000); /* the FATAL message and EOF reach the victim's socket */
}

Test(reconnect, idle_session_ended_by_the_server_is_replaced_before_use)
{
    dn_db_t *db = open_pg();
    int64_t v = 0;
    kill_backend(db);
    cr_assert_eq(dn_db_lost(db), 0, "nothing has noticed yet");
    cr_assert_eq(dn_db_check(db), 0);
    cr_assert_eq(dn_db_scalar(db, &q_one, &v, NULL), 0, "%s", dn_db_errmsg(db));
    cr_assert_eq(v, 1);
    cr_assert_eq(dn_db_check(db), 0, "a live idle session stays as it is");
    dn_db_close(db);
}

static int calls;

/* First run: the session dies under the handler; later runs: a normal answer. */
static void handler(dn_req_t *req)
{
    if (calls++ == 0) {
        int rc = dn_db_exec(req->db, "SELECT pg_terminate_backend(pg_backend_pid())");
        dn_res_error(req, rc < 0 ? rc : DN_EINTERNAL, NULL);
        return;
    }
    int64_t v = 0;
    int rc = dn_db_scalar(req->db, &q_one, &v, NULL);
    if (rc != 0)
        dn_res_error(req, rc, NULL);
    else
        dn_res_json(req, 200, json_pack("{s:I}", "one", (json_int_t)v));
}

static void run(dn_method_t method, int *status)
{
    static dn_app_t app;
    char err[256];
    memset(&app, 0, sizeof(app));
    dn_config_defaults(&app.config);
    cr_assert_eq(dn_cluster_init(&app, err, sizeof(err)), 0, "%s", err);
    dn_req_t req;
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    req.app = &app;
    req.method = method;
    req.path = "/test";
    req.db = open_pg();
    calls = 0;
    dn_cluster_run(&req, handler);
    *status = req.status;
    dn_db_release(req.db);
    /* whatever happened, the next request on this worker finds a working session */
    cr_assert_eq(dn_db_check(req.db), 0);
    int64_t v = 0;
    cr_assert_eq(dn_db_scalar(req.db, &q_one, &v, NULL), 0, "%s", dn_db_errmsg(req.db));
    dn_db_close(req.db);
    h2o_mem_clear_pool(&req.pool);
    dn_cluster_free(&app);
}

Test(reconnect, a_read_that_lost_its_session_runs_once_more)
{
    int status = 0;
    run(DN_GET, &status);
    cr_assert_eq(status, 200);
    cr_assert_eq(calls, 2);
}

Test(reconnect, a_write_that_lost_its_session_is_not_rerun)
{
    int status = 0;
    run(DN_POST, &status);
    cr_assert_eq(status, 503, "the client retries with its Idempotency-Key");
    cr_assert_eq(calls, 1);
}
