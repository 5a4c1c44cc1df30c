/* The heartbeat mesh: every interval this speaker sends an authenticated
 * datagram (speaker/heartbeat_proto.h) to each peer it knows from the API
 * (their Leases carry node name and heartbeat address), and it tracks each
 * peer's liveness from what it receives. A peer missing `misses` intervals
 * is dead; the speaker re-elects owners then, without waiting for the API.
 */
#ifndef IRONLB_SPEAKER_HEARTBEAT_H
#define IRONLB_SPEAKER_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "heartbeat_proto.h"

struct loop;
struct heartbeat;

struct heartbeat_cfg {
	const char *node;		 /* this node's name */
	const struct heartbeat_key *key; /* copied */
	uint64_t interval_us;
	unsigned misses;
	struct sockaddr_storage listen; /* address and port to bind */
	socklen_t listen_len;
};

/* A peer as the API knows it: the name in its Lease and where it listens. */
struct heartbeat_peer_addr {
	const char *name;
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

/* Called when a peer's liveness changes (ALIVE or DEAD). */
typedef void (*heartbeat_change_fn)(void *userdata, const char *peer, enum heartbeat_liveness now);

struct heartbeat *heartbeat_new(struct loop *l, const struct heartbeat_cfg *cfg,
				heartbeat_change_fn fn, void *userdata, int *ret_err);
/* Sends a LEAVING datagram to every peer (so they fail over at once rather
 * than after `misses` intervals), then frees. NULL is a no-op. */
void heartbeat_free(struct heartbeat *hb, bool leaving);

/* Replaces the peer set (this node itself is ignored if listed). Peers that
 * stay keep their state; new ones start UNKNOWN; removed ones are
 * forgotten. 0 or -ENOMEM. */
int heartbeat_set_peers(struct heartbeat *hb, const struct heartbeat_peer_addr *peers, size_t n);

/* The addresses this node announces now, sorted by ip_cmp and distinct:
 * carried in heartbeats (digest and pages) for split-brain diagnosis. */
int heartbeat_set_owned(struct heartbeat *hb, const struct ip_addr *sorted, size_t n);

/* Liveness of a peer by name (UNKNOWN if not a peer). */
enum heartbeat_liveness heartbeat_liveness(const struct heartbeat *hb, const char *peer);

/* Sets every peer's liveness to UNKNOWN, keeping what guards against
 * replays (incarnation, sequence number). For when this node's own links
 * were down: what it concluded meanwhile (peers DEAD because nothing got
 * through) is stale, and until each peer's next heartbeat its Lease decides.
 * No change callback is made (the caller re-decides); the next accepted
 * heartbeat of each peer makes it ALIVE again, with the callback. Returns
 * how many peers were not UNKNOWN. */
size_t heartbeat_forget_liveness(struct heartbeat *hb);

/* For status output: the i-th peer (i < count), its state and address. */
size_t heartbeat_peer_count(const struct heartbeat *hb);
const char *heartbeat_peer_name(const struct heartbeat *hb, size_t i,
				const struct heartbeat_peer **ret_state,
				const struct sockaddr_storage **ret_addr);

struct heartbeat_stats {
	uint64_t sent;
	uint64_t send_errors;
	uint64_t received;		    /* accepted */
	uint64_t unknown_peer;		    /* authentic, from a name that is not a peer */
	struct heartbeat_counters rejected; /* by heartbeat_result */
};
const struct heartbeat_stats *heartbeat_stats(const struct heartbeat *hb);

/* The port actually bound (tests bind port 0). */
int heartbeat_port(const struct heartbeat *hb);

#endif
