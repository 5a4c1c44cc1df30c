/* libFuzzer target for the parsers of lib/addr.c.
 *
 * Feeds each input to ip_parse, prefix_parse and range_parse and, for every
 * success, checks the invariants the rest of ironlb relies on: formatting
 * and parsing again gives the same value, ranges are ordered and of one
 * family, prefixes have no host bits, and anything ip_parse accepts is also
 * accepted, with the same bytes, by the C library (we are stricter, never
 * more lenient). Failures must leave the output untouched and give a reason.
 * Any violation abort()s so the fuzzer keeps the input.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ironlb/addr.h"

#define SENTINEL 0xa5

static void check(bool ok, const char *what, const char *input)
{
	if (!ok) {
		fprintf(stderr, "fuzz_addr: %s for input \"%s\"\n", what, input);
		abort();
	}
}

static void check_failure(int r, const char *why, const void *ret, size_t size, const char *s)
{
	unsigned char sentinel[sizeof(struct ip_range)];

	memset(sentinel, SENTINEL, sizeof(sentinel));
	check(r == -EINVAL, "error is not -EINVAL", s);
	check(why != NULL && why[0] != '\0', "no reason on failure", s);
	check(memcmp(ret, sentinel, size) == 0, "output touched on failure", s);
}

static void check_addr(const struct ip_addr *a, const char *s)
{
	static const uint8_t zero[12];
	char buf[IP_STRLEN];
	struct ip_addr b;

	check(a->family == AF_INET || a->family == AF_INET6, "bad family", s);
	if (a->family == AF_INET)
		check(memcmp(a->bytes + 4, zero, 12) == 0, "IPv4 tail bytes not zero", s);
	ip_format(a, buf, sizeof(buf));
	check(ip_parse(buf, &b, NULL) == 0, "formatted address does not parse", s);
	check(memcmp(a, &b, sizeof(b)) == 0, "format/parse round trip differs", s);
	check(ip_cmp(a, &b) == 0 && ip_equal(a, &b), "ip_cmp of equal addresses", s);

	ip_from_u128(a->family, ip_to_u128(a), &b);
	check(memcmp(a, &b, sizeof(b)) == 0, "u128 round trip differs", s);

	if (ip_is_v4_mapped(a)) {
		check(ip_unmap(a, &b) == 0 && b.family == AF_INET, "unmap failed", s);
		check(memcmp(b.bytes, a->bytes + 12, 4) == 0, "unmap changed the address", s);
	}
}

static void fuzz_ip(const char *s)
{
	struct ip_addr a;
	const char *why = NULL;
	int r;

	memset(&a, SENTINEL, sizeof(a));
	r = ip_parse(s, &a, &why);
	if (r < 0) {
		check_failure(r, why, &a, sizeof(a), s);
		return;
	}
	check(r == 0, "unexpected return", s);
	check_addr(&a, s);
	/* Stricter than the C library, never more lenient. */
	{
		uint8_t libc[16] = { 0 };

		check(inet_pton(a.family, s, libc) == 1, "accepted what inet_pton rejects", s);
		check(memcmp(a.bytes, libc, 16) == 0, "bytes differ from inet_pton", s);
	}
}

static void fuzz_prefix(const char *s)
{
	struct ip_prefix p;
	struct ip_range r;
	const char *why = NULL;
	char buf[IP_RANGE_STRLEN];
	struct ip_prefix q;
	int e;

	memset(&p, SENTINEL, sizeof(p));
	e = prefix_parse(s, &p, &why);
	if (e < 0) {
		check_failure(e, why, &p, sizeof(p), s);
		return;
	}
	check_addr(&p.addr, s);
	check(p.len <= ip_bits(p.addr.family), "prefix length out of range", s);
	prefix_to_range(&p, &r);
	check(memcmp(&r.first, &p.addr, sizeof(p.addr)) == 0, "host bits set", s);
	check(ip_cmp(&r.first, &r.last) <= 0, "prefix range reversed", s);
	check(prefix_contains(&p, &r.first) && prefix_contains(&p, &r.last),
	      "prefix does not contain its own range", s);
	prefix_format(&p, buf, sizeof(buf));
	check(prefix_parse(buf, &q, NULL) == 0, "formatted prefix does not parse", s);
	check(memcmp(&p, &q, sizeof(q)) == 0, "prefix round trip differs", s);
}

static void fuzz_range(const char *s)
{
	struct ip_range r, q;
	const char *why = NULL;
	char buf[IP_RANGE_STRLEN];
	struct ip_addr last;
	int e;

	memset(&r, SENTINEL, sizeof(r));
	e = range_parse(s, &r, &why);
	if (e < 0) {
		check_failure(e, why, &r, sizeof(r), s);
		return;
	}
	check_addr(&r.first, s);
	check_addr(&r.last, s);
	check(r.first.family == r.last.family, "range of two families", s);
	check(ip_cmp(&r.first, &r.last) <= 0, "range first > last", s);
	check(range_contains(&r, &r.first) && range_contains(&r, &r.last),
	      "range does not contain its ends", s);
	check(range_overlaps(&r, &r), "range does not overlap itself", s);
	check(ip_add(&r.first, range_span(&r), &last) == 0, "first + span overflows", s);
	check(memcmp(&last, &r.last, sizeof(last)) == 0, "first + span != last", s);
	range_format(&r, buf, sizeof(buf));
	check(range_parse(buf, &q, NULL) == 0, "formatted range does not parse", s);
	check(memcmp(&r, &q, sizeof(q)) == 0, "range round trip differs", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The parsers take C strings; anything past an embedded NUL is simply
	 * not seen, the way a C caller would pass it. */
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_ip(s);
	fuzz_prefix(s);
	fuzz_range(s);
	free(s);
	return 0;
}
