/* BGP mode inside the speaker: the informers of BGPPeers,
 * BGPAdvertisements, BFDProfiles and basic-auth Secrets (ironlb's
 * namespace), the per-node decision (bgp_policy.h) and the actuator
 * (bgp.h: BIRD's configuration and the kernel tables BIRD learns from).
 *
 * speaker.c owns the Service/Node/Pool/EndpointSlice caches and calls
 * speaker_bgp_reconcile() from its reconcile pass with them; this module
 * adds what BGP needs on top and reports which addresses this node
 * advertises (for the datapath). BIRD being absent never stops L2.
 */
#ifndef IRONLB_SPEAKER_SPEAKER_BGP_H
#define IRONLB_SPEAKER_SPEAKER_BGP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"

#include "bgp_policy.h"

struct kube_client;
struct loop;
struct metrics;
struct speaker_bgp;

struct speaker_bgp_opts {
	const char *ns; /* ironlb's namespace */
	const char *node_name;
	const char *bird_config; /* NULL: BGP_DEFAULT_BIRD_CONFIG */
	const char *bird_socket; /* NULL: BGP_DEFAULT_BIRD_SOCKET */
	uint32_t table_base;	 /* 0: BGP_DEFAULT_TABLE_BASE */
	uint32_t table_count;	 /* 0: BGP_DEFAULT_TABLE_COUNT */
	/* Router id of the first configuration, written before the caches
	 * sync (family 0: derived from the node name). */
	struct ip_addr initial_router_id;
	/* Called when a BGP object changed and a reconcile is due. */
	void (*changed)(void *ud);
	void *ud;
};

/* Writes the first BIRD configuration, opens the kernel route socket and
 * creates (does not start) the informers. NULL after logging. */
struct speaker_bgp *speaker_bgp_new(struct loop *l, struct metrics *m, struct kube_client *c,
				    const struct speaker_bgp_opts *o);
int speaker_bgp_start(struct speaker_bgp *b);
bool speaker_bgp_synced(const struct speaker_bgp *b);
/* Withdraws every prefix this process advertised. NULL is a no-op. */
void speaker_bgp_free(struct speaker_bgp *b);

/* The facts speaker.c holds, for one reconcile pass (borrowed). */
struct speaker_bgp_facts {
	const char *self;
	const struct obj_service *const *services;
	size_t n_services;
	const struct obj_node *const *nodes;
	size_t n_nodes;
	const struct obj_pool *const *pools;
	size_t n_pools;
	bool ignore_exclude_lb;
	void (*foreach_slice)(void *ud, const char *ns, const char *name,
			      void (*fn)(const struct obj_slice *s, void *arg), void *arg);
	void *ud;
};

/* Decides and applies: BIRD's configuration (only when peers or policies
 * change) and the prefixes. *ret_addrs (malloc'd, sorted, distinct; free())
 * are the addresses this node now advertises. 0 or -ENOMEM. */
int speaker_bgp_reconcile(struct speaker_bgp *b, const struct speaker_bgp_facts *f,
			  struct ip_addr **ret_addrs, size_t *ret_n);

/* Adds "bgp" (BIRD, configuration, sessions, peers with their state on
 * this node, and per address what is advertised through which policy, or
 * why not) to reply. */
void speaker_bgp_status(struct speaker_bgp *b, json_t *reply);
/* false with a one-line detail when BIRD is down or a session is not up;
 * true with an empty detail when this node uses no BGPPeer. */
bool speaker_bgp_healthy(const struct speaker_bgp *b, char *detail, size_t len);

#endif
