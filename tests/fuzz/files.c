/*
 * files.c - libFuzzer harness: what an upload and a download parse
 * (src/domain/files.c, src/api/files_api.c): the type by magic bytes, the
 * ?name= file name rules, the Content-Disposition we build from a stored
 * name (RFC 6266 / 5987), and the Range header of a download.
 *
 * Byte 0 picks: 0 the rest is file content; 1 the rest is a file name;
 * 2 the rest is "size\nRange-header". Invariants: a detected type is one of
 * the allowed list; a Content-Disposition is printable ASCII with the name
 * percent-decoding back to itself; an accepted range lies inside the file.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common.h"
#include "domain/files.h"

static const char *const types[] = {
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation", "application/zip",
    "text/plain; charset=utf-8"};

static void content(const uint8_t *d, size_t n)
{
    unsigned char *copy = malloc(n ? n : 1); /* exactly n bytes: ASan sees reads past them */
    memcpy(copy, d, n);
    const char *t = dn_files_detect_type(copy, n);
    if (t != NULL) {
        size_t i = 0;
        while (i < sizeof types / sizeof types[0] && strcmp(types[i], t) != 0)
            i++;
        if (i == sizeof types / sizeof types[0])
            abort();
    }
    free(copy);
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c - 'A' + 10;
}

static void name(const char *s)
{
    if (!dn_files_name_valid(s))
        return;
    char out[2048];
    int n = dn_files_disposition(s, out, sizeof out);
    if (n < 0)
        abort(); /* 255 bytes always fit: 22 + 255 + 20 + 3 * 255 */
    if ((size_t)n != strlen(out))
        abort();
    for (int i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
            abort();
    /* the quoted fallback holds no quote: the first '"' after filename=" closes it */
    const char *fb = out + strlen("attachment; filename=\"");
    const char *q = strchr(fb, '"');
    if (strncmp(out, "attachment; filename=\"", strlen("attachment; filename=\"")) != 0 || q == NULL ||
        strncmp(q, "\"; filename*=UTF-8''", strlen("\"; filename*=UTF-8''")) != 0)
        abort();
    const char *star = q + 3;
    char dec[300];
    size_t o = 0;
    for (const char *p = star + strlen("filename*=UTF-8''"); *p; p++) {
        if (o >= sizeof dec - 1)
            abort();
        if (*p == '%') {
            dec[o++] = (char)(hexv(p[1]) * 16 + hexv(p[2]));
            p += 2;
        } else {
            dec[o++] = *p;
        }
    }
    dec[o] = '\0';
    if (strcmp(dec, s) != 0)
        abort();
    char small[32];
    if (dn_files_disposition(s, small, sizeof small) >= 0 && strlen(small) >= sizeof small)
        abort();
}

static void range(char *s)
{
    char *nl = strchr(s, '\n');
    if (nl == NULL)
        return;
    *nl = '\0';
    int64_t size = strtoll(s, NULL, 10), start = -7, end = -7;
    if (size < 0)
        return;
    int r = dn_api_parse_range(nl + 1, size, &start, &end);
    if (r == 1 && (start < 0 || start > end || end >= size)) {
        fprintf(stderr, "files: range [%" PRId64 ", %" PRId64 "] of %" PRId64 " bytes\n", start, end, size);
        abort();
    }
    if (r != 1 && (start != -7 || end != -7))
        abort(); /* a refused range leaves the outputs alone */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 3 == 0) {
        content(data + 1, size - 1);
        return 0;
    }
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] % 3 == 1)
        name(s);
    else
        range(s);
    free(s);
    return 0;
}
