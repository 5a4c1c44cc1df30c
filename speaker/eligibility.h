/* Whether a node may announce a Service's address in L2 mode, and if not,
 * why: a pure function of facts the speaker's informers already hold.
 *
 * The same function is applied to every node (with that node's facts) to
 * form the eligible set the election runs over, so every speaker that sees
 * the same API state computes the same set. Label-selector matching is not
 * done here: the caller evaluates each L2Advertisement's nodeSelectors
 * (ironlb/selector.h) and interfaces and passes the results in.
 */
#ifndef IRONLB_SPEAKER_ELIGIBILITY_H
#define IRONLB_SPEAKER_ELIGIBILITY_H

#include <stdbool.h>
#include <stddef.h>

/* The label that takes a node out of load-balancer duty (Kubernetes
 * well-known label; its value does not matter). */
#define ELIGIBILITY_EXCLUDE_LABEL "node.kubernetes.io/exclude-from-external-load-balancers"

/* Why a node is not eligible; ELIGIBILITY_OK when it is. The checks run in
 * this order and the first that fails is reported: node-wide problems
 * first (they affect every address), then the advertisement, then the
 * Service's endpoints. */
enum eligibility_reason {
	ELIGIBILITY_OK = 0,
	ELIGIBILITY_NETWORK_UNAVAILABLE, /* node condition NetworkUnavailable=True */
	ELIGIBILITY_EXCLUDED,		 /* exclude-from-external-load-balancers label */
	ELIGIBILITY_NO_ADVERTISEMENT,	 /* no L2Advertisement selects the pool */
	ELIGIBILITY_NODE_NOT_SELECTED,	 /* no advertisement's nodeSelectors match the node */
	ELIGIBILITY_NO_INTERFACE,	 /* selected, but none of its interfaces is on the node */
	ELIGIBILITY_NO_SERVING_ENDPOINT, /* the Service has no serving endpoint anywhere */
	ELIGIBILITY_NO_LOCAL_ENDPOINT,	 /* externalTrafficPolicy Local, no ready endpoint here */
	ELIGIBILITY_REASON_MAX,
};

/* One L2Advertisement that selects the address's pool (by ipAddressPools or
 * ipAddressPoolSelectors, or by naming no pool at all), as seen from one
 * node. */
struct eligibility_advert {
	/* Its nodeSelectors match the node (an empty list matches every node). */
	bool node_selected;
	/* It names no interfaces, or at least one interface it names exists on
	 * the node and can announce. */
	bool interface_ok;
};

/* Facts about the Service (the same for every node) and the speakers'
 * shared configuration. */
struct eligibility_service {
	/* At least one endpoint of the Service is serving, on any node
	 * (EndpointSlice conditions.serving, which defaults to ready). */
	bool has_serving_endpoint;
	/* spec.externalTrafficPolicy is Local. */
	bool traffic_policy_local;
	/* The speakers run with --ignore-exclude-lb: the exclude label is not
	 * honoured. Must be the same on every speaker. */
	bool ignore_exclude_lb;
};

/* Facts about one node for the address in question. */
struct eligibility_node {
	const char *name;
	/* The node carries ELIGIBILITY_EXCLUDE_LABEL. */
	bool exclude_label;
	/* The node's NetworkUnavailable condition is True. */
	bool network_unavailable;
	/* The Service has an endpoint on this node that is ready. Only read
	 * when traffic_policy_local. */
	bool has_ready_local_endpoint;
	/* The L2Advertisements that select the address's pool (n_adverts == 0:
	 * none does). Borrowed. */
	const struct eligibility_advert *adverts;
	size_t n_adverts;
};

/* Whether node may announce the Service's address: ELIGIBILITY_OK, or the
 * first reason it may not (in enum order). */
enum eligibility_reason eligibility_check(const struct eligibility_service *svc,
					  const struct eligibility_node *node);

/* Applies eligibility_check to nodes[0..n) and writes the indexes of the
 * eligible ones, in input order, to ret_idx (room for n); returns how many.
 * Callers then keep the alive ones and run the election over their names. */
size_t eligibility_select(const struct eligibility_service *svc,
			  const struct eligibility_node *nodes, size_t n, size_t *ret_idx);

/* Human text for `ironlbctl status`, e.g. "no ready local endpoint
 * (externalTrafficPolicy Local)". Never NULL. */
const char *eligibility_reason_str(enum eligibility_reason r);
/* Stable machine-readable token for JSON and metric labels, e.g.
 * "no_local_endpoint". Never NULL ("unknown" outside the enum). */
const char *eligibility_reason_id(enum eligibility_reason r);

#endif
