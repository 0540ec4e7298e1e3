/*
 * metrics.h — Prometheus counters, gauges and histograms, rendered as the
 * text exposition format (version 0.0.4) at /metrics.
 *
 * A metric is a name plus label values; label values come from bounded sets
 * (route names, reason codes, tenant ids, algorithm names), never from
 * secrets or tokens. Thread-safe.
 */
#ifndef GH_METRICS_H
#define GH_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Declares a metric once at startup: type is "counter", "gauge" or
 * "histogram"; labels is a comma-separated list of label names ("" none). */
void	metrics_declare(const char *name, const char *type, const char *help,
	    const char *labels);
/* Adds v to the counter or sets the gauge with these label values (as many
 * as the metric's labels, in order). */
void	metrics_add(const char *name, double v, const char *const *label_values);
void	metrics_set(const char *name, double v, const char *const *label_values);
/* Observes a value (seconds) into the histogram. */
void	metrics_observe(const char *name, double v,
	    const char *const *label_values);
/* The whole exposition, malloc'd, NUL-terminated. */
char	*metrics_render(size_t *len);

#endif
