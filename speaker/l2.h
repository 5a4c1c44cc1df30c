/* L2 mode on the wire: for every address this node claims, the claim state
 * machine (announce.h) driven by timers, gratuitous ARP / unsolicited NA on
 * the chosen interfaces, and answers to ARP requests and Neighbor
 * Solicitations for exactly the addresses being answered for.
 *
 * The speaker decides which addresses to claim (election) and hands the set
 * to l2_set_claims(); l2 reports what it hears about them: another host
 * claiming one (the speaker tells a peer speaker, which is a partition, from
 * a foreign host, which is a conflict) and conflicts the state machine
 * concluded.
 */
#ifndef IRONLB_SPEAKER_L2_H
#define IRONLB_SPEAKER_L2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "announce.h"
#include "ironlb/addr.h"

struct loop;
struct iface_monitor;
struct l2;

struct l2_claim {
	struct ip_addr addr;
	/* Probe before the first announcement: no speaker announced it yet. */
	bool probe;
	/* Probe ahead only (a pool's next address, no Service yet): probe now
	 * and again every ahead_interval_us, never announce or answer; the
	 * same address claimed later without it announces at once if the last
	 * probing found nobody (announce_take). */
	bool ahead;
	/* An L2Advertisement's spec.interfaces, or none: the interface whose
	 * connected subnet holds the address. */
	const char *const *ifnames;
	size_t n_ifnames; /* at most L2_MAX_IFNAMES */
};

#define L2_MAX_IFNAMES 255

struct l2_callbacks {
	/* Another host (by MAC) announced or answered for a claimed address.
	 * The speaker answers with l2_foreign_holder() if that host is not a
	 * speaker, or steps down per the election if it is one. */
	void (*holder_seen)(void *userdata, const struct ip_addr *a, const uint8_t mac[6],
			    int ifindex);
	/* The claim's state machine concluded a conflict (per policy). */
	void (*conflict)(void *userdata, const struct ip_addr *a, const uint8_t mac[6]);
	/* A claim probing ahead that a round had found in use ended a round
	 * with nobody answering (l2_status().in_use turned false). */
	void (*ahead_clear)(void *userdata, const struct ip_addr *a);
};

struct l2_stats {
	uint64_t announcements_sent;
	uint64_t probes_sent;
	uint64_t arp_answered;
	uint64_t ns_answered;
	uint64_t malformed; /* frames that failed to parse, truncated ones included */
	uint64_t send_errors;
	uint64_t conflicts;
};

struct l2 *l2_new(struct loop *l, struct iface_monitor *ifaces, const struct announce_cfg *cfg,
		  const struct l2_callbacks *cb, void *userdata);
/* Stops answering everything and closes every socket. */
void l2_free(struct l2 *l2);

/* Makes the claimed set exactly claims[0..n): new addresses start their
 * claim (probe or announce), missing ones stop being answered at once,
 * kept ones keep their state (their interfaces are re-chosen). 0,
 * -EINVAL for a claim naming more than L2_MAX_IFNAMES interfaces, or
 * -ENOMEM (then nothing changed). */
int l2_set_claims(struct l2 *l2, const struct l2_claim *claims, size_t n);

/* The speaker concluded mac is not a speaker's: a conflict for a. */
void l2_foreign_holder(struct l2 *l2, const struct ip_addr *a, const uint8_t mac[6]);

/* Re-chooses interfaces (after links or addresses changed) and restarts the
 * announcement burst of claims on links that came up. */
void l2_links_changed(struct l2 *l2, const int *came_up, size_t n_came_up);

/* Status of one claimed address, for ironlbctl. NULL if not claimed. */
struct l2_status {
	enum announce_state state;
	bool answering;
	uint64_t since_us; /* loop_now_us() when answering started; 0 if not */
	uint64_t conflicts;
	uint8_t conflict_mac[6];
	int ifindexes[4];
	size_t n_ifindexes;
	const char *why_no_interface; /* static string, or NULL */
	bool ahead;		      /* probing ahead (l2_claim.ahead) */
	uint64_t clear_us;	      /* loop_now_us() of the last clear probing; 0 if none */
	bool in_use;		      /* ahead, and the latest round met a foreign holder */
};
bool l2_status(const struct l2 *l2, const struct ip_addr *a, struct l2_status *ret);

const struct l2_stats *l2_stats(const struct l2 *l2);
/* Frames the kernel dropped because a packet socket's receive queue was
 * full (PACKET_STATISTICS), over the life of l2, closed sockets included. */
uint64_t l2_kernel_drops(const struct l2 *l2);
/* Claims, those probing ahead not counted. */
size_t l2_claim_count(const struct l2 *l2);
/* Claims probing ahead. */
size_t l2_ahead_count(const struct l2 *l2);
/* Claims probing ahead whose latest round met a foreign holder (lingering
 * ones too), sorted, into ret (room for max); returns how many there are. */
size_t l2_ahead_in_use(const struct l2 *l2, struct ip_addr *ret, size_t max);
/* Claimed addresses currently being answered for, sorted, into ret (room
 * for max); returns how many there are. */
size_t l2_answering(const struct l2 *l2, struct ip_addr *ret, size_t max);

#endif
