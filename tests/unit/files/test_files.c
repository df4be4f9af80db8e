/*
 * test_files.c - the file rules and the local blob store: type detection by
 * magic bytes, names and Content-Disposition, the durable write helper, the
 * local backend's operations, and the store-backed rules (quota inside the
 * insert transaction, purge keeping records, the orphan sweep) on SQLite and,
 * when DN_TEST_PG_URL is set, PostgreSQL.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "domain/files.h"
#include "files/files.h"
#include "store/db.h"
#include "store/migrate.h"

static const char *FIXTURE = "INSERT INTO users (id, login, password_hash, last_name, first_name, created_at) VALUES "
                             " (1, 'a', 'x', 'А', 'А', 0), (2, 'b', 'x', 'Б', 'Б', 0);";
#define FX_TAG "files"
#include "../domain/store_fixture.h"

#define T(s) dn_files_detect_type(s, sizeof(s) - 1)

Test(files_type, magic_bytes_decide)
{
    cr_assert_str_eq(T("%PDF-1.7\n..."), "application/pdf");
    cr_assert_str_eq(T("\x89PNG\r\n\x1a\n\0\0"), "image/png");
    cr_assert_str_eq(T("\xff\xd8\xff\xe0\0\x10JFIF"), "image/jpeg");
    cr_assert_str_eq(T("GIF89a\1\0"), "image/gif");
    cr_assert_str_eq(T("RIFF\0\0\0\0WEBPVP8 "), "image/webp");
    cr_assert_str_eq(T("PK\3\4....[Content_Types].xml....word/document.xml"),
                     "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    cr_assert_str_eq(T("PK\3\4....[Content_Types].xml....xl/workbook.xml"),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    cr_assert_str_eq(T("PK\3\4....[Content_Types].xml....ppt/presentation.xml"),
                     "application/vnd.openxmlformats-officedocument.presentationml.presentation");
    cr_assert_str_eq(T("PK\3\4....just a zip"), "application/zip");
    cr_assert_str_eq(T("PK\5\6\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), "application/zip");
    /* ODT: "mimetype" is the first entry (name at 30, content at 38) */
    char odt[200] = "PK\3\4";
    memcpy(odt + 30, "mimetype", 8);
    memcpy(odt + 38, "application/vnd.oasis.opendocument.text", 39);
    cr_assert_str_eq(dn_files_detect_type(odt, sizeof odt), "application/vnd.oasis.opendocument.text");
    cr_assert_str_eq(T("Привет, мир!\r\n\tстрока"), "text/plain; charset=utf-8");
    cr_assert_str_eq(T("\xef\xbb\xbf" "BOM text"), "text/plain; charset=utf-8");
}

Test(files_type, refused)
{
    cr_assert_null(dn_files_detect_type("", 0));
    cr_assert_null(T("MZ\x90\0\3\0\0\0"));          /* a Windows executable named .pdf */
    cr_assert_null(T("\x7f" "ELF\2\1\1"));          /* ELF */
    cr_assert_null(T("text with a NUL\0inside"));
    cr_assert_null(T("\xc0\x80 overlong"));         /* overlong UTF-8 */
    cr_assert_null(T("\xed\xa0\x80 surrogate"));    /* UTF-16 surrogate in UTF-8 */
    cr_assert_null(T("truncated \xd0"));            /* sequence cut at the end */
    cr_assert_null(T("\x1b[31m escape"));
    cr_assert_str_eq(T("%PDF"), "text/plain; charset=utf-8", "too short for the PDF magic: just text");
}

Test(files_names, valid_names)
{
    cr_assert(dn_files_name_valid("Ответ №1.pdf"));
    cr_assert(dn_files_name_valid("a"));
    cr_assert(!dn_files_name_valid(""));
    cr_assert(!dn_files_name_valid("a/b.pdf"));
    cr_assert(!dn_files_name_valid("a\\b.pdf"));
    cr_assert(!dn_files_name_valid(".."));
    cr_assert(!dn_files_name_valid("a\nb"));
    cr_assert(!dn_files_name_valid("bad \xff utf8"));
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = '\0';
    cr_assert(!dn_files_name_valid(longname));
    longname[255] = '\0';
    cr_assert(dn_files_name_valid(longname));
}

Test(files_names, content_disposition_keeps_cyrillic)
{
    char out[512];
    cr_assert_gt(dn_files_disposition("Ответ.pdf", out, sizeof out), 0);
    cr_assert_str_eq(out, "attachment; filename=\"_____.pdf\"; "
                          "filename*=UTF-8''%D0%9E%D1%82%D0%B2%D0%B5%D1%82.pdf");
    cr_assert_gt(dn_files_disposition("a \"b\"\\c;.txt", out, sizeof out), 0);
    cr_assert_str_eq(out, "attachment; filename=\"a _b__c;.txt\"; filename*=UTF-8''a%20%22b%22%5Cc%3B.txt");
    cr_assert_eq(dn_files_disposition("Ответ.pdf", out, 20), -1, "too small a buffer is refused, not truncated");
}

Test(files_misc, sha_and_day)
{
    char hex[65];
    dn_files_sha256_hex("", 0, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_eq(dn_files_day_start(86400000LL * 3 + 5), 86400000LL * 3);
    cr_assert_eq(dn_files_day_start(86400000LL * 3), 86400000LL * 3);
    cr_assert(dn_blob_key_valid(hex));
    cr_assert(!dn_blob_key_valid("../etc/passwd"));
    hex[3] = 'A';
    cr_assert(!dn_blob_key_valid(hex), "uppercase hex is not a key");
}

static char dirbuf[128];
static const char *tmpdir_new(void)
{
    snprintf(dirbuf, sizeof dirbuf, "/tmp/dn-test-files-XXXXXX");
    cr_assert_not_null(mkdtemp(dirbuf));
    return dirbuf;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void rm_rf(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(files_local, durable_write_leaves_no_temp_file)
{
    const char *root = tmpdir_new();
    char tmp[200], dir[200], path[300];
    snprintf(tmp, sizeof tmp, "%s/tmp", root);
    snprintf(dir, sizeof dir, "%s/ab", root);
    cr_assert_eq(dn_blob_local_write_durable(tmp, dir, "name", "hello", 5), 0);
    snprintf(path, sizeof path, "%s/name", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char buf[16] = "";
    cr_assert_eq(fread(buf, 1, sizeof buf, f), 5);
    fclose(f);
    cr_assert_str_eq(buf, "hello");
    cr_assert_eq(count_entries(tmp), 0, "the temp file was renamed into place");
    /* overwriting is atomic and leaves the new bytes */
    cr_assert_eq(dn_blob_local_write_durable(tmp, dir, "name", "bye", 3), 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 3);
    rm_rf(root);
}

Test(files_local, put_get_range_exists_delete_list_clean)
{
    const char *root = tmpdir_new();
    char err[256];
    dn_blobstore_t *bs = dn_blob_local_open(root, err, sizeof err);
    cr_assert_not_null(bs, "%s", err);
    char key[65];
    dn_files_sha256_hex("0123456789", 10, key);
    cr_assert_eq(bs->ops->exists(bs, key), 0);
    cr_assert_eq(bs->ops->put(bs, key, "0123456789", 10), 0);
    cr_assert_eq(bs->ops->exists(bs, key), 1);
    char buf[8] = "";
    cr_assert_eq(bs->ops->get(bs, key, 3, 4, buf), 0);
    cr_assert_eq(memcmp(buf, "3456", 4), 0);
    cr_assert_eq(bs->ops->get(bs, key, 8, 4, buf), DN_EIO, "reading past the end is an error, not short data");
    cr_assert_eq(bs->ops->put(bs, "../../x", "x", 1), DN_EINVAL);
    /* a leftover of an interrupted put */
    char tmpf[300];
    snprintf(tmpf, sizeof tmpf, "%s/tmp/put.leftover", root);
    FILE *f = fopen(tmpf, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(bs->ops->clean_tmp(bs), 1);
    cr_assert_eq(access(tmpf, F_OK), -1);
    cr_assert_eq(bs->ops->del(bs, key), 0);
    cr_assert_eq(bs->ops->exists(bs, key), 0);
    cr_assert_eq(bs->ops->del(bs, key), 0, "deleting a missing blob is fine");
    dn_blobstore_close(bs);
    rm_rf(root);
}

static void scenario_rules(dn_db_t *db)
{
    const char *root = tmpdir_new();
    char err[256];
    dn_blobstore_t *bs = dn_blob_local_open(root, err, sizeof err);
    cr_assert_not_null(bs, "%s", err);
    char k1[65], k2[65], k3[65];
    dn_files_sha256_hex("one", 3, k1);
    dn_files_sha256_hex("two", 3, k2);
    dn_files_sha256_hex("orphan", 6, k3);
    cr_assert_eq(bs->ops->put(bs, k1, "one", 3), 0);
    cr_assert_eq(bs->ops->put(bs, k2, "two", 3), 0);
    cr_assert_eq(bs->ops->put(bs, k3, "orphan", 6), 0); /* a kill before the row was committed */
    int64_t a = 0, b = 0, c = 0, used = 0;
    cr_assert_eq(dn_files_record(db, 1, k1, 3, "text/plain; charset=utf-8", "one.txt", 10, &a), 0);
    cr_assert_eq(dn_files_record(db, 1, k1, 3, "text/plain; charset=utf-8", "same.txt", 10, &c), 0);
    cr_assert_eq(dn_files_record(db, 1, k2, 5, "text/plain; charset=utf-8", "x.txt", 10, &b), DN_ERATELIMIT,
                 "3 + 3 + 5 > 10");
    cr_assert_eq(dn_files_uploaded_since(db, 1, 0, &used), 0);
    cr_assert_eq(used, 6, "the refused upload recorded nothing");
    cr_assert_eq(dn_files_record(db, 2, k2, 3, "text/plain; charset=utf-8", "two.txt", 10, &b), 0, "quota is per user");

    /* refs: integers must be the caller's live files; strings pass */
    json_t *refs = json_pack("[I, s]", (json_int_t)a, "legacy");
    int64_t bad = 0;
    cr_assert_eq(dn_files_check_refs(db, 1, refs, &bad), 0);
    cr_assert_eq(dn_files_check_refs(db, 2, refs, &bad), DN_EVALIDATION);
    cr_assert_eq(bad, a);
    json_decref(refs);

    /* the sweep removes only the blob no row names */
    int removed = 0;
    cr_assert_eq(dn_files_clean_orphans(db, bs, 0, &removed), 0);
    cr_assert_eq(removed, 1);
    cr_assert_eq(bs->ops->exists(bs, k3), 0);
    cr_assert_eq(bs->ops->exists(bs, k1), 1);

    /* purge everything older than "tomorrow": rows stay, marked; blob k1 goes once both rows are purged */
    int count = 0;
    cr_assert_eq(dn_files_purge(db, bs, 0, 1, NULL, &count), 0);
    cr_assert_eq(count, 0, "nothing is older than the epoch");
    cr_assert_eq(dn_files_purge(db, bs, INT64_MAX / 2, 1, NULL, &count), 0);
    cr_assert_eq(count, 3);
    cr_assert_eq(bs->ops->exists(bs, k1), 1, "a dry run deletes nothing");
    cr_assert_eq(dn_files_purge(db, bs, INT64_MAX / 2, 0, NULL, &count), 0);
    cr_assert_eq(count, 3);
    cr_assert_eq(bs->ops->exists(bs, k1), 0);
    cr_assert_eq(bs->ops->exists(bs, k2), 0);
    dn_file_t f;
    cr_assert_eq(dn_files_load(db, a, &f), 0);
    cr_assert_neq(f.purged_at, 0);
    cr_assert_str_eq(f.name, "one.txt");
    cr_assert_eq(dn_files_load(db, 999, &f), DN_ENOTFOUND);
    dn_blobstore_close(bs);
    rm_rf(root);
}

Test(files_store, rules_sqlite)
{
    dn_db_t *db = open_sqlite();
    scenario_rules(db);
    close_db(db);
}

Test(files_store, rules_pg)
{
    dn_db_t *db = open_pg();
    if (db == NULL)
        cr_skip_test("DN_TEST_PG_URL not set");
    scenario_rules(db);
    close_db(db);
}
