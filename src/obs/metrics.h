/*
 * metrics.h - process metrics in Prometheus text format.
 *
 * Counters and histograms are fixed arrays indexed by route id, sized once at
 * start-up, updated with relaxed atomics from any thread (no locks on the
 * request path) and rendered on demand by GET /metrics. Histogram buckets are
 * cumulative in seconds, so p50/p99 come from histogram_quantile().
 */
#ifndef DN_OBS_METRICS_H
#define DN_OBS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/**
 * Size the tables for nroutes routes. route_names[i] is the route pattern
 * (label "route"), route_methods[i] its method ("GET"). The arrays are
 * copied. Call once before serving; returns 0 or DN_ENOMEM. Calling it
 * again (tests) resets the HTTP series; store, pool and in-flight metrics
 * live for the whole process. Not safe while requests are being counted.
 */
int dn_metrics_init(int nroutes, const char *const *route_names, const char *const *route_methods);
void dn_metrics_free(void);

/**
 * One finished request. route_id -1 means no route matched (label
 * route="unmatched", method as given). Counts dnevnik_http_requests_total
 * {route,method,status}, the latency histogram per route, and
 * dnevnik_http_errors_total for status >= 500.
 * A matched route is labelled with its registered method. For unmatched
 * requests the method is one of GET HEAD POST PUT DELETE PATCH OPTIONS
 * CONNECT TRACE, anything else is "OTHER", so clients cannot create series;
 * an out-of-range route_id counts as unmatched. A status outside 100..599
 * is labelled status="other". Safe before dn_metrics_init (unmatched only).
 */
void dn_metrics_request_done(int route_id, const char *method, int status, uint64_t elapsed_ns);
/** dnevnik_http_requests_in_flight gauge. */
void dn_metrics_inflight_add(int delta);
/** dnevnik_http_connections_open gauge (accepted, not yet closed). */
void dn_metrics_connections_add(int delta);
/**
 * One connection closed at accept: dnevnik_http_connections_rejected_total
 * {reason}, reason "max_connections" or "per_address"; any other string is
 * counted as "other" so callers cannot create series.
 */
void dn_metrics_connection_rejected(const char *reason);
/** dnevnik_store_query_duration_seconds histogram and dnevnik_store_errors_total. */
void dn_metrics_store_query(uint64_t elapsed_ns, int failed);
/** Worker pool usage: dnevnik_workers{pool,state="busy|total"} and queue length. */
void dn_metrics_pool_set_total(const char *pool, int total);
void dn_metrics_pool_busy_add(const char *pool, int delta);
void dn_metrics_pool_queue_add(const char *pool, int delta);

/**
 * Render everything, plus process_cpu_seconds_total, process_resident_memory_bytes,
 * process_start_time_seconds and dnevnik_build_info. Returns a malloc'd
 * NUL-terminated buffer (caller frees) and its length in *len; NULL on ENOMEM.
 */
char *dn_metrics_render(size_t *len);

#endif
