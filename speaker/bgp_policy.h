/* The speaker's BGP decision, pure: from the decoded caches and this
 * node's name, which prefixes this node advertises and through which
 * policy, with an explanation per address for `ironlbctl status`; and
 * which peers and policies this node's BIRD configuration holds.
 *
 * Policy i is the i-th valid BGPAdvertisement in name order; its prefixes
 * are RTN_BLACKHOLE routes in kernel table table_base + i (krt.h), which
 * BIRD learns and exports to the peers the advertisement sends to
 * (bird_conf.h). Unlike L2 there is no election: every eligible node
 * advertises, and the routers spread traffic (ECMP).
 *
 * For each address of a Service we handle (status.loadBalancer.ingress of
 * our LoadBalancer Services; spec.externalIPs only inside a pool with
 * allowExternalIPs, CVE-2020-8554 — as reconcile.h), and each
 * BGPAdvertisement i that selects the address's pool:
 *   - eligibility_check() for this node must be OK, with the
 *     advertisements selecting the pool as eligibility_adverts
 *     (node_selected = their nodeSelectors match, interface_ok = true):
 *     node conditions, the exclude label, endpoints (externalTrafficPolicy
 *     Local: a ready endpoint here; Cluster: a serving one anywhere);
 *   - advertisement i's nodeSelectors must match this node, and one of the
 *     peers it sends to (spec.peers, empty: all) must be used by this node
 *     (enum bgp_peer_state);
 *   - the prefix (address masked to aggregationLength / -V6) must lie
 *     inside one range of the pool, so that aggregation never announces
 *     addresses outside the pool (MetalLB rejects such a length too);
 * then this node holds the route (prefix, table_base + i).
 * No I/O, no clock: the caller's callback reads its EndpointSlice cache.
 */
#ifndef IRONLB_SPEAKER_BGP_POLICY_H
#define IRONLB_SPEAKER_BGP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"
#include "ironlb/bgp_objects.h"

#include "bird_conf.h"
#include "eligibility.h"
#include "krt.h"
#include "objects.h"

struct bgp_policy_input {
	const char *self; /* this node's name */
	const struct obj_service *const *services;
	size_t n_services;
	const struct obj_node *const *nodes;
	size_t n_nodes;
	const struct obj_pool *const *pools;
	size_t n_pools;
	/* The valid BGPAdvertisements sorted by name: policy i = adverts[i]. */
	const struct bgp_advert *const *adverts;
	size_t n_adverts;
	/* The valid BGPPeers, any order. */
	const struct bgp_peer *const *peers;
	size_t n_peers;
	/* kubernetes.io/basic-auth Secrets of ironlb's namespace and the
	 * BFDProfiles, to resolve peers' passwordSecret and bfdProfile. A
	 * peer naming one that is absent is not used. */
	const struct bgp_secret *const *secrets;
	size_t n_secrets;
	const struct bgp_bfd_profile *const *bfds;
	size_t n_bfds;
	bool ignore_exclude_lb;
	uint32_t table_base; /* kernel table of policy 0 */
	/* Calls fn for every EndpointSlice of ns/name (as reconcile_input). */
	void (*foreach_slice)(void *ud, const char *ns, const char *name,
			      void (*fn)(const struct obj_slice *s, void *arg), void *arg);
	void *ud;
};

/* ---- peers and policies of this node (BIRD configuration) ---- */

enum bgp_peer_state {
	BGP_PEER_USED,		 /* selected, complete: in BIRD's configuration */
	BGP_PEER_NOT_SELECTED,	 /* its nodeSelectors do not match this node */
	BGP_PEER_VRF,		 /* spec.vrf set: not supported */
	BGP_PEER_NO_SECRET,	 /* spec.passwordSecret names no Secret we have */
	BGP_PEER_NO_BFD_PROFILE, /* spec.bfdProfile names no BFDProfile */
};

struct bgp_peer_use {
	const struct bgp_peer *peer; /* borrowed */
	enum bgp_peer_state state;
};

struct bgp_node_config {
	/* Peers in state BGP_PEER_USED, sorted by name, password and BFD
	 * profile resolved (borrowed from the input). */
	struct bird_peer *peers;
	size_t n_peers;
	/* The advertisements whose nodeSelectors match this node, in policy
	 * order, each with its kernel table (table_base + policy index). */
	struct bird_policy *policies;
	size_t n_policies;
	/* Every input peer, sorted by name, with its state. */
	struct bgp_peer_use *all;
	size_t n_all;
	/* The routerID of the first used peer (by name) that sets one, else
	 * this node's InternalIP if it is IPv4; has_router_id false if none. */
	bool has_router_id;
	struct ip_addr router_id;
};

/* Computes this node's peers and policies. 0 or -ENOMEM (ret untouched). */
int bgp_policy_node(const struct bgp_policy_input *in, struct bgp_node_config *ret);
void bgp_node_config_clear(struct bgp_node_config *c);
/* "used", "node not selected (nodeSelectors)", "vrf is not supported", ... */
const char *bgp_peer_state_str(enum bgp_peer_state s);
/* Stable token: "used", "not_selected", "vrf_unsupported", "no_secret",
 * "no_bfd_profile" ("unknown" outside the enum). */
const char *bgp_peer_state_id(enum bgp_peer_state s);

/* ---- routes and explanations ---- */

enum bgp_addr_state {
	BGP_ADDR_ADVERTISED,	 /* this node holds its routes: policies[] */
	BGP_ADDR_NOT_ADVERTISED, /* handled, but this node does not advertise it: why */
	BGP_ADDR_NOT_HANDLED,	 /* no pool holds it / no pool allows it (externalIPs) */
};

struct bgp_policy_addr {
	struct ip_addr addr;
	const struct obj_service *svc; /* borrowed from the input */
	enum bgp_addr_state state;
	/* For BGP_ADDR_NOT_ADVERTISED: the eligibility reason, or
	 * ELIGIBILITY_OK when eligibility passed but no advertisement could
	 * be used (no used peer, aggregation outside the pool). */
	enum eligibility_reason reason;
	/* Static texts: why (ADVERTISED: "advertised") and a stable token for
	 * JSON and metric labels ("advertised", "not_handled", an
	 * eligibility_reason_id(), "no_peer", "aggregation_outside_pool"). */
	const char *why;
	const char *why_id;
	/* ADVERTISED: the policy indexes, ascending (into result.policy_idx). */
	const uint32_t *policies;
	size_t n_policies;
	size_t first_policy; /* offset of policies in result.policy_idx */
};

struct bgp_policy_result {
	struct krt_route *routes; /* sorted by krt_route_cmp(), distinct */
	size_t n_routes;
	struct bgp_policy_addr *addrs; /* sorted by address, distinct */
	size_t n_addrs;
	size_t n_advertised;
	uint32_t *policy_idx; /* storage behind addrs[].policies */
	size_t n_policy_idx;
};

/* Computes the routes and explanations. 0 or -ENOMEM (ret untouched). */

int bgp_policy_run(const struct bgp_policy_input *in, struct bgp_policy_result *ret);
void bgp_policy_result_clear(struct bgp_policy_result *r);
/* The entry for a, or NULL. */
const struct bgp_policy_addr *bgp_policy_find(const struct bgp_policy_result *r,
					      const struct ip_addr *a);
const char *bgp_addr_state_str(enum bgp_addr_state s);

#endif
