/*
 * web.c - the web UI at "/": registers one inline route per built file.
 *
 * The files come from --web-dir, or when that is empty from "web" next to
 * the executable (where the meson build writes them), so `make run` and the
 * tests need no flag. No directory means no UI and only the API is served.
 * Client-side pages live under /app/...; they all answer with index.html,
 * whose script then draws the page. Everything runs inline on the loop: the
 * files are in memory and serving them never blocks.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "core/error.h"
#include "http/static.h"
#include "obs/log.h"

static dn_static_t *site; /* read-only once the server runs */

static void free_site(void)
{
    dn_static_free(site);
    site = NULL;
}

static void serve_file(dn_req_t *req)
{
    const dn_static_file_t *f = dn_static_find(site, req->path);
    if (f == NULL) {
        dn_res_error(req, DN_ENOTFOUND, NULL);
        return;
    }
    dn_static_respond(req, f);
}

static void serve_index(dn_req_t *req)
{
    dn_static_respond(req, dn_static_find(site, "/index.html"));
}

/* "<directory of /proc/self/exe>/web", or "" when it cannot be known. */
static void default_dir(char buf[PATH_MAX], size_t cap)
{
    char exe[PATH_MAX - 16]; /* leaves room for "/web" in buf */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    buf[0] = '\0';
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
    snprintf(buf, cap, "%s/web", exe);
}

int dn_api_register_web(dn_app_t *app)
{
    char dir[PATH_MAX];
    if (app->config.web_dir[0] != '\0')
        snprintf(dir, sizeof(dir), "%s", app->config.web_dir);
    else
        default_dir(dir, sizeof(dir));
    int rc = dir[0] ? dn_static_load(dir, &site) : DN_ENOTFOUND;
    if (rc == DN_ENOTFOUND && app->config.web_dir[0] == '\0') {
        dn_log_info("web", "no web UI built at %s; serving the API only", dir);
        return 0;
    }
    if (rc != 0) {
        dn_log_error("web", "cannot load the web UI from %s: %s", dir, dn_strerror(rc));
        return rc;
    }
    atexit(free_site);
    for (size_t i = 0; i < dn_static_count(site); i++) {
        dn_route_t r = {DN_GET, dn_static_url(site, i), serve_file, DN_RUN_INLINE};
        if (dn_router_add(app->router, &r) < 0)
            return DN_ENOMEM;
    }
    static const char *const pages[] = {"/", "/app", "/app/{a}", "/app/{a}/{b}", "/app/{a}/{b}/{c}"};
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        dn_route_t r = {DN_GET, pages[i], serve_index, DN_RUN_INLINE};
        if (dn_router_add(app->router, &r) < 0)
            return DN_ENOMEM;
    }
    dn_log_info("web", "serving the web UI from %s (%zu files)", dir, dn_static_count(site));
    return 0;
}
