/* Unit tests for lib/kube_util.c and lib/kube_map.c: the string buffer and
 * URL escaping, the Kubernetes time formats, random ranges, jittered
 * backoff (bounds, growth, cap, reset), and the hash map against a simple
 * reference under random inserts, replacements and deletions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/kube_util.h"

static void test_buf_append_printf_steal(void **state)
{
	struct kube_buf b = { 0 };
	char *s;

	(void)state;
	s = kube_buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(kube_buf_puts(&b, "a"), 0);
	assert_int_equal(kube_buf_printf(&b, "-%d-%s", 42, "x"), 0);
	for (int i = 0; i < 1000; i++)
		kube_buf_append(&b, "0123456789", 10);
	assert_int_equal(b.len, 6 + 10000);
	s = kube_buf_steal(&b);
	assert_int_equal(strncmp(s, "a-42-x0123", 10), 0);
	assert_int_equal(strlen(s), 10006);
	assert_null(b.data);
	free(s);
	b.oom = true;
	assert_int_equal(kube_buf_puts(&b, "x"), -ENOMEM);
	assert_null(kube_buf_steal(&b));
	kube_buf_free(&b);
}

static void test_escape_everything_but_unreserved(void **state)
{
	struct kube_buf b = { 0 };
	char *s;

	(void)state;
	kube_buf_escape(&b, "app in (a,b),!c=d&e f/g?h#i%j~k.l_m-n\xc3\xa9");
	s = kube_buf_steal(&b);
	assert_string_equal(
		s, "app%20in%20%28a%2Cb%29%2C%21c%3Dd%26e%20f%2Fg%3Fh%23i%25j~k.l_m-n%C3%A9");
	free(s);
}

static void test_time_format(void **state)
{
	char t[KUBE_TIME_STRLEN], m[KUBE_MICROTIME_STRLEN];

	(void)state;
	kube_time_format(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00Z");
	kube_time_format(1704164645123456ull, t);
	assert_string_equal(t, "2024-01-02T03:04:05Z");
	kube_microtime_format(1704164645123456ull, m);
	assert_string_equal(m, "2024-01-02T03:04:05.123456Z");
	/* Leap day and end of a leap year. */
	kube_time_format(951782400ull * 1000000u, t);
	assert_string_equal(t, "2000-02-29T00:00:00Z");
	kube_time_format(1735689599ull * 1000000u, t);
	assert_string_equal(t, "2024-12-31T23:59:59Z");
}

static void test_time_parse(void **state)
{
	uint64_t t = 0, before;

	(void)state;
	assert_int_equal(kube_time_parse("2024-01-02T03:04:05Z", &t), 0);
	assert_int_equal(t, 1704164645000000ull);
	assert_int_equal(kube_time_parse("2024-01-02T03:04:05.123456Z", &t), 0);
	assert_int_equal(t, 1704164645123456ull);
	assert_int_equal(kube_time_parse("2024-01-02T03:04:05.1Z", &t), 0);
	assert_int_equal(t, 1704164645100000ull);
	assert_int_equal(kube_time_parse("2024-01-02T03:04:05.123456789Z", &t), 0);
	assert_int_equal(t, 1704164645123456ull);
	assert_int_equal(kube_time_parse("2024-01-02T05:04:05+02:00", &t), 0);
	assert_int_equal(t, 1704164645000000ull);
	assert_int_equal(kube_time_parse("2024-01-01T22:04:05-05:00", &t), 0);
	assert_int_equal(t, 1704164645000000ull);
	assert_int_equal(kube_time_parse("2000-02-29t00:00:00z", &t), 0);
	before = t;
	{
		static const char *const bad[] = {
			"",
			"2024",
			"2024-01-02",
			"2024-01-02T03:04:05",
			"2024-13-01T00:00:00Z",
			"2023-02-29T00:00:00Z",
			"2024-04-31T00:00:00Z",
			"2024-01-02T24:00:00Z",
			"2024-01-02T03:04:05.Z",
			"2024-01-02T03:04:05Zjunk",
			"1969-12-31T23:59:59Z",
			"2024-01-02T03:04:05+2:00",
			"2024-01-02 03:04:05Z",
			"2024-01-02T03:04:05.1234567890Z",
			"+024-01-02T03:04:05Z",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (kube_time_parse(bad[i], &t) != -EINVAL)
				fail_msg("accepted %s", bad[i]);
	}
	assert_int_equal(t, before);
	assert_int_equal(kube_time_parse(NULL, &t), -EINVAL);
}

static void test_rand_range_and_seed(void **state)
{
	uint64_t s = 1;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		uint64_t v = kube_rand_range(&s, 5, 9);

		assert_true(v >= 5 && v <= 9);
	}
	assert_int_equal(kube_rand_range(&s, 7, 7), 7);
	kube_rand_range(&s, 0, UINT64_MAX);
	assert_true(kube_rand_seed() != 0);
	s = 0;
	kube_rand_next(&s);
	assert_true(s != 0);
}

static void test_backoff_grows_with_jitter_caps_and_resets(void **state)
{
	struct kube_backoff b;
	uint64_t d;

	(void)state;
	kube_backoff_init(&b, 800000, 30000000, 12345);
	d = kube_backoff_next(&b);
	/* Under 1 s at first, and never below half the step. */
	assert_true(d >= 400000 && d <= 800000);
	d = kube_backoff_next(&b);
	assert_true(d >= 800000 && d <= 1600000);
	for (int i = 0; i < 20; i++) {
		d = kube_backoff_next(&b);
		assert_true(d <= 30000000);
	}
	assert_true(d >= 15000000);
	assert_int_equal(b.failures, 22);
	kube_backoff_reset(&b);
	d = kube_backoff_next(&b);
	assert_true(d >= 400000 && d <= 800000);
	/* The jitter really spreads. */
	{
		uint64_t lo = UINT64_MAX, hi = 0;

		for (int i = 0; i < 200; i++) {
			kube_backoff_reset(&b);
			d = kube_backoff_next(&b);
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		assert_true(hi - lo > 200000);
	}
}

/* ---- map ---- */

struct val {
	int n;
	char key[16];
};

static const char *val_key(const void *v)
{
	return ((const struct val *)v)->key;
}

static void test_map_against_reference(void **state)
{
	enum { N = 3000 };
	static struct val vals[N];
	static bool present[N];
	struct kube_map m;
	uint64_t rng = 99;
	size_t count = 0;

	(void)state;
	kube_map_init(&m, val_key);
	assert_null(kube_map_get(&m, "x"));
	assert_null(kube_map_remove(&m, "x"));
	for (int i = 0; i < N; i++) {
		vals[i].n = i;
		snprintf(vals[i].key, sizeof(vals[i].key), "k%d", i);
	}
	for (int round = 0; round < 50000; round++) {
		int i = (int)kube_rand_range(&rng, 0, N - 1);
		void *old = (void *)1;

		if (kube_rand_range(&rng, 0, 2)) {
			assert_int_equal(kube_map_put(&m, &vals[i], &old), 0);
			assert_ptr_equal(old, present[i] ? &vals[i] : NULL);
			if (!present[i])
				count++;
			present[i] = true;
		} else {
			assert_ptr_equal(kube_map_remove(&m, vals[i].key),
					 present[i] ? &vals[i] : NULL);
			if (present[i])
				count--;
			present[i] = false;
		}
		assert_int_equal(m.len, count);
		if (round % 5000 == 0) {
			for (int j = 0; j < N; j++)
				assert_ptr_equal(kube_map_get(&m, vals[j].key),
						 present[j] ? &vals[j] : NULL);
		}
	}
	{
		size_t pos = 0, seen = 0;
		struct val *v;

		while ((v = kube_map_next(&m, &pos))) {
			assert_true(present[v->n]);
			seen++;
		}
		assert_int_equal(seen, count);
	}
	/* Empty it: the table shrinks back. */
	for (int j = 0; j < N; j++)
		kube_map_remove(&m, vals[j].key);
	assert_int_equal(m.len, 0);
	assert_true(m.cap <= 32);
	kube_map_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append_printf_steal),
		cmocka_unit_test(test_escape_everything_but_unreserved),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_rand_range_and_seed),
		cmocka_unit_test(test_backoff_grows_with_jitter_caps_and_resets),
		cmocka_unit_test(test_map_against_reference),
	};

	return cmocka_run_group_tests_name("kube_util", tests, NULL, NULL);
}
