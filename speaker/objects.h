/* The speaker's compact view of API objects: informer decode callbacks that
 * turn Services, EndpointSlices, Nodes, IPAddressPools, L2Advertisements
 * and speaker Leases into small structs holding only what the L2 decision
 * needs, so the informers keep no JSON (10,000 addresses fit in a few MiB).
 *
 * Every decoder has the informer_decode_fn shape: 0 with a new item,
 * INFORMER_SKIP for an object the speaker does not care about, or -EBADMSG
 * with a static reason naming the offending field. Wrong JSON types never
 * crash; they are reported and the object is treated as absent.
 */
#ifndef IRONLB_SPEAKER_OBJECTS_H
#define IRONLB_SPEAKER_OBJECTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ironlb/addr.h"
#include "ironlb/selector.h"

#define OBJ_DEFAULT_LB_CLASS "ironlb.io/lb"
/* Leases of speakers carry this label, or a name starting with "speaker-". */
#define OBJ_SPEAKER_COMPONENT_LABEL "app.kubernetes.io/component"
#define OBJ_SPEAKER_LEASE_PREFIX "speaker-"
/* The Lease annotation:
 * {"heartbeat":"IP:PORT","macs":["aa:bb:cc:dd:ee:ff"],"prefixes":["192.0.2.0/24"]} */
#define OBJ_SPEAKER_ANNOTATION "ironlb.io/speaker"
#define OBJ_MAX_MACS 8
/* A speaker publishes at most this many prefixes; a longer list is ignored
 * by its readers (nothing known: the node counts as able to announce). */
#define OBJ_MAX_PREFIXES 32

/* What the Service decoder needs to know: the LoadBalancer class that is
 * ours (a Service without a class is ours too). */
struct obj_decode_ctx {
	const char *lb_class;
	char why[160]; /* room for a reason naming an indexed field */
};

enum obj_protocol { OBJ_PROTO_TCP, OBJ_PROTO_UDP, OBJ_PROTO_SCTP };

/* One entry of spec.ports. */
struct obj_service_port {
	enum obj_protocol protocol; /* spec.ports[].protocol, default TCP */
	uint16_t port;		    /* spec.ports[].port */
	uint16_t node_port;	    /* spec.ports[].nodePort, 0 when none */
};

/* One allocation with its arrays and strings: obj_service_free() frees it. */
struct obj_service {
	char *ns, *name, *uid;
	struct ip_addr *ingress;  /* status.loadBalancer.ingress[].ip (if load_balancer) */
	struct ip_addr *external; /* spec.externalIPs */
	struct obj_service_port *ports;
	/* spec.clusterIPs (else spec.clusterIP); none when headless ("None") or
	 * not allocated. */
	struct ip_addr *cluster_ips;
	/* Counts of the arrays above: 32 bits, as one is cached per Service
	 * (service_alloc bounds them far lower). */
	uint32_t n_ingress, n_external, n_ports, n_cluster_ips;
	bool load_balancer; /* type LoadBalancer with our class */
	bool local;	    /* externalTrafficPolicy Local */
	/* Holders besides the informer's cache (obj_service_hold()): a cached
	 * Service outlives its replacement or deletion while one holds it. */
	uint32_t refs;
};

/* "tcp", "udp", "sctp". */
const char *obj_protocol_str(enum obj_protocol p);

struct obj_endpoint {
	char *node; /* nodeName, or NULL */
	bool ready;
	bool serving; /* conditions.serving, defaulting to ready */
};

/* One allocation with its endpoints and strings (endpoints on the same node
 * may share the name): obj_slice_free() frees it. */
struct obj_slice {
	char *ns;
	char *service; /* label kubernetes.io/service-name */
	struct obj_endpoint *eps;
	size_t n_eps;
};

struct obj_node {
	char *name;
	struct labels *labels;
	bool exclude;		  /* exclude-from-external-load-balancers label present */
	bool network_unavailable; /* condition NetworkUnavailable is True */
	bool has_addr;
	struct ip_addr addr; /* first InternalIP in status.addresses */
};

struct obj_pool {
	char *name;
	char *uid; /* metadata.uid, "" when absent: the Events about the pool */
	struct labels *labels;
	struct ip_range *ranges;
	size_t n_ranges;
	bool allow_external;
	/* status.nextIPv4 / nextIPv6, in that order, each kept only if it is an
	 * address of its family inside spec.addresses (the controller writes
	 * them; a bad one is logged and ignored, the pool kept). */
	struct ip_addr next[2];
	uint8_t n_next;
};

struct obj_l2adv {
	char *name;
	char **pools; /* spec.ipAddressPools */
	size_t n_pools;
	struct selector **pool_sel; /* spec.ipAddressPoolSelectors */
	size_t n_pool_sel;
	struct selector **node_sel; /* spec.nodeSelectors */
	size_t n_node_sel;
	char **ifnames; /* spec.interfaces */
	size_t n_ifnames;
};

struct obj_lease {
	char *name;
	char *holder;		/* spec.holderIdentity: the node */
	uint64_t renew_wall_us; /* spec.renewTime, 0 if absent */
	uint32_t duration_s;	/* spec.leaseDurationSeconds */
	bool has_hb;
	struct sockaddr_storage hb; /* from the annotation */
	socklen_t hb_len;
	uint8_t macs[OBJ_MAX_MACS][6];
	size_t n_macs;
	/* "prefixes": the connected prefixes of the node's usable links, where
	 * it can announce an address when no L2Advertisement names interfaces.
	 * has_prefixes is false when the field is absent (an older speaker),
	 * or malformed: the Lease is still decoded, prefixes_why (static text
	 * naming the field, else NULL) says what was wrong. */
	bool has_prefixes;
	struct ip_prefix prefixes[OBJ_MAX_PREFIXES];
	size_t n_prefixes;
	const char *prefixes_why;
};

int obj_service_decode(json_t *obj, void *ctx, void **ret_item, const char **ret_why);
int obj_slice_decode(json_t *obj, void *ctx, void **ret_item, const char **ret_why);
int obj_node_decode(json_t *obj, void *ctx, void **ret_item, const char **ret_why);
int obj_pool_decode(json_t *obj, void *ctx, void **ret_item, const char **ret_why);
int obj_l2adv_decode(json_t *obj, void *ctx, void **ret_item, const char **ret_why);
int obj_lease_decode(json_t *obj, void *ctx, void **ret_item, const char **ret_why);

/* Free functions of the informer_free_fn shape; NULL is a no-op. */
/* Drops one hold, or frees the Service when there is none left: the
 * informer's free function. */
void obj_service_free(void *item, void *ud);
/* One more hold on s, released by obj_service_free(). */
void obj_service_hold(const struct obj_service *s);
void obj_slice_free(void *item, void *ud);
void obj_node_free(void *item, void *ud);
void obj_pool_free(void *item, void *ud);
void obj_l2adv_free(void *item, void *ud);
void obj_lease_free(void *item, void *ud);

/* "IP:PORT" or "[IPv6]:PORT" or a bare IP (then default_port). 0 or -EINVAL. */
int obj_parse_hostport(const char *s, uint16_t default_port, struct sockaddr_storage *ret,
		       socklen_t *ret_len);
/* "aa:bb:cc:dd:ee:ff" → 6 bytes. 0 or -EINVAL. */
int obj_parse_mac(const char *s, uint8_t ret[6]);
/* RFC 3339 ("2026-11-27T20:00:00Z", fractional seconds allowed) → µs since
 * the epoch. 0 or -EINVAL. */
int obj_parse_time(const char *s, uint64_t *ret_us);

/* Whether the Lease's holder can announce a, as far as its Lease says:
 * true when a lies in one of its prefixes, and when nothing is known (no
 * Lease, no or malformed "prefixes"). */
bool obj_lease_can_announce(const struct obj_lease *l, const struct ip_addr *a);
/* Whether b differs from a at most in its renewal time: the same holder,
 * duration, heartbeat address, MACs and prefixes. NULL: false. */
bool obj_lease_same_but_renewal(const struct obj_lease *a, const struct obj_lease *b);

/* Whether pool p contains a. */
bool obj_pool_contains(const struct obj_pool *p, const struct ip_addr *a);
/* Whether advertisement adv selects pool p. */
bool obj_l2adv_selects_pool(const struct obj_l2adv *adv, const struct obj_pool *p);
/* Whether adv's nodeSelectors match the node's labels (none: every node). */
bool obj_l2adv_selects_node(const struct obj_l2adv *adv, const struct obj_node *n);

#endif
