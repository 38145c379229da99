/*
 * metrics.h - a small Prometheus registry: counters, gauges and histograms identified by
 * name and label set, rendered in the text exposition format for GET /metrics.
 * Thread-safe. Names, help texts and label values are copied.
 */
#ifndef LEADHUB_METRICS_H
#define LEADHUB_METRICS_H

#include <stddef.h>

struct metrics;

struct metrics *metrics_create(void);
void metrics_free(struct metrics *metrics);

/* Ends every label list: a pointer, not a bare NULL that may be an int in varargs. */
#define METRICS_END ((const char *)NULL)

/*
 * Label sets are written as alternating key, value strings ending with METRICS_END:
 *   metrics_counter_add(m, "leadhub_events_total", "Events ingested.", 1,
 *                       "instance", name, "outcome", "stored", METRICS_END);
 * Values are escaped here; keys must be [a-z_]+ constants.
 */
void metrics_counter_add(struct metrics *metrics, const char *name, const char *help, double delta,
                         ...) __attribute__((sentinel));
void metrics_gauge_set(struct metrics *metrics, const char *name, const char *help, double value,
                       ...) __attribute__((sentinel));

/* Histograms use these bucket bounds (upper bounds; +Inf is implied). */
extern const double metrics_latency_buckets[]; /* seconds: 0.0005 .. 10 */
extern const size_t metrics_latency_bucket_count;
extern const double metrics_size_buckets[]; /* counts: 1 .. 10000 */
extern const size_t metrics_size_bucket_count;

void metrics_observe(struct metrics *metrics, const char *name, const char *help,
                     const double *buckets, size_t bucket_count, double value, ...)
    __attribute__((sentinel));

/* metrics_get - current value of a counter or gauge (0 when absent), for tests and
 * readiness details. Labels as above. */
double metrics_get(struct metrics *metrics, const char *name, ...) __attribute__((sentinel));

/* metrics_render - the whole registry in Prometheus text format; malloc'd. */
char *metrics_render(struct metrics *metrics);

#endif
