/* ARP frames for L2 mode: build, parse, classify, filter (see arp.h). The
 * IPv6 counterpart is ndp.c; the two share nothing but the MAC helpers, as
 * keepalived's vrrp_arp.c and vrrp_ndisc.c do. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"

_Static_assert(sizeof(struct sock_filter) == 8, "classic BPF instruction layout");

#define ETH_HLEN_ 14

static const uint8_t broadcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t zero_mac[6];

bool arp_mac_is_multicast(const uint8_t mac[6])
{
	return mac[0] & 0x01;
}

bool arp_mac_is_zero(const uint8_t mac[6])
{
	return memcmp(mac, zero_mac, 6) == 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool is_v4(const struct ip_addr *a)
{
	return a && a->family == AF_INET;
}

static void v4_from(const uint8_t *p, struct ip_addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->family = AF_INET;
	memcpy(ret->bytes, p, 4);
}

static bool v4_is_zero(const struct ip_addr *a)
{
	return a->bytes[0] == 0 && a->bytes[1] == 0 && a->bytes[2] == 0 && a->bytes[3] == 0;
}

int arp_build(const struct arp_packet *p, uint8_t *buf, size_t size)
{
	uint8_t *a = buf + ETH_HLEN_;

	if (!is_v4(&p->spa) || !is_v4(&p->tpa) ||
	    (p->op != ARP_OP_REQUEST && p->op != ARP_OP_REPLY))
		return -EINVAL;
	if (size < ARP_FRAME_LEN)
		return -ENOSPC;
	memcpy(buf, p->eth_dst, 6);
	memcpy(buf + 6, p->eth_src, 6);
	put16(buf + 12, ARP_ETHERTYPE);
	put16(a, 1);	      /* htype: Ethernet */
	put16(a + 2, 0x0800); /* ptype: IPv4 */
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, p->op);
	memcpy(a + 8, p->sha, 6);
	memcpy(a + 14, p->spa.bytes, 4);
	memcpy(a + 18, p->tha, 6);
	memcpy(a + 24, p->tpa.bytes, 4);
	return ARP_FRAME_LEN;
}

static int build_request(const uint8_t mac[6], const struct ip_addr *spa, const struct ip_addr *tpa,
			 uint8_t *buf, size_t size)
{
	struct arp_packet p = { .op = ARP_OP_REQUEST, .spa = *spa, .tpa = *tpa };

	memcpy(p.eth_dst, broadcast_mac, 6);
	memcpy(p.eth_src, mac, 6);
	memcpy(p.sha, mac, 6);
	return arp_build(&p, buf, size);
}

int arp_build_announce(const uint8_t mac[6], const struct ip_addr *a, uint8_t *buf, size_t size)
{
	if (!is_v4(a))
		return -EINVAL;
	return build_request(mac, a, a, buf, size);
}

int arp_build_probe(const uint8_t mac[6], const struct ip_addr *a, uint8_t *buf, size_t size)
{
	struct ip_addr unspecified = { .family = AF_INET };

	if (!is_v4(a))
		return -EINVAL;
	return build_request(mac, &unspecified, a, buf, size);
}

int arp_build_reply(const uint8_t mac[6], const struct ip_addr *a, const struct arp_packet *request,
		    uint8_t *buf, size_t size)
{
	struct arp_packet p = { .op = ARP_OP_REPLY };

	if (!is_v4(a) || request->op != ARP_OP_REQUEST || !ip_equal(&request->tpa, a))
		return -EINVAL;
	memcpy(p.eth_dst, request->sha, 6);
	memcpy(p.eth_src, mac, 6);
	memcpy(p.sha, mac, 6);
	p.spa = *a;
	memcpy(p.tha, request->sha, 6);
	p.tpa = request->spa;
	return arp_build(&p, buf, size);
}

static int reject(const char **ret_why, const char *why)
{
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}

int arp_parse(const uint8_t *frame, size_t len, struct arp_packet *ret, const char **ret_why)
{
	const uint8_t *a = frame + ETH_HLEN_;
	struct arp_packet p;

	if (len < ETH_HLEN_)
		return reject(ret_why, "truncated Ethernet header");
	if (get16(frame + 12) != ARP_ETHERTYPE)
		return reject(ret_why, "not an ARP frame");
	if (len < ARP_FRAME_LEN)
		return reject(ret_why, "truncated ARP packet");
	if (get16(a) != 1)
		return reject(ret_why, "hardware type not Ethernet");
	if (get16(a + 2) != 0x0800)
		return reject(ret_why, "protocol type not IPv4");
	if (a[4] != 6)
		return reject(ret_why, "hardware address length not 6");
	if (a[5] != 4)
		return reject(ret_why, "protocol address length not 4");
	p.op = get16(a + 6);
	if (p.op != ARP_OP_REQUEST && p.op != ARP_OP_REPLY)
		return reject(ret_why, "opcode neither request nor reply");
	if (arp_mac_is_multicast(a + 8) || arp_mac_is_zero(a + 8))
		return reject(ret_why, "sender MAC zero, multicast or broadcast");
	memcpy(p.eth_dst, frame, 6);
	memcpy(p.eth_src, frame + 6, 6);
	memcpy(p.sha, a + 8, 6);
	v4_from(a + 14, &p.spa);
	memcpy(p.tha, a + 18, 6);
	v4_from(a + 24, &p.tpa);
	if (ret)
		*ret = p;
	return 0;
}

static size_t find(const struct ip_addr *watched, size_t n, const struct ip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (ip_equal(&watched[i], a))
			return i;
	return ARP_NONE;
}

struct arp_class arp_classify(const struct arp_packet *p, const uint8_t our_mac[6],
			      const struct ip_addr *watched, size_t n_watched)
{
	struct arp_class c = { ARP_KIND_IGNORE, ARP_NONE, ARP_NONE };
	size_t s, t;

	if (memcmp(p->eth_src, our_mac, 6) == 0 || memcmp(p->sha, our_mac, 6) == 0) {
		c.kind = ARP_KIND_OWN;
		return c;
	}
	s = v4_is_zero(&p->spa) ? ARP_NONE : find(watched, n_watched, &p->spa);
	t = find(watched, n_watched, &p->tpa);
	c.sender_index = s;
	if (p->op == ARP_OP_REQUEST && v4_is_zero(&p->spa) && t != ARP_NONE) {
		c.kind = ARP_KIND_PROBE;
		c.index = t;
	} else if (s != ARP_NONE && ip_equal(&p->spa, &p->tpa)) {
		c.kind = ARP_KIND_ANNOUNCEMENT;
		c.index = s;
	} else if (s != ARP_NONE && p->op == ARP_OP_REPLY) {
		c.kind = ARP_KIND_REPLY;
		c.index = s;
	} else if (p->op == ARP_OP_REQUEST && t != ARP_NONE && !v4_is_zero(&p->spa)) {
		c.kind = ARP_KIND_REQUEST;
		c.index = t;
	} else if (s != ARP_NONE && p->op == ARP_OP_REQUEST) {
		c.kind = ARP_KIND_SENDER;
		c.index = s;
	}
	return c;
}

const char *arp_kind_str(enum arp_kind k)
{
	switch (k) {
	case ARP_KIND_IGNORE:
		return "ignore";
	case ARP_KIND_OWN:
		return "own";
	case ARP_KIND_PROBE:
		return "probe";
	case ARP_KIND_ANNOUNCEMENT:
		return "announcement";
	case ARP_KIND_REPLY:
		return "reply";
	case ARP_KIND_REQUEST:
		return "request";
	case ARP_KIND_SENDER:
		return "sender";
	}
	return "?";
}

/* Jump offsets count instructions after the jump; DROP is index 13. */
static const struct sock_filter arp_filter[] = {
	/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
	/* 1 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, ARP_FRAME_LEN, 0, 11),
	/* 2 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
	/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARP_ETHERTYPE, 0, 9),
	/* 4 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 14),
	/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 7),
	/* 6 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 16),
	/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, 5),
	/* 8 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 18),
	/* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0604, 0, 3),
	/* 10 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),
	/* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARP_OP_REQUEST, 2, 0),
	/* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARP_OP_REPLY, 1, 0),
	/* 13 */ BPF_STMT(BPF_RET | BPF_K, 0),
	/* 14 */ BPF_STMT(BPF_RET | BPF_K, ARP_BPF_ACCEPT),
};

static const struct sock_filter drop_all[] = {
	BPF_STMT(BPF_RET | BPF_K, 0),
};

const struct sock_filter *arp_bpf_filter(size_t *ret_len)
{
	*ret_len = sizeof(arp_filter) / sizeof(arp_filter[0]);
	return arp_filter;
}

const struct sock_filter *arp_bpf_drop_all(size_t *ret_len)
{
	*ret_len = sizeof(drop_all) / sizeof(drop_all[0]);
	return drop_all;
}

/* ---- the filter for a set of claimed addresses ---- */

#define LEAF 8			 /* addresses compared one by one at the bottom */
#define MISS_TO_NEXT 0xffffffffu /* JA placeholder: to the sender IP's search */
#define ARP_TPA_OFF (ETH_HLEN_ + 24)
#define ARP_SPA_OFF (ETH_HLEN_ + 14)

struct emit {
	struct sock_filter *buf;
	size_t size, n;
};

static size_t put(struct emit *e, struct sock_filter f)
{
	if (e->n < e->size)
		e->buf[e->n] = f;
	return e->n++;
}

/* Searches v[lo..hi) for the accumulator: a match returns ARP_BPF_ACCEPT;
 * a miss returns 0 (last) or jumps to the MISS_TO_NEXT placeholder. */
static void emit_search(struct emit *e, const uint32_t *v, size_t lo, size_t hi, bool last)
{
	if (hi - lo > LEAF) {
		/* Full leaves on the left: n + 4 n / LEAF instructions. */
		size_t leaves = (hi - lo + LEAF - 1) / LEAF, mid = lo + (leaves + 1) / 2 * LEAF, ja;

		/* A >= v[mid]: the JA to the right half; else skip it. */
		put(e, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, v[mid], 0, 1));
		ja = put(e, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0));
		emit_search(e, v, lo, mid, last);
		if (ja < e->size)
			e->buf[ja].k = (uint32_t)(e->n - ja - 1);
		emit_search(e, v, mid, hi, last);
		return;
	}
	for (size_t i = lo; i < hi; i++) /* to the RET ACCEPT after the miss */
		put(e, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, v[i],
						    (uint8_t)(hi - i), 0));
	if (last)
		put(e, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0));
	else
		put(e, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, MISS_TO_NEXT, 0, 0));
	put(e, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, ARP_BPF_ACCEPT));
}

int arp_bpf_filter_claims(const struct ip_addr *addrs, size_t n, struct sock_filter *buf,
			  size_t size)
{
	/* arp_filter without its last instruction (RET ACCEPT): its checks
	 * jump to the RET 0 at index 13 or fall through to index 14. */
	const size_t base = sizeof(arp_filter) / sizeof(arp_filter[0]) - 1;
	struct emit e = { .buf = buf, .size = size < ARP_BPF_MAX_INSNS ? size : ARP_BPF_MAX_INSNS };
	uint32_t *v;
	size_t tpa_start;

	if (n > ARP_BPF_MAX_INSNS)
		return -ENOSPC;
	v = n ? malloc(n * sizeof(*v)) : NULL;
	if (n && !v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *b = addrs[i].bytes;

		v[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		if (addrs[i].family != AF_INET || (i > 0 && v[i] <= v[i - 1])) {
			free(v);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < base; i++)
		put(&e, arp_filter[i]);
	put(&e, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARP_TPA_OFF));
	tpa_start = e.n;
	emit_search(&e, v, 0, n, false);
	/* The target IP's misses continue with the sender IP. */
	for (size_t i = tpa_start; i < e.n && i < e.size; i++)
		if (e.buf[i].code == (BPF_JMP | BPF_JA) && e.buf[i].k == MISS_TO_NEXT)
			e.buf[i].k = (uint32_t)(e.n - i - 1);
	put(&e, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARP_SPA_OFF));
	emit_search(&e, v, 0, n, true);
	free(v);
	return e.n > e.size ? -ENOSPC : (int)e.n;
}
