/*
 * test_static.c - the web UI file server: loading a built directory,
 * picking brotli/gzip by Accept-Encoding, cache headers per kind of file,
 * ETag/304 and the CSP on HTML.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "http/static.h"

static char dir[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/dn-static-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char assets[128];
    snprintf(assets, sizeof(assets), "%s/assets", dir);
    mkdir(assets, 0700);
    put("index.html", "<!doctype html><title>x</title>");
    put("index.html.gz", "GZ-HTML");
    put("assets/app.0123456789ab.js", "console.log(1)");
    put("assets/app.0123456789ab.js.br", "BR-JS");
    put("assets/app.0123456789ab.js.gz", "GZ-JS");
    put("assets/app.0123456789ab.css", "body{}");
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static const char *header(const dn_req_t *r, const char *name)
{
    for (int i = 0; i < r->nres_headers; i++)
        if (strcmp(r->res_headers[i].name, name) == 0)
            return r->res_headers[i].value;
    return NULL;
}

static void respond(dn_req_t *r, const dn_static_file_t *f, const char *ae, const char *inm)
{
    memset(r, 0, sizeof(*r));
    h2o_mem_init_pool(&r->pool);
    r->accept_encoding = (char *)ae;
    r->if_none_match = (char *)inm;
    dn_static_respond(r, f);
}

TestSuite(http_static, .init = setup, .fini = teardown);

Test(http_static, accept_encoding_tokens_and_q)
{
    cr_assert(dn_static_accepts("gzip, deflate, br", "br"));
    cr_assert(dn_static_accepts("gzip;q=0.5", "gzip"));
    cr_assert(!dn_static_accepts("gzip;q=0, deflate", "gzip"));
    cr_assert(!dn_static_accepts("brotli", "br"));
    cr_assert(dn_static_accepts("*", "br"));
    cr_assert(!dn_static_accepts("", "gzip"));
}

Test(http_static, loads_and_picks_the_encoding)
{
    dn_static_t *s = NULL;
    cr_assert_eq(dn_static_load(dir, &s), 0);
    cr_assert_eq(dn_static_count(s), 3, "index + 2 assets, no .gz/.br entries");
    const dn_static_file_t *js = dn_static_find(s, "/assets/app.0123456789ab.js");
    cr_assert_not_null(js);
    cr_assert_null(dn_static_find(s, "/assets/app.0123456789ab.js.br"));

    dn_req_t r;
    respond(&r, js, "gzip, br", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "content-encoding"), "br");
    cr_assert_eq(r.res_body.len, 5);
    cr_assert_str_eq(header(&r, "cache-control"), "public, max-age=31536000, immutable");
    cr_assert_str_eq(header(&r, "vary"), "Accept-Encoding");
    cr_assert_null(header(&r, "content-security-policy"));
    cr_assert(strstr(r.res_content_type, "javascript") != NULL);
    char etag[64];
    snprintf(etag, sizeof(etag), "%s", header(&r, "etag"));
    h2o_mem_clear_pool(&r.pool);

    respond(&r, js, "gzip", NULL);
    cr_assert_str_eq(header(&r, "content-encoding"), "gzip");
    cr_assert_str_neq(header(&r, "etag"), etag, "each representation has its own ETag");
    h2o_mem_clear_pool(&r.pool);

    respond(&r, js, NULL, NULL);
    cr_assert_null(header(&r, "content-encoding"));
    cr_assert_eq(r.res_body.len, strlen("console.log(1)"));
    h2o_mem_clear_pool(&r.pool);

    respond(&r, js, "br", etag);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(r.res_body.len, 0);
    h2o_mem_clear_pool(&r.pool);

    respond(&r, js, "gzip", etag);
    cr_assert_eq(r.status, 200, "the brotli ETag does not validate the gzip body");
    h2o_mem_clear_pool(&r.pool);

    /* no .br for the CSS: gzip absent too, so identity even when br is accepted */
    respond(&r, dn_static_find(s, "/assets/app.0123456789ab.css"), "br, gzip", NULL);
    cr_assert_null(header(&r, "content-encoding"));
    h2o_mem_clear_pool(&r.pool);
    dn_static_free(s);
}

Test(http_static, html_is_revalidated_and_has_a_csp)
{
    dn_static_t *s = NULL;
    cr_assert_eq(dn_static_load(dir, &s), 0);
    dn_req_t r;
    respond(&r, dn_static_find(s, "/index.html"), "br, gzip", NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(header(&r, "cache-control"), "no-cache");
    cr_assert_str_eq(header(&r, "content-encoding"), "gzip");
    const char *csp = header(&r, "content-security-policy");
    cr_assert_not_null(csp);
    cr_assert(strstr(csp, "default-src 'self'") != NULL);
    cr_assert(strstr(csp, "unsafe-inline") == NULL);
    cr_assert(strstr(r.res_content_type, "text/html") != NULL);
    h2o_mem_clear_pool(&r.pool);
    dn_static_free(s);
}

Test(http_static, a_directory_without_index_is_not_a_site)
{
    dn_static_t *s = NULL;
    cr_assert_eq(dn_static_load("/nonexistent-dnevnik-web", &s), DN_ENOTFOUND);
    cr_assert_null(s);
}
