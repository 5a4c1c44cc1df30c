/* Unit tests for lib/metrics.c: the registry's rules on names and labels,
 * counter/gauge/histogram arithmetic, series removal, and the text
 * exposition format, checked byte for byte on a small registry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ironlb/metrics.h"

static int setup(void **state)
{
	*state = metrics_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	metrics_free(*state);
	return 0;
}

/* Renders reg; the caller frees. */
static char *render(struct metrics *reg)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(metrics_render(reg, &text, &len), 0);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static void assert_render_equals(struct metrics *reg, const char *want)
{
	char *got = render(reg);

	if (strcmp(got, want) != 0) {
		print_error("got:\n%s\nwant:\n%s\n", got, want);
		free(got);
		fail();
	}
	free(got);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("\"%s\" not found in:\n%s", needle, haystack);
}

static void test_render_of_small_registry_is_exact(void **state)
{
	static const double bounds[] = { 0.1, 0.5, 1 };
	struct metrics *reg = *state;
	struct metric *a, *b, *c;

	a = metrics_counter(reg, "ironlb_a_total", "A count.", NULL);
	b = metrics_gauge(reg, "ironlb_b", "Back\\slash and\nnewline \"kept\".", "pool,family");
	c = metrics_histogram(reg, "ironlb_c_seconds", "Latency.", "op", bounds, 3);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	metric_add(a, 1);
	metric_add(a, 2);
	metric_set(b, 1.5, "p\"1", "ipv4");
	metric_set(b, -2, "a\\b\nc", "ipv6");
	metric_observe(c, 0.0625, "x");
	metric_observe(c, 0.25, "x");
	metric_observe(c, 0.5, "x"); /* on a bound: counts in that bucket (le) */
	metric_observe(c, 7, "x");
	assert_render_equals(reg, "# HELP ironlb_a_total A count.\n"
				  "# TYPE ironlb_a_total counter\n"
				  "ironlb_a_total 3\n"
				  "# HELP ironlb_b Back\\\\slash and\\nnewline \"kept\".\n"
				  "# TYPE ironlb_b gauge\n"
				  "ironlb_b{pool=\"a\\\\b\\nc\",family=\"ipv6\"} -2\n"
				  "ironlb_b{pool=\"p\\\"1\",family=\"ipv4\"} 1.5\n"
				  "# HELP ironlb_c_seconds Latency.\n"
				  "# TYPE ironlb_c_seconds histogram\n"
				  "ironlb_c_seconds_bucket{op=\"x\",le=\"0.1\"} 1\n"
				  "ironlb_c_seconds_bucket{op=\"x\",le=\"0.5\"} 3\n"
				  "ironlb_c_seconds_bucket{op=\"x\",le=\"1\"} 3\n"
				  "ironlb_c_seconds_bucket{op=\"x\",le=\"+Inf\"} 4\n"
				  "ironlb_c_seconds_sum{op=\"x\"} 7.8125\n"
				  "ironlb_c_seconds_count{op=\"x\"} 4\n");
}

static void test_empty_registry_renders_empty_string(void **state)
{
	assert_render_equals(*state, "");
}

static void test_metric_without_series_renders_help_and_type_only(void **state)
{
	struct metrics *reg = *state;

	assert_non_null(metrics_gauge(reg, "g", NULL, "l"));
	assert_render_equals(reg, "# HELP g \n# TYPE g gauge\n");
}

static void test_families_are_sorted_by_name_whatever_the_order_of_creation(void **state)
{
	struct metrics *reg = *state;

	metric_set(metrics_gauge(reg, "zz", "z", NULL), 1);
	metric_set(metrics_gauge(reg, "aa", "a", NULL), 2);
	metric_set(metrics_gauge(reg, "mm", "m", NULL), 3);
	assert_render_equals(reg, "# HELP aa a\n# TYPE aa gauge\naa 2\n"
				  "# HELP mm m\n# TYPE mm gauge\nmm 3\n"
				  "# HELP zz z\n# TYPE zz gauge\nzz 1\n");
}

static void test_series_are_sorted_by_label_values_in_label_order(void **state)
{
	struct metrics *reg = *state;
	struct metric *m = metrics_gauge(reg, "g", "h", "a,b");

	metric_set(m, 1, "b", "a");
	metric_set(m, 2, "a\n", "a");
	metric_set(m, 3, "a", "z");
	metric_set(m, 4, "", "b");
	metric_set(m, 5, "a", "");
	assert_render_equals(reg, "# HELP g h\n# TYPE g gauge\n"
				  "g{a=\"\",b=\"b\"} 4\n"
				  "g{a=\"a\",b=\"\"} 5\n"
				  "g{a=\"a\",b=\"z\"} 3\n"
				  "g{a=\"a\\n\",b=\"a\"} 2\n"
				  "g{a=\"b\",b=\"a\"} 1\n");
}

/* Label values are data (names from the API): whatever bytes they hold,
 * two different sets of values are two different series. */
static void test_distinct_label_values_never_share_a_series(void **state)
{
	struct metrics *reg = *state;
	struct metric *m = metrics_counter(reg, "c_total", "h", "a,b");

	metric_add(m, 1, "x\x1fy", "z");
	metric_add(m, 10, "x", "y\x1fz");
	metric_add(m, 100, "x\x1f", "y\x1fz");
	assert_true(metric_value(m, "x\x1fy", "z") == 1);
	assert_true(metric_value(m, "x", "y\x1fz") == 10);
	assert_true(metric_value(m, "x\x1f", "y\x1fz") == 100);
	metric_remove(m, "x", "y\x1fz");
	assert_true(metric_value(m, "x\x1fy", "z") == 1);
	assert_true(metric_value(m, "x", "y\x1fz") == 0);
}

static void test_zero_to_six_labels(void **state)
{
	struct metrics *reg = *state;
	struct metric *m0 = metrics_counter(reg, "m0", "", NULL);
	struct metric *m0b = metrics_counter(reg, "m0b", "", "");
	struct metric *m1 = metrics_counter(reg, "m1", "", "a");
	struct metric *m6 = metrics_counter(reg, "m6", "", "a,b,c,d,e,f");

	assert_non_null(m0);
	assert_non_null(m0b);
	assert_non_null(m1);
	assert_non_null(m6);
	assert_null(metrics_counter(reg, "m7", "", "a,b,c,d,e,f,g"));
	metric_add(m0, 1);
	metric_add(m0b, 2);
	metric_add(m1, 3, "x");
	metric_add(m6, 4, "1", "2", "3", "4", "5", "6");
	assert_true(metric_value(m0) == 1);
	assert_true(metric_value(m0b) == 2);
	assert_true(metric_value(m1, "x") == 3);
	assert_true(metric_value(m1, "y") == 0);
	assert_true(metric_value(m6, "1", "2", "3", "4", "5", "6") == 4);
	assert_render_equals(reg, "# HELP m0 \n# TYPE m0 counter\nm0 1\n"
				  "# HELP m0b \n# TYPE m0b counter\nm0b 2\n"
				  "# HELP m1 \n# TYPE m1 counter\nm1{a=\"x\"} 3\n"
				  "# HELP m6 \n# TYPE m6 counter\n"
				  "m6{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\"} 4\n");
}

static void test_null_label_value_counts_as_empty(void **state)
{
	struct metric *m = metrics_gauge(*state, "g", "", "a");

	metric_set(m, 5, NULL);
	assert_true(metric_value(m, "") == 5);
	assert_render_equals(*state, "# HELP g \n# TYPE g gauge\ng{a=\"\"} 5\n");
}

static void test_invalid_metric_names_are_rejected(void **state)
{
	static const char *const bad[] = { "",	  "1abc",	 "a-b", "a b",
					   "a.b", "caf\xc3\xa9", "a/b", "a\n" };
	struct metrics *reg = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (metrics_counter(reg, bad[i], "", NULL))
			fail_msg("metric name \"%s\" accepted", bad[i]);
		if (metrics_gauge(reg, bad[i], "", NULL))
			fail_msg("metric name \"%s\" accepted", bad[i]);
		if (metrics_histogram(reg, bad[i], "", NULL, NULL, 0))
			fail_msg("metric name \"%s\" accepted", bad[i]);
	}
	assert_null(metrics_counter(reg, NULL, "", NULL));
	assert_non_null(metrics_counter(reg, "_ok", "", NULL));
	assert_non_null(metrics_counter(reg, "ns:sub_total", "", NULL));
	assert_non_null(metrics_counter(reg, "A9", "", NULL));
	assert_render_equals(reg, "# HELP A9 \n# TYPE A9 counter\n"
				  "# HELP _ok \n# TYPE _ok counter\n"
				  "# HELP ns:sub_total \n# TYPE ns:sub_total counter\n");
}

static void test_invalid_label_names_are_rejected(void **state)
{
	static const char *const bad[] = { "a-b", "1a", "a:b", "a b",	 ",a",	  "a,,b",
					   "a,",  ",",	"a,a", "__name", "b,__x", "a,b,a" };
	struct metrics *reg = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (metrics_gauge(reg, "g", "", bad[i]))
			fail_msg("label names \"%s\" accepted", bad[i]);
	assert_non_null(metrics_gauge(reg, "g", "", "_a,b1,le"));
	assert_render_equals(reg, "# HELP g \n# TYPE g gauge\n");
}

static void test_histogram_rejects_le_label_and_bad_bounds(void **state)
{
	static const double decreasing[] = { 1, 0.5 };
	static const double equal[] = { 1, 1 };
	static const double with_nan[] = { NAN };
	static const double with_inf[] = { 1, INFINITY };
	static const double ok[] = { -1, 0, 1 };
	struct metrics *reg = *state;

	assert_null(metrics_histogram(reg, "h", "", "le", ok, 3));
	assert_null(metrics_histogram(reg, "h", "", "a,le", ok, 3));
	assert_null(metrics_histogram(reg, "h", "", NULL, decreasing, 2));
	assert_null(metrics_histogram(reg, "h", "", NULL, equal, 2));
	assert_null(metrics_histogram(reg, "h", "", NULL, with_nan, 1));
	assert_null(metrics_histogram(reg, "h", "", NULL, with_inf, 2));
	assert_non_null(metrics_histogram(reg, "h", "", NULL, ok, 3));
	assert_render_equals(reg, "# HELP h \n# TYPE h histogram\n");
}

static void test_duplicate_names_are_rejected_across_types(void **state)
{
	struct metrics *reg = *state;

	assert_non_null(metrics_counter(reg, "x", "", NULL));
	assert_null(metrics_counter(reg, "x", "", NULL));
	assert_null(metrics_gauge(reg, "x", "", "a"));
	assert_null(metrics_histogram(reg, "x", "", NULL, NULL, 0));
	assert_non_null(metrics_gauge(reg, "y", "", NULL));
	assert_null(metrics_counter(reg, "y", "", NULL));
}

static void test_counter_ignores_negative_and_nan_adds(void **state)
{
	struct metric *m = metrics_counter(*state, "c_total", "", NULL);

	metric_add(m, 2);
	metric_add(m, -1);
	metric_add(m, NAN);
	metric_add(m, 0.5);
	assert_true(metric_value(m) == 2.5);
}

static void test_gauge_add_and_set(void **state)
{
	struct metric *m = metrics_gauge(*state, "g", "", "k");

	metric_add(m, 5, "a");
	metric_add(m, -7, "a");
	assert_true(metric_value(m, "a") == -2);
	metric_set(m, 10, "a");
	assert_true(metric_value(m, "a") == 10);
	metric_set(m, 0, "b");
	assert_render_equals(*state, "# HELP g \n# TYPE g gauge\ng{k=\"a\"} 10\ng{k=\"b\"} 0\n");
}

static void test_calls_on_wrong_type_or_null_metric_are_ignored(void **state)
{
	static const double b[] = { 1 };
	struct metric *h = metrics_histogram(*state, "h", "", NULL, b, 1);
	struct metric *c = metrics_counter(*state, "c", "", NULL);

	metric_add(h, 1);
	metric_set(h, 1);
	metric_observe(c, 1);
	metric_observe(h, NAN);
	metric_add(NULL, 1);
	metric_set(NULL, 1);
	metric_observe(NULL, 1);
	metric_remove(NULL);
	metric_clear(NULL);
	assert_true(metric_value(NULL) == 0);
	assert_render_equals(*state,
			     "# HELP c \n# TYPE c counter\n# HELP h \n# TYPE h histogram\n");
}

static void test_histogram_buckets_are_cumulative_with_inf_sum_and_count(void **state)
{
	static const double b[] = { 1, 2, 5 };
	struct metric *h = metrics_histogram(*state, "lat", "L.", NULL, b, 3);

	metric_observe(h, -3);
	metric_observe(h, 1);
	metric_observe(h, 1.5);
	metric_observe(h, 5);
	metric_observe(h, 5.5);
	metric_observe(h, INFINITY);
	assert_true(metric_value(h) == 6);
	assert_render_equals(*state, "# HELP lat L.\n# TYPE lat histogram\n"
				     "lat_bucket{le=\"1\"} 2\n"
				     "lat_bucket{le=\"2\"} 3\n"
				     "lat_bucket{le=\"5\"} 4\n"
				     "lat_bucket{le=\"+Inf\"} 6\n"
				     "lat_sum +Inf\n"
				     "lat_count 6\n");
}

static void test_histogram_without_bounds_has_only_inf_bucket(void **state)
{
	struct metric *h = metrics_histogram(*state, "h", "", "x", NULL, 0);

	metric_observe(h, 2, "a");
	metric_observe(h, 3, "a");
	assert_render_equals(*state, "# HELP h \n# TYPE h histogram\n"
				     "h_bucket{x=\"a\",le=\"+Inf\"} 2\n"
				     "h_sum{x=\"a\"} 5\n"
				     "h_count{x=\"a\"} 2\n");
}

static void test_values_render_in_prometheus_syntax(void **state)
{
	static const double b[] = { 0.005, 0.1, 0.25, 1e-9, 1e21 };
	struct metric *g = metrics_gauge(*state, "g", "", "k");

	(void)b;
	metric_set(g, NAN, "a_nan");
	metric_set(g, INFINITY, "b_inf");
	metric_set(g, -INFINITY, "c_ninf");
	metric_set(g, 0.1, "d_tenth");
	metric_set(g, 1e20, "e_big");
	metric_set(g, 123456789012345.0, "f_int");
	metric_set(g, -0.0, "g_negzero");
	metric_set(g, 1e300, "h_huge");
	metric_set(g, 4294967296.0, "i_2p32");
	metric_set(g, 1.0 / 3, "j_third");
	assert_render_equals(*state, "# HELP g \n# TYPE g gauge\n"
				     "g{k=\"a_nan\"} NaN\n"
				     "g{k=\"b_inf\"} +Inf\n"
				     "g{k=\"c_ninf\"} -Inf\n"
				     "g{k=\"d_tenth\"} 0.1\n"
				     "g{k=\"e_big\"} 1e+20\n"
				     "g{k=\"f_int\"} 123456789012345\n"
				     "g{k=\"g_negzero\"} 0\n"
				     "g{k=\"h_huge\"} 1e+300\n"
				     "g{k=\"i_2p32\"} 4294967296\n"
				     "g{k=\"j_third\"} 0.3333333333333333\n");
}

static void test_histogram_bounds_render_as_written(void **state)
{
	static const double b[] = { 0.005, 0.1, 0.25, 2.5, 10 };
	struct metric *h = metrics_histogram(*state, "h", "", NULL, b, 5);

	metric_observe(h, 0.2);
	assert_render_equals(*state, "# HELP h \n# TYPE h histogram\n"
				     "h_bucket{le=\"0.005\"} 0\n"
				     "h_bucket{le=\"0.1\"} 0\n"
				     "h_bucket{le=\"0.25\"} 1\n"
				     "h_bucket{le=\"2.5\"} 1\n"
				     "h_bucket{le=\"10\"} 1\n"
				     "h_bucket{le=\"+Inf\"} 1\n"
				     "h_sum 0.2\n"
				     "h_count 1\n");
}

static void test_remove_forgets_one_series_and_clear_all(void **state)
{
	struct metric *m = metrics_gauge(*state, "g", "", "pool");

	metric_set(m, 1, "a");
	metric_set(m, 2, "b");
	metric_set(m, 3, "c");
	metric_remove(m, "b");
	metric_remove(m, "absent");
	assert_true(metric_value(m, "b") == 0);
	assert_render_equals(*state,
			     "# HELP g \n# TYPE g gauge\ng{pool=\"a\"} 1\ng{pool=\"c\"} 3\n");
	metric_clear(m);
	assert_render_equals(*state, "# HELP g \n# TYPE g gauge\n");
	metric_remove(m, "a");
	metric_set(m, 4, "b");
	assert_render_equals(*state, "# HELP g \n# TYPE g gauge\ng{pool=\"b\"} 4\n");
}

static void test_remove_on_metric_never_used_is_a_no_op(void **state)
{
	struct metric *m = metrics_counter(*state, "c", "", "a");

	metric_remove(m, "x");
	metric_clear(m);
	assert_render_equals(*state, "# HELP c \n# TYPE c counter\n");
}

static void test_ten_thousand_series_in_one_metric(void **state)
{
	struct metric *m = metrics_counter(*state, "addr_total", "", "address,family");
	char name[32], *text, *p, prev[64] = "";
	size_t lines = 0;

	assert_non_null(m);
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "10.0.%d.%d", i / 256, i % 256);
		metric_add(m, (double)i, name, "ipv4");
		metric_add(m, 1, name, "ipv4");
	}
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "10.0.%d.%d", i / 256, i % 256);
		if (metric_value(m, name, "ipv4") != (double)i + 1)
			fail_msg("series %s = %g, want %d", name, metric_value(m, name, "ipv4"),
				 i + 1);
	}
	text = render(*state);
	/* Sorted and complete. */
	for (p = strstr(text, "addr_total{"); p; p = strstr(p + 1, "\naddr_total{")) {
		char *line = *p == '\n' ? p + 1 : p, *end = strchr(line, ' ');

		assert_non_null(end);
		assert_true((size_t)(end - line) < sizeof(prev));
		if (lines && strncmp(prev, line, (size_t)(end - line)) >= 0)
			fail_msg("series out of order: %s then %.*s", prev, (int)(end - line),
				 line);
		memcpy(prev, line, (size_t)(end - line));
		prev[end - line] = '\0';
		lines++;
	}
	assert_int_equal(lines, 10000);
	free(text);
	for (int i = 0; i < 10000; i += 2) {
		snprintf(name, sizeof(name), "10.0.%d.%d", i / 256, i % 256);
		metric_remove(m, name, "ipv4");
	}
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "10.0.%d.%d", i / 256, i % 256);
		assert_true(metric_value(m, name, "ipv4") == (i % 2 ? (double)i + 1 : 0));
	}
}

static int collector_calls;

static void collect(struct metrics *reg, void *userdata)
{
	(void)reg;
	collector_calls++;
	metric_set(userdata, collector_calls);
}

static void test_collectors_run_on_every_render(void **state)
{
	struct metric *g = metrics_gauge(*state, "g", "", NULL);

	collector_calls = 0;
	assert_int_equal(metrics_add_collector(*state, collect, g), 0);
	assert_render_equals(*state, "# HELP g \n# TYPE g gauge\ng 1\n");
	assert_render_equals(*state, "# HELP g \n# TYPE g gauge\ng 2\n");
}

static void test_render_length_is_optional(void **state)
{
	char *text = NULL;

	metric_add(metrics_counter(*state, "c", "", NULL), 1);
	assert_int_equal(metrics_render(*state, &text, NULL), 0);
	assert_string_equal(text, "# HELP c \n# TYPE c counter\nc 1\n");
	free(text);
}

/* A value of the sample line "NAME VALUE" in text, or NAN. */
static double sample(const char *text, const char *name)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s ", name);
	p = strstr(text, pat);
	return p ? strtod(p + strlen(pat), NULL) : NAN;
}

static void test_process_collector_reports_this_process(void **state)
{
	char *text;
	double start;

	assert_int_equal(metrics_add_process_collector(*state), 0);
	text = render(*state);
	assert_true(sample(text, "process_resident_memory_bytes") > 0);
	assert_true(sample(text, "process_virtual_memory_bytes") > 0);
	assert_true(sample(text, "process_open_fds") >= 3);
	assert_true(sample(text, "process_max_fds") >= sample(text, "process_open_fds"));
	assert_true(sample(text, "process_cpu_seconds_total") >= 0);
	start = sample(text, "process_start_time_seconds");
	assert_true(start > (double)time(NULL) - 3600 && start <= (double)time(NULL) + 1);
	assert_contains(text, "# TYPE process_cpu_seconds_total counter\n");
	free(text);
}

static void test_process_collector_added_twice_keeps_working(void **state)
{
	char *text;

	assert_int_equal(metrics_add_process_collector(*state), 0);
	assert_int_equal(metrics_add_process_collector(*state), -EINVAL);
	text = render(*state);
	assert_true(sample(text, "process_resident_memory_bytes") > 0);
	assert_true(sample(text, "process_open_fds") >= 3);
	free(text);
}

/* Each registry's process metrics are its own: freeing one registry leaves
 * the other's collector working on its own metrics. */
static void test_process_collector_of_two_registries_are_independent(void **state)
{
	struct metrics *other = metrics_new();
	char *text;

	assert_non_null(other);
	assert_int_equal(metrics_add_process_collector(*state), 0);
	assert_int_equal(metrics_add_process_collector(other), 0);
	text = render(*state);
	assert_true(sample(text, "process_resident_memory_bytes") > 0);
	free(text);
	text = render(other);
	assert_true(sample(text, "process_resident_memory_bytes") > 0);
	free(text);
	metrics_free(other);
	text = render(*state);
	assert_true(sample(text, "process_open_fds") >= 3);
	free(text);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest metrics_tests[] = {
		T(test_render_of_small_registry_is_exact),
		T(test_empty_registry_renders_empty_string),
		T(test_metric_without_series_renders_help_and_type_only),
		T(test_families_are_sorted_by_name_whatever_the_order_of_creation),
		T(test_series_are_sorted_by_label_values_in_label_order),
		T(test_distinct_label_values_never_share_a_series),
		T(test_zero_to_six_labels),
		T(test_null_label_value_counts_as_empty),
		T(test_invalid_metric_names_are_rejected),
		T(test_invalid_label_names_are_rejected),
		T(test_histogram_rejects_le_label_and_bad_bounds),
		T(test_duplicate_names_are_rejected_across_types),
		T(test_counter_ignores_negative_and_nan_adds),
		T(test_gauge_add_and_set),
		T(test_calls_on_wrong_type_or_null_metric_are_ignored),
		T(test_histogram_buckets_are_cumulative_with_inf_sum_and_count),
		T(test_histogram_without_bounds_has_only_inf_bucket),
		T(test_values_render_in_prometheus_syntax),
		T(test_histogram_bounds_render_as_written),
		T(test_remove_forgets_one_series_and_clear_all),
		T(test_remove_on_metric_never_used_is_a_no_op),
		T(test_ten_thousand_series_in_one_metric),
		T(test_collectors_run_on_every_render),
		T(test_render_length_is_optional),
		T(test_process_collector_reports_this_process),
		T(test_process_collector_added_twice_keeps_working),
		T(test_process_collector_of_two_registries_are_independent),
	};
#undef T

	return cmocka_run_group_tests(metrics_tests, NULL, NULL);
}
