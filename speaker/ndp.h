/* IPv6 Neighbor Discovery (RFC 4861) for L2 mode, on byte buffers: builders
 * for unsolicited and solicited Neighbor Advertisements and duplicate
 * address detection probes (RFC 4862), a strict parser for Neighbor
 * Solicitations and Advertisements, a classifier, solicited-node multicast
 * helpers and the classic BPF program for the receiving AF_PACKET socket.
 * No I/O.
 *
 * Frames are whole Ethernet II frames (as arp.h says): 14 bytes Ethernet,
 * 40 bytes IPv6 with Next Header 58 (ICMPv6) directly, then the ICMPv6
 * message. Neighbor Discovery packets carrying IPv6 extension headers are
 * not accepted: RFC 4861 senders do not use them, and RFC 6980 forbids
 * fragmented ND, so walking extension headers would only widen the attack
 * surface. Advertisements built use the announced address as their IPv6
 * source, as Linux does for its own; DAD probes use ::. Hop limit is 255.
 */
#ifndef IRONLB_SPEAKER_NDP_H
#define IRONLB_SPEAKER_NDP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"

#define NDP_ETHERTYPE 0x86dd
#define NDP_NS 135
#define NDP_NA 136
#define NDP_OPT_SLLA 1 /* source link-layer address */
#define NDP_OPT_TLLA 2 /* target link-layer address */
/* Ethernet + IPv6 + NS/NA without options, and with one link-layer option. */
#define NDP_MIN_FRAME_LEN 78
#define NDP_FRAME_LEN 86
#define NDP_NONE ((size_t)-1)
/* The snap length the filter returns for an accepted frame. */
#define NDP_BPF_ACCEPT 0x40000

/* A Neighbor Solicitation or Advertisement. src, dst and target are
 * AF_INET6. */
struct ndp_packet {
	uint8_t eth_dst[6];
	uint8_t eth_src[6];
	struct ip_addr src;
	struct ip_addr dst;
	uint8_t type; /* NDP_NS or NDP_NA */
	/* NA flags; false in an NS. */
	bool router;
	bool solicited;
	bool override;
	struct ip_addr target;
	/* The source (NS) or target (NA) link-layer address option. */
	bool has_lladdr;
	uint8_t lladdr[6];
};

/* ff02::1:ffXX:XXXX for a (RFC 4291 section 2.7.1): 0 or -EINVAL if a is not
 * AF_INET6. */
int ndp_solicited_node(const struct ip_addr *a, struct ip_addr *ret);
/* The Ethernet address of an IPv6 multicast group: 33:33 and its low 32
 * bits (RFC 2464 section 7). */
void ndp_multicast_mac(const struct ip_addr *group, uint8_t ret[6]);

/* The ICMPv6 checksum of msg[0..len) with the IPv6 pseudo-header of src and
 * dst (RFC 8200 section 8.1), taking the checksum field as it is in msg:
 * with that field zeroed this is the value to store; over a message with
 * a correct checksum it is 0. */
uint16_t ndp_icmp6_checksum(const struct ip_addr *src, const struct ip_addr *dst,
			    const uint8_t *msg, size_t len);

/* Writes p as a frame (hop limit 255, correct checksum, one link-layer
 * option when p->has_lladdr: SLLA in an NS, TLLA in an NA). Returns the
 * frame length (NDP_MIN_FRAME_LEN or NDP_FRAME_LEN), -ENOSPC if size is
 * smaller, -EINVAL if an address is not AF_INET6, type is neither NS nor NA
 * or an NS has NA flags set. */
int ndp_build(const struct ndp_packet *p, uint8_t *buf, size_t size);

/* Unsolicited NA for target from mac: to ff02::1 (33:33:00:00:00:01),
 * Router 0, Solicited 0, Override 1, TLLA mac, IPv6 source target. */
int ndp_build_unsolicited_na(const uint8_t mac[6], const struct ip_addr *target, uint8_t *buf,
			     size_t size);

/* The NA answering ns (which must be an NS; the caller has checked that it
 * asks for an address we own): target ns->target, TLLA mac, Router 0,
 * Override 1, IPv6 source the target. If ns came from a host (source not
 * ::) it is Solicited 1 and unicast to ns->src, at the NS's source
 * link-layer address (or its Ethernet source if it had none). If ns is a
 * DAD probe (source ::) it is Solicited 0 and multicast to ff02::1, as RFC
 * 4861 section 7.2.4 requires. */
int ndp_build_solicited_na(const uint8_t mac[6], const struct ndp_packet *ns, uint8_t *buf,
			   size_t size);

/* Duplicate address detection probe for target (RFC 4862 section 5.4.2):
 * NS from ::, to target's solicited-node group (and its 33:33:ff MAC), no
 * source link-layer option. */
int ndp_build_dad_ns(const uint8_t mac[6], const struct ip_addr *target, uint8_t *buf, size_t size);

/* Parses and validates a frame as RFC 4861 sections 7.1.1 and 7.1.2 ask:
 * IPv6 ethertype, version 6, Next Header 58, payload within the frame
 * (trailing bytes ignored), hop limit 255, ICMPv6 type NS or NA, code 0, at
 * least 24 bytes, correct checksum, neither target nor source multicast,
 * every option of non-zero length and within the message, a link-layer
 * address option (if present) 8 bytes long; for an NS from :: a
 * solicited-node destination and no SLLA; for an NA to a multicast
 * destination, Solicited 0. Unknown options are skipped; of several
 * link-layer options, the first counts.
 * Returns 0, or -EINVAL with *ret_why (if not NULL) naming the problem;
 * *ret is written only on success. */
int ndp_parse(const uint8_t *frame, size_t len, struct ndp_packet *ret, const char **ret_why);

/* What a received NS/NA means, as arp_classify (first match wins):
 *   OWN          Ethernet source or link-layer option is our MAC.
 *   PROBE        NS from :: for a watched target: duplicate address detection.
 *   ANNOUNCEMENT NA with Solicited 0 for a watched target: someone else
 *                announces it (unsolicited NA): a claim.
 *   REPLY        NA with Solicited 1 for a watched target: someone else
 *                answers for it: a claim.
 *   REQUEST      NS from a host for a watched target: answer if owned.
 *   SENDER       NS or NA whose IPv6 source is a watched address (and
 *                whose target is not): someone else uses it as its own.
 *   IGNORE       none of the above. */
enum ndp_kind {
	NDP_KIND_IGNORE = 0,
	NDP_KIND_OWN,
	NDP_KIND_PROBE,
	NDP_KIND_ANNOUNCEMENT,
	NDP_KIND_REPLY,
	NDP_KIND_REQUEST,
	NDP_KIND_SENDER,
};

struct ndp_class {
	enum ndp_kind kind;
	size_t index;	     /* watched[index] the kind is about, or NDP_NONE */
	size_t sender_index; /* watched[] index of the IPv6 source, or NDP_NONE */
};

struct ndp_class ndp_classify(const struct ndp_packet *p, const uint8_t our_mac[6],
			      const struct ip_addr *watched, size_t n_watched);

const char *ndp_kind_str(enum ndp_kind k);

/* Classic BPF program for the receiving socket: IPv6 frames of at least 78
 * bytes with Next Header 58, hop limit 255, ICMPv6 code 0 and type NS or NA.
 * Plain loads only (runs under libpcap's bpf_filter() too). Send-only
 * sockets use arp_bpf_drop_all(). */
const struct sock_filter *ndp_bpf_filter(size_t *ret_len);

#endif
