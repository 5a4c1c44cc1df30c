/* Neighbor Discovery frames for L2 mode: build, parse, classify, filter
 * (see ndp.h). */
#include <errno.h>
#include <string.h>

#include "ndp.h"

#define ETH_HLEN_ 14
#define IP6_HLEN 40
#define ICMP_OFF (ETH_HLEN_ + IP6_HLEN)
#define NSNA_LEN 24 /* type, code, checksum, flags/reserved, target */
#define NA_ROUTER 0x80
#define NA_SOLICIT 0x40
#define NA_OVERRIDE 0x20

static const struct ip_addr all_nodes = {
	.family = AF_INET6,
	.bytes = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 },
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool is_v6(const struct ip_addr *a)
{
	return a && a->family == AF_INET6;
}

static bool v6_is_unspecified(const struct ip_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->bytes, zero, 16) == 0;
}

static bool v6_is_multicast(const struct ip_addr *a)
{
	return a->bytes[0] == 0xff;
}

static void v6_from(const uint8_t *p, struct ip_addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->family = AF_INET6;
	memcpy(ret->bytes, p, 16);
}

int ndp_solicited_node(const struct ip_addr *a, struct ip_addr *ret)
{
	static const uint8_t prefix[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };

	if (!is_v6(a))
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->family = AF_INET6;
	memcpy(ret->bytes, prefix, sizeof(prefix));
	memcpy(ret->bytes + 13, a->bytes + 13, 3);
	return 0;
}

void ndp_multicast_mac(const struct ip_addr *group, uint8_t ret[6])
{
	ret[0] = 0x33;
	ret[1] = 0x33;
	memcpy(ret + 2, group->bytes + 12, 4);
}

/* One's complement sum of 16-bit big-endian words, unfolded (64 bits: no
 * overflow for any buffer that fits in memory). */
static uint64_t sum16(uint64_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

uint16_t ndp_icmp6_checksum(const struct ip_addr *src, const struct ip_addr *dst,
			    const uint8_t *msg, size_t len)
{
	uint8_t pseudo[8] = { 0 };
	uint64_t sum;

	pseudo[0] = (uint8_t)(len >> 24);
	pseudo[1] = (uint8_t)(len >> 16);
	pseudo[2] = (uint8_t)(len >> 8);
	pseudo[3] = (uint8_t)len;
	pseudo[7] = 58;
	sum = sum16(0, src->bytes, 16);
	sum += sum16(0, dst->bytes, 16);
	sum += sum16(0, pseudo, sizeof(pseudo));
	sum += sum16(0, msg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int ndp_build(const struct ndp_packet *p, uint8_t *buf, size_t size)
{
	size_t icmp_len = NSNA_LEN + (p->has_lladdr ? 8 : 0);
	size_t len = ICMP_OFF + icmp_len;
	uint8_t *ip = buf + ETH_HLEN_, *icmp = buf + ICMP_OFF;

	if (!is_v6(&p->src) || !is_v6(&p->dst) || !is_v6(&p->target))
		return -EINVAL;
	if (p->type != NDP_NS && p->type != NDP_NA)
		return -EINVAL;
	if (p->type == NDP_NS && (p->router || p->solicited || p->override))
		return -EINVAL;
	if (size < len)
		return -ENOSPC;
	memset(buf, 0, len);
	memcpy(buf, p->eth_dst, 6);
	memcpy(buf + 6, p->eth_src, 6);
	put16(buf + 12, NDP_ETHERTYPE);
	ip[0] = 0x60; /* version 6, traffic class 0, flow label 0 */
	put16(ip + 4, (uint16_t)icmp_len);
	ip[6] = 58;
	ip[7] = 255;
	memcpy(ip + 8, p->src.bytes, 16);
	memcpy(ip + 24, p->dst.bytes, 16);
	icmp[0] = p->type;
	if (p->type == NDP_NA)
		icmp[4] = (uint8_t)((p->router ? NA_ROUTER : 0) | (p->solicited ? NA_SOLICIT : 0) |
				    (p->override ? NA_OVERRIDE : 0));
	memcpy(icmp + 8, p->target.bytes, 16);
	if (p->has_lladdr) {
		icmp[24] = p->type == NDP_NS ? NDP_OPT_SLLA : NDP_OPT_TLLA;
		icmp[25] = 1;
		memcpy(icmp + 26, p->lladdr, 6);
	}
	put16(icmp + 2, ndp_icmp6_checksum(&p->src, &p->dst, icmp, icmp_len));
	return (int)len;
}

int ndp_build_unsolicited_na(const uint8_t mac[6], const struct ip_addr *target, uint8_t *buf,
			     size_t size)
{
	struct ndp_packet p = { .type = NDP_NA, .override = true, .has_lladdr = true };

	if (!is_v6(target))
		return -EINVAL;
	ndp_multicast_mac(&all_nodes, p.eth_dst);
	memcpy(p.eth_src, mac, 6);
	p.src = *target;
	p.dst = all_nodes;
	p.target = *target;
	memcpy(p.lladdr, mac, 6);
	return ndp_build(&p, buf, size);
}

int ndp_build_solicited_na(const uint8_t mac[6], const struct ndp_packet *ns, uint8_t *buf,
			   size_t size)
{
	struct ndp_packet p = { .type = NDP_NA, .override = true, .has_lladdr = true };

	if (ns->type != NDP_NS || !is_v6(&ns->src) || !is_v6(&ns->target))
		return -EINVAL;
	memcpy(p.eth_src, mac, 6);
	p.src = ns->target;
	p.target = ns->target;
	memcpy(p.lladdr, mac, 6);
	if (v6_is_unspecified(&ns->src)) {
		p.dst = all_nodes;
		ndp_multicast_mac(&all_nodes, p.eth_dst);
	} else {
		p.solicited = true;
		p.dst = ns->src;
		memcpy(p.eth_dst, ns->has_lladdr ? ns->lladdr : ns->eth_src, 6);
	}
	return ndp_build(&p, buf, size);
}

int ndp_build_dad_ns(const uint8_t mac[6], const struct ip_addr *target, uint8_t *buf, size_t size)
{
	struct ndp_packet p = { .type = NDP_NS, .src = { .family = AF_INET6 } };

	if (!is_v6(target))
		return -EINVAL;
	ndp_solicited_node(target, &p.dst);
	ndp_multicast_mac(&p.dst, p.eth_dst);
	memcpy(p.eth_src, mac, 6);
	p.target = *target;
	return ndp_build(&p, buf, size);
}

static int reject(const char **ret_why, const char *why)
{
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}

static bool is_solicited_node(const struct ip_addr *a)
{
	struct ip_addr sn;

	ndp_solicited_node(a, &sn);
	/* Compare the fixed 104-bit prefix only. */
	return memcmp(a->bytes, sn.bytes, 13) == 0;
}

int ndp_parse(const uint8_t *frame, size_t len, struct ndp_packet *ret, const char **ret_why)
{
	const uint8_t *ip = frame + ETH_HLEN_, *icmp = frame + ICMP_OFF;
	struct ndp_packet p;
	size_t plen, off;

	if (len < ETH_HLEN_)
		return reject(ret_why, "truncated Ethernet header");
	if (get16(frame + 12) != NDP_ETHERTYPE)
		return reject(ret_why, "not an IPv6 frame");
	if (len < ICMP_OFF)
		return reject(ret_why, "truncated IPv6 header");
	if ((ip[0] >> 4) != 6)
		return reject(ret_why, "IP version not 6");
	if (ip[6] != 58)
		return reject(ret_why,
			      "next header not ICMPv6 (extension headers are not accepted)");
	plen = get16(ip + 4);
	if (len - ICMP_OFF < plen)
		return reject(ret_why, "truncated IPv6 payload");
	if (ip[7] != 255)
		return reject(ret_why, "hop limit not 255");
	if (plen < 4)
		return reject(ret_why, "ICMPv6 message too short");
	if (icmp[0] != NDP_NS && icmp[0] != NDP_NA)
		return reject(ret_why, "ICMPv6 type neither NS nor NA");
	if (icmp[1] != 0)
		return reject(ret_why, "ICMPv6 code not 0");
	if (plen < NSNA_LEN)
		return reject(ret_why, "NS/NA shorter than 24 bytes");

	memset(&p, 0, sizeof(p));
	memcpy(p.eth_dst, frame, 6);
	memcpy(p.eth_src, frame + 6, 6);
	v6_from(ip + 8, &p.src);
	v6_from(ip + 24, &p.dst);
	if (ndp_icmp6_checksum(&p.src, &p.dst, icmp, plen) != 0)
		return reject(ret_why, "bad ICMPv6 checksum");
	p.type = icmp[0];
	if (p.type == NDP_NA) {
		p.router = icmp[4] & NA_ROUTER;
		p.solicited = icmp[4] & NA_SOLICIT;
		p.override = icmp[4] & NA_OVERRIDE;
	}
	v6_from(icmp + 8, &p.target);
	if (v6_is_multicast(&p.target))
		return reject(ret_why, "target address is multicast");
	/* RFC 4291 section 2.7: never a source; answering one would send a
	 * solicited NA to a group. */
	if (v6_is_multicast(&p.src))
		return reject(ret_why, "source address is multicast");

	for (off = NSNA_LEN; off < plen;) {
		size_t olen;

		if (plen - off < 2)
			return reject(ret_why, "option runs past the end");
		olen = (size_t)icmp[off + 1] * 8;
		if (olen == 0)
			return reject(ret_why, "option of length 0");
		if (olen > plen - off)
			return reject(ret_why, "option runs past the end");
		if ((p.type == NDP_NS && icmp[off] == NDP_OPT_SLLA) ||
		    (p.type == NDP_NA && icmp[off] == NDP_OPT_TLLA)) {
			if (olen != 8)
				return reject(ret_why, "link-layer address option not 8 bytes");
			if (!p.has_lladdr) {
				p.has_lladdr = true;
				memcpy(p.lladdr, icmp + off + 2, 6);
			}
		}
		off += olen;
	}

	if (p.type == NDP_NS && v6_is_unspecified(&p.src)) {
		if (!is_solicited_node(&p.dst))
			return reject(ret_why, "DAD probe not sent to a solicited-node group");
		if (p.has_lladdr)
			return reject(ret_why, "DAD probe with a source link-layer option");
	}
	if (p.type == NDP_NA && v6_is_multicast(&p.dst) && p.solicited)
		return reject(ret_why, "solicited NA sent to a multicast group");
	if (ret)
		*ret = p;
	return 0;
}

static size_t find(const struct ip_addr *watched, size_t n, const struct ip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (ip_equal(&watched[i], a))
			return i;
	return NDP_NONE;
}

struct ndp_class ndp_classify(const struct ndp_packet *p, const uint8_t our_mac[6],
			      const struct ip_addr *watched, size_t n_watched)
{
	struct ndp_class c = { NDP_KIND_IGNORE, NDP_NONE, NDP_NONE };
	bool unspecified = v6_is_unspecified(&p->src);
	size_t s, t;

	if (memcmp(p->eth_src, our_mac, 6) == 0 ||
	    (p->has_lladdr && memcmp(p->lladdr, our_mac, 6) == 0)) {
		c.kind = NDP_KIND_OWN;
		return c;
	}
	s = unspecified ? NDP_NONE : find(watched, n_watched, &p->src);
	t = find(watched, n_watched, &p->target);
	c.sender_index = s;
	if (p->type == NDP_NS && unspecified && t != NDP_NONE) {
		c.kind = NDP_KIND_PROBE;
		c.index = t;
	} else if (p->type == NDP_NA && t != NDP_NONE) {
		c.kind = p->solicited ? NDP_KIND_REPLY : NDP_KIND_ANNOUNCEMENT;
		c.index = t;
	} else if (p->type == NDP_NS && t != NDP_NONE) {
		c.kind = NDP_KIND_REQUEST;
		c.index = t;
	} else if (s != NDP_NONE) {
		c.kind = NDP_KIND_SENDER;
		c.index = s;
	}
	return c;
}

const char *ndp_kind_str(enum ndp_kind k)
{
	switch (k) {
	case NDP_KIND_IGNORE:
		return "ignore";
	case NDP_KIND_OWN:
		return "own";
	case NDP_KIND_PROBE:
		return "probe";
	case NDP_KIND_ANNOUNCEMENT:
		return "announcement";
	case NDP_KIND_REPLY:
		return "reply";
	case NDP_KIND_REQUEST:
		return "request";
	case NDP_KIND_SENDER:
		return "sender";
	}
	return "?";
}

/* Jump offsets count instructions after the jump; DROP is index 13. */
static const struct sock_filter ndp_filter[] = {
	/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
	/* 1 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, NDP_MIN_FRAME_LEN, 0, 11),
	/* 2 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
	/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NDP_ETHERTYPE, 0, 9),
	/* 4 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, ETH_HLEN_ + 6),
	/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 7),
	/* 6 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, ETH_HLEN_ + 7),
	/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 255, 0, 5),
	/* 8 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, ICMP_OFF + 1),
	/* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
	/* 10 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, ICMP_OFF),
	/* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NDP_NS, 2, 0),
	/* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NDP_NA, 1, 0),
	/* 13 */ BPF_STMT(BPF_RET | BPF_K, 0),
	/* 14 */ BPF_STMT(BPF_RET | BPF_K, NDP_BPF_ACCEPT),
};

const struct sock_filter *ndp_bpf_filter(size_t *ret_len)
{
	*ret_len = sizeof(ndp_filter) / sizeof(ndp_filter[0]);
	return ndp_filter;
}
