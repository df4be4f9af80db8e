/*
 * jsonw.c - the streaming JSON writer (contract in jsonw.h).
 *
 * Invariant: buf always has room for the terminating NUL (cap > len), and
 * every append reserves its worst case first (a string: 6 bytes per input
 * byte for \u00XX, U+FFFD is 3), so the copy loops need no bounds checks.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/jsonw.h"

static void reserve(dn_jsonw_t *w, size_t extra)
{
    if (w->len + extra < w->cap)
        return;
    size_t cap = w->cap ? w->cap : 256;
    while (cap <= w->len + extra)
        cap *= 2;
    /* the old buffer stays in the pool until the request ends */
    char *nb = h2o_mem_alloc_pool(w->pool, cap);
    if (w->len)
        memcpy(nb, w->buf, w->len);
    w->buf = nb;
    w->cap = cap;
}

void dn_jsonw_init(dn_jsonw_t *w, h2o_mem_pool_t *pool, size_t hint)
{
    memset(w, 0, sizeof(*w));
    w->pool = pool;
    reserve(w, hint ? hint : 256);
}

void dn_jsonw_reset(dn_jsonw_t *w)
{
    w->len = 0;
    w->depth = 0;
    w->has_items = 0;
    w->after_key = 0;
}

const char *dn_jsonw_data(dn_jsonw_t *w, size_t *len)
{
    reserve(w, 1);
    w->buf[w->len] = '\0';
    if (len)
        *len = w->len;
    return w->buf;
}

/* Comma before a value or a key unless it is the first member or follows its key. */
static void sep(dn_jsonw_t *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    uint64_t bit = 1ULL << w->depth;
    if (w->has_items & bit)
        w->buf[w->len++] = ',';
    else
        w->has_items |= bit;
}

static void open_c(dn_jsonw_t *w, char c)
{
    reserve(w, 2);
    sep(w);
    w->buf[w->len++] = c;
    if (w->depth < DN_JSONW_MAX_DEPTH)
        w->depth++;
    w->has_items &= ~(1ULL << w->depth);
}

static void close_c(dn_jsonw_t *w, char c)
{
    reserve(w, 1);
    w->buf[w->len++] = c;
    if (w->depth > 0)
        w->depth--;
}

void dn_jsonw_obj(dn_jsonw_t *w)
{
    open_c(w, '{');
}
void dn_jsonw_obj_end(dn_jsonw_t *w)
{
    close_c(w, '}');
}
void dn_jsonw_arr(dn_jsonw_t *w)
{
    open_c(w, '[');
}
void dn_jsonw_arr_end(dn_jsonw_t *w)
{
    close_c(w, ']');
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
            return 0; /* overlong / UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
            return 0; /* overlong / above U+10FFFF */
        return 4;
    }
    return 0;
}

static void put_string(dn_jsonw_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    reserve(w, n * 6 + 3);
    char *o = w->buf + w->len;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    *o++ = '"';
    while (p < end) {
        unsigned c = *p;
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            *o++ = (char)c;
            p++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_len(p, (size_t)(end - p));
            if (k == 0) {
                memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD for a byte that starts no valid sequence */
                o += 3;
                p++;
            } else {
                memcpy(o, p, k);
                o += k;
                p += k;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u', *o++ = '0', *o++ = '0', *o++ = hex[c >> 4], *o++ = hex[c & 15];
        }
        p++;
    }
    *o++ = '"';
    w->len = (size_t)(o - w->buf);
}

void dn_jsonw_key(dn_jsonw_t *w, const char *key)
{
    size_t n = strlen(key);
    reserve(w, 2);
    sep(w);
    put_string(w, key, n);
    reserve(w, 1);
    w->buf[w->len++] = ':';
    w->after_key = 1;
}

void dn_jsonw_strn(dn_jsonw_t *w, const char *s, size_t n)
{
    reserve(w, 1);
    sep(w);
    put_string(w, s, n);
}

void dn_jsonw_str(dn_jsonw_t *w, const char *s)
{
    if (s == NULL)
        dn_jsonw_null(w);
    else
        dn_jsonw_strn(w, s, strlen(s));
}

void dn_jsonw_int(dn_jsonw_t *w, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    reserve(w, 24);
    sep(w);
    if (v < 0)
        w->buf[w->len++] = '-';
    while (n)
        w->buf[w->len++] = tmp[--n];
}

void dn_jsonw_real(dn_jsonw_t *w, double v)
{
    if (!isfinite(v)) {
        dn_jsonw_null(w);
        return;
    }
    char tmp[40];
    int n = snprintf(tmp, sizeof(tmp), "%.15g", v);
    /* like jansson: a real always reads as one ("4.0", not "4") */
    if (strpbrk(tmp, ".e") == NULL) {
        tmp[n++] = '.';
        tmp[n++] = '0';
    }
    reserve(w, (size_t)n + 1);
    sep(w);
    memcpy(w->buf + w->len, tmp, (size_t)n);
    w->len += (size_t)n;
}

static void put_lit(dn_jsonw_t *w, const char *lit, size_t n)
{
    reserve(w, n + 1);
    sep(w);
    memcpy(w->buf + w->len, lit, n);
    w->len += n;
}

void dn_jsonw_bool(dn_jsonw_t *w, int v)
{
    if (v)
        put_lit(w, "true", 4);
    else
        put_lit(w, "false", 5);
}

void dn_jsonw_null(dn_jsonw_t *w)
{
    put_lit(w, "null", 4);
}
