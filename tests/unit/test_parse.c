/* Unit tests for lib/parse.c: strict durations, booleans and unsigned
 * integers for flags, RFC 1123 names as Kubernetes checks them, and the
 * compact duration format used in status output.
 *
 * Every rejection also checks that the output parameter was left untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ironlb/parse.h"

#define UNTOUCHED 0xdeadbeefcafef00dull

static void want_duration(const char *s, uint64_t want)
{
	uint64_t v = UNTOUCHED;
	int r = parse_duration_us(s, &v);

	if (r != 0 || v != want)
		fail_msg("parse_duration_us(\"%s\") = %d, %llu; want 0, %llu", s, r,
			 (unsigned long long)v, (unsigned long long)want);
}

static void want_duration_error(const char *s, int want_r)
{
	uint64_t v = UNTOUCHED;
	int r = parse_duration_us(s, &v);

	if (r != want_r || v != UNTOUCHED)
		fail_msg("parse_duration_us(\"%s\") = %d (ret %llx); want %d, untouched", s, r,
			 (unsigned long long)v, want_r);
}

static void test_parse_duration_accepts_each_unit(void **state)
{
	(void)state;
	want_duration("100ms", 100000);
	want_duration("1.5s", 1500000);
	want_duration("2m", 120000000);
	want_duration("1h", 3600000000ull);
	want_duration("250us", 250);
	want_duration("0", 0);
	want_duration("0s", 0);
	want_duration("0.001s", 1000);
	want_duration("1.25ms", 1250);
}

static void test_parse_duration_accepts_exactly_24h(void **state)
{
	(void)state;
	want_duration("24h", 24ull * 3600 * 1000000);
	want_duration("1440m", 24ull * 3600 * 1000000);
	want_duration("86400s", 24ull * 3600 * 1000000);
}

static void test_parse_duration_rejects_malformed(void **state)
{
	(void)state;
	want_duration_error("", -EINVAL);
	want_duration_error("ms", -EINVAL);
	want_duration_error("s", -EINVAL);
	want_duration_error("1", -EINVAL);
	want_duration_error("100", -EINVAL);
	want_duration_error("-1s", -EINVAL);
	want_duration_error("+1s", -EINVAL);
	want_duration_error("1 s", -EINVAL);
	want_duration_error("1s ", -EINVAL);
	want_duration_error(" 1s", -EINVAL);
	want_duration_error("1x", -EINVAL);
	want_duration_error("1S", -EINVAL);
	want_duration_error("1.2.3s", -EINVAL);
	want_duration_error("1e3s", -EINVAL);
	want_duration_error("1h30m", -EINVAL);
	want_duration_error(".", -EINVAL);
	want_duration_error(NULL, -EINVAL);
}

static void test_parse_duration_rejects_more_than_24h_and_overflow(void **state)
{
	(void)state;
	want_duration_error("25h", -ERANGE);
	want_duration_error("24.001h", -ERANGE);
	want_duration_error("86401s", -ERANGE);
	want_duration_error("1441m", -ERANGE);
	want_duration_error("18446744073709551616us", -ERANGE);
	want_duration_error("99999999999999999999999999999h", -ERANGE);
	want_duration_error("184467440737095517ms", -ERANGE);
}

static void want_bool(const char *s, bool want)
{
	bool v = !want;

	if (parse_bool(s, &v) != 0 || v != want)
		fail_msg("parse_bool(\"%s\") did not give %d", s, want);
}

static void test_parse_bool_accepts_the_usual_spellings(void **state)
{
	(void)state;
	want_bool("true", true);
	want_bool("1", true);
	want_bool("yes", true);
	want_bool("on", true);
	want_bool("false", false);
	want_bool("0", false);
	want_bool("no", false);
	want_bool("off", false);
}

static void test_parse_bool_rejects_anything_else(void **state)
{
	static const char *const bad[] = { "",	  "maybe", "TRUE", "True", "2", "yes ",
					   " no", "t",	   "f",	   "y",	   "n", "onn" };
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool v = true;

		if (parse_bool(bad[i], &v) != -EINVAL || v != true)
			fail_msg("parse_bool(\"%s\") accepted or touched its output", bad[i]);
	}
	assert_int_equal(parse_bool(NULL, &(bool){ true }), -EINVAL);
}

static void want_uint(const char *s, uint64_t min, uint64_t max, uint64_t want)
{
	uint64_t v = UNTOUCHED;
	int r = parse_uint(s, min, max, &v);

	if (r != 0 || v != want)
		fail_msg("parse_uint(\"%s\", %llu, %llu) = %d, %llu; want %llu", s,
			 (unsigned long long)min, (unsigned long long)max, r, (unsigned long long)v,
			 (unsigned long long)want);
}

static void want_uint_error(const char *s, uint64_t min, uint64_t max, int want_r)
{
	uint64_t v = UNTOUCHED;
	int r = parse_uint(s, min, max, &v);

	if (r != want_r || v != UNTOUCHED)
		fail_msg("parse_uint(\"%s\", %llu, %llu) = %d; want %d, untouched", s,
			 (unsigned long long)min, (unsigned long long)max, r, want_r);
}

static void test_parse_uint_accepts_decimal_in_range(void **state)
{
	(void)state;
	want_uint("0", 0, 10, 0);
	want_uint("10", 0, 10, 10);
	want_uint("1", 1, 1, 1);
	want_uint("65535", 1, 65535, 65535);
	want_uint("18446744073709551615", 0, UINT64_MAX, UINT64_MAX);
	want_uint("18446744073709551610", 0, UINT64_MAX, 18446744073709551610ull);
	want_uint("1844674407370955161", 0, UINT64_MAX, 1844674407370955161ull);
}

static void test_parse_uint_rejects_leading_zeros_signs_and_junk(void **state)
{
	(void)state;
	want_uint_error("", 0, 10, -EINVAL);
	want_uint_error("00", 0, 10, -EINVAL);
	want_uint_error("007", 0, 10, -EINVAL);
	want_uint_error("-1", 0, 10, -EINVAL);
	want_uint_error("+1", 0, 10, -EINVAL);
	want_uint_error(" 1", 0, 10, -EINVAL);
	want_uint_error("1 ", 0, 10, -EINVAL);
	want_uint_error("0x10", 0, 100, -EINVAL);
	want_uint_error("1e2", 0, 1000, -EINVAL);
	want_uint_error(NULL, 0, 10, -EINVAL);
}

static void test_parse_uint_rejects_overflow_and_out_of_range(void **state)
{
	(void)state;
	want_uint_error("18446744073709551616", 0, UINT64_MAX, -ERANGE);
	want_uint_error("18446744073709551620", 0, UINT64_MAX, -ERANGE);
	want_uint_error("99999999999999999999999", 0, UINT64_MAX, -ERANGE);
	want_uint_error("11", 0, 10, -ERANGE);
	want_uint_error("0", 1, 10, -ERANGE);
	want_uint_error("65536", 1, 65535, -ERANGE);
}

/* A string of n copies of c. */
static char *repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void test_dns1123_label_accepts_1_to_63_lowercase_alnum_and_dash(void **state)
{
	char buf[100];

	(void)state;
	assert_true(dns1123_label_valid("a"));
	assert_true(dns1123_label_valid("0"));
	assert_true(dns1123_label_valid("kube-system"));
	assert_true(dns1123_label_valid("a--b"));
	assert_true(dns1123_label_valid("9lives"));
	assert_true(dns1123_label_valid(repeat(buf, 'a', 63)));
}

static void test_dns1123_label_rejects_bad_names(void **state)
{
	char buf[100];

	(void)state;
	assert_false(dns1123_label_valid(repeat(buf, 'a', 64)));
	assert_false(dns1123_label_valid(""));
	assert_false(dns1123_label_valid(NULL));
	assert_false(dns1123_label_valid("Kube"));
	assert_false(dns1123_label_valid("kubE"));
	assert_false(dns1123_label_valid("-a"));
	assert_false(dns1123_label_valid("a-"));
	assert_false(dns1123_label_valid("-"));
	assert_false(dns1123_label_valid("a.b"));
	assert_false(dns1123_label_valid("a_b"));
	assert_false(dns1123_label_valid("a b"));
	assert_false(dns1123_label_valid("Bad_NS"));
	assert_false(dns1123_label_valid("caf\xc3\xa9"));
}

/* n characters of dot-separated 'a' labels, each at most 63 long. */
static char *subdomain_of_len(char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (i % 64 == 63) ? '.' : 'a';
	buf[n] = '\0';
	return buf;
}

static void test_dns1123_subdomain_accepts_up_to_253(void **state)
{
	char buf[300];

	(void)state;
	assert_true(dns1123_subdomain_valid("a"));
	assert_true(dns1123_subdomain_valid("node-1.example.com"));
	assert_true(dns1123_subdomain_valid("a.b.c"));
	assert_true(dns1123_subdomain_valid("1.2.3.4"));
	subdomain_of_len(buf, 253);
	assert_int_equal(strlen(buf), 253);
	assert_int_not_equal(buf[252], '.');
	assert_true(dns1123_subdomain_valid(buf));
	assert_true(dns1123_subdomain_valid(repeat(buf, 'a', 63)));
}

static void test_dns1123_subdomain_rejects_bad_names(void **state)
{
	char buf[300];

	(void)state;
	assert_false(dns1123_subdomain_valid(subdomain_of_len(buf, 254)));
	assert_false(dns1123_subdomain_valid(repeat(buf, 'a', 254)));
	assert_false(dns1123_subdomain_valid(""));
	assert_false(dns1123_subdomain_valid(NULL));
	assert_false(dns1123_subdomain_valid("."));
	assert_false(dns1123_subdomain_valid(".a"));
	assert_false(dns1123_subdomain_valid("a."));
	assert_false(dns1123_subdomain_valid("a..b"));
	assert_false(dns1123_subdomain_valid("Node1"));
	assert_false(dns1123_subdomain_valid("a.B"));
	assert_false(dns1123_subdomain_valid("-a.b"));
	assert_false(dns1123_subdomain_valid("a-.b"));
	assert_false(dns1123_subdomain_valid("a.-b"));
	assert_false(dns1123_subdomain_valid("a.b-"));
	assert_false(dns1123_subdomain_valid("a b"));
	assert_false(dns1123_subdomain_valid("a_b.c"));
}

/* Kubernetes (IsDNS1123Subdomain) limits only the whole name, not each
 * dot-separated part: the API server accepts such names, so must we. */
static void test_dns1123_subdomain_allows_parts_longer_than_63_like_kubernetes(void **state)
{
	char buf[300];

	(void)state;
	repeat(buf, 'a', 64);
	assert_true(dns1123_subdomain_valid(buf));
	strcat(buf, ".b");
	assert_true(dns1123_subdomain_valid(buf));
	assert_true(dns1123_subdomain_valid(repeat(buf, 'a', 253)));
}

static void want_format(uint64_t us, const char *want)
{
	char buf[32];
	char *r = format_duration_us(us, buf, sizeof(buf));

	assert_ptr_equal(r, buf);
	if (strcmp(buf, want) != 0)
		fail_msg("format_duration_us(%llu) = \"%s\", want \"%s\"", (unsigned long long)us,
			 buf, want);
}

static void test_format_duration_is_compact(void **state)
{
	(void)state;
	want_format(0, "0s");
	want_format(1, "1us");
	want_format(999, "999us");
	want_format(1000, "1ms");
	want_format(100000, "100ms");
	want_format(1500, "1.5ms");
	want_format(1000000, "1s");
	want_format(1500000, "1.5s");
	want_format(59000000, "59s");
	want_format(60000000, "1m0s");
	want_format(120000000, "2m0s");
	want_format(90000000, "1m30s");
	want_format(3600000000ull, "60m0s");
}

/* Every digit is kept: what is printed parses back to the same value. */
static void test_format_duration_keeps_every_microsecond(void **state)
{
	(void)state;
	want_format(1234567, "1.234567s");
	want_format(999999, "999.999ms");
	want_format(1000001, "1.000001s");
	want_format(61000001, "1m1.000001s");
	want_format(59999999, "59.999999s");
}

static void test_format_duration_fits_small_buffers(void **state)
{
	char buf[4];

	(void)state;
	format_duration_us(1234567, buf, sizeof(buf));
	assert_int_equal(strlen(buf), 3);
	assert_string_equal(buf, "1.2");
}

int main(void)
{
	const struct CMUnitTest parse_tests[] = {
		cmocka_unit_test(test_parse_duration_accepts_each_unit),
		cmocka_unit_test(test_parse_duration_accepts_exactly_24h),
		cmocka_unit_test(test_parse_duration_rejects_malformed),
		cmocka_unit_test(test_parse_duration_rejects_more_than_24h_and_overflow),
		cmocka_unit_test(test_parse_bool_accepts_the_usual_spellings),
		cmocka_unit_test(test_parse_bool_rejects_anything_else),
		cmocka_unit_test(test_parse_uint_accepts_decimal_in_range),
		cmocka_unit_test(test_parse_uint_rejects_leading_zeros_signs_and_junk),
		cmocka_unit_test(test_parse_uint_rejects_overflow_and_out_of_range),
		cmocka_unit_test(test_dns1123_label_accepts_1_to_63_lowercase_alnum_and_dash),
		cmocka_unit_test(test_dns1123_label_rejects_bad_names),
		cmocka_unit_test(test_dns1123_subdomain_accepts_up_to_253),
		cmocka_unit_test(test_dns1123_subdomain_rejects_bad_names),
		cmocka_unit_test(
			test_dns1123_subdomain_allows_parts_longer_than_63_like_kubernetes),
		cmocka_unit_test(test_format_duration_is_compact),
		cmocka_unit_test(test_format_duration_keeps_every_microsecond),
		cmocka_unit_test(test_format_duration_fits_small_buffers),
	};

	return cmocka_run_group_tests(parse_tests, NULL, NULL);
}
