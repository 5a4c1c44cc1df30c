/* Prometheus metrics: counters, gauges and histograms with labels, rendered
 * in the text exposition format (version 0.0.4).
 *
 * Label values are passed as trailing const char * arguments, exactly as many
 * as the metric declared label names:
 *
 *	struct metric *m = metrics_counter(reg, "ironlb_arp_answers_total",
 *					   "ARP requests answered.", "interface");
 *	metric_add(m, 1, "eth0");
 */
#ifndef IRONLB_METRICS_H
#define IRONLB_METRICS_H

#include <stddef.h>

#define METRICS_MAX_LABELS 6

struct metrics;
struct metric;

typedef void (*metrics_collect_fn)(struct metrics *reg, void *userdata);

struct metrics *metrics_new(void);
void metrics_free(struct metrics *reg);

/* labels: comma-separated label names ("pool,family"), or NULL/"" for none.
 * Returns NULL if the name or labels are not valid Prometheus identifiers,
 * the name is taken, or memory ran out. The registry owns the metric. */
struct metric *metrics_counter(struct metrics *reg, const char *name, const char *help,
			       const char *labels);
struct metric *metrics_gauge(struct metrics *reg, const char *name, const char *help,
			     const char *labels);
/* bounds: strictly increasing upper bounds, without +Inf (added implicitly). */
struct metric *metrics_histogram(struct metrics *reg, const char *name, const char *help,
				 const char *labels, const double *bounds, size_t n_bounds);

/* Counter or gauge += v (v >= 0 for counters; negative values are ignored). */
void metric_add(struct metric *m, double v, ...);
/* Gauge = v; on a counter, for collectors that mirror a count kept
 * elsewhere (which must never go down). */
void metric_set(struct metric *m, double v, ...);
/* Histogram observation. */
void metric_observe(struct metric *m, double v, ...);
/* Current value of a counter or gauge series (0 if absent): for tests and
 * for the daemons' own status output. */
double metric_value(struct metric *m, ...);
/* Forget one series (e.g. a deleted pool) or all of them. */
void metric_remove(struct metric *m, ...);
void metric_clear(struct metric *m);

/* Called on every render before output, to refresh gauges from state. */
int metrics_add_collector(struct metrics *reg, metrics_collect_fn fn, void *userdata);
/* Registers process_* metrics (RSS, virtual memory, open and max fds, CPU
 * seconds, start time) read from /proc/self. */
int metrics_add_process_collector(struct metrics *reg);

/* Renders everything into a new NUL-terminated buffer the caller frees.
 * Families sorted by name, series by label values: output is deterministic. */
int metrics_render(struct metrics *reg, char **ret_text, size_t *ret_len);

#endif
