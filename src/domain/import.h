/*
 * import.h - CSV import of a school's classes, people and assignments.
 *
 * Two layers: dn_csv_parse() is a pure RFC 4180-style parser over a buffer
 * (no store, no globals; unit-tested and fuzzable), and dn_import_run()
 * validates every row against the file and the store, then writes all of it
 * in one transaction or nothing. The file format is documented at the top of
 * import.c.
 */
#ifndef DN_DOMAIN_IMPORT_H
#define DN_DOMAIN_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "store/db.h"

#define DN_CSV_MAX_ROWS 20000
#define DN_CSV_MAX_FIELDS 64

typedef struct dn_csv_row {
    int line;    /* physical line (1-based) where the record starts */
    int nfields;
    char **fields; /* NUL-terminated, point into the csv's text */
} dn_csv_row_t;

typedef struct dn_csv {
    char sep;          /* ',' or ';' as detected from the header line */
    int nrows;         /* including the header row */
    dn_csv_row_t *rows;
    char *text;        /* owned storage of all fields */
    char **fieldv;     /* owned array of all field pointers */
} dn_csv_t;

/**
 * Parse UTF-8 CSV in buf[len]: optional BOM, CRLF/LF/CR line ends, fields
 * quoted with '"' (may hold separators, quotes as "" and newlines), the
 * separator ',' or ';' chosen by counting them in the first line. Blank
 * lines are skipped. On error returns DN_EVALIDATION with *err_line and a
 * message in err; the csv is then empty. Free with dn_csv_free.
 */
int dn_csv_parse(const char *buf, size_t len, dn_csv_t *csv, int *err_line, char *err, size_t errlen);
void dn_csv_free(dn_csv_t *csv);

/**
 * Import a CSV file into school_id. Validates everything first; on any bad
 * row returns DN_EVALIDATION with {line, field, message} objects appended
 * to errors and writes nothing. dry_run: validate and return the preview
 * without writing. *out: {dry_run, counts, rows, users} where users carry
 * one-time invite codes (not in a dry run).
 */
int dn_import_run(dn_db_t *db, int64_t school_id, const char *buf, size_t len, int dry_run, json_t *errors,
                  json_t **out);

#endif
