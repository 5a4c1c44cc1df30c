/* Unit tests for speaker/arp.c: frames compared with hand-written bytes,
 * round trips, every truncation and malformed header rejected, padding
 * accepted, classification of what the speaker hears, and the BPF programs
 * run by libpcap's interpreter against built and hostile frames.
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

/* RFC 5227 announcement of 192.0.2.10 from 02:00:00:00:00:01. */
/* clang-format off */
static const uint8_t GARP[ARP_FRAME_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* broadcast */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* from us */
	0x08, 0x06,			    /* ARP */
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, /* Ethernet, IPv4, 6, 4 */
	0x00, 0x01,			    /* request */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* sender MAC */
	0xc0, 0x00, 0x02, 0x0a,		    /* sender IP 192.0.2.10 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* target MAC zero */
	0xc0, 0x00, 0x02, 0x0a,		    /* target IP 192.0.2.10 */
};
/* clang-format on */

/* RFC 5227 probe for 192.0.2.10. */
/* clang-format off */
static const uint8_t PROBE[ARP_FRAME_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x00, 0x00, /* sender IP 0.0.0.0 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x0a,
};
/* clang-format on */

/* 02:00:00:00:00:99 (192.0.2.1) asks who has 192.0.2.10. */
/* clang-format off */
static const uint8_t REQUEST[ARP_FRAME_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x99, 0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x99,
	0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x0a,
};
/* clang-format on */

/* Our answer to REQUEST. */
/* clang-format off */
static const uint8_t REPLY[ARP_FRAME_LEN] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x99, /* unicast to the requester */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
	0x00, 0x02,			    /* reply */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* sender MAC: us */
	0xc0, 0x00, 0x02, 0x0a,		    /* sender IP: the address */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x99, /* target: the requester */
	0xc0, 0x00, 0x02, 0x01,
};
/* clang-format on */

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;

	assert_int_equal(ip_parse(s, &a, NULL), 0);
	return a;
}

static struct arp_packet parse_ok(const uint8_t *frame, size_t len)
{
	struct arp_packet p;
	const char *why = NULL;

	if (arp_parse(frame, len, &p, &why) != 0)
		fail_msg("arp_parse: %s", why);
	return p;
}

/* ---- builders ---- */

static void test_announce_matches_rfc5227_bytes(void **state)
{
	struct ip_addr a = ip("192.0.2.10");
	uint8_t buf[64];

	(void)state;
	assert_int_equal(arp_build_announce(OUR_MAC, &a, buf, sizeof(buf)), ARP_FRAME_LEN);
	assert_memory_equal(buf, GARP, ARP_FRAME_LEN);
}

static void test_announce_fields_one_by_one(void **state)
{
	struct ip_addr a = ip("203.0.113.77");
	uint8_t buf[ARP_FRAME_LEN];
	struct arp_packet p;

	(void)state;
	assert_int_equal(arp_build_announce(OUR_MAC, &a, buf, sizeof(buf)), ARP_FRAME_LEN);
	p = parse_ok(buf, sizeof(buf));
	assert_memory_equal(p.eth_dst, "\xff\xff\xff\xff\xff\xff", 6);
	assert_memory_equal(p.eth_src, OUR_MAC, 6);
	assert_int_equal(p.op, ARP_OP_REQUEST);
	assert_memory_equal(p.sha, OUR_MAC, 6);
	assert_true(ip_equal(&p.spa, &a));
	assert_memory_equal(p.tha, "\0\0\0\0\0\0", 6);
	assert_true(ip_equal(&p.tpa, &a));
	assert_int_equal(buf[12] << 8 | buf[13], 0x0806);
	assert_int_equal(buf[14] << 8 | buf[15], 1);
	assert_int_equal(buf[16] << 8 | buf[17], 0x0800);
	assert_int_equal(buf[18], 6);
	assert_int_equal(buf[19], 4);
}

static void test_probe_matches_rfc5227_bytes(void **state)
{
	struct ip_addr a = ip("192.0.2.10");
	uint8_t buf[64];

	(void)state;
	assert_int_equal(arp_build_probe(OUR_MAC, &a, buf, sizeof(buf)), ARP_FRAME_LEN);
	assert_memory_equal(buf, PROBE, ARP_FRAME_LEN);
}

static void test_reply_matches_bytes_and_is_unicast(void **state)
{
	struct ip_addr a = ip("192.0.2.10");
	struct arp_packet req = parse_ok(REQUEST, sizeof(REQUEST));
	uint8_t buf[64];

	(void)state;
	assert_int_equal(arp_build_reply(OUR_MAC, &a, &req, buf, sizeof(buf)), ARP_FRAME_LEN);
	assert_memory_equal(buf, REPLY, ARP_FRAME_LEN);
}

static void test_reply_to_probe_goes_to_prober_with_zero_target_ip(void **state)
{
	struct ip_addr a = ip("192.0.2.10");
	struct arp_packet probe = parse_ok(PROBE, sizeof(PROBE)), r;
	uint8_t buf[64];

	(void)state;
	/* Someone else probing: pretend the probe came from PEER_MAC. */
	memcpy(probe.sha, PEER_MAC, 6);
	memcpy(probe.eth_src, PEER_MAC, 6);
	assert_int_equal(arp_build_reply(OUR_MAC, &a, &probe, buf, sizeof(buf)), ARP_FRAME_LEN);
	r = parse_ok(buf, ARP_FRAME_LEN);
	assert_int_equal(r.op, ARP_OP_REPLY);
	assert_memory_equal(r.eth_dst, PEER_MAC, 6);
	assert_memory_equal(r.tha, PEER_MAC, 6);
	assert_true(ip_equal(&r.tpa, &(struct ip_addr){ .family = AF_INET }));
	assert_true(ip_equal(&r.spa, &a));
}

static void test_builders_reject_bad_input(void **state)
{
	struct ip_addr a = ip("192.0.2.10"), six = ip("2001:db8::1"), other = ip("192.0.2.11");
	struct arp_packet req = parse_ok(REQUEST, sizeof(REQUEST)), rep = parse_ok(REPLY, 42);
	uint8_t buf[64];

	(void)state;
	assert_int_equal(arp_build_announce(OUR_MAC, &a, buf, ARP_FRAME_LEN - 1), -ENOSPC);
	assert_int_equal(arp_build_probe(OUR_MAC, &a, buf, 0), -ENOSPC);
	assert_int_equal(arp_build_reply(OUR_MAC, &a, &req, buf, 10), -ENOSPC);
	assert_int_equal(arp_build_announce(OUR_MAC, &six, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(arp_build_probe(OUR_MAC, &six, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(arp_build_reply(OUR_MAC, &six, &req, buf, sizeof(buf)), -EINVAL);
	/* Only a request for that very address gets a reply. */
	assert_int_equal(arp_build_reply(OUR_MAC, &other, &req, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(arp_build_reply(OUR_MAC, &a, &rep, buf, sizeof(buf)), -EINVAL);
	req.op = 3;
	assert_int_equal(arp_build(&req, buf, sizeof(buf)), -EINVAL);
	req.op = ARP_OP_REQUEST;
	req.spa.family = AF_INET6;
	assert_int_equal(arp_build(&req, buf, sizeof(buf)), -EINVAL);
}

/* ---- parser ---- */

static void test_parse_then_build_round_trips(void **state)
{
	const uint8_t *frames[] = { GARP, PROBE, REQUEST, REPLY };
	uint8_t buf[ARP_FRAME_LEN];

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct arp_packet p = parse_ok(frames[i], ARP_FRAME_LEN), q;

		assert_int_equal(arp_build(&p, buf, sizeof(buf)), ARP_FRAME_LEN);
		assert_memory_equal(buf, frames[i], ARP_FRAME_LEN);
		q = parse_ok(buf, sizeof(buf));
		assert_memory_equal(&p, &q, sizeof(p));
	}
}

static void test_request_fields_parse(void **state)
{
	struct arp_packet p = parse_ok(REQUEST, sizeof(REQUEST));

	(void)state;
	assert_int_equal(p.op, ARP_OP_REQUEST);
	assert_memory_equal(p.sha, PEER_MAC, 6);
	assert_memory_equal(p.eth_src, PEER_MAC, 6);
	assert_true(ip_equal(&p.spa,
			     &(struct ip_addr){ .family = AF_INET, .bytes = { 192, 0, 2, 1 } }));
	assert_true(ip_equal(&p.tpa,
			     &(struct ip_addr){ .family = AF_INET, .bytes = { 192, 0, 2, 10 } }));
}

static void rejected(const uint8_t *frame, size_t len, const char *want_why)
{
	struct arp_packet p, before;
	const char *why = NULL;

	memset(&p, SENTINEL, sizeof(p));
	before = p;
	if (arp_parse(frame, len, &p, &why) != -EINVAL)
		fail_msg("frame of %zu bytes accepted, want \"%s\"", len, want_why);
	assert_non_null(why);
	if (want_why && strcmp(why, want_why) != 0)
		fail_msg("reason \"%s\", want \"%s\"", why, want_why);
	assert_memory_equal(&p, &before, sizeof(p));
}

static void test_every_truncation_is_rejected(void **state)
{
	(void)state;
	for (size_t len = 0; len < ARP_FRAME_LEN; len++)
		rejected(GARP, len, NULL);
	rejected(GARP, 13, "truncated Ethernet header");
	rejected(GARP, 14, "truncated ARP packet");
	rejected(GARP, 41, "truncated ARP packet");
}

static void test_padded_and_oversize_frames_are_accepted(void **state)
{
	uint8_t big[1514];
	struct arp_packet p;

	(void)state;
	memset(big, 0xee, sizeof(big)); /* padding need not be zero */
	memcpy(big, GARP, sizeof(GARP));
	for (size_t len = ARP_FRAME_LEN; len <= sizeof(big); len += (len < 64 ? 1 : 500)) {
		p = parse_ok(big, len);
		assert_true(ip_equal(&p.spa, &(struct ip_addr){ .family = AF_INET,
								.bytes = { 192, 0, 2, 10 } }));
	}
	assert_int_equal(arp_parse(big, 60, NULL, NULL), 0);
}

static void mutate_rejected(size_t off, uint8_t v, const char *want_why)
{
	uint8_t f[ARP_FRAME_LEN];

	memcpy(f, GARP, sizeof(f));
	f[off] = v;
	rejected(f, sizeof(f), want_why);
}

static void test_malformed_headers_are_rejected(void **state)
{
	uint8_t f[ARP_FRAME_LEN + 4];

	(void)state;
	mutate_rejected(13, 0x00, "not an ARP frame");	      /* 0x0800: IPv4 */
	mutate_rejected(12, 0x86, "not an ARP frame");	      /* 0x8606 */
	mutate_rejected(15, 6, "hardware type not Ethernet"); /* IEEE 802 */
	mutate_rejected(14, 1, "hardware type not Ethernet");
	mutate_rejected(16, 0x86, "protocol type not IPv4");
	mutate_rejected(17, 0x01, "protocol type not IPv4");
	mutate_rejected(18, 8, "hardware address length not 6");
	mutate_rejected(18, 0, "hardware address length not 6");
	mutate_rejected(19, 16, "protocol address length not 4");
	mutate_rejected(21, 0, "opcode neither request nor reply");
	mutate_rejected(21, 3, "opcode neither request nor reply"); /* RARP */
	mutate_rejected(21, 8, "opcode neither request nor reply"); /* InARP */
	mutate_rejected(20, 1, "opcode neither request nor reply"); /* 257 */
	mutate_rejected(22, 0x01, "sender MAC zero, multicast or broadcast");
	mutate_rejected(22, 0xff, "sender MAC zero, multicast or broadcast");
	memcpy(f, GARP, ARP_FRAME_LEN);
	memset(f + 22, 0, 6);
	rejected(f, ARP_FRAME_LEN, "sender MAC zero, multicast or broadcast");
	/* An 802.1Q tag in front of the ARP ethertype is not ARP to us (the
	 * kernel strips tags before the socket). */
	memcpy(f, GARP, 12);
	f[12] = 0x81;
	f[13] = 0x00;
	f[14] = 0x00;
	f[15] = 0x0a;
	memcpy(f + 16, GARP + 12, ARP_FRAME_LEN - 12);
	rejected(f, sizeof(f), "not an ARP frame");
}

/* ---- classification ---- */

static struct arp_packet pkt(uint16_t op, const uint8_t *mac, const char *spa, const char *tpa)
{
	struct arp_packet p;

	memset(&p, 0, sizeof(p));
	memset(p.eth_dst, 0xff, 6);
	memcpy(p.eth_src, mac, 6);
	memcpy(p.sha, mac, 6);
	p.op = op;
	p.spa = ip(spa);
	p.tpa = ip(tpa);
	return p;
}

static void classified(struct arp_packet p, enum arp_kind kind, size_t index, size_t sender)
{
	const struct ip_addr watched[] = { ip("192.0.2.10"), ip("192.0.2.20"), ip("192.0.2.30") };
	struct arp_class c = arp_classify(&p, OUR_MAC, watched, 3);

	if (c.kind != kind || c.index != index || c.sender_index != sender)
		fail_msg("classified %s/%zu/%zu, want %s/%zu/%zu", arp_kind_str(c.kind), c.index,
			 c.sender_index, arp_kind_str(kind), index, sender);
}

static void test_classify_request_for_watched_address(void **state)
{
	(void)state;
	classified(pkt(ARP_OP_REQUEST, PEER_MAC, "192.0.2.1", "192.0.2.20"), ARP_KIND_REQUEST, 1,
		   ARP_NONE);
	classified(parse_ok(REQUEST, sizeof(REQUEST)), ARP_KIND_REQUEST, 0, ARP_NONE);
	/* A request from a host using another watched address: answer it, and
	 * say who uses the other address. */
	classified(pkt(ARP_OP_REQUEST, PEER_MAC, "192.0.2.30", "192.0.2.20"), ARP_KIND_REQUEST, 1,
		   2);
}

static void test_classify_probe(void **state)
{
	struct arp_packet p = parse_ok(PROBE, sizeof(PROBE));

	(void)state;
	memcpy(p.sha, PEER_MAC, 6);
	memcpy(p.eth_src, PEER_MAC, 6);
	classified(p, ARP_KIND_PROBE, 0, ARP_NONE);
	classified(pkt(ARP_OP_REQUEST, PEER_MAC, "0.0.0.0", "192.0.2.99"), ARP_KIND_IGNORE,
		   ARP_NONE, ARP_NONE);
}

static void test_classify_foreign_announcement(void **state)
{
	(void)state;
	/* Gratuitous ARP by someone else, in request and in reply form. */
	classified(pkt(ARP_OP_REQUEST, PEER_MAC, "192.0.2.30", "192.0.2.30"), ARP_KIND_ANNOUNCEMENT,
		   2, 2);
	classified(pkt(ARP_OP_REPLY, PEER_MAC, "192.0.2.10", "192.0.2.10"), ARP_KIND_ANNOUNCEMENT,
		   0, 0);
	classified(pkt(ARP_OP_REQUEST, PEER_MAC, "192.0.2.99", "192.0.2.99"), ARP_KIND_IGNORE,
		   ARP_NONE, ARP_NONE);
}

static void test_classify_reply_claiming_watched_address(void **state)
{
	(void)state;
	classified(pkt(ARP_OP_REPLY, PEER_MAC, "192.0.2.20", "192.0.2.1"), ARP_KIND_REPLY, 1, 1);
	/* Answer to our probe: target IP 0.0.0.0. */
	classified(pkt(ARP_OP_REPLY, PEER_MAC, "192.0.2.20", "0.0.0.0"), ARP_KIND_REPLY, 1, 1);
	/* Replies about other addresses do not concern us. */
	classified(pkt(ARP_OP_REPLY, PEER_MAC, "192.0.2.1", "192.0.2.10"), ARP_KIND_IGNORE,
		   ARP_NONE, ARP_NONE);
}

static void test_classify_sender_using_watched_address(void **state)
{
	(void)state;
	classified(pkt(ARP_OP_REQUEST, PEER_MAC, "192.0.2.10", "192.0.2.1"), ARP_KIND_SENDER, 0, 0);
}

static void test_classify_own_frames(void **state)
{
	struct arp_packet p = pkt(ARP_OP_REQUEST, OUR_MAC, "192.0.2.10", "192.0.2.10");

	(void)state;
	classified(p, ARP_KIND_OWN, ARP_NONE, ARP_NONE);
	classified(parse_ok(GARP, sizeof(GARP)), ARP_KIND_OWN, ARP_NONE, ARP_NONE);
	/* Our MAC in the ARP payload only, e.g. reflected by a bridge. */
	memcpy(p.eth_src, PEER_MAC, 6);
	classified(p, ARP_KIND_OWN, ARP_NONE, ARP_NONE);
}

static void test_classify_with_nothing_watched(void **state)
{
	struct arp_packet p = parse_ok(REQUEST, sizeof(REQUEST));
	struct arp_class c = arp_classify(&p, OUR_MAC, NULL, 0);

	(void)state;
	assert_int_equal(c.kind, ARP_KIND_IGNORE);
	assert_int_equal(c.index, ARP_NONE);
	assert_string_equal(arp_kind_str(ARP_KIND_ANNOUNCEMENT), "announcement");
}

/* ---- BPF ---- */

static unsigned run_bpf(const struct sock_filter *prog, const uint8_t *frame, size_t len)
{
	return bpf_filter((const struct bpf_insn *)prog, frame, (u_int)len, (u_int)len);
}

static void test_bpf_programs_are_valid(void **state)
{
	size_t n;
	const struct sock_filter *f;

	(void)state;
	assert_int_equal(sizeof(struct sock_filter), sizeof(struct bpf_insn));
	f = arp_bpf_filter(&n);
	assert_true(bpf_validate((const struct bpf_insn *)f, (int)n));
	f = arp_bpf_drop_all(&n);
	assert_int_equal(n, 1);
	assert_true(bpf_validate((const struct bpf_insn *)f, (int)n));
}

static void test_bpf_accepts_arp_and_rejects_the_rest(void **state)
{
	const struct sock_filter *f;
	struct ip_addr six = ip("2001:db8::1");
	uint8_t buf[128];
	size_t n;
	int len;

	(void)state;
	f = arp_bpf_filter(&n);
	assert_int_equal(run_bpf(f, GARP, sizeof(GARP)), ARP_BPF_ACCEPT);
	assert_int_equal(run_bpf(f, PROBE, sizeof(PROBE)), ARP_BPF_ACCEPT);
	assert_int_equal(run_bpf(f, REQUEST, sizeof(REQUEST)), ARP_BPF_ACCEPT);
	assert_int_equal(run_bpf(f, REPLY, sizeof(REPLY)), ARP_BPF_ACCEPT);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, GARP, sizeof(GARP));
	assert_int_equal(run_bpf(f, buf, 60), ARP_BPF_ACCEPT);
	for (size_t l = 0; l < ARP_FRAME_LEN; l++)
		assert_int_equal(run_bpf(f, GARP, l), 0);
	/* An NDP frame is not ARP. */
	len = ndp_build_unsolicited_na(OUR_MAC, &six, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(run_bpf(f, buf, (size_t)len), 0);
	/* Drop-all drops everything. */
	f = arp_bpf_drop_all(&n);
	assert_int_equal(run_bpf(f, GARP, sizeof(GARP)), 0);
	assert_int_equal(run_bpf(f, buf, (size_t)len), 0);
}

static void test_bpf_agrees_with_parser_on_hostile_frames(void **state)
{
	const struct sock_filter *f;
	uint64_t seed = 42;
	size_t n, accepted = 0;

	(void)state;
	f = arp_bpf_filter(&n);
	for (int i = 0; i < 20000; i++) {
		uint8_t fr[64];
		size_t len;
		unsigned verdict;
		int parsed;

		memcpy(fr, GARP, sizeof(GARP));
		memset(fr + ARP_FRAME_LEN, 0, sizeof(fr) - ARP_FRAME_LEN);
		/* Change one to three bytes of the header area, often to the
		 * values that matter, and pick a length. */
		for (int k = 0; k < 1 + i % 3; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			fr[12 + (seed >> 33) % 10] =
				(uint8_t)((seed >> 20) % 4 == 0 ? 0 : seed >> 41);
		}
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		len = (seed >> 33) % 8 == 0 ? (seed >> 40) % 64 : ARP_FRAME_LEN;
		verdict = run_bpf(f, fr, len);
		parsed = arp_parse(fr, len, NULL, NULL);
		/* The filter checks the header exactly as the parser does; the
		 * parser additionally vets the sender MAC (untouched here). */
		if ((verdict != 0) != (parsed == 0))
			fail_msg("filter %u, parser %d on mutation %d", verdict, parsed, i);
		accepted += parsed == 0;
	}
	assert_true(accepted > 0);
}

/* ---- the filter for the claimed addresses ---- */

static uint64_t lcg(uint64_t *seed)
{
	*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return *seed >> 33;
}

static struct ip_addr v4_of(uint32_t v)
{
	struct ip_addr a = { .family = AF_INET };

	a.bytes[0] = (uint8_t)(v >> 24);
	a.bytes[1] = (uint8_t)(v >> 16);
	a.bytes[2] = (uint8_t)(v >> 8);
	a.bytes[3] = (uint8_t)v;
	return a;
}

static uint32_t u32_of(const struct ip_addr *a)
{
	return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	       (uint32_t)a->bytes[2] << 8 | a->bytes[3];
}

/* n distinct ascending addresses in 192.0.2.0/24 .. 203.0.113.0/24, some
 * adjacent, some far apart. */
static size_t make_set(struct ip_addr *ret, size_t n, uint64_t seed)
{
	uint32_t v = 0xc0000200; /* 192.0.2.0 */

	for (size_t i = 0; i < n; i++) {
		v += 1 + (uint32_t)(lcg(&seed) % 3 == 0 ? lcg(&seed) % 5000 : 0);
		ret[i] = v4_of(v);
	}
	return n;
}

static bool in_set(const struct ip_addr *set, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++)
		if (u32_of(&set[i]) == v)
			return true;
	return false;
}

/* A frame like REQUEST with the given sender and target IPs and opcode. */
static void make_arp(uint8_t fr[ARP_FRAME_LEN], uint16_t op, uint32_t spa, uint32_t tpa)
{
	struct ip_addr s = v4_of(spa), t = v4_of(tpa);

	memcpy(fr, REQUEST, ARP_FRAME_LEN);
	fr[21] = (uint8_t)op;
	memcpy(fr + 28, s.bytes, 4);
	memcpy(fr + 38, t.bytes, 4);
}

static void test_claims_filter_is_valid_and_small(void **state)
{
	static struct sock_filter prog[ARP_BPF_MAX_INSNS];
	static struct ip_addr set[1300];
	static const size_t sizes[] = { 0, 1, 2, 7, 8, 9, 16, 17, 100, 1000, 1300 };

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = make_set(set, sizes[k], k);
		int len = arp_bpf_filter_claims(set, n, prog, ARP_BPF_MAX_INSNS);

		if (len <= 0)
			fail_msg("%zu addresses: %d", n, len);
		assert_true(bpf_validate((const struct bpf_insn *)prog, len));
		assert_true((size_t)len <= 3 * n + 20);
	}
}

static void test_claims_filter_passes_exactly_frames_about_claims(void **state)
{
	static struct sock_filter prog[ARP_BPF_MAX_INSNS];
	static struct ip_addr set[1000];
	static const size_t sizes[] = { 0, 1, 3, 8, 9, 25, 1000 };
	uint64_t seed = 7;

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = make_set(set, sizes[k], 100 + k);
		int len = arp_bpf_filter_claims(set, n, prog, ARP_BPF_MAX_INSNS);
		uint8_t fr[ARP_FRAME_LEN];

		assert_true(len > 0);
		/* Every claim, as the target of a request or probe, and as the
		 * sender of an announcement, a reply or a request for another
		 * address: what the speaker answers or counts as a claim. */
		for (size_t i = 0; i < n; i++) {
			uint32_t a = u32_of(&set[i]), other = 0xcb007101; /* 203.0.113.1 */

			make_arp(fr, ARP_OP_REQUEST, other, a);
			assert_int_equal(run_bpf(prog, fr, sizeof(fr)), ARP_BPF_ACCEPT);
			make_arp(fr, ARP_OP_REQUEST, 0, a);
			assert_int_equal(run_bpf(prog, fr, sizeof(fr)), ARP_BPF_ACCEPT);
			make_arp(fr, ARP_OP_REQUEST, a, a);
			assert_int_equal(run_bpf(prog, fr, sizeof(fr)), ARP_BPF_ACCEPT);
			make_arp(fr, ARP_OP_REPLY, a, other);
			assert_int_equal(run_bpf(prog, fr, sizeof(fr)), ARP_BPF_ACCEPT);
			make_arp(fr, ARP_OP_REQUEST, a, other);
			assert_int_equal(run_bpf(prog, fr, sizeof(fr)), ARP_BPF_ACCEPT);
			/* A header the generic filter drops stays dropped. */
			make_arp(fr, ARP_OP_REQUEST, other, a);
			fr[18] = 8;
			assert_int_equal(run_bpf(prog, fr, sizeof(fr)), 0);
		}
		/* Neighbours of every claim and random addresses: passed
		 * exactly when one of the two IPs is claimed. */
		for (int i = 0; i < 4000; i++) {
			uint32_t spa, tpa;

			if (n && i % 2 == 0) {
				uint32_t a = u32_of(&set[lcg(&seed) % n]);

				spa = lcg(&seed) % 2 ? a + 1 : a - 1;
				tpa = lcg(&seed) % 4 ? a + (uint32_t)(lcg(&seed) % 3) - 1 : a + 7;
			} else {
				spa = (uint32_t)(lcg(&seed) << 1 ^ lcg(&seed));
				tpa = 0xc0000200 + (uint32_t)(lcg(&seed) % 20000);
			}
			make_arp(fr, lcg(&seed) % 2 ? ARP_OP_REQUEST : ARP_OP_REPLY, spa, tpa);
			if ((run_bpf(prog, fr, sizeof(fr)) != 0) !=
			    (in_set(set, n, spa) || in_set(set, n, tpa)))
				fail_msg("%zu claims: sender %08x target %08x", n, spa, tpa);
		}
	}
}

static void test_claims_filter_agrees_with_parser_on_hostile_frames(void **state)
{
	static struct sock_filter prog[ARP_BPF_MAX_INSNS];
	struct ip_addr set[1] = { ip("192.0.2.10") };
	uint64_t seed = 43;
	size_t accepted = 0;
	int len = arp_bpf_filter_claims(set, 1, prog, ARP_BPF_MAX_INSNS);

	(void)state;
	assert_true(len > 0);
	for (int i = 0; i < 20000; i++) {
		uint8_t fr[64];
		size_t flen;
		struct arp_packet p;
		int parsed;
		bool about_claim;

		memcpy(fr, GARP, sizeof(GARP));
		memset(fr + ARP_FRAME_LEN, 0, sizeof(fr) - ARP_FRAME_LEN);
		/* The header area and both IP addresses. */
		for (int k = 0; k < 1 + i % 3; k++) {
			uint64_t r = lcg(&seed);
			static const uint8_t spots[] = { 12, 13, 14, 15, 16, 17, 18,
							 19, 20, 21, 28, 31, 38, 41 };

			fr[spots[r % sizeof(spots)]] = (uint8_t)(r % 4 == 0 ? 0 : r >> 8);
		}
		flen = lcg(&seed) % 8 == 0 ? lcg(&seed) % 64 : ARP_FRAME_LEN;
		parsed = arp_parse(fr, flen, &p, NULL);
		about_claim =
			parsed == 0 && (ip_equal(&p.spa, &set[0]) || ip_equal(&p.tpa, &set[0]));
		if ((run_bpf(prog, fr, flen) != 0) != about_claim)
			fail_msg("mutation %d: parser %d, about the claim %d", i, parsed,
				 about_claim);
		accepted += about_claim;
	}
	assert_true(accepted > 0);
}

static void test_claims_filter_rejects_bad_sets(void **state)
{
	static struct sock_filter prog[ARP_BPF_MAX_INSNS];
	static struct ip_addr big[1400];
	struct ip_addr unsorted[2] = { ip("192.0.2.2"), ip("192.0.2.1") };
	struct ip_addr twice[2] = { ip("192.0.2.1"), ip("192.0.2.1") };
	struct ip_addr six[1] = { ip("2001:db8::1") };

	(void)state;
	assert_int_equal(arp_bpf_filter_claims(unsorted, 2, prog, ARP_BPF_MAX_INSNS), -EINVAL);
	assert_int_equal(arp_bpf_filter_claims(twice, 2, prog, ARP_BPF_MAX_INSNS), -EINVAL);
	assert_int_equal(arp_bpf_filter_claims(six, 1, prog, ARP_BPF_MAX_INSNS), -EINVAL);
	/* Too many for the kernel's limit, or for the room given. */
	make_set(big, 1400, 1);
	assert_int_equal(arp_bpf_filter_claims(big, 1400, prog, ARP_BPF_MAX_INSNS), -ENOSPC);
	assert_int_equal(arp_bpf_filter_claims(big, 100, prog, 50), -ENOSPC);
	assert_true(arp_bpf_filter_claims(big, 100, prog, 400) > 0);
}

int main(void)
{
	const struct CMUnitTest arp_tests[] = {
		cmocka_unit_test(test_announce_matches_rfc5227_bytes),
		cmocka_unit_test(test_announce_fields_one_by_one),
		cmocka_unit_test(test_probe_matches_rfc5227_bytes),
		cmocka_unit_test(test_reply_matches_bytes_and_is_unicast),
		cmocka_unit_test(test_reply_to_probe_goes_to_prober_with_zero_target_ip),
		cmocka_unit_test(test_builders_reject_bad_input),
		cmocka_unit_test(test_parse_then_build_round_trips),
		cmocka_unit_test(test_request_fields_parse),
		cmocka_unit_test(test_every_truncation_is_rejected),
		cmocka_unit_test(test_padded_and_oversize_frames_are_accepted),
		cmocka_unit_test(test_malformed_headers_are_rejected),
		cmocka_unit_test(test_classify_request_for_watched_address),
		cmocka_unit_test(test_classify_probe),
		cmocka_unit_test(test_classify_foreign_announcement),
		cmocka_unit_test(test_classify_reply_claiming_watched_address),
		cmocka_unit_test(test_classify_sender_using_watched_address),
		cmocka_unit_test(test_classify_own_frames),
		cmocka_unit_test(test_classify_with_nothing_watched),
		cmocka_unit_test(test_bpf_programs_are_valid),
		cmocka_unit_test(test_bpf_accepts_arp_and_rejects_the_rest),
		cmocka_unit_test(test_bpf_agrees_with_parser_on_hostile_frames),
		cmocka_unit_test(test_claims_filter_is_valid_and_small),
		cmocka_unit_test(test_claims_filter_passes_exactly_frames_about_claims),
		cmocka_unit_test(test_claims_filter_agrees_with_parser_on_hostile_frames),
		cmocka_unit_test(test_claims_filter_rejects_bad_sets),
	};

	return cmocka_run_group_tests(arp_tests, NULL, NULL);
}
