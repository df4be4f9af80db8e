/*
 * file_local.c - blobs as files on the local disk (the embedded default).
 *
 * Layout: DIR/ab/abcdef... (the key's first two hex digits fan out the
 * directory) and DIR/tmp/ for writes in progress. Durability order of a put:
 * write a temp file in DIR/tmp, fsync it, rename it into place, fsync the
 * target directory; only then does put() return, so the caller's database
 * row never points at bytes a crash could lose. A crash mid-put leaves at
 * most a temp file, removed by clean_tmp() at the next start.
 */
#include "files/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

typedef struct local_store {
    dn_blobstore_t base;
    char dir[512];
} local_store_t;

int dn_blob_key_valid(const char *key)
{
    size_t n = 0;
    for (; key[n]; n++)
        if (!((key[n] >= '0' && key[n] <= '9') || (key[n] >= 'a' && key[n] <= 'f')))
            return 0;
    return n == 64;
}

static int mkdir_p(const char *path)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return DN_EINVAL;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return DN_EIO;
        *p = '/';
    }
    return mkdir(buf, 0750) == 0 || errno == EEXIST ? 0 : DN_EIO;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return DN_EIO;
    int rc = fsync(fd) == 0 ? 0 : DN_EIO;
    close(fd);
    return rc;
}

int dn_blob_local_write_durable(const char *tmpdir, const char *dir, const char *name, const void *data, size_t len)
{
    char tmp[1100], dst[1100];
    if (mkdir_p(tmpdir) != 0 || mkdir_p(dir) != 0)
        return DN_EIO;
    snprintf(tmp, sizeof tmp, "%s/put.XXXXXX", tmpdir);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return DN_EIO;
    int rc = 0;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = DN_EIO;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = DN_EIO;
    if (close(fd) != 0 && rc == 0)
        rc = DN_EIO;
    if (rc == 0 && rename(tmp, dst) != 0) /* same filesystem: atomic */
        rc = DN_EIO;
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    return fsync_dir(dir); /* the rename itself must survive a power cut */
}

static void blob_path(const local_store_t *s, const char *key, char *sub, size_t subcap, char *path, size_t cap)
{
    snprintf(sub, subcap, "%s/%.2s", s->dir, key);
    snprintf(path, cap, "%s/%s", sub, key);
}

static int local_put(dn_blobstore_t *bs, const char *key, const void *data, size_t len)
{
    local_store_t *s = (local_store_t *)bs;
    char sub[600], path[700], tmpdir[600];
    if (!dn_blob_key_valid(key))
        return DN_EINVAL;
    blob_path(s, key, sub, sizeof sub, path, sizeof path);
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", s->dir);
    return dn_blob_local_write_durable(tmpdir, sub, key, data, len);
}

static int local_get(dn_blobstore_t *bs, const char *key, uint64_t offset, size_t len, void *buf)
{
    local_store_t *s = (local_store_t *)bs;
    char sub[600], path[700];
    if (!dn_blob_key_valid(key))
        return DN_EINVAL;
    blob_path(s, key, sub, sizeof sub, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? DN_ENOTFOUND : DN_EIO;
    int rc = 0;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = DN_EIO; /* shorter than the recorded size: the blob is damaged */
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    return rc;
}

static int local_del(dn_blobstore_t *bs, const char *key)
{
    local_store_t *s = (local_store_t *)bs;
    char sub[600], path[700];
    if (!dn_blob_key_valid(key))
        return DN_EINVAL;
    blob_path(s, key, sub, sizeof sub, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
        return DN_EIO;
    return fsync_dir(sub) == 0 || errno == ENOENT ? 0 : DN_EIO;
}

static int local_exists(dn_blobstore_t *bs, const char *key)
{
    local_store_t *s = (local_store_t *)bs;
    char sub[600], path[700];
    struct stat st;
    if (!dn_blob_key_valid(key))
        return DN_EINVAL;
    blob_path(s, key, sub, sizeof sub, path, sizeof path);
    if (stat(path, &st) == 0)
        return 1;
    return errno == ENOENT ? 0 : DN_EIO;
}

static int local_list(dn_blobstore_t *bs, dn_blob_visit_fn fn, void *arg)
{
    local_store_t *s = (local_store_t *)bs;
    DIR *top = opendir(s->dir);
    if (top == NULL)
        return errno == ENOENT ? 0 : DN_EIO;
    struct dirent *d;
    time_t now = time(NULL);
    int stop = 0;
    while (!stop && (d = readdir(top)) != NULL) {
        if (strlen(d->d_name) != 2 || strcmp(d->d_name, "..") == 0)
            continue;
        char sub[600];
        snprintf(sub, sizeof sub, "%s/%s", s->dir, d->d_name);
        DIR *dd = opendir(sub);
        if (dd == NULL)
            continue;
        struct dirent *e;
        while (!stop && (e = readdir(dd)) != NULL) {
            if (!dn_blob_key_valid(e->d_name))
                continue;
            char path[1024];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", sub, e->d_name);
            if (stat(path, &st) != 0)
                continue;
            stop = fn(e->d_name, (int64_t)(now - st.st_mtime), arg);
        }
        closedir(dd);
    }
    closedir(top);
    return 0;
}

static int local_clean_tmp(dn_blobstore_t *bs)
{
    local_store_t *s = (local_store_t *)bs;
    char tmpdir[600];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", s->dir);
    DIR *d = opendir(tmpdir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "put.", 4) != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        if (unlink(path) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void local_close(dn_blobstore_t *bs)
{
    free(bs);
}

static const dn_blobstore_ops_t local_ops = {local_put, local_get, local_del, local_exists,
                                             local_list, local_clean_tmp, local_close};

dn_blobstore_t *dn_blob_local_open(const char *dir, char *err, size_t errlen)
{
    local_store_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (snprintf(s->dir, sizeof s->dir, "%s", dir) >= (int)sizeof s->dir || mkdir_p(s->dir) != 0) {
        snprintf(err, errlen, "cannot create the files directory %s: %s", dir, strerror(errno));
        free(s);
        return NULL;
    }
    s->base.ops = &local_ops;
    s->base.kind = "local";
    return &s->base;
}

dn_blobstore_t *dn_blobstore_open(const dn_config_t *cfg, char *err, size_t errlen)
{
    if (strcmp(cfg->files_backend, "s3") == 0)
        return dn_blob_s3_open(cfg->s3_endpoint, cfg->s3_bucket, cfg->s3_region, err, errlen);
    char dir[600];
    if (cfg->files_dir[0])
        snprintf(dir, sizeof dir, "%s", cfg->files_dir);
    else
        snprintf(dir, sizeof dir, "%s/files", cfg->data_dir);
    return dn_blob_local_open(dir, err, errlen);
}

void dn_blobstore_close(dn_blobstore_t *bs)
{
    if (bs != NULL)
        bs->ops->close(bs);
}
