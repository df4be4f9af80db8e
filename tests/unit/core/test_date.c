/* test_date.c - calendar arithmetic shared by every module. */
#include <criterion/criterion.h>

#include "core/date.h"
#include "core/error.h"

Test(date, parse_and_format_round_trip)
{
    int64_t d;
    char buf[11];
    cr_assert_eq(dn_date_parse("1970-01-01", &d), 0);
    cr_assert_eq(d, 0);
    cr_assert_eq(dn_date_parse("2026-09-01", &d), 0);
    dn_date_format(d, buf);
    cr_assert_str_eq(buf, "2026-09-01");
    cr_assert_eq(dn_date_parse("2024-02-29", &d), 0);
    dn_date_format(d + 1, buf);
    cr_assert_str_eq(buf, "2024-03-01");
}

Test(date, rejects_malformed_and_impossible_dates)
{
    int64_t d;
    const char *bad[] = {NULL, "", "2026-9-01", "2026/09/01", "2026-13-01", "2026-00-10", "2025-02-29",
                         "2100-02-29", "2026-04-31", "20260901", "2026-09-01x", "1899-12-31", "abcd-ef-gh"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(dn_date_parse(bad[i], &d), DN_EINVAL, "accepted '%s'", bad[i] ? bad[i] : "(null)");
        cr_assert_not(dn_date_valid(bad[i]));
    }
    cr_assert(dn_date_valid("2000-02-29"));
}

Test(date, weekdays_and_addition)
{
    char buf[11];
    cr_assert_eq(dn_date_weekday("1970-01-01"), 4); /* Thursday */
    cr_assert_eq(dn_date_weekday("2026-11-23"), 1); /* Monday */
    cr_assert_eq(dn_date_weekday("2026-11-22"), 7); /* Sunday */
    cr_assert_eq(dn_date_weekday("nope"), 0);
    cr_assert_eq(dn_date_add("2026-12-31", 1, buf), 0);
    cr_assert_str_eq(buf, "2027-01-01");
    cr_assert_eq(dn_date_add("2026-03-01", -1, buf), 0);
    cr_assert_str_eq(buf, "2026-02-28");
    cr_assert_eq(dn_date_add("bad", 1, buf), DN_EINVAL);
}

Test(date, today_is_consistent)
{
    char buf[11];
    dn_date_today(buf);
    int64_t d;
    cr_assert_eq(dn_date_parse(buf, &d), 0);
    int64_t now = dn_date_today_days();
    cr_assert(d == now || d + 1 == now); /* midnight may pass between the calls */
    cr_assert_gt(dn_now_ms(), 1700000000000LL);
}
