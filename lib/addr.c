/* IPv4 and IPv6 addresses, prefixes and inclusive ranges: strict parsing,
 * canonical formatting and 128-bit arithmetic.
 *
 * The parsers are written by hand rather than on top of inet_pton(): C
 * libraries differ on what it accepts (leading zeros, for one), and it cannot
 * say what is wrong, while an operator needs a reason to act on. The fuzz
 * target checks that whatever we accept glibc accepts too, with the same
 * bytes. Formatting is also by hand because glibc's inet_ntop() prints any
 * address in ::/96 in dotted form ("::1:2" becomes "::0.1.0.2"), which
 * RFC 5952 does not ask for.
 * Nothing here allocates, logs or keeps state.
 */
#include "ironlb/addr.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define IP4_MAPPED_PREFIX_LEN 12 /* bytes of ::ffff:0:0/96 before the IPv4 part */

static const uint8_t ip4_mapped_prefix[IP4_MAPPED_PREFIX_LEN] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

/* Our own digit tests: <ctype.h> depends on the locale and is undefined for
 * negative char values. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int fail(const char **ret_why, const char *why, int err)
{
	if (ret_why)
		*ret_why = why;
	return err;
}

/* Checks the common preconditions of every parser and copies s into buf
 * (IP_INPUT_MAX + 1 bytes) so callers may split it in place. strnlen bounds
 * the read: an unterminated or huge input is never read past
 * IP_INPUT_MAX + 1 bytes. */
static int input_copy(const char *s, char *buf, const char **ret_why)
{
	size_t n;

	if (!s)
		return fail(ret_why, "empty", -EINVAL);
	n = strnlen(s, IP_INPUT_MAX + 1);
	if (n == 0)
		return fail(ret_why, "empty", -EINVAL);
	if (n > IP_INPUT_MAX)
		return fail(ret_why, "input too long", -EINVAL);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

/* Parses exactly a dotted quad that runs to the end of s. */
static int ip4_parse(const char *s, uint8_t out[4], const char **ret_why)
{
	const char *p = s;
	uint8_t tmp[4];

	for (int i = 0; i < 4; i++) {
		unsigned v = 0;

		if (i > 0) {
			if (*p == '\0')
				return fail(ret_why, "too few octets in IPv4 address", -EINVAL);
			if (*p != '.')
				return fail(ret_why, "invalid character", -EINVAL);
			p++;
		}
		if (!is_digit(*p)) {
			if (*p == '.' || *p == '\0')
				return fail(ret_why, "empty IPv4 octet", -EINVAL);
			return fail(ret_why, "invalid character", -EINVAL);
		}
		/* "010" means 8 to inet_aton() and 10 to inet_pton(): refuse to guess. */
		if (p[0] == '0' && is_digit(p[1]))
			return fail(ret_why, "leading zero in IPv4 octet", -EINVAL);
		while (is_digit(*p)) {
			v = v * 10 + (unsigned)(*p - '0');
			if (v > 255)
				return fail(ret_why, "IPv4 octet out of range", -EINVAL);
			p++;
		}
		tmp[i] = (uint8_t)v;
	}
	if (*p == '.')
		return fail(ret_why, "too many octets in IPv4 address", -EINVAL);
	if (*p != '\0')
		return fail(ret_why, "invalid character", -EINVAL);
	memcpy(out, tmp, sizeof(tmp));
	return 0;
}

/* Parses the RFC 4291 section 2.2 text forms: eight groups of one to four hex
 * digits, at most one "::" standing for one or more zero groups, and
 * optionally a dotted quad in place of the last two groups. */
static int ip6_parse(const char *s, uint8_t out[16], const char **ret_why)
{
	uint16_t words[8];
	int nw = 0;
	int gap = -1; /* index in words where "::" stands, or -1 */
	const char *p = s;

	if (p[0] == ':') {
		if (p[1] != ':')
			return fail(ret_why, "IPv6 address starts with a single ':'", -EINVAL);
		gap = 0;
		p += 2;
	}
	while (*p != '\0') {
		const char *start = p;
		unsigned v = 0;
		int ndigits = 0;

		while (hex_value(*p) >= 0) {
			/* Stop accumulating at five digits: already an error. */
			if (ndigits < 5)
				v = v * 16 + (unsigned)hex_value(*p);
			ndigits++;
			p++;
		}
		if (*p == '.') {
			/* The embedded IPv4 part must be the last thing in the address. */
			uint8_t v4[4];
			int r;

			if (nw + 2 > (gap >= 0 ? 7 : 8))
				return fail(ret_why, "too many IPv6 groups", -EINVAL);
			r = ip4_parse(start, v4, ret_why);
			if (r < 0)
				return r;
			words[nw++] = (uint16_t)(v4[0] << 8 | v4[1]);
			words[nw++] = (uint16_t)(v4[2] << 8 | v4[3]);
			p = start + strlen(start);
			break;
		}
		if (ndigits == 0) {
			if (*p == ':' || *p == '\0')
				return fail(ret_why, "empty IPv6 group", -EINVAL);
			return fail(ret_why, "invalid character", -EINVAL);
		}
		if (ndigits > 4)
			return fail(ret_why, "IPv6 group longer than four hex digits", -EINVAL);
		if (nw == 8)
			return fail(ret_why, "too many IPv6 groups", -EINVAL);
		words[nw++] = (uint16_t)v;
		if (*p == '\0')
			break;
		if (*p != ':')
			return fail(ret_why, "invalid character", -EINVAL);
		p++;
		if (*p == ':') {
			if (gap >= 0)
				return fail(ret_why, "more than one '::'", -EINVAL);
			gap = nw;
			p++;
		} else if (*p == '\0') {
			return fail(ret_why, "IPv6 address ends with a single ':'", -EINVAL);
		}
	}

	if (gap >= 0) {
		int nzero = 8 - nw;

		/* "::" must stand for at least one group. */
		if (nzero < 1)
			return fail(ret_why, "too many IPv6 groups", -EINVAL);
		memmove(&words[gap + nzero], &words[gap], (size_t)(nw - gap) * sizeof(words[0]));
		for (int i = gap; i < gap + nzero; i++)
			words[i] = 0;
	} else if (nw != 8) {
		return fail(ret_why, "too few IPv6 groups", -EINVAL);
	}

	for (int i = 0; i < 8; i++) {
		out[2 * i] = (uint8_t)(words[i] >> 8);
		out[2 * i + 1] = (uint8_t)words[i];
	}
	return 0;
}

/* ip_parse on a string already known to be at most IP_INPUT_MAX long. */
static int ip_parse_checked(const char *s, struct ip_addr *ret, const char **ret_why)
{
	struct ip_addr a = { 0 };
	bool v6 = false;
	int r;

	if (*s == '\0')
		return fail(ret_why, "empty", -EINVAL);
	/* Name the common mistakes precisely before the family parsers see them. */
	for (const char *p = s; *p; p++) {
		if (is_space(*p))
			return fail(ret_why, "whitespace not allowed", -EINVAL);
		if (*p == '%')
			return fail(ret_why, "zone id not allowed", -EINVAL);
		if (*p == '[' || *p == ']')
			return fail(ret_why, "brackets not allowed", -EINVAL);
		if (*p == '/')
			return fail(ret_why, "prefix length not allowed here", -EINVAL);
		if (*p == ':')
			v6 = true;
	}

	if (v6) {
		a.family = AF_INET6;
		r = ip6_parse(s, a.bytes, ret_why);
	} else {
		a.family = AF_INET;
		r = ip4_parse(s, a.bytes, ret_why);
	}
	if (r < 0)
		return r;
	if (ret)
		*ret = a;
	return 0;
}

int ip_parse(const char *s, struct ip_addr *ret, const char **ret_why)
{
	char buf[IP_INPUT_MAX + 1];
	int r;

	r = input_copy(s, buf, ret_why);
	if (r < 0)
		return r;
	return ip_parse_checked(buf, ret, ret_why);
}

/* Writes src into buf the way snprintf would: truncated, always terminated
 * when len > 0. Returns buf. */
static char *copy_out(const char *src, char *buf, size_t len)
{
	if (len > 0) {
		size_t n = strnlen(src, len - 1);

		memcpy(buf, src, n);
		buf[n] = '\0';
	}
	return buf;
}

static void ip4_format(const uint8_t b[4], char out[IP_STRLEN])
{
	snprintf(out, IP_STRLEN, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

/* RFC 5952: lowercase hex without leading zeros, the longest run of two or
 * more zero groups (the leftmost on a tie) as "::", and dotted form only for
 * IPv4-mapped addresses (section 5) so that "::ffff:192.0.2.1" round-trips
 * while ::/96 addresses like "::1:2" stay hexadecimal. */
static void ip6_format(const uint8_t b[16], char out[IP_STRLEN])
{
	uint16_t words[8];
	int best = -1, best_len = 0;
	size_t n = 0;

	if (memcmp(b, ip4_mapped_prefix, IP4_MAPPED_PREFIX_LEN) == 0) {
		snprintf(out, IP_STRLEN, "::ffff:%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
		return;
	}

	for (int i = 0; i < 8; i++)
		words[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
	for (int i = 0; i < 8;) {
		int j = i;

		while (j < 8 && words[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	if (best_len < 2)
		best = -1;

	for (int i = 0; i < 8; i++) {
		if (i == best) {
			n += (size_t)snprintf(out + n, IP_STRLEN - n, "::");
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			out[n++] = ':';
		n += (size_t)snprintf(out + n, IP_STRLEN - n, "%x", words[i]);
	}
	out[n] = '\0';
}

char *ip_format(const struct ip_addr *a, char *buf, size_t len)
{
	char tmp[IP_STRLEN];

	if (a->family == AF_INET)
		ip4_format(a->bytes, tmp);
	else if (a->family == AF_INET6)
		ip6_format(a->bytes, tmp);
	else
		snprintf(tmp, sizeof(tmp), "?");
	return copy_out(tmp, buf, len);
}

unsigned ip_bits(int family)
{
	switch (family) {
	case AF_INET:
		return 32;
	case AF_INET6:
		return 128;
	default:
		return 0;
	}
}

ip_u128 ip_to_u128(const struct ip_addr *a)
{
	unsigned nbytes = a->family == AF_INET ? 4 : 16;
	ip_u128 v = 0;

	for (unsigned i = 0; i < nbytes; i++)
		v = v << 8 | a->bytes[i];
	return v;
}

void ip_from_u128(int family, ip_u128 v, struct ip_addr *ret)
{
	unsigned nbytes = family == AF_INET ? 4 : 16;
	struct ip_addr a = { .family = (uint8_t)family };

	for (unsigned i = nbytes; i-- > 0;) {
		a.bytes[i] = (uint8_t)v;
		v >>= 8;
	}
	*ret = a;
}

/* Largest value of the family: 2^bits - 1, written so that no shift is 128. */
static ip_u128 family_max(int family)
{
	return family == AF_INET ? (ip_u128)UINT32_MAX : ~(ip_u128)0;
}

/* Host-part mask of a prefix of length len in a family of bits bits. */
static ip_u128 host_mask(unsigned bits, unsigned len)
{
	unsigned host = bits - len;

	if (host >= 128)
		return ~(ip_u128)0;
	return ((ip_u128)1 << host) - 1;
}

static int family_rank(int family)
{
	return family == AF_INET ? 0 : family == AF_INET6 ? 1 : 2;
}

/* The bytes are in network order, so comparing them as big-endian numbers
 * orders the addresses; sorts and searches of 10,000 addresses spend much
 * of their time here, hence whole words rather than memcmp(). */
static int be_cmp(const uint8_t *x, const uint8_t *y, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t u, v;

		memcpy(&u, x + i, 8);
		memcpy(&v, y + i, 8);
		if (u != v) {
			u = be64toh(u);
			v = be64toh(v);
			return u < v ? -1 : 1;
		}
	}
	return 0;
}

int ip_cmp(const struct ip_addr *a, const struct ip_addr *b)
{
	int ra, rb;

	if (a->family == b->family) {
		/* Only the family's own bytes count, so stray bytes past an
		 * IPv4 address cannot make two equal addresses differ. */
		if (a->family == AF_INET) {
			uint32_t u, v;

			memcpy(&u, a->bytes, 4);
			memcpy(&v, b->bytes, 4);
			u = be32toh(u);
			v = be32toh(v);
			return u < v ? -1 : u > v;
		}
		if (a->family == AF_INET6)
			return be_cmp(a->bytes, b->bytes, 16);
	}
	ra = family_rank(a->family);
	rb = family_rank(b->family);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return be_cmp(a->bytes, b->bytes, 16);
}

bool ip_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	return ip_cmp(a, b) == 0;
}

int ip_add(const struct ip_addr *a, ip_u128 n, struct ip_addr *ret)
{
	ip_u128 v;

	if (a->family != AF_INET && a->family != AF_INET6)
		return -EINVAL;
	v = ip_to_u128(a);
	if (n > family_max(a->family) - v)
		return -ERANGE;
	ip_from_u128(a->family, v + n, ret);
	return 0;
}

bool ip_is_v4_mapped(const struct ip_addr *a)
{
	return a->family == AF_INET6 &&
	       memcmp(a->bytes, ip4_mapped_prefix, IP4_MAPPED_PREFIX_LEN) == 0;
}

int ip_unmap(const struct ip_addr *a, struct ip_addr *ret)
{
	struct ip_addr v4 = { .family = AF_INET };

	if (!ip_is_v4_mapped(a))
		return -EINVAL;
	memcpy(v4.bytes, a->bytes + IP4_MAPPED_PREFIX_LEN, 4);
	*ret = v4;
	return 0;
}

/* Parses a prefix length: decimal, no sign, no leading zero, at most bits. */
static int prefix_len_parse(const char *s, unsigned bits, uint8_t *ret, const char **ret_why)
{
	unsigned v = 0;

	if (*s == '\0')
		return fail(ret_why, "missing prefix length", -EINVAL);
	if (s[0] == '0' && s[1] != '\0')
		return fail(ret_why, "leading zero in prefix length", -EINVAL);
	for (const char *p = s; *p; p++) {
		if (is_space(*p))
			return fail(ret_why, "whitespace not allowed", -EINVAL);
		if (!is_digit(*p))
			return fail(ret_why, "prefix length is not a number", -EINVAL);
		v = v * 10 + (unsigned)(*p - '0');
		/* Stop before v can wrap; "00..." was rejected above. */
		if (v > bits)
			return fail(ret_why, "prefix length out of range", -EINVAL);
	}
	*ret = (uint8_t)v;
	return 0;
}

static int prefix_parse_checked(char *s, struct ip_prefix *ret, const char **ret_why)
{
	struct ip_prefix pfx;
	char *slash = strchr(s, '/');
	int r;

	if (!slash)
		return fail(ret_why, "missing prefix length", -EINVAL);
	if (slash == s)
		return fail(ret_why, "missing address before '/'", -EINVAL);
	*slash = '\0';
	r = ip_parse_checked(s, &pfx.addr, ret_why);
	if (r < 0)
		return r;
	r = prefix_len_parse(slash + 1, ip_bits(pfx.addr.family), &pfx.len, ret_why);
	if (r < 0)
		return r;
	if (ip_to_u128(&pfx.addr) & host_mask(ip_bits(pfx.addr.family), pfx.len))
		return fail(ret_why, "host bits set", -EINVAL);
	if (ret)
		*ret = pfx;
	return 0;
}

int prefix_parse(const char *s, struct ip_prefix *ret, const char **ret_why)
{
	char buf[IP_INPUT_MAX + 1];
	int r;

	r = input_copy(s, buf, ret_why);
	if (r < 0)
		return r;
	return prefix_parse_checked(buf, ret, ret_why);
}

char *prefix_format(const struct ip_prefix *p, char *buf, size_t len)
{
	char addr[IP_STRLEN];
	char tmp[IP_RANGE_STRLEN];

	ip_format(&p->addr, addr, sizeof(addr));
	snprintf(tmp, sizeof(tmp), "%s/%u", addr, p->len);
	return copy_out(tmp, buf, len);
}

/* A length longer than the family allows contains nothing rather than
 * shifting out of range. */
bool prefix_contains(const struct ip_prefix *p, const struct ip_addr *a)
{
	unsigned bits = ip_bits(p->addr.family);

	if (a->family != p->addr.family || bits == 0 || p->len > bits)
		return false;
	return ((ip_to_u128(a) ^ ip_to_u128(&p->addr)) & ~host_mask(bits, p->len)) == 0;
}

void prefix_to_range(const struct ip_prefix *p, struct ip_range *ret)
{
	unsigned bits = ip_bits(p->addr.family);
	unsigned len = p->len > bits ? bits : p->len;
	ip_u128 mask = host_mask(bits, len);
	ip_u128 v = ip_to_u128(&p->addr);
	struct ip_range r;

	/* Host bits are zero in a parsed prefix; clearing them anyway keeps
	 * first <= last for a hand-built one. */
	ip_from_u128(p->addr.family, v & ~mask, &r.first);
	ip_from_u128(p->addr.family, (v & ~mask) | (mask & family_max(p->addr.family)), &r.last);
	*ret = r;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int range_parse(const char *s, struct ip_range *ret, const char **ret_why)
{
	char buf[IP_INPUT_MAX + 1];
	struct ip_range r;
	char *dash, *left, *right, *end;
	int e;

	e = input_copy(s, buf, ret_why);
	if (e < 0)
		return e;

	dash = strchr(buf, '-');
	if (!dash) {
		struct ip_prefix pfx;

		if (strchr(buf, '/')) {
			e = prefix_parse_checked(buf, &pfx, ret_why);
			if (e < 0)
				return e;
			prefix_to_range(&pfx, &r);
		} else {
			e = ip_parse_checked(buf, &r.first, ret_why);
			if (e < 0)
				return e;
			r.last = r.first;
		}
		if (ret)
			*ret = r;
		return 0;
	}

	if (strchr(dash + 1, '-'))
		return fail(ret_why, "more than one '-'", -EINVAL);
	/* Blanks are allowed around the '-' only; ip_parse rejects any other. */
	*dash = '\0';
	left = buf;
	for (end = dash; end > left && is_blank(end[-1]); end--)
		;
	*end = '\0';
	right = dash + 1;
	while (is_blank(*right))
		right++;
	if (*left == '\0')
		return fail(ret_why, "missing range start", -EINVAL);
	if (*right == '\0')
		return fail(ret_why, "missing range end", -EINVAL);
	if (strchr(left, '/') || strchr(right, '/'))
		return fail(ret_why, "prefix not allowed as a range bound", -EINVAL);

	e = ip_parse_checked(left, &r.first, ret_why);
	if (e < 0)
		return e;
	e = ip_parse_checked(right, &r.last, ret_why);
	if (e < 0)
		return e;
	if (r.first.family != r.last.family)
		return fail(ret_why, "mixed address families", -EINVAL);
	if (ip_cmp(&r.first, &r.last) > 0)
		return fail(ret_why, "range start after end", -EINVAL);
	if (ret)
		*ret = r;
	return 0;
}

char *range_format(const struct ip_range *r, char *buf, size_t len)
{
	char first[IP_STRLEN], last[IP_STRLEN];
	char tmp[IP_RANGE_STRLEN];

	ip_format(&r->first, first, sizeof(first));
	if (ip_equal(&r->first, &r->last))
		return copy_out(first, buf, len);
	ip_format(&r->last, last, sizeof(last));
	snprintf(tmp, sizeof(tmp), "%s-%s", first, last);
	return copy_out(tmp, buf, len);
}

bool range_contains(const struct ip_range *r, const struct ip_addr *a)
{
	return a->family == r->first.family && ip_cmp(&r->first, a) <= 0 &&
	       ip_cmp(a, &r->last) <= 0;
}

/* Ranges of different families never overlap, even an IPv4 range and the
 * IPv4-mapped IPv6 range that names the same hosts: they are different
 * addresses on the wire. */
bool range_overlaps(const struct ip_range *a, const struct ip_range *b)
{
	return a->first.family == b->first.family && ip_cmp(&a->first, &b->last) <= 0 &&
	       ip_cmp(&b->first, &a->last) <= 0;
}

ip_u128 range_span(const struct ip_range *r)
{
	return ip_to_u128(&r->last) - ip_to_u128(&r->first);
}

int prefix_from_addr(const struct ip_addr *a, unsigned len, struct ip_prefix *ret)
{
	unsigned bits = ip_bits(a->family);
	ip_u128 v, mask;

	if (!bits || len > bits)
		return -EINVAL;
	v = ip_to_u128(a);
	/* Shifting by the full width is undefined: len 0 masks everything. */
	mask = len ? ~(ip_u128)0 << (bits - len) : 0;
	if (bits == 32)
		mask &= 0xffffffffu;
	ip_from_u128(a->family, v & mask, &ret->addr);
	ret->len = (uint8_t)len;
	return 0;
}

int ip_from_bytes(int family, const void *bytes, size_t len, struct ip_addr *ret)
{
	if (!((family == AF_INET && len == 4) || (family == AF_INET6 && len == 16)))
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->family = (uint8_t)family;
	memcpy(ret->bytes, bytes, len);
	return 0;
}
