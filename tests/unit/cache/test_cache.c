/* test_cache.c - the hot-read cache: hits, exact invalidation by scope and
 * globally, a put read under an old generation never served, remote
 * invalidations not re-broadcast, TTL, and the write-route allowlist. */
#include <criterion/criterion.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "cache/cache.h"

Test(cache, put_get_and_miss)
{
    dn_cache_t *c = dn_cache_new(128, 0);
    int64_t v = 42, out = 0;
    cr_assert_eq(dn_cache_get(c, "school:1", "term", &out, sizeof(out)), -1);
    dn_cache_put(c, "school:1", "term", dn_cache_gen(c, "school:1"), &v, sizeof(v));
    cr_assert_eq(dn_cache_get(c, "school:1", "term", &out, sizeof(out)), (int)sizeof(v));
    cr_assert_eq(out, 42);
    cr_assert_eq(dn_cache_get(c, "school:2", "term", &out, sizeof(out)), -1, "another scope, another entry");
    char small[2];
    cr_assert_eq(dn_cache_get(c, "school:1", "term", small, sizeof(small)), -1, "too small a buffer misses");
    dn_cache_stats_t st;
    dn_cache_stats(c, &st);
    cr_assert_eq(st.hits, 1);
    cr_assert_eq(st.misses, 3);
    cr_assert_eq(st.puts, 1);
    dn_cache_free(c);
}

Test(cache, invalidating_a_scope_drops_only_that_scope)
{
    dn_cache_t *c = dn_cache_new(128, 0);
    int v = 1, out;
    dn_cache_put(c, "school:1", "a", dn_cache_gen(c, "school:1"), &v, sizeof(v));
    dn_cache_put(c, "school:2", "a", dn_cache_gen(c, "school:2"), &v, sizeof(v));
    dn_cache_invalidate(c, "school:1");
    cr_assert_eq(dn_cache_get(c, "school:1", "a", &out, sizeof(out)), -1);
    cr_assert_eq(dn_cache_get(c, "school:2", "a", &out, sizeof(out)), (int)sizeof(v));
    dn_cache_invalidate(c, "*");
    cr_assert_eq(dn_cache_get(c, "school:2", "a", &out, sizeof(out)), -1);
    dn_cache_free(c);
}

Test(cache, a_value_read_before_an_invalidation_is_never_served)
{
    dn_cache_t *c = dn_cache_new(128, 0);
    int v = 1, out;
    dn_cache_gen_t g = dn_cache_gen(c, "class:7"); /* reader takes the stamp, reads the store ... */
    dn_cache_invalidate(c, "class:7");             /* ... a write commits and invalidates ... */
    dn_cache_put(c, "class:7", "k", g, &v, sizeof(v)); /* ... the reader stores what it read */
    cr_assert_eq(dn_cache_get(c, "class:7", "k", &out, sizeof(out)), -1);
    g = dn_cache_gen(c, "*");
    dn_cache_invalidate(c, "*");
    dn_cache_put(c, "class:7", "k", g, &v, sizeof(v));
    cr_assert_eq(dn_cache_get(c, "class:7", "k", &out, sizeof(out)), -1);
    dn_cache_free(c);
}

static char seen[8][32];
static int nseen;
static void record(const char *scope, void *arg)
{
    cr_assert_eq(arg, (void *)seen);
    snprintf(seen[nseen++], sizeof(seen[0]), "%s", scope);
}

Test(cache, local_invalidations_are_broadcast_remote_ones_are_not)
{
    dn_cache_t *c = dn_cache_new(16, 0);
    int v = 5, out;
    nseen = 0;
    dn_cache_set_broadcaster(c, record, seen);
    dn_cache_invalidate(c, "school:3");
    cr_assert_eq(nseen, 1);
    cr_assert_str_eq(seen[0], "school:3");
    dn_cache_put(c, "school:3", "x", dn_cache_gen(c, "school:3"), &v, sizeof(v));
    dn_cache_apply_remote(c, "school:3");
    cr_assert_eq(nseen, 1, "a remote invalidation is not sent back out");
    cr_assert_eq(dn_cache_get(c, "school:3", "x", &out, sizeof(out)), -1, "but it drops the entry");
    dn_cache_set_broadcaster(c, NULL, NULL);
    dn_cache_invalidate(c, "*");
    cr_assert_eq(nseen, 1);
    dn_cache_free(c);
}

Test(cache, entries_expire_after_the_ttl)
{
    dn_cache_t *c = dn_cache_new(16, 20);
    int v = 5, out;
    dn_cache_put(c, "s", "k", dn_cache_gen(c, "s"), &v, sizeof(v));
    cr_assert_eq(dn_cache_get(c, "s", "k", &out, sizeof(out)), (int)sizeof(v));
    usleep(40 * 1000);
    cr_assert_eq(dn_cache_get(c, "s", "k", &out, sizeof(out)), -1);
    dn_cache_free(c);
}

Test(cache, collisions_replace_and_oversized_values_are_refused)
{
    dn_cache_t *c = dn_cache_new(1, 0); /* every key shares the one slot */
    int a = 1, b = 2, out;
    dn_cache_put(c, "s", "a", dn_cache_gen(c, "s"), &a, sizeof(a));
    dn_cache_put(c, "s", "b", dn_cache_gen(c, "s"), &b, sizeof(b));
    cr_assert_eq(dn_cache_get(c, "s", "a", &out, sizeof(out)), -1);
    cr_assert_eq(dn_cache_get(c, "s", "b", &out, sizeof(out)), (int)sizeof(b));
    cr_assert_eq(out, 2);
    char big[DN_CACHE_VALUE_MAX + 1] = {0};
    dn_cache_put(c, "s", "big", dn_cache_gen(c, "s"), big, sizeof(big));
    cr_assert_eq(dn_cache_get(c, "s", "big", big, sizeof(big)), -1);
    cr_assert_eq(dn_cache_get(NULL, "s", "b", &out, sizeof(out)), -1);
    dn_cache_invalidate(NULL, "*"); /* no-ops */
    dn_cache_put(NULL, "s", "b", dn_cache_gen(NULL, "s"), &b, sizeof(b));
    dn_cache_free(c);
}

Test(cache, only_listed_write_routes_keep_the_cache)
{
    cr_assert(dn_cache_write_keeps("/api/v1/lessons/{lesson_id}/marks"));
    cr_assert(dn_cache_write_keeps("/api/v1/works/{work_id}/comments"));
    cr_assert_not(dn_cache_write_keeps("/api/v1/schools/{school_id}/terms"));
    cr_assert_not(dn_cache_write_keeps(NULL));
    dn_cache_t *c = dn_cache_new(16, 0);
    int v = 1, out;
    dn_cache_put(c, "s", "k", dn_cache_gen(c, "s"), &v, sizeof(v));
    dn_cache_after_write(c, "/api/v1/lessons/{lesson_id}/attendance");
    cr_assert_eq(dn_cache_get(c, "s", "k", &out, sizeof(out)), (int)sizeof(v));
    dn_cache_after_write(c, "/api/v1/classes/{class_id}");
    cr_assert_eq(dn_cache_get(c, "s", "k", &out, sizeof(out)), -1);
    dn_cache_free(c);
}
