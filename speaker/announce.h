/* The life of one address this node claims in L2 mode, as a pure state
 * machine: probe first (only for an address no speaker announced before),
 * then a burst of gratuitous announcements, then answer requests until the
 * claim ends. Time comes in as an argument; what to put on the wire comes
 * out as actions, so the same code is driven by the event loop and by unit
 * tests.
 *
 *   IDLE --claim(probe)--> PROBING --no foreign answer--> ANNOUNCING --burst done--> ACTIVE
 *   IDLE --claim--------------------------------------->  ANNOUNCING
 *   PROBING/ANNOUNCING/ACTIVE --foreign answer or announcement--> CONFLICT (policy withdraw)
 *   any --release--> IDLE (stop answering at once)
 *
 * Probing ahead, for a pool's next address that no Service holds yet: the
 * claim probes and then waits, silent, re-probing every ahead_interval_us:
 *
 *   IDLE --probe_ahead--> PROBING --no foreign answer--> PROBED --interval--> PROBING ...
 *   PROBING/PROBED --foreign answer or announcement--> CONFLICT --interval--> PROBING ...
 *
 * and announce_take() turns it into a claim: PROBED (or re-probing after a
 * clear round) announces at once, a first round still running goes on to
 * announce when it ends, CONFLICT reports the conflict (and, under policy
 * announce, announces).
 */
#ifndef IRONLB_SPEAKER_ANNOUNCE_H
#define IRONLB_SPEAKER_ANNOUNCE_H

#include <stdbool.h>
#include <stdint.h>

enum announce_state {
	ANNOUNCE_IDLE,
	ANNOUNCE_PROBING,
	ANNOUNCE_ANNOUNCING,
	ANNOUNCE_ACTIVE,
	ANNOUNCE_CONFLICT,
	ANNOUNCE_PROBED, /* probed ahead and clear; not answering */
};

enum announce_conflict_policy {
	/* Stop answering and report: the other holder keeps the address. */
	ANNOUNCE_ON_CONFLICT_WITHDRAW,
	/* Report, and keep announcing and answering. */
	ANNOUNCE_ON_CONFLICT_ANNOUNCE,
};

struct announce_cfg {
	unsigned probe_count;	    /* probes before the first claim (RFC 5227 PROBE_NUM) */
	uint64_t probe_interval_us; /* between probes, and the wait after the last */
	unsigned announce_count;    /* gratuitous ARPs / unsolicited NAs per burst */
	uint64_t announce_interval_us;
	uint64_t refresh_us; /* re-announce period while active; 0 = never */
	enum announce_conflict_policy on_conflict;
	uint64_t ahead_interval_us; /* re-probe period of a claim probed ahead; 0 = once */
};

#define ANNOUNCE_CFG_DEFAULT                                                                       \
	{                                                                                          \
		.probe_count = 3, .probe_interval_us = 100000, .announce_count = 3,                \
		.announce_interval_us = 250000, .refresh_us = 0,                                   \
		.on_conflict = ANNOUNCE_ON_CONFLICT_WITHDRAW, .ahead_interval_us = 10000000,       \
	}

struct announce {
	enum announce_state state;
	unsigned sent;	    /* probes or announcements sent in this phase */
	uint64_t next_us;   /* when announce_tick wants to run next; 0 = no timer */
	uint64_t since_us;  /* when the current claim started answering */
	uint64_t conflicts; /* foreign holders seen over the claim's life */
	uint8_t conflict_mac[6];
	bool ahead; /* probing ahead: never announces until announce_take */
	/* Probing ahead, the latest round met a foreign holder: until a round
	 * ends with nobody answering (announce_in_use()). */
	bool in_use;
	uint64_t clear_us; /* when the last probing round ended clear; 0 = none since */
};

/* Actions announce_* ask the caller to take now. */
enum {
	ANNOUNCE_SEND_PROBE = 1 << 0,	 /* one probe (ARP probe / DAD-style NS) */
	ANNOUNCE_SEND_ANNOUNCE = 1 << 1, /* one gratuitous ARP / unsolicited NA */
	ANNOUNCE_REPORT_CONFLICT = 1 << 2,
	/* Probing ahead, a round ended with nobody answering for an address
	 * the round before found in use: the holder left. */
	ANNOUNCE_REPORT_CLEAR = 1 << 3,
};

void announce_init(struct announce *a);

/* Starts a claim. probe: nobody announced this address before, so look for
 * a foreign holder first. Returns actions. */
unsigned announce_claim(struct announce *a, const struct announce_cfg *cfg, bool probe,
			uint64_t now_us);

/* Starts probing ahead (see above); nothing if probe_count is 0. Returns
 * actions. */
unsigned announce_probe_ahead(struct announce *a, const struct announce_cfg *cfg, uint64_t now_us);

/* A claim probing ahead becomes a claim (its address went to a Service).
 * probe: what announce_claim would be told. Returns actions; 0 and nothing
 * changed if a is not probing ahead. */
unsigned announce_take(struct announce *a, const struct announce_cfg *cfg, bool probe,
		       uint64_t now_us);

/* Probing ahead, and the latest round found a foreign holder (still the
 * answer while the next round runs). */
bool announce_in_use(const struct announce *a);

/* Ends the claim: stop answering at once. */
void announce_release(struct announce *a);

/* Runs due work; call when now_us >= a->next_us. Returns actions. */
unsigned announce_tick(struct announce *a, const struct announce_cfg *cfg, uint64_t now_us);

/* A host that is not a speaker answered a probe, or announced the address
 * while we claim it. Returns actions. */
unsigned announce_foreign_holder(struct announce *a, const struct announce_cfg *cfg,
				 const uint8_t mac[6], uint64_t now_us);

/* The claim's interface came back up: announce again (switches forgot). */
unsigned announce_link_up(struct announce *a, const struct announce_cfg *cfg, uint64_t now_us);

/* Whether to answer ARP requests / Neighbor Solicitations for the address. */
bool announce_answering(const struct announce *a, const struct announce_cfg *cfg);
/* Whether this node still holds a claim (anything but IDLE). */
bool announce_claimed(const struct announce *a);

const char *announce_state_str(enum announce_state s);

#endif
