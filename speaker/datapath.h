/* The datapath (--datapath=nodeport): on the node that announces an
 * address, packets to address:port reach this node's NodePort for that
 * port, where whatever serves NodePorts (kube-proxy's NAT rules, or a plain
 * listening socket) takes over; replies leave with the announced address
 * and port as source; the client's address is kept. docs/datapath.md.
 *
 * A connection gets one destination NAT and kube-proxy's must be it, so
 * nothing here NATs. Everything lives in one nftables table of ironlb's
 * own, `table inet ironlb`:
 *   - the announced address is made local (an RTN_LOCAL route in table
 *     local, protocol KRT_PROTO: krt.h);
 *   - chain `steer` (prerouting, priority raw = -300, before conntrack)
 *     rewrites statelessly only the destination port, address.port ->
 *     NodePort, so conntrack and kube-proxy see client -> address:NodePort;
 *     a packet sent straight to address:NodePort from outside is dropped
 *     first (its reply would otherwise be rewritten to the Service port);
 *   - chain `unsteer` (postrouting, priority 300, after source NAT and
 *     conntrack's reverse NAT) rewrites the reply's source port back,
 *     address.NodePort -> Service port (unambiguous: NodePorts are unique
 *     per node and protocol);
 *   - Service ports without a NodePort (allocateLoadBalancerNodePorts:
 *     false, ClusterIP Services with externalIPs) go to the ClusterIP
 *     instead: chain `cluster` (prerouting, priority -199, right after
 *     conntrack recorded client -> address:port, before kube-proxy's DNAT
 *     at -100) rewrites the destination address to the ClusterIP; kube-proxy
 *     DNATs that to a pod, and conntrack's reverse NAT gives the reply the
 *     original destination, address:port, as source. No reply rule.
 *
 * The ruleset is rendered as text by a pure function (datapath_render) and
 * applied with libnftables as one transaction that replaces the table.
 */
#ifndef IRONLB_SPEAKER_DATAPATH_H
#define IRONLB_SPEAKER_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"
#include "objects.h"

#define DATAPATH_TABLE "ironlb"
/* Priority of chain `cluster`: after conntrack (-200), before NAT (-100). */
#define DATAPATH_CLUSTER_PRIORITY (-199)
/* How often the actuator checks that its table is still what it wrote. */
#define DATAPATH_CHECK_US 5000000

enum datapath_mode { DATAPATH_OFF, DATAPATH_NODEPORT };

/* One steered Service port on one announced address. */
struct datapath_entry {
	struct ip_addr addr; /* the announced address */
	enum obj_protocol proto;
	uint16_t port;		   /* the Service port clients connect to */
	uint16_t node_port;	   /* steer to this NodePort; 0: to cluster_ip:port */
	struct ip_addr cluster_ip; /* when node_port is 0; same family as addr */
};

/* A growable array of entries. */
struct datapath_set {
	struct datapath_entry *v;
	size_t n, cap;
};

void datapath_set_clear(struct datapath_set *set);
/* Appends e. 0 or -ENOMEM. */
int datapath_set_add(struct datapath_set *set, const struct datapath_entry *e);

/* The entries for the announced addresses addrs[0..n_addrs): for every
 * Service with such an address in status.loadBalancer.ingress (our
 * LoadBalancers) or in spec.externalIPs (only inside a pool that allows
 * externalIPs, CVE-2020-8554), every port: to its NodePort, else to the
 * ClusterIP of the address's family; a port with neither is left out.
 * addrs need not be sorted. Appends to ret (not normalized). 0 or -ENOMEM. */
int datapath_entries_for(const struct obj_service *const *svcs, size_t n_svcs,
			 const struct obj_pool *const *pools, size_t n_pools,
			 const struct ip_addr *addrs, size_t n_addrs, struct datapath_set *ret);

/* Sorts e[0..n) (by address, protocol, port) and removes duplicates and
 * conflicts, keeping the first in that order: two entries for the same
 * address, protocol and port; two NodePort entries of one address with the
 * same NodePort; a ClusterIP entry whose port is the NodePort of another
 * entry of the address. Returns the new count; *ret_conflicts (may be NULL)
 * gets how many conflicting entries were dropped. */
size_t datapath_normalize(struct datapath_entry *e, size_t n, size_t *ret_conflicts);

/* The nftables script that makes table inet ironlb exactly e[0..n)
 * (normalized): one transaction that creates, deletes and re-creates the
 * table (nft 1.0.6 has no `destroy`); for n == 0 it only removes the table.
 * Deterministic. *ret_script is malloc'd; *ret_rules (may be NULL) gets the
 * number of rules. 0 or -ENOMEM. */
int datapath_render(const struct datapath_entry *e, size_t n, char **ret_script, size_t *ret_rules);

/* The name of addr's counter in the table ("a4_192_0_2_200",
 * "a6_2001_db8__1"). */
void datapath_counter_name(const struct ip_addr *addr, char *buf, size_t len);
/* In words: "tcp 192.0.2.200:80 -> NodePort 30080",
 * "udp [2001:db8::1]:53 -> ClusterIP [2001:db8:c1::5]:53". */
void datapath_entry_describe(const struct datapath_entry *e, char *buf, size_t len);

/* ---- the actuator ---- */

struct datapath;

struct datapath_stats {
	uint64_t applies_ok, applies_failed;
	uint64_t repairs; /* the table was gone or changed by someone else */
	size_t rules;	  /* rules in the table as last applied */
	size_t conflicts; /* entries dropped by the last normalization */
	bool applied;	  /* the kernel holds the desired state */
};

struct datapath_count {
	struct ip_addr addr;
	uint64_t packets, bytes; /* monotonic across re-applies */
};

/* A route socket; the libnftables context comes with the first nftables
 * command (datapath_prepare). 0 or -errno. */
int datapath_open(struct datapath **ret);
/* Loads libnftables and makes the context now, so that a missing library
 * shows at start. 0, or -ENOENT and the reason in *ret_err (may be NULL). */
int datapath_prepare(struct datapath *d, const char **ret_err);
/* Frees; leaves the kernel as it is (datapath_remove_all first). */
void datapath_free(struct datapath *d);
/* Makes the table and the local routes match entries[0..n) (copied and
 * normalized): applies only when the rendered text changed or the last
 * attempt failed. 0, or -errno; *ret_err (may be NULL) points at
 * libnftables' message, valid until the next call. */
int datapath_update(struct datapath *d, const struct datapath_entry *e, size_t n,
		    const char **ret_err);
/* The periodic check: when the table is missing or differs from what was
 * applied (someone deleted or edited it), or the last apply failed, applies
 * again. *ret_repaired says whether it did. 0 or -errno. */
int datapath_check(struct datapath *d, bool *ret_repaired, const char **ret_err);
/* Removes the table and every KRT_PROTO route in table local: on shutdown,
 * and at start-up with --datapath=off (leftovers of an earlier run). 0 or
 * -errno. */
int datapath_remove_all(struct datapath *d, const char **ret_err);
/* The entries in force (normalized: sorted by address). */
size_t datapath_entries(const struct datapath *d, const struct datapath_entry **ret);
/* Those of address a (binary search). */
size_t datapath_entries_of(const struct datapath *d, const struct ip_addr *a,
			   const struct datapath_entry **ret);
const struct datapath_stats *datapath_stats(const struct datapath *d);
/* Packets and bytes steered per address (both directions), read from the
 * table's counters. *ret is malloc'd; 0 or -errno. */
int datapath_counts(struct datapath *d, struct datapath_count **ret, size_t *ret_n);

#endif
