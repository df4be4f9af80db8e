/*
 * csv_import.c - libFuzzer harness: the CSV import (src/domain/import.c).
 *
 * Every input goes through dn_csv_parse (checked: on success every row has
 * 1..DN_CSV_MAX_FIELDS fields, each a NUL-terminated string inside the
 * parser's own buffer, rows in line order) and then through dn_import_run
 * as a dry run against the fixture school, which plans every row against
 * the store without writing (writes are exercised by the api_json harness).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "domain/import.h"
#include "fuzz_app.h"

static dn_app_t app;
static dn_db_t *db;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_app_init(&app, 0);
    db = fuzz_db_create();
    return 0;
}

static void check_csv(const dn_csv_t *csv, size_t len)
{
    int prev_line = 0;
    for (int i = 0; i < csv->nrows; i++) {
        const dn_csv_row_t *r = &csv->rows[i];
        if (r->nfields < 1 || r->nfields > DN_CSV_MAX_FIELDS || r->line <= prev_line)
            abort();
        prev_line = r->line;
        for (int f = 0; f < r->nfields; f++) {
            const char *s = r->fields[f];
            if (s < csv->text || s >= csv->text + len * 2 + 2)
                abort();
            (void)strlen(s); /* ASan: terminated inside the buffer */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exactly the input's bytes: ASan sees any read past them */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    dn_csv_t csv;
    int line = 0;
    char msg[160];
    int rc = dn_csv_parse(buf, size, &csv, &line, msg, sizeof msg);
    if (rc == 0) {
        check_csv(&csv, size);
        dn_csv_free(&csv);
    } else if (rc != DN_EVALIDATION && rc != DN_ENOMEM) {
        abort();
    } else if (line < 1 && rc == DN_EVALIDATION) {
        abort(); /* a rejected file always names its line */
    }
    json_t *errors = json_array(), *out = NULL;
    rc = dn_import_run(db, 1, buf, size, 1, errors, &out);
    if (rc == 0 && (out == NULL || json_array_size(errors) != 0))
        abort();
    if (rc == DN_EVALIDATION && json_array_size(errors) == 0)
        abort(); /* a refusal says why */
    json_decref(out);
    json_decref(errors);
    free(buf);
    return 0;
}
