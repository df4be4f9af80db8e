/*
 * metrics.c - Prometheus text exposition (format 0.0.4) from fixed tables.
 *
 * Every request-path update is one or a few relaxed atomic adds on memory
 * sized at dn_metrics_init(); nothing on that path locks or allocates. A
 * "series slot" is one {route, method} pair: one per registered route (its
 * registered method) plus one per known method for unmatched requests. Each
 * slot keeps an exact per-status counter array (100..599 plus an "other"
 * cell) and non-cumulative histogram cells; rendering makes them cumulative
 * and derives _count from the cells, so le="+Inf" always equals _count.
 * Relaxed loads mean a scrape may see a request in one family and not yet in
 * another; each counter on its own is still monotonic.
 */
#include "obs/metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "obs/log.h"

/* Histogram upper bounds: ns for comparison, text for the le label. */
static const uint64_t bucket_ns[] = {
    50000ull,     100000ull,     250000ull,     500000ull,     1000000ull,    2500000ull,
    5000000ull,   10000000ull,   25000000ull,   50000000ull,   100000000ull,  250000000ull,
    500000000ull, 1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull,
};
static const char *const bucket_le[] = {
    "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
    "0.005",   "0.01",   "0.025",   "0.05",   "0.1",   "0.25",
    "0.5",     "1",      "2.5",     "5",      "10",
};
#define NBOUNDS (sizeof bucket_ns / sizeof bucket_ns[0])
#define NCELLS (NBOUNDS + 1) /* last cell: above the largest bound (+Inf) */
_Static_assert(sizeof bucket_le / sizeof bucket_le[0] == NBOUNDS, "one le label per bound");

typedef struct {
    _Atomic uint64_t cell[NCELLS]; /* non-cumulative */
    _Atomic uint64_t sum_ns;
} histo_t;

/* Exact status cells for 100..599; one more for anything outside. */
#define STATUS_MIN 100
#define STATUS_MAX 599
#define NSTATUS (STATUS_MAX - STATUS_MIN + 2)

typedef struct {
    _Atomic uint64_t status[NSTATUS];
    histo_t latency;
} series_t;

/*
 * Unmatched requests keep their method, but only from a closed set: an
 * arbitrary method string from a client must not create label values.
 */
static const char *const unmatched_methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER",
};
#define NUNMATCHED (sizeof unmatched_methods / sizeof unmatched_methods[0])

#define MAX_POOLS 8
#define POOL_NAME_MAX 32
typedef struct {
    char name[POOL_NAME_MAX]; /* immutable once published through npools */
    _Atomic int total, busy, queue;
} pool_t;

static struct {
    /* HTTP: routes[0..nroutes) then NUNMATCHED unmatched slots. */
    int nroutes;
    series_t *series;
    char **route_names;
    char **route_methods;
    _Atomic uint64_t http_errors;
    _Atomic int64_t inflight;
    _Atomic int64_t connections;
    _Atomic uint64_t conn_rejected[3]; /* max_connections, per_address, other */
    /* store */
    histo_t store_latency;
    _Atomic uint64_t store_errors;
    /* pools: lookups lock-free; the mutex only serialises registration */
    pool_t pools[MAX_POOLS];
    _Atomic int npools;
    pthread_mutex_t pool_lock;
} M = {.pool_lock = PTHREAD_MUTEX_INITIALIZER};

/* Before init, requests still count: only into the unmatched slots. */
static series_t unmatched_fallback[NUNMATCHED];

static series_t *unmatched_slots(void)
{
    return M.series ? M.series + M.nroutes : unmatched_fallback;
}

static void histo_observe(histo_t *h, uint64_t ns)
{
    size_t i = 0;
    while (i < NBOUNDS && ns > bucket_ns[i])
        i++;
    atomic_fetch_add_explicit(&h->cell[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

static void free_names(void)
{
    for (int i = 0; i < M.nroutes; i++) {
        if (M.route_names)
            free(M.route_names[i]);
        if (M.route_methods)
            free(M.route_methods[i]);
    }
    free(M.route_names);
    free(M.route_methods);
    M.route_names = M.route_methods = NULL;
}

void dn_metrics_free(void)
{
    free_names();
    free(M.series);
    M.series = NULL;
    M.nroutes = 0;
}

int dn_metrics_init(int nroutes, const char *const *route_names, const char *const *route_methods)
{
    if (nroutes < 0)
        nroutes = 0;
    dn_metrics_free();
    memset(unmatched_fallback, 0, sizeof unmatched_fallback);
    atomic_store_explicit(&M.http_errors, 0, memory_order_relaxed);

    /* calloc: large tables come from fresh zero pages, untouched routes cost no RSS. */
    series_t *series = calloc((size_t)nroutes + NUNMATCHED, sizeof *series);
    char **names = calloc((size_t)nroutes + 1, sizeof *names);
    char **methods = calloc((size_t)nroutes + 1, sizeof *methods);
    if (!series || !names || !methods)
        goto nomem;
    for (int i = 0; i < nroutes; i++) {
        const char *n = route_names && route_names[i] ? route_names[i] : "";
        const char *m = route_methods && route_methods[i] ? route_methods[i] : "";
        if (!(names[i] = strdup(n)) || !(methods[i] = strdup(m)))
            goto nomem;
    }
    M.series = series;
    M.route_names = names;
    M.route_methods = methods;
    M.nroutes = nroutes;
    return 0;

nomem:
    for (int i = 0; i < nroutes && names && methods; i++) {
        free(names[i]);
        free(methods[i]);
    }
    free(series);
    free(names);
    free(methods);
    return DN_ENOMEM;
}

static size_t unmatched_index(const char *method)
{
    if (method)
        for (size_t i = 0; i + 1 < NUNMATCHED; i++)
            if (strcmp(method, unmatched_methods[i]) == 0)
                return i;
    return NUNMATCHED - 1;
}

void dn_metrics_request_done(int route_id, const char *method, int status, uint64_t elapsed_ns)
{
    series_t *s;
    if (route_id >= 0 && route_id < M.nroutes && M.series)
        s = &M.series[route_id];
    else
        s = &unmatched_slots()[unmatched_index(method)];
    size_t cell = (status >= STATUS_MIN && status <= STATUS_MAX) ? (size_t)(status - STATUS_MIN) : NSTATUS - 1;
    atomic_fetch_add_explicit(&s->status[cell], 1, memory_order_relaxed);
    histo_observe(&s->latency, elapsed_ns);
    if (status >= 500)
        atomic_fetch_add_explicit(&M.http_errors, 1, memory_order_relaxed);
}

void dn_metrics_inflight_add(int delta)
{
    atomic_fetch_add_explicit(&M.inflight, delta, memory_order_relaxed);
}

void dn_metrics_connections_add(int delta)
{
    atomic_fetch_add_explicit(&M.connections, delta, memory_order_relaxed);
}

static const char *const conn_reject_reasons[3] = {"max_connections", "per_address", "other"};

void dn_metrics_connection_rejected(const char *reason)
{
    size_t i = 0;
    while (i < 2 && strcmp(reason, conn_reject_reasons[i]) != 0)
        i++;
    atomic_fetch_add_explicit(&M.conn_rejected[i], 1, memory_order_relaxed);
}

void dn_metrics_store_query(uint64_t elapsed_ns, int failed)
{
    histo_observe(&M.store_latency, elapsed_ns);
    if (failed)
        atomic_fetch_add_explicit(&M.store_errors, 1, memory_order_relaxed);
}

/* Find a pool by name, registering it on first use; NULL when the table is full. */
static pool_t *pool_get(const char *name)
{
    if (!name)
        name = "";
    int n = atomic_load_explicit(&M.npools, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (strncmp(M.pools[i].name, name, POOL_NAME_MAX - 1) == 0)
            return &M.pools[i];

    pool_t *p = NULL;
    pthread_mutex_lock(&M.pool_lock);
    n = atomic_load_explicit(&M.npools, memory_order_relaxed);
    for (int i = 0; i < n && !p; i++) /* another thread may have won the race */
        if (strncmp(M.pools[i].name, name, POOL_NAME_MAX - 1) == 0)
            p = &M.pools[i];
    if (!p && n < MAX_POOLS) {
        p = &M.pools[n];
        snprintf(p->name, sizeof p->name, "%s", name);
        atomic_store_explicit(&M.npools, n + 1, memory_order_release); /* publishes the name */
    }
    pthread_mutex_unlock(&M.pool_lock);
    return p;
}

void dn_metrics_pool_set_total(const char *pool, int total)
{
    pool_t *p = pool_get(pool);
    if (p)
        atomic_store_explicit(&p->total, total, memory_order_relaxed);
}

void dn_metrics_pool_busy_add(const char *pool, int delta)
{
    pool_t *p = pool_get(pool);
    if (p)
        atomic_fetch_add_explicit(&p->busy, delta, memory_order_relaxed);
}

void dn_metrics_pool_queue_add(const char *pool, int delta)
{
    pool_t *p = pool_get(pool);
    if (p)
        atomic_fetch_add_explicit(&p->queue, delta, memory_order_relaxed);
}

/* ---- rendering ---- */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} buf_t;

static int buf_reserve(buf_t *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void __attribute__((format(printf, 2, 3))) bprintf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Label value escaping per the text format: backslash, double quote, newline. */
static void put_label_value(buf_t *b, const char *s)
{
    if (buf_reserve(b, 2 * strlen(s)) < 0)
        return;
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = *s;
        } else if (*s == '\n') {
            b->p[b->len++] = '\\';
            b->p[b->len++] = 'n';
        } else {
            b->p[b->len++] = *s;
        }
    }
    b->p[b->len] = '\0';
}

static void put_family(buf_t *b, const char *name, const char *type, const char *help)
{
    bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Seconds from ns, printed exactly (no float rounding of the sum). */
static void put_seconds(buf_t *b, uint64_t ns)
{
    bprintf(b, "%" PRIu64 ".%09" PRIu64, (uint64_t)(ns / 1000000000u), (uint64_t)(ns % 1000000000u));
}

/*
 * One histogram series. labels is the already-escaped label list without
 * braces ("" for none). _count is the sum of the cells read here, so it
 * always equals the +Inf bucket even while requests keep arriving.
 */
static void put_histogram(buf_t *b, const char *name, const char *labels, const histo_t *h)
{
    uint64_t cells[NCELLS], total = 0;
    for (size_t i = 0; i < NCELLS; i++)
        total += cells[i] = atomic_load_explicit(&h->cell[i], memory_order_relaxed);
    uint64_t sum = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    for (size_t i = 0; i < NBOUNDS; i++) {
        cum += cells[i];
        bprintf(b, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, sep, bucket_le[i], cum);
    }
    bprintf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, total);
    bprintf(b, "%s_sum%s%s%s ", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "");
    put_seconds(b, sum);
    bprintf(b, "\n%s_count%s%s%s %" PRIu64 "\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "", total);
}

static const char *slot_route(int i)
{
    return i < M.nroutes ? M.route_names[i] : "unmatched";
}

static const char *slot_method(int i)
{
    return i < M.nroutes ? M.route_methods[i] : unmatched_methods[i - M.nroutes];
}

/* route="..",method=".." escaped into a scratch buffer. */
static const char *route_labels(buf_t *scratch, int slot)
{
    scratch->len = 0;
    bprintf(scratch, "route=\"");
    put_label_value(scratch, slot_route(slot));
    bprintf(scratch, "\",method=\"");
    put_label_value(scratch, slot_method(slot));
    bprintf(scratch, "\"");
    return scratch->oom ? NULL : scratch->p;
}

static void render_http(buf_t *b, buf_t *scratch)
{
    series_t *un = unmatched_slots();
    int nslots = M.nroutes + (int)NUNMATCHED;
    /* Slot i: a route before init has no table, so only unmatched slots exist then. */
#define SLOT(i) ((i) < M.nroutes ? &M.series[(i)] : &un[(i)-M.nroutes])

    put_family(b, "dnevnik_http_requests_total", "counter", "HTTP requests finished, by route, method and status.");
    for (int i = 0; i < nslots; i++) {
        series_t *s = SLOT(i);
        const char *labels = NULL;
        for (size_t c = 0; c < NSTATUS; c++) {
            uint64_t v = atomic_load_explicit(&s->status[c], memory_order_relaxed);
            if (!v)
                continue;
            if (!labels && !(labels = route_labels(scratch, i)))
                return;
            if (c == NSTATUS - 1)
                bprintf(b, "dnevnik_http_requests_total{%s,status=\"other\"} %" PRIu64 "\n", labels, v);
            else
                bprintf(b, "dnevnik_http_requests_total{%s,status=\"%d\"} %" PRIu64 "\n", labels,
                        (int)c + STATUS_MIN, v);
        }
    }

    put_family(b, "dnevnik_http_request_duration_seconds", "histogram",
               "Time from request start to response handed to the server, by route and method.");
    for (int i = 0; i < nslots; i++) {
        series_t *s = SLOT(i);
        uint64_t any = 0;
        for (size_t c = 0; c < NCELLS && !any; c++)
            any = atomic_load_explicit(&s->latency.cell[c], memory_order_relaxed);
        if (!any)
            continue;
        const char *labels = route_labels(scratch, i);
        if (!labels)
            return;
        put_histogram(b, "dnevnik_http_request_duration_seconds", labels, &s->latency);
    }
#undef SLOT

    put_family(b, "dnevnik_http_requests_in_flight", "gauge", "HTTP requests being processed now.");
    bprintf(b, "dnevnik_http_requests_in_flight %" PRId64 "\n",
            atomic_load_explicit(&M.inflight, memory_order_relaxed));
    put_family(b, "dnevnik_http_errors_total", "counter", "HTTP responses with status 500 or above.");
    bprintf(b, "dnevnik_http_errors_total %" PRIu64 "\n", atomic_load_explicit(&M.http_errors, memory_order_relaxed));
    put_family(b, "dnevnik_http_connections_open", "gauge", "Client connections open now.");
    bprintf(b, "dnevnik_http_connections_open %" PRId64 "\n",
            atomic_load_explicit(&M.connections, memory_order_relaxed));
    put_family(b, "dnevnik_http_connections_rejected_total", "counter",
               "Connections closed at accept: over --max-connections or --max-connections-per-address.");
    for (size_t i = 0; i < 3; i++)
        bprintf(b, "dnevnik_http_connections_rejected_total{reason=\"%s\"} %" PRIu64 "\n", conn_reject_reasons[i],
                atomic_load_explicit(&M.conn_rejected[i], memory_order_relaxed));
}

static void render_store_and_pools(buf_t *b, buf_t *scratch)
{
    put_family(b, "dnevnik_store_query_duration_seconds", "histogram", "Store query latency.");
    put_histogram(b, "dnevnik_store_query_duration_seconds", "", &M.store_latency);
    put_family(b, "dnevnik_store_errors_total", "counter", "Store queries that failed.");
    bprintf(b, "dnevnik_store_errors_total %" PRIu64 "\n", atomic_load_explicit(&M.store_errors, memory_order_relaxed));

    int n = atomic_load_explicit(&M.npools, memory_order_acquire);
    const char *names[MAX_POOLS];
    for (int i = 0; i < n; i++) {
        scratch->len = 0;
        put_label_value(scratch, M.pools[i].name);
        if (scratch->oom)
            return;
        names[i] = strdup(scratch->p);
        if (!names[i]) {
            while (i-- > 0)
                free((char *)names[i]);
            b->oom = 1;
            return;
        }
    }
    put_family(b, "dnevnik_workers", "gauge", "Worker threads per pool: busy now, and total.");
    for (int i = 0; i < n; i++) {
        bprintf(b, "dnevnik_workers{pool=\"%s\",state=\"busy\"} %d\n", names[i],
                atomic_load_explicit(&M.pools[i].busy, memory_order_relaxed));
        bprintf(b, "dnevnik_workers{pool=\"%s\",state=\"total\"} %d\n", names[i],
                atomic_load_explicit(&M.pools[i].total, memory_order_relaxed));
    }
    put_family(b, "dnevnik_worker_queue_length", "gauge", "Work items queued per pool, not yet running.");
    for (int i = 0; i < n; i++)
        bprintf(b, "dnevnik_worker_queue_length{pool=\"%s\"} %d\n", names[i],
                atomic_load_explicit(&M.pools[i].queue, memory_order_relaxed));
    for (int i = 0; i < n; i++)
        free((char *)names[i]);
}

/* Process start as Unix time: starttime (ticks since boot) from /proc/self/stat plus btime. */
static double start_time;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;

static void compute_start_time(void)
{
    FILE *f = fopen("/proc/self/stat", "r");
    char line[1024];
    if (f && fgets(line, sizeof line, f)) {
        /* comm (field 2) may contain spaces and ')': fields resume after the last ')'. */
        char *p = strrchr(line, ')');
        unsigned long long ticks = 0;
        int field = 2;
        for (; p && *p && field < 22; p++)
            if (*p == ' ')
                field++;
        if (p && field == 22 && sscanf(p, "%llu", &ticks) == 1) {
            FILE *s = fopen("/proc/stat", "r");
            unsigned long long btime = 0;
            while (s && fgets(line, sizeof line, s))
                if (sscanf(line, "btime %llu", &btime) == 1)
                    break;
            if (s)
                fclose(s);
            long hz = sysconf(_SC_CLK_TCK);
            if (btime && hz > 0)
                start_time = (double)btime + (double)ticks / (double)hz;
        }
    }
    if (f)
        fclose(f);
    if (start_time <= 0) { /* no /proc: the first scrape is the best we know */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        start_time = (double)ts.tv_sec;
    }
}

static double process_start_time(void)
{
    pthread_once(&start_once, compute_start_time);
    return start_time;
}

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static void render_process(buf_t *b)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                     ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
        put_family(b, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
        bprintf(b, "process_cpu_seconds_total %.6f\n", cpu);
    }
    unsigned long long vsize_pages = 0, rss_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &vsize_pages, &rss_pages) == 2) {
            long page = sysconf(_SC_PAGESIZE);
            put_family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
            bprintf(b, "process_resident_memory_bytes %llu\n", rss_pages * (unsigned long long)page);
            put_family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
            bprintf(b, "process_virtual_memory_bytes %llu\n", vsize_pages * (unsigned long long)page);
        }
        fclose(f);
    }
    put_family(b, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    bprintf(b, "process_start_time_seconds %.2f\n", process_start_time());
    int fds = count_open_fds();
    if (fds >= 0) {
        put_family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
        bprintf(b, "process_open_fds %d\n", fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        put_family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        bprintf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
}

char *dn_metrics_render(size_t *len)
{
    buf_t b = {0}, scratch = {0};
    render_http(&b, &scratch);
    render_store_and_pools(&b, &scratch);
    put_family(&b, "dnevnik_log_dropped_total", "counter", "Log records dropped because the log queue was full.");
    bprintf(&b, "dnevnik_log_dropped_total %" PRIu64 "\n", dn_log_dropped());
    render_process(&b);
    put_family(&b, "dnevnik_build_info", "gauge", "Build information; the value is always 1.");
    bprintf(&b, "dnevnik_build_info{version=\"");
    put_label_value(&b, DN_VERSION);
    bprintf(&b, "\"} 1\n");
    free(scratch.p);
    if (b.oom || !b.p) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}
