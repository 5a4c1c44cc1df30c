/* Prometheus metrics registry and text exposition.
 *
 * Each metric keeps its series in a chained hash table keyed by the joined
 * label values, so updating a series is O(1) however many there are (the
 * speaker may keep one per announced address). Rendering sorts, so the output
 * does not depend on insertion order.
 */
#include "ironlb/metrics.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct series {
	struct series *next; /* hash chain */
	char *key;	     /* label values joined by '\x1f' */
	char **values;
	double value;	   /* counter, gauge */
	uint64_t *buckets; /* histogram: n_bounds + 1 cumulative-at-render counts */
	double sum;
	uint64_t count;
};

struct metric {
	struct metric *next;
	enum metric_type type;
	char *name;
	char *help;
	char *label_names[METRICS_MAX_LABELS];
	size_t n_labels;
	double *bounds;
	size_t n_bounds;
	struct series **table;
	size_t n_buckets, n_series;
};

struct collector {
	struct collector *next;
	metrics_collect_fn fn;
	void *userdata;
};

struct proc_metrics {
	struct metric *rss, *vsz, *fds, *max_fds, *cpu, *start;
};

struct metrics {
	struct metric *metrics;
	struct collector *collectors;
	struct proc_metrics proc; /* set by metrics_add_process_collector() */
};

static bool valid_name(const char *s)
{
	if (!s || !(isalpha((unsigned char)*s) || *s == '_' || *s == ':'))
		return false;
	for (s++; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == ':'))
			return false;
	return true;
}

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

static void series_free(struct series *s, size_t n_labels)
{
	if (!s)
		return;
	for (size_t i = 0; i < n_labels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->buckets);
	free(s->key);
	free(s);
}

static void metric_free(struct metric *m)
{
	metric_clear(m);
	free(m->table);
	for (size_t i = 0; i < m->n_labels; i++)
		free(m->label_names[i]);
	free(m->bounds);
	free(m->name);
	free(m->help);
	free(m);
}

void metrics_free(struct metrics *reg)
{
	if (!reg)
		return;
	while (reg->metrics) {
		struct metric *m = reg->metrics;

		reg->metrics = m->next;
		metric_free(m);
	}
	while (reg->collectors) {
		struct collector *c = reg->collectors;

		reg->collectors = c->next;
		free(c);
	}
	free(reg);
}

/* Label names: identifiers without ':', not reserved ("__" prefix, "le" of
 * histograms), each once. name may be NULL (allocation failure). */
static bool label_name_ok(const struct metric *m, const char *name)
{
	if (!name || !valid_name(name) || strchr(name, ':') || strncmp(name, "__", 2) == 0)
		return false;
	if (m->type == METRIC_HISTOGRAM && strcmp(name, "le") == 0)
		return false;
	for (size_t i = 0; i < m->n_labels; i++)
		if (strcmp(m->label_names[i], name) == 0)
			return false;
	return true;
}

static struct metric *metric_register(struct metrics *reg, enum metric_type type, const char *name,
				      const char *help, const char *labels)
{
	struct metric *m;

	if (!valid_name(name))
		return NULL;
	for (m = reg->metrics; m; m = m->next)
		if (strcmp(m->name, name) == 0)
			return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->type = type;
	m->name = strdup(name);
	m->help = strdup(help ? help : "");
	if (!m->name || !m->help)
		goto fail;
	if (labels && *labels) {
		const char *p = labels;

		while (*p) {
			size_t len = strcspn(p, ",");

			if (m->n_labels == METRICS_MAX_LABELS || len == 0)
				goto fail;
			m->label_names[m->n_labels] = strndup(p, len);
			if (!label_name_ok(m, m->label_names[m->n_labels])) {
				m->n_labels++;
				goto fail;
			}
			m->n_labels++;
			p += len;
			if (*p == ',' && !*++p)
				goto fail; /* "a," */
		}
	}
	m->next = reg->metrics;
	reg->metrics = m;
	return m;
fail:
	metric_free(m);
	return NULL;
}

struct metric *metrics_counter(struct metrics *reg, const char *name, const char *help,
			       const char *labels)
{
	return metric_register(reg, METRIC_COUNTER, name, help, labels);
}

struct metric *metrics_gauge(struct metrics *reg, const char *name, const char *help,
			     const char *labels)
{
	return metric_register(reg, METRIC_GAUGE, name, help, labels);
}

struct metric *metrics_histogram(struct metrics *reg, const char *name, const char *help,
				 const char *labels, const double *bounds, size_t n_bounds)
{
	struct metric *m;

	for (size_t i = 0; i < n_bounds; i++)
		if (!isfinite(bounds[i]) || (i && !(bounds[i] > bounds[i - 1])))
			return NULL;
	m = metric_register(reg, METRIC_HISTOGRAM, name, help, labels);
	if (!m)
		return NULL;
	m->bounds = calloc(n_bounds ? n_bounds : 1, sizeof(double));
	if (!m->bounds) {
		reg->metrics = m->next;
		metric_free(m);
		return NULL;
	}
	if (n_bounds)
		memcpy(m->bounds, bounds, n_bounds * sizeof(double));
	m->n_bounds = n_bounds;
	return m;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

/* Joins the label values into a key; NULL on allocation failure. Values
 * are separated by '\x1f', and a '\x1f' or '\x1e' inside a value is
 * preceded by '\x1e', so that different values never make the same key. */
static char *series_key(const struct metric *m, const char **values)
{
	size_t len = 1;
	char *key, *p;

	for (size_t i = 0; i < m->n_labels; i++)
		len += 2 * strlen(values[i]) + 1;
	key = malloc(len);
	if (!key)
		return NULL;
	p = key;
	for (size_t i = 0; i < m->n_labels; i++) {
		for (const char *v = values[i]; *v; v++) {
			if (*v == '\x1f' || *v == '\x1e')
				*p++ = '\x1e';
			*p++ = *v;
		}
		if (i + 1 < m->n_labels)
			*p++ = '\x1f';
	}
	*p = '\0';
	return key;
}

static int table_grow(struct metric *m)
{
	size_t n = m->n_buckets ? m->n_buckets * 2 : 8;
	struct series **t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_buckets; i++) {
		while (m->table[i]) {
			struct series *s = m->table[i];

			m->table[i] = s->next;
			s->next = t[hash_str(s->key) % n];
			t[hash_str(s->key) % n] = s;
		}
	}
	free(m->table);
	m->table = t;
	m->n_buckets = n;
	return 0;
}

/* Finds the series for the label values in ap, creating it if create.
 * Label values that are NULL count as "". */
static struct series *series_get(struct metric *m, va_list ap, bool create)
{
	const char *values[METRICS_MAX_LABELS];
	struct series *s;
	char *key;
	size_t slot;

	for (size_t i = 0; i < m->n_labels; i++) {
		values[i] = va_arg(ap, const char *);
		if (!values[i])
			values[i] = "";
	}
	key = series_key(m, values);
	if (!key)
		return NULL;
	if (m->n_buckets) {
		for (s = m->table[hash_str(key) % m->n_buckets]; s; s = s->next) {
			if (strcmp(s->key, key) == 0) {
				free(key);
				return s;
			}
		}
	}
	if (!create || (m->n_series >= m->n_buckets && table_grow(m) < 0))
		goto fail;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	s->key = key;
	s->values = calloc(m->n_labels ? m->n_labels : 1, sizeof(char *));
	if (m->type == METRIC_HISTOGRAM)
		s->buckets = calloc(m->n_bounds + 1, sizeof(uint64_t));
	if (!s->values || (m->type == METRIC_HISTOGRAM && !s->buckets)) {
		series_free(s, 0);
		return NULL;
	}
	for (size_t i = 0; i < m->n_labels; i++) {
		s->values[i] = strdup(values[i]);
		if (!s->values[i]) {
			series_free(s, i);
			return NULL;
		}
	}
	slot = hash_str(key) % m->n_buckets;
	s->next = m->table[slot];
	m->table[slot] = s;
	m->n_series++;
	return s;
fail:
	free(key);
	return NULL;
}

void metric_add(struct metric *m, double v, ...)
{
	struct series *s;
	va_list ap;

	if (!m || m->type == METRIC_HISTOGRAM || (m->type == METRIC_COUNTER && !(v >= 0)))
		return;
	va_start(ap, v);
	s = series_get(m, ap, true);
	va_end(ap);
	if (s)
		s->value += v;
}

void metric_set(struct metric *m, double v, ...)
{
	struct series *s;
	va_list ap;

	if (!m || m->type == METRIC_HISTOGRAM)
		return;
	va_start(ap, v);
	s = series_get(m, ap, true);
	va_end(ap);
	if (s)
		s->value = v;
}

void metric_observe(struct metric *m, double v, ...)
{
	struct series *s;
	va_list ap;
	size_t i;

	if (!m || m->type != METRIC_HISTOGRAM || isnan(v))
		return;
	va_start(ap, v);
	s = series_get(m, ap, true);
	va_end(ap);
	if (!s)
		return;
	for (i = 0; i < m->n_bounds && v > m->bounds[i]; i++)
		;
	s->buckets[i]++;
	s->sum += v;
	s->count++;
}

double metric_value(struct metric *m, ...)
{
	struct series *s;
	va_list ap;

	if (!m)
		return 0;
	va_start(ap, m);
	s = series_get(m, ap, false);
	va_end(ap);
	if (!s)
		return 0;
	return m->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
}

void metric_remove(struct metric *m, ...)
{
	struct series *s, **pp;
	va_list ap;

	if (!m || !m->n_buckets)
		return;
	va_start(ap, m);
	s = series_get(m, ap, false);
	va_end(ap);
	if (!s)
		return;
	for (pp = &m->table[hash_str(s->key) % m->n_buckets]; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			series_free(s, m->n_labels);
			m->n_series--;
			return;
		}
	}
}

void metric_clear(struct metric *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_buckets; i++) {
		while (m->table[i]) {
			struct series *s = m->table[i];

			m->table[i] = s->next;
			series_free(s, m->n_labels);
		}
	}
	m->n_series = 0;
}

int metrics_add_collector(struct metrics *reg, metrics_collect_fn fn, void *userdata)
{
	struct collector *c = calloc(1, sizeof(*c)), **pp;

	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->userdata = userdata;
	/* Run in registration order. */
	for (pp = &reg->collectors; *pp; pp = &(*pp)->next)
		;
	*pp = c;
	return 0;
}

/* ---- process metrics ---- */

static void collect_process(struct metrics *reg, void *userdata)
{
	struct proc_metrics *proc = &reg->proc;
	long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
	unsigned long long utime = 0, stime = 0, starttime = 0, vsize = 0;
	long long rss = 0;
	char buf[1024], *p;
	struct rlimit rl;
	FILE *f;
	DIR *d;

	(void)userdata;
	f = fopen("/proc/self/stat", "re");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		fclose(f);
		/* Fields after the command name, which may hold spaces and
		 * parentheses: start after its last ')'. */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d "
				"%*d %*d %*d %llu %llu %lld",
				&utime, &stime, &starttime, &vsize, &rss) == 5) {
			metric_set(proc->rss, (double)rss * (double)page);
			metric_set(proc->vsz, (double)vsize);
			metric_set(proc->cpu, (double)(utime + stime) / (double)ticks);
		}
	}
	if (metric_value(proc->start) == 0) {
		/* Boot time plus the process's start offset since boot. */
		f = fopen("/proc/stat", "re");
		if (f) {
			unsigned long long btime = 0;

			while (fgets(buf, sizeof(buf), f))
				if (sscanf(buf, "btime %llu", &btime) == 1)
					break;
			fclose(f);
			if (btime)
				metric_set(proc->start,
					   (double)btime + (double)starttime / (double)ticks);
		}
	}
	d = opendir("/proc/self/fd");
	if (d) {
		long n = 0;
		struct dirent *de;

		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				n++;
		closedir(d);
		metric_set(proc->fds, (double)(n - 1)); /* minus the one opendir holds */
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		metric_set(proc->max_fds, (double)rl.rlim_cur);
}

int metrics_add_process_collector(struct metrics *reg)
{
	struct proc_metrics p;

	/* Into a local first: a second call fails on the taken names and
	 * must not leave the first collector without its metrics. */
	p.rss = metrics_gauge(reg, "process_resident_memory_bytes",
			      "Resident memory size in bytes.", NULL);
	p.vsz = metrics_gauge(reg, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
			      NULL);
	p.fds = metrics_gauge(reg, "process_open_fds", "Number of open file descriptors.", NULL);
	p.max_fds = metrics_gauge(reg, "process_max_fds",
				  "Maximum number of open file descriptors.", NULL);
	p.cpu = metrics_counter(reg, "process_cpu_seconds_total",
				"Total user and system CPU time spent in seconds.", NULL);
	p.start = metrics_gauge(reg, "process_start_time_seconds",
				"Start time of the process since unix epoch in seconds.", NULL);
	if (!p.rss || !p.vsz || !p.fds || !p.max_fds || !p.cpu || !p.start)
		return -EINVAL;
	reg->proc = p;
	return metrics_add_collector(reg, collect_process, NULL);
}

/* ---- rendering ---- */

struct out {
	char *p;
	size_t len, cap;
	bool oom;
};

static void out_write(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		char *p;

		while (o->len + n + 1 > cap)
			cap *= 2;
		p = realloc(o->p, cap);
		if (!p) {
			o->oom = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void out_puts(struct out *o, const char *s)
{
	out_write(o, s, strlen(s));
}

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_write(o, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* HELP text escapes '\' and newline; label values also '"'. */
static void out_escaped(struct out *o, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			out_puts(o, "\\\\");
		else if (*s == '\n')
			out_puts(o, "\\n");
		else if (quote && *s == '"')
			out_puts(o, "\\\"");
		else
			out_write(o, s, 1);
	}
}

/* The shortest decimal that reads back as exactly v ("0.1", not
 * "0.10000000000000001"), as Prometheus' own clients write numbers. */
static void format_double(char *buf, size_t len, double v)
{
	if (fabs(v) < 1e15 && v == (double)(long long)v) {
		snprintf(buf, len, "%lld", (long long)v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void out_value(struct out *o, double v)
{
	char buf[40];

	if (isnan(v))
		out_puts(o, "NaN");
	else if (isinf(v))
		out_puts(o, v > 0 ? "+Inf" : "-Inf");
	else {
		format_double(buf, sizeof(buf), v);
		out_puts(o, buf);
	}
}

/* Writes {a="x",b="y"[,le="..."]}; nothing when there are no labels. */
static void out_labels(struct out *o, const struct metric *m, const struct series *s,
		       const char *le)
{
	if (!m->n_labels && !le)
		return;
	out_puts(o, "{");
	for (size_t i = 0; i < m->n_labels; i++) {
		if (i)
			out_puts(o, ",");
		out_puts(o, m->label_names[i]);
		out_puts(o, "=\"");
		out_escaped(o, s->values[i], true);
		out_puts(o, "\"");
	}
	if (le) {
		if (m->n_labels)
			out_puts(o, ",");
		out_puts(o, "le=\"");
		out_puts(o, le);
		out_puts(o, "\"");
	}
	out_puts(o, "}");
}

/* qsort() has no context argument; rendering is single-threaded. */
static size_t cmp_n_labels;

static int cmp_series(const void *a, const void *b)
{
	const struct series *x = *(const struct series *const *)a;
	const struct series *y = *(const struct series *const *)b;

	/* By values in label order, whatever bytes they hold. */
	for (size_t i = 0; i < cmp_n_labels; i++) {
		int r = strcmp(x->values[i], y->values[i]);

		if (r)
			return r;
	}
	return 0;
}

static int cmp_metric(const void *a, const void *b)
{
	const struct metric *x = *(const struct metric *const *)a;
	const struct metric *y = *(const struct metric *const *)b;

	return strcmp(x->name, y->name);
}

static void render_metric(struct out *o, const struct metric *m)
{
	static const char *const type_names[] = { "counter", "gauge", "histogram" };
	struct series **all;
	size_t n = 0;

	out_puts(o, "# HELP ");
	out_puts(o, m->name);
	out_puts(o, " ");
	out_escaped(o, m->help, false);
	out_puts(o, "\n# TYPE ");
	out_puts(o, m->name);
	out_puts(o, " ");
	out_puts(o, type_names[m->type]);
	out_puts(o, "\n");
	if (!m->n_series)
		return;
	all = malloc(m->n_series * sizeof(*all));
	if (!all) {
		o->oom = true;
		return;
	}
	for (size_t i = 0; i < m->n_buckets; i++)
		for (struct series *s = m->table[i]; s; s = s->next)
			all[n++] = s;
	cmp_n_labels = m->n_labels;
	qsort(all, n, sizeof(*all), cmp_series);
	for (size_t i = 0; i < n; i++) {
		const struct series *s = all[i];

		if (m->type != METRIC_HISTOGRAM) {
			out_puts(o, m->name);
			out_labels(o, m, s, NULL);
			out_puts(o, " ");
			out_value(o, s->value);
			out_puts(o, "\n");
			continue;
		}
		uint64_t cum = 0;

		for (size_t b = 0; b <= m->n_bounds; b++) {
			char le[40];

			cum += s->buckets[b];
			if (b < m->n_bounds)
				format_double(le, sizeof(le), m->bounds[b]);
			else
				snprintf(le, sizeof(le), "+Inf");
			out_puts(o, m->name);
			out_puts(o, "_bucket");
			out_labels(o, m, s, le);
			out_printf(o, " %llu\n", (unsigned long long)cum);
		}
		out_puts(o, m->name);
		out_puts(o, "_sum");
		out_labels(o, m, s, NULL);
		out_puts(o, " ");
		out_value(o, s->sum);
		out_puts(o, "\n");
		out_puts(o, m->name);
		out_puts(o, "_count");
		out_labels(o, m, s, NULL);
		out_printf(o, " %llu\n", (unsigned long long)s->count);
	}
	free(all);
}

int metrics_render(struct metrics *reg, char **ret_text, size_t *ret_len)
{
	struct out o = { 0 };
	struct metric **all;
	size_t n = 0;

	for (struct collector *c = reg->collectors; c; c = c->next)
		c->fn(reg, c->userdata);
	for (struct metric *m = reg->metrics; m; m = m->next)
		n++;
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	n = 0;
	for (struct metric *m = reg->metrics; m; m = m->next)
		all[n++] = m;
	qsort(all, n, sizeof(*all), cmp_metric);
	out_puts(&o, "");
	for (size_t i = 0; i < n; i++)
		render_metric(&o, all[i]);
	free(all);
	if (o.oom) {
		free(o.p);
		return -ENOMEM;
	}
	*ret_text = o.p;
	if (ret_len)
		*ret_len = o.len;
	return 0;
}
