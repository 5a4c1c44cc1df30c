/* The speakers' heartbeat datagram (UDP :7482) and the pure per-peer state
 * built from it: replay protection and liveness. No I/O and no clock: the
 * caller reads the key file, owns the socket and passes the time in.
 *
 * Wire format, version 1 (integers big-endian; docs/l2.md has the why):
 *
 *   off  size  field
 *     0     4  magic "ILHB"
 *     4     1  version = 1
 *     5     1  flags: bit 0 LEAVING (the sender is shutting down); other
 *              bits are reserved, sent as 0 and ignored on receipt
 *     6     1  mac_len: 16 (truncated HMAC) or 32 (full)
 *     7     1  name_len: 1..253
 *     8     8  incarnation: random, non-zero, fixed for the sender's process
 *    16     8  seq: 1, 2, 3... within an incarnation
 *    24     8  sent_us: sender's wall clock, microseconds since the epoch
 *    32     2  interval_ms: the sender's heartbeat interval, 1..60000
 *    34     2  n_listed: owned addresses listed below, 0..HEARTBEAT_LIST_MAX
 *    36     4  owned_count: addresses the sender announces right now
 *    40     4  listed_offset: index of the first listed address in the
 *              sender's owned set sorted by ip_cmp
 *    44     8  owned_digest: heartbeat_owned_digest() of the owned set
 *    52     -  name: the sender's node name (DNS-1123 subdomain, no NUL)
 *     -     -  n_listed entries, strictly ascending: tag 4 + 4 bytes, or
 *              tag 6 + 16 bytes
 *     -     -  mac: the first mac_len bytes of HMAC-SHA256(key, every byte
 *              before it)
 *
 * At most HEARTBEAT_MAX_LEN (881) bytes: never fragmented on any IPv6 link.
 */
#ifndef IRONLB_SPEAKER_HEARTBEAT_PROTO_H
#define IRONLB_SPEAKER_HEARTBEAT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"

#define HEARTBEAT_PORT 7482
#define HEARTBEAT_MAGIC "ILHB"
#define HEARTBEAT_VERSION 1
#define HEARTBEAT_FLAG_LEAVING 0x01

#define HEARTBEAT_NAME_MAX 253
#define HEARTBEAT_LIST_MAX 32
#define HEARTBEAT_INTERVAL_MAX_MS 60000
#define HEARTBEAT_HEADER_LEN 52
#define HEARTBEAT_MAC_SHORT 16
#define HEARTBEAT_MAC_FULL 32
#define HEARTBEAT_MIN_LEN (HEARTBEAT_HEADER_LEN + 1 + HEARTBEAT_MAC_SHORT)
#define HEARTBEAT_MAX_LEN                                                                          \
	(HEARTBEAT_HEADER_LEN + HEARTBEAT_NAME_MAX + HEARTBEAT_LIST_MAX * 17 + HEARTBEAT_MAC_FULL)

/* Key sizes: below 16 bytes (128 bits) a key is refused; above 1024 bytes
 * the file is not a key. */
#define HEARTBEAT_KEY_MIN 16
#define HEARTBEAT_KEY_MAX 1024

struct heartbeat_key {
	size_t len;
	uint8_t bytes[HEARTBEAT_KEY_MAX];
};

/* Makes a key from the contents of the key file (a Secret's data mounted as
 * a file): the bytes are the key as they are, except that one trailing "\n"
 * is dropped (so `echo` and editors do not change the key). No hex or base64
 * decoding: a 44-character base64 string is a 44-byte key, equally good.
 * Returns 0, or -EINVAL if the result is shorter than HEARTBEAT_KEY_MIN or
 * longer than HEARTBEAT_KEY_MAX, with *ret_why (if not NULL) saying which;
 * *ret is untouched on failure. The caller reads at most
 * HEARTBEAT_KEY_MAX + 2 bytes of the file. */
int heartbeat_key_parse(const void *data, size_t len, struct heartbeat_key *ret,
			const char **ret_why);
/* Wipes a key (explicit_bzero). NULL is a no-op. */
void heartbeat_key_clear(struct heartbeat_key *k);

/* HMAC-SHA256 of data under a raw key of any length (Nettle). Returns 0. */
int heartbeat_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
			  uint8_t ret[32]);

struct heartbeat_msg {
	uint8_t flags;
	uint8_t mac_len; /* HEARTBEAT_MAC_SHORT or HEARTBEAT_MAC_FULL */
	char name[HEARTBEAT_NAME_MAX + 1];
	uint64_t incarnation;
	uint64_t seq;
	uint64_t sent_us;
	uint16_t interval_ms;
	uint16_t n_listed;
	uint32_t owned_count;
	uint32_t listed_offset;
	uint64_t owned_digest;
	struct ip_addr listed[HEARTBEAT_LIST_MAX];
};

/* Results of decoding and of the replay check; also the index of the
 * rejection counters. */
enum heartbeat_result {
	HEARTBEAT_OK = 0,
	HEARTBEAT_TOO_SHORT,   /* shorter than the header, or than the lengths it declares */
	HEARTBEAT_BAD_MAGIC,   /* not a heartbeat */
	HEARTBEAT_BAD_VERSION, /* a heartbeat of a version we do not speak */
	HEARTBEAT_MALFORMED,   /* a field out of range, bad name or list, trailing bytes */
	HEARTBEAT_BAD_MAC,     /* not authenticated by our key */
	HEARTBEAT_REPLAY,      /* authentic but not newer than what we accepted */
	HEARTBEAT_RESULT_MAX,
};

/* Stable token for logs and metric labels: "ok", "too_short", "bad_magic",
 * "bad_version", "malformed", "bad_mac", "replay". */
const char *heartbeat_result_str(enum heartbeat_result r);

struct heartbeat_counters {
	uint64_t n[HEARTBEAT_RESULT_MAX];
};
void heartbeat_counters_add(struct heartbeat_counters *c, enum heartbeat_result r);

/* The owned-set digest: the sum modulo 2^64 of, for each address, the first
 * 8 bytes (big-endian) of SHA-256(tag | address bytes) with tag 4 or 6 as on
 * the wire. Order-independent, so a receiver can compute it for the set it
 * expects the sender to own; 0 for the empty set. addrs must be distinct. */
uint64_t heartbeat_owned_digest(const struct ip_addr *addrs, size_t n);

/* Which page of its owned set a sender lists in heartbeat seq: returns the
 * offset into the sorted set and writes the page length (at most
 * HEARTBEAT_LIST_MAX) to *ret_n. Pages rotate so that every owned address
 * is listed once every ceil(owned_count / HEARTBEAT_LIST_MAX) heartbeats. */
uint32_t heartbeat_list_page(uint32_t owned_count, uint64_t seq, uint16_t *ret_n);

/* Writes m, authenticated with key, into buf[0..size). m must be valid as
 * heartbeat_decode would check it (name, non-zero incarnation and seq,
 * interval, mac_len, list ascending and within owned_count, zero digest for
 * an empty set). Returns the datagram's length, -EINVAL for an invalid m or
 * key, -ENOSPC if size is too small. */
int heartbeat_encode(const struct heartbeat_msg *m, const struct heartbeat_key *key, uint8_t *buf,
		     size_t size);

/* Decodes and authenticates one datagram. Checks, in order: length against
 * the fixed header (TOO_SHORT), magic, version, mac_len, name_len and
 * n_listed (MALFORMED), the declared lengths against len (TOO_SHORT), len
 * against HEARTBEAT_MAX_LEN (MALFORMED), the MAC over everything before
 * it, compared in constant time (BAD_MAC), then every field (MALFORMED),
 * with no byte left over. Nothing past the fixed header is interpreted
 * before the MAC is verified. *ret is written only on HEARTBEAT_OK. */
enum heartbeat_result heartbeat_decode(const uint8_t *buf, size_t len,
				       const struct heartbeat_key *key, struct heartbeat_msg *ret);

/* ---- per-peer state: replay protection and liveness ---- */

enum heartbeat_liveness {
	HEARTBEAT_PEER_UNKNOWN = 0, /* nothing accepted yet */
	HEARTBEAT_PEER_ALIVE,
	HEARTBEAT_PEER_DEAD,
};

/* Events returned by heartbeat_peer_receive and heartbeat_peer_tick (a mask). */
enum {
	HEARTBEAT_BECAME_ALIVE = 1 << 0,
	HEARTBEAT_BECAME_DEAD = 1 << 1,
	HEARTBEAT_NEW_INCARNATION = 1 << 2, /* the peer restarted (not on first contact) */
};

/* Incarnations of a peer remembered as retired: never accepted again. */
#define HEARTBEAT_RETIRED_MAX 4

struct heartbeat_params {
	/* A peer is dead after this many of its intervals without an accepted
	 * heartbeat. */
	unsigned misses;
	/* After this long without an accepted heartbeat, a new incarnation of
	 * the peer is accepted even if its clock reads earlier than the last
	 * accepted one (a peer whose clock went back across a restart). */
	uint64_t forget_us;
};

#define HEARTBEAT_PARAMS_DEFAULT                                                                   \
	{                                                                                          \
		.misses = 3, .forget_us = 10000000                                                 \
	}

/* One peer, kept by the caller under the peer's node name (the name in the
 * datagram, after decoding). Zero-initialised (or heartbeat_peer_init) is
 * "never heard". */
struct heartbeat_peer {
	enum heartbeat_liveness liveness;
	bool known;	      /* something was accepted: the fields below are set */
	bool leaving;	      /* the last accepted heartbeat had LEAVING */
	uint64_t incarnation; /* of the last accepted heartbeat */
	uint64_t seq;
	uint64_t sent_us;
	uint64_t heard_us;    /* our monotonic clock when it was accepted */
	uint64_t interval_us; /* the peer's advertised interval */
	uint64_t restarts;    /* incarnation changes seen */
	uint64_t retired[HEARTBEAT_RETIRED_MAX];
	unsigned n_retired; /* total ever retired; the ring holds the last few */
};

void heartbeat_peer_init(struct heartbeat_peer *p);

/* The replay rule, without changing p. m is authentic (decoded). Returns
 * HEARTBEAT_OK or HEARTBEAT_REPLAY:
 *   1. m's incarnation is one the peer retired: REPLAY (an earlier life).
 *   2. Nothing accepted yet from the peer: OK (first contact).
 *   3. Same incarnation as the last accepted: OK iff m->seq is greater.
 *   4. Another incarnation: OK iff m->sent_us is later than the last
 *      accepted sent_us (the peer's own clock moved forward, so this is a
 *      newer life, not a recording of an older one), or if nothing was
 *      accepted from the peer for params->forget_us.
 * now_us is our monotonic clock. */
enum heartbeat_result heartbeat_peer_check(const struct heartbeat_peer *p,
					   const struct heartbeat_msg *m, uint64_t now_us,
					   const struct heartbeat_params *params);

/* Checks m as heartbeat_peer_check does and, if it is accepted, records it:
 * a new incarnation retires the old one, the peer becomes alive (or dead at
 * once if m has LEAVING). Returns the check's result; *ret_events (if not
 * NULL) gets the HEARTBEAT_* events mask (0 when rejected). */
enum heartbeat_result heartbeat_peer_receive(struct heartbeat_peer *p,
					     const struct heartbeat_msg *m, uint64_t now_us,
					     const struct heartbeat_params *params,
					     unsigned *ret_events);

/* When an alive peer will be declared dead if nothing more is accepted:
 * heard_us + misses * interval_us. UINT64_MAX for a peer that is not alive.
 * For arming the caller's timer. */
uint64_t heartbeat_peer_deadline(const struct heartbeat_peer *p,
				 const struct heartbeat_params *params);

/* Declares an alive peer dead once now_us >= its deadline. Returns
 * HEARTBEAT_BECAME_DEAD or 0. */
unsigned heartbeat_peer_tick(struct heartbeat_peer *p, uint64_t now_us,
			     const struct heartbeat_params *params);

const char *heartbeat_liveness_str(enum heartbeat_liveness l);

#endif
