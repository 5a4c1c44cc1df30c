/* libFuzzer target for speaker/ndp.c.
 *
 * Each input is parsed three times: as it is; with its ICMPv6 checksum made
 * correct (random bytes almost never carry a valid checksum, and the
 * validation behind the checksum deserves the fuzzer's attention too); and
 * as edits to a valid frame (see structured()).
 * Checks: a failure leaves the output untouched and gives a reason; a
 * success is accepted by the socket's BPF filter, rebuilds (ndp_build) into
 * a frame with a correct checksum that parses back to the same packet;
 * classification indexes point at the right address; an NS gets an NA that
 * parses and follows RFC 4861 section 7.2.4 (Solicited 0 and multicast for
 * a DAD probe, Solicited 1 and unicast otherwise). Violations abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <pcap/bpf.h>

#include "ironlb/addr.h"
#include "../../speaker/ndp.h"

#define SENTINEL 0xa5
#define MAX_FRAME 2048

static const uint8_t OUR_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_ndp: %s\n", what);
		abort();
	}
}

static bool unspecified(const struct ip_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->bytes, zero, 16) == 0;
}

static void check_reply(const struct ndp_packet *ns)
{
	uint8_t buf[NDP_FRAME_LEN];
	struct ndp_packet na;
	int len = ndp_build_solicited_na(OUR_MAC, ns, buf, sizeof(buf));

	check(len == NDP_FRAME_LEN, "no NA for an NS");
	check(ndp_parse(buf, (size_t)len, &na, NULL) == 0, "our NA does not parse");
	check(na.type == NDP_NA && na.override && !na.router, "NA flags wrong");
	check(ip_equal(&na.target, &ns->target) && ip_equal(&na.src, &ns->target),
	      "NA target/source wrong");
	check(na.has_lladdr && memcmp(na.lladdr, OUR_MAC, 6) == 0, "NA TLLA wrong");
	if (unspecified(&ns->src)) {
		check(!na.solicited && na.dst.bytes[0] == 0xff && na.eth_dst[0] == 0x33,
		      "answer to DAD not multicast/unsolicited");
	} else {
		check(na.solicited && ip_equal(&na.dst, &ns->src), "answer not unicast/solicited");
		check(memcmp(na.eth_dst, ns->has_lladdr ? ns->lladdr : ns->eth_src, 6) == 0,
		      "answer to wrong MAC");
	}
}

static void check_class(const struct ndp_packet *p, const struct ip_addr *watched, size_t n)
{
	struct ndp_class c = ndp_classify(p, OUR_MAC, watched, n);

	switch (c.kind) {
	case NDP_KIND_IGNORE:
	case NDP_KIND_OWN:
		check(c.index == NDP_NONE, "index set for ignore/own");
		return;
	case NDP_KIND_PROBE:
		check(p->type == NDP_NS && unspecified(&p->src), "probe not a DAD NS");
		/* fall through */
	case NDP_KIND_REQUEST:
	case NDP_KIND_ANNOUNCEMENT:
	case NDP_KIND_REPLY:
		check(c.index < n && ip_equal(&watched[c.index], &p->target), "target index wrong");
		break;
	case NDP_KIND_SENDER:
		check(c.index < n && ip_equal(&watched[c.index], &p->src), "sender index wrong");
		break;
	}
	check(c.sender_index == NDP_NONE ||
		      (c.sender_index < n && ip_equal(&watched[c.sender_index], &p->src)),
	      "sender_index wrong");
}

static void one(const uint8_t *data, size_t size)
{
	struct ndp_packet p, q, sentinel;
	const char *why = NULL;
	const struct sock_filter *filter;
	size_t n_filter;
	uint8_t buf[NDP_FRAME_LEN];
	int len;

	memset(&p, SENTINEL, sizeof(p));
	sentinel = p;
	if (ndp_parse(data, size, &p, &why) != 0) {
		check(why != NULL, "no reason on failure");
		check(memcmp(&p, &sentinel, sizeof(p)) == 0, "output touched on failure");
		return;
	}
	filter = ndp_bpf_filter(&n_filter);
	check(bpf_filter((const struct bpf_insn *)filter, data, (u_int)size, (u_int)size) != 0,
	      "filter drops a frame the parser accepts");
	check(p.type == NDP_NS || p.type == NDP_NA, "bad type");
	check(p.type == NDP_NA || !(p.router || p.solicited || p.override), "NS with NA flags");
	check(p.target.bytes[0] != 0xff, "multicast target accepted");

	len = ndp_build(&p, buf, sizeof(buf));
	check(len == (p.has_lladdr ? NDP_FRAME_LEN : NDP_MIN_FRAME_LEN), "cannot rebuild");
	check(ndp_icmp6_checksum(&p.src, &p.dst, buf + 54, (size_t)len - 54) == 0,
	      "rebuilt checksum wrong");
	check(ndp_parse(buf, (size_t)len, &q, NULL) == 0, "rebuilt frame does not parse");
	check(memcmp(&p, &q, sizeof(p)) == 0, "rebuilt frame parses differently");
	/* The input's headers survive the rebuild byte for byte, except what
	 * the builder sets on its own: traffic class and flow label, payload
	 * length, checksum and reserved bits. */
	check(memcmp(buf, data, 14) == 0 && memcmp(buf + 20, data + 20, 36) == 0 &&
		      (buf[58] & 0xe0) == (p.type == NDP_NA ? data[58] & 0xe0 : 0) &&
		      memcmp(buf + 62, data + 62, 16) == 0,
	      "rebuilt headers differ");

	{
		struct ip_addr watched[3] = { p.target, p.src };

		ip_from_u128(AF_INET6, ((ip_u128)0x20010db8u << 96) + 0x10, &watched[2]);
		check_class(&p, watched, 3);
		check_class(&p, watched + 1, 2);
		check_class(&p, watched + 2, 1);
	}
	if (p.type == NDP_NS)
		check_reply(&p);
}

/* Makes the ICMPv6 checksum of frame[0..size) correct, if the payload it
 * declares fits. */
static void fix_checksum(uint8_t *frame, size_t size)
{
	struct ip_addr src = { .family = AF_INET6 }, dst = { .family = AF_INET6 };
	size_t plen;
	uint16_t c;

	if (size < 58)
		return;
	plen = (size_t)(frame[18] << 8 | frame[19]);
	if (plen < 4 || 54 + plen > size)
		return;
	memcpy(src.bytes, frame + 22, 16);
	memcpy(dst.bytes, frame + 38, 16);
	frame[56] = frame[57] = 0;
	c = ndp_icmp6_checksum(&src, &dst, frame + 54, plen);
	frame[56] = (uint8_t)(c >> 8);
	frame[57] = (uint8_t)c;
}

/* Structured mode: a valid NS or NA built by us, extended by up to 63 bytes
 * of option space, with bytes overwritten at (offset, value) pairs taken
 * from the input, then checksummed. Random inputs rarely get through the
 * Ethernet and IPv6 headers on their own; this puts every input deep in the
 * option and RFC 4861 rule checks. */
static void structured(const uint8_t *data, size_t size)
{
	static const uint8_t peer[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	uint8_t frame[NDP_FRAME_LEN + 64];
	struct ip_addr t;
	size_t len;
	int n;

	if (size < 2)
		return;
	memset(frame, 0, sizeof(frame));
	ip_from_u128(AF_INET6, ((ip_u128)0x20010db8u << 96) + 0x10, &t);
	switch (data[0] % 4) {
	case 0:
		n = ndp_build_unsolicited_na(peer, &t, frame, sizeof(frame));
		break;
	case 1:
		n = ndp_build_dad_ns(peer, &t, frame, sizeof(frame));
		break;
	default: {
		struct ndp_packet p = { .type = data[0] % 4 == 2 ? NDP_NS : NDP_NA,
					.has_lladdr = true };

		memcpy(p.eth_dst, OUR_MAC, 6);
		memcpy(p.eth_src, peer, 6);
		memcpy(p.lladdr, peer, 6);
		ip_from_u128(AF_INET6, ((ip_u128)0x20010db8u << 96) + 0x1, &p.src);
		p.dst = t;
		p.target = t;
		p.solicited = p.type == NDP_NA;
		n = ndp_build(&p, frame, sizeof(frame));
		break;
	}
	}
	check(n > 0, "template");
	len = (size_t)n + data[1] % 64;
	frame[18] = (uint8_t)((len - 54) >> 8);
	frame[19] = (uint8_t)(len - 54);
	for (size_t i = 2; i + 1 < size; i += 2)
		frame[data[i] % len] = data[i + 1];
	fix_checksum(frame, len);
	one(frame, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t copy[MAX_FRAME];

	one(data, size);
	/* Again with a correct checksum. */
	if (size <= sizeof(copy)) {
		memcpy(copy, data, size);
		fix_checksum(copy, size);
		one(copy, size);
	}
	structured(data, size);
	return 0;
}
