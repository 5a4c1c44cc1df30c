/* ARP for L2 mode, on byte buffers: builders for the frames the speaker
 * sends (RFC 5227 announcements and probes, replies), a strict parser and a
 * classifier for what it receives, and the classic BPF programs for its
 * AF_PACKET sockets. No I/O: packet.c moves the frames.
 *
 * Frames are whole Ethernet II frames as an AF_PACKET SOCK_RAW socket sees
 * them: destination MAC first, no VLAN tag (the kernel strips it into
 * metadata before the socket and its filter see the frame), no FCS. Built
 * frames are ARP_FRAME_LEN (42) bytes; the driver pads them to the Ethernet
 * minimum. Received frames may carry padding after the ARP payload.
 */
#ifndef IRONLB_SPEAKER_ARP_H
#define IRONLB_SPEAKER_ARP_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"

#define ARP_ETHERTYPE 0x0806
#define ARP_FRAME_LEN 42 /* 14 Ethernet + 28 ARP for Ethernet/IPv4 */
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2
/* Index value meaning "not one of the watched addresses". */
#define ARP_NONE ((size_t)-1)

/* One Ethernet/IPv4 ARP packet. spa and tpa are AF_INET. */
struct arp_packet {
	uint8_t eth_dst[6];
	uint8_t eth_src[6];
	uint16_t op; /* ARP_OP_REQUEST or ARP_OP_REPLY */
	uint8_t sha[6];
	struct ip_addr spa;
	uint8_t tha[6];
	struct ip_addr tpa;
};

/* Writes p as a frame into buf[0..size). Returns ARP_FRAME_LEN, -ENOSPC if
 * size is smaller, or -EINVAL if an address is not AF_INET or op is
 * neither request nor reply. */
int arp_build(const struct arp_packet *p, uint8_t *buf, size_t size);

/* RFC 5227 announcement (gratuitous ARP) of a from mac: broadcast request
 * with sender and target IP a, sender MAC mac, target MAC zero. Returns the
 * frame length or a negative errno as arp_build. */
int arp_build_announce(const uint8_t mac[6], const struct ip_addr *a, uint8_t *buf, size_t size);

/* RFC 5227 probe for a: broadcast request with sender IP 0.0.0.0, sender
 * MAC mac, target MAC zero, target IP a. */
int arp_build_probe(const uint8_t mac[6], const struct ip_addr *a, uint8_t *buf, size_t size);

/* The reply to request (which must ask for a: op request, tpa == a, else
 * -EINVAL): a reply from mac with sender IP a, unicast to the requester's
 * sender MAC, target MAC/IP the requester's sender MAC/IP (0.0.0.0 for a
 * probe, as Linux answers probes). */
int arp_build_reply(const uint8_t mac[6], const struct ip_addr *a, const struct arp_packet *request,
		    uint8_t *buf, size_t size);

/* Parses a frame. Rejects, with -EINVAL and *ret_why (if not NULL) naming
 * the problem: fewer than ARP_FRAME_LEN bytes, an ethertype other than ARP
 * (802.1Q-tagged frames included), hardware type not Ethernet (1), protocol
 * type not IPv4, hardware length not 6, protocol length not 4, an opcode
 * other than request or reply, a sender MAC that is zero, multicast or
 * broadcast. Bytes after the ARP payload (Ethernet padding) are ignored.
 * *ret is written only on success. */
int arp_parse(const uint8_t *frame, size_t len, struct arp_packet *ret, const char **ret_why);

/* What a received ARP packet means to us, given the addresses we watch (the
 * ones we own, probe or want to hear claims for). Rules, first match wins:
 *   OWN          Ethernet source or sender MAC is ours: our own frame.
 *   PROBE        request, sender IP 0.0.0.0, target IP watched: someone
 *                probes for it (RFC 5227 probe).
 *   ANNOUNCEMENT request or reply, sender IP == target IP, watched: someone
 *                else announces it (gratuitous ARP): a claim.
 *   REPLY        reply with a watched sender IP: someone else answers for
 *                it (e.g. to our probe): a claim.
 *   REQUEST      request for a watched target IP from a host with an address:
 *                to be answered if we own it.
 *   SENDER       request with a watched sender IP (and a target that is not
 *                watched): someone else uses the address as its own (RFC
 *                5227 section 2.4 counts this as a conflict).
 *   IGNORE       none of the above.
 */
enum arp_kind {
	ARP_KIND_IGNORE = 0,
	ARP_KIND_OWN,
	ARP_KIND_PROBE,
	ARP_KIND_ANNOUNCEMENT,
	ARP_KIND_REPLY,
	ARP_KIND_REQUEST,
	ARP_KIND_SENDER,
};

struct arp_class {
	enum arp_kind kind;
	/* watched[index] is the address the kind is about (the target for
	 * PROBE and REQUEST, the sender IP otherwise); ARP_NONE for IGNORE and
	 * OWN. */
	size_t index;
	/* watched[sender_index] is the packet's sender IP, whatever the kind
	 * (except OWN), or ARP_NONE: a REQUEST can also reveal a host that uses
	 * another watched address as its own. */
	size_t sender_index;
};

struct arp_class arp_classify(const struct arp_packet *p, const uint8_t our_mac[6],
			      const struct ip_addr *watched, size_t n_watched);

const char *arp_kind_str(enum arp_kind k);

/* Classic BPF programs for SO_ATTACH_FILTER; *ret_len gets the number of
 * instructions. They use only plain loads (no SKF_AD_* extensions) so that
 * libpcap's bpf_filter() runs them the same way in tests.
 *   arp_bpf_filter: Ethernet/IPv4 ARP requests and replies only (ethertype,
 *     htype, ptype, hlen, plen and opcode checked; frames shorter than 42
 *     bytes dropped).
 *   arp_bpf_drop_all: nothing, for send-only sockets so that no frame
 *     queues on them (also used for send-only NDP sockets). */
const struct sock_filter *arp_bpf_filter(size_t *ret_len);
const struct sock_filter *arp_bpf_drop_all(size_t *ret_len);

/* The largest program the kernel takes (BPF_MAXINSNS). */
#define ARP_BPF_MAX_INSNS 4096

/* arp_bpf_filter narrowed to the claimed addresses: of the frames it
 * accepts, only those whose target IP or sender IP is one of addrs[0..n)
 * (so requests to answer, probes, and announcements, replies and requests
 * from hosts using a claimed address all pass; ARP traffic about other
 * addresses does not). addrs must be AF_INET and strictly ascending (as
 * ip_cmp sorts them). The set is searched as a binary tree of 8-address
 * linear leaves: about 2 log2(n/8) + 10 instructions run per frame and
 * field, and the program has at most 3n + 20 instructions.
 * Writes the program into buf[0..size) and returns its length; -ENOSPC if
 * it does not fit in size or ARP_BPF_MAX_INSNS instructions (beyond 1,360
 * addresses: callers then use arp_bpf_filter), -EINVAL if addrs are not as
 * described. */
int arp_bpf_filter_claims(const struct ip_addr *addrs, size_t n, struct sock_filter *buf,
			  size_t size);

/* The snap length the filters return for an accepted frame. */
#define ARP_BPF_ACCEPT 0x40000

/* MAC helpers shared with ndp.c. */
bool arp_mac_is_multicast(const uint8_t mac[6]); /* group bit set (broadcast too) */
bool arp_mac_is_zero(const uint8_t mac[6]);

#endif
