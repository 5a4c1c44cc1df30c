/* IPv4 and IPv6 addresses, prefixes (CIDRs) and inclusive ranges.
 *
 * One representation for both families so that pools, allocation and the
 * speaker can do arithmetic on addresses without caring which family they
 * hold. Parsers are strict: they accept the canonical textual forms an
 * operator writes in a manifest and reject everything else with a reason.
 */
#ifndef IRONLB_ADDR_H
#define IRONLB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h> /* AF_INET, AF_INET6 */

/* Longest text any parser here looks at; longer input is rejected. */
#define IP_INPUT_MAX 128
/* Enough for any formatted address (INET6_ADDRSTRLEN). */
#define IP_STRLEN 46
/* Enough for a formatted prefix ("addr/len") or range ("a-b"). */
#define IP_RANGE_STRLEN (2 * IP_STRLEN + 2)

typedef unsigned __int128 ip_u128;

/* family is AF_INET or AF_INET6. An IPv4 address occupies bytes[0..3] and the
 * rest of bytes is zero, so memcmp on a whole struct ip_addr is well defined
 * when it was produced by this module. */
struct ip_addr {
	uint8_t family;
	uint8_t bytes[16];
};

struct ip_prefix {
	struct ip_addr addr; /* network address: host bits are zero */
	uint8_t len;	     /* 0..32 or 0..128 */
};

/* Inclusive range [first, last], both of one family, first <= last. */
struct ip_range {
	struct ip_addr first;
	struct ip_addr last;
};

/* Parses a single address. IPv4: dotted quad, four decimal octets, no leading
 * zeros ("010.0.0.1" is rejected: ambiguous between octal and decimal).
 * IPv6: RFC 4291 text forms; IPv4-mapped forms ("::ffff:192.0.2.1") parse as
 * AF_INET6 (see ip_is_v4_mapped). No zone ids, no surrounding brackets or
 * whitespace. Returns 0 or -EINVAL; *ret_why (if not NULL) is set to a static
 * string naming the problem on failure.
 * For this and the other parsers: input longer than IP_INPUT_MAX is rejected
 * without reading more than IP_INPUT_MAX + 1 bytes; NULL input counts as
 * empty; ret may be NULL to only validate; *ret is untouched on failure and
 * *ret_why on success. */
int ip_parse(const char *s, struct ip_addr *ret, const char **ret_why);

/* Formats in canonical form (RFC 5952 for IPv6) into buf of at least
 * IP_STRLEN bytes; returns buf. Only IPv4-mapped addresses use the dotted
 * form ("::ffff:192.0.2.1"); the rest of ::/96 stays hexadecimal ("::1:2",
 * where glibc's inet_ntop prints "::0.1.0.2"). A shorter buf gets a truncated,
 * terminated string; an unknown family formats as "?". */
char *ip_format(const struct ip_addr *a, char *buf, size_t len);

/* Total order: every IPv4 address sorts before every IPv6 address, then by
 * numeric value. Returns <0, 0, >0. */
int ip_cmp(const struct ip_addr *a, const struct ip_addr *b);
bool ip_equal(const struct ip_addr *a, const struct ip_addr *b);

/* Number of address bits: 32 or 128 (0 for any other family). */
unsigned ip_bits(int family);

/* Numeric value (IPv4 in the low 32 bits) and back; ip_from_u128 uses only
 * the low 32 bits of v for AF_INET. */
ip_u128 ip_to_u128(const struct ip_addr *a);
void ip_from_u128(int family, ip_u128 v, struct ip_addr *ret);

/* ret = a + n within a's family. Returns 0, or -ERANGE if the result would
 * leave the family's address space (ret untouched), or -EINVAL if a's family
 * is neither AF_INET nor AF_INET6. */
int ip_add(const struct ip_addr *a, ip_u128 n, struct ip_addr *ret);

/* True for ::ffff:0:0/96. ip_unmap turns such an address into its IPv4 form
 * and returns 0, or -EINVAL if a is not IPv4-mapped. */
bool ip_is_v4_mapped(const struct ip_addr *a);
int ip_unmap(const struct ip_addr *a, struct ip_addr *ret);

/* Parses "addr/len". Rejects host bits set ("192.0.2.1/24": ambiguous in a
 * pool), prefix lengths out of range or with leading zeros, and a missing
 * length. */
int prefix_parse(const char *s, struct ip_prefix *ret, const char **ret_why);
char *prefix_format(const struct ip_prefix *p, char *buf, size_t len);
/* False for an address of the other family: "::ffff:192.0.2.1" is not in
 * 192.0.2.0/24. */
bool prefix_contains(const struct ip_prefix *p, const struct ip_addr *a);
void prefix_to_range(const struct ip_prefix *p, struct ip_range *ret);
/* The prefix of length len holding a (host bits cleared). -EINVAL if len is
 * longer than a's family allows. */
int prefix_from_addr(const struct ip_addr *a, unsigned len, struct ip_prefix *ret);

/* An address from raw network-order bytes: 4 for AF_INET, 16 for AF_INET6.
 * -EINVAL for any other family/length pair. */
int ip_from_bytes(int family, const void *bytes, size_t len, struct ip_addr *ret);

/* Parses a pool entry: a CIDR ("198.51.100.0/24"), an inclusive range of one
 * family ("198.51.100.10-198.51.100.20", spaces around '-' allowed), or a
 * single address (a range of one). Rejects mixed families and first > last.
 * Only spaces and tabs, and only around the '-', are allowed; bounds are
 * addresses, not CIDRs. IPv4-mapped bounds stay IPv6 and are never unmapped,
 * so "::ffff:192.0.2.1-192.0.2.9" is mixed; "::ffff:192.0.2.1" alone is an
 * IPv6 range of one. */
int range_parse(const char *s, struct ip_range *ret, const char **ret_why);
/* Formats as "first-last", or as a single address when first == last. */
char *range_format(const struct ip_range *r, char *buf, size_t len);
bool range_contains(const struct ip_range *r, const struct ip_addr *a);
/* Sharing one address is overlapping; ranges of different families never
 * overlap. */
bool range_overlaps(const struct ip_range *a, const struct ip_range *b);
/* Number of addresses minus one (so that a whole IPv6 space fits). */
ip_u128 range_span(const struct ip_range *r);

#endif
