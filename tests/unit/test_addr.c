/* Unit tests for lib/addr.c: strict parsing of addresses, prefixes and
 * ranges, RFC 5952 formatting, ordering and 128-bit arithmetic.
 *
 * Every rejection helper also checks that the output parameter was left
 * untouched and that a reason was given, so each rejected input tests the
 * error contract too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ironlb/addr.h"

#define SENTINEL 0xa5

static const ip_u128 U128_MAX = ~(ip_u128)0;

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;
	const char *why = NULL;
	int r = ip_parse(s, &a, &why);

	if (r != 0)
		fail_msg("ip_parse(\"%s\") = %d (%s), want 0", s, r, why ? why : "no reason");
	return a;
}

static struct ip_prefix prefix(const char *s)
{
	struct ip_prefix p;
	const char *why = NULL;
	int r = prefix_parse(s, &p, &why);

	if (r != 0)
		fail_msg("prefix_parse(\"%s\") = %d (%s), want 0", s, r, why ? why : "no reason");
	return p;
}

static struct ip_range range(const char *s)
{
	struct ip_range rg;
	const char *why = NULL;
	int r = range_parse(s, &rg, &why);

	if (r != 0)
		fail_msg("range_parse(\"%s\") = %d (%s), want 0", s, r, why ? why : "no reason");
	return rg;
}

/* want_why NULL: any reason will do, but there must be one. */
static void check_why(const char *fn, const char *s, int r, const char *why, const char *want_why)
{
	if (r != -EINVAL)
		fail_msg("%s(\"%.60s\") = %d, want -EINVAL", fn, s ? s : "(null)", r);
	if (!why)
		fail_msg("%s(\"%.60s\") gave no reason", fn, s ? s : "(null)");
	if (want_why && strcmp(why, want_why) != 0)
		fail_msg("%s(\"%.60s\") reason \"%s\", want \"%s\"", fn, s ? s : "(null)", why,
			 want_why);
}

static void ip_rejects(const char *s, const char *want_why)
{
	struct ip_addr a, before;
	const char *why = NULL;
	int r;

	memset(&a, SENTINEL, sizeof(a));
	before = a;
	r = ip_parse(s, &a, &why);
	check_why("ip_parse", s, r, why, want_why);
	assert_memory_equal(&a, &before, sizeof(a));
}

static void prefix_rejects(const char *s, const char *want_why)
{
	struct ip_prefix p, before;
	const char *why = NULL;
	int r;

	memset(&p, SENTINEL, sizeof(p));
	before = p;
	r = prefix_parse(s, &p, &why);
	check_why("prefix_parse", s, r, why, want_why);
	assert_memory_equal(&p, &before, sizeof(p));
}

static void range_rejects(const char *s, const char *want_why)
{
	struct ip_range rg, before;
	const char *why = NULL;
	int r;

	memset(&rg, SENTINEL, sizeof(rg));
	before = rg;
	r = range_parse(s, &rg, &why);
	check_why("range_parse", s, r, why, want_why);
	assert_memory_equal(&rg, &before, sizeof(rg));
}

/* Parses s and checks it formats as want. */
static void ip_formats_as(const char *s, const char *want)
{
	struct ip_addr a = ip(s);
	char buf[IP_STRLEN];

	ip_format(&a, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("ip_format(ip_parse(\"%s\")) = \"%s\", want \"%s\"", s, buf, want);
}

static void range_is(const char *s, const char *first, const char *last)
{
	struct ip_range r = range(s);
	struct ip_addr f = ip(first), l = ip(last);

	if (!ip_equal(&r.first, &f) || !ip_equal(&r.last, &l))
		fail_msg("range_parse(\"%s\") != %s..%s", s, first, last);
	assert_int_equal(r.first.family, f.family);
	assert_int_equal(r.last.family, l.family);
}

/* A string of n (at most 10000) copies of c. Static so that a failing
 * assertion, which longjmps out of the test, leaks nothing. */
static char *repeat(char c, size_t n)
{
	static char buf[10001];

	assert_true(n < sizeof(buf));
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* Small deterministic generator so failures reproduce. */
static uint64_t lcg_next(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

/* An IPv6 address with many zero groups, the interesting case for "::". */
static void random_v6(uint64_t *state, struct ip_addr *ret)
{
	struct ip_addr a = { .family = AF_INET6 };

	for (int i = 0; i < 8; i++) {
		uint16_t w;

		switch (lcg_next(state) % 4) {
		case 0:
		case 1:
			w = 0;
			break;
		case 2:
			w = (uint16_t)(lcg_next(state) % 16);
			break;
		default:
			w = (uint16_t)lcg_next(state);
			break;
		}
		a.bytes[2 * i] = (uint8_t)(w >> 8);
		a.bytes[2 * i + 1] = (uint8_t)w;
	}
	*ret = a;
}

/* ---- ip_parse: IPv4 ---- */

static void test_ip_parse_accepts_dotted_quad(void **state)
{
	static const uint8_t want[16] = { 192, 0, 2, 1 };
	struct ip_addr a = ip("192.0.2.1");

	(void)state;
	assert_int_equal(a.family, AF_INET);
	/* bytes past the fourth are zero, so memcmp on structs is sound */
	assert_memory_equal(a.bytes, want, sizeof(want));
	a = ip("0.0.0.0");
	assert_true(ip_to_u128(&a) == 0);
	a = ip("255.255.255.255");
	assert_true(ip_to_u128(&a) == UINT32_MAX);
	a = ip("10.0.0.0");
	assert_int_equal(a.bytes[0], 10);
}

static void test_ip_parse_rejects_leading_zero_octet(void **state)
{
	(void)state;
	ip_rejects("010.0.0.1", "leading zero in IPv4 octet");
	ip_rejects("1.2.3.04", "leading zero in IPv4 octet");
	ip_rejects("00.1.2.3", "leading zero in IPv4 octet");
	ip_rejects("1.2.3.000", "leading zero in IPv4 octet");
}

static void test_ip_parse_accepts_zero_octets(void **state)
{
	(void)state;
	ip_formats_as("0.1.0.0", "0.1.0.0");
	ip_formats_as("100.0.10.200", "100.0.10.200");
}

static void test_ip_parse_rejects_octet_above_255(void **state)
{
	(void)state;
	ip_rejects("256.1.1.1", "IPv4 octet out of range");
	ip_rejects("1.2.3.999", "IPv4 octet out of range");
	ip_rejects("1.2.3.1000", "IPv4 octet out of range");
	/* would wrap a 32-bit accumulator back to 1 */
	ip_rejects("1.2.3.4294967297", "IPv4 octet out of range");
}

static void test_ip_parse_rejects_wrong_octet_count(void **state)
{
	(void)state;
	ip_rejects("1.2.3", "too few octets in IPv4 address");
	ip_rejects("1", "too few octets in IPv4 address");
	ip_rejects("1.2.3.4.5", "too many octets in IPv4 address");
	ip_rejects("1.2.3.4.", "too many octets in IPv4 address");
}

static void test_ip_parse_rejects_empty_octet(void **state)
{
	(void)state;
	ip_rejects("1..2.3", "empty IPv4 octet");
	ip_rejects(".1.2.3", "empty IPv4 octet");
	ip_rejects("1.2.3.", "empty IPv4 octet");
	ip_rejects("...", "empty IPv4 octet");
}

static void test_ip_parse_rejects_signs_and_other_bases(void **state)
{
	(void)state;
	ip_rejects("1.2.3.-1", "invalid character");
	ip_rejects("+1.2.3.4", "invalid character");
	ip_rejects("1.2.3.0x4", "invalid character");
	ip_rejects("0x7f.0.0.1", "invalid character");
	ip_rejects("1.2.3.4a", "invalid character");
	ip_rejects("localhost", NULL);
	/* inet_aton() shorthand forms */
	ip_rejects("127.1", "too few octets in IPv4 address");
	ip_rejects("2130706433", "IPv4 octet out of range");
	ip_rejects("127", "too few octets in IPv4 address");
}

static void test_ip_parse_rejects_non_ascii(void **state)
{
	(void)state;
	ip_rejects("\xef\xbc\x91.2.3.4", "invalid character"); /* fullwidth digit one */
	ip_rejects("1.2.3.4\xff", "invalid character");
	ip_rejects("::\xff", "invalid character");
}

/* ---- ip_parse: hostile and malformed input common to both families ---- */

static void test_ip_parse_rejects_whitespace_anywhere(void **state)
{
	(void)state;
	ip_rejects(" 1.2.3.4", "whitespace not allowed");
	ip_rejects("1.2.3.4\n", "whitespace not allowed");
	ip_rejects("1.2.3.4 ", "whitespace not allowed");
	ip_rejects("1.2. 3.4", "whitespace not allowed");
	ip_rejects("\t::1", "whitespace not allowed");
	ip_rejects("::1\r", "whitespace not allowed");
}

static void test_ip_parse_rejects_empty_and_null(void **state)
{
	(void)state;
	ip_rejects("", "empty");
	ip_rejects(NULL, "empty");
}

static void test_ip_parse_rejects_overlong_input(void **state)
{
	char *s;

	(void)state;
	s = repeat('1', 10000);
	ip_rejects(s, "input too long");
	s = repeat(':', 10000);
	ip_rejects(s, "input too long");
}

static void test_ip_parse_length_limit_is_inclusive(void **state)
{
	struct ip_addr a;
	const char *why = NULL;
	char *s;

	(void)state;
	/* IP_INPUT_MAX characters are looked at (and found wrong) ... */
	s = repeat('1', IP_INPUT_MAX);
	assert_int_equal(ip_parse(s, &a, &why), -EINVAL);
	assert_string_equal(why, "IPv4 octet out of range");
	/* ... one more is refused outright. */
	s = repeat('1', IP_INPUT_MAX + 1);
	ip_rejects(s, "input too long");
}

/* An unterminated buffer of exactly IP_INPUT_MAX + 1 bytes on the heap,
 * so that AddressSanitizer reports any read past it. */
static int unterminated_setup(void **state)
{
	char *s = malloc(IP_INPUT_MAX + 1);

	if (!s)
		return -1;
	memset(s, '1', IP_INPUT_MAX + 1);
	*state = s;
	return 0;
}

static int unterminated_teardown(void **state)
{
	free(*state);
	return 0;
}

static void test_ip_parse_reads_no_further_than_input_max_plus_one(void **state)
{
	const char *s = *state;

	ip_rejects(s, "input too long");
	prefix_rejects(s, "input too long");
	range_rejects(s, "input too long");
}

static void test_ip_parse_rejects_brackets(void **state)
{
	(void)state;
	ip_rejects("[::1]", "brackets not allowed");
	ip_rejects("[2001:db8::1]:80", "brackets not allowed");
	ip_rejects("[192.0.2.1]", "brackets not allowed");
}

static void test_ip_parse_rejects_zone_id(void **state)
{
	(void)state;
	ip_rejects("fe80::1%eth0", "zone id not allowed");
	ip_rejects("fe80::1%1", "zone id not allowed");
	ip_rejects("fe80::1%", "zone id not allowed");
}

static void test_ip_parse_rejects_prefix_length(void **state)
{
	(void)state;
	ip_rejects("192.0.2.1/32", "prefix length not allowed here");
	ip_rejects("::1/128", "prefix length not allowed here");
}

static void test_ip_parse_leaves_why_untouched_on_success(void **state)
{
	const char *why = "unchanged";
	struct ip_addr a;

	(void)state;
	assert_int_equal(ip_parse("192.0.2.1", &a, &why), 0);
	assert_string_equal(why, "unchanged");
}

static void test_ip_parse_accepts_null_ret_and_why(void **state)
{
	(void)state;
	assert_int_equal(ip_parse("2001:db8::1", NULL, NULL), 0);
	assert_int_equal(ip_parse("1.2.3", NULL, NULL), -EINVAL);
	assert_int_equal(prefix_parse("2001:db8::/32", NULL, NULL), 0);
	assert_int_equal(prefix_parse("2001:db8::1/32", NULL, NULL), -EINVAL);
	assert_int_equal(range_parse("192.0.2.1-192.0.2.9", NULL, NULL), 0);
	assert_int_equal(range_parse("192.0.2.9-192.0.2.1", NULL, NULL), -EINVAL);
}

/* ---- ip_parse: IPv6 ---- */

static void test_ip_parse_accepts_ipv6_forms(void **state)
{
	static const uint8_t doc1[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct ip_addr a;

	(void)state;
	a = ip("2001:db8::1");
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(a.bytes, doc1, 16);
	a = ip("2001:0DB8:0000:0000:0000:0000:0000:0001");
	assert_memory_equal(a.bytes, doc1, 16);
	a = ip("2001:db8:0:0:0:0:0:1");
	assert_memory_equal(a.bytes, doc1, 16);
	a = ip("::");
	assert_true(ip_to_u128(&a) == 0);
	a = ip("::1");
	assert_true(ip_to_u128(&a) == 1);
	a = ip("1::");
	assert_true(ip_to_u128(&a) == (ip_u128)1 << 112);
	a = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_true(ip_to_u128(&a) == U128_MAX);
	/* "::" may stand for a single group when parsing (RFC 4291) */
	ip_formats_as("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0");
	ip_formats_as("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8");
	ip_formats_as("1:2:3::5:6:7:8", "1:2:3:0:5:6:7:8");
}

static void test_ip_parse_accepts_ipv6_with_embedded_ipv4(void **state)
{
	(void)state;
	ip_formats_as("::ffff:192.0.2.1", "::ffff:192.0.2.1");
	ip_formats_as("64:ff9b::192.0.2.1", "64:ff9b::c000:201");
	ip_formats_as("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304");
	ip_formats_as("::1.2.3.4", "::102:304");
	ip_formats_as("1:2:3:4:5::1.2.3.4", "1:2:3:4:5:0:102:304");
}

static void test_ip_parse_rejects_double_compression(void **state)
{
	(void)state;
	ip_rejects("1::2::3", "more than one '::'");
	ip_rejects("::1::", "more than one '::'");
	ip_rejects("1::2::", "more than one '::'");
}

static void test_ip_parse_rejects_wrong_ipv6_group_count(void **state)
{
	(void)state;
	ip_rejects("1:2:3:4:5:6:7", "too few IPv6 groups");
	ip_rejects("1:2:3:4:5:6:7:8:9", "too many IPv6 groups");
	/* "::" must stand for at least one group */
	ip_rejects("1:2:3:4:5:6:7:8::", "too many IPv6 groups");
	ip_rejects("1:2:3:4:5:6:7::8", "too many IPv6 groups");
	ip_rejects("::1:2:3:4:5:6:7:8", "too many IPv6 groups");
	ip_rejects("1:2:3:4:5:6:7:1.2.3.4", "too many IPv6 groups");
	ip_rejects("1:2:3:4:5:6::1.2.3.4", "too many IPv6 groups");
	ip_rejects("1:2:3:4:5:1.2.3.4", "too few IPv6 groups");
}

static void test_ip_parse_rejects_stray_colons(void **state)
{
	(void)state;
	ip_rejects(":1::", "IPv6 address starts with a single ':'");
	ip_rejects(":", "IPv6 address starts with a single ':'");
	ip_rejects("1::2:", "IPv6 address ends with a single ':'");
	ip_rejects("1:", "IPv6 address ends with a single ':'");
	ip_rejects(":::", "empty IPv6 group");
	ip_rejects("1:::2", "empty IPv6 group");
	ip_rejects("::::", "empty IPv6 group");
}

static void test_ip_parse_rejects_ipv6_group_over_four_digits(void **state)
{
	(void)state;
	ip_rejects("12345::", "IPv6 group longer than four hex digits");
	ip_rejects("::00000", "IPv6 group longer than four hex digits");
	ip_rejects("2001:db8::fffffffffffffffffffff", "IPv6 group longer than four hex digits");
}

static void test_ip_parse_rejects_malformed_embedded_ipv4(void **state)
{
	(void)state;
	ip_rejects("::1.2.3.4:1", "invalid character"); /* IPv4 part must be last */
	ip_rejects("1.2.3.4::", "invalid character");
	ip_rejects("::1.2.3", "too few octets in IPv4 address");
	ip_rejects("::1.2.3.04", "leading zero in IPv4 octet");
	ip_rejects("::256.0.0.1", "IPv4 octet out of range");
	ip_rejects("::a.b.c.d", "invalid character");
	ip_rejects("::ffff:1.2.3.4.5", "too many octets in IPv4 address");
}

static void test_ip_parse_rejects_non_hex_characters(void **state)
{
	(void)state;
	ip_rejects("g::1", "invalid character");
	ip_rejects("2001:db8::x", "invalid character");
	ip_rejects("2001:db8::-1", "invalid character");
	ip_rejects("::+1", "invalid character");
}

static void test_ip_parse_agrees_with_inet_pton_on_accepted_input(void **state)
{
	static const char *const inputs[] = {
		"0.0.0.0",
		"192.0.2.1",
		"255.255.255.255",
		"::",
		"::1",
		"2001:db8::",
		"2001:DB8:a:B:c:D:e:F",
		"fe80::1:2",
		"::ffff:1.2.3.4",
		"64:ff9b::10.0.0.1",
		"1:2:3:4:5:6:7::",
		"0:0:0:0:0:0:0:0",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct ip_addr a = ip(inputs[i]);
		uint8_t want[16] = { 0 };

		assert_int_equal(inet_pton(a.family, inputs[i], want), 1);
		assert_memory_equal(a.bytes, want, 16);
	}
}

/* ---- ip_format ---- */

static void test_ip_format_ipv4_is_plain_decimal(void **state)
{
	(void)state;
	ip_formats_as("192.0.2.1", "192.0.2.1");
	ip_formats_as("0.0.0.0", "0.0.0.0");
	ip_formats_as("255.255.255.255", "255.255.255.255");
}

static void test_ip_format_ipv6_is_rfc5952_canonical(void **state)
{
	(void)state;
	/* 4.3: lowercase */
	ip_formats_as("2001:DB8::ABCD", "2001:db8::abcd");
	/* 4.1: no leading zeros */
	ip_formats_as("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1");
	/* 4.2.1: shorten as much as possible */
	ip_formats_as("2001:db8:0:0:0:0:2:1", "2001:db8::2:1");
	/* 4.2.2: a single zero group is not compressed */
	ip_formats_as("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
	/* 4.2.3: the longest run is compressed ... */
	ip_formats_as("2001:0:0:1:0:0:0:1", "2001:0:0:1::1");
	/* ... and the leftmost one on a tie */
	ip_formats_as("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
	ip_formats_as("0:0:0:0:0:0:0:0", "::");
	ip_formats_as("0:0:0:0:0:0:0:1", "::1");
	ip_formats_as("1:0:0:0:0:0:0:0", "1::");
	ip_formats_as("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8");
	ip_formats_as("0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1");
	ip_formats_as("0:0:1:0:0:1:0:0", "::1:0:0:1:0:0");
	ip_formats_as("fe80:0:0:0:0:0:0:0", "fe80::");
}

static void test_ip_format_ipv4_mapped_uses_dotted_quad(void **state)
{
	(void)state;
	ip_formats_as("::ffff:c000:0201", "::ffff:192.0.2.1");
	ip_formats_as("0:0:0:0:0:ffff:0:0", "::ffff:0.0.0.0");
	ip_formats_as("::FFFF:255.255.255.255", "::ffff:255.255.255.255");
}

static void test_ip_format_keeps_other_ipv6_hexadecimal(void **state)
{
	(void)state;
	/* glibc's inet_ntop prints these as "::0.1.0.2" and "::255.255.0.0" */
	ip_formats_as("::1:2", "::1:2");
	ip_formats_as("::ffff:0", "::ffff:0");
	ip_formats_as("::1.2.3.4", "::102:304");
	ip_formats_as("::ffff:0:1.2.3.4", "::ffff:0:102:304");
	ip_formats_as("::fffe:1.2.3.4", "::fffe:102:304");
}

static void test_ip_format_matches_inet_ntop_outside_ipv4_compatible_block(void **state)
{
	uint64_t seed = 42;
	int compared = 0;

	(void)state;
	for (int i = 0; i < 50000; i++) {
		struct ip_addr a;
		char ours[IP_STRLEN], theirs[INET6_ADDRSTRLEN];
		static const uint8_t zero12[12];

		random_v6(&seed, &a);
		/* glibc prints ::/96 in dotted form; see the test above */
		if (memcmp(a.bytes, zero12, 12) == 0)
			continue;
		ip_format(&a, ours, sizeof(ours));
		assert_non_null(inet_ntop(AF_INET6, a.bytes, theirs, sizeof(theirs)));
		if (strcmp(ours, theirs) != 0)
			fail_msg("ip_format \"%s\", inet_ntop \"%s\"", ours, theirs);
		compared++;
	}
	assert_true(compared > 40000);
}

static void test_ip_format_then_parse_round_trips(void **state)
{
	uint64_t seed = 7;

	(void)state;
	for (int i = 0; i < 50000; i++) {
		struct ip_addr a, b;
		char buf[IP_STRLEN];

		if (i % 2) {
			random_v6(&seed, &a);
		} else {
			ip_from_u128(AF_INET, lcg_next(&seed) << 1 ^ lcg_next(&seed), &a);
		}
		ip_format(&a, buf, sizeof(buf));
		b = ip(buf);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

static void test_ip_format_fits_ip_strlen(void **state)
{
	char buf[IP_STRLEN];
	struct ip_addr a;

	(void)state;
	a = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_int_equal(strlen(ip_format(&a, buf, sizeof(buf))), 39);
	a = ip("::ffff:255.255.255.255");
	assert_int_equal(strlen(ip_format(&a, buf, sizeof(buf))), 22);
	assert_true(INET6_ADDRSTRLEN <= IP_STRLEN);
}

static void test_ip_format_truncates_to_short_buffer(void **state)
{
	struct ip_addr a = ip("2001:db8::1");
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(ip_format(&a, buf, 5), buf);
	assert_string_equal(buf, "2001");
	assert_int_equal(buf[5], 'x');
	/* len 0 writes nothing */
	ip_format(&a, buf + 6, 0);
	assert_int_equal(buf[6], 'x');
}

static void test_ip_format_marks_unknown_family(void **state)
{
	struct ip_addr a = { .family = 0 };
	char buf[IP_STRLEN];

	(void)state;
	assert_string_equal(ip_format(&a, buf, sizeof(buf)), "?");
}

/* ---- ordering, conversion, arithmetic ---- */

static void test_ip_cmp_orders_ipv4_before_ipv6(void **state)
{
	struct ip_addr v4max = ip("255.255.255.255"), v6zero = ip("::");
	struct ip_addr mapped = ip("::ffff:1.2.3.4"), v4 = ip("1.2.3.4");

	(void)state;
	assert_true(ip_cmp(&v4max, &v6zero) < 0);
	assert_true(ip_cmp(&v6zero, &v4max) > 0);
	assert_true(ip_cmp(&v4, &mapped) < 0);
	assert_false(ip_equal(&v4, &mapped));
}

static void test_ip_cmp_orders_by_numeric_value(void **state)
{
	static const char *const sorted[] = {
		"0.0.0.0",
		"1.2.3.4",
		"1.2.3.10",
		"9.255.255.255",
		"10.0.0.0",
		"255.255.255.255",
		"::",
		"::2",
		"::10",
		"::ffff:0.0.0.1",
		"2001:db8::ffff",
		"2001:db8::1:0",
		"fe80::",
		"ffff::",
	};
	size_t n = sizeof(sorted) / sizeof(sorted[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			struct ip_addr a = ip(sorted[i]), b = ip(sorted[j]);
			int c = ip_cmp(&a, &b);

			if ((i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0))
				fail_msg("ip_cmp(%s, %s) = %d", sorted[i], sorted[j], c);
			assert_true(ip_equal(&a, &b) == (i == j));
		}
	}
}

static void test_ip_cmp_ignores_bytes_past_an_ipv4_address(void **state)
{
	struct ip_addr a = ip("192.0.2.1"), b = a;

	(void)state;
	b.bytes[10] = 0xff; /* built by hand, not by this module */
	assert_int_equal(ip_cmp(&a, &b), 0);
	assert_true(ip_equal(&a, &b));
}

static void test_ip_bits_per_family(void **state)
{
	(void)state;
	assert_int_equal(ip_bits(AF_INET), 32);
	assert_int_equal(ip_bits(AF_INET6), 128);
	assert_int_equal(ip_bits(AF_UNIX), 0);
}

static void test_ip_u128_conversion_round_trips(void **state)
{
	struct ip_addr a = ip("192.0.2.1"), b;
	static const uint8_t zero12[12];

	(void)state;
	assert_true(ip_to_u128(&a) == 0xc0000201);
	/* only the low 32 bits count for IPv4; the rest of bytes is zeroed */
	ip_from_u128(AF_INET, ((ip_u128)1 << 64) | 0xc0000201, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_memory_equal(b.bytes + 4, zero12, 12);

	a = ip("2001:db8::1:2");
	assert_true(ip_to_u128(&a) == (((ip_u128)0x20010db8 << 96) | 0x10002));
	ip_from_u128(AF_INET6, ip_to_u128(&a), &b);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_ip_add_steps_across_octet_and_group_boundaries(void **state)
{
	struct ip_addr a, r, want;

	(void)state;
	a = ip("192.0.2.255");
	assert_int_equal(ip_add(&a, 1, &r), 0);
	want = ip("192.0.3.0");
	assert_memory_equal(&r, &want, sizeof(r));

	assert_int_equal(ip_add(&a, 0, &r), 0);
	assert_memory_equal(&r, &a, sizeof(r));

	a = ip("2001:db8::ffff");
	assert_int_equal(ip_add(&a, 1, &r), 0);
	want = ip("2001:db8::1:0");
	assert_memory_equal(&r, &want, sizeof(r));

	a = ip("2001:db8::");
	assert_int_equal(ip_add(&a, (ip_u128)1 << 64, &r), 0);
	want = ip("2001:db8:0:1::");
	assert_memory_equal(&r, &want, sizeof(r));
}

static void test_ip_add_rejects_overflow_past_255_255_255_255(void **state)
{
	struct ip_addr a = ip("255.255.255.255"), r, before;

	(void)state;
	memset(&r, SENTINEL, sizeof(r));
	before = r;
	assert_int_equal(ip_add(&a, 1, &r), -ERANGE);
	assert_memory_equal(&r, &before, sizeof(r));

	a = ip("255.255.255.0");
	assert_int_equal(ip_add(&a, 255, &r), 0);
	assert_int_equal(ip_add(&a, 256, &r), -ERANGE);
}

static void test_ip_add_ipv4_never_spills_into_ipv6_range(void **state)
{
	struct ip_addr a = ip("0.0.0.0"), r, want = ip("255.255.255.255");

	(void)state;
	assert_int_equal(ip_add(&a, UINT32_MAX, &r), 0);
	assert_memory_equal(&r, &want, sizeof(r));
	assert_int_equal(ip_add(&a, (ip_u128)UINT32_MAX + 1, &r), -ERANGE);
	assert_int_equal(ip_add(&a, U128_MAX, &r), -ERANGE);
}

static void test_ip_add_rejects_overflow_past_all_ones_ipv6(void **state)
{
	struct ip_addr a = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), r, before;
	struct ip_addr zero = ip("::");

	(void)state;
	memset(&r, SENTINEL, sizeof(r));
	before = r;
	assert_int_equal(ip_add(&a, 1, &r), -ERANGE);
	assert_int_equal(ip_add(&a, U128_MAX, &r), -ERANGE);
	assert_memory_equal(&r, &before, sizeof(r));

	assert_int_equal(ip_add(&zero, U128_MAX, &r), 0);
	assert_memory_equal(&r, &a, sizeof(r));
	a = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	assert_int_equal(ip_add(&a, 1, &r), 0);
	assert_int_equal(ip_add(&a, 2, &r), -ERANGE);
}

static void test_ip_add_rejects_unknown_family(void **state)
{
	struct ip_addr a = { .family = 0 }, r;

	(void)state;
	assert_int_equal(ip_add(&a, 1, &r), -EINVAL);
}

/* ---- IPv4-mapped addresses ---- */

static void test_ip_parse_keeps_v4_mapped_as_ipv6(void **state)
{
	struct ip_addr a = ip("::ffff:1.2.3.4"), b = ip("::ffff:102:304");

	(void)state;
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_true(ip_is_v4_mapped(&a));
}

static void test_ip_is_v4_mapped_detects_only_ffff_96(void **state)
{
	static const char *const not_mapped[] = {
		"1.2.3.4",
		"::1.2.3.4",
		"::fffe:1.2.3.4",
		"::ffff:0:1.2.3.4",
		"64:ff9b::1.2.3.4",
		"1::ffff:1.2.3.4",
		"::",
		"::ffff",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(not_mapped) / sizeof(not_mapped[0]); i++) {
		struct ip_addr a = ip(not_mapped[i]);

		if (ip_is_v4_mapped(&a))
			fail_msg("%s taken for IPv4-mapped", not_mapped[i]);
	}
	{
		struct ip_addr lo = ip("::ffff:0.0.0.0"), hi = ip("::ffff:255.255.255.255");

		assert_true(ip_is_v4_mapped(&lo));
		assert_true(ip_is_v4_mapped(&hi));
	}
}

static void test_ip_unmap_returns_ipv4_form(void **state)
{
	struct ip_addr a = ip("::ffff:192.0.2.1"), r, want = ip("192.0.2.1");

	(void)state;
	assert_int_equal(ip_unmap(&a, &r), 0);
	assert_int_equal(r.family, AF_INET);
	assert_memory_equal(&r, &want, sizeof(r));
}

static void test_ip_unmap_rejects_unmapped_and_leaves_ret(void **state)
{
	struct ip_addr a, r, before;

	(void)state;
	memset(&r, SENTINEL, sizeof(r));
	before = r;
	a = ip("192.0.2.1");
	assert_int_equal(ip_unmap(&a, &r), -EINVAL);
	a = ip("::1.2.3.4");
	assert_int_equal(ip_unmap(&a, &r), -EINVAL);
	a = ip("2001:db8::ffff:1.2.3.4");
	assert_int_equal(ip_unmap(&a, &r), -EINVAL);
	assert_memory_equal(&r, &before, sizeof(r));
}

/* ---- prefixes ---- */

static void test_prefix_parse_accepts_network_addresses(void **state)
{
	struct ip_prefix p;
	struct ip_addr want;

	(void)state;
	p = prefix("198.51.100.0/24");
	want = ip("198.51.100.0");
	assert_memory_equal(&p.addr, &want, sizeof(want));
	assert_int_equal(p.len, 24);
	p = prefix("0.0.0.0/0");
	assert_int_equal(p.len, 0);
	assert_int_equal(p.addr.family, AF_INET);
	p = prefix("::/0");
	assert_int_equal(p.len, 0);
	assert_int_equal(p.addr.family, AF_INET6);
	p = prefix("192.0.2.1/32");
	assert_int_equal(p.len, 32);
	p = prefix("::1/128");
	assert_int_equal(p.len, 128);
	p = prefix("2001:db8::/32");
	assert_int_equal(p.len, 32);
	p = prefix("::ffff:192.0.2.0/120");
	assert_int_equal(p.addr.family, AF_INET6);
	assert_int_equal(p.len, 120);
}

static void test_prefix_parse_rejects_host_bits_set(void **state)
{
	(void)state;
	prefix_rejects("192.0.2.1/24", "host bits set");
	prefix_rejects("2001:db8::1/64", "host bits set");
	prefix_rejects("1.0.0.0/0", "host bits set");
	prefix_rejects("::1/127", "host bits set");
	prefix_rejects("128.0.0.0/0", "host bits set");
}

static void test_prefix_parse_rejects_length_out_of_range(void **state)
{
	(void)state;
	prefix_rejects("1.2.3.4/33", "prefix length out of range");
	prefix_rejects("::/129", "prefix length out of range");
	prefix_rejects("0.0.0.0/128", "prefix length out of range");
	prefix_rejects("::/99999999999999999999999999", "prefix length out of range");
}

static void test_prefix_parse_rejects_leading_zero_length(void **state)
{
	(void)state;
	prefix_rejects("1.2.3.4/024", "leading zero in prefix length");
	prefix_rejects("1.2.3.4/032", "leading zero in prefix length");
	prefix_rejects("::/00", "leading zero in prefix length");
}

static void test_prefix_parse_rejects_missing_or_malformed_length(void **state)
{
	(void)state;
	prefix_rejects("1.2.3.4/", "missing prefix length");
	prefix_rejects("1.2.3.4", "missing prefix length");
	prefix_rejects("/24", "missing address before '/'");
	prefix_rejects("1.2.3.0/+24", "prefix length is not a number");
	prefix_rejects("1.2.3.0/-1", "prefix length is not a number");
	prefix_rejects("1.2.3.0/24/8", "prefix length is not a number");
	prefix_rejects("1.2.3.0/2a", "prefix length is not a number");
	prefix_rejects("1.2.3.0/0x18", "leading zero in prefix length");
	prefix_rejects("1.2.3.0/ 24", "whitespace not allowed");
	prefix_rejects("1.2.3.0/24\n", "whitespace not allowed");
	prefix_rejects("1.2.3.0 /24", "whitespace not allowed");
}

static void test_prefix_parse_rejects_bad_address(void **state)
{
	(void)state;
	prefix_rejects("1.2.3/24", "too few octets in IPv4 address");
	prefix_rejects("[::]/0", "brackets not allowed");
	prefix_rejects("fe80::%eth0/64", "zone id not allowed");
	prefix_rejects("010.0.0.0/8", "leading zero in IPv4 octet");
	prefix_rejects("", "empty");
}

static void test_prefix_parse_rejects_overlong_input(void **state)
{
	char *s = repeat('1', 10000);

	(void)state;
	s[3] = '/';
	prefix_rejects(s, "input too long");
}

static void test_prefix_format_round_trips(void **state)
{
	static const char *const inputs[] = {
		"0.0.0.0/0",	 "198.51.100.0/24", "192.0.2.7/32", "::/0",
		"2001:db8::/32", "::1/128",	    "fe80::/10",    "::ffff:192.0.2.0/120",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct ip_prefix p = prefix(inputs[i]), q;
		char buf[IP_RANGE_STRLEN];

		assert_string_equal(prefix_format(&p, buf, sizeof(buf)), inputs[i]);
		q = prefix(buf);
		assert_memory_equal(&p, &q, sizeof(p));
	}
	{
		struct ip_prefix p = prefix("2001:DB8:0::/48");
		char buf[IP_RANGE_STRLEN];

		assert_string_equal(prefix_format(&p, buf, sizeof(buf)), "2001:db8::/48");
	}
}

static void test_prefix_contains_checks_network_bits_only(void **state)
{
	struct ip_prefix p = prefix("198.51.100.0/24");
	struct ip_addr in_lo = ip("198.51.100.0"), in_hi = ip("198.51.100.255");
	struct ip_addr below = ip("198.51.99.255"), above = ip("198.51.101.0");
	struct ip_addr mapped = ip("::ffff:198.51.100.1");

	(void)state;
	assert_true(prefix_contains(&p, &in_lo));
	assert_true(prefix_contains(&p, &in_hi));
	assert_false(prefix_contains(&p, &below));
	assert_false(prefix_contains(&p, &above));
	/* another family is never contained, even the same host mapped */
	assert_false(prefix_contains(&p, &mapped));
}

static void test_prefix_contains_handles_zero_and_full_lengths(void **state)
{
	struct ip_prefix all4 = prefix("0.0.0.0/0"), all6 = prefix("::/0");
	struct ip_prefix host4 = prefix("192.0.2.1/32"), host6 = prefix("2001:db8::1/128");
	struct ip_addr a4 = ip("203.0.113.9"), a6 = ip("2001:db8::2");
	struct ip_addr h4 = ip("192.0.2.1"), h6 = ip("2001:db8::1");
	struct ip_addr max6 = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

	(void)state;
	assert_true(prefix_contains(&all4, &a4));
	assert_false(prefix_contains(&all4, &a6));
	assert_true(prefix_contains(&all6, &a6));
	assert_true(prefix_contains(&all6, &max6));
	assert_false(prefix_contains(&all6, &a4));
	assert_true(prefix_contains(&host4, &h4));
	assert_false(prefix_contains(&host4, &a4));
	assert_true(prefix_contains(&host6, &h6));
	assert_false(prefix_contains(&host6, &a6));
}

static void test_prefix_contains_rejects_impossible_length(void **state)
{
	struct ip_prefix p = prefix("192.0.2.0/24");
	struct ip_addr a = ip("192.0.2.1");

	(void)state;
	p.len = 33; /* built by hand, not by prefix_parse */
	assert_false(prefix_contains(&p, &a));
}

static void test_prefix_to_range_covers_the_network(void **state)
{
	struct ip_prefix p;
	struct ip_range r;
	struct ip_addr f, l;

	(void)state;
	p = prefix("198.51.100.0/24");
	prefix_to_range(&p, &r);
	f = ip("198.51.100.0");
	l = ip("198.51.100.255");
	assert_memory_equal(&r.first, &f, sizeof(f));
	assert_memory_equal(&r.last, &l, sizeof(l));

	p = prefix("192.0.2.7/32");
	prefix_to_range(&p, &r);
	assert_memory_equal(&r.first, &r.last, sizeof(r.first));
	assert_true(range_span(&r) == 0);

	p = prefix("2001:db8::/64");
	prefix_to_range(&p, &r);
	l = ip("2001:db8::ffff:ffff:ffff:ffff");
	assert_memory_equal(&r.last, &l, sizeof(l));
	assert_true(range_span(&r) == UINT64_MAX);
}

/* ---- ranges ---- */

static void test_range_parse_accepts_dash_range(void **state)
{
	(void)state;
	range_is("198.51.100.10-198.51.100.20", "198.51.100.10", "198.51.100.20");
	range_is("2001:db8::1-2001:db8::ff", "2001:db8::1", "2001:db8::ff");
	range_is("0.0.0.0-255.255.255.255", "0.0.0.0", "255.255.255.255");
}

static void test_range_parse_accepts_blanks_around_dash(void **state)
{
	(void)state;
	range_is("198.51.100.10 - 198.51.100.20", "198.51.100.10", "198.51.100.20");
	range_is("198.51.100.10\t-  198.51.100.20", "198.51.100.10", "198.51.100.20");
	range_is("2001:db8::1 -2001:db8::ff", "2001:db8::1", "2001:db8::ff");
	range_is("2001:db8::1-   2001:db8::ff", "2001:db8::1", "2001:db8::ff");
}

static void test_range_parse_rejects_whitespace_away_from_dash(void **state)
{
	(void)state;
	range_rejects(" 192.0.2.1-192.0.2.9", "whitespace not allowed");
	range_rejects("192.0.2.1-192.0.2.9 ", "whitespace not allowed");
	range_rejects("192.0.2.1 192.0.2.9", "whitespace not allowed");
	range_rejects("192.0.2.1\n-192.0.2.9", "whitespace not allowed");
	range_rejects("192.0.2.1 ", "whitespace not allowed");
	range_rejects(" 192.0.2.0/24", "whitespace not allowed");
}

static void test_range_parse_accepts_cidr(void **state)
{
	struct ip_range r;

	(void)state;
	range_is("198.51.100.0/24", "198.51.100.0", "198.51.100.255");
	range_is("2001:db8::/126", "2001:db8::", "2001:db8::3");
	r = range("0.0.0.0/0");
	assert_true(range_span(&r) == UINT32_MAX);
	r = range("::/0");
	assert_true(range_span(&r) == U128_MAX);
}

static void test_range_parse_rejects_bad_cidr(void **state)
{
	(void)state;
	range_rejects("198.51.100.1/24", "host bits set");
	range_rejects("1.2.3.4/33", "prefix length out of range");
	range_rejects("1.2.3.4/", "missing prefix length");
}

static void test_range_parse_accepts_single_address_as_range_of_one(void **state)
{
	struct ip_range r;

	(void)state;
	range_is("192.0.2.1", "192.0.2.1", "192.0.2.1");
	range_is("2001:db8::1", "2001:db8::1", "2001:db8::1");
	range_is("192.0.2.1-192.0.2.1", "192.0.2.1", "192.0.2.1");
	range_is("192.0.2.1 - 192.0.2.1", "192.0.2.1", "192.0.2.1");
	r = range("192.0.2.1");
	assert_true(range_span(&r) == 0);
}

static void test_range_parse_keeps_v4_mapped_as_ipv6(void **state)
{
	struct ip_range r;

	(void)state;
	r = range("::ffff:192.0.2.1");
	assert_int_equal(r.first.family, AF_INET6);
	assert_true(ip_is_v4_mapped(&r.first));
	range_is("::ffff:192.0.2.1-::ffff:192.0.2.9", "::ffff:192.0.2.1", "::ffff:192.0.2.9");
}

static void test_range_parse_rejects_mixed_families(void **state)
{
	(void)state;
	range_rejects("192.0.2.1-2001:db8::1", "mixed address families");
	range_rejects("2001:db8::1-192.0.2.1", "mixed address families");
	/* no silent unmapping: write both ends in the same family */
	range_rejects("::ffff:192.0.2.1-192.0.2.9", "mixed address families");
	range_rejects("192.0.2.1-::ffff:192.0.2.9", "mixed address families");
}

static void test_range_parse_rejects_start_after_end(void **state)
{
	(void)state;
	range_rejects("192.0.2.20-192.0.2.10", "range start after end");
	range_rejects("2001:db8::2-2001:db8::1", "range start after end");
	range_rejects("255.255.255.255-0.0.0.0", "range start after end");
}

static void test_range_parse_rejects_missing_bounds(void **state)
{
	(void)state;
	range_rejects("-192.0.2.1", "missing range start");
	range_rejects("192.0.2.1-", "missing range end");
	range_rejects("192.0.2.1 - ", "missing range end");
	range_rejects(" - ", "missing range start");
	range_rejects("-", "missing range start");
	range_rejects("", "empty");
	range_rejects(NULL, "empty");
}

static void test_range_parse_rejects_more_than_one_dash(void **state)
{
	(void)state;
	range_rejects("192.0.2.1-192.0.2.5-192.0.2.9", "more than one '-'");
	range_rejects("192.0.2.1--192.0.2.9", "more than one '-'");
	/* a '-' inside an address splits it as a range */
	range_rejects("1.2.3.-1", "empty IPv4 octet");
}

static void test_range_parse_rejects_prefix_as_bound(void **state)
{
	(void)state;
	range_rejects("192.0.2.0/24-192.0.2.255", "prefix not allowed as a range bound");
	range_rejects("192.0.2.0-192.0.2.0/24", "prefix not allowed as a range bound");
}

static void test_range_parse_rejects_bad_bound(void **state)
{
	(void)state;
	range_rejects("192.0.2.1-192.0.2.256", "IPv4 octet out of range");
	range_rejects("010.0.0.1-10.0.0.9", "leading zero in IPv4 octet");
	range_rejects("[::1]-[::2]", "brackets not allowed");
	range_rejects("fe80::1%eth0-fe80::2%eth0", "zone id not allowed");
	range_rejects("1::2::3-1::2::4", "more than one '::'");
}

static void test_range_parse_rejects_overlong_input(void **state)
{
	char *s = repeat('1', 10000);

	(void)state;
	s[5000] = '-';
	range_rejects(s, "input too long");
}

static void test_range_parse_accepts_longest_legal_range(void **state)
{
	/* two 45-character addresses around " - ": within IP_INPUT_MAX */
	const char *s = "0000:0000:0000:0000:0000:ffff:255.255.255.254 - "
			"0000:0000:0000:0000:0000:ffff:255.255.255.255";

	(void)state;
	assert_true(strlen(s) <= IP_INPUT_MAX);
	range_is(s, "::ffff:255.255.255.254", "::ffff:255.255.255.255");
}

static void test_range_format_prints_single_address_or_dash(void **state)
{
	struct ip_range r;
	char buf[IP_RANGE_STRLEN];

	(void)state;
	r = range("192.0.2.1 - 192.0.2.1");
	assert_string_equal(range_format(&r, buf, sizeof(buf)), "192.0.2.1");
	r = range("192.0.2.1 - 192.0.2.9");
	assert_string_equal(range_format(&r, buf, sizeof(buf)), "192.0.2.1-192.0.2.9");
	r = range("2001:DB8::/127");
	assert_string_equal(range_format(&r, buf, sizeof(buf)), "2001:db8::-2001:db8::1");
	r = range("::/0");
	assert_string_equal(range_format(&r, buf, sizeof(buf)),
			    "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

static void test_range_format_then_parse_round_trips(void **state)
{
	static const char *const inputs[] = {
		"192.0.2.1",
		"192.0.2.1-192.0.2.9",
		"0.0.0.0/0",
		"::/0",
		"2001:db8::1-2001:db8::1:0",
		"::ffff:192.0.2.1-::ffff:192.0.2.9",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct ip_range r = range(inputs[i]), q;
		char buf[IP_RANGE_STRLEN];

		range_format(&r, buf, sizeof(buf));
		q = range(buf);
		assert_memory_equal(&r, &q, sizeof(r));
	}
}

static void test_range_format_fits_range_strlen(void **state)
{
	struct ip_range r = range("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-"
				  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	char buf[IP_RANGE_STRLEN];

	(void)state;
	assert_int_equal(strlen(range_format(&r, buf, sizeof(buf))), 2 * 39 + 1);
	assert_true(2 * (IP_STRLEN - 1) + 2 <= IP_RANGE_STRLEN);
}

static void test_range_contains_includes_both_ends(void **state)
{
	struct ip_range r = range("192.0.2.10-192.0.2.20");
	struct ip_addr lo = ip("192.0.2.10"), hi = ip("192.0.2.20"), mid = ip("192.0.2.15");
	struct ip_addr below = ip("192.0.2.9"), above = ip("192.0.2.21");
	struct ip_addr v6 = ip("::ffff:192.0.2.15");

	(void)state;
	assert_true(range_contains(&r, &lo));
	assert_true(range_contains(&r, &hi));
	assert_true(range_contains(&r, &mid));
	assert_false(range_contains(&r, &below));
	assert_false(range_contains(&r, &above));
	assert_false(range_contains(&r, &v6));
}

static void overlap_is(const char *a, const char *b, bool want)
{
	struct ip_range ra = range(a), rb = range(b);

	if (range_overlaps(&ra, &rb) != want || range_overlaps(&rb, &ra) != want)
		fail_msg("range_overlaps(%s, %s) != %s", a, b, want ? "true" : "false");
}

static void test_range_overlaps_when_sharing_an_endpoint(void **state)
{
	(void)state;
	overlap_is("192.0.2.1-192.0.2.5", "192.0.2.5-192.0.2.9", true);
	overlap_is("2001:db8::1-2001:db8::5", "2001:db8::5", true);
}

static void test_range_does_not_overlap_adjacent_range(void **state)
{
	(void)state;
	overlap_is("192.0.2.1-192.0.2.5", "192.0.2.6-192.0.2.9", false);
	overlap_is("192.0.2.0/25", "192.0.2.128/25", false);
	overlap_is("::/1", "8000::/1", false);
}

static void test_range_overlaps_disjoint_contained_and_equal(void **state)
{
	(void)state;
	overlap_is("192.0.2.1-192.0.2.5", "198.51.100.0/24", false);
	overlap_is("192.0.2.0/24", "192.0.2.100-192.0.2.110", true);
	overlap_is("0.0.0.0/0", "203.0.113.7", true);
	overlap_is("2001:db8::/32", "2001:db8::/32", true);
	overlap_is("192.0.2.1-192.0.2.5", "192.0.2.3-192.0.2.9", true);
	overlap_is("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true);
}

static void test_range_of_different_families_never_overlaps(void **state)
{
	(void)state;
	overlap_is("0.0.0.0/0", "::/0", false);
	overlap_is("192.0.2.1", "::ffff:192.0.2.1", false);
	overlap_is("0.0.0.0-0.0.0.255", "::-::ff", false);
}

static void test_range_span_counts_addresses_minus_one(void **state)
{
	struct ip_range r;

	(void)state;
	r = range("::/0");
	assert_true(range_span(&r) == U128_MAX);
	r = range("0.0.0.0/0");
	assert_true(range_span(&r) == UINT32_MAX);
	r = range("192.0.2.10-192.0.2.20");
	assert_true(range_span(&r) == 10);
	r = range("2001:db8::");
	assert_true(range_span(&r) == 0);
	r = range("2001:db8::/96");
	assert_true(range_span(&r) == UINT32_MAX);
}

static void test_ip_add_of_span_reaches_last(void **state)
{
	static const char *const inputs[] = {
		"::/0", "0.0.0.0/0", "192.0.2.10-192.0.2.20", "2001:db8::/64", "192.0.2.1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct ip_range r = range(inputs[i]);
		struct ip_addr last;

		assert_int_equal(ip_add(&r.first, range_span(&r), &last), 0);
		assert_memory_equal(&last, &r.last, sizeof(last));
		/* one further is the address after last, if there is one */
		if (range_span(&r) != U128_MAX) {
			struct ip_addr next, beyond;
			int want = ip_add(&r.last, 1, &next);

			assert_int_equal(ip_add(&r.first, range_span(&r) + 1, &beyond), want);
			if (want == 0)
				assert_memory_equal(&beyond, &next, sizeof(next));
		}
	}
}

static void test_prefix_from_addr_clears_host_bits(void **state)
{
	struct ip_prefix p;
	char buf[IP_RANGE_STRLEN];

	(void)state;
	struct ip_addr a = ip("192.0.2.77");
	assert_int_equal(prefix_from_addr(&a, 24, &p), 0);
	assert_string_equal(prefix_format(&p, buf, sizeof(buf)), "192.0.2.0/24");
	assert_int_equal(prefix_from_addr(&a, 32, &p), 0);
	assert_string_equal(prefix_format(&p, buf, sizeof(buf)), "192.0.2.77/32");
	assert_int_equal(prefix_from_addr(&a, 0, &p), 0);
	assert_string_equal(prefix_format(&p, buf, sizeof(buf)), "0.0.0.0/0");
	assert_int_equal(prefix_from_addr(&a, 33, &p), -EINVAL);
	struct ip_addr b = ip("2001:db8:1:2:3:4:5:6");
	assert_int_equal(prefix_from_addr(&b, 64, &p), 0);
	assert_string_equal(prefix_format(&p, buf, sizeof(buf)), "2001:db8:1:2::/64");
	assert_int_equal(prefix_from_addr(&b, 0, &p), 0);
	assert_string_equal(prefix_format(&p, buf, sizeof(buf)), "::/0");
	assert_int_equal(prefix_from_addr(&b, 129, &p), -EINVAL);
}

static void test_ip_from_bytes_checks_family_and_length(void **state)
{
	static const uint8_t v4[4] = { 198, 51, 100, 7 };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	struct ip_addr a;
	char buf[IP_STRLEN];

	(void)state;
	assert_int_equal(ip_from_bytes(AF_INET, v4, 4, &a), 0);
	assert_string_equal(ip_format(&a, buf, sizeof(buf)), "198.51.100.7");
	assert_true(ip_equal(&a, &(struct ip_addr){ 0 }) == false);
	v6[15] = 1;
	assert_int_equal(ip_from_bytes(AF_INET6, v6, 16, &a), 0);
	assert_string_equal(ip_format(&a, buf, sizeof(buf)), "2001:db8::1");
	assert_int_equal(ip_from_bytes(AF_INET, v6, 16, &a), -EINVAL);
	assert_int_equal(ip_from_bytes(AF_INET6, v4, 4, &a), -EINVAL);
	assert_int_equal(ip_from_bytes(AF_UNIX, v4, 4, &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest addr_tests[] = {
		cmocka_unit_test(test_ip_parse_accepts_dotted_quad),
		cmocka_unit_test(test_ip_parse_rejects_leading_zero_octet),
		cmocka_unit_test(test_ip_parse_accepts_zero_octets),
		cmocka_unit_test(test_ip_parse_rejects_octet_above_255),
		cmocka_unit_test(test_ip_parse_rejects_wrong_octet_count),
		cmocka_unit_test(test_ip_parse_rejects_empty_octet),
		cmocka_unit_test(test_ip_parse_rejects_signs_and_other_bases),
		cmocka_unit_test(test_ip_parse_rejects_non_ascii),
		cmocka_unit_test(test_ip_parse_rejects_whitespace_anywhere),
		cmocka_unit_test(test_ip_parse_rejects_empty_and_null),
		cmocka_unit_test(test_ip_parse_rejects_overlong_input),
		cmocka_unit_test(test_ip_parse_length_limit_is_inclusive),
		cmocka_unit_test_setup_teardown(
			test_ip_parse_reads_no_further_than_input_max_plus_one, unterminated_setup,
			unterminated_teardown),
		cmocka_unit_test(test_ip_parse_rejects_brackets),
		cmocka_unit_test(test_ip_parse_rejects_zone_id),
		cmocka_unit_test(test_ip_parse_rejects_prefix_length),
		cmocka_unit_test(test_ip_parse_leaves_why_untouched_on_success),
		cmocka_unit_test(test_ip_parse_accepts_null_ret_and_why),
		cmocka_unit_test(test_ip_parse_accepts_ipv6_forms),
		cmocka_unit_test(test_ip_parse_accepts_ipv6_with_embedded_ipv4),
		cmocka_unit_test(test_ip_parse_rejects_double_compression),
		cmocka_unit_test(test_ip_parse_rejects_wrong_ipv6_group_count),
		cmocka_unit_test(test_ip_parse_rejects_stray_colons),
		cmocka_unit_test(test_ip_parse_rejects_ipv6_group_over_four_digits),
		cmocka_unit_test(test_ip_parse_rejects_malformed_embedded_ipv4),
		cmocka_unit_test(test_ip_parse_rejects_non_hex_characters),
		cmocka_unit_test(test_ip_parse_agrees_with_inet_pton_on_accepted_input),
		cmocka_unit_test(test_ip_format_ipv4_is_plain_decimal),
		cmocka_unit_test(test_ip_format_ipv6_is_rfc5952_canonical),
		cmocka_unit_test(test_ip_format_ipv4_mapped_uses_dotted_quad),
		cmocka_unit_test(test_ip_format_keeps_other_ipv6_hexadecimal),
		cmocka_unit_test(test_ip_format_matches_inet_ntop_outside_ipv4_compatible_block),
		cmocka_unit_test(test_ip_format_then_parse_round_trips),
		cmocka_unit_test(test_ip_format_fits_ip_strlen),
		cmocka_unit_test(test_ip_format_truncates_to_short_buffer),
		cmocka_unit_test(test_ip_format_marks_unknown_family),
		cmocka_unit_test(test_ip_cmp_orders_ipv4_before_ipv6),
		cmocka_unit_test(test_ip_cmp_orders_by_numeric_value),
		cmocka_unit_test(test_ip_cmp_ignores_bytes_past_an_ipv4_address),
		cmocka_unit_test(test_ip_bits_per_family),
		cmocka_unit_test(test_ip_u128_conversion_round_trips),
		cmocka_unit_test(test_ip_add_steps_across_octet_and_group_boundaries),
		cmocka_unit_test(test_ip_add_rejects_overflow_past_255_255_255_255),
		cmocka_unit_test(test_ip_add_ipv4_never_spills_into_ipv6_range),
		cmocka_unit_test(test_ip_add_rejects_overflow_past_all_ones_ipv6),
		cmocka_unit_test(test_ip_add_rejects_unknown_family),
		cmocka_unit_test(test_ip_parse_keeps_v4_mapped_as_ipv6),
		cmocka_unit_test(test_ip_is_v4_mapped_detects_only_ffff_96),
		cmocka_unit_test(test_ip_unmap_returns_ipv4_form),
		cmocka_unit_test(test_ip_unmap_rejects_unmapped_and_leaves_ret),
		cmocka_unit_test(test_prefix_parse_accepts_network_addresses),
		cmocka_unit_test(test_prefix_parse_rejects_host_bits_set),
		cmocka_unit_test(test_prefix_parse_rejects_length_out_of_range),
		cmocka_unit_test(test_prefix_parse_rejects_leading_zero_length),
		cmocka_unit_test(test_prefix_parse_rejects_missing_or_malformed_length),
		cmocka_unit_test(test_prefix_parse_rejects_bad_address),
		cmocka_unit_test(test_prefix_parse_rejects_overlong_input),
		cmocka_unit_test(test_prefix_format_round_trips),
		cmocka_unit_test(test_prefix_contains_checks_network_bits_only),
		cmocka_unit_test(test_prefix_contains_handles_zero_and_full_lengths),
		cmocka_unit_test(test_prefix_contains_rejects_impossible_length),
		cmocka_unit_test(test_prefix_to_range_covers_the_network),
		cmocka_unit_test(test_range_parse_accepts_dash_range),
		cmocka_unit_test(test_range_parse_accepts_blanks_around_dash),
		cmocka_unit_test(test_range_parse_rejects_whitespace_away_from_dash),
		cmocka_unit_test(test_range_parse_accepts_cidr),
		cmocka_unit_test(test_range_parse_rejects_bad_cidr),
		cmocka_unit_test(test_range_parse_accepts_single_address_as_range_of_one),
		cmocka_unit_test(test_range_parse_keeps_v4_mapped_as_ipv6),
		cmocka_unit_test(test_range_parse_rejects_mixed_families),
		cmocka_unit_test(test_range_parse_rejects_start_after_end),
		cmocka_unit_test(test_range_parse_rejects_missing_bounds),
		cmocka_unit_test(test_range_parse_rejects_more_than_one_dash),
		cmocka_unit_test(test_range_parse_rejects_prefix_as_bound),
		cmocka_unit_test(test_range_parse_rejects_bad_bound),
		cmocka_unit_test(test_range_parse_rejects_overlong_input),
		cmocka_unit_test(test_range_parse_accepts_longest_legal_range),
		cmocka_unit_test(test_range_format_prints_single_address_or_dash),
		cmocka_unit_test(test_range_format_then_parse_round_trips),
		cmocka_unit_test(test_range_format_fits_range_strlen),
		cmocka_unit_test(test_range_contains_includes_both_ends),
		cmocka_unit_test(test_range_overlaps_when_sharing_an_endpoint),
		cmocka_unit_test(test_range_does_not_overlap_adjacent_range),
		cmocka_unit_test(test_range_overlaps_disjoint_contained_and_equal),
		cmocka_unit_test(test_range_of_different_families_never_overlaps),
		cmocka_unit_test(test_range_span_counts_addresses_minus_one),
		cmocka_unit_test(test_ip_add_of_span_reaches_last),
		cmocka_unit_test(test_prefix_from_addr_clears_host_bits),
		cmocka_unit_test(test_ip_from_bytes_checks_family_and_length),
	};

	return cmocka_run_group_tests(addr_tests, NULL, NULL);
}
