/* test_jsonw.c - the streaming JSON writer: structure, escaping (Cyrillic,
 * control characters, invalid UTF-8), numbers, and agreement with jansson. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "core/jsonw.h"

static h2o_mem_pool_t pool;
static void setup(void)
{
    h2o_mem_init_pool(&pool);
}
static void teardown(void)
{
    h2o_mem_clear_pool(&pool);
}
TestSuite(jsonw, .init = setup, .fini = teardown);

static const char *str_doc(const char *s, size_t n)
{
    dn_jsonw_t w;
    dn_jsonw_init(&w, &pool, 8);
    dn_jsonw_strn(&w, s, n);
    return dn_jsonw_data(&w, NULL);
}

Test(jsonw, nesting_and_commas)
{
    dn_jsonw_t w;
    dn_jsonw_init(&w, &pool, 0);
    dn_jsonw_obj(&w);
    dn_jsonw_kint(&w, "a", 1);
    dn_jsonw_key(&w, "b");
    dn_jsonw_arr(&w);
    dn_jsonw_arr(&w);
    dn_jsonw_arr_end(&w);
    dn_jsonw_obj(&w);
    dn_jsonw_obj_end(&w);
    dn_jsonw_int(&w, -9223372036854775807LL - 1);
    dn_jsonw_null(&w);
    dn_jsonw_bool(&w, 1);
    dn_jsonw_bool(&w, 0);
    dn_jsonw_arr_end(&w);
    dn_jsonw_kstr(&w, "c", NULL);
    dn_jsonw_knull(&w, "d");
    dn_jsonw_kbool(&w, "e", 1);
    dn_jsonw_obj_end(&w);
    size_t len;
    const char *s = dn_jsonw_data(&w, &len);
    cr_assert_str_eq(s,
                     "{\"a\":1,\"b\":[[],{},-9223372036854775808,null,true,false],\"c\":null,\"d\":null,\"e\":true}");
    cr_assert_eq(len, strlen(s));
    dn_jsonw_reset(&w);
    dn_jsonw_arr(&w);
    dn_jsonw_int(&w, 0);
    dn_jsonw_arr_end(&w);
    cr_assert_str_eq(dn_jsonw_data(&w, NULL), "[0]");
}

Test(jsonw, escapes_quotes_backslash_and_control_characters)
{
    const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/";
    cr_assert_str_eq(str_doc(in, sizeof(in) - 1), "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001F\x7f/\"");
    /* an embedded NUL is a control character too */
    cr_assert_str_eq(str_doc("a\0b", 3), "\"a\\u0000b\"");
}

Test(jsonw, keeps_cyrillic_and_other_valid_utf8)
{
    const char *in = "Иванова Мария Петровна — 5 ✓ 😀";
    cr_assert_str_eq(str_doc(in, strlen(in)), "\"Иванова Мария Петровна — 5 ✓ 😀\"");
}

Test(jsonw, replaces_invalid_utf8_with_replacement_character)
{
    struct {
        const char *in, *out;
    } cases[] = {
        {"a\xff" "b", "\"a\xEF\xBF\xBD" "b\""},             /* never valid byte */
        {"\xd0", "\"\xEF\xBF\xBD\""},                        /* truncated 2-byte sequence */
        {"\xd0" "A", "\"\xEF\xBF\xBD" "A\""},                /* bad continuation */
        {"\xc0\xaf", "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},        /* overlong '/' */
        {"\xed\xa0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""}, /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""}, /* above U+10FFFF */
        {"\x80", "\"\xEF\xBF\xBD\""},                        /* lone continuation */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = str_doc(cases[i].in, strlen(cases[i].in));
        cr_assert_str_eq(got, cases[i].out, "case %zu", i);
        json_error_t err;
        json_t *v = json_loads(got, JSON_DECODE_ANY, &err); /* always valid JSON */
        cr_assert_not_null(v, "case %zu: %s", i, err.text);
        json_decref(v);
    }
}

Test(jsonw, reals_like_jansson)
{
    double vals[] = {3.67, 4.0, 2.5, 0.1, 4.333333333333333, -1.25, 0.0};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        dn_jsonw_t w;
        dn_jsonw_init(&w, &pool, 0);
        dn_jsonw_real(&w, vals[i]);
        json_t *j = json_real(vals[i]);
        char *want = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
        cr_assert_str_eq(dn_jsonw_data(&w, NULL), want);
        free(want);
        json_decref(j);
    }
    dn_jsonw_t w;
    dn_jsonw_init(&w, &pool, 0);
    dn_jsonw_real(&w, 1.0 / 0.0);
    cr_assert_str_eq(dn_jsonw_data(&w, NULL), "null");
}

Test(jsonw, grows_past_its_first_buffer_and_matches_jansson)
{
    dn_jsonw_t w;
    dn_jsonw_init(&w, &pool, 4);
    json_t *ref = json_array();
    dn_jsonw_arr(&w);
    for (int i = 0; i < 2000; i++) {
        char s[64];
        snprintf(s, sizeof(s), "ученик №%d \"%c\"\n", i, 'a' + i % 26);
        dn_jsonw_obj(&w);
        dn_jsonw_kint(&w, "id", i);
        dn_jsonw_kstr(&w, "name", s);
        dn_jsonw_obj_end(&w);
        json_array_append_new(ref, json_pack("{s:i, s:s}", "id", i, "name", s));
    }
    dn_jsonw_arr_end(&w);
    char *want = json_dumps(ref, JSON_COMPACT);
    size_t len;
    const char *got = dn_jsonw_data(&w, &len);
    cr_assert_eq(len, strlen(want));
    cr_assert_str_eq(got, want);
    free(want);
    json_decref(ref);
}
