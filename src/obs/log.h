/*
 * log.h - structured JSON-lines logging, written off the request path.
 *
 * Callers push fixed-size records into a bounded in-memory queue; one writer
 * thread formats them as JSON lines and writes them. When the queue is full a
 * record is dropped and counted (dnevnik_log_dropped_total) rather than
 * blocking a request. dn_log_shutdown() drains and flushes the queue.
 *
 * Never pass passwords, tokens or request bodies to these functions: the
 * access record has no field for them, and application messages are the
 * caller's responsibility.
 */
#ifndef DN_OBS_LOG_H
#define DN_OBS_LOG_H

#include <stdint.h>

typedef enum { DN_LOG_DEBUG = 0, DN_LOG_INFO = 1, DN_LOG_WARN = 2, DN_LOG_ERROR = 3, DN_LOG_OFF = 4 } dn_log_level_t;

/**
 * Start the writer thread. app_path / access_path: "-" is stderr / stdout,
 * "" disables, anything else is a file opened for append. Returns 0 or a
 * negative code. Before init (and after shutdown) messages go straight to
 * stderr, so CLI tools can log without a thread.
 */
int dn_log_init(dn_log_level_t level, const char *app_path, const char *access_path);
void dn_log_shutdown(void);
/** Parse "debug|info|warn|error|off"; returns -1 on an unknown name. */
int dn_log_level_parse(const char *name);
extern dn_log_level_t dn_log_level;

/** Application log; level is checked before any formatting. */
#define dn_log(level, module, ...)                                                                                      \
    do {                                                                                                                \
        if ((level) >= dn_log_level)                                                                                    \
            dn_log__write((level), (module), __VA_ARGS__);                                                             \
    } while (0)
#define dn_log_debug(module, ...) dn_log(DN_LOG_DEBUG, module, __VA_ARGS__)
#define dn_log_info(module, ...) dn_log(DN_LOG_INFO, module, __VA_ARGS__)
#define dn_log_warn(module, ...) dn_log(DN_LOG_WARN, module, __VA_ARGS__)
#define dn_log_error(module, ...) dn_log(DN_LOG_ERROR, module, __VA_ARGS__)
void dn_log__write(dn_log_level_t level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** One access-log record; strings are copied (and truncated) into the record. */
typedef struct dn_access_entry {
    int64_t ts_ms;        /* request start, ms since epoch */
    uint64_t duration_us;
    int status;
    uint64_t bytes_sent;
    const char *method;
    const char *path;     /* without the query string: it may carry tokens */
    const char *route;    /* route pattern or "unmatched" */
    const char *remote;
    int64_t user_id;      /* 0 when anonymous */
} dn_access_entry_t;

void dn_log_access(const dn_access_entry_t *e);

/** Records dropped because the queue was full, since start (dnevnik_log_dropped_total). */
uint64_t dn_log_dropped(void);
/** Queue capacity in records for the next dn_log_init(); default 4096, 0 restores it. */
void dn_log_set_queue_size(unsigned records);
/** Test hook: while paused the writer takes nothing off the queue (shutdown still drains it). */
void dn_log__pause(int paused);

#endif
