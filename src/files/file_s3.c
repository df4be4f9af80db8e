/*
 * file_s3.c - blobs in an S3-compatible bucket (path-style URLs).
 *
 * Requests are signed with AWS Signature V4 by libcurl (CURLOPT_AWS_SIGV4);
 * the x-amz-content-sha256 header carries the payload hash (the key itself
 * for a put, since keys are content hashes; the empty-body hash otherwise).
 * Bodies stream through curl callbacks straight from/to the caller's buffer.
 * Transient failures (connection errors, 5xx, 429) are retried with
 * exponential backoff; when they persist the call reports DN_EUNAVAIL and
 * the API answers 503 + Retry-After without recording anything.
 * Credentials come only from the environment and are never logged.
 */
#include "files/files.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

#define S3_ATTEMPTS 4
#define S3_EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct s3_store {
    dn_blobstore_t base;
    char endpoint[256], bucket[128], userpwd[512], sigv4[128];
} s3_store_t;

typedef struct io {
    const char *src; /* upload */
    char *dst;       /* download */
    size_t len, pos;
    char *list;      /* list: response text, malloc'd */
    size_t list_len;
} io_t;

static size_t read_cb(char *buf, size_t size, size_t n, void *arg)
{
    io_t *io = arg;
    size_t want = size * n, left = io->len - io->pos;
    if (want > left)
        want = left;
    memcpy(buf, io->src + io->pos, want);
    io->pos += want;
    return want;
}

static size_t write_cb(char *buf, size_t size, size_t n, void *arg)
{
    io_t *io = arg;
    size_t got = size * n;
    if (io->list != NULL || io->dst == NULL) { /* list responses and error bodies: keep a bounded copy */
        if (io->list_len + got > (8u << 20))
            return 0;
        char *p = realloc(io->list, io->list_len + got + 1);
        if (p == NULL)
            return 0;
        memcpy(p + io->list_len, buf, got);
        io->list = p;
        io->list_len += got;
        p[io->list_len] = '\0';
        return got;
    }
    if (got > io->len - io->pos)
        return 0; /* more than asked for: abort rather than overflow */
    memcpy(io->dst + io->pos, buf, got);
    io->pos += got;
    return got;
}

static int transient(CURLcode cc, long status)
{
    return cc != CURLE_OK || status >= 500 || status == 429;
}

/*
 * One request with retries. method: "PUT", "GET", "HEAD", "DELETE".
 * Returns the final HTTP status (>= 200) or DN_EUNAVAIL.
 */
static long s3_request(s3_store_t *s, const char *method, const char *path_query, const char *payload_sha,
                       io_t *io, const char *range)
{
    long status = 0;
    char url[1024];
    snprintf(url, sizeof url, "%s/%s%s", s->endpoint, s->bucket, path_query);
    for (int attempt = 0; attempt < S3_ATTEMPTS; attempt++) {
        if (attempt > 0) {
            struct timespec ts = {0, (long)(100L << (2 * (attempt - 1))) * 1000000L}; /* 100, 400, 1600 ms */
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec = ts.tv_nsec / 1000000000L;
                ts.tv_nsec %= 1000000000L;
            }
            nanosleep(&ts, NULL);
        }
        CURL *c = curl_easy_init();
        if (c == NULL)
            return DN_EUNAVAIL;
        struct curl_slist *h = NULL;
        char hdr[128];
        snprintf(hdr, sizeof hdr, "x-amz-content-sha256: %s", payload_sha);
        h = curl_slist_append(h, hdr);
        if (range != NULL)
            h = curl_slist_append(h, range);
        io->pos = 0;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
        curl_easy_setopt(c, CURLOPT_USERPWD, s->userpwd);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 120000L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, io);
        if (strcmp(method, "PUT") == 0) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
            curl_easy_setopt(c, CURLOPT_READDATA, io);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)io->len);
        } else if (strcmp(method, "HEAD") == 0) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (strcmp(method, "DELETE") == 0) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
        }
        CURLcode cc = curl_easy_perform(c);
        status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        if (!transient(cc, status))
            return status;
        if (io->dst == NULL && io->list != NULL) { /* drop a partial error body before retrying */
            free(io->list);
            io->list = NULL;
            io->list_len = 0;
        }
    }
    return DN_EUNAVAIL;
}

static int s3_put(dn_blobstore_t *bs, const char *key, const void *data, size_t len)
{
    if (!dn_blob_key_valid(key))
        return DN_EINVAL;
    char path[80];
    snprintf(path, sizeof path, "/%s", key);
    io_t io = {.src = data, .len = len};
    long st = s3_request((s3_store_t *)bs, "PUT", path, key, &io, NULL);
    free(io.list);
    if (st < 0)
        return (int)st;
    return st >= 200 && st < 300 ? 0 : DN_EUNAVAIL;
}

static int s3_get(dn_blobstore_t *bs, const char *key, uint64_t offset, size_t len, void *buf)
{
    if (!dn_blob_key_valid(key))
        return DN_EINVAL;
    if (len == 0)
        return 0;
    char path[80], range[96];
    snprintf(path, sizeof path, "/%s", key);
    snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)offset,
             (unsigned long long)(offset + len - 1));
    io_t io = {.dst = buf, .len = len};
    long st = s3_request((s3_store_t *)bs, "GET", path, S3_EMPTY_SHA, &io, range);
    if (st < 0)
        return (int)st;
    if (st == 404)
        return DN_ENOTFOUND;
    if ((st != 200 && st != 206) || io.pos != len)
        return DN_EUNAVAIL;
    return 0;
}

static int s3_del(dn_blobstore_t *bs, const char *key)
{
    if (!dn_blob_key_valid(key))
        return DN_EINVAL;
    char path[80];
    snprintf(path, sizeof path, "/%s", key);
    io_t io = {0};
    long st = s3_request((s3_store_t *)bs, "DELETE", path, S3_EMPTY_SHA, &io, NULL);
    free(io.list);
    if (st < 0)
        return (int)st;
    return (st >= 200 && st < 300) || st == 404 ? 0 : DN_EUNAVAIL;
}

static int s3_exists(dn_blobstore_t *bs, const char *key)
{
    if (!dn_blob_key_valid(key))
        return DN_EINVAL;
    char path[80];
    snprintf(path, sizeof path, "/%s", key);
    io_t io = {0};
    long st = s3_request((s3_store_t *)bs, "HEAD", path, S3_EMPTY_SHA, &io, NULL);
    free(io.list);
    if (st < 0)
        return (int)st;
    if (st == 404)
        return 0;
    return st >= 200 && st < 300 ? 1 : DN_EUNAVAIL;
}

/* ListObjectsV2 pages; keys and LastModified are picked out of the XML by their tags. */
static int s3_list(dn_blobstore_t *bs, dn_blob_visit_fn fn, void *arg)
{
    char token[1024] = "";
    for (int page = 0; page < 100000; page++) {
        char pq[1200];
        if (token[0]) {
            char *esc = curl_easy_escape(NULL, token, 0);
            snprintf(pq, sizeof pq, "?continuation-token=%s&list-type=2", esc ? esc : "");
            curl_free(esc);
        } else {
            snprintf(pq, sizeof pq, "?list-type=2");
        }
        io_t io = {0};
        long st = s3_request((s3_store_t *)bs, "GET", pq, S3_EMPTY_SHA, &io, NULL);
        if (st < 0 || st != 200 || io.list == NULL) {
            free(io.list);
            return st < 0 ? (int)st : DN_EUNAVAIL;
        }
        time_t now = time(NULL);
        int stop = 0;
        for (char *p = io.list; !stop && (p = strstr(p, "<Key>")) != NULL;) {
            p += 5;
            char *e = strstr(p, "</Key>");
            if (e == NULL || e - p != 64)
                continue;
            char key[65];
            memcpy(key, p, 64);
            key[64] = '\0';
            int64_t age = 0;
            char *lm = strstr(e, "<LastModified>");
            struct tm tm = {0};
            if (lm && strptime(lm + 14, "%Y-%m-%dT%H:%M:%S", &tm) != NULL)
                age = (int64_t)(now - timegm(&tm));
            if (dn_blob_key_valid(key))
                stop = fn(key, age, arg);
        }
        char *t = strstr(io.list, "<NextContinuationToken>");
        int more = strstr(io.list, "<IsTruncated>true</IsTruncated>") != NULL && t != NULL;
        if (more) {
            t += strlen("<NextContinuationToken>");
            char *e = strstr(t, "</NextContinuationToken>");
            size_t n = e ? (size_t)(e - t) : 0;
            if (n == 0 || n >= sizeof token)
                more = 0;
            else {
                memcpy(token, t, n);
                token[n] = '\0';
            }
        }
        free(io.list);
        if (stop || !more)
            return 0;
    }
    return 0;
}

static int s3_clean_tmp(dn_blobstore_t *bs)
{
    (void)bs; /* an interrupted PUT never creates an object in S3: nothing to clean */
    return 0;
}

static void s3_close(dn_blobstore_t *bs)
{
    if (bs != NULL) {
        s3_store_t *s = (s3_store_t *)bs;
        memset(s->userpwd, 0, sizeof s->userpwd);
    }
    free(bs);
}

static const dn_blobstore_ops_t s3_ops = {s3_put, s3_get, s3_del, s3_exists, s3_list, s3_clean_tmp, s3_close};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

dn_blobstore_t *dn_blob_s3_open(const char *endpoint, const char *bucket, const char *region, char *err,
                                size_t errlen)
{
    const char *ak = getenv("DNEVNIK_S3_ACCESS_KEY"), *sk = getenv("DNEVNIK_S3_SECRET_KEY");
    if (!endpoint[0] || !bucket[0]) {
        snprintf(err, errlen, "--files-backend s3 needs --s3-endpoint and --s3-bucket");
        return NULL;
    }
    if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
        snprintf(err, errlen, "--s3-endpoint must start with http:// or https://");
        return NULL;
    }
    if (ak == NULL || sk == NULL || !ak[0] || !sk[0]) {
        snprintf(err, errlen, "--files-backend s3 needs DNEVNIK_S3_ACCESS_KEY and DNEVNIK_S3_SECRET_KEY in the environment");
        return NULL;
    }
    s3_store_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    snprintf(s->endpoint, sizeof s->endpoint, "%s", endpoint);
    size_t n = strlen(s->endpoint);
    while (n > 0 && s->endpoint[n - 1] == '/')
        s->endpoint[--n] = '\0';
    snprintf(s->bucket, sizeof s->bucket, "%s", bucket);
    if (snprintf(s->userpwd, sizeof s->userpwd, "%s:%s", ak, sk) >= (int)sizeof s->userpwd) {
        snprintf(err, errlen, "S3 credentials are too long");
        free(s);
        return NULL;
    }
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", region);
    s->base.ops = &s3_ops;
    s->base.kind = "s3";
    return &s->base;
}
