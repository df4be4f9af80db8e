/* test_router.c - routing: literals, parameters, 404/405, decoding. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/router.h"

static void noop(dn_req_t *req) { (void)req; }

static dn_router_t *router;
static dn_req_t req;

static void setup(void)
{
    router = dn_router_new();
    dn_route_t routes[] = {
        {DN_GET, "/healthz", noop},
        {DN_GET, "/api/v1/classes/{class_id}/journal", noop},
        {DN_POST, "/api/v1/classes/{class_id}/journal", noop},
        {DN_GET, "/api/v1/classes/{class_id}", noop},
        {DN_DELETE, "/api/v1/marks/{mark_id}", noop},
        {DN_GET, "/api/v1/users/{user_id}/children/{child_id}", noop},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        cr_assert_eq(dn_router_add(router, &routes[i]), (int)i);
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
}

static void teardown(void)
{
    h2o_mem_clear_pool(&req.pool);
    dn_router_free(router);
}

TestSuite(router, .init = setup, .fini = teardown);

static dn_route_result_t match(dn_method_t m, const char *path, unsigned *allowed)
{
    return dn_router_match(router, m, path, strlen(path), &req, allowed);
}

Test(router, literal_route_matches_exactly)
{
    cr_assert_eq(match(DN_GET, "/healthz", NULL), DN_ROUTE_FOUND);
    cr_assert_str_eq(req.route->pattern, "/healthz");
    cr_assert_eq(match(DN_GET, "/healthz/x", NULL), DN_ROUTE_NOT_FOUND);
    cr_assert_eq(match(DN_GET, "/health", NULL), DN_ROUTE_NOT_FOUND);
}

Test(router, trailing_slash_is_not_significant)
{
    cr_assert_eq(match(DN_GET, "/healthz/", NULL), DN_ROUTE_FOUND);
}

Test(router, parameters_are_extracted_and_decoded)
{
    cr_assert_eq(match(DN_GET, "/api/v1/users/12/children/%D0%AF", NULL), DN_ROUTE_FOUND);
    cr_assert_eq(req.nparams, 2);
    cr_assert_str_eq(dn_req_param(&req, "user_id"), "12");
    cr_assert_str_eq(dn_req_param(&req, "child_id"), "\xD0\xAF");
    cr_assert_null(dn_req_param(&req, "nope"));
}

Test(router, method_selects_among_same_path)
{
    cr_assert_eq(match(DN_POST, "/api/v1/classes/5/journal", NULL), DN_ROUTE_FOUND);
    cr_assert_eq(req.route->method, DN_POST);
    cr_assert_eq(match(DN_GET, "/api/v1/classes/5/journal", NULL), DN_ROUTE_FOUND);
    cr_assert_eq(req.route->method, DN_GET);
}

Test(router, wrong_method_reports_allowed_methods)
{
    unsigned allowed = 0;
    char buf[64];
    cr_assert_eq(match(DN_PUT, "/api/v1/classes/5/journal", &allowed), DN_ROUTE_BAD_METHOD);
    dn_methods_format(allowed, buf, sizeof(buf));
    cr_assert_str_eq(buf, "GET, POST, HEAD");
}

Test(router, head_is_served_by_get)
{
    cr_assert_eq(match(DN_HEAD, "/api/v1/classes/7", NULL), DN_ROUTE_FOUND);
    cr_assert_eq(req.route->method, DN_GET);
}

Test(router, malformed_escape_or_nul_is_not_found)
{
    cr_assert_eq(match(DN_DELETE, "/api/v1/marks/%zz", NULL), DN_ROUTE_NOT_FOUND);
    cr_assert_eq(match(DN_DELETE, "/api/v1/marks/%00", NULL), DN_ROUTE_NOT_FOUND);
    cr_assert_eq(match(DN_DELETE, "/api/v1/marks/%4", NULL), DN_ROUTE_NOT_FOUND);
}

Test(router, too_many_segments_is_not_found)
{
    cr_assert_eq(match(DN_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s", NULL), DN_ROUTE_NOT_FOUND);
}
