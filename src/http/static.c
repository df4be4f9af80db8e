/*
 * static.c - the web UI's files, loaded once and served from memory.
 *
 * Invariants: after dn_static_load returns, nothing is written again, so
 * every loop reads the table without locks. Each file keeps up to three
 * representations (identity, gzip, brotli) with their own strong ETag
 * (the content hash of the identity body plus the coding), because a cache
 * that varies on Accept-Encoding must not mix them up. The pre-compressed
 * variants are produced by the build (tools/build-web.mjs), never here.
 */
#include "http/static.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/error.h"

#define MAX_FILE_BYTES (8u * 1024u * 1024u)

enum { ENC_IDENTITY = 0, ENC_GZIP = 1, ENC_BR = 2, ENC_COUNT = 3 };

typedef struct {
    char *body; /* NULL when this representation was not built */
    size_t len;
    char etag[40];
} rep_t;

struct dn_static_file {
    char *url;                /* "/index.html", "/assets/app.1a2b.js" */
    const char *content_type;
    int is_html;
    rep_t reps[ENC_COUNT];
};

struct dn_static {
    dn_static_file_t *files;
    size_t count, cap;
};

/* The strict policy for the UI: everything from our own origin, no inline
 * code, no plugins, no framing; API calls go to the same origin. */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                          "form-action 'self'; frame-ancestors 'none'";

static const char *type_for(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},  {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},    {".svg", "image/svg+xml"},
        {".png", "image/png"},                  {".ico", "image/x-icon"},
        {".json", "application/json"},          {".webmanifest", "application/manifest+json"},
        {".txt", "text/plain; charset=utf-8"},  {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Read a whole regular file into malloc'd memory; DN_ENOTFOUND when absent. */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return DN_ENOTFOUND;
    int rc = 0;
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_FILE_BYTES) {
        rc = DN_EIO;
        goto done;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = DN_ENOMEM;
        goto done;
    }
    if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        rc = DN_EIO;
        goto done;
    }
    *out = buf;
    *len = (size_t)st.st_size;
    buf = NULL;
done:
    free(buf);
    fclose(f);
    return rc;
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Load dir/name (and its .gz/.br) as URL prefix+name. */
static int add_file(dn_static_t *s, const char *dir, const char *name, const char *prefix)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        dn_static_file_t *grown = realloc(s->files, cap * sizeof(*grown));
        if (grown == NULL)
            return DN_ENOMEM;
        s->files = grown;
        s->cap = cap;
    }
    dn_static_file_t *f = &s->files[s->count];
    memset(f, 0, sizeof(*f));
    size_t ulen = strlen(prefix) + strlen(name) + 1;
    f->url = malloc(ulen);
    if (f->url == NULL)
        return DN_ENOMEM;
    snprintf(f->url, ulen, "%s%s", prefix, name);
    s->count++; /* owned by s from here on: dn_static_free releases it on any error */
    f->content_type = type_for(name);
    f->is_html = ends_with(name, ".html");
    static const char *const suffix[ENC_COUNT] = {"", ".gz", ".br"};
    for (int e = 0; e < ENC_COUNT; e++) {
        char path[1024];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s%s", dir, name, suffix[e]) >= sizeof(path))
            return DN_EINVAL;
        int rc = read_file(path, &f->reps[e].body, &f->reps[e].len);
        if (rc == DN_ENOTFOUND && e != ENC_IDENTITY)
            continue;
        if (rc != 0)
            return rc;
    }
    uint64_t h = fnv1a(f->reps[ENC_IDENTITY].body, f->reps[ENC_IDENTITY].len);
    for (int e = 0; e < ENC_COUNT; e++)
        snprintf(f->reps[e].etag, sizeof(f->reps[e].etag), "\"%016llx%s\"", (unsigned long long)h,
                 e == ENC_GZIP ? "-gz" : e == ENC_BR ? "-br" : "");
    return 0;
}

/* Every file of dir except the pre-compressed variants and dotfiles. */
static int add_dir(dn_static_t *s, const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0; /* an optional folder */
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (n[0] == '.' || ends_with(n, ".gz") || ends_with(n, ".br") || ends_with(n, ".stamp") ||
            ends_with(n, ".manifest.json"))
            continue;
        char path[1024];
        struct stat st;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, n) >= sizeof(path) || stat(path, &st) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        rc = add_file(s, dir, n, prefix);
    }
    closedir(d);
    return rc;
}

int dn_static_load(const char *dir, dn_static_t **out)
{
    char index[1024], assets[1024];
    struct stat st;
    if ((size_t)snprintf(index, sizeof(index), "%s/index.html", dir) >= sizeof(index) ||
        (size_t)snprintf(assets, sizeof(assets), "%s/assets", dir) >= sizeof(assets))
        return DN_EINVAL;
    if (stat(index, &st) != 0)
        return DN_ENOTFOUND;
    dn_static_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return DN_ENOMEM;
    int rc = add_file(s, dir, "index.html", "/");
    if (rc == 0)
        rc = add_dir(s, assets, "/assets/");
    if (rc != 0) {
        dn_static_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void dn_static_free(dn_static_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->count; i++) {
        free(s->files[i].url);
        for (int e = 0; e < ENC_COUNT; e++)
            free(s->files[i].reps[e].body);
    }
    free(s->files);
    free(s);
}

size_t dn_static_count(const dn_static_t *s)
{
    return s->count;
}

const char *dn_static_url(const dn_static_t *s, size_t i)
{
    return i < s->count ? s->files[i].url : NULL;
}

const dn_static_file_t *dn_static_find(const dn_static_t *s, const char *path)
{
    for (size_t i = 0; s != NULL && i < s->count; i++)
        if (strcmp(s->files[i].url, path) == 0)
            return &s->files[i];
    return NULL;
}

int dn_static_accepts(const char *ae, const char *coding)
{
    size_t clen = strlen(coding);
    const char *p = ae;
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *tok = p;
        while (*p != '\0' && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t tlen = (size_t)(p - tok);
        double q = 1.0;
        const char *end = strchr(p, ',');
        const char *qp = strstr(p, "q=");
        if (qp != NULL && (end == NULL || qp < end))
            q = strtod(qp + 2, NULL);
        if (q > 0 && ((tlen == clen && strncasecmp(tok, coding, clen) == 0) || (tlen == 1 && *tok == '*')))
            return 1;
        p = end;
    }
    return 0;
}

/* Does an If-None-Match list contain etag (or "*")? Weak prefixes compare equal (RFC 9110 weak comparison). */
static int etag_matches(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    for (const char *p = inm; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' '))
            return 1;
        p = strchr(p, ',');
    }
    return 0;
}

void dn_static_respond(dn_req_t *req, const dn_static_file_t *f)
{
    int e = ENC_IDENTITY;
    if (req->accept_encoding != NULL) {
        if (f->reps[ENC_BR].body != NULL && dn_static_accepts(req->accept_encoding, "br"))
            e = ENC_BR;
        else if (f->reps[ENC_GZIP].body != NULL && dn_static_accepts(req->accept_encoding, "gzip"))
            e = ENC_GZIP;
    }
    const rep_t *r = &f->reps[e];
    dn_res_header(req, "cache-control", f->is_html ? "no-cache" : "public, max-age=31536000, immutable");
    dn_res_header(req, "etag", r->etag);
    dn_res_header(req, "vary", "Accept-Encoding");
    if (f->is_html) {
        dn_res_header(req, "content-security-policy", csp);
        dn_res_header(req, "cross-origin-opener-policy", "same-origin");
        dn_res_header(req, "permissions-policy", "camera=(), microphone=(), geolocation=()");
    }
    if (req->if_none_match != NULL && etag_matches(req->if_none_match, r->etag)) {
        dn_res_body(req, 304, NULL, NULL, 0);
        return;
    }
    if (e != ENC_IDENTITY)
        dn_res_header(req, "content-encoding", e == ENC_BR ? "br" : "gzip");
    dn_res_body(req, 200, f->content_type, r->body, r->len);
}
