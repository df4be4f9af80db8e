/*
 * jsonw.h - a streaming JSON writer into pool memory, for the hot read pages.
 *
 * Why: building a jansson tree and dumping it cost ~30 % of the server's CPU
 * on the everyday pages plus ~25 % in malloc/free/printf under it (perf on
 * the mix, issue 6). The writer appends compact JSON straight into one
 * buffer in an h2o pool (grown by doubling; the pool frees it all at once),
 * so a page is one pass with no per-value allocation.
 *
 * Output is what jansson's JSON_COMPACT | JSON_REAL_PRECISION(15) would print
 * for the same values (reals in exponent form aside): strings as UTF-8 with '"', '\\' and control
 * characters escaped (\b \f \n \r \t, else \u00XX); invalid UTF-8 is never
 * emitted - each byte that does not start a valid sequence becomes U+FFFD.
 * Commas are placed by the writer (a bit per nesting level, up to 63).
 */
#ifndef DN_CORE_JSONW_H
#define DN_CORE_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <h2o/memory.h>

#define DN_JSONW_MAX_DEPTH 63

typedef struct dn_jsonw {
    h2o_mem_pool_t *pool;
    char *buf;
    size_t len, cap;
    uint64_t has_items; /* bit d: the container at depth d has a member already */
    int depth;
    int after_key;      /* a key was written, its value comes next (no comma) */
} dn_jsonw_t;

/** Start an empty document whose buffer comes from pool (hint: expected size). */
void dn_jsonw_init(dn_jsonw_t *w, h2o_mem_pool_t *pool, size_t hint);
/** Drop what was written (e.g. after an error half way), keep the buffer. */
void dn_jsonw_reset(dn_jsonw_t *w);
/** The document so far, NUL-terminated, in pool memory; *len without the NUL. */
const char *dn_jsonw_data(dn_jsonw_t *w, size_t *len);

void dn_jsonw_obj(dn_jsonw_t *w);
void dn_jsonw_obj_end(dn_jsonw_t *w);
void dn_jsonw_arr(dn_jsonw_t *w);
void dn_jsonw_arr_end(dn_jsonw_t *w);
/** An object member's name; the next call writes its value. */
void dn_jsonw_key(dn_jsonw_t *w, const char *key);

/** A string value; NULL writes null. */
void dn_jsonw_str(dn_jsonw_t *w, const char *s);
void dn_jsonw_strn(dn_jsonw_t *w, const char *s, size_t n);
void dn_jsonw_int(dn_jsonw_t *w, int64_t v);
/** A number with 15 significant digits ("3.67", "4.0"); NaN/inf write null. */
void dn_jsonw_real(dn_jsonw_t *w, double v);
void dn_jsonw_bool(dn_jsonw_t *w, int v);
void dn_jsonw_null(dn_jsonw_t *w);

/* key + value in one call, for the common object members */
static inline void dn_jsonw_kstr(dn_jsonw_t *w, const char *k, const char *s)
{
    dn_jsonw_key(w, k);
    dn_jsonw_str(w, s);
}
static inline void dn_jsonw_kint(dn_jsonw_t *w, const char *k, int64_t v)
{
    dn_jsonw_key(w, k);
    dn_jsonw_int(w, v);
}
static inline void dn_jsonw_kbool(dn_jsonw_t *w, const char *k, int v)
{
    dn_jsonw_key(w, k);
    dn_jsonw_bool(w, v);
}
static inline void dn_jsonw_knull(dn_jsonw_t *w, const char *k)
{
    dn_jsonw_key(w, k);
    dn_jsonw_null(w);
}

#endif
