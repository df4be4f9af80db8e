/*
 * log.c - JSON-lines application and access logs, formatted off the request path.
 *
 * Producers copy a fixed-size record (strings truncated at a UTF-8 boundary)
 * into a ring under a mutex and return; they never wait for I/O and never
 * wait for space: a full ring drops the record and counts it. One writer
 * thread owns the slots [head, head+count) it is formatting until it advances
 * head, so producers (which write at head+count) never touch them. The writer
 * escapes strings for JSON (invalid UTF-8 becomes U+FFFD) and writes whole
 * lines: one write(2) per stream per batch, or per PIPE_BUF on pipes. While
 * no writer runs (before init, after shutdown) records are formatted the
 * same way and written to stderr at once.
 */
#include "obs/log.h"
#include "core/date.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

dn_log_level_t dn_log_level = DN_LOG_INFO;

#define MODULE_MAX 24
#define MSG_MAX 1024
#define METHOD_MAX 16
#define LPATH_MAX 512
#define ROUTE_MAX 160
#define REMOTE_MAX 48
#define DEFAULT_QUEUE 4096

enum { REC_APP, REC_ACCESS };

typedef struct {
    int kind;
    int level;
    int64_t ts_ms;
    union {
        struct {
            char module[MODULE_MAX];
            char msg[MSG_MAX]; /* last member: producers copy only up to its NUL */
        } app;
        struct {
            uint64_t duration_us, bytes;
            int64_t user_id;
            int status;
            char method[METHOD_MAX];
            char route[ROUTE_MAX];
            char remote[REMOTE_MAX];
            char path[LPATH_MAX]; /* last member, as above */
        } acc;
    };
} rec_t;

/*
 * Worst-case formatted line: every byte escaped as \u00XX (6 bytes), plus the
 * fixed keys and numbers. Buffers keep at least this much headroom.
 */
#define LINE_MAX_BYTES (6 * (MODULE_MAX + MSG_MAX + METHOD_MAX + ROUTE_MAX + REMOTE_MAX + LPATH_MAX) + 512)
#define OUTBUF_SIZE (64 * 1024)

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    rec_t *ring;
    unsigned cap, head, count;
    int running;  /* the writer accepts records */
    int stopping; /* shutdown asked: drain, then exit */
    int paused;   /* test hook */
    unsigned next_cap;
    pthread_t thread;
    int app_fd, access_fd; /* -1 = disabled */
    int app_owned, access_owned;
    _Atomic uint64_t dropped;
} L = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .app_fd = -1, .access_fd = -1};

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int dn_log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i <= DN_LOG_OFF; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

uint64_t dn_log_dropped(void)
{
    return atomic_load_explicit(&L.dropped, memory_order_relaxed);
}

void dn_log_set_queue_size(unsigned records)
{
    pthread_mutex_lock(&L.lock);
    L.next_cap = records;
    pthread_mutex_unlock(&L.lock);
}

void dn_log__pause(int paused)
{
    pthread_mutex_lock(&L.lock);
    L.paused = paused;
    pthread_cond_broadcast(&L.wake);
    pthread_mutex_unlock(&L.lock);
}

/* ---- copying into records ---- */

/* Length of a UTF-8 sequence from its lead byte (1 for ASCII and stray bytes). */
static size_t utf8_seq_len(unsigned char c)
{
    return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/*
 * s has been cut to len bytes: drop a multi-byte sequence the cut split, so
 * truncation alone never produces a U+FFFD in the output.
 */
static size_t utf8_trim(const char *s, size_t len)
{
    size_t j = len;
    while (j > 0 && len - j < 4 && ((unsigned char)s[j - 1] & 0xC0) == 0x80)
        j--;
    if (j > 0 && (unsigned char)s[j - 1] >= 0xC0 && j - 1 + utf8_seq_len((unsigned char)s[j - 1]) > len)
        return j - 1;
    return len;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "";
    size_t n = strnlen(src, cap);
    if (n == cap)
        n = utf8_trim(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- formatting ---- */

/* Append s as a JSON string (with quotes). out needs 6*strlen(s)+2 bytes. */
static size_t json_str(char *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    out[o++] = '"';
    while (*p) {
        unsigned char c = *p;
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                out[o++] = '\\';
                out[o++] = (char)c;
            } else if (c == '\n') {
                out[o++] = '\\';
                out[o++] = 'n';
            } else if (c == '\r') {
                out[o++] = '\\';
                out[o++] = 'r';
            } else if (c == '\t') {
                out[o++] = '\\';
                out[o++] = 't';
            } else if (c < 0x20 || c == 0x7F) { /* DEL too: it upsets terminals tailing the log */
                memcpy(out + o, "\\u00", 4);
                out[o + 4] = hex[c >> 4];
                out[o + 5] = hex[c & 15];
                o += 6;
            } else {
                out[o++] = (char)c;
            }
            p++;
            continue;
        }
        /* Validate one multi-byte sequence: no overlongs, surrogates or > U+10FFFF. */
        size_t n = 0;
        uint32_t cp = 0, min = 0;
        if (c >= 0xC2 && c <= 0xDF)
            n = 2, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 3, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 4, cp = c & 0x07, min = 0x10000;
        size_t i = 1;
        for (; i < n && (p[i] & 0xC0) == 0x80; i++)
            cp = (cp << 6) | (p[i] & 0x3F);
        if (n && i == n && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
            memcpy(out + o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3); /* U+FFFD, one per bad byte */
            o += 3;
            p++;
        }
    }
    out[o++] = '"';
    return o;
}

static size_t put_ts(char *out, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    return (size_t)snprintf(out, 40, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
                            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

#define PUT_LIT(lit) (memcpy(out + o, lit, sizeof lit - 1), o += sizeof lit - 1)

/* One record as one JSON line, newline included. out needs LINE_MAX_BYTES. */
static size_t format_rec(char *out, const rec_t *r)
{
    size_t o = 0;
    PUT_LIT("{\"ts\":");
    o += put_ts(out + o, r->ts_ms);
    if (r->kind == REC_APP) {
        PUT_LIT(",\"level\":\"");
        const char *lv = level_names[r->level];
        memcpy(out + o, lv, strlen(lv));
        o += strlen(lv);
        PUT_LIT("\",\"module\":");
        o += json_str(out + o, r->app.module);
        PUT_LIT(",\"msg\":");
        o += json_str(out + o, r->app.msg);
    } else {
        PUT_LIT(",\"type\":\"access\",\"method\":");
        o += json_str(out + o, r->acc.method);
        PUT_LIT(",\"path\":");
        o += json_str(out + o, r->acc.path);
        PUT_LIT(",\"route\":");
        o += json_str(out + o, r->acc.route);
        o += (size_t)snprintf(out + o, 128, ",\"status\":%d,\"duration_us\":%llu,\"bytes\":%llu,\"remote\":",
                              r->acc.status, (unsigned long long)r->acc.duration_us,
                              (unsigned long long)r->acc.bytes);
        o += json_str(out + o, r->acc.remote);
        o += (size_t)snprintf(out + o, 64, ",\"user_id\":%lld", (long long)r->acc.user_id);
    }
    PUT_LIT("}\n");
    return o;
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere to report a logging failure; the next batch tries again */
        p += n;
        len -= (size_t)n;
    }
}

/* ---- writer thread ---- */

typedef struct {
    int fd;
    size_t limit; /* bytes per write(2): whole lines, at most PIPE_BUF on pipes */
    size_t len;
    char data[OUTBUF_SIZE];
} outbuf_t;

static void out_flush(outbuf_t *b)
{
    if (b->len)
        write_all(b->fd, b->data, b->len);
    b->len = 0;
}

static outbuf_t app_out, access_out; /* writer thread only */

/*
 * Pipes and sockets (journald, docker) only keep writes of up to PIPE_BUF
 * whole when other threads or processes write stderr too; files opened with
 * O_APPEND take a full buffer in one piece.
 */
static size_t write_limit(int fd)
{
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        return PIPE_BUF;
    return OUTBUF_SIZE;
}

static void out_record(outbuf_t *b, const rec_t *r)
{
    if (OUTBUF_SIZE - b->len < LINE_MAX_BYTES)
        out_flush(b);
    size_t n = format_rec(b->data + b->len, r);
    if (b->len > 0 && b->len + n > b->limit) {
        /* Write the lines before this one, then keep this one for the next write. */
        write_all(b->fd, b->data, b->len);
        memmove(b->data, b->data + b->len, n);
        b->len = 0;
    }
    b->len += n;
}

static void *writer_main(void *arg)
{
    (void)arg;
    app_out.fd = L.app_fd;
    app_out.limit = write_limit(L.app_fd);
    access_out.fd = L.access_fd;
    access_out.limit = write_limit(L.access_fd);
    pthread_mutex_lock(&L.lock);
    for (;;) {
        while ((L.count == 0 || L.paused) && !L.stopping)
            pthread_cond_wait(&L.wake, &L.lock);
        if (L.count == 0) /* stopping and drained */
            break;
        unsigned head = L.head, n = L.count;
        pthread_mutex_unlock(&L.lock);

        for (unsigned i = 0; i < n; i++) {
            const rec_t *r = &L.ring[(head + i) % L.cap];
            out_record(r->kind == REC_APP ? &app_out : &access_out, r);
        }
        out_flush(&app_out);
        out_flush(&access_out);

        pthread_mutex_lock(&L.lock);
        L.head = (head + n) % L.cap;
        L.count -= n;
    }
    pthread_mutex_unlock(&L.lock);
    return NULL;
}

/* No writer: format on the caller's stack and write to stderr directly. */
static void write_sync(const rec_t *r)
{
    char line[LINE_MAX_BYTES];
    size_t n = format_rec(line, r);
    write_all(STDERR_FILENO, line, n);
}

static void push(const rec_t *r, size_t used)
{
    pthread_mutex_lock(&L.lock);
    if (!L.running) {
        pthread_mutex_unlock(&L.lock);
        write_sync(r);
        return;
    }
    if ((r->kind == REC_APP ? L.app_fd : L.access_fd) < 0) {
        pthread_mutex_unlock(&L.lock); /* this stream is switched off */
        return;
    }
    if (L.count == L.cap) {
        pthread_mutex_unlock(&L.lock);
        atomic_fetch_add_explicit(&L.dropped, 1, memory_order_relaxed);
        return;
    }
    memcpy(&L.ring[(L.head + L.count) % L.cap], r, used);
    if (L.count++ == 0)
        pthread_cond_signal(&L.wake);
    pthread_mutex_unlock(&L.lock);
}

void dn_log__write(dn_log_level_t level, const char *module, const char *fmt, ...)
{
    if ((int)level < 0 || level >= DN_LOG_OFF || level < dn_log_level)
        return;
    rec_t r;
    r.kind = REC_APP;
    r.level = (int)level;
    r.ts_ms = dn_now_ms();
    copy_field(r.app.module, sizeof r.app.module, module);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r.app.msg, sizeof r.app.msg, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len >= sizeof r.app.msg) {
        len = utf8_trim(r.app.msg, sizeof r.app.msg - 1);
        r.app.msg[len] = '\0';
    }
    push(&r, offsetof(rec_t, app.msg) + len + 1);
}

void dn_log_access(const dn_access_entry_t *e)
{
    if (!e)
        return;
    rec_t r;
    r.kind = REC_ACCESS;
    r.level = DN_LOG_INFO;
    r.ts_ms = e->ts_ms;
    r.acc.duration_us = e->duration_us;
    r.acc.bytes = e->bytes_sent;
    r.acc.user_id = e->user_id;
    r.acc.status = e->status;
    copy_field(r.acc.method, sizeof r.acc.method, e->method);
    copy_field(r.acc.route, sizeof r.acc.route, e->route);
    copy_field(r.acc.remote, sizeof r.acc.remote, e->remote);
    copy_field(r.acc.path, sizeof r.acc.path, e->path);
    push(&r, offsetof(rec_t, acc.path) + strlen(r.acc.path) + 1);
}

/* ---- lifecycle ---- */

static int open_dest(const char *path, int std_fd, int *fd, int *owned)
{
    *owned = 0;
    *fd = -1;
    if (!path || !path[0])
        return 0;
    if (strcmp(path, "-") == 0) {
        *fd = std_fd;
        return 0;
    }
    *fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (*fd < 0)
        return DN_EIO;
    *owned = 1;
    return 0;
}

static void close_dests(void)
{
    if (L.app_owned)
        close(L.app_fd);
    if (L.access_owned)
        close(L.access_fd);
    L.app_fd = L.access_fd = -1;
    L.app_owned = L.access_owned = 0;
}

int dn_log_init(dn_log_level_t level, const char *app_path, const char *access_path)
{
    if ((int)level < 0 || level > DN_LOG_OFF)
        return DN_EINVAL;
    pthread_mutex_lock(&L.lock);
    if (L.running || L.ring) {
        pthread_mutex_unlock(&L.lock);
        return DN_EINVAL;
    }
    int rc = open_dest(app_path, STDERR_FILENO, &L.app_fd, &L.app_owned);
    if (rc == 0)
        rc = open_dest(access_path, STDOUT_FILENO, &L.access_fd, &L.access_owned);
    unsigned cap = L.next_cap ? L.next_cap : DEFAULT_QUEUE;
    if (rc == 0 && !(L.ring = calloc(cap, sizeof *L.ring)))
        rc = DN_ENOMEM;
    if (rc == 0) {
        L.cap = cap;
        L.head = L.count = 0;
        L.stopping = 0;
        /* The writer inherits a full signal mask: signals belong to the main thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&L.thread, NULL, writer_main, NULL) != 0)
            rc = DN_ENOMEM;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (rc != 0) {
        free(L.ring);
        L.ring = NULL;
        close_dests();
        pthread_mutex_unlock(&L.lock);
        return rc;
    }
    pthread_setname_np(L.thread, "dn-log");
    L.running = 1;
    dn_log_level = level;
    pthread_mutex_unlock(&L.lock);
    return 0;
}

void dn_log_shutdown(void)
{
    pthread_mutex_lock(&L.lock);
    if (!L.running) {
        pthread_mutex_unlock(&L.lock);
        return;
    }
    L.running = 0; /* from here on, callers write to stderr themselves */
    L.stopping = 1;
    pthread_cond_broadcast(&L.wake);
    pthread_mutex_unlock(&L.lock);

    pthread_join(L.thread, NULL);

    pthread_mutex_lock(&L.lock);
    close_dests();
    free(L.ring);
    L.ring = NULL;
    L.cap = L.head = L.count = 0;
    L.stopping = 0;
    L.paused = 0;
    pthread_mutex_unlock(&L.lock);
}
