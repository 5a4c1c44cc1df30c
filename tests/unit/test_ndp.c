/* Unit tests for speaker/ndp.c: NA and NS frames compared with hand-written
 * bytes (checksums computed independently), field checks, round trips,
 * every truncation and every RFC 4861 validity rule, classification, the
 * solicited-node helpers and the BPF program under libpcap's interpreter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include <pcap/bpf.h>

#include "ironlb/addr.h"
#include "../../speaker/arp.h"
#include "../../speaker/ndp.h"

#define SENTINEL 0xa5

static const uint8_t OUR_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t PEER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

#define ADDR_DB8_10                                                                                \
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  \
		0x10
#define ADDR_DB8_1                                                                                 \
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  \
		0x01
#define ADDR_ALL_NODES                                                                             \
	0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  \
		0x01
#define ADDR_SN_10                                                                                 \
	0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00,  \
		0x10
#define ADDR_UNSPEC 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0

/* Unsolicited NA for 2001:db8::10 from 02:00:00:00:00:01. */
/* clang-format off */
static const uint8_t UNSOL_NA[NDP_FRAME_LEN] = {
	0x33, 0x33, 0x00, 0x00, 0x00, 0x01,		/* all-nodes MAC */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, /* from us, IPv6 */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, /* v6, 32 bytes, ICMPv6, hop 255 */
	ADDR_DB8_10,					/* source: the address */
	ADDR_ALL_NODES,					/* ff02::1 */
	0x88, 0x00, 0xf9, 0x0c,				/* NA, code 0, checksum */
	0x20, 0x00, 0x00, 0x00,				/* R0 S0 O1 */
	ADDR_DB8_10,					/* target */
	0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* TLLA */
};
/* clang-format on */

/* DAD probe for 2001:db8::10. */
/* clang-format off */
static const uint8_t DAD_NS[NDP_MIN_FRAME_LEN] = {
	0x33, 0x33, 0xff, 0x00, 0x00, 0x10,		/* solicited-node MAC */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x00, 0x00, 0x00,
	0x00, 0x18, 0x3a, 0xff,				/* 24 bytes */
	ADDR_UNSPEC,					/* :: */
	ADDR_SN_10,					/* ff02::1:ff00:10 */
	0x87, 0x00, 0x4c, 0xcf, 0x00, 0x00, 0x00, 0x00, /* NS */
	ADDR_DB8_10,
};
/* clang-format on */

/* 2001:db8::1 (02:00:00:00:00:99) solicits 2001:db8::10. */
/* clang-format off */
static const uint8_t NS[NDP_FRAME_LEN] = {
	0x33, 0x33, 0xff, 0x00, 0x00, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x99, 0x86, 0xdd,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, ADDR_DB8_1, ADDR_SN_10,
	0x87, 0x00, 0x1b, 0x73, 0x00, 0x00, 0x00, 0x00, ADDR_DB8_10,
	0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x99, /* SLLA */
};
/* clang-format on */

/* Our answer to NS. */
/* clang-format off */
static const uint8_t SOL_NA[NDP_FRAME_LEN] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x99,		/* unicast to the solicitor */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60, 0x00, 0x00, 0x00,
	0x00, 0x20, 0x3a, 0xff, ADDR_DB8_10, ADDR_DB8_1, 0x88, 0x00, 0x8a, 0x56,
	0x60, 0x00, 0x00, 0x00,				/* R0 S1 O1 */
	ADDR_DB8_10, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
};
/* clang-format on */

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

static struct ndp_packet parse_ok(const uint8_t *frame, size_t len)
{
	struct ndp_packet p;
	const char *why = NULL;

	if (ndp_parse(frame, len, &p, &why) != 0)
		fail_msg("ndp_parse: %s", why);
	return p;
}

/* Recomputes the checksum of a frame edited by a test, if the payload it
 * declares fits in the size bytes of the buffer. */
static void fix_checksum(uint8_t *f, size_t size)
{
	struct ip_addr src = { .family = AF_INET6 }, dst = { .family = AF_INET6 };
	size_t plen = (size_t)(f[18] << 8 | f[19]);
	uint16_t c;

	if (54 + plen > size || plen < 4)
		return;
	memcpy(src.bytes, f + 22, 16);
	memcpy(dst.bytes, f + 38, 16);
	f[56] = f[57] = 0;
	c = ndp_icmp6_checksum(&src, &dst, f + 54, plen);
	f[56] = (uint8_t)(c >> 8);
	f[57] = (uint8_t)c;
}

/* ---- helpers ---- */

static void test_solicited_node_address_and_mac(void **state)
{
	struct ip_addr a = ip("4037::1:800:200e:8c6c"), sn, v4 = ip("192.0.2.1");
	uint8_t mac[6];

	(void)state;
	/* RFC 4291 section 2.7.1's example. */
	assert_int_equal(ndp_solicited_node(&a, &sn), 0);
	assert_true(ip_equal(&sn, &(struct ip_addr){
					  .family = AF_INET6,
					  .bytes = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
						     0xff, 0x0e, 0x8c, 0x6c },
				  }));
	ndp_multicast_mac(&sn, mac);
	assert_memory_equal(mac, "\x33\x33\xff\x0e\x8c\x6c", 6);
	a = ip("ff02::1");
	ndp_multicast_mac(&a, mac);
	assert_memory_equal(mac, "\x33\x33\x00\x00\x00\x01", 6);
	assert_int_equal(ndp_solicited_node(&v4, &sn), -EINVAL);
}

static void test_checksum_of_correct_message_is_zero(void **state)
{
	const uint8_t *frames[] = { UNSOL_NA, DAD_NS, NS, SOL_NA };
	const size_t lens[] = { sizeof(UNSOL_NA), sizeof(DAD_NS), sizeof(NS), sizeof(SOL_NA) };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct ip_addr src = { .family = AF_INET6 }, dst = { .family = AF_INET6 };

		memcpy(src.bytes, frames[i] + 22, 16);
		memcpy(dst.bytes, frames[i] + 38, 16);
		assert_int_equal(ndp_icmp6_checksum(&src, &dst, frames[i] + 54, lens[i] - 54), 0);
	}
}

/* ---- builders ---- */

static void test_unsolicited_na_matches_bytes(void **state)
{
	struct ip_addr t = ip("2001:db8::10");
	uint8_t buf[128];

	(void)state;
	assert_int_equal(ndp_build_unsolicited_na(OUR_MAC, &t, buf, sizeof(buf)), NDP_FRAME_LEN);
	assert_memory_equal(buf, UNSOL_NA, NDP_FRAME_LEN);
}

static void test_unsolicited_na_fields(void **state)
{
	struct ip_addr t = ip("2001:db8:1:2::abcd");
	uint8_t buf[NDP_FRAME_LEN];
	struct ndp_packet p;

	(void)state;
	assert_int_equal(ndp_build_unsolicited_na(OUR_MAC, &t, buf, sizeof(buf)), NDP_FRAME_LEN);
	p = parse_ok(buf, sizeof(buf));
	assert_memory_equal(p.eth_dst, "\x33\x33\x00\x00\x00\x01", 6);
	assert_memory_equal(p.eth_src, OUR_MAC, 6);
	assert_true(ip_equal(&p.dst,
			     &(struct ip_addr){ .family = AF_INET6, .bytes = { ADDR_ALL_NODES } }));
	assert_true(ip_equal(&p.src, &t));
	assert_int_equal(p.type, NDP_NA);
	assert_false(p.router);
	assert_false(p.solicited);
	assert_true(p.override);
	assert_true(ip_equal(&p.target, &t));
	assert_true(p.has_lladdr);
	assert_memory_equal(p.lladdr, OUR_MAC, 6);
	assert_int_equal(buf[21], 255); /* hop limit */
	assert_int_equal(buf[20], 58);	/* next header */
	assert_int_equal(buf[54 + 24], NDP_OPT_TLLA);
}

static void test_dad_probe_matches_bytes(void **state)
{
	struct ip_addr t = ip("2001:db8::10");
	uint8_t buf[128];
	struct ndp_packet p;

	(void)state;
	assert_int_equal(ndp_build_dad_ns(OUR_MAC, &t, buf, sizeof(buf)), NDP_MIN_FRAME_LEN);
	assert_memory_equal(buf, DAD_NS, NDP_MIN_FRAME_LEN);
	p = parse_ok(buf, NDP_MIN_FRAME_LEN);
	assert_int_equal(p.type, NDP_NS);
	assert_false(p.has_lladdr);
	assert_true(ip_equal(&p.src, &(struct ip_addr){ .family = AF_INET6 }));
}

static void test_solicited_na_matches_bytes_and_is_unicast(void **state)
{
	struct ndp_packet ns = parse_ok(NS, sizeof(NS));
	uint8_t buf[128];

	(void)state;
	assert_int_equal(ndp_build_solicited_na(OUR_MAC, &ns, buf, sizeof(buf)), NDP_FRAME_LEN);
	assert_memory_equal(buf, SOL_NA, NDP_FRAME_LEN);
}

static void test_solicited_na_without_slla_goes_to_ethernet_source(void **state)
{
	struct ndp_packet ns = parse_ok(NS, sizeof(NS)), na;
	uint8_t buf[128];
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x55 };

	(void)state;
	ns.has_lladdr = false;
	memcpy(ns.eth_src, other, 6);
	assert_int_equal(ndp_build_solicited_na(OUR_MAC, &ns, buf, sizeof(buf)), NDP_FRAME_LEN);
	na = parse_ok(buf, NDP_FRAME_LEN);
	assert_memory_equal(na.eth_dst, other, 6);
	assert_true(na.solicited);
}

static void test_answer_to_dad_probe_is_multicast_and_unsolicited(void **state)
{
	struct ndp_packet ns = parse_ok(DAD_NS, sizeof(DAD_NS)), na;
	uint8_t buf[128];

	(void)state;
	memcpy(ns.eth_src, PEER_MAC, 6);
	assert_int_equal(ndp_build_solicited_na(OUR_MAC, &ns, buf, sizeof(buf)), NDP_FRAME_LEN);
	na = parse_ok(buf, NDP_FRAME_LEN);
	assert_memory_equal(na.eth_dst, "\x33\x33\x00\x00\x00\x01", 6);
	assert_true(ip_equal(&na.dst,
			     &(struct ip_addr){ .family = AF_INET6, .bytes = { ADDR_ALL_NODES } }));
	/* RFC 4861 7.2.4: Solicited must be 0 when answering ::. */
	assert_false(na.solicited);
	assert_true(na.override);
	assert_true(ip_equal(&na.target, &ns.target));
	/* Identical to the unsolicited announcement. */
	assert_memory_equal(buf, UNSOL_NA, NDP_FRAME_LEN);
}

static void test_builders_reject_bad_input(void **state)
{
	struct ip_addr t = ip("2001:db8::10"), v4 = ip("192.0.2.10");
	struct ndp_packet ns = parse_ok(NS, sizeof(NS)), na = parse_ok(SOL_NA, sizeof(SOL_NA));
	uint8_t buf[128];

	(void)state;
	assert_int_equal(ndp_build_unsolicited_na(OUR_MAC, &t, buf, NDP_FRAME_LEN - 1), -ENOSPC);
	assert_int_equal(ndp_build_dad_ns(OUR_MAC, &t, buf, NDP_MIN_FRAME_LEN - 1), -ENOSPC);
	assert_int_equal(ndp_build_solicited_na(OUR_MAC, &ns, buf, 0), -ENOSPC);
	assert_int_equal(ndp_build_unsolicited_na(OUR_MAC, &v4, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(ndp_build_dad_ns(OUR_MAC, &v4, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(ndp_build_solicited_na(OUR_MAC, &na, buf, sizeof(buf)), -EINVAL);
	ns.override = true;
	assert_int_equal(ndp_build(&ns, buf, sizeof(buf)), -EINVAL);
	na.type = 134;
	assert_int_equal(ndp_build(&na, buf, sizeof(buf)), -EINVAL);
	na.type = NDP_NA;
	na.dst = v4;
	assert_int_equal(ndp_build(&na, buf, sizeof(buf)), -EINVAL);
}

/* ---- parser ---- */

static void test_ns_fields_parse(void **state)
{
	struct ndp_packet p = parse_ok(NS, sizeof(NS));

	(void)state;
	assert_int_equal(p.type, NDP_NS);
	assert_true(
		ip_equal(&p.src, &(struct ip_addr){ .family = AF_INET6, .bytes = { ADDR_DB8_1 } }));
	assert_true(
		ip_equal(&p.dst, &(struct ip_addr){ .family = AF_INET6, .bytes = { ADDR_SN_10 } }));
	assert_true(ip_equal(&p.target,
			     &(struct ip_addr){ .family = AF_INET6, .bytes = { ADDR_DB8_10 } }));
	assert_true(p.has_lladdr);
	assert_memory_equal(p.lladdr, PEER_MAC, 6);
	assert_false(p.router || p.solicited || p.override);
}

static void test_parse_then_build_round_trips(void **state)
{
	const uint8_t *frames[] = { UNSOL_NA, DAD_NS, NS, SOL_NA };
	const size_t lens[] = { sizeof(UNSOL_NA), sizeof(DAD_NS), sizeof(NS), sizeof(SOL_NA) };
	uint8_t buf[128];

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct ndp_packet p = parse_ok(frames[i], lens[i]), q;

		assert_int_equal(ndp_build(&p, buf, sizeof(buf)), (int)lens[i]);
		assert_memory_equal(buf, frames[i], lens[i]);
		q = parse_ok(buf, lens[i]);
		assert_memory_equal(&p, &q, sizeof(p));
	}
}

static void test_router_flag_round_trips(void **state)
{
	struct ndp_packet p = parse_ok(SOL_NA, sizeof(SOL_NA)), q;
	uint8_t buf[128];

	(void)state;
	p.router = true;
	p.override = false;
	assert_int_equal(ndp_build(&p, buf, sizeof(buf)), NDP_FRAME_LEN);
	assert_int_equal(buf[58], 0xc0);
	q = parse_ok(buf, NDP_FRAME_LEN);
	assert_true(q.router && q.solicited && !q.override);
}

static void rejected(const uint8_t *frame, size_t len, const char *want_why)
{
	struct ndp_packet p, before;
	const char *why = NULL;

	memset(&p, SENTINEL, sizeof(p));
	before = p;
	if (ndp_parse(frame, len, &p, &why) != -EINVAL)
		fail_msg("frame of %zu bytes accepted, want \"%s\"", len,
			 want_why ? want_why : "any reason");
	assert_non_null(why);
	if (want_why && strcmp(why, want_why) != 0)
		fail_msg("reason \"%s\", want \"%s\"", why, want_why);
	assert_memory_equal(&p, &before, sizeof(p));
}

static void test_every_truncation_is_rejected(void **state)
{
	const uint8_t *frames[] = { UNSOL_NA, DAD_NS, NS, SOL_NA };
	const size_t lens[] = { sizeof(UNSOL_NA), sizeof(DAD_NS), sizeof(NS), sizeof(SOL_NA) };

	(void)state;
	for (size_t i = 0; i < 4; i++)
		for (size_t len = 0; len < lens[i]; len++)
			rejected(frames[i], len, NULL);
	rejected(UNSOL_NA, 13, "truncated Ethernet header");
	rejected(UNSOL_NA, 53, "truncated IPv6 header");
	rejected(UNSOL_NA, 85, "truncated IPv6 payload");
}

static void test_trailing_bytes_after_payload_are_ignored(void **state)
{
	uint8_t f[1514];
	struct ndp_packet p;

	(void)state;
	memset(f, 0x77, sizeof(f));
	memcpy(f, NS, sizeof(NS));
	for (size_t len = sizeof(NS); len <= sizeof(f); len += 100) {
		p = parse_ok(f, len);
		assert_memory_equal(p.lladdr, PEER_MAC, 6);
	}
}

/* Copies base, applies one edit and optionally fixes the checksum. */
static void edit_rejected(const uint8_t *base, size_t len, size_t off, uint8_t v, bool fix,
			  const char *want_why)
{
	uint8_t f[NDP_FRAME_LEN + 16];

	memcpy(f, base, len);
	f[off] = v;
	if (fix)
		fix_checksum(f, sizeof(f));
	rejected(f, len, want_why);
}

static void test_ipv6_header_checks(void **state)
{
	(void)state;
	edit_rejected(NS, sizeof(NS), 13, 0x00, false, "not an IPv6 frame"); /* 0x8600 */
	edit_rejected(NS, sizeof(NS), 12, 0x08, false, "not an IPv6 frame");
	edit_rejected(NS, sizeof(NS), 14, 0x40, false, "IP version not 6");
	edit_rejected(NS, sizeof(NS), 20, 0, false,
		      "next header not ICMPv6 (extension headers are not accepted)");
	edit_rejected(NS, sizeof(NS), 20, 44, false,
		      "next header not ICMPv6 (extension headers are not accepted)");
	edit_rejected(NS, sizeof(NS), 21, 254, false, "hop limit not 255");
	edit_rejected(NS, sizeof(NS), 21, 1, false, "hop limit not 255");
	edit_rejected(NS, sizeof(NS), 19, 0x21, false, "truncated IPv6 payload");
	edit_rejected(NS, sizeof(NS), 19, 0x03, false, "ICMPv6 message too short");
}

static void test_icmpv6_checks(void **state)
{
	uint8_t f[NDP_FRAME_LEN];

	(void)state;
	edit_rejected(NS, sizeof(NS), 54, 134, true, "ICMPv6 type neither NS nor NA");
	edit_rejected(NS, sizeof(NS), 54, 128, true, "ICMPv6 type neither NS nor NA");
	edit_rejected(NS, sizeof(NS), 55, 1, true, "ICMPv6 code not 0");
	/* Payload shortened to 23 bytes. */
	memcpy(f, DAD_NS, sizeof(DAD_NS));
	f[19] = 23;
	fix_checksum(f, sizeof(f));
	rejected(f, sizeof(DAD_NS), "NS/NA shorter than 24 bytes");
	/* Any change without a new checksum. */
	for (size_t off = 54; off < sizeof(NS); off++) {
		if (off == 54 || off == 55)
			continue; /* type and code have their own reasons */
		edit_rejected(NS, sizeof(NS), off, NS[off] ^ 0x10, false, "bad ICMPv6 checksum");
	}
	/* The pseudo-header is covered too: source and destination. */
	edit_rejected(NS, sizeof(NS), 37, 0x02, false, "bad ICMPv6 checksum");
	edit_rejected(NS, sizeof(NS), 53, 0x11, false, "bad ICMPv6 checksum");
	edit_rejected(NS, sizeof(NS), 62, 0xff, true, "target address is multicast");
	edit_rejected(NS, sizeof(NS), 22, 0xff, true, "source address is multicast");
	edit_rejected(UNSOL_NA, sizeof(UNSOL_NA), 22, 0xff, true, "source address is multicast");
}

static void test_option_checks(void **state)
{
	uint8_t f[NDP_FRAME_LEN + 16];

	(void)state;
	edit_rejected(NS, sizeof(NS), 79, 0, true, "option of length 0");
	edit_rejected(NS, sizeof(NS), 79, 2, true, "option runs past the end");
	/* A lone byte after the last option. */
	memset(f, 0, sizeof(f));
	memcpy(f, NS, sizeof(NS));
	f[19] = 0x21;
	fix_checksum(f, sizeof(f));
	rejected(f, sizeof(NS) + 1, "option runs past the end");
	/* A 16-byte link-layer option on Ethernet. */
	memcpy(f, NS, sizeof(NS));
	memset(f + sizeof(NS), 0, 8);
	f[19] = 0x28;
	f[79] = 2;
	fix_checksum(f, sizeof(f));
	rejected(f, sizeof(NS) + 8, "link-layer address option not 8 bytes");
	/* Unknown options are skipped; the first link-layer option counts. */
	memcpy(f, UNSOL_NA, sizeof(UNSOL_NA));
	memcpy(f + sizeof(UNSOL_NA), "\x0e\x01\x01\x02\x03\x04\x05\x06", 8); /* nonce */
	f[19] = 0x28;
	fix_checksum(f, sizeof(f));
	assert_memory_equal(parse_ok(f, sizeof(UNSOL_NA) + 8).lladdr, OUR_MAC, 6);
	memcpy(f + sizeof(UNSOL_NA), "\x02\x01\x02\x00\x00\x00\x00\x77", 8); /* 2nd TLLA */
	fix_checksum(f, sizeof(f));
	assert_memory_equal(parse_ok(f, sizeof(UNSOL_NA) + 8).lladdr, OUR_MAC, 6);
	/* An SLLA in an NA is not the TLLA: ignored. */
	memcpy(f, UNSOL_NA, sizeof(UNSOL_NA));
	f[78] = NDP_OPT_SLLA;
	fix_checksum(f, sizeof(f));
	assert_false(parse_ok(f, sizeof(UNSOL_NA)).has_lladdr);
}

static void test_dad_and_multicast_rules(void **state)
{
	uint8_t f[NDP_FRAME_LEN];

	(void)state;
	/* DAD probe with an SLLA option. */
	memcpy(f, NS, sizeof(NS));
	memset(f + 22, 0, 16);
	fix_checksum(f, sizeof(f));
	rejected(f, sizeof(NS), "DAD probe with a source link-layer option");
	/* DAD probe to all-nodes rather than the solicited-node group. */
	memcpy(f, DAD_NS, sizeof(DAD_NS));
	memcpy(f + 38, (uint8_t[]){ ADDR_ALL_NODES }, 16);
	fix_checksum(f, sizeof(f));
	rejected(f, sizeof(DAD_NS), "DAD probe not sent to a solicited-node group");
	/* Solicited NA to a multicast group. */
	edit_rejected(UNSOL_NA, sizeof(UNSOL_NA), 58, 0x60, true,
		      "solicited NA sent to a multicast group");
	/* Unicast NS (neighbour unreachability detection) is fine. */
	memcpy(f, NS, sizeof(NS));
	memcpy(f + 38, (uint8_t[]){ ADDR_DB8_10 }, 16);
	fix_checksum(f, sizeof(f));
	parse_ok(f, sizeof(NS));
}

/* ---- classification ---- */

static void classified(const struct ndp_packet *p, enum ndp_kind kind, size_t index, size_t sender)
{
	const struct ip_addr watched[] = { ip("2001:db8::10"), ip("2001:db8::20"),
					   ip("2001:db8::1") };
	struct ndp_class c = ndp_classify(p, OUR_MAC, watched, 3);

	if (c.kind != kind || c.index != index || c.sender_index != sender)
		fail_msg("classified %s/%zu/%zu, want %s/%zu/%zu", ndp_kind_str(c.kind), c.index,
			 c.sender_index, ndp_kind_str(kind), index, sender);
}

static void test_classify(void **state)
{
	struct ndp_packet p;
	struct ip_addr other = ip("2001:db8::99");

	(void)state;
	/* NS from a host for a watched target; the host itself uses a watched
	 * address (2001:db8::1, index 2). */
	p = parse_ok(NS, sizeof(NS));
	classified(&p, NDP_KIND_REQUEST, 0, 2);
	p.src = other;
	classified(&p, NDP_KIND_REQUEST, 0, NDP_NONE);
	/* Someone else's DAD probe. */
	p = parse_ok(DAD_NS, sizeof(DAD_NS));
	memcpy(p.eth_src, PEER_MAC, 6);
	classified(&p, NDP_KIND_PROBE, 0, NDP_NONE);
	/* Someone else's unsolicited and solicited NAs for a watched target. */
	p = parse_ok(UNSOL_NA, sizeof(UNSOL_NA));
	memcpy(p.eth_src, PEER_MAC, 6);
	memcpy(p.lladdr, PEER_MAC, 6);
	classified(&p, NDP_KIND_ANNOUNCEMENT, 0, 0);
	p.solicited = true;
	classified(&p, NDP_KIND_REPLY, 0, 0);
	/* An NS for another target, from a watched source address. */
	p = parse_ok(NS, sizeof(NS));
	p.target = other;
	classified(&p, NDP_KIND_SENDER, 2, 2);
	/* Nothing about us. */
	p.src = other;
	classified(&p, NDP_KIND_IGNORE, NDP_NONE, NDP_NONE);
	p = parse_ok(DAD_NS, sizeof(DAD_NS));
	memcpy(p.eth_src, PEER_MAC, 6);
	p.target = other;
	classified(&p, NDP_KIND_IGNORE, NDP_NONE, NDP_NONE);
	/* Our own frames: by Ethernet source or by link-layer option. */
	p = parse_ok(UNSOL_NA, sizeof(UNSOL_NA));
	classified(&p, NDP_KIND_OWN, NDP_NONE, NDP_NONE);
	memcpy(p.eth_src, PEER_MAC, 6);
	classified(&p, NDP_KIND_OWN, NDP_NONE, NDP_NONE);
	assert_string_equal(ndp_kind_str(NDP_KIND_PROBE), "probe");
}

/* ---- BPF ---- */

static unsigned run_bpf(const uint8_t *frame, size_t len)
{
	size_t n;
	const struct sock_filter *f = ndp_bpf_filter(&n);

	return bpf_filter((const struct bpf_insn *)f, frame, (u_int)len, (u_int)len);
}

static void test_bpf_program_is_valid(void **state)
{
	size_t n;
	const struct sock_filter *f = ndp_bpf_filter(&n);

	(void)state;
	assert_true(bpf_validate((const struct bpf_insn *)f, (int)n));
}

static void test_bpf_accepts_ns_na_and_rejects_the_rest(void **state)
{
	uint8_t f[NDP_FRAME_LEN];
	struct ip_addr a4 = ip("192.0.2.10");
	uint8_t arp[ARP_FRAME_LEN];

	(void)state;
	assert_int_equal(run_bpf(UNSOL_NA, sizeof(UNSOL_NA)), NDP_BPF_ACCEPT);
	assert_int_equal(run_bpf(DAD_NS, sizeof(DAD_NS)), NDP_BPF_ACCEPT);
	assert_int_equal(run_bpf(NS, sizeof(NS)), NDP_BPF_ACCEPT);
	assert_int_equal(run_bpf(SOL_NA, sizeof(SOL_NA)), NDP_BPF_ACCEPT);
	for (size_t len = 0; len < NDP_MIN_FRAME_LEN; len++)
		assert_int_equal(run_bpf(NS, len), 0);
	assert_int_equal(arp_build_announce(OUR_MAC, &a4, arp, sizeof(arp)), ARP_FRAME_LEN);
	assert_int_equal(run_bpf(arp, sizeof(arp)), 0);
	const struct {
		size_t off;
		uint8_t v;
	} bad[] = {
		{ 12, 0x08 }, { 13, 0x00 },			      /* ethertype */
		{ 20, 0 },    { 20, 17 },			      /* hop-by-hop, UDP */
		{ 21, 254 },					      /* hop limit */
		{ 54, 128 },  { 54, 133 },  { 54, 134 }, { 54, 137 }, /* echo, RS, RA, redirect */
		{ 55, 1 },					      /* code */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(f, NS, sizeof(NS));
		f[bad[i].off] = bad[i].v;
		assert_int_equal(run_bpf(f, sizeof(f)), 0);
	}
}

static void test_bpf_never_drops_what_the_parser_accepts(void **state)
{
	uint64_t seed = 7;
	size_t accepted = 0;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		uint8_t f[NDP_FRAME_LEN];
		size_t off, len = sizeof(NS);

		memcpy(f, i % 2 ? NS : UNSOL_NA, sizeof(f));
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		/* Edit one byte among those the filter looks at or near. */
		off = (const size_t[]){ 12, 13, 14, 18, 19, 20, 21, 54, 55, 58 }[(seed >> 33) % 10];
		f[off] = (seed >> 45) % 3 == 0 ? f[off] : (uint8_t)(seed >> 50);
		fix_checksum(f, sizeof(f));
		if ((seed >> 20) % 5 == 0)
			len = (seed >> 24) % sizeof(f);
		if (ndp_parse(f, len, NULL, NULL) == 0) {
			accepted++;
			if (run_bpf(f, len) == 0)
				fail_msg("filter dropped a valid frame (edit at %zu)", off);
		}
	}
	assert_true(accepted > 1000);
}

int main(void)
{
	const struct CMUnitTest ndp_tests[] = {
		cmocka_unit_test(test_solicited_node_address_and_mac),
		cmocka_unit_test(test_checksum_of_correct_message_is_zero),
		cmocka_unit_test(test_unsolicited_na_matches_bytes),
		cmocka_unit_test(test_unsolicited_na_fields),
		cmocka_unit_test(test_dad_probe_matches_bytes),
		cmocka_unit_test(test_solicited_na_matches_bytes_and_is_unicast),
		cmocka_unit_test(test_solicited_na_without_slla_goes_to_ethernet_source),
		cmocka_unit_test(test_answer_to_dad_probe_is_multicast_and_unsolicited),
		cmocka_unit_test(test_builders_reject_bad_input),
		cmocka_unit_test(test_ns_fields_parse),
		cmocka_unit_test(test_parse_then_build_round_trips),
		cmocka_unit_test(test_router_flag_round_trips),
		cmocka_unit_test(test_every_truncation_is_rejected),
		cmocka_unit_test(test_trailing_bytes_after_payload_are_ignored),
		cmocka_unit_test(test_ipv6_header_checks),
		cmocka_unit_test(test_icmpv6_checks),
		cmocka_unit_test(test_option_checks),
		cmocka_unit_test(test_dad_and_multicast_rules),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_bpf_program_is_valid),
		cmocka_unit_test(test_bpf_accepts_ns_na_and_rejects_the_rest),
		cmocka_unit_test(test_bpf_never_drops_what_the_parser_accepts),
	};

	return cmocka_run_group_tests(ndp_tests, NULL, NULL);
}
