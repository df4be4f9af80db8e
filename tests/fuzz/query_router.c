/*
 * query_router.c - libFuzzer harness: the request line as the handlers see
 * it: dn_router_match over the real route table (path segments and the
 * percent-decoding of {params}), dn_req_query on the query string, the id
 * and date helpers of src/api/common.c on the decoded values, and
 * dn_etag_matches on an If-None-Match value.
 *
 * Input: "path\nquery\nif-none-match" (missing parts are empty).
 * Invariants: a matched route's params are NUL-terminated, contain no NUL
 * escape and number at most DN_MAX_PATH_PARAMS; a decoded query value is
 * never longer than its raw text; an id the helper accepts prints back as
 * the same digits.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "api/etag.h"
#include "core/date.h"
#include "fuzz_app.h"

static dn_app_t app;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_app_init(&app, 1);
    return 0;
}

static const char *const names[] = {"from", "to", "limit", "cursor", "student_id", "class_id", "subject_id",
                                    "name", "dry_run", "date", "q", ""};

static void check_id(const char *s)
{
    int64_t id = dn_api_parse_id(s);
    if (id < 0)
        abort();
    if (id > 0) {
        char back[32];
        snprintf(back, sizeof back, "%" PRId64, id);
        const char *digits = s;
        while (*digits == '0')
            digits++;
        if (strcmp(back, digits) != 0) {
            fprintf(stderr, "query_router: id \"%s\" accepted as %" PRId64 "\n", s, id);
            abort();
        }
    }
    (void)dn_date_valid(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\0';
    char *path = in, *query = "", *inm = NULL;
    char *nl = strchr(in, '\n');
    if (nl) {
        *nl = '\0';
        query = nl + 1;
        if ((nl = strchr(query, '\n')) != NULL) {
            *nl = '\0';
            inm = nl + 1;
        }
    }
    dn_req_t req;
    memset(&req, 0, sizeof req);
    h2o_mem_init_pool(&req.pool);
    req.path = path;
    req.query = query;
    unsigned allowed = 0;
    for (int m = DN_GET; m <= DN_DELETE; m <<= 1) {
        req.nparams = 0;
        dn_route_result_t r = dn_router_match(app.router, (dn_method_t)m, path, strlen(path), &req, &allowed);
        if (r == DN_ROUTE_FOUND) {
            if (req.nparams > DN_MAX_PATH_PARAMS || req.route == NULL)
                abort();
            for (int i = 0; i < req.nparams; i++) {
                if (dn_req_param(&req, req.params[i].name) == NULL)
                    abort();
                check_id(req.params[i].value);
            }
        } else if (r == DN_ROUTE_BAD_METHOD && allowed == 0) {
            abort();
        }
    }
    size_t qlen = strlen(query);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = dn_req_query(&req, names[i]);
        if (v != NULL) {
            if (strlen(v) > qlen)
                abort();
            check_id(v);
        }
    }
    if (inm != NULL) {
        (void)dn_etag_matches(inm, "\"0123456789abcdef\"");
        (void)dn_etag_matches(inm, "\"\"");
    }
    h2o_mem_clear_pool(&req.pool);
    free(in);
    return 0;
}
