/* test_request.c - query parsing, JSON body parsing, problem responses. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/error.h"
#include "http/request.h"

static dn_req_t req;

static void setup(void)
{
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    req.query = "";
}

static void teardown(void)
{
    h2o_mem_clear_pool(&req.pool);
}

TestSuite(request, .init = setup, .fini = teardown);

static json_t *response_json(void)
{
    json_error_t e;
    return json_loadb(req.res_body.base, req.res_body.len, 0, &e);
}

Test(request, query_parameters_are_decoded)
{
    req.query = "from=2026-09-01&q=%D0%98%D0%B2+%D0%B0&flag&empty=";
    cr_assert_str_eq(dn_req_query(&req, "from"), "2026-09-01");
    cr_assert_str_eq(dn_req_query(&req, "q"), "\xD0\x98\xD0\xB2 \xD0\xB0");
    cr_assert_str_eq(dn_req_query(&req, "flag"), "");
    cr_assert_str_eq(dn_req_query(&req, "empty"), "");
    cr_assert_null(dn_req_query(&req, "fro"));
    cr_assert_null(dn_req_query(&req, "missing"));
}

Test(request, invalid_json_body_is_400_problem)
{
    req.body.base = "{\"a\":";
    req.body.len = strlen(req.body.base);
    cr_assert_null(dn_req_json_body(&req));
    cr_assert_eq(req.status, 400);
    cr_assert_str_eq(req.res_content_type, "application/problem+json; charset=utf-8");
    json_t *p = response_json();
    cr_assert_not_null(p);
    cr_assert_eq(json_integer_value(json_object_get(p, "status")), 400);
    cr_assert_not_null(strstr(json_string_value(json_object_get(p, "detail")), "invalid JSON"));
    json_decref(p);
}

Test(request, non_object_and_duplicate_keys_are_rejected)
{
    req.body.base = "[1,2]";
    req.body.len = 5;
    cr_assert_null(dn_req_json_body(&req));
    cr_assert_eq(req.status, 400);
    req.status = 0;
    req.body.base = "{\"a\":1,\"a\":2}";
    req.body.len = strlen(req.body.base);
    cr_assert_null(dn_req_json_body(&req));
    cr_assert_eq(req.status, 400);
}

Test(request, wrong_content_type_is_415)
{
    req.content_type = "text/plain";
    req.body.base = "{}";
    req.body.len = 2;
    cr_assert_null(dn_req_json_body(&req));
    cr_assert_eq(req.status, 415);
}

Test(request, valid_object_is_returned)
{
    req.content_type = "application/json; charset=utf-8";
    req.body.base = "{\"value\":5}";
    req.body.len = strlen(req.body.base);
    json_t *o = dn_req_json_body(&req);
    cr_assert_not_null(o);
    cr_assert_eq(json_integer_value(json_object_get(o, "value")), 5);
    cr_assert_eq(req.status, 0);
    json_decref(o);
}

Test(request, field_problems_carry_errors_array)
{
    json_t *errors = json_pack("[{s:s,s:s}]", "field", "value", "message", "must be 1..5");
    dn_res_problem_fields(&req, 422, "validation failed", errors);
    cr_assert_eq(req.status, 422);
    json_t *p = response_json();
    cr_assert_str_eq(json_string_value(json_object_get(p, "type")), "/problems/validation-error");
    cr_assert_str_eq(json_string_value(json_object_get(p, "title")), "Unprocessable Content");
    json_t *e = json_array_get(json_object_get(p, "errors"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "field")), "value");
    json_decref(p);
}

Test(request, error_codes_map_to_statuses)
{
    dn_res_error(&req, DN_ENOTFOUND, NULL);
    cr_assert_eq(req.status, 404);
    cr_assert_eq(dn_error_http_status(DN_ECONFLICT), 409);
    cr_assert_eq(dn_error_http_status(DN_EFORBIDDEN), 403);
    cr_assert_eq(dn_error_http_status(DN_ERATELIMIT), 429);
}

Test(request, headers_are_copied_and_bounded)
{
    for (int i = 0; i < DN_MAX_RES_HEADERS + 3; i++)
        dn_res_header(&req, "x-test", "v");
    cr_assert_eq(req.nres_headers, DN_MAX_RES_HEADERS);
}
