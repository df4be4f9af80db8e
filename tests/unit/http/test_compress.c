/* test_compress.c - the coding chosen from Accept-Encoding, and a gzip body
 * that inflates back to the input (brotli decoding is in tests/api/hotread). */
#include <criterion/criterion.h>
#include <string.h>
#include <zlib.h>

#include "http/compress.h"

Test(compress, chooses_br_then_gzip_and_honours_q0)
{
    cr_assert_eq(dn_compress_choose(NULL), DN_CODING_IDENTITY);
    cr_assert_eq(dn_compress_choose(""), DN_CODING_IDENTITY);
    cr_assert_eq(dn_compress_choose("identity"), DN_CODING_IDENTITY);
    cr_assert_eq(dn_compress_choose("gzip"), DN_CODING_GZIP);
    cr_assert_eq(dn_compress_choose("gzip, deflate, br"), DN_CODING_BR);
    cr_assert_eq(dn_compress_choose("br;q=0, gzip"), DN_CODING_GZIP);
    cr_assert_eq(dn_compress_choose("br;q=0, gzip;q=0"), DN_CODING_IDENTITY);
    cr_assert_str_eq(dn_compress_name(DN_CODING_BR), "br");
    cr_assert_str_eq(dn_compress_name(DN_CODING_GZIP), "gzip");
}

Test(compress, gzip_round_trip_twice_on_one_thread)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    char in[8192];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = "{\"marks\":[5,4,3]}"[i % 17];
    for (int round = 0; round < 2; round++) { /* the second reuses the thread's stream */
        char *z;
        size_t zlen;
        cr_assert_eq(dn_compress(&pool, DN_CODING_GZIP, in, sizeof(in), &z, &zlen), 0);
        cr_assert_lt(zlen, sizeof(in) / 4);
        cr_assert_eq((unsigned char)z[0], 0x1f); /* gzip magic */
        cr_assert_eq((unsigned char)z[1], 0x8b);
        char out[sizeof(in)];
        z_stream zs = {0};
        cr_assert_eq(inflateInit2(&zs, 15 + 16), Z_OK);
        zs.next_in = (Bytef *)z;
        zs.avail_in = (uInt)zlen;
        zs.next_out = (Bytef *)out;
        zs.avail_out = sizeof(out);
        cr_assert_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
        cr_assert_eq(zs.total_out, sizeof(in));
        inflateEnd(&zs);
        cr_assert_eq(memcmp(out, in, sizeof(in)), 0);
    }
    char *z;
    size_t zlen;
    cr_assert_eq(dn_compress(&pool, DN_CODING_BR, in, sizeof(in), &z, &zlen), 0);
    cr_assert_lt(zlen, sizeof(in) / 4);
    cr_assert_neq(dn_compress(&pool, DN_CODING_IDENTITY, in, sizeof(in), &z, &zlen), 0);
    h2o_mem_clear_pool(&pool);
}
