/* Token bucket math and the memory cap of the rate limiter. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "auth/ratelimit.h"
#include "core/error.h"

Test(ratelimit, burst_then_refill)
{
    dn_ratelimit_t *rl = dn_ratelimit_new(2.0, 3.0, 100); /* 2 tokens/s, bucket of 3 */
    int64_t retry = -1;
    cr_assert_not_null(rl);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(dn_ratelimit_take(rl, "k", 1, 1000, &retry), 0);
    cr_assert_eq(dn_ratelimit_take(rl, "k", 1, 1000, &retry), DN_ERATELIMIT);
    cr_assert_eq(retry, 500, "one token takes 1/rate = 500 ms, got %lld", (long long)retry);
    cr_assert_eq(dn_ratelimit_take(rl, "k", 1, 1499, NULL), DN_ERATELIMIT);
    cr_assert_eq(dn_ratelimit_take(rl, "k", 1, 1500, NULL), 0);
    /* Refill stops at the burst size. */
    cr_assert_eq(dn_ratelimit_take(rl, "k", 3, 100000, NULL), 0);
    cr_assert_eq(dn_ratelimit_take(rl, "k", 1, 100000, NULL), DN_ERATELIMIT);
    /* Other keys have their own bucket. */
    cr_assert_eq(dn_ratelimit_take(rl, "other", 1, 100000, NULL), 0);
    dn_ratelimit_free(rl);
}

Test(ratelimit, check_does_not_consume_and_reset_refills)
{
    dn_ratelimit_t *rl = dn_ratelimit_new(1.0, 1.0, 10);
    cr_assert_eq(dn_ratelimit_check(rl, "k", 1, 0, NULL), 0);
    cr_assert_eq(dn_ratelimit_check(rl, "k", 1, 0, NULL), 0);
    cr_assert_eq(dn_ratelimit_take(rl, "k", 1, 0, NULL), 0);
    cr_assert_eq(dn_ratelimit_check(rl, "k", 1, 0, NULL), DN_ERATELIMIT);
    dn_ratelimit_reset(rl, "k");
    cr_assert_eq(dn_ratelimit_take(rl, "k", 1, 0, NULL), 0);
    dn_ratelimit_free(rl);
}

Test(ratelimit, entry_cap_evicts_least_recently_used)
{
    dn_ratelimit_t *rl = dn_ratelimit_new(1.0, 1.0, 64);
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "addr-%d", i);
        cr_assert_eq(dn_ratelimit_take(rl, key, 1, 0, NULL), 0);
        cr_assert_leq(dn_ratelimit_size(rl), 64);
    }
    cr_assert_geq(dn_ratelimit_size(rl), 32, "the table should be (nearly) full, has %zu", dn_ratelimit_size(rl));
    /* The newest key is still limited: it was not evicted. */
    cr_assert_eq(dn_ratelimit_take(rl, "addr-9999", 1, 0, NULL), DN_ERATELIMIT);
    /* The oldest was evicted, so it starts with a full bucket again. */
    cr_assert_eq(dn_ratelimit_take(rl, "addr-0", 1, 0, NULL), 0);
    dn_ratelimit_free(rl);
}

Test(ratelimit, long_keys_are_distinct)
{
    dn_ratelimit_t *rl = dn_ratelimit_new(1.0, 1.0, 100);
    char a[200], b[200];
    memset(a, 'x', 150);
    a[150] = '\0';
    memcpy(b, a, sizeof(a));
    b[149] = 'y'; /* differs only after the stored prefix */
    cr_assert_eq(dn_ratelimit_take(rl, a, 1, 0, NULL), 0);
    cr_assert_eq(dn_ratelimit_take(rl, b, 1, 0, NULL), 0);
    cr_assert_eq(dn_ratelimit_take(rl, a, 1, 0, NULL), DN_ERATELIMIT);
    dn_ratelimit_free(rl);
}

Test(ratelimit, rejects_bad_parameters)
{
    cr_assert_null(dn_ratelimit_new(0, 1, 10));
    cr_assert_null(dn_ratelimit_new(1, 0.5, 10));
    cr_assert_null(dn_ratelimit_new(1, 1, 0));
}

/*
 * Issue 8: memory stays bounded under millions of distinct addresses, and the
 * keys that stay active keep their state while the flood churns the table.
 */
Test(ratelimit, millions_of_addresses_stay_under_the_cap, .timeout = 120)
{
    const size_t cap = 65536;
    dn_ratelimit_t *rl = dn_ratelimit_new(1.0, 5.0, cap); /* 1 token/s, bucket of 5; time never advances */
    cr_assert_not_null(rl);
    size_t bytes0 = dn_ratelimit_bytes(rl);
    cr_assert_gt(bytes0, 0);
    cr_assert_lt(bytes0, 16u * 1024 * 1024, "the limiter should hold well under 16 MiB, holds %zu", bytes0);
    /* The active key spends its bucket, then keeps knocking while the flood goes on. */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(dn_ratelimit_take(rl, "a:203.0.113.7", 1, 0, NULL), 0);
    char key[48];
    for (unsigned i = 0; i < 2000000; i++) {
        snprintf(key, sizeof(key), "a:10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        snprintf(key + strlen(key), sizeof(key) - strlen(key), "#%u", i >> 24);
        cr_assert_eq(dn_ratelimit_take(rl, key, 1, 0, NULL), 0, "a new address has a full bucket (%s)", key);
        if (i % 1000 == 0)
            cr_assert_eq(dn_ratelimit_take(rl, "a:203.0.113.7", 1, 0, NULL), DN_ERATELIMIT,
                         "the active key lost its state after %u other addresses", i);
        if (i % 250000 == 0)
            cr_assert_leq(dn_ratelimit_size(rl), cap);
    }
    cr_assert_leq(dn_ratelimit_size(rl), cap);
    cr_assert_geq(dn_ratelimit_size(rl), cap / 2, "the table should be (nearly) full, has %zu", dn_ratelimit_size(rl));
    cr_assert_eq(dn_ratelimit_bytes(rl), bytes0, "the limiter must not grow");
    dn_ratelimit_free(rl);
}

/* A refused key is active: a flood of other keys must not evict it and hand it a full bucket (failed before the
 * refused take touched the LRU). */
Test(ratelimit, refused_key_is_not_evicted_by_a_flood)
{
    char key[32];
    dn_ratelimit_t *big = dn_ratelimit_new(1.0, 1.0, 1024);
    cr_assert_eq(dn_ratelimit_take(big, "victim", 1, 0, NULL), 0);
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "flood-%d", i);
        (void)dn_ratelimit_take(big, key, 1, 0, NULL);
        if (i % 10 == 0)
            cr_assert_eq(dn_ratelimit_take(big, "victim", 1, 0, NULL), DN_ERATELIMIT, "victim reset after %d keys", i);
    }
    dn_ratelimit_free(big);
}
