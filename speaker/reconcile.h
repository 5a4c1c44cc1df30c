/* The speaker's L2 decision, pure: from the decoded caches, this node's
 * name and which speakers are alive, which addresses this node claims (and
 * on which interfaces, and whether to probe first), with an explanation per
 * address for `ironlbctl status`.
 *
 * For each address of a Service we handle (status.loadBalancer.ingress of
 * our LoadBalancer Services; spec.externalIPs only inside a pool with
 * allowExternalIPs, CVE-2020-8554):
 *   candidates = nodes for which eligibility_check() is OK (a node whose
 *                selecting advertisements name no interfaces qualifies
 *                only if in->can_announce() says it can announce the
 *                address: this node from its own links, others from
 *                their Leases)
 *   alive      = candidates that are this node or that in->alive() says live
 *   owner      = election_owner(address, alive)
 * Probing ahead: for each pool's next addresses (status.nextIPv4/IPv6,
 * the addresses the controller hands out next) that no Service holds, the
 * same decision as for a Service with traffic policy Cluster and a serving
 * endpoint; those this node would own go to the result's ahead list, to be
 * probed before any Service gets them.
 * No I/O, no clock: the caller's callbacks read its caches.
 */
#ifndef IRONLB_SPEAKER_RECONCILE_H
#define IRONLB_SPEAKER_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

#include "eligibility.h"
#include "objects.h"

#define RECONCILE_MAX_IFNAMES 8
/* Pools' next addresses probed ahead by one node, at most. */
#define RECONCILE_MAX_AHEAD 64

enum reconcile_role {
	RECONCILE_OWNER,       /* this node announces it */
	RECONCILE_BACKUP,      /* eligible and alive, ranked below the owner */
	RECONCILE_INELIGIBLE,  /* this node may not announce it: reason */
	RECONCILE_NOT_HANDLED, /* no pool allows it (externalIPs) / no pool holds it */
};

struct reconcile_input {
	const char *self;
	const struct obj_service *const *services;
	size_t n_services;
	const struct obj_node *const *nodes;
	size_t n_nodes;
	const struct obj_pool *const *pools;
	size_t n_pools;
	const struct obj_l2adv *const *adverts;
	size_t n_adverts;
	bool ignore_exclude_lb;
	/* Calls fn for every EndpointSlice of ns/name. */
	void (*foreach_slice)(void *ud, const char *ns, const char *name,
			      void (*fn)(const struct obj_slice *s, void *arg), void *arg);
	/* Whether another speaker (by node name) is alive. */
	bool (*alive)(void *ud, const char *node);
	/* Whether this node can announce on interface ifname (exists, usable). */
	bool (*iface_ok)(void *ud, const char *ifname);
	/* Whether node (this one or another) can announce a on the link whose
	 * connected subnet holds it: asked for every node and address under an
	 * advertisement naming no interfaces. It must answer alike on every
	 * speaker (for this node, from what its Lease publishes; true when
	 * nothing is known). NULL: every node can. */
	bool (*can_announce)(void *ud, const char *node, const struct ip_addr *a);
	/* Whether some speaker is known to announce a already (no probe then). */
	bool (*announced)(void *ud, const struct ip_addr *a);
	/* Addresses this node's probing ahead found held by a host outside
	 * ironlb: probed on (res->ahead) while no Service has them and this
	 * node would own them, though no pool names them next any more (the
	 * controller skips them), so that the next clear round can tell. */
	const struct ip_addr *keep_ahead;
	size_t n_keep_ahead;
	void *ud;
};

struct reconcile_addr {
	struct ip_addr addr;
	bool probe;	   /* for RECONCILE_OWNER */
	uint8_t n_ifnames; /* reconcile_ifnames() */
	enum reconcile_role role;
	enum eligibility_reason reason; /* for RECONCILE_INELIGIBLE */
	uint32_t backup_pos;		/* 1-based rank among backups for RECONCILE_BACKUP */
	uint32_t ifname_off;		/* into the result's ifnames */
	const struct obj_service *svc;	/* borrowed from the input */
	const char *owner;		/* borrowed node name, or NULL when nobody may */
	const char *note;		/* for RECONCILE_NOT_HANDLED: static text */
};

struct reconcile_result {
	struct reconcile_addr *addrs; /* sorted by address, distinct */
	size_t n;
	size_t n_owned;
	/* The interfaces of owned addresses, borrowed from the adverts: kept
	 * apart, as few addresses have any and each may have several. */
	const char **ifnames;
	size_t n_ifnames;
	/* The pools' next addresses this node would own (role OWNER, svc
	 * NULL, probe set), sorted; apart from addrs, as no Service has them. */
	struct reconcile_addr *ahead;
	size_t n_ahead;
};

/* Computes the result. 0 or -ENOMEM (ret untouched). */
int reconcile_run(const struct reconcile_input *in, struct reconcile_result *ret);
void reconcile_result_clear(struct reconcile_result *r);
/* The entry for a, or NULL. */
const struct reconcile_addr *reconcile_find(const struct reconcile_result *r,
					    const struct ip_addr *a);
/* The same for a merge walk: for addresses a given in ascending order, with
 * *pos 0 before the first; each call moves *pos forward past entries
 * below a. The whole walk costs O(n + number of calls). */
const struct reconcile_addr *reconcile_walk(const struct reconcile_result *r, size_t *pos,
					    const struct ip_addr *a);
const char *reconcile_role_str(enum reconcile_role r);
/* The n_ifnames interfaces ra (an entry of r) is to be announced on; none
 * means the link whose subnet holds the address. */
static inline const char *const *reconcile_ifnames(const struct reconcile_result *r,
						   const struct reconcile_addr *ra)
{
	return ra->n_ifnames ? r->ifnames + ra->ifname_off : NULL;
}

#endif
