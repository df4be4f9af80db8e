/*
 * test_common.c - the request-value parsers of src/api/common.c and the
 * download Range parser of src/api/files_api.c, including the inputs the
 * fuzz harnesses (tests/fuzz) turned up.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "api/common.h"

Test(api_parse_id, digits_only)
{
    cr_assert_eq(dn_api_parse_id("42"), 42);
    cr_assert_eq(dn_api_parse_id("007"), 7);
    cr_assert_eq(dn_api_parse_id("999999999999999999"), 999999999999999999LL);
    cr_assert_eq(dn_api_parse_id("1000000000000000000"), 0, "19 digits");
    cr_assert_eq(dn_api_parse_id("0"), 0);
    cr_assert_eq(dn_api_parse_id("-1"), 0);
    cr_assert_eq(dn_api_parse_id(""), 0);
    cr_assert_eq(dn_api_parse_id(NULL), 0);
    cr_assert_eq(dn_api_parse_id("42 "), 0);
    cr_assert_eq(dn_api_parse_id("4x2"), 0);
}

/* fuzz/query_router: "?student_id=+00042" decodes to " 00042", which strtoll took as 42 */
Test(api_parse_id, no_leading_space_or_sign)
{
    cr_assert_eq(dn_api_parse_id(" 00042"), 0);
    cr_assert_eq(dn_api_parse_id(" 42"), 0);
    cr_assert_eq(dn_api_parse_id("\t42"), 0);
    cr_assert_eq(dn_api_parse_id("\n42"), 0);
    cr_assert_eq(dn_api_parse_id("+42"), 0);
}

Test(api_parse_range, single_ranges)
{
    int64_t a = -1, b = -1;
    cr_assert_eq(dn_api_parse_range("bytes=0-9", 100, &a, &b), 1);
    cr_assert(a == 0 && b == 9);
    cr_assert_eq(dn_api_parse_range("bytes=90-", 100, &a, &b), 1);
    cr_assert(a == 90 && b == 99);
    cr_assert_eq(dn_api_parse_range("bytes=-10", 100, &a, &b), 1);
    cr_assert(a == 90 && b == 99);
    cr_assert_eq(dn_api_parse_range("bytes=-1000", 100, &a, &b), 1);
    cr_assert(a == 0 && b == 99);
    cr_assert_eq(dn_api_parse_range("bytes=50-1000", 100, &a, &b), 1);
    cr_assert(a == 50 && b == 99);
}

Test(api_parse_range, ignored_and_unsatisfiable)
{
    int64_t a = -7, b = -7;
    cr_assert_eq(dn_api_parse_range(NULL, 100, &a, &b), 0);
    cr_assert_eq(dn_api_parse_range("bytes=0-1,5-6", 100, &a, &b), 0);
    cr_assert_eq(dn_api_parse_range("bytes=9-3", 100, &a, &b), 0);
    cr_assert_eq(dn_api_parse_range("items=0-1", 100, &a, &b), 0);
    cr_assert_eq(dn_api_parse_range("bytes=x-1", 100, &a, &b), 0);
    cr_assert_eq(dn_api_parse_range("bytes=100-", 100, &a, &b), -1);
    cr_assert_eq(dn_api_parse_range("bytes=-0", 100, &a, &b), -1);
    cr_assert_eq(dn_api_parse_range("bytes=0-0", 0, &a, &b), -1);
    cr_assert(a == -7 && b == -7, "a refused range leaves the outputs alone");
}
