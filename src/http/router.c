/*
 * router.c - method + path routing with {param} segments.
 *
 * Patterns are split into segments once, at registration. A lookup walks the
 * route table and compares segment by segment; with the few dozen routes of
 * dnevnik this linear scan costs well under a microsecond and keeps the code
 * obvious. The table is immutable once the server starts, so loops share it
 * without locks.
 */
#include "http/router.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_SEGMENTS 16

typedef struct {
    const char *text; /* literal text, or the parameter name */
    size_t len;
    int is_param;
} segment_t;

typedef struct {
    dn_route_t route;
    int nsegments;
    segment_t segments[MAX_SEGMENTS];
    char *pattern_copy;
} entry_t;

struct dn_router {
    entry_t *entries;
    int count;
    int cap;
};

dn_router_t *dn_router_new(void)
{
    return calloc(1, sizeof(dn_router_t));
}

void dn_router_free(dn_router_t *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->count; i++)
        free(r->entries[i].pattern_copy);
    free(r->entries);
    free(r);
}

/* Split "/a/{b}/c" into segments pointing into path; -1 when too many. */
static int split_path(const char *path, size_t len, segment_t *out, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && path[i] == '/')
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        if (n == max)
            return -1;
        out[n].text = path + start;
        out[n].len = i - start;
        out[n].is_param = 0;
        n++;
    }
    return n;
}

int dn_router_add(dn_router_t *r, const dn_route_t *route)
{
    if (r->count == r->cap) {
        int cap = r->cap ? r->cap * 2 : 32;
        entry_t *grown = realloc(r->entries, sizeof(entry_t) * cap);
        if (grown == NULL)
            return DN_ENOMEM;
        r->entries = grown;
        r->cap = cap;
    }
    entry_t *e = &r->entries[r->count];
    memset(e, 0, sizeof(*e));
    e->pattern_copy = strdup(route->pattern);
    if (e->pattern_copy == NULL)
        return DN_ENOMEM;
    e->nsegments = split_path(e->pattern_copy, strlen(e->pattern_copy), e->segments, MAX_SEGMENTS);
    if (e->nsegments < 0) {
        free(e->pattern_copy);
        return DN_EINVAL;
    }
    for (int i = 0; i < e->nsegments; i++) {
        segment_t *s = &e->segments[i];
        if (s->len >= 2 && s->text[0] == '{' && s->text[s->len - 1] == '}') {
            s->is_param = 1;
            s->text++;
            s->len -= 2;
            e->pattern_copy[s->text - e->pattern_copy + s->len] = '\0'; /* the name becomes a C string */
        }
    }
    e->route = *route;
    e->route.pattern = route->pattern;
    e->route.id = r->count;
    if (e->route.name == NULL)
        e->route.name = route->pattern;
    return r->count++;
}

int dn_router_count(const dn_router_t *r)
{
    return r->count;
}

const dn_route_t *dn_router_get(const dn_router_t *r, int id)
{
    return id >= 0 && id < r->count ? &r->entries[id].route : NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode into pool memory; NULL on a malformed escape or a NUL byte. */
static char *decode_segment(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    char *out = h2o_mem_alloc_pool(pool, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return NULL;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return NULL;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static int segments_match(const entry_t *e, const segment_t *segs, int n)
{
    if (e->nsegments != n)
        return 0;
    for (int i = 0; i < n; i++) {
        const segment_t *p = &e->segments[i];
        if (p->is_param)
            continue;
        if (p->len != segs[i].len || memcmp(p->text, segs[i].text, p->len) != 0)
            return 0;
    }
    return 1;
}

dn_route_result_t dn_router_match(const dn_router_t *r, dn_method_t method, const char *path, size_t len, dn_req_t *req,
                                  unsigned *allowed)
{
    segment_t segs[MAX_SEGMENTS];
    int n = split_path(path, len, segs, MAX_SEGMENTS);
    unsigned methods = 0;
    if (n < 0)
        return DN_ROUTE_NOT_FOUND;
    for (int i = 0; i < r->count; i++) {
        const entry_t *e = &r->entries[i];
        if (!segments_match(e, segs, n))
            continue;
        /* HEAD is served by the GET handler; h2o drops the body. */
        dn_method_t want = method == DN_HEAD ? DN_GET : method;
        if (e->route.method != want) {
            methods |= e->route.method;
            continue;
        }
        req->route = &e->route;
        req->nparams = 0;
        for (int s = 0; s < n; s++) {
            if (!e->segments[s].is_param)
                continue;
            char *value = decode_segment(&req->pool, segs[s].text, segs[s].len);
            if (value == NULL || req->nparams == DN_MAX_PATH_PARAMS)
                return DN_ROUTE_NOT_FOUND;
            req->params[req->nparams].name = e->segments[s].text;
            req->params[req->nparams].value = value;
            req->nparams++;
        }
        return DN_ROUTE_FOUND;
    }
    if (methods != 0) {
        if (methods & DN_GET)
            methods |= DN_HEAD;
        if (allowed != NULL)
            *allowed = methods;
        return DN_ROUTE_BAD_METHOD;
    }
    return DN_ROUTE_NOT_FOUND;
}

const char *dn_method_name(dn_method_t m)
{
    switch (m) {
    case DN_GET: return "GET";
    case DN_POST: return "POST";
    case DN_PUT: return "PUT";
    case DN_PATCH: return "PATCH";
    case DN_DELETE: return "DELETE";
    case DN_HEAD: return "HEAD";
    case DN_OPTIONS: return "OPTIONS";
    }
    return "OTHER";
}

size_t dn_methods_format(unsigned methods, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned bit = 1; bit <= DN_OPTIONS; bit <<= 1) {
        if (!(methods & bit))
            continue;
        const char *name = dn_method_name((dn_method_t)bit);
        size_t need = strlen(name) + (len ? 2 : 0);
        if (len + need + 1 > cap)
            break;
        if (len) {
            memcpy(buf + len, ", ", 2);
            len += 2;
        }
        memcpy(buf + len, name, strlen(name));
        len += strlen(name);
        buf[len] = '\0';
    }
    return len;
}
