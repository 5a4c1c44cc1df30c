/* libFuzzer target for speaker/arp.c.
 *
 * Feeds each input to arp_parse as a received frame and checks: a failure
 * leaves the output untouched and gives a reason; a success yields a packet
 * that arp_build turns back into exactly the first 42 bytes of the input
 * (the parser keeps every field, the builder is canonical); the BPF filter
 * attached to the receiving socket accepts every frame the parser accepts;
 * the classifier's indexes point at the address its kind is about; a
 * request for a watched address gets a reply that parses back as a reply
 * to the requester. Any violation abort()s so the fuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <pcap/bpf.h>

#include "ironlb/addr.h"
#include "../../speaker/arp.h"

#define SENTINEL 0xa5

static const uint8_t OUR_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_arp: %s\n", what);
		abort();
	}
}

static void check_class(const struct arp_packet *p, const struct ip_addr *watched, size_t n)
{
	struct arp_class c = arp_classify(p, OUR_MAC, watched, n);

	switch (c.kind) {
	case ARP_KIND_IGNORE:
	case ARP_KIND_OWN:
		check(c.index == ARP_NONE, "index set for ignore/own");
		return;
	case ARP_KIND_PROBE:
	case ARP_KIND_REQUEST:
		check(c.index < n && ip_equal(&watched[c.index], &p->tpa), "target index wrong");
		check(p->op == ARP_OP_REQUEST, "probe/request that is not a request");
		break;
	case ARP_KIND_ANNOUNCEMENT:
		check(ip_equal(&p->spa, &p->tpa), "announcement with spa != tpa");
		/* fall through */
	case ARP_KIND_REPLY:
	case ARP_KIND_SENDER:
		check(c.index < n && ip_equal(&watched[c.index], &p->spa), "sender index wrong");
		break;
	}
	check(c.sender_index == ARP_NONE ||
		      (c.sender_index < n && ip_equal(&watched[c.sender_index], &p->spa)),
	      "sender_index wrong");
	if (c.kind == ARP_KIND_REQUEST || c.kind == ARP_KIND_PROBE) {
		uint8_t buf[ARP_FRAME_LEN];
		struct arp_packet r;

		check(arp_build_reply(OUR_MAC, &watched[c.index], p, buf, sizeof(buf)) ==
			      ARP_FRAME_LEN,
		      "no reply to a request");
		check(arp_parse(buf, sizeof(buf), &r, NULL) == 0, "our reply does not parse");
		check(r.op == ARP_OP_REPLY && memcmp(r.eth_dst, p->sha, 6) == 0 &&
			      memcmp(r.tha, p->sha, 6) == 0 && ip_equal(&r.tpa, &p->spa) &&
			      ip_equal(&r.spa, &p->tpa),
		      "reply fields wrong");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arp_packet p, sentinel;
	const char *why = NULL;
	const struct sock_filter *filter;
	size_t n_filter;
	uint8_t buf[ARP_FRAME_LEN];
	unsigned verdict;

	memset(&p, SENTINEL, sizeof(p));
	sentinel = p;
	filter = arp_bpf_filter(&n_filter);
	verdict = bpf_filter((const struct bpf_insn *)filter, data, (u_int)size, (u_int)size);
	if (arp_parse(data, size, &p, &why) != 0) {
		check(why != NULL, "no reason on failure");
		check(memcmp(&p, &sentinel, sizeof(p)) == 0, "output touched on failure");
		return 0;
	}
	check(verdict != 0, "filter drops a frame the parser accepts");
	check(p.spa.family == AF_INET && p.tpa.family == AF_INET, "family not AF_INET");
	check(arp_build(&p, buf, sizeof(buf)) == ARP_FRAME_LEN, "cannot rebuild");
	check(memcmp(buf, data, ARP_FRAME_LEN) == 0, "rebuild differs from input");

	/* Watch the packet's own addresses (and one it does not name) so every
	 * branch of the classifier is reachable. */
	{
		struct ip_addr watched[3] = { p.tpa, p.spa };

		ip_from_u128(AF_INET, 0xc000020aU, &watched[2]);
		check_class(&p, watched, 3);
		check_class(&p, watched + 1, 2);
		check_class(&p, watched + 2, 1);
		check_class(&p, watched, 1);
	}
	return 0;
}
